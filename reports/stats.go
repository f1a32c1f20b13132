package reports

// This file holds every statistic reports computes. Everything else in the
// package calls Describe, Compare, EstimateShift, Judge and AdjustBH and
// never does arithmetic on samples itself, so the methods below are the
// whole statistical contract of lockbench's reports.
//
// The method is benchstat's (golang.org/x/perf/benchmath.AssumeNothing):
// benchmark measurements are not normal, so the centre is the median of the
// repetitions, its interval is an exact order-statistic (binomial) interval,
// and two samples are compared with the Mann-Whitney U test.
//
// Where the libraries have the statistic, it comes from them:
// github.com/montanaflynn/stats for the descriptive statistics (median,
// extremes, mean); github.com/aclements/go-moremath (what benchmath itself
// uses) for the Mann-Whitney U test (MannWhitneyUTest), the interval of the
// median (QuantileCI, BinomialDist) and the null distribution of U (UDist).
// Written here because neither library has them: the Hodges-Lehmann shift
// and its interval (EstimateShift), the Benjamini-Hochberg adjustment
// (AdjustBH), the trimmed mean of a histogram, and the verdict of a
// comparison (Judge). Percentiles of raw values use package quantile's
// nearest rank, as the measuring packages do.

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
	mstats "github.com/aclements/go-moremath/stats"
	"github.com/montanaflynn/stats"

	"lockbench/internal/quantile"
)

// Confidence is the level of every confidence interval reports computes.
const Confidence = 0.95

// Alpha is the significance level of Compare: a difference is significant
// when the Mann-Whitney p-value is below Alpha.
const Alpha = 0.05

// WideSpread is the relative spread of repetitions around their median
// beyond which Describe warns, as benchstat flags a variation above 5%.
const WideSpread = 0.05

// exactUTestLimit is the largest sample size for which shiftRank uses the
// exact distribution of U (go-moremath's UDist); beyond it, the normal
// approximation. It is go-moremath's MannWhitneyExactLimit, so the test and
// the interval switch together.
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
// confidence interval of the median of n values (go-moremath's QuantileCI,
// benchstat's), and its actual level. Where QuantileCI finds two equally
// good intervals one rank apart (Ambiguous), medianCI takes both, so the
// interval is symmetric and "±x%" never hides one side. When no interval
// reaches level (n < 6 at 95%), it returns [1, n] and that interval's lower
// level 1 - 2^(1-n) rather than an infinite interval.
func medianCI(n int, level float64) (lo, hi int, actual float64) {
	if n <= 0 {
		return 0, 0, 0
	}
	ci := mstats.QuantileCI(n, 0.5, level)
	lo, hi = ci.LoOrder, ci.HiOrder
	if ci.Ambiguous {
		hi++
	}
	if lo < 1 || hi > n {
		lo, hi = 1, n
	}
	return lo, hi, orderLevel(n, lo, hi)
}

// orderLevel is the probability that the order statistics [x(lo), x(hi)]
// of n values cover their population median: P(lo ≤ B < hi) for B ~
// Binomial(n, 1/2), the number of values below the median.
func orderLevel(n, lo, hi int) float64 {
	b := mstats.BinomialDist{N: n, P: 0.5}
	return math.Max(0, b.CDF(float64(hi-1))-b.CDF(float64(lo-1)))
}

// minRepsForCI is the smallest number of repetitions whose median has an
// interval at level (6 for 95%).
func minRepsForCI(level float64) int {
	for n := 2; ; n++ {
		if orderLevel(n, 1, n) >= level {
			return n
		}
	}
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
// test of x against y: go-moremath's MannWhitneyUTest, exact up to 50
// values a side (25 with ties), the normal approximation with tie and
// continuity corrections beyond.
func mannWhitney(x, y []float64) (u, p float64, err error) {
	if len(x) == 0 || len(y) == 0 {
		return 0, 1, fmt.Errorf("empty sample: no test")
	}
	r, err := mstats.MannWhitneyUTest(x, y, mstats.LocationDiffers)
	if err == mstats.ErrSamplesEqual {
		return float64(len(x)*len(y)) / 2, 1, errAllEqual
	}
	if err != nil {
		return 0, 1, err
	}
	return r.U, math.Min(1, r.P), nil
}

// minUTestP is the smallest two-sided p-value the exact U test can give
// for samples of n1 and n2 values: twice P(U = 0).
func minUTestP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	return math.Min(1, 2*mstats.UDist{N1: n1, N2: n2}.CDF(0))
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
	if level != Confidence {
		return computeShiftRank(m, n, level)
	}
	// It depends on the sample sizes only: a study judges every
	// comparison again after each round of repetitions, and the exact
	// distribution of U costs a thousand times the rest of a Judge.
	key := [2]int{m, n}
	if r, ok := shiftRanks.Load(key); ok {
		r := r.(rankLevel)
		return r.k, r.level
	}
	k, actual = computeShiftRank(m, n, level)
	shiftRanks.Store(key, rankLevel{k, actual})
	return k, actual
}

type rankLevel struct {
	k     int
	level float64
}

// shiftRanks caches shiftRank at Confidence by sample sizes.
var shiftRanks sync.Map

func computeShiftRank(m, n int, level float64) (k int, actual float64) {
	cdf := func(u int) float64 { // P(U ≤ u), no ties
		if m <= exactUTestLimit && n <= exactUTestLimit {
			return mstats.UDist{N1: m, N2: n}.CDF(float64(u))
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

// Quantile is the q-quantile (0 <= q <= 1) of ascending values by the
// nearest rank, the method every lockbench percentile uses; NaN for none.
func Quantile(sorted []float64, q float64) float64 { return quantile.Floats(sorted, q) }

// trimmedMean is the mean of the smallest share of h's values (each
// bucket at its midpoint).
func trimmedMean(h *hdrhistogram.Histogram, share float64) float64 {
	keep := int64(math.Ceil(share * float64(h.TotalCount())))
	var n int64
	sum := 0.0
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		take := min(b.Count, keep-n)
		sum += float64(take) * float64(b.From+b.To) / 2
		n += take
		if n >= keep {
			break
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// AdjustBH returns the Benjamini-Hochberg adjusted p-values of ps (in the
// same order): the smallest false-discovery rate at which each comparison
// would be stated, p(i)·m/i made monotone from the largest down. Stating
// the comparisons whose adjusted p is below Alpha keeps the expected share
// of false differences among those stated at or below Alpha, whatever the
// number of comparisons (for independent or positively dependent tests).
func AdjustBH(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	out := make([]float64, m)
	prev := 1.0
	for r := m; r >= 1; r-- {
		i := idx[r-1]
		prev = math.Min(prev, ps[i]*float64(m)/float64(r))
		out[i] = math.Min(1, prev)
	}
	return out
}

// MinMeaningful is the relative difference below which a comparison is
// "no meaningful difference" even when the test detects it: below the
// measurement's resolution on a shared machine.
const MinMeaningful = 0.02

// Verdict is what a comparison says.
type Verdict string

const (
	// Different: the adjusted p is below Alpha, the interval excludes no
	// change, and the estimate is beyond the resolution.
	Different Verdict = "difference"
	// NotMeaningful: the difference is below the resolution (MinMeaningful
	// or the timer floor), or the interval lies within it.
	NotMeaningful Verdict = "no meaningful difference"
	// NotDetected: the run cannot tell; Judgement.Detectable says how large
	// a difference it could have told.
	NotDetected Verdict = "no difference detected"
)

// Judgement is one comparison of a measure of new against base: the
// Hodges-Lehmann shift with its interval, the Mann-Whitney p-value, the
// p-value adjusted over all comparisons of a study, and the verdict. It is
// the statistics of a finding; other packages (calibration) use Judge and
// Adjust to state their comparisons as findings do.
type Judgement struct {
	Shift
	P, PAdj float64
	N1, N2  int // repetitions of base and new
	// Floor is the absolute resolution in the measure's unit (the timer
	// floor for a latency, 0 for none): a difference smaller is not
	// meaningful whatever its ratio.
	Floor   float64
	Verdict Verdict
	// Direction is +1 when new is larger, -1 when smaller, 0 unless
	// Verdict is Different.
	Direction int
	// Detectable is the smallest relative difference the comparison could
	// have detected: the farthest its interval reaches from no change.
	Detectable float64
}

// Judge compares new with base (both from Describe); floor is the
// measure's absolute resolution. The adjusted p starts as P: a single
// comparison; call Adjust with the study's adjusted p.
func Judge(base, new Estimate, floor float64) Judgement {
	j := Judgement{Shift: EstimateShift(base, new), Floor: floor}
	c := Compare(base, new)
	j.P, j.N1, j.N2 = c.P, c.N1, c.N2
	return j.Adjust(j.P)
}

// Adjust returns j with the adjusted p-value padj and the verdict it
// gives.
func (j Judgement) Adjust(padj float64) Judgement {
	j.PAdj = padj
	hasRatio := !math.IsNaN(j.Ratio)
	var excludes, inBand, pointBeyond bool
	if hasRatio {
		excludes = j.RatioLo > 1 || j.RatioHi < 1
		inBand = j.RatioLo >= 1-MinMeaningful && j.RatioHi <= 1+MinMeaningful
		pointBeyond = math.Abs(j.Ratio-1) >= MinMeaningful
		j.Detectable = math.Max(j.RatioHi-1, 1-j.RatioLo)
	} else {
		excludes = j.DeltaLo > 0 || j.DeltaHi < 0
		inBand = j.DeltaLo >= -j.Floor && j.DeltaHi <= j.Floor
		pointBeyond = true
		j.Detectable = math.NaN()
	}
	if j.Floor > 0 {
		inBand = inBand || j.DeltaLo >= -j.Floor && j.DeltaHi <= j.Floor
		pointBeyond = pointBeyond && math.Abs(j.Delta) >= j.Floor
	}
	j.Direction = 0
	switch {
	case math.IsNaN(j.Delta):
		j.Verdict = NotDetected
	case padj < Alpha && excludes && pointBeyond:
		j.Verdict = Different
		j.Direction = 1
		if j.Delta < 0 || hasRatio && j.Ratio < 1 {
			j.Direction = -1
		}
	case padj < Alpha && excludes, inBand:
		j.Verdict = NotMeaningful
	default:
		j.Verdict = NotDetected
	}
	return j
}

// Decided reports whether more repetitions would not change the kind of
// answer: a difference, or none that matters.
func (j Judgement) Decided() bool { return j.Verdict != NotDetected }

// SettleMargin is how far below Alpha an adjusted p must be for a
// difference to be settled: a difference stated at p' between SettleMargin
// and Alpha is as near the threshold as an undecided comparison at p' just
// above it, and a second run states either about half the time. The
// study's sequential repetitions continue on both (docs/DESIGN.md,
// "Findings"); the synthetic sequential studies of findings_synth_test.go
// measure what it buys.
const SettleMargin = Alpha / 5

// Settled reports whether more repetitions are unlikely to change the
// verdict: no meaningful difference (the interval within the resolution),
// or a difference at an adjusted p below SettleMargin.
func (j Judgement) Settled() bool { return settled(j.Verdict, j.PAdj) }

func settled(v Verdict, padj float64) bool {
	return v == NotMeaningful || v == Different && padj < SettleMargin
}

// Nearness is how far an adjusted p is from Alpha, in orders of magnitude
// (|log10(padj/Alpha)|): of two unsettled comparisons, the nearer's verdict
// is the likelier to change with more repetitions, so the study gives them
// to it first.
func Nearness(padj float64) float64 {
	return math.Abs(math.Log10(math.Max(padj, 1e-300) / Alpha))
}
