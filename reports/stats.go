package reports

// This file holds every statistic reports computes. Everything else in the
// package calls Describe and Compare and never does arithmetic on samples
// itself, so the methods below are the whole statistical contract of
// lockbench's reports.
//
// The method is benchstat's (golang.org/x/perf/benchmath.AssumeNothing):
// benchmark measurements are not normal, so the centre is the median of the
// repetitions, its interval is an exact order-statistic (binomial) interval,
// and two samples are compared with the Mann-Whitney U test.
//
// Note: golang.org/x/perf/benchmath is reachable through the module proxy
// and would have been the first choice. It was rejected because it cannot be
// used without adding golang.org/x/perf and github.com/aclements/go-moremath
// to go.mod, which this package does not own, and because its AssumeNothing
// reports a ±∞ interval for fewer than six repetitions, which hides the
// spread lockbench's usual three repetitions do show (see medianCI). The
// expected values in stats_test.go were cross-checked against
// benchmath/go-moremath (MannWhitneyUTest, QuantileCI) where the methods
// agree. Medians, extremes, midranks and the normal distribution come from
// github.com/montanaflynn/stats; it has no rank-sum test (its ranksum.go is
// commented out) and no binomial distribution, so those two are written here.

import (
	"fmt"
	"math"
	"sort"

	"github.com/montanaflynn/stats"
)

// Confidence is the level of every confidence interval reports computes.
const Confidence = 0.95

// Alpha is the significance level of Compare: a difference is significant
// when the Mann-Whitney p-value is below Alpha.
const Alpha = 0.05

// WideSpread is the relative spread of repetitions around their median
// beyond which Describe warns, as benchstat flags a variation above 5%.
const WideSpread = 0.05

// exactUTestLimit is the largest sample size for which Compare uses the
// exact distribution of the U statistic (with or without ties); beyond it,
// the normal approximation with tie and continuity corrections is used. The
// exact computation grows as n³: 50+50 values take tens of milliseconds at
// worst (U near its mean), far less in the tails that matter.
const exactUTestLimit = 50

// Estimate summarises one measure over the repetitions of a cell: the
// median, the extremes, and a confidence interval of the median.
//
// [Lo, Hi] is the exact distribution-free interval of the median: the
// k-th smallest and k-th largest repetitions, with k the largest rank whose
// binomial coverage is at least Confidence. With fewer than six repetitions
// no such k exists; the interval is then [Min, Max] and Level says what
// confidence it actually has (75% for three repetitions), with a warning.
type Estimate struct {
	N                int     // repetitions measured
	Median, Min, Max float64 // of the repetitions
	Lo, Hi           float64 // confidence interval of the median
	Level            float64 // actual confidence of [Lo, Hi], in [0, 1]
	Warnings         []string
	values           []float64 // sorted, for Compare
}

// Valid reports whether e was computed from at least one repetition.
func (e Estimate) Valid() bool { return e.N > 0 }

// Spread is the largest relative distance of a repetition from the median:
// max(Max/Median-1, 1-Min/Median). It is 0 for a zero median.
func (e Estimate) Spread() float64 { return relRange(e.Median, e.Min, e.Max) }

// HalfWidth is the confidence interval as a fraction of the median:
// max(Hi/Median-1, 1-Lo/Median), benchstat's "±x%". It is 0 for a zero
// median.
func (e Estimate) HalfWidth() float64 { return relRange(e.Median, e.Lo, e.Hi) }

// Reduced reports whether [Lo, Hi] has less than the requested Confidence
// because there are too few repetitions.
func (e Estimate) Reduced() bool { return e.N > 1 && e.Level < Confidence }

func relRange(mid, lo, hi float64) float64 {
	if mid == 0 {
		return 0
	}
	return math.Max(hi/mid-1, 1-lo/mid)
}

// Describe summarises the repetitions xs (in any order; xs is not
// modified). An empty xs gives an Estimate that is not Valid.
//
// Warnings: too few repetitions for a Confidence interval (the interval is
// then [Min, Max] at its lower actual level), and a spread wider than
// WideSpread.
func Describe(xs []float64) Estimate {
	if len(xs) == 0 {
		return Estimate{}
	}
	sorted := append([]float64(nil), xs...)
	sort.Float64s(sorted)
	var e Estimate
	e.N = len(sorted)
	e.values = sorted
	// Errors from montanaflynn/stats only report empty input, excluded above.
	e.Median, _ = stats.Median(sorted)
	e.Min, _ = stats.Min(sorted)
	e.Max, _ = stats.Max(sorted)
	lo, hi, level := medianCI(e.N, Confidence)
	e.Lo, e.Hi, e.Level = sorted[lo-1], sorted[hi-1], level
	if e.Reduced() {
		e.Warnings = append(e.Warnings, fewRepsWarning(e.N, e.Level))
	}
	if s := e.Spread(); s > WideSpread {
		e.Warnings = append(e.Warnings, fmt.Sprintf("spread ±%s exceeds ±%.0f%%", formatPercent(s), 100*WideSpread))
	}
	return e
}

// fewRepsWarning is Describe's warning for n repetitions, too few for an
// interval at Confidence; the interval used has the given level.
func fewRepsWarning(n int, level float64) string {
	return fmt.Sprintf("%d reps: interval is [min, max] at %.0f%% confidence; a %.0f%% interval of the median needs ≥%d reps",
		n, 100*level, 100*Confidence, minRepsForCI(Confidence))
}

// medianCI returns the 1-based order statistics [lo, hi] of the exact
// symmetric confidence interval of the median of n values, and its actual
// level. The number of values below the population median is Binomial(n,
// 1/2), so [x(k), x(n+1-k)] covers the median with probability
// 1 - 2·P(B ≤ k-1); medianCI takes the largest k reaching level. When even
// k = 1 does not (n < 6 at 95%), it returns [1, n] and that interval's lower
// level 1 - 2^(1-n) rather than an infinite interval.
//
// Note: go-moremath's QuantileCI (used by benchstat) may choose an
// asymmetric, left-biased interval with a level closer to the request; the
// symmetric interval is the textbook one and is never narrower on one side
// only, which keeps "±x%" honest. For n ≤ 40 (checked) they agree whenever
// moremath's interval is symmetric.
func medianCI(n int, level float64) (lo, hi int, actual float64) {
	if n <= 0 {
		return 0, 0, 0
	}
	best := 0
	for k := 1; k <= (n+1)/2; k++ {
		if 1-2*binomialHalfCDF(n, k-1) < level {
			break
		}
		best = k
	}
	if best == 0 {
		return 1, n, math.Max(0, 1-2*binomialHalfCDF(n, 0))
	}
	return best, n + 1 - best, 1 - 2*binomialHalfCDF(n, best-1)
}

// minRepsForCI is the smallest number of repetitions whose median has an
// interval at level (6 for 95%).
func minRepsForCI(level float64) int {
	for n := 2; ; n++ {
		if 1-2*binomialHalfCDF(n, 0) >= level {
			return n
		}
	}
}

// binomialHalfCDF is P(B ≤ k) for B ~ Binomial(n, 1/2), summed in log space
// so that large n does not underflow 2^-n.
func binomialHalfCDF(n, k int) float64 {
	if k < 0 {
		return 0
	}
	if k >= n {
		return 1
	}
	lgn, _ := math.Lgamma(float64(n + 1))
	sum := 0.0
	for i := 0; i <= k; i++ {
		lgi, _ := math.Lgamma(float64(i + 1))
		lgni, _ := math.Lgamma(float64(n - i + 1))
		sum += math.Exp(lgn - lgi - lgni - float64(n)*math.Ln2)
	}
	return math.Min(sum, 1)
}

// Comparison is the result of comparing a measure of one cell with the same
// measure of a baseline cell.
type Comparison struct {
	// Ratio is median(new) / median(base); NaN when the base median is 0.
	Ratio float64
	// P is the two-sided Mann-Whitney U test p-value of the hypothesis that
	// both samples come from one distribution. 1 when the test cannot run.
	P float64
	// N1 and N2 are the repetitions of the base and the new sample.
	N1, N2 int
	// Significant is P < Alpha.
	Significant bool
	// Underpowered is set when the difference is not significant and the
	// samples are too small to ever be: not "no difference" but "cannot
	// tell". Warnings then says how many repetitions would do.
	Underpowered bool
	Warnings     []string
}

// Compare compares new with base, both as returned by Describe. The ratio
// is of medians; the p-value is the Mann-Whitney U test's: exact (with the
// exact distribution under ties) when both samples have at most 50
// values, the normal approximation with tie and continuity corrections
// beyond.
//
// Warnings: a sample is empty or constant so the test cannot run, the base
// median is zero, or the samples are too small to ever reach Alpha.
func Compare(base, new Estimate) Comparison {
	c := Comparison{Ratio: math.NaN(), P: 1, N1: base.N, N2: new.N}
	if !base.Valid() || !new.Valid() {
		c.Warnings = append(c.Warnings, "no repetitions to compare")
		return c
	}
	if base.Median != 0 {
		c.Ratio = new.Median / base.Median
	} else {
		c.Warnings = append(c.Warnings, "baseline median is 0: no ratio")
	}
	_, p, err := mannWhitney(base.values, new.values)
	if err != nil {
		c.Warnings = append(c.Warnings, err.Error())
		return c
	}
	c.P = p
	c.Significant = p < Alpha
	if !c.Significant {
		if minUTestP(c.N1, c.N2) >= Alpha {
			c.Underpowered = true
			c.Warnings = append(c.Warnings, underpoweredWarning(c.N1, c.N2))
		}
	}
	return c
}

// underpoweredWarning is Compare's warning for samples of n1 and n2 values
// that can never reach Alpha.
func underpoweredWarning(n1, n2 int) string {
	return fmt.Sprintf("n=%d+%d can never reach p<%v (smallest possible p=%.3f); need ≥%d reps on each side",
		n1, n2, Alpha, minUTestP(n1, n2), minRepsForUTest(Alpha))
}

// errAllEqual is returned by mannWhitney when every value of both samples
// is the same: the test has nothing to rank.
var errAllEqual = fmt.Errorf("all values are equal: no test")

// mannWhitney returns the U statistic of x (pairs (xi, yj) with xi > yj,
// ties counting one half) and the two-sided p-value of the Mann-Whitney U
// test of x against y.
func mannWhitney(x, y []float64) (u, p float64, err error) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return 0, 1, fmt.Errorf("empty sample: no test")
	}
	pooled := append(append([]float64(nil), x...), y...)
	ranks, err := stats.Rank(pooled) // midranks: ties share their mean rank
	if err != nil {
		return 0, 1, err
	}
	r1 := 0.0
	for _, r := range ranks[:n1] {
		r1 += r
	}
	u1 := r1 - float64(n1*(n1+1))/2
	u2 := float64(n1*n2) - u1
	ties := tieSizes(pooled)
	if len(ties) == 1 {
		return u1, 1, errAllEqual
	}
	if n1 <= exactUTestLimit && n2 <= exactUTestLimit {
		if u1 == u2 {
			// The distribution is symmetric about its mean; doubling the
			// CDF at the mean would count its probability mass twice.
			return u1, 1, nil
		}
		usmall := math.Min(u1, u2)
		// R1 ≤ Rsmall ⟺ U1 ≤ Usmall; the distribution of U1 under the
		// null hypothesis is that of U2, so one tail serves both.
		rsmall := usmall + float64(n1*(n1+1))/2
		return u1, math.Min(1, 2*rankSumCDF(ranks, n1, rsmall)), nil
	}
	n := float64(n1 + n2)
	t := 0.0
	for _, k := range ties {
		t += float64(k*k*k - k)
	}
	sigma := math.Sqrt(float64(n1*n2) / 12 * ((n + 1) - t/(n*(n-1))))
	d := u1 - float64(n1*n2)/2
	d -= math.Copysign(0.5, d) // continuity correction
	z := math.Abs(d) / sigma
	return u1, math.Min(1, 2*stats.NormCdf(-z, 0, 1)), nil
}

// tieSizes returns the sizes of the groups of equal values in xs, in
// ascending order of value.
func tieSizes(xs []float64) []int {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var sizes []int
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && s[j] == s[i] {
			j++
		}
		sizes = append(sizes, j-i)
		i = j
	}
	return sizes
}

// rankSumCDF is P(R ≤ r) where R is the sum of k ranks drawn without
// replacement from ranks (midranks, so multiples of 1/2): the exact null
// distribution of the rank sum of a sample of size k, ties included
// (Klotz 1966). It counts the k-subsets with doubled rank sum at most 2r
// with a dynamic program over the ranks, and divides by C(len(ranks), k).
// Counts are float64 because C(100, 50) overflows an integer; their
// relative error stays near 1e-15.
func rankSumCDF(ranks []float64, k int, r float64) float64 {
	limit := int(math.Round(2 * r))
	if limit < 0 {
		return 0
	}
	// ways[j][s]: number of j-subsets of the ranks seen so far with
	// doubled sum s; sums above limit are never needed.
	ways := make([][]float64, k+1)
	for j := range ways {
		ways[j] = make([]float64, limit+1)
	}
	ways[0][0] = 1
	n := len(ranks)
	seen := 0 // sum of the doubled ranks processed: no subset sum exceeds it
	for i, rk := range ranks {
		d := int(math.Round(2 * rk))
		seen += d
		// Only subset sizes that can still grow to k matter.
		for j := min(k, i+1); j >= max(1, k-(n-1-i)); j-- {
			for s := min(seen, limit); s >= d; s-- {
				ways[j][s] += ways[j-1][s-d]
			}
		}
	}
	below := 0.0
	for _, w := range ways[k] {
		below += w
	}
	total := 1.0 // C(n, k), exact in float64 up to n = 57 and within 1e-15 beyond
	for i := 1; i <= k; i++ {
		total = total * float64(n-k+i) / float64(i)
	}
	return math.Min(1, below/total)
}

// minUTestP is the smallest two-sided p-value the exact U test can give
// for samples of n1 and n2 values: 2 / C(n1+n2, n1).
func minUTestP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	lc, _ := math.Lgamma(float64(n1 + n2 + 1))
	l1, _ := math.Lgamma(float64(n1 + 1))
	l2, _ := math.Lgamma(float64(n2 + 1))
	return math.Min(1, 2*math.Exp(-(lc-l1-l2)))
}

// minRepsForUTest is the smallest n for which n against n repetitions can
// reach a p-value below alpha (4 for 0.05).
func minRepsForUTest(alpha float64) int {
	for n := 1; ; n++ {
		if minUTestP(n, n) < alpha {
			return n
		}
	}
}

// Shift is the Hodges-Lehmann estimate of how much larger one sample is
// than another, with the distribution-free confidence interval that goes
// with the Mann-Whitney U test: the median of the pairwise ratios (or
// differences) new_i / base_j, and the k-th smallest and k-th largest of
// them, k from the exact null distribution of U (normal approximation
// beyond exactUTestLimit). The interval excludes 1 (or 0) about when the
// U test rejects at Alpha, so a finding's interval and p-value agree.
type Shift struct {
	Ratio, RatioLo, RatioHi float64 // new/base; NaN when a value is not positive
	Delta, DeltaLo, DeltaHi float64 // new-base, in the samples' unit
	Level                   float64 // actual confidence of both intervals
}

// EstimateShift returns the Shift of new over base (both from Describe).
// With no pairs it returns NaNs and Level 0.
func EstimateShift(base, new Estimate) Shift {
	nan := math.NaN()
	s := Shift{Ratio: nan, RatioLo: nan, RatioHi: nan, Delta: nan, DeltaLo: nan, DeltaHi: nan}
	m, n := len(base.values), len(new.values)
	if m == 0 || n == 0 {
		return s
	}
	diffs := make([]float64, 0, m*n)
	ratios := make([]float64, 0, m*n)
	positive := true
	for _, y := range new.values {
		for _, x := range base.values {
			diffs = append(diffs, y-x)
			if x > 0 && y > 0 {
				ratios = append(ratios, y/x)
			} else {
				positive = false
			}
		}
	}
	sort.Float64s(diffs)
	k, level := shiftRank(m, n, Confidence)
	s.Level = level
	s.Delta, _ = stats.Median(diffs)
	s.DeltaLo, s.DeltaHi = diffs[k-1], diffs[len(diffs)-k]
	if positive {
		sort.Float64s(ratios)
		s.Ratio, _ = stats.Median(ratios)
		s.RatioLo, s.RatioHi = ratios[k-1], ratios[len(ratios)-k]
	}
	return s
}

// shiftRank returns the 1-based rank k such that the k-th smallest and
// k-th largest of the m·n pairwise differences bound a confidence interval
// of the shift at level or more, and its actual level: the largest k with
// 1 - 2·P(U ≤ k-1) ≥ level. When even k = 1 falls short (too few values),
// it returns 1 and the lower level of [min, max].
func shiftRank(m, n int, level float64) (k int, actual float64) {
	cdf := func(u int) float64 { // P(U ≤ u), no ties
		if m <= exactUTestLimit && n <= exactUTestLimit {
			ranks := make([]float64, m+n)
			for i := range ranks {
				ranks[i] = float64(i + 1)
			}
			return rankSumCDF(ranks, m, float64(u+m*(m+1)/2))
		}
		mu := float64(m*n) / 2
		sigma := math.Sqrt(float64(m*n*(m+n+1)) / 12)
		return stats.NormCdf(float64(u)+0.5, mu, sigma)
	}
	k = 1
	for c := 2; c <= (m*n+1)/2; c++ {
		if 1-2*cdf(c-1) < level {
			break
		}
		k = c
	}
	return k, math.Max(0, 1-2*cdf(k-1))
}
