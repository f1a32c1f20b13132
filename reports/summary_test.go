package reports

import (
	"slices"
	"strings"
	"testing"

	"lockbench/results"
)

func TestSummarizeFixture(t *testing.T) {
	sums := Summarize(fixture())
	if len(sums) != 2 {
		t.Fatalf("Summarize gave %d cells; want 2", len(sums))
	}
	none, rwsem := &sums[0], &sums[1]

	// Medians over the three reps, by hand from fixture().
	checks := []struct {
		what      string
		got, want float64
	}{
		{"none write-fault ops/s", none.Ops[0].PerSecond.Median, 1_000_000},
		{"none write-fault p99", none.Ops[0].P99.Median, 5000},
		{"none fsync ops/s", none.Ops[1].PerSecond.Median, 50},
		{"rwsem write-fault ops/s", rwsem.Ops[0].PerSecond.Median, 600_000},
		{"rwsem write-fault p99", rwsem.Ops[0].P99.Median, 40_000},
		{"rwsem write-fault ops/s CI low (min)", rwsem.Ops[0].PerSecond.Lo, 550_000},
		{"rwsem timer floor", rwsem.TimerFloor.Median, 25},
		{"rwsem vs none write-fault ops/s ratio", rwsem.Ops[0].VsBaseline.PerSecond.Ratio, 0.6},
		{"rwsem vs none write-fault ops/s p", rwsem.Ops[0].VsBaseline.PerSecond.P, 0.1},
		{"rwsem vs none write-fault p99 ratio", rwsem.Ops[0].VsBaseline.P99.Ratio, 8},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v; want %v", c.what, c.got, c.want)
		}
	}
	if none.HasBaseline || none.Ops[0].VsBaseline != nil {
		t.Errorf("none is compared with itself")
	}
	if !rwsem.HasBaseline {
		t.Errorf("rwsem.HasBaseline = false; want true")
	}
	if none.Ops[0].SampleEvery != 16 || none.Ops[1].SampleEvery != 1 {
		t.Errorf("SampleEvery = %d, %d; want 16, 1", none.Ops[0].SampleEvery, none.Ops[1].SampleEvery)
	}

	// Violations: I1/R1 twice, I2/R3 once, sorted.
	wantKinds := []ViolationCount{{"I1", "R1", 2}, {"I2", "R3", 1}}
	if none.Violations != 3 || !slices.Equal(none.ViolationKinds, wantKinds) {
		t.Errorf("none violations = %d %v; want 3 %v", none.Violations, none.ViolationKinds, wantKinds)
	}
	if rwsem.Violations != 0 {
		t.Errorf("rwsem violations = %d; want 0", rwsem.Violations)
	}

	// Counters: sums and medians, max_retry_chain a maximum, zeros left out.
	counters := map[string]CounterSummary{}
	for _, c := range rwsem.Counters {
		counters[c.Name] = c
	}
	if c := counters["faults"]; c.Total != 3_050_000 || c.Median != 1_200_000 {
		t.Errorf("rwsem faults = total %d median %v; want 3050000, 1200000", c.Total, c.Median)
	}
	if c := counters["max_retry_chain"]; c.Total != 2 || !c.IsMax {
		t.Errorf("rwsem max_retry_chain = %d (max %v); want 2 (max)", c.Total, c.IsMax)
	}
	if _, ok := counters["sigbus"]; ok {
		t.Errorf("rwsem counters include sigbus, which is 0 in every rep")
	}

	// The interrupted rep marks the cell and says so.
	if !rwsem.Incomplete || none.Incomplete {
		t.Errorf("Incomplete = none %v, rwsem %v; want false, true", none.Incomplete, rwsem.Incomplete)
	}
	ws := strings.Join(rwsem.AllWarnings(), "\n")
	for _, want := range []string{"rep 2 incomplete", "3 reps: interval is [min, max] at 75% confidence", "n=3+3 can never reach p<0.05", "write-fault ops/s: spread ±8.3% exceeds ±5%"} {
		if !strings.Contains(ws, want) {
			t.Errorf("rwsem warnings lack %q:\n%s", want, ws)
		}
	}
	// General warnings appear once, not once per operation and measure.
	if n := strings.Count(ws, "3 reps:"); n != 1 {
		t.Errorf("rwsem warnings repeat the reps warning %d times:\n%s", n, ws)
	}
}

func TestSummarizeBaselineMatching(t *testing.T) {
	tests := []struct {
		name   string
		change func(*results.Config)
		want   bool
	}{
		{"same scenario, threads, target, pin", func(*results.Config) {}, true},
		{"different seed and reps still compare", func(c *results.Config) { c.Seed, c.Reps = 99, 5 }, true},
		{"different threads", func(c *results.Config) { c.Threads = 4 }, false},
		{"different target", func(c *results.Config) { c.Target = "ext4" }, false},
		{"different pin", func(c *results.Config) { c.Pin = "spread" }, false},
		{"different scenario", func(c *results.Config) { c.Scenario = "punch-hole" }, false},
		{"different file size", func(c *results.Config) { c.FileSize = 1 << 30 }, false},
		{"oracle off", func(c *results.Config) { c.Oracle = false }, false},
	}
	for _, tt := range tests {
		f := fixture()
		tt.change(&f.Cells[1].Config)
		got := Summarize(f)[1].HasBaseline
		if got != tt.want {
			t.Errorf("%s: HasBaseline = %v; want %v", tt.name, got, tt.want)
		}
	}
}
