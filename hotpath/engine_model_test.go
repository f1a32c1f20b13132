package hotpath

import (
	"testing"

	"lockbench/strategies"
)

// TestStoreBareAndTimed: Worker.store is modelOps.store bare: the stamp
// lands (the first store faults, the next ones go through the rw PTE) and
// the worker's timing state is untouched; the runner's modelOps.store counts
// every store and times the one its sample countdown reaches.
func TestStoreBareAndTimed(t *testing.T) {
	in := openTest(t, "rwsem", strategies.Options{})
	w := testWorker(t, 0, RoleFaulter)
	const p = 5
	gap := w.sampleGap
	for range 3 {
		if err := w.store(in, p, false); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := in.loadStamp(p, w.region(in.regions)), stampOf(0, w.stampSeq); got != want || w.stampSeq == 0 {
		t.Errorf("after 3 bare stores page %d holds %#x; want the last stamp %#x", p, got, want)
	}
	if w.ops[KStore] != 0 || w.sampleGap != gap || w.hist[KStore] != nil {
		t.Errorf("bare stores counted %d, moved the sample countdown %d -> %d, or timed (%v); want none of these",
			w.ops[KStore], gap, w.sampleGap, w.hist[KStore] != nil)
	}

	o := modelOps{&modelState{in: in}}
	w.sampleGap = 2 // the second store below is in the sample
	for range 2 {
		if err := o.store(w, p); err != nil {
			t.Fatal(err)
		}
	}
	if w.ops[KStore] != 2 || w.hist[KStore] == nil || w.hist[KStore].TotalCount() != 1 {
		t.Errorf("2 timed stores: counted %d, timed %v; want 2 counted, 1 timed", w.ops[KStore], w.hist[KStore] != nil)
	}
	if v := in.pages[p].pte.Load(); v>>8 != 0 {
		t.Errorf("page %d PTE %#x after the stores: %d stores still in flight", p, v, v>>8)
	}
}
