package hotpath

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"lockbench/strategies"
)

// TestRunMeasuredSectionAllocs checks the promise behind BenchmarkHotpath's
// 0 allocs/op: between OnStart and OnStop a run allocates a bounded number
// of objects (the wait loop's timers, a sleeping role's first timer, an
// fsync log) however many operations it runs, so allocs/op = allocs / b.N
// rounds to 0 once b.N passes a few hundred. A scenario whose operations
// allocated would show a count growing with the budget.
func TestRunMeasuredSectionAllocs(t *testing.T) {
	clk, err := testClock()
	if err != nil {
		t.Fatal(err)
	}
	measured := func(sc Scenario, sn string, ops int64) uint64 {
		st, err := strategies.New(sn, strategies.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var ms runtime.MemStats
		var before, after uint64
		cfg := Config{
			Strategy: st, Scenario: sc, Threads: 2, OpLimit: ops, Seed: 1, Dir: t.TempDir(),
			Clock: clk, Watchdog: 20 * time.Second,
			OnStart: func() { runtime.ReadMemStats(&ms); before = ms.Mallocs },
			OnStop:  func() { runtime.ReadMemStats(&ms); after = ms.Mallocs },
		}
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("%s %s: %v", sn, sc.Name, err)
		}
		if after < before {
			t.Fatalf("%s %s: OnStop ran before OnStart (mallocs %d < %d)", sn, sc.Name, after, before)
		}
		return after - before
	}
	small, large := int64(2_000), int64(100_000)
	sns := []string{"none", "rangelock"}
	if testing.Short() { // -race -short runs this too
		large, sns = 20_000, sns[:1]
	}
	// The bound: what a run allocates regardless of its length, with room
	// for the runtime's own (timers of sleeping roles, goroutine wake-ups).
	const slack = 64
	for _, name := range []string{"fault-scale", "fsync-storm", "write-fail"} {
		sc, err := LookupScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, sn := range sns {
			a, b := measured(sc, sn, small), measured(sc, sn, large)
			t.Logf("%s %s: %d allocations in the measured section at %d ops, %d at %d ops", sn, name, a, small, b, large)
			if b > a+slack {
				t.Errorf("%s %s: %d allocations in the measured section of %d ops, %d of %d ops; want no growth with the budget (slack %d)",
					sn, name, a, small, b, large, slack)
			}
			if b > 4*slack {
				t.Errorf("%s %s: %d allocations in the measured section of %d ops; want at most %d", sn, name, b, large, 4*slack)
			}
		}
	}
}

// TestViolationFormatsOnlyKept checks that a violation past the worker's
// list formats nothing and allocates nothing (a SIGBUS on the measured
// path, oracle off), while a kept one carries its formatted detail.
func TestViolationFormatsOnlyKept(t *testing.T) {
	w := testWorker(t, 0, RoleFaulter)
	p := 1000 // boxed by Sprintf: an allocation if it were formatted
	formatted := 0
	detail := func() string { formatted++; return fmt.Sprintf("SIGBUS on page %d", p) }
	w.violation(nil, "I4", strategies.R4, p, detail)
	if len(w.oracleV) != 1 || w.oracleV[0].Detail != "SIGBUS on page 1000" || formatted != 1 {
		t.Fatalf("first violation: kept %+v, formatted %d times; want one kept with its detail, formatted once", w.oracleV, formatted)
	}
	for len(w.oracleV) < maxViolationsPerWorker {
		w.violation(nil, "I4", strategies.R4, p, detail)
	}
	formatted = 0
	allocs := testing.AllocsPerRun(100, func() {
		w.violation(nil, "I4", strategies.R4, p, func() string { return fmt.Sprintf("SIGBUS on page %d", p) })
	})
	w.violation(nil, "I4", strategies.R4, p, detail)
	if allocs != 0 || formatted != 0 {
		t.Errorf("violation past the list's %d: %v allocations, detail formatted %d times; want 0, 0", maxViolationsPerWorker, allocs, formatted)
	}
	if want := int64(maxViolationsPerWorker + 102); w.nViolations != want {
		t.Errorf("nViolations = %d; want %d (every violation counted)", w.nViolations, want)
	}
}
