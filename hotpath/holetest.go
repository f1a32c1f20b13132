package hotpath

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"lockbench/hotpath/clock"
	"lockbench/strategies"
)

// HoleKind is how the holetest file starts (fstests generic/344 and 346).
type HoleKind uint8

const (
	// HoleZeroed is a file zeroed through the mapping (DELALLOC, written back).
	HoleZeroed HoleKind = iota
	// HoleFallocated is a fallocated file: every block UNWRITTEN.
	HoleFallocated
	// HoleTruncated is a file truncated up: every block a HOLE.
	HoleTruncated
)

// HoleKindNames lists the kinds by name, indexed by HoleKind (verify's
// cell details name the kind from it).
var HoleKindNames = []string{"zeroed", "fallocated", "truncated"}

// HoleConfig is one holetest run.
type HoleConfig struct {
	Strategy strategies.Strategy
	Dir      string
	Size     int64
	Kind     HoleKind
	PreRead  bool    // 344 -r: read one byte of every page first
	PWrite   bool    // -w: the second thread writes with pwrite() instead of stores
	FailRate float64 // short-copy rate of the pwrite thread (a fault on its buffer)
	Seed     uint64
	Delay    *DelayConfig
}

// HoleResult is what holetest found.
type HoleResult struct {
	Pages   int
	Missing int // pages that lack one of the two ids
	First   int // first such page, -1 if none
	Detail  string
	// ShortWrites and CleanupPunched count the write thread's failures
	// and the blocks its cleanups punched.
	ShortWrites, CleanupPunched int64
}

// HoleTest mirrors fstests generic/344 and 346: two workers each store an
// 8-byte id at their own offset in every page (1/4 and 3/4 of the page),
// one optionally through write() instead; a flusher writes back meanwhile;
// after they join, every page must hold both ids. Failed writes are retried
// until the page is written, as a test program retries a short pwrite().
func HoleTest(ctx context.Context, cfg HoleConfig) (res HoleResult, err error) {
	// Every goroutine that touches the mapping runs under Protect
	// (guard.go): a fault is this call's error, not the process's end.
	err = protected("holetest", func() error {
		var herr error
		res, herr = holeTest(ctx, cfg)
		return herr
	})
	return res, err
}

func holeTest(ctx context.Context, cfg HoleConfig) (HoleResult, error) {
	const regions = 4 // region 1 starts at 1/4 of the page, region 3 at 3/4
	in, err := Open(InodeConfig{Dir: cfg.Dir, FileSize: cfg.Size, PageSize: 4096, Slots: 3, Strategy: cfg.Strategy, Regions: regions, Delay: cfg.Delay, Direct: true})
	if err != nil {
		return HoleResult{}, err
	}
	defer in.Close()
	clk, err := clock.New(clock.Auto)
	if err != nil {
		return HoleResult{}, err
	}
	mk := func(id int, role Role, data int) *Worker {
		w := newWorker(id, id, role, cfg.Seed, maxChunk)
		w.clk, w.untimed = clk, true
		w.setData(data)
		w.win = newSeries(clk, clk.Now(), time.Second)
		return w
	}
	a, b, fl := mk(0, RoleFaulter, 1), mk(1, RoleWriter, 3), mk(2, RoleFlusher, -1)
	if cfg.PWrite {
		b.Role = RoleWriter
	} else {
		b.Role = RoleFaulter
	}
	n := in.npages
	if err := holePrepare(in, a, fl, cfg); err != nil {
		return HoleResult{}, err
	}
	if err := holeThreads(ctx, in, a, b, fl, cfg); err != nil {
		return HoleResult{}, err
	}
	return holeReadBack(in, b, n)
}

// holeThreads runs the two threads and the flusher over the file.
func holeThreads(ctx context.Context, in *Inode, a, b, fl *Worker, cfg HoleConfig) (err error) {
	n := in.npages
	// The two threads walk the file in step, as holetest's two threads do
	// when they run at the same speed: a stores into page p once b has
	// started page p. (Unpaced, the store thread races far ahead of the
	// write thread and the two never meet on a page.)
	var stop atomic.Bool
	var bAt atomic.Int64
	bAt.Store(-1)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return protected("holetest store thread", func() error {
			for p := 0; p < n && gctx.Err() == nil; p++ {
				for bAt.Load() < int64(p) && gctx.Err() == nil {
					yield()
				}
				if err := a.store(in, p, false); err != nil {
					return err
				}
			}
			return nil
		})
	})
	g.Go(func() error {
		return protected("holetest second thread", func() error { return holeSecond(in, b, cfg, n, gctx, &bAt) })
	})
	flDone := make(chan error, 1)
	go func() {
		flDone <- protected("holetest flusher", func() error {
			for !stop.Load() {
				for p := 0; p < n && !stop.Load(); p++ {
					if in.pages[p].state.Load()&pgDirty != 0 {
						if err := fl.writebackPage(in, p, false); err != nil {
							return err
						}
					}
				}
				yield()
			}
			return nil
		})
	}()
	err = g.Wait()
	stop.Store(true)
	var fe *FaultError
	if errors.As(err, &fe) {
		// The faulted thread's locks stay held; the flusher may be stuck
		// behind them. Give it a moment, then return the fault.
		select {
		case <-flDone:
		case <-time.After(5 * time.Second):
		}
		return err
	}
	if ferr := <-flDone; err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// holePrepare makes the file of cfg.Kind and, with cfg.PreRead, reads
// one byte of every page first (fstests 344 -r).
func holePrepare(in *Inode, a, fl *Worker, cfg HoleConfig) error {
	n := in.npages
	switch cfg.Kind {
	case HoleZeroed:
		for p := 0; p < n; p++ {
			if err := a.store(in, p, false); err != nil {
				return err
			}
			in.putStamp(p, 1, 0)
		}
		for p := 0; p < n; p++ {
			if err := fl.writebackPage(in, p, true); err != nil {
				return err
			}
		}
	case HoleFallocated:
		for p := 0; p < n; p++ {
			in.ext[p].Store(extUnwritten)
		}
	}
	if cfg.PreRead {
		for p := 0; p < n; p++ {
			if _, err := a.load(in, p, true, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// holeSecond is the second thread: it stores, or pwrite()s until the
// write is not short, into every page in step.
func holeSecond(in *Inode, b *Worker, cfg HoleConfig, n int, gctx context.Context, bAt *atomic.Int64) error {
	defer bAt.Store(int64(n))
	for p := 0; p < n && gctx.Err() == nil; p++ {
		bAt.Store(int64(p))
		if !cfg.PWrite {
			if err := b.store(in, p, false); err != nil {
				return err
			}
			continue
		}
		for {
			before := b.ctr.ShortWrites
			if err := b.write(in, p, 1, cfg.FailRate); err != nil {
				return err
			}
			if b.ctr.ShortWrites == before {
				break
			}
		}
	}
	return nil
}

// holeReadBack reads every page back: both ids must be there.
func holeReadBack(in *Inode, b *Worker, n int) (HoleResult, error) {
	res := HoleResult{Pages: n, First: -1, ShortWrites: b.ctr.ShortWrites, CleanupPunched: b.ctr.CleanupPunched}
	for p := 0; p < n; p++ {
		var ida, idb uint64
		s := in.pages[p].state.Load()
		switch {
		case s&(pgPresent|pgUptodate) == pgPresent|pgUptodate:
			ida, idb = in.loadStamp(p, 1), in.loadStamp(p, 3)
		case in.extState(p) == extWritten:
			if err := in.readDisk(p); err != nil {
				return res, err
			}
			ida, idb = in.loadStamp(p, 1), in.loadStamp(p, 3)
		}
		oa, _ := stampOwner(ida)
		ob, _ := stampOwner(idb)
		if ida == 0 || idb == 0 || oa != 1 || ob != 3 {
			res.Missing++
			if res.First < 0 {
				res.First = p
				res.Detail = fmt.Sprintf("page %d holds %s at 1/4 and %s at 3/4", p, stampString(ida), stampString(idb))
			}
		}
	}
	return res, nil
}
