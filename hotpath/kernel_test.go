package hotpath

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lockbench/reports"
	"lockbench/results"
)

// kernelDirs are the targets the kernel engine's tests run on: tmpfs and
// the temp dir's filesystem.
func kernelDirs(t *testing.T) map[string]string {
	t.Helper()
	dirs := map[string]string{"tmpfs": t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "lockbench-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dirs["tmpfs"] = d
	}
	dirs["tempdir"] = t.TempDir()
	return dirs
}

func kernelConfig(t *testing.T, sc Scenario, dir string) Config {
	t.Helper()
	clk, err := testClock()
	if err != nil {
		t.Fatal(err)
	}
	return Config{Engine: EngineKernel, Scenario: sc, Threads: 2, OpLimit: 20000, Seed: 1, Dir: dir, Clock: clk, Watchdog: 20 * time.Second}
}

// TestKernelScenarios runs every scenario with a real counterpart on the
// real kernel: every role's operation is counted, every worker thread has
// its getrusage counts, the real file reads back intact, and nothing is
// left on the target.
func TestKernelScenarios(t *testing.T) {
	for name, dir := range kernelDirs(t) {
		for _, sc := range Scenarios {
			if KernelRefusal(sc) != nil {
				continue
			}
			t.Run(name+"/"+sc.Name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cfg := kernelConfig(t, sc, dir)
				// 250ms is long enough for every paced background role to
				// act on a quiet machine; on a loaded one (or under -race) a
				// role may not be scheduled in time, so a run that misses one
				// is repeated once for 2s before the test fails on it.
				var rep results.Rep
				var counted map[string]int64
				var missing []string
				for _, d := range []time.Duration{250 * time.Millisecond, 2 * time.Second} {
					cfg.OpLimit, cfg.Duration = 0, d
					var err error
					if rep, err = Run(ctx, cfg); err != nil {
						t.Fatalf("Run: %v", err)
					}
					if counted, missing = roleCounts(rep, sc); len(missing) == 0 {
						break
					}
					t.Logf("%s run: %v not counted; running again", d, missing)
				}
				for _, m := range missing {
					t.Errorf("role %s counted (ops %v)", m, counted)
				}
				// Overlaps depend on scheduling (none at all is possible on a
				// loaded machine); each is a subset of the write faults.
				if counted["write-fault@punch"] > counted["write-fault"] || counted["write-fault@fsync"] > counted["write-fault"] ||
					counted["write-fault@idle"] > counted["write-fault"] {
					t.Errorf("more write faults overlapped a punch or fsync than there were (ops %v)", counted)
				}
				for _, w := range rep.Workers {
					if w.Usage == nil {
						t.Errorf("worker %d (%s) has no getrusage counts", w.ID, w.Role)
					}
				}
				if rep.ViolationsTotal != 0 {
					t.Errorf("%d violations on the real kernel, first %+v", rep.ViolationsTotal, rep.Violations[0])
				}
				checkEmptyDir(t, dir)
			})
		}
	}
}

// roleCounts counts rep's operations by name and lists each role's kind
// that scenario sc should have counted but did not, as "ROLE: no KIND".
func roleCounts(rep results.Rep, sc Scenario) (counted map[string]int64, missing []string) {
	counted = map[string]int64{}
	for _, o := range rep.Ops {
		counted[o.Op] += o.Count
	}
	for _, r := range sc.Roles {
		for _, k := range roleKinds(r.Role, sc) {
			if counted[k.String()] == 0 {
				missing = append(missing, fmt.Sprintf("%s: no %s", r.Role, k))
			}
		}
	}
	return counted, missing
}

// roleKinds are the operation kinds a role must count in scenario sc.
func roleKinds(r Role, sc Scenario) []Kind {
	switch r {
	case RoleFaulter:
		return []Kind{KStore, KLoad}
	case RoleWriter:
		return []Kind{KWrite}
	case RoleReader:
		return []Kind{KRead}
	case RoleFsync:
		return []Kind{KFsync}
	case RolePuncher:
		return []Kind{KPunch}
	case RoleTruncater:
		return []Kind{KTruncate}
	case RoleFlusher:
		return []Kind{KWriteback}
	case RoleReclaimer:
		return []Kind{KReclaim}
	}
	return nil
}

// TestKernelControl proves the real-file checker can fail: the control
// punches the page of a completed store behind its back, and the
// read-back must flag the store as lost.
func TestKernelControl(t *testing.T) {
	dir := kernelDirs(t)["tmpfs"]
	sc, _ := LookupScenario("punch")
	cfg := kernelConfig(t, sc, dir)
	cfg.KernelControl = true
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, v := range rep.Violations {
		if v.Invariant == "I1" {
			lost++
		}
	}
	if lost == 0 {
		t.Fatalf("the control destroyed a completed store and the checker found no I1 (violations: %+v)", rep.Violations)
	}
	checkEmptyDir(t, dir)
}

// TestKernelRefusal: scenarios without a real counterpart are refused with
// a reason, before anything is created.
func TestKernelRefusal(t *testing.T) {
	for _, name := range []string{"punch-naive", "inline"} {
		sc, _ := LookupScenario(name)
		if KernelRefusal(sc) == nil {
			t.Errorf("KernelRefusal(%s) = nil; want a reason", name)
		}
		dir := t.TempDir()
		if _, err := Run(context.Background(), kernelConfig(t, sc, dir)); err == nil {
			t.Errorf("Run(kernel, %s) = nil error; want the refusal", name)
		}
		checkEmptyDir(t, dir)
	}
	for _, name := range []string{"fault-scale", "fsync-storm", "punch", "write-fail", "stale-map", "mixed"} {
		sc, _ := LookupScenario(name)
		if err := KernelRefusal(sc); err != nil {
			t.Errorf("KernelRefusal(%s) = %v; want nil", name, err)
		}
	}
}

// TestKernelFaultFloorMatchesReports: reports repeats the fault floor in
// its note (it imports no hotpath); the two must agree.
func TestKernelFaultFloorMatchesReports(t *testing.T) {
	if kernelFaultFloor != reports.KernelFaultFloor {
		t.Errorf("hotpath kernelFaultFloor = %v, reports.KernelFaultFloor = %v; want them equal", kernelFaultFloor, reports.KernelFaultFloor)
	}
}

// TestKernelHoleTest runs the fstests 344/346 replica on the real kernel
// for every file kind, with and without prefaulting reads, with stores and
// with pwrite() that copies short for real: every page keeps both ids, and
// the short copies happened.
func TestKernelHoleTest(t *testing.T) {
	for name, dir := range kernelDirs(t) {
		for k := range HoleKindNames {
			for _, pre := range []bool{false, true} {
				for _, pw := range []bool{false, true} {
					r, err := KernelHoleTest(context.Background(), HoleConfig{Dir: dir, Size: 1 << 20, Kind: HoleKind(k), PreRead: pre, PWrite: pw, FailRate: 0.05, Seed: 1})
					if err != nil {
						t.Fatalf("%s %s pre=%v pwrite=%v: %v", name, HoleKindNames[k], pre, pw, err)
					}
					if r.Pages != 256 || r.Missing != 0 {
						t.Errorf("%s %s pre=%v pwrite=%v: %d of %d pages lost an id (%s)", name, HoleKindNames[k], pre, pw, r.Missing, r.Pages, r.Detail)
					}
					if pw && r.ShortWrites == 0 {
						t.Errorf("%s %s: no pwrite copied short at a 5%% rate over 256 pages", name, HoleKindNames[k])
					}
				}
			}
		}
		checkEmptyDir(t, dir)
	}
}

// TestKernelHoleCheckFails: the replica's read-back flags a page that lost
// an id (its control).
func TestKernelHoleCheckFails(t *testing.T) {
	dir := kernelDirs(t)["tmpfs"]
	f, err := os.CreateTemp(dir, ".lockbench-cache-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	for p := 0; p < 4; p++ {
		binary.LittleEndian.PutUint64(page[1024:], holeID(0, p))
		binary.LittleEndian.PutUint64(page[3072:], holeID(1, p))
		if p == 2 {
			clear(page[3072:]) // page 2 lost thread 1's id
		}
		if _, err := f.WriteAt(page, int64(p*4096)); err != nil {
			t.Fatal(err)
		}
	}
	var r HoleResult
	if err := holeCheck(int(f.Fd()), 4, "test", &r); err != nil {
		t.Fatal(err)
	}
	if r.Missing != 1 || r.First != 2 {
		t.Errorf("holeCheck = %d missing, first %d; want 1, page 2", r.Missing, r.First)
	}
}

// TestKernelNoPunchHole: on a target without punch-hole (ramfs), a
// scenario that punches fails before measuring, naming punch-hole, and
// leaves nothing behind; one that does not punch runs.
func TestKernelNoPunchHole(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("ramfs", dir, "ramfs", 0, ""); err != nil {
		t.Skipf("cannot mount ramfs (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting the ramfs at %s: %v", dir, err)
		}
	})
	sc, _ := LookupScenario("punch")
	_, err := Run(context.Background(), kernelConfig(t, sc, dir))
	if err == nil || !strings.Contains(err.Error(), "punch-hole") {
		t.Errorf("Run(kernel, punch) on ramfs = %v; want an error naming punch-hole", err)
	}
	checkEmptyDir(t, dir)
	sc, _ = LookupScenario("fault-scale")
	if _, err := Run(context.Background(), kernelConfig(t, sc, dir)); err != nil {
		t.Errorf("Run(kernel, fault-scale) on ramfs = %v; want it to run (it does not punch)", err)
	}
	checkEmptyDir(t, dir)
}

// TestKernelOps checks each real operation's effect on the real file, on
// tmpfs and on the temp dir: a store and a load through the mapping, a zap,
// pwrite (whole and copied short for real), pread, punch, truncate, and the
// paced fsync, flusher and reclaimer.
func TestKernelOps(t *testing.T) {
	for name, dir := range kernelDirs(t) {
		t.Run(name, func(t *testing.T) {
			const ps = 4096
			sc := Scenario{Name: "ops", FileSize: 64 * ps, WritePages: 2, PunchPages: 2, Stores: 1, Roles: []RoleSpec{
				{Role: RoleFaulter, Share: 0.5}, {Role: RoleWriter, Share: 0.5}, {Role: RoleReader, Count: 1},
				{Role: RolePuncher, Count: 1}, {Role: RoleFsync, Count: 1}, {Role: RoleFlusher, Count: 1}, {Role: RoleReclaimer, Count: 1}}}
			cfg := kernelConfig(t, sc, dir)
			if err := cfg.setDefaults(); err != nil {
				t.Fatal(err)
			}
			plan := sc.workerPlan(2)
			k, err := openKernel(&cfg, plan, regionsFor(plan, ps))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := k.close(); err != nil {
					t.Error(err)
				}
				checkEmptyDir(t, dir)
			}()
			workers, _ := newWorkers(&cfg, plan)
			byRole := map[Role]*Worker{}
			for _, w := range workers {
				w.win = newSeries(cfg.Clock, cfg.Clock.Now(), time.Second)
				if byRole[w.Role] == nil {
					byRole[w.Role] = w
				}
			}
			fa, wr, rd := byRole[RoleFaulter], byRole[RoleWriter], byRole[RoleReader]
			region := func(w *Worker, p int) uint64 {
				b := make([]byte, 8)
				if _, err := unix.Pread(k.fd, b, int64(p*ps+(w.data%k.regions)*k.regSize)); err != nil {
					t.Fatal(err)
				}
				return binary.LittleEndian.Uint64(b)
			}

			ko := func(w *Worker) kernelOps { return kernelOps{k, k.kw[w.ID]} }
			if err := ko(fa).store(fa, 3); err != nil {
				t.Fatal(err)
			}
			stamp := k.kw[fa.ID].shadow[3].stamp
			if got := region(fa, 3); stamp == 0 || got != stamp {
				t.Errorf("store: the file holds %#x at page 3; want the stamp %#x", got, stamp)
			}
			if err := ko(fa).zap(fa, 3); err != nil {
				t.Fatal(err)
			}
			if err := ko(fa).load(fa, 3); err != nil {
				t.Fatal(err)
			}
			if k.kw[fa.ID].sink != stamp || fa.ops[KStore] != 1 || fa.ops[KLoad] != 1 {
				t.Errorf("load after zap read %#x (%d stores, %d loads); want %#x, 1, 1", k.kw[fa.ID].sink, fa.ops[KStore], fa.ops[KLoad], stamp)
			}

			if err := ko(wr).write(wr, 5, 2, 0); err != nil {
				t.Fatal(err)
			}
			for p := 5; p < 7; p++ {
				if got, want := region(wr, p), k.kw[wr.ID].shadow[p].stamp; want == 0 || got != want {
					t.Errorf("pwrite: page %d holds %#x; want %#x", p, got, want)
				}
			}
			if err := ko(wr).write(wr, 8, 2, 1); err != nil {
				t.Fatal(err)
			}
			if wr.ctr.ShortWrites != 1 || k.kw[wr.ID].shadow[8].stamp == 0 || k.kw[wr.ID].shadow[9].stamp != 0 {
				t.Errorf("failed pwrite: %d short writes, page 8 stamp %#x, page 9 stamp %#x; want 1 short copy that wrote page 8's stamp and ended the write",
					wr.ctr.ShortWrites, k.kw[wr.ID].shadow[8].stamp, k.kw[wr.ID].shadow[9].stamp)
			}
			if got := region(wr, 8); got != k.kw[wr.ID].shadow[8].stamp {
				t.Errorf("failed pwrite: page 8 holds %#x; want the stamp of its short copy", got)
			}

			if err := ko(rd).read(rd, 5, 2); err != nil {
				t.Fatal(err)
			}
			if got := binary.LittleEndian.Uint64(k.kw[rd.ID].rbuf[(wr.data%k.regions)*k.regSize:]); got != k.kw[wr.ID].shadow[5].stamp {
				t.Errorf("pread: page 5 read %#x; want %#x", got, k.kw[wr.ID].shadow[5].stamp)
			}

			if err := ko(byRole[RolePuncher]).punch(byRole[RolePuncher], 5, 2); err != nil {
				t.Fatal(err)
			}
			if got := region(wr, 5); got != 0 || k.started[5].Load() != 1 || k.finished[5].Load() != 1 {
				t.Errorf("punch: page 5 holds %#x (started %d, finished %d); want zeros, 1, 1", got, k.started[5].Load(), k.finished[5].Load())
			}

			if err := ko(fa).store(fa, 40); err != nil {
				t.Fatal(err)
			}
			if err := ko(byRole[RolePuncher]).truncate(byRole[RolePuncher], 32); err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Fstat(k.fd, &st); err != nil {
				t.Fatal(err)
			}
			if got := region(fa, 40); got != 0 || st.Size != 64*ps || k.tgen.Load() != 2 {
				t.Errorf("truncate: page 40 holds %#x, size %d, generation %d; want zeros, %d, 2", got, st.Size, k.tgen.Load(), 64*ps)
			}

			for _, r := range []Role{RoleFsync, RoleFlusher, RoleReclaimer} {
				w := byRole[r]
				var stop atomic.Bool
				// Stop after 20 ms, but not before the loop has finished one
				// operation: under -race on a busy machine the test goroutine
				// can be off the CPU for all 20 ms.
				first := w.opIndex + 1
				time.AfterFunc(20*time.Millisecond, func() {
					for deadline := time.Now().Add(10 * time.Second); w.prog.Load() <= first && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
					stop.Store(true)
				})
				if err := backgroundLoop(ko(w), w, k.sc, RoleSpec{Role: r, Interval: time.Millisecond}, &stop); err != nil {
					t.Fatalf("%s: %v", r, err)
				}
				kind := map[Role]Kind{RoleFsync: KFsync, RoleFlusher: KWriteback, RoleReclaimer: KReclaim}[r]
				if w.ops[kind] == 0 {
					t.Errorf("%s: no %s in 20ms at one per ms", r, kind)
				}
			}
		})
	}
}
