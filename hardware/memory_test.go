package hardware

import (
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// status is a /proc/PID/status file with the fields processLimit reads.
func status(uid string, threads int, capEff string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("Name:\tx\nUid:\t" + uid + "\nThreads:\t" + strconv.Itoa(threads) + "\nCapEff:\t" + capEff + "\n")}
}

// TestProcessLimitCounts: issue 22's gap in item 5. RLIMIT_NPROC counts
// every process and thread of the real uid, not this run's alone: the
// count sums Threads: over the processes whose real uid (Uid:'s first
// field, not the effective one) is the caller's, this process left out;
// root and a process with CAP_SYS_RESOURCE or CAP_SYS_ADMIN are not
// limited, nor is an infinite limit.
func TestProcessLimitCounts(t *testing.T) {
	lim := Limit{Value: 50, Limited: true}
	fsys := fstest.MapFS{
		"proc/self/status": status("1000\t1000\t1000\t1000", 7, "0000000000000000"),
		"proc/100/status":  status("1000\t1000\t1000\t1000", 7, "0"),                   // this process: left out
		"proc/200/status":  status("1000\t0\t0\t0", 12, "0"),                           // real uid 1000, setuid root: counted
		"proc/300/status":  status("0\t1000\t1000\t1000", 30, "0"),                     // real uid 0: not counted
		"proc/400/status":  status("1000\t1000\t1000\t1000", 1, "0"),                   // counted
		"proc/401/status":  {Data: []byte("Name:\tz\nUid:\t1000\t1000\t1000\t1000\n")}, // a zombie shows no Threads: one task
		"proc/500/status":  status("10000\t10000\t10000\t10000", 3, "0"),               // uid 10000, a prefix of no one
		"proc/self/x":      {Data: nil},
		"proc/meminfo":     {Data: []byte("MemAvailable: 1 kB\n")},
		"proc/600":         {Mode: fs.ModeDir | 0o555}, // a process that exited: no status
	}
	got, err := processLimit(fsys, lim, 1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Limit{Value: 50, Limited: true, InUse: 12 + 1 + 1}); got != want {
		t.Errorf("processLimit(uid 1000) = %+v; want %+v", got, want)
	}
	if got, _ := processLimit(fsys, lim, 0, 100); got.Limited {
		t.Errorf("processLimit(root) = %+v; want no limit (the kernel does not enforce it on uid 0)", got)
	}
	if got, _ := processLimit(fsys, Limit{}, 1000, 100); got.Limited || got.InUse != 0 {
		t.Errorf("processLimit(unlimited) = %+v; want no limit and no count", got)
	}
	for _, c := range []string{"0000000001000000", "0000000000200000", "000001ffffffffff"} {
		fsys["proc/self/status"] = status("1000\t1000\t1000\t1000", 1, c)
		if got, _ := processLimit(fsys, lim, 1000, 100); got.Limited {
			t.Errorf("processLimit with CapEff %s = %+v; want no limit (CAP_SYS_RESOURCE or CAP_SYS_ADMIN)", c, got)
		}
	}
	delete(fsys, "proc/self/status")
	if _, err := processLimit(fsys, lim, 1000, 100); err == nil {
		t.Errorf("processLimit without proc/self/status = nil error; want one")
	}
}

// TestProcessLimitReal counts, from the real /proc, the tasks of a user
// that runs a process the test starts: at least that one.
func TestProcessLimitReal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as uid 65534")
	}
	cmd := exec.Command("/bin/sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	if err := cmd.Start(); err != nil {
		t.Skipf("starting a process as uid 65534: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// The child's credentials are set before it is visible as sleep; a
	// deadline, not a sleep, for /proc to show it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := userTasks(rootFS, 65534, os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if got >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("userTasks(uid 65534) = %d with pid %d of uid 65534 running; want InUse >= 1", got, cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
