package hotpath

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"lockbench/results"
	"lockbench/strategies"
)

// spanSite is one lock site's span test: how to drive the operation to its
// span point, and the locks the kernel holds there.
type spanSite struct {
	name  string
	point spanPoint
	// setup prepares the pages (by other), run is the operation (by w).
	setup func(t *testing.T, other *Worker, in *Inode)
	run   func(w *Worker, in *Inode) error
}

var spanSites = []spanSite{
	{"write fault", spWriteFault,
		func(t *testing.T, o *Worker, in *Inode) { written(t, o, in, 1) },
		func(w *Worker, in *Inode) error { _, err := w.writeFault(in, 1, flagAllowRetry); return err }},
	{"read fault fill", spFill,
		func(t *testing.T, o *Worker, in *Inode) { written(t, o, in, 2); evict(t, o, in, 2) },
		func(w *Worker, in *Inode) error { _, err := w.readFault(in, 2, false, false); return err }},
	{"read() fill", spFill,
		func(t *testing.T, o *Worker, in *Inode) { written(t, o, in, 2); evict(t, o, in, 2) },
		func(w *Worker, in *Inode) error { _, err := w.read(in, 2, 1); return err }},
	{"writeback I/O", spWriteback,
		func(t *testing.T, o *Worker, in *Inode) { mustStore(t, o, in, 3) },
		func(w *Worker, in *Inode) error { return w.writebackPage(in, 3, true) }},
	{"fsync writeback", spFsyncWriteback,
		func(t *testing.T, o *Worker, in *Inode) { mustStore(t, o, in, 3) },
		func(w *Worker, in *Inode) error { var l []logRecord; return w.fsync(in, &l) }},
	{"fsync logging", spFsyncLog,
		func(t *testing.T, o *Worker, in *Inode) { mustStore(t, o, in, 3) },
		func(w *Worker, in *Inode) error { var l []logRecord; return w.fsync(in, &l) }},
	{"fsync log commit", spFsyncCommit,
		func(t *testing.T, o *Worker, in *Inode) { mustStore(t, o, in, 3) },
		func(w *Worker, in *Inode) error { var l []logRecord; return w.fsync(in, &l) }},
	{"punch", spPunch,
		func(t *testing.T, o *Worker, in *Inode) { written(t, o, in, 4) },
		func(w *Worker, in *Inode) error { return w.punch(in, 4, 2) }},
}

// spanWant is, per strategy and site, the locks held at the span point, as
// docs/MODEL.md's "Lock spans" table gives them (with the kernel function
// where each span starts and ends). Strategies without a row here are
// checked against their plans (planSpan).
var spanWant = map[string]map[string]string{
	"rwsem": {
		"write fault": "MM IL MK F", "read fault fill": "MM IL F", "read() fill": "IL F", "writeback I/O": "nothing",
		"fsync writeback": "IO MK", "fsync logging": "IO MK", "fsync log commit": "nothing", "punch": "IO IL",
	},
	"rangelock": {
		"write fault": "MM ER F", "read fault fill": "MM ER F", "read() fill": "ER F", "writeback I/O": "nothing",
		"fsync writeback": "IO", "fsync logging": "IO ER", "fsync log commit": "nothing", "punch": "IO ER",
	},
	"scheme-btrfs": {
		"write fault": "MM MK ER F", "read fault fill": "MM IL ER F", "read() fill": "IL ER F", "writeback I/O": "nothing",
		"fsync writeback": "IO MK", "fsync logging": "IO MK", "fsync log commit": "nothing", "punch": "IO MK ER",
	},
	"scheme-ext4": {
		"write fault": "MM IL F", "read fault fill": "MM IL F", "read() fill": "IL F", "writeback I/O": "nothing",
		"fsync writeback": "nothing", "fsync logging": "nothing", "fsync log commit": "nothing", "punch": "IO IL",
	},
	"scheme-xfs": {
		"write fault": "MM IL F", "read fault fill": "MM IL F", "read() fill": "IO IL F", "writeback I/O": "nothing",
		"fsync writeback": "nothing", "fsync logging": "nothing", "fsync log commit": "nothing", "punch": "IO IL",
	},
}

// planSpan is what the plans say is held at a site's span point.
func planSpan(in *Inode, site string) string {
	var m uint32
	add := func(p strategies.Plan) {
		for _, x := range []struct {
			mode strategies.Mode
			c    lockClass
		}{{p.IO, lkIO}, {p.IL, lkIL}, {p.MK, lkMK}, {p.ER, lkER}} {
			if x.mode != strategies.Skip {
				m |= 1 << x.c
			}
		}
	}
	switch site {
	case "write fault":
		m |= 1<<lkMM | 1<<lkF
		add(in.plans[strategies.OpWriteFault])
	case "read fault fill":
		m |= 1<<lkMM | 1<<lkF
		add(in.plans[strategies.OpReadFault])
	case "read() fill":
		m |= 1 << lkF
		if in.readIOLock {
			m |= 1 << lkIO
		}
		add(in.plans[strategies.OpRead])
	case "fsync writeback":
		p := in.plans[strategies.OpFsyncLog]
		p.ER = strategies.Skip
		add(p)
	case "fsync logging":
		add(in.plans[strategies.OpFsyncLog])
	case "punch":
		m |= 1 << lkIO
		add(in.plans[strategies.OpPunch])
	}
	return heldString(m)
}

// TestLockSpans drives each lock site of each strategy (and each real
// filesystem's scheme) to the point where the kernel does the phase's work,
// and checks the locks held there: the span each lock covers. In particular
// fsync's IO and MK are released before the log commit, and rangelock's
// ER(0..max) covers the logging phase but not the writeback before it.
func TestLockSpans(t *testing.T) {
	for _, sn := range slices.Concat(strategies.Names(), strategies.SchemeNames()) {
		for _, site := range spanSites {
			t.Run(fmt.Sprintf("strategy=%s/%s", sn, site.name), func(t *testing.T) {
				in := openTest(t, sn, strategies.Options{})
				w, other := testWorker(t, 0, RoleFsync), testWorker(t, 1, RoleFaulter)
				site.setup(t, other, in)
				var got []string
				in.spanHook = func(hw *Worker, sp spanPoint) {
					if hw == w && sp == site.point {
						got = append(got, heldString(hw.held))
					}
				}
				if err := site.run(w, in); err != nil {
					t.Fatalf("%s: %v", site.name, err)
				}
				in.spanHook = nil
				want := planSpan(in, site.name)
				if row, ok := spanWant[sn]; ok {
					if want != row[site.name] {
						t.Fatalf("the plans of %s hold %q at %s; docs/MODEL.md says %q", sn, want, site.name, row[site.name])
					}
				}
				if len(got) == 0 {
					t.Fatalf("%s never reached span point %v", site.name, site.point)
				}
				for _, g := range got {
					if g != want {
						t.Errorf("%s at %v holds %q; want %q", site.name, site.point, g, want)
					}
				}
				checkUnlocked(t, in, site.name, w, other)
			})
		}
	}
}

func testCalibration(d time.Duration) *results.Calibration {
	s := []int64{int64(d), int64(d), int64(d)}
	return &results.Calibration{Target: "test", FS: "test", Phases: []results.PhaseDist{
		{Phase: PhaseWriteFault, Samples: s}, {Phase: PhaseFill, Samples: s}, {Phase: PhaseFsyncLog, Samples: s}}}
}

// TestCalibratedRun: a calibrated run spends the drawn time (counted), at
// the write fault at least once per fault, and records the write faults
// that overlapped fsync as the kernel engine does.
func TestCalibratedRun(t *testing.T) {
	sc, err := LookupScenario("fsync-storm")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := strategies.New("scheme-btrfs", strategies.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Strategy: st, Scenario: sc, Threads: 2, Duration: 300 * time.Millisecond, Seed: 1, Dir: t.TempDir(),
		Calibration: testCalibration(20 * time.Microsecond)})
	if err != nil {
		t.Fatal(err)
	}
	var faults int64
	ops := map[string]bool{}
	for _, o := range rep.Ops {
		ops[o.Op] = true
		if o.Op == "write-fault" {
			faults = o.Count
			if o.Latency.P50 < 20*time.Microsecond {
				t.Errorf("calibrated write fault p50 %v; want at least the 20µs spent in it", o.Latency.P50)
			}
		}
	}
	if faults == 0 || rep.Counters.CalibratedNs < faults*int64(20*time.Microsecond) {
		t.Errorf("calibrated_ns %d for %d write faults; want at least 20µs each", rep.Counters.CalibratedNs, faults)
	}
	if !ops["write-fault@fsync"] {
		t.Errorf("no write-fault@fsync in %v", ops)
	}
}

func TestCalibStateRejects(t *testing.T) {
	c := testCalibration(time.Microsecond)
	c.Phases[0].Samples = []int64{-1}
	if _, err := newCalibState(c, 1); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative sample: %v", err)
	}
	c = testCalibration(time.Microsecond)
	c.Phases = c.Phases[1:]
	if _, err := newCalibState(c, 1); err == nil || !strings.Contains(err.Error(), "no phase write-fault") {
		t.Errorf("missing phase: %v", err)
	}
}

// TestFsyncStartOpsUnlocked: the calibrated fsync submits the pages dirty
// at its start with no lock held (btrfs_sync_file's first
// start_ordered_ops, before btrfs_inode_lock), so that under IO and MK it
// only writes the pages dirtied since and waits.
func TestFsyncStartOpsUnlocked(t *testing.T) {
	st, err := strategies.New("scheme-btrfs", strategies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := Open(InodeConfig{Dir: t.TempDir(), FileSize: tPages * tPageSize, PageSize: tPageSize,
		Slots: 4, Strategy: st, Regions: 8, Oracle: true, Calibration: testCalibration(time.Microsecond)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w, other := testWorker(t, 0, RoleFsync), testWorker(t, 1, RoleFaulter)
	mustStore(t, other, in, 3)
	got := map[spanPoint]string{}
	in.spanHook = func(hw *Worker, sp spanPoint) {
		if hw == w && (sp == spFsyncStartOps || sp == spFsyncWriteback) {
			dirty := in.pages[3].state.Load()&pgDirty != 0
			got[sp] = fmt.Sprintf("%s dirty=%v", heldString(hw.held), dirty)
		}
	}
	var l []logRecord
	if err := w.fsync(in, &l); err != nil {
		t.Fatal(err)
	}
	in.spanHook = nil
	if g, want := got[spFsyncStartOps], "nothing dirty=true"; g != want {
		t.Errorf("first start_ordered_ops: %q; want %q", g, want)
	}
	if g, want := got[spFsyncWriteback], "IO MK dirty=false"; g != want {
		t.Errorf("under btrfs_inode_lock: %q; want %q (page 3 submitted before the lock)", g, want)
	}
	checkUnlocked(t, in, "fsync", w, other)
}

// TestPunchFlushSpan: the calibrated punch does its range's writeback
// where the filesystem does: xfs writes the dirty pages back inside
// MMAPLOCK_EXCL (xfs_flush_unmap_range), btrfs inside i_mmap_lock
// (btrfs_wait_ordered_range; the extent range after), ext4 writes nothing
// back and waits for writeback in flight inside the invalidate lock
// (ext4_punch_hole since 6.13: truncate_inode_pages_range), and the
// strategies under study write back before the invalidate lock. Page 5 is
// dirty: it is written back (the writeback span point is reached, with the
// locks shown: the punch's own, then the calibrated writeback's page lock
// and, where its writeback has one, the page's extent range) or dropped
// unwritten (ext4).
func TestPunchFlushSpan(t *testing.T) {
	for sn, want := range map[string]struct{ flush, wb string }{
		"scheme-xfs": {"IO IL", "IO IL F"}, "scheme-btrfs": {"IO MK", "IO MK ER F"}, "scheme-ext4": {"IO IL", ""}, "rwsem": {"", "IO F"},
	} {
		t.Run(sn, func(t *testing.T) {
			st, err := strategies.New(sn, strategies.Options{})
			if err != nil {
				t.Fatal(err)
			}
			in, err := Open(InodeConfig{Dir: t.TempDir(), FileSize: tPages * tPageSize, PageSize: tPageSize,
				Slots: 4, Strategy: st, Regions: 8, Oracle: true, Calibration: testCalibration(time.Microsecond)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { in.Close() })
			w, other := testWorker(t, 0, RolePuncher), testWorker(t, 1, RoleFaulter)
			written(t, other, in, 4)
			mustStore(t, other, in, 5)
			var flush, wb string
			in.spanHook = func(hw *Worker, sp spanPoint) {
				switch {
				case hw == w && sp == spPunchFlush:
					flush = heldString(hw.held)
				case hw == w && sp == spWriteback:
					wb += heldString(hw.held)
				}
			}
			if err := w.punch(in, 4, 2); err != nil {
				t.Fatal(err)
			}
			in.spanHook = nil
			if flush != want.flush {
				t.Errorf("held at the punch's writeback wait: %q; want %q", flush, want.flush)
			}
			if wb != want.wb {
				t.Errorf("held while the punch writes dirty page 5 back: %q; want %q (\"\": not written back)", wb, want.wb)
			}
			wantN := int64(0)
			if want.wb != "" {
				wantN = 1
			}
			if n := w.ctr.WritebackPages; n != wantN {
				t.Errorf("the punch wrote back %d pages; want %d", n, wantN)
			}
			checkUnlocked(t, in, "punch", w, other)
		})
	}
}

// TestTruncateDropsDirty: the calibrated truncate writes no dirty page back
// (truncate_pagecache drops them); only punch's writeback does.
func TestTruncateDropsDirty(t *testing.T) {
	st, err := strategies.New("rwsem", strategies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := Open(InodeConfig{Dir: t.TempDir(), FileSize: tPages * tPageSize, PageSize: tPageSize,
		Slots: 4, Strategy: st, Regions: 8, Oracle: true, Calibration: testCalibration(time.Microsecond)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	w, other := testWorker(t, 0, RoleTruncater), testWorker(t, 1, RoleFaulter)
	mustStore(t, other, in, tPages-1)
	if err := w.truncate(in, tPages/2); err != nil {
		t.Fatal(err)
	}
	if n := w.ctr.WritebackPages; n != 0 {
		t.Errorf("truncate wrote back %d dirty pages; want 0 (dropped unwritten)", n)
	}
	checkUnlocked(t, in, "truncate", w, other)
}
