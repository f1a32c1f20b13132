package hotpath

import (
	"fmt"
	"sync/atomic"
	"time"

	"lockbench/results"
)

// An engine is what a run's workers drive: the model inode (modelEngine,
// engine_model.go) or the real kernel's file (kernelEngine, kernel.go). The
// runner's stages (workers, start barrier, pinning, stop conditions,
// watchdog, merge) are the same for both, and so are the role loops below,
// so a kernel cell and a model cell of one scenario line up row by row and
// draw the same random stream.
//
// engine is the run-level half, called once per worker and once per run.
// Each engine hands its workers a value of its own engineOps type (modelOps,
// kernelOps), the per-operation half, and runs the shared loops over it.
type engine interface {
	// foreground runs a faulter, writer or reader until stop or budget:
	// foregroundLoop over the engine's engineOps.
	foreground(w *Worker, spec RoleSpec, budget int64, stop *atomic.Bool) error
	// background runs a paced role until stop: backgroundLoop.
	background(w *Worker, spec RoleSpec, stop *atomic.Bool) error
	// finish runs after every worker joined: end-of-run checks into rep.
	finish(rep *results.Rep) error
	// close releases the engine and removes its files.
	close() error
	// abandon removes the files but keeps mappings that blocked workers
	// may still touch (a deadlocked run).
	abandon()
}

// engineOps is one operation of each role on one engine, for one worker: what
// the shared loops (foregroundLoop, backgroundLoop) call. Each method does
// the whole operation, its timing included (the model samples stores,
// loads and reclaims; the kernel times every operation), and returns only
// an error that ends the run. A new role is one branch in a loop and one
// method here per engine.
//
// The loops are generic over the engineOps type, whose two implementations
// are values of different shapes, so each engine's loop is compiled on its
// own. Go calls a type parameter's methods through the instantiation's
// dictionary, an indirect call that is never inlined (PGO does not
// devirtualise it either). So a method the loop calls per operation does
// that operation's common case itself, calling nothing further: the
// model's store and load (modelOps.store, modelOps.load) hold their timing
// and their path through a mapped PTE, and call out only to fault. Each
// foreground operation is then one call from the loop, as when each engine
// had its own loop (BenchmarkLoop, docs/MEASUREMENTS.md, issue 21). The
// engineOps values are one or two pointers, since every call passes the
// value in registers.
type engineOps interface {
	// pages is the file's size in pages.
	pages() int
	// tick runs at each progress tick of a foreground loop.
	tick(w *Worker)

	// Faulters.
	store(w *Worker, p int) error // a store of the worker's stamp through the mapping
	load(w *Worker, p int) error  // a load through the mapping
	zap(w *Worker, p int) error   // madvise(MADV_DONTNEED) of page p's mapping
	// Writers and readers: n pages from p0.
	write(w *Worker, p0, n int, failRate float64) error
	read(w *Worker, p0, n int) error

	// Background roles.
	fsync(w *Worker) error
	punch(w *Worker, p0, n int) error
	truncate(w *Worker, size int) error           // cut to size pages, grow back
	writeback(w *Worker, stop *atomic.Bool) error // one flusher pass over the file
	reclaim(w *Worker) error                      // one page, drawn by the engine
	reclaimSweep(w *Worker, stop *atomic.Bool) error
	reinline(w *Worker, blocks int) error
}

var (
	_ engineOps = modelOps{&modelState{}}
	_ engineOps = kernelOps{}
	_ engine    = (*modelEngine)(nil)
	_ engine    = (*kernelEngine)(nil)
)

// foregroundLoop runs a faulter, writer or reader from w.opIndex until stop
// or its op budget (a kernel worker resumes here after a SIGBUS).
func foregroundLoop[E engineOps](e E, w *Worker, sc *Scenario, threads int, budget int64, stop *atomic.Bool) error {
	npages := e.pages()
	span, base := sc.span(threads, npages, w.data)
	np := max(sc.WritePages, 1)
	for i := w.opIndex; budget == 0 || i < budget; i++ {
		if i%progressEvery == 0 {
			if stop.Load() {
				return nil
			}
			w.prog.Store(i)
			w.win.tick(&w.ops, w.clk.Now())
			e.tick(w)
		}
		w.opIndex = i
		p := base + w.pick(sc.Pattern, span)
		var err error
		switch w.Role {
		case RoleFaulter:
			x := w.rng.Float64()
			switch {
			case x < sc.Stores:
				err = e.store(w, p)
			case x < sc.Stores+sc.Loads:
				err = e.load(w, p)
			default:
				err = e.zap(w, p)
			}
		case RoleWriter:
			err = e.write(w, min(p, npages-np), np, sc.WriteFailRate)
		case RoleReader:
			err = e.read(w, min(p, npages-np), np)
		}
		if err != nil {
			return err
		}
	}
	w.prog.Add(1)
	return nil
}

// backgroundLoop runs an fsync thread, puncher, truncater, flusher,
// reclaimer or inliner from w.opIndex until stop, paced by spec.
func backgroundLoop[E engineOps](e E, w *Worker, sc *Scenario, spec RoleSpec, stop *atomic.Bool) error {
	npages := e.pages()
	if w.next.IsZero() {
		w.next = time.Now()
	}
	for i := w.opIndex; !stop.Load(); i++ {
		w.opIndex = i
		w.prog.Store(i)
		var err error
		switch w.Role {
		case RoleFsync:
			err = e.fsync(w)
		case RolePuncher:
			n := max(sc.PunchPages, 1)
			err = e.punch(w, w.intn(max(npages-n, 1)), n)
		case RoleTruncater:
			err = e.truncate(w, npages/2+w.intn(npages/2))
		case RoleFlusher:
			err = e.writeback(w, stop)
		case RoleReclaimer:
			if spec.Sweep {
				err = e.reclaimSweep(w, stop)
			} else {
				err = e.reclaim(w)
			}
		case RoleInliner:
			err = e.reinline(w, sc.InlineBlocks)
		default:
			err = fmt.Errorf("role %s is not a background role", w.Role)
		}
		if err != nil {
			return err
		}
		w.win.tick(&w.ops, w.clk.Now())
		w.pace(spec, &w.next)
	}
	return nil
}
