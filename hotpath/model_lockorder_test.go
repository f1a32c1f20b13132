package hotpath

import (
	"fmt"
	"testing"
)

// The lock-order checker. Helpers are in model_test.go.

// ---- lock order ----

// TestCheckOrder is the lock-order checker's truth table (it runs in every
// build: checkOrder itself does not depend on the lockcheck tag).
func TestCheckOrder(t *testing.T) {
	tests := []struct {
		held []lockClass
		take lockClass
		ok   bool
	}{
		{nil, lkIO, true},
		{[]lockClass{lkIO}, lkMM, true},
		{[]lockClass{lkIO}, lkIL, true},
		{[]lockClass{lkMM}, lkIL, true},
		{[]lockClass{lkMM, lkIL}, lkER, true},
		{[]lockClass{lkMM, lkIL, lkER}, lkF, true},
		{[]lockClass{lkMM, lkIL, lkF}, lkIX, true},
		{[]lockClass{lkIO, lkIL}, lkIX, true},
		{[]lockClass{lkMM, lkIL}, lkMK, true},      // page_mkwrite: IL(S) then MK(S)
		{[]lockClass{lkMM, lkIL, lkMK}, lkF, true}, // then the page lock
		{[]lockClass{lkIO}, lkMK, true},            // fsync: IO(X) then MK(X)
		{[]lockClass{lkIO, lkMK}, lkF, true},       // and writeback's page locks under it
		{[]lockClass{lkMM}, lkIO, false},           // the ABBA of VM_FAULT_RETRY
		{[]lockClass{lkMK}, lkIL, false},
		{[]lockClass{lkMK}, lkMM, false},
		{[]lockClass{lkF}, lkMK, false},
		{[]lockClass{lkIL}, lkIO, false},
		{[]lockClass{lkIX}, lkF, false},
		{[]lockClass{lkF}, lkF, false},
		{[]lockClass{lkIL}, lkMM, false},
		{[]lockClass{lkIX}, lkIX, false},
	}
	for _, tt := range tests {
		w := testWorker(t, 3, RoleFaulter)
		for _, c := range tt.held {
			w.held |= 1 << c
		}
		var got any
		func() {
			defer func() { got = recover() }()
			w.checkOrder(tt.take)
		}()
		name := fmt.Sprintf("checkOrder(%v) holding %s", tt.take, heldString(w.held))
		switch e, isErr := got.(*LockOrderError); {
		case tt.ok && got != nil:
			t.Errorf("%s panicked with %v; want no panic", name, got)
		case !tt.ok && !isErr:
			t.Errorf("%s = %v; want a *LockOrderError panic", name, got)
		case !tt.ok && (e.Worker != 3 || e.Held != heldString(w.held) || e.Want != tt.take.String()):
			t.Errorf("%s = %+v; want {Worker: 3, Held: %s, Want: %v}", name, *e, heldString(w.held), tt.take)
		}
	}
}
