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
// chart.
var seriesRowHeight = 1.45 * vg.Inch

// seriesSpan is the longest stretch of a repetition a time-series chart
// shows: at the study's 1ms windows, 100 windows of about 4 pixels each,
// so one stall is one visible step.
const seriesSpan = 100 * time.Millisecond

// seriesSpec shows, for every strategy of g that recorded a time series,
// a stretch of its first such repetition: the key operation's p99 per
// window (left, log scale) and its count per window (right), with the
// exclusive operations' intervals (fsync, punch, truncate) shaded behind.
// It is nil when no cell has a series or the scenario has no exclusive
// operation.
func seriesSpec(f *results.File, g *cellGroup, pal palette) (*chartSpec, error) {
	k, ok := keyOp(g.key.Scenario, g.ops)
	if !ok {
		return nil, nil
	}
	s := &chartSpec{cols: 2, Chart: Chart{
		Name: "series_" + g.slug + ".png", Title: fmt.Sprintf("Time series of %s (%s): %s", k.op, k.role, g.label),
		Kind: "series", Group: g.label, Scenario: g.key.Scenario, Target: g.target,
	}}
	shaded := map[string]bool{}
	var width time.Duration
	// One stretch of time for every row, within the shortest repetition:
	// at least 40 of the widest windows, a fifth of the way in.
	end, widest := time.Duration(math.MaxInt64), time.Duration(0)
	for _, cs := range g.cells {
		if rep := firstSeries(cs.cell); rep != nil && len(rep.Exclusive) > 0 {
			w := rep.Series.Width
			end, widest = min(end, rep.Series.Start(rep.Series.Len())), max(widest, w)
		}
	}
	span := min(max(seriesSpan, 40*widest), end)
	from := min(end/5, end-span)
	if widest > 0 {
		from -= from % widest
	}
	for _, cs := range g.cells {
		rep := firstSeries(cs.cell)
		if rep == nil || len(rep.Exclusive) == 0 {
			continue
		}
		left, right, line, w, kinds, err := seriesPanels(rep, k, cs.Config.Strategy, pal, from, from+span)
		if err != nil {
			return nil, err
		}
		if left == nil {
			continue
		}
		width = w
		s.panels = append(s.panels, left, right)
		for _, kd := range kinds {
			shaded[kd] = true
		}
		s.addLegend(cs.Config.Strategy, line)
	}
	if len(s.panels) == 0 {
		return nil, nil
	}
	// The time axis is labelled once, under the bottom row.
	for _, p := range s.panels[:len(s.panels)-2] {
		p.X.Label.Text = ""
	}
	for _, kd := range slices.Sorted(maps.Keys(shaded)) {
		c := shadeOf(kd)
		c.A = 0xe0
		s.addLegend(kd, swatch(c))
	}
	s.rowHeight = seriesRowHeight
	s.subtitle = fmt.Sprintf("%s windows; left: p99 per window (power-of-two buckets), right: operations per window; bars at the top: an exclusive operation running (tinted below)", formatDuration(width))
	return s, nil
}

func shadeOf(op string) color.NRGBA {
	if c, ok := exclusiveShades[op]; ok {
		return c
	}
	return exclusiveOther
}

// firstSeries returns the first repetition of c that recorded a time
// series, or nil.
func firstSeries(c *results.Cell) *results.Rep {
	if c == nil {
		return nil
	}
	for i := range c.Reps {
		if c.Reps[i].Series.Len() > 1 {
			return &c.Reps[i]
		}
	}
	return nil
}

// seriesPanels draws one strategy's row over [from, to); it
// returns nil panels when the repetition has no window of the operation.
func seriesPanels(rep *results.Rep, k opKey, strategy string, pal palette, from, to time.Duration) (left, right *plot.Plot, line *plotter.Line, width time.Duration, kinds []string, err error) {
	width = rep.Series.Width
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }

	var p99s, counts plotter.XYs
	ylo, yhi, cmax := math.Inf(1), 0.0, 1.0
	total := 0.0
	col := rep.Series.Kind(k.op)
	for i := range rep.Series.Len() {
		start := rep.Series.Start(i)
		if start < from || start >= to {
			continue
		}
		var n, v float64
		if col != nil {
			n, v = float64(col.Ops[i]), float64(col.P99[i])
		}
		total += n
		counts = append(counts, plotter.XY{X: ms(start), Y: n})
		cmax = math.Max(cmax, n)
		if v > 0 {
			p99s = append(p99s, plotter.XY{X: ms(start), Y: v})
			ylo, yhi = math.Min(ylo, v), math.Max(yhi, v)
		}
	}
	if len(counts) < 2 || total == 0 {
		return nil, nil, nil, 0, nil, nil
	}
	left = newPlot(strategy+": p99", "time in the repetition (ms)", "p99 per window")
	right = newPlot(strategy+": operations", "time in the repetition (ms)", "per window")
	left.Y.Scale = plot.LogScale{}
	if len(p99s) == 0 {
		ylo, yhi = 1, 10
	}
	left.Y.Min = math.Pow(10, math.Floor(math.Log10(ylo)))
	// A decade of headroom for the lanes of exclusive operations.
	left.Y.Max = math.Pow(10, math.Ceil(math.Log10(yhi*1.01))+1)
	left.Y.Tick.Marker = logTicks{format: formatNanos, maxLabels: 3}
	right.Y.Min, right.Y.Max = 0, niceCeil(cmax*1.4)
	lmin, lmax, rmax := left.Y.Min, left.Y.Max, right.Y.Max
	right.Y.Tick.Marker = linearTicks{format: formatRate, maxLabels: 3}
	for _, p := range []*plot.Plot{left, right} {
		p.X.Min, p.X.Max = ms(from), ms(to)
		p.X.Tick.Marker = linearTicks{format: func(v float64) string { return sig3(v) }, maxLabels: 6}
	}
	kinds, err = shadeExclusive(rep, from, to, []*plot.Plot{left, right})
	if err != nil {
		return nil, nil, nil, 0, nil, err
	}
	for i, xys := range []plotter.XYs{p99s, counts} {
		if len(xys) == 0 {
			continue
		}
		// Close the last window so its step has a width.
		xys = append(xys, plotter.XY{X: xys[len(xys)-1].X + ms(width), Y: xys[len(xys)-1].Y})
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, nil, nil, 0, nil, err
		}
		l.StepStyle = plotter.PostStep
		strategyLine(&l.LineStyle, strategy, pal)
		l.LineStyle.Dashes = nil
		l.LineStyle.Width = vg.Points(1.2)
		[]*plot.Plot{left, right}[i].Add(l)
		line = l
	}
	// Adding data widens the axes to it (the closing step, a widened
	// shade): set them again.
	for _, p := range []*plot.Plot{left, right} {
		p.X.Min, p.X.Max = ms(from), ms(to)
	}
	left.Y.Min, left.Y.Max = lmin, lmax
	right.Y.Min, right.Y.Max = 0, rmax
	return left, right, line, width, kinds, nil
}

// shadeExclusive marks, on every plot, the intervals in [from, to) when
// an exclusive operation ran (overlapping ones of a kind merged): a bar
// per kind in its own lane at the top of the plot, so that an fsync and a
// punch at once stay two colours, and a light tint below it. It returns
// the kinds marked.
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
	for _, p := range plots {
		for lane, kd := range kinds {
			top, bottom := laneY(p, 1-laneShare*float64(lane)), laneY(p, 1-laneShare*float64(lane+1))
			var bars, tints []plotter.XYer
			for _, iv := range mergeIntervals(ivs[kd]) {
				if iv[1]-iv[0] < 0.1 { // under 100µs: widen to be seen
					iv[1] = iv[0] + 0.1
				}
				bars = append(bars, plotter.XYs{{X: iv[0], Y: bottom}, {X: iv[1], Y: bottom}, {X: iv[1], Y: top}, {X: iv[0], Y: top}})
				tints = append(tints, plotter.XYs{{X: iv[0], Y: p.Y.Min}, {X: iv[1], Y: p.Y.Min}, {X: iv[1], Y: bottom}, {X: iv[0], Y: bottom}})
			}
			for i, rings := range [][]plotter.XYer{tints, bars} {
				poly, err := plotter.NewPolygon(rings...)
				if err != nil {
					return nil, err
				}
				c := shadeOf(kd)
				c.A = []uint8{0x24, 0xe0}[i]
				poly.Color = c
				poly.LineStyle.Width = 0
				p.Add(poly)
			}
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
