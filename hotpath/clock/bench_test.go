package clock

import (
	"testing"
	"time"

	"lockbench/internal/benchname"
)

var (
	sinkTicks    Ticks
	sinkDuration time.Duration
)

// BenchmarkClock times the clocks two ways. op=now is the cost of one read
// (ns/op). op=floor times an empty operation as a caller would (start, end,
// difference): ns/op is the wall time of that, and measured-ns/op is the
// mean of what the clock reported for it, the floor as a mean rather than
// Floor's median. clock=time.Since is the plain standard-library idiom, for
// comparison with clock=mono, which is the same counter behind Clock.
func BenchmarkClock(b *testing.B) {
	for _, kind := range []Kind{TSC, Mono} {
		b.Run(benchname.Join("clock", kind.String(), "op", "now"), func(b *testing.B) {
			c := newOrSkip(b, kind)
			b.ReportAllocs()
			for b.Loop() {
				sinkTicks = c.Now()
			}
		})
		b.Run(benchname.Join("clock", kind.String(), "op", "floor"), func(b *testing.B) {
			c := newOrSkip(b, kind)
			b.ReportAllocs()
			var sum Ticks
			for b.Loop() {
				start := c.Now()
				end := c.Now()
				sum += end - start
			}
			b.ReportMetric(float64(c.Duration(sum))/float64(b.N), "measured-ns/op")
		})
	}

	base := time.Now()
	b.Run(benchname.Join("clock", "time.Since", "op", "now"), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkDuration = time.Since(base)
		}
	})
	b.Run(benchname.Join("clock", "time.Since", "op", "floor"), func(b *testing.B) {
		b.ReportAllocs()
		var sum time.Duration
		for b.Loop() {
			start := time.Now()
			sum += time.Since(start)
		}
		b.ReportMetric(float64(sum)/float64(b.N), "measured-ns/op")
	})
}

// BenchmarkFloor is the cost of one Floor call, which every run pays once.
func BenchmarkFloor(b *testing.B) {
	for _, kind := range []Kind{TSC, Mono} {
		b.Run(benchname.Join("clock", kind.String()), func(b *testing.B) {
			c := newOrSkip(b, kind)
			var floor time.Duration
			for b.Loop() {
				floor = c.Floor()
			}
			b.ReportMetric(float64(floor), "floor-ns")
		})
	}
}
