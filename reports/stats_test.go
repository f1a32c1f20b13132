package reports

import (
	"math"
	"slices"
	"testing"
)

// near reports whether got is within a relative 1e-9 of want.
func near(got, want float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= 1e-9*math.Max(math.Abs(got), math.Abs(want))
}

func TestMannWhitney(t *testing.T) {
	// Expected p-values are hand-computed where the comment shows the
	// arithmetic and were cross-checked against go-moremath's
	// MannWhitneyUTest (what benchstat calls) for every row.
	tests := []struct {
		name  string
		x, y  []float64
		wantU float64
		wantP float64
	}{
		// Exact distribution, no ties.
		{"3v3 disjoint", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0.1},            // 2·1/C(6,3) = 2/20
		{"4v4 disjoint", []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 0, 2.0 / 70}, // 2·1/C(8,4)
		{"3v3 reversed", []float64{4, 5, 6}, []float64{1, 2, 3}, 9, 0.1},            // U is of x: all 9 pairs
		{"3v3 interleaved", []float64{1, 3, 5}, []float64{2, 4, 6}, 3, 0.7},         // P(U≤3) = (1+1+2+3)/20, doubled
		{"5v6 overlapping", []float64{10, 11, 12, 13, 14}, []float64{12, 13, 15, 16, 17, 18}, 4, 0.051948051948051951},
		{"1v1", []float64{5}, []float64{7}, 0, 1}, // U=0 has mass 1/2: 2·1/2
		{"30v30 shifted", seq(0, 30, 0), seq(0, 30, 7.5), 253, 0.003193540818593946},

		// Exact distribution with ties: choose 3 of the midranks
		// {1,3,3,3,5,6}; rank sums ≤ 7 arise 3 ways in 20.
		{"3v3 tie across samples", []float64{1, 2, 2}, []float64{2, 3, 4}, 1, 0.3},
		{"5v5 many ties", []float64{1, 1, 2, 2, 3}, []float64{2, 3, 3, 4, 4}, 3, 0.079365079365079361},

		// Normal approximation (60 > exactUTestLimit) with ties.
		{"60v60 normal", mod(60, 17, 1, 0), mod(60, 23, 7, 2), 952.5, 8.5754541821359381e-06},
	}
	for _, tt := range tests {
		u, p, err := mannWhitney(tt.x, tt.y)
		if err != nil {
			t.Errorf("%s: mannWhitney(%v, %v) error %v", tt.name, tt.x, tt.y, err)
			continue
		}
		if u != tt.wantU || !near(p, tt.wantP) {
			t.Errorf("%s: mannWhitney(%v, %v) = U %v p %.17g; want U %v p %.17g", tt.name, tt.x, tt.y, u, p, tt.wantU, tt.wantP)
		}
	}
}

func TestMannWhitneyErrors(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
	}{
		{"empty x", nil, []float64{1}},
		{"empty y", []float64{1}, nil},
		{"all equal", []float64{2, 2}, []float64{2, 2, 2}}, // nothing to rank
	}
	for _, tt := range tests {
		if _, p, err := mannWhitney(tt.x, tt.y); err == nil || p != 1 {
			t.Errorf("%s: mannWhitney(%v, %v) = p %v, err %v; want p 1 and an error", tt.name, tt.x, tt.y, p, err)
		}
	}
}

func TestMedianCI(t *testing.T) {
	tests := []struct {
		n         int
		lo, hi    int
		wantLevel float64
	}{
		// Too few for 95%: [min, max] at 1 - 2^(1-n).
		{1, 1, 1, 0},
		{2, 1, 2, 0.5},
		{3, 1, 3, 0.75},
		{5, 1, 5, 0.9375},
		// Enough: the same intervals as go-moremath's QuantileCI.
		{6, 1, 6, 1 - 2.0/64},
		{7, 1, 7, 1 - 2.0/128},
		{9, 2, 8, 1 - 2*10.0/512},
		{10, 2, 9, 1 - 2*11.0/1024},
		{12, 3, 10, 1 - 2*79.0/4096},
		// Symmetric where moremath left-biases to [1, 7] at 96.1%.
		{8, 1, 8, 1 - 2.0/256},
	}
	for _, tt := range tests {
		lo, hi, level := medianCI(tt.n, Confidence)
		if lo != tt.lo || hi != tt.hi || !near(level, tt.wantLevel) {
			t.Errorf("medianCI(%d, %v) = [%d, %d] at %v; want [%d, %d] at %v", tt.n, Confidence, lo, hi, level, tt.lo, tt.hi, tt.wantLevel)
		}
	}
	if got := minRepsForCI(Confidence); got != 6 {
		t.Errorf("minRepsForCI(%v) = %d; want 6", Confidence, got)
	}
	if got := minRepsForUTest(Alpha); got != 4 {
		t.Errorf("minRepsForUTest(%v) = %d; want 4", Alpha, got)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name             string
		xs               []float64
		median, min, max float64
		lo, hi           float64
		spread           float64
		wantWarnings     int
	}{
		// One rep: no interval to speak of, no warning about reps.
		{"one rep", []float64{7}, 7, 7, 7, 7, 7, 0, 0},
		// Three tight reps: [min, max] at 75%, one warning (too few).
		{"three tight", []float64{101, 99, 100}, 100, 99, 101, 99, 101, 0.01, 1},
		// Three wide reps: too few and spread 20% > 5%.
		{"three wide", []float64{80, 100, 110}, 100, 80, 110, 80, 110, 0.2, 2},
		// Even count: median is the mean of the middle two.
		{"four", []float64{1, 2, 3, 4}, 2.5, 1, 4, 1, 4, 0.6, 2},
		// Six reps: a real 95% interval, [x(1), x(6)].
		{"six", []float64{100, 100, 100, 100, 100, 100}, 100, 100, 100, 100, 100, 0, 0},
	}
	for _, tt := range tests {
		e := Describe(tt.xs)
		if e.Median != tt.median || e.Min != tt.min || e.Max != tt.max || e.Lo != tt.lo || e.Hi != tt.hi ||
			!near(e.Spread(), tt.spread) || len(e.Warnings) != tt.wantWarnings {
			t.Errorf("%s: Describe(%v) = median %v [%v, %v] ci [%v, %v] spread %v warnings %q; want %v [%v, %v] ci [%v, %v] spread %v, %d warnings",
				tt.name, tt.xs, e.Median, e.Min, e.Max, e.Lo, e.Hi, e.Spread(), e.Warnings,
				tt.median, tt.min, tt.max, tt.lo, tt.hi, tt.spread, tt.wantWarnings)
		}
	}
	if e := Describe(nil); e.Valid() {
		t.Errorf("Describe(nil).Valid() = true; want false")
	}
	xs := []float64{3, 1, 2}
	Describe(xs)
	if !slices.Equal(xs, []float64{3, 1, 2}) {
		t.Errorf("Describe modified its input: %v", xs)
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name      string
		base, new []float64
		ratio, p  float64
		sig       bool
		warnings  int
	}{
		// 3 v 3 can never be significant: warn.
		{"3v3 faster", []float64{100, 101, 102}, []float64{200, 202, 204}, 2, 0.1, false, 1},
		// 4 v 4 fully separated is significant: no warning.
		{"4v4 slower", []float64{10, 11, 12, 13}, []float64{5, 5.5, 6, 6.5}, 5.75 / 11.5, 2.0 / 70, true, 0},
		// Equal samples: no test, p = 1, a warning.
		{"constant", []float64{1, 1}, []float64{1, 1}, 1, 1, false, 1},
		// Zero baseline: no ratio (NaN), and 2v2 cannot reach α.
		{"zero base", []float64{0, 0}, []float64{1, 2}, math.NaN(), 1.0 / 3, false, 2},
	}
	for _, tt := range tests {
		c := Compare(Describe(tt.base), Describe(tt.new))
		ratioOK := near(c.Ratio, tt.ratio) || math.IsNaN(c.Ratio) && math.IsNaN(tt.ratio)
		if !ratioOK || !near(c.P, tt.p) || c.Significant != tt.sig || len(c.Warnings) != tt.warnings {
			t.Errorf("%s: Compare(%v, %v) = ratio %v p %v sig %v warnings %q; want ratio %v p %v sig %v, %d warnings",
				tt.name, tt.base, tt.new, c.Ratio, c.P, c.Significant, c.Warnings, tt.ratio, tt.p, tt.sig, tt.warnings)
		}
	}
}

// seq returns n values start+off, start+1+off, ...
func seq(start, n int, off float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(start+i) + off
	}
	return xs
}

// mod returns n values (i·mul mod m) + off, a sample with many ties.
func mod(n, m, mul int, off float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64((i*mul)%m) + off
	}
	return xs
}

func TestShiftRank(t *testing.T) {
	for _, tc := range []struct {
		m, n, k int
		level   float64
	}{
		// Tables of the Mann-Whitney critical value (two-sided 5%): U ≤ 5
		// for 6+6, so the interval is [D(6), D(31)] at 95.9%.
		{6, 6, 6, 0.959},
		{4, 4, 1, 0.971},
		{8, 8, 14, 0.950},
		// Too few values for 95%: [min, max] at its lower level.
		{2, 2, 1, 0.667},
	} {
		k, level := shiftRank(tc.m, tc.n, Confidence)
		if k != tc.k || math.Abs(level-tc.level) > 0.001 {
			t.Errorf("shiftRank(%d, %d) = %d, %.4f; want %d, %.3f", tc.m, tc.n, k, level, tc.k, tc.level)
		}
	}
}

func TestEstimateShift(t *testing.T) {
	base := Describe([]float64{10, 11, 12, 10, 11, 12})
	new := Describe([]float64{20, 22, 24, 20, 22, 24})
	s := EstimateShift(base, new)
	if s.Ratio != 2 || s.RatioLo < 1.6 || s.RatioHi > 2.4 || s.RatioLo > 2 || s.RatioHi < 2 {
		t.Errorf("EstimateShift ratio = %v [%v, %v]; want 2 inside [1.6, 2.4]", s.Ratio, s.RatioLo, s.RatioHi)
	}
	if s.Delta != 11 || s.DeltaLo > 11 || s.DeltaHi < 11 {
		t.Errorf("EstimateShift delta = %v [%v, %v]; want 11 inside its interval", s.Delta, s.DeltaLo, s.DeltaHi)
	}
	zero := EstimateShift(Describe([]float64{0, 1}), new)
	if !math.IsNaN(zero.Ratio) || math.IsNaN(zero.Delta) {
		t.Errorf("EstimateShift with a zero base = ratio %v, delta %v; want NaN ratio, a delta", zero.Ratio, zero.Delta)
	}
}
