//go:build linux

package main

// Regression tests of issue 22 (safe as root; signals and late errors keep
// what was measured) that run in-process, and of issue 21's small defects
// (ParseSize, -ops, -ops with -duration). The hostile-user suite is in
// hostile_test.go, the signals in fault_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/results"
)

// TestSecurityBadInput: each command line is refused before measuring
// with one line naming the flag (items 4, 5, 13, 16, 19, 20, and issue 21's
// -ops with -duration). Before: 1ns panicked, 2-3ns panicked in a worker,
// -threads 300 with the kernel failed at its cell, a symlink-loop target
// exited 1 with the raw error, overflowing numbers got the wrong reason,
// cpus=-1 named "", and -ops with -duration ran.
func TestSecurityBadInput(t *testing.T) {
	fakeMemory(t, 8<<30)
	loop := filepath.Join(t.TempDir(), "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"watchdog 1ns", []string{"run", "-watchdog", "1ns"}, 2, []string{"-watchdog", "at least 100ms", "1ns"}},
		{"watchdog 3ns", []string{"run", "-watchdog", "3ns"}, 2, []string{"-watchdog", "3ns"}},
		{"ops and duration", []string{"run", "-ops", "100", "-duration", "1s"}, 2, []string{"-ops 100", "-duration 1s", "one of them"}},
		{"threads 300 kernel", []string{"run", "-strategy", "kernel", "-threads", "300"}, 2, []string{"-threads 300", "at most 256"}},
		{"threads 300 oracle", []string{"run", "-oracle", "-threads", "1,300"}, 2, []string{"-threads 300", "oracle"}},
		{"threads 300 verify", []string{"verify", "-threads", "300", "-strategy", "none", "-scenario", "punch"}, 2, []string{"-threads 300"}},
		{"target symlink loop", []string{"run", "-target", "dir:" + loop}, 2, []string{"-target", "symbolic link loop"}},
		{"file-size overflow", []string{"run", "-file-size", "9223372036854775807"}, 2, []string{"-file-size", "too large"}},
		{"file-size 4096iii", []string{"run", "-file-size", "4096iii"}, 2, []string{"-file-size", `"4096iii" is not a size`}},
		{"file-size 2GBBB", []string{"run", "-file-size", "2GBBB"}, 2, []string{"-file-size", `"2GBBB" is not a size`}},
		{"budget overflow", []string{"verify", "-budget", "99999999999999999999ops"}, 2, []string{"-budget", "too large"}},
		{"pin cpus=-1", []string{"run", "-pin", "cpus=-1"}, 2, []string{"-pin", `"-1" is negative`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, tgt := t.TempDir(), t.TempDir()
			args := withDirs(tc.args, out, tgt)
			got := runCLI(t.Context(), args...)
			if got.err == nil || got.code != tc.code {
				t.Fatalf("run(%q) = %v, exit %d; want exit %d", args, got.err, got.code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.err.Error(), w) {
					t.Errorf("run(%q) = %q; want it to mention %q", args, got.err, w)
				}
			}
			if strings.Count(got.stderr, "\n") != 1 || strings.Contains(got.stderr, "panic") {
				t.Errorf("stderr = %q; want one line", got.stderr)
			}
			assertNoBackingFiles(t, tgt)
		})
	}
}

// TestSecurityDefaultFlagError: item 20, the default command's flag errors
// said "lockbench: lockbench:".
func TestSecurityDefaultFlagError(t *testing.T) {
	got := runCLI(t.Context(), "-nosuchflag")
	if got.code != 2 || strings.Contains(got.stderr, "lockbench: lockbench:") || !strings.Contains(got.stderr, "nosuchflag") {
		t.Errorf("lockbench -nosuchflag: exit %d, stderr %q; want exit 2 and one \"lockbench:\"", got.code, got.stderr)
	}
}

// TestSecurityReportNotLockbench: item 20, a JSON file that is not a
// results file was "schema version 0".
func TestSecurityReportNotLockbench(t *testing.T) {
	p := filepath.Join(t.TempDir(), "package.json")
	os.WriteFile(p, []byte(`{"name": "left-pad", "version": "1.3.0"}`), 0o644)
	got := runCLI(t.Context(), "report", p)
	if got.err == nil || !strings.Contains(got.err.Error(), "not a lockbench results file") || strings.Contains(got.err.Error(), "schema version 0") {
		t.Errorf("report package.json = %v; want \"not a lockbench results file\"", got.err)
	}
}

// TestSecurityLimits: item 5, RLIMIT_AS and RLIMIT_NPROC are checked
// before measuring (the run died mid-cell of out of memory or thread
// creation, leaving files).
func TestSecurityLimits(t *testing.T) {
	fakeMemory(t, 8<<30)
	t.Run("RLIMIT_AS", func(t *testing.T) {
		t.Cleanup(hardware.SetLimitsForTest(hardware.Limit{Value: 800000 << 10, Limited: true}, hardware.Limit{}))
		tgt := t.TempDir()
		got := runCLI(t.Context(), "run", "-target", "dir:"+tgt, "-o", "", "-file-size", "256M")
		if got.code != 1 || !strings.Contains(got.stderr, "RLIMIT_AS (ulimit -v)") {
			t.Errorf("run under ulimit -v 800000 = %v, exit %d; want exit 1 naming RLIMIT_AS", got.err, got.code)
		}
		assertNoBackingFiles(t, tgt)
	})
	t.Run("RLIMIT_NPROC counts the user's other tasks", func(t *testing.T) {
		// Room for this run's threads alone, not with the 90 tasks the
		// user already runs (before, only this run's were counted).
		t.Cleanup(hardware.SetLimitsForTest(hardware.Limit{}, hardware.Limit{Value: 100, Limited: true, InUse: 90}))
		tgt := t.TempDir()
		got := runCLI(t.Context(), "run", "-strategy", "kernel,rwsem", "-scenario", "fsync-storm", "-target", "dir:"+tgt, "-o", "")
		want := "RLIMIT_NPROC (ulimit -u) is 100, this user's other processes and threads use 90 and scenario fsync-storm with -threads "
		if got.code != 1 || !strings.Contains(got.stderr, want) || !strings.Contains(got.stderr, " more ") || strings.Count(strings.TrimSpace(got.stderr), "\n") != 0 {
			t.Errorf("run with 90 of 100 tasks in use = exit %d, %q; want exit 1 and one line with %q", got.code, got.stderr, want)
		}
		assertNoBackingFiles(t, tgt)
	})
	t.Run("RLIMIT_NPROC", func(t *testing.T) {
		t.Cleanup(hardware.SetLimitsForTest(hardware.Limit{}, hardware.Limit{Value: 8, Limited: true}))
		tgt := t.TempDir()
		got := runCLI(t.Context(), "run", "-strategy", "kernel,rwsem", "-scenario", "fsync-storm", "-target", "dir:"+tgt, "-o", "")
		if got.code != 1 || !strings.Contains(got.stderr, "RLIMIT_NPROC (ulimit -u) is 8") {
			t.Errorf("run under ulimit -u 8 = %v, exit %d; want exit 1 naming RLIMIT_NPROC", got.err, got.code)
		}
		assertNoBackingFiles(t, tgt)
	})
}

// TestSecurityOpsExact: item 18 and issue 21: -ops N runs exactly N
// foreground operations whatever the workers (-ops 1 ran 2, -ops 5 over 2
// ran 4, -ops 10 over 3 ran 9).
func TestSecurityOpsExact(t *testing.T) {
	for _, tc := range []struct {
		ops     string
		threads string
	}{{"1", "2"}, {"5", "2"}, {"10", "3"}, {"7", "4"}} {
		out, tgt := t.TempDir(), t.TempDir()
		path := filepath.Join(out, "r.json")
		got := runCLI(t.Context(), "run", "-strategy", "rwsem", "-scenario", "fault-scale", "-ops", tc.ops, "-threads", tc.threads, "-target", "dir:"+tgt, "-o", path, "-q")
		if got.err != nil {
			t.Fatalf("-ops %s -threads %s: %v", tc.ops, tc.threads, got.err)
		}
		f, err := results.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, o := range f.Cells[0].Reps[0].Ops {
			switch o.Op {
			case "store", "load", "write", "read":
				n += o.Count
			}
		}
		if want := tc.ops; want != itoa(n) {
			t.Errorf("-ops %s -threads %s ran %d foreground operations; want exactly %s", tc.ops, tc.threads, n, want)
		}
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestSecurityOutputChecks: item 9, what can be checked about -o is
// checked before measuring: a socket, a symbolic link loop, a name too
// long, an immutable file; item 14, a dangling link is refused and stays.
func TestSecurityOutputChecks(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	loop := filepath.Join(dir, "loop.json")
	os.Symlink(loop, loop)
	dangling := filepath.Join(dir, "dangling.json")
	os.Symlink(filepath.Join(dir, "nowhere.json"), dangling)
	cases := []struct{ name, out, want string }{
		{"socket", sock, "socket"},
		{"link loop", loop, "symbolic link loop"},
		{"long name", filepath.Join(dir, strings.Repeat("x", 300)+".json"), "at most 255"},
		{"dangling link", dangling, "does not exist"},
	}
	if os.Geteuid() == 0 {
		imm := filepath.Join(dir, "imm.json")
		os.WriteFile(imm, []byte("{}"), 0o644)
		if fd, err := unix.Open(imm, unix.O_RDONLY, 0); err == nil {
			ierr := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, fsImmutableFL)
			unix.Close(fd)
			if ierr == nil {
				t.Cleanup(func() {
					if fd, err := unix.Open(imm, unix.O_RDONLY, 0); err == nil {
						unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, 0)
						unix.Close(fd)
					}
				})
				cases = append(cases, struct{ name, out, want string }{"immutable", imm, "immutable"})
			} else {
				t.Logf("no immutable case: %v", ierr)
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tgt := t.TempDir()
			got := runCLI(t.Context(), "run", "-target", "dir:"+tgt, "-o", tc.out, "-duration", "50ms")
			if got.err == nil || got.code == 0 || !strings.Contains(got.err.Error(), tc.want) || got.stdout != "" {
				t.Errorf("run -o %s = %v, exit %d, stdout %q; want an error before measuring mentioning %q", tc.name, got.err, got.code, got.stdout, tc.want)
			}
			assertNoBackingFiles(t, tgt)
		})
	}
	if fi, err := os.Lstat(dangling); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the dangling link %s was replaced: %v", dangling, err)
	}
	got := runCLI(t.Context(), "verify", "-o", sock, "-strategy", "none", "-scenario", "punch", "-budget", "10ms", "-target", "dir:"+t.TempDir())
	if got.err == nil || !strings.Contains(got.err.Error(), "socket") {
		t.Errorf("verify -o <socket> = %v; want a socket error", got.err)
	}
}

// TestSecurityOutputFailsAfterMeasuring: item 9, when -o cannot be written
// after measuring (/dev/full) the table is still printed and the results
// are saved to a fallback file the error names; item 10, a FIFO with no
// reader is given up after a deadline instead of hanging.
func TestSecurityOutputFailsAfterMeasuring(t *testing.T) {
	old := results.FIFOWait
	results.FIFOWait = 300 * time.Millisecond
	t.Cleanup(func() { results.FIFOWait = old })
	wd := t.TempDir()
	t.Chdir(wd)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{"/dev/full", fifo} {
		t.Run(filepath.Base(out), func(t *testing.T) {
			if _, err := os.Stat(out); err != nil {
				t.Skipf("no %s", out)
			}
			tgt := t.TempDir()
			done := make(chan outcome, 1)
			go func() {
				done <- runCLI(context.Background(), "run", "-strategy", "rwsem", "-scenario", "fsync-storm", "-duration", "50ms", "-target", "dir:"+tgt, "-o", out)
			}()
			var got outcome
			select {
			case got = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("run -o %s hung", out)
			}
			if got.code != 1 || !strings.Contains(got.stdout, "strategy=rwsem") {
				t.Fatalf("run -o %s = %v, exit %d, stdout %q; want exit 1 with the table printed", out, got.err, got.code, got.stdout)
			}
			msg := got.err.Error()
			i := strings.Index(msg, "saved in ")
			if i < 0 {
				t.Fatalf("error %q names no fallback file", msg)
			}
			fb := strings.Fields(msg[i+len("saved in "):])[0]
			f, err := results.ReadFile(fb)
			if err != nil || len(f.Cells) != 1 {
				t.Errorf("fallback file %s: %v; want the measured cell", fb, err)
			}
			os.Remove(fb)
		})
	}
}

// TestSecurityCleanupErrorKeepsRep: item 11, a cleanup error after a
// finished repetition keeps the repetition and is reported on one line.
func TestSecurityCleanupErrorKeepsRep(t *testing.T) {
	rr := repRunner(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		rep, err := hotpath.Run(ctx, cfg)
		if err == nil {
			err = &hotpath.CleanupError{Err: errors.Join(errors.New("remove a: not a directory"), errors.New("remove b: not a directory"))}
		}
		return rep, err
	})
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	got := runCLIWith(t.Context(), rr, quickRun(tgt, path, "-q")...)
	if got.err != nil {
		t.Fatalf("run = %v; want the repetitions kept and exit 0", got.err)
	}
	f, err := results.ReadFile(path)
	if err != nil || len(f.Cells) != 2 || len(f.Cells[0].Reps) != 1 {
		t.Fatalf("results: %v; want both cells with their repetition", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(got.stderr), "\n") {
		if !strings.HasPrefix(line, "lockbench: ") || !strings.Contains(line, "the repetition is kept") {
			t.Errorf("stderr line %q; want one line per repetition saying it is kept", line)
		}
	}
}

// TestSecurityTargetFullKernel: item 12, a target that fills up under the
// kernel engine (stores into punched holes find no block: SIGBUS) is a
// target error, not hundreds of I4/R4 violations with exit 0.
func TestSecurityTargetFullKernel(t *testing.T) {
	dir := mountTmpfs(t, "100m")
	out := t.TempDir()
	path := filepath.Join(out, "r.json")
	rr := repRunner(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		cfg.OnStart = func() {
			// Another program takes every free block of the target.
			f, err := os.Create(filepath.Join(dir, "filler"))
			if err == nil {
				var st unix.Statfs_t
				unix.Fstatfs(int(f.Fd()), &st)
				unix.Fallocate(int(f.Fd()), 0, 0, int64(st.Bfree*uint64(st.Bsize)))
				f.Close()
			}
		}
		return hotpath.Run(ctx, cfg)
	})
	got := runCLIWith(t.Context(), rr, "run", "-strategy", "kernel", "-scenario", "punch", "-file-size", "16M", "-duration", "300ms", "-target", "dir:"+dir, "-o", path, "-q")
	f, _ := results.ReadFile(path)
	violations := 0
	if f != nil {
		for _, c := range f.Cells {
			for _, r := range c.Reps {
				violations += len(r.Violations)
			}
		}
	}
	if violations > 0 || got.code != 1 || !strings.Contains(got.stderr, "target is full") {
		t.Errorf("kernel punch on a target that filled = %v, exit %d, %d violations; want exit 1, \"target is full\", no violations", got.err, got.code, violations)
	}
	os.Remove(filepath.Join(dir, "filler"))
	assertNoBackingFiles(t, dir)
}

// TestSecurityLoopTMPDIR: item 20, a loop target's error about its
// directory says the path came from TMPDIR.
func TestSecurityLoopTMPDIR(t *testing.T) {
	needLoopExt4(t)
	t.Setenv("TMPDIR", "/nonexistent-lockbench-tmpdir")
	got := runCLI(t.Context(), "run", "-target", "loop:ext4:128M", "-o", "", "-duration", "50ms")
	if got.err == nil || !strings.Contains(got.err.Error(), "/nonexistent-lockbench-tmpdir (from TMPDIR)") {
		t.Errorf("loop target under a missing TMPDIR = %v; want the path named as TMPDIR's", got.err)
	}
}
