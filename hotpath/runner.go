package hotpath

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sync/errgroup"

	"lockbench/hotpath/clock"
	"lockbench/internal/quantile"
	"lockbench/results"
	"lockbench/strategies"
)

// Config is one run of one scenario under one strategy.
type Config struct {
	Strategy strategies.Strategy
	Scenario Scenario
	Threads  int           // foreground workers
	Duration time.Duration // used when OpLimit is 0
	OpLimit  int64         // total foreground operations; 0 runs for Duration
	Seed     uint64
	Dir      string // target directory
	FileSize int64  // 0: the scenario's
	PageSize int    // 0: 4096
	Oracle   bool
	Delay    *DelayConfig
	// GUPShare overrides the scenario's share of get_user_pages stores.
	GUPShare float64
	// Pin, when set, is called by each worker on its own goroutine before
	// the start barrier; it returns the CPU the worker was pinned to.
	Pin func(worker int, role Role) (int, error)
	// Watchdog stops the run and reports a deadlock when no worker makes
	// progress for this long (0: 10s).
	Watchdog time.Duration
	Clock    *clock.Clock
	Window   time.Duration // time-series window (0: 100ms)
	// Direct opens the disk file with O_DIRECT where the target allows it.
	Direct bool
	// ReadIOLock makes read() take IO(S) (the XFS option), whatever the
	// scenario says.
	ReadIOLock bool
	// OnStart and OnStop, when set, bracket the measured section: OnStart
	// runs on the coordinating goroutine right before the workers are
	// released (every worker, histogram and time series already made),
	// OnStop right after the stop condition fires, before the workers join
	// and merge. Go benchmarks pass b.StartTimer and b.StopTimer, so that
	// setup and merge stay out of ns/op and allocs/op.
	OnStart, OnStop func()
	// Engine is what runs the scenario: the model (the default) or the
	// real kernel. Under EngineKernel, Strategy, Oracle, Delay, GUPShare
	// and Direct are the model's and are ignored.
	Engine Engine
	// KernelControl is the real-file checker's control: before the
	// read-back it punches the page of one completed store, which the
	// check must flag (verify's control, and its test).
	KernelControl bool
	// LockStats counts every lock acquisition of the model and times every
	// exclusive hold (-locks); contended acquisitions and their waits are
	// recorded whatever it says.
	LockStats bool
	// Progress, when set, is called on the coordinating goroutine at each
	// watchdog tick (at most a second apart) with the foreground
	// operations done so far, to within 64 per worker: verify's progress
	// line within a cell. It is off the measured path.
	Progress func(ops int64)
	// Calibration makes the model spend the real filesystem's measured
	// phase costs (-calibrate; calib.go); nil is the uncalibrated model.
	Calibration *results.Calibration
}

// DeadlockError is returned when the watchdog finds no progress.
type DeadlockError struct {
	After   time.Duration
	Workers []string // "worker 3 (writer): holds IO, waits for IL"
}

func (e *DeadlockError) Error() string {
	return fmt.Sprintf("deadlock: no progress for %v; %s", e.After, strings.Join(e.Workers, "; "))
}

// Run runs cfg and returns one repetition's results. Cancelling ctx stops
// the run early; what was measured is returned marked incomplete.
//
// It runs in stages: defaults and validation, the engine, the workers, the
// start, the wait for a stop condition, and the merge.
func Run(ctx context.Context, cfg Config) (rep results.Rep, err error) {
	if err = cfg.setDefaults(); err != nil {
		return rep, err
	}
	plan := cfg.Scenario.workerPlan(cfg.Threads)
	// One P per worker for the run (procs.go): the workers are scheduled
	// by the OS, as the kernel's threads they stand for are.
	gomaxprocs, release := procs.acquire(len(plan))
	defer release()
	eng, err := openEngine(&cfg, plan)
	if err != nil {
		return rep, err
	}
	deadlocked := false
	defer func() {
		if deadlocked {
			eng.abandon() // blocked workers may still touch the mapping
			return
		}
		if cerr := eng.close(); cerr != nil && err == nil {
			err = &CleanupError{Err: cerr}
		}
	}()
	workers, fg := newWorkers(&cfg, plan)
	r := start(ctx, &cfg, eng, plan, workers, fg)
	stopped := r.wait()
	if stopped.deadlock != nil {
		deadlocked = true
		rep.Deadlock = stopped.deadlock.Error()
		rep.GoMaxProcs = gomaxprocs
		rep.Incomplete = true
		rep.Elapsed = stopped.elapsed
		return rep, stopped.deadlock
	}
	deadlocked = stopped.abandon
	if stopped.err != nil && !errors.Is(stopped.err, context.Canceled) {
		return rep, stopped.err
	}
	rep = merge(workers, stopped.elapsed, cfg.Clock)
	rep.Incomplete = stopped.incomplete
	rep.GoMaxProcs = gomaxprocs
	return rep, eng.finish(&rep)
}

// setDefaults fills in the defaults of cfg and validates it.
func (cfg *Config) setDefaults() (err error) {
	if cfg.PageSize == 0 {
		cfg.PageSize = 4096
	}
	if cfg.FileSize == 0 {
		cfg.FileSize = cfg.Scenario.FileSize
	}
	if cfg.Window == 0 {
		cfg.Window = 100 * time.Millisecond
	}
	if cfg.Watchdog == 0 {
		cfg.Watchdog = 10 * time.Second
	}
	if cfg.Clock == nil {
		if cfg.Clock, err = clock.New(clock.Auto); err != nil {
			return err
		}
	}
	if n := cfg.Scenario.MinPages(); cfg.FileSize < int64(n)*int64(cfg.PageSize) {
		return configErrorf("FileSize", "must be at least %d bytes (%d pages) for scenario %s, got %d", int64(n)*int64(cfg.PageSize), n, cfg.Scenario.Name, cfg.FileSize)
	}
	if cfg.Threads < 1 {
		return configErrorf("Threads", "must be at least 1, got %d", cfg.Threads)
	}
	return nil
}

// dataWriters counts the workers of plan that write data (faulters and
// writers): each owns one marked region of every page.
func dataWriters(plan []RoleSpec) int {
	n := 0
	for _, r := range plan {
		if r.Role == RoleFaulter || r.Role == RoleWriter {
			n++
		}
	}
	return n
}

// regionsFor is the number of marked regions per page for plan: at least
// 8, doubled until every data writer owns one or regions reach 16 bytes.
func regionsFor(plan []RoleSpec, pageSize int) int {
	regions := 8
	for regions < dataWriters(plan) && regions < pageSize/16 {
		regions *= 2
	}
	return regions
}

// openEngine opens the engine cfg asks for.
func openEngine(cfg *Config, plan []RoleSpec) (engine, error) {
	regions := regionsFor(plan, cfg.PageSize)
	if cfg.Engine == EngineKernel {
		return openKernel(cfg, plan, regions)
	}
	if dw := dataWriters(plan); cfg.Oracle && dw > regions {
		return nil, fmt.Errorf("the oracle needs one region per data-writing worker: %d workers, at most %d regions per %d-byte page", dw, regions, cfg.PageSize)
	}
	in, err := Open(InodeConfig{
		Dir: cfg.Dir, FileSize: cfg.FileSize, PageSize: cfg.PageSize, Slots: len(plan),
		Strategy: cfg.Strategy, Regions: regions, Oracle: cfg.Oracle, Delay: cfg.Delay, Direct: cfg.Direct,
		ReadIOLock: cfg.Scenario.ReadIOLock || cfg.ReadIOLock, Calibration: cfg.Calibration,
	})
	if err != nil {
		return nil, err
	}
	in.SetInline(cfg.Scenario.InlineBlocks)
	gup := cfg.Scenario.GUPShare
	if cfg.GUPShare > 0 {
		gup = cfg.GUPShare
	}
	if in.retry != nil && in.retry.GUPShare > 0 {
		gup = in.retry.GUPShare
	}
	return &modelEngine{in: in, cfg: cfg, gup: gup}, nil
}

// newWorkers makes one worker per role of plan and counts the foreground ones.
func newWorkers(cfg *Config, plan []RoleSpec) (workers []*Worker, fg int) {
	workers = make([]*Worker, len(plan))
	d := 0
	for i, r := range plan {
		w := newWorker(i, i, r.Role, cfg.Seed, maxChunk)
		w.clk = cfg.Clock
		w.setLockStats(cfg.LockStats)
		if r.Role == RoleFaulter || r.Role == RoleWriter {
			w.setData(d)
			d++
		}
		if r.Role.Foreground() {
			fg++
		}
		workers[i] = w
	}
	return workers, fg
}

// running is a started run: its workers, group and stop flags.
type running struct {
	ctx, gctx   context.Context
	cfg         *Config
	workers     []*Worker
	g           *errgroup.Group
	stop        atomic.Bool // background roles
	fgStop      atomic.Bool // foreground roles
	fgDone      sync.WaitGroup
	startTime   time.Time
	incomplete  bool
	lastProg    []int64
	lastMove    time.Time
	deadlockErr *DeadlockError
	fault       atomic.Pointer[FaultError] // the first worker's fault
}

// start launches one goroutine per worker, waits until every worker is
// pinned and ready, and releases them together.
func start(ctx context.Context, cfg *Config, eng engine, plan []RoleSpec, workers []*Worker, fg int) *running {
	r := &running{ctx: ctx, cfg: cfg, workers: workers}
	r.fgDone.Add(fg)
	var ready sync.WaitGroup
	ready.Add(len(workers))
	startCh := make(chan struct{})
	var t0 clock.Ticks
	r.g, r.gctx = errgroup.WithContext(ctx)
	fgIndex := 0
	for i, w := range workers {
		spec := plan[i]
		var perWorker int64
		if cfg.OpLimit > 0 && spec.Role.Foreground() {
			perWorker = opShare(cfg.OpLimit, fg, fgIndex)
			fgIndex++
		}
		r.g.Go(func() error {
			// A fault on the mapping ends this worker with a *FaultError
			// instead of the process (guard.go).
			err := protected(fmt.Sprintf("worker %d (%s)", w.ID, w.Role), func() error {
				return r.work(eng, w, spec, perWorker, &ready, startCh, &t0)
			})
			var fe *FaultError
			if errors.As(err, &fe) {
				r.fault.CompareAndSwap(nil, fe)
			}
			return err
		})
	}
	ready.Wait()
	if cfg.OnStart != nil {
		cfg.OnStart()
	}
	t0 = cfg.Clock.Now()
	r.startTime = time.Now()
	close(startCh)
	return r
}

// opShare is foreground worker k's share of a budget of n operations over
// fg workers: n/fg, one more for the first n%fg, so that they add up to
// exactly n. A worker whose share is 0 gets -1, which runs no operation
// (0 would mean no budget).
func opShare(n int64, fg, k int) int64 {
	share := n / int64(fg)
	if int64(k) < n%int64(fg) {
		share++
	}
	if share == 0 {
		return -1
	}
	return share
}

// work is one worker's goroutine: pin, wait for the start, run its role.
func (r *running) work(eng engine, w *Worker, spec RoleSpec, perWorker int64, ready *sync.WaitGroup, startCh chan struct{}, t0 *clock.Ticks) error {
	cfg := r.cfg
	if cfg.Pin != nil {
		cpu, err := cfg.Pin(w.ID, w.Role)
		if err != nil {
			ready.Done()
			if w.Role.Foreground() {
				r.fgDone.Done()
			}
			return err
		}
		w.CPU = cpu
	}
	// The series (256 windows) is made before the barrier, off the
	// measured section; its start is set on release.
	w.win = newSeries(cfg.Clock, 0, cfg.Window)
	ready.Done()
	<-startCh
	w.win.setStart(*t0)
	var err error
	if w.Role.Foreground() {
		err = eng.foreground(w, spec, perWorker, &r.fgStop)
		r.fgDone.Done()
	} else {
		err = eng.background(w, spec, &r.stop)
	}
	return err
}

// stopped is how a run ended.
type stopped struct {
	elapsed    time.Duration
	incomplete bool
	deadlock   *DeadlockError
	err        error // the first worker error
	abandon    bool  // workers are still blocked: keep the mapping
}

// wait waits for a stop condition (duration, op budget, cancellation of
// ctx, a worker's error, or no progress for the watchdog's time), stops
// the workers and joins them.
func (r *running) wait() stopped {
	cfg := r.cfg
	finished := make(chan struct{})
	go func() {
		r.fgDone.Wait()
		close(finished)
	}()
	var timer <-chan time.Time
	if cfg.OpLimit == 0 {
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		timer = t.C
	}
	dog := time.NewTicker(min(cfg.Watchdog/4, time.Second))
	defer dog.Stop()
	r.lastProg = make([]int64, len(r.workers))
	r.lastMove = time.Now()
wait:
	for {
		select {
		case <-timer:
			break wait
		case <-finished:
			break wait
		case <-r.gctx.Done():
			r.incomplete = r.ctx.Err() != nil
			break wait
		case <-dog.C:
			if r.stuck() {
				break wait
			}
			if cfg.Progress != nil {
				cfg.Progress(r.foregroundOps())
			}
		}
	}
	r.fgStop.Store(true)
	r.stop.Store(true)
	if cfg.OnStop != nil {
		cfg.OnStop()
	}
	out := stopped{elapsed: time.Since(r.startTime), incomplete: r.incomplete, deadlock: r.deadlockErr}
	if out.deadlock != nil {
		return out
	}
	done := make(chan error, 1)
	go func() { done <- r.g.Wait() }()
	select {
	case out.err = <-done:
	case <-time.After(cfg.Watchdog):
		if fe := r.fault.Load(); fe != nil {
			// The faulted worker's locks stay held and the others are
			// stuck behind it: the fault's doing, not a deadlock.
			out.err, out.abandon = fe, true
			break
		}
		out.deadlock = deadlockReport(r.workers, cfg.Watchdog)
	}
	return out
}

// foregroundOps is the foreground workers' published progress.
func (r *running) foregroundOps() int64 {
	var n int64
	for _, w := range r.workers {
		if w.Role.Foreground() {
			n += w.prog.Load()
		}
	}
	return n
}

// stuck is the watchdog's check: it reports (and records) a deadlock when
// no worker has moved for the watchdog's time.
func (r *running) stuck() bool {
	moved := false
	for i, w := range r.workers {
		if p := w.prog.Load(); p != r.lastProg[i] {
			r.lastProg[i] = p
			moved = true
		}
	}
	if moved {
		r.lastMove = time.Now()
		return false
	}
	if time.Since(r.lastMove) < r.cfg.Watchdog {
		return false
	}
	r.deadlockErr = deadlockReport(r.workers, time.Since(r.lastMove))
	return true
}

func lostRace(r strategies.Race) strategies.Race {
	if r == strategies.R3 || r == strategies.R5 {
		return r
	}
	return strategies.R1
}

func deadlockReport(workers []*Worker, after time.Duration) *DeadlockError {
	e := &DeadlockError{After: after.Round(time.Millisecond)}
	for _, w := range workers {
		v := w.pub.Load()
		if v == 0 {
			continue
		}
		e.Workers = append(e.Workers, fmt.Sprintf("worker %d (%s): holds %s, waits for %s", w.ID, w.Role, heldString(uint32(v)), lockClass(v>>32)))
	}
	if len(e.Workers) == 0 {
		e.Workers = []string{"no worker is blocked on a model lock (livelock or a stuck I/O)"}
	}
	return e
}

// span is the pages a foreground worker picks from: the whole file, or
// under Disjoint the data writer's own slice starting at base.
func (s *Scenario) span(threads, npages, data int) (span, base int) {
	if s.Pattern == ReadersApart {
		return readersApart(npages, data)
	}
	if s.Pattern != Disjoint || data < 0 {
		return npages, 0
	}
	span = max(npages/dataWriters(s.workerPlan(threads)), 1)
	return span, (data * span) % npages
}

func (w *Worker) pick(pt Pattern, span int) int {
	if pt == HotSpot && span >= 10 && w.rng.Uint32()%10 != 0 {
		return w.intn(span / 10)
	}
	return w.intn(span)
}

// pace waits for a background role's next operation: one per Interval,
// catching up without bursts when late; unpaced reclaimers and flushers
// yield instead.
func (w *Worker) pace(spec RoleSpec, next *time.Time) {
	if spec.Interval > 0 {
		*next = next.Add(spec.Interval)
		if d := time.Until(*next); d > 0 {
			time.Sleep(d)
		} else {
			*next = time.Now()
		}
	} else if w.Role == RoleReclaimer || w.Role == RoleFlusher {
		yield()
	}
}

// merge sums the workers' private state after they joined.
func merge(workers []*Worker, elapsed time.Duration, clk *clock.Clock) results.Rep {
	rep := results.Rep{Elapsed: elapsed, TimerFloor: clk.Floor()}
	roles := map[Kind]map[string]bool{}
	var hist [NumKinds]*hdrhistogram.Histogram
	var ops [NumKinds]int64
	var timedAll [NumKinds]bool
	var all []*series
	for _, w := range workers {
		for k := Kind(0); k < NumKinds; k++ {
			if w.ops[k] == 0 {
				continue
			}
			ops[k] += w.ops[k]
			timedAll[k] = timedAll[k] || w.timeAll
			if hist[k] == nil {
				hist[k] = hdrhistogram.New(1, 100_000_000_000, 3)
			}
			if w.hist[k] != nil { // nil: no operation of k was timed
				hist[k].Merge(w.hist[k])
			}
			if roles[k] == nil {
				roles[k] = map[string]bool{}
			}
			roles[k][w.Role.String()] = true
		}
		ctr := w.counters()
		rep.Counters.Add(&ctr)
		var total int64
		for _, n := range w.ops {
			total += n
		}
		rep.Workers = append(rep.Workers, results.Worker{ID: w.ID, Role: w.Role.String(), CPU: w.CPU, Ops: total, Usage: w.usage})
		rep.Violations = append(rep.Violations, w.oracleV...)
		rep.Exclusive = append(rep.Exclusive, w.events...)
		rep.ViolationsTotal += w.nViolations
		rep.Counters.UncheckedFsyncs += w.uncheckedFsyncs
		if w.win != nil {
			all = append(all, w.win)
		}
	}
	for k := Kind(0); k < NumKinds; k++ {
		if ops[k] == 0 {
			continue
		}
		var rs []string
		for r := range roles[k] {
			rs = append(rs, r)
		}
		sort.Strings(rs)
		se := 1
		if sampled(k) && !timedAll[k] {
			se = sampleEvery
		}
		h := hist[k]
		st := results.OpStats{
			Op: k.String(), Role: strings.Join(rs, ","), Count: ops[k],
			PerSecond: float64(ops[k]) / elapsed.Seconds(), SampleEvery: se,
			Latency: latencyOf(h),
		}
		if enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
			st.Hist = string(enc)
		}
		rep.Ops = append(rep.Ops, st)
	}
	rep.Series = mergeSeries(all)
	rep.Locks = mergeLocks(workers)
	sort.Slice(rep.Exclusive, func(i, j int) bool { return rep.Exclusive[i].Start < rep.Exclusive[j].Start })
	return rep
}

// latencyOf summarises a histogram by the nearest rank (package quantile,
// as the kernel's lock waits); percentiles are capped at the max (the HDR
// bucket's upper edge can exceed the largest value recorded).
func latencyOf(h *hdrhistogram.Histogram) results.Latency {
	if h == nil || h.TotalCount() == 0 {
		return results.Latency{}
	}
	q := func(p float64) time.Duration { return quantile.Histogram(h, p) }
	return results.Latency{
		Samples: h.TotalCount(), Mean: time.Duration(h.Mean()),
		P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: time.Duration(h.Max()),
	}
}
