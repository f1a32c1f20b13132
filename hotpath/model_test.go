package hotpath

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lockbench/hotpath/clock"
	"lockbench/strategies"
)

// The tests in this file drive the model single-threaded (or with one
// helper goroutine parked at a known point) through the worker methods, and
// check exact page, PTE and extent states after each transition of
// docs/MODEL.md. Failures read `op(x) = got; want w`.

const (
	tPageSize = 4096
	tPages    = 16

	clean = pgPresent | pgUptodate // a cached, uptodate, clean page
	dirty = clean | pgDirty
)

var testClock = sync.OnceValues(func() (*clock.Clock, error) { return clock.New(clock.Mono) })

// openTest opens a 16-page inode with the oracle on in a fresh temporary
// directory under the named strategy, and closes it when the test ends.
func openTest(t testing.TB, strategy string, opts strategies.Options) *Inode {
	t.Helper()
	st, err := strategies.New(strategy, opts)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Open(InodeConfig{
		Dir: t.TempDir(), FileSize: tPages * tPageSize, PageSize: tPageSize,
		Slots: 4, Strategy: st, Regions: 8, Oracle: true,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := in.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return in
}

// testWorker returns worker id in slot id; it owns region id of every page.
func testWorker(t testing.TB, id int, role Role) *Worker {
	t.Helper()
	clk, err := testClock()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(id, id, role, 1, maxChunk)
	w.clk = clk
	w.win = newSeries(clk, clk.Now(), 100*time.Millisecond)
	w.setData(id)
	return w
}

// stampOf is the n-th stamp worker id writes (stamps count from 1).
func stampOf(id int, n uint64) uint64 { return uint64(id+1)<<40 | n }

// ---- state rendering and checks ----

func stateString(s uint32) string {
	if s == 0 {
		return "absent"
	}
	var parts []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{{pgPresent, "present"}, {pgUptodate, "uptodate"}, {pgDirty, "dirty"}, {pgLocked, "locked"}, {pgWriteback, "writeback"}} {
		if s&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	if s&pgPresent == 0 {
		parts = append([]string{"absent"}, parts...)
	}
	return strings.Join(parts, "|")
}

func pteString(v uint32) string {
	s := [...]string{"none", "ro", "rw", "pte(3)"}[v&pteMask]
	if v>>8 != 0 {
		s += fmt.Sprintf("+%d stores in flight", v>>8)
	}
	return s
}

// pageWant is the exact state of one page: page state bits, PTE (with no
// store in flight) and extent state (extModified ignored).
type pageWant struct {
	state uint32
	pte   uint32
	ext   uint32
}

func (p pageWant) String() string {
	return fmt.Sprintf("{%s, PTE %s, %s}", stateString(p.state), pteString(p.pte), extName(p.ext))
}

func pageOf(in *Inode, p int) pageWant {
	return pageWant{state: in.pages[p].state.Load(), pte: in.pages[p].pte.Load(), ext: in.extState(p)}
}

// checkPages compares pages with want, reporting `op: page p = got; want w`.
func checkPages(t testing.TB, in *Inode, op string, want map[int]pageWant) {
	t.Helper()
	keys := make([]int, 0, len(want))
	for p := range want {
		keys = append(keys, p)
	}
	sort.Ints(keys)
	for _, p := range keys {
		if got := pageOf(in, p); got != want[p] {
			t.Errorf("%s: page %d = %v; want %v", op, p, got, want[p])
		}
	}
}

// checkUnlocked checks that the workers hold and wait for nothing, that no
// page is locked and that every inode lock is free.
func checkUnlocked(t testing.TB, in *Inode, op string, ws ...*Worker) {
	t.Helper()
	for _, w := range ws {
		if w.held != 0 || w.pub.Load() != 0 {
			t.Errorf("after %s: worker %d holds %s (published %#x); want nothing", op, w.ID, heldString(w.held), w.pub.Load())
		}
	}
	for p := range in.npages {
		if in.pages[p].state.Load()&pgLocked != 0 {
			t.Errorf("after %s: page %d is still locked", op, p)
		}
	}
	for _, l := range []struct {
		try    func() bool
		unlock func()
		c      lockClass
	}{
		{in.mm.TryLock, in.mm.Unlock, lkMM}, {in.io.TryLock, in.io.Unlock, lkIO},
		{in.il.TryLock, in.il.Unlock, lkIL}, {in.mk.TryLock, in.mk.Unlock, lkMK}, {in.ix.TryLock, in.ix.Unlock, lkIX},
	} {
		if !l.try() {
			t.Errorf("after %s: %v is still held", op, l.c)
			continue
		}
		l.unlock()
	}
	if h, ok := in.er.TryLock(0, 0, ^uint64(0), strategies.Exclusive); ok {
		in.er.Unlock(h)
	} else {
		t.Errorf("after %s: ER is still held", op)
	}
}

func checkNoViolations(t testing.TB, op string, ws ...*Worker) {
	t.Helper()
	for _, w := range ws {
		for _, v := range w.oracleV {
			t.Errorf("after %s: worker %d reported %s %s on page %d: %s; want none", op, w.ID, v.Invariant, v.Race, v.Page, v.Detail)
		}
	}
}

// diskPage reads page p of the disk file.
func diskPage(t testing.TB, in *Inode, p int) []byte {
	t.Helper()
	buf := make([]byte, in.pageSize)
	if _, err := unix.Pread(in.diskFD, buf, int64(p)*int64(in.pageSize)); err != nil {
		t.Fatalf("pread of disk page %d: %v", p, err)
	}
	return buf
}

func diskStamp(t testing.TB, in *Inode, p, r int) uint64 {
	t.Helper()
	return leUint64(diskPage(t, in, p)[r*in.regSize:])
}

func allZero(b []byte) bool { return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) }

// ---- set-up steps: bring pages to a state through the model's own paths ----

func mustStore(t testing.TB, w *Worker, in *Inode, p int) {
	t.Helper()
	if err := w.store(in, p, false); err != nil {
		t.Fatalf("store(%d): %v", p, err)
	}
}

func mustWriteback(t testing.TB, w *Worker, in *Inode, p int) {
	t.Helper()
	if err := w.writebackPage(in, p, true); err != nil {
		t.Fatalf("writebackPage(%d): %v", p, err)
	}
}

func mustReadFault(t testing.TB, w *Worker, in *Inode, p int) {
	t.Helper()
	if _, err := w.readFault(in, p, false, false); err != nil {
		t.Fatalf("readFault(%d): %v", p, err)
	}
}

// written leaves page p clean, mapped ro and WRITTEN with w's stamp on disk.
func written(t testing.TB, w *Worker, in *Inode, p int) {
	t.Helper()
	mustStore(t, w, in, p)
	mustWriteback(t, w, in, p)
}

// evict unmaps page p and reclaims it; it must be evictable.
func evict(t testing.TB, w *Worker, in *Inode, p int) {
	t.Helper()
	w.zap(in, p)
	if !w.reclaim(in, p) {
		t.Fatalf("reclaim(%d) of %v = false; want true", p, pageOf(in, p))
	}
}

// setExt changes block b under IX(X), as writeback completion or a punch
// would; it is how tests move an extent behind a parked operation's back.
func setExt(w *Worker, in *Inode, b int, st uint32) {
	w.wlock(in.ix, lkIX)
	in.setExtent(b, st)
	w.wunlock(in.ix, lkIX)
}

// lockPageBy parks other workers on page p's lock F (the test holds it).
func lockPageBy(in *Inode, p int)   { in.pages[p].state.Or(pgLocked) }
func unlockPageBy(in *Inode, p int) { in.pages[p].state.And(^uint32(pgLocked)) }

// waitFor yields until cond holds or fails the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// recvErr receives the result of what from done, or fails the test after
// 10 s: a goroutine that hangs ends the test with its name, not the
// binary's 10-minute timeout.
func recvErr(t testing.TB, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not complete within 10s", what)
		return nil
	}
}

// waitingFor reports whether w published that it is blocked on class c.
func waitingFor(w *Worker, c lockClass) func() bool {
	return func() bool { return lockClass(w.pub.Load()>>32) == c }
}

// scriptSource feeds a worker's rng: each value once, then MaxUint64.
// rand.Float64 of 0 is 0 (chance(p) true), of MaxUint64 is almost 1 (false).
type scriptSource struct{ vals []uint64 }

func (s *scriptSource) Uint64() uint64 {
	if len(s.vals) == 0 {
		return math.MaxUint64
	}
	v := s.vals[0]
	s.vals = s.vals[1:]
	return v
}

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

// ---- the oracle on hand-made histories ----

// TestOracleFsyncEnd checks I5 on hand-made logs against a history of
// extent changes made after the snapshot.
func TestOracleFsyncEnd(t *testing.T) {
	const H, D, U, W = extHole, extDelalloc, extUnwritten, extWritten
	// history, after the snapshot: 3 H->D, 3 D->U, 7 H->D, 3 U->W.
	history := func(w *Worker, in *Inode) {
		setExt(w, in, 3, D)
		setExt(w, in, 3, U)
		setExt(w, in, 7, D)
		setExt(w, in, 3, W)
	}
	// layout builds a full log: every block HOLE except the given ones.
	layout := func(blocks map[int]uint32) []logRecord {
		var log []logRecord
		for b := range tPages {
			st, ok := blocks[b]
			if !ok {
				st = H
			}
			log = append(log, logRecord{b, 1, st})
		}
		return log
	}
	tests := []struct {
		name   string
		before func(t *testing.T, w *Worker, in *Inode) // before the snapshot
		during func(w *Worker, in *Inode)               // between snapshot and end
		log    []logRecord
		want   string // substring of the one I5 violation; "" for none
	}{
		{name: "layout at fsync start", log: []logRecord{{0, tPages, H}}},
		{name: "layout at fsync start, changes after", during: history, log: []logRecord{{0, tPages, H}}},
		{name: "intermediate layout", during: history, log: layout(map[int]uint32{3: U})},
		{name: "layout with both blocks changed", during: history, log: layout(map[int]uint32{3: U, 7: D})},
		{name: "final layout", during: history, log: layout(map[int]uint32{3: W, 7: D})},
		{
			name: "overlapping items", during: history,
			log:  []logRecord{{0, tPages, H}, {3, 1, U}},
			want: "overlapping extents at block 3",
		},
		{
			// Block 7 became DELALLOC only after block 3 left HOLE.
			name: "two changes mixed in the wrong order", during: history,
			log:  layout(map[int]uint32{7: D}),
			want: "a layout the file never had",
		},
		{
			name: "a state block 3 never had", during: history,
			log:  layout(map[int]uint32{3: D, 7: D}),
			want: "a layout the file never had",
		},
		{
			name: "block missing from the log",
			log:  []logRecord{{0, tPages - 1, H}},
			want: "a layout the file never had",
		},
		{
			// A real layout, but a stamp completed before fsync is lost.
			name: "completed stamp replays as HOLE",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
			},
			during: func(w *Worker, in *Inode) { setExt(w, in, 2, H) },
			log:    []logRecord{{0, tPages, H}},
			want:   "replays as HOLE and loses (writer 1, #3)",
		},
		{
			name: "WRITTEN block whose disk lacks the stamp",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
			},
			log:  layout(map[int]uint32{2: W}),
			want: "holds (writer -1, #0), want (writer 1, #3) or later",
		},
		{
			name: "WRITTEN block with the stamp on disk",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
				diskPut(t, in, 2, 1, stampOf(1, 3))
			},
			log: layout(map[int]uint32{2: W}),
		},
		{
			name: "WRITTEN block with a later stamp of the same owner",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
				diskPut(t, in, 2, 1, stampOf(1, 4))
			},
			log: layout(map[int]uint32{2: W}),
		},
		{
			name: "WRITTEN block with another owner's stamp",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
				diskPut(t, in, 2, 1, stampOf(2, 9))
			},
			log:  layout(map[int]uint32{2: W}),
			want: "holds (writer 2, #9), want (writer 1, #3)",
		},
		{
			// After a punch the stamps may legitimately be gone.
			name: "lost stamp after a punch is not checked",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
			},
			during: func(w *Worker, in *Inode) { setExt(w, in, 2, H); in.punchEpoch.Add(1) },
			log:    []logRecord{{0, tPages, H}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, "rwsem", strategies.Options{})
			w := testWorker(t, 0, RoleFsync)
			if tt.before != nil {
				tt.before(t, w, in)
			}
			snap := in.oracle.fsyncStart(w, in)
			if tt.during != nil {
				tt.during(w, in)
			}
			in.oracle.fsyncEnd(w, in, snap, tt.log)
			var got []string
			for _, v := range w.oracleV {
				got = append(got, v.Invariant+": "+v.Detail)
			}
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("fsyncEnd(%v) = %q; want no violation", tt.log, got)
			case tt.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], "I5: ") || !strings.Contains(got[0], tt.want)):
				t.Errorf("fsyncEnd(%v) = %q; want one I5 violation containing %q", tt.log, got, tt.want)
			}
			if w.uncheckedFsyncs != 0 {
				t.Errorf("fsyncEnd: unchecked = %d; want 0", w.uncheckedFsyncs)
			}
		})
	}
}

func diskPut(t testing.TB, in *Inode, p, r int, s uint64) {
	t.Helper()
	buf := make([]byte, 8)
	putLE(buf, s)
	if _, err := unix.Pwrite(in.diskFD, buf, int64(in.regionOff(p, r))); err != nil {
		t.Fatal(err)
	}
}

// TestOracleHistoryRing checks that the layout history returns exactly the
// changes after a sequence number once the ring has wrapped, and that an
// fsync whose history straddles the wrap is judged on the real history.
func TestOracleHistoryRing(t *testing.T) {
	o := newOracle(tPages, 8)
	const last = histCap + 100
	for s := uint64(1); s <= last; s++ {
		o.extentChanged(int(s%tPages), uint32(s%5), uint32((s+1)%5), s)
	}
	var bad []string
	for _, from := range []uint64{histCap + 50, histCap - 10, 200} {
		got := o.changesSince(from)
		if len(got) != int(last-from) {
			bad = append(bad, fmt.Sprintf("changesSince(%d) = %d changes; want %d", from, len(got), last-from))
			continue
		}
		for i, c := range got {
			want := from + 1 + uint64(i)
			if c.seq != want {
				bad = append(bad, fmt.Sprintf("changesSince(%d)[%d].seq = %d; want %d", from, i, c.seq, want))
			}
		}
	}
	if got := o.changesSince(50); got != nil {
		bad = append(bad, fmt.Sprintf("changesSince(50) after %d changes = %d changes; want nil (fell out of the ring)", last, len(got)))
	}

	// End to end: the log holds the layout right after the first change
	// made during fsync, a layout the file had.
	in := openTest(t, "rwsem", strategies.Options{})
	w := testWorker(t, 0, RoleFsync)
	for i := range histCap - 4 { // block 0 toggles and ends HOLE
		setExt(w, in, 0, uint32(1-i%2))
	}
	snap := in.oracle.fsyncStart(w, in)
	setExt(w, in, 3, extDelalloc)  // seq histCap-3: the logged layout
	setExt(w, in, 3, extUnwritten) // seq histCap-2
	for i := range 10 {            // past the wrap; block 9 ends HOLE
		setExt(w, in, 9, uint32(1-i%2))
	}
	log := []logRecord{{0, 3, extHole}, {3, 1, extDelalloc}, {4, tPages - 4, extHole}}
	in.oracle.fsyncEnd(w, in, snap, log)
	for _, v := range w.oracleV {
		bad = append(bad, fmt.Sprintf("fsyncEnd across the wrap = %s: %s; want no violation", v.Invariant, v.Detail))
	}

	for _, b := range bad {
		t.Error(b)
	}
}

// TestOracleFinal checks the end-of-run scan on hand-made page states.
func TestOracleFinal(t *testing.T) {
	s1, s2 := stampOf(1, 1), stampOf(1, 2)
	tests := []struct {
		name  string
		race  strategies.Race
		setup func(t *testing.T, in *Inode)
		want  []string // "invariant race page"
	}{
		{name: "empty file"},
		{
			name: "cached page holds the shadow's stamp",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].state.Store(dirty)
				in.ext[3].Store(extDelalloc)
				in.putStamp(3, 1, s1)
				in.oracle.stored(3, 1, s1)
			},
		},
		{
			name: "evicted WRITTEN page, the disk holds the stamp",
			setup: func(t *testing.T, in *Inode) {
				in.ext[3].Store(extWritten)
				diskPut(t, in, 3, 1, s1)
				in.oracle.stored(3, 1, s1)
			},
		},
		{
			name: "stamp neither in cache nor on disk",
			setup: func(t *testing.T, in *Inode) {
				in.oracle.stored(3, 1, s1)
			},
			want: []string{"I1 R1 3"},
		},
		{
			name: "cached page holds an older stamp",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].state.Store(clean)
				in.putStamp(3, 1, s1)
				in.oracle.stored(3, 1, s2)
			},
			want: []string{"I1 R1 3"},
		},
		{
			name: "lost stamp in the stale-map scenario", race: strategies.R3,
			setup: func(t *testing.T, in *Inode) {
				in.ext[3].Store(extWritten)
				in.oracle.stored(3, 1, s1)
			},
			want: []string{"I3 R3 3"},
		},
		{
			name: "stale cached data where the shadow is zero",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].state.Store(clean)
				in.putStamp(3, 2, s1)
			},
			want: []string{"I2 R2 3"},
		},
		{
			name: "stale disk data of a WRITTEN block where the shadow is zero",
			setup: func(t *testing.T, in *Inode) {
				in.ext[3].Store(extWritten)
				diskPut(t, in, 3, 2, s1)
			},
			want: []string{"I2 R2 3"},
		},
		{
			name: "stale disk data of a HOLE is unreadable",
			setup: func(t *testing.T, in *Inode) {
				diskPut(t, in, 3, 2, s1)
			},
		},
		{
			name: "dirty page over HOLE",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].state.Store(dirty)
			},
			want: []string{"I1b R1 3"},
		},
		{
			name: "PTE maps a dropped page",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].pte.Store(pteRO)
			},
			want: []string{"I2 R2 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, "rwsem", strategies.Options{})
			if tt.setup != nil {
				tt.setup(t, in)
			}
			race := tt.race
			if race == strategies.NoRace {
				race = strategies.R1
			}
			var got []string
			for _, v := range in.oracle.final(in, race) {
				got = append(got, fmt.Sprintf("%s %s %d", v.Invariant, v.Race, v.Page))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("final(%s) = %q; want %q", race, got, tt.want)
			}
		})
	}
}

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
