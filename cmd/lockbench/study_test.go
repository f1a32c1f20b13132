package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/reports"
	"lockbench/results"
)

// Every scenario of the study exists: availableScenarios would drop a
// misspelt one silently, and with it a question.
func TestStudyPartsExist(t *testing.T) {
	for _, p := range studyParts {
		for _, sc := range strings.Split(p.scenarios, ",") {
			if !slices.Contains(hotpath.ScenarioNames(), sc) {
				t.Errorf("study part %q: no scenario %q", p.scenarios, sc)
			}
		}
	}
}

// Two parts naming one target (auto's tmpfs and tmpfs) prepare it once:
// hardware.PrepareAll rejects a directory listed twice.
func TestStudyTargetsOnce(t *testing.T) {
	var specs []hardware.TargetSpec
	for _, spec := range []string{"auto", "tmpfs", "auto", "tmpfs,dir:/tmp"} {
		ts, err := hardware.ParseTargets(spec)
		if err != nil {
			t.Fatal(err)
		}
		specs = addSpecs(specs, ts)
	}
	seen := map[string]bool{}
	for _, ts := range specs {
		if seen[ts.String()] {
			t.Errorf("target %s listed twice in %v", ts, specs)
		}
		seen[ts.String()] = true
	}
	if !seen["tmpfs"] {
		t.Errorf("targets %v lack tmpfs", specs)
	}
}

// undecidedCells picks the cells of comparisons the findings cannot decide
// yet, and stops at the repetition limit.
func TestUndecidedCells(t *testing.T) {
	cell := func(strategy string, p999 []time.Duration) results.Cell {
		c := results.Cell{Config: results.Config{Strategy: strategy, Scenario: "punch", Threads: 2, Target: "tmpfs"}}
		for i, v := range p999 {
			c.Reps = append(c.Reps, results.Rep{Index: i, TimerFloor: 20, Ops: []results.OpStats{{
				Op: "read-fault", Role: "faulter", Count: 1000, PerSecond: 1e5,
				Latency: results.Latency{Samples: 1000, P50: v / 10, P99: v / 2, P999: v, Max: 2 * v}}}})
		}
		return c
	}
	noisy := []time.Duration{100e3, 300e3, 150e3, 250e3, 120e3, 280e3}
	f := &results.File{Cells: []results.Cell{
		cell("none", noisy),
		cell("rwsem", []time.Duration{110e3, 290e3, 160e3, 240e3, 130e3, 270e3}), // undecided
		cell("rangelock", []time.Duration{50e6, 51e6, 52e6, 53e6, 54e6, 55e6}),   // decided
	}}
	got := undecidedCells(f, 10)
	want := []cellKey{{"none", "punch", "tmpfs", 2}, {"rwsem", "punch", "tmpfs", 2}}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("undecided cells %v lack %v", got, k)
		}
	}
	if _, ok := got[cellKey{"rangelock", "punch", "tmpfs", 2}]; ok {
		t.Errorf("rangelock (100x slower, decided) picked for more repetitions: %v", got)
	}
	if got := undecidedCells(f, 5); len(got) != 0 {
		t.Errorf("cells at the repetition limit picked: %v", got)
	}
	// Calibrated model cells ("rwsem+calibrated") are picked under the
	// strategy's name, as the grids' points name them: the findings
	// compare them under it.
	for i := range f.Cells {
		f.Cells[i].Config.Strategy += calibSuffix
	}
	got = undecidedCells(f, 10)
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("calibrated cells: undecided cells %v lack %v", got, k)
		}
	}
}

// A difference near the threshold is not settled: its cells get more
// repetitions, as an undecided comparison's do; one far below it is.
func TestUndecidedCellsNearThreshold(t *testing.T) {
	cell := func(strategy string, p999 []time.Duration) results.Cell {
		c := results.Cell{Config: results.Config{Strategy: strategy, Scenario: "punch", Threads: 2, Target: "tmpfs"}}
		for i, v := range p999 {
			c.Reps = append(c.Reps, results.Rep{Index: i, TimerFloor: 20, Ops: []results.OpStats{{
				Op: "read-fault", Role: "faulter", Count: 1000, PerSecond: 1e5,
				Latency: results.Latency{Samples: 1000, P50: v / 10, P99: v / 2, P999: v, Max: 2 * v}}}})
		}
		return c
	}
	f := &results.File{Cells: []results.Cell{
		cell("none", []time.Duration{100e3, 110e3, 120e3, 130e3, 140e3, 150e3}),
		// Overlapping the baseline by three pairs: p=0.015 alone, a difference
		// near the threshold.
		cell("rwsem", []time.Duration{135e3, 145e3, 160e3, 170e3, 180e3, 190e3}),
	}}
	fs := reports.Findings(f)
	if len(fs) == 0 || fs[0].Verdict != string(reports.Different) || reports.Settled(fs[0]) {
		t.Fatalf("findings %+v: want one unsettled difference", fs)
	}
	if _, ok := undecidedCells(f, 10)[cellKey{"rwsem", "punch", "tmpfs", 2}]; !ok {
		t.Errorf("an unsettled difference's cell not picked for more repetitions")
	}
}

// TestStudyCalibrations: -calibrate calibrates the targets of the parts
// that run the kernel engine, stores the calibrations in the results
// file, and gives them to those parts only.
func TestStudyCalibrations(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the real tmpfs")
	}
	specs, err := hardware.ParseTargets("tmpfs")
	if err != nil {
		t.Fatal(err)
	}
	targets, cleanup, err := hardware.PrepareAll(context.Background(), specs)
	if err != nil {
		t.Skip(err)
	}
	defer cleanup()
	m, err := hardware.Detect()
	if err != nil {
		t.Fatal(err)
	}
	kern := &plan{strategies: []string{hotpath.KernelName, "rwsem"}, targets: specs}
	model := &plan{strategies: []string{"rwsem"}, targets: specs}
	file := &results.File{}
	if err := studyCalibrations(context.Background(), []*plan{model, kern}, targets, m, 1, true, file, io.Discard); err != nil {
		t.Fatal(err)
	}
	if len(file.Calibrations) != 1 || file.Calibrations[0].Target != targets[0].Spec {
		t.Fatalf("calibrations stored: %+v; want one, of %s", file.Calibrations, targets[0].Spec)
	}
	if kern.cals[targets[0].Spec] == nil || model.cals != nil {
		t.Errorf("kernel part's calibrations %v, model-only part's %v; want the target's, and none", kern.cals, model.cals)
	}
}
