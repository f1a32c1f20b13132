package reports

import (
	"fmt"
	"html/template"
	"io"
	"reflect"
	"slices"
	"strings"

	"lockbench/results"
)

// This file compares two results files cell by cell, as benchstat compares
// old and new: every measure the questions read of a cell's scenario, new
// against base (base second, always), with the findings' statistics
// (Judge, Benjamini-Hochberg over every comparison of the two files) and
// the same words.

// RunComparison is what `lockbench report base.json new.json` states.
type RunComparison struct {
	// Header lines: the two files, and whether the machine, kernel or
	// version differ.
	Header []string
	// Config lines: one per configuration that differs between matched
	// cells ("duration: base 200ms, new 100ms (24 cells)").
	Config []string
	// OnlyBase and OnlyNew list the cells present in one file only.
	OnlyBase, OnlyNew []string
	// Findings are new against base: Strategy is the cell's strategy,
	// Versus "base".
	Findings []results.Finding
	Sections []RunSection
}

// RunSection is the comparisons of one scenario, thread count and
// measure.
type RunSection struct {
	Heading string
	Lines   []string
}

type runKey struct {
	strategy, scenario, target string
	threads                    int
}

// CompareRuns compares new with base.
func CompareRuns(base, new *results.File) RunComparison {
	var rc RunComparison
	rc.Header = runHeader(base, new)
	bs, ns := Summarize(base), Summarize(new)
	ignoreTarget := singleTarget(bs) != "" && singleTarget(ns) != "" && singleTarget(bs) != singleTarget(ns)
	key := func(c results.Config) runKey {
		k := runKey{c.Strategy, c.Scenario, c.Target, c.Threads}
		if ignoreTarget {
			k.target = ""
		}
		return k
	}
	if ignoreTarget {
		rc.Config = append(rc.Config, fmt.Sprintf("target: base %s, new %s (compared with each other)", singleTarget(bs), singleTarget(ns)))
	}
	byKey := map[runKey]*CellSummary{}
	for i := range bs {
		if _, dup := byKey[key(bs[i].Config)]; !dup {
			byKey[key(bs[i].Config)] = &bs[i]
		}
	}
	matched := map[runKey]bool{}
	type pair struct{ b, n *CellSummary }
	var pairs []pair
	for i := range ns {
		k := key(ns[i].Config)
		b, ok := byKey[k]
		if !ok || matched[k] {
			if !ok {
				rc.OnlyNew = append(rc.OnlyNew, cellName(ns[i].Config))
			}
			continue
		}
		matched[k] = true
		pairs = append(pairs, pair{b, &ns[i]})
	}
	for i := range bs {
		if !matched[key(bs[i].Config)] && !slices.Contains(rc.OnlyBase, cellName(bs[i].Config)) {
			rc.OnlyBase = append(rc.OnlyBase, cellName(bs[i].Config))
		}
	}
	var bc, nc []results.Config
	for _, p := range pairs {
		bc, nc = append(bc, p.b.Config), append(nc, p.n.Config)
	}
	rc.Config = append(rc.Config, configDiffs(bc, nc)...)

	var js []Judgement
	for _, p := range pairs {
		ms := scenarioMeasures(p.n.Config.Scenario)
		if len(ms) == 0 {
			ms = []measure{defaultMeasure}
		}
		var seen []string
		for _, m := range ms {
			if slices.Contains(seen, measureName(m)) {
				continue
			}
			seen = append(seen, measureName(m))
			eb, en := measureOf(p.b, m), measureOf(p.n, m)
			if !eb.Valid() || !en.Valid() {
				continue
			}
			j := Judge(eb, en, floorOf(m, p.b, p.n))
			cfg := p.n.Config
			f := results.Finding{
				ID:       fmt.Sprintf("run/%s/%s/%d/%s/%s", cfg.Scenario, cfg.Target, cfg.Threads, cfg.Strategy, measureName(m)),
				Question: "run", Scenario: cfg.Scenario, Threads: cfg.Threads, Target: cfg.Target, TargetLabel: TargetLabel(cfg),
				Op: m.op, Role: m.role, Measure: measureName(m), Strategy: cfg.Strategy, Versus: "base",
				Base: eb.Median, Value: en.Median,
			}
			rc.Findings = append(rc.Findings, f)
			js = append(js, j)
		}
	}
	// The false-discovery rate is controlled within each family: one
	// measure of one scenario and thread count over every strategy and
	// target, as benchstat tests each benchmark on its own. Over a whole
	// study's families, a lone regression in 6 repetitions a side (p at
	// least 0.0022) could never pass (0.05/m for m above 22).
	families := map[string][]int{}
	var order []string
	for i, f := range rc.Findings {
		k := runFamily(f)
		if _, ok := families[k]; !ok {
			order = append(order, k)
		}
		families[k] = append(families[k], i)
	}
	for _, k := range order {
		idx := families[k]
		ps := make([]float64, len(idx))
		for j, i := range idx {
			ps[j] = js[i].P
		}
		for j, padj := range AdjustBH(ps) {
			i := idx[j]
			setJudgement(&rc.Findings[i], js[i].Adjust(padj))
			rc.Findings[i].Text = runLine(rc.Findings[i])
		}
	}
	rc.Sections = runSections(rc.Findings)
	return rc
}

// runFamily is the family of a run comparison: its section's heading.
func runFamily(f results.Finding) string {
	return fmt.Sprintf("%s, %s: %s", f.Scenario, threadsText(f.Threads), measureLabel(f))
}

// singleTarget is the one target spec of sums, or "" when there are
// several.
func singleTarget(sums []CellSummary) string {
	t := ""
	for _, s := range sums {
		if t != "" && s.Config.Target != t {
			return ""
		}
		t = s.Config.Target
	}
	return t
}

func cellName(c results.Config) string {
	return fmt.Sprintf("%s %s, %s, %s", c.Strategy, c.Scenario, threadsText(c.Threads), TargetLabel(c))
}

// runHeader names the files and says what differs of the machines.
func runHeader(base, new *results.File) []string {
	desc := func(f *results.File) string {
		s := describeMachine(f.Machine)
		if f.Version != "" {
			s += ", lockbench " + f.Version
		}
		if !f.Created.IsZero() {
			s += ", " + f.Created.UTC().Format("2006-01-02 15:04")
		}
		return s
	}
	h := []string{"base: " + desc(base), "new:  " + desc(new)}
	var diff []string
	if base.Machine.Fingerprint != new.Machine.Fingerprint || base.Machine.Hostname != new.Machine.Hostname {
		diff = append(diff, "a different machine")
	}
	if base.Machine.Kernel != new.Machine.Kernel {
		diff = append(diff, fmt.Sprintf("a different kernel (%s, %s)", base.Machine.Kernel, new.Machine.Kernel))
	}
	if base.Version != new.Version {
		diff = append(diff, "a different lockbench")
	}
	if len(diff) > 0 {
		h = append(h, "new ran on "+strings.Join(diff, " and ")+": differences may be the machine's, not the code's")
	}
	return h
}

// configDiffs names each configuration field that differs between matched
// cells, one line each, with how many cells it concerns.
func configDiffs(base, new []results.Config) []string {
	skip := map[string]bool{"Strategy": true, "Scenario": true, "Threads": true, "Target": true, "TargetInfo": true, "Seed": true, "Reps": true}
	var out []string
	t := reflect.TypeOf(results.Config{})
	for i := range t.NumField() {
		name := t.Field(i).Name
		if skip[name] {
			continue
		}
		type change struct{ b, n string }
		counts := map[change]int{}
		var order []change
		for j := range base {
			b := fmt.Sprint(reflect.ValueOf(base[j]).Field(i).Interface())
			n := fmt.Sprint(reflect.ValueOf(new[j]).Field(i).Interface())
			if b == n {
				continue
			}
			c := change{b, n}
			if counts[c] == 0 {
				order = append(order, c)
			}
			counts[c]++
		}
		for _, c := range order {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			out = append(out, fmt.Sprintf("%s: base %s, new %s (%d cells)", tag, emptyDash(c.b), emptyDash(c.n), counts[c]))
		}
	}
	return out
}

func emptyDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runLine is one cell's measure, new against base:
// "rangelock  tmpfs: difference: 2.1x base [1.6, 2.9] +1.2ms p'=0.004".
func runLine(f results.Finding) string {
	var what string
	switch Verdict(f.Verdict) {
	case Different:
		what = fmt.Sprintf("%s base [%s, %s], %s %s", formatTimes(f.Ratio), formatRate(f.RatioLo), formatRate(f.RatioHi),
			signedAmount(f, f.Delta), formatPAdj(f.PAdj))
		if f.RatioHi == 0 {
			what = signedAmount(f, f.Delta) + " " + deltaRange(f) + " " + formatPAdj(f.PAdj)
		}
	case NotMeaningful:
		what = "~ " + runInterval(f) + " " + formatPAdj(f.PAdj) + ": no meaningful difference"
	default:
		what = "~ " + runInterval(f) + " " + formatPAdj(f.PAdj) + ": no difference detected"
	}
	return fmt.Sprintf("  %-10s %-10s %s", f.Strategy, f.TargetLabel, what)
}

// runInterval is the ratio and its interval, or the difference's interval
// without a ratio.
func runInterval(f results.Finding) string {
	if f.RatioHi == 0 {
		return deltaRange(f)
	}
	return fmt.Sprintf("%s [%s, %s]", formatTimes(f.Ratio), formatRate(f.RatioLo), formatRate(f.RatioHi))
}

// runSections groups the run's findings by scenario, threads and measure.
func runSections(fs []results.Finding) []RunSection {
	var out []RunSection
	idx := map[string]int{}
	for _, f := range fs {
		h := runFamily(f)
		i, ok := idx[h]
		if !ok {
			i = len(out)
			idx[h] = i
			out = append(out, RunSection{Heading: h})
		}
		out[i].Lines = append(out[i].Lines, f.Text)
	}
	return out
}

// WriteRunComparison writes rc as text.
func WriteRunComparison(w io.Writer, rc RunComparison, n int) error {
	ew := &errWriter{w: w}
	for _, l := range rc.Header {
		ew.printf("%s\n", l)
	}
	ew.printf("new against base, cell by cell: ratio new/base (Hodges-Lehmann) [%.0f%% CI]; p' = Mann-Whitney p\n", 100*Confidence)
	ew.printf("adjusted (Benjamini-Hochberg within each measure below, %d tests in all); difference: p'<%v,\n", n, Alpha)
	ew.printf(">%.0f%% and >timer floor; ~ no difference stated\n", 100*MinMeaningful)
	for _, l := range rc.Config {
		ew.printf("config differs: %s\n", l)
	}
	for _, s := range rc.Sections {
		ew.printf("%s\n", s.Heading)
		for _, l := range s.Lines {
			ew.printf("%s\n", l)
		}
	}
	if len(rc.OnlyBase) > 0 {
		ew.printf("only in base (%d): %s\n", len(rc.OnlyBase), strings.Join(rc.OnlyBase, "; "))
	}
	if len(rc.OnlyNew) > 0 {
		ew.printf("only in new (%d): %s\n", len(rc.OnlyNew), strings.Join(rc.OnlyNew, "; "))
	}
	return ew.err
}

// CompareText writes `report base new` as text.
func CompareText(w io.Writer, base, new *results.File) error {
	rc := CompareRuns(base, new)
	return WriteRunComparison(w, rc, len(rc.Findings))
}

// CompareHTML writes `report base new` as one self-contained HTML page.
func CompareHTML(w io.Writer, base, new *results.File) error {
	rc := CompareRuns(base, new)
	type row struct {
		Strategy, Target, Text string
		Different              bool
	}
	type section struct {
		Heading string
		Rows    []row
	}
	var secs []section
	idx := map[string]int{}
	for _, f := range rc.Findings {
		h := fmt.Sprintf("%s, %s: %s", f.Scenario, threadsText(f.Threads), measureLabel(f))
		i, ok := idx[h]
		if !ok {
			i = len(secs)
			idx[h] = i
			secs = append(secs, section{Heading: h})
		}
		text := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(f.Text), f.Strategy))
		text = strings.TrimSpace(strings.TrimPrefix(text, f.TargetLabel))
		secs[i].Rows = append(secs[i].Rows, row{f.Strategy, f.TargetLabel, text, f.Significant})
	}
	return compareTmpl.Execute(w, map[string]any{
		"Header": rc.Header, "Config": rc.Config, "OnlyBase": rc.OnlyBase, "OnlyNew": rc.OnlyNew,
		"Sections": secs, "N": len(rc.Findings), "Level": fmt.Sprintf("%.0f%%", 100*Confidence), "Alpha": Alpha,
	})
}

var compareTmpl = template.Must(template.New("compare").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lockbench: new against base</title>
<style>body{font-family:sans-serif;max-width:70em;margin:1em auto}td,th{padding:2px 8px;text-align:left}
.found{font-weight:bold}.none-found{color:#666}.p{color:#444}</style></head><body>
<h1>lockbench: new against base</h1>
{{range .Header}}<p class="p">{{.}}</p>
{{end}}<p>Cell by cell, new against base: the ratio new/base (Hodges-Lehmann) with its {{.Level}} interval; p' is the
Mann-Whitney p adjusted (Benjamini-Hochberg) within each measure below ({{.N}} comparisons in all); a difference needs p' &lt; {{.Alpha}} and more
than the resolution (2% and the timer floor).</p>
{{if .Config}}<h2>Configurations that differ</h2><ul>{{range .Config}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{range .Sections}}<h3>{{.Heading}}</h3><table>
{{range .Rows}}<tr><th>{{.Strategy}}</th><td>{{.Target}}</td><td class="{{if .Different}}found{{else}}none-found{{end}}">{{.Text}}</td></tr>
{{end}}</table>
{{end}}{{if .OnlyBase}}<h2>Only in base</h2><ul>{{range .OnlyBase}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .OnlyNew}}<h2>Only in new</h2><ul>{{range .OnlyNew}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))
