package reports

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// pngTolerance is the share of pixels that may differ (by more than
// pixelDelta in any channel) between a chart and its golden PNG: room for
// anti-aliasing differences across gonum/freetype versions and CPUs, far
// less than a missing bar, line or label.
const (
	pngTolerance = 0.005
	pixelDelta   = 48
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
	wantNames := []string{
		"throughput_fsync-storm_t2_tmpfs_compact.png",
		"p99_fsync-storm_t2_tmpfs_compact.png",
		"series_none_fsync-storm_t2_tmpfs_compact.png",
		"series_rwsem_fsync-storm_t2_tmpfs_compact.png",
	}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("Charts names = %q; want %q", names, wantNames)
	}
	for _, c := range cs {
		img, err := png.Decode(bytes.NewReader(c.PNG))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		// 6in x 3.2in (panels) or 7.5in x 3.2in (series) at 96 DPI.
		wantW := 576
		if c.Kind == "series" {
			wantW = 720
		}
		if b := img.Bounds(); b.Dx() != wantW || b.Dy() != 307 {
			t.Errorf("%s: size %dx%d; want %dx307", c.Name, b.Dx(), b.Dy(), wantW)
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
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run `go test ./reports/ -update` to create it)", err)
			continue
		}
		want, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Errorf("%s: golden: %v", path, err)
			continue
		}
		if diff := differingShare(img, want); diff > pngTolerance {
			t.Errorf("%s: %.2f%% of pixels differ from %s; want at most %.2f%% (run with -update to accept)",
				c.Name, 100*diff, path, 100*pngTolerance)
		}
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
	if len(paths) != 4 {
		t.Errorf("WriteCharts wrote %d files; want 4", len(paths))
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
		want     []string
	}{
		// One decade: 1, 2, 5, 10.
		{1e6, 1e7, []string{"1ms", "2ms", "5ms", "10ms"}},
		// Two decades: 2s and 5s in each.
		{1e3, 1e5, []string{"1µs", "2µs", "5µs", "10µs", "20µs", "50µs", "100µs"}},
		// More than three decades: the decades only.
		{1, 1e4, []string{"1ns", "10ns", "100ns", "1µs", "10µs"}},
	}
	for _, tt := range tests {
		var got []string
		seen := map[float64]bool{}
		for _, tk := range (logTicks{formatNanos}).Ticks(tt.min, tt.max) {
			if seen[tk.Value] {
				t.Errorf("logTicks(%g, %g): tick %g twice", tt.min, tt.max, tk.Value)
			}
			seen[tk.Value] = true
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("logTicks(%g, %g) labels = %q; want %q", tt.min, tt.max, got, tt.want)
		}
	}
}
