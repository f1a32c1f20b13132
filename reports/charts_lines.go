package reports

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"lockbench/results"
)

// strategyLine styles a line in a strategy's colour and dash pattern.
func strategyLine(l *draw.LineStyle, strategy string, pal palette) {
	l.Color = pal[strategy]
	l.Width = vg.Points(1.6)
	l.Dashes = strategyDashes[strategy]
}

// mergedHist merges the HDR histograms of one operation over a cell's
// repetitions; nil when none was recorded.
func mergedHist(c *results.Cell, k opKey) (*hdrhistogram.Histogram, error) {
	var h *hdrhistogram.Histogram
	for _, r := range c.Reps {
		for _, o := range r.Ops {
			if o.Op != k.op || o.Role != k.role || o.Hist == "" {
				continue
			}
			x, err := results.DecodeHist(o.Hist)
			if err != nil {
				return nil, fmt.Errorf("%s rep %d %s: %w", c.Config.Strategy, r.Index, k.op, err)
			}
			if h == nil {
				h = x
			} else {
				h.Merge(x)
			}
		}
	}
	return h, nil
}

// spectrumSpec is the latency spectrum of g's key operation: for every
// strategy, its latency (log scale) at each percentile from the median
// to the largest the samples support, on a 1/(1-p) log axis so that 90,
// 99, 99.9 and 99.99 are evenly spaced. The repetitions' histograms are
// merged. It is nil without histograms.
func spectrumSpec(f *results.File, g *cellGroup, pal palette) (*chartSpec, error) {
	k, ok := keyOp(g.key.Scenario, g.ops)
	if !ok {
		return nil, nil
	}
	s := &chartSpec{cols: 1, rowHeight: soloHeight, legendRow: true, Chart: Chart{
		Name: "spectrum_" + g.slug + ".png", Title: fmt.Sprintf("Latency spectrum of %s (%s): %s", k.op, k.role, g.label),
		Kind: "spectrum", Group: g.label, Scenario: g.key.Scenario, Target: g.target,
	}}
	p := newPlot("", "percentile (%)", k.op+" latency")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = percentileTicks{}
	p.Y.Tick.Marker = logTicks{format: formatNanos, maxLabels: 8}
	xmax, ylo, yhi := 100.0, math.Inf(1), 0.0
	sampled := false
	for _, cs := range g.cells {
		if cs.cell == nil {
			continue
		}
		h, err := mergedHist(cs.cell, k)
		if err != nil {
			return nil, err
		}
		if h == nil || h.TotalCount() < 100 {
			continue
		}
		if o := findOp(cs.Ops, k.op, k.role); o != nil && o.SampleEvery > 1 {
			sampled = true
		}
		// The largest percentile with at least 10 samples above it.
		top := math.Min(1e5, float64(h.TotalCount())/10)
		var xys plotter.XYs
		for x := 2.0; x <= top*1.0001; x *= math.Pow(10, 0.05) {
			q := 100 * (1 - 1/x)
			v := float64(h.ValueAtQuantile(q))
			if v <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: v})
			ylo, yhi = math.Min(ylo, v), math.Max(yhi, v)
		}
		if len(xys) < 2 {
			continue
		}
		xmax = math.Max(xmax, xys[len(xys)-1].X)
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		strategyLine(&l.LineStyle, cs.Config.Strategy, pal)
		p.Add(l)
		s.addLegend(cs.Config.Strategy, l)
	}
	if s.legend == nil {
		return nil, nil
	}
	// The axis runs to the end of the last decade the lines reach, so it
	// is labelled (99.999 when a line passes 99.99).
	p.X.Min, p.X.Max = 2, math.Pow(10, math.Ceil(math.Log10(xmax)-1e-9))
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(ylo)))
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(yhi*1.01)))
	p.Add(plotter.NewGrid())
	s.panels = []*plot.Plot{p}
	s.subtitle = "all reps' histograms merged; a line ends where fewer than 10 samples lie above it"
	if sampled {
		s.subtitle += "; latency timed on a seeded sample"
	}
	return s, nil
}

// scalingGroup is one scenario and target at several thread counts.
type scalingGroup struct {
	label, slug string
	scenario    string
	target      string
	groups      []*cellGroup // by thread count, ascending
}

// scalingGroups collects the groups that differ only in thread count,
// when there are at least two thread counts.
func scalingGroups(groups []*cellGroup) []*scalingGroup {
	var out []*scalingGroup
	byKey := map[comparableKey]*scalingGroup{}
	for _, g := range groups {
		k := g.key
		k.Threads = 0
		sg, ok := byKey[k]
		if !ok {
			label := fmt.Sprintf("%s, %s", g.key.Scenario, g.target)
			slug := fmt.Sprintf("%s_%s", fileSlug(g.key.Scenario), fileSlug(g.key.Target))
			if g.key.Pin != "" && g.key.Pin != "none" {
				label += ", pin " + g.key.Pin
				slug += "_" + fileSlug(g.key.Pin)
			}
			sg = &scalingGroup{label: label, slug: slug, scenario: g.key.Scenario, target: g.target}
			byKey[k] = sg
			out = append(out, sg)
		}
		sg.groups = append(sg.groups, g)
	}
	kept := out[:0]
	for _, sg := range out {
		if len(sg.groups) > 1 {
			sort.Slice(sg.groups, func(i, j int) bool { return sg.groups[i].key.Threads < sg.groups[j].key.Threads })
			kept = append(kept, sg)
		}
	}
	return kept
}

// throughputOp is the operation whose rate a scaling chart shows: the
// scenario's ops/s question's, else its key operation.
func throughputOp(scenario string, ops []opKey) (opKey, bool) {
	for _, m := range scenarioMeasures(scenario) {
		if m.name == "ops/s" && slices.Contains(ops, opKey{m.op, m.role}) {
			return opKey{m.op, m.role}, true
		}
	}
	return keyOp(scenario, ops)
}

// scalingSpec is throughput against threads: a line per strategy through
// the medians, whiskers at their confidence intervals, and a dotted
// linear-scaling guide from each strategy's smallest thread count.
func scalingSpec(sg *scalingGroup, pal palette, cpus int) (*chartSpec, error) {
	k, ok := throughputOp(sg.scenario, sg.groups[0].ops)
	if !ok {
		return nil, nil
	}
	s := &chartSpec{cols: 1, rowHeight: soloHeight, legendRow: true, Chart: Chart{
		Name: "scaling_" + sg.slug + ".png", Title: fmt.Sprintf("%s throughput (%s) against threads: %s", k.op, k.role, sg.label),
		Kind: "scaling", Group: sg.label, Scenario: sg.scenario, Target: sg.target,
	}}
	p := newPlot("", "foreground threads", k.op+" ops/s")
	lines := map[string][]scalingPoint{}
	var order []string
	tmax, ymax := 1.0, 0.0
	for _, g := range sg.groups {
		for _, c := range g.cells {
			o := findOp(c.Ops, k.op, k.role)
			if o == nil || !o.PerSecond.Valid() {
				continue
			}
			name := c.Config.Strategy
			if _, ok := lines[name]; !ok {
				order = append(order, name)
			}
			lines[name] = append(lines[name], scalingPoint{float64(g.key.Threads), o.PerSecond})
			tmax = math.Max(tmax, float64(g.key.Threads))
			ymax = math.Max(ymax, o.PerSecond.Hi)
		}
	}
	reduced := false
	for i, name := range order {
		red, top, thumbs, err := scalingLine(p, name, lines[name], float64(i)-float64(len(order)-1)/2, tmax, pal)
		if err != nil {
			return nil, err
		}
		reduced = reduced || red
		ymax = math.Max(ymax, top)
		s.addLegend(name, thumbs...)
	}
	if len(order) == 0 {
		return nil, nil
	}
	guide, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}})
	guide.LineStyle.Color, guide.LineStyle.Width = strategyColors["none"], vg.Points(0.8)
	guide.LineStyle.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
	s.addLegend("linear scaling", guide)
	p.X.Min, p.X.Max = 0.8, tmax+0.2
	p.X.Tick.Marker = linearTicks{format: func(v float64) string { return fmt.Sprint(int(v)) }, maxLabels: 16, integer: true}
	p.Y.Min, p.Y.Max = 0, niceCeil(ymax*1.05)
	p.Y.Tick.Marker = linearTicks{format: formatRate, maxLabels: 8}
	p.Add(plotter.NewGrid())
	s.panels = []*plot.Plot{p}
	s.subtitle = "lines: median of the reps; dotted: linear scaling from one thread; " + ciSubtitle(reduced)
	s.Note = scalingNote(k, order, lines, cpus)
	return s, nil
}

// scalingNote says which strategies do not scale: at their most threads
// their median throughput is at or below their median at the fewest,
// with both figures and intervals, and what at that thread count is known
// about the machine. "" when every line rises.
func scalingNote(k opKey, order []string, lines map[string][]scalingPoint, cpus int) string {
	var parts []string
	maxT, kernel := 0.0, false
	for _, name := range order {
		pts := lines[name]
		if len(pts) < 2 {
			continue
		}
		a, b := pts[0], pts[len(pts)-1]
		if b.e.Median > a.e.Median {
			continue
		}
		maxT, kernel = math.Max(maxT, b.threads), kernel || name == Kernel
		parts = append(parts, fmt.Sprintf("%s: %s at %s against %s at %s (%s)", name,
			estimateText(b.e, formatRate), threadsText(int(b.threads)), estimateText(a.e, formatRate), threadsText(int(a.threads)),
			formatTimes(b.e.Median/a.e.Median)))
	}
	if len(parts) == 0 {
		return ""
	}
	n := "Does not scale here, " + k.op + " ops/s: " + strings.Join(parts, "; ") + "."
	if cpus > 0 && int(maxT) >= cpus {
		n += fmt.Sprintf(" At %s the workers take every one of this machine's %d CPUs, which the scenario's background roles also need",
			threadsText(int(maxT)), cpus)
		if kernel {
			n += ", and the kernel's faulters fault on one shared file (its page cache, page tables and their locks)"
		}
		n += "; lockbench does not measure which of these costs the throughput (run -locks, as root, shows the kernel's lock waits)."
	}
	return n
}

// scalingPoint is one strategy's throughput at one thread count.
type scalingPoint struct {
	threads float64
	e       Estimate
}

// scalingLine adds one strategy's line, whiskers and linear-scaling guide
// to p, offset by slot (in units of 0.04 thread) so that whiskers at one
// thread count stand side by side. It returns whether an interval has
// reduced confidence, the guide's top and the legend thumbnails.
func scalingLine(p *plot.Plot, name string, pts []scalingPoint, slot, tmax float64, pal palette) (bool, float64, []plot.Thumbnailer, error) {
	reduced := false
	var xys plotter.XYs
	var ep errorPoints
	dodge := 0.04 * slot
	for _, pt := range pts {
		xys = append(xys, plotter.XY{X: pt.threads + dodge, Y: pt.e.Median})
		if pt.e.N > 1 {
			reduced = reduced || pt.e.Reduced()
			ep.XYs = append(ep.XYs, plotter.XY{X: pt.threads + dodge, Y: pt.e.Median})
			ep.YErrors = append(ep.YErrors, struct{ Low, High float64 }{pt.e.Median - pt.e.Lo, pt.e.Hi - pt.e.Median})
		}
	}
	l, sc, err := plotter.NewLinePoints(xys)
	if err != nil {
		return false, 0, nil, err
	}
	strategyLine(&l.LineStyle, name, pal)
	sc.Color, sc.Shape, sc.Radius = pal[name], draw.CircleGlyph{}, vg.Points(2.5)
	p.Add(l, sc)
	if len(ep.XYs) > 0 {
		eb, err := plotter.NewYErrorBars(ep)
		if err != nil {
			return false, 0, nil, err
		}
		eb.LineStyle.Color, eb.LineStyle.Width, eb.CapWidth = pal[name], vg.Points(1), vg.Points(6)
		p.Add(eb)
	}
	// The guide: the first point times threads/first threads.
	first := pts[0]
	top := first.e.Median * tmax / first.threads
	guide, err := plotter.NewLine(plotter.XYs{{X: first.threads, Y: first.e.Median}, {X: tmax, Y: top}})
	if err != nil {
		return false, 0, nil, err
	}
	guide.LineStyle.Color, guide.LineStyle.Width = pal[name], vg.Points(0.8)
	guide.LineStyle.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
	p.Add(guide)
	return reduced, top, []plot.Thumbnailer{l, sc}, nil
}
