package reports

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"lockbench/results"
)

// seriesRowHeight is the height of one strategy's row of a time-series
// chart: room for four or five tick labels on each axis.
var seriesRowHeight = 2.1 * vg.Inch

// seriesSpan is the longest stretch of a repetition a time-series chart
// shows: at the study's 1ms windows, 100 windows of about 4 pixels each,
// so one stall is one visible step.
const seriesSpan = 100 * time.Millisecond

// seriesData is one strategy's stretch of its first repetition with a
// time series.
type seriesData struct {
	strategy      string
	rep           *results.Rep
	index, reps   int // which repetition, of how many
	p99s, counts  plotter.XYs
	width, runEnd time.Duration
}

// seriesSpec shows, for every strategy of g that recorded a time series,
// the same stretch of its first such repetition: the key operation's p99
// per window (left, log scale) and its count per window (right), with the
// exclusive operations (fsync, punch, truncate) as bars in lanes at the
// top and one grey tint below wherever any of them ran. Every panel of a
// column has the same y range, so strategies compare by eye. It is nil
// when no cell has a series or the scenario has no exclusive operation.
func seriesSpec(f *results.File, g *cellGroup, pal palette) (*chartSpec, error) {
	k, ok := keyOp(g.key.Scenario, g.ops)
	if !ok {
		return nil, nil
	}
	s := &chartSpec{cols: 2, legendRow: true, Chart: Chart{
		Name: "series_" + g.slug + ".png", Title: fmt.Sprintf("Time series of %s (%s): %s", k.op, k.role, g.label),
		Kind: "series", Group: g.label, Scenario: g.key.Scenario, Target: g.target,
	}}
	// One stretch of time for every row, within the shortest repetition:
	// at least 40 of the widest windows, a fifth of the way in (past the
	// start, when caches fill and the background roles start up).
	end, widest := time.Duration(math.MaxInt64), time.Duration(0)
	for _, cs := range g.cells {
		if rep, _ := firstSeries(cs.cell); rep != nil && len(rep.Exclusive) > 0 {
			w := rep.Series.Width
			end, widest = min(end, repEnd(rep)), max(widest, w)
		}
	}
	if widest == 0 {
		return nil, nil
	}
	span := min(max(seriesSpan, 40*widest), end)
	from := min(end/5, end-span)
	from -= from % widest
	to := min(from+span, end)
	var rows []*seriesData
	ylo, yhi, cmax := math.Inf(1), 0.0, 1.0
	for _, cs := range g.cells {
		rep, idx := firstSeries(cs.cell)
		if rep == nil || len(rep.Exclusive) == 0 {
			continue
		}
		d := seriesOf(rep, k, from, to)
		if d == nil {
			continue
		}
		d.strategy, d.index, d.reps = cs.Config.Strategy, idx, len(cs.cell.Reps)
		rows = append(rows, d)
		for _, xy := range d.p99s {
			ylo, yhi = math.Min(ylo, xy.Y), math.Max(yhi, xy.Y)
		}
		for _, xy := range d.counts {
			cmax = math.Max(cmax, xy.Y)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if math.IsInf(ylo, 1) {
		ylo, yhi = 1, 10
	}
	// A decade of headroom on the left for the lanes of exclusive
	// operations, and 40% on the right.
	yr := [2]float64{math.Pow(10, math.Floor(math.Log10(ylo))), math.Pow(10, math.Ceil(math.Log10(yhi*1.01))+1)}
	cr := niceCeil(cmax * 1.4)
	shaded := map[string]bool{}
	which := map[string]bool{}
	for _, d := range rows {
		left, right, kinds, err := seriesPanels(d, k, pal, from, to, yr, cr)
		if err != nil {
			return nil, err
		}
		s.panels = append(s.panels, left, right)
		for _, kd := range kinds {
			shaded[kd] = true
		}
		which[fmt.Sprintf("repetition %d of %d", d.index+1, d.reps)] = true
	}
	// The time axis is labelled once, under the bottom row.
	rep := "the first repetition with a time series"
	if len(which) == 1 {
		for w := range which {
			rep = w
		}
	}
	for _, p := range s.panels[:len(s.panels)-2] {
		p.X.Label.Text = ""
	}
	for _, p := range s.panels[len(s.panels)-2:] {
		p.X.Label.Text = "ms into " + rep
	}
	for _, kd := range slices.Sorted(maps.Keys(shaded)) {
		c := shadeOf(kd)
		c.A = 0xe0
		s.addLegend(kd+" running (bar at the top)", swatch(c))
	}
	s.addLegend("tint: any of them", swatch(tintColor))
	s.rowHeight = seriesRowHeight
	stretch := fmt.Sprintf("the whole run, 0 to %s ms", sig3(float64(to)/1e6))
	if from > 0 || to < end {
		stretch = fmt.Sprintf("%s to %s ms, the same stretch for every strategy, from a fifth of the way in (past start-up)",
			sig3(float64(from)/1e6), sig3(float64(to)/1e6))
	}
	s.subtitle = fmt.Sprintf("%s windows of %s: %s; left: p99 per window (power-of-two buckets), right: %ss per window; one y range per column",
		formatDuration(rows[0].width), rep, stretch, k.op)
	return s, nil
}

// tintColor is the tint under the exclusive operations' bars: one grey
// for all of them, so overlapping intervals make no colour of their own.
var tintColor = color.NRGBA{0x70, 0x70, 0x70, 0x30}

func shadeOf(op string) color.NRGBA {
	if c, ok := exclusiveShades[op]; ok {
		return c
	}
	return exclusiveOther
}

// firstSeries returns the first repetition of c that recorded a time
// series and its index, or nil.
func firstSeries(c *results.Cell) (*results.Rep, int) {
	if c == nil {
		return nil, 0
	}
	for i := range c.Reps {
		if c.Reps[i].Series.Charted() {
			return &c.Reps[i], i
		}
	}
	return nil, 0
}

// repEnd is where rep's measured time ends: its elapsed time when
// recorded, else the end of its last window.
func repEnd(rep *results.Rep) time.Duration {
	last := rep.Series.Start(rep.Series.Len())
	if rep.Elapsed > 0 {
		return min(rep.Elapsed, last)
	}
	return last
}

// seriesOf collects rep's windows of k in [from, to), the last one cut at
// the end of the run, and leaves out a last window that the run covers
// less than half of (its count would read as a drop); nil when none has
// an operation.
func seriesOf(rep *results.Rep, k opKey, from, to time.Duration) *seriesData {
	d := &seriesData{rep: rep, width: rep.Series.Width}
	d.runEnd = repEnd(rep)
	ms := func(t time.Duration) float64 { return float64(t) / 1e6 }
	total := 0.0
	col := rep.Series.Kind(k.op)
	for i := range rep.Series.Len() {
		start := rep.Series.Start(i)
		if start < from || start >= to || d.runEnd-start < d.width/2 {
			continue
		}
		var n, v float64
		if col != nil {
			n, v = float64(col.Ops[i]), float64(col.P99[i])
		}
		total += n
		d.counts = append(d.counts, plotter.XY{X: ms(start), Y: n})
		if v > 0 {
			d.p99s = append(d.p99s, plotter.XY{X: ms(start), Y: v})
		}
	}
	if len(d.counts) < 2 || total == 0 {
		return nil
	}
	return d
}

// seriesPanels draws one strategy's row over [from, to) with the column's
// y ranges (yr for the p99s, [0, cr] for the counts).
func seriesPanels(d *seriesData, k opKey, pal palette, from, to time.Duration, yr [2]float64, cr float64) (left, right *plot.Plot, kinds []string, err error) {
	ms := func(t time.Duration) float64 { return float64(t) / 1e6 }
	left = newPlot(fmt.Sprintf("%s: p99 of %s per window", d.strategy, k.op), "", "p99")
	right = newPlot(fmt.Sprintf("%s: %ss per window", d.strategy, k.op), "", k.op+"s")
	left.Y.Scale = plot.LogScale{}
	left.Y.Min, left.Y.Max = yr[0], yr[1]
	left.Y.Tick.Marker = logTicks{format: formatNanos, maxLabels: 5}
	right.Y.Min, right.Y.Max = 0, cr
	right.Y.Tick.Marker = linearTicks{format: formatRate, maxLabels: 5}
	for _, p := range []*plot.Plot{left, right} {
		p.X.Min, p.X.Max = ms(from), ms(to)
		p.X.Tick.Marker = linearTicks{format: func(v float64) string { return sig3(v) }, maxLabels: 6}
	}
	kinds, err = shadeExclusive(d.rep, from, to, []*plot.Plot{left, right})
	if err != nil {
		return nil, nil, nil, err
	}
	for i, xys := range []plotter.XYs{d.p99s, d.counts} {
		if len(xys) == 0 {
			continue
		}
		// Close the last window so its step has a width, but not past
		// the end of the run.
		last := xys[len(xys)-1]
		xys = append(xys, plotter.XY{X: math.Min(last.X+ms(d.width), ms(d.runEnd)), Y: last.Y})
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, nil, nil, err
		}
		l.StepStyle = plotter.PostStep
		strategyLine(&l.LineStyle, d.strategy, pal)
		l.LineStyle.Dashes = nil
		l.LineStyle.Width = vg.Points(1.2)
		[]*plot.Plot{left, right}[i].Add(l)
	}
	// Adding data widens the axes to it (the closing step, a widened
	// shade): set them again.
	for _, p := range []*plot.Plot{left, right} {
		p.X.Min, p.X.Max = ms(from), ms(to)
	}
	left.Y.Min, left.Y.Max = yr[0], yr[1]
	right.Y.Min, right.Y.Max = 0, cr
	return left, right, kinds, nil
}

// shadeExclusive marks, on every plot, the intervals in [from, to) when
// an exclusive operation ran (overlapping ones of a kind merged): a bar
// per kind in its own lane at the top of the plot, so that an fsync and a
// punch at once stay two colours, and below the lanes one grey tint
// wherever any of them ran (tintColor: overlaps make no new colour). It
// returns the kinds marked.
func shadeExclusive(rep *results.Rep, from, to time.Duration, plots []*plot.Plot) ([]string, error) {
	ivs := map[string][][2]float64{}
	for _, e := range rep.Exclusive {
		if e.End < from || e.Start >= to {
			continue
		}
		s, t := max(e.Start, from), min(e.End, to)
		ivs[e.Op] = append(ivs[e.Op], [2]float64{float64(s) / 1e6, float64(t) / 1e6})
	}
	kinds := slices.Sorted(maps.Keys(ivs))
	var all [][2]float64
	for _, kd := range kinds {
		all = append(all, ivs[kd]...)
	}
	widen := func(iv [2]float64) [2]float64 {
		if iv[1]-iv[0] < 0.1 { // under 100µs: widen to be seen
			iv[1] = iv[0] + 0.1
		}
		return iv
	}
	for _, p := range plots {
		lanesBottom := laneY(p, 1-laneShare*float64(len(kinds)))
		var tints []plotter.XYer
		for _, iv := range mergeIntervals(all) {
			iv = widen(iv)
			tints = append(tints, plotter.XYs{{X: iv[0], Y: p.Y.Min}, {X: iv[1], Y: p.Y.Min}, {X: iv[1], Y: lanesBottom}, {X: iv[0], Y: lanesBottom}})
		}
		if len(tints) > 0 {
			poly, err := plotter.NewPolygon(tints...)
			if err != nil {
				return nil, err
			}
			poly.Color, poly.LineStyle.Width = tintColor, 0
			p.Add(poly)
		}
		for lane, kd := range kinds {
			top, bottom := laneY(p, 1-laneShare*float64(lane)), laneY(p, 1-laneShare*float64(lane+1))
			var bars []plotter.XYer
			for _, iv := range mergeIntervals(ivs[kd]) {
				iv = widen(iv)
				bars = append(bars, plotter.XYs{{X: iv[0], Y: bottom}, {X: iv[1], Y: bottom}, {X: iv[1], Y: top}, {X: iv[0], Y: top}})
			}
			poly, err := plotter.NewPolygon(bars...)
			if err != nil {
				return nil, err
			}
			c := shadeOf(kd)
			c.A = 0xe0
			poly.Color, poly.LineStyle.Width = c, 0
			p.Add(poly)
		}
	}
	return kinds, nil
}

// laneShare is the share of a plot's height each exclusive operation's
// lane takes at the top.
const laneShare = 0.1

// laneY is the data value at fraction f of p's y axis, on its scale.
func laneY(p *plot.Plot, f float64) float64 {
	if _, log := p.Y.Scale.(plot.LogScale); log {
		return p.Y.Min * math.Pow(p.Y.Max/p.Y.Min, f)
	}
	return p.Y.Min + f*(p.Y.Max-p.Y.Min)
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
