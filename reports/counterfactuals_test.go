package reports

import (
	"strings"
	"testing"
	"time"

	"lockbench/results"
)

// TestStateCounterfactual: every measure is stated in the findings' words,
// with its interval and p, and carries the validation clause: "validated
// within" on a validated target, "NOT validated: worst <row> <ratio>" else.
func TestStateCounterfactual(t *testing.T) {
	cell := func(strategy string, p50 time.Duration, remaps int64) *results.Cell {
		c := &results.Cell{Config: results.Config{Scenario: "stale-map", Strategy: strategy, Threads: 2}}
		for i := range 6 {
			d := p50 + time.Duration(i)*time.Nanosecond
			c.Reps = append(c.Reps, results.Rep{TimerFloor: 20,
				Ops:      []results.OpStats{{Op: "write", Count: 1000, PerSecond: 500, Latency: results.Latency{Samples: 1000, P50: d, P99: 4 * d}}},
				Counters: results.Counters{Remaps: remaps + int64(i)}})
		}
		return c
	}
	ms := []CFMeasure{{Op: "write", Stat: "p50"}, {Op: "write", Stat: "p99"}, {Op: "write", Counter: "remaps"}, {Op: "write", Stat: "ops/s"}}
	ok := results.Validation{Target: "loop:xfs:1G", WorstRatio: 1.6, Within: true}
	bad := results.Validation{Target: "loop:xfs:1G", WorstRatio: 7.1, Rows: []results.ValidationRow{
		{Scenario: "punch", Measure: "punch p50", Ratio: 0.14}, {Scenario: "punch", Measure: "write-fault p99", Ratio: 3}}}
	for _, tc := range []struct {
		v      results.Validation
		clause string
	}{{ok, "(model calibrated on loop:xfs:1G, validated within 1.60x)"}, {bad, "(model calibrated on loop:xfs:1G, NOT validated: worst punch punch p50 0.14x)"}} {
		cs := StateCounterfactual(tc.v, "R3: the validity cookie", cell("seqcount", 2*time.Microsecond, 50), cell("rwsem", time.Microsecond, 0), ms)
		if len(cs) != len(ms) {
			t.Fatalf("%d findings for %d measures: %+v", len(cs), len(ms), cs)
		}
		for i, c := range cs {
			if !strings.HasSuffix(c.Text, tc.clause) || c.Question != "R3: the validity cookie" {
				t.Errorf("finding %d: %q; want it to end with %q", i, c.Text, tc.clause)
			}
			if !strings.Contains(c.Text, "seqcount vs rwsem") || c.P <= 0 || c.Level <= 0 {
				t.Errorf("finding %d lacks its comparison, p or interval: %+v", i, c)
			}
		}
		if !strings.Contains(cs[0].Text, "difference: +1µs (2x [") {
			t.Errorf("write p50 finding: %q; want a difference of +1µs at 2x", cs[0].Text)
		}
		if cs[2].Measure != "remaps/write" || !strings.Contains(cs[2].Text, "remaps per write") {
			t.Errorf("remaps finding: %+v", cs[2])
		}
	}
}
