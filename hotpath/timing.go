package hotpath

import (
	"github.com/HdrHistogram/hdrhistogram-go"

	"lockbench/hotpath/clock"
	"lockbench/results"
)

// sampled kinds are timed one in sampleEvery on average (seeded random): a store or a
// load without a fault costs a few nanoseconds, less than the timer's floor,
// so timing each would measure the timer. Every other kind is timed each time.
const sampleEvery = 64

// exclusive kinds are recorded as events in time, so that their stalls can
// be lined up with the time series.
func exclusive(k Kind) bool { return k == KFsync || k == KPunch || k == KTruncate || k == KInline }

// maxEvents bounds each worker's event list.
const maxEvents = 4096

func sampled(k Kind) bool { return k <= KLoad || k == KReclaim }

// startTimer starts timing an operation of a kind that is timed every time.
func (w *Worker) startTimer(k Kind) clock.Ticks {
	if w.untimed {
		return -1
	}
	return w.clk.Now()
}

// startSampled starts timing an operation of a sampled kind (store, load,
// reclaim) when it is in the sample, and returns -1 otherwise. The sample
// is a seeded countdown: after each timed operation the next gap is drawn
// uniformly from [1, 2*sampleEvery-1] (mean sampleEvery), so the sampled
// operations do not lock into a period of the workload, and the common
// path, inlined into the faulter loop, is a decrement and a branch.
func (w *Worker) startSampled() clock.Ticks {
	if w.sampleGap--; w.sampleGap > 0 {
		return -1
	}
	return w.resample()
}

func (w *Worker) resample() clock.Ticks {
	if w.untimed {
		w.sampleGap = 1 << 30
		return -1
	}
	w.sampleGap = 1 + int32(w.rng.Uint32N(2*sampleEvery-1))
	return w.clk.Now()
}

// stopTimer counts the operation and, when it was timed, records it.
func (w *Worker) stopTimer(k Kind, t clock.Ticks) {
	w.ops[k]++
	if t >= 0 {
		w.record(k, t)
	}
}

// record puts one timed operation into the worker's histogram, time series
// and (for exclusive kinds) event list.
func (w *Worker) record(k Kind, t clock.Ticks) { w.recordAt(k, t, w.clk.Now()) }

// recordAt records an operation that started at t and ended at now.
func (w *Worker) recordAt(k Kind, t, now clock.Ticks) {
	d := int64(w.clk.Duration(now - t))
	if d < 1 {
		d = 1
	}
	h := w.hist[k]
	if h == nil {
		h = newHist(k)
		w.hist[k] = h
	}
	h.RecordValue(d)
	w.win.record(k, d, now)
	if exclusive(k) && len(w.events) < maxEvents {
		w.events = append(w.events, results.Event{
			Op:    k.String(),
			Start: w.clk.Duration(t - w.win.start),
			End:   w.clk.Duration(now - w.win.start),
		})
	}
}

// newHist makes a worker's histogram of kind k, at its first timed
// operation of k: 1 ns .. 100 s at 3 significant digits, 229 KB, so a
// worker holds one for each kind it times, not for all twelve (most roles
// time one or two). It runs after the operation's clock read, once per
// kind and run.
//
//go:noinline
func newHist(Kind) *hdrhistogram.Histogram { return hdrhistogram.New(1, 100_000_000_000, 3) }
