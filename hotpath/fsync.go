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
// unless the layout changes under the logging, which is R5. The strategy's OpFsyncLog
// plan is taken for the whole fsync, except ER, which covers the logging
// phase only (writeback completion takes ER in rangelock): not the
// writeback and wait before it, nor the fdatasync after it.
func (w *Worker) fsync(in *Inode, log *[]logRecord) error {
	t := w.startTimer(KFsync)
	defer w.stopTimer(KFsync, t)
	plan := in.plans[strategies.OpFsyncLog]
	outer := plan
	outer.ER = strategies.Skip
	pl := w.takePlan(in, outer, 0, 0)
	defer w.dropPlan(in, pl)
	// fsync "starts" once it holds IO: no punch or truncate can run from
	// here to the end of the check.
	var snap *fsyncSnap
	if in.oracle != nil {
		snap = in.oracle.fsyncStart(w, in)
	}
	// Write back every page dirty now, waiting first for writeback in
	// flight (a page redirtied while under writeback must be written again).
	for p := 0; p < in.npages; p++ {
		pg := &in.pages[p]
		for pg.state.Load()&(pgDirty|pgWriteback) != 0 {
			if pg.state.Load()&pgWriteback != 0 {
				yield()
				continue
			}
			if err := w.writebackPage(in, p, true); err != nil {
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
	inner := strategies.Plan{ER: plan.ER, ERFull: plan.ERFull}
	il := w.takePlan(in, inner, 0, uint64(in.npages*in.pageSize))
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
	// The logging phase ends here, and ER with it (docs/MODEL.md: ER(X)
	// over the whole file for the logging phase); the fdatasync after it
	// runs under the outer plan's IO and MK only.
	w.dropPlan(in, il)
	err := unix.Fdatasync(in.diskFD)
	if err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	in.fsyncs.Add(1)
	if snap != nil {
		in.oracle.fsyncEnd(w, in, snap, *log)
	}
	return nil
}
