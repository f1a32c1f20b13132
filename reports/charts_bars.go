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

// p99Spec is the latency of every operation of barOps(g): a panel per
// operation and role with a horizontal bar per model strategy at the
// median p99 of the repetitions, whiskers at its confidence interval, the
// strategies named on the axis as in the legend; the kernel engine's
// operations on a panel of their own, on their own scale, since a real
// fault costs tens of times a modelled one and would flatten the model's
// bars beside it; and, for a scenario whose finding is the mean of the
// fastest 90% (fault-scale), that measure's panel first. It is nil when
// no operation has a latency.
func p99Spec(g *cellGroup, pal palette) (*chartSpec, error) {
	s := &chartSpec{legendRow: true, cols: 2, Chart: Chart{
		Name: "p99_" + g.slug + ".png", Title: "p99 latency per operation: " + g.label,
		Kind: "p99", Group: g.label, Scenario: g.key.Scenario, Target: g.target,
	}}
	var model []*CellSummary
	var kernel *CellSummary
	for _, c := range g.cells {
		if c.Config.Strategy == Kernel {
			kernel = c
			continue
		}
		model = append(model, c)
	}
	for _, c := range g.cells {
		s.addLegend(StrategyLabel(c.Config), swatch(pal[c.Config.Strategy]))
	}
	reduced := false
	addPanel := func(title string, bars []hbar) error {
		p, red, err := barPanel(title, bars)
		if err != nil || p == nil {
			return err
		}
		s.panels = append(s.panels, p)
		reduced = reduced || red
		return nil
	}
	mean90 := false
	for _, q := range questions {
		if q.scenario != g.key.Scenario {
			continue
		}
		for _, m := range q.measures {
			if m.name != "mean90" {
				continue
			}
			var bars []hbar
			for _, c := range model {
				if o := findOp(c.Ops, m.op, m.role); o != nil {
					bars = append(bars, hbar{c.Config.Strategy, trimmedMeans(c, o), pal[c.Config.Strategy]})
				}
			}
			if len(bars) > 1 {
				mean90 = true
				if err := addPanel(fmt.Sprintf("%s (%s): mean of the fastest 90%%", m.op, m.role), bars); err != nil {
					return nil, err
				}
			}
		}
	}
	var kbars []hbar
	for _, k := range barOps(g) {
		var bars []hbar
		for _, c := range model {
			if o := findOp(c.Ops, k.op, k.role); o != nil {
				bars = append(bars, hbar{c.Config.Strategy, o.P99, pal[c.Config.Strategy]})
			}
		}
		if err := addPanel(fmt.Sprintf("%s (%s): p99", k.op, k.role), bars); err != nil {
			return nil, err
		}
		if kernel != nil {
			if o := findOp(kernel.Ops, k.op, k.role); o != nil {
				kbars = append(kbars, hbar{k.op, o.P99, pal[Kernel]})
			}
		}
	}
	if len(s.panels) == 0 {
		return nil, nil
	}
	if len(kbars) > 0 {
		if err := addPanel(StrategyLabel(kernel.Config)+", the real kernel: p99 per operation", kbars); err != nil {
			return nil, err
		}
	}
	s.subtitle = "bars: median of the reps; " + ciSubtitle(reduced)
	if len(kbars) > 0 {
		s.subtitle += "; the kernel on its own panel and scale"
	}
	if mean90 {
		s.subtitle += "; mean of the fastest 90%: the operations at or below each rep's p90"
	}
	if oc := optionsCaption(g.cells); oc != "" {
		s.subtitle += "; " + oc
	}
	return s, nil
}

// hbar is one bar of a panel: its label on the axis, its estimate and
// colour.
type hbar struct {
	label string
	e     Estimate
	c     color.Color
}

// swatch is a legend thumbnail of a filled colour.
func swatch(c color.Color) plot.Thumbnailer {
	poly, _ := plotter.NewPolygon(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}})
	poly.Color = c
	poly.LineStyle.Width = 0
	return poly
}

// barPanel is one panel of horizontal bars, the first at the top; nil
// when no bar has a value. The latency axis is linear from 0 when the
// bars are within a factor 20 of each other, else logarithmic; either way
// it spans every whisker. reduced reports whether an interval has less
// than the requested confidence.
func barPanel(title string, in []hbar) (*plot.Plot, bool, error) {
	var bars []hbar
	lo, hi := math.Inf(1), 0.0
	for _, b := range in {
		if !b.e.Valid() || b.e.Median <= 0 {
			continue
		}
		bars = append(bars, b)
		lo, hi = math.Min(lo, math.Min(b.e.Lo, b.e.Median)), math.Max(hi, math.Max(b.e.Hi, b.e.Median))
	}
	if len(bars) == 0 {
		return nil, false, nil
	}
	p := newPlot(title, "latency", "")
	labels := make([]string, len(bars))
	for i, b := range bars {
		labels[len(bars)-1-i] = b.label
	}
	p.NominalY(labels...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(bars))-0.4
	p.Y.Tick.Label.Font = font.From(chartFont, tickSize)
	logScale := lo <= 0 || hi/lo > 20
	base := 0.0
	if logScale {
		lo = math.Max(lo, 1)
		base = math.Pow(10, math.Floor(math.Log10(lo*0.9)))
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{format: formatNanos, maxLabels: 5}
		p.X.Min, p.X.Max = base, math.Pow(10, math.Ceil(math.Log10(hi*1.1)))
	} else {
		p.X.Tick.Marker = linearTicks{format: formatNanos, maxLabels: 4}
		p.X.Min, p.X.Max = 0, niceCeil(hi*1.08)
	}
	xmin, xmax := p.X.Min, p.X.Max
	reduced := false
	var ep errorPoints
	for i, b := range bars {
		y := float64(len(bars) - 1 - i)
		poly, err := plotter.NewPolygon(plotter.XYs{
			{X: base, Y: y - 0.32}, {X: b.e.Median, Y: y - 0.32},
			{X: b.e.Median, Y: y + 0.32}, {X: base, Y: y + 0.32},
		})
		if err != nil {
			return nil, false, err
		}
		poly.Color = b.c
		poly.LineStyle.Width = 0
		p.Add(poly)
		if b.e.N > 1 {
			reduced = reduced || b.e.Reduced()
			ep.XYs = append(ep.XYs, plotter.XY{X: b.e.Median, Y: y})
			ep.XErrors = append(ep.XErrors, struct{ Low, High float64 }{b.e.Median - b.e.Lo, b.e.Hi - b.e.Median})
		}
	}
	if len(ep.XYs) > 0 {
		eb, err := plotter.NewXErrorBars(ep)
		if err != nil {
			return nil, false, err
		}
		eb.LineStyle.Width = vg.Points(1)
		eb.CapWidth = vg.Points(6)
		p.Add(eb)
	}
	// Adding data widens the axes to it: set them again.
	p.X.Min, p.X.Max = xmin, xmax
	p.Y.Min, p.Y.Max = -0.6, float64(len(bars))-0.4
	return p, reduced, nil
}

// errorPoints is the XYs and XErrors a plotter.XErrorBars is built from.
type errorPoints struct {
	plotter.XYs
	plotter.XErrors
	plotter.YErrors
}
