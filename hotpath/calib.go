package hotpath

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"lockbench/hotpath/clock"
	"lockbench/results"
	"lockbench/strategies"
)

// The calibrated model (docs/MODEL.md, "Spans and calibrated phases"): at
// each phase below the model either does the same real I/O as the kernel
// (writeback and page fills through the O_DIRECT disk file, the log commit
// as a real fdatasync, punch as a real fallocate) or, where it cannot
// (page_mkwrite's reservation and journal work, btrfs's log-tree copy),
// spends a duration drawn with the worker's seeded generator from the
// distribution measured on the real filesystem, inside the locks the
// kernel holds for that work.

// Calibrated phase names, as results.PhaseDist.Phase carries them.
const (
	PhaseWriteFault = "write-fault"     // a real write fault (store to a write-protected page)
	PhaseReadFault  = "read-fault"      // a real read fault filling an evicted page
	PhaseWriteback  = "writeback"       // one dirty page written back and waited for
	PhaseFill       = "page-fill"       // read() of an evicted page from the device
	PhaseLogCommit  = "log-commit"      // fdatasync with only metadata dirty
	PhaseFsync      = "fsync"           // fdatasync with one dirty page
	PhaseFsyncLog   = "fsync-log"       // fsync minus its writeback and its log commit (per sample)
	PhaseExclusive  = "fsync-exclusive" // fsync's exclusive span (btrfs i_mmap_lock), where it has one
	PhasePunch      = "punch"           // fallocate PUNCH_HOLE of 16 written pages
)

// PhaseNames lists the calibrated phases in the order outputs show them.
func PhaseNames() []string {
	return []string{PhaseWriteFault, PhaseReadFault, PhaseWriteback, PhaseFill, PhaseLogCommit, PhaseFsync, PhaseFsyncLog, PhaseExclusive, PhasePunch}
}

// spanPoint is a place in the hot path where a phase of the kernel's work
// runs: tests observe the locks held there (Inode.spanHook), and a
// calibrated inode spends the phase's drawn cost there.
type spanPoint uint8

const (
	spWriteFault     spanPoint = iota // page_mkwrite's work, under the plan, F held
	spFill                            // a page fill's read, under the fill plan, F held
	spWriteback                       // writeback's I/O, under the writeback flag only
	spFsyncWriteback                  // fsync: start of its writeback, under the outer plan
	spFsyncLog                        // fsync: the logging phase, under the outer plan and ER
	spFsyncCommit                     // fsync: the log commit, after every lock is released
	spPunch                           // punch: freeing the blocks, under IO(X) and the plan
	spFsyncStartOps                   // fsync (calibrated): the first start_ordered_ops, no lock
	spPunchFlush                      // punch (calibrated, xfs and btrfs schemes): the range's writeback under the plan
	spStableWait                      // write fault (calibrated, btrfs): waiting for the page's real write, under the plan and F
	numSpanPoints
)

var spanNames = [numSpanPoints]string{"write-fault", "fill", "writeback", "fsync-writeback", "fsync-log", "fsync-commit", "punch", "fsync-start-ops", "punch-flush", "stable-wait"}

func (s spanPoint) String() string { return spanNames[s] }

// spendPhase is the calibrated phase spent at each span point ("" where
// the model does the real I/O itself).
var spendPhase = [numSpanPoints]string{spWriteFault: PhaseWriteFault, spFill: PhaseFill, spFsyncLog: PhaseFsyncLog}

// calibState is an inode's calibration: per span point, the samples to
// draw from (nil: nothing spent).
type calibState struct {
	draw [numSpanPoints][]int64
	// stable: the target's filesystem keeps a page stable while it is
	// written (btrfs, for its data checksums): writeback marks the page
	// pgDiskIO and a write fault waits for the real write (waitStable).
	stable bool
	busy   calibBusy
	ovl    []overlap // per worker slot
}

// pgDiskIO marks a page whose write to the disk file the calibrated model
// submitted and no write fault has waited for since (btrfs targets only);
// the other page state bits are in inode.go. Dropping the page clears it,
// as a new page of the kernel's is not under writeback.
const pgDiskIO = 1 << 5

// newCalibState checks c and keeps the samples the model spends.
func newCalibState(c *results.Calibration, slots int) (*calibState, error) {
	cs := &calibState{ovl: make([]overlap, slots), stable: c.FS == "btrfs"}
	for sp, name := range spendPhase {
		if name == "" {
			continue
		}
		d := c.Phase(name)
		if d == nil {
			return nil, fmt.Errorf("calibration of %s has no phase %s", c.Target, name)
		}
		for _, v := range d.Samples {
			if v < 0 {
				return nil, fmt.Errorf("calibration of %s: phase %s has a negative sample %d", c.Target, name, v)
			}
		}
		if !d.Absent && len(d.Samples) > 0 {
			cs.draw[sp] = d.Samples
		}
	}
	// Where fsync has no exclusive span (ext4, xfs), its work is the
	// writeback and the log commit (ext4_sync_file: file_write_and_wait_range,
	// then the jbd2 commit; xfs_file_fsync: the same, then xfs_log_force_seq),
	// and the model does both for real (sync_file_range and fdatasync on
	// its disk file). The fsync-log samples there are fsync less a
	// writeback and a commit measured apart, floored at 0: their median is
	// 0 and their tail is the noise of three separate measurements, not a
	// phase, so nothing is spent for them.
	if x := c.Phase(PhaseExclusive); x != nil && x.Absent {
		cs.draw[spFsyncLog] = nil
	}
	return cs, nil
}

// at marks span point sp: the test hook sees the locks held, and a
// calibrated inode spends a drawn duration of the phase.
func (w *Worker) at(in *Inode, sp spanPoint) {
	if in.spanHook != nil {
		in.spanHook(w, sp)
	}
	if in.calib == nil {
		return
	}
	if s := in.calib.draw[sp]; len(s) > 0 {
		d := time.Duration(s[w.rng.Uint64N(uint64(len(s)))])
		w.ctr.CalibratedNs += int64(d)
		Spin(w.clk, d)
	}
}

// hooked reports whether an inode's fault paths must mark span points
// (Worker.at) and record overlaps: when it is calibrated or a test watches
// its span points. Worker.readFault and writeFault decide it once per fault.
func (in *Inode) hooked() bool { return in.calib != nil || in.spanHook != nil }

// hooked reports whether w's copy of the fault path marks span points and
// records the calibrated model's overlaps: the hooked levels' copies, which
// the fault paths run for a hooked inode (readFaultHooked,
// writeFaultHooked), and acctDyn's, which read() and writeback run. In the
// other copies it is a constant false, and the hooks compile to nothing.
func (w locker[A]) hooked() bool {
	var a A
	return unsafe.Sizeof(a) >= unsafe.Sizeof(acctAbsentHooked{}) // the hooked levels and acctDyn
}

// readFaultHooked and writeFaultHooked are Worker.readFault and writeFault
// for a hooked inode: the accounting level decided once, as for any fault,
// in the copy that marks span points.
func (w *Worker) readFaultHooked(in *Inode, p int, faultAround, naive bool) (faultResult, error) {
	switch w.locks {
	case locksOff:
		return locker[acctOffHooked]{w}.readFault(in, p, faultAround, naive)
	case locksOn:
		return locker[acctOnHooked]{w}.readFault(in, p, faultAround, naive)
	}
	return locker[acctAbsentHooked]{w}.readFault(in, p, faultAround, naive)
}

func (w *Worker) writeFaultHooked(in *Inode, p int, flags faultFlags) (faultResult, error) {
	switch w.locks {
	case locksOff:
		return locker[acctOffHooked]{w}.writeFault(in, p, flags)
	case locksOn:
		return locker[acctOnHooked]{w}.writeFault(in, p, flags)
	}
	return locker[acctAbsentHooked]{w}.writeFault(in, p, flags)
}

// at is Worker.at in the hooked copy of the fault path, nothing in the others.
func (w locker[A]) at(in *Inode, sp spanPoint) {
	if w.hooked() {
		w.Worker.at(in, sp)
	}
}

// spinSleepAbove is the longest wait spent entirely busy; a longer one
// sleeps for all but its last spinSleepSlack and spins the rest. A sleep
// wakes late (tens of microseconds on a quiet machine, most of a
// millisecond on a loaded one), but a phase of milliseconds spent busy
// would take a CPU from the other roles for all of it, which the kernel's
// phases (mostly waits for I/O) do not: on a 2-CPU machine that starves the
// faulters the validation compares.
const (
	spinSleepAbove = time.Millisecond
	spinSleepSlack = 200 * time.Microsecond
)

// Spin spends d on the calling goroutine: a busy-wait on clk (the TSC where
// the run uses it) for anything under a millisecond; a longer wait sleeps
// until spinSleepSlack before its end and spins the rest. The wait compares
// raw readings with a deadline computed once (Clock.Deadline), so each check
// is one clock read and the overshoot is at most one read's cost, plus
// whatever interruption (preemption, the hypervisor, an interrupt) spans the
// deadline: a busy-wait cannot end while its goroutine is not running. It
// allocates nothing.
//
// An overshoot is not carried forward to the next phase as a debt: see
// docs/DESIGN.md, "Calibrated phases: no overshoot debt".
func Spin(clk *clock.Clock, d time.Duration) {
	if d <= 0 {
		return
	}
	t0 := clk.Now()
	end := clk.Deadline(t0, d)
	if d >= spinSleepAbove {
		time.Sleep(d - spinSleepSlack)
	}
	for clk.Now() < end {
	}
}

// CreateScratch creates a scratch file in dir as the model's backing files
// are made (O_EXCL, flocked, named for this process so that CleanStale
// removes it after a kill), for the calibration's real measurements.
// remove closes and removes it, and only it.
func CreateScratch(dir string) (f *os.File, remove func() error, err error) {
	if f, err = createBacking(dir); err != nil {
		return nil, nil, err
	}
	name := f.Name()
	return f, func() error {
		cerr := f.Close()
		rerr := os.Remove(name)
		live.Delete(name)
		return errors.Join(cerr, rerr)
	}, nil
}

// overlap is one worker's operations (write faults, read faults, read())
// that overlapped an fsync or a punch, as the kernel engine records write
// faults (kernel.go, write-fault@fsync and @punch), for the calibrated model
// only: validate and its counterfactual compare them.
type overlap struct {
	h [numOverlapKinds][2]*hdrhistogram.Histogram // [kind][0: fsync, 1: punch]
	_ [linePad]byte
}

// The operations whose overlap with fsync and punch is recorded.
const (
	ovWriteFault = iota
	ovReadFault
	ovRead
	numOverlapKinds
)

var overlapNames = [numOverlapKinds]string{"write-fault", "read-fault", "read"}

// calibBusy counts the fsyncs and punches running, for overlap.
type calibBusy struct {
	_     [linePad]byte
	fsync atomic.Int32
	_     [linePad - 4]byte
	punch atomic.Int32
	_     [linePad - 4]byte
}

// busyNow is the fsync and punch bits of what runs now.
func (cs *calibState) busyNow() uint8 {
	var b uint8
	if cs.busy.fsync.Load() > 0 {
		b |= 1
	}
	if cs.busy.punch.Load() > 0 {
		b |= 2
	}
	return b
}

// recordOverlap records an operation of kind ov that started at t, when
// an fsync or a punch ran at its start (before) or at its end.
func (w *Worker) recordOverlap(in *Inode, ov int, t clock.Ticks, before uint8) {
	if t < 0 {
		return
	}
	b := before | in.calib.busyNow()
	if b == 0 {
		return
	}
	o := &in.calib.ovl[w.slot]
	d := max(int64(w.clk.Since(t)), 1)
	for i := 0; i < 2; i++ {
		if b&(1<<i) == 0 {
			continue
		}
		if o.h[ov][i] == nil {
			o.h[ov][i] = hdrhistogram.New(1, 100_000_000_000, 3)
		}
		o.h[ov][i].RecordValue(d)
	}
}

// overlapOps adds the calibrated model's <op>@fsync and <op>@punch
// operations to rep, as the kernel engine adds write-fault@fsync and @punch.
func (in *Inode) overlapOps(rep *results.Rep) {
	if in.calib == nil {
		return
	}
	roles := [numOverlapKinds]string{RoleFaulter.String(), RoleFaulter.String(), RoleReader.String()}
	for ov := range numOverlapKinds {
		for i, during := range []string{"fsync", "punch"} {
			h := hdrhistogram.New(1, 100_000_000_000, 3)
			for j := range in.calib.ovl {
				if g := in.calib.ovl[j].h[ov][i]; g != nil {
					h.Merge(g)
				}
			}
			if h.TotalCount() == 0 {
				continue
			}
			st := results.OpStats{Op: overlapNames[ov] + "@" + during, Role: roles[ov], Count: h.TotalCount(),
				PerSecond: float64(h.TotalCount()) / rep.Elapsed.Seconds(), SampleEvery: 1, Latency: latencyOf(h)}
			if enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
				st.Hist = string(enc)
			}
			rep.Ops = append(rep.Ops, st)
		}
	}
}

// writebackPageCalib is writebackPage in the calibrated model, with the
// page lock's span of the kernel's writepages: F is held from before the
// page is write-protected (folio_clear_dirty_for_io's page_mkclean) through
// the extent work (DELALLOC -> UNWRITTEN: the block allocation), as
// writeback_iter / ext4's mpage_prepare_extent_to_map lock the folio before
// clearing its dirty bit and keep it through the block mapping (ext4
// mpage_map_and_submit_extent, iomap ->map_blocks, btrfs
// writepage_delalloc), and released before the page's data goes to the
// device. A write fault on a page that writeback has just write-protected
// waits for it in lockPage, as page_mkwrite waits in folio_lock. The copy
// into the disk file (a pwrite, which can itself wait for the disk file's
// own folio and journal) and the submission (sync_file_range WRITE of the
// disk file's page, without waiting, or by the caller of a batch: flusher pass,
// fsync, punch, with submitDisk) are real I/O, done after F: holding F
// across them was tried and made the model's faults wait far longer than
// the kernel's (docs/MEASUREMENTS.md, "Issue 19, third pass"). On a btrfs
// target the page is then marked pgDiskIO: its next write fault waits for
// that write (waitStable).
//
// The plan of OpWritebackEnd (ER over the page, for the strategies that
// have one) is taken before F, the model's one lock order, and held with
// it; completion (UNWRITTEN -> WRITTEN) takes it again after, as
// writebackPage does.
func (w *Worker) writebackPageCalib(in *Inode, p int, block, submit bool) error {
	pg := &in.pages[p]
	if s := pg.state.Load(); s&(pgPresent|pgDirty|pgWriteback) != pgPresent|pgDirty {
		return nil // nothing to write back: no lock taken for it
	}
	if pg.state.Load()&pgDiskIO != 0 {
		// The page's previous write may still be in flight, and btrfs
		// would make the copy below wait for it (a page under writeback is
		// stable): wait first, holding nothing. The kernel's writeback
		// skips such a folio (WB_SYNC_NONE) or waits for it under the
		// folio lock (WB_SYNC_ALL); the model waits unlocked in both cases
		// so that the copy under F never does.
		w.waitDiskIO(in, p)
	}
	r0, r1 := uint64(p*in.pageSize), uint64((p+1)*in.pageSize)
	pl := w.takePlan(in, in.plans[strategies.OpWritebackEnd], r0, r1)
	if block {
		w.lockPage(pg)
	} else if !w.trylockPage(pg) {
		w.dropPlan(in, pl)
		return nil
	}
	s := pg.state.Load()
	if s&pgPresent == 0 || s&pgDirty == 0 || s&pgWriteback != 0 {
		w.unlockPage(pg)
		w.dropPlan(in, pl)
		return nil
	}
	t := w.startTimer(KWriteback)
	defer w.stopTimer(KWriteback, t)
	in.wrprotect(pg)
	pg.state.Store(s&^pgDirty | pgWriteback)
	st := w.casExtent(in, p, extDelalloc, extUnwritten)
	if st == extInline || st == extHole {
		if st == extHole && in.oracle != nil {
			w.violation(in, "I1b", strategies.R1, p, func() string { return fmt.Sprintf("dirty page %d has no extent (HOLE)", p) })
		}
		pg.state.And(^uint32(pgWriteback))
		w.unlockPage(pg)
		w.dropPlan(in, pl)
		return nil
	}
	w.ctr.WritebackPages++
	w.at(in, spWriteback)
	w.unlockPage(pg)
	w.dropPlan(in, pl)
	err := in.writeDisk(p)
	if err == nil && in.calib.stable {
		pg.state.Or(pgDiskIO)
	}
	if err == nil && submit {
		// Submitted now, without waiting, as writeback submits its bio;
		// a batch's caller (flusher pass, fsync, punch) submits the
		// pages it left with submitDisk.
		err = in.submitDisk(p, p+1)
	}
	if err != nil {
		pg.state.And(^uint32(pgWriteback))
		return fmt.Errorf("writeback of page %d: %w", p, err)
	}
	w.writebackComplete(in, p)
	return nil
}

// waitDiskIO waits until the calibrated model's last write of page p to the
// disk file has completed (sync_file_range SYNC_FILE_RANGE_WAIT_BEFORE on the
// page: filemap_fdatawait_range, the real folio_wait_writeback of the disk
// file's page) and clears pgDiskIO. An error ends the wait: the write's own
// error is reported by whoever waits for the whole file (fsync).
func (w *Worker) waitDiskIO(in *Inode, p int) {
	off := int64(p) * int64(in.pageSize)
	_ = unix.SyncFileRange(in.diskFD, off, int64(in.pageSize), unix.SYNC_FILE_RANGE_WAIT_BEFORE)
	in.pages[p].state.And(^uint32(pgDiskIO))
}
