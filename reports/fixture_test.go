package reports

import (
	"time"

	"lockbench/hardware/desc"
	"lockbench/results"
)

// fixtureMachine is the machine of the golden fixture.
var fixtureMachine = desc.Machine{
	Fingerprint: "fp-3f9a1c2e",
	Hostname:    "bench-a",
	Kernel:      "6.8.0-31-generic",
	CPUModel:    "AMD EPYC 7B13 64-Core Processor",
	LogicalCPUs: 8,
}

// fixture returns the hand-built results file every golden test renders:
// two strategies (none, rwsem) x two operations (write-fault, fsync) x three
// repetitions of one scenario, with counters, violations, a sampled
// operation, a time series, an incomplete repetition and a verify matrix.
// Every number is written out so the goldens can be checked by hand.
func fixture() *results.File {
	target := desc.Target{Spec: "tmpfs", Path: "/dev/shm/lockbench", FSType: "tmpfs"}
	config := func(strategy string, seed uint64) results.Config {
		return results.Config{
			Strategy: strategy, Scenario: "fsync-storm", Threads: 2,
			Target: "tmpfs", TargetInfo: target, Pin: "compact", Seed: seed,
			FileSize: 64 << 20, PageSize: 4096,
			Duration: 2 * time.Second, Warmup: 200 * time.Millisecond,
			Reps: 3, Oracle: true,
		}
	}
	// op builds the stats of one operation over a 2s repetition.
	op := func(name, role string, count int64, sample int, p50, p99, p999, max time.Duration) results.OpStats {
		return results.OpStats{
			Op: name, Role: role, Count: count, PerSecond: float64(count) / 2, SampleEvery: sample,
			Latency: results.Latency{
				Samples: count / int64(sample), Mean: (p50 + p99) / 2,
				P50: p50, P90: (p50 + p99) / 2, P99: p99, P999: p999, Max: max,
			},
		}
	}
	const us, ms = time.Microsecond, time.Millisecond

	none := results.Cell{Config: config("none", 42), Reps: []results.Rep{
		{
			Index: 0, Elapsed: 2 * time.Second, TimerFloor: 25,
			Ops: []results.OpStats{
				op("write-fault", "faulter", 2_000_000, 16, 800, 5*us, 12*us, 90*us),
				op("fsync", "syncer", 100, 1, 2*ms, 6*ms, 7*ms, 7*ms),
			},
			Counters: results.Counters{Faults: 2_000_000, FaultAround: 400_000, PagesCreated: 16384, FsyncLogged: 100},
			Series:   fixtureSeries(2_000_000/20, 5),
			Exclusive: []results.Event{
				{Op: "fsync", Start: 150 * ms, End: 170 * ms},
				{Op: "fsync", Start: 900 * ms, End: 925 * ms},
				{Op: "fsync", Start: 1600 * ms, End: 1630 * ms},
			},
			Workers: []results.Worker{{ID: 0, Role: "faulter", CPU: 0, Ops: 2_000_000}, {ID: 1, Role: "syncer", CPU: 1, Ops: 100}},
		},
		{
			Index: 1, Elapsed: 2 * time.Second, TimerFloor: 26,
			Ops: []results.OpStats{
				op("write-fault", "faulter", 2_040_000, 16, 780, 5100, 12500, 95*us),
				op("fsync", "syncer", 102, 1, 2100*us, 6200*us, 7*ms, 7100*us),
			},
			Counters: results.Counters{Faults: 2_040_000, FaultAround: 408_000, PagesCreated: 16384, FsyncLogged: 102},
			Violations: []results.Violation{
				{Invariant: "I1", Race: "R1", Op: 1234, Worker: 0, Page: 17, Detail: "store stamp 1233 lost after fsync"},
				{Invariant: "I2", Race: "R3", Op: 5678, Worker: 1, Page: 99, Detail: "write stamp behind page"},
			},
		},
		{
			Index: 2, Elapsed: 2 * time.Second, TimerFloor: 25,
			Ops: []results.OpStats{
				op("write-fault", "faulter", 1_960_000, 16, 820, 4900, 11500, 88*us),
				op("fsync", "syncer", 98, 1, 1900*us, 5800*us, 6900*us, 6900*us),
			},
			Counters: results.Counters{Faults: 1_960_000, FaultAround: 392_000, PagesCreated: 16384, FsyncLogged: 98},
			Violations: []results.Violation{
				{Invariant: "I1", Race: "R1", Op: 42, Worker: 0, Page: 3, Detail: "store stamp 41 lost after fsync"},
			},
		},
	}}

	rwsem := results.Cell{Config: config("rwsem", 43), Reps: []results.Rep{
		{
			Index: 0, Elapsed: 2 * time.Second, TimerFloor: 25,
			Ops: []results.OpStats{
				op("write-fault", "faulter", 1_200_000, 16, 1400, 40*us, 2*ms, 6*ms),
				op("fsync", "syncer", 90, 1, 2200*us, 6500*us, 7500*us, 7500*us),
			},
			Counters: results.Counters{Faults: 1_200_000, FaultAround: 240_000, PagesCreated: 16384, FsyncLogged: 90, ILWaits: 5400},
			Series:   fixtureSeries(1_200_000/20, 4.5),
			Exclusive: []results.Event{
				{Op: "fsync", Start: 150 * ms, End: 190 * ms},
				{Op: "fsync", Start: 180 * ms, End: 210 * ms}, // overlaps the first: merged in charts
				{Op: "punch", Start: 1100 * ms, End: 1150 * ms},
			},
		},
		{
			Index: 1, Elapsed: 2 * time.Second, TimerFloor: 27,
			Ops: []results.OpStats{
				op("write-fault", "faulter", 1_300_000, 16, 1300, 38*us, 1900*us, 5*ms),
				op("fsync", "syncer", 92, 1, 2150*us, 6400*us, 7400*us, 7400*us),
			},
			Counters: results.Counters{Faults: 1_300_000, FaultAround: 260_000, PagesCreated: 16384, FsyncLogged: 92, ILWaits: 5200},
		},
		{
			// Interrupted by Ctrl-C half way: still a valid rate, flagged.
			Index: 2, Elapsed: 1 * time.Second, TimerFloor: 25, Incomplete: true,
			Ops: []results.OpStats{
				op("write-fault", "faulter", 550_000, 16, 1500, 45*us, 2100*us, 7*ms),
				op("fsync", "syncer", 44, 1, 2300*us, 6600*us, 7600*us, 7600*us),
			},
			Counters: results.Counters{Faults: 550_000, FaultAround: 110_000, PagesCreated: 16384, FsyncLogged: 44, ILWaits: 3000, MaxRetryChain: 2},
		},
	}}
	for i := range rwsem.Reps[2].Ops { // ran 1s, not 2s
		o := &rwsem.Reps[2].Ops[i]
		o.PerSecond = float64(o.Count)
	}

	return &results.File{
		Schema:  results.SchemaVersion,
		Tool:    "lockbench test",
		Command: "lockbench run -strategies none,rwsem -scenario fsync-storm -threads 2 -target tmpfs -reps 3",
		Created: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Machine: fixtureMachine,
		Cells:   []results.Cell{none, rwsem},
		Verify: &results.Matrix{Budget: "10000 ops", Cells: []results.VerifyCell{
			{Strategy: "none", Scenario: "fsync-storm", Race: "R1", Expect: "violated", Verdict: "violated", Ops: 10000, Violations: 3, FirstAt: 42, Seed: 7, Replay: "lockbench verify -strategy none -scenario fsync-storm -seed 7", Matches: true},
			{Strategy: "rwsem", Scenario: "fsync-storm", Race: "R1", Expect: "safe", Verdict: "safe", Ops: 10000, Seed: 7, Matches: true},
			{Strategy: "none", Scenario: "punch-hole", Race: "R2", Expect: "violated", Verdict: "violated", Ops: 10000, Violations: 1, FirstAt: 977, Seed: 8, Matches: true},
			{Strategy: "rwsem", Scenario: "punch-hole", Race: "R2", Expect: "safe", Verdict: "violated", Ops: 10000, Violations: 2, FirstAt: 5120, Seed: 8, Detail: "<punch> raced a fault & lost", Matches: false},
		}},
	}
}

// fixtureSeries is 20 windows of 100ms: perWindow write faults each, with
// a dip of half during the windows that hold an fsync, and fsyncsPer fsyncs.
func fixtureSeries(perWindow int64, fsyncsPer float64) *results.Series {
	ws := make([]results.Window, 20)
	for i := range ws {
		faults := perWindow
		if i == 1 || i == 9 || i == 16 {
			faults /= 2
		}
		ws[i] = results.Window{
			Start: time.Duration(i) * 100 * time.Millisecond,
			Ops:   map[string]int64{"write-fault": faults, "fsync": int64(fsyncsPer)},
			P99:   map[string]int64{"write-fault": 5000},
		}
	}
	return results.NewSeries(100*time.Millisecond, ws)
}
