//go:build lockcheck

package hotpath

import (
	"strings"
	"testing"

	"lockbench/strategies"
)

// TestLockOrderPanics runs with -tags lockcheck only: the checker must stop
// a worker that takes a lock out of order, before it takes it (so the ABBA
// deadlock of TestDeadlockReport cannot even start), and let the documented
// orders through.
func TestLockOrderPanics(t *testing.T) {
	in := openTest(t, "rwsem", strategies.Options{})
	pg := &in.pages[0]
	tests := []struct {
		name  string
		first func(w *Worker) // locks taken in order, all allowed
		bad   func(w *Worker) // the acquisition that must panic
		held  string
		want  lockClass
		undo  func(w *Worker) // release what first took
	}{
		{
			// A fault (MM) must never take IO: the VM_FAULT_RETRY ABBA.
			name:  "IO after MM",
			first: func(w *Worker) { w.rlock(in.mm, lkMM) },
			bad:   func(w *Worker) { w.wlock(in.io, lkIO) },
			held:  "MM", want: lkIO,
			undo: func(w *Worker) { w.runlock(in.mm, lkMM) },
		},
		{
			name:  "IL after a page lock",
			first: func(w *Worker) { w.rlock(in.mm, lkMM); w.lockPage(pg) },
			bad:   func(w *Worker) { w.rlock(in.il, lkIL) },
			held:  "MM F", want: lkIL,
			undo: func(w *Worker) { w.unlockPage(pg); w.runlock(in.mm, lkMM) },
		},
		{
			name:  "a page lock under IX",
			first: func(w *Worker) { w.rlock(in.ix, lkIX) },
			bad:   func(w *Worker) { w.lockPage(&in.pages[1]) },
			held:  "IX", want: lkF,
			undo: func(w *Worker) { w.runlock(in.ix, lkIX) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorker(t, 0, RoleFaulter)
			tt.first(w)
			var got any
			func() {
				defer func() { got = recover() }()
				tt.bad(w)
			}()
			e, ok := got.(*LockOrderError)
			switch {
			case !ok:
				t.Errorf("%s: recovered %v; want a *LockOrderError panic", tt.name, got)
			case e.Worker != 0 || e.Held != tt.held || e.Want != tt.want.String():
				t.Errorf("%s: %+v; want {Worker: 0, Held: %s, Want: %v}", tt.name, *e, tt.held, tt.want)
			case !strings.Contains(e.Error(), "takes "+tt.want.String()+" while holding "+tt.held):
				t.Errorf("%s: Error() = %q; want it to name both", tt.name, e.Error())
			}
			tt.undo(w)
			checkUnlocked(t, in, tt.name, w) // the bad lock was never taken
		})
	}

	// The documented orders pass: IO -> MM -> IL -> ER -> F -> IX (a
	// write() faulting on its buffer) and IO -> IL(X) -> F -> IX (punch).
	w := testWorker(t, 1, RoleWriter)
	w.wlock(in.io, lkIO)
	w.rlock(in.mm, lkMM)
	pl := w.takePlan(in, strategies.Plan{IL: strategies.Shared, ER: strategies.Exclusive}, 0, 4096)
	w.lockPage(pg)
	w.wlock(in.ix, lkIX)
	w.wunlock(in.ix, lkIX)
	w.unlockPage(pg)
	w.dropPlan(in, pl)
	w.runlock(in.mm, lkMM)
	pl = w.takePlan(in, strategies.Plan{IL: strategies.Exclusive}, 0, 4096)
	w.lockPage(pg)
	w.rlock(in.ix, lkIX)
	w.runlock(in.ix, lkIX)
	w.unlockPage(pg)
	w.dropPlan(in, pl)
	w.wunlock(in.io, lkIO)
	checkUnlocked(t, in, "the documented orders", w)
}
