package hotpath

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lockbench/strategies"
)

// The model's file operations: write() and read(), writeback and reclaim,
// punch and truncate, the failed write's cleanup (R1) and write()'s cached
// mapping (R3). Helpers are in model_test.go.

// ---- buffered write() and read() ----

// TestWrite covers write()'s page transitions when it does not fail.
func TestWrite(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, in *Inode, other *Worker)
		want  pageWant
		check func(t *testing.T, in *Inode, w *Worker)
	}{
		{
			// Reserve DELALLOC over the hole, zero the rest of the fresh page.
			name: "absent page over HOLE", want: pageWant{dirty, pteNone, extDelalloc},
			check: func(t *testing.T, in *Inode, w *Worker) {
				if w.ctr.Zeroed != 1 {
					t.Errorf("write(4): zeroed %d pages; want 1", w.ctr.Zeroed)
				}
			},
		},
		{
			// A fresh page over WRITTEN is read first: the other owner's
			// region survives the partial-page write.
			name: "absent page over WRITTEN",
			setup: func(t *testing.T, in *Inode, other *Worker) {
				written(t, other, in, 4)
				evict(t, other, in, 4)
			},
			want: pageWant{dirty, pteNone, extWritten},
			check: func(t *testing.T, in *Inode, w *Worker) {
				if got, want := in.loadStamp(4, 1), stampOf(1, 1); got != want {
					t.Errorf("write(4): region 1 = %s; want %s (read from disk)", stampString(got), stampString(want))
				}
			},
		},
		{
			// A cached page mapped ro keeps its PTE; write() dirties it.
			name: "cached page mapped ro",
			setup: func(t *testing.T, in *Inode, other *Worker) {
				written(t, other, in, 4)
			},
			want: pageWant{dirty, pteRO, extWritten},
		},
		{
			// write_begin and write_end both see INLINE: no conversion.
			name:  "INLINE block",
			setup: func(t *testing.T, in *Inode, _ *Worker) { in.SetInline(5) },
			want:  pageWant{dirty, pteNone, extInline},
		},
	}
	for _, sn := range strategies.Names() {
		for _, tt := range tests {
			t.Run("strategy="+sn+"/"+tt.name, func(t *testing.T) {
				in := openTest(t, sn, strategies.Options{})
				w, other := testWorker(t, 0, RoleWriter), testWorker(t, 1, RoleFaulter)
				if tt.setup != nil {
					tt.setup(t, in, other)
				}
				if err := w.write(in, 4, 1, 0); err != nil {
					t.Fatalf("write(4): %v", err)
				}
				checkPages(t, in, "write(4)", map[int]pageWant{4: tt.want, 5: {0, pteNone, extHole}})
				if got, want := in.loadStamp(4, 0), stampOf(0, 1); got != want {
					t.Errorf("write(4): region 0 = %s; want %s", stampString(got), stampString(want))
				}
				if got, want := in.oracle.shadow[4*in.regions].Load(), stampOf(0, 1); got != want {
					t.Errorf("write(4): shadow = %s; want %s", stampString(got), stampString(want))
				}
				if tt.check != nil {
					tt.check(t, in, w)
				}
				checkUnlocked(t, in, "write(4)", w, other)
				checkNoViolations(t, "write(4)", w, other)
			})
		}
	}
}

// TestRead checks that read() creates and fills pages like a read fault but
// maps nothing.
func TestRead(t *testing.T) {
	for _, sn := range strategies.Names() {
		t.Run("strategy="+sn, func(t *testing.T) {
			in := openTest(t, sn, strategies.Options{})
			w, other := testWorker(t, 2, RoleReader), testWorker(t, 1, RoleFaulter)
			written(t, other, in, 1)
			evict(t, other, in, 1)
			if _, err := w.read(in, 0, 3); err != nil {
				t.Fatalf("read(0, 3): %v", err)
			}
			checkPages(t, in, "read(0, 3)", map[int]pageWant{
				0: {clean, pteNone, extHole}, 1: {clean, pteNone, extWritten}, 2: {clean, pteNone, extHole}, 3: {0, pteNone, extHole},
			})
			if got, want := in.loadStamp(1, 1), stampOf(1, 1); got != want {
				t.Errorf("read(0, 3): page 1 region 1 = %s; want %s", stampString(got), stampString(want))
			}
			if w.ctr.PagesCreated != 3 {
				t.Errorf("read(0, 3) created %d pages; want 3", w.ctr.PagesCreated)
			}
			// read() copies each page into the worker's buffer; the last
			// one copied is page 2.
			if !bytes.Equal(w.rbuf, in.pageBytes(2)) {
				t.Errorf("read(0, 3): buffer differs from page 2; want the page copied")
			}
			in.putStamp(1, 2, stampOf(2, 9)) // the reader's own region of page 1
			if sum, err := w.read(in, 1, 1); err != nil || sum != stampOf(2, 9) {
				t.Errorf("read(1, 1) = %s, %v; want %s (the reader's region, copied)", stampString(sum), err, stampString(stampOf(2, 9)))
			}
			checkUnlocked(t, in, "read(0, 3)", w, other)
		})
	}
}

// ---- writeback and reclaim ----

// TestWriteback covers the flusher's transitions: DELALLOC -> UNWRITTEN at
// submit, UNWRITTEN -> WRITTEN at completion, page clean, PTE ro.
func TestWriteback(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, in *Inode, w *Worker)
		block   bool
		want    pageWant
		changes [][2]uint32 // extent changes, in order
		pages   int64       // pages written to disk
		disk    uint64      // disk region 1 after; 0 also means "zero"
		inv     string      // violation expected
	}{
		{
			name:  "dirty DELALLOC page",
			setup: func(t *testing.T, in *Inode, w *Worker) { mustStore(t, w, in, 3) },
			block: true, want: pageWant{clean, pteRO, extWritten},
			changes: [][2]uint32{{extDelalloc, extUnwritten}, {extUnwritten, extWritten}}, pages: 1, disk: stampOf(1, 1),
		},
		{
			name: "redirtied WRITTEN page is written again",
			setup: func(t *testing.T, in *Inode, w *Worker) {
				written(t, w, in, 3)
				mustStore(t, w, in, 3)
			},
			block: true, want: pageWant{clean, pteRO, extWritten}, pages: 1, disk: stampOf(1, 2),
		},
		{
			name:  "dirty UNWRITTEN page (fallocated)",
			setup: func(t *testing.T, in *Inode, w *Worker) { setExt(w, in, 3, extUnwritten); mustStore(t, w, in, 3) },
			block: true, want: pageWant{clean, pteRO, extWritten},
			changes: [][2]uint32{{extUnwritten, extWritten}}, pages: 1, disk: stampOf(1, 1),
		},
		{
			name:  "clean page: nothing to do",
			setup: func(t *testing.T, in *Inode, w *Worker) { mustReadFault(t, w, in, 3) },
			block: true, want: pageWant{clean, pteRO, extHole},
		},
		{
			name:  "absent page: nothing to do",
			block: true, want: pageWant{0, pteNone, extHole},
		},
		{
			// The flusher only trylocks: a locked page is skipped.
			name: "flusher skips a locked page",
			setup: func(t *testing.T, in *Inode, w *Worker) {
				mustStore(t, w, in, 3)
				lockPageBy(in, 3)
			},
			want: pageWant{dirty | pgLocked, pteRW, extDelalloc}, disk: 0,
		},
		{
			// Inline data is not written to the disk file.
			name:  "dirty INLINE page (written by write())",
			setup: func(t *testing.T, in *Inode, w *Worker) { in.SetInline(4); mustWrite(t, w, in, 3, 1) },
			block: true, want: pageWant{clean, pteNone, extInline},
		},
		{
			// I1b: a dirty page without an extent is reported.
			name: "dirty page over HOLE",
			setup: func(t *testing.T, in *Inode, w *Worker) {
				mustReadFault(t, w, in, 3)
				in.pages[3].state.Or(pgDirty)
			},
			block: true, want: pageWant{clean, pteRO, extHole}, inv: "I1b",
		},
	}
	for _, sn := range strategies.Names() {
		for _, tt := range tests {
			t.Run("strategy="+sn+"/"+tt.name, func(t *testing.T) {
				in := openTest(t, sn, strategies.Options{})
				w := testWorker(t, 1, RoleFlusher)
				if tt.setup != nil {
					tt.setup(t, in, w)
				}
				hist, pages := len(in.oracle.hist), w.ctr.WritebackPages
				op := fmt.Sprintf("writebackPage(3, %v)", tt.block)
				if err := w.writebackPage(in, 3, tt.block); err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				checkPages(t, in, op, map[int]pageWant{3: tt.want})
				var changes [][2]uint32
				for _, c := range in.oracle.hist[hist:] {
					changes = append(changes, [2]uint32{c.old, c.new})
				}
				if !slices.Equal(changes, tt.changes) {
					t.Errorf("%s: extent changes = %v; want %v", op, changes, tt.changes)
				}
				if got := w.ctr.WritebackPages - pages; got != tt.pages {
					t.Errorf("%s wrote %d pages; want %d", op, got, tt.pages)
				}
				if got := diskStamp(t, in, 3, 1); got != tt.disk {
					t.Errorf("%s: disk region 1 = %#x; want %#x", op, got, tt.disk)
				}
				var invs []string
				for _, v := range w.oracleV {
					invs = append(invs, v.Invariant)
				}
				if want := strings.Fields(tt.inv); !slices.Equal(invs, want) {
					t.Errorf("%s: violations = %v; want %v", op, invs, want)
				}
				unlockPageBy(in, 3)
				checkUnlocked(t, in, op, w)
			})
		}
	}
}

func mustWrite(t testing.TB, w *Worker, in *Inode, p, n int) {
	t.Helper()
	if err := w.write(in, p, n, 0); err != nil {
		t.Fatalf("write(%d, %d): %v", p, n, err)
	}
}

// TestReclaim: only clean, unlocked, unmapped, not-under-writeback, not
// inline pages are evicted.
func TestReclaim(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, in *Inode, w *Worker)
		ok    bool
		want  pageWant
	}{
		{
			name:  "clean unmapped page",
			setup: func(t *testing.T, in *Inode, w *Worker) { mustReadFault(t, w, in, 2); w.zap(in, 2) },
			ok:    true, want: pageWant{0, pteNone, extHole},
		},
		{
			name:  "clean WRITTEN unmapped page",
			setup: func(t *testing.T, in *Inode, w *Worker) { written(t, w, in, 2); w.zap(in, 2) },
			ok:    true, want: pageWant{0, pteNone, extWritten},
		},
		{
			name:  "mapped page",
			setup: func(t *testing.T, in *Inode, w *Worker) { mustReadFault(t, w, in, 2) },
			want:  pageWant{clean, pteRO, extHole},
		},
		{
			name:  "dirty page",
			setup: func(t *testing.T, in *Inode, w *Worker) { mustStore(t, w, in, 2); w.zap(in, 2) },
			want:  pageWant{dirty, pteNone, extDelalloc},
		},
		{
			name: "page under writeback",
			setup: func(t *testing.T, in *Inode, w *Worker) {
				mustReadFault(t, w, in, 2)
				w.zap(in, 2)
				in.pages[2].state.Or(pgWriteback)
			},
			want: pageWant{clean | pgWriteback, pteNone, extHole},
		},
		{
			name: "locked page",
			setup: func(t *testing.T, in *Inode, w *Worker) {
				mustReadFault(t, w, in, 2)
				w.zap(in, 2)
				lockPageBy(in, 2)
			},
			want: pageWant{clean | pgLocked, pteNone, extHole},
		},
		{
			name: "INLINE page",
			setup: func(t *testing.T, in *Inode, w *Worker) {
				in.SetInline(3)
				mustReadFault(t, w, in, 2)
				w.zap(in, 2)
			},
			want: pageWant{clean, pteNone, extInline},
		},
		{
			name: "absent page",
			want: pageWant{0, pteNone, extHole},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, "rwsem", strategies.Options{})
			w := testWorker(t, 1, RoleReclaimer)
			if tt.setup != nil {
				tt.setup(t, in, w)
			}
			if got := w.reclaim(in, 2); got != tt.ok {
				t.Errorf("reclaim(2) = %v; want %v", got, tt.ok)
			}
			checkPages(t, in, "reclaim(2)", map[int]pageWant{2: tt.want})
			if want := map[bool]int64{true: 1}[tt.ok]; w.ctr.Evicted != want {
				t.Errorf("reclaim(2): Evicted = %d; want %d", w.ctr.Evicted, want)
			}
			in.pages[2].state.And(^uint32(pgLocked | pgWriteback))
			checkUnlocked(t, in, "reclaim(2)", w)
		})
	}
}

// ---- punch and truncate ----

// TestPunch: PTEs none, pages absent, extents HOLE, shadow reset, disk
// blocks zero, pages outside the range untouched; reads then return zeros.
func TestPunch(t *testing.T) {
	for _, sn := range strategies.Names() {
		t.Run("strategy="+sn, func(t *testing.T) {
			in := openTest(t, sn, strategies.Options{})
			w, f := testWorker(t, 0, RolePuncher), testWorker(t, 1, RoleFaulter)
			written(t, f, in, 1)           // outside, clean WRITTEN
			written(t, f, in, 2)           // clean WRITTEN ro
			mustStore(t, f, in, 3)         // dirty DELALLOC rw
			mustReadFault(t, f, in, 4)     // clean HOLE ro
			written(t, f, in, 5)           // WRITTEN, evicted
			evict(t, f, in, 5)             //
			mustStore(t, f, in, 6)         // outside, dirty
			setExt(f, in, 7, extUnwritten) // outside, fallocated
			epoch := in.punchEpoch.Load()
			if err := w.punch(in, 2, 4); err != nil {
				t.Fatalf("punch(2, 4): %v", err)
			}
			gone := pageWant{0, pteNone, extHole}
			checkPages(t, in, "punch(2, 4)", map[int]pageWant{
				1: {clean, pteRO, extWritten}, 2: gone, 3: gone, 4: gone, 5: gone,
				6: {dirty, pteRW, extDelalloc}, 7: {0, pteNone, extUnwritten},
			})
			for p := 2; p < 6; p++ {
				for r := range in.regions {
					if s := in.oracle.shadow[p*in.regions+r].Load(); s != 0 {
						t.Errorf("punch(2, 4): shadow of page %d region %d = %s; want 0", p, r, stampString(s))
					}
				}
				if !allZero(diskPage(t, in, p)) {
					t.Errorf("punch(2, 4): disk page %d is not zero", p)
				}
			}
			if got, want := diskStamp(t, in, 1, 1), stampOf(1, 1); got != want {
				t.Errorf("punch(2, 4): disk page 1 = %s; want %s (outside the range)", stampString(got), stampString(want))
			}
			if got, want := in.oracle.shadow[6*in.regions+1].Load(), stampOf(1, 5); got != want {
				t.Errorf("punch(2, 4): shadow of page 6 = %s; want %s (outside the range)", stampString(got), stampString(want))
			}
			if got := in.punchEpoch.Load(); got != epoch+1 {
				t.Errorf("punch(2, 4): punch epoch = %d; want %d", got, epoch+1)
			}
			checkUnlocked(t, in, "punch(2, 4)", w, f)
			// Reads of the punched range return zeros.
			for p := 2; p < 6; p++ {
				if got, err := f.load(in, p, true, false); err != nil || got != 0 {
					t.Errorf("load(%d) after punch = %#x, %v; want 0, nil", p, got, err)
				}
			}
			checkNoViolations(t, "punch(2, 4)", w, f)
			if v := in.oracle.final(in, strategies.R1); len(v) != 0 {
				t.Errorf("final() after punch = %v; want none", v)
			}
		})
	}
}

// TestTruncate: the size shrinks for the duration of the truncate (a store
// beyond the new EOF returns without writing) and is restored after; pages
// beyond the new size are dropped and their blocks freed.
func TestTruncate(t *testing.T) {
	for _, sn := range strategies.Names() {
		t.Run("strategy="+sn, func(t *testing.T) {
			in := openTest(t, sn, strategies.Options{})
			tr := testWorker(t, 0, RoleTruncater)
			f := testWorker(t, 1, RoleFaulter)
			setup := testWorker(t, 2, RoleFaulter)
			written(t, setup, in, 3)
			written(t, setup, in, 10)
			mustStore(t, setup, in, 12)

			// Park the truncate on page 12's lock, after it set i_size.
			lockPageBy(in, 12)
			done := make(chan error, 1)
			go func() { done <- tr.truncate(in, 8) }()
			waitFor(t, "truncate waits for page 12", func() bool { return in.size.Load() == 8 && waitingFor(tr, lkF)() })
			if err := f.store(in, 12, false); err != nil {
				t.Fatalf("store(12) during truncate: %v", err)
			}
			if f.stampSeq != 0 || f.ctr.Faults != 1 {
				t.Errorf("store(12) during truncate took %d faults and %d stamps; want 1 fault (faultBeyondEOF) and no stamp", f.ctr.Faults, f.stampSeq)
			}
			if got := in.loadStamp(12, 1); got != 0 {
				t.Errorf("store(12) during truncate wrote %s; want nothing", stampString(got))
			}
			unlockPageBy(in, 12)
			if err := recvErr(t, "truncate(8) after page 12's release", done); err != nil {
				t.Fatalf("truncate(8): %v", err)
			}

			if got := in.size.Load(); got != tPages {
				t.Errorf("truncate(8): size after = %d; want %d (restored)", got, tPages)
			}
			want := map[int]pageWant{3: {clean, pteRO, extWritten}, 7: {0, pteNone, extHole}}
			for p := 8; p < tPages; p++ {
				want[p] = pageWant{0, pteNone, extHole}
			}
			checkPages(t, in, "truncate(8)", want)
			for _, p := range []int{10, 12} {
				if s := in.oracle.shadow[p*in.regions+2].Load(); s != 0 {
					t.Errorf("truncate(8): shadow of page %d = %s; want 0", p, stampString(s))
				}
			}
			if !allZero(diskPage(t, in, 10)) {
				t.Errorf("truncate(8): disk page 10 is not zero")
			}
			if got, want := diskStamp(t, in, 3, 2), stampOf(2, 1); got != want {
				t.Errorf("truncate(8): disk page 3 = %s; want %s", stampString(got), stampString(want))
			}
			var st unix.Stat_t
			if err := unix.Fstat(in.diskFD, &st); err != nil {
				t.Fatal(err)
			}
			if st.Size != tPages*tPageSize {
				t.Errorf("truncate(8): disk file size = %d; want %d", st.Size, tPages*tPageSize)
			}
			checkUnlocked(t, in, "truncate(8)", tr, f, setup)
			checkNoViolations(t, "truncate(8)", tr, f, setup)
			if v := in.oracle.final(in, strategies.R1); len(v) != 0 {
				t.Errorf("final() after truncate = %v; want none", v)
			}
		})
	}
}

// ---- failed write cleanup (R1) ----

// TestFailedWriteCleanup is R1 step by step: write(4, 4) reserves DELALLOC
// over pages 4-7 and parks on page 4's lock; a faulter stores into page 6;
// the write copies page 4, fails short at page 5 and cleans up [5, 8).
func TestFailedWriteCleanup(t *testing.T) {
	tests := []struct {
		strategy string
		// faultWaits: the fault cannot run inside the write's chunk (ER).
		faultWaits bool
		want       map[int]pageWant
		punched    int64
		inv        string // violation the cleanup reports
		final      string // violation the end-of-run scan reports
	}{
		{
			// The base protocol keeps the dirty page and its reservation and
			// punches only the clean reserved blocks.
			strategy: "rwsem",
			want: map[int]pageWant{
				4: {dirty, pteNone, extDelalloc}, 5: {0, pteNone, extHole},
				6: {dirty, pteRW, extDelalloc}, 7: {0, pteNone, extHole},
			},
			punched: 2,
		},
		{
			strategy: "seqcount",
			want: map[int]pageWant{
				4: {dirty, pteNone, extDelalloc}, 5: {0, pteNone, extHole},
				6: {dirty, pteRW, extDelalloc}, 7: {0, pteNone, extHole},
			},
			punched: 2,
		},
		{
			strategy: "faultretry",
			want: map[int]pageWant{
				4: {dirty, pteNone, extDelalloc}, 5: {0, pteNone, extHole},
				6: {dirty, pteRW, extDelalloc}, 7: {0, pteNone, extHole},
			},
			punched: 2,
		},
		{
			// The fault waits for the write's ER(X) chunk; after the
			// cleanup it allocates page 6 again.
			strategy: "rangelock", faultWaits: true,
			want: map[int]pageWant{
				4: {dirty, pteNone, extDelalloc}, 5: {0, pteNone, extHole},
				6: {dirty, pteRW, extDelalloc}, 7: {0, pteNone, extHole},
			},
			punched: 3,
		},
		{
			// The unsafe baseline drops the dirty page and punches its
			// block: the mmap store is lost (I1).
			strategy: "none",
			want: map[int]pageWant{
				4: {dirty, pteNone, extDelalloc}, 5: {0, pteNone, extHole},
				6: {0, pteNone, extHole}, 7: {0, pteNone, extHole},
			},
			punched: 3, inv: "I1", final: "I1",
		},
	}
	for _, tt := range tests {
		t.Run("strategy="+tt.strategy, func(t *testing.T) {
			in := openTest(t, tt.strategy, strategies.Options{})
			wr, f := testWorker(t, 0, RoleWriter), testWorker(t, 1, RoleFaulter)
			// chance(0.5): page 4 copies (MaxUint64), page 5 fails (0).
			wr.rng = rand.New(&scriptSource{vals: []uint64{math.MaxUint64, 0}})

			lockPageBy(in, 4)
			wdone := make(chan error, 1)
			go func() { wdone <- wr.write(in, 4, 4, 0.5) }()
			waitFor(t, "write(4, 4) parks on page 4", waitingFor(wr, lkF))
			if got := in.extState(6); got != extDelalloc {
				t.Fatalf("write(4, 4) mapRange: block 6 = %s; want DELALLOC", extName(got))
			}
			fdone := make(chan error, 1)
			go func() { fdone <- f.store(in, 6, false) }()
			if tt.faultWaits {
				waitFor(t, "the fault waits for ER", waitingFor(f, lkER))
			} else if err := recvErr(t, "store(6) while write(4, 4) is parked (the fault must not wait)", fdone); err != nil {
				t.Fatalf("store(6): %v", err)
			}
			unlockPageBy(in, 4)
			if err := recvErr(t, "write(4, 4) after page 4's release", wdone); err != nil {
				t.Fatalf("write(4, 4): %v", err)
			}
			if tt.faultWaits {
				if err := recvErr(t, "store(6) after the write", fdone); err != nil {
					t.Fatalf("store(6): %v", err)
				}
			}

			op := "write(4, 4) failing at page 5"
			checkPages(t, in, op, tt.want)
			if wr.ctr.ShortWrites != 1 || wr.ctr.CleanupPunched != tt.punched {
				t.Errorf("%s: short writes %d, punched %d; want 1, %d", op, wr.ctr.ShortWrites, wr.ctr.CleanupPunched, tt.punched)
			}
			var invs []string
			for _, v := range wr.oracleV {
				invs = append(invs, v.Invariant)
				if v.Page != 6 {
					t.Errorf("%s: %s reported on page %d; want 6", op, v.Invariant, v.Page)
				}
			}
			if want := strings.Fields(tt.inv); !slices.Equal(invs, want) {
				t.Errorf("%s: violations = %v; want %v", op, invs, want)
			}
			invs = invs[:0]
			for _, v := range in.oracle.final(in, strategies.R1) {
				invs = append(invs, v.Invariant)
			}
			if want := strings.Fields(tt.final); !slices.Equal(invs, want) {
				t.Errorf("final() after %s = %v; want %v", op, invs, want)
			}
			checkUnlocked(t, in, op, wr, f)
		})
	}
}

// ---- stale cached mappings (R3) and the validity cookie ----

// TestWriteRevalidation parks write(4, 2) on page 4's lock after it mapped
// the range, changes the extent map behind its back, and releases it.
func TestWriteRevalidation(t *testing.T) {
	t.Run("unrelated change: seqcount remaps, rwsem does not look", func(t *testing.T) {
		for _, tt := range []struct {
			strategy                   string
			validations, stale, remaps int64
		}{
			{"seqcount", 3, 1, 1}, // stale at page 4, then pages 4 and 5 validated
			{"rwsem", 0, 0, 0},
		} {
			t.Run("strategy="+tt.strategy, func(t *testing.T) {
				in := openTest(t, tt.strategy, strategies.Options{})
				wr, f := testWorker(t, 0, RoleWriter), testWorker(t, 1, RoleFaulter)
				lockPageBy(in, 4)
				done := make(chan error, 1)
				go func() { done <- wr.write(in, 4, 2, 0) }()
				waitFor(t, "write(4, 2) parks on page 4", waitingFor(wr, lkF))
				seq := in.seq.Load()
				mustStore(t, f, in, 9) // HOLE -> DELALLOC elsewhere: seq moves
				if in.seq.Load() == seq {
					t.Fatal("store(9) did not bump seq")
				}
				unlockPageBy(in, 4)
				if err := recvErr(t, "write(4, 2) after page 4's release", done); err != nil {
					t.Fatalf("write(4, 2): %v", err)
				}
				c := wr.ctr
				if c.Validations != tt.validations || c.StaleMaps != tt.stale || c.Remaps != tt.remaps {
					t.Errorf("write(4, 2) across a seq change: validations %d, stale %d, remaps %d; want %d, %d, %d",
						c.Validations, c.StaleMaps, c.Remaps, tt.validations, tt.stale, tt.remaps)
				}
				checkPages(t, in, "write(4, 2)", map[int]pageWant{4: {dirty, pteNone, extDelalloc}, 5: {dirty, pteNone, extDelalloc}})
				for p := 4; p < 6; p++ {
					if got := in.loadStamp(p, 0); got == 0 {
						t.Errorf("write(4, 2): page %d region 0 is empty; want the writer's stamp", p)
					}
				}
				checkUnlocked(t, in, "write(4, 2)", wr, f)
				checkNoViolations(t, "write(4, 2)", wr, f)
			})
		}
	})

	// R3: the block was UNWRITTEN at map time; writeback completion makes it
	// WRITTEN and the page was evicted. rwsem trusts the cached mapping and
	// zeroes the other owner's bytes (I3); seqcount remaps and reads them.
	t.Run("UNWRITTEN became WRITTEN", func(t *testing.T) {
		for _, tt := range []struct {
			strategy string
			region1  uint64 // the other owner's bytes after the write
			zeroed   int64
			inv      string
		}{
			{"rwsem", 0, 1, "I3"},
			{"seqcount", stampOf(1, 7), 0, ""},
		} {
			t.Run("strategy="+tt.strategy, func(t *testing.T) {
				in := openTest(t, tt.strategy, strategies.Options{})
				wr, fl := testWorker(t, 0, RoleWriter), testWorker(t, 1, RoleFlusher)
				// Block 4: UNWRITTEN, the disk already holds owner 1's stamp
				// (the write I/O is done, its completion is not), not cached.
				setExt(fl, in, 4, extUnwritten)
				s := stampOf(1, 7)
				buf := make([]byte, tPageSize)
				putLE(buf[1*in.regSize:], s)
				if _, err := unix.Pwrite(in.diskFD, buf, 4*tPageSize); err != nil {
					t.Fatal(err)
				}
				in.oracle.stored(4, 1, s)

				lockPageBy(in, 4)
				done := make(chan error, 1)
				go func() { done <- wr.write(in, 4, 1, 0) }()
				waitFor(t, "write(4, 1) parks on page 4", waitingFor(wr, lkF))
				setExt(fl, in, 4, extWritten) // writeback completion
				unlockPageBy(in, 4)
				if err := recvErr(t, "write(4, 1) after page 4's release", done); err != nil {
					t.Fatalf("write(4, 1): %v", err)
				}
				op := "write(4, 1) over a stale UNWRITTEN mapping"
				if got := in.loadStamp(4, 1); got != tt.region1 {
					t.Errorf("%s: region 1 = %#x; want %#x", op, got, tt.region1)
				}
				if wr.ctr.Zeroed != tt.zeroed {
					t.Errorf("%s: zeroed %d pages; want %d", op, wr.ctr.Zeroed, tt.zeroed)
				}
				var invs []string
				for _, v := range wr.oracleV {
					invs = append(invs, v.Invariant)
				}
				if want := strings.Fields(tt.inv); !slices.Equal(invs, want) {
					t.Errorf("%s: violations = %v; want %v", op, invs, want)
				}
				invs = invs[:0]
				for _, v := range in.oracle.final(in, strategies.R3) {
					invs = append(invs, v.Invariant)
				}
				if want := strings.Fields(tt.inv); !slices.Equal(invs, want) {
					t.Errorf("final() after %s = %v; want %v", op, invs, want)
				}
				checkUnlocked(t, in, op, wr, fl)
			})
		}
	})
}

func putLE(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}
