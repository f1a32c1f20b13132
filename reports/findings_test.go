package reports

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"lockbench/results"
)

// TestFindingsGolden renders the study fixture's one-screen summary.
func TestFindingsGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFindings(&buf, studyFixture()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "study.findings.golden", buf.Bytes())
	if n := strings.Count(buf.String(), "\n"); n > 40 {
		t.Errorf("the summary is %d lines; want one screen (at most 40)", n)
	}
}

// TestFindingsPlanted checks the findings against the effects planted in
// the study fixture: each real one stated with its interval, the absent
// ones reported as no difference.
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
		significant                                 bool
		lo, hi                                      float64 // the ratio's planted range
	}{
		// fsync stalls rangelock's write faults: a tail 10x longer, which
		// moves the p99 3-6x.
		{"fsync-storm", "tmpfs", "rangelock", "none", "p99", true, 3, 20},
		{"fsync-storm", "ext4 (vda)", "rangelock", "rwsem", "p99", true, 3, 20},
		// rwsem's write faults are not stalled: no difference.
		{"fsync-storm", "tmpfs", "rwsem", "none", "p99", false, 0, 0},
		// The lock's cost on a write fault: +30%.
		{"fault-scale", "tmpfs", "rangelock", "none", "mean90", true, 1.15, 1.45},
		{"fault-scale", "tmpfs", "seqcount", "none", "mean90", false, 0, 0},
	}
	for _, tt := range tests {
		f := find(tt.scenario, tt.target, tt.strategy, tt.versus, tt.measure)
		if f.Significant != tt.significant {
			t.Errorf("%s: significant = %v (p=%v); want %v", f.Text, f.Significant, f.P, tt.significant)
		}
		if tt.significant {
			if f.Ratio < tt.lo || f.Ratio > tt.hi || f.RatioLo > f.Ratio || f.RatioHi < f.Ratio || f.RatioLo <= 1 {
				t.Errorf("%s: ratio %v [%v, %v]; want in [%v, %v] with an interval above 1", f.Text, f.Ratio, f.RatioLo, f.RatioHi, tt.lo, tt.hi)
			}
			if strings.Contains(f.Text, "no difference") || !strings.Contains(f.Text, "p=") {
				t.Errorf("finding text %q; want the difference stated with its p-value", f.Text)
			}
		} else if !strings.Contains(f.Text, "no difference detected") {
			t.Errorf("finding text %q; want \"no difference detected\"", f.Text)
		}
	}
	// Findings are data in the results file: they survive JSON.
	raw, err := json.Marshal(fs)
	if err != nil {
		t.Fatalf("json.Marshal(findings) = %v", err)
	}
	var back []results.Finding
	if err := json.Unmarshal(raw, &back); err != nil || len(back) != len(fs) {
		t.Errorf("findings JSON round trip: %v, %d of %d", err, len(back), len(fs))
	}
}

func TestIntervalText(t *testing.T) {
	tests := []struct {
		xs   []float64
		want string
	}{
		// Narrow and symmetric: ±.
		{[]float64{98, 99, 100, 100, 101, 102}, "±2.0%"},
		// Wider than the value: the range, never ±1695173%.
		{[]float64{1, 2, 100, 100, 30000, 40000}, "[1ns, 40µs]"},
		// Lopsided: the range.
		{[]float64{99, 100, 100, 100, 150, 160}, "[99ns, 160ns]"},
	}
	for _, tt := range tests {
		if got := intervalText(Describe(tt.xs), formatNanos); got != tt.want {
			t.Errorf("intervalText(%v) = %q; want %q", tt.xs, got, tt.want)
		}
	}
}

// A difference is stated only when the U test and the interval agree:
// with ties the test can reject while the interval of the ratio holds 1.
func TestFindingNeedsTestAndInterval(t *testing.T) {
	cell := func(strategy string, p99 []float64) *CellSummary {
		return &CellSummary{
			Config: results.Config{Strategy: strategy, Scenario: "fsync-storm", Threads: 2, Target: "tmpfs"},
			Ops:    []OpSummary{{Op: "write-fault", Role: "faulter", P99: Describe(p99)}},
		}
	}
	q := question{scenario: "fsync-storm", op: "write-fault", role: "faulter", measure: "p99"}
	base := cell("none", []float64{100, 100, 100, 100, 100, 100})
	tied := cell("rwsem", []float64{100, 200, 200, 200, 200, 200})
	f, ok := compareCells(q, tied, base)
	if !ok {
		t.Fatal("compareCells found nothing to compare")
	}
	if f.P >= Alpha || f.RatioLo > 1 {
		t.Fatalf("fixture: p=%v, interval [%v, %v]; want p<%v with the interval holding 1", f.P, f.RatioLo, f.RatioHi, Alpha)
	}
	if f.Significant || !strings.Contains(f.Text, "no difference detected") || !strings.Contains(f.Text, "holds 1") {
		t.Errorf("tied samples: significant=%v, %q; want no difference stated, and why", f.Significant, f.Text)
	}
	apart := cell("rangelock", []float64{200, 210, 220, 230, 240, 250})
	if f, _ := compareCells(q, apart, base); !f.Significant || f.RatioLo <= 1 {
		t.Errorf("separated samples: %q; want the difference stated", f.Text)
	}
}
