//go:build linux

package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/hotpath/clock"
	"lockbench/reports"
	"lockbench/results"
	"lockbench/strategies"
)

// runFlags are the flags of run and sweep; the default study fills them in
// code (study.go). verify has flags of its own (verify.go).
type runFlags struct {
	strategy, scenario, threads, target, pin, format, out, html, clockKind, fallback string
	rolePlace, hdrLog, hdrOp                                                         string
	duration, warmup, delay, watchdog                                                time.Duration
	ops                                                                              int64
	seed                                                                             uint64
	fileSize                                                                         string
	reps                                                                             int
	oracle, retryContended, quiet, locks                                             bool
	gupShare                                                                         float64
	window                                                                           time.Duration   // time-series window; 0: hotpath's default
	set                                                                              map[string]bool // flags given on the command line
	cal                                                                              calibFlags
}

func (f *runFlags) register(fs *flag.FlagSet, defStrategy, defScenario string) {
	fs.StringVar(&f.strategy, "strategy", defStrategy, "comma list of strategies: "+strings.Join(hotpath.StrategyNames(), ", ")+", or all ("+hotpath.KernelName+": the real kernel on the target)")
	fs.StringVar(&f.scenario, "scenario", defScenario, "comma list of scenarios: "+strings.Join(hotpath.ScenarioNames(), ", ")+", or all")
	fs.StringVar(&f.threads, "threads", "2", "foreground workers: a list such as 1,2,4 or a range 1..max (at most 4096, and what memory holds: about 600 KiB per worker, 2.4 GiB at 4096)")
	fs.DurationVar(&f.duration, "duration", 2*time.Second, "measured time per repetition")
	fs.Int64Var(&f.ops, "ops", 0, "total foreground operations per repetition, split evenly across the foreground workers, instead of -duration (0: use -duration)")
	fs.StringVar(&f.target, "target", "tmpfs", "comma list of targets: tmpfs, dir:PATH, auto (tmpfs and the temp dir), loop:ext4|xfs|btrfs[:SIZE] (an image on the temp dir), zram:ext4|xfs|btrfs[:SIZE] (a compressed RAM block device); loop and zram need root")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of every random choice (printed with results)")
	fs.StringVar(&f.fileSize, "file-size", "", "file size (bytes, or with a "+hardware.SizeSuffixes+" suffix; a multiple of the page size; the target needs twice it free); default: the scenario's")
	fs.IntVar(&f.reps, "reps", 1, "repetitions per cell (after -warmup)")
	fs.DurationVar(&f.warmup, "warmup", 0, "discarded warm-up run per cell")
	fs.StringVar(&f.pin, "pin", "none", "worker placement: none, compact, scatter, smt-pairs, cpus=LIST")
	fs.StringVar(&f.format, "format", "text", "output format on stdout: "+strings.Join(reports.Formats, ", "))
	fs.StringVar(&f.out, "o", runResults, "results file, JSON, gzip-compressed when the name ends in .gz (written atomically, or through for a device or FIFO; empty: none)")
	fs.StringVar(&f.html, "html", "", "also write a self-contained HTML report to this file")
	fs.StringVar(&f.clockKind, "clock", "auto", "timer: "+strings.Join(clock.KindNames(), ", "))
	fs.BoolVar(&f.oracle, "oracle", false, "check invariants I1-I5 while running (costs time)")
	fs.DurationVar(&f.delay, "delay", 0, "delay injection at the scenario's race points (e.g. 50us; 0: off; reported when on)")
	fs.DurationVar(&f.watchdog, "watchdog", 10*time.Second, "report a deadlock (exit 1) when no worker progresses for this long; must exceed what -delay needs")
	fs.Float64Var(&f.gupShare, "gup-share", 0, "faultretry: share of stores from get_user_pages callers that cannot retry, in [0,1]")
	fs.StringVar(&f.fallback, "fallback", "sigbus", "faultretry: answer for faults that cannot retry: "+strings.Join(strategies.FallbackNames, ", "))
	fs.BoolVar(&f.retryContended, "retry-contended", false, "faultretry: also retry faults that find IL contended")
	fs.BoolVar(&f.quiet, "q", false, "no progress on stderr")
	fs.BoolVar(&f.locks, "locks", false, "lock-wait tables per cell: the model counts every lock acquisition and times exclusive holds (costs time), the kernel's lock waits are traced (lock:contention_begin/end, needs root); contended model waits are recorded in the results file either way")
	fs.StringVar(&f.rolePlace, "role-place", "", "place the exclusive roles (fsync, puncher, truncater) relative to the first faulter: "+strings.Join(hardware.RolePlacementNames, ", ")+" (needs -pin)")
	fs.StringVar(&f.hdrLog, "hdr-log", "", "also write the latency histograms of -hdr-op as an HdrHistogram log to this file")
	fs.StringVar(&f.hdrOp, "hdr-op", "write-fault", "operation whose histograms -hdr-log exports")
}

// plan is a validated command line: the cells to run.
type plan struct {
	// cals, set by the study's -calibrate, are the calibrations its model
	// cells spend, by target spec (run and sweep keep theirs in session).
	cals       map[string]*results.Calibration
	strategies []string
	scenarios  []hotpath.Scenario
	threads    []int
	targets    []hardware.TargetSpec
	fileSize   int64
	opts       strategies.Options
	policy     hardware.Policy
	rolePlace  hardware.RolePlacement
	clk        *clock.Clock
	// kernelSkip holds the scenarios the kernel engine skips; note says so.
	kernelSkip map[string]bool
	note       string
	runRep     repRunner // runs each repetition; nil: hotpath.Run
}

func (f *runFlags) validate() (*plan, error) {
	p := &plan{}
	for _, stage := range []func(*plan) error{f.validateCells, f.validateFileSize, f.validateOutput, f.validateTiming, f.validatePlacement, f.validateMemory} {
		if err := stage(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// validateCells checks what spans the cells: strategies, scenarios,
// threads, targets, and the budget of each repetition.
func (f *runFlags) validateCells(p *plan) error {
	var err error
	if p.strategies, err = parseStrategies(f.strategy); err != nil {
		return err
	}
	names, err := parseList(f.scenario, hotpath.ScenarioNames(), "-scenario")
	if err != nil {
		return err
	}
	for _, n := range names {
		sc, _ := hotpath.LookupScenario(n)
		p.scenarios = append(p.scenarios, sc)
	}
	if p.note, err = p.checkKernel(f); err != nil {
		return err
	}
	if p.threads, err = parseThreads(f.threads); err != nil {
		return err
	}
	if p.targets, err = hardware.ParseTargets(f.target); err != nil {
		return usagef("-target: %v", err)
	}
	kernelOrOracle := f.oracle || slices.Contains(p.strategies, hotpath.KernelName)
	for _, sc := range p.scenarios {
		if err := hotpath.CheckWorkers(sc, slices.Max(p.threads), 4096, kernelOrOracle); err != nil {
			return flagError(err)
		}
	}
	switch {
	case f.ops < 0:
		return usagef("-ops must be >= 0, got %d", f.ops)
	case f.ops > 0 && f.set["duration"]:
		return usagef("-ops %d and -duration %v are both given: -ops runs that many operations instead of running for -duration; give one of them", f.ops, f.duration)
	case f.ops == 0 && f.duration <= 0:
		return usagef("-duration must be > 0, got %v", f.duration)
	case f.reps < 1 || f.reps > 1000:
		return usagef("-reps must be between 1 and 1000, got %d", f.reps)
	case f.warmup < 0:
		return usagef("-warmup must be >= 0, got %v", f.warmup)
	}
	return nil
}

// validateFileSize parses -file-size with the one size parser.
func (f *runFlags) validateFileSize(p *plan) error {
	if f.fileSize == "" {
		return nil
	}
	n, err := hardware.ParseSize(f.fileSize)
	if err != nil {
		return usagef("-file-size: %v", err)
	}
	if n <= 0 || n%4096 != 0 {
		return usagef("-file-size must be a positive multiple of the page size 4096, got %d", n)
	}
	for _, sc := range p.scenarios {
		if min := int64(sc.MinPages()) * 4096; n < min {
			return usagef("-file-size must be at least %d bytes for scenario %s, got %d", min, sc.Name, n)
		}
	}
	p.fileSize = n
	return nil
}

// validateOutput checks -format and -hdr-op.
func (f *runFlags) validateOutput(p *plan) error {
	if !validFormat(f.format) {
		return usagef("-format %q is unknown (allowed: %s)", f.format, strings.Join(reports.Formats, ", "))
	}
	if f.hdrLog == "" {
		return nil
	}
	if !slices.Contains(hotpath.KindNames(), f.hdrOp) {
		return usagef("-hdr-op %q is not an operation (allowed: %s)", f.hdrOp, strings.Join(hotpath.KindNames(), ", "))
	}
	for _, sc := range p.scenarios {
		if producesOp(sc, f.hdrOp) {
			return nil
		}
	}
	return usagef("-hdr-op %s: no scenario of -scenario %s has a %s worker, so -hdr-log would have no histogram", f.hdrOp, f.scenario, opRole[f.hdrOp])
}

// opRole is the worker role that performs an operation, for the operations
// only one role performs (writeback and read-fault have several sources).
var opRole = map[string]hotpath.Role{
	"store": hotpath.RoleFaulter, "load": hotpath.RoleFaulter, "write-fault": hotpath.RoleFaulter,
	"write": hotpath.RoleWriter, "read": hotpath.RoleReader, "fsync": hotpath.RoleFsync,
	"punch": hotpath.RolePuncher, "truncate": hotpath.RoleTruncater, "reclaim": hotpath.RoleReclaimer,
	"re-inline": hotpath.RoleInliner,
}

// producesOp reports whether scenario sc can record operation op.
func producesOp(sc hotpath.Scenario, op string) bool {
	role, ok := opRole[op]
	if !ok {
		return true
	}
	return slices.ContainsFunc(sc.Roles, func(r hotpath.RoleSpec) bool { return r.Role == role })
}

// validateTiming checks -delay and -watchdog, and the clock.
func (f *runFlags) validateTiming(p *plan) error {
	if f.delay < 0 || f.delay > time.Second {
		return usagef("-delay must be in [0, 1s], got %v", f.delay)
	}
	if f.watchdog < minWatchdog {
		return usagef("-watchdog must be at least %v (shorter, a scheduling delay reads as a deadlock), got %v", minWatchdog, f.watchdog)
	}
	if f.delay > 0 {
		for _, sc := range p.scenarios {
			if need := watchdogNeed(f.delay, sc); f.watchdog < need {
				return usagef("-watchdog %v is shorter than the %v that -delay %v needs on scenario %s (%d delay points, up to %d pages each per operation, twice over): a false deadlock; give -watchdog %v or more",
					f.watchdog, need, f.delay, sc.Name, len(sc.Delays), delayPagesPerOp, need)
			}
		}
	}
	kind, err := clock.ParseKind(f.clockKind)
	if err != nil {
		return usagef("-clock: %v", err)
	}
	if p.clk, err = clock.New(kind); err != nil {
		return fmt.Errorf("-clock: %w", err)
	}
	return nil
}

// minWatchdog is the shortest -watchdog: a worker descheduled for a few
// milliseconds on a busy machine must not read as a deadlock.
const minWatchdog = 100 * time.Millisecond

// delayPagesPerOp bounds how many times one operation meets a delay point:
// write() delays before each page it copies, up to 16 per iteration.
const delayPagesPerOp = 16

// watchdogNeed is the shortest watchdog that delay injection of d on sc
// cannot trip by itself: every worker may sleep at every point of an
// operation for every page of it, with a factor of two of margin.
func watchdogNeed(d time.Duration, sc hotpath.Scenario) time.Duration {
	return 2 * d * delayPagesPerOp * time.Duration(max(len(sc.Delays), 1))
}

// validatePlacement checks the strategy options, -pin and -role-place.
func (f *runFlags) validatePlacement(p *plan) error {
	p.opts = strategies.Options{GUPShare: f.gupShare, Fallback: f.fallback, RetryOnContended: f.retryContended}
	if err := p.opts.Validate(); err != nil {
		return flagError(err)
	}
	var err error
	if p.policy, err = hardware.ParsePolicy(f.pin); err != nil {
		return usagef("-pin: %v", err)
	}
	if f.rolePlace == "" {
		return nil
	}
	if p.rolePlace, err = hardware.ParseRolePlacement(f.rolePlace); err != nil {
		return usagef("-role-place: %v", err)
	}
	if p.policy.Name == "none" {
		return usagef("-role-place %s needs a -pin policy other than none", f.rolePlace)
	}
	return nil
}

// memAvailable is the memory a run may count on; a variable so that tests
// can give a machine of known size.
var memAvailable = hardware.MemAvailable

// validateMemory bounds -file-size and -threads by what this machine's
// memory holds: the model keeps PageBytes per page and each worker takes
// WorkerBytes, and one run may take at most half of the available memory.
// Past that the Go runtime dies with "runtime: out of memory".
func (f *runFlags) validateMemory(p *plan) error {
	if err := f.validateLimits(p); err != nil {
		return err
	}
	avail, err := memAvailable()
	if err != nil {
		return nil // no /proc/meminfo: no bound to give
	}
	budget := int64(avail / 2)
	for _, sc := range p.scenarios {
		size := cmp.Or(p.fileSize, sc.FileSize)
		if need := hotpath.MemoryNeed(size, 4096, 1, f.oracle); need > budget {
			most := budget / hotpath.PageBytes(f.oracle) * 4096
			return usagef("-file-size %s needs %s of memory for the model (%d bytes per 4 KiB page) and one run may take half of the %s available: the largest -file-size here is %s",
				f.fileSize, hardware.FormatBytes(uint64(need)), hotpath.PageBytes(f.oracle), hardware.FormatBytes(avail), hardware.FormatBytes(uint64(most)))
		}
		th := slices.Max(p.threads)
		workers := th + backgroundWorkers(sc)
		if need := hotpath.MemoryNeed(size, 4096, workers, f.oracle); need > budget {
			most := (budget - hotpath.MemoryNeed(size, 4096, 0, f.oracle)) / hotpath.WorkerBytes()
			return usagef("-threads %d needs about %s of memory (%s per worker) and one run may take half of the %s available: at most %d threads here",
				th, hardware.FormatBytes(uint64(need)), hardware.FormatBytes(uint64(hotpath.WorkerBytes())), hardware.FormatBytes(avail), max(most-int64(backgroundWorkers(sc)), 0))
		}
	}
	return nil
}

// runtimeAddressSpace is the address space the Go runtime reserves
// besides the model (heap arenas, stacks, the binary): a run under a
// smaller RLIMIT_AS dies with "out of memory" before its first cell.
const runtimeAddressSpace = 512 << 20

// runtimeThreads is the threads the Go runtime and lockbench's own
// goroutines may take besides one per worker (GOMAXPROCS, sysmon, GC,
// blocked syscalls, the signal handler).
const runtimeThreads = 16

// validateLimits checks the resource limits that apply to this process
// before anything is measured: RLIMIT_AS (ulimit -v) against the model,
// the mapped backing files and the runtime, RLIMIT_NPROC (ulimit -u, not
// enforced on root) against one thread per worker and the runtime's,
// besides the tasks the user already runs (the limit counts them all).
// Past either, the run would die mid-cell and leave its files.
func (f *runFlags) validateLimits(p *plan) error {
	th := slices.Max(p.threads)
	if as, err := hardware.AddressSpaceLimit(); err == nil && as.Limited {
		for _, sc := range p.scenarios {
			size := cmp.Or(p.fileSize, sc.FileSize)
			need := hotpath.MemoryNeed(size, 4096, th+backgroundWorkers(sc), f.oracle) + 2*size + runtimeAddressSpace
			if uint64(need) > as.Value {
				return fmt.Errorf("RLIMIT_AS (ulimit -v) is %s and scenario %s with -threads %d needs about %s of address space (the model, two mapped backing files of %s and the Go runtime): raise the limit or lower -file-size or -threads",
					hardware.FormatBytes(as.Value), sc.Name, th, hardware.FormatBytes(uint64(need)), hardware.FormatBytes(uint64(size)))
			}
		}
	}
	if np, err := hardware.ProcessLimit(); err == nil && np.Limited {
		for _, sc := range p.scenarios {
			if need := th + backgroundWorkers(sc) + runtimeThreads; uint64(need)+np.InUse > np.Value {
				return fmt.Errorf("RLIMIT_NPROC (ulimit -u) is %d, this user's other processes and threads use %d and scenario %s with -threads %d needs about %d more (one per worker and the Go runtime's): raise the limit, end some of them or lower -threads",
					np.Value, np.InUse, sc.Name, th, need)
			}
		}
	}
	return nil
}

// backgroundWorkers counts the workers of sc that -threads does not scale.
func backgroundWorkers(sc hotpath.Scenario) int {
	n := 0
	for _, r := range sc.Roles {
		if !r.Role.Foreground() {
			n += r.Count
		}
	}
	return n
}

func validFormat(s string) bool {
	for _, f := range reports.Formats {
		if f == s {
			return true
		}
	}
	return false
}

// parseList parses a comma list of names from allowed, or "all".
func parseList(s string, allowed []string, flagName string) ([]string, error) {
	if s == "all" {
		return allowed, nil
	}
	var out []string
	for _, x := range strings.Split(s, ",") {
		x = strings.TrimSpace(x)
		ok := false
		for _, a := range allowed {
			ok = ok || a == x
		}
		if !ok {
			return nil, usagef("%s: unknown name %q (allowed: %s, all)", flagName, x, strings.Join(allowed, ", "))
		}
		if slices.Contains(out, x) {
			return nil, usagef("%s: %q is listed twice in %q", flagName, x, s)
		}
		out = append(out, x)
	}
	return out, nil
}

// parseThreads parses "2", "1,2,4" or "1..4" / "1..max" (max: the CPUs
// this process may use).
func parseThreads(s string) ([]int, error) {
	bad := func() error {
		return usagef("-threads must be a list of integers between 1 and 4096 such as 1,2,4 or a range such as 1..max, got %q", s)
	}
	if a, b, ok := strings.Cut(s, ".."); ok {
		lo, err := strconv.Atoi(a)
		if err != nil {
			return nil, bad()
		}
		hi := 0
		if b == "max" {
			hi = maxCPUs()
		} else if hi, err = strconv.Atoi(b); err != nil {
			return nil, bad()
		}
		if lo < 1 || hi > 4096 || lo > hi {
			return nil, bad()
		}
		var out []int
		for i := lo; i <= hi; i++ {
			out = append(out, i)
		}
		return out, nil
	}
	var out []int
	for _, x := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil || n < 1 || n > 4096 {
			return nil, bad()
		}
		if slices.Contains(out, n) {
			return nil, usagef("-threads: %d is listed twice in %q", n, s)
		}
		out = append(out, n)
	}
	return out, nil
}

func cmdRun(ctx context.Context, rr repRunner, name string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(name)
	var f runFlags
	f.register(fs, "rwsem", "fault-scale")
	f.cal.register(fs)
	if done, err := parseNoArgs(fs, args, stdout); done || err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	p, err := f.validate()
	if err != nil {
		return err
	}
	p.runRep = rr
	noteReplace(stderr, fs, "o", f.out, "this "+name)
	return execute(ctx, name+" "+strings.Join(args, " "), &f, p, stdout, stderr)
}

func maxCPUs() int {
	m, err := hardware.Detect()
	if err != nil || len(m.Allowed) == 0 {
		return 1
	}
	return len(m.Allowed)
}
