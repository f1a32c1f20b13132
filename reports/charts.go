package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"lockbench/results"
)

// Chart is one rendered PNG chart.
type Chart struct {
	// Name is a file name unique among the charts of one results file,
	// made of the kind and the cell group: "throughput_fsync-storm_t2_tmpfs_compact.png".
	Name  string
	Title string
	// Kind is "throughput", "p99" or "series".
	Kind string
	// Group is the label of the scenario group the chart belongs to, as
	// in cellGroup.label.
	Group string
	PNG   []byte
}

// Chart geometry and fonts are fixed, never taken from plot.DefaultFont or
// the environment, so the same results always give the same bytes.
const (
	chartDPI    = 96
	panelWidth  = 2.8 * vg.Inch
	minWidth    = 6 * vg.Inch
	chartHeight = 3.2 * vg.Inch
)

var chartFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// strategyColors colour strategies by their order of first appearance in a
// results file. Time-series charts draw operations, not strategies, so they
// use none of these colours: opLineColor with a dash pattern per operation
// for the lines, and exclusiveShades for the intervals of exclusive
// operations. A reader who has learnt "blue is rwsem" from the bar charts
// must not read a blue line as rwsem.
var (
	strategyColors = []color.NRGBA{
		{0x59, 0x59, 0x59, 0xff}, // the first (usually none): grey
		{0x1f, 0x77, 0xb4, 0xff},
		{0xff, 0x7f, 0x0e, 0xff},
		{0x2c, 0xa0, 0x2c, 0xff},
		{0xd6, 0x27, 0x28, 0xff},
		{0x94, 0x67, 0xbd, 0xff},
		{0x8c, 0x56, 0x4b, 0xff},
		{0xe3, 0x77, 0xc2, 0xff},
	}
	// opLineColor is near black: no strategy's colour.
	opLineColor = color.NRGBA{0x1a, 0x1a, 0x1a, 0xff}
	// opDashes tell the line operations of one chart apart.
	opDashes = [][]vg.Length{
		nil,
		{vg.Points(6), vg.Points(3)},
		{vg.Points(1.5), vg.Points(2)},
		{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)},
	}
	// exclusiveShades give each exclusive operation the same translucent
	// shade in every chart, from hues the strategies do not use: cyan and
	// olive, the two tab10 hues strategyColors leaves out, gold, and light
	// grey. An operation not listed takes exclusiveOther.
	exclusiveShades = map[string]color.NRGBA{
		"fsync":     {0x17, 0xbe, 0xcf, 0x55},
		"punch":     {0xe6, 0xab, 0x02, 0x55},
		"truncate":  {0xbc, 0xbd, 0x22, 0x55},
		"re-inline": {0x7f, 0x7f, 0x7f, 0x40},
	}
	exclusiveOther = color.NRGBA{0x7f, 0x7f, 0x7f, 0x40}
)

// Charts renders the charts of f: for each scenario group a throughput
// chart (a panel per operation, a bar per strategy, the median with its
// confidence interval) and a p99 latency chart (the same on a log scale),
// and for each cell that recorded a time series, the operations per window
// of its first such repetition with the exclusive operations (fsync, punch,
// truncate) shaded.
func Charts(f *results.File) ([]Chart, error) {
	return charts(f, Summarize(f))
}

// WriteCharts writes the charts of f as PNG files into dir (which must
// exist) and returns their paths in order.
func WriteCharts(dir string, f *results.File) ([]string, error) {
	cs, err := Charts(f)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(cs))
	for _, c := range cs {
		p := filepath.Join(dir, c.Name)
		if err := os.WriteFile(p, c.PNG, 0o644); err != nil {
			return paths, fmt.Errorf("chart %s: %w", c.Name, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func charts(f *results.File, sums []CellSummary) ([]Chart, error) {
	colors := strategyColorMap(sums)
	var out []Chart
	names := map[string]int{}
	add := func(c Chart) {
		// Two groups can share a slug after sanitising; number repeats.
		base := strings.TrimSuffix(c.Name, ".png")
		if n := names[base]; n > 0 {
			c.Name = fmt.Sprintf("%s_%d.png", base, n+1)
		}
		names[base]++
		out = append(out, c)
	}
	for _, g := range groupCells(sums) {
		png, err := panelChart(g, colors, "ops/s", false, func(o *OpSummary) Estimate { return o.PerSecond }, formatRate)
		if err != nil {
			return nil, fmt.Errorf("throughput chart %s: %w", g.label, err)
		}
		if png != nil {
			add(Chart{Name: "throughput_" + g.slug + ".png", Title: "Throughput: " + g.label, Kind: "throughput", Group: g.label, PNG: png})
		}
		png, err = panelChart(g, colors, "p99 latency", true, func(o *OpSummary) Estimate { return o.P99 }, formatNanos)
		if err != nil {
			return nil, fmt.Errorf("p99 chart %s: %w", g.label, err)
		}
		if png != nil {
			add(Chart{Name: "p99_" + g.slug + ".png", Title: "p99 latency: " + g.label, Kind: "p99", Group: g.label, PNG: png})
		}
	}
	for i := range f.Cells {
		c := &f.Cells[i]
		rep := firstSeries(c)
		if rep == nil {
			continue
		}
		g := groupOf(sums[i].Config)
		title := fmt.Sprintf("%s, rep %d: %s", c.Config.Strategy, rep.Index, g.label)
		png, err := seriesChart(rep, title)
		if err != nil {
			return nil, fmt.Errorf("series chart %s: %w", title, err)
		}
		name := "series_" + fileSlug(c.Config.Strategy)
		if c.Config.Options != "" {
			name += "_" + fileSlug(c.Config.Options)
		}
		add(Chart{Name: name + "_" + g.slug + ".png", Title: "Time series: " + title, Kind: "series", Group: g.label, PNG: png})
	}
	return out, nil
}

// cellGroup is the cells that can be compared with each other: one
// scenario, thread count, target, placement and size, several strategies.
type cellGroup struct {
	key   comparableKey
	label string // "fsync-storm, 2 threads, tmpfs, pin compact"
	slug  string // "fsync-storm_t2_tmpfs_compact", for file names
	cells []*CellSummary
	ops   []opKey
}

type opKey struct{ op, role string }

// groupOf returns the (empty) group a config belongs to.
func groupOf(c results.Config) cellGroup {
	label := fmt.Sprintf("%s, %d threads, %s", c.Scenario, c.Threads, c.Target)
	slug := fmt.Sprintf("%s_t%d_%s", fileSlug(c.Scenario), c.Threads, fileSlug(c.Target))
	if c.Pin != "" {
		label += ", pin " + c.Pin
		slug += "_" + fileSlug(c.Pin)
	}
	return cellGroup{key: keyOf(c), label: label, slug: slug}
}

// groupCells groups summaries by comparableKey, in order of first
// appearance, with the union of their operations in order of appearance.
func groupCells(sums []CellSummary) []*cellGroup {
	var groups []*cellGroup
	byKey := map[comparableKey]*cellGroup{}
	for i := range sums {
		s := &sums[i]
		k := keyOf(s.Config)
		g, ok := byKey[k]
		if !ok {
			ng := groupOf(s.Config)
			g = &ng
			byKey[k] = g
			groups = append(groups, g)
		}
		g.cells = append(g.cells, s)
		for _, o := range s.Ops {
			if k := (opKey{o.Op, o.Role}); !containsOp(g.ops, k) {
				g.ops = append(g.ops, k)
			}
		}
	}
	return groups
}

func containsOp(ops []opKey, k opKey) bool {
	for _, o := range ops {
		if o == k {
			return true
		}
	}
	return false
}

// strategyLabel names a cell in a group: the strategy, with its options
// when set (two faultretry cells differ only there).
func strategyLabel(c results.Config) string {
	if c.Options != "" {
		return c.Strategy + " (" + c.Options + ")"
	}
	return c.Strategy
}

func strategyColorMap(sums []CellSummary) map[string]color.Color {
	m := map[string]color.Color{}
	for _, s := range sums {
		if _, ok := m[s.Config.Strategy]; !ok {
			m[s.Config.Strategy] = strategyColors[len(m)%len(strategyColors)]
		}
	}
	return m
}

// fileSlug keeps letters, digits, '.', '-' and '_' and turns the rest
// into '_'.
func fileSlug(s string) string {
	if s == "" {
		return "unset"
	}
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// newPlot returns a plot with the fixed chart fonts.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(chartFont, 10)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(chartFont, 9)
		a.Tick.Label.Font = font.From(chartFont, 8)
	}
	p.Legend.TextStyle.Font = font.From(chartFont, 8)
	return p
}

// formattedTicks labels another Ticker's major ticks with format.
type formattedTicks struct {
	plot.Ticker
	format func(float64) string
}

func (t formattedTicks) Ticks(min, max float64) []plot.Tick {
	ts := t.Ticker.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = t.format(ts[i].Value)
		}
	}
	return ts
}

// logTicks labels the decades of a log axis with format and, when the
// axis spans at most maxLabelledDecades, the 2s and 5s between them too:
// a panel from 1ms to 10ms otherwise shows two labels for the whole scale.
type logTicks struct {
	format func(float64) string
}

const maxLabelledDecades = 3

func (t logTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.LogTicks{Prec: -1}.Ticks(min, max)
	dense := math.Log10(max/min) <= maxLabelledDecades+1e-9
	out := ts[:0]
	for i, tk := range ts {
		// LogTicks repeats each decade as an unlabelled minor tick.
		if i > 0 && tk.Value == ts[i-1].Value {
			continue
		}
		mant := tk.Value / math.Pow(10, math.Floor(math.Log10(tk.Value)+1e-9))
		if tk.Label != "" || dense && (math.Abs(mant-2) < 1e-6 || math.Abs(mant-5) < 1e-6) {
			tk.Label = t.format(tk.Value)
		}
		out = append(out, tk)
	}
	return out
}

// errorPoints is the XYs and YErrors a plotter.YErrorBars is built from.
type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}

// panelChart draws one panel per operation of g, a bar per strategy at the
// median of measure, with the confidence interval as an error bar when
// there is more than one repetition. With logY the bars rise from a power
// of ten below the smallest value rather than from zero. It returns nil
// when no operation has a value to draw.
func panelChart(g *cellGroup, colors map[string]color.Color, what string, logY bool,
	measure func(*OpSummary) Estimate, format func(float64) string) ([]byte, error) {
	var plots []*plot.Plot
	reduced := false
	for _, k := range g.ops {
		type bar struct {
			x float64
			e Estimate
			c color.Color
		}
		var bars []bar
		var labels []string
		lo, hi := math.Inf(1), 0.0
		for i, cell := range g.cells {
			labels = append(labels, strategyLabel(cell.Config))
			o := findOp(cell.Ops, k.op, k.role)
			if o == nil {
				continue
			}
			e := measure(o)
			if !e.Valid() || logY && e.Lo <= 0 {
				continue
			}
			bars = append(bars, bar{float64(i), e, colors[cell.Config.Strategy]})
			lo, hi = math.Min(lo, e.Lo), math.Max(hi, e.Hi)
		}
		if len(bars) == 0 {
			continue
		}
		p := newPlot(k.op)
		p.NominalX(labels...)
		p.X.Min, p.X.Max = -0.5, float64(len(labels))-0.5
		base := 0.0
		if logY {
			base = math.Pow(10, math.Floor(math.Log10(lo)))
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = logTicks{format}
			// Whole decades, so the top and bottom ticks are labelled.
			p.Y.Min, p.Y.Max = base, math.Pow(10, math.Ceil(math.Log10(hi*1.01)))
		} else {
			p.Y.Tick.Marker = formattedTicks{plot.DefaultTicks{}, format}
			p.Y.Min, p.Y.Max = 0, math.Max(hi*1.1, 1)
		}
		var ep errorPoints
		for _, b := range bars {
			poly, err := plotter.NewPolygon(plotter.XYs{
				{X: b.x - 0.35, Y: base}, {X: b.x + 0.35, Y: base},
				{X: b.x + 0.35, Y: b.e.Median}, {X: b.x - 0.35, Y: b.e.Median},
			})
			if err != nil {
				return nil, err
			}
			poly.Color = b.c
			poly.LineStyle.Width = 0
			p.Add(poly)
			if b.e.N > 1 {
				reduced = reduced || b.e.Reduced()
				ep.XYs = append(ep.XYs, plotter.XY{X: b.x, Y: b.e.Median})
				ep.YErrors = append(ep.YErrors, struct{ Low, High float64 }{b.e.Median - b.e.Lo, b.e.Hi - b.e.Median})
			}
		}
		if len(ep.XYs) > 0 {
			eb, err := plotter.NewYErrorBars(ep)
			if err != nil {
				return nil, err
			}
			eb.LineStyle.Width = vg.Points(1)
			eb.CapWidth = vg.Points(8)
			p.Add(eb)
		}
		plots = append(plots, p)
	}
	if len(plots) == 0 {
		return nil, nil
	}
	w := max(panelWidth*vg.Length(len(plots)), minWidth)
	// Note: the subtitle would fit better as a y-axis label, but gonum
	// shrinks a log-scale panel to make room for a rotated label, which
	// unlevels the panels.
	sub := fmt.Sprintf("median of reps, error bars: %.0f%% CI of the median", 100*Confidence)
	if reduced {
		sub = fmt.Sprintf("median of reps, error bars: min to max (too few reps for a %.0f%% CI)", 100*Confidence)
	}
	title := what + ": " + g.label + "\n" + sub
	return drawPanels(plots, title, w, chartHeight)
}

// drawPanels lays plots out in one row under a title and encodes the PNG.
func drawPanels(plots []*plot.Plot, title string, w, h vg.Length) ([]byte, error) {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(chartDPI))
	dc := draw.New(img)
	drawTitle(dc, title)
	tiles := draw.Tiles{
		Rows: 1, Cols: len(plots),
		PadTop: titleHeight, PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8),
		PadX: vg.Points(16),
	}
	// Note: plot.Align would line the data areas up exactly, but it moves
	// each panel's title with its tick labels' width; plain tiles keep
	// titles level, which reads better for panels with their own scales.
	for j, p := range plots {
		p.Draw(tiles.At(dc, j, 0))
	}
	return encodePNG(img)
}

// titleHeight is the band at the top of a chart that drawTitle fills: a
// margin, a title line and a subtitle line, and a gap above the panels.
var titleHeight = vg.Points(40)

// drawTitle writes a (two-line) chart title centred at the top of c, a
// margin below its top edge.
func drawTitle(c draw.Canvas, title string) {
	style := text.Style{
		Color:   color.Black,
		Font:    font.From(chartFont, 11),
		XAlign:  draw.XCenter,
		YAlign:  draw.YTop,
		Handler: plot.DefaultTextHandler,
	}
	c.FillText(style, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(6)}, title)
}

func encodePNG(img *vgimg.Canvas) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// firstSeries returns the first repetition of c that recorded a time
// series, or nil.
func firstSeries(c *results.Cell) *results.Rep {
	for i := range c.Reps {
		if len(c.Reps[i].Series) > 0 {
			return &c.Reps[i]
		}
	}
	return nil
}

// seriesChart plots the operations per window of one repetition, one step
// line per operation that is not exclusive, with the intervals during
// which an exclusive operation ran shaded behind them (overlapping
// intervals of one kind merged). The title and its subtitle sit in a band
// above the plot and the legend to the right of it, so neither covers
// data or shading whatever the values.
//
// Note: a legend inside the data area needs headroom sized to its rows,
// and still sits on the shading, which runs to the top of the axis; the
// legend beside the plot costs some width and nothing else.
func seriesChart(rep *results.Rep, title string) ([]byte, error) {
	exclusive := map[string][][2]float64{}
	for _, e := range rep.Exclusive {
		exclusive[e.Op] = append(exclusive[e.Op], [2]float64{e.Start.Seconds(), e.End.Seconds()})
	}
	var lineOps []string
	seen := map[string]bool{}
	for _, w := range rep.Series {
		for op := range w.Ops {
			if !seen[op] {
				seen[op] = true
				if _, ex := exclusive[op]; !ex {
					lineOps = append(lineOps, op)
				}
			}
		}
	}
	sort.Strings(lineOps)
	if len(lineOps) == 0 { // only exclusive operations: draw them all
		for op := range seen {
			lineOps = append(lineOps, op)
		}
		sort.Strings(lineOps)
	}

	width := 0.0
	if len(rep.Series) > 1 {
		width = (rep.Series[1].Start - rep.Series[0].Start).Seconds()
	}
	p := newPlot("")
	p.X.Label.Text = "time since start of repetition (s)"
	p.Y.Label.Text = "operations per window"
	if width > 0 {
		p.Y.Label.Text = fmt.Sprintf("operations per %s window", formatNanos(width*1e9))
	}
	p.Y.Tick.Marker = formattedTicks{plot.DefaultTicks{}, formatRate}

	ymax := 1.0
	lines := make([]plotter.XYs, len(lineOps))
	for i, op := range lineOps {
		for _, w := range rep.Series {
			v := float64(w.Ops[op])
			lines[i] = append(lines[i], plotter.XY{X: w.Start.Seconds(), Y: v})
			ymax = math.Max(ymax, v)
		}
		// Close the last window so its step has a width.
		if n := len(lines[i]); n > 0 && width > 0 {
			lines[i] = append(lines[i], plotter.XY{X: lines[i][n-1].X + width, Y: lines[i][n-1].Y})
		}
	}
	// Headroom, so the highest step does not run along the top edge.
	ymax *= 1.15
	p.Y.Min, p.Y.Max = 0, ymax

	legend := plot.NewLegend()
	legend.TextStyle.Font = font.From(chartFont, 8)
	legend.Left, legend.Top = true, true
	// Padding keeps the swatches of adjacent entries apart.
	legend.Padding = vg.Points(3)
	legend.ThumbnailWidth = vg.Points(18)

	kinds := make([]string, 0, len(exclusive))
	for k := range exclusive {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		var rings []plotter.XYer
		for _, iv := range mergeIntervals(exclusive[k]) {
			rings = append(rings, plotter.XYs{{X: iv[0], Y: 0}, {X: iv[1], Y: 0}, {X: iv[1], Y: ymax}, {X: iv[0], Y: ymax}})
		}
		poly, err := plotter.NewPolygon(rings...)
		if err != nil {
			return nil, err
		}
		shade, ok := exclusiveShades[k]
		if !ok {
			shade = exclusiveOther
		}
		poly.Color = shade
		poly.LineStyle.Width = 0
		p.Add(poly)
		legend.Add(k+" (exclusive)", poly)
	}
	for i, op := range lineOps {
		l, err := plotter.NewLine(lines[i])
		if err != nil {
			return nil, err
		}
		l.StepStyle = plotter.PostStep
		l.LineStyle.Width = vg.Points(1.5)
		l.LineStyle.Color = opLineColor
		l.LineStyle.Dashes = opDashes[i%len(opDashes)]
		p.Add(l)
		legend.Add(op, l)
	}

	w := 7.5 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, chartHeight), vgimg.UseDPI(chartDPI))
	dc := draw.New(img)
	drawTitle(dc, title+"\nlines and shading are operations (colours here are not strategies)")
	margin := vg.Points(8)
	legendWidth := legend.Rectangle(dc).Size().X
	body := draw.Crop(dc, vg.Points(4), -(legendWidth + 2*margin), vg.Points(4), -titleHeight)
	p.Draw(body)
	// The legend's top lines up with the top of the y axis, half a tick
	// label above the data area's top; it is never drawn on the plot.
	legend.Draw(draw.Crop(dc, w-legendWidth-margin, -margin, 0, -titleHeight))
	return encodePNG(img)
}

// mergeIntervals sorts intervals and merges those that overlap or touch.
func mergeIntervals(ivs [][2]float64) [][2]float64 {
	s := append([][2]float64(nil), ivs...)
	sort.Slice(s, func(i, j int) bool { return s[i][0] < s[j][0] })
	var out [][2]float64
	for _, iv := range s {
		if n := len(out); n > 0 && iv[0] <= out[n-1][1] {
			out[n-1][1] = math.Max(out[n-1][1], iv[1])
			continue
		}
		out = append(out, iv)
	}
	return out
}
