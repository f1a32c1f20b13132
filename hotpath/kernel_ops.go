package hotpath

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"lockbench/hotpath/clock"
	"lockbench/results"
	"lockbench/strategies"
)

// The kernel engine's roles. Each issues the real system call on the real
// file; a store or load is a real access through the MAP_SHARED mapping, so
// its latency is the real fault's when it faults.

func (k *kernelEngine) foreground(w *Worker, spec RoleSpec, budget int64, stop *atomic.Bool) error {
	return k.onThread(w, func(o kernelOps) error {
		return foregroundLoop(o, w, k.sc, k.cfg.Threads, budget, stop)
	})
}

func (k *kernelEngine) background(w *Worker, spec RoleSpec, stop *atomic.Bool) error {
	return k.onThread(w, func(o kernelOps) error { return backgroundLoop(o, w, k.sc, spec, stop) })
}

// kernelOps is the kernel engine's engineOps: each role's real system call on
// the real file, for one worker (kw, its private state), timed every time.
type kernelOps struct {
	k  *kernelEngine
	kw *kworker
}

// onThread runs a role's loop on its own locked OS thread, so that
// getrusage(RUSAGE_THREAD) before and after counts this worker's faults and
// context switches alone, under Protect, so that a SIGBUS becomes a counted
// event and the loop resumes after it.
func (k *kernelEngine) onThread(w *Worker, loop func(kernelOps) error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	k.attachTracer(w)
	kw := k.kw[w.ID]
	w.timeAll = true
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &kw.u0); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	for {
		fault, err := Protect(func() error { return loop(kernelOps{k, kw}) })
		if err != nil {
			return err
		}
		if fault == nil {
			break
		}
		if err := k.sigbus(w, kw, fault); err != nil {
			return err
		}
		w.opIndex++ // the faulting operation is not counted; go on with the next
	}
	var u1 unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &u1); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	w.usage = &results.ThreadUsage{
		MinorFaults: u1.Minflt - kw.u0.Minflt, MajorFaults: u1.Majflt - kw.u0.Majflt,
		Voluntary: u1.Nvcsw - kw.u0.Nvcsw, Involuntary: u1.Nivcsw - kw.u0.Nivcsw,
	}
	return nil
}

// sigbus classifies a memory fault of a faulter: beyond EOF (a truncate
// that overlapped the last progress tick cut the file below the page) is
// legitimate; within EOF it is an I4 violation. A fault outside the file's
// mapping is a bug and ends the run.
func (k *kernelEngine) sigbus(w *Worker, kw *kworker, f *MemFault) error {
	base := unsafeAddr(k.data)
	if f.Addr < base || f.Addr >= base+uintptr(len(k.data)) {
		return fmt.Errorf("memory fault outside the file's mapping: %w", f)
	}
	p := int((f.Addr - base) / uintptr(k.pageSize))
	if k.beyondEOF(kw.gen0, p) {
		w.ctr.SigbusBeyondEOF++
		return nil
	}
	if err := k.targetFull(p, f); err != nil {
		return err
	}
	w.ctr.Sigbus++
	w.violation(nil, "I4", strategies.R4, p, func() string {
		return fmt.Sprintf("SIGBUS for an access within EOF to page %d of the real file (%v)", p, f)
	})
	return nil
}

// fullBelow is the free space under which a SIGBUS within EOF is taken
// for the filesystem's ENOSPC (a store into a hole that found no block)
// rather than a race.
const fullBelow = 1 << 20

// targetFull returns a target error when the filesystem of the real file
// is full at the time of a SIGBUS within EOF: a store into a hole (after a
// punch or truncate) needs a block, and a full filesystem answers the
// fault with SIGBUS. That is the target's failure, not an I4/R4 race.
func (k *kernelEngine) targetFull(p int, f *MemFault) error {
	var st unix.Statfs_t
	if unix.Fstatfs(k.fd, &st) != nil {
		return nil
	}
	free := st.Bavail * uint64(st.Bsize)
	if unix.Geteuid() == 0 {
		free = st.Bfree * uint64(st.Bsize) // root may use the reserved blocks
	}
	if free >= fullBelow {
		return nil
	}
	return fmt.Errorf("the target is full (%d bytes free): SIGBUS storing to page %d of the real file (%v) is the filesystem's ENOSPC, not a race; give the target more free space", free, p, f)
}

// beyondEOF reports whether a truncate in progress at generation gen0 or
// started since cut the file to p pages or fewer.
func (k *kernelEngine) beyondEOF(gen0 uint64, p int) bool {
	j0, j1 := gen0/2, (k.tgen.Load()+1)/2 // truncates j0 .. j1-1
	if j1-j0 > uint64(len(k.tsize)) {
		return true // too many to tell: give the benefit of the doubt
	}
	for j := j0; j < j1; j++ {
		if int64(p) >= k.tsize[j%uint64(len(k.tsize))].Load() {
			return true
		}
	}
	return false
}

// store writes the next stamp into the worker's own region of page p
// through the mapping, and remembers it with the page's punch counters.
func (o kernelOps) store(w *Worker, p int) error {
	k, kw := o.k, o.kw
	off := p*k.pageSize + w.region(k.regions)*k.regSize
	ptr := (*uint64)(unsafe.Pointer(&k.data[off]))
	s1, f1 := k.started[p].Load(), k.finished[p].Load()
	s := w.stamp()
	b1 := k.busy.Load()
	t := w.clk.Now()
	*ptr = s
	if d, fault := k.timed(w, KStore, KWriteFault, t); fault {
		kw.overlap(b1|k.busy.Load(), d)
	}
	kw.shadow[p] = kshadow{stamp: s, s1: s1, f1: f1, s2: k.started[p].Load()}
	return nil
}

// load reads the worker's region of page p through the mapping.
func (o kernelOps) load(w *Worker, p int) error {
	k, kw := o.k, o.kw
	off := p*k.pageSize + w.region(k.regions)*k.regSize
	ptr := (*uint64)(unsafe.Pointer(&k.data[off]))
	t := w.clk.Now()
	kw.sink += *ptr
	k.timed(w, KLoad, KReadFault, t)
	return nil
}

// zap is madvise(MADV_DONTNEED) of page p's part of the mapping.
func (o kernelOps) zap(w *Worker, p int) error {
	ps := o.k.pageSize
	return unix.Madvise(o.k.data[p*ps:(p+1)*ps], unix.MADV_DONTNEED)
}

func (o kernelOps) pages() int { return o.k.npages }

// tick notes the truncate generation, for the SIGBUS classification.
func (o kernelOps) tick(*Worker) { o.kw.gen0 = o.k.tgen.Load() }

// timed records an access of kind k that started at t, and also as a
// fault of kind fault when it took longer than kernelFaultFloor.
func (k *kernelEngine) timed(w *Worker, kind, fault Kind, t clock.Ticks) (d time.Duration, faulted bool) {
	now := w.clk.Now()
	w.ops[kind]++
	w.recordAt(kind, t, now)
	if d = w.clk.Duration(now - t); d >= kernelFaultFloor {
		w.ops[fault]++
		w.recordAt(fault, t, now)
		return d, true
	}
	return d, false
}

// write is a buffered write of the worker's own region of n pages from p0,
// one pwrite per page. With failRate, a page's copy stops short for real:
// its user buffer ends in a PROT_NONE page, the kernel copies the first
// half of the region (the stamp included) and returns a short count, and
// the write ends there, as the model's does.
func (o kernelOps) write(w *Worker, p0, n int, failRate float64) error {
	k, kw := o.k, o.kw
	t := w.clk.Now()
	r := w.region(k.regions)
	for q := p0; q < p0+n; q++ {
		short := w.chance(failRate)
		buf := kw.wbuf
		if short {
			buf = kw.fbuf[k.pageSize-k.regSize/2 : k.pageSize+k.regSize/2]
		}
		s := w.stamp()
		binary.LittleEndian.PutUint64(buf, s)
		s1, f1 := k.started[q].Load(), k.finished[q].Load()
		nw, err := unix.Pwrite(k.fd, buf, int64(q*k.pageSize+r*k.regSize))
		if short && errors.Is(err, unix.EFAULT) {
			nw, err = 0, nil
		}
		if err != nil {
			return fmt.Errorf("pwrite: %w", err)
		}
		if nw >= 8 {
			kw.shadow[q] = kshadow{stamp: s, s1: s1, f1: f1, s2: k.started[q].Load()}
		}
		if short || nw < len(buf) {
			w.ctr.ShortWrites++
			break
		}
	}
	w.stopTimer(KWrite, t)
	return nil
}

// read is a buffered pread of n pages from p0.
func (o kernelOps) read(w *Worker, p0, n int) error {
	k, kw := o.k, o.kw
	t := w.clk.Now()
	if _, err := unix.Pread(k.fd, kw.rbuf[:n*k.pageSize], int64(p0*k.pageSize)); err != nil {
		return fmt.Errorf("pread: %w", err)
	}
	w.stopTimer(KRead, t)
	kw.sink += uint64(kw.rbuf[0])
	return nil
}

// reclaimSweep is one pass of a sweeping reclaimer on the real file: a
// DONTNEED per page, each timed, as the model's sweep tries each page (one
// DONTNEED over the whole file can take longer than a short run).
func (o kernelOps) reclaimSweep(w *Worker, stop *atomic.Bool) error {
	k := o.k
	for p := 0; p < k.npages && !stop.Load(); p++ {
		t := w.clk.Now()
		if err := unix.Fadvise(k.fd, int64(p*k.pageSize), int64(k.pageSize), unix.FADV_DONTNEED); err != nil {
			return roleErr(w, err)
		}
		w.stopTimer(KReclaim, t)
	}
	return nil
}

// reclaim is fadvise(FADV_DONTNEED) of one page drawn at random.
func (o kernelOps) reclaim(w *Worker) error {
	k := o.k
	t := w.clk.Now()
	if err := unix.Fadvise(k.fd, int64(w.intn(k.npages)*k.pageSize), int64(k.pageSize), unix.FADV_DONTNEED); err != nil {
		return roleErr(w, err)
	}
	w.stopTimer(KReclaim, t)
	return nil
}

// fsync is fsync(2) of the file, with busyFsync set around it for the
// faulters' write-fault@fsync.
func (o kernelOps) fsync(w *Worker) error {
	k := o.k
	k.busy.Or(busyFsync)
	t := w.clk.Now()
	err := unix.Fsync(k.fd)
	if err == nil {
		w.stopTimer(KFsync, t)
	}
	k.busy.And(^uint32(busyFsync))
	return roleErr(w, err)
}

// writeback is one flusher pass: sync_file_range(WRITE) of the whole file.
func (o kernelOps) writeback(w *Worker, stop *atomic.Bool) error {
	t := w.clk.Now()
	if err := unix.SyncFileRange(o.k.fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE); err != nil {
		return roleErr(w, err)
	}
	w.stopTimer(KWriteback, t)
	return nil
}

// reinline has no real counterpart (KernelRefusal refuses its scenarios).
func (o kernelOps) reinline(w *Worker, blocks int) error {
	return fmt.Errorf("role %s has no real counterpart", w.Role)
}

// roleErr names the background role an error of the real file came from.
func roleErr(w *Worker, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", w.Role, err)
}

// punch punches pages [p0, p0+n) with fallocate(PUNCH_HOLE|KEEP_SIZE),
// counting it started before and finished after.
func (o kernelOps) punch(w *Worker, p0, n int) error {
	k := o.k
	k.bump(k.started, p0, p0+n)
	k.busy.Or(busyPunch)
	t := w.clk.Now()
	err := unix.Fallocate(k.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(p0*k.pageSize), int64(n*k.pageSize))
	if err == nil {
		w.stopTimer(KPunch, t)
	}
	k.busy.And(^uint32(busyPunch))
	k.bump(k.finished, p0, p0+n)
	return roleErr(w, err)
}

// truncate cuts the file to size pages and grows it back with ftruncate,
// publishing the cut for the SIGBUS classification first.
func (o kernelOps) truncate(w *Worker, size int) error {
	k := o.k
	j := k.tgen.Load() / 2
	k.tsize[j%uint64(len(k.tsize))].Store(int64(size))
	k.tgen.Add(1)
	k.bump(k.started, size, k.npages)
	t := w.clk.Now()
	err := unix.Ftruncate(k.fd, int64(size*k.pageSize))
	if err == nil {
		err = unix.Ftruncate(k.fd, int64(k.npages*k.pageSize))
	}
	if err == nil {
		w.stopTimer(KTruncate, t)
	}
	k.bump(k.finished, size, k.npages)
	k.tgen.Add(1)
	return roleErr(w, err)
}

func (k *kernelEngine) bump(c []atomic.Uint32, p0, p1 int) {
	for p := p0; p < p1; p++ {
		c[p].Add(1)
	}
}
