package reports

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// exclusiveOps are the operations that hold a lock exclusively and so
// stall the others: their own latency is part of the story.
var exclusiveOps = map[string]bool{"fsync": true, "punch": true, "truncate": true}

// foregroundRoles are the roles whose latency users feel.
var foregroundRoles = map[string]bool{"faulter": true, "writer": true, "reader": true}

// barOps are the operations of g a p99 chart shows: every foreground
// operation but plain stores and loads (which fault only now and then and
// are sampled), and the exclusive operations, when at least two
// strategies have them.
func barOps(g *cellGroup) []opKey {
	var out []opKey
	for _, k := range g.ops {
		if !exclusiveOps[k.op] && !(foregroundRoles[k.role] && k.op != "store" && k.op != "load") {
			continue
		}
		// An operation only one strategy has (the kernel engine's
		// write-fault@fsync) compares nothing: its table row says it.
		n := 0
		for _, c := range g.cells {
			if o := findOp(c.Ops, k.op, k.role); o != nil && o.P99.Valid() {
				n++
			}
		}
		if n >= min(2, len(g.cells)) {
			out = append(out, k)
		}
	}
	return out
}

// textWidth is the width of s in the chart font at size points.
func textWidth(s string, size vg.Length) vg.Length {
	face := font.DefaultCache.Lookup(chartFont, size)
	return face.Width(s)
}

// p99Spec is the p99 latency of every operation of barOps(g): a panel per
// operation and role, a bar per strategy at the median of the
// repetitions, whiskers at the confidence interval, on a log scale. It is
// nil when no operation has a latency.
func p99Spec(g *cellGroup, pal palette) (*chartSpec, error) {
	s := &chartSpec{legendRow: true, Chart: Chart{
		Name: "p99_" + g.slug + ".png", Title: "p99 latency per operation: " + g.label,
		Kind: "p99", Group: g.label, Scenario: g.key.Scenario, Target: g.target,
	}}
	var labels []string
	for _, c := range g.cells {
		labels = append(labels, shortName(c.Config.Strategy))
		s.addLegend(strategyLabelShort(c), swatch(pal[c.Config.Strategy]))
	}
	s.cols = barColumns(s, labels)
	reduced := false
	for _, k := range barOps(g) {
		p, red, err := barPanel(g, k, labels, pal)
		if err != nil {
			return nil, err
		}
		if p != nil {
			s.panels = append(s.panels, p)
			reduced = reduced || red
		}
	}
	if len(s.panels) == 0 {
		return nil, nil
	}
	s.subtitle = "bars: median of the reps; " + ciSubtitle(reduced)
	if oc := optionsCaption(g.cells); oc != "" {
		s.subtitle += "; " + oc
	}
	return s, nil
}

// strategyLabelShort is a legend entry: the strategy name; its options
// are in the subtitle.
func strategyLabelShort(c *CellSummary) string { return c.Config.Strategy }

// swatch is a legend thumbnail of a filled colour.
func swatch(c color.Color) plot.Thumbnailer {
	poly, _ := plotter.NewPolygon(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}})
	poly.Color = c
	poly.LineStyle.Width = 0
	return poly
}

// barColumns is 2 panels a row when the strategy names fit under the bars
// at that width, else 1.
func barColumns(s *chartSpec, labels []string) int {
	widest := vg.Length(0)
	for _, l := range labels {
		widest = max(widest, textWidth(l, tickSize))
	}
	legendW := vg.Length(0)
	if !s.inRow() {
		for _, n := range s.legendNames {
			legendW = max(legendW, textWidth(n, legendSize)+vg.Points(40))
		}
	}
	// The y axis of a panel takes about 44pt (label, ticks, tick labels).
	avail := (chartWidth-legendW-vg.Points(12)-panelGapX)/2 - vg.Points(44)
	if avail/vg.Length(max(len(labels), 1)) >= widest+vg.Points(4) {
		return 2
	}
	return 1
}

// barPanel is one operation's panel; reduced reports whether an interval
// has less than the requested confidence.
func barPanel(g *cellGroup, k opKey, labels []string, pal palette) (*plot.Plot, bool, error) {
	type bar struct {
		x float64
		e Estimate
		c color.Color
	}
	var bars []bar
	lo, hi := math.Inf(1), 0.0
	for i, cell := range g.cells {
		o := findOp(cell.Ops, k.op, k.role)
		if o == nil || !o.P99.Valid() || o.P99.Lo <= 0 {
			continue
		}
		bars = append(bars, bar{float64(i), o.P99, pal[cell.Config.Strategy]})
		lo, hi = math.Min(lo, o.P99.Lo), math.Max(hi, o.P99.Hi)
	}
	if len(bars) == 0 {
		return nil, false, nil
	}
	p := newPlot(fmt.Sprintf("%s (%s)", k.op, k.role), "", "p99 latency")
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.5, float64(len(labels))-0.5
	base := math.Pow(10, math.Floor(math.Log10(lo)))
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{format: formatNanos, maxLabels: maxYLabels}
	p.Y.Min, p.Y.Max = base, math.Pow(10, math.Ceil(math.Log10(hi*1.01)))
	reduced := false
	var ep errorPoints
	for _, b := range bars {
		poly, err := plotter.NewPolygon(plotter.XYs{
			{X: b.x - 0.35, Y: base}, {X: b.x + 0.35, Y: base},
			{X: b.x + 0.35, Y: b.e.Median}, {X: b.x - 0.35, Y: b.e.Median},
		})
		if err != nil {
			return nil, false, err
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
			return nil, false, err
		}
		eb.LineStyle.Width = vg.Points(1)
		eb.CapWidth = vg.Points(8)
		p.Add(eb)
	}
	return p, reduced, nil
}

// errorPoints is the XYs and YErrors a plotter.YErrorBars is built from.
type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}
