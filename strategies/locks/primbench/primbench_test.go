package primbench

import (
	"testing"

	"lockbench/strategies/locks"
)

// TestMutexTree checks the benchmark peer against the same rule.
func TestMutexTree(t *testing.T) {
	tr := newMutexTree()
	a := tr.Lock(0, 8*kib, locks.Shared)
	b := tr.Lock(4*kib, 12*kib, locks.Shared)
	if !tr.conflicts(0, 1, true) || tr.conflicts(12*kib, 16*kib, true) || tr.conflicts(0, 1, false) {
		t.Fatal("mutexTree.conflicts disagrees with the overlap rule")
	}
	tr.Unlock(a)
	tr.Unlock(b)
	if len(tr.held) != 0 {
		t.Fatalf("held after unlocking everything = %v; want none", tr.held)
	}
}
