package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"lockbench/results"
)

// This file is the chart framework: a chart is first built as a chartSpec
// (panels, legend, size) by one of the builders in charts_*.go, then drawn
// once by drawSpec. Tests inspect the specs: every chart has a legend and
// no two tick labels of an axis overlap at the size it is drawn.

// Chart is one rendered PNG chart.
type Chart struct {
	// Name is a file name unique among the charts of one results file,
	// made of the kind and the cell group: "p99_fsync-storm_t2_tmpfs.png".
	Name  string
	Title string
	// Kind is "p99", "spectrum", "scaling" or "series".
	Kind string
	// Group is the label of the scenario group the chart belongs to, as
	// in cellGroup.label; a scaling chart's group has no thread count.
	Group string
	// Scenario and Target place the chart in the report.
	Scenario, Target string
	PNG              []byte
}

// Chart geometry and fonts are fixed, never taken from plot.DefaultFont or
// the environment, so the same results always give the same bytes. A
// chart is chartWidth wide so that two targets fit side by side in a
// 1400-pixel window at 100% zoom.
const (
	chartDPI    = 96
	chartWidth  = 6.8 * vg.Inch
	panelHeight = 1.9 * vg.Inch
	// soloHeight is the height of a chart with one panel.
	soloHeight = 2.8 * vg.Inch
)

var chartFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// Font sizes, in points.
const (
	titleSize  = 11
	labelSize  = 9
	tickSize   = 8
	legendSize = 8
)

// strategyColors give every strategy one colour in every chart: the
// unsafe baseline grey, the others tab10 hues. Strategies not listed take
// extraColors in order of appearance. Time-series shading uses
// exclusiveShades, hues no strategy has.
var (
	strategyColors = map[string]color.NRGBA{
		"none":       {0x59, 0x59, 0x59, 0xff},
		"rangelock":  {0x1f, 0x77, 0xb4, 0xff},
		"rwsem":      {0xff, 0x7f, 0x0e, 0xff},
		"seqcount":   {0x2c, 0xa0, 0x2c, 0xff},
		"faultretry": {0xd6, 0x27, 0x28, 0xff},
		"kernel":     {0x94, 0x67, 0xbd, 0xff},
	}
	extraColors = []color.NRGBA{
		{0x8c, 0x56, 0x4b, 0xff},
		{0xe3, 0x77, 0xc2, 0xff},
		{0x7f, 0x7f, 0x7f, 0xff},
	}
	// strategyDashes tell lines apart where colours alone may not (print,
	// colour blindness): a dash pattern per strategy, in the same order.
	strategyDashes = map[string][]vg.Length{
		"none":       {vg.Points(2), vg.Points(2)},
		"rangelock":  nil,
		"rwsem":      {vg.Points(6), vg.Points(2)},
		"seqcount":   {vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)},
		"faultretry": {vg.Points(1.5), vg.Points(1.5)},
		"kernel":     nil,
	}
	// exclusiveShades give each exclusive operation the same translucent
	// shade in every chart, from hues the strategies do not use.
	exclusiveShades = map[string]color.NRGBA{
		"fsync":     {0x17, 0xbe, 0xcf, 0x50},
		"punch":     {0xe6, 0xab, 0x02, 0x50},
		"truncate":  {0xbc, 0xbd, 0x22, 0x50},
		"re-inline": {0x7f, 0x7f, 0x7f, 0x40},
	}
	exclusiveOther = color.NRGBA{0x7f, 0x7f, 0x7f, 0x40}
)

// palette assigns strategy colours for one results file or report.
type palette map[string]color.Color

func newPalette(sums []CellSummary) palette {
	p := palette{}
	extra := 0
	for _, s := range sums {
		name := s.Config.Strategy
		if _, ok := p[name]; ok {
			continue
		}
		if c, ok := strategyColors[name]; ok {
			p[name] = c
			continue
		}
		p[name] = extraColors[extra%len(extraColors)]
		extra++
	}
	return p
}

// shortNames are the strategy names on axes, short enough for six bars
// in a panel; the legend and the captions give the full names and options.
var shortNames = map[string]string{
	"none": "none", "rangelock": "range", "rwsem": "rwsem", "seqcount": "seq", "faultretry": "retry", "kernel": "kernel",
}

func shortName(strategy string) string {
	if s, ok := shortNames[strategy]; ok {
		return s
	}
	if len(strategy) > 6 {
		return strategy[:6]
	}
	return strategy
}

// chartSpec is a chart before it is drawn.
type chartSpec struct {
	Chart
	subtitle string
	panels   []*plot.Plot
	cols     int
	// rowHeight is the height of a row of panels (0: panelHeight).
	rowHeight vg.Length
	// legend is drawn to the right of the panels, or with legendRow in
	// one row under the title when it fits (the panels get the width);
	// legendNames and legendThumbs are its entries (plot.Legend keeps
	// them private).
	legend       *plot.Legend
	legendNames  []string
	legendThumbs [][]plot.Thumbnailer
	legendRow    bool
}

// addLegend adds an entry to the spec's legend.
func (s *chartSpec) addLegend(name string, thumbs ...plot.Thumbnailer) {
	if s.legend == nil {
		l := plot.NewLegend()
		l.TextStyle.Font = font.From(chartFont, legendSize)
		l.Left, l.Top = true, true
		l.Padding = vg.Points(3)
		l.ThumbnailWidth = vg.Points(18)
		s.legend = &l
	}
	s.legend.Add(name, thumbs...)
	s.legendNames = append(s.legendNames, name)
	s.legendThumbs = append(s.legendThumbs, thumbs)
}

// Legend row geometry: a thumbnail, a gap, the name, a wider gap.
var (
	rowThumbW   = vg.Points(16)
	rowGap      = vg.Points(4)
	rowEntryGap = vg.Points(12)
	rowHeight   = vg.Points(legendSize + 8)
)

// inRow reports whether the legend is drawn as a row: asked for, and it
// fits the chart's width.
func (s *chartSpec) inRow() bool {
	if !s.legendRow || s.legend == nil {
		return false
	}
	w := vg.Length(0)
	for _, n := range s.legendNames {
		w += rowThumbW + rowGap + textWidth(n, legendSize) + rowEntryGap
	}
	return w <= chartWidth-vg.Points(16)
}

// drawLegendRow draws the legend's entries in one centred row in c.
func (s *chartSpec) drawLegendRow(c draw.Canvas) {
	total := vg.Length(0)
	for _, n := range s.legendNames {
		total += rowThumbW + rowGap + textWidth(n, legendSize) + rowEntryGap
	}
	x := (c.Min.X+c.Max.X)/2 - (total-rowEntryGap)/2
	y := c.Max.Y - rowHeight/2
	style := s.legend.TextStyle
	style.XAlign, style.YAlign = draw.XLeft, draw.YCenter
	for i, n := range s.legendNames {
		th := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: y - vg.Points(legendSize)/2},
			Max: vg.Point{X: x + rowThumbW, Y: y + vg.Points(legendSize)/2},
		}}
		for _, t := range s.legendThumbs[i] {
			t.Thumbnail(&th)
		}
		x += rowThumbW + rowGap
		c.FillText(style, vg.Point{X: x, Y: y}, n)
		x += textWidth(n, legendSize) + rowEntryGap
	}
}

// titleLines is the chart's title and subtitle wrapped to its width.
func (s *chartSpec) titleLines() []string {
	w := chartWidth - vg.Points(16)
	lines := wrapText(s.Title, w, titleSize)
	if s.subtitle != "" {
		lines = append(lines, wrapText(s.subtitle, w, titleSize)...)
	}
	return lines
}

// titleHeight is the band at the top of a chart for its title lines.
func (s *chartSpec) titleHeight() vg.Length {
	return vg.Points(8) + vg.Length(len(s.titleLines()))*vg.Points(titleSize*1.25) + vg.Points(4)
}

// wrapText breaks s into lines no wider than w at size points, at spaces
// (after "; " where it can).
func wrapText(s string, w vg.Length, size vg.Length) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		try := word
		if line != "" {
			try = line + " " + word
		}
		if line != "" && textWidth(try, size) > w {
			lines = append(lines, line)
			line = word
			continue
		}
		line = try
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

var (
	legendMargin = vg.Points(8)
	panelGapX    = vg.Points(14)
	panelGapY    = vg.Points(10)
)

// size is the whole chart's size: chartWidth by a band per panel row.
func (s *chartSpec) size() (w, h vg.Length) {
	rows := (len(s.panels) + s.cols - 1) / s.cols
	rh := s.rowHeight
	if rh == 0 {
		rh = panelHeight
	}
	h = s.titleHeight() + vg.Length(rows)*rh + vg.Points(6)
	if s.inRow() {
		h += rowHeight
	}
	return chartWidth, h
}

// layout returns the canvas each panel is drawn in and the legend's, on
// a canvas dc of the chart's size.
func (s *chartSpec) layout(dc draw.Canvas) (panels []draw.Canvas, legend draw.Canvas) {
	w, _ := s.size()
	legendW := vg.Length(0)
	if s.legend != nil && !s.inRow() {
		legendW = s.legend.Rectangle(dc).Size().X + 2*legendMargin
	}
	th := s.titleHeight()
	if s.inRow() {
		legend = draw.Crop(dc, 0, 0, 0, -th)
		th += rowHeight
	}
	body := draw.Crop(dc, vg.Points(4), -legendW, vg.Points(6), -th)
	rows := (len(s.panels) + s.cols - 1) / s.cols
	tiles := draw.Tiles{Rows: rows, Cols: s.cols, PadX: panelGapX, PadY: panelGapY}
	for i := range s.panels {
		panels = append(panels, tiles.At(body, i%s.cols, i/s.cols))
	}
	if !s.inRow() {
		legend = draw.Crop(dc, w-legendW+legendMargin, -legendMargin, 0, -th)
	}
	return panels, legend
}

// draw renders the spec as a PNG.
func (s *chartSpec) draw() ([]byte, error) {
	w, h := s.size()
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(chartDPI))
	dc := draw.New(img)
	drawTitle(dc, strings.Join(s.titleLines(), "\n"))
	panels, legend := s.layout(dc)
	for i, p := range s.panels {
		p.Draw(panels[i])
	}
	switch {
	case s.inRow():
		s.drawLegendRow(legend)
	case s.legend != nil:
		s.legend.Draw(legend)
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// drawTitle writes a (two-line) chart title centred at the top of c.
func drawTitle(c draw.Canvas, title string) {
	style := text.Style{
		Color:   color.Black,
		Font:    font.From(chartFont, titleSize),
		XAlign:  draw.XCenter,
		YAlign:  draw.YTop,
		Handler: plot.DefaultTextHandler,
	}
	c.FillText(style, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(6)}, title)
}

// newPlot returns a panel with the fixed chart fonts.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(chartFont, labelSize+1)
	p.Title.Padding = vg.Points(3)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(chartFont, labelSize)
		a.Tick.Label.Font = font.From(chartFont, tickSize)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	return p
}

// Charts renders the charts of f, in report order: per scenario group
// the p99 bars of every role's operations, the latency spectrum of the
// scenario's key operation and the time series around its exclusive
// operations; per scenario and target with several thread counts, the
// throughput against threads.
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
		if err := writeFileAtomic(p, c.PNG); err != nil {
			return paths, fmt.Errorf("chart %s: %w", c.Name, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// maxChartName bounds a chart's file name, far below the 255 bytes a
// name may have, so that a long target path (its slug) cannot make the
// report fail half-written with "file name too long".
const maxChartName = 120

// boundName shortens a chart name longer than maxChartName: its start,
// then a hash of the whole name, which keeps names distinct.
func boundName(name string) string {
	if len(name) <= maxChartName {
		return name
	}
	base := strings.TrimSuffix(name, ".png")
	sum := sha256.Sum256([]byte(base))
	keep := base[:maxChartName-len(".png")-1-16]
	for !utf8.ValidString(keep) {
		keep = keep[:len(keep)-1]
	}
	return keep + "_" + hex.EncodeToString(sum[:8]) + ".png"
}

func charts(f *results.File, sums []CellSummary) ([]Chart, error) {
	specs, err := chartSpecs(f, sums)
	if err != nil {
		return nil, err
	}
	out := make([]Chart, 0, len(specs))
	names := map[string]int{}
	for _, s := range specs {
		png, err := s.draw()
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", s.Title, err)
		}
		c := s.Chart
		c.PNG = png
		c.Name = boundName(c.Name)
		// Two groups can share a slug after sanitising; number repeats.
		base := strings.TrimSuffix(c.Name, ".png")
		if n := names[base]; n > 0 {
			c.Name = fmt.Sprintf("%s_%d.png", base, n+1)
		}
		names[base]++
		out = append(out, c)
	}
	return out, nil
}

// chartSpecs builds every chart of f, undrawn.
func chartSpecs(f *results.File, sums []CellSummary) ([]*chartSpec, error) {
	pal := newPalette(sums)
	var out []*chartSpec
	add := func(s *chartSpec, err error) error {
		if err != nil {
			return err
		}
		if s != nil {
			out = append(out, s)
		}
		return nil
	}
	groups := groupCells(sums)
	for _, g := range groups {
		if err := add(p99Spec(g, pal)); err != nil {
			return nil, fmt.Errorf("p99 chart %s: %w", g.label, err)
		}
		if err := add(spectrumSpec(f, g, pal)); err != nil {
			return nil, fmt.Errorf("spectrum chart %s: %w", g.label, err)
		}
		if err := add(seriesSpec(f, g, pal)); err != nil {
			return nil, fmt.Errorf("series chart %s: %w", g.label, err)
		}
	}
	for _, sg := range scalingGroups(groups) {
		if err := add(scalingSpec(sg, pal)); err != nil {
			return nil, fmt.Errorf("scaling chart %s: %w", sg.label, err)
		}
	}
	return out, nil
}

// cellGroup is the cells that can be compared with each other: one
// scenario, thread count, target, placement and size, several strategies.
type cellGroup struct {
	key    comparableKey
	label  string // "fsync-storm, 2 threads, tmpfs, pin compact"
	slug   string // "fsync-storm_t2_tmpfs_compact", for file names
	target string // TargetLabel of the first cell
	cells  []*CellSummary
	ops    []opKey
}

type opKey struct{ op, role string }

// groupOf returns the (empty) group a config belongs to.
func groupOf(c results.Config) cellGroup {
	label := fmt.Sprintf("%s, %s, %s", c.Scenario, threadsText(c.Threads), TargetLabel(c))
	slug := fmt.Sprintf("%s_t%d_%s", fileSlug(c.Scenario), c.Threads, fileSlug(c.Target))
	if c.Pin != "" && c.Pin != "none" {
		label += ", pin " + c.Pin
		slug += "_" + fileSlug(c.Pin)
	}
	return cellGroup{key: keyOf(c), label: label, slug: slug, target: TargetLabel(c)}
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
			if k := (opKey{o.Op, o.Role}); !slices.Contains(g.ops, k) {
				g.ops = append(g.ops, k)
			}
		}
	}
	return groups
}

// strategyLabel names a cell in a legend or table: the strategy, with its
// options when set (two faultretry cells differ only there).
func strategyLabel(c results.Config) string {
	if c.Options != "" {
		return c.Strategy + " (" + c.Options + ")"
	}
	return c.Strategy
}

// optionsCaption lists the options of the cells that have them, for a
// subtitle: "faultretry: gup-share=0,fallback=sigbus".
func optionsCaption(cells []*CellSummary) string {
	var parts []string
	for _, c := range cells {
		if c.Config.Options != "" {
			p := c.Config.Strategy + ": " + c.Config.Options
			if !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
	}
	return strings.Join(parts, "; ")
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

// ciSubtitle says what the error bars are for estimates with reduced
// confidence or not.
func ciSubtitle(reduced bool) string {
	if reduced {
		return fmt.Sprintf("error bars: min to max of the reps (too few for a %.0f%% CI)", 100*Confidence)
	}
	return fmt.Sprintf("error bars: %.0f%% CI of the median of the reps", 100*Confidence)
}

// keyOp is the operation a scenario's spectrum and time series show: the
// first question's.
func keyOp(scenario string, ops []opKey) (opKey, bool) {
	for _, m := range scenarioMeasures(scenario) {
		if isLatency(m) && slices.Contains(ops, opKey{m.op, m.role}) {
			return opKey{m.op, m.role}, true
		}
	}
	k := opKey{defaultMeasure.op, defaultMeasure.role}
	return k, slices.Contains(ops, k)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}
