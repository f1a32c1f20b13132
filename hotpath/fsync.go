package hotpath

import (
	"fmt"

	"golang.org/x/sys/unix"

	"lockbench/strategies"
)

// logRecord is one extent item in the fsync log: blocks [Start, Start+Len)
// in State.
type logRecord struct {
	Start, Len int
	State      uint32
}

// fsyncLeaf is how many blocks fsync copies per extent-tree leaf; IX is
// released between leaves as btrfs releases the path between leaves.
const fsyncLeaf = 32

// fsync writes back every dirty page, waits for writeback, and logs the
// extent layout (btrfs's tree log): first the unmodified items leaf by leaf,
// then the blocks modified since the last fsync. Each block is logged once
// unless the layout changes under the logging, which is R5.
//
// Spans (docs/MODEL.md, "Lock spans"): the OpFsyncLog plan's IO and MK are
// taken before the wait for writeback and released after the logging,
// before the log commit (btrfs_sync_file: a first start_ordered_ops with no
// lock, then btrfs_inode_lock(BTRFS_ILOCK_MMAP), a second start_ordered_ops
// for pages dirtied since, the wait, the logging, btrfs_inode_unlock before
// btrfs_sync_log). The calibrated model submits the first pass unlocked. ER covers
// the logging phase only, after the wait for writeback (ordered-extent
// completion takes the range lock, so holding it across the wait would
// deadlock). The log commit, the model's fdatasync, runs with no lock.
func (w *Worker) fsync(in *Inode, log *[]logRecord) error {
	t := w.startTimer(KFsync)
	defer w.stopTimer(KFsync, t)
	if in.calib != nil {
		in.calib.busy.fsync.Add(1)
		defer in.calib.busy.fsync.Add(-1)
	}
	if in.calib != nil {
		// btrfs_sync_file's first start_ordered_ops runs before it takes
		// btrfs_inode_lock(BTRFS_ILOCK_MMAP): every page dirty now is
		// submitted for writeback with no inode lock held. The calibrated
		// model splits a page's writeback into submission (writebackPage's
		// sync_file_range WRITE) and the wait (below, inside the locks), so
		// it can do the same; the uncalibrated model's writeback completes
		// in one call, and moving it out would take the I/O wait out of
		// the span too, so it keeps its writeback inside.
		w.at(in, spFsyncStartOps)
		for p := 0; p < in.npages; p++ {
			if in.pages[p].state.Load()&(pgDirty|pgWriteback) == pgDirty {
				if err := w.writeback1(in, p, true, false); err != nil {
					return err
				}
			}
		}
		// One submission for the whole pass, as writepages submits the
		// file's dirty range in a few bios, not a bio per page.
		if err := in.submitDisk(0, 0); err != nil {
			return fmt.Errorf("fsync: submitting the disk file: %w", err)
		}
	}
	plan := in.plans[strategies.OpFsyncLog]
	outer := plan
	outer.ER = strategies.Skip
	pl := w.takePlan(in, outer, 0, 0)
	locked := true
	defer func() {
		if locked {
			w.dropPlan(in, pl)
		}
	}()
	// fsync "starts" once it holds IO: no punch or truncate can run from
	// here to the end of the check.
	var snap *fsyncSnap
	if in.oracle != nil {
		snap = in.oracle.fsyncStart(w, in)
	}
	w.at(in, spFsyncWriteback)
	// Write back every page dirty now (calibrated: those dirtied since the
	// first pass, as btrfs's second start_ordered_ops under the lock),
	// waiting first for writeback in flight (a page redirtied while under
	// writeback must be written again).
	for p := 0; p < in.npages; p++ {
		pg := &in.pages[p]
		for pg.state.Load()&(pgDirty|pgWriteback) != 0 {
			if pg.state.Load()&pgWriteback != 0 {
				yield()
				continue
			}
			// The calibrated model submits the pass in one batch below
			// (the sync_file_range that waits).
			if err := w.writeback1(in, p, true, false); err != nil {
				return err
			}
			break
		}
	}
	for p := 0; p < in.npages; p++ {
		for in.pages[p].state.Load()&pgWriteback != 0 {
			yield()
		}
	}
	if in.calib != nil {
		// The calibrated model's disk file is buffered: its writeback
		// copies pages into the disk file's cache, and here, as
		// btrfs_sync_file's start_ordered_ops and wait, fsync writes them to
		// the device and waits, all pages in one batch, inside its locks.
		const all = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
		if err := unix.SyncFileRange(in.diskFD, 0, 0, all); err != nil {
			return fmt.Errorf("fsync: writing back the disk file: %w", err)
		}
	}
	inner := strategies.Plan{ER: plan.ER, ERFull: plan.ERFull}
	il := w.takePlan(in, inner, 0, uint64(in.npages*in.pageSize))
	w.at(in, spFsyncLog)
	*log = (*log)[:0]
	for b0 := 0; b0 < in.npages; b0 += fsyncLeaf {
		w.rlock(in.ix, lkIX)
		for b := b0; b < min(b0+fsyncLeaf, in.npages); b++ {
			v := in.ext[b].Load()
			if v&extModified != 0 {
				continue // logged from the modified list below
			}
			st := v & extStateMask
			if n := len(*log); n > 0 && (*log)[n-1].State == st && (*log)[n-1].Start+(*log)[n-1].Len == b {
				(*log)[n-1].Len++
			} else {
				*log = append(*log, logRecord{Start: b, Len: 1, State: st})
			}
		}
		w.runlock(in.ix, lkIX)
		in.delay.at(dFsyncLeaf)
	}
	// The modified list: blocks changed since the last fsync, logged as
	// their own items (btrfs logs new extents from the modified list).
	w.wlock(in.ix, lkIX)
	for b := 0; b < in.npages; b++ {
		v := in.ext[b].Load()
		if v&extModified != 0 {
			in.ext[b].Store(v &^ extModified)
			*log = append(*log, logRecord{Start: b, Len: 1, State: v & extStateMask})
		}
	}
	w.wunlock(in.ix, lkIX)
	w.ctr.FsyncLogged += int64(len(*log))
	// The log is complete: I5 is checked on it while IO still keeps punch
	// and truncate out (the commit below writes it, but changes nothing the
	// check reads).
	if snap != nil {
		in.oracle.fsyncEnd(w, in, snap, *log)
	}
	// The logging phase ends here, and every lock with it: ER (its span is
	// the logging phase) and IO and MK (btrfs releases them before
	// btrfs_sync_log). The commit runs unlocked.
	w.dropPlan(in, il)
	w.dropPlan(in, pl)
	locked = false
	w.at(in, spFsyncCommit)
	if err := unix.Fdatasync(in.diskFD); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	in.fsyncs.Add(1)
	return nil
}
