package hotpath

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"lockbench/hotpath/clock"
)

// BenchmarkSpin measures how close a calibrated phase's achieved duration
// comes to the drawn one (issue 24, goal 6): for each drawn duration d it
// spins d on the run's clock and times the spin with the same clock. It
// reports, besides ns/op, the error at p50 and p99 of achieved - drawn as
// err-p50-ns and err-p99-ns, and as a share of the drawn duration
// (err-p50-pct, err-p99-pct). The goal is within 5% or 200 ns.
func BenchmarkSpin(b *testing.B) {
	for _, d := range []time.Duration{500 * time.Nanosecond, 3 * time.Microsecond, 50 * time.Microsecond, 400 * time.Microsecond} {
		b.Run("drawn="+d.String(), func(b *testing.B) {
			clk, err := clock.New(clock.Auto)
			if err != nil {
				b.Fatal(err)
			}
			errs := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := clk.Now()
				Spin(clk, d)
				errs = append(errs, clk.Since(t0)-d)
			}
			b.StopTimer()
			slices.Sort(errs)
			p50, p99 := errs[len(errs)/2], errs[len(errs)*99/100]
			b.ReportMetric(float64(p50), "err-p50-ns")
			b.ReportMetric(float64(p99), "err-p99-ns")
			b.ReportMetric(100*float64(p50)/float64(d), "err-p50-pct")
			b.ReportMetric(100*float64(p99)/float64(d), "err-p99-pct")
		})
	}
}

// TestSpinAllocatesNothing: the calibrated phase runs on the measured path.
func TestSpinAllocatesNothing(t *testing.T) {
	clk, err := clock.New(clock.Auto)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { Spin(clk, time.Microsecond) }); n != 0 {
		t.Errorf("Spin allocates %v per call; want 0", n)
	}
}

// TestSpinNeverShort: a spin never ends before its duration.
func TestSpinNeverShort(t *testing.T) {
	clk, err := clock.New(clock.Auto)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		d := time.Duration(r.IntN(20000))
		t0 := time.Now()
		Spin(clk, d)
		if got := time.Since(t0); got < d-clk.Floor() {
			t.Fatalf("Spin(%v) returned after %v", d, got)
		}
	}
}
