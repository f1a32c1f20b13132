package hotpath

import (
	"fmt"
	"runtime"
	"strings"

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

// rwsem acquisitions: try the fast path; on failure publish the wait, block,
// and account the wait (lockstat.go). The fast path pays one branch for the
// accounting (lockStats: count the acquisition and time an exclusive hold).

func (w *Worker) rlock(s *rwsem, c lockClass) {
	w.acquire(c)
	if !s.TryRLock(w.slot) {
		w.rlockSlow(s, c)
		return
	}
	if w.lockStats {
		w.lk.acq[c]++
	}
}

// rlockSlow is rlock's contended path, out of line as wlockSlow is: the
// uncontended rlock is left with the try and the count (inlining cost 327
// before, 144 after; neither rlock nor wlock fits the budget of 80, with
// lockcheck's branch in acquire).
func (w *Worker) rlockSlow(s *rwsem, c lockClass) {
	t := w.waitStart()
	w.block(c)
	s.RLock(w.slot)
	w.unblock()
	w.waited(c, t)
}

func (w *Worker) runlock(s *rwsem, c lockClass) {
	s.RUnlock(w.slot)
	w.release(c)
}

func (w *Worker) wlock(s *rwsem, c lockClass) {
	w.acquire(c)
	if !s.TryLock() {
		w.wlockSlow(s, c)
		return
	}
	if w.lockStats {
		w.holdStart(c)
	}
}

func (w *Worker) wlockSlow(s *rwsem, c lockClass) {
	t := w.waitStart()
	w.block(c)
	s.Lock()
	w.unblock()
	w.lk.since[c] = w.waited(c, t)
}

func (w *Worker) wunlock(s *rwsem, c lockClass) {
	s.Unlock()
	w.release(c)
	if w.lockStats {
		w.holdEnd(c)
	}
}

func (w *Worker) lockMode(s *rwsem, c lockClass, m strategies.Mode) {
	switch m {
	case strategies.Shared:
		w.rlock(s, c)
	case strategies.Exclusive:
		w.wlock(s, c)
	}
}

func (w *Worker) unlockMode(s *rwsem, c lockClass, m strategies.Mode) {
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
func (w *Worker) takePlan(in *Inode, p strategies.Plan, start, end uint64) planLocks {
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
			t := w.waitStart()
			w.block(lkER)
			h = in.er.Lock(w.slot, start, end, p.ER)
			w.unblock()
			w.lk.since[lkER] = w.waited(lkER, t)
		} else if w.lockStats {
			w.lk.acq[lkER]++
			if p.ER == strategies.Exclusive {
				w.lk.since[lkER] = w.clk.Now()
			}
		}
	}
	return planLocks{plan: p, er: h}
}

func (w *Worker) dropPlan(in *Inode, pl planLocks) {
	if pl.plan.ER != strategies.Skip {
		in.er.Unlock(pl.er)
		w.release(lkER)
		if w.lockStats && pl.plan.ER == strategies.Exclusive {
			w.holdEnd(lkER)
		}
	}
	w.unlockMode(in.mk, lkMK, pl.plan.MK)
	w.unlockMode(in.il, lkIL, pl.plan.IL)
	w.unlockMode(in.io, lkIO, pl.plan.IO)
}

// lockPage takes page p's lock F (a bit in its state word). Waiters spin
// briefly and then yield: F is held for a page copy or a bio submission.
func (w *Worker) lockPage(pg *page) {
	w.acquire(lkF)
	if s := pg.state.Load(); s&pgLocked == 0 && pg.state.CompareAndSwap(s, s|pgLocked) {
		if w.lockStats {
			w.holdStart(lkF)
		}
		return
	}
	w.lockPageSlow(pg)
}

func (w *Worker) lockPageSlow(pg *page) {
	t := w.waitStart()
	w.block(lkF)
	for i := 0; ; i++ {
		s := pg.state.Load()
		if s&pgLocked == 0 && pg.state.CompareAndSwap(s, s|pgLocked) {
			w.unblock()
			w.lk.since[lkF] = w.waited(lkF, t)
			return
		}
		if i > 16 {
			runtime.Gosched()
		}
	}
}

// trylockPage is the trylock of fault-around and reclaim. A failed trylock
// is neither an acquisition nor a wait.
func (w *Worker) trylockPage(pg *page) bool {
	s := pg.state.Load()
	if s&pgLocked == 0 && pg.state.CompareAndSwap(s, s|pgLocked) {
		w.acquire(lkF)
		if w.lockStats {
			w.holdStart(lkF)
		}
		return true
	}
	return false
}

func (w *Worker) unlockPage(pg *page) {
	pg.state.And(^uint32(pgLocked))
	w.release(lkF)
	if w.lockStats {
		w.holdEnd(lkF)
	}
}
