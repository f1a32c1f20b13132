//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/hotpath/clock"
	"lockbench/reports"
	"lockbench/results"
	"lockbench/strategies"
)

// validateScenarios are the scenarios validate runs on each target.
var validateScenarios = []string{"fsync-storm", "punch"}

type validateFlags struct {
	target, out, html, format string
	duration                  time.Duration
	reps, threads             int
	seed                      uint64
	quiet, counterfactual     bool
	cal                       calibFlags
}

// defaultValidateTargets are the loop ext4, xfs and btrfs this machine can
// make (root and mkfs.<fs>), and the temp dir.
func defaultValidateTargets() string {
	var t []string
	if os.Geteuid() == 0 {
		for _, l := range hardware.LoopFilesystems {
			if _, err := exec.LookPath("mkfs." + l.Name); err == nil {
				t = append(t, "loop:"+l.Name)
			}
		}
	}
	t = append(t, "dir:"+filepath.Clean(os.TempDir()))
	if zramOK() {
		t = append(t, "zram:btrfs")
	}
	return strings.Join(t, ",")
}

// zramOK reports whether the target list accepts a zram target and the
// machine can make one (root and the zram module loaded).
func zramOK() bool {
	accepted := false
	for _, f := range hardware.TargetForms {
		accepted = accepted || strings.HasPrefix(f, "zram:")
	}
	if !accepted || os.Geteuid() != 0 {
		return false
	}
	_, err := os.Stat("/sys/class/zram-control")
	return err == nil
}

func cmdValidate(ctx context.Context, rr repRunner, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate")
	var v validateFlags
	fs.StringVar(&v.target, "target", "", "comma list of targets (default: the loop ext4, xfs and btrfs this machine can make, the temp dir, and zram:btrfs where available); each filesystem needs a scheme in the model: "+strategies.SchemeFSTypes())
	fs.DurationVar(&v.duration, "duration", 2*time.Second, "measured time per repetition")
	fs.IntVar(&v.reps, "reps", 3, "repetitions per cell, model and kernel each")
	fs.IntVar(&v.threads, "threads", 2, "foreground workers")
	fs.Uint64Var(&v.seed, "seed", 1, "seed of every random choice, the calibrated draws included")
	fs.StringVar(&v.out, "o", "lockbench-validate.json", "results file: cells, calibrations and the validation tables (empty: none)")
	fs.StringVar(&v.html, "html", "", "also write the validation tables as an HTML page to this file")
	fs.StringVar(&v.format, "format", "text", "stdout: text or json (the validation tables)")
	fs.BoolVar(&v.quiet, "q", false, "no progress on stderr")
	fs.BoolVar(&v.counterfactual, "counterfactual", true, "also state the rejected designs' costs in each target's calibrated model: btrfs's full-range extent lock against i_mmap_lock (fsync-read), XFS's IL(X) around failed-write cleanup (write-fail), the validity cookie (stale-map), VM_FAULT_RETRY (inline) and fault-around (punch)")
	fs.StringVar(&v.cal.file, "calibration", "", "reuse the calibrations stored in this results file instead of measuring")
	fs.BoolVar(&v.cal.force, "calibration-force", false, "use -calibration FILE even when its machine fingerprint or kernel differ")
	if done, err := parseNoArgs(fs, args, stdout); done || err != nil {
		return err
	}
	v.cal.calibrate = true
	switch {
	case v.duration <= 0:
		return usagef("-duration must be > 0, got %v", v.duration)
	case v.reps < 1 || v.reps > 100:
		return usagef("-reps must be between 1 and 100, got %d", v.reps)
	case v.threads < 1 || v.threads > 64:
		return usagef("-threads must be between 1 and 64, got %d", v.threads)
	case v.format != "text" && v.format != "json":
		return usagef("-format must be text or json, got %q", v.format)
	}
	if v.target == "" {
		v.target = defaultValidateTargets()
	}
	specs, err := hardware.ParseTargets(v.target)
	if err != nil {
		return usagef("-target: %v", err)
	}
	for _, s := range specs {
		fsType := s.FS
		if s.Kind == "tmpfs" {
			fsType = "tmpfs"
		}
		if fsType != "" {
			if _, ok := strategies.SchemeFor(fsType); !ok {
				return usagef("-target: %s has no scheme in the model (validate supports %s)", fsType, strategies.SchemeFSTypes())
			}
		}
	}
	var scs []hotpath.Scenario
	for _, n := range validateScenarios {
		sc, err := hotpath.LookupScenario(n)
		if err != nil {
			return err
		}
		scs = append(scs, sc)
	}
	clk, err := clock.New(clock.Auto)
	if err != nil {
		return err
	}
	machine, err := hardware.Detect()
	if err != nil {
		return fmt.Errorf("detecting the machine: %w", err)
	}
	start := time.Now()
	file := &results.File{Schema: results.SchemaVersion, Tool: "lockbench", Command: "validate " + strings.Join(args, " "),
		Created: time.Now().UTC(), Machine: machine.Desc(), Cells: []results.Cell{}}
	runErr := withTargets(ctx, specs, stderr, func(targets []hardware.Target) error {
		for _, t := range targets {
			if _, ok := strategies.SchemeFor(t.FSType); !ok {
				return usagef("-target: %s is %s, which has no scheme in the model (validate supports %s)", t.Spec, t.FSType, strategies.SchemeFSTypes())
			}
		}
		for _, t := range targets {
			if err := validateTarget(ctx, rr, &v, machine, t, scs, clk, file, stdout, stderr); err != nil {
				return err
			}
		}
		return nil
	})
	if runErr != nil {
		return runErr
	}
	elapsed := time.Since(start).Round(time.Second)
	if v.out != "" {
		if err := results.WriteFile(v.out, file); err != nil {
			return err
		}
	}
	if v.html != "" {
		f, err := os.Create(v.html)
		if err != nil {
			return err
		}
		if err := reports.ValidationHTML(f, file.Validations, file.Calibrations); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if v.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(file.Validations); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "lockbench: validate took %v for %d targets\n", elapsed, len(file.Validations))
	var bad []string
	for _, val := range file.Validations {
		if !val.Within {
			bad = append(bad, val.Target+": "+strings.Join(reports.WorstRows(val), "; "))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the calibrated model is not within 2x of the kernel on %s", strings.Join(bad, " | "))
	}
	return nil
}

// validateTarget calibrates one target, runs each scenario under the kernel
// and under the filesystem's scheme in the calibrated model, and adds the
// cells, the calibration and the table to file.
func validateTarget(ctx context.Context, rr repRunner, v *validateFlags, machine hardware.Machine, t hardware.Target, scs []hotpath.Scenario, clk *clock.Clock, file *results.File, stdout, stderr io.Writer) error {
	scheme, _ := strategies.SchemeFor(t.FSType)
	lock := "IL"
	if scheme.Plan(strategies.OpFsyncLog).MK != strategies.Skip {
		lock = "MK"
	}
	cals, err := calibrations(ctx, &v.cal, machine, []hardware.Target{t}, v.seed, v.quiet, stderr)
	if err != nil {
		return err
	}
	cal := cals[t.Spec]
	file.Calibrations = append(file.Calibrations, *cal)
	model, kernel := map[string]*results.Cell{}, map[string]*results.Cell{}
	root := os.Geteuid() == 0
	for _, sc := range scs {
		for _, kern := range []bool{true, false} {
			name := scheme.Name() + calibSuffix
			cfg := hotpath.Config{Scenario: sc, Threads: v.threads, Duration: v.duration, Seed: v.seed, Dir: t.Path,
				Watchdog: 30 * time.Second, Clock: clk}
			if kern {
				name = hotpath.KernelName
				cfg.Engine, cfg.LockStats = hotpath.EngineKernel, root
			} else {
				cfg.Strategy, cfg.Calibration = scheme, cal
			}
			cell := results.Cell{Config: results.Config{Engine: hotpath.EngineOf(name).String(), Strategy: name, Scenario: sc.Name, Threads: v.threads, Target: t.Spec, TargetInfo: t,
				Pin: "none", Seed: v.seed, FileSize: sc.FileSize, PageSize: 4096, Duration: v.duration, Reps: v.reps,
				Clock: clk.Kind(), Watchdog: cfg.Watchdog, Locks: kern && root}}
			if !kern {
				cell.Config.Calibrated = t.Spec
			}
			for r := 0; r < v.reps; r++ {
				if !v.quiet {
					fmt.Fprintf(stderr, "lockbench: validate %s %s %s rep %d/%d\n", t.Spec, name, sc.Name, r+1, v.reps)
				}
				rep, err := rr.run(ctx, cfg)
				if err != nil {
					return fmt.Errorf("validate %s %s %s: %w", t.Spec, name, sc.Name, err)
				}
				rep.Index = r
				cell.Reps = append(cell.Reps, rep)
			}
			file.Cells = append(file.Cells, cell)
			c := &file.Cells[len(file.Cells)-1]
			if kern {
				kernel[sc.Name] = c
			} else {
				model[sc.Name] = c
			}
		}
	}
	// The map values point into file.Cells, which append may have moved:
	// take them again.
	for i := range file.Cells {
		c := &file.Cells[i]
		if c.Config.Target != t.Spec {
			continue
		}
		if c.Config.Strategy == hotpath.KernelName {
			kernel[c.Config.Scenario] = c
		} else {
			model[c.Config.Scenario] = c
		}
	}
	val := reports.Validate(t.Spec, t.FSType, scheme.Name(), lock, model, kernel)
	if v.counterfactual {
		cells, err := counterfactualCells(ctx, rr, v, t, cal, clk, stderr)
		if err != nil {
			return err
		}
		file.Cells = append(file.Cells, cells...)
		val.Counterfactuals = reports.Counterfactuals(val, &cells[0], &cells[1])
		for _, q := range cfQuestions {
			var pair [2]results.Cell
			for i, side := range []cfSide{q.design, q.chosen} {
				if pair[i], err = counterfactualCell(ctx, rr, v, t, cal, clk, stderr, q.scenario, side); err != nil {
					return err
				}
			}
			file.Cells = append(file.Cells, pair[:]...)
			val.Counterfactuals = append(val.Counterfactuals, reports.StateCounterfactual(val, q.question, &pair[0], &pair[1], q.measures)...)
		}
	}
	file.Validations = append(file.Validations, val)
	if v.format == "text" {
		reports.ValidationText(stdout, val, t.Spec)
		reports.CounterfactualText(stdout, val.Counterfactuals)
		fmt.Fprintln(stdout)
	}
	return nil
}

// counterfactualCells runs the btrfs question on t in the calibrated
// model: fsync-read under the rejected full-range extent lock (rangelock)
// and under btrfs's chosen i_mmap_lock (rwsem), in that order.
func counterfactualCells(ctx context.Context, rr repRunner, v *validateFlags, t hardware.Target, cal *results.Calibration, clk *clock.Clock, stderr io.Writer) ([]results.Cell, error) {
	sc, err := hotpath.LookupScenario("fsync-read")
	if err != nil {
		return nil, err
	}
	var cells []results.Cell
	for _, sn := range []string{"rangelock", "rwsem"} {
		st, err := strategies.New(sn, strategies.Options{})
		if err != nil {
			return nil, err
		}
		cfg := hotpath.Config{Strategy: st, Calibration: cal, Scenario: sc, Threads: v.threads, Duration: v.duration, Seed: v.seed,
			Dir: t.Path, Watchdog: 30 * time.Second, Clock: clk}
		cell := results.Cell{Config: results.Config{Engine: hotpath.EngineModel.String(), Strategy: sn + calibSuffix, Scenario: sc.Name, Threads: v.threads, Target: t.Spec, TargetInfo: t,
			Pin: "none", Seed: v.seed, FileSize: sc.FileSize, PageSize: 4096, Duration: v.duration, Reps: v.reps,
			Clock: clk.Kind(), Watchdog: cfg.Watchdog, Calibrated: t.Spec}}
		for r := 0; r < v.reps; r++ {
			if !v.quiet {
				fmt.Fprintf(stderr, "lockbench: validate %s counterfactual %s %s rep %d/%d\n", t.Spec, cell.Config.Strategy, sc.Name, r+1, v.reps)
			}
			rep, err := rr.run(ctx, cfg)
			if err != nil {
				return nil, fmt.Errorf("validate %s %s %s: %w", t.Spec, sn, sc.Name, err)
			}
			rep.Index = r
			cell.Reps = append(cell.Reps, rep)
		}
		cells = append(cells, cell)
	}
	return cells, nil
}

// cfSide is one side of a counterfactual question: a model strategy with
// its options, on the scenario changed by mod (nil: as listed), named
// label in the results (with the calibrated suffix).
type cfSide struct {
	label, strategy string
	opts            strategies.Options
	mod             func(*hotpath.Scenario)
	// build, when set, makes the side's strategy instead of the registry
	// (a variant of a registered strategy that only a question needs).
	build func() strategies.Strategy
}

// strategyOf is the side's strategy.
func (s cfSide) strategyOf() (strategies.Strategy, error) {
	if s.build != nil {
		return s.build(), nil
	}
	return strategies.New(s.strategy, s.opts)
}

// rwsemUnlockedCleanup is rwsem with only the failed write's cleanup as
// it was before XFS's fix: no IL(X) around it, and it punches the delalloc
// under dirty pages too (Mechanisms.UnsafeCleanup). It is R1's
// counterfactual: the cost of the cleanup's lock alone, every other lock
// of the base protocol kept (none drops them all).
type rwsemUnlockedCleanup struct{ strategies.RWSem }

func (rwsemUnlockedCleanup) Name() string { return "rwsem-cleanup-unlocked" }

func (r rwsemUnlockedCleanup) Plan(op strategies.Op) strategies.Plan {
	if op == strategies.OpWriteCleanup {
		return strategies.Plan{}
	}
	return r.RWSem.Plan(op)
}

func (rwsemUnlockedCleanup) Mechanisms() strategies.Mechanisms {
	return strategies.Mechanisms{UnsafeCleanup: true}
}

// cfQuestions are the rejected designs of issue 19 beyond the btrfs one,
// each run in the target's calibrated model: design against chosen.
var cfQuestions = []struct {
	question, scenario string
	design, chosen     cfSide
	measures           []reports.CFMeasure
}{
	{"R1: XFS's IL(X) around failed-write cleanup (without it: rwsem with only the cleanup unlocked, punching dirty pages too, as before the fix)", "write-fail",
		cfSide{label: "rwsem", strategy: "rwsem"}, cfSide{label: "rwsem-cleanup-unlocked", strategy: "rwsem", build: func() strategies.Strategy { return rwsemUnlockedCleanup{} }},
		[]reports.CFMeasure{{Op: "write-fault", Stat: "p99"}, {Op: "write-fault", Stat: "p99.9"}, {Op: "store", Stat: "ops/s"}, {Op: "write", Stat: "ops/s"}}},
	{"R3: the validity cookie (iomap_valid) against the inode lock alone", "stale-map",
		cfSide{label: "seqcount", strategy: "seqcount"}, cfSide{label: "rwsem", strategy: "rwsem"},
		[]reports.CFMeasure{{Op: "write", Stat: "p50"}, {Op: "write", Stat: "p99"}, {Op: "write", Counter: "remaps"}, {Op: "write", Counter: "validations"}, {Op: "write", Stat: "ops/s"}}},
	{"R4: VM_FAULT_RETRY for the inline conversion (10% get_user_pages faults, SIGBUS fallback) against rwsem", "inline",
		cfSide{label: "faultretry-gup0.1", strategy: "faultretry", opts: strategies.Options{GUPShare: 0.1}}, cfSide{label: "rwsem", strategy: "rwsem"},
		[]reports.CFMeasure{{Op: "write-fault", Counter: "retries"}, {Op: "write-fault", Counter: "sigbus"}, {Op: "write-fault", Stat: "p50"}, {Op: "write-fault", Stat: "p99"}}},
	{"fault-around under the mmap lock (a read fault maps up to 16 cached pages) against no fault-around", "punch",
		cfSide{label: "rwsem-faultaround", strategy: "rwsem"}, cfSide{label: "rwsem-nofaultaround", strategy: "rwsem", mod: func(s *hotpath.Scenario) { s.FaultAround = false }},
		[]reports.CFMeasure{{Op: "read-fault", Stat: "p50"}, {Op: "read-fault", Stat: "p99"}, {Op: "load", Counter: "faults"}, {Op: "load", Stat: "ops/s"}}},
}

// counterfactualCell runs one side of a counterfactual question on t in
// the calibrated model.
func counterfactualCell(ctx context.Context, rr repRunner, v *validateFlags, t hardware.Target, cal *results.Calibration, clk *clock.Clock, stderr io.Writer, scenario string, side cfSide) (results.Cell, error) {
	sc, err := hotpath.LookupScenario(scenario)
	if err != nil {
		return results.Cell{}, err
	}
	if side.mod != nil {
		side.mod(&sc)
	}
	st, err := side.strategyOf()
	if err != nil {
		return results.Cell{}, err
	}
	cfg := hotpath.Config{Strategy: st, Calibration: cal, Scenario: sc, Threads: v.threads, Duration: v.duration, Seed: v.seed,
		Dir: t.Path, Watchdog: 30 * time.Second, Clock: clk}
	cell := results.Cell{Config: results.Config{Engine: hotpath.EngineModel.String(), Strategy: side.label + calibSuffix, Scenario: sc.Name, Threads: v.threads, Target: t.Spec, TargetInfo: t,
		Pin: "none", Seed: v.seed, FileSize: sc.FileSize, PageSize: 4096, Duration: v.duration, Reps: v.reps,
		Clock: clk.Kind(), Watchdog: cfg.Watchdog, Calibrated: t.Spec, Options: side.opts.String()}}
	for r := 0; r < v.reps; r++ {
		if !v.quiet {
			fmt.Fprintf(stderr, "lockbench: validate %s counterfactual %s %s rep %d/%d\n", t.Spec, cell.Config.Strategy, sc.Name, r+1, v.reps)
		}
		rep, err := rr.run(ctx, cfg)
		if err != nil {
			return results.Cell{}, fmt.Errorf("validate %s %s %s: %w", t.Spec, side.label, sc.Name, err)
		}
		rep.Index = r
		cell.Reps = append(cell.Reps, rep)
	}
	return cell, nil
}
