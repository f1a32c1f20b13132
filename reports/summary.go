package reports

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"lockbench/results"
)

// Baseline is the strategy every other strategy is compared with: the
// unsafe base protocol, the cost of no serialisation at all.
const Baseline = "none"

// CellSummary is one cell of a results file reduced over its repetitions.
// It is computed once by Summarize and read by every renderer.
type CellSummary struct {
	Config results.Config
	// Incomplete is set when the cell or any of its repetitions was cut
	// short (a deadline or Ctrl-C); its numbers cover less than asked.
	Incomplete bool
	Reps       int
	// TimerFloor is the cost of timing an empty operation, in ns.
	TimerFloor Estimate
	Ops        []OpSummary
	// Counters lists the protocol counters that are non-zero in some
	// repetition, in the order of results.Counters.
	Counters []CounterSummary
	// Violations is the number of invariant violations over all
	// repetitions, broken down in ViolationKinds.
	Violations     int
	ViolationKinds []ViolationCount
	// Deadlocks holds "rep N: detail" for each repetition that deadlocked.
	Deadlocks []string
	// Warnings are about the cell as a whole (incomplete repetitions).
	Warnings []string
	// Locks and LockInfo are the cell's lock-wait table (locks.go); nil
	// when no repetition recorded lock accounting.
	Locks    []LockSummary
	LockInfo *LockInfo
	// HasBaseline is set when a Baseline cell of the same scenario,
	// threads, target, placement and size was found, so Ops[i].VsBaseline
	// is filled in; it is false for the Baseline's own cells.
	HasBaseline bool
	// Usage is a kernel cell's per-role getrusage counts per operation
	// (faults/op, blocked/op); empty for model cells.
	Usage []RoleUsage
	// Costs are a model cell's operations in the kernel's terms: added
	// ns/op over the Baseline and its share of the kernel's same
	// operation (reports/kernel.go); empty without a Baseline cell.
	Costs []OpCost
	// cell is the cell summarised, for the renderers that need more than
	// the summary (histograms, time series).
	cell *results.Cell
}

// OpSummary is one operation kind of a cell over its repetitions. Latency
// estimates are in nanoseconds and are not Valid when no repetition timed
// the operation.
type OpSummary struct {
	Op, Role string
	// SampleEvery is the largest sampling interval over the repetitions:
	// 1 when every operation was timed, k when one in k was.
	SampleEvery          int
	Count                Estimate // operations per repetition
	PerSecond            Estimate
	P50, P99, P999, Max  Estimate
	Mean                 Estimate      // mean latency, ns
	VsBaseline           *OpComparison // nil without a baseline
	latencyReps, allReps int
}

// OpComparison compares an operation of a cell with the same operation of
// the Baseline cell: throughput and tail latency.
type OpComparison struct {
	PerSecond Comparison
	P99       Comparison
}

// CounterSummary is one protocol counter over the repetitions.
type CounterSummary struct {
	Name string // the JSON name in results.Counters
	// Total is the sum over repetitions; for a maximum (max_retry_chain)
	// it is the largest value.
	Total int64
	// Median is the median value per repetition.
	Median float64
	IsMax  bool
}

// ViolationCount counts the violations of one invariant through one race.
type ViolationCount struct {
	Invariant, Race string
	Count           int
}

// Summarize reduces every cell of f over its repetitions and compares each
// strategy's operations with those of the first Baseline cell of the same
// file that ran the same scenario, threads, target, placement, file and
// page size, oracle and delay settings (comparableKey). Cells keep the
// file's order; operations keep the order of their first appearance.
func Summarize(f *results.File) []CellSummary {
	out := make([]CellSummary, len(f.Cells))
	for i := range f.Cells {
		out[i] = summarizeCell(&f.Cells[i])
		out[i].cell = &f.Cells[i]
	}
	baselines := firstCells(out, Baseline, keyOf)
	for i := range out {
		c := &out[i]
		if c.Config.Strategy == Baseline || c.Config.Strategy == Kernel {
			continue // the kernel is what the model is compared with, not a strategy
		}
		b, ok := baselines[keyOf(c.Config)]
		if !ok {
			continue
		}
		c.HasBaseline = true
		for j := range c.Ops {
			op := &c.Ops[j]
			base := findOp(out[b].Ops, op.Op, op.Role)
			if base == nil {
				continue
			}
			op.VsBaseline = &OpComparison{
				PerSecond: Compare(base.PerSecond, op.PerSecond),
				P99:       Compare(base.P99, op.P99),
			}
		}
	}
	addKernelTerms(out, baselines)
	return out
}

// comparableKey is what two cells must share to be compared: everything
// but the strategy, its options, the seed and the repetition count.
type comparableKey struct {
	Scenario      string
	Threads       int
	Target, Pin   string
	FileSize      int64
	PageSize      int
	Oracle, Delay bool
}

// firstCells indexes the first cell of strategy per key: the cell each
// other cell with the same key is compared with.
func firstCells(out []CellSummary, strategy string, key func(results.Config) comparableKey) map[comparableKey]int {
	first := map[comparableKey]int{}
	for i := range out {
		if out[i].Config.Strategy != strategy {
			continue
		}
		k := key(out[i].Config)
		if _, dup := first[k]; !dup {
			first[k] = i
		}
	}
	return first
}

func keyOf(c results.Config) comparableKey {
	return comparableKey{c.Scenario, c.Threads, c.Target, c.Pin, c.FileSize, c.PageSize, c.Oracle, c.Delay}
}

func findOp(ops []OpSummary, op, role string) *OpSummary {
	for i := range ops {
		if ops[i].Op == op && ops[i].Role == role {
			return &ops[i]
		}
	}
	return nil
}

func summarizeCell(c *results.Cell) CellSummary {
	s := CellSummary{Config: c.Config, Incomplete: c.Incomplete, Reps: len(c.Reps)}
	floors := make([]float64, 0, len(c.Reps))
	for _, r := range c.Reps {
		floors = append(floors, float64(r.TimerFloor))
		if r.Incomplete {
			s.Incomplete = true
			s.Warnings = append(s.Warnings, fmt.Sprintf("rep %d incomplete: it ran %s, not the full duration", r.Index, formatDuration(r.Elapsed)))
		}
		if r.Deadlock != "" {
			s.Deadlocks = append(s.Deadlocks, fmt.Sprintf("rep %d: %s", r.Index, r.Deadlock))
		}
	}
	s.TimerFloor = Describe(floors)
	s.Ops = summarizeOps(c.Reps)
	s.Counters = summarizeCounters(c.Reps)
	s.Usage = summarizeUsage(c.Reps)
	s.Locks, s.LockInfo = summarizeLocks(c)
	s.Violations, s.ViolationKinds = countViolations(c.Reps)
	return s
}

// summarizeOps gathers each (op, role) over the repetitions.
func summarizeOps(reps []results.Rep) []OpSummary {
	type key struct{ op, role string }
	type series struct {
		count, rate, p50, p99, p999, max, mean []float64
		sampleEvery                            int
	}
	var order []key
	byKey := map[key]*series{}
	for _, r := range reps {
		for _, o := range r.Ops {
			k := key{o.Op, o.Role}
			sr, ok := byKey[k]
			if !ok {
				sr = &series{}
				byKey[k] = sr
				order = append(order, k)
			}
			sr.count = append(sr.count, float64(o.Count))
			sr.rate = append(sr.rate, o.PerSecond)
			sr.sampleEvery = max(sr.sampleEvery, o.SampleEvery)
			if o.Latency.Samples > 0 {
				sr.p50 = append(sr.p50, float64(o.Latency.P50))
				sr.p99 = append(sr.p99, float64(o.Latency.P99))
				sr.p999 = append(sr.p999, float64(o.Latency.P999))
				sr.max = append(sr.max, float64(o.Latency.Max))
				sr.mean = append(sr.mean, float64(o.Latency.Mean))
			}
		}
	}
	out := make([]OpSummary, 0, len(order))
	for _, k := range order {
		sr := byKey[k]
		out = append(out, OpSummary{
			Op: k.op, Role: k.role,
			SampleEvery: max(sr.sampleEvery, 1),
			Count:       Describe(sr.count),
			PerSecond:   Describe(sr.rate),
			P50:         Describe(sr.p50),
			P99:         Describe(sr.p99),
			P999:        Describe(sr.p999),
			Max:         Describe(sr.max),
			Mean:        Describe(sr.mean),
			latencyReps: len(sr.p50),
			allReps:     len(sr.count),
		})
	}
	return out
}

func summarizeCounters(reps []results.Rep) []CounterSummary {
	var out []CounterSummary
	for _, cf := range results.CounterFields {
		var total int64
		vals := make([]float64, 0, len(reps))
		nonZero := false
		for i := range reps {
			v := *cf.Ptr(&reps[i].Counters)
			nonZero = nonZero || v != 0
			vals = append(vals, float64(v))
			if cf.IsMax {
				total = max(total, v)
			} else {
				total += v
			}
		}
		if !nonZero {
			continue
		}
		out = append(out, CounterSummary{Name: cf.Name, Total: total, Median: Describe(vals).Median, IsMax: cf.IsMax})
	}
	return out
}

func countViolations(reps []results.Rep) (int, []ViolationCount) {
	type key struct{ inv, race string }
	counts := map[key]int{}
	total := 0
	for _, r := range reps {
		for _, v := range r.Violations {
			counts[key{v.Invariant, v.Race}]++
			total++
		}
	}
	out := make([]ViolationCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, ViolationCount{k.inv, k.race, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Invariant != out[j].Invariant {
			return out[i].Invariant < out[j].Invariant
		}
		return out[i].Race < out[j].Race
	})
	return total, out
}

// Warnings returns the warnings about o. General ones are about the
// number of repetitions and read the same for every measure and operation
// ("3 reps: interval is [min, max] at 75% confidence; ..."); specific ones
// are prefixed with the measure they concern ("ops/s: spread ±7.2% exceeds
// ±5%").
func (o *OpSummary) Warnings() (general, specific []string) {
	addGeneral := func(w string) {
		if !slices.Contains(general, w) {
			general = append(general, w)
		}
	}
	describe := func(what string, e Estimate) {
		for _, w := range e.Warnings {
			if e.Reduced() && w == fewRepsWarning(e.N, e.Level) {
				addGeneral(w)
				continue
			}
			specific = append(specific, what+": "+w)
		}
	}
	compare := func(what string, c Comparison) {
		for _, w := range c.Warnings {
			if c.Underpowered && w == underpoweredWarning(c.N1, c.N2) {
				addGeneral(w)
				continue
			}
			specific = append(specific, what+" vs "+Baseline+": "+w)
		}
	}
	describe("ops/s", o.PerSecond)
	describe("p99", o.P99)
	if o.latencyReps > 0 && o.latencyReps < o.allReps {
		specific = append(specific, fmt.Sprintf("latency from %d of %d reps (the others timed no operation)", o.latencyReps, o.allReps))
	}
	if o.VsBaseline != nil {
		compare("ops/s", o.VsBaseline.PerSecond)
		compare("p99", o.VsBaseline.P99)
	}
	return general, specific
}

// AllWarnings returns every warning about c, each once: the cell's own,
// then the general ones of its operations, then each operation's specific
// ones prefixed with the operation ("write-fault ops/s: spread ...").
func (c *CellSummary) AllWarnings() []string {
	out := append([]string(nil), c.Warnings...)
	var specific []string
	for i := range c.Ops {
		g, s := c.Ops[i].Warnings()
		for _, w := range g {
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
		for _, w := range s {
			specific = append(specific, c.Ops[i].Op+" "+w)
		}
	}
	return append(out, specific...)
}

// nanOr returns e.Median, or NaN when e has no repetitions.
func nanOr(e Estimate) float64 {
	if !e.Valid() {
		return math.NaN()
	}
	return e.Median
}
