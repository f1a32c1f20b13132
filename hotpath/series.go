package hotpath

import (
	"math/bits"
	"time"

	"lockbench/hotpath/clock"
	"lockbench/results"
)

// maxWindows bounds a worker's time series: when it fills, adjacent windows
// are merged and the width doubles, so a 10-minute run uses the same memory
// as a 10-second one.
const maxWindows = 256

// logBuckets is the resolution of a window's latency histogram: one bucket
// per power of two of nanoseconds. A window's p99 is the upper bound of its
// bucket, so it is an over-estimate of at most 2x; the run's percentiles come
// from the HDR histograms and are exact to 3 digits.
const logBuckets = 40

type window struct {
	ops [NumKinds]int64
	lat [NumKinds][logBuckets]uint32
}

// series is a worker's own time series; nothing in it is shared.
type series struct {
	clk   *clock.Clock
	start clock.Ticks
	width clock.Ticks
	wins  []window
	last  [NumKinds]int64
	// [lo, hi) is window cur's span of ticks: a timed operation inside it
	// (nearly all) finds its window with two compares, not a division.
	// hi == lo (zero, or after coalesce) forces the division.
	lo, hi clock.Ticks
	cur    int
}

func newSeries(clk *clock.Clock, start clock.Ticks, width time.Duration) *series {
	wt := clock.Ticks(float64(width) * clk.FreqHz() / 1e9)
	if wt < 1 {
		wt = 1
	}
	return &series{clk: clk, start: start, width: wt, wins: make([]window, 1, maxWindows)}
}

// setStart moves the series' start to t (the run's release) and drops
// the cached window.
func (s *series) setStart(t clock.Ticks) { s.start, s.lo, s.hi = t, 0, 0 }

func (s *series) index(now clock.Ticks) int {
	if now >= s.lo && now < s.hi {
		return s.cur
	}
	return s.indexSlow(now)
}

// indexSlow finds now's window by division, growing or coalescing the
// series as needed, and caches the window's span for index.
func (s *series) indexSlow(now clock.Ticks) int {
	for {
		i := int((now - s.start) / s.width)
		if i < 0 {
			return 0
		}
		if i < maxWindows {
			for len(s.wins) <= i {
				s.wins = s.wins[:len(s.wins)+1]
				s.wins[len(s.wins)-1] = window{}
			}
			s.cur, s.lo = i, s.start+clock.Ticks(i)*s.width
			s.hi = s.lo + s.width
			return i
		}
		s.coalesce()
	}
}

// coalesce merges pairs of windows and doubles the width.
func (s *series) coalesce() {
	n := (len(s.wins) + 1) / 2
	for i := 0; i < n; i++ {
		a := s.wins[2*i]
		if 2*i+1 < len(s.wins) {
			b := &s.wins[2*i+1]
			for k := range a.ops {
				a.ops[k] += b.ops[k]
				for j := range a.lat[k] {
					a.lat[k][j] += b.lat[k][j]
				}
			}
		}
		s.wins[i] = a
	}
	s.wins = s.wins[:n]
	s.width *= 2
	s.lo, s.hi = 0, 0
}

// record adds one timed latency of d ns at time now.
func (s *series) record(k Kind, d int64, now clock.Ticks) {
	b := bits.Len64(uint64(d))
	if b >= logBuckets {
		b = logBuckets - 1
	}
	s.wins[s.index(now)].lat[k][b]++
}

// tick assigns the operations counted since the last tick to now's window.
func (s *series) tick(ops *[NumKinds]int64, now clock.Ticks) {
	i := s.index(now)
	for k := range ops {
		s.wins[i].ops[k] += ops[k] - s.last[k]
		s.last[k] = ops[k]
	}
}

// mergeSeries re-bins every worker's windows at the coarsest width and
// renders them as a results series: one column per kind that any window
// counted or timed.
func mergeSeries(all []*series) *results.Series {
	if len(all) == 0 {
		return nil
	}
	width := all[0].width
	for _, s := range all {
		width = max(width, s.width)
	}
	var merged []window
	for _, s := range all {
		f := int(width / s.width)
		for i := range s.wins {
			j := i / f
			for len(merged) <= j {
				merged = append(merged, window{})
			}
			for k := range s.wins[i].ops {
				merged[j].ops[k] += s.wins[i].ops[k]
				for b := range s.wins[i].lat[k] {
					merged[j].lat[k][b] += s.wins[i].lat[k][b]
				}
			}
		}
	}
	out := &results.Series{Width: all[0].clk.Duration(width), Windows: len(merged)}
	for k := Kind(0); k < NumKinds; k++ {
		var col *results.SeriesKind
		for i := range merged {
			m := &merged[i]
			p99 := p99Of(&m.lat[k])
			if m.ops[k] == 0 && p99 == 0 {
				continue
			}
			if col == nil {
				out.Kinds = append(out.Kinds, results.SeriesKind{Op: k.String(), Ops: make([]int64, len(merged)), P99: make([]int64, len(merged))})
				col = &out.Kinds[len(out.Kinds)-1]
			}
			col.Ops[i], col.P99[i] = m.ops[k], p99
		}
	}
	return out
}

// p99Of is the upper bound of the bucket that holds a window's p99, 0
// when the window timed nothing.
func p99Of(lat *[logBuckets]uint32) int64 {
	var total uint64
	for _, c := range lat {
		total += uint64(c)
	}
	if total == 0 {
		return 0
	}
	need := (total*99 + 99) / 100
	var acc uint64
	for b, c := range lat {
		acc += uint64(c)
		if acc >= need {
			return int64(1) << b
		}
	}
	return 0
}
