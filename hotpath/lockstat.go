package hotpath

import (
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"lockbench/hotpath/clock"
	"lockbench/results"
)

// lockAcct is one worker's lock_stat-like accounting, per lock class. It
// lives in the worker's own padded state and is merged after join
// (mergeLocks), so nothing is shared on the measured path.
//
// What each acquisition pays:
//   - uncontended: nothing by default; with Config.LockStats (-locks), an
//     increment (acquisitions) and, for an exclusive hold, two clock reads
//     (lock and release). The level is decided once per fault (a fault
//     path is compiled once per level, locks.go's locker) and once per
//     acquisition elsewhere (write, read, fsync, punch, ...);
//   - contended, always: the acquisition and contention counts, two clock
//     reads around the wait and a histogram record, on the slow path only,
//     where the worker is about to block anyway.
//
// So without -locks a run records contentions and waits (and the lock-wait
// table is always in the results file) but no uncontended acquisitions and
// no hold times; BenchmarkWriteFault's locks=on measures what -locks costs.
//
// Wait time is from the failed fast path to the acquisition (it includes
// the waiter's yields and parking, as the kernel's contention_begin/end
// pair does). Hold time is of exclusive holds only, from the acquisition
// to the end of the release; the timer's floor (printed with each run) is
// inside every hold, which matters for IX's short holds.
type lockAcct struct {
	acq       [numLockClasses]int64
	cont      [numLockClasses]int64
	waitTotal [numLockClasses]int64
	holdN     [numLockClasses]int64
	holdTotal [numLockClasses]int64
	since     [numLockClasses]clock.Ticks // start of the current exclusive hold
	wait      [numLockClasses]*hdrhistogram.Histogram
	hold      [numLockClasses]*hdrhistogram.Histogram
}

// newLockHist is a lock wait/hold histogram: 1 ns .. 100 s at 2 significant
// digits (1%), a quarter of the size of the operation histograms.
func newLockHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 100_000_000_000, 2) }

// init allocates the wait histograms (31 KiB each, touched only where
// waits land); the hold histograms come with setLockStats.
func (a *lockAcct) init() {
	for c := lkIO; c < numLockClasses; c++ {
		a.wait[c] = newLockHist()
	}
}

// setLockStats turns the full accounting (every acquisition counted, every
// exclusive hold timed) on or off, allocating the hold histograms the
// first time. It is called before the worker runs.
func (w *Worker) setLockStats(on bool) {
	w.locks = locksOff
	if on {
		w.locks = locksOn
	}
	if on && w.lk.hold[lkIO] == nil {
		for c := lkIO; c < numLockClasses; c++ {
			w.lk.hold[c] = newLockHist()
		}
	}
}

// waitStart is called on the slow path, before blocking.
func (w *Worker) waitStart() clock.Ticks { return w.clk.Now() }

// waited records a contended acquisition of c whose wait began at t, and
// returns the time of the acquisition.
func (w *Worker) waited(c lockClass, t clock.Ticks) clock.Ticks {
	now := w.clk.Now()
	d := max(int64(w.clk.Duration(now-t)), 1)
	a := &w.lk
	a.acq[c]++
	a.cont[c]++
	a.waitTotal[c] += d
	a.wait[c].RecordValue(d)
	return now
}

// counters is w's counters as the results file has them. il_contended
// comes from the lock accounting, which counts each IL contention once
// (the kernel engine takes no model lock: 0).
func (w *Worker) counters() results.Counters {
	c := w.ctr
	c.ILWaits = w.lk.cont[lkIL]
	return c
}

// holdStart counts an uncontended exclusive acquisition of c and starts
// timing its hold (locksOn only).
func (w *Worker) holdStart(c lockClass) {
	w.lk.acq[c]++
	w.lk.since[c] = w.clk.Now()
}

// holdEnd records the end of an exclusive hold of c (locksOn only).
func (w *Worker) holdEnd(c lockClass) {
	d := max(int64(w.clk.Duration(w.clk.Now()-w.lk.since[c])), 1)
	a := &w.lk
	a.holdN[c]++
	a.holdTotal[c] += d
	a.hold[c].RecordValue(d)
}

// mergeLocks merges the workers' lock accounting per lock class and role,
// in class order (the lock order) and then role order. Classes never taken
// are left out.
func mergeLocks(workers []*Worker) []results.LockStat {
	type key struct {
		c lockClass
		r Role
	}
	type acc struct {
		st         results.LockStat
		wait, hold *hdrhistogram.Histogram
	}
	m := map[key]*acc{}
	ops := roleOps(workers)
	for _, w := range workers {
		a := &w.lk
		for c := lkIO; c < numLockClasses; c++ {
			if a.acq[c] == 0 && a.cont[c] == 0 {
				continue
			}
			k := key{c, w.Role}
			x := m[k]
			if x == nil {
				x = &acc{st: results.LockStat{Class: c.String(), Role: w.Role.String(), Source: results.LockSourceModel, Ops: ops[w.Role]},
					wait: newLockHist(), hold: newLockHist()}
				m[k] = x
			}
			x.st.Acquisitions += a.acq[c]
			x.st.Contentions += a.cont[c]
			x.st.WaitTotal += time.Duration(a.waitTotal[c])
			x.st.Holds += a.holdN[c]
			x.st.HoldTotal += time.Duration(a.holdTotal[c])
			x.wait.Merge(a.wait[c])
			if a.hold[c] != nil {
				x.hold.Merge(a.hold[c])
			}
		}
	}
	keys := make([]key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].c != keys[j].c {
			return keys[i].c < keys[j].c
		}
		return keys[i].r < keys[j].r
	})
	out := make([]results.LockStat, 0, len(keys))
	for _, k := range keys {
		x := m[k]
		x.st.Wait = latencyOf(x.wait)
		x.st.Hold = latencyOf(x.hold)
		out = append(out, x.st)
	}
	return out
}
