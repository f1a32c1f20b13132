package reports

import (
	"fmt"

	"lockbench/results"
)

// CFMeasure is one measure of a counterfactual question: a latency
// statistic of an operation (Stat "p50", "p99", "p99.9"), its rate
// ("ops/s"), or a counter per operation (Counter set: "remaps" per "write").
type CFMeasure struct {
	Op, Stat, Counter string
}

func (m CFMeasure) name() string {
	if m.Counter != "" {
		return m.Counter + "/" + m.Op
	}
	return m.Stat + "(" + m.Op + ")"
}

// value is m on one repetition.
func (m CFMeasure) value(r *results.Rep) (float64, bool) {
	if m.Counter != "" {
		n, ok := counterOf(r.Counters, m.Counter)
		if !ok {
			return 0, false
		}
		var ops int64
		for _, o := range r.Ops {
			if o.Op == m.Op {
				ops += o.Count
			}
		}
		if ops == 0 {
			return 0, false
		}
		return float64(n) / float64(ops), true
	}
	for _, o := range r.Ops {
		if o.Op != m.Op {
			continue
		}
		switch m.Stat {
		case "ops/s":
			return o.PerSecond, o.Count > 0
		case "p50":
			return float64(o.Latency.P50), o.Latency.Samples > 0
		case "p99":
			return float64(o.Latency.P99), o.Latency.Samples > 0
		case "p99.9":
			return float64(o.Latency.P999), o.Latency.Samples > 0
		}
	}
	return 0, false
}

// ValidatedClause says how far the model was from the kernel on v's
// target, beside every counterfactual stated there.
func ValidatedClause(v results.Validation) string {
	if v.Within {
		return fmt.Sprintf("model calibrated on %s, validated within %.2fx", v.Target, v.WorstRatio)
	}
	worst, w, ratio := "", 0.0, v.WorstRatio
	for _, r := range v.Rows {
		if r.Ratio > 0 && outside(r.Ratio) > w {
			worst, w, ratio = r.Scenario+" "+r.Measure, outside(r.Ratio), r.Ratio
		}
	}
	return fmt.Sprintf("model calibrated on %s, NOT validated: worst %s %.2fx", v.Target, worst, ratio)
}

func outside(r float64) float64 {
	if r < 1 && r > 0 {
		return 1 / r
	}
	return r
}

// StateCounterfactual states a rejected design (design) against the chosen
// one (chosen), cells of one scenario both calibrated on v's target, on
// each measure: a finding's statistics and words (Judge, StateFinding),
// with the validation clause beside it. question names it ("R1: XFS's
// IL(X) around failed-write cleanup").
func StateCounterfactual(v results.Validation, question string, design, chosen *results.Cell, ms []CFMeasure) []results.Counterfactual {
	clause := ValidatedClause(v)
	var out []results.Counterfactual
	for _, m := range ms {
		vals := func(c *results.Cell) []float64 {
			var xs []float64
			for i := range c.Reps {
				if x, ok := m.value(&c.Reps[i]); ok {
					xs = append(xs, x)
				}
			}
			return xs
		}
		de, ce := Describe(vals(design)), Describe(vals(chosen))
		if !de.Valid() || !ce.Valid() {
			continue
		}
		floor := 0.0
		if m.Counter == "" && m.Stat != "ops/s" {
			floor = float64(design.Reps[0].TimerFloor)
		}
		j := Judge(ce, de, floor)
		f := results.Finding{Question: question, Scenario: design.Config.Scenario, Threads: design.Config.Threads,
			Target: v.Target, TargetLabel: v.Target, Op: m.Op, Measure: m.name(),
			Strategy: design.Config.Strategy, Versus: chosen.Config.Strategy, Base: ce.Median, Value: de.Median}
		StateFinding(&f, j)
		out = append(out, results.Counterfactual{Target: v.Target, Scenario: f.Scenario, Design: f.Strategy, Chosen: f.Versus,
			Measure: m.name(), Design50: de.Median, Chosen50: ce.Median, Ratio: f.Ratio, RatioLo: f.RatioLo, RatioHi: f.RatioHi,
			Level: f.Level, P: f.P, Validated: clause, Question: question, Text: f.Text + " (" + clause + ")"})
	}
	return out
}
