package quantile

import (
	"math"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func TestRank(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		q    float64
		want int64
	}{
		{0, 0.5, 0}, {1, 0.99, 1}, {100, 0.99, 99}, {100, 0.999, 100}, {1000, 0.999, 999},
		{10, 0.5, 5}, {11, 0.5, 6}, {5, 0, 1}, {5, 1, 5},
	} {
		if got := Rank(tt.n, tt.q); got != tt.want {
			t.Errorf("Rank(%d, %v) = %d; want %d", tt.n, tt.q, got, tt.want)
		}
	}
}

// The histogram and the exact values give the same rank: what the model's
// lock waits (a histogram) and the kernel's (exact durations) report agree
// up to the histogram's bucket width.
func TestHistogramMatchesExact(t *testing.T) {
	h := hdrhistogram.New(1, int64(time.Hour), 3)
	var ds []time.Duration
	for i := 1; i <= 1000; i++ {
		v := int64(i * i) // skewed
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Duration(v))
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact, hist := Durations(ds, q), Histogram(h, q)
		if hist < exact || float64(hist-exact) > 0.002*float64(exact) {
			t.Errorf("q=%v: histogram %v, exact %v; want the bucket of the same rank", q, hist, exact)
		}
	}
	if got := Histogram(h, 1); got != time.Duration(h.Max()) {
		t.Errorf("Histogram(h, 1) = %v; want the max %v", got, h.Max())
	}
	if Histogram(nil, 0.5) != 0 || Durations(nil, 0.5) != 0 || !math.IsNaN(Floats(nil, 0.5)) {
		t.Error("empty input: want 0 (NaN for floats)")
	}
}
