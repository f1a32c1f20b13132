package hotpath

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"lockbench/strategies"
)

// maxChunk is the number of pages write() maps and copies per iteration
// (iomap iterates per mapping; btrfs per chunk).
const maxChunk = 16

// write is a buffered write() of n pages from page p0. It writes the worker's
// own region of each page: each page is a partial-page write, so a fresh page
// must be read (WRITTEN) or zero-filled (HOLE, DELALLOC, UNWRITTEN) outside
// the region, from the mapping cached at the start of the iteration. With
// failRate > 0 the copy stops short at a seeded rate (a fault on the user
// buffer with page faults disabled), and the cleanup punches what the write
// reserved and did not copy.
func (w *Worker) write(in *Inode, p0, n int, failRate float64) error {
	t := w.startTimer(KWrite)
	defer w.stopTimer(KWrite, t)
	w.wlock(in.io, lkIO)
	defer w.wunlock(in.io, lkIO)
	end := min(p0+n, int(in.size.Load()))
	r := w.region(in.regions)
	for p := p0; p < end; {
		cend := min(end, p+maxChunk)
		pl := w.takePlan(in, in.plans[strategies.OpWrite], uint64(p*in.pageSize), uint64(cend*in.pageSize))
		cookie := w.mapRange(in, p, cend)
		in.delay.at(dWriteAfterMap)
		next := cend
		short := false
		for q := p; q < cend; q++ {
			if w.chance(failRate) {
				short = true
				next = q
				break
			}
			in.delay.at(dWriteCopy)
			pg := &in.pages[q]
			w.lockPage(pg)
			if in.validate {
				w.ctr.Validations++
				if !in.seq.Valid(cookie) {
					// Stale mapping: end this iteration short, remap the rest.
					w.ctr.StaleMaps++
					w.ctr.Remaps++
					w.unlockPage(pg)
					next = q
					break
				}
			}
			mapped := w.mapped[q-p]
			if err := w.prepareWritePage(in, q, mapped); err != nil {
				w.unlockPage(pg)
				w.dropPlan(in, pl)
				return err
			}
			st := w.stamp()
			in.putStamp(q, r, st)
			if mapped == extInline {
				// write_begin saw INLINE; write_end must see it too.
				in.delay.at(dInlineWrite)
				w.rlock(in.ix, lkIX)
				now := in.extState(q)
				w.runlock(in.ix, lkIX)
				if now != extInline && in.oracle != nil {
					w.violation(in, "I4", strategies.R4, q, func() string {
						return fmt.Sprintf("write_begin saw INLINE, write_end saw %s on page %d", extName(now), q)
					})
				}
			}
			if in.oracle != nil {
				in.oracle.stored(q, r, st)
			}
			pg.state.Or(pgDirty)
			w.unlockPage(pg)
		}
		if short {
			w.ctr.ShortWrites++
			w.cleanup(in, p, next, cend)
			w.dropPlan(in, pl)
			return nil
		}
		w.dropPlan(in, pl)
		p = next
	}
	return nil
}

// prepareWritePage makes locked page q uptodate for a partial-page write
// whose cached mapping says mapped: a cached uptodate page is used as is; a
// fresh one is read from the disk (WRITTEN) or zero-filled outside the
// write's range, trusting the mapping (iomap_block_needs_zeroing). That trust
// is R3 when the mapping is stale; the oracle checks it here.
func (w *Worker) prepareWritePage(in *Inode, q int, mapped uint32) error {
	pg := &in.pages[q]
	s := pg.state.Load()
	if s&(pgPresent|pgUptodate) == pgPresent|pgUptodate {
		return nil
	}
	pg.state.Store(pgPresent | pgLocked | s&(pgWriteback|pgDirty))
	w.ctr.PagesCreated++
	switch mapped {
	case extWritten:
		if err := in.readDisk(q); err != nil {
			return fmt.Errorf("write: reading page %d: %w", q, err)
		}
	case extInline:
	default:
		clear(in.pageBytes(q))
		w.ctr.Zeroed++
		if in.oracle != nil && in.extState(q) == extWritten {
			w.violation(in, "I3", strategies.R3, q, func() string {
				return fmt.Sprintf("write fabricated zeros on page %d: cached mapping said %s, extent is WRITTEN", q, extName(mapped))
			})
		}
	}
	pg.state.Or(pgUptodate)
	return nil
}

// mapRange maps [p, cend): reserves DELALLOC over holes (remembering which it
// reserved) and caches each block's state; it returns the cookie.
func (w *Worker) mapRange(in *Inode, p, cend int) uint64 {
	w.wlock(in.ix, lkIX)
	for b := p; b < cend; b++ {
		st := in.extState(b)
		w.reserved[b-p] = st == extHole
		if st == extHole {
			in.setExtent(b, extDelalloc)
			st = extDelalloc
		}
		w.mapped[b-p] = st
	}
	cookie := in.seq.Load()
	w.wunlock(in.ix, lkIX)
	return cookie
}

// cleanup is a failed write's cleanup over [from, cend) of the chunk that
// started at p: drop the page cache and punch the DELALLOC the write reserved.
// The base protocol takes IL(X) and skips dirty pages (they hold mmap stores);
// the unsafe baseline takes no IL and punches everything (R1).
func (w *Worker) cleanup(in *Inode, p, from, cend int) {
	pl := w.takePlan(in, in.plans[strategies.OpWriteCleanup], uint64(from*in.pageSize), uint64(cend*in.pageSize))
	defer w.dropPlan(in, pl)
	in.delay.at(dCleanup)
	for b := from; b < cend; b++ {
		if !w.reserved[b-p] {
			continue
		}
		pg := &in.pages[b]
		w.lockPage(pg)
		s := pg.state.Load()
		if s&pgPresent != 0 && s&pgDirty != 0 && !in.unsafeCleanup {
			w.unlockPage(pg) // holds mmap data: keep page and reservation
			continue
		}
		if s&pgWriteback != 0 {
			w.unlockPage(pg)
			continue
		}
		if s&pgPresent != 0 {
			in.zapPTE(pg)
			if in.oracle != nil && s&pgDirty != 0 {
				if lost := in.oracle.liveStamps(in, b); lost != 0 {
					w.violation(in, "I1", strategies.R1, b, func() string {
						return fmt.Sprintf("failed write's cleanup discarded dirty page %d holding completed mmap store %s", b, stampString(lost))
					})
				}
			}
			pg.state.Store(pgLocked)
		}
		if w.casExtent(in, b, extDelalloc, extHole) == extDelalloc {
			w.ctr.CleanupPunched++
		}
		w.unlockPage(pg)
	}
}

// read is a buffered read() of n pages from p0. It takes no inode lock
// (ext4, btrfs) unless the inode has the XFS option, which takes IO(S) for the
// whole read. A cached uptodate page is copied into the worker's buffer
// without any lock (copy_page_to_iter); a page that is not is first created
// and filled under the strategy's OpRead plan (fillPage). It returns the sum
// of the worker's region stamps it copied.
func (w *Worker) read(in *Inode, p0, n int) (uint64, error) {
	t := w.startTimer(KRead)
	defer w.stopTimer(KRead, t)
	if in.calib != nil {
		defer w.recordOverlap(in, ovRead, t, in.calib.busyNow())
	}
	if in.readIOLock {
		w.rlock(in.io, lkIO)
		defer w.runlock(in.io, lkIO)
	}
	end := min(p0+n, int(in.size.Load()))
	if len(w.rbuf) != in.pageSize {
		w.rbuf = make([]byte, in.pageSize) // once per worker, not per read
	}
	off := (w.ID % in.regions) * in.regSize
	var sum uint64
	for p := p0; p < end; p++ {
		pg := &in.pages[p]
		if pg.state.Load()&(pgPresent|pgUptodate) != pgPresent|pgUptodate {
			if err := w.fillPage(in, p, strategies.OpRead); err != nil {
				return 0, err
			}
			if int64(p) >= in.size.Load() {
				break // truncated under us: a short read
			}
		}
		copy(w.rbuf, in.pageBytes(p))
		sum += binary.LittleEndian.Uint64(w.rbuf[off:])
	}
	return sum, nil
}

// writebackPage writes page p back: F, write-protect, DELALLOC -> UNWRITTEN
// at submit, the I/O, then UNWRITTEN -> WRITTEN at completion under the
// OpWritebackEnd plan, revalidating against the extent it set at submit.
// With block false the page lock is only tried (the flusher).
func (w *Worker) writebackPage(in *Inode, p int, block bool) error {
	return w.writeback1(in, p, block, true)
}

// writeback1 is writebackPage; with submit false the calibrated model
// leaves the page's write in the disk file's cache for the caller to
// submit with the rest of its batch (submitDisk), as writepages submits a
// range of dirty pages in a few bios rather than one per page.
func (w *Worker) writeback1(in *Inode, p int, block, submit bool) error {
	if in.calib != nil {
		return w.writebackPageCalib(in, p, block, submit)
	}
	pg := &in.pages[p]
	if block {
		w.lockPage(pg)
	} else if !w.trylockPage(pg) {
		return nil
	}
	s := pg.state.Load()
	if s&pgPresent == 0 || s&pgDirty == 0 || s&pgWriteback != 0 {
		w.unlockPage(pg)
		return nil
	}
	t := w.startTimer(KWriteback)
	defer w.stopTimer(KWriteback, t)
	in.wrprotect(pg)
	pg.state.Store(s&^pgDirty | pgWriteback)
	w.unlockPage(pg)
	// Allocation at submit (DELALLOC -> UNWRITTEN) takes the same plan as
	// completion: in rangelock, ER over the page (btrfs locks the extent
	// range of a delalloc range before it allocates). The page is under
	// writeback, so punch and reclaim leave it alone meanwhile.
	pl := w.takePlan(in, in.plans[strategies.OpWritebackEnd], uint64(p*in.pageSize), uint64((p+1)*in.pageSize))
	st := w.casExtent(in, p, extDelalloc, extUnwritten)
	w.dropPlan(in, pl)
	switch st {
	case extInline:
		pg.state.And(^uint32(pgWriteback))
		return nil
	case extHole:
		if in.oracle != nil {
			w.violation(in, "I1b", strategies.R1, p, func() string { return fmt.Sprintf("dirty page %d has no extent (HOLE)", p) })
		}
		pg.state.And(^uint32(pgWriteback))
		return nil
	}
	w.ctr.WritebackPages++
	w.at(in, spWriteback)
	if err := in.writeDisk(p); err != nil {
		pg.state.And(^uint32(pgWriteback))
		return fmt.Errorf("writeback of page %d: %w", p, err)
	}
	if in.calib != nil && submit {
		// The calibrated model's disk file is buffered: submit the page's
		// write to the device now, without waiting, as writeback submits
		// its bio (the kernel engine's flusher does the same with
		// sync_file_range); fsync and punch wait for it.
		if err := in.submitDisk(p, p+1); err != nil {
			pg.state.And(^uint32(pgWriteback))
			return fmt.Errorf("writeback of page %d: %w", p, err)
		}
	}
	w.writebackComplete(in, p)
	return nil
}

// writebackComplete is the completion of page p's writeback, after its I/O
// (the injected delay point dWritebackIO first): UNWRITTEN -> WRITTEN under
// the OpWritebackEnd plan, revalidating against the extent writeback set at
// submit, then the writeback flag cleared.
func (w *Worker) writebackComplete(in *Inode, p int) {
	in.delay.at(dWritebackIO)
	pl := w.takePlan(in, in.plans[strategies.OpWritebackEnd], uint64(p*in.pageSize), uint64((p+1)*in.pageSize))
	switch w.casExtent(in, p, extUnwritten, extWritten) {
	case extUnwritten, extWritten:
	default:
		w.ctr.WritebackStale++ // punched or converted meanwhile: do not convert
	}
	w.dropPlan(in, pl)
	in.pages[p].state.And(^uint32(pgWriteback))
}

// reclaim tries to evict page p: only a clean, unlocked, unmapped page not
// under writeback and not inline.
func (w *Worker) reclaim(in *Inode, p int) bool {
	pg := &in.pages[p]
	if !w.trylockPage(pg) {
		return false
	}
	s := pg.state.Load()
	ok := s&pgPresent != 0 && s&(pgDirty|pgWriteback) == 0 && pg.pte.Load()&pteMask == pteNone && in.extState(p) != extInline
	if ok {
		pg.state.Store(pgLocked)
		w.ctr.Evicted++
	}
	w.unlockPage(pg)
	return ok
}

// reclaimSweep is one pass of a sweeping reclaimer: it tries every page of
// the file once, as kswapd scans the LRU. Each try is timed on the sampled
// countdown, as a single reclaim is.
func (w *Worker) reclaimSweep(in *Inode, stop *atomic.Bool) {
	for p := 0; p < in.npages && !stop.Load(); p++ {
		t := w.startSampled()
		w.reclaim(in, p)
		w.stopTimer(KReclaim, t)
	}
}

// invalidate takes IO(X) and the plan of op, then drops the page cache of
// [p0, p1) and frees its extents: the common body of punch, truncate and
// re-inline. Writeback in flight is waited for without the plan's locks
// (rangelock's writeback completion needs ER), then rechecked under them.
func (w *Worker) invalidate(in *Inode, op strategies.Op, p0, p1 int, between func()) error {
	w.wlock(in.io, lkIO)
	defer w.wunlock(in.io, lkIO)
	// The calibrated model's disk file is buffered, so a punch does its
	// range's writeback for real (docs/MODEL.md, "Calibrated phases"):
	// flushRange writes the range's dirty pages back and waits, or, for a
	// punch that writes nothing back (ext4 since 6.13), waits for the
	// writeback in flight only. Before the plan's locks (holding IO
	// alone), or inside the invalidate lock where the filesystem does it
	// (strategies.PunchFlush), the extent range taken after it.
	flush := strategies.PunchFlushBefore
	if op == strategies.OpPunch {
		flush = in.punchFlush
	}
	flushed := in.calib == nil
	underPlan := flush != strategies.PunchFlushBefore
	if !flushed && !underPlan {
		// Truncate and re-inline flush the disk range only, as before this
		// writeback model: truncate_pagecache drops dirty pages unwritten.
		if err := w.flushRange(in, p0, p1, op == strategies.OpPunch, true); err != nil {
			return err
		}
		flushed = true
	}
	outer, inner := in.plans[op], strategies.Plan{}
	if underPlan {
		inner = strategies.Plan{ER: outer.ER, ERFull: outer.ERFull}
		outer.ER = strategies.Skip
	}
	r0, r1 := uint64(p0*in.pageSize), uint64(p1*in.pageSize)
	var pl, il planLocks
	for {
		for p := p0; p < p1; p++ {
			for in.pages[p].state.Load()&pgWriteback != 0 {
				yield()
			}
		}
		pl = w.takePlan(in, outer, r0, r1)
		if !flushed {
			w.at(in, spPunchFlush)
			wb := flush == strategies.PunchFlushLocked
			if err := w.flushRange(in, p0, p1, wb, wb); err != nil {
				w.dropPlan(in, pl)
				return err
			}
			flushed = true
		}
		il = w.takePlan(in, inner, r0, r1)
		if between != nil {
			between() // truncate sets i_size before dropping the page cache
			between = nil
		}
		if w.dropRange(in, p0, p1) {
			break
		}
		// Writeback started under us (the flusher takes none of the plan's
		// locks, and rangelock's completion needs ER): release, wait, retry.
		w.dropPlan(in, il)
		w.dropPlan(in, pl)
	}
	defer w.dropPlan(in, pl)
	defer w.dropPlan(in, il)
	if in.oracle != nil {
		in.oracle.reset(p0, p1)
	}
	in.delay.at(dPunchDropFree)
	if op == strategies.OpPunch {
		w.at(in, spPunch)
	}
	w.wlock(in.ix, lkIX)
	for p := p0; p < p1; p++ {
		if in.extState(p) != extHole {
			in.setExtent(p, extHole)
		}
	}
	w.wunlock(in.ix, lkIX)
	if err := in.punchDisk(p0, p1); err != nil {
		return fmt.Errorf("punching pages [%d,%d) of the disk file: %w", p0, p1, err)
	}
	in.punchEpoch.Add(1)
	if in.oracle != nil {
		w.checkInvalidated(in, p0, p1)
	}
	return nil
}

// flushRange is the calibrated model's writeback of pages [p0, p1)
// before they are dropped. With dirty and write, it is punch's
// filemap_write_and_wait_range: the range's dirty pages are written back
// (their stores reach the device before the page cache is dropped, as
// xfs's and btrfs's punch write them), submitted in one batch with the
// disk pages the flusher wrote back earlier, and waited for. With write
// alone the disk range is written and waited for and dirty pages are
// dropped unwritten (truncate). With neither it only waits for the
// writeback already in flight, as truncate_inode_pages_range waits for
// each folio under writeback (ext4's punch since 6.13).
func (w *Worker) flushRange(in *Inode, p0, p1 int, dirty, write bool) error {
	flags := unix.SYNC_FILE_RANGE_WAIT_BEFORE
	if write {
		flags |= unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	}
	if dirty {
		for p := p0; p < p1; p++ {
			if in.pages[p].state.Load()&(pgDirty|pgWriteback) == pgDirty {
				if err := w.writeback1(in, p, true, false); err != nil {
					return err
				}
			}
		}
	}
	if err := unix.SyncFileRange(in.diskFD, int64(p0)*int64(in.pageSize), int64(p1-p0)*int64(in.pageSize), flags); err != nil {
		return fmt.Errorf("writing back pages [%d,%d) of the disk file: %w", p0, p1, err)
	}
	return nil
}

// dropRange unmaps [p0, p1) and drops each page under its lock, unmapping
// again (the page may have been mapped since). It returns false, leaving the
// rest cached, when it meets a page under writeback.
func (w *Worker) dropRange(in *Inode, p0, p1 int) bool {
	for p := p0; p < p1; p++ {
		in.zapPTE(&in.pages[p])
	}
	for p := p0; p < p1; p++ {
		pg := &in.pages[p]
		w.lockPage(pg)
		if pg.state.Load()&pgWriteback != 0 {
			w.unlockPage(pg)
			return false
		}
		in.zapPTE(pg)
		pg.state.Store(pgLocked)
		w.unlockPage(pg)
	}
	return true
}

// checkInvalidated is I2, checked while punch still holds its locks: no cached
// page in the range holds data and no PTE maps a dropped page.
func (w *Worker) checkInvalidated(in *Inode, p0, p1 int) {
	for p := p0; p < p1; p++ {
		pg := &in.pages[p]
		s := pg.state.Load()
		if s&pgPresent == 0 {
			if pg.pte.Load()&pteMask != pteNone {
				w.violation(in, "I2", strategies.R2, p, func() string { return fmt.Sprintf("page %d was punched but a PTE still maps it (fault-around)", p) })
			}
			continue
		}
		for r := 0; r < in.regions; r++ {
			if st := in.loadStamp(p, r); st != 0 && s&pgUptodate != 0 {
				w.violation(in, "I2", strategies.R2, p, func() string {
					return fmt.Sprintf("page %d cached after punch holds pre-punch data %s", p, stampString(st))
				})
				break
			}
		}
	}
}

// punch punches pages [p0, p0+n).
func (w *Worker) punch(in *Inode, p0, n int) error {
	t := w.startTimer(KPunch)
	defer w.stopTimer(KPunch, t)
	if in.calib != nil {
		in.calib.busy.punch.Add(1)
		defer in.calib.busy.punch.Add(-1)
	}
	return w.invalidate(in, strategies.OpPunch, p0, min(p0+n, in.npages), nil)
}

// truncate shrinks the file to newSize pages and extends it back to its full
// size (the extension leaves holes), with real ftruncate calls on the disk file.
func (w *Worker) truncate(in *Inode, newSize int) error {
	t := w.startTimer(KTruncate)
	defer w.stopTimer(KTruncate, t)
	err := w.invalidate(in, strategies.OpTruncate, newSize, in.npages, func() {
		in.size.Store(int64(newSize))
	})
	if err != nil {
		return err
	}
	full := int64(in.npages) * int64(in.pageSize)
	if err := unix.Ftruncate(in.diskFD, int64(newSize)*int64(in.pageSize)); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	if err := unix.Ftruncate(in.diskFD, full); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	w.wlock(in.io, lkIO)
	in.size.Store(int64(in.npages))
	w.wunlock(in.io, lkIO)
	return nil
}

// reinline makes the first n blocks INLINE again (ext4 would need a truncate
// to zero and a new small file; the model does it in place to repeat the R4
// window).
func (w *Worker) reinline(in *Inode, n int) error {
	t := w.startTimer(KInline)
	defer w.stopTimer(KInline, t)
	return w.invalidate(in, strategies.OpTruncate, 0, n, func() {})
}

func (w *Worker) finishReinline(in *Inode, n int) {
	w.wlock(in.io, lkIO)
	w.wlock(in.ix, lkIX)
	for b := 0; b < n; b++ {
		if in.extState(b) == extHole && in.pages[b].state.Load()&pgPresent == 0 {
			clear(in.pageBytes(b))
			in.setExtent(b, extInline)
		}
	}
	in.inlineGen.Add(1)
	w.wunlock(in.ix, lkIX)
	w.wunlock(in.io, lkIO)
}

// submitDisk submits the disk file's dirty pages [p0, p1) (p1 <= 0: to
// the end) to the device without waiting (sync_file_range WRITE), as
// writeback submits its bios: the calibrated model's disk file is buffered.
func (in *Inode) submitDisk(p0, p1 int) error {
	n := int64(0)
	if p1 > 0 {
		n = int64(p1-p0) * int64(in.pageSize)
	}
	return unix.SyncFileRange(in.diskFD, int64(p0)*int64(in.pageSize), n, unix.SYNC_FILE_RANGE_WRITE)
}
