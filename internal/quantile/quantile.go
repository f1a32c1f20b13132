// Package quantile is lockbench's one percentile method, the nearest rank:
// the q-quantile of n values is the ceil(q·n)-th smallest. The measuring
// packages (hotpath for the model's latencies and lock waits, ktrace for the
// kernel's lock waits) and reports all use it, so a p99 means the same
// thing whichever engine measured it. It imports no lockbench package, so
// every package may import it.
package quantile

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Rank is the 1-based nearest rank of the q-quantile (0 <= q <= 1) of n
// values: ceil(q·n), at least 1 and at most n; 0 when n is 0.
func Rank(n int64, q float64) int64 {
	if n <= 0 {
		return 0
	}
	// The small epsilon keeps q·n that is an integer up to rounding
	// (0.99·100) at that integer.
	r := int64(math.Ceil(q*float64(n) - 1e-9))
	return min(max(r, 1), n)
}

// Durations is the q-quantile of ascending durations; 0 for none.
func Durations(sorted []time.Duration, q float64) time.Duration {
	r := Rank(int64(len(sorted)), q)
	if r == 0 {
		return 0
	}
	return sorted[r-1]
}

// Floats is the q-quantile of ascending values; NaN for none.
func Floats(sorted []float64, q float64) float64 {
	r := Rank(int64(len(sorted)), q)
	if r == 0 {
		return math.NaN()
	}
	return sorted[r-1]
}

// Histogram is the q-quantile of the values recorded in h: the highest
// value equivalent to the bucket holding the nearest rank, capped at the
// largest value recorded (a bucket's upper edge can exceed it); 0 for an
// empty histogram.
func Histogram(h *hdrhistogram.Histogram, q float64) time.Duration {
	if h == nil {
		return 0
	}
	r := Rank(h.TotalCount(), q)
	if r == 0 {
		return 0
	}
	mx := h.Max()
	var seen int64
	for _, b := range h.Distribution() {
		seen += b.Count
		if seen >= r {
			return time.Duration(min(b.To, mx))
		}
	}
	return time.Duration(mx)
}
