package reports

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"lockbench/results"
)

// stubPNG is a fixed 1x1 PNG standing in for charts in the golden HTML, so
// the golden shows the page's structure rather than megabytes of base64.
var stubPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGP4DwQACfsD/fteaysAAAAASUVORK5CYII=")

func stubCharts(f *results.File, sums []CellSummary) ([]Chart, error) {
	var out []Chart
	for _, g := range groupCells(sums) {
		out = append(out, Chart{Name: "p99_" + g.slug + ".png", Title: "p99: " + g.label, Kind: "p99", Group: g.label,
			Scenario: g.key.Scenario, Target: g.target, PNG: stubPNG})
	}
	return out, nil
}

// secondMachine is the fixture as if run on another machine: a different
// fingerprint and host, every rate 1.5x and every latency 0.5x.
func secondMachine() *results.File {
	f := fixture()
	f.Machine.Fingerprint = "fp-77d0e5b1"
	f.Machine.Hostname = "bench-b"
	f.Machine.CPUModel = "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
	f.Machine.LogicalCPUs = 16
	f.Verify = nil
	for i := range f.Cells {
		for j := range f.Cells[i].Reps {
			r := &f.Cells[i].Reps[j]
			for k := range r.Ops {
				o := &r.Ops[k]
				o.Count = o.Count * 3 / 2
				o.PerSecond *= 1.5
				l := &o.Latency
				for _, d := range []*time.Duration{&l.Mean, &l.P50, &l.P90, &l.P99, &l.P999, &l.Max} {
					*d /= 2
				}
			}
		}
	}
	return f
}

func TestHTMLGolden(t *testing.T) {
	tests := []struct {
		golden string
		files  []*results.File
	}{
		{"fixture.html.golden", []*results.File{fixture()}},
		// Two machines side by side: one column per file in each group.
		{"two-machines.html.golden", []*results.File{fixture(), secondMachine()}},
		// The default study: findings first, the correctness grid.
		{"study.html.golden", []*results.File{studyFixture()}},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := writeHTML(&buf, tt.files, stubCharts, embedPNG); err != nil {
			t.Fatalf("writeHTML(%s) = %v", tt.golden, err)
		}
		checkGolden(t, tt.golden, buf.Bytes())
	}
}

// TestHTMLSelfContained renders the real page with real charts and checks
// that every image is an embedded PNG that decodes, that nothing is
// fetched from elsewhere, and that text from the file is escaped.
func TestHTMLSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*results.File{fixture(), secondMachine()}); err != nil {
		t.Fatalf("WriteHTML = %v", err)
	}
	page := buf.String()
	t.Logf("HTML page for 2 files: %d bytes", len(page))

	for _, banned := range []string{"<script", "<link", "http://", "https://", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q; want a self-contained page", banned)
		}
	}
	// The verify detail "<punch> raced a fault & lost" must be escaped.
	if strings.Contains(page, "<punch>") || !strings.Contains(page, "&lt;punch&gt; raced a fault &amp; lost") {
		t.Errorf("verify detail is not escaped")
	}

	srcs := regexp.MustCompile(`src="([^"]*)"`).FindAllStringSubmatch(page, -1)
	// 2 files x (p99 and series charts).
	if len(srcs) != 4 {
		t.Errorf("page has %d images; want 4", len(srcs))
	}
	for _, m := range srcs {
		// html/template writes '+' as "&#43;" inside attributes.
		uri := strings.ReplaceAll(m[1], "&#43;", "+")
		data, ok := strings.CutPrefix(uri, "data:image/png;base64,")
		if !ok {
			t.Errorf("image src %.40q is not a PNG data URI", uri)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Errorf("image data: %v", err)
			continue
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Errorf("image does not decode as PNG: %v", err)
		}
	}
}

func TestHTMLNoFiles(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, nil); err != nil {
		t.Fatalf("WriteHTML(nil) = %v", err)
	}
	if !strings.Contains(buf.String(), "</html>") {
		t.Errorf("WriteHTML(nil) wrote an incomplete page")
	}
}

// TestReportDirMerges writes the report directory of two files, as
// `lockbench report a.json b.json -o DIR` does: every image the page
// shows is a PNG beside it, the two files' charts have distinct names,
// and each file has its column.
func TestReportDirMerges(t *testing.T) {
	dir := t.TempDir()
	a, b := fixture(), secondMachine()
	if err := WriteReportDir(dir, []*results.File{a, b}); err != nil {
		t.Fatalf("WriteReportDir = %v", err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := Charts(a)
	cb, _ := Charts(b)
	srcs := regexp.MustCompile(`<img src="([^"]*)"`).FindAllStringSubmatch(string(page), -1)
	if len(srcs) != len(ca)+len(cb) {
		t.Errorf("page shows %d images; want %d (both files' charts)", len(srcs), len(ca)+len(cb))
	}
	seen := map[string]bool{}
	for _, m := range srcs {
		name := m[1]
		if seen[name] || strings.ContainsAny(name, "/:") {
			t.Errorf("image src %q is repeated or not a file beside the page", name)
		}
		seen[name] = true
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("image %s: %v", name, err)
			continue
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Errorf("image %s is not a PNG: %v", name, err)
		}
	}
	for _, host := range []string{"A bench-a", "B bench-b"} {
		if !strings.Contains(string(page), "<h3>"+host+": fsync-storm") {
			t.Errorf("page has no chart column for %s", host)
		}
	}
}

// TestReportDirKeepsSymlink: an index.html that is a symbolic link stays
// one and its target gets the page, as results.WriteAtomic writes.
// Regression: reports' own temp-and-rename replaced the link by a file.
func TestReportDirKeepsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "index.html")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteReportDir(dir, []*results.File{fixture()}); err != nil {
		t.Fatalf("WriteReportDir = %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("index.html after WriteReportDir: %v, %v; want still a symlink", fi, err)
	}
	if b, err := os.ReadFile(target); err != nil || !bytes.Contains(b, []byte("</html>")) {
		t.Errorf("symlink target after WriteReportDir: %.20q, %v; want the page", b, err)
	}
}

// TestFindingClass: an improvement and a regression get different
// colours (issue 23: 0.61x and 5.39x were both yellow), by the measure's
// direction; no difference gets none.
func TestFindingClass(t *testing.T) {
	for _, tt := range []struct {
		measure     string
		direction   int
		significant bool
		want        string
	}{
		{"p99.9(write-fault)", -1, true, "better"},
		{"p99.9(write-fault)", +1, true, "worse"},
		{"mean90(write-fault)", +1, true, "worse"},
		{"stall(store)", -1, true, "better"},
		{"stall(store)", +1, true, "worse"},
		{"remaps/write", +1, true, "worse"},
		{"ops/s(store)", +1, true, "better"},
		{"ops/s(store)", -1, true, "worse"},
		{"p99.9(write-fault)", +1, false, ""},
		{"p99.9(write-fault)", 0, true, ""},
	} {
		f := results.Finding{Measure: tt.measure, Direction: tt.direction, Significant: tt.significant}
		if got := findingClass(f); got != tt.want {
			t.Errorf("findingClass(%s direction %+d, significant %v) = %q; want %q", tt.measure, tt.direction, tt.significant, got, tt.want)
		}
	}
}

// TestCellTable: columns whose value every cell shares leave the table
// for one line above it; the identifying columns and the differing ones
// stay.
func TestCellTable(t *testing.T) {
	cs := []htmlConfig{
		{Strategy: "none", Scenario: "punch", Target: "tmpfs", Threads: 2, Pin: "none", Reps: 6, TimerFloor: "20ns", Duration: "200ms"},
		{Strategy: "rwsem", Scenario: "punch", Target: "tmpfs", Threads: 2, Pin: "none", Reps: 6, TimerFloor: "21ns", Duration: "200ms", Incomplete: true},
	}
	tb := cellTable(cs)
	want := []string{"strategy", "scenario", "threads", "target", "timer floor", "status"}
	if !slices.Equal(tb.Heads, want) {
		t.Errorf("heads %q; want %q", tb.Heads, want)
	}
	for _, s := range []string{"pin none", "reps 6", "duration 200ms", "oracle off"} {
		if !strings.Contains(tb.Common, s) {
			t.Errorf("common line %q lacks %q", tb.Common, s)
		}
	}
	if len(tb.Rows) != 2 || len(tb.Rows[1]) != len(want) || tb.Rows[1][len(want)-1].Text != "incomplete" {
		t.Errorf("rows %+v; want 2 of %d cells, the second incomplete", tb.Rows, len(want))
	}
}
