package reports

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// pngTolerance is the share of pixels that may differ (by more than
// pixelDelta in any channel) between a chart and its golden PNG: room for
// anti-aliasing differences across gonum/freetype versions and CPUs, far
// less than a missing bar, line or label.
const (
	pngTolerance = 0.005
	pixelDelta   = 48
)

// fixtureCharts and studyCharts are the charts compared with golden PNGs
// in testdata/charts: every chart of the fixture, and from the study
// fixture one chart of each kind the small fixture lacks (a latency
// spectrum and a scaling chart). TestChartGoldensAreRead keeps the
// directory to exactly these files.
var (
	fixtureCharts = []string{
		"p99_fsync-storm_t2_tmpfs_compact.png",
		"series_fsync-storm_t2_tmpfs_compact.png",
	}
	studyCharts = []string{
		"spectrum_fsync-storm_t2_tmpfs.png",
		"scaling_fault-scale_tmpfs.png",
	}
)

// TestChartsGolden compares every chart of the fixture with its golden PNG
// in testdata/charts, with tolerance, and checks size and content.
func TestChartsGolden(t *testing.T) {
	cs, err := Charts(fixture())
	if err != nil {
		t.Fatalf("Charts = %v", err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, fixtureCharts) {
		t.Fatalf("Charts names = %q; want %q", names, fixtureCharts)
	}
	for _, c := range cs {
		checkChartGolden(t, c)
	}
}

// TestStudyChartsGolden compares the study fixture's spectrum and scaling
// charts of tmpfs with their golden PNGs.
func TestStudyChartsGolden(t *testing.T) {
	cs, err := Charts(studyFixture())
	if err != nil {
		t.Fatalf("Charts = %v", err)
	}
	for _, name := range studyCharts {
		i := slices.IndexFunc(cs, func(c Chart) bool { return c.Name == name })
		if i < 0 {
			t.Errorf("the study fixture has no chart %s", name)
			continue
		}
		checkChartGolden(t, cs[i])
	}
}

// TestChartGoldensAreRead: every PNG in testdata/charts is one a golden test
// compares, so none is left behind when a chart is renamed or dropped.
func TestChartGoldensAreRead(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "charts"))
	if err != nil {
		t.Fatal(err)
	}
	read := slices.Concat(fixtureCharts, studyCharts)
	var have []string
	for _, e := range entries {
		have = append(have, e.Name())
		if !slices.Contains(read, e.Name()) {
			t.Errorf("testdata/charts/%s is read by no test; remove it, or add it to fixtureCharts or studyCharts", e.Name())
		}
	}
	for _, name := range read {
		if !slices.Contains(have, name) {
			t.Errorf("testdata/charts/%s is missing (run `go test ./reports/ -update` to create it)", name)
		}
	}
}

// checkChartGolden checks c's size and content and compares it with
// testdata/charts/<name>, with tolerance; -update rewrites the file.
func checkChartGolden(t *testing.T, c Chart) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(c.PNG))
	if err != nil {
		t.Errorf("%s: %v", c.Name, err)
		return
	}
	// chartWidth (6.8in) at 96 DPI; at least a panel high.
	if b := img.Bounds(); b.Dx() != 653 || b.Dy() < 150 {
		t.Errorf("%s: size %dx%d; want 653 wide, at least 150 high", c.Name, b.Dx(), b.Dy())
	}
	if share := nonWhiteShare(img); share < 0.02 {
		t.Errorf("%s: %.2f%% of pixels are not white; want a drawn chart", c.Name, 100*share)
	}
	path := filepath.Join("testdata", "charts", c.Name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, c.PNG, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v (run `go test ./reports/ -update` to create it)", err)
		return
	}
	want, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Errorf("%s: golden: %v", path, err)
		return
	}
	if diff := differingShare(img, want); diff > pngTolerance {
		t.Errorf("%s: %.2f%% of pixels differ from %s; want at most %.2f%% (run with -update to accept)",
			c.Name, 100*diff, path, 100*pngTolerance)
	}
}

// Charts are deterministic: the same file gives the same bytes.
func TestChartsDeterministic(t *testing.T) {
	a, err := Charts(fixture())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Charts(fixture())
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !bytes.Equal(a[i].PNG, b[i].PNG) {
			t.Errorf("%s differs between two renderings", a[i].Name)
		}
	}
}

func TestWriteCharts(t *testing.T) {
	dir := t.TempDir()
	paths, err := WriteCharts(dir, fixture())
	if err != nil {
		t.Fatalf("WriteCharts = %v", err)
	}
	if len(paths) != 2 {
		t.Errorf("WriteCharts wrote %d files; want 2", len(paths))
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v, size %v", p, err, fi)
		}
	}
	// A directory that does not exist is an error, not a silent no-op.
	if _, err := WriteCharts(filepath.Join(dir, "missing"), fixture()); err == nil {
		t.Errorf("WriteCharts(missing dir) = nil error; want an error")
	}
}

func TestMergeIntervals(t *testing.T) {
	tests := []struct {
		in, want [][2]float64
	}{
		{nil, nil},
		// Disjoint, out of order: sorted.
		{[][2]float64{{3, 4}, {1, 2}}, [][2]float64{{1, 2}, {3, 4}}},
		// Overlapping and touching: merged.
		{[][2]float64{{1, 3}, {2, 5}, {5, 6}}, [][2]float64{{1, 6}}},
		// Contained: the outer one stays.
		{[][2]float64{{1, 10}, {2, 3}}, [][2]float64{{1, 10}}},
	}
	for _, tt := range tests {
		if got := mergeIntervals(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("mergeIntervals(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func nonWhiteShare(img image.Image) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

// differingShare is the share of pixels whose colour differs by more than
// pixelDelta (of 255) in some channel; 1 when the sizes differ.
func differingShare(a, b image.Image) float64 {
	if a.Bounds() != b.Bounds() {
		return 1
	}
	bd := a.Bounds()
	n := 0
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			for _, d := range [][2]uint32{{r1, r2}, {g1, g2}, {b1, b2}, {a1, a2}} {
				diff := int(d[0]>>8) - int(d[1]>>8)
				if diff > pixelDelta || diff < -pixelDelta {
					n++
					break
				}
			}
		}
	}
	return float64(n) / float64(bd.Dx()*bd.Dy())
}

// The p99 chart's fsync panel spans one decade (1ms to 10ms) and once had
// only its two ends labelled; short log axes label the 2s and 5s too.
func TestLogTicksLabels(t *testing.T) {
	tests := []struct {
		min, max float64
		room     int
		want     []string
	}{
		// One decade with room: 1, 2, 5, 10.
		{1e6, 1e7, 5, []string{"1ms", "2ms", "5ms", "10ms"}},
		// Two decades with room for 7: 2s and 5s in each.
		{1e3, 1e5, 7, []string{"1µs", "2µs", "5µs", "10µs", "20µs", "50µs", "100µs"}},
		// Four decades, room for 5: the decades only.
		{1, 1e4, 5, []string{"1ns", "10ns", "100ns", "1µs", "10µs"}},
		// Six decades, room for 3: every third decade.
		{1, 1e6, 3, []string{"1ns", "1µs", "1ms"}},
	}
	for _, tt := range tests {
		var got []string
		seen := map[float64]bool{}
		for _, tk := range (logTicks{formatNanos, tt.room}).Ticks(tt.min, tt.max) {
			if seen[tk.Value] {
				t.Errorf("logTicks(%g, %g): tick %g twice", tt.min, tt.max, tk.Value)
			}
			seen[tk.Value] = true
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("logTicks(%g, %g, room %d) labels = %q; want %q", tt.min, tt.max, tt.room, got, tt.want)
		}
	}
}

func TestLinearTicks(t *testing.T) {
	tests := []struct {
		min, max float64
		room     int
		integer  bool
		want     []string
	}{
		{0, 10e6, 6, false, []string{"0", "2M", "4M", "6M", "8M", "10M"}},
		{0, 10e6, 3, false, []string{"0", "5M", "10M"}},
		// Thread counts: whole numbers only.
		{0.8, 2.2, 16, true, []string{"1", "2"}},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range (linearTicks{formatRate, tt.room, tt.integer}).Ticks(tt.min, tt.max) {
			got = append(got, tk.Label)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("linearTicks(%g, %g, room %d) = %q; want %q", tt.min, tt.max, tt.room, got, tt.want)
		}
	}
}

// tickOverlaps returns the overlapping tick labels of every panel of s,
// measured with each axis's own font at the size s is drawn: on the x
// axis two labels overlap when the gap between their centres is less than
// half their widths plus 2pt, on the y axis when it is less than the
// font's height.
func tickOverlaps(s *chartSpec) []string {
	w, h := s.size()
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(chartDPI))
	dc := draw.New(img)
	canvases, _ := s.layout(dc)
	var out []string
	for i, p := range s.panels {
		da := p.DataCanvas(canvases[i])
		for _, ax := range []struct {
			name string
			a    *plot.Axis
			len  vg.Length
		}{{"x", &p.X, da.Max.X - da.Min.X}, {"y", &p.Y, da.Max.Y - da.Min.Y}} {
			type label struct {
				pos, size vg.Length
				text      string
			}
			var ls []label
			for _, tk := range ax.a.Tick.Marker.Ticks(ax.a.Min, ax.a.Max) {
				if tk.Label == "" || tk.Value < ax.a.Min || tk.Value > ax.a.Max {
					continue
				}
				size := ax.a.Tick.Label.Width(tk.Label)
				if ax.name == "y" {
					size = ax.a.Tick.Label.Height(tk.Label)
				}
				ls = append(ls, label{vg.Length(ax.a.Norm(tk.Value)) * ax.len, size, tk.Label})
			}
			sort.Slice(ls, func(i, j int) bool { return ls[i].pos < ls[j].pos })
			for j := 1; j < len(ls); j++ {
				gap := ls[j].pos - ls[j-1].pos
				need := (ls[j].size+ls[j-1].size)/2 + vg.Points(2)
				if ax.name == "y" {
					need = max(ls[j].size, ls[j-1].size)
				}
				if gap < need {
					out = append(out, fmt.Sprintf("%s panel %d %s axis: %q and %q are %.1fpt apart, need %.1fpt",
						s.Name, i, ax.name, ls[j-1].text, ls[j].text, gap.Points(), need.Points()))
				}
			}
		}
	}
	return out
}

// TestChartTickLabelsDoNotOverlap measures every tick label of every chart
// of the default study's report against its neighbours.
func TestChartTickLabelsDoNotOverlap(t *testing.T) {
	f := studyFixture()
	specs, err := chartSpecs(f, Summarize(f))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, s := range specs {
		kinds[s.Kind]++
		for _, o := range tickOverlaps(s) {
			t.Error(o)
		}
	}
	for _, k := range []string{"p99", "spectrum", "scaling", "series"} {
		if kinds[k] == 0 {
			t.Errorf("the study fixture has no %s chart; want every kind checked (got %v)", k, kinds)
		}
	}
}

// The overlap check can fail: gonum's default ticks with long labels on
// a narrow axis overlap, and tickOverlaps says so.
func TestTickOverlapsDetectsOverlap(t *testing.T) {
	p := newPlot("crowded", "x", "y")
	p.X.Min, p.X.Max = 0, 1e9
	p.X.Tick.Marker = formattedTicks{plot.DefaultTicks{}, func(v float64) string { return fmt.Sprintf("%.0f operations", v) }}
	s := &chartSpec{Chart: Chart{Name: "crowded"}, cols: 3, panels: []*plot.Plot{p, newPlot("", "", ""), newPlot("", "", "")}}
	if got := tickOverlaps(s); len(got) == 0 {
		t.Errorf("tickOverlaps(crowded x axis) found nothing; want an overlap")
	}
}

// formattedTicks labels another Ticker's major ticks with format (the
// overlap test's bad example).
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

// TestChartsHaveLegends: every chart has a legend, and every strategy
// drawn in it is in the legend.
func TestChartsHaveLegends(t *testing.T) {
	f := studyFixture()
	sums := Summarize(f)
	specs, err := chartSpecs(f, sums)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if s.legend == nil || len(s.legendNames) == 0 {
			t.Errorf("%s has no legend", s.Name)
			continue
		}
		for _, name := range []string{"none", "rangelock", "rwsem", "seqcount", "faultretry"} {
			if !slices.Contains(s.legendNames, name) {
				t.Errorf("%s legend = %q; want %s in it", s.Name, s.legendNames, name)
			}
		}
		if s.Title == "" || len(s.panels) == 0 {
			t.Errorf("%s: title %q, %d panels; want a title and a panel", s.Name, s.Title, len(s.panels))
		}
		for i, p := range s.panels {
			if p.Y.Label.Text == "" {
				t.Errorf("%s panel %d has no y axis label", s.Name, i)
			}
		}
	}
}

// TestChartColoursPerStrategy: a strategy has the same colour in every
// chart, and no two strategies share one.
func TestChartColoursPerStrategy(t *testing.T) {
	pal := newPalette(Summarize(studyFixture()))
	seen := map[color.Color]string{}
	for name, c := range pal {
		if other, dup := seen[c]; dup {
			t.Errorf("%s and %s share the colour %v", name, other, c)
		}
		seen[c] = name
		if want, ok := strategyColors[name]; ok && c != color.Color(want) {
			t.Errorf("%s is %v; want its fixed colour %v", name, c, want)
		}
	}
}
