package hotpath

import (
	"testing"

	"lockbench/strategies"
)

// TestAccountingLevelBits: each accounting type's constant predicates are
// the level it names (the sizes encode them, locks.go), and acctDyn reads
// the worker's level and is hooked.
func TestAccountingLevelBits(t *testing.T) {
	w := &Worker{}
	type preds struct{ full, waits, hooked bool }
	check := func(name string, got, want preds) {
		t.Helper()
		if got != want {
			t.Errorf("%s: full, waits, hooked = %v; want %v", name, got, want)
		}
	}
	check("absent", preds{locker[acctAbsent]{w}.full(), locker[acctAbsent]{w}.waits(), locker[acctAbsent]{w}.hooked()}, preds{false, false, false})
	check("off", preds{locker[acctOff]{w}.full(), locker[acctOff]{w}.waits(), locker[acctOff]{w}.hooked()}, preds{false, true, false})
	check("on", preds{locker[acctOn]{w}.full(), locker[acctOn]{w}.waits(), locker[acctOn]{w}.hooked()}, preds{true, true, false})
	check("absent hooked", preds{locker[acctAbsentHooked]{w}.full(), locker[acctAbsentHooked]{w}.waits(), locker[acctAbsentHooked]{w}.hooked()}, preds{false, false, true})
	check("off hooked", preds{locker[acctOffHooked]{w}.full(), locker[acctOffHooked]{w}.waits(), locker[acctOffHooked]{w}.hooked()}, preds{false, true, true})
	check("on hooked", preds{locker[acctOnHooked]{w}.full(), locker[acctOnHooked]{w}.waits(), locker[acctOnHooked]{w}.hooked()}, preds{true, true, true})
	for _, c := range []struct {
		level lockLevel
		want  preds
	}{{locksAbsent, preds{false, false, true}}, {locksOff, preds{false, true, true}}, {locksOn, preds{true, true, true}}} {
		w.locks = c.level
		check("dyn", preds{w.dyn().full(), w.dyn().waits(), w.dyn().hooked()}, c.want)
	}
}

// TestHookedFaultsMarkSpans: a write fault on an inode with a span hook
// marks page_mkwrite's span point at every accounting level, and keeps the
// level's accounting: with -locks it counts the same acquisitions as the
// same fault on the inode without the hook.
func TestHookedFaultsMarkSpans(t *testing.T) {
	for _, on := range []bool{false, true} {
		acq := map[bool][numLockClasses]int64{}
		for _, hooked := range []bool{false, true} {
			in := openTest(t, "rwsem", strategies.Options{})
			w := testWorker(t, 0, RoleFaulter)
			w.setLockStats(on)
			calls := 0
			if hooked {
				in.spanHook = func(_ *Worker, sp spanPoint) {
					if sp == spWriteFault {
						calls++
					}
				}
			}
			if err := w.store(in, 1, false); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 0, true: 1}[hooked]; calls != want {
				t.Errorf("locks on=%v hooked=%v: the write fault marked spWriteFault %d times; want %d", on, hooked, calls, want)
			}
			acq[hooked] = w.lk.acq
		}
		if acq[true] != acq[false] {
			t.Errorf("locks on=%v: a hooked write fault counted acquisitions %v; unhooked %v", on, acq[true], acq[false])
		}
		if on && acq[true][lkMM] == 0 {
			t.Errorf("locks on: the write fault counted no MM acquisition")
		}
	}
}
