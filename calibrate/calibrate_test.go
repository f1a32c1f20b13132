package calibrate

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lockbench/hotpath"
	"lockbench/hotpath/clock"
)

// fakeFS is a filesystem of known phase costs, spent by busy-waits: a
// btrfs-like one whose fsync holds mk (the i_mmap_lock) over its writeback
// and logging, and commits its log after releasing it.
type fakeFS struct {
	clk                                  *clock.Clock
	wb, log, commit, wf, rf, fill, punch time.Duration
	mkUntil                              atomic.Int64 // clock reading at which fsync's span ends
	mu                                   sync.Mutex
	dirty, wp, evicted                   [pages]bool
	meta                                 bool
}

func (f *fakeFS) spin(d time.Duration) { hotpath.Spin(f.clk, d) }

func (f *fakeFS) Store(p int) {
	f.mu.Lock()
	wp, ev := f.wp[p], f.evicted[p]
	f.mu.Unlock()
	if ev {
		f.spin(f.rf)
	}
	if wp || ev {
		// Wait for fsync's span by polling the time it ends (a Go lock's
		// wake-up would add its own latency to the span measured).
		for f.clk.Now() < clock.Ticks(f.mkUntil.Load()) {
			runtime.Gosched()
		}
		f.spin(f.wf)
	}
	f.mu.Lock()
	f.dirty[p], f.wp[p], f.evicted[p] = true, false, false
	f.meta = true
	f.mu.Unlock()
}

func (f *fakeFS) Load(p int) {
	f.mu.Lock()
	ev := f.evicted[p]
	f.evicted[p] = false
	f.mu.Unlock()
	if ev {
		f.spin(f.rf)
	}
}

func (f *fakeFS) writeback(p int) {
	if f.dirty[p] {
		f.spin(f.wb)
		f.dirty[p], f.wp[p] = false, true
	}
}

func (f *fakeFS) Writeback(p int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeback(p)
	return nil
}

func (f *fakeFS) Fdatasync() error {
	f.mu.Lock()
	meta := f.meta
	span := 0 * time.Second
	for p := range f.dirty {
		if f.dirty[p] {
			span += f.wb
		}
	}
	if meta {
		span += f.log
	}
	t0 := f.clk.Now()
	f.mkUntil.Store(int64(t0) + int64(f.clk.FreqHz()*span.Seconds()))
	for p := range f.dirty {
		f.writeback(p)
	}
	f.meta = false
	f.mu.Unlock()
	if meta {
		f.spin(f.log)
	}
	if meta {
		f.spin(f.commit)
	}
	return nil
}

func (f *fakeFS) Evict(p int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeback(p)
	f.evicted[p] = true
	return nil
}

func (f *fakeFS) Pread(p int) error {
	f.mu.Lock()
	ev := f.evicted[p]
	f.evicted[p] = false
	f.mu.Unlock()
	if ev {
		f.spin(f.fill)
	}
	return nil
}

func (f *fakeFS) Punch(p, n int) error {
	f.mu.Lock()
	for k := p; k < p+n; k++ {
		f.dirty[k], f.wp[k], f.evicted[k] = false, false, true
	}
	f.meta = true
	f.mu.Unlock()
	if n == punchPages {
		f.spin(f.punch)
	}
	return nil
}

func (f *fakeFS) Close() error { return nil }

func median(v []int64) time.Duration { return time.Duration(sortedCopy(v)[len(v)/2]) }

// TestRecoversKnownCosts measures a fake filesystem of known phase costs
// and requires each phase's median within 10% of what the fake spends.
func TestRecoversKnownCosts(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's cost on the fake's own code would be measured as phase time; checked without -race")
	}
	clk, err := clock.New(clock.Auto)
	if err != nil {
		t.Fatal(err)
	}
	us := time.Microsecond
	f := &fakeFS{clk: clk, wb: 300 * us, log: 200 * us, commit: 400 * us, wf: 60 * us, rf: 150 * us, fill: 120 * us, punch: 250 * us}
	want := map[string]time.Duration{
		hotpath.PhaseWriteback:  f.wb,
		hotpath.PhaseLogCommit:  f.log + f.commit, // fdatasync with only metadata dirty: logging and commit
		hotpath.PhaseWriteFault: f.wf,
		hotpath.PhaseFsync:      f.wb + f.log + f.commit,
		// The faulter's view: the span plus its own fault.
		hotpath.PhaseExclusive: f.wb + f.log + f.wf,
		hotpath.PhaseFsyncLog:  f.log,
		hotpath.PhaseReadFault: f.rf,
		hotpath.PhaseFill:      f.fill,
		hotpath.PhasePunch:     f.punch,
	}
	// A shared machine preempts the fake's busy-waits at random; the
	// method must recover every phase in one of three attempts.
	var errs []string
	for attempt := 0; attempt < 3; attempt++ {
		c, err := measure(context.Background(), f, Options{Target: "fake", FS: "btrfs", Seed: uint64(attempt), Samples: 40, Budget: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		errs = errs[:0]
		for name, w := range want {
			d := c.Phase(name)
			if d == nil || d.Absent || len(d.Samples) < MinSamples {
				t.Fatalf("phase %s: %+v; want at least %d samples", name, d, MinSamples)
			}
			got := median(d.Samples)
			if diff := got - w; diff > w/10 || -diff > w/10 {
				errs = append(errs, fmt.Sprintf("phase %s: median %v, want %v within 10%%", name, got, w))
			}
		}
		if len(errs) == 0 {
			return
		}
	}
	t.Errorf("three attempts failed; the last:\n%s", strings.Join(errs, "\n"))
}

// TestMeasureTempDir measures the real temp dir as tmpfs: the phases that
// do not exist there are marked so, the rest measured, nothing left behind.
func TestMeasureTempDir(t *testing.T) {
	dir := t.TempDir()
	c, err := Measure(context.Background(), Options{Dir: dir, Target: "tmp", FS: "tmpfs", Samples: MinSamples, Budget: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{hotpath.PhaseWriteback, hotpath.PhaseLogCommit, hotpath.PhaseFsyncLog} {
		if d := c.Phase(name); d == nil || !d.Absent {
			t.Errorf("tmpfs phase %s: %+v; want absent", name, d)
		}
	}
	for _, name := range []string{hotpath.PhaseReadFault, hotpath.PhaseFill, hotpath.PhasePunch} {
		if d := c.Phase(name); d == nil || d.Absent || len(d.Samples) == 0 {
			t.Errorf("phase %s: %+v; want measured", name, d)
		}
	}
	if len(c.Notes) == 0 {
		t.Errorf("tmpfs calibration has no note saying which phases do not exist")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("scratch files left in %s: %v", dir, ents)
	}
}
