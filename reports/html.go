package reports

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"lockbench/hardware/desc"
	"lockbench/results"
)

// WriteHTML writes one self-contained HTML page comparing files, its
// charts embedded as base64 PNG data URIs: findings first, the
// correctness matrix, then per scenario the charts of every target and
// file side by side and the tables (median ops/s and p99 with their
// confidence intervals, the ratio to the baseline with its p-value,
// violations) with one column per file, the lock-wait tables, the
// machines, how to reproduce each file, and every cell's configuration.
// The page has inline CSS only: no script, no external fetch. All text is
// escaped by html/template.
func WriteHTML(w io.Writer, files []*results.File) error {
	return writeHTML(w, files, charts, embedPNG)
}

// WriteReportDir writes the same page as dir/index.html with its charts
// as PNG files beside it (dir must exist), each written atomically.
func WriteReportDir(dir string, files []*results.File) error {
	var pngs []Chart
	linkPNG := func(c Chart) template.URL {
		pngs = append(pngs, c)
		// Chart names are file slugs: safe as a relative URL.
		return template.URL(c.Name)
	}
	var buf bytes.Buffer
	if err := writeHTML(&buf, files, charts, linkPNG); err != nil {
		return err
	}
	// Every file is checked before the first is written: a report
	// directory is not left half-written by a path that cannot be.
	for _, name := range append(chartNames(pngs), "index.html") {
		if err := results.CheckOutput(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	for _, c := range pngs {
		if err := writeFileAtomic(filepath.Join(dir, c.Name), c.PNG); err != nil {
			return err
		}
	}
	return writeFileAtomic(filepath.Join(dir, "index.html"), buf.Bytes())
}

// chartNames lists the charts' file names.
func chartNames(cs []Chart) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// writeFileAtomic writes data to path with results.WriteAtomic (a synced
// temporary file renamed over it, a symlink's target replaced), so a
// reader never sees half a chart or page.
func writeFileAtomic(path string, data []byte) error {
	return results.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// chartFunc renders the charts of one file; tests substitute a stub so the
// golden HTML does not hold megabytes of PNG.
type chartFunc func(*results.File, []CellSummary) ([]Chart, error)

// srcFunc says where the page finds a chart: a data URI or a file name.
type srcFunc func(Chart) template.URL

func embedPNG(c Chart) template.URL { return dataURI(c.PNG) }

func writeHTML(w io.Writer, files []*results.File, chartsOf chartFunc, src srcFunc) error {
	page, err := buildPage(files, chartsOf, src)
	if err != nil {
		return err
	}
	return pageTemplate.Execute(w, page)
}

type htmlPage struct {
	Machines  []htmlMachine
	Sources   []*htmlSource
	Scenarios []*htmlScenario
	Groups    []*htmlGroup
	Baseline  string
	Level     string // "95%"
	Alpha     float64
	Locks     []htmlLocks
}

type htmlMachine struct {
	desc.Machine
	Sources string // labels of the files from this machine
}

// htmlSource is one results file: a column in every group it has cells in.
type htmlSource struct {
	Label      string // "A", "B", ... or the host name when alone
	Host       string
	Tool       string
	Command    string
	Version    string
	Seeds      string
	Created    string
	Incomplete bool
	Preamble   string
	Findings   []FindingSection
	Verdict    string
	Configs    []htmlConfig
	Verify     *htmlVerify
}

type htmlChart struct {
	Title string
	Src   template.URL
}

// htmlScenario is one scenario's charts: a column per file and target
// (and thread count), side by side, then the charts across thread counts.
type htmlScenario struct {
	Name    string
	Columns []*htmlChartColumn
	Scaling []htmlChart
	Groups  []*htmlGroup
}

type htmlChartColumn struct {
	Label  string
	Charts []htmlChart
}

type htmlGroup struct {
	Label    string
	Scenario string
	Columns  []*htmlSource
	Rows     []htmlRow
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

// pageBuilder accumulates the page file by file.
type pageBuilder struct {
	page         *htmlPage
	machineIndex map[string]int
	groups       []*groupAt
	groupByKey   map[comparableKey]*groupAt
	scenarios    map[string]*htmlScenario
}

// groupAt is a table being built and the index of its rows.
type groupAt struct {
	g    *htmlGroup
	rows map[string]int // strategyLabel/op/role -> row
}

// buildPage is the page's stages: each file's header, findings and
// verify matrix; its charts; its table rows; then the tables are closed.
func buildPage(files []*results.File, chartsOf chartFunc, src srcFunc) (*htmlPage, error) {
	b := &pageBuilder{
		page:         &htmlPage{Baseline: Baseline, Level: fmt.Sprintf("%.0f%%", 100*Confidence), Alpha: Alpha},
		machineIndex: map[string]int{},
		groupByKey:   map[comparableKey]*groupAt{},
		scenarios:    map[string]*htmlScenario{},
	}
	for fi, f := range files {
		s := b.addSource(sourceLabel(fi, len(files), f.Machine), f)
		sums := Summarize(f)
		for i := range sums {
			s.Configs = append(s.Configs, configRow(&sums[i]))
		}
		chs, err := chartsOf(f, sums)
		if err != nil {
			return nil, err
		}
		b.addCharts(s, len(files) > 1, chs, src)
		b.addRows(s, sums)
		lt, err := LockTablesHTML(sums)
		if err != nil {
			return nil, err
		}
		if lt != "" {
			b.page.Locks = append(b.page.Locks, htmlLocks{Label: s.Label, HTML: lt})
		}
	}
	for _, ga := range b.groups {
		markStrategyStarts(ga.g)
		b.page.Groups = append(b.page.Groups, ga.g)
		if sc := b.scenarios[ga.g.Scenario]; sc != nil {
			sc.Groups = append(sc.Groups, ga.g)
		}
	}
	return b.page, nil
}

// addSource adds file f's header, machine, findings and verify matrix.
func (b *pageBuilder) addSource(label string, f *results.File) *htmlSource {
	src := &htmlSource{
		Label: label, Host: f.Machine.Hostname, Tool: f.Tool, Command: f.Command,
		Version: f.Version, Incomplete: f.Incomplete, Seeds: seedsOf(f),
	}
	if !f.Created.IsZero() {
		src.Created = f.Created.UTC().Format(time.RFC3339)
	}
	fs := Findings(f)
	src.Preamble, src.Findings = FindingsPreamble(f, len(fs)), FindingSections(fs)
	if f.Verify != nil {
		src.Verify = verifyTable(f.Verify)
		src.Verdict = VerifyVerdict(f.Verify)
	}
	b.page.Sources = append(b.page.Sources, src)
	fp := f.Machine.Fingerprint
	if i, ok := b.machineIndex[fp]; ok {
		b.page.Machines[i].Sources += ", " + src.Label
	} else {
		b.machineIndex[fp] = len(b.page.Machines)
		b.page.Machines = append(b.page.Machines, htmlMachine{Machine: f.Machine, Sources: src.Label})
	}
	return src
}

// seedsOf lists the distinct seeds of f's cells.
func seedsOf(f *results.File) string {
	var seeds []string
	for _, c := range f.Cells {
		s := fmt.Sprint(c.Config.Seed)
		if !slices.Contains(seeds, s) {
			seeds = append(seeds, s)
		}
	}
	return strings.Join(seeds, ", ")
}

// addCharts files each chart under its scenario: in a column per group
// (target and thread count), or with the scenario's scaling charts.
func (b *pageBuilder) addCharts(s *htmlSource, prefix bool, chs []Chart, src srcFunc) {
	for _, c := range chs {
		if prefix {
			c.Name = fileSlug(strings.Fields(s.Label)[0]) + "_" + c.Name
		}
		sc := b.scenario(c.Scenario)
		hc := htmlChart{Title: s.Label + ": " + c.Title, Src: src(c)}
		if c.Kind == "scaling" {
			sc.Scaling = append(sc.Scaling, hc)
			continue
		}
		label := c.Group
		if prefix {
			label = s.Label + ": " + label
		}
		var col *htmlChartColumn
		for _, x := range sc.Columns {
			if x.Label == label {
				col = x
			}
		}
		if col == nil {
			col = &htmlChartColumn{Label: label}
			sc.Columns = append(sc.Columns, col)
		}
		col.Charts = append(col.Charts, hc)
	}
}

// scenario returns the page's section of a scenario, adding it.
func (b *pageBuilder) scenario(name string) *htmlScenario {
	sc, ok := b.scenarios[name]
	if !ok {
		sc = &htmlScenario{Name: name}
		b.scenarios[name] = sc
		b.page.Scenarios = append(b.page.Scenarios, sc)
	}
	return sc
}

// addRows adds a column for s to every group table it has cells in.
func (b *pageBuilder) addRows(s *htmlSource, sums []CellSummary) {
	for _, cg := range groupCells(sums) {
		b.scenario(cg.key.Scenario)
		ga, ok := b.groupByKey[cg.key]
		if !ok {
			ga = &groupAt{g: &htmlGroup{Label: cg.label, Scenario: cg.key.Scenario}, rows: map[string]int{}}
			b.groupByKey[cg.key] = ga
			b.groups = append(b.groups, ga)
		}
		g := ga.g
		col := len(g.Columns)
		g.Columns = append(g.Columns, s)
		for i := range g.Rows { // a new, empty column in every row
			g.Rows[i].Cells = append(g.Rows[i].Cells, htmlCell{})
		}
		for _, cs := range cg.cells {
			label := strategyLabel(cs.Config)
			for oi := range cs.Ops {
				o := &cs.Ops[oi]
				g.Rows[ga.row(label, o.Op, o.Role)].Cells[col] = opCell(cs, o, oi == 0)
			}
			addGroupWarnings(g, s.Label, label, cs)
		}
	}
}

// row returns the index of the row of (strategy, op, role), inserting it.
func (ga *groupAt) row(strategy, op, role string) int {
	key := strategy + "\x00" + op + "\x00" + role
	if ri, ok := ga.rows[key]; ok {
		return ri
	}
	ri := insertRow(ga.g, strategy, op, role)
	// Indices after the insertion point moved down.
	for k, v := range ga.rows {
		if v >= ri {
			ga.rows[k] = v + 1
		}
	}
	ga.rows[key] = ri
	return ri
}

// htmlLocks is one file's lock-wait tables (locks.go renders them).
type htmlLocks struct {
	Label string
	HTML  template.HTML
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
func sourceLabel(i, n int, m desc.Machine) string {
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
		OpsCI:      intervalText(o.PerSecond, formatRate),
		P99:        formatNanos(nanOr(o.P99)),
		P99CI:      intervalText(o.P99, formatNanos),
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
		FileSize: desc.FormatBytes(uint64(c.FileSize)), PageSize: desc.FormatBytes(uint64(c.PageSize)),
		Duration: formatDuration(c.Duration), Warmup: formatDuration(c.Warmup), TimerFloor: floor,
		OpLimit: c.OpLimit, Oracle: c.Oracle, Delay: c.Delay, Incomplete: s.Incomplete,
	}
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
		class := string(c.Verdict)
		if !c.Matches {
			class += " mismatch"
		}
		v.Rows[rowIndex[c.Strategy]].Cells[scenarioIndex[c.Scenario]] = &htmlVerifyCell{
			Race: c.Race, Expect: string(c.Expect), Verdict: string(c.Verdict), Class: class, Detail: c.Detail, Replay: c.Replay,
			Ops: c.Ops, Violations: c.Violations, FirstAt: c.FirstAt, Seed: c.Seed, Matches: c.Matches,
		}
	}
	return v
}

// pageTemplate is the report page. Its wide tables (a group with several
// files, the Cells table's 17 columns) sit in a .scroll box and scroll
// sideways inside it rather than wrap values such as "fsync-storm" or
// "/dev/shm/lockbench" over lines; the chart columns of a scenario (one
// per target and file) sit side by side and wrap below each other when
// the window is narrower than two charts. (html/template drops CSS
// comments, so this one lives here.)
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
table.findings { margin: 0.2em 0 0.6em; } table.findings td { min-width: 18em; }
td.found { font-weight: bold; background: #fff6d6; } td.none-found { color: #666; }
.finding-head { font-weight: bold; margin-top: 0.6em; }
.verdict { font-weight: bold; }
table.grid td { text-align: center; min-width: 7.5em; }
.grid .safe { background: #b8e0b8; } .grid .violated { background: #f7c98b; } .grid .deadlock { background: #f2a0a0; }
.grid .mismatch, .key.mismatch { outline: 3px solid #c00; outline-offset: -3px; }
.key.safe { background: #b8e0b8; } .key.violated { background: #f7c98b; } .key.deadlock { background: #f2a0a0; }
.legend span { display: inline-block; padding: 0.1em 0.6em; margin-right: 0.5em; }
.incomplete { color: #c00; font-weight: bold; }
.cols { display: flex; flex-wrap: wrap; gap: 1em; }
.col h3 { margin: 0.3em 0; }
.col img, .charts img { display: block; margin: 0.4em 0; border: 1px solid #eee; }
.warnings { color: #7a5a00; font-size: 0.9em; }
code { font-size: 0.9em; }
.scroll { overflow-x: auto; max-width: 100%; }
table.nowrap th, table.nowrap td { white-space: nowrap; padding: 0.25em 0.45em; }
details { margin: 0.5em 0; } summary { cursor: pointer; color: #245; }
</style>
</head>
<body>
<h1>lockbench report</h1>
{{range .Sources}}
<h2>Findings{{if gt (len $.Sources) 1}}: {{.Label}}{{end}}</h2>
<p class="p">{{.Preamble}}</p>
<div class="findings">{{range .Findings}}<div class="finding-head">{{.Heading}}</div>
<table class="findings"><tr><th></th>{{range .Targets}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><th>{{.Label}}</th>{{range .Cells}}<td class="{{if .Significant}}found{{else}}none-found{{end}}">{{.Text}}</td>{{end}}</tr>
{{end}}</table>
{{range .Notes}}<p class="p">{{.}}</p>{{end}}
{{else}}<p>No findings: the file has no comparable cells.</p>{{end}}</div>
{{if .Verdict}}<p class="verdict">{{.Verdict}}</p>{{end}}
{{end}}
{{range .Sources}}{{if .Verify}}
<h2>Correctness: {{.Label}}{{if .Verify.Budget}} (race oracle, {{.Verify.Budget}} per cell){{end}}</h2>
<p class="legend"><span class="key safe">safe: 0 violations</span><span class="key violated">violated</span><span class="key deadlock">deadlock</span><span class="key mismatch">not as expected</span> S = must be safe, V = expected to be violated</p>
<table class="grid">
<tr><th>strategy</th>{{range .Verify.Scenarios}}<th>{{.}}</th>{{end}}</tr>
{{range .Verify.Rows}}<tr><th>{{.Strategy}}</th>{{range .Cells}}{{if .}}<td class="{{.Class}}" title="{{.Violations}} violations in {{.Ops}} ops, seed {{.Seed}}{{if .Detail}}: {{.Detail}}{{end}}"><b>{{.Verdict}}</b><br><span class="p">{{.Race}} {{if eq .Expect "safe"}}S{{else}}V{{end}}{{if .Violations}}, {{.Violations}}×{{end}}</span>{{if not .Matches}}<br><b>MISMATCH</b>{{end}}</td>{{else}}<td></td>{{end}}{{end}}</tr>
{{end}}</table>
{{range .Verify.Rows}}{{range .Cells}}{{if .}}{{if .Replay}}<div class="p">{{.Race}} {{.Verdict}}: {{.Detail}} <code>{{.Replay}}</code></div>{{end}}{{end}}{{end}}{{end}}
{{end}}{{end}}
<p>Values are medians over repetitions; ± is the half-width of the {{.Level}} confidence interval of the median
(exact order-statistic interval; a lower level in parentheses when there are too few repetitions for {{.Level}});
an interval wider than its value or lopsided is written [low, high].
Ratios are to the <code>{{.Baseline}}</code> strategy in the same scenario, threads, target and placement, with the
Mann-Whitney U test p-value; <span class="same">~</span> marks p ≥ {{.Alpha}}.</p>
{{range .Scenarios}}
<h2>{{.Name}}</h2>
<div class="cols">{{range .Columns}}<div class="col"><h3>{{.Label}}</h3>
{{range .Charts}}<img src="{{.Src}}" alt="{{.Title}}" title="{{.Title}}">{{end}}</div>{{end}}</div>
{{if .Scaling}}<div class="cols">{{range .Scaling}}<div class="col"><img src="{{.Src}}" alt="{{.Title}}" title="{{.Title}}"></div>{{end}}</div>{{end}}
{{range .Groups}}
<details><summary>Table: {{.Label}}</summary>
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
</details>
{{end}}{{end}}
{{if .Locks}}<h2>Lock waits</h2>
{{range .Locks}}{{if gt (len $.Sources) 1}}<h3>{{.Label}}</h3>{{end}}{{.HTML}}{{end}}{{end}}
<h2>Machines</h2>
<table>
<tr><th></th>{{range .Machines}}<th>{{.Hostname}}</th>{{end}}</tr>
<tr><th>CPU</th>{{range .Machines}}<td>{{.CPUModel}}</td>{{end}}</tr>
<tr><th>logical CPUs</th>{{range .Machines}}<td>{{.LogicalCPUs}}</td>{{end}}</tr>
<tr><th>kernel</th>{{range .Machines}}<td>{{.Kernel}}</td>{{end}}</tr>
<tr><th>fingerprint</th>{{range .Machines}}<td><code>{{.Fingerprint}}</code></td>{{end}}</tr>
<tr><th>results files</th>{{range .Machines}}<td>{{.Sources}}</td>{{end}}</tr>
</table>
<h2>How to reproduce</h2>
<table>
<tr><th>file</th><th>command</th><th>seed</th><th>version</th><th>created</th><th></th></tr>
{{range .Sources}}<tr><td>{{.Label}}</td><td><code>{{.Command}}</code></td><td>{{.Seeds}}</td><td><code>{{.Version}}</code></td><td>{{.Created}}</td><td>{{if .Incomplete}}<span class="incomplete">incomplete</span>{{end}}</td></tr>
{{end}}</table>
<p class="p">Run the command from the lockbench module (<code>go run ./cmd/lockbench ...</code>) with the version shown; <code>lockbench report FILE.json -o DIR</code> renders a results file again.</p>
<h2>Cells</h2>
{{range .Sources}}<h3>{{.Label}}</h3>
<div class="scroll"><table class="nowrap">
<tr><th>strategy</th><th>options</th><th>scenario</th><th>threads</th><th>target</th><th>pin</th><th>seed</th><th>file</th><th>page</th><th>duration</th><th>op limit</th><th>warmup</th><th>reps</th><th>oracle</th><th>delays</th><th>timer floor</th><th></th></tr>
{{range .Configs}}<tr><td>{{.Strategy}}</td><td>{{.Options}}</td><td>{{.Scenario}}</td><td class="num">{{.Threads}}</td><td>{{.Target}} <span class="p">{{.TargetInfo}}</span></td><td>{{.Pin}}</td><td class="num">{{.Seed}}</td><td class="num">{{.FileSize}}</td><td class="num">{{.PageSize}}</td><td class="num">{{.Duration}}</td><td class="num">{{if .OpLimit}}{{.OpLimit}}{{end}}</td><td class="num">{{.Warmup}}</td><td class="num">{{.Reps}}</td><td>{{if .Oracle}}on{{end}}</td><td>{{if .Delay}}on{{end}}</td><td class="num">{{.TimerFloor}}</td><td>{{if .Incomplete}}<span class="incomplete">incomplete</span>{{end}}</td></tr>
{{end}}</table></div>
{{end}}
</body>
</html>
`))
