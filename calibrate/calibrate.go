// Package calibrate measures the real filesystem of a target, phase by
// phase, with real system calls on a scratch file of its own: the costs the
// calibrated model (hotpath, docs/MODEL.md "Calibrated phases") spends where
// it cannot do the same work for real, and the costs `lockbench validate`
// holds the model's against. Each phase is a distribution of samples; the
// result is a results.Calibration, stored in the results file and reusable.
package calibrate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"lockbench/hotpath"
	"lockbench/results"
)

// Options says what to measure.
type Options struct {
	// Dir is the target's directory, Target its spec and FS its filesystem
	// type (hardware.Target's Path, Spec and FSType).
	Dir, Target, FS string
	// Fingerprint and Kernel identify the machine (hardware.Machine).
	Fingerprint, Kernel string
	Seed                uint64
	// Samples is the number of samples per phase (0: 200); Budget bounds
	// the whole measurement (0: 8 s), after at least MinSamples each.
	Samples int
	Budget  time.Duration
}

// MinSamples is the fewest samples a phase keeps when the budget runs out.
const MinSamples = 20

// pages is the scratch file's size in pages: samples cycle through them,
// punching them all back to holes at the end of each cycle.
const pages = 64

// punchPages is the length of a punch sample, as the scenarios' puncher.
const punchPages = 16

// fileOps is one scratch file under measurement: the real one (realFile)
// or, in tests, a fake filesystem of known phase costs.
type fileOps interface {
	// Store writes a byte of page p through the shared mapping; Load reads one.
	Store(p int)
	Load(p int)
	// Writeback writes page p back and waits (sync_file_range).
	Writeback(p int) error
	// Fdatasync is fdatasync(2) on the file.
	Fdatasync() error
	// Evict unmaps page p and drops it from the page cache.
	Evict(p int) error
	// Pread reads page p with read(2).
	Pread(p int) error
	// Punch punches pages [p, p+n).
	Punch(p, n int) error
	Close() error
}

// hasExclusive reports whether fs's fsync excludes write faults for a span
// (btrfs's i_mmap_lock), which the calibration then measures.
func hasExclusive(fs string) bool { return fs == "btrfs" }

// noWriteback reports filesystems with no writeback, no page_mkwrite and no
// log (tmpfs, ramfs): those phases do not exist there.
func noWriteback(fs string) bool { return fs == "tmpfs" || fs == "ramfs" }

// Measure measures the filesystem of o.Dir. It creates one scratch file
// there and removes it on every path.
func Measure(ctx context.Context, o Options) (*results.Calibration, error) {
	f, err := openReal(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("calibrating %s: %w", o.Target, err)
	}
	c, err := measure(ctx, f, o)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("calibrating %s: %w", o.Target, cerr)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// series collects one phase's samples.
type series struct {
	name   string
	absent bool
	v      []int64
}

func (s *series) add(d time.Duration) { s.v = append(s.v, max(int64(d), 0)) }

// measure runs the samples on f.
func measure(ctx context.Context, f fileOps, o Options) (*results.Calibration, error) {
	n := o.Samples
	if n <= 0 {
		n = 200
	}
	budget := o.Budget
	if budget <= 0 {
		budget = 8 * time.Second
	}
	c := &results.Calibration{Target: o.Target, FS: o.FS, Fingerprint: o.Fingerprint, Kernel: o.Kernel,
		Created: time.Now().UTC(), Seed: o.Seed}
	ph := map[string]*series{}
	for _, name := range hotpath.PhaseNames() {
		ph[name] = &series{name: name}
	}
	if noWriteback(o.FS) {
		for _, name := range []string{hotpath.PhaseWriteFault, hotpath.PhaseWriteback, hotpath.PhaseLogCommit, hotpath.PhaseFsync, hotpath.PhaseFsyncLog, hotpath.PhaseExclusive} {
			ph[name].absent = true
		}
		c.Notes = append(c.Notes, o.FS+" has no writeback, no page_mkwrite and no log: write-fault, writeback, log-commit, fsync, fsync-log and fsync-exclusive do not exist there (the model spends nothing for them)")
	} else if !hasExclusive(o.FS) {
		ph[hotpath.PhaseExclusive].absent = true
		c.Notes = append(c.Notes, o.FS+"'s fsync excludes no fault (no inode lock for data): fsync-exclusive does not exist there")
	} else {
		c.ExclusiveFrom = "timing"
		c.Notes = append(c.Notes, "fsync-exclusive comes from timing alone: a write fault issued while fsync runs, timed from fsync's start to the fault's end (no tracepoint used)")
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0xca11b))
	deadline := time.Now().Add(budget)
	timed := func(s *series, fn func() error) error {
		t := time.Now()
		err := fn()
		s.add(time.Since(t))
		return err
	}
	// Writes go to fresh holes: p cycles through the file; at the end of
	// a cycle every page is punched back to a hole.
	p := 0
	next := func() (int, error) {
		if p == pages {
			if err := f.Punch(0, pages); err != nil {
				return 0, err
			}
			p = 0
		}
		p++
		return p - 1, nil
	}
	// Write faults, hot, as a faulter takes them in a storm: dirty every
	// page, write them all back (which write-protects them), then store to
	// each in turn, each store a real write fault.
	var wfMedian time.Duration
	if !noWriteback(o.FS) {
		for len(ph[hotpath.PhaseWriteFault].v) < 5*n {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for q := 0; q < pages; q++ {
				f.Store(q)
			}
			for q := 0; q < pages; q++ {
				if err := f.Writeback(q); err != nil {
					return nil, err
				}
			}
			for q := 0; q < pages && len(ph[hotpath.PhaseWriteFault].v) < 5*n; q++ {
				timed(ph[hotpath.PhaseWriteFault], func() error { f.Store(q); return nil })
			}
		}
		if err := f.Punch(0, pages); err != nil {
			return nil, err
		}
		if err := f.Fdatasync(); err != nil {
			return nil, err
		}
		wfMedian = medianOf(ph[hotpath.PhaseWriteFault].v)
	}
	discarded := 0
	for i := 0; i-discarded < n && discarded < 4*n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if i-discarded >= MinSamples && time.Now().After(deadline) {
			break
		}
		q, err := next()
		if err != nil {
			return nil, err
		}
		f.Store(q) // a new dirty page over a hole (untimed: a read fault and a write fault)
		if !noWriteback(o.FS) {
			if err := timed(ph[hotpath.PhaseWriteback], func() error { return f.Writeback(q) }); err != nil {
				return nil, err
			}
			if err := timed(ph[hotpath.PhaseLogCommit], f.Fdatasync); err != nil {
				return nil, err
			}
			// The page is clean and write-protected: the next store is a
			// real write fault (timed in the hot pass below; here it only
			// redirties the page).
			f.Store(q)
			if err := f.Fdatasync(); err != nil {
				return nil, err
			}
			// fsync with one new dirty page.
			r, err := next()
			if err != nil {
				return nil, err
			}
			f.Store(r)
			if hasExclusive(o.FS) {
				// A clean, write-protected page for the faulter.
				if err := f.Writeback(q); err != nil {
					return nil, err
				}
				fs, ex, ok, err := fsyncWithFaulter(f, q, wfMedian)
				if err != nil {
					return nil, err
				}
				if !ok {
					discarded++
					// The fault did not wait for this fsync: no sample.
					// Leave nothing dirty for the next one.
					if err := f.Fdatasync(); err != nil {
						return nil, err
					}
					continue
				}
				ph[hotpath.PhaseFsync].add(fs)
				ph[hotpath.PhaseExclusive].add(ex)
			} else if err := timed(ph[hotpath.PhaseFsync], f.Fdatasync); err != nil {
				return nil, err
			}
			// fsync's part that is neither writeback nor commit, inside its
			// locks: for a filesystem with an exclusive span, the span seen
			// by the faulter less the writeback and the fault's own cost
			// (timing cannot tell logging from commit: fdatasync with only
			// metadata dirty does both); else fsync less writeback and commit.
			wb, cm, fs, wf := last(ph[hotpath.PhaseWriteback]), last(ph[hotpath.PhaseLogCommit]), last(ph[hotpath.PhaseFsync]), wfMedian
			if hasExclusive(o.FS) {
				ph[hotpath.PhaseFsyncLog].add(last(ph[hotpath.PhaseExclusive]) - wb - wf)
			} else {
				ph[hotpath.PhaseFsyncLog].add(fs - wb - cm)
			}
		}
		// A read fault and a read() of evicted pages.
		if err := f.Evict(q); err != nil {
			return nil, err
		}
		timed(ph[hotpath.PhaseReadFault], func() error { f.Load(q); return nil })
		if err := f.Evict(q); err != nil {
			return nil, err
		}
		if err := timed(ph[hotpath.PhaseFill], func() error { return f.Pread(q) }); err != nil {
			return nil, err
		}
		{
			// Punch punchPages written pages somewhere in the file.
			s := rng.IntN(pages - punchPages + 1)
			for k := s; k < s+punchPages; k++ {
				f.Store(k)
			}
			if !noWriteback(o.FS) {
				if err := f.Fdatasync(); err != nil {
					return nil, err
				}
			}
			if err := timed(ph[hotpath.PhasePunch], func() error { return f.Punch(s, punchPages) }); err != nil {
				return nil, err
			}
		}
	}
	if hasExclusive(o.FS) && len(ph[hotpath.PhaseExclusive].v) < MinSamples {
		return nil, fmt.Errorf("calibrate: only %d of %d write faults issued during an fsync waited for it: %s's fsync excludes no write fault here, against its scheme", len(ph[hotpath.PhaseExclusive].v), len(ph[hotpath.PhaseExclusive].v)+discarded, o.FS)
	}
	if discarded > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%d fsync samples dropped: their write fault did not wait for the fsync (it ran before fsync took its locks)", discarded))
	}
	for _, name := range hotpath.PhaseNames() {
		s := ph[name]
		d := results.PhaseDist{Phase: name, Absent: s.absent}
		if !s.absent {
			if len(s.v) == 0 {
				return nil, errors.New("calibrate: no samples of " + name)
			}
			d.Samples = s.v
			d.Latency = latency(s.v)
		}
		c.Phases = append(c.Phases, d)
	}
	return c, nil
}

// medianOf is the median of v (0 for none).
func medianOf(v []int64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	return time.Duration(sortedCopy(v)[len(v)/2])
}

func last(s *series) time.Duration { return time.Duration(s.v[len(s.v)-1]) }

// fsyncWithFaulter runs fdatasync (one page dirty) on its own goroutine
// and, once it has started, a write fault on the clean, write-protected
// page q: the fault waits for whatever fsync excludes it from. It returns
// fsync's duration and the exclusive span the fault saw, from fsync's start
// to the fault's end. ok is false when the fault did not wait (it took less
// than three times wf, an unblocked fault's cost, so it ran before fsync
// took its locks) or ended after fsync did: such a sample measures no span.
func fsyncWithFaulter(f fileOps, q int, wf time.Duration) (fsync, excl time.Duration, ok bool, err error) {
	var started atomic.Int64
	done := make(chan error, 1)
	var t0 time.Time
	var fs time.Duration
	go func() {
		t0 = time.Now()
		started.Store(1)
		err := f.Fdatasync()
		fs = time.Since(t0)
		done <- err
	}()
	for started.Load() == 0 {
		runtime.Gosched()
	}
	// Let fsync enter the kernel and take its locks before faulting.
	for t := time.Now(); time.Since(t) < 100*time.Microsecond; {
		runtime.Gosched()
	}
	ts := time.Now()
	f.Store(q)
	t1 := time.Now()
	err = <-done
	ok = t1.Sub(ts) >= 3*wf && t1.Sub(t0) <= fs
	return fs, t1.Sub(t0), ok, err
}

// latency summarises samples (ns).
func latency(v []int64) results.Latency {
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	for _, x := range v {
		_ = h.RecordValue(max(x, 1))
	}
	mx := time.Duration(h.Max())
	q := func(p float64) time.Duration { return min(time.Duration(h.ValueAtQuantile(p)), mx) }
	return results.Latency{Samples: h.TotalCount(), Mean: time.Duration(h.Mean()), P50: q(50), P90: q(90), P99: q(99), P999: q(99.9), Max: mx}
}

// Summary renders a calibration as the lines every output prints: one line
// per phase with its p50/p99/max and samples, the notes, and what the model
// spends.
func Summary(c *results.Calibration) []string {
	out := []string{fmt.Sprintf("calibration of %s (%s, kernel %s, %s): real system calls, %s", c.Target, c.FS, c.Kernel, c.Created.Format(time.RFC3339), "the model spends write-fault, page-fill and fsync-log as calibrated time")}
	for _, d := range c.Phases {
		if d.Absent {
			out = append(out, fmt.Sprintf("  %-16s does not exist on %s", d.Phase, c.FS))
			continue
		}
		l := d.Latency
		out = append(out, fmt.Sprintf("  %-16s p50 %-10v p99 %-10v max %-10v n=%d", d.Phase, l.P50, l.P99, l.Max, l.Samples))
	}
	for _, n := range c.Notes {
		out = append(out, "  note: "+n)
	}
	return out
}

// sortedCopy is v sorted, for tests.
func sortedCopy(v []int64) []int64 { s := slices.Clone(v); slices.Sort(s); return s }
