package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/hotpath/clock"
	"lockbench/reports"
	"lockbench/results"
	"lockbench/strategies"
)

// runFlags are the flags shared by run, sweep and verify.
type runFlags struct {
	strategy, scenario, threads, target, pin, format, out, html, clockKind, fallback string
	rolePlace, hdrLog, hdrOp                                                         string
	duration, warmup, delay, watchdog                                                time.Duration
	ops                                                                              int64
	seed                                                                             uint64
	fileSize                                                                         string
	reps                                                                             int
	oracle, retryContended, quiet                                                    bool
	gupShare                                                                         float64
}

func (f *runFlags) register(fs *flag.FlagSet, defStrategy, defScenario string) {
	fs.StringVar(&f.strategy, "strategy", defStrategy, "comma list of strategies: "+strings.Join(hotpath.StrategyNames(), ", ")+", or all ("+hotpath.KernelName+": the real kernel on the target)")
	fs.StringVar(&f.scenario, "scenario", defScenario, "comma list of scenarios: "+strings.Join(hotpath.ScenarioNames(), ", ")+", or all")
	fs.StringVar(&f.threads, "threads", "2", "foreground workers: a list such as 1,2,4 or a range 1..max")
	fs.DurationVar(&f.duration, "duration", 2*time.Second, "measured time per repetition")
	fs.Int64Var(&f.ops, "ops", 0, "foreground operations per repetition instead of -duration (0: use -duration)")
	fs.StringVar(&f.target, "target", "tmpfs", "comma list of targets: tmpfs, dir:PATH, auto (tmpfs and the temp dir), loop:ext4|xfs|btrfs[:SIZE]")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of every random choice (printed with results)")
	fs.StringVar(&f.fileSize, "file-size", "", "file size (bytes, or with K/M/G suffix; a multiple of the page size); default: the scenario's")
	fs.IntVar(&f.reps, "reps", 1, "repetitions per cell (after -warmup)")
	fs.DurationVar(&f.warmup, "warmup", 0, "discarded warm-up run per cell")
	fs.StringVar(&f.pin, "pin", "none", "worker placement: none, compact, scatter, smt-pairs, cpus=LIST")
	fs.StringVar(&f.format, "format", "text", "output format on stdout: "+strings.Join(reports.Formats, ", "))
	fs.StringVar(&f.out, "o", "lockbench-results.json", "results file (written atomically; empty: none)")
	fs.StringVar(&f.html, "html", "", "also write a self-contained HTML report to this file")
	fs.StringVar(&f.clockKind, "clock", "auto", "timer: "+strings.Join(clock.KindNames(), ", "))
	fs.BoolVar(&f.oracle, "oracle", false, "check invariants I1-I5 while running (costs time)")
	fs.DurationVar(&f.delay, "delay", 0, "delay injection at the scenario's race points (e.g. 50us; 0: off; reported when on)")
	fs.DurationVar(&f.watchdog, "watchdog", 10*time.Second, "report a deadlock when no worker progresses for this long")
	fs.Float64Var(&f.gupShare, "gup-share", 0, "faultretry: share of stores from get_user_pages callers that cannot retry, in [0,1]")
	fs.StringVar(&f.fallback, "fallback", "sigbus", "faultretry: answer for faults that cannot retry: "+strings.Join(strategies.FallbackNames, ", "))
	fs.BoolVar(&f.retryContended, "retry-contended", false, "faultretry: also retry faults that find IL contended")
	fs.BoolVar(&f.quiet, "q", false, "no progress on stderr")
	fs.StringVar(&f.rolePlace, "role-place", "", "place the exclusive roles (fsync, puncher, truncater) relative to the first faulter: "+strings.Join(hardware.RolePlacementNames, ", ")+" (needs -pin)")
	fs.StringVar(&f.hdrLog, "hdr-log", "", "also write the latency histograms of -hdr-op as an HdrHistogram log to this file")
	fs.StringVar(&f.hdrOp, "hdr-op", "write-fault", "operation whose histograms -hdr-log exports")
}

// plan is a validated command line: the cells to run.
type plan struct {
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
}

func (f *runFlags) validate() (*plan, error) {
	p := &plan{}
	var err error
	if p.strategies, err = parseList(f.strategy, hotpath.StrategyNames(), "-strategy"); err != nil {
		return nil, err
	}
	names, err := parseList(f.scenario, hotpath.ScenarioNames(), "-scenario")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		sc, _ := hotpath.LookupScenario(n)
		p.scenarios = append(p.scenarios, sc)
	}
	if p.note, err = p.checkKernel(f); err != nil {
		return nil, err
	}
	if p.threads, err = parseThreads(f.threads); err != nil {
		return nil, err
	}
	if f.ops < 0 {
		return nil, usagef("-ops must be >= 0, got %d", f.ops)
	}
	if f.ops == 0 && f.duration <= 0 {
		return nil, usagef("-duration must be > 0, got %v", f.duration)
	}
	if f.reps < 1 || f.reps > 1000 {
		return nil, usagef("-reps must be between 1 and 1000, got %d", f.reps)
	}
	if f.warmup < 0 {
		return nil, usagef("-warmup must be >= 0, got %v", f.warmup)
	}
	if f.fileSize != "" {
		if p.fileSize, err = parseSize(f.fileSize); err != nil {
			return nil, usagef("-file-size: %v", err)
		}
		if p.fileSize <= 0 || p.fileSize%4096 != 0 {
			return nil, usagef("-file-size must be a positive multiple of the page size 4096, got %d", p.fileSize)
		}
		for _, sc := range p.scenarios {
			if n := int64(sc.MinPages()) * 4096; p.fileSize < n {
				return nil, usagef("-file-size must be at least %d bytes for scenario %s, got %d", n, sc.Name, p.fileSize)
			}
		}
	}
	if !validFormat(f.format) {
		return nil, usagef("-format %q is unknown (allowed: %s)", f.format, strings.Join(reports.Formats, ", "))
	}
	if f.delay < 0 || f.delay > time.Second {
		return nil, usagef("-delay must be in [0, 1s], got %v", f.delay)
	}
	if f.hdrLog != "" && !slices.Contains(hotpath.KindNames(), f.hdrOp) {
		return nil, usagef("-hdr-op %q is not an operation (allowed: %s)", f.hdrOp, strings.Join(hotpath.KindNames(), ", "))
	}
	if f.watchdog <= 0 {
		return nil, usagef("-watchdog must be > 0, got %v", f.watchdog)
	}
	p.opts = strategies.Options{GUPShare: f.gupShare, Fallback: f.fallback, RetryOnContended: f.retryContended}
	if err := p.opts.Validate(); err != nil {
		return nil, usageError{err}
	}
	if p.targets, err = hardware.ParseTargets(f.target); err != nil {
		return nil, usagef("-target: %v", err)
	}
	if p.policy, err = hardware.ParsePolicy(f.pin); err != nil {
		return nil, usagef("-pin: %v", err)
	}
	if f.rolePlace != "" {
		if p.rolePlace, err = hardware.ParseRolePlacement(f.rolePlace); err != nil {
			return nil, usagef("-role-place: %v", err)
		}
		if p.policy.Name == "none" {
			return nil, usagef("-role-place %s needs a -pin policy other than none", f.rolePlace)
		}
	}
	kind, err := clock.ParseKind(f.clockKind)
	if err != nil {
		return nil, usagef("-clock: %v", err)
	}
	if p.clk, err = clock.New(kind); err != nil {
		return nil, fmt.Errorf("-clock: %w", err)
	}
	return p, nil
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

func parseSize(s string) (int64, error) {
	mult := int64(1)
	u := strings.ToUpper(s)
	for suf, m := range map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30} {
		if strings.HasSuffix(u, suf) && len(u) > len(suf) {
			if _, err := strconv.ParseInt(u[:len(u)-len(suf)], 10, 64); err == nil {
				mult = m
				u = u[:len(u)-len(suf)]
				break
			}
		}
	}
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with K, M or G)", s)
	}
	if n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is out of range (0 to 1P)", s)
	}
	return n * mult, nil
}

func cmdRun(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(name)
	var f runFlags
	f.register(fs, "rwsem", "fault-scale")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", name, fs.Arg(0))
	}
	p, err := f.validate()
	if err != nil {
		return err
	}
	return execute(ctx, name+" "+strings.Join(args, " "), &f, p, stdout, stderr)
}

// runDefault is the main job: every strategy on fault-scale and fsync-storm
// at 2 threads on tmpfs and the temp dir's filesystem, with an HTML report.
func runDefault(ctx context.Context, stdout, stderr io.Writer) error {
	f := runFlags{
		strategy: "all", scenario: "fault-scale,fsync-storm", threads: "2", target: "auto",
		duration: time.Second, seed: 1, reps: 1, pin: "none", format: "text",
		out: "lockbench-results.json", html: "lockbench-report.html", clockKind: "auto",
		watchdog: 10 * time.Second, fallback: "sigbus",
	}
	p, err := f.validate()
	if err != nil {
		return err
	}
	return execute(ctx, "lockbench", &f, p, stdout, stderr)
}

// activeDirs are target directories with a run in progress, for the
// second-Ctrl-C exit path.
var activeDirs sync.Map

func removeBackingFiles() {
	activeDirs.Range(func(k, _ any) bool {
		for _, pat := range []string{".lockbench-cache-*"} {
			m, _ := filepath.Glob(filepath.Join(k.(string), pat))
			for _, x := range m {
				os.Remove(x)
			}
		}
		return true
	})
}

// execute runs every cell of p and writes the results.
func execute(ctx context.Context, name string, f *runFlags, p *plan, stdout, stderr io.Writer) (err error) {
	for _, o := range []struct{ flag, path string }{{"-o", f.out}, {"-html", f.html}, {"-hdr-log", f.hdrLog}} {
		if o.path != "" {
			if err := checkWritableDir(o.flag, o.path); err != nil {
				return err
			}
		}
	}
	machine, err := hardware.Detect()
	if err != nil {
		return fmt.Errorf("detecting the machine: %w", err)
	}
	cpus, err := machine.Order(p.policy)
	if err != nil {
		return usagef("-pin: %v", err)
	}
	targets, cleanup, err := hardware.PrepareAll(ctx, p.targets)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
		for _, t := range targets {
			activeDirs.Delete(t.Path)
		}
	}()
	file := &results.File{
		Schema: results.SchemaVersion, Tool: "lockbench", Command: name,
		Created: time.Now().UTC(), Machine: machine,
	}
	total := len(p.strategies) * len(p.scenarios) * len(p.threads) * len(targets)
	total -= len(p.kernelSkip) * len(p.threads) * len(targets)
	k := 0
	printNote(stderr, p.note)
	progress := newProgress(stderr, total, f.quiet)
cells:
	for _, tgt := range targets {
		for _, sc := range p.scenarios {
			for _, th := range p.threads {
				for _, sn := range p.strategies {
					if !p.runsCell(sn, sc) {
						continue
					}
					k++
					st, err := newStrategy(sn, p.opts)
					if err != nil {
						return usageError{err}
					}
					cell := results.Cell{Config: results.Config{
						Strategy: sn, Scenario: sc.Name, Threads: th, Target: tgt.Spec, TargetInfo: tgt,
						Pin: p.policy.String(), Seed: f.seed, FileSize: sc.FileSize, PageSize: 4096,
						Duration: f.duration, OpLimit: f.ops, Warmup: f.warmup, Reps: f.reps,
						Oracle: f.oracle, Delay: f.delay > 0, Options: optionsString(sn, p.opts),
					}}
					if p.fileSize > 0 {
						cell.Config.FileSize = p.fileSize
					}
					progress.cell(k, fmt.Sprintf("%s %s threads=%d %s", sn, sc.Name, th, tgt.Spec))
					cfg := hotpath.Config{
						Strategy: st, Scenario: sc, Threads: th, Duration: f.duration, OpLimit: f.ops,
						Seed: f.seed, Dir: tgt.Path, FileSize: p.fileSize, Oracle: f.oracle,
						GUPShare: f.gupShare, Watchdog: f.watchdog, Clock: p.clk, Direct: true,
						Kernel: sn == hotpath.KernelName,
					}
					if f.delay > 0 {
						cfg.Delay = &hotpath.DelayConfig{For: f.delay, Points: sc.Delays}
					}
					if len(cpus) > 0 {
						exclusive := -1
						if p.rolePlace != "" {
							if exclusive, err = machine.PlaceRole(p.rolePlace, cpus[:min(th, len(cpus))]); err != nil {
								return usagef("-role-place: %v", err)
							}
						}
						cfg.Pin = func(worker int, role hotpath.Role) (int, error) {
							cpu := cpus[worker%len(cpus)]
							if exclusive >= 0 && (role == hotpath.RoleFsync || role == hotpath.RolePuncher || role == hotpath.RoleTruncater) {
								cpu = exclusive
							}
							return cpu, hardware.Pin(cpu)
						}
					}
					activeDirs.Store(tgt.Path, true)
					if f.warmup > 0 {
						w := cfg
						w.Duration, w.OpLimit = f.warmup, 0
						if _, err := hotpath.Run(ctx, w); err != nil && ctx.Err() == nil {
							return fmt.Errorf("%s %s: warm-up: %w", sn, sc.Name, err)
						}
					}
					for r := 0; r < f.reps && ctx.Err() == nil; r++ {
						rep, err := hotpath.Run(ctx, cfg)
						var dl *hotpath.DeadlockError
						if err != nil && !errors.As(err, &dl) {
							return fmt.Errorf("%s %s on %s: %w", sn, sc.Name, tgt.Spec, err)
						}
						rep.Index = r
						cell.Reps = append(cell.Reps, rep)
						if rep.Incomplete {
							cell.Incomplete = true
						}
					}
					activeDirs.Delete(tgt.Path)
					if ctx.Err() != nil {
						cell.Incomplete = true
						file.Incomplete = true
					}
					if len(cell.Reps) > 0 {
						file.Cells = append(file.Cells, cell)
					}
					if ctx.Err() != nil {
						break cells
					}
				}
			}
		}
	}
	progress.done()
	return emit(file, f, stdout)
}

// emit renders the file on stdout and writes the results and HTML files.
func emit(file *results.File, f *runFlags, stdout io.Writer) error {
	if err := reports.Render(stdout, f.format, file); err != nil {
		return err
	}
	if f.out != "" {
		if err := results.WriteFile(f.out, file); err != nil {
			return err
		}
		if f.format == "text" {
			fmt.Fprintf(stdout, "results: %s\n", f.out)
		}
	}
	if f.html != "" {
		if err := writeHTML(f.html, []*results.File{file}); err != nil {
			return err
		}
		if f.format == "text" {
			fmt.Fprintf(stdout, "report: %s\n", f.html)
		}
	}
	if f.hdrLog != "" {
		if err := writeAtomic(f.hdrLog, func(w io.Writer) error { return reports.WriteHDRLog(w, file, f.hdrOp) }); err != nil {
			return err
		}
	}
	if file.Incomplete {
		return errors.New("interrupted: results are incomplete (marked \"incomplete\": true)")
	}
	return nil
}

func optionsString(strategy string, o strategies.Options) string {
	if strategy != "faultretry" {
		return ""
	}
	return fmt.Sprintf("gup-share=%v,fallback=%s,retry-contended=%v", o.GUPShare, o.Fallback, o.RetryOnContended)
}

// checkWritableDir fails early when an output file's directory is missing
// or read-only, before anything is measured.
func checkWritableDir(flagName, path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("%s %s: directory %s does not exist", flagName, path, dir)
	}
	if !st.IsDir() {
		return usagef("%s %s: %s is not a directory", flagName, path, dir)
	}
	tmp, err := os.CreateTemp(dir, ".lockbench-probe-*")
	if err != nil {
		return fmt.Errorf("%s %s: directory %s is not writable: %w", flagName, path, dir, err)
	}
	tmp.Close()
	os.Remove(tmp.Name())
	return nil
}

// writeHTML writes the HTML report atomically.
func writeHTML(path string, files []*results.File) error {
	return writeAtomic(path, func(w io.Writer) error { return reports.WriteHTML(w, files) })
}

// writeAtomic writes a file through a temporary file and a rename.
func writeAtomic(path string, render func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = render(tmp); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

func maxCPUs() int {
	m, err := hardware.Detect()
	if err != nil || len(m.Allowed) == 0 {
		return 1
	}
	return len(m.Allowed)
}
