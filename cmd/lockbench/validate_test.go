package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/results"
	"lockbench/strategies"
)

// TestValidateBadInput: every refusal is one line, exit 2, before measuring.
func TestValidateBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "-target", "tmpfs"}, "tmpfs has no scheme in the model (validate supports btrfs, ext4, xfs)"},
		{[]string{"validate", "-target", "loop:zfs"}, "loop filesystem must be ext4, xfs or btrfs"},
		{[]string{"validate", "-reps", "0"}, "-reps must be between 1 and 100"},
		{[]string{"validate", "-duration", "0s"}, "-duration must be > 0"},
		{[]string{"validate", "-format", "xml"}, "-format must be text or json"},
		{[]string{"run", "-strategy", "scheme-zfs"}, `unknown name "scheme-zfs"`},
	} {
		o := runCLI(context.Background(), tc.args...)
		if o.code != 2 || !strings.Contains(o.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, o.code, o.stderr, tc.want)
		}
		if n := strings.Count(strings.TrimSpace(o.stderr), "\n"); n > 0 {
			t.Errorf("%v: %d lines on stderr; want one: %q", tc.args, n+1, o.stderr)
		}
	}
}

// TestCalibrationFileRefused: a calibration from another machine or kernel
// is refused (exit 2, naming the mismatch) unless -calibration-force; a file
// without one is refused too.
func TestCalibrationFileRefused(t *testing.T) {
	m, err := hardware.Detect()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tgt := t.TempDir()
	write := func(name string, cals []results.Calibration) string {
		p := filepath.Join(dir, name)
		if err := results.WriteFile(p, &results.File{Schema: results.SchemaVersion, Tool: "lockbench", Machine: m.Desc(), Cells: []results.Cell{}, Calibrations: cals}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fsType := func() string {
		tg, cleanup, err := hardware.Prepare(context.Background(), hardware.TargetSpec{Kind: "dir", Path: tgt})
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		return tg.FSType
	}()
	phases := []results.PhaseDist{{Phase: hotpath.PhaseWriteFault, Samples: []int64{1000}}, {Phase: hotpath.PhaseFill, Samples: []int64{1000}}, {Phase: hotpath.PhaseFsyncLog, Samples: []int64{1000}}}
	other := write("other.json", []results.Calibration{{Target: "dir:" + tgt, FS: fsType, Fingerprint: "0000", Kernel: m.Kernel, Phases: phases}})
	none := write("none.json", nil)
	args := func(file string, extra ...string) []string {
		return append([]string{"run", "-strategy", "rwsem", "-scenario", "fsync-storm", "-target", "dir:" + tgt, "-duration", "200ms", "-o", "", "-q", "-calibration", file}, extra...)
	}
	o := runCLI(context.Background(), args(other)...)
	if o.code != 2 || !strings.Contains(o.stderr, "machine fingerprint 0000") || !strings.Contains(o.stderr, "-calibration-force") {
		t.Errorf("foreign calibration: exit %d, stderr %q; want exit 2 naming the fingerprint", o.code, o.stderr)
	}
	o = runCLI(context.Background(), args(none)...)
	if o.code != 2 || !strings.Contains(o.stderr, "holds no calibration") {
		t.Errorf("file without calibration: exit %d, stderr %q; want exit 2", o.code, o.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o = runCLI(ctx, args(other, "-calibration-force", "-format", "json")...)
	if o.code != 0 {
		t.Fatalf("-calibration-force: exit %d, stderr %q", o.code, o.stderr)
	}
	if !strings.Contains(o.stderr, "-calibration-force: using") {
		t.Errorf("-calibration-force does not say it used a foreign calibration: %q", o.stderr)
	}
	var f results.File
	if err := json.Unmarshal([]byte(o.stdout), &f); err != nil {
		t.Fatalf("json output: %v", err)
	}
	if len(f.Cells) != 1 || f.Cells[0].Config.Strategy != "rwsem+calibrated" || f.Cells[0].Config.Calibrated != "dir:"+tgt {
		t.Fatalf("calibrated cell: %+v; want strategy rwsem+calibrated calibrated on dir:%s", f.Cells[0].Config, tgt)
	}
	if len(f.Calibrations) != 1 {
		t.Errorf("results hold %d calibrations; want the one used", len(f.Calibrations))
	}
	if f.Cells[0].Reps[0].Counters.CalibratedNs <= 0 {
		t.Errorf("calibrated run spent no calibrated time: %+v", f.Cells[0].Reps[0].Counters)
	}
	assertNoBackingFiles(t, tgt)
}

// TestCounterfactualQuestions: each rejected design validate states runs a
// real scenario under real strategies, names its question, and reads
// only counters the results carry.
func TestCounterfactualQuestions(t *testing.T) {
	if len(cfQuestions) < 4 {
		t.Fatalf("%d counterfactual questions; want R1, R3, R4 and fault-around", len(cfQuestions))
	}
	counters := map[string]bool{}
	for _, cf := range results.CounterFields {
		counters[cf.Name] = true
	}
	for _, q := range cfQuestions {
		if _, err := hotpath.LookupScenario(q.scenario); err != nil || q.question == "" {
			t.Errorf("%q: scenario %q: %v", q.question, q.scenario, err)
		}
		for _, side := range []cfSide{q.design, q.chosen} {
			if _, err := side.strategyOf(); err != nil || side.label == "" {
				t.Errorf("%q: strategy %q: %v", q.question, side.strategy, err)
			}
		}
		for _, m := range q.measures {
			if m.Counter != "" && !counters[m.Counter] {
				t.Errorf("%q: no counter %q in the results", q.question, m.Counter)
			}
		}
		if q.design.label == q.chosen.label {
			t.Errorf("%q compares %s with itself", q.question, q.design.label)
		}
	}
}

// TestR1UnlockedCleanup: R1's counterfactual side is rwsem with the
// cleanup's plan and mechanism changed, and nothing else.
func TestR1UnlockedCleanup(t *testing.T) {
	var u rwsemUnlockedCleanup
	var r strategies.RWSem
	for op := strategies.Op(0); op < strategies.NumOps; op++ {
		got, base := u.Plan(op), r.Plan(op)
		if op == strategies.OpWriteCleanup {
			if got != (strategies.Plan{}) || base == got {
				t.Errorf("cleanup plan %+v (rwsem's %+v); want no lock", got, base)
			}
			continue
		}
		if got != base {
			t.Errorf("%v: plan %+v; want rwsem's %+v", op, got, base)
		}
	}
	if m := u.Mechanisms(); m != (strategies.Mechanisms{UnsafeCleanup: true}) {
		t.Errorf("mechanisms %+v; want rwsem's with UnsafeCleanup", m)
	}
	if u.Name() == r.Name() {
		t.Errorf("named %q like rwsem", u.Name())
	}
}
