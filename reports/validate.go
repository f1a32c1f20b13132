package reports

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"lockbench/results"
)

// ValidationLimit is how far a model/kernel ratio may stray, either way,
// for the calibrated model to count as validated on a target.
const ValidationLimit = 2.0

// validationMeasure is one row of the validation table: which operation
// (or lock) of which scenario, and which statistic of each repetition.
type validationMeasure struct {
	name, scenario, unit string
	value                func(r *results.Rep, lock string) (float64, bool)
}

func opStat(op string, pick func(results.Latency) time.Duration) func(*results.Rep, string) (float64, bool) {
	return func(r *results.Rep, _ string) (float64, bool) {
		for _, o := range r.Ops {
			if o.Op == op && o.Latency.Samples > 0 {
				return float64(pick(o.Latency)), true
			}
		}
		return 0, false
	}
}

// faulterWaits sums the faulters' waits on lock (a kernel class such as
// "IO/MK" counts for each of its locks): waits/op, the wait p99 and max.
func faulterWaits(stat string) func(*results.Rep, string) (float64, bool) {
	return func(r *results.Rep, lock string) (float64, bool) {
		var waits, ops int64
		var p99, mx time.Duration
		found := false
		for _, l := range r.Locks {
			if l.Role != "faulter" || !slices.Contains(strings.Split(l.Class, "/"), lock) {
				continue
			}
			found = true
			waits += l.Contentions
			ops = max(ops, l.Ops)
			p99, mx = max(p99, l.Wait.P99), max(mx, l.Wait.Max)
		}
		if r.LockTrace == nil {
			return 0, false
		}
		switch stat {
		case "waits/s":
			if r.Elapsed <= 0 {
				return 0, false
			}
			return float64(waits) / r.Elapsed.Seconds(), true
		case "waits/op":
			if ops == 0 {
				// No wait recorded on the lock: 0 waits per op, when the
				// faulters ran at all.
				for _, w := range r.Workers {
					if w.Role == "faulter" {
						ops += w.Ops
					}
				}
				if ops == 0 {
					return 0, false
				}
			}
			return float64(waits) / float64(ops), true
		case "p99":
			return float64(p99), found
		}
		return float64(mx), found
	}
}

// faulterRate is each repetition's faulter operations (stores and loads)
// per second, the denominator of the waits/op rows.
func faulterRate(c *results.Cell) []float64 {
	if c == nil {
		return nil
	}
	var xs []float64
	for _, r := range c.Reps {
		var ops int64
		for _, w := range r.Workers {
			if w.Role == "faulter" {
				ops += w.Ops
			}
		}
		if ops > 0 && r.Elapsed > 0 {
			xs = append(xs, float64(ops)/r.Elapsed.Seconds())
		}
	}
	return xs
}

// ValidationMeasures lists the table's rows, in order, for a scheme whose
// faulters wait on lock.
func validationMeasures() []validationMeasure {
	p50 := func(l results.Latency) time.Duration { return l.P50 }
	p99 := func(l results.Latency) time.Duration { return l.P99 }
	p999 := func(l results.Latency) time.Duration { return l.P999 }
	var m []validationMeasure
	for _, sc := range []string{"fsync-storm", "punch"} {
		m = append(m,
			validationMeasure{"write-fault p50", sc, "ns", opStat("write-fault", p50)},
			validationMeasure{"write-fault p99", sc, "ns", opStat("write-fault", p99)},
			validationMeasure{"write-fault p99.9", sc, "ns", opStat("write-fault", p999)},
		)
		during := "write-fault@fsync"
		op := "fsync"
		if sc == "punch" {
			during, op = "write-fault@punch", "punch"
		}
		m = append(m,
			validationMeasure{during + " p50", sc, "ns", opStat(during, p50)},
			validationMeasure{during + " p99", sc, "ns", opStat(during, p99)},
			validationMeasure{during + " p99.9", sc, "ns", opStat(during, p999)},
			validationMeasure{op + " p50", sc, "ns", opStat(op, p50)},
			validationMeasure{op + " p99", sc, "ns", opStat(op, p99)},
			validationMeasure{"faulter waits on LOCK, waits/op", sc, "waits/op", faulterWaits("waits/op")},
			validationMeasure{"faulter waits on LOCK, waits/s", sc, "waits/s", faulterWaits("waits/s")},
			validationMeasure{"faulter waits on LOCK, p99", sc, "ns", faulterWaits("p99")},
			validationMeasure{"faulter waits on LOCK, max", sc, "ns", faulterWaits("max")},
		)
	}
	return m
}

// Validate builds the validation table of one target from its model and
// kernel cells (by scenario name): each measure's per-repetition values,
// their medians, model/kernel with its interval and p.
func Validate(target, fs, scheme, lock string, model, kernel map[string]*results.Cell) results.Validation {
	v := results.Validation{Target: target, FS: fs, Scheme: scheme, Lock: lock, Within: true, WorstRatio: 1}
	for _, m := range validationMeasures() {
		row := results.ValidationRow{Measure: strings.ReplaceAll(m.name, "LOCK", lock), Scenario: m.scenario, Unit: m.unit,
			Ratio: math.NaN(), RatioLo: math.NaN(), RatioHi: math.NaN(), P: 1}
		vals := func(c *results.Cell) []float64 {
			if c == nil {
				return nil
			}
			var xs []float64
			for i := range c.Reps {
				if x, ok := m.value(&c.Reps[i], lock); ok {
					xs = append(xs, x)
				}
			}
			return xs
		}
		mv, kv := vals(model[m.scenario]), vals(kernel[m.scenario])
		me, ke := Describe(mv), Describe(kv)
		row.Model, row.Kernel = me.Median, ke.Median
		switch {
		case len(mv) == 0 || len(kv) == 0:
			row.Note = "not measured on both sides"
			if len(kv) == 0 && strings.HasPrefix(m.name, "faulter waits") {
				row.Note = "kernel lock waits not traced (needs root and tracefs)"
			}
			row.Within = true
		case me.Median == 0 && ke.Median == 0:
			row.Ratio, row.RatioLo, row.RatioHi, row.Within, row.Note = 1, 1, 1, true, "both 0"
		default:
			sh := EstimateShift(ke, me)
			row.Ratio, row.RatioLo, row.RatioHi, row.Level = sh.Ratio, sh.RatioLo, sh.RatioHi, sh.Level
			if ke.Median > 0 && me.Median > 0 {
				row.Ratio = me.Median / ke.Median
			} else if ke.Median == 0 {
				row.Ratio = math.Inf(1)
			} else {
				row.Ratio = 0
			}
			row.P = Compare(ke, me).P
			row.Within = row.Ratio <= ValidationLimit && row.Ratio >= 1/ValidationLimit
		}
		if strings.HasSuffix(m.name, "waits/op") {
			// waits/op = waits/s over faulter ops/s: where the two sides'
			// throughputs differ, the per-op rate differs by that much even
			// when the waits per second agree. Name it beside the row.
			mo, ko := Describe(faulterRate(model[m.scenario])).Median, Describe(faulterRate(kernel[m.scenario])).Median
			if mo > 0 && ko > 0 {
				if q := mo / ko; ratioDistance(q) > ValidationLimit {
					row.Note = strings.TrimSpace(row.Note + fmt.Sprintf(" faulter ops/s differ %.2fx (model %.3g, kernel %.3g): waits/op moves by 1/%.2f with waits/s unchanged", q, mo, ko, q))
				}
			}
		}
		if !row.Within {
			v.Within = false
		}
		if r := ratioDistance(row.Ratio); !math.IsNaN(r) && r > v.WorstRatio {
			v.WorstRatio = r
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// ratioDistance is max(r, 1/r): how far r is from 1, either way.
func ratioDistance(r float64) float64 {
	if math.IsNaN(r) {
		return r
	}
	if r == 0 {
		return math.Inf(1)
	}
	return max(r, 1/r)
}

// WorstRows names the rows outside the limit, worst first.
func WorstRows(v results.Validation) []string {
	var bad []results.ValidationRow
	for _, r := range v.Rows {
		if !r.Within {
			bad = append(bad, r)
		}
	}
	sort.SliceStable(bad, func(i, j int) bool { return ratioDistance(bad[i].Ratio) > ratioDistance(bad[j].Ratio) })
	var out []string
	for _, r := range bad {
		out = append(out, fmt.Sprintf("%s %s (%s)", r.Scenario, r.Measure, vFormatRatio(r.Ratio)))
	}
	return out
}

func vFormatRatio(r float64) string {
	switch {
	case math.IsNaN(r):
		return "-"
	case math.IsInf(r, 1):
		return "inf"
	}
	return fmt.Sprintf("%.2fx", r)
}

func formatValue(x float64, unit string) string {
	if unit == "ns" {
		return formatNanos(x)
	}
	return fmt.Sprintf("%.3g", x)
}

// ValidationText writes one target's table.
func ValidationText(w io.Writer, v results.Validation, calibrated string) {
	verdict := "VALIDATED: every ratio within 2x"
	if !v.Within {
		verdict = "NOT validated: " + strings.Join(WorstRows(v), "; ")
	}
	fmt.Fprintf(w, "validate %s (%s): calibrated model %s+calibrated (%s) vs kernel(%s); worst ratio %.2fx; %s\n",
		v.Target, v.FS, v.Scheme, calibrated, v.FS, v.WorstRatio, verdict)
	fmt.Fprintf(w, "  %-12s %-34s %11s %11s %8s %-17s %6s %s\n", "scenario", "measure", "model", "kernel", "ratio", "interval", "p", "")
	for _, r := range v.Rows {
		iv := "-"
		if !math.IsNaN(r.RatioLo) {
			iv = fmt.Sprintf("[%.2f, %.2f]@%.0f%%", r.RatioLo, r.RatioHi, 100*r.Level)
		}
		flag := ""
		if !r.Within {
			flag = "OUTSIDE 2x"
		}
		if r.Note != "" {
			flag = strings.TrimSpace(flag + " " + r.Note)
		}
		fmt.Fprintf(w, "  %-12s %-34s %11s %11s %8s %-17s %6.3f %s\n", r.Scenario, r.Measure,
			formatValue(r.Model, r.Unit), formatValue(r.Kernel, r.Unit), vFormatRatio(r.Ratio), iv, r.P, flag)
	}
}

// ValidationHTML writes a self-contained HTML page of the validation
// tables (a section per target).
func ValidationHTML(w io.Writer, vs []results.Validation, cals []results.Calibration) error {
	var b strings.Builder
	b.WriteString("<!doctype html><meta charset=utf-8><title>lockbench validate</title><style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}.bad{background:#fdd}</style>\n")
	b.WriteString("<h1>Calibrated model vs kernel</h1><p>Model times are <b>calibrated time</b>: phase costs measured on the same target's real filesystem, spent inside the kernel's locks. Ratio = model/kernel, interval: Hodges-Lehmann over the repetitions.</p>\n")
	for _, v := range vs {
		status := "validated: every ratio within 2x"
		if !v.Within {
			status = "not validated: " + strings.Join(WorstRows(v), "; ")
		}
		fmt.Fprintf(&b, "<h2>%s (%s): %s+calibrated vs kernel(%s)</h2><p>worst ratio %.2fx; %s</p>\n<table><tr><th>scenario</th><th>measure</th><th>model (calibrated)</th><th>kernel</th><th>ratio</th><th>interval</th><th>p</th></tr>\n",
			html.EscapeString(v.Target), html.EscapeString(v.FS), html.EscapeString(v.Scheme), html.EscapeString(v.FS), v.WorstRatio, html.EscapeString(status))
		for _, r := range v.Rows {
			cls := ""
			if !r.Within {
				cls = " class=bad"
			}
			iv := "-"
			if !math.IsNaN(r.RatioLo) {
				iv = fmt.Sprintf("[%.2f, %.2f] at %.0f%%", r.RatioLo, r.RatioHi, 100*r.Level)
			}
			fmt.Fprintf(&b, "<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%.3f</td></tr>\n", cls,
				html.EscapeString(r.Scenario), html.EscapeString(r.Measure), formatValue(r.Model, r.Unit), formatValue(r.Kernel, r.Unit), vFormatRatio(r.Ratio), iv, r.P)
		}
		b.WriteString("</table>\n")
	}
	if len(cals) > 0 {
		b.WriteString("<h2>Calibrations</h2><table><tr><th>target</th><th>phase</th><th>p50</th><th>p99</th><th>max</th><th>n</th></tr>\n")
		for _, c := range cals {
			for _, d := range c.Phases {
				if d.Absent {
					fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td colspan=4>does not exist on %s</td></tr>\n", html.EscapeString(c.Target), d.Phase, html.EscapeString(c.FS))
					continue
				}
				fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td></tr>\n", html.EscapeString(c.Target), d.Phase,
					formatDuration(d.Latency.P50), formatDuration(d.Latency.P99), formatDuration(d.Latency.Max), d.Latency.Samples)
			}
		}
		b.WriteString("</table>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// counterfactualMeasures are the measures of the btrfs question (R5): the
// full-range extent lock would stall reads that miss the cache and read
// faults during fsync; i_mmap_lock stalls write faults only.
var counterfactualMeasures = []struct{ op, stat string }{
	{"read@fsync", "p99.9"}, {"read@fsync", "p99"}, {"read-fault@fsync", "p99.9"}, {"read", "p99.9"}, {"read-fault", "p99.9"},
	{"write-fault@fsync", "p99.9"}, {"write-fault", "p99.9"}, {"write-fault", "p50"}, {"fsync", "p50"},
}

// Counterfactuals compares design against chosen (cells of the same
// scenario, both calibrated on v's target) on the btrfs question's
// measures, each with its interval and p, and says how well the model was
// validated there.
func Counterfactuals(v results.Validation, design, chosen *results.Cell) []results.Counterfactual {
	validated := fmt.Sprintf("model calibrated on %s, validated within %.2fx", v.Target, v.WorstRatio)
	if !v.Within {
		validated = fmt.Sprintf("model calibrated on %s, NOT validated there (worst ratio %.2fx)", v.Target, v.WorstRatio)
	}
	var out []results.Counterfactual
	for _, m := range counterfactualMeasures {
		pick := func(l results.Latency) time.Duration { return l.P50 }
		switch m.stat {
		case "p99":
			pick = func(l results.Latency) time.Duration { return l.P99 }
		case "p99.9":
			pick = func(l results.Latency) time.Duration { return l.P999 }
		}
		get := opStat(m.op, pick)
		vals := func(c *results.Cell) []float64 {
			var xs []float64
			for i := range c.Reps {
				if x, ok := get(&c.Reps[i], ""); ok {
					xs = append(xs, x)
				}
			}
			return xs
		}
		de, ce := Describe(vals(design)), Describe(vals(chosen))
		if !de.Valid() || !ce.Valid() {
			continue
		}
		sh := EstimateShift(ce, de)
		out = append(out, results.Counterfactual{Target: v.Target, Scenario: design.Config.Scenario, Design: design.Config.Strategy, Chosen: chosen.Config.Strategy,
			Measure: m.op + " " + m.stat, Design50: de.Median, Chosen50: ce.Median, Ratio: sh.Ratio, RatioLo: sh.RatioLo, RatioHi: sh.RatioHi,
			Level: sh.Level, P: Compare(ce, de).P, Validated: validated})
	}
	return out
}

// CounterfactualText writes the findings, one line each.
func CounterfactualText(w io.Writer, cs []results.Counterfactual) {
	for _, c := range cs {
		if c.Text != "" {
			fmt.Fprintf(w, "  finding: %s: %s\n", c.Question, c.Text)
			continue
		}
		fmt.Fprintf(w, "  finding: on %s %s, %s %s is %s against %s's %s: %s [%.2f, %.2f] at %.0f%%, p=%.3f (%s)\n",
			c.Target, c.Scenario, c.Design, c.Measure, formatNanos(c.Design50), c.Chosen, formatNanos(c.Chosen50),
			vFormatRatio(c.Ratio), c.RatioLo, c.RatioHi, 100*c.Level, c.P, c.Validated)
	}
}
