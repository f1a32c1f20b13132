package hotpath

import (
	"fmt"
	"sync/atomic"

	"lockbench/hotpath/clock"
	"lockbench/results"
)

// modelEngine drives the model inode.
type modelEngine struct {
	in  *Inode
	cfg *Config
	gup float64
}

// ops is the model's engineOps for worker w's role.
func (m *modelEngine) ops(w *Worker) modelOps {
	sc := &m.cfg.Scenario
	o := modelOps{&modelState{in: m.in, gup: m.gup, faultAround: sc.FaultAround, naive: sc.NaiveFaultAround && m.in.naiveOK}}
	if w.Role == RoleFsync {
		log := make([]logRecord, 0, m.in.npages*2)
		o.log = &log
	}
	return o
}

func (m *modelEngine) foreground(w *Worker, spec RoleSpec, budget int64, stop *atomic.Bool) error {
	return foregroundLoop(m.ops(w), w, &m.cfg.Scenario, m.cfg.Threads, budget, stop)
}

func (m *modelEngine) background(w *Worker, spec RoleSpec, stop *atomic.Bool) error {
	return backgroundLoop(m.ops(w), w, &m.cfg.Scenario, spec, stop)
}

func (m *modelEngine) finish(rep *results.Rep) error {
	rep.LockTrace = &results.LockTrace{Source: results.LockSourceModel, Full: m.cfg.LockStats}
	m.in.overlapOps(rep) // the calibrated model's <op>@fsync, @punch (calib.go)
	if m.cfg.Oracle {
		var fin []results.Violation
		if err := protected("oracle", func() error {
			fin = m.in.oracle.final(m.in, lostRace(m.cfg.Scenario.Race))
			return nil
		}); err != nil {
			return err
		}
		rep.Violations = append(rep.Violations, fin...)
		rep.ViolationsTotal += int64(len(fin))
	}
	return nil
}

func (m *modelEngine) close() error { return m.in.Close() }
func (m *modelEngine) abandon()     { m.in.removeFiles() }

// modelOps is the model's engineOps: each role's operation on the model
// inode (ops.go, fileops.go, fsync.go), timed as the model times it. It is
// one pointer: the shared loops pass it to every operation, and a value of
// several words would be reloaded into as many registers for each call.
type modelOps struct{ *modelState }

// modelState is what a worker's model operations read.
type modelState struct {
	in                 *Inode
	gup                float64      // share of stores made by get_user_pages
	faultAround, naive bool         // the scenario's read fault-around
	log                *[]logRecord // the fsync thread's tree log
	bare               bool         // Worker.store's: no timing, no count
}

func (o modelOps) pages() int   { return o.in.npages }
func (o modelOps) tick(*Worker) {}

// store writes the worker's stamp into its region of page p through the
// mapping, faulting as the MMU would when the PTE is not rw (storeFault),
// timed on the sampled countdown; a share gup of the stores are
// get_user_pages stores (no VM_FAULT_RETRY). Bare (Worker.store): no
// timing, no count, and gup is 1 (every store) or 0.
//
// This is the model's one store, and it is written out here rather than
// called: the shared loop calls it through the loop's dictionary, and a
// store through an rw PTE (most of them) makes no further call, as it made
// one call from the loop before the engines shared it (BenchmarkLoop,
// docs/MEASUREMENTS.md, issue 21). The loop's back edge is taken only
// after a write fault.
func (o modelOps) store(w *Worker, p int) error {
	t, g := clock.Ticks(-1), o.gup > 0
	if !o.bare {
		t = w.startSampled()
		if g {
			// The draw stays after startSampled's (the same random stream
			// as before) but out of the timed store: the clock restarts
			// after it.
			if g = w.chance(o.gup); t >= 0 {
				t = w.clk.Now()
			}
		}
	}
	w.chain = 0
	var err error
	for {
		in := o.in
		pg := &in.pages[p]
		// pteStore counts the stores in flight, which zap and wrprotect
		// wait for.
		if pg.pte.Add(pteStore)&pteMask == pteRW {
			r, s := w.region(in.regions), w.stamp()
			in.putStamp(p, r, s)
			if in.oracle != nil {
				in.oracle.stored(p, r, s)
			}
			pg.pte.Add(^uint32(pteStore - 1))
			break
		}
		pg.pte.Add(^uint32(pteStore - 1))
		again, e := w.storeFault(in, p, g)
		if !again {
			err = e
			break
		}
	}
	if !o.bare {
		w.stopTimer(KStore, t)
	}
	return err
}

// load is a load through the mapping timed on the sampled countdown: the
// load through a present PTE inlined (loadMapped), the read fault called.
func (o modelOps) load(w *Worker, p int) error {
	t := w.startSampled()
	var err error
	if _, ok := w.loadMapped(o.in, p); !ok {
		_, err = w.loadFault(o.in, p, o.faultAround, o.naive)
	}
	w.stopTimer(KLoad, t)
	return err
}

func (o modelOps) zap(w *Worker, p int) error { w.zap(o.in, p); return nil }

func (o modelOps) write(w *Worker, p0, n int, failRate float64) error {
	return w.write(o.in, p0, n, failRate)
}

func (o modelOps) read(w *Worker, p0, n int) error {
	_, err := w.read(o.in, p0, n)
	return err
}

func (o modelOps) fsync(w *Worker) error              { return w.fsync(o.in, o.log) }
func (o modelOps) punch(w *Worker, p0, n int) error   { return w.punch(o.in, p0, n) }
func (o modelOps) truncate(w *Worker, size int) error { return w.truncate(o.in, size) }

// writeback is one flusher pass: every dirty page written back, each
// page's lock only tried.
func (o modelOps) writeback(w *Worker, stop *atomic.Bool) error {
	in := o.in
	wrote := false
	for p := 0; p < in.npages && !stop.Load(); p++ {
		if in.pages[p].state.Load()&pgDirty != 0 {
			if err := w.writeback1(in, p, false, false); err != nil {
				return err
			}
			wrote = true
		}
	}
	// The calibrated model submits the pass's pages to the device in one
	// batch, as the flusher's writepages does (and the kernel engine's
	// flusher, one sync_file_range over the file).
	if wrote && in.calib != nil {
		if err := in.submitDisk(0, 0); err != nil {
			return fmt.Errorf("writeback: submitting the disk file: %w", err)
		}
	}
	return nil
}

func (o modelOps) reclaim(w *Worker) error {
	t := w.startSampled()
	w.reclaim(o.in, w.intn(o.in.npages))
	w.stopTimer(KReclaim, t)
	return nil
}

func (o modelOps) reclaimSweep(w *Worker, stop *atomic.Bool) error {
	w.reclaimSweep(o.in, stop)
	return nil
}

func (o modelOps) reinline(w *Worker, blocks int) error {
	if err := w.reinline(o.in, blocks); err != nil {
		return err
	}
	w.finishReinline(o.in, blocks)
	return nil
}
