package hotpath

import (
	"fmt"
	"sync/atomic"
	"time"

	"lockbench/hotpath/clock"
	"lockbench/strategies"
)

// Bench drives single operations of the hot path for Go benchmarks: one
// inode on a real target and one worker, with latency timing off (the
// benchmark times) and, optionally, the oracle on.
type Bench struct {
	in *Inode
	w  *Worker
	mo modelState // Loop's operations
}

// NewBench opens a pages-page inode in dir under strategy st.
func NewBench(st strategies.Strategy, dir string, pages int, oracle bool) (*Bench, error) {
	in, err := Open(InodeConfig{Dir: dir, FileSize: int64(pages) * 4096, PageSize: 4096, Slots: 2, Strategy: st, Regions: 8, Oracle: oracle})
	if err != nil {
		return nil, err
	}
	clk, err := clock.New(clock.Mono)
	if err != nil {
		in.Close()
		return nil, err
	}
	w := newWorker(0, 0, RoleFaulter, 1, maxChunk)
	w.setData(0)
	w.clk = clk
	w.untimed = true
	w.win = newSeries(clk, clk.Now(), time.Second)
	return &Bench{in: in, w: w}, nil
}

// CacheWritable makes page p cached, uptodate, dirty and mapped rw (its first
// write fault), so that WriteFault measures page_mkwrite on a cached page.
func (b *Bench) CacheWritable(p int) error {
	return b.w.store(b.in, p, false)
}

// LockLevels are the lock accounting levels Locks accepts: absent (no
// accounting at all, the baseline), off (the default: contended
// acquisitions and their waits) and on (-locks, Config.LockStats: every
// acquisition counted, every exclusive hold timed).
var LockLevels = []string{"absent", "off", "on"}

// Locks sets the lock accounting level, one of LockLevels.
func (b *Bench) Locks(level string) error {
	switch level {
	case "absent":
		b.w.setLockStats(false)
		b.w.locks = locksAbsent
	case "off", "on":
		b.w.setLockStats(level == "on")
	default:
		return fmt.Errorf("lock accounting level %q: want one of %q", level, LockLevels)
	}
	return nil
}

// WriteFault runs the write fault handler on page p, which must be cached.
func (b *Bench) WriteFault(p int) error {
	res, err := b.w.writeFault(b.in, p, flagAllowRetry)
	if err == nil && res != faultOK {
		err = fmt.Errorf("write fault on cached page %d returned %d", p, res)
	}
	return err
}

// Store runs one store through the mapping (no fault when the PTE is rw).
func (b *Bench) Store(p int) error { return b.w.store(b.in, p, false) }

// Close removes the inode's files.
func (b *Bench) Close() error { return b.in.Close() }

// StoreCounted is one iteration of the runner's faulter loop around a store:
// the progress publication every progressEvery operations, the time-series
// tick, and the per-worker counter (plus, when timed, the sampled timing).
// Compared with Store it measures what the harness adds.
func (b *Bench) StoreCounted(p int, i int64) error {
	w := b.w
	if i%progressEvery == 0 {
		w.prog.Store(i)
		w.win.tick(&w.ops, w.clk.Now())
	}
	t := w.startSampled()
	err := w.store(b.in, p, false)
	w.stopTimer(KStore, t)
	return err
}

// StoreLoop is StoreCounted without the counter and the timer: the loop's
// scaffolding only, the baseline that counting is compared with.
func (b *Bench) StoreLoop(p int, i int64) error {
	w := b.w
	if i%progressEvery == 0 {
		w.prog.Store(i)
		w.win.tick(&w.ops, w.clk.Now())
	}
	return w.store(b.in, p, false)
}

// SetTimed turns the sampled latency timing on or off (off: counting only).
func (b *Bench) SetTimed(on bool) { b.w.untimed = !on }

// Loop runs n operations of the runner's faulter loop on the bench's inode
// with scenario sc's mix of stores, loads and zaps (one thread): the loop
// BenchmarkHotpath's model cells run, without the runner's start and merge.
func (b *Bench) Loop(sc *Scenario, n int64) error {
	var stop atomic.Bool
	b.w.opIndex = 0
	b.mo = modelState{in: b.in, faultAround: sc.FaultAround}
	return foregroundLoop(modelOps{&b.mo}, b.w, sc, 1, n, &stop)
}
