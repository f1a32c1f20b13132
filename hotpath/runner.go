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
func Run(ctx context.Context, cfg Config) (rep results.Rep, err error) {
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
			return rep, err
		}
	}
	if n := cfg.Scenario.MinPages(); cfg.FileSize < int64(n)*int64(cfg.PageSize) {
		return rep, fmt.Errorf("-file-size must be at least %d bytes (%d pages) for scenario %s, got %d", int64(n)*int64(cfg.PageSize), n, cfg.Scenario.Name, cfg.FileSize)
	}
	if cfg.Threads < 1 {
		return rep, fmt.Errorf("-threads must be at least 1, got %d", cfg.Threads)
	}
	plan := cfg.Scenario.workerPlan(cfg.Threads)
	dataWriters := 0
	for _, r := range plan {
		if r.Role == RoleFaulter || r.Role == RoleWriter {
			dataWriters++
		}
	}
	regions := 8
	for regions < dataWriters && regions < cfg.PageSize/16 {
		regions *= 2
	}
	if cfg.Oracle && dataWriters > regions {
		return rep, fmt.Errorf("the oracle needs one region per data-writing worker: %d workers, at most %d regions per %d-byte page", dataWriters, regions, cfg.PageSize)
	}
	in, err := Open(InodeConfig{
		Dir: cfg.Dir, FileSize: cfg.FileSize, PageSize: cfg.PageSize, Slots: len(plan),
		Strategy: cfg.Strategy, Regions: regions, Oracle: cfg.Oracle, Delay: cfg.Delay, Direct: cfg.Direct,
	})
	if err != nil {
		return rep, err
	}
	deadlocked := false
	defer func() {
		if deadlocked {
			in.removeFiles() // blocked workers may still touch the mapping
			return
		}
		if cerr := in.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	in.SetInline(cfg.Scenario.InlineBlocks)
	gup := cfg.Scenario.GUPShare
	if cfg.GUPShare > 0 {
		gup = cfg.GUPShare
	}
	if in.retry != nil && in.retry.GUPShare > 0 {
		gup = in.retry.GUPShare
	}

	workers := make([]*Worker, len(plan))
	fg := 0
	d := 0
	for i, r := range plan {
		w := newWorker(i, i, r.Role, cfg.Seed, maxChunk)
		w.clk = cfg.Clock
		if r.Role == RoleFaulter || r.Role == RoleWriter {
			w.data = d
			d++
		}
		if r.Role.Foreground() {
			fg++
		}
		workers[i] = w
	}
	var perWorker int64
	if cfg.OpLimit > 0 {
		perWorker = max(cfg.OpLimit/int64(fg), 1)
	}

	var stop, fgStop atomic.Bool
	var fgDone sync.WaitGroup
	fgDone.Add(fg)
	var ready sync.WaitGroup
	ready.Add(len(workers))
	startCh := make(chan struct{})
	var start clock.Ticks
	var startTime time.Time
	g, gctx := errgroup.WithContext(ctx)
	for i, w := range workers {
		spec := plan[i]
		g.Go(func() error {
			if cfg.Pin != nil {
				cpu, err := cfg.Pin(w.ID, w.Role)
				if err != nil {
					ready.Done()
					if w.Role.Foreground() {
						fgDone.Done()
					}
					return err
				}
				w.CPU = cpu
			}
			ready.Done()
			<-startCh
			w.win = newSeries(cfg.Clock, start, cfg.Window)
			var err error
			if w.Role.Foreground() {
				err = w.foreground(in, &cfg, spec, gup, perWorker, &fgStop)
				fgDone.Done()
			} else {
				err = w.background(in, &cfg, spec, &stop)
			}
			if err != nil {
				w.err = err
			}
			return err
		})
	}
	ready.Wait()
	start = cfg.Clock.Now()
	startTime = time.Now()
	close(startCh)

	// Stop conditions: duration, op budget (foreground done), cancellation
	// of ctx or of the group (a worker's error).
	finished := make(chan struct{})
	go func() {
		fgDone.Wait()
		close(finished)
	}()
	var timer <-chan time.Time
	if cfg.OpLimit == 0 {
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		timer = t.C
	}
	incomplete := false
	dog := time.NewTicker(min(cfg.Watchdog/4, time.Second))
	defer dog.Stop()
	lastProg := make([]int64, len(workers))
	lastMove := time.Now()
	var dl *DeadlockError
wait:
	for {
		select {
		case <-timer:
			break wait
		case <-finished:
			break wait
		case <-gctx.Done():
			incomplete = ctx.Err() != nil
			break wait
		case <-dog.C:
			moved := false
			for i, w := range workers {
				if p := w.prog.Load(); p != lastProg[i] {
					lastProg[i] = p
					moved = true
				}
			}
			if moved {
				lastMove = time.Now()
			} else if time.Since(lastMove) >= cfg.Watchdog {
				dl = deadlockReport(workers, time.Since(lastMove))
				break wait
			}
		}
	}
	fgStop.Store(true)
	stop.Store(true)
	elapsed := time.Since(startTime)
	if dl != nil {
		deadlocked = true
		rep.Deadlock = dl.Error()
		rep.Incomplete = true
		rep.Elapsed = elapsed
		return rep, dl
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(cfg.Watchdog):
		dl = deadlockReport(workers, cfg.Watchdog)
		deadlocked = true
		rep.Deadlock = dl.Error()
		rep.Incomplete = true
		return rep, dl
	}
	if werr != nil && !errors.Is(werr, context.Canceled) {
		return rep, werr
	}
	rep = merge(workers, elapsed, cfg.Clock)
	rep.Incomplete = incomplete
	if cfg.Oracle {
		fin := in.oracle.final(in, lostRace(cfg.Scenario.Race))
		rep.Violations = append(rep.Violations, fin...)
		rep.ViolationsTotal += int64(len(fin))
	}
	return rep, nil
}

func lostRace(r string) string {
	if r == "R3" || r == "R5" {
		return r
	}
	return "R1"
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

// foreground runs a faulter, writer or reader until stop or its op budget.
func (w *Worker) foreground(in *Inode, cfg *Config, spec RoleSpec, gup float64, budget int64, stop *atomic.Bool) error {
	sc := &cfg.Scenario
	span := in.npages
	base := 0
	if sc.Pattern == Disjoint && w.data >= 0 {
		n := 0
		for _, r := range sc.workerPlan(cfg.Threads) {
			if r.Role == RoleFaulter || r.Role == RoleWriter {
				n++
			}
		}
		span = max(in.npages/n, 1)
		base = (w.data * span) % in.npages
	}
	np := max(sc.WritePages, 1)
	for i := int64(0); budget == 0 || i < budget; i++ {
		if i%progressEvery == 0 {
			if stop.Load() {
				return nil
			}
			w.prog.Store(i)
			w.win.tick(&w.ops, w.clk.Now())
		}
		w.opIndex = i
		p := base + w.pick(sc.Pattern, span)
		var err error
		switch w.Role {
		case RoleFaulter:
			x := w.rng.Float64()
			switch {
			case x < sc.Stores:
				t := w.startSampled()
				err = w.store(in, p, w.chance(gup))
				w.stopTimer(KStore, t)
			case x < sc.Stores+sc.Loads:
				t := w.startSampled()
				_, err = w.load(in, p, sc.FaultAround, sc.NaiveFaultAround && in.naiveOK)
				w.stopTimer(KLoad, t)
			default:
				w.zap(in, p)
			}
		case RoleWriter:
			err = w.write(in, min(p, in.npages-np), np, sc.WriteFailRate)
		case RoleReader:
			_, err = w.read(in, min(p, in.npages-np), np)
		}
		if err != nil {
			return err
		}
	}
	w.prog.Add(1)
	return nil
}

func (w *Worker) pick(pt Pattern, span int) int {
	if pt == HotSpot && span >= 10 && w.rng.Uint32()%10 != 0 {
		return w.intn(span / 10)
	}
	return w.intn(span)
}

// background runs an fsync thread, puncher, truncater, flusher, reclaimer or
// inliner until stop.
func (w *Worker) background(in *Inode, cfg *Config, spec RoleSpec, stop *atomic.Bool) error {
	sc := &cfg.Scenario
	var log []logRecord
	if w.Role == RoleFsync {
		log = make([]logRecord, 0, in.npages*2)
	}
	next := time.Now()
	for i := int64(0); !stop.Load(); i++ {
		w.opIndex = i
		w.prog.Store(i)
		var err error
		switch w.Role {
		case RoleFsync:
			err = w.fsync(in, &log)
		case RolePuncher:
			n := max(sc.PunchPages, 1)
			err = w.punch(in, w.intn(max(in.npages-n, 1)), n)
		case RoleTruncater:
			err = w.truncate(in, in.npages/2+w.intn(in.npages/2))
		case RoleFlusher:
			for p := 0; p < in.npages && !stop.Load(); p++ {
				if in.pages[p].state.Load()&pgDirty != 0 {
					if err = w.writebackPage(in, p, false); err != nil {
						break
					}
				}
			}
		case RoleReclaimer:
			t := w.startSampled()
			w.reclaim(in, w.intn(in.npages))
			w.stopTimer(KReclaim, t)
		case RoleInliner:
			if err = w.reinline(in, sc.InlineBlocks); err == nil {
				w.finishReinline(in, sc.InlineBlocks)
			}
		}
		if err != nil {
			return err
		}
		w.win.tick(&w.ops, w.clk.Now())
		if spec.Interval > 0 {
			next = next.Add(spec.Interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			} else {
				next = time.Now()
			}
		} else if w.Role == RoleReclaimer || w.Role == RoleFlusher {
			yield()
		}
	}
	return nil
}

// merge sums the workers' private state after they joined.
func merge(workers []*Worker, elapsed time.Duration, clk *clock.Clock) results.Rep {
	rep := results.Rep{Elapsed: elapsed, TimerFloor: clk.Floor()}
	roles := map[Kind]map[string]bool{}
	var hist [NumKinds]*hdrhistogram.Histogram
	var ops [NumKinds]int64
	var all []*series
	for _, w := range workers {
		for k := Kind(0); k < NumKinds; k++ {
			if w.ops[k] == 0 {
				continue
			}
			ops[k] += w.ops[k]
			if hist[k] == nil {
				hist[k] = hdrhistogram.New(1, 100_000_000_000, 3)
			}
			hist[k].Merge(w.hist[k])
			if roles[k] == nil {
				roles[k] = map[string]bool{}
			}
			roles[k][w.Role.String()] = true
		}
		rep.Counters.Add(&w.ctr)
		var total int64
		for _, n := range w.ops {
			total += n
		}
		rep.Workers = append(rep.Workers, results.Worker{ID: w.ID, Role: w.Role.String(), CPU: w.CPU, Ops: total})
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
		if sampled(k) {
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
	sort.Slice(rep.Exclusive, func(i, j int) bool { return rep.Exclusive[i].Start < rep.Exclusive[j].Start })
	return rep
}

// latencyOf summarises a histogram; percentiles are capped at the max (the
// HDR bucket's upper edge can exceed the largest value recorded).
func latencyOf(h *hdrhistogram.Histogram) results.Latency {
	if h == nil || h.TotalCount() == 0 {
		return results.Latency{}
	}
	mx := h.Max()
	q := func(p float64) time.Duration { return time.Duration(min(h.ValueAtQuantile(p), mx)) }
	return results.Latency{
		Samples: h.TotalCount(), Mean: time.Duration(h.Mean()),
		P50: q(50), P90: q(90), P99: q(99), P999: q(99.9), Max: time.Duration(mx),
	}
}
