package reports

import (
	"math"

	"gonum.org/v1/plot"
)

// The tickers here decide how many labels an axis gets from the room it
// has, which gonum's default tickers do not know: each is built with the
// most labels that fit (maxLabels), and TestChartTickLabelsDoNotOverlap
// measures the labels with the plot's font against their spacing.

// linearTicks labels a linear axis with a step of 1, 2 or 5 times a power
// of ten, the smallest that gives at most maxLabels labels. With integer
// set, the step is at least 1 (thread counts).
type linearTicks struct {
	format    func(float64) string
	maxLabels int
	integer   bool
}

func (t linearTicks) Ticks(lo, hi float64) []plot.Tick {
	min, max := lo, hi
	n := t.maxLabels
	if n < 2 {
		n = 2
	}
	span := max - min
	if span <= 0 {
		return []plot.Tick{{Value: min, Label: t.format(min)}}
	}
	step := niceCeil(span / float64(n-1))
	if t.integer && step < 1 {
		step = 1
	}
	for math.Floor(max/step)-math.Ceil(min/step)+1 > float64(n) {
		step = niceCeil(step * 1.01)
	}
	var out []plot.Tick
	for v := math.Ceil(min/step-1e-9) * step; v <= max+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		out = append(out, plot.Tick{Value: v, Label: t.format(v)})
	}
	return out
}

// logTicks labels the decades of a log axis; when there is room for
// three labels a decade it labels the 2s and 5s between them too, and
// when there is not room for every decade, every second or third one.
type logTicks struct {
	format    func(float64) string
	maxLabels int
}

func (t logTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Floor(math.Log10(min)+1e-9), math.Ceil(math.Log10(max)-1e-9)
	limit := t.maxLabels
	if limit < 2 {
		limit = 2
	}
	decades := int(hi - lo)
	every := 1
	for (decades/every)+1 > limit {
		every++
	}
	dense := 3*decades+1 <= t.maxLabels
	var out []plot.Tick
	for d := lo; d <= hi; d++ {
		base := math.Pow(10, d)
		for m := 1; m < 10; m++ {
			v := float64(m) * base
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			tk := plot.Tick{Value: v}
			if m == 1 && int(d-lo)%every == 0 || dense && (m == 2 || m == 5) {
				tk.Label = t.format(v)
			}
			// Minor ticks between decades only where labels are dense
			// too; on a short axis they merge into a bar.
			if tk.Label != "" || m == 1 || dense {
				out = append(out, tk)
			}
			if d == hi {
				break
			}
		}
	}
	return out
}

// percentileTicks labels a latency spectrum's x axis, which is 1/(1-p)
// on a log scale, at the percentiles 50, 90, 99, 99.9 and 99.99.
type percentileTicks struct{}

var percentileMarks = []struct {
	x     float64
	label string
}{{2, "50"}, {10, "90"}, {100, "99"}, {1000, "99.9"}, {10000, "99.99"}, {100000, "99.999"}}

func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for _, m := range percentileMarks {
		if m.x >= min*(1-1e-9) && m.x <= max*(1+1e-9) {
			out = append(out, plot.Tick{Value: m.x, Label: m.label})
		}
	}
	return out
}
