package hotpath

import (
	"fmt"
	"math"
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

// The model's tests (model_*_test.go, with the helpers in this file) drive
// the model single-threaded (or with one helper goroutine parked at a known
// point) through the worker methods, and check exact page, PTE and extent
// states after each transition of docs/MODEL.md. Failures read
// `op(x) = got; want w`.

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
