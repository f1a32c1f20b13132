package reports

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"lockbench/hardware"
	"lockbench/results"
)

// WriteHTML writes one self-contained HTML page comparing files: for each
// scenario group, the strategies side by side (median ops/s and p99 with
// their confidence intervals, the ratio to the baseline with its p-value,
// violations) with one column per file, so several machines read side by
// side; the machines' descriptions; the verify matrices; every cell's
// configuration and seed; and the charts, embedded as base64 PNG data URIs.
// The page has inline CSS only: no script, no external fetch. All text is
// escaped by html/template.
func WriteHTML(w io.Writer, files []*results.File) error {
	return writeHTML(w, files, charts)
}

// chartFunc renders the charts of one file; tests substitute a stub so the
// golden HTML does not hold megabytes of PNG.
type chartFunc func(*results.File, []CellSummary) ([]Chart, error)

func writeHTML(w io.Writer, files []*results.File, chartsOf chartFunc) error {
	page, err := buildPage(files, chartsOf)
	if err != nil {
		return err
	}
	return pageTemplate.Execute(w, page)
}

type htmlPage struct {
	Machines []htmlMachine
	Sources  []*htmlSource
	Groups   []*htmlGroup
	Baseline string
	Level    string // "95%"
	Alpha    float64
}

type htmlMachine struct {
	hardware.Machine
	Sources string // labels of the files from this machine
}

// htmlSource is one results file: a column in every group it has cells in.
type htmlSource struct {
	Label      string // "A", "B", ... or the host name when alone
	Host       string
	Tool       string
	Command    string
	Created    string
	Incomplete bool
	Configs    []htmlConfig
	Verify     *htmlVerify
	Series     []htmlChart
}

type htmlChart struct {
	Title string
	Src   template.URL
}

type htmlGroup struct {
	Label    string
	Columns  []*htmlSource
	Rows     []htmlRow
	Charts   []htmlChart
	Warnings []string
}

type htmlRow struct {
	Strategy string // empty on the second and later operation of a strategy
	Op, Role string
	Cells    []htmlCell // one per column
}

type htmlCell struct {
	Present          bool
	Ops, OpsCI       string
	VsOps, VsOpsP    string
	VsOpsClass       string
	P99, P99CI       string
	VsP99, VsP99P    string
	VsP99Class       string
	VsTitle          string // why the vs cells hold no ratio, as a tooltip
	Violations       string
	ViolationsClass  string
	Incomplete       bool
	Sampled          string
	ViolationDetails string
	// Kernel is the operation in the kernel's terms (kernel.go): a model
	// cell's added ns and share of the kernel's same operation, a kernel
	// cell's faults/op and blocked/op.
	Kernel string
}

type htmlConfig struct {
	Strategy, Scenario, Target, TargetInfo, Pin, Options string
	Threads, Reps                                        int
	Seed                                                 uint64
	FileSize, PageSize                                   string
	Duration, Warmup, TimerFloor                         string
	OpLimit                                              int64
	Oracle, Delay, Incomplete                            bool
}

type htmlVerify struct {
	Budget    string
	Scenarios []string
	Rows      []htmlVerifyRow
}

type htmlVerifyRow struct {
	Strategy string
	Cells    []*htmlVerifyCell // one per scenario; nil when not run
}

type htmlVerifyCell struct {
	Race, Expect, Verdict, Class, Detail, Replay string
	Ops, Violations, FirstAt                     int64
	Seed                                         uint64
	Matches                                      bool
}

func buildPage(files []*results.File, chartsOf chartFunc) (*htmlPage, error) {
	page := &htmlPage{Baseline: Baseline, Level: fmt.Sprintf("%.0f%%", 100*Confidence), Alpha: Alpha}
	machineIndex := map[string]int{}
	type groupAt struct {
		g    *htmlGroup
		rows map[string]int // strategyLabel/op/role -> row
	}
	var groups []*groupAt
	groupByKey := map[comparableKey]*groupAt{}

	for fi, f := range files {
		src := &htmlSource{
			Label:      sourceLabel(fi, len(files), f.Machine),
			Host:       f.Machine.Hostname,
			Tool:       f.Tool,
			Command:    f.Command,
			Incomplete: f.Incomplete,
		}
		if !f.Created.IsZero() {
			src.Created = f.Created.UTC().Format(time.RFC3339)
		}
		page.Sources = append(page.Sources, src)
		fp := f.Machine.Fingerprint
		if i, ok := machineIndex[fp]; ok {
			page.Machines[i].Sources += ", " + src.Label
		} else {
			machineIndex[fp] = len(page.Machines)
			page.Machines = append(page.Machines, htmlMachine{Machine: f.Machine, Sources: src.Label})
		}

		sums := Summarize(f)
		for i := range sums {
			src.Configs = append(src.Configs, configRow(&sums[i]))
		}
		if f.Verify != nil {
			src.Verify = verifyTable(f.Verify)
		}
		chs, err := chartsOf(f, sums)
		if err != nil {
			return nil, err
		}
		chartsByGroup := map[string][]htmlChart{}
		for _, c := range chs {
			hc := htmlChart{Title: src.Label + ": " + c.Title, Src: dataURI(c.PNG)}
			if c.Kind == "series" {
				src.Series = append(src.Series, hc)
			} else {
				chartsByGroup[c.Group] = append(chartsByGroup[c.Group], hc)
			}
		}

		for _, cg := range groupCells(sums) {
			ga, ok := groupByKey[cg.key]
			if !ok {
				ga = &groupAt{g: &htmlGroup{Label: cg.label}, rows: map[string]int{}}
				groupByKey[cg.key] = ga
				groups = append(groups, ga)
			}
			g := ga.g
			col := len(g.Columns)
			g.Columns = append(g.Columns, src)
			for i := range g.Rows { // a new, empty column in every row
				g.Rows[i].Cells = append(g.Rows[i].Cells, htmlCell{})
			}
			g.Charts = append(g.Charts, chartsByGroup[cg.label]...)
			for _, s := range cg.cells {
				label := strategyLabel(s.Config)
				for oi := range s.Ops {
					o := &s.Ops[oi]
					key := label + "\x00" + o.Op + "\x00" + o.Role
					ri, ok := ga.rows[key]
					if !ok {
						ri = insertRow(g, label, o.Op, o.Role)
						// Indices after the insertion point moved down.
						for k, v := range ga.rows {
							if v >= ri {
								ga.rows[k] = v + 1
							}
						}
						ga.rows[key] = ri
					}
					g.Rows[ri].Cells[col] = opCell(s, o, oi == 0)
				}
				addGroupWarnings(g, src.Label, label, s)
			}
		}
	}
	for _, ga := range groups {
		markStrategyStarts(ga.g)
		page.Groups = append(page.Groups, ga.g)
	}
	return page, nil
}

// addGroupWarnings adds the warnings of cell s to g: those about the
// number of repetitions once per file, the others with the strategy.
func addGroupWarnings(g *htmlGroup, src, strategy string, s *CellSummary) {
	add := func(w string) {
		if !slices.Contains(g.Warnings, w) {
			g.Warnings = append(g.Warnings, w)
		}
	}
	for _, w := range s.Warnings {
		add(src + " " + strategy + ": " + w)
	}
	for i := range s.Ops {
		general, specific := s.Ops[i].Warnings()
		for _, w := range general {
			add(src + ": " + w)
		}
		for _, w := range specific {
			add(src + " " + strategy + " " + s.Ops[i].Op + " " + w)
		}
	}
}

// insertRow adds an empty row for (strategy, op, role) after the last row
// of the same strategy, or at the end, and returns its index.
func insertRow(g *htmlGroup, strategy, op, role string) int {
	at := len(g.Rows)
	for i := len(g.Rows) - 1; i >= 0; i-- {
		if g.Rows[i].Strategy == strategy {
			at = i + 1
			break
		}
	}
	row := htmlRow{Strategy: strategy, Op: op, Role: role, Cells: make([]htmlCell, len(g.Columns))}
	g.Rows = append(g.Rows, htmlRow{})
	copy(g.Rows[at+1:], g.Rows[at:])
	g.Rows[at] = row
	return at
}

// markStrategyStarts blanks the strategy name on all but the first row of
// each strategy, after all rows are in place (rows carry the name until
// then so insertRow can find them).
func markStrategyStarts(g *htmlGroup) {
	prev := ""
	for i := range g.Rows {
		name := g.Rows[i].Strategy
		if name == prev {
			g.Rows[i].Strategy = ""
		}
		prev = name
	}
}

// sourceLabel names file i of n: its host name when it is the only file,
// otherwise a letter and the host name.
func sourceLabel(i, n int, m hardware.Machine) string {
	host := m.Hostname
	if host == "" {
		host = "unknown host"
	}
	if n == 1 {
		return host
	}
	letter := string(rune('A' + i%26))
	if i >= 26 {
		letter += fmt.Sprint(i / 26)
	}
	return letter + " " + host
}

func dataURI(png []byte) template.URL {
	// The data is our own PNG encoding, base64 armoured: safe to mark as a
	// URL so html/template does not replace the data: scheme.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

func ciText(e Estimate) string {
	if !e.Valid() || e.N < 2 {
		return ""
	}
	s := "±" + formatPercent(e.HalfWidth())
	if e.Reduced() {
		s += fmt.Sprintf(" (%.0f%%)", 100*e.Level)
	}
	return s
}

// comparisonClass says how a comparison reads: "better", "worse" or "same"
// (not significant); higherIsBetter gives the direction.
func comparisonClass(c Comparison, higherIsBetter bool) string {
	if !c.Significant {
		return "same"
	}
	if (c.Ratio > 1) == higherIsBetter {
		return "better"
	}
	return "worse"
}

func opCell(s *CellSummary, o *OpSummary, first bool) htmlCell {
	c := htmlCell{
		Present:    true,
		Ops:        formatRate(nanOr(o.PerSecond)),
		OpsCI:      ciText(o.PerSecond),
		P99:        formatNanos(nanOr(o.P99)),
		P99CI:      ciText(o.P99),
		Incomplete: s.Incomplete,
	}
	if o.SampleEvery > 1 {
		c.Sampled = fmt.Sprintf("latency timed on 1 in %d", o.SampleEvery)
	}
	// A blank ratio cell reads as missing data; say why there is none.
	c.Kernel = kernelCellText(s, o)
	switch {
	case s.Config.Strategy == Kernel:
		c.VsOps, c.VsP99 = StrategyLabel(s.Config), StrategyLabel(s.Config)
		c.VsOpsClass, c.VsP99Class = "base", "base"
		c.VsTitle = "the real kernel on this target: what the model's costs are given as a share of"
	case o.VsBaseline != nil:
		c.VsOps = formatRatio(o.VsBaseline.PerSecond.Ratio)
		c.VsOpsP = comparisonPText(o.VsBaseline.PerSecond)
		c.VsOpsClass = comparisonClass(o.VsBaseline.PerSecond, true)
		c.VsP99 = formatRatio(o.VsBaseline.P99.Ratio)
		c.VsP99P = comparisonPText(o.VsBaseline.P99)
		c.VsP99Class = comparisonClass(o.VsBaseline.P99, false)
	case s.Config.Strategy == Baseline:
		c.VsOps, c.VsP99 = "baseline", "baseline"
		c.VsOpsClass, c.VsP99Class = "base", "base"
		c.VsTitle = "the " + Baseline + " strategy is what the others are compared with"
	case s.HasBaseline:
		c.VsOps, c.VsP99 = "—", "—"
		c.VsTitle = "the " + Baseline + " cell has no " + o.Op + " operation to compare with"
	default:
		c.VsOps, c.VsP99 = "—", "—"
		c.VsTitle = "no " + Baseline + " cell with the same scenario, threads, target and placement to compare with"
	}
	if first {
		c.Violations = fmt.Sprint(s.Violations)
		c.ViolationsClass = "ok"
		if s.Violations > 0 {
			c.ViolationsClass = "bad"
			var parts []string
			for _, v := range s.ViolationKinds {
				parts = append(parts, fmt.Sprintf("%s/%s ×%d", v.Invariant, v.Race, v.Count))
			}
			c.ViolationDetails = strings.Join(parts, ", ")
		}
		if len(s.Deadlocks) > 0 {
			c.ViolationsClass = "bad"
			c.ViolationDetails = strings.TrimPrefix(c.ViolationDetails+"; deadlock", "; ")
		}
	}
	return c
}

func comparisonPText(c Comparison) string {
	s := fmt.Sprintf("%s n=%d+%d", formatP(c.P), c.N1, c.N2)
	if !c.Significant {
		s += " ~"
	}
	return s
}

func configRow(s *CellSummary) htmlConfig {
	c := s.Config
	var info []string
	for _, v := range []string{c.TargetInfo.FSType, c.TargetInfo.Path, c.TargetInfo.Device, c.TargetInfo.DeviceKind, c.TargetInfo.Model} {
		if v != "" {
			info = append(info, v)
		}
	}
	floor := "-"
	if s.TimerFloor.Valid() {
		floor = formatNanos(s.TimerFloor.Median)
	}
	return htmlConfig{
		Strategy: c.Strategy, Scenario: c.Scenario, Target: c.Target, TargetInfo: strings.Join(info, " "),
		Pin: c.Pin, Options: c.Options, Threads: c.Threads, Reps: s.Reps, Seed: c.Seed,
		FileSize: formatBytes(c.FileSize), PageSize: formatBytes(int64(c.PageSize)),
		Duration: formatDuration(c.Duration), Warmup: formatDuration(c.Warmup), TimerFloor: floor,
		OpLimit: c.OpLimit, Oracle: c.Oracle, Delay: c.Delay, Incomplete: s.Incomplete,
	}
}

// formatBytes formats a size in binary units: "4KiB", "64MiB".
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return sig3(v) + units[i]
}

func verifyTable(m *results.Matrix) *htmlVerify {
	v := &htmlVerify{Budget: m.Budget}
	scenarioIndex := map[string]int{}
	rowIndex := map[string]int{}
	for _, c := range m.Cells {
		if _, ok := scenarioIndex[c.Scenario]; !ok {
			scenarioIndex[c.Scenario] = len(v.Scenarios)
			v.Scenarios = append(v.Scenarios, c.Scenario)
		}
		if _, ok := rowIndex[c.Strategy]; !ok {
			rowIndex[c.Strategy] = len(v.Rows)
			v.Rows = append(v.Rows, htmlVerifyRow{Strategy: c.Strategy})
		}
	}
	for i := range v.Rows {
		v.Rows[i].Cells = make([]*htmlVerifyCell, len(v.Scenarios))
	}
	for _, c := range m.Cells {
		class := c.Verdict
		if !c.Matches {
			class += " mismatch"
		}
		v.Rows[rowIndex[c.Strategy]].Cells[scenarioIndex[c.Scenario]] = &htmlVerifyCell{
			Race: c.Race, Expect: c.Expect, Verdict: c.Verdict, Class: class, Detail: c.Detail, Replay: c.Replay,
			Ops: c.Ops, Violations: c.Violations, FirstAt: c.FirstAt, Seed: c.Seed, Matches: c.Matches,
		}
	}
	return v
}

// pageTemplate is the report page. Its wide tables (a group with several
// files, the Cells table's 17 columns) sit in a .scroll box and scroll
// sideways inside it rather than wrap values such as "fsync-storm" or
// "/dev/shm/lockbench" over lines. (html/template drops CSS comments, so
// this one lives here.)
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lockbench report</title>
<style>
body { font-family: sans-serif; font-size: 14px; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ci, .p { color: #777; font-size: 0.85em; }
.better { background: #e6f4e6; } .worse { background: #fbe7e7; } .same { color: #555; }
.base { color: #777; font-style: italic; }
.bad { background: #fbe7e7; } .ok { color: #2a7a2a; }
.safe { background: #e6f4e6; } .violated { background: #fff1d6; } .deadlock { background: #fbe7e7; }
.mismatch { outline: 2px solid #c00; }
.incomplete { color: #c00; font-weight: bold; }
.charts img { max-width: 100%; margin: 0.5em 1em 0.5em 0; border: 1px solid #eee; }
.warnings { color: #7a5a00; font-size: 0.9em; }
code { font-size: 0.9em; }
.scroll { overflow-x: auto; max-width: 100%; }
table.nowrap th, table.nowrap td { white-space: nowrap; padding: 0.25em 0.45em; }
</style>
</head>
<body>
<h1>lockbench report</h1>
<p>Values are medians over repetitions; ± is the half-width of the {{.Level}} confidence interval of the median
(exact order-statistic interval; a lower level in parentheses when there are too few repetitions for {{.Level}}).
Ratios are to the <code>{{.Baseline}}</code> strategy in the same scenario, threads, target and placement, with the
Mann-Whitney U test p-value; <span class="same">~</span> marks p ≥ {{.Alpha}}.</p>

<h2>Machines</h2>
<table>
<tr><th></th>{{range .Machines}}<th>{{.Hostname}}</th>{{end}}</tr>
<tr><th>CPU</th>{{range .Machines}}<td>{{.CPUModel}}</td>{{end}}</tr>
<tr><th>logical CPUs</th>{{range .Machines}}<td>{{.LogicalCPUs}}</td>{{end}}</tr>
<tr><th>kernel</th>{{range .Machines}}<td>{{.Kernel}}</td>{{end}}</tr>
<tr><th>fingerprint</th>{{range .Machines}}<td><code>{{.Fingerprint}}</code></td>{{end}}</tr>
<tr><th>results files</th>{{range .Machines}}<td>{{.Sources}}</td>{{end}}</tr>
</table>
<table>
<tr><th>file</th><th>tool</th><th>command</th><th>created</th><th></th></tr>
{{range .Sources}}<tr><td>{{.Label}}</td><td>{{.Tool}}</td><td><code>{{.Command}}</code></td><td>{{.Created}}</td><td>{{if .Incomplete}}<span class="incomplete">incomplete</span>{{end}}</td></tr>
{{end}}</table>
{{range .Groups}}
<h2>{{.Label}}</h2>
<div class="scroll"><table class="nowrap">
<tr><th rowspan="2">strategy</th><th rowspan="2">op</th><th rowspan="2">role</th>{{range .Columns}}<th colspan="5">{{.Label}}</th>{{end}}</tr>
<tr>{{range .Columns}}<th>ops/s</th><th>vs {{$.Baseline}}</th><th>p99</th><th>vs {{$.Baseline}}</th><th>violations</th>{{end}}</tr>
{{range .Rows}}<tr><th>{{.Strategy}}</th><td>{{.Op}}</td><td>{{.Role}}</td>
{{range .Cells}}{{if .Present}}<td class="num">{{.Ops}} <span class="ci">{{.OpsCI}}</span>{{if .Incomplete}} <span class="incomplete" title="a repetition was cut short">!</span>{{end}}</td>
<td class="num {{.VsOpsClass}}"{{if .VsTitle}} title="{{.VsTitle}}"{{end}}>{{.VsOps}}{{if .VsOpsP}} <span class="p">{{.VsOpsP}}</span>{{end}}</td>
<td class="num"{{if .Sampled}} title="{{.Sampled}}"{{end}}>{{.P99}} <span class="ci">{{.P99CI}}</span>{{if .Sampled}}<sup>s</sup>{{end}}</td>
<td class="num {{.VsP99Class}}"{{if .VsTitle}} title="{{.VsTitle}}"{{end}}>{{.VsP99}}{{if .VsP99P}} <span class="p">{{.VsP99P}}</span>{{end}}{{if .Kernel}}<br><span class="p">{{.Kernel}}</span>{{end}}</td>
<td class="num {{.ViolationsClass}}">{{if eq .ViolationsClass "bad"}}<b>{{.Violations}}</b>{{else}}{{.Violations}}{{end}}{{if .ViolationDetails}} <span class="p">{{.ViolationDetails}}</span>{{end}}</td>
{{else}}<td colspan="5"></td>
{{end}}{{end}}</tr>
{{end}}</table></div>
<p class="p"><sup>s</sup> latency from a seeded sample of the operations.</p>
{{if .Warnings}}<ul class="warnings">{{range .Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Charts}}<div class="charts">{{range .Charts}}<img src="{{.Src}}" alt="{{.Title}}" title="{{.Title}}">{{end}}</div>{{end}}
{{end}}
{{range .Sources}}{{if .Verify}}
<h2>Verify: {{.Label}}{{if .Verify.Budget}} (budget {{.Verify.Budget}}){{end}}</h2>
<table>
<tr><th>strategy</th>{{range .Verify.Scenarios}}<th>{{.}}</th>{{end}}</tr>
{{range .Verify.Rows}}<tr><th>{{.Strategy}}</th>{{range .Cells}}{{if .}}<td class="{{.Class}}"><b>{{.Verdict}}</b> {{.Race}}, expected {{.Expect}}{{if not .Matches}} <b>MISMATCH</b>{{end}}<br>
<span class="p">{{.Violations}} violations in {{.Ops}} ops{{if .Violations}}, first at op {{.FirstAt}}{{end}}, seed {{.Seed}}</span>{{if .Detail}}<br><span class="p">{{.Detail}}</span>{{end}}{{if .Replay}}<br><code>{{.Replay}}</code>{{end}}</td>{{else}}<td></td>{{end}}{{end}}</tr>
{{end}}</table>
{{end}}{{end}}
<h2>Cells</h2>
{{range .Sources}}<h3>{{.Label}}</h3>
<div class="scroll"><table class="nowrap">
<tr><th>strategy</th><th>options</th><th>scenario</th><th>threads</th><th>target</th><th>pin</th><th>seed</th><th>file</th><th>page</th><th>duration</th><th>op limit</th><th>warmup</th><th>reps</th><th>oracle</th><th>delays</th><th>timer floor</th><th></th></tr>
{{range .Configs}}<tr><td>{{.Strategy}}</td><td>{{.Options}}</td><td>{{.Scenario}}</td><td class="num">{{.Threads}}</td><td>{{.Target}} <span class="p">{{.TargetInfo}}</span></td><td>{{.Pin}}</td><td class="num">{{.Seed}}</td><td class="num">{{.FileSize}}</td><td class="num">{{.PageSize}}</td><td class="num">{{.Duration}}</td><td class="num">{{if .OpLimit}}{{.OpLimit}}{{end}}</td><td class="num">{{.Warmup}}</td><td class="num">{{.Reps}}</td><td>{{if .Oracle}}on{{end}}</td><td>{{if .Delay}}on{{end}}</td><td class="num">{{.TimerFloor}}</td><td>{{if .Incomplete}}<span class="incomplete">incomplete</span>{{end}}</td></tr>
{{end}}</table></div>
{{if .Series}}<div class="charts">{{range .Series}}<img src="{{.Src}}" alt="{{.Title}}" title="{{.Title}}">{{end}}</div>{{end}}
{{end}}
</body>
</html>
`))
