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
// allocated would show a count growing with the budget. Without -short it
// covers every scenario under every model strategy and, where the scenario
// has a real counterpart, the kernel engine (a few seconds); -short keeps
// three scenarios under none. A recovered SIGBUS is allowed its own
// allocations (perFault).
func TestRunMeasuredSectionAllocs(t *testing.T) {
	clk, err := testClock()
	if err != nil {
		t.Fatal(err)
	}
	// measured returns the allocations in the measured section and the
	// SIGBUS faults the run recovered from: each one allocates (the
	// runtime's panic error, the MemFault Protect returns), per fault, not
	// per operation; the kernel engine's truncates make them.
	procs := 0 // the most Ps a run had (Run raises GOMAXPROCS to its workers + 1)
	measured := func(sc Scenario, sn string, ops int64) (allocs, faults uint64) {
		cfg := Config{
			Scenario: sc, Threads: 2, OpLimit: ops, Seed: 1, Dir: t.TempDir(),
			Clock: clk, Watchdog: 20 * time.Second,
		}
		if sn == KernelName {
			cfg.Engine = EngineKernel
		} else {
			st, err := strategies.New(sn, strategies.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Strategy = st
		}
		var ms runtime.MemStats
		var before, after uint64
		cfg.OnStart = func() { runtime.ReadMemStats(&ms); before = ms.Mallocs }
		cfg.OnStop = func() { runtime.ReadMemStats(&ms); after = ms.Mallocs }
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s %s: %v", sn, sc.Name, err)
		}
		if after < before {
			t.Fatalf("%s %s: OnStop ran before OnStart (mallocs %d < %d)", sn, sc.Name, after, before)
		}
		procs = max(procs, rep.GoMaxProcs)
		return after - before, uint64(rep.Counters.Sigbus + rep.Counters.SigbusBeyondEOF)
	}
	small, large := int64(2_000), int64(50_000)
	scs := ScenarioNames()
	sns := append(strategies.Names(), KernelName)
	if testing.Short() { // -race -short runs this too
		large, scs, sns = 20_000, []string{"fault-scale", "fsync-storm", "write-fail"}, []string{"none"}
	}
	// The bound: what a run allocates regardless of its length, with room
	// for the runtime's own (timers of sleeping roles, goroutine wake-ups,
	// and the park records (sudogs) of a sync.Cond wait, which the runtime
	// caches per P: a run on more Ps fills more caches before it reuses
	// them; the race detector's runtime reuses fewer).
	const perFault = 3
	slackFor := func() uint64 { return uint64(max(64, 32*procs)) }
	for _, name := range scs {
		sc, err := LookupScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, sn := range sns {
			if sn == KernelName && KernelRefusal(sc) != nil {
				continue
			}
			a, _ := measured(sc, sn, small)
			b, faults := measured(sc, sn, large)
			slack := slackFor()
			t.Logf("%s %s: %d allocations in the measured section at %d ops, %d at %d ops (%d SIGBUS)", sn, name, a, small, b, large, faults)
			if b > a+slack+perFault*faults {
				t.Errorf("%s %s: %d allocations in the measured section of %d ops, %d of %d ops with %d SIGBUS; want no growth with the budget (slack %d, %d per SIGBUS)",
					sn, name, a, small, b, large, faults, slack, perFault)
			}
			if b > 4*slack+perFault*faults {
				t.Errorf("%s %s: %d allocations in the measured section of %d ops with %d SIGBUS; want at most %d", sn, name, b, large, faults, 4*slack+perFault*faults)
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
