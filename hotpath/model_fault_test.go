package hotpath

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"lockbench/strategies"
)

// The model's fault paths: read fault, write fault and store, fault-around,
// and inline data (R4). Helpers are in model_test.go.

// ---- read fault ----

// TestReadFault covers filemap_fault's transitions for every strategy.
func TestReadFault(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, in *Inode, other *Worker)
		page    int
		res     faultResult
		want    pageWant
		created int64 // pages the fault creates
		check   func(t *testing.T, in *Inode)
	}{
		{
			// A fresh page over a hole is zero-filled, whatever the cache
			// file held, and mapped read-only.
			name: "absent page over HOLE",
			setup: func(t *testing.T, in *Inode, _ *Worker) {
				for i := range in.pageBytes(3) {
					in.pageBytes(3)[i] = 0xaa
				}
			},
			page: 3, want: pageWant{clean, pteRO, extHole}, created: 1,
			check: func(t *testing.T, in *Inode) {
				if !allZero(in.pageBytes(3)) {
					t.Errorf("readFault(3) over HOLE: page holds non-zero bytes; want zeros")
				}
			},
		},
		{
			// A fresh page over a WRITTEN block is read from the disk file.
			name: "absent page over WRITTEN",
			setup: func(t *testing.T, in *Inode, other *Worker) {
				written(t, other, in, 5)
				evict(t, other, in, 5)
				for i := range in.pageBytes(5) {
					in.pageBytes(5)[i] = 0xaa
				}
			},
			page: 5, want: pageWant{clean, pteRO, extWritten}, created: 1,
			check: func(t *testing.T, in *Inode) {
				if got, want := in.loadStamp(5, 1), stampOf(1, 1); got != want {
					t.Errorf("readFault(5) over WRITTEN: region 1 = %s; want %s", stampString(got), stampString(want))
				}
				if !bytes.Equal(in.pageBytes(5), diskPage(t, in, 5)) {
					t.Errorf("readFault(5) over WRITTEN: page differs from the disk page")
				}
			},
		},
		{
			// Inline data lives in the cache mapping: the fill keeps it.
			name: "absent page over INLINE",
			setup: func(t *testing.T, in *Inode, _ *Worker) {
				in.SetInline(1)
				in.putStamp(0, 2, 0x1234)
			},
			page: 0, want: pageWant{clean, pteRO, extInline}, created: 1,
			check: func(t *testing.T, in *Inode) {
				if got := in.loadStamp(0, 2); got != 0x1234 {
					t.Errorf("readFault(0) over INLINE: region 2 = %#x; want 0x1234", got)
				}
			},
		},
		{
			// A cached uptodate page is only mapped.
			name: "cached clean page",
			setup: func(t *testing.T, in *Inode, other *Worker) {
				mustReadFault(t, other, in, 7)
				other.zap(in, 7)
			},
			page: 7, want: pageWant{clean, pteRO, extHole},
		},
		{
			// A dirty page whose PTE was zapped is mapped ro and stays dirty:
			// the next store write-faults again.
			name: "dirty page after zap",
			setup: func(t *testing.T, in *Inode, other *Worker) {
				mustStore(t, other, in, 2)
				other.zap(in, 2)
			},
			page: 2, want: pageWant{dirty, pteRO, extDelalloc},
		},
		{
			// Beyond EOF: SIGBUS, nothing created.
			name:  "beyond EOF",
			setup: func(t *testing.T, in *Inode, _ *Worker) { in.size.Store(8) },
			page:  12, res: faultBeyondEOF, want: pageWant{0, pteNone, extHole},
		},
	}
	for _, sn := range strategies.Names() {
		for _, tt := range tests {
			t.Run("strategy="+sn+"/"+tt.name, func(t *testing.T) {
				in := openTest(t, sn, strategies.Options{})
				w, other := testWorker(t, 0, RoleFaulter), testWorker(t, 1, RoleFaulter)
				if tt.setup != nil {
					tt.setup(t, in, other)
				}
				seq := in.seq.Load()
				op := fmt.Sprintf("readFault(%d)", tt.page)
				res, err := w.readFault(in, tt.page, false, false)
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				if res != tt.res {
					t.Errorf("%s = %d; want %d", op, res, tt.res)
				}
				checkPages(t, in, op, map[int]pageWant{tt.page: tt.want})
				if got := w.ctr.PagesCreated; got != tt.created {
					t.Errorf("%s created %d pages; want %d", op, got, tt.created)
				}
				if got := in.seq.Load(); got != seq {
					t.Errorf("%s: seq = %d; want %d (a read fault changes no extent)", op, got, seq)
				}
				if tt.check != nil {
					tt.check(t, in)
				}
				checkUnlocked(t, in, op, w, other)
				checkNoViolations(t, op, w, other)
			})
		}
	}
}

// ---- write fault and store ----

// TestWriteFault covers page_mkwrite's transitions for every strategy.
func TestWriteFault(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, in *Inode, other *Worker)
		page    int
		res     faultResult
		want    pageWant
		seqAdd  uint64 // extent changes the fault makes
		created int64
	}{
		{
			// HOLE -> DELALLOC (new), page created dirty, PTE rw.
			name: "absent page over HOLE", page: 4,
			want: pageWant{dirty, pteRW, extDelalloc}, seqAdd: 1, created: 1,
		},
		{
			// A read-faulted page over a hole: allocate on the write fault.
			name: "cached clean page over HOLE",
			setup: func(t *testing.T, in *Inode, other *Worker) {
				mustReadFault(t, other, in, 4)
			},
			page: 4, want: pageWant{dirty, pteRW, extDelalloc}, seqAdd: 1,
		},
		{
			// Written back and write-protected: the fault redirties, the
			// extent stays WRITTEN.
			name:  "clean page over WRITTEN",
			setup: func(t *testing.T, in *Inode, other *Worker) { written(t, other, in, 9) },
			page:  9, want: pageWant{dirty, pteRW, extWritten},
		},
		{
			// Already DELALLOC (a zapped dirty page): no extent change.
			name: "dirty page over DELALLOC",
			setup: func(t *testing.T, in *Inode, other *Worker) {
				mustStore(t, other, in, 1)
				other.zap(in, 1)
			},
			page: 1, want: pageWant{dirty, pteRW, extDelalloc},
		},
		{
			// UNWRITTEN stays UNWRITTEN (fallocated block).
			name:  "absent page over UNWRITTEN",
			setup: func(t *testing.T, in *Inode, other *Worker) { setExt(other, in, 6, extUnwritten) },
			page:  6, want: pageWant{dirty, pteRW, extUnwritten}, created: 1,
		},
		{
			// Beyond EOF: SIGBUS, nothing created or allocated.
			name:  "beyond EOF",
			setup: func(t *testing.T, in *Inode, _ *Worker) { in.size.Store(8) },
			page:  12, res: faultBeyondEOF, want: pageWant{0, pteNone, extHole},
		},
	}
	for _, sn := range strategies.Names() {
		for _, tt := range tests {
			t.Run("strategy="+sn+"/"+tt.name, func(t *testing.T) {
				in := openTest(t, sn, strategies.Options{})
				w, other := testWorker(t, 0, RoleFaulter), testWorker(t, 1, RoleFaulter)
				if tt.setup != nil {
					tt.setup(t, in, other)
				}
				seq := in.seq.Load()
				op := fmt.Sprintf("writeFault(%d)", tt.page)
				res, err := w.writeFault(in, tt.page, flagAllowRetry)
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				if res != tt.res {
					t.Errorf("%s = %d; want %d", op, res, tt.res)
				}
				checkPages(t, in, op, map[int]pageWant{tt.page: tt.want})
				if got := in.seq.Load() - seq; got != tt.seqAdd {
					t.Errorf("%s bumped seq by %d; want %d", op, got, tt.seqAdd)
				}
				if got := w.ctr.PagesCreated; got != tt.created {
					t.Errorf("%s created %d pages; want %d", op, got, tt.created)
				}
				if tt.seqAdd != 0 && in.ext[tt.page].Load()&extModified == 0 {
					t.Errorf("%s: block %d not marked modified for fsync", op, tt.page)
				}
				checkUnlocked(t, in, op, w, other)
				checkNoViolations(t, op, w, other)
			})
		}
	}
}

// TestStore checks that a store lands in the shared mapping and the shadow,
// faulting exactly when the PTE is not rw.
func TestStore(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, in *Inode, w *Worker)
		page   int
		faults int64  // faults the store takes
		stamp  uint64 // what region 1 holds after; 0: nothing stored
		want   pageWant
	}{
		{
			name: "absent page: write fault, then the store", page: 3, faults: 1,
			stamp: stampOf(1, 1), want: pageWant{dirty, pteRW, extDelalloc},
		},
		{
			name:  "rw PTE: no fault",
			setup: func(t *testing.T, in *Inode, w *Worker) { mustStore(t, w, in, 3) },
			page:  3, stamp: stampOf(1, 2), want: pageWant{dirty, pteRW, extDelalloc},
		},
		{
			name:  "write-protected by writeback: faults again",
			setup: func(t *testing.T, in *Inode, w *Worker) { written(t, w, in, 3) },
			page:  3, faults: 1, stamp: stampOf(1, 2), want: pageWant{dirty, pteRW, extWritten},
		},
		{
			name:  "beyond EOF: returns without storing",
			setup: func(t *testing.T, in *Inode, w *Worker) { in.size.Store(2) },
			page:  3, faults: 1, want: pageWant{0, pteNone, extHole},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, "rwsem", strategies.Options{})
			w := testWorker(t, 1, RoleFaulter)
			if tt.setup != nil {
				tt.setup(t, in, w)
			}
			faults := w.ctr.Faults
			op := fmt.Sprintf("store(%d)", tt.page)
			if err := w.store(in, tt.page, false); err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			if got := w.ctr.Faults - faults; got != tt.faults {
				t.Errorf("%s took %d faults; want %d", op, got, tt.faults)
			}
			checkPages(t, in, op, map[int]pageWant{tt.page: tt.want})
			if got := in.loadStamp(tt.page, 1); got != tt.stamp {
				t.Errorf("%s: region 1 = %#x; want %#x", op, got, tt.stamp)
			}
			if got := in.oracle.shadow[tt.page*in.regions+1].Load(); got != tt.stamp {
				t.Errorf("%s: shadow of region 1 = %#x; want %#x", op, got, tt.stamp)
			}
			for r := range in.regions {
				if r != 1 && in.loadStamp(tt.page, r) != 0 {
					t.Errorf("%s: region %d = %#x; want 0 (another owner's region)", op, r, in.loadStamp(tt.page, r))
				}
			}
			checkUnlocked(t, in, op, w)
			checkNoViolations(t, op, w)
		})
	}
}

// ---- fault-around ----

// TestFaultAround: map_pages maps cached uptodate neighbours read-only and
// never creates a page; the safe variant skips locked pages and pages beyond
// EOF, the naive one (none only) maps them.
func TestFaultAround(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		naive    bool
		want     map[int]pageWant
		mapped   int64
	}{
		{
			name: "trylock and recheck", strategy: "rwsem",
			want: map[int]pageWant{
				0: {clean, pteRO, extHole}, 1: {clean, pteRO, extHole}, 2: {clean, pteRO, extHole},
				3: {0, pteNone, extHole}, 4: {dirty, pteRO, extDelalloc}, 5: {clean | pgLocked, pteNone, extHole},
				13: {clean, pteNone, extHole},
			},
			mapped: 3,
		},
		{
			name: "naive", strategy: "none", naive: true,
			want: map[int]pageWant{
				0: {clean, pteRO, extHole}, 1: {clean, pteRO, extHole}, 2: {clean, pteRO, extHole},
				3: {0, pteNone, extHole}, 4: {dirty, pteRO, extDelalloc}, 5: {clean | pgLocked, pteRO, extHole},
				13: {clean, pteRO, extHole},
			},
			mapped: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, tt.strategy, strategies.Options{})
			w, f := testWorker(t, 0, RoleFaulter), testWorker(t, 1, RoleFaulter)
			for _, p := range []int{1, 2, 5, 13} {
				mustReadFault(t, f, in, p)
				f.zap(in, p)
			}
			mustStore(t, f, in, 4)
			f.zap(in, 4)
			lockPageBy(in, 5)
			in.size.Store(12)
			op := "readFault(0) with fault-around"
			res, err := w.readFault(in, 0, true, tt.naive)
			if err != nil || res != faultOK {
				t.Fatalf("%s = %d, %v; want faultOK", op, res, err)
			}
			checkPages(t, in, op, tt.want)
			if w.ctr.FaultAround != tt.mapped {
				t.Errorf("%s mapped %d neighbours; want %d", op, w.ctr.FaultAround, tt.mapped)
			}
			if w.ctr.PagesCreated != 1 {
				t.Errorf("%s created %d pages; want 1 (page 0 only)", op, w.ctr.PagesCreated)
			}
			unlockPageBy(in, 5)
			in.size.Store(tPages)
			checkUnlocked(t, in, op, w, f)
		})
	}
}

// ---- inline data (R4) ----

// TestInlineWriteFault: a write fault on an INLINE block converts it to
// DELALLOC under the strategy's plan (rwsem, none, rangelock), under IO(X)
// after a RETRY (faultretry), or, for a get_user_pages fault that may not
// retry, fails with SIGBUS or converts without IO as configured.
func TestInlineWriteFault(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		opts     strategies.Options
		flags    faultFlags
		reinline bool // the block is INLINE again before the call
		res      faultResult
		want     pageWant
		converts int64
		unlocked int64 // ConvertUnlocked
	}{
		{name: "rwsem converts under IL(S)", strategy: "rwsem", flags: flagAllowRetry,
			want: pageWant{dirty, pteRW, extDelalloc}, converts: 1},
		{name: "none converts under IL(S)", strategy: "none", flags: flagAllowRetry,
			want: pageWant{dirty, pteRW, extDelalloc}, converts: 1},
		{name: "rangelock converts under ER(X)", strategy: "rangelock", flags: flagAllowRetry,
			want: pageWant{dirty, pteRW, extDelalloc}, converts: 1},
		{name: "seqcount converts under IL(S)", strategy: "seqcount", flags: flagAllowRetry,
			want: pageWant{dirty, pteRW, extDelalloc}, converts: 1},
		{
			// First try: convert under IO(X) without MM, return RETRY; the
			// page is filled but neither dirtied nor mapped.
			name: "faultretry with ALLOW_RETRY", strategy: "faultretry", flags: flagAllowRetry,
			res: faultRetry, want: pageWant{clean, pteNone, extDelalloc}, converts: 1,
		},
		{
			// TRIED on a block still INLINE: convert in place under IL(S).
			name: "faultretry with TRIED", strategy: "faultretry", flags: flagAllowRetry | flagTried,
			want: pageWant{dirty, pteRW, extDelalloc}, converts: 1,
		},
		{
			name: "faultretry gup fault, fallback sigbus", strategy: "faultretry",
			res: faultSigbus, want: pageWant{clean, pteNone, extInline},
		},
		{
			name: "faultretry gup fault, fallback convert-unlocked", strategy: "faultretry",
			opts: strategies.Options{Fallback: "convert-unlocked"},
			want: pageWant{dirty, pteRW, extDelalloc}, converts: 1, unlocked: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, tt.strategy, tt.opts)
			w := testWorker(t, 1, RoleFaulter)
			in.SetInline(1)
			in.putStamp(0, 3, 0x77) // inline data of another owner
			op := fmt.Sprintf("writeFault(0, flags %b)", tt.flags)
			res, err := w.writeFault(in, 0, tt.flags)
			if err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			if res != tt.res {
				t.Errorf("%s = %d; want %d", op, res, tt.res)
			}
			checkPages(t, in, op, map[int]pageWant{0: tt.want})
			if w.ctr.InlineConverts != tt.converts || w.ctr.ConvertUnlocked != tt.unlocked {
				t.Errorf("%s: converts %d, unlocked %d; want %d, %d", op, w.ctr.InlineConverts, w.ctr.ConvertUnlocked, tt.converts, tt.unlocked)
			}
			if got := in.loadStamp(0, 3); got != 0x77 {
				t.Errorf("%s: inline data = %#x; want 0x77 (kept)", op, got)
			}
			checkUnlocked(t, in, op, w)
		})
	}
}

// TestInlineStore runs the store loop on an INLINE block: the retry chain
// under faultretry, SIGBUS (an I4 violation) for a gup store.
func TestInlineStore(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		gup      bool
		retries  int64
		sigbus   int64
		stamp    uint64
		ext      uint32
		inv      string
	}{
		{name: "rwsem", strategy: "rwsem", stamp: stampOf(1, 1), ext: extDelalloc},
		{name: "faultretry retries once", strategy: "faultretry", retries: 1, stamp: stampOf(1, 1), ext: extDelalloc},
		{name: "faultretry gup store gets SIGBUS", strategy: "faultretry", gup: true, sigbus: 1, ext: extInline, inv: "I4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, tt.strategy, strategies.Options{})
			w := testWorker(t, 1, RoleFaulter)
			in.SetInline(1)
			op := fmt.Sprintf("store(0, gup %v)", tt.gup)
			if err := w.store(in, 0, tt.gup); err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			if w.ctr.Retries != tt.retries || w.ctr.MaxRetryChain != tt.retries || w.ctr.Sigbus != tt.sigbus {
				t.Errorf("%s: retries %d (chain %d), sigbus %d; want %d (chain %d), %d", op,
					w.ctr.Retries, w.ctr.MaxRetryChain, w.ctr.Sigbus, tt.retries, tt.retries, tt.sigbus)
			}
			if got := in.loadStamp(0, 1); got != tt.stamp {
				t.Errorf("%s: region 1 = %#x; want %#x", op, got, tt.stamp)
			}
			if got := in.extState(0); got != tt.ext {
				t.Errorf("%s: block 0 = %s; want %s", op, extName(got), extName(tt.ext))
			}
			var invs []string
			for _, v := range w.oracleV {
				invs = append(invs, v.Invariant+" "+v.Race)
			}
			if want := map[string][]string{"I4": {"I4 R4"}}[tt.inv]; !slices.Equal(invs, want) {
				t.Errorf("%s: violations = %v; want %v", op, invs, want)
			}
			checkUnlocked(t, in, op, w)
		})
	}
}
