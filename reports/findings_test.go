package reports

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"lockbench/results"
)

// TestFindingsGolden renders the study fixture's one-screen summary.
func TestFindingsGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFindings(&buf, studyFixture()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "study.findings.golden", buf.Bytes())
	checkScreen(t, buf.String(), ScreenLines-4)
}

// checkScreen fails when text is more than lines lines or a line is wider
// than Columns.
func checkScreen(t *testing.T, text string, lines int) {
	t.Helper()
	ls := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(ls) > lines {
		t.Errorf("the summary is %d lines; want one screen (at most %d)", len(ls), lines)
	}
	for _, l := range ls {
		if n := utf8.RuneCountInString(l); n > Columns {
			t.Errorf("line of %d columns (at most %d): %q", n, Columns, l)
		}
	}
}

// TestFindingsScreenBudget: a study with many differences still prints one
// screen, and says how many it left for the report.
func TestFindingsScreenBudget(t *testing.T) {
	f := syntheticFile(rand.New(rand.NewPCG(3, 4)), 6, 0.5, "")
	var buf bytes.Buffer
	if err := writeFindings(&buf, f, 20); err != nil {
		t.Fatal(err)
	}
	checkScreen(t, buf.String(), 20)
	if !strings.Contains(buf.String(), "more differences in the report") {
		t.Errorf("a cut summary must say what it left out:\n%s", buf.String())
	}
}

// TestFindingsPlanted checks the findings against the effects planted in
// the study fixture: each real one stated with its interval, the absent
// ones not.
func TestFindingsPlanted(t *testing.T) {
	fs := Findings(studyFixture())
	find := func(scenario, target, strategy, versus, measure string) results.Finding {
		t.Helper()
		for _, f := range fs {
			if f.Scenario == scenario && f.TargetLabel == target && f.Strategy == strategy && f.Versus == versus && f.Measure == measure {
				return f
			}
		}
		t.Fatalf("no finding %s %s %s vs %s %s in %d findings", scenario, target, strategy, versus, measure, len(fs))
		return results.Finding{}
	}
	tests := []struct {
		scenario, target, strategy, versus, measure string
		verdict                                     Verdict
		lo, hi                                      float64 // the ratio's planted range
	}{
		// fsync stalls rangelock's write faults: a tail 10x longer.
		{"fsync-storm", "tmpfs", "rangelock", "none", "p99.9(write-fault)", Different, 3, 40},
		{"fsync-storm", "ext4 (vda)", "rangelock", "rwsem", "p99.9(write-fault)", Different, 3, 40},
		// The lock's cost on a write fault: +30%.
		{"fault-scale", "tmpfs", "rangelock", "none", "mean90(write-fault)", Different, 1.15, 1.45},
		// Throughput: 0.8x.
		{"fault-scale", "ext4 (vda)", "rangelock", "none", "ops/s(store)", Different, 0.7, 0.9},
		// Nothing planted: never a difference.
		{"fsync-storm", "tmpfs", "rwsem", "none", "p99.9(write-fault)", NotDetected, 0, 0},
		{"fault-scale", "tmpfs", "seqcount", "none", "mean90(write-fault)", NotDetected, 0, 0},
	}
	for _, tt := range tests {
		f := find(tt.scenario, tt.target, tt.strategy, tt.versus, tt.measure)
		if tt.verdict == Different && f.Verdict != string(Different) || tt.verdict != Different && f.Significant {
			t.Errorf("%s: verdict %q (p'=%v); want %q", f.Text, f.Verdict, f.PAdj, tt.verdict)
		}
		if tt.verdict == Different {
			if f.Ratio < tt.lo || f.Ratio > tt.hi || f.RatioLo > f.Ratio || f.RatioHi < f.Ratio {
				t.Errorf("%s: ratio %v [%v, %v]; want in [%v, %v]", f.Text, f.Ratio, f.RatioLo, f.RatioHi, tt.lo, tt.hi)
			}
			if !strings.Contains(f.Text, "difference: ") || !strings.Contains(f.Text, "p'=") {
				t.Errorf("finding text %q; want the difference stated with its adjusted p", f.Text)
			}
		}
		if f.PAdj < f.P || f.ID == "" || !strings.HasPrefix(f.ID, f.Question+"/"+f.Target+"/") {
			t.Errorf("%s: p %v, adjusted %v, id %q; want p' >= p and an id of question/target/...", f.Text, f.P, f.PAdj, f.ID)
		}
	}
	// The lock's cost carries the kernel's scale: its share of a real fault.
	cost := find("fault-scale", "tmpfs", "rangelock", "none", "mean90(write-fault)")
	if cost.Kernel <= 0 || !near(cost.KernelShare, cost.Delta/cost.Kernel) || !strings.Contains(cost.Text, "kernel ") {
		t.Errorf("%s: kernel %v share %v; want the kernel's scale", cost.Text, cost.Kernel, cost.KernelShare)
	}
	// Findings are data in the results file: they survive JSON, ids unique.
	raw, err := json.Marshal(fs)
	if err != nil {
		t.Fatalf("json.Marshal(findings) = %v", err)
	}
	var back []results.Finding
	if err := json.Unmarshal(raw, &back); err != nil || !slices.EqualFunc(back, fs, func(a, b results.Finding) bool { return a == b }) {
		t.Errorf("findings JSON round trip: %v, %d of %d", err, len(back), len(fs))
	}
	ids := map[string]bool{}
	for _, f := range fs {
		if ids[f.ID] {
			t.Errorf("duplicate finding id %q", f.ID)
		}
		ids[f.ID] = true
	}
}

// TestDirectionsNeverFlip: whatever order the cells come in, a comparison
// is always the strategy against the baseline and rangelock against rwsem,
// in the data and in the words.
func TestDirectionsNeverFlip(t *testing.T) {
	f := studyFixture()
	rev := *f
	rev.Cells = slices.Clone(f.Cells)
	slices.Reverse(rev.Cells)
	for _, file := range []*results.File{f, &rev} {
		fs := Findings(file)
		pairs := 0
		for _, x := range fs {
			switch {
			case x.Versus == Baseline:
			case x.Strategy == "rangelock" && x.Versus == "rwsem":
				pairs++
			default:
				t.Errorf("%s: %s vs %s; want the baseline or rwsem second", x.ID, x.Strategy, x.Versus)
			}
			if !strings.Contains(x.Text, x.Strategy+" vs "+x.Versus) || strings.Contains(x.Text, "rwsem vs rangelock") {
				t.Errorf("text %q does not read %s vs %s", x.Text, x.Strategy, x.Versus)
			}
		}
		if pairs == 0 {
			t.Error("no rangelock vs rwsem finding: the test tested nothing")
		}
		for _, s := range FindingSections(fs) {
			for _, l := range s.Lines {
				if strings.Contains(l, "rwsem vs rangelock") || strings.Contains(l, "none vs ") {
					t.Errorf("line %q reads the wrong way round", l)
				}
			}
		}
	}
	// Same findings, same order, same ids, whichever way the cells came.
	a, b := Findings(f), Findings(&rev)
	ida := func(fs []results.Finding) []string {
		var out []string
		for _, x := range fs {
			out = append(out, x.ID+" "+x.Verdict)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(ida(a), ida(b)) {
		t.Errorf("the cells' order changed the findings:\n%v\n%v", ida(a), ida(b))
	}
}

// TestPreambleStable: the preamble lists repetition counts in order and
// says the same every time (it used to iterate a map).
func TestPreambleStable(t *testing.T) {
	f := &results.File{}
	for _, n := range []int{9, 6, 12, 6, 7, 8, 10, 11} {
		f.Cells = append(f.Cells, results.Cell{Reps: make([]results.Rep, n)})
	}
	first := FindingsPreamble(f, 60)
	if !strings.Contains(first, "6-12 reps/cell") || !strings.Contains(first, "(Benjamini-Hochberg, 60 tests)") {
		t.Errorf("preamble %q; want the range of repetitions and the adjustment", first)
	}
	for range 50 {
		if got := FindingsPreamble(f, 60); got != first {
			t.Fatalf("preamble changed between calls:\n%s\n%s", first, got)
		}
	}
	for _, l := range strings.Split(first, "\n") {
		if utf8.RuneCountInString(l) > Columns {
			t.Errorf("preamble line of %d columns: %q", utf8.RuneCountInString(l), l)
		}
	}
}

// A difference is stated only when the adjusted test and the interval
// agree, and only beyond the resolution.
func TestJudgeVerdicts(t *testing.T) {
	base := Describe([]float64{100, 100, 100, 100, 100, 100})
	tests := []struct {
		name  string
		new   []float64
		floor float64
		want  Verdict
		dir   int
	}{
		// With ties the U test rejects while the interval holds 1.
		{"tied", []float64{100, 200, 200, 200, 200, 200}, 0, NotDetected, 0},
		{"apart", []float64{200, 210, 220, 230, 240, 250}, 0, Different, 1},
		{"faster", []float64{50, 51, 52, 53, 54, 55}, 0, Different, -1},
		// Real but 1%: below the 2% resolution.
		{"tiny", []float64{101, 101.1, 101.2, 101, 101.1, 101.2}, 0, NotMeaningful, 0},
		// +5% but below a 10ns timer floor... of 100ns values: 5ns.
		{"under floor", []float64{105, 105.1, 105.2, 105, 105.1, 105.2}, 10, NotMeaningful, 0},
		{"noise", []float64{60, 150, 90, 130, 70, 110}, 0, NotDetected, 0},
	}
	for _, tt := range tests {
		j := Judge(base, Describe(tt.new), tt.floor)
		if j.Verdict != tt.want || j.Direction != tt.dir {
			t.Errorf("%s: %s (dir %d, p=%v, ratio %v [%v, %v]); want %s (dir %d)", tt.name, j.Verdict, j.Direction, j.P,
				j.Ratio, j.RatioLo, j.RatioHi, tt.want, tt.dir)
		}
	}
	// Adjusting a p-value up withdraws a difference.
	j := Judge(base, Describe([]float64{200, 210, 220, 230, 240, 250}), 0)
	if j.Adjust(0.2).Verdict != NotDetected {
		t.Errorf("adjusted p 0.2: %s; want no difference detected", j.Adjust(0.2).Verdict)
	}
	// "no difference detected" says what the run could have detected.
	nd := Judge(base, Describe([]float64{60, 150, 90, 130, 70, 110}), 0)
	if nd.Detectable <= 0 || nd.Detectable < math.Max(nd.RatioHi-1, 1-nd.RatioLo)-1e-12 {
		t.Errorf("detectable %v for interval [%v, %v]", nd.Detectable, nd.RatioLo, nd.RatioHi)
	}
}

// A counter per operation keeps its digits however small (it printed
// "0 -> 0 per write-fault").
func TestPerOpEffect(t *testing.T) {
	f := results.Finding{Op: "write-fault", Measure: "retries/write-fault", Base: 0, Value: 0.000412, Delta: 0.000412}
	if got := effect(f); got != "0 -> 0.000412 per write-fault" {
		t.Errorf("effect = %q; want the small rate's digits", got)
	}
}

func TestAdjustBH(t *testing.T) {
	// Worked example: m=5, p sorted 0.01 0.02 0.03 0.04 0.5:
	// p·m/i = 0.05 0.05 0.05 0.05 0.5, monotone from the top.
	got := AdjustBH([]float64{0.5, 0.03, 0.01, 0.04, 0.02})
	want := []float64{0.5, 0.05, 0.05, 0.05, 0.05}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("AdjustBH = %v; want %v", got, want)
			break
		}
	}
	got = AdjustBH([]float64{0.001, 0.9, 0.04})
	want = []float64{0.003, 0.9, 0.06}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("AdjustBH = %v; want %v", got, want)
			break
		}
	}
	if len(AdjustBH(nil)) != 0 {
		t.Error("AdjustBH(nil) not empty")
	}
}

// TestFindingsCalibratedCells: a study whose model cells ran calibrated
// (strategy "rwsem+calibrated", -calibrate) states the same findings, under
// the same ids, as one whose cells did not (the default study calibrates
// the targets the kernel runs on; its fault-scale and fsync sections were
// empty when the names did not pair).
func TestFindingsCalibratedCells(t *testing.T) {
	plain := studyFixture()
	cal := *plain // the fixture is shared: change a copy of its cells
	cal.Cells = slices.Clone(plain.Cells)
	for i := range cal.Cells {
		c := &cal.Cells[i].Config
		if c.Strategy != Kernel && !strings.HasPrefix(c.Strategy, Kernel) {
			c.Strategy += "+calibrated"
		}
	}
	want, got := Findings(plain), Findings(&cal)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("calibrated cells gave %d findings; want %d (> 0)", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Verdict != want[i].Verdict {
			t.Errorf("finding %d = %s %s; want %s %s", i, got[i].ID, got[i].Verdict, want[i].ID, want[i].Verdict)
		}
	}
}
