package hotpath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lockbench/strategies"
)

// TestFaultShrunkMapping truncates the cache file under a running model, so
// that the next store into the mapping takes a SIGBUS, as a store into a
// page the filesystem cannot back does. Before GuardFaults the test binary
// died ("fatal error: fault"); now the run returns a *FaultError and
// removes its backing files.
func TestFaultShrunkMapping(t *testing.T) {
	dir := t.TempDir()
	st, err := strategies.New("rwsem", strategies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := LookupScenario("fault-scale")
	// The cut comes 150 ms after the workers start (OnStart), not after
	// the call: under -race on a loaded machine, setting up can take
	// longer, and a cut before the files exist cuts nothing.
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	start := time.Now()
	_, err = Run(t.Context(), Config{Strategy: st, Scenario: sc, Threads: 2, Duration: 5 * time.Second, Seed: 1, Dir: dir, Watchdog: time.Second,
		OnStart: func() {
			start = time.Now()
			timer = time.AfterFunc(150*time.Millisecond, func() {
				m, _ := filepath.Glob(filepath.Join(dir, backingPrefix+"*"))
				for _, p := range m {
					os.Truncate(p, 0)
				}
			})
		}})
	// Whichever worker touches the shrunk mapping first decides the error:
	// a store's SIGBUS (a *FaultError) or the flusher's pwrite from the
	// mapping (EFAULT). Either way the run returns instead of crashing.
	var fe *FaultError
	if !errors.As(err, &fe) && !errors.Is(err, unix.EFAULT) {
		t.Fatalf("Run with its cache file truncated to 0 = %v; want a *FaultError or EFAULT", err)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("Run with a fault returned after %v; want it to stop within the 1s watchdog", el)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, backingPrefix+"*")); len(m) > 0 {
		t.Errorf("after a fault, %s holds %v; want no backing files", dir, m)
	}
}

// TestFaultStoreBeyondEOF stores into a mapped page whose file was
// truncated away: a real SIGBUS. Under protected it is a *FaultError;
// before, the test binary died with "fatal error: fault".
func TestFaultStoreBeyondEOF(t *testing.T) {
	st, err := strategies.New("rwsem", strategies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := Open(InodeConfig{Dir: t.TempDir(), FileSize: 1 << 20, PageSize: 4096, Slots: 1, Strategy: st, Regions: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := in.cache.Truncate(0); err != nil {
		t.Fatal(err)
	}
	err = protected("test", func() error {
		in.putStamp(3, 1, 42)
		return nil
	})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Who != "test" || fe.Addr == 0 {
		t.Fatalf("protected(store beyond EOF) = %v; want a *FaultError of \"test\" with its address", err)
	}
}

// TestFaultStaleBackingFiles checks CleanStale: a dead pid's files go, a
// live run's (this process's, another live process's locked file) stay.
func TestFaultStaleBackingFiles(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// pid 1 is alive (init) and its file is new: live. A pid above
	// pid_max cannot exist: dead.
	dead := touch(backingPrefix + "4194305-abc")
	deadDisk := touch(backingPrefix + "4194305-abc.disk")
	liveOther := touch(backingPrefix + "1-def")
	mine, err := createBacking(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { mine.Close(); os.Remove(mine.Name()) }()
	// An old file of a live pid whose lock is free: its pid was reused.
	reused := touch(backingPrefix + "1-old")
	old := time.Now().Add(-2 * staleAge)
	if err := os.Chtimes(reused, old, old); err != nil {
		t.Fatal(err)
	}
	// An old file whose lock is held: a live run, however old.
	held := touch(backingPrefix + "1-held")
	os.Chtimes(held, old, old)
	fh, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := unix.Flock(int(fh.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	got, err := CleanStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dead, deadDisk, reused} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("CleanStale left %s; want a dead run's file removed", filepath.Base(p))
		}
	}
	for _, p := range []string{liveOther, mine.Name(), held} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("CleanStale removed %s; want a live run's file kept", filepath.Base(p))
		}
	}
	files := map[int]int{}
	for _, s := range got {
		files[s.PID] += len(s.Files)
	}
	if len(got) != 2 || files[4194305] != 2 || files[1] != 1 {
		t.Errorf("CleanStale = %+v; want pid 4194305 with 2 files and pid 1 with 1", got)
	}
}

// TestFaultHoleTest shrinks the file under the fstests replica: its
// threads and its setup run under Protect, so the fault is HoleTest's
// error (before, the process died of the SIGBUS).
func TestFaultHoleTest(t *testing.T) {
	st, err := strategies.New("rwsem", strategies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		dir := t.TempDir()
		stopShrink := make(chan struct{})
		go func() {
			for {
				select {
				case <-stopShrink:
					return
				default:
				}
				m, _ := filepath.Glob(filepath.Join(dir, backingPrefix+"*[0-9]"))
				for _, p := range m {
					if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
						os.Truncate(p, 0)
					}
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
		_, err := HoleTest(t.Context(), HoleConfig{Strategy: st, Dir: dir, Size: 16 << 20, Kind: HoleZeroed, Seed: 1})
		close(stopShrink)
		if err != nil {
			var fe *FaultError
			if !errors.As(err, &fe) && !errors.Is(err, unix.EFAULT) {
				t.Fatalf("HoleTest on a shrinking file = %v; want a *FaultError or EFAULT", err)
			}
			return
		}
	}
	t.Skip("the file was never shrunk under the mapping in 5 attempts")
}
