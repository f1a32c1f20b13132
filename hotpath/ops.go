package hotpath

import (
	"fmt"

	"lockbench/hotpath/clock"
	"lockbench/strategies"
)

// faultResult is what a fault handler returns.
type faultResult uint8

const (
	faultOK        faultResult = iota
	faultRetry                 // VM_FAULT_RETRY: MM was dropped, fault again
	faultSigbus                // SIGBUS for a store within EOF: an I4 violation
	faultBeyondEOF             // SIGBUS beyond EOF: legitimate
)

// faultFlags are the fault's flags (docs/MODEL.md, "VM_FAULT_RETRY rules").
type faultFlags uint8

const (
	flagAllowRetry faultFlags = 1 << iota
	flagTried
)

// ---- stores and loads through the mapping ----

// store writes a stamp into the worker's own region of page p through the
// shared mapping, faulting as the MMU would when the PTE is not rw; gup: a
// get_user_pages store (no VM_FAULT_RETRY). It is the runner's store,
// modelOps.store, bare: neither timed nor counted (tests, Bench, the hole
// test).
func (w *Worker) store(in *Inode, p int, gup bool) error {
	o := modelState{in: in, bare: true}
	if gup {
		o.gup = 1
	}
	return modelOps{&o}.store(w, p)
}

// storeFault is one write fault of a store whose PTE was not rw, under the
// MMU's retry rules: the store's fault flags follow from gup (no
// VM_FAULT_RETRY) and its chain of retries so far (w.chain, reset by the
// store). again: the store goes on, tried again through the mapping; false:
// it ends (SIGBUS beyond or within EOF, or err).
func (w *Worker) storeFault(in *Inode, p int, gup bool) (again bool, err error) {
	flags := flagAllowRetry
	if gup {
		flags = 0 // get_user_pages without `locked` never allows retry
	}
	if w.chain >= int64(in.retryLimit()) {
		flags |= flagTried
	}
	if flags&flagTried == 0 {
		w.chainGen = in.inlineGen.Load()
	}
	res, err := w.writeFault(in, p, flags)
	if err != nil {
		return false, err
	}
	switch res {
	case faultRetry:
		w.ctr.Retries++
		w.chain++
		if w.chain > w.ctr.MaxRetryChain {
			w.ctr.MaxRetryChain = w.chain
		}
	case faultSigbus:
		w.ctr.Sigbus++
		w.violation(in, "I4", strategies.R4, p, func() string {
			return fmt.Sprintf("SIGBUS for a store within EOF to page %d (get_user_pages caller, fallback sigbus)", p)
		})
		return false, nil
	case faultBeyondEOF:
		return false, nil
	}
	return true, nil
}

func (in *Inode) retryLimit() int {
	if in.retry == nil || in.retry.MaxRetries < 1 {
		return 1
	}
	return in.retry.MaxRetries
}

// load reads the worker's region of page p through the mapping, taking a
// read fault when the PTE is none.
func (w *Worker) load(in *Inode, p int, faultAround, naive bool) (uint64, error) {
	if s, ok := w.loadMapped(in, p); ok {
		return s, nil
	}
	return w.loadFault(in, p, faultAround, naive)
}

// loadMapped is a load through a present PTE: the worker's stamp in page p;
// false when the PTE is none. It is small enough to inline, so that
// modelOps.load makes no call for it.
func (w *Worker) loadMapped(in *Inode, p int) (uint64, bool) {
	if in.pages[p].pte.Load()&pteMask == pteNone {
		return 0, false
	}
	return in.loadStamp(p, w.region(in.regions)), true
}

// loadFault is a load whose PTE was none: read faults until the PTE is
// present, then the load.
func (w *Worker) loadFault(in *Inode, p int, faultAround, naive bool) (uint64, error) {
	for {
		res, err := w.readFault(in, p, faultAround, naive)
		if err != nil || res == faultBeyondEOF {
			return 0, err
		}
		if s, ok := w.loadMapped(in, p); ok {
			return s, nil
		}
	}
}

// zap unmaps page p's PTE (madvise(MADV_DONTNEED) of one page): the next
// access faults again.
func (w *Worker) zap(in *Inode, p int) {
	in.zapPTE(&in.pages[p])
}

// zapPTE sets the PTE to none and waits for stores in flight.
func (in *Inode) zapPTE(pg *page) {
	for {
		v := pg.pte.Load()
		if pg.pte.CompareAndSwap(v, v&^pteMask) {
			break
		}
	}
	waitStores(pg)
}

// wrprotect turns an rw PTE into ro (page_mkclean) and waits for stores in
// flight. It waits even when the PTE is no longer rw: a concurrent zap may
// have cleared it while a store that saw rw is still landing, and the
// caller is about to mark the page clean (the kernel's TLB flush covers
// that store too).
func (in *Inode) wrprotect(pg *page) {
	for {
		v := pg.pte.Load()
		if v&pteMask != pteRW || pg.pte.CompareAndSwap(v, v&^pteMask|pteRO) {
			break
		}
	}
	waitStores(pg)
}

func waitStores(pg *page) {
	for i := 0; pg.pte.Load()>>8 != 0; i++ {
		if i > 16 {
			yield()
		}
	}
}

// ---- read fault and fault-around ----

// readFault is the read fault with w's lock accounting, decided here once
// for the whole fault, as is whether it marks span points (Inode.hooked).
func (w *Worker) readFault(in *Inode, p int, faultAround, naive bool) (faultResult, error) {
	if in.hooked() {
		return w.readFaultHooked(in, p, faultAround, naive)
	}
	switch w.locks {
	case locksOff:
		return locker[acctOff]{w}.readFault(in, p, faultAround, naive)
	case locksOn:
		return locker[acctOn]{w}.readFault(in, p, faultAround, naive)
	}
	return locker[acctAbsent]{w}.readFault(in, p, faultAround, naive)
}

// readFault is filemap_fault for page p: MM(S); if the page is cached and
// uptodate, map it; otherwise create and fill it under the strategy's
// OpReadFault plan. With faultAround it first maps neighbouring cached pages
// (map_pages), by trylock and recheck unless naive.
func (w locker[A]) readFault(in *Inode, p int, faultAround, naive bool) (faultResult, error) {
	t := w.startTimer(KReadFault)
	busy := w.busyBefore(in)
	w.ctr.Faults++
	w.rlock(in.mm, lkMM)
	// One defer: a second, conditional one would make Go give up open-coded
	// defers for the function and run both through the runtime.
	defer func() {
		w.runlock(in.mm, lkMM)
		w.endFault(in, KReadFault, ovReadFault, t, busy)
	}()
	if int64(p) >= in.size.Load() {
		return faultBeyondEOF, nil
	}
	if faultAround {
		w.faultAround(in, p, naive)
		if in.pages[p].pte.Load()&pteMask != pteNone {
			return faultOK, nil
		}
	}
	pg := &in.pages[p]
	if pg.state.Load()&(pgPresent|pgUptodate) != pgPresent|pgUptodate {
		if err := w.fillPage(in, p, strategies.OpReadFault); err != nil {
			return faultOK, err
		}
	}
	w.lockPage(pg)
	if pg.state.Load()&pgPresent == 0 || int64(p) >= in.size.Load() {
		// Punched or truncated under us: fault again.
		w.unlockPage(pg)
		return faultOK, nil
	}
	for {
		v := pg.pte.Load()
		if v&pteMask != pteNone || pg.pte.CompareAndSwap(v, v|pteRO) {
			break
		}
	}
	w.unlockPage(pg)
	return faultOK, nil
}

// faultAroundPages is the fault-around window (the kernel's default 64 KiB).
const faultAroundPages = 16

// faultAround maps ro PTEs for cached uptodate pages around p. It never
// creates pages and never does I/O. The safe variant trylocks each page and
// rechecks that it is still cached and within EOF (filemap_map_pages); the
// naive one trusts an unlocked look at the page state, which races with
// punch dropping the page (R2).
func (w locker[A]) faultAround(in *Inode, p int, naive bool) {
	start := p &^ (faultAroundPages - 1)
	end := min(start+faultAroundPages, in.npages)
	for q := start; q < end; q++ {
		pg := &in.pages[q]
		if pg.pte.Load()&pteMask != pteNone {
			continue
		}
		if naive {
			if pg.state.Load()&(pgPresent|pgUptodate) == pgPresent|pgUptodate {
				in.delay.at(dFaultAround)
				if pg.pte.CompareAndSwap(pteNone, pteRO) {
					w.ctr.FaultAround++
				}
			}
			continue
		}
		if !w.trylockPage(pg) {
			w.ctr.FaultAroundMiss++
			continue
		}
		if pg.state.Load()&(pgPresent|pgUptodate) == pgPresent|pgUptodate && int64(q) < in.size.Load() {
			if pg.pte.CompareAndSwap(pteNone, pteRO) {
				w.ctr.FaultAround++
			}
		} else {
			w.ctr.FaultAroundMiss++
		}
		w.unlockPage(pg)
	}
}

// fillPage creates (if absent) and reads page p under the plan of op
// (OpReadFault or OpRead). The page is left present, uptodate and unlocked,
// unless p is beyond EOF by the time the page is locked: then nothing is
// created (read() holds no lock against truncate; filemap_read rechecks
// i_size the same way), and the caller's own EOF check decides.
func (w locker[A]) fillPage(in *Inode, p int, op strategies.Op) error {
	pl := w.takePlan(in, in.plans[op], uint64(p*in.pageSize), uint64((p+1)*in.pageSize))
	defer w.dropPlan(in, pl)
	pg := &in.pages[p]
	w.lockPage(pg)
	defer w.unlockPage(pg)
	s := pg.state.Load()
	if s&pgPresent != 0 && s&pgUptodate != 0 || int64(p) >= in.size.Load() {
		return nil
	}
	// Create the page (locked), then look up the extent and read.
	pg.state.Store(pgPresent | pgLocked | s&pgWriteback)
	w.ctr.PagesCreated++
	w.rlock(in.ix, lkIX)
	st := in.extState(p)
	w.runlock(in.ix, lkIX)
	in.delay.at(dFaultFill)
	var err error
	if st == extWritten {
		w.at(in, spFill) // the read from the device
		err = in.readDisk(p)
	} else if st != extInline {
		clear(in.pageBytes(p))
	}
	if err != nil {
		return fmt.Errorf("read fault: reading page %d: %w", p, err)
	}
	pg.state.Or(pgUptodate)
	return nil
}

// ---- write fault (page_mkwrite) ----

// writeFault is the write fault with w's lock accounting, decided here once
// for the whole fault, as is whether it marks span points (Inode.hooked).
func (w *Worker) writeFault(in *Inode, p int, flags faultFlags) (faultResult, error) {
	if in.hooked() {
		return w.writeFaultHooked(in, p, flags)
	}
	switch w.locks {
	case locksOff:
		return locker[acctOff]{w}.writeFault(in, p, flags)
	case locksOn:
		return locker[acctOn]{w}.writeFault(in, p, flags)
	}
	return locker[acctAbsent]{w}.writeFault(in, p, flags)
}

// fillPage and casExtent for read() and writeback (fileops.go), with the
// level read per acquisition.
func (w *Worker) fillPage(in *Inode, p int, op strategies.Op) error {
	return w.dyn().fillPage(in, p, op)
}
func (w *Worker) casExtent(in *Inode, b int, from, to uint32) uint32 {
	return w.dyn().casExtent(in, b, from, to)
}

// busyBefore is the calibrated model's fsync and punch activity at the
// start of a fault (calibState.busyNow), 0 when the model is not calibrated
// or the fault path's copy is not the hooked one.
func (w locker[A]) busyBefore(in *Inode) uint8 {
	if !w.hooked() || in.calib == nil {
		return 0
	}
	return in.calib.busyNow()
}

// endFault ends a fault of kind k timed from t: it counts it and, when it
// was timed, records its overlap with fsync and punch when calibrated
// (recordOverlap, which skips an untimed fault), then its timing. It is the
// fault's one deferred call, so that the defer stays open-coded, and as
// cheap as stopTimer when the fault is untimed.
func (w *Worker) endFault(in *Inode, k Kind, ov int, t clock.Ticks, busy uint8) {
	w.ops[k]++
	if t >= 0 {
		w.endTimedFault(in, k, ov, t, busy)
	}
}

func (w *Worker) endTimedFault(in *Inode, k Kind, ov int, t clock.Ticks, busy uint8) {
	if in.calib != nil {
		w.recordOverlap(in, ov, t, busy)
	}
	w.record(k, t)
}

// writeFault is the write fault on page p: MM(S), a read fault's fill if the
// page is not cached, then page_mkwrite under the OpWriteFault plan: F, IX,
// HOLE -> DELALLOC, INLINE -> converted, page dirty, PTE rw.
func (w locker[A]) writeFault(in *Inode, p int, flags faultFlags) (faultResult, error) {
	t := w.startTimer(KWriteFault)
	defer w.endFault(in, KWriteFault, ovWriteFault, t, w.busyBefore(in))
	w.ctr.Faults++
	w.rlock(in.mm, lkMM)
	if int64(p) >= in.size.Load() {
		w.runlock(in.mm, lkMM)
		return faultBeyondEOF, nil
	}
	pg := &in.pages[p]
	if pg.state.Load()&(pgPresent|pgUptodate) != pgPresent|pgUptodate {
		if err := w.fillPage(in, p, strategies.OpReadFault); err != nil {
			w.runlock(in.mm, lkMM)
			return faultOK, err
		}
	}
	plan := in.plans[strategies.OpWriteFault]
	if w.retryOnContendedIL(in, plan, flags) {
		return faultRetry, nil
	}
	pl := w.takePlan(in, plan, uint64(p*in.pageSize), uint64((p+1)*in.pageSize))
	w.lockPage(pg)
	unlockAll := func() {
		w.unlockPage(pg)
		w.dropPlan(in, pl)
		w.runlock(in.mm, lkMM)
	}
	if pg.state.Load()&pgPresent == 0 {
		unlockAll() // dropped under us: fault again
		return faultOK, nil
	}
	if int64(p) >= in.size.Load() {
		unlockAll()
		return faultBeyondEOF, nil
	}
	w.rlock(in.ix, lkIX)
	st := in.extState(p)
	gen := in.inlineGen.Load() // consistent with st: re-inlining bumps it under IX(X)
	w.runlock(in.ix, lkIX)
	if st == extInline && flags&flagTried != 0 && gen != w.chainGen {
		// The file was re-created (re-inlined) since the first try: this
		// is a first fault on a new file, not the TRIED attempt.
		flags &^= flagTried
		w.chainGen = gen
	}
	switch st {
	case extHole:
		w.casExtent(in, p, extHole, extDelalloc)
	case extInline:
		switch w.inlineAction(in, flags) {
		case inlineRetry:
			// VM_FAULT_RETRY: drop everything, take IO(X), convert, retry.
			unlockAll()
			w.wlock(in.io, lkIO)
			w.convertInline(in, p)
			w.wunlock(in.io, lkIO)
			return faultRetry, nil
		case inlineSigbus:
			unlockAll()
			return faultSigbus, nil
		}
		// Convert under the plan's locks only (IL(S) in the base protocol:
		// the ext4 race with a write() under IO(X)).
		in.delay.at(dInlineConvert)
		w.convertInline(in, p)
	}
	if w.hooked() && in.calib != nil && pg.state.Load()&pgDiskIO != 0 {
		w.waitStable(in, p) // btrfs: folio_wait_writeback in btrfs_page_mkwrite
	}
	w.at(in, spWriteFault)
	pg.state.Or(pgDirty)
	for {
		v := pg.pte.Load()
		if pg.pte.CompareAndSwap(v, v&^pteMask|pteRW) {
			break
		}
	}
	unlockAll()
	return faultOK, nil
}

// inlineAction is what a write fault on an INLINE block does.
type inlineAction uint8

const (
	inlineConvert inlineAction = iota // convert under the write fault's plan
	inlineRetry                       // drop MM, convert under IO(X), retry
	inlineSigbus                      // the no-retry fallback: SIGBUS
)

// inlineAction decides a write fault's inline conversion from the strategy's
// retry policy and the fault's flags, counting a get_user_pages fault that
// converts without IO.
func (w *Worker) inlineAction(in *Inode, flags faultFlags) inlineAction {
	switch {
	case in.retry == nil:
		return inlineConvert
	case flags&flagAllowRetry != 0 && flags&flagTried == 0:
		return inlineRetry
	case flags&flagAllowRetry == 0 && in.retry.Fallback == strategies.FallbackSigbus:
		return inlineSigbus
	case flags&flagAllowRetry == 0:
		w.ctr.ConvertUnlocked++
	}
	return inlineConvert
}

// convertInline converts block p from INLINE to DELALLOC under IX(X), if it
// is still INLINE.
func (w locker[A]) convertInline(in *Inode, p int) {
	if w.casExtent(in, p, extInline, extDelalloc) == extInline {
		w.ctr.InlineConverts++
	}
}

// casExtent is the one "under IX(X), if block b is from, make it to" step: it
// returns the state it found, so callers know whether it changed.
func (w locker[A]) casExtent(in *Inode, b int, from, to uint32) uint32 {
	w.wlock(in.ix, lkIX)
	st := in.extState(b)
	if st == from {
		in.setExtent(b, to)
	}
	w.wunlock(in.ix, lkIX)
	return st
}

// retryOnContendedIL is faultretry's option of retrying a fault that finds IL
// contended: when it applies, it drops MM, waits for IL without it and
// reports true (the fault returns RETRY).
func (w locker[A]) retryOnContendedIL(in *Inode, plan strategies.Plan, flags faultFlags) bool {
	if in.retry == nil || !in.retry.OnContendedIL || flags&flagAllowRetry == 0 || flags&flagTried != 0 ||
		plan.IL == strategies.Skip || !in.il.Contended() {
		return false
	}
	w.runlock(in.mm, lkMM)
	w.rlock(in.il, lkIL)
	w.runlock(in.il, lkIL)
	return true
}
