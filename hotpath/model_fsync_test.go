package hotpath

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"lockbench/strategies"
)

// fsync's log and what its locks stall. Helpers are in model_test.go.

// ---- fsync's log ----

// TestFsyncLog: with nothing running concurrently, every block is logged
// exactly once, modified blocks as their own items, and extModified is
// cleared; the oracle accepts the log.
func TestFsyncLog(t *testing.T) {
	H, W := uint32(extHole), uint32(extWritten)
	for _, sn := range strategies.Names() {
		t.Run("strategy="+sn, func(t *testing.T) {
			in := openTest(t, sn, strategies.Options{})
			fs, f := testWorker(t, 0, RoleFsync), testWorker(t, 1, RoleFaulter)
			for _, p := range []int{0, 1, 5} {
				mustStore(t, f, in, p)
			}
			steps := []struct {
				name string
				do   func()
				want []logRecord
			}{
				{
					name: "after stores to 0, 1 and 5",
					want: []logRecord{{2, 3, H}, {6, 10, H}, {0, 1, W}, {1, 1, W}, {5, 1, W}},
				},
				{
					name: "again, nothing modified",
					want: []logRecord{{0, 2, W}, {2, 3, H}, {5, 1, W}, {6, 10, H}},
				},
				{
					name: "after a store to 3",
					do:   func() { mustStore(t, f, in, 3) },
					want: []logRecord{{0, 2, W}, {2, 1, H}, {4, 1, H}, {5, 1, W}, {6, 10, H}, {3, 1, W}},
				},
			}
			var log []logRecord
			for _, st := range steps {
				if st.do != nil {
					st.do()
				}
				if err := fs.fsync(in, &log); err != nil {
					t.Fatalf("fsync %s: %v", st.name, err)
				}
				if !slices.Equal(log, st.want) {
					t.Errorf("fsync %s: log = %v; want %v", st.name, log, st.want)
				}
				logged := make([]int, in.npages)
				for _, r := range log {
					for b := r.Start; b < r.Start+r.Len; b++ {
						logged[b]++
					}
				}
				for b, n := range logged {
					if n != 1 {
						t.Errorf("fsync %s: block %d logged %d times; want once", st.name, b, n)
					}
					if in.ext[b].Load()&extModified != 0 {
						t.Errorf("fsync %s: block %d still marked modified", st.name, b)
					}
				}
				for p := range in.npages {
					if s := in.pages[p].state.Load(); s&(pgDirty|pgWriteback) != 0 {
						t.Errorf("fsync %s: page %d is %s; want clean", st.name, p, stateString(s))
					}
				}
				checkUnlocked(t, in, "fsync "+st.name, fs, f)
			}
			if got, want := diskStamp(t, in, 3, 1), stampOf(1, 4); got != want {
				t.Errorf("fsync: disk page 3 = %s; want %s", stampString(got), stampString(want))
			}
			if got := in.fsyncs.Load(); got != int64(len(steps)) {
				t.Errorf("fsyncs = %d; want %d", got, len(steps))
			}
			if fs.uncheckedFsyncs != 0 {
				t.Errorf("unchecked fsyncs = %d; want 0", fs.uncheckedFsyncs)
			}
			checkNoViolations(t, "fsync", fs, f)
		})
	}
}

// ---- what fsync's lock stalls (the btrfs claim) ----

// TestFsyncLogStalls holds the locks of fsync's logging phase (the strategy's
// OpFsyncLog plan, ER over the whole file) and checks, per strategy, which
// operation completes and which waits, and for which lock. This is the claim
// of the btrfs fix: a full-range extent lock stalls every read that misses
// the cache, its i_mmap_lock (MK) only write faults. With the XFS option a
// read() also waits for fsync's IO(X).
func TestFsyncLogStalls(t *testing.T) {
	type opCase struct {
		name string
		run  func(w *Worker, in *Inode) error
	}
	ops := []opCase{
		{"read() of a cached page", func(w *Worker, in *Inode) error { _, err := w.read(in, 1, 1); return err }},
		{"read() of an evicted page", func(w *Worker, in *Inode) error { _, err := w.read(in, 2, 1); return err }},
		{"read fault on an evicted page", func(w *Worker, in *Inode) error { _, err := w.readFault(in, 2, false, false); return err }},
		{"write fault on a clean page", func(w *Worker, in *Inode) error { _, err := w.writeFault(in, 1, flagAllowRetry); return err }},
	}
	// waits[strategy][op] is the lock the op waits for (0: it completes).
	rw := []lockClass{0, 0, 0, lkMK}
	waits := map[string][]lockClass{
		"none":       {0, 0, 0, 0},
		"rangelock":  {0, lkER, lkER, lkER},
		"rwsem":      rw,
		"seqcount":   rw,
		"faultretry": rw,
	}
	for _, sn := range strategies.Names() {
		for _, xfs := range []bool{false, true} {
			for i, oc := range ops {
				want := waits[sn][i]
				if xfs && strings.HasPrefix(oc.name, "read()") {
					want = lkIO
				}
				t.Run(fmt.Sprintf("strategy=%s/xfs=%v/%s", sn, xfs, oc.name), func(t *testing.T) {
					in := openTest(t, sn, strategies.Options{})
					in.readIOLock = xfs
					fs, w, other := testWorker(t, 0, RoleFsync), testWorker(t, 1, RoleFaulter), testWorker(t, 2, RoleFaulter)
					written(t, other, in, 1) // clean, mapped ro, WRITTEN
					written(t, other, in, 2)
					evict(t, other, in, 2)
					pl := fs.takePlan(in, in.plans[strategies.OpFsyncLog], 0, uint64(in.npages*in.pageSize))
					done := make(chan error, 1)
					go func() { done <- oc.run(w, in) }()
					if want == 0 {
						select {
						case err := <-done:
							if err != nil {
								t.Fatalf("%s: %v", oc.name, err)
							}
						case <-time.After(10 * time.Second):
							fs.dropPlan(in, pl)
							<-done
							t.Fatalf("%s under fsync's %s did not complete in 10s; want it not to wait", oc.name, in.plans[strategies.OpFsyncLog].Locks())
						}
						fs.dropPlan(in, pl)
					} else {
						waitFor(t, fmt.Sprintf("%s waits for %v under fsync's %s", oc.name, want, in.plans[strategies.OpFsyncLog].Locks()), waitingFor(w, want))
						fs.dropPlan(in, pl)
						select {
						case err := <-done:
							if err != nil {
								t.Fatalf("%s: %v", oc.name, err)
							}
						case <-time.After(10 * time.Second):
							t.Fatalf("%s did not complete within 10s of fsync's locks being dropped", oc.name)
						}
					}
					checkUnlocked(t, in, oc.name, fs, w, other)
					checkNoViolations(t, oc.name, fs, w, other)
				})
			}
		}
	}
}
