package hotpath

import (
	"testing"
	"time"
)

// TestWorkerHistogramsOnDemand: a worker holds the 229 KB histogram of an
// operation kind only once it timed one, and merge reports a kind counted
// but never timed with an empty latency, not a crash.
func TestWorkerHistogramsOnDemand(t *testing.T) {
	w := testWorker(t, 0, RoleWriter)
	for k, h := range w.hist {
		if h != nil {
			t.Fatalf("a new worker holds the histogram of %s; want none", Kind(k))
		}
	}
	start := w.clk.Now()
	w.stopTimer(KWrite, start)
	w.stopTimer(KWrite, start)
	w.ops[KStore] += 3 // counted, never timed (a sampled kind)
	for k, h := range w.hist {
		if (h != nil) != (Kind(k) == KWrite) {
			t.Errorf("after timing writes only, histogram of %s present: %v", Kind(k), h != nil)
		}
	}
	if n := w.hist[KWrite].TotalCount(); n != 2 {
		t.Errorf("write histogram holds %d values; want 2", n)
	}
	rep := merge([]*Worker{w}, time.Second, w.clk)
	for _, o := range rep.Ops {
		switch o.Op {
		case "write":
			if o.Latency.Samples != 2 || o.Hist == "" {
				t.Errorf("write: %d samples, histogram %q; want 2 and its encoding", o.Latency.Samples, o.Hist)
			}
		case "store":
			if o.Count != 3 || o.Latency.Samples != 0 {
				t.Errorf("store: %d counted, %d timed; want 3 and 0", o.Count, o.Latency.Samples)
			}
		}
	}
	if len(rep.Ops) != 2 {
		t.Errorf("merge reported %d operation kinds; want 2 (write, store)", len(rep.Ops))
	}
}
