package reports

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"lockbench/results"
)

// This file turns a results file into findings: one comparison each, of a
// strategy with another on the measure that shows a question's effect, on
// one target. The statistics are stats.go's Judge: the Hodges-Lehmann
// shift with its interval, the Mann-Whitney p-value, and that p-value
// adjusted (Benjamini-Hochberg) over every comparison the file asks, so the
// expected share of false differences among those stated stays at Alpha
// however many comparisons a study makes.
//
// Every comparison has a fixed direction: the strategy first, the one it
// is compared with second (the baseline "none", or the pair a question
// names, "rangelock vs rwsem"), so an effect reads the same way in every
// section, every run and every file.

// question is one argument of the source threads (docs/DESIGN.md,
// "Findings"), asked of one scenario: its measures, the first of which is
// the headline printed on stdout, and its extra comparisons.
type question struct {
	id       string // stable, part of every finding's ID
	title    string
	scenario string
	// maxThreads asks at the largest thread count the file ran the
	// scenario at; otherwise at the smallest.
	maxThreads bool
	measures   []measure
	pairs      [][2]string // {strategy, versus} beside each strategy against Baseline
	// fs, when set, is the one filesystem the question is about: a target
	// of that type answers it when the file has one, every target when not.
	fs string
}

// measure is what a question reads of a cell.
type measure struct {
	name     string // "mean90", "p50", "p99.9", "max", "ops/s", "stall", "per-op"
	op, role string
	// counter is the protocol counter of a "per-op" measure, counted per
	// operation op.
	counter string
	// cost states the difference first ("+23ns") with the ratio beside it
	// and the difference's share of the kernel's operation.
	cost bool
	// kernelOp is the kernel engine's operation that gives the scale
	// (write-fault@fsync: the kernel's write faults during an fsync); op
	// when empty.
	kernelOp string
}

// questions are the questions a study answers, in the order findings are
// listed (docs/DESIGN.md, "Findings", says why each measure).
var questions = []question{
	{id: "fault-cost", title: "lock cost, uncontended", scenario: "fault-scale",
		measures: []measure{{name: "mean90", op: "write-fault", role: "faulter", cost: true}}},
	{id: "scaling", title: "scaling", scenario: "fault-scale", maxThreads: true,
		measures: []measure{{name: "ops/s", op: "store", role: "faulter"}}},
	{id: "fsync-write", title: "fsync vs write faults", scenario: "fsync-write", maxThreads: true,
		pairs: [][2]string{{"rangelock", "rwsem"}},
		measures: []measure{
			{name: "stall", op: "store", role: "faulter"},
			{name: "ops/s", op: "store", role: "faulter"},
			{name: "p99.9", op: "write-fault", role: "faulter", kernelOp: "write-fault@fsync"},
			{name: "max", op: "write-fault", role: "faulter", kernelOp: "write-fault@fsync"},
		}},
	{id: "fsync-read", title: "fsync vs reads (btrfs, R5)", scenario: "fsync-read",
		maxThreads: true, fs: "btrfs", pairs: [][2]string{{"rangelock", "rwsem"}},
		measures: []measure{
			{name: "p99.9", op: "read", role: "reader"},
			{name: "p99.9", op: "write-fault", role: "faulter", kernelOp: "write-fault@fsync"},
		}},
	{id: "fsync-read-xfs", title: "fsync vs read() under the IOLOCK (XFS)", scenario: "fsync-read-xfs",
		maxThreads: true, fs: "xfs", measures: []measure{{name: "p99.9", op: "read", role: "reader"}}},
	{id: "punch", title: "punch vs faults and page fills (R2)", scenario: "punch", maxThreads: true,
		measures: []measure{
			{name: "p99.9", op: "read-fault", role: "faulter"},
			{name: "ops/s", op: "load", role: "faulter"},
		}},
	{id: "write-fail", title: "failed writes vs write faults (XFS, R1)", scenario: "write-fail", maxThreads: true,
		measures: []measure{
			{name: "p99.9", op: "write-fault", role: "faulter"},
			{name: "ops/s", op: "store", role: "faulter"},
		}},
	{id: "stale-map", title: "stale mappings: the validity cookie (R3)", scenario: "stale-map", maxThreads: true,
		measures: []measure{
			{name: "mean90", op: "write", role: "writer", cost: true},
			{name: "per-op", op: "write", role: "writer", counter: "remaps"},
		}},
	{id: "inline", title: "inline conversion: retry, GUP (ext4, R4)", scenario: "inline", maxThreads: true,
		measures: []measure{
			{name: "p99.9", op: "write-fault", role: "faulter"},
			{name: "per-op", op: "write-fault", role: "faulter", counter: "retries"},
			{name: "per-op", op: "write-fault", role: "faulter", counter: "sigbus"},
		}},
	{id: "fsync-storm", title: "fsync and punch vs write faults", scenario: "fsync-storm", maxThreads: true,
		pairs: [][2]string{{"rangelock", "rwsem"}},
		measures: []measure{
			{name: "stall", op: "store", role: "faulter"},
			{name: "p99.9", op: "write-fault", role: "faulter"},
		}},
}

// defaultMeasure is asked of a scenario no question names.
var defaultMeasure = measure{name: "p99.9", op: "write-fault", role: "faulter"}

// scenarioMeasures are the measures the questions ask of scenario, in
// order (the charts show the first latency and the first rate).
func scenarioMeasures(scenario string) []measure {
	var out []measure
	for _, q := range questions {
		if q.scenario == scenario {
			out = append(out, q.measures...)
		}
	}
	return out
}

// strategyOrder is the order of comparisons within a question: the
// strategies by how much they serialise, then any other in file order.
var strategyOrder = []string{"rangelock", "rwsem", "seqcount", "faultretry"}

// Findings returns the findings of f, in the order of questions, then by
// measure, comparison and target, with p-values adjusted over all of them.
func Findings(f *results.File) []results.Finding {
	return findings(Summarize(f))
}

func findings(sums []CellSummary) []results.Finding {
	var out []results.Finding
	var js []Judgement
	var groups []*cellGroup
	for _, q := range questionsFor(sums) {
		for _, m := range q.measures {
			for _, cmp := range comparisons(sums, q) {
				for _, g := range questionGroups(sums, q) {
					if f, j, ok := compareIn(q, m, g, cmp); ok {
						out = append(out, f)
						js = append(js, j)
						groups = append(groups, g)
					}
				}
			}
		}
	}
	ps := make([]float64, len(js))
	for i := range js {
		ps[i] = js[i].P
	}
	for i, padj := range AdjustBH(ps) {
		setJudgement(&out[i], js[i].Adjust(padj))
		if surprising(out[i]) {
			out[i].Explained = explain(out[i], groups[i])
		}
		out[i].Text = findingText(out[i])
	}
	return out
}

// Settled reports whether more repetitions are unlikely to change f's
// verdict (Judgement.Settled): the study's sequential repetitions go to
// the cells of the findings that are not.
func Settled(f results.Finding) bool { return settled(Verdict(f.Verdict), f.PAdj) }

// surprising reports whether f states that a serialising strategy does
// better than the unsafe baseline, which serialises nothing.
func surprising(f results.Finding) bool {
	if !f.Significant || f.Versus != Baseline {
		return false
	}
	if measureKind(f) == "ops/s" {
		return f.Direction > 0
	}
	return f.Direction < 0 && measureKind(f) != "per-op"
}

// explain says what in the cells of g explains the surprise f, or that
// nothing does. The one explanation lockbench knows: under the baseline,
// faults redirty pages while fsync writes them, so each fsync writes (and
// logs) more and takes longer, and the faulters wait on it longer.
func explain(f results.Finding, g *cellGroup) string {
	none, s := cellOf(g, Baseline), cellOf(g, f.Strategy)
	fsyncOf := func(c *CellSummary) (p50, perFsync float64, ok bool) {
		o := findOpByName(c.Ops, "fsync")
		if o == nil || !o.P50.Valid() || c.cell == nil {
			return 0, 0, false
		}
		var xs []float64
		for _, r := range c.cell.Reps {
			for _, op := range r.Ops {
				if op.Op == "fsync" && op.Count > 0 {
					xs = append(xs, float64(r.Counters.FsyncLogged)/float64(op.Count))
				}
			}
		}
		return o.P50.Median, Describe(xs).Median, len(xs) > 0
	}
	where := fmt.Sprintf("%s beats %s on %s (%s)", f.Strategy, Baseline, f.TargetLabel, shortMeasure(f))
	np50, nper, ok1 := fsyncOf(none)
	sp50, sper, ok2 := fsyncOf(s)
	if ok1 && ok2 && np50 > sp50 && nper > sper {
		return fmt.Sprintf("explained: %s: %s's fsync p50 %s vs %s, %s vs %s extents logged per fsync (faults redirty what fsync writes)",
			where, Baseline, formatNanos(np50), formatNanos(sp50), sig3(nper), sig3(sper))
	}
	return "unexplained: " + where
}

// questionsFor returns the questions for the scenarios in sums, then one
// with defaultMeasure for every scenario no question names.
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
			out = append(out, question{id: sc, title: sc, scenario: sc, maxThreads: true, measures: []measure{defaultMeasure}})
		}
	}
	return out
}

// comparisons are q's comparisons in their fixed order and direction:
// every model strategy against Baseline, then q's pairs.
func comparisons(sums []CellSummary, q question) [][2]string {
	var names []string
	for _, s := range sums {
		n := modelStrategy(s.Config.Strategy)
		if s.Config.Scenario == q.scenario && n != Baseline && n != Kernel && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.SortStableFunc(names, func(a, b string) int { return orderOf(a) - orderOf(b) })
	var out [][2]string
	for _, n := range names {
		out = append(out, [2]string{n, Baseline})
	}
	return append(out, q.pairs...)
}

func orderOf(strategy string) int {
	if i := slices.Index(strategyOrder, strategy); i >= 0 {
		return i
	}
	return len(strategyOrder)
}

// questionGroups returns the groups of cells q is asked of: one per target
// (and placement) of q's scenario at q's thread count; only targets of q's
// filesystem when the file has one.
func questionGroups(sums []CellSummary, q question) []*cellGroup {
	var gs []*cellGroup
	for _, g := range groupCells(sums) {
		if g.key.Scenario == q.scenario {
			gs = append(gs, g)
		}
	}
	if q.fs != "" && slices.ContainsFunc(gs, func(g *cellGroup) bool { return fsOf(g) == q.fs }) {
		gs = slices.DeleteFunc(gs, func(g *cellGroup) bool { return fsOf(g) != q.fs })
	}
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

func fsOf(g *cellGroup) string {
	if len(g.cells) == 0 {
		return ""
	}
	return g.cells[0].Config.TargetInfo.FSType
}

// modelStrategy is a cell's strategy without the "+calibrated" of a
// calibrated model cell (-calibrate): a study calibrates a target for all
// its model cells or for none, so within one group the names compare as
// the strategies they are, and a finding's id does not depend on it.
func modelStrategy(name string) string { return strings.TrimSuffix(name, "+calibrated") }

// cellOf is the first cell of strategy in g.
func cellOf(g *cellGroup, strategy string) *CellSummary {
	for _, c := range g.cells {
		if modelStrategy(c.Config.Strategy) == strategy {
			return c
		}
	}
	return nil
}

// compareIn is the finding of m in group g for the comparison cmp; false
// when either cell is missing or lacks the measure.
func compareIn(q question, m measure, g *cellGroup, cmp [2]string) (results.Finding, Judgement, bool) {
	a, b := cellOf(g, cmp[0]), cellOf(g, cmp[1])
	if a == nil || b == nil {
		return results.Finding{}, Judgement{}, false
	}
	ea, eb := measureOf(a, m), measureOf(b, m)
	if !ea.Valid() || !eb.Valid() {
		return results.Finding{}, Judgement{}, false
	}
	if m.name == "per-op" && ea.Max == 0 && eb.Max == 0 {
		// A counter neither strategy ever moved (remaps without a
		// cookie): nothing to test, and a test of zeros would only dilute
		// the false-discovery control.
		return results.Finding{}, Judgement{}, false
	}
	j := Judge(eb, ea, floorOf(m, a, b))
	if math.IsNaN(j.Delta) {
		return results.Finding{}, Judgement{}, false
	}
	cfg := a.Config
	f := results.Finding{
		ID:       findingID(q.id, cfg.Target, cmp, m),
		Question: q.id, Scenario: cfg.Scenario, Threads: cfg.Threads, Target: cfg.Target, TargetLabel: TargetLabel(cfg),
		Op: m.op, Role: m.role, Measure: measureName(m), Strategy: cmp[0], Versus: cmp[1],
		Base: eb.Median, Value: ea.Median,
	}
	if k := cellOf(g, Kernel); k != nil {
		kop := m
		if m.kernelOp != "" {
			kop.op = m.kernelOp
		}
		if e := measureOf(k, kop); e.Valid() && e.Median > 0 {
			f.Kernel, f.KernelOp = e.Median, kop.op
			if isLatency(m) {
				f.KernelShare = j.Delta / e.Median
			}
		}
	}
	return f, j, true
}

// findingID is the finding's stable id: question, target, comparison and
// measure, as "fsync-write/tmpfs/rangelock-vs-none/stall(store)".
func findingID(q, target string, cmp [2]string, m measure) string {
	return fmt.Sprintf("%s/%s/%s-vs-%s/%s", q, target, cmp[0], cmp[1], measureName(m))
}

// measureName names a measure in findings and ids: "p99.9(write-fault)",
// "stall(store)", "remaps/write".
func measureName(m measure) string {
	if m.name == "per-op" {
		return m.counter + "/" + m.op
	}
	return m.name + "(" + m.op + ")"
}

// isLatency reports whether m is a time, in ns.
func isLatency(m measure) bool {
	switch m.name {
	case "ops/s", "stall", "per-op":
		return false
	}
	return true
}

// floorOf is m's absolute resolution: the larger timer floor of the two
// cells for a latency, two percentage points for a stall share, nothing
// for a rate (MinMeaningful applies to every measure).
func floorOf(m measure, a, b *CellSummary) float64 {
	switch {
	case m.name == "stall":
		return MinMeaningful
	case isLatency(m):
		return math.Max(a.TimerFloor.Median, b.TimerFloor.Median)
	}
	return 0
}

// StateFinding fills f's statistics and verdict from j (after Adjust with
// the adjusted p of f's family) and its Text in the findings' words: the
// API for other packages' comparisons (calibration's counterfactuals) that
// should read like a study's findings. f's identity (ID, Question,
// Scenario, Threads, Target, TargetLabel, Op, Role, Measure, Strategy,
// Versus, Base, Value) is the caller's.
func StateFinding(f *results.Finding, j Judgement) {
	setJudgement(f, j)
	f.Text = findingText(*f)
}

// FindingClause is a finding's verdict and numbers without where it holds:
// "difference: +1.2ms (5.0x [2.6, 6.6]) p'=0.004, kernel 3.2ms".
func FindingClause(f results.Finding) string { return clause(f) }

func setJudgement(f *results.Finding, j Judgement) {
	f.Ratio, f.RatioLo, f.RatioHi = j.Ratio, j.RatioLo, j.RatioHi
	f.Delta, f.DeltaLo, f.DeltaHi, f.Level = j.Delta, j.DeltaLo, j.DeltaHi, j.Level
	f.P, f.PAdj, f.N1, f.N2 = j.P, j.PAdj, j.N1, j.N2
	f.Verdict, f.Direction, f.Detectable = string(j.Verdict), j.Direction, j.Detectable
	f.Significant = j.Verdict == Different
	if math.IsNaN(f.Ratio) {
		f.Ratio, f.RatioLo, f.RatioHi = 0, 0, 0 // JSON has no NaN
	}
	if math.IsNaN(f.Detectable) {
		f.Detectable = 0
	}
}

// measureOf returns m over the repetitions of cell c.
func measureOf(c *CellSummary, m measure) Estimate {
	if m.name == "stall" || m.name == "per-op" {
		return perRep(c, m)
	}
	o := findOp(c.Ops, m.op, m.role)
	if o == nil {
		o = findOpByName(c.Ops, m.op)
	}
	if o == nil {
		return Estimate{}
	}
	switch m.name {
	case "mean90":
		return trimmedMeans(c, o)
	case "mean":
		return o.Mean
	case "p50":
		return o.P50
	case "p99":
		return o.P99
	case "p99.9":
		return o.P999
	case "max":
		return o.Max
	case "ops/s":
		return o.PerSecond
	}
	return Estimate{}
}

// perRep computes a stall share or a counter per operation in each
// repetition of c.
func perRep(c *CellSummary, m measure) Estimate {
	if c.cell == nil {
		return Estimate{}
	}
	var xs []float64
	for _, r := range c.cell.Reps {
		switch m.name {
		case "stall":
			if v, ok := stallShare(r, m.op); ok {
				xs = append(xs, v)
			}
		case "per-op":
			var n int64
			for _, o := range r.Ops {
				if o.Op == m.op && o.Role == m.role {
					n += o.Count
				}
			}
			v, ok := counterOf(r.Counters, m.counter)
			if ok && n > 0 && c.Config.Strategy != Kernel { // the kernel has no protocol counters
				xs = append(xs, float64(v)/float64(n))
			}
		}
	}
	return Describe(xs)
}

// stallShare is the share of r's time-series windows in which no op
// completed: the time the role made no progress. Not ok without a series.
func stallShare(r results.Rep, op string) (float64, bool) {
	n := r.Series.Len()
	if n < 2 {
		return 0, false
	}
	return float64(r.Series.ZeroWindows(op)) / float64(n), true
}

// counterOf is the named protocol counter of cs (its JSON name).
func counterOf(cs results.Counters, name string) (int64, bool) {
	for _, cf := range results.CounterFields {
		if cf.Name == name {
			return *cf.Ptr(&cs), true
		}
	}
	return 0, false
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

func threadsText(n int) string {
	if n == 1 {
		return "1 thread"
	}
	return fmt.Sprintf("%d threads", n)
}

// measureLabel is a finding's measure for people: "write-fault p99.9",
// "time faulters made no store progress", "remaps per write".
func measureLabel(f results.Finding) string {
	switch measureKind(f) {
	case "mean90":
		return f.Op + " mean of the fastest 90%"
	case "stall":
		return "time " + f.Role + "s made no " + f.Op + " progress"
	case "ops/s":
		return f.Op + "s per second"
	case "max":
		return "longest " + f.Op
	case "per-op":
		c, op, _ := strings.Cut(f.Measure, "/")
		return c + " per " + op
	}
	name, _, _ := strings.Cut(f.Measure, "(")
	return f.Op + " " + name
}

func measureKind(f results.Finding) string {
	name, _, _ := strings.Cut(f.Measure, "(")
	if strings.Contains(f.Measure, "/") && !strings.Contains(f.Measure, "(") {
		return "per-op"
	}
	return name
}

// findingText is a finding as one sentence: "fsync-write, 2 threads, ext4
// (vda): rangelock vs none, share of time faulters made no store progress:
// difference, +41 points [+30, +52] (5.0% -> 46%), p'=0.004".
func findingText(f results.Finding) string {
	return fmt.Sprintf("%s, %s, %s: %s vs %s, %s: %s", f.Scenario, threadsText(f.Threads), f.TargetLabel,
		f.Strategy, f.Versus, measureLabel(f), clause(f))
}

// clause is a finding's verdict and numbers, the same words everywhere:
//
//	difference: +1.2ms (5.0x [2.6x, 6.6x]), p'=0.004; kernel 3.2ms
//	no meaningful difference: +0.4% [-1.1%, +1.5%], below the 2% resolution
//	no difference detected (p'=0.41): could detect beyond -12%/+15%
func clause(f results.Finding) string {
	switch Verdict(f.Verdict) {
	case Different:
		return "difference: " + effect(f) + ", " + formatPAdj(f.PAdj) + kernelScale(f)
	case NotMeaningful:
		return "no meaningful difference: " + effect(f) + ", within the resolution"
	}
	s := "no difference detected (" + formatPAdj(f.PAdj) + ")"
	switch {
	case f.RatioHi > 0 && (f.RatioLo > 1 || f.RatioHi < 1):
		// The interval is at the 95% level of this one comparison; the
		// adjusted p is at the study's false-discovery rate, which is
		// stricter: say which of the two decided.
		s += fmt.Sprintf(": the unadjusted interval [%s, %s] excludes 1, the false-discovery adjustment does not", formatTimes(f.RatioLo), formatTimes(f.RatioHi))
	case f.RatioHi > 0:
		s += fmt.Sprintf(": the interval [%s, %s] rules out larger effects", formatTimes(f.RatioLo), formatTimes(f.RatioHi))
	default:
		s += fmt.Sprintf(": interval %s", deltaRange(f))
	}
	return s
}

// effect is the difference in absolute units with the ratio and its
// interval.
func effect(f results.Finding) string {
	switch measureKind(f) {
	case "stall":
		return fmt.Sprintf("%+.0f points [%+.0f, %+.0f] (%s -> %s)", 100*f.Delta, 100*f.DeltaLo, 100*f.DeltaHi,
			formatPercent(f.Base), formatPercent(f.Value))
	case "per-op":
		if f.RatioHi == 0 {
			return fmt.Sprintf("%s -> %s per %s", perOp(f.Base), perOp(f.Value), f.Op)
		}
	}
	d := signedAmount(f, f.Delta)
	if f.RatioHi == 0 {
		return d + " " + deltaRange(f)
	}
	return fmt.Sprintf("%s (%s [%s, %s])", d, formatTimes(f.Ratio), formatRate(f.RatioLo), formatRate(f.RatioHi))
}

func deltaRange(f results.Finding) string {
	return "[" + signedAmount(f, f.DeltaLo) + ", " + signedAmount(f, f.DeltaHi) + "]"
}

// signedAmount is a difference in the measure's unit: "+1.2ms",
// "-340k/s", "+0.012".
func signedAmount(f results.Finding, v float64) string {
	sign := "+"
	if v < 0 {
		sign = "-"
	}
	switch measureKind(f) {
	case "ops/s":
		return sign + formatRate(math.Abs(v)) + "/s"
	case "per-op":
		return sign + perOp(math.Abs(v))
	case "stall":
		return fmt.Sprintf("%+.0f points", 100*v)
	}
	return sign + formatNanos(math.Abs(v))
}

// perOp is a count per operation to three significant digits, however
// small: "0.000412".
func perOp(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

// kernelScale is the kernel engine's same measure on the same target:
// "; kernel 3.2ms (+1.3% of it)".
func kernelScale(f results.Finding) string {
	if f.Kernel <= 0 {
		return ""
	}
	op := ""
	if f.KernelOp != f.Op {
		op = " " + f.KernelOp
	}
	switch measureKind(f) {
	case "ops/s":
		return fmt.Sprintf("; kernel%s %s/s", op, formatRate(f.Kernel))
	case "stall":
		return fmt.Sprintf("; kernel%s %s", op, formatPercent(f.Kernel))
	case "per-op":
		return ""
	}
	return fmt.Sprintf("; kernel%s %s, so %s of it", op, formatNanos(f.Kernel), signedPercent(f.KernelShare))
}

// formatPAdj is the adjusted p-value: "p'=0.004".
func formatPAdj(p float64) string {
	return strings.Replace(formatP(p), "p", "p'", 1)
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
			h, err := results.DecodeHist(op.Hist)
			if err != nil || h.TotalCount() == 0 {
				return Estimate{}
			}
			xs = append(xs, trimmedMean(h, 0.9))
		}
	}
	return Describe(xs)
}
