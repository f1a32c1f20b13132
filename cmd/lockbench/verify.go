//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/reports"
	"lockbench/results"
	"lockbench/strategies"
)

// expectViolated reads the strategies' registry: V means race r is expected
// to get through strategy sn (for none it must; for the others it is reported
// as measured); S cells must show 0 violations.
func expectViolated(sn string, r strategies.Race) bool {
	info, err := strategies.Lookup(sn)
	return err == nil && info.Expect[r] == strategies.Violated
}

// holetest runs the fstests generic/344 and 346 replica for every file kind,
// size, with and without prefaulting reads, with stores or pwrite() for the
// second thread (whose copies fail short at 5%, a fault on its buffer).
func holetest(ctx context.Context, st strategies.Strategy, dir string, sizes []int64, seed uint64, delay time.Duration) (results.VerifyCell, error) {
	c := results.VerifyCell{Scenario: "holetest", Race: "R1", Seed: seed, Expect: results.Safe, Verdict: results.Safe, Seeds: 1}
	var dc *hotpath.DelayConfig
	if delay > 0 {
		// R1 needs the store thread's fault in flight while the failed
		// write's cleanup punches the block the fault is filling: the
		// fault waits between its extent lookup and the fill
		// (fault-fill) as the write waits before its copy and its
		// cleanup. Without it the race needs the two threads truly in
		// parallel: with GOMAXPROCS=1 none never lost a store, and inside
		// the study (500ms cells) it missed R1 in half the runs
		// (docs/MEASUREMENTS.md, issue 20's R1 on holetest).
		dc = &hotpath.DelayConfig{For: delay, Points: []string{"write-copy", "cleanup", "fault-fill"}}
	}
	run := hotpath.HoleTest
	if st == nil { // the kernel engine: the replica on the real kernel, as fstests run it
		run, dc = hotpath.KernelHoleTest, nil
	}
	for _, size := range sizes {
		for k := range hotpath.HoleKindNames {
			for _, pre := range []bool{false, true} {
				for _, pw := range []bool{false, true} {
					r, err := run(ctx, hotpath.HoleConfig{Strategy: st, Dir: dir, Size: size, Kind: hotpath.HoleKind(k),
						PreRead: pre, PWrite: pw, FailRate: 0.05, Seed: seed, Delay: dc})
					if err != nil {
						return c, err
					}
					c.Ops += 2 * int64(r.Pages)
					if r.Missing > 0 {
						if c.Violations == 0 {
							c.Detail = fmt.Sprintf("I1/R1: %s file of %d MiB (prefault %v, pwrite %v): %d of %d pages lost an id; %s",
								hotpath.HoleKindNames[k], size>>20, pre, pw, r.Missing, r.Pages, r.Detail)
							c.FirstAt = int64(r.First)
						}
						c.Violations += int64(r.Missing)
						c.Verdict = results.Violated
						c.Reproduced = 1
					}
				}
			}
		}
	}
	return c, nil
}

// raceScenarios returns the scenarios that reproduce a race, in table order.
func raceScenarios() []string {
	var out []string
	for _, s := range hotpath.Scenarios {
		if s.Race != strategies.NoRace {
			out = append(out, s.Name)
		}
	}
	return out
}

// parseBudget parses "2s" (time per cell) or "1000000ops" (operations per cell).
func parseBudget(s string) (time.Duration, int64, error) {
	if n, ok := strings.CutSuffix(s, "ops"); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, 0, usagef("-budget %q: the count is too large (at most %d operations)", s, int64(math.MaxInt64))
		}
		if err != nil || v <= 0 {
			return 0, 0, usagef("-budget %q: want a positive count such as 1000000ops or a duration such as 2s", s)
		}
		return 0, v, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, usagef("-budget %q: want a positive duration such as 2s or a count such as 1000000ops", s)
	}
	return d, 0, nil
}

// verifyFlags are verify's flags.
type verifyFlags struct {
	strategy, scenario, budget, seed, target, out, holeSizes, fallback string
	threads, seeds, chase                                              int
	delay                                                              time.Duration
	gup                                                                float64
}

func (v *verifyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.strategy, "strategy", "all", "comma list of strategies: "+strings.Join(hotpath.StrategyNames(), ", ")+", or all ("+hotpath.KernelName+": the real kernel, with its read-back control; -delay and faultretry's options do not apply to it)")
	fs.StringVar(&v.scenario, "scenario", "all", "comma list of race scenarios: "+strings.Join(raceScenarios(), ", ")+", holetest, or all")
	fs.StringVar(&v.budget, "budget", "2s", "budget per cell: a duration (2s) or an operation count (1000000ops)")
	fs.IntVar(&v.threads, "threads", 2, "foreground workers per cell")
	fs.StringVar(&v.seed, "seed", "1", "seed (a replay gives the seed of a violating run)")
	fs.IntVar(&v.seeds, "seeds", 1, "run each cell with this many seeds (seed, seed+1, ...) and count how many reproduce")
	fs.IntVar(&v.chase, "chase", 3, "the baseline's cells that no seed reproduced get up to this many more seeds, stopping at the first that does (a race is timing: one seed can miss it)")
	fs.DurationVar(&v.delay, "delay", 50*time.Microsecond, "delay injection at each scenario's race points (0: off)")
	fs.StringVar(&v.target, "target", "tmpfs", "target (as for run)")
	fs.StringVar(&v.out, "o", verifyResults, "results file with the matrix (empty: none)")
	fs.StringVar(&v.holeSizes, "holetest-sizes", "1M,16M", "file sizes of the fstests 344/346 replica (1M,16M,256M in fstests; empty: skip it)")
	fs.Float64Var(&v.gup, "gup-share", 0, "faultretry: share of stores from get_user_pages callers, in [0,1]")
	fs.StringVar(&v.fallback, "fallback", "sigbus", "faultretry: "+strings.Join(strategies.FallbackNames, ", "))
}

// verifyPlan is a validated verify command line.
type verifyPlan struct {
	strategies []string
	scenarios  []hotpath.Scenario
	holetest   []int64 // sizes; nil: no holetest
	dur        time.Duration
	ops        int64
	seed       uint64
	opts       strategies.Options
	targets    []hardware.TargetSpec
	kernelSkip map[string]bool // scenarios the kernel engine has no counterpart for
	runRep     repRunner       // nil: hotpath.Run
}

func (v *verifyFlags) validate() (*verifyPlan, error) {
	p := &verifyPlan{}
	var err error
	if p.strategies, err = parseList(v.strategy, hotpath.StrategyNames(), "-strategy"); err != nil {
		return nil, err
	}
	scs, err := parseList(v.scenario, append(raceScenarios(), "holetest"), "-scenario")
	if err != nil {
		return nil, err
	}
	if v.scenario == "all" {
		scs = raceScenarios()
	}
	for _, n := range scs {
		if sc, err := hotpath.LookupScenario(n); err == nil {
			p.scenarios = append(p.scenarios, sc)
		}
	}
	if p.kernelSkip, err = verifyKernelSkips(v, p); err != nil {
		return nil, err
	}
	if p.dur, p.ops, err = parseBudget(v.budget); err != nil {
		return nil, err
	}
	if p.seed, err = strconv.ParseUint(v.seed, 10, 64); err != nil {
		return nil, usagef("-seed %q is not an unsigned integer", v.seed)
	}
	switch {
	case v.seeds < 1 || v.seeds > 10000:
		return nil, usagef("-seeds must be between 1 and 10000, got %d", v.seeds)
	case v.chase < 0 || v.chase > 10000:
		return nil, usagef("-chase must be between 0 and 10000, got %d", v.chase)
	case v.threads < 1 || v.threads > 4096:
		return nil, usagef("-threads must be between 1 and 4096, got %d", v.threads)
	case v.delay < 0 || v.delay > time.Second:
		return nil, usagef("-delay must be in [0, 1s], got %v", v.delay)
	}
	for _, sc := range p.scenarios {
		if err := hotpath.CheckWorkers(sc, v.threads, 4096, true); err != nil {
			return nil, flagError(err)
		}
	}
	if v.holeSizes != "" && (v.scenario == "all" || slices.Contains(scs, "holetest")) {
		for _, x := range strings.Split(v.holeSizes, ",") {
			n, err := hardware.ParseSize(strings.TrimSpace(x))
			if err != nil || n <= 0 || n%4096 != 0 {
				return nil, usagef("-holetest-sizes: %q is not a positive multiple of 4096 bytes (such as 1M)", x)
			}
			p.holetest = append(p.holetest, n)
		}
	}
	p.opts = strategies.Options{GUPShare: v.gup, Fallback: v.fallback}
	if err := p.opts.Validate(); err != nil {
		return nil, flagError(err)
	}
	if p.targets, err = hardware.ParseTargets(v.target); err != nil {
		return nil, usagef("-target: %v", err)
	}
	if len(p.targets) != 1 {
		return nil, usagef("-target: verify runs on one target, got %d in %q", len(p.targets), v.target)
	}
	return p, nil
}

// cmdVerify runs the race oracle in stages: parse and validate, check the
// output, prepare the target, run the matrix (the cells of the grid, one
// repetition per seed) and the holetest replica, and emit.
func cmdVerify(ctx context.Context, rr repRunner, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify")
	var v verifyFlags
	v.register(fs)
	if done, err := parseNoArgs(fs, args, stdout); done || err != nil {
		return err
	}
	p, err := v.validate()
	if err != nil {
		return err
	}
	p.runRep = rr
	if v.out != "" {
		if err := checkOutputPath("-o", v.out); err != nil {
			return err
		}
	}
	noteReplace(stderr, fs, "o", v.out, "this verify")
	if p.ops > 0 && v.delay > 0 {
		fmt.Fprintf(stderr, "lockbench: -budget %s runs every cell to that many operations with -delay %s at each race point, "+
			"so a cell lasts as long as its delayed operations take (minutes where most operations meet a delay); a time budget (-budget 2s) bounds it\n",
			v.budget, durationArg(v.delay))
	}
	machine, err := hardware.Detect()
	if err != nil {
		return err
	}
	return withTargets(ctx, p.targets, stderr, func(targets []hardware.Target) error {
		m := &results.Matrix{Budget: v.budget, FSType: targets[0].FSType}
		progress := newProgress(stderr, len(p.strategies)*(len(p.scenarios)+min(len(p.holetest), 1)), false)
		runErr := verifyMatrix(ctx, &v, p, targets[0], m, progress)
		if runErr == nil && ctx.Err() == nil {
			runErr = verifyHoletest(ctx, &v, p, targets[0], m, progress)
		}
		if runErr == nil && ctx.Err() == nil && slices.Contains(p.strategies, hotpath.KernelName) {
			runErr = verifyKernelControl(ctx, &v, p, targets[0], m)
		}
		progress.done()
		file := &results.File{Schema: results.SchemaVersion, Tool: "lockbench", Command: "verify " + strings.Join(args, " "), Version: buildVersion(), Created: time.Now().UTC(),
			Machine: machine.Desc(), Verify: m, Incomplete: ctx.Err() != nil || runErr != nil, Cells: []results.Cell{}}
		if runErr != nil {
			file.Error = runErr.Error()
		}
		return emitMatrix(ctx, file, &v, p, runErr, stdout)
	})
}

// verifyMatrix runs every race cell once per seed; a cell shows the first
// violating seed's run and how many seeds reproduced.
func verifyMatrix(ctx context.Context, v *verifyFlags, p *verifyPlan, tgt hardware.Target, m *results.Matrix, progress *progress) (err error) {
	// verify's grid is scenario-major: one target, one thread count.
	var cur *results.VerifyCell
	var st strategies.Strategy
	var curSc hotpath.Scenario
	var chaseErr error
	keep := func() {
		if cur != nil {
			if chaseErr == nil {
				chaseErr = chaseBaseline(ctx, v, p, tgt, st, curSc, cur, progress)
			}
			cur.Matches = matches(*cur)
			m.Cells = append(m.Cells, *cur)
			cur = nil
		}
	}
	defer func() {
		keep()
		if err == nil {
			err = chaseErr
		}
	}()
	for _, sc := range p.scenarios {
		g := grid{strategies: p.strategies, scenarios: []hotpath.Scenario{sc}, threads: []int{v.threads}, targets: []hardware.Target{tgt}, reps: v.seeds}
		for pt := range g.points() {
			if ctx.Err() != nil {
				return nil
			}
			if pt.Strategy == hotpath.KernelName && p.kernelSkip[sc.Name] {
				continue
			}
			if pt.Rep == 0 {
				keep()
				progress.cell(len(m.Cells)+1, pt.Strategy+" "+sc.Name)
				var err error
				if st, err = newStrategy(pt.Strategy, p.opts); err != nil {
					return usageError{err}
				}
				curSc = sc
			}
			ci, err := verifySeed(ctx, v, p, tgt, pt.Strategy, st, sc, p.seed+uint64(pt.Rep), progress)
			if err != nil {
				return err
			}
			if cur == nil {
				first := ci
				first.Seeds, first.Reproduced, first.Ops = 0, 0, 0
				cur = &first
			}
			mergeSeed(cur, ci)
		}
	}
	return nil
}

// verifySeed runs one seed of one cell under the oracle and returns its
// verdict, with a replay command when it is not safe.
func verifySeed(ctx context.Context, v *verifyFlags, p *verifyPlan, tgt hardware.Target, name string, st strategies.Strategy, sc hotpath.Scenario, seed uint64, progress *progress) (results.VerifyCell, error) {
	start := time.Now()
	cfg := hotpath.Config{
		Strategy: st, Scenario: sc, Threads: v.threads, Duration: p.dur, OpLimit: p.ops,
		Seed: seed, Dir: tgt.Path, Oracle: true, GUPShare: v.gup, Watchdog: 5 * time.Second, Direct: true,
		Progress: opsProgress(progress, seed, p.ops, p.dur, start),
	}
	if v.delay > 0 {
		cfg.Delay = &hotpath.DelayConfig{For: v.delay, Points: sc.Delays}
	}
	kernelConfig(&cfg, name)
	rep, err := p.runRep.run(ctx, cfg)
	var dl *hotpath.DeadlockError
	if err != nil && !errors.As(err, &dl) {
		return results.VerifyCell{}, fmt.Errorf("verify %s %s: %w", name, sc.Name, err)
	}
	ci := verdict(name, sc, rep, seed)
	if ci.Verdict != results.Safe {
		ci.Replay = shellCommand("run", replayArgs(name, sc.Name, seed, v, p))
	}
	return ci, nil
}

// opsProgress is a run's progress callback for verify's progress line:
// the operations done, and the share of the cell done, which sets the
// line's ETA. Under an operation budget the share comes from the recent
// rate, not the count: the workers split the budget evenly, the fast ones
// finish first, and the cell then moves at the pace of the slow one (a
// writer whose every write meets a delay).
func opsProgress(progress *progress, seed uint64, budget int64, dur time.Duration, start time.Time) func(int64) {
	var lastOps int64
	lastT, rate := start, 0.0
	return func(ops int64) {
		now := time.Now()
		if budget == 0 {
			progress.within(float64(now.Sub(start))/float64(dur), fmt.Sprintf("seed %d: %s ops", seed, reports.FormatCount(ops)))
			return
		}
		if dt := now.Sub(lastT).Seconds(); dt > 0 && ops > lastOps {
			r := float64(ops-lastOps) / dt
			if rate == 0 {
				rate = r
			}
			rate = 0.5*rate + 0.5*r
		}
		lastOps, lastT = ops, now
		frac := float64(ops) / float64(budget)
		if el := now.Sub(start).Seconds(); rate > 0 && ops < budget {
			frac = el / (el + float64(budget-ops)/rate)
		}
		progress.within(frac, fmt.Sprintf("seed %d: %s of %s ops", seed, reports.FormatCount(ops), reports.FormatCount(budget)))
	}
}

// chaseBaseline gives a cell of the baseline strategy that no seed
// reproduced up to -chase more seeds (after the ones -seeds ran), stopping
// at the first that reproduces, so that one unlucky seed does not make the
// oracle look blind. Every seed run is counted in the cell.
func chaseBaseline(ctx context.Context, v *verifyFlags, p *verifyPlan, tgt hardware.Target, st strategies.Strategy, sc hotpath.Scenario, c *results.VerifyCell, progress *progress) error {
	if c.Strategy != strategies.Baseline() || c.Verdict != results.Safe {
		return nil
	}
	for i := 0; i < v.chase && c.Verdict == results.Safe && ctx.Err() == nil; i++ {
		ci, err := verifySeed(ctx, v, p, tgt, c.Strategy, st, sc, p.seed+uint64(v.seeds+i), progress)
		if err != nil {
			return err
		}
		mergeSeed(c, ci)
	}
	return nil
}

// mergeSeed adds the verdict ci of one more seed to cell c, which starts
// as the first seed's verdict with nothing counted: the cell keeps the
// first violating seed's run and counts seeds, reproductions and ops.
func mergeSeed(c *results.VerifyCell, ci results.VerifyCell) {
	seeds, reproduced, ops := c.Seeds+1, c.Reproduced, c.Ops+ci.Ops
	if ci.Verdict != results.Safe {
		reproduced++
	}
	if c.Verdict == results.Safe && ci.Verdict != results.Safe {
		*c = ci
	}
	c.Seeds, c.Reproduced, c.Ops = seeds, reproduced, ops
}

// verifyHoletest runs the fstests 344/346 replica for every strategy.
func verifyHoletest(ctx context.Context, v *verifyFlags, p *verifyPlan, tgt hardware.Target, m *results.Matrix, progress *progress) error {
	for _, sn := range p.strategies {
		if len(p.holetest) == 0 || ctx.Err() != nil {
			return nil
		}
		progress.cell(len(m.Cells)+1, sn+" holetest")
		st, err := newStrategy(sn, p.opts)
		if err != nil {
			return usageError{err}
		}
		c, err := holetest(ctx, st, tgt.Path, p.holetest, p.seed, v.delay)
		if err != nil {
			return fmt.Errorf("verify %s holetest: %w", sn, err)
		}
		// The baseline's cell is chased as a race scenario's is
		// (chaseBaseline): up to -chase more seeds while none held.
		for i := 0; sn == strategies.Baseline() && c.Verdict == results.Safe && i < v.chase && ctx.Err() == nil; i++ {
			ci, err := holetest(ctx, st, tgt.Path, p.holetest, p.seed+uint64(1+i), v.delay)
			if err != nil {
				return fmt.Errorf("verify %s holetest: %w", sn, err)
			}
			mergeSeed(&c, ci)
		}
		c.Strategy = sn
		if c.Verdict != results.Safe {
			seeded := *p
			seeded.seed = c.Seed // the seed that reproduced it
			c.Replay = shellCommand("verify", holetestReplayArgs(sn, v, &seeded))
		}
		if expectViolated(sn, strategies.R1) {
			c.Expect = results.Violated
		}
		c.Matches = matches(c)
		m.Cells = append(m.Cells, c)
	}
	return nil
}

// emitMatrix writes the results file, then the matrix on stdout, then says
// how verify ended.
func emitMatrix(ctx context.Context, file *results.File, v *verifyFlags, p *verifyPlan, runErr error, stdout io.Writer) error {
	if v.out != "" {
		if err := results.WriteFile(v.out, file); err != nil {
			return joinErrors(runErr, err)
		}
	}
	var scs []string
	for _, sc := range p.scenarios {
		scs = append(scs, sc.Name)
	}
	if len(p.holetest) > 0 {
		scs = append(scs, "holetest")
	}
	if slices.Contains(p.strategies, hotpath.KernelName) {
		scs = append(scs, kernelControlName)
	}
	if err := reports.WriteMatrix(stdout, file.Verify, p.strategies, scs); err != nil {
		return joinErrors(runErr, err)
	}
	if v.out != "" {
		fmt.Fprintf(stdout, "results: %s\n", v.out)
	}
	switch {
	case runErr != nil:
		return fmt.Errorf("%w (%s finished before it kept, marked incomplete)", runErr, plural(len(file.Verify.Cells), "cell"))
	case ctx.Err() != nil:
		return errors.New("interrupted: the matrix is incomplete")
	}
	for _, c := range file.Verify.Cells {
		if !c.Matches {
			return errMismatch
		}
	}
	return nil
}

// verdict is one seed's run of a race cell: safe, violated (with the
// earliest detection of the scenario's own race) or deadlocked.
func verdict(sn string, sc hotpath.Scenario, rep results.Rep, seed uint64) results.VerifyCell {
	c := results.VerifyCell{Strategy: sn, Scenario: sc.Name, Race: sc.Race.String(), Seed: seed, Verdict: results.Safe, Expect: results.Safe}
	if expectViolated(sn, sc.Race) {
		c.Expect = results.Violated
	}
	for _, w := range rep.Workers {
		c.Ops += w.Ops
	}
	switch {
	case rep.Deadlock != "":
		c.Verdict = results.Deadlock
		c.Detail = rep.Deadlock
	case len(rep.Violations) > 0:
		c.Verdict = results.Violated
		c.Violations = max(rep.ViolationsTotal, int64(len(rep.Violations)))
		// Show the earliest online detection of the scenario's own race,
		// else the earliest of any.
		rank := func(v results.Violation) int {
			r := 0
			if v.Race != sc.Race.String() {
				r += 2
			}
			if v.Worker < 0 {
				r++ // end-of-run scan: no op index
			}
			return r
		}
		first := rep.Violations[0]
		for _, v := range rep.Violations {
			if rank(v) < rank(first) || rank(v) == rank(first) && v.Op < first.Op {
				first = v
			}
		}
		c.FirstAt = first.Op
		c.Detail = fmt.Sprintf("%s/%s: %s", first.Invariant, first.Race, first.Detail)
	}
	return c
}

// replayArgs is the run command line (after "run") that repeats one seed
// of a verify cell: its strategy, scenario, threads, seed, budget (-ops for
// an operation budget, -duration for a time budget) and target, and for
// the model also the oracle, the delay injection and the strategy's
// options (the keys of strategies.Options.String are run's flag names).
// It writes replayResults, so that a replay replaces neither verify's
// file nor a run's.
func replayArgs(sn, scn string, seed uint64, v *verifyFlags, p *verifyPlan) []string {
	a := []string{"-strategy", sn, "-scenario", scn, "-threads", strconv.Itoa(v.threads), "-seed", strconv.FormatUint(seed, 10)}
	if p.ops > 0 {
		a = append(a, "-ops", strconv.FormatInt(p.ops, 10))
	} else {
		a = append(a, "-duration", p.dur.String())
	}
	a = append(a, "-target", v.target)
	if sn != hotpath.KernelName {
		a = append(a, "-oracle", "-delay", durationArg(v.delay))
		a = append(a, optionFlags(sn, p.opts, nil)...)
	}
	return append(a, "-o", replayResults)
}

// durationArg is d as a flag value in ASCII: "50us", not Go's "50µs",
// whose µ some shells and terminals mangle (time.ParseDuration takes both).
func durationArg(d time.Duration) string {
	return strings.ReplaceAll(d.String(), "µ", "u")
}

// optionFlags are the flags that set o again for strategy sn ("-gup-share=0.5",
// ...; none for a strategy that takes no options): the pairs of
// strategies.Options.String, whose keys are the flags' names, left out
// where fs (when not nil) has no such flag.
func optionFlags(sn string, o strategies.Options, fs *flag.FlagSet) []string {
	info, err := strategies.Lookup(sn)
	if err != nil || !info.TakesOptions {
		return nil
	}
	var a []string
	for _, kv := range strings.Split(o.String(), ",") {
		if k, _, _ := strings.Cut(kv, "="); fs == nil || fs.Lookup(k) != nil {
			a = append(a, "-"+kv)
		}
	}
	return a
}

// holetestReplayArgs is the verify command line (after "verify") that
// repeats strategy sn's holetest cell: its seed, sizes, target and, for the
// model, the delay injection and the options verify has flags for (it has
// no -retry-contended, which is never set in verify).
func holetestReplayArgs(sn string, v *verifyFlags, p *verifyPlan) []string {
	a := []string{"-strategy", sn, "-scenario", "holetest", "-seed", strconv.FormatUint(p.seed, 10),
		"-holetest-sizes", v.holeSizes, "-target", v.target}
	if sn != hotpath.KernelName {
		fs := newFlagSet("verify")
		new(verifyFlags).register(fs)
		a = append(append(a, "-delay", durationArg(v.delay)), optionFlags(sn, p.opts, fs)...)
	}
	return append(a, "-o", replayResults)
}

// shellCommand is the shell command that runs lockbench's subcommand cmd
// with args, each argument quoted when the shell would split or expand it.
func shellCommand(cmd string, args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsFunc(a, func(r rune) bool { return strings.ContainsRune(" \t\n'\"\\$`*?[]{}()<>|&;~#!", r) }) {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return "go run ./cmd/lockbench " + cmd + " " + strings.Join(q, " ")
}

// matches says whether a cell meets its expectation: S cells must be safe;
// the baseline (strategies.Baseline, none) must be violated; other V cells
// are reported as measured.
func matches(c results.VerifyCell) bool {
	if c.Expect == results.Safe {
		return c.Verdict == results.Safe
	}
	if c.Strategy == strategies.Baseline() {
		return c.Verdict != results.Safe
	}
	return true
}
