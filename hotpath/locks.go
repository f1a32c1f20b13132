package hotpath

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"lockbench/hotpath/clock"
	"lockbench/strategies"
)

// lockClass names the lock classes of docs/MODEL.md. The numeric value is the
// rank used by the lock-order checker: a worker may only acquire a class whose
// rank is above every class it holds. IO ranks above MM (IO -> MM is the order
// of a write() faulting on its own buffer), so a fault holding MM may never
// take IO: that ABBA is the reason VM_FAULT_RETRY exists. MK (btrfs's
// i_mmap_lock) ranks after IL: page_mkwrite takes IL(S) then MK(S). ER and MK
// are never both taken by one strategy; ER ranks after MK so that one order
// serves every strategy.
type lockClass uint8

const (
	lkIO lockClass = iota + 1
	lkMM
	lkIL
	lkMK
	lkER
	lkF
	lkIX
	numLockClasses
)

var lockClassNames = [numLockClasses]string{"", "IO", "MM", "IL", "MK", "ER", "F", "IX"}

func (c lockClass) String() string {
	if c < numLockClasses {
		return lockClassNames[c]
	}
	return fmt.Sprintf("lock(%d)", uint8(c))
}

// heldString renders a held-lock mask such as "MM IL F".
func heldString(mask uint32) string {
	var parts []string
	for c := lkIO; c < numLockClasses; c++ {
		if mask&(1<<c) != 0 {
			parts = append(parts, c.String())
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " ")
}

// acquire records that w takes class c, checking the order when the lockcheck
// build tag is set. The held mask is a plain field of the worker's own padded
// state: it is published (atomically) only when the worker is about to block,
// so the watchdog sees blocked workers exactly and running ones not at all.
func (w *Worker) acquire(c lockClass) {
	if lockCheck {
		w.checkOrder(c)
	}
	w.held |= 1 << c
}

func (w *Worker) release(c lockClass) { w.held &^= 1 << c }

// checkOrder panics with a lock-order report when c ranks at or below a held
// class. It runs only with -tags lockcheck.
func (w *Worker) checkOrder(c lockClass) {
	if w.held>>c != 0 {
		panic(&LockOrderError{Worker: w.ID, Held: heldString(w.held), Want: c.String()})
	}
}

// LockOrderError is what the lock-order checker reports.
type LockOrderError struct {
	Worker int
	Held   string
	Want   string
}

func (e *LockOrderError) Error() string {
	return fmt.Sprintf("lock order: worker %d takes %s while holding %s (allowed: MM -> IL -> MK -> ER -> F -> IX, IO -> MM, IO -> IL; never IO after MM)", e.Worker, e.Want, e.Held)
}

// block publishes that w waits for class c, for the deadlock watchdog.
func (w *Worker) block(c lockClass) {
	// acquire has already set c's bit: it is awaited, not held.
	w.pub.Store(uint64(w.held&^(1<<c)) | uint64(c)<<32)
}

func (w *Worker) unblock() { w.pub.Store(0) }

// ---- accounting, chosen once per operation ----

// lockLevel is how much lock accounting a worker does (lockstat.go):
// locksOff, the default, records contended acquisitions and their waits;
// locksOn (-locks, Config.LockStats) also counts every acquisition and
// times every exclusive hold; locksAbsent records nothing (the baseline
// BenchmarkWriteFault's locks=absent compares the others with).
type lockLevel uint8

const (
	locksOff lockLevel = iota
	locksOn
	locksAbsent
)

// The accounting levels as types: a locker[A] is compiled once per level,
// and in each copy the accounting's branches are constants (full, waits),
// so a fault path that decided its level once runs with no branch on it
// per acquisition. acctDyn is the level read from the worker at each
// acquisition: the Worker lock methods, for the operations that are not
// locker methods. The types differ in size, which is what keeps their
// instantiations apart (Go compiles one copy per shape, and a type's shape
// is its underlying type) and what the level is read from: bit 0 of the
// size is waits, bit 1 full, bit 2 hooked (calib.go: the fault paths of a
// calibrated inode or one a test watches, which mark span points); acctDyn,
// the one size above them, reads the level and is hooked.
type (
	acctAbsent       struct{}
	acctOff          [1]byte
	acctOn           [3]byte
	acctAbsentHooked [4]byte
	acctOffHooked    [5]byte
	acctOnHooked     [7]byte
	acctDyn          [8]byte
)

// accounting is the set of accounting levels.
type accounting interface {
	acctAbsent | acctOff | acctOn | acctAbsentHooked | acctOffHooked | acctOnHooked | acctDyn
}

// locker is a worker taking locks with accounting level A. The fault paths
// (ops.go) are its methods: the operation decides the level once (Worker's
// readFault and writeFault) and everything under it is the level's own
// copy. The locker's lock methods shadow Worker's, so a fault path's body
// reads as a Worker method's.
type locker[A accounting] struct{ *Worker }

// full reports whether w counts every acquisition and times exclusive holds.
func (w locker[A]) full() bool {
	var a A
	if unsafe.Sizeof(a) == unsafe.Sizeof(acctDyn{}) {
		return w.locks == locksOn
	}
	return unsafe.Sizeof(a)&2 != 0
}

// waits reports whether w records contended acquisitions and their waits.
func (w locker[A]) waits() bool {
	var a A
	if unsafe.Sizeof(a) == unsafe.Sizeof(acctDyn{}) {
		return w.locks != locksAbsent
	}
	return unsafe.Sizeof(a)&1 != 0
}

// dyn is w as a locker that reads its accounting level per acquisition.
func (w *Worker) dyn() locker[acctDyn] { return locker[acctDyn]{w} }

// Worker's lock methods serve the operations that are not locker methods
// (write, read, writeback, reclaim, punch, truncate, fsync, the oracle):
// one branch on the level per acquisition, as before the fault paths
// decided theirs once.

func (w *Worker) rlock(s *rwsem, c lockClass)   { w.dyn().rlock(s, c) }
func (w *Worker) runlock(s *rwsem, c lockClass) { w.dyn().runlock(s, c) }
func (w *Worker) wlock(s *rwsem, c lockClass)   { w.dyn().wlock(s, c) }
func (w *Worker) wunlock(s *rwsem, c lockClass) { w.dyn().wunlock(s, c) }
func (w *Worker) lockPage(pg *page)             { w.dyn().lockPage(pg) }
func (w *Worker) trylockPage(pg *page) bool     { return w.dyn().trylockPage(pg) }
func (w *Worker) unlockPage(pg *page)           { w.dyn().unlockPage(pg) }

func (w *Worker) takePlan(in *Inode, p strategies.Plan, start, end uint64) planLocks {
	return w.dyn().takePlan(in, p, start, end)
}

func (w *Worker) dropPlan(in *Inode, pl planLocks) { w.dyn().dropPlan(in, pl) }

// rwsem acquisitions: try the fast path; on failure publish the wait, block,
// and account the wait (lockstat.go).

func (w locker[A]) rlock(s *rwsem, c lockClass) {
	w.acquire(c)
	if !s.TryRLock(w.slot) {
		w.rlockSlow(s, c)
		return
	}
	if w.full() {
		w.lk.acq[c]++
	}
}

// rlockSlow is rlock's contended path, out of line as wlockSlow is: the
// uncontended rlock is left with the try and the count.
func (w locker[A]) rlockSlow(s *rwsem, c lockClass) {
	if !w.waits() {
		w.block(c)
		s.RLock(w.slot)
		w.unblock()
		return
	}
	t := w.waitStart()
	w.block(c)
	s.RLock(w.slot)
	w.unblock()
	w.waited(c, t)
}

func (w locker[A]) runlock(s *rwsem, c lockClass) {
	s.RUnlock(w.slot)
	w.release(c)
}

func (w locker[A]) wlock(s *rwsem, c lockClass) {
	w.acquire(c)
	if !s.TryLock() {
		w.wlockSlow(s, c)
		return
	}
	if w.full() {
		w.holdStart(c)
	}
}

func (w locker[A]) wlockSlow(s *rwsem, c lockClass) {
	if !w.waits() {
		w.block(c)
		s.Lock()
		w.unblock()
		return
	}
	t := w.waitStart()
	w.block(c)
	s.Lock()
	w.unblock()
	w.lk.since[c] = w.waited(c, t)
}

func (w locker[A]) wunlock(s *rwsem, c lockClass) {
	s.Unlock()
	w.release(c)
	if w.full() {
		w.holdEnd(c)
	}
}

func (w locker[A]) lockMode(s *rwsem, c lockClass, m strategies.Mode) {
	switch m {
	case strategies.Shared:
		w.rlock(s, c)
	case strategies.Exclusive:
		w.wlock(s, c)
	}
}

func (w locker[A]) unlockMode(s *rwsem, c lockClass, m strategies.Mode) {
	switch m {
	case strategies.Shared:
		w.runlock(s, c)
	case strategies.Exclusive:
		w.wunlock(s, c)
	}
}

// planLocks is the set of locks a plan took, so that release mirrors acquire.
type planLocks struct {
	plan strategies.Plan
	er   rangeHandle
}

// takePlan takes plan p's locks in the order IO -> IL -> MK -> ER over the
// byte range [start, end).
func (w locker[A]) takePlan(in *Inode, p strategies.Plan, start, end uint64) planLocks {
	w.lockMode(in.io, lkIO, p.IO)
	w.lockMode(in.il, lkIL, p.IL)
	w.lockMode(in.mk, lkMK, p.MK)
	var h rangeHandle
	if p.ER != strategies.Skip {
		if p.ERFull {
			start, end = 0, ^uint64(0)
		}
		w.acquire(lkER)
		var ok bool
		if h, ok = in.er.TryLock(w.slot, start, end, p.ER); !ok {
			h = w.erLockSlow(in, start, end, p.ER)
		} else if w.full() {
			w.lk.acq[lkER]++
			if p.ER == strategies.Exclusive {
				w.lk.since[lkER] = w.clk.Now()
			}
		}
	}
	return planLocks{plan: p, er: h}
}

// erLockSlow is takePlan's contended ER acquisition.
func (w locker[A]) erLockSlow(in *Inode, start, end uint64, m strategies.Mode) rangeHandle {
	var t clock.Ticks
	if w.waits() {
		t = w.waitStart()
	}
	w.block(lkER)
	h := in.er.Lock(w.slot, start, end, m)
	w.unblock()
	if w.waits() {
		w.lk.since[lkER] = w.waited(lkER, t)
	}
	return h
}

func (w locker[A]) dropPlan(in *Inode, pl planLocks) {
	if pl.plan.ER != strategies.Skip {
		in.er.Unlock(pl.er)
		w.release(lkER)
		if w.full() && pl.plan.ER == strategies.Exclusive {
			w.holdEnd(lkER)
		}
	}
	w.unlockMode(in.mk, lkMK, pl.plan.MK)
	w.unlockMode(in.il, lkIL, pl.plan.IL)
	w.unlockMode(in.io, lkIO, pl.plan.IO)
}

// lockPage takes page p's lock F (a bit in its state word). Waiters spin
// briefly and then yield: F is held for a page copy or a bio submission.
func (w locker[A]) lockPage(pg *page) {
	w.acquire(lkF)
	if s := pg.state.Load(); s&pgLocked == 0 && pg.state.CompareAndSwap(s, s|pgLocked) {
		if w.full() {
			w.holdStart(lkF)
		}
		return
	}
	w.lockPageSlow(pg)
}

func (w locker[A]) lockPageSlow(pg *page) {
	var t clock.Ticks
	if w.waits() {
		t = w.waitStart()
	}
	w.block(lkF)
	for i := 0; ; i++ {
		s := pg.state.Load()
		if s&pgLocked == 0 && pg.state.CompareAndSwap(s, s|pgLocked) {
			w.unblock()
			if w.waits() {
				w.lk.since[lkF] = w.waited(lkF, t)
			}
			return
		}
		if i > 16 {
			runtime.Gosched()
		}
	}
}

// trylockPage is the trylock of fault-around and reclaim. A failed trylock
// is neither an acquisition nor a wait.
func (w locker[A]) trylockPage(pg *page) bool {
	s := pg.state.Load()
	if s&pgLocked == 0 && pg.state.CompareAndSwap(s, s|pgLocked) {
		w.acquire(lkF)
		if w.full() {
			w.holdStart(lkF)
		}
		return true
	}
	return false
}

func (w locker[A]) unlockPage(pg *page) {
	pg.state.And(^uint32(pgLocked))
	w.release(lkF)
	if w.full() {
		w.holdEnd(lkF)
	}
}
