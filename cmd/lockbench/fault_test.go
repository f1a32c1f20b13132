package main

// The fault-injection suite: `go test -run Fault ./...`. Each
// test injects one fault (a full target, a target that fails mid-run, a
// vanished target directory, SIGINT/SIGTERM/SIGKILL at seeded random
// points, a reader that closes stdout) and then checks that no process
// crashed, no backing file or mount is left, and every results file there
// is valid and says whether it is complete. Tests that need root, mkfs or
// mount skip with a message when they cannot run.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lockbench/hotpath"
	"lockbench/results"
)

// TestMain lets the test binary stand in for lockbench: with
// LOCKBENCH_MAIN set to a JSON list of arguments it runs main on them.
// The signal tests need a real process (signals, exit status, SIGPIPE).
func TestMain(m *testing.M) {
	if a := os.Getenv("LOCKBENCH_MAIN"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintln(os.Stderr, "LOCKBENCH_MAIN:", err)
			os.Exit(3)
		}
		os.Args = append([]string{"lockbench"}, args...)
		main()
	}
	os.Exit(m.Run())
}

// lockbenchCmd returns the test binary as lockbench with args.
func lockbenchCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	b, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "LOCKBENCH_MAIN="+string(b))
	return cmd
}

// needRoot skips a test that mounts.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a filesystem (run the fault suite as root to include it)")
	}
}

// needLoopExt4 skips a test that makes a loop:ext4 target unless it runs
// as root with mkfs.ext4.
func needLoopExt4(t *testing.T) {
	t.Helper()
	needRoot(t)
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("needs mkfs.ext4 (apt-get install e2fsprogs)")
	}
}

// mountTmpfs mounts a tmpfs of size on a new directory, unmounted at the
// end of the test.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// checkAfterFault is the suite's common check: no backing files in dirs,
// no lockbench loop mount left, and the results file at path, if there,
// is valid and incomplete exactly when wantIncomplete.
func checkAfterFault(t *testing.T, path string, wantIncomplete bool, dirs ...string) *results.File {
	t.Helper()
	for _, d := range dirs {
		assertNoBackingFiles(t, d)
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.Contains(f[1], "/lockbench-") && strings.HasSuffix(f[1], "/mnt") {
			if pid, ok := loopDirPID(f[1]); ok && pid == os.Getpid() {
				t.Errorf("a loop target of this process is still mounted: %s", f[1])
			}
		}
	}
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatalf("results file after the fault is not valid: %v", err)
	}
	if f.Incomplete != wantIncomplete {
		t.Errorf("results file incomplete = %v; want %v (error %q)", f.Incomplete, wantIncomplete, f.Error)
	}
	return f
}

// loopDirPID is the pid in a loop target's mount point .../lockbench-FS-PID-X/mnt.
func loopDirPID(mnt string) (int, bool) {
	var fs string
	var pid int
	base := filepath.Base(filepath.Dir(mnt))
	if n, _ := fmt.Sscanf(strings.ReplaceAll(strings.TrimPrefix(base, "lockbench-"), "-", " "), "%s %d", &fs, &pid); n == 2 {
		return pid, true
	}
	return 0, false
}

// Item 1: a target too small for the file is refused before measuring
// (it died of SIGBUS, leaving both backing files); the commands.
func TestFaultFullTarget(t *testing.T) {
	t.Run("tmpfs size=70m", func(t *testing.T) {
		dir := mountTmpfs(t, "70m")
		res := runCLI(t.Context(), "run", "-duration", "1s", "-file-size", "256M", "-target", "dir:"+dir, "-o", "")
		if res.code != 2 || !strings.Contains(res.stderr, "-file-size 256M needs 512 MiB") || !strings.Contains(res.stderr, "70 MiB free") {
			t.Errorf("run on a 70 MiB tmpfs with -file-size 256M = %v, exit %d; want exit 2 naming -file-size and the free space", res.err, res.code)
		}
		checkAfterFault(t, "", false, dir)
	})
	t.Run("loop:ext4:128M", func(t *testing.T) {
		needLoopExt4(t)
		res := runCLI(t.Context(), "run", "-duration", "1s", "-file-size", "100M", "-target", "loop:ext4:128M", "-o", "")
		if res.code != 2 || !strings.Contains(res.stderr, "-file-size 100M needs 200 MiB") {
			t.Errorf("run on loop:ext4:128M with -file-size 100M = %v, exit %d; want exit 2 naming -file-size", res.err, res.code)
		}
		checkAfterFault(t, "", false)
	})
}

// Item 1: fallocate reserves the backing files, so a target that fills up
// between cells fails the next cell's open with ENOSPC, an error; the
// cells before it are kept.
func TestFaultTargetFillsUp(t *testing.T) {
	dir := mountTmpfs(t, "80m")
	out := t.TempDir()
	path := filepath.Join(out, "r.json")
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		if cfg.Strategy.Name() == "none" {
			// Another program fills the target.
			f, err := os.Create(filepath.Join(dir, "filler"))
			if err == nil {
				unix.Fallocate(int(f.Fd()), 0, 0, 79<<20)
				f.Close()
			}
		}
		return hotpath.Run(ctx, cfg)
	})
	res := cli(t.Context(), "run", "-strategy", "rwsem,none", "-scenario", "fault-scale", "-file-size", "16M", "-duration", "100ms", "-target", "dir:"+dir, "-o", path)
	if res.code != 1 || res.err == nil || !strings.Contains(res.err.Error(), "reserving") {
		t.Errorf("run on a target that filled up = %v, exit %d; want a reservation error, exit 1", res.err, res.code)
	}
	f := checkAfterFault(t, path, true, dir)
	if f == nil || len(f.Cells) != 1 || !strings.Contains(f.Error, "no space") {
		t.Errorf("results file after the target filled: %+v; want the first cell and the ENOSPC error", f)
	}
}

// fsShutdown is FS_IOC_SHUTDOWN (_IOR('X', 125, __u32)) with
// FS_SHUTDOWN_FLAGS_NOLOGFLUSH: the filesystem turns read-only under
// lockbench; ext4's page_mkwrite then answers stores with SIGBUS.
func fsShutdown(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := uint32(2)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), 0x8004587d, uintptr(unsafePointer(&flags)))
	if e != 0 {
		return e
	}
	return nil
}

// Items 1 and 5: the target's filesystem fails in the middle of the second
// cell (an ext4 loop target shut down, as a remount read-only after an I/O
// error does): stores into the mapping take SIGBUS, which becomes the
// cell's error instead of a crash; the first cell is kept, the loop target
// is unmounted and detached, and the exit status is 1.
func TestFaultTargetReadOnlyMidRun(t *testing.T) {
	needLoopExt4(t)
	out := t.TempDir()
	path := filepath.Join(out, "r.json")
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		if cfg.Strategy.Name() == "none" {
			timer := time.AfterFunc(100*time.Millisecond, func() {
				if err := fsShutdown(cfg.Dir); err != nil {
					t.Errorf("FS_IOC_SHUTDOWN %s: %v", cfg.Dir, err)
				}
			})
			defer timer.Stop()
		}
		return hotpath.Run(ctx, cfg)
	})
	res := cli(t.Context(), "run", "-strategy", "rwsem,none", "-scenario", "fault-scale", "-duration", "400ms", "-watchdog", "2s",
		"-target", "loop:ext4:128M", "-o", path)
	if res.code != 1 || res.err == nil {
		t.Fatalf("run whose target failed mid-run = %v, exit %d; want an error, exit 1", res.err, res.code)
	}
	f := checkAfterFault(t, path, true)
	if f == nil || len(f.Cells) != 1 || f.Error == "" {
		t.Errorf("results file after the target failed: %+v; want the first cell and the error", f)
	}
	t.Logf("error: %v", res.err)
}

// Item 5, as the issue found it: the loop target is remounted read-only
// between two cells (mount -o remount,ro): the next cell fails with EROFS,
// the first is kept, the exit status is 1 and the loop target goes.
func TestFaultTargetRemountedReadOnly(t *testing.T) {
	needLoopExt4(t)
	out := t.TempDir()
	path := filepath.Join(out, "r.json")
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		if cfg.Strategy.Name() == "none" {
			if err := unix.Mount("", cfg.Dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				t.Errorf("remounting %s read-only: %v", cfg.Dir, err)
			}
		}
		return hotpath.Run(ctx, cfg)
	})
	res := cli(t.Context(), "run", "-strategy", "rwsem,none", "-scenario", "fault-scale", "-duration", "200ms",
		"-target", "loop:ext4:128M", "-o", path)
	if res.code != 1 || res.err == nil || !strings.Contains(res.err.Error(), "read-only") {
		t.Fatalf("run whose target was remounted read-only = %v, exit %d; want a read-only error, exit 1", res.err, res.code)
	}
	f := checkAfterFault(t, path, true)
	if f == nil || len(f.Cells) != 1 || !strings.Contains(f.Error, "read-only") {
		t.Errorf("results file after the remount: %+v; want the first cell and the error", f)
	}
	if !strings.Contains(res.stdout, "strategy=rwsem") {
		t.Errorf("stdout does not show the finished cell:\n%s", res.stdout)
	}
}

// Item 5: the target directory vanishes between cells: the next cell
// fails, the finished cells are kept, nothing is left.
func TestFaultVanishedTarget(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		if cfg.Strategy.Name() == "none" {
			os.RemoveAll(tgt)
		}
		return hotpath.Run(ctx, cfg)
	})
	res := cli(t.Context(), quickRun(tgt, path)...)
	if res.code != 1 || res.err == nil || !strings.Contains(res.err.Error(), "none fsync-storm") {
		t.Errorf("run whose target vanished = %v, exit %d; want the second cell's error, exit 1", res.err, res.code)
	}
	f := checkAfterFault(t, path, true)
	if f == nil || len(f.Cells) != 1 {
		t.Errorf("results file after the target vanished: %+v; want the first cell", f)
	}
}

// Items 4, 5, 7, 8: SIGINT (once or twice) and SIGTERM at seeded random
// points of a sweep of a real lockbench process: it never crashes, exits
// 0 when it finished first and 1 when interrupted, leaves no backing
// file, and its results file is valid and marked incomplete exactly when
// it was interrupted.
func TestFaultSignals(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	trials := 6
	if testing.Short() {
		trials = 3
	}
	for i := range trials {
		sig := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}[i%2]
		twice := i%3 == 2
		at := time.Duration(rng.Int64N(int64(700 * time.Millisecond)))
		t.Run(fmt.Sprintf("%v twice=%v at=%v", sig, twice, at.Round(time.Millisecond)), func(t *testing.T) {
			out, tgt := t.TempDir(), t.TempDir()
			path := filepath.Join(out, "r.json")
			cmd, stderr := startSweep(t, tgt, path, "150ms")
			// The random point is a point of the sweep: from its first
			// backing file on (before that, a signal meets a process that
			// has not installed its handler yet and dies of it).
			waitForFiles(t, cmd, tgt, 1)
			time.Sleep(at)
			cmd.Process.Signal(sig)
			if twice {
				time.Sleep(20 * time.Millisecond)
				cmd.Process.Signal(sig)
			}
			code := waitExit(t, cmd, 20*time.Second)
			if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "fatal error") {
				t.Fatalf("lockbench crashed on %v:\n%s", sig, stderr.String())
			}
			if code != 0 && code != 1 {
				t.Errorf("exit status %d after %v; want 0 (finished first) or 1 (interrupted)\n%s", code, sig, stderr.String())
			}
			f := checkAfterFault(t, path, code != 0, tgt)
			if f == nil && !twice {
				t.Errorf("no results file after one %v; want the cells measured so far", sig)
			}
		})
	}
}

// startSweep starts the interrupt tests' sweep (rwsem and none on
// fault-scale and fsync-storm, each cell dur long) on the directory tgt,
// writing path, its stderr collected.
func startSweep(t *testing.T, tgt, path, dur string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := lockbenchCmd(t, "sweep", "-strategy", "rwsem,none", "-scenario", "fault-scale,fsync-storm", "-duration", dur,
		"-target", "dir:"+tgt, "-o", path, "-q")
	stderr := new(strings.Builder)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stderr
}

// waitForFiles waits until dir holds n backing files of cmd's run.
func waitForFiles(t *testing.T, cmd *exec.Cmd, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, ".lockbench-cache-*")); len(m) >= n {
			return
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the run made no backing files within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitExit waits for cmd by a deadline and returns its exit status; a
// process killed by a signal is 128+signal, as a shell reports it.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("lockbench did not exit within %v", d)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Item 4: `lockbench run ... -o r.json | head -3`: the reader goes away
// after three lines; the process dies of SIGPIPE on its next write to
// stdout, but the results file is complete (it was missing 3 times in 4).
func TestFaultSIGPIPE(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	cmd := lockbenchCmd(t, "run", "-strategy", "all", "-duration", "100ms", "-target", "dir:"+tgt, "-o", path, "-q")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for i := 0; i < 3 && sc.Scan(); i++ {
	}
	stdout.Close()
	code := waitExit(t, cmd, 60*time.Second)
	if code != 0 && code != 128+int(syscall.SIGPIPE) && code != 1 {
		t.Errorf("exit status %d; want 0, 1 or SIGPIPE's 141", code)
	}
	f := checkAfterFault(t, path, false, tgt)
	if f == nil || len(f.Cells) == 0 {
		t.Fatalf("no results file after stdout closed early; want it written before stdout")
	}
}

// Item 7: a run killed with SIGKILL (as the OOM killer does) leaves its
// backing files; the next run on the directory removes them with a
// notice, and never touches a live run's.
func TestFaultKilledRunLeftovers(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	cmd := lockbenchCmd(t, "run", "-duration", "10s", "-target", "dir:"+tgt, "-o", "", "-q")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForFiles(t, cmd, tgt, 2)
	cmd.Process.Kill()
	cmd.Wait()
	if m, _ := filepath.Glob(filepath.Join(tgt, ".lockbench-cache-*")); len(m) < 2 {
		t.Fatalf("a SIGKILLed run left %v; want its backing files there to test the cleanup", m)
	}
	res := runCLI(t.Context(), "run", "-duration", "100ms", "-target", "dir:"+tgt, "-o", filepath.Join(out, "r.json"))
	if res.err != nil {
		t.Fatal(res.err)
	}
	if want := fmt.Sprintf("(pid %d) left in %s", cmd.Process.Pid, tgt); !strings.Contains(res.stderr, want) {
		t.Errorf("stderr = %q; want a notice naming pid %d", res.stderr, cmd.Process.Pid)
	}
	checkAfterFault(t, filepath.Join(out, "r.json"), false, tgt)
}

// Item 7: a loop target of a SIGKILLed run stays mounted; the next loop
// run unmounts, detaches and removes it with a notice.
func TestFaultKilledLoopRun(t *testing.T) {
	needLoopExt4(t)
	cmd := lockbenchCmd(t, "run", "-duration", "20s", "-target", "loop:ext4:128M", "-o", "", "-q")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mnt := ""
	deadline := time.Now().Add(30 * time.Second)
	for mnt == "" {
		m, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("lockbench-ext4-%d-*", cmd.Process.Pid), "mnt", ".lockbench-cache-*"))
		if len(m) > 0 {
			mnt = filepath.Dir(m[0])
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the loop run did not start within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	res := runCLI(context.Background(), "run", "-duration", "100ms", "-target", "loop:ext4:128M", "-o", "")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if want := fmt.Sprintf("killed lockbench run (pid %d) left mounted", cmd.Process.Pid); !strings.Contains(res.stderr, want) {
		t.Errorf("stderr = %q; want %q", res.stderr, want)
	}
	if _, err := os.Stat(filepath.Dir(mnt)); err == nil {
		t.Errorf("%s is still there after the cleanup", filepath.Dir(mnt))
	}
	checkAfterFault(t, "", false)
}

// Issue 22 item 6: SIGHUP (a closed terminal or ssh session) is treated
// as SIGINT: the run stops, keeps what was measured marked incomplete,
// and leaves no backing file. Before, it killed the process outright
// (exit 129), leaving the backing files and no results.
func TestFaultSIGHUP(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	cmd, stderr := startSweep(t, tgt, path, "300ms")
	waitForFiles(t, cmd, tgt, 1)
	time.Sleep(400 * time.Millisecond) // into the second cell
	cmd.Process.Signal(syscall.SIGHUP)
	code := waitExit(t, cmd, 20*time.Second)
	if code != 1 && code != 0 {
		t.Fatalf("exit status %d after SIGHUP; want 1 (interrupted) or 0 (finished first)\n%s", code, stderr.String())
	}
	f := checkAfterFault(t, path, code != 0, tgt)
	if f == nil || len(f.Cells) == 0 {
		t.Errorf("no results after SIGHUP; want the cells measured so far")
	}
}

// Issue 22 item 6: a broken stderr pipe (`2>&1 >/dev/null | true`) no
// longer kills the process at its first line on stderr (here the notice
// of a killed run's backing files, removed after the target is set up):
// the run finishes, writes its results and leaves nothing. Before: death
// by SIGPIPE (141) with no results.
func TestFaultSIGPIPEStderr(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	dead := exec.Command("/bin/true")
	dead.Run()
	stale := filepath.Join(tgt, fmt.Sprintf(".lockbench-cache-%d-x", dead.Process.Pid))
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := lockbenchCmd(t, "run", "-strategy", "rwsem,none", "-scenario", "fsync-storm", "-duration", "150ms", "-target", "dir:"+tgt, "-o", path)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone before the first write
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if code := waitExit(t, cmd, 30*time.Second); code != 0 {
		t.Errorf("exit status %d with stderr's reader gone; want 0 (SIGPIPE is 141)", code)
	}
	if f := checkAfterFault(t, path, false, tgt); f == nil || len(f.Cells) != 2 {
		t.Errorf("results after a closed stderr: %+v; want both cells", f)
	}
}

// Issue 22 item 6: SIGQUIT prints the goroutine stacks and exits 2, as Go
// does, but leaves no backing file behind (it left them all).
func TestFaultSIGQUIT(t *testing.T) {
	tgt := t.TempDir()
	cmd := lockbenchCmd(t, "run", "-duration", "10s", "-target", "dir:"+tgt, "-o", "", "-q")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForFiles(t, cmd, tgt, 2)
	cmd.Process.Signal(syscall.SIGQUIT)
	code := waitExit(t, cmd, 20*time.Second)
	if code != 2 || !strings.Contains(stderr.String(), "goroutine ") {
		t.Errorf("exit status %d after SIGQUIT, stderr %.200q; want 2 with the goroutine stacks", code, stderr.String())
	}
	checkAfterFault(t, "", false, tgt)
}

// Issue 22 item 7: two SIGINTs 10 ms apart at points of a loop target's
// setup (mkfs, losetup, mount) leave no loop device and no image: the
// cleanup is registered before the first step. Before, the device and
// the image stayed.
func TestFaultDoubleSIGINTDuringLoopSetup(t *testing.T) {
	needLoopExt4(t)
	for _, at := range []time.Duration{0, 30 * time.Millisecond, 120 * time.Millisecond, 300 * time.Millisecond} {
		t.Run(at.String(), func(t *testing.T) {
			cmd := lockbenchCmd(t, "run", "-duration", "100ms", "-target", "loop:ext4:256M", "-o", "", "-q")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pattern := filepath.Join(os.TempDir(), fmt.Sprintf("lockbench-ext4-%d-*", cmd.Process.Pid))
			deadline := time.Now().Add(20 * time.Second)
			for {
				if m, _ := filepath.Glob(pattern); len(m) > 0 {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal("no loop target directory within 20s")
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(at)
			cmd.Process.Signal(syscall.SIGINT)
			time.Sleep(10 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGINT)
			waitExit(t, cmd, 60*time.Second)
			if strings.Contains(stderr.String(), "panic") {
				t.Fatalf("crashed:\n%s", stderr.String())
			}
			if m, _ := filepath.Glob(pattern); len(m) > 0 {
				t.Errorf("left %v after two SIGINTs %v into the setup\n%s", m, at, stderr.String())
			}
			out, _ := exec.Command("losetup", "-a").Output()
			if strings.Contains(string(out), fmt.Sprintf("lockbench-ext4-%d-", cmd.Process.Pid)) {
				t.Errorf("a loop device is still attached:\n%s", out)
			}
			checkAfterFault(t, "", false)
		})
	}
}
