package reports

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"lockbench/results"
)

// This file turns a results file into findings: short sentences, each one
// comparison of a strategy with another on the measure that matters for a
// scenario, backed by the ratio, its confidence interval and the
// Mann-Whitney p-value. A difference is stated only when the test says it
// is real (p < Alpha); otherwise the finding says "no difference detected".

// question is what the findings ask of one scenario: its key operation and
// role, the measure, at which thread count, and against which strategies.
type question struct {
	scenario, op, role string
	measure            string // "mean", "p50", "p99" or "ops/s"
	// maxThreads asks at the largest thread count the file ran the
	// scenario at; otherwise at the smallest.
	maxThreads bool
	// cost states the difference ("adds 23ns") instead of the ratio.
	cost bool
	// pairs are extra comparisons {strategy, versus} beside each
	// strategy against Baseline.
	pairs [][2]string
	what  string // why this measure, for the report
}

// questions are the default study's questions, in the order findings are
// listed. A scenario that is not here gets defaultQuestion.
var questions = []question{
	// The mean of the fastest 90% of faults: one writeback stall in a
	// repetition moves a plain mean by more than a lock costs, and the
	// median is one timer tick for every strategy.
	{scenario: "fault-scale", op: "write-fault", role: "faulter", measure: "mean90", cost: true,
		what: "the lock's cost on an uncontended write fault"},
	{scenario: "fault-scale", op: "store", role: "faulter", measure: "ops/s", maxThreads: true,
		what: "store throughput at all CPUs"},
	{scenario: "fsync-storm", op: "write-fault", role: "faulter", measure: "p99", maxThreads: true,
		pairs: [][2]string{{"rangelock", "rwsem"}}, what: "write faults stalled by fsync"},
	{scenario: "fsync-read", op: "read", role: "reader", measure: "p99", maxThreads: true,
		pairs: [][2]string{{"rangelock", "rwsem"}}, what: "read() stalled by fsync"},
	{scenario: "fsync-read", op: "write-fault", role: "faulter", measure: "p99", maxThreads: true,
		pairs: [][2]string{{"rwsem", "rangelock"}}, what: "write faults stalled by fsync"},
	{scenario: "punch", op: "read-fault", role: "faulter", measure: "p99", maxThreads: true,
		what: "page instantiation stalled by hole punch"},
	{scenario: "write-fail", op: "write-fault", role: "faulter", measure: "p99", maxThreads: true,
		what: "write faults beside failing writes"},
}

var defaultQuestion = question{op: "write-fault", role: "faulter", measure: "p99", maxThreads: true}

// Findings returns the findings of f, in the order of questions, then by
// target and strategy as they appear in f.
func Findings(f *results.File) []results.Finding {
	return findings(Summarize(f))
}

func findings(sums []CellSummary) []results.Finding {
	var out []results.Finding
	for _, q := range questionsFor(sums) {
		for _, g := range questionGroups(sums, q) {
			out = append(out, answer(q, g)...)
		}
	}
	return out
}

// questionsFor returns the questions for the scenarios in sums: those of
// questions whose scenario ran, then defaultQuestion for every other.
func questionsFor(sums []CellSummary) []question {
	var scenarios []string
	for _, s := range sums {
		if !slices.Contains(scenarios, s.Config.Scenario) {
			scenarios = append(scenarios, s.Config.Scenario)
		}
	}
	var out []question
	for _, q := range questions {
		if slices.Contains(scenarios, q.scenario) {
			out = append(out, q)
		}
	}
	for _, sc := range scenarios {
		if !slices.ContainsFunc(questions, func(q question) bool { return q.scenario == sc }) {
			q := defaultQuestion
			q.scenario = sc
			out = append(out, q)
		}
	}
	return out
}

// questionGroups returns the groups of cells q is asked of: one per target
// (and placement) of q's scenario, at q's thread count.
func questionGroups(sums []CellSummary, q question) []*cellGroup {
	var gs []*cellGroup
	for _, g := range groupCells(sums) {
		if g.key.Scenario == q.scenario {
			gs = append(gs, g)
		}
	}
	// Keep one thread count per target: the smallest or the largest.
	var out []*cellGroup
	for _, g := range gs {
		best := true
		for _, o := range gs {
			same := o.key
			same.Threads = g.key.Threads
			if same != g.key {
				continue
			}
			if q.maxThreads && o.key.Threads > g.key.Threads || !q.maxThreads && o.key.Threads < g.key.Threads {
				best = false
			}
		}
		if best {
			out = append(out, g)
		}
	}
	return out
}

// answer compares, in group g, every strategy but the kernel with Baseline
// and then q's pairs; with the kernel engine in g it adds what the model's
// lock costs relative to a real fault.
func answer(q question, g *cellGroup) []results.Finding {
	cells := map[string]*CellSummary{}
	var order []string
	for _, c := range g.cells {
		name := c.Config.Strategy
		if _, dup := cells[name]; !dup {
			cells[name] = c
			order = append(order, name)
		}
	}
	var out []results.Finding
	add := func(strategy, versus string) {
		a, b := cells[strategy], cells[versus]
		if a == nil || b == nil {
			return
		}
		if f, ok := compareCells(q, a, b); ok {
			out = append(out, f)
		}
	}
	for _, s := range order {
		if s != Baseline && s != Kernel {
			add(s, Baseline)
		}
	}
	for _, p := range q.pairs {
		add(p[0], p[1])
	}
	if k := cells[Kernel]; k != nil && q.cost {
		addKernelShare(q, out, k)
	}
	return out
}

// addKernelShare gives each significant cost finding its share of the
// kernel engine's same operation: what the lock would add to a real fault.
func addKernelShare(q question, fs []results.Finding, k *CellSummary) {
	o := findOp(k.Ops, q.op, q.role)
	if o == nil {
		o = findOpByName(k.Ops, q.op)
	}
	if o == nil {
		return
	}
	e := measureOf(k, o, q.measure)
	if !e.Valid() || e.Median <= 0 {
		return
	}
	for i := range fs {
		f := &fs[i]
		if !f.Significant {
			continue
		}
		f.KernelNs, f.KernelShare = e.Median, f.Delta/e.Median
		f.Text += fmt.Sprintf("; a real %s here (kernel) takes %s, so that is %s of it", q.op, formatNanos(f.KernelNs), signedPercent(f.KernelShare))
	}
}

// measureLabel is a measure's name for people.
func measureLabel(m string) string {
	if m == "mean90" {
		return "mean of the fastest 90%"
	}
	return m
}

// measureOf returns the estimate q asks for of an operation of cell c.
func measureOf(c *CellSummary, o *OpSummary, measure string) Estimate {
	switch measure {
	case "mean90":
		return trimmedMeans(c, o)
	case "mean":
		return o.Mean
	case "p50":
		return o.P50
	case "p99":
		return o.P99
	case "ops/s":
		return o.PerSecond
	}
	return Estimate{}
}

// compareCells is the finding of q's measure in a against b; false when
// either lacks the operation or the measure has no positive values.
func compareCells(q question, a, b *CellSummary) (results.Finding, bool) {
	oa, ob := findOp(a.Ops, q.op, q.role), findOp(b.Ops, q.op, q.role)
	if oa == nil || ob == nil {
		return results.Finding{}, false
	}
	ea, eb := measureOf(a, oa, q.measure), measureOf(b, ob, q.measure)
	if !ea.Valid() || !eb.Valid() {
		return results.Finding{}, false
	}
	sh := EstimateShift(eb, ea)
	if math.IsNaN(sh.Ratio) {
		return results.Finding{}, false
	}
	c := Compare(eb, ea)
	cfg := a.Config
	f := results.Finding{
		Scenario: cfg.Scenario, Threads: cfg.Threads, Target: cfg.Target, TargetLabel: TargetLabel(cfg),
		Op: q.op, Role: q.role, Measure: q.measure, Strategy: cfg.Strategy, Versus: b.Config.Strategy,
		Ratio: sh.Ratio, RatioLo: sh.RatioLo, RatioHi: sh.RatioHi,
		Delta: sh.Delta, DeltaLo: sh.DeltaLo, DeltaHi: sh.DeltaHi, Level: sh.Level,
		P: c.P, N1: c.N1, N2: c.N2,
		// The test and the interval must agree: with ties the U test
		// can reject while the interval of the ratio still holds 1.
		Significant: c.Significant && (sh.RatioLo > 1 || sh.RatioHi < 1),
	}
	f.Text = findingWhere(f) + ": " + findingClause(f, q.cost)
	return f, true
}

// TargetLabel names a cell's target for people: the filesystem type and
// the device ("ext4 (vda)"), or the spec when nothing was detected.
func TargetLabel(c results.Config) string {
	t := c.TargetInfo
	if t.FSType == "" {
		return c.Target
	}
	if t.Device != "" && t.FSType != "tmpfs" {
		return fmt.Sprintf("%s (%s)", t.FSType, filepath.Base(t.Device))
	}
	return t.FSType
}

// findingWhere is "fsync-storm, 2 threads, tmpfs".
func findingWhere(f results.Finding) string {
	return fmt.Sprintf("%s, %s, %s", f.Scenario, threadsText(f.Threads), f.TargetLabel)
}

func threadsText(n int) string {
	if n == 1 {
		return "1 thread"
	}
	return fmt.Sprintf("%d threads", n)
}

// findingClause is the finding without where it holds:
// "rangelock's write-fault p99 is 14x none's [9.1x, 21x], p=0.002", or with
// cost "rangelock adds 23ns to none's write-fault mean (+46%) [+30%, +61%],
// p=0.002", or "rwsem's write-fault p99: no difference detected from none
// (p=0.39)".
func findingClause(f results.Finding, cost bool) string {
	what := f.Op + " " + measureLabel(f.Measure)
	if !f.Significant {
		return fmt.Sprintf("%s's %s: no difference detected from %s (%s)", f.Strategy, what, f.Versus, notFoundNumbers(f))
	}
	if cost && f.Measure != "ops/s" {
		verb := "adds"
		d, lo, hi := f.Delta, f.DeltaLo, f.DeltaHi
		if d < 0 {
			verb, d, lo, hi = "saves", -d, -hi, -lo
		}
		return fmt.Sprintf("%s %s %s over %s's %s (%s) [%s, %s], %s", f.Strategy, verb, formatNanos(d), f.Versus, what,
			signedPercent(f.Ratio-1), signedPercent(f.RatioLo-1), signedPercent(f.RatioHi-1), formatP(f.P))
	}
	return fmt.Sprintf("%s's %s is %s %s's [%s, %s], %s", f.Strategy, what, formatTimes(f.Ratio), f.Versus,
		formatTimes(f.RatioLo), formatTimes(f.RatioHi), formatP(f.P))
}

// notFoundNumbers backs "no difference detected": the p-value, and the
// interval when the test alone would have rejected.
func notFoundNumbers(f results.Finding) string {
	if f.P < Alpha {
		return fmt.Sprintf("%s but the interval [%s, %s] holds 1", formatP(f.P), formatTimes(f.RatioLo), formatTimes(f.RatioHi))
	}
	return formatP(f.P)
}

// formatTimes formats a ratio as "14x", "1.3x", "0.52x", "382kx".
func formatTimes(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	return formatRate(r) + "x"
}

// signedPercent formats a relative change: "+46%", "-7.2%", "+0.40%".
func signedPercent(f float64) string {
	if f < 0 {
		return "-" + formatPercent(-f)
	}
	return "+" + formatPercent(f)
}

// FindingSection is the findings of one question: a heading, a row per
// strategy comparison with a cell per target, and the same as lines.
type FindingSection struct {
	Heading string   // "fsync-storm, 2 threads: faulter write-fault p99 (write faults stalled by fsync)"
	Targets []string // the targets' labels, the table's columns
	Rows    []FindingRow
	// Lines are the rows as text, for stdout: "rangelock vs none: tmpfs
	// 14x [9.1x, 21x] p=0.002; ext4 (vda) ..." or, when no target shows a
	// difference, "rwsem vs none: no difference detected (tmpfs p=0.39,
	// ext4 (vda) p=0.7)".
	Lines []string
}

// FindingRow is one comparison on every target.
type FindingRow struct {
	Label string // "rangelock vs none"
	Cells []FindingCell
}

// FindingCell is one finding's numbers; Text is empty where the target has
// no such comparison.
type FindingCell struct {
	Text        string
	Significant bool
}

// FindingSections groups findings for reading: one section per scenario,
// operation and measure, one row per strategy and versus, the targets side
// by side. stdout and the HTML report print these.
func FindingSections(fs []results.Finding) []FindingSection {
	var out []FindingSection
	type rowKey struct{ strategy, versus string }
	type section struct {
		targets []string
		rows    []rowKey
		cells   map[rowKey]map[string]results.Finding
		cost    bool
	}
	idx := map[string]int{}
	var secs []*section
	for _, f := range fs {
		q := questionOf(f)
		h := fmt.Sprintf("%s, %s: %s %s %s", f.Scenario, threadsText(f.Threads), f.Role, f.Op, measureLabel(f.Measure))
		if q.what != "" {
			h += " (" + q.what + ")"
		}
		i, ok := idx[h]
		if !ok {
			i = len(out)
			idx[h] = i
			out = append(out, FindingSection{Heading: h})
			secs = append(secs, &section{cells: map[rowKey]map[string]results.Finding{}, cost: q.cost})
		}
		sc := secs[i]
		if !slices.Contains(sc.targets, f.TargetLabel) {
			sc.targets = append(sc.targets, f.TargetLabel)
		}
		k := rowKey{f.Strategy, f.Versus}
		if _, ok := sc.cells[k]; !ok {
			sc.rows = append(sc.rows, k)
			sc.cells[k] = map[string]results.Finding{}
		}
		sc.cells[k][f.TargetLabel] = f
	}
	for i, sc := range secs {
		out[i].Targets = sc.targets
		// Rows without a difference on any target share one line per
		// versus, so the summary stays one screen.
		quiet := map[string][]string{}
		quietP := map[string]float64{}
		var quietOrder []string
		for _, k := range sc.rows {
			row := FindingRow{Label: k.strategy + " vs " + k.versus}
			var parts []string
			any, minP := false, 1.0
			for _, t := range sc.targets {
				f, ok := sc.cells[k][t]
				if !ok {
					row.Cells = append(row.Cells, FindingCell{})
					continue
				}
				c := FindingCell{Text: shortClause(f, sc.cost), Significant: f.Significant}
				row.Cells = append(row.Cells, c)
				any = any || f.Significant
				parts = append(parts, t+" "+c.Text)
				minP = math.Min(minP, f.P)
			}
			out[i].Rows = append(out[i].Rows, row)
			if any {
				out[i].Lines = append(out[i].Lines, row.Label+": "+strings.Join(parts, "; "))
				continue
			}
			if _, ok := quiet[k.versus]; !ok {
				quietOrder = append(quietOrder, k.versus)
				quietP[k.versus] = minP
			}
			quietP[k.versus] = math.Min(quietP[k.versus], minP)
			quiet[k.versus] = append(quiet[k.versus], k.strategy)
		}
		for _, v := range quietOrder {
			why := ""
			if quietP[v] < Alpha {
				why = ", whose interval holds 1"
			}
			out[i].Lines = append(out[i].Lines, fmt.Sprintf("%s vs %s: no difference detected on any target (smallest p=%s%s)",
				strings.Join(quiet[v], ", "), v, strings.TrimPrefix(formatP(quietP[v]), "p="), why))
		}
	}
	return out
}

// shortClause is a finding's numbers alone: "14x [9.1x, 21x] p=0.002",
// "+23ns (+46% [+30%, +61%]) p=0.002", "no difference detected (p=0.39)".
func shortClause(f results.Finding, cost bool) string {
	if !f.Significant {
		return fmt.Sprintf("no difference detected (%s)", notFoundNumbers(f))
	}
	if cost && f.Measure != "ops/s" {
		sign := "+"
		if f.Delta < 0 {
			sign = "-"
		}
		s := fmt.Sprintf("%s%s (%s [%s, %s]) %s", sign, formatNanos(math.Abs(f.Delta)),
			signedPercent(f.Ratio-1), signedPercent(f.RatioLo-1), signedPercent(f.RatioHi-1), formatP(f.P))
		if f.KernelNs > 0 {
			s += fmt.Sprintf(", %s of kernel's %s", signedPercent(f.KernelShare), formatNanos(f.KernelNs))
		}
		return s
	}
	return fmt.Sprintf("%s [%s, %s] %s", formatTimes(f.Ratio), formatTimes(f.RatioLo), formatTimes(f.RatioHi), formatP(f.P))
}

// questionOf finds the question a finding answers.
func questionOf(f results.Finding) question {
	for _, q := range questions {
		if q.scenario == f.Scenario && q.op == f.Op && q.role == f.Role && q.measure == f.Measure {
			return q
		}
	}
	q := defaultQuestion
	q.scenario, q.op, q.role, q.measure = f.Scenario, f.Op, f.Role, f.Measure
	return q
}

// trimmedMeans is, over the repetitions of c, the mean latency of the
// fastest 90% of operation o, from each repetition's HDR histogram; not
// Valid when a repetition has none.
func trimmedMeans(c *CellSummary, o *OpSummary) Estimate {
	if c.cell == nil {
		return Estimate{}
	}
	var xs []float64
	for _, r := range c.cell.Reps {
		for _, op := range r.Ops {
			if op.Op != o.Op || op.Role != o.Role || op.Hist == "" {
				continue
			}
			h, err := hdrhistogram.Decode([]byte(op.Hist))
			if err != nil || h.TotalCount() == 0 {
				return Estimate{}
			}
			xs = append(xs, trimmedMean(h, 0.9))
		}
	}
	return Describe(xs)
}
