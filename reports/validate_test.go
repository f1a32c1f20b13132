package reports

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"lockbench/results"
)

// vcell is a cell of scenario sc whose repetitions' write-fault p50 are
// p50s (other percentiles scaled from it) and whose faulters waited on lock.
func vcell(sc, lock string, p50s ...time.Duration) *results.Cell {
	c := &results.Cell{Config: results.Config{Scenario: sc}}
	for _, d := range p50s {
		l := results.Latency{Samples: 100, P50: d, P90: 2 * d, P99: 4 * d, P999: 8 * d, Max: 9 * d}
		r := results.Rep{Ops: []results.OpStats{{Op: "write-fault", Role: "faulter", Latency: l}, {Op: "fsync", Latency: l}, {Op: "punch", Latency: l},
			{Op: "write-fault@fsync", Latency: l}, {Op: "write-fault@punch", Latency: l}, {Op: "read", Latency: l}},
			LockTrace: &results.LockTrace{},
			Locks:     []results.LockStat{{Class: lock, Role: "faulter", Ops: 1000, Contentions: int64(d / time.Microsecond), Wait: l}}}
		c.Reps = append(c.Reps, r)
	}
	return c
}

func TestValidateRatios(t *testing.T) {
	us := time.Microsecond
	kernel := map[string]*results.Cell{"fsync-storm": vcell("fsync-storm", "IO/MK", 10*us, 11*us, 12*us), "punch": vcell("punch", "MK", 10*us, 11*us, 12*us)}
	within := map[string]*results.Cell{"fsync-storm": vcell("fsync-storm", "MK", 15*us, 16*us, 17*us), "punch": vcell("punch", "MK", 8*us, 9*us, 10*us)}
	v := Validate("loop:btrfs", "btrfs", "scheme-btrfs", "MK", within, kernel)
	if !v.Within || len(v.Rows) != 24 {
		t.Fatalf("within 2x: Within=%v rows=%d; want true, 24: %+v", v.Within, len(v.Rows), v.Rows)
	}
	r := v.Rows[0]
	if r.Measure != "write-fault p50" || math.Abs(r.Ratio-16.0/11) > 1e-9 || r.RatioLo > r.Ratio || r.RatioHi < r.Ratio {
		t.Errorf("row 0 = %+v; want write-fault p50 ratio 16/11 inside its interval", r)
	}
	if math.Abs(v.WorstRatio-16.0/11) > 1e-9 {
		t.Errorf("worst ratio %v; want 16/11", v.WorstRatio)
	}
	// The kernel's "IO/MK" class counts as a wait on MK.
	for _, r := range v.Rows {
		if strings.Contains(r.Measure, "waits on MK, waits/op") && r.Note != "" {
			t.Errorf("%s: %s; want the IO/MK waits counted", r.Measure, r.Note)
		}
	}
	far := map[string]*results.Cell{"fsync-storm": vcell("fsync-storm", "MK", 50*us, 55*us, 60*us), "punch": vcell("punch", "MK", 10*us, 11*us, 12*us)}
	v = Validate("loop:btrfs", "btrfs", "scheme-btrfs", "MK", far, kernel)
	if v.Within || v.WorstRatio < 4.9 {
		t.Fatalf("5x apart: Within=%v worst=%v; want false, 5", v.Within, v.WorstRatio)
	}
	worst := WorstRows(v)
	if len(worst) == 0 || !strings.HasPrefix(worst[0], "fsync-storm") {
		t.Errorf("worst rows %v; want fsync-storm's first", worst)
	}
	var b bytes.Buffer
	ValidationText(&b, v, "loop:btrfs")
	if !strings.Contains(b.String(), "NOT validated") || !strings.Contains(b.String(), "OUTSIDE 2x") || !strings.Contains(b.String(), "scheme-btrfs+calibrated") {
		t.Errorf("text table does not name the verdict, the rows outside and the calibrated model:\n%s", b.String())
	}
	b.Reset()
	if err := ValidationHTML(&b, []results.Validation{v}, nil); err != nil || !strings.Contains(b.String(), "class=bad") || !strings.Contains(b.String(), "calibrated time") {
		t.Errorf("HTML: %v\n%s", err, b.String())
	}
	cf := Counterfactuals(v, vcell("fsync-read", "ER", 40*us, 44*us, 48*us), vcell("fsync-read", "MK", 10*us, 11*us, 12*us))
	if len(cf) == 0 || math.Abs(cf[0].Ratio-4) > 0.5 || !strings.Contains(cf[0].Validated, "NOT validated") {
		t.Errorf("counterfactuals %+v; want read p99.9 about 4x, flagged as not validated", cf)
	}
}

// TestValidateMissingKernelWaits: without kernel lock tracing the wait rows
// say so and do not fail the target.
func TestValidateMissingKernelWaits(t *testing.T) {
	us := time.Microsecond
	k := vcell("fsync-storm", "MK", 10*us, 11*us, 12*us)
	for i := range k.Reps {
		k.Reps[i].LockTrace, k.Reps[i].Locks = nil, nil
	}
	v := Validate("t", "btrfs", "scheme-btrfs", "MK", map[string]*results.Cell{"fsync-storm": vcell("fsync-storm", "MK", 10*us, 11*us, 12*us)}, map[string]*results.Cell{"fsync-storm": k})
	for _, r := range v.Rows {
		if r.Scenario == "fsync-storm" && strings.HasPrefix(r.Measure, "faulter waits") && !strings.Contains(r.Note, "not traced") {
			t.Errorf("%s: note %q; want it to say the kernel's waits were not traced", r.Measure, r.Note)
		}
	}
}

// TestValidateWaitsPerOpNote: where the faulters' throughputs differ by
// more than 2x, the waits/op row says so (the row still counts).
func TestValidateWaitsPerOpNote(t *testing.T) {
	us := time.Microsecond
	withRate := func(c *results.Cell, ops int64) *results.Cell {
		for i := range c.Reps {
			c.Reps[i].Elapsed = time.Second
			c.Reps[i].Workers = []results.Worker{{Role: "faulter", Ops: ops}, {Role: "puncher", Ops: 7}}
		}
		return c
	}
	kernel := map[string]*results.Cell{"fsync-storm": withRate(vcell("fsync-storm", "MK", 10*us, 11*us, 12*us), 1000), "punch": withRate(vcell("punch", "MK", 10*us, 11*us, 12*us), 1000)}
	model := map[string]*results.Cell{"fsync-storm": withRate(vcell("fsync-storm", "MK", 10*us, 11*us, 12*us), 5000), "punch": withRate(vcell("punch", "MK", 10*us, 11*us, 12*us), 1500)}
	v := Validate("loop:btrfs", "btrfs", "scheme-btrfs", "MK", model, kernel)
	for _, r := range v.Rows {
		if !strings.HasSuffix(r.Measure, "waits/op") {
			if strings.Contains(r.Note, "faulter ops/s") {
				t.Errorf("%s %s: note %q on a row that is not per op", r.Scenario, r.Measure, r.Note)
			}
			continue
		}
		noted := strings.Contains(r.Note, "faulter ops/s differ 5.00x")
		if want := r.Scenario == "fsync-storm"; noted != want {
			t.Errorf("%s %s: note %q; want the 5x throughput named: %v", r.Scenario, r.Measure, r.Note, want)
		}
	}
}
