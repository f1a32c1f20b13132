//go:build linux

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/reports"
	"lockbench/results"
	"lockbench/strategies"
)

// execute runs every cell of p and writes the results, in stages: check
// the outputs, detect the machine, prepare the targets and check their
// space, run the cells, and emit (files first, then stdout).
func execute(ctx context.Context, name string, f *runFlags, p *plan, stdout, stderr io.Writer) error {
	if err := checkOutputs(f, p); err != nil {
		return err
	}
	machine, err := hardware.Detect()
	if err != nil {
		return fmt.Errorf("detecting the machine: %w", err)
	}
	cpus, err := machine.Order(p.policy)
	if err != nil {
		return usagef("-pin: %v", err)
	}
	if err := checkRolePlace(machine, p, cpus); err != nil {
		return err
	}
	return withTargets(ctx, p.targets, stderr, func(targets []hardware.Target) error {
		if err := checkSpace(f, p, targets); err != nil {
			return err
		}
		s := &session{f: f, p: p, machine: machine, cpus: cpus, stderr: stderr, file: &results.File{
			Schema: results.SchemaVersion, Tool: "lockbench", Command: name, Version: buildVersion(),
			Created: time.Now().UTC(), Machine: machine.Desc(), Cells: []results.Cell{},
		}}
		printNote(stderr, p.note)
		if s.cals, err = calibrations(ctx, &f.cal, machine, targets, f.seed, f.quiet, stderr); err != nil {
			return err
		}
		for _, t := range targets {
			if c := s.cals[t.Spec]; c != nil {
				s.file.Calibrations = append(s.file.Calibrations, *c)
			}
		}
		g := grid{strategies: p.strategies, scenarios: p.scenarios, threads: p.threads, targets: targets, reps: f.reps, runs: p.runsCell}
		s.progress = newProgress(stderr, g.cells(), f.quiet)
		runErr := s.runCells(ctx, g)
		s.progress.done()
		return s.emit(ctx, runErr, stdout, stderr)
	})
}

// checkRolePlace places the exclusive roles for every thread count before
// anything is measured, so that -role-place fails up front.
func checkRolePlace(machine hardware.Machine, p *plan, cpus []int) error {
	if p.rolePlace == "" || len(cpus) == 0 {
		return nil
	}
	for _, th := range p.threads {
		if _, err := machine.PlaceRole(p.rolePlace, cpus[:min(th, len(cpus))]); err != nil {
			return usagef("-role-place: %v", err)
		}
	}
	return nil
}

// checkSpace checks that every target can hold the backing files of every
// scenario: a page cache file and a disk file of the file size each. A
// target too small for them would fail at fallocate; this says so before
// the first cell, naming the flag.
func checkSpace(f *runFlags, p *plan, targets []hardware.Target) error {
	for _, t := range targets {
		for _, sc := range p.scenarios {
			size := cmp.Or(p.fileSize, sc.FileSize)
			if need := uint64(2 * size); t.FreeBytes < need {
				what := "-file-size " + f.fileSize
				if f.fileSize == "" {
					what = "scenario " + sc.Name + "'s file size " + hardware.FormatBytes(uint64(size))
				}
				return usagef("-target %s has %s free; %s needs %s (a page cache file and a disk file of that size)",
					t.Spec, hardware.FormatBytes(t.FreeBytes), what, hardware.FormatBytes(need))
			}
		}
	}
	return nil
}

// withTargets prepares the targets, removes what killed runs left in
// them (one notice per run on stderr), runs fn, and cleans up. A target
// problem of the command line is a usage error naming -target.
func withTargets(ctx context.Context, specs []hardware.TargetSpec, stderr io.Writer, fn func([]hardware.Target) error) (err error) {
	if slices.ContainsFunc(specs, func(ts hardware.TargetSpec) bool { return ts.Kind == "loop" }) && os.Geteuid() == 0 {
		notes, err := hardware.CleanStaleLoops(ctx)
		for _, n := range notes {
			fmt.Fprintln(stderr, "lockbench:", n)
		}
		if err != nil {
			fmt.Fprintln(stderr, "lockbench: cleaning loop targets of killed runs:", err)
		}
	}
	if slices.ContainsFunc(specs, func(ts hardware.TargetSpec) bool { return ts.Kind == "zram" }) && os.Geteuid() == 0 {
		notes, err := hardware.CleanStaleZram()
		for _, n := range notes {
			fmt.Fprintln(stderr, "lockbench:", n)
		}
		if err != nil {
			fmt.Fprintln(stderr, "lockbench: cleaning zram targets of killed runs:", err)
		}
	}
	targets, cleanup, err := hardware.PrepareAll(ctx, specs)
	var te *hardware.TargetError
	if errors.As(err, &te) && te.Usage {
		return usagef("-target: %v", err)
	}
	if err != nil {
		return err
	}
	id := exitCleanups.add(cleanup)
	defer func() {
		exitCleanups.remove(id)
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	for _, t := range targets {
		stale, err := hotpath.CleanStale(t.Path)
		for _, st := range stale {
			fmt.Fprintf(stderr, "lockbench: removed %d backing files that a killed lockbench run (pid %d) left in %s\n", len(st.Files), st.PID, t.Path)
		}
		if err != nil {
			fmt.Fprintf(stderr, "lockbench: cleaning leftovers in %s: %v\n", t.Path, err)
		}
	}
	return fn(targets)
}

// session is one execute: the validated plan and what it has measured.
type session struct {
	f         *runFlags
	p         *plan
	machine   hardware.Machine
	cpus      []int
	file      *results.File
	progress  *progress
	deadlocks int
	stderr    io.Writer
	locksOff  bool // the "kernel lock waits off" line was printed
	// cals are the targets' calibrations by spec (-calibrate), nil when off.
	cals map[string]*results.Calibration
}

// repRunner runs one repetition: hotpath.Run, or in a test what the test
// injects (a deadlock, a late error). A plan carries its own (plan.runRep,
// verifyPlan.runRep; nil: hotpath.Run), given to runWith.
type repRunner func(context.Context, hotpath.Config) (results.Rep, error)

// run runs one repetition with r, or with hotpath.Run when r is nil.
func (r repRunner) run(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
	if r == nil {
		return hotpath.Run(ctx, cfg)
	}
	return r(ctx, cfg)
}

// runCells runs the cells in order and keeps each finished one in s.file.
// It stops at cancellation and at the first error, which it returns; the
// cells finished before it stay.
func (s *session) runCells(ctx context.Context, g grid) error {
	var cur *cellRun
	defer func() { s.keep(cur) }()
	for pt := range g.points() {
		if ctx.Err() != nil {
			break
		}
		if pt.Rep == 0 {
			s.keep(cur)
			var err error
			if cur, err = s.startCell(ctx, pt); err != nil {
				cur = nil
				return err
			}
		}
		rep, err := s.p.runRep.run(ctx, cur.cfg)
		var dl *hotpath.DeadlockError
		var ce *hotpath.CleanupError
		if errors.As(err, &ce) {
			// The repetition ran to its end; only its files could not be
			// removed. Keep it, and say so on one line.
			fmt.Fprintf(s.stderr, "lockbench: %s %s threads=%d on %s, repetition %d: %v (the repetition is kept)\n",
				pt.Strategy, pt.Scenario.Name, pt.Threads, pt.Target.Spec, pt.Rep+1, ce)
		} else if errors.As(err, &dl) {
			s.deadlocks++
		} else if err != nil {
			return fmt.Errorf("%s %s threads=%d on %s: %w", pt.Strategy, pt.Scenario.Name, pt.Threads, pt.Target.Spec, flagError(err))
		}
		rep.Index = pt.Rep
		if lt := rep.LockTrace; lt != nil && lt.Unavailable != "" && !s.locksOff {
			s.locksOff = true
			fmt.Fprintf(s.stderr, "lockbench: kernel lock waits off, the run goes on without them: %s\n", lt.Unavailable)
		}
		cur.cell.AddRep(rep)
		cur.cell.Incomplete = cur.cell.Incomplete || rep.Incomplete
	}
	return nil
}

// cellRun is the cell being measured and the run configuration of its
// repetitions.
type cellRun struct {
	cell results.Cell
	cfg  hotpath.Config
}

// keep adds a cell with at least one repetition to the file; one with
// fewer repetitions than asked is incomplete.
func (s *session) keep(c *cellRun) {
	if c == nil || len(c.cell.Reps) == 0 {
		return
	}
	if len(c.cell.Reps) < s.f.reps {
		c.cell.Incomplete = true
	}
	s.file.Cells = append(s.file.Cells, c.cell)
}

// startCell builds the cell's configuration and runs its warm-up.
func (s *session) startCell(ctx context.Context, pt point) (*cellRun, error) {
	f, p := s.f, s.p
	s.progress.cell(pt.Cell+1, fmt.Sprintf("%s %s threads=%d %s", pt.Strategy, pt.Scenario.Name, pt.Threads, pt.Target.Spec))
	st, err := newStrategy(pt.Strategy, p.opts)
	if err != nil {
		return nil, usageError{err}
	}
	c := &cellRun{cell: results.Cell{Config: results.Config{
		Engine: hotpath.EngineOf(pt.Strategy).String(), Strategy: pt.Strategy, Scenario: pt.Scenario.Name, Threads: pt.Threads, Target: pt.Target.Spec, TargetInfo: pt.Target,
		Pin: p.policy.String(), Seed: f.seed, FileSize: cmp.Or(p.fileSize, pt.Scenario.FileSize), PageSize: 4096,
		Duration: f.duration, OpLimit: f.ops, Warmup: f.warmup, Reps: f.reps,
		Oracle: f.oracle, Delay: f.delay > 0, DelayFor: f.delay, Options: optionsString(pt.Strategy, p.opts),
		Clock: p.clk.Kind(), Watchdog: f.watchdog, RolePlace: f.rolePlace, Locks: f.locks,
	}}}
	c.cfg = hotpath.Config{
		Strategy: st, Scenario: pt.Scenario, Threads: pt.Threads, Duration: f.duration, OpLimit: f.ops,
		Seed: f.seed, Dir: pt.Target.Path, FileSize: p.fileSize, Oracle: f.oracle,
		GUPShare: f.gupShare, Watchdog: f.watchdog, Clock: p.clk, Direct: true,
		Engine: hotpath.EngineOf(pt.Strategy), Window: f.window, LockStats: f.locks,
	}
	if f.delay > 0 {
		c.cfg.Delay = &hotpath.DelayConfig{For: f.delay, Points: pt.Scenario.Delays}
	}
	if cal := s.cals[pt.Target.Spec]; cal != nil && pt.Strategy != hotpath.KernelName {
		c.cfg.Calibration = cal
		c.cfg.Direct = false // buffered: fsync writes the disk file back in one batch (hotpath/fsync.go)
		c.cell.Config.Strategy += calibSuffix
		c.cell.Config.Calibrated = pt.Target.Spec
	}
	if c.cfg.Pin, err = s.pinner(pt.Threads); err != nil {
		return nil, err
	}
	if f.warmup > 0 {
		w := c.cfg
		w.Duration, w.OpLimit = f.warmup, 0
		if _, err := p.runRep.run(ctx, w); err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%s %s: warm-up: %w", pt.Strategy, pt.Scenario.Name, err)
		}
	}
	return c, nil
}

// pinner returns the worker placement of a cell of th threads, or nil
// when workers are not pinned.
func (s *session) pinner(th int) (func(int, hotpath.Role) (int, error), error) {
	cpus := s.cpus
	if len(cpus) == 0 {
		return nil, nil
	}
	exclusive := -1
	if s.p.rolePlace != "" {
		var err error
		if exclusive, err = s.machine.PlaceRole(s.p.rolePlace, cpus[:min(th, len(cpus))]); err != nil {
			return nil, usagef("-role-place: %v", err)
		}
	}
	return func(worker int, role hotpath.Role) (int, error) {
		cpu := cpus[worker%len(cpus)]
		if exclusive >= 0 && (role == hotpath.RoleFsync || role == hotpath.RolePuncher || role == hotpath.RoleTruncater) {
			cpu = exclusive
		}
		return cpu, hardware.Pin(cpu)
	}, nil
}

// emit writes the output files, then renders stdout, then says how the
// run ended. The files come first: a reader that closes stdout early
// (`| head`) ends the process on the next write, and the results must be
// on disk by then. When an output file cannot be written after all
// (a full disk, /dev/full, a FIFO nobody reads), the table is still
// printed and the results are saved to a fallback file whose name the
// error gives: what was measured is never lost to an output path.
func (s *session) emit(ctx context.Context, runErr error, stdout, stderr io.Writer) error {
	file, f := s.file, s.f
	if runErr != nil {
		file.Incomplete, file.Error = true, runErr.Error()
	}
	if ctx.Err() != nil {
		file.Incomplete = true
	}
	written, saved, werr := s.writeFiles(stderr)
	if werr != nil && !saved && len(file.Cells) > 0 {
		if fb, ferr := saveFallback(file, f.out); ferr == nil {
			werr = fmt.Errorf("%w; the results are saved in %s instead", werr, fb)
		} else {
			werr = fmt.Errorf("%w; saving the results to a fallback file failed too: %w", werr, ferr)
		}
	}
	if err := reports.Render(stdout, f.format, file); err != nil {
		return joinErrors(joinErrors(runErr, werr), fmt.Errorf("writing stdout: %w", err))
	}
	if f.format == "text" {
		for _, w := range written {
			fmt.Fprintln(stdout, w)
		}
	}
	switch {
	case runErr != nil:
		return joinErrors(fmt.Errorf("%w (%s finished before it kept, marked incomplete, with the error)", runErr, plural(len(file.Cells), "cell")), werr)
	case werr != nil:
		return werr
	case file.Incomplete:
		return errors.New("interrupted: results are incomplete (marked \"incomplete\": true)")
	case s.deadlocks > 0:
		return fmt.Errorf("deadlock in %d repetitions (see \"deadlock\" in the results)", s.deadlocks)
	}
	return nil
}

// fallbackDirs are where saveFallback tries to save results whose -o
// failed, in order: beside -o (unless it is a device or FIFO), the
// working directory, the temporary directory.
func fallbackDirs(out string) []string {
	var dirs []string
	if out != "" {
		if fi, err := os.Stat(out); err != nil || fi.Mode().IsRegular() {
			dirs = append(dirs, filepath.Dir(out))
		}
	}
	return append(dirs, ".", os.TempDir())
}

// saveFallback saves file under a new name (O_EXCL: never over anything)
// in the first of fallbackDirs that takes it, and returns its path.
func saveFallback(file *results.File, out string) (string, error) {
	var errs error
	for _, dir := range fallbackDirs(out) {
		// Through the link-checked walk of dir, as -o.
		name, err := results.WriteNew(dir, "lockbench-results-saved-", ".json", file)
		if err != nil {
			errs = joinErrors(errs, err)
			continue
		}
		if abs, err := filepath.Abs(name); err == nil {
			return abs, nil
		}
		return name, nil
	}
	return "", errs
}

// writeFiles writes -o, -html and -hdr-log and returns the lines that
// point to them, and whether the results are saved in -o. A run in which
// no repetition finished (Ctrl-C during the first) does not replace a
// complete results file: it keeps it and says so. A failing output does
// not stop the others.
func (s *session) writeFiles(stderr io.Writer) (written []string, saved bool, err error) {
	file, f := s.file, s.f
	if f.out != "" {
		if !anyRepFinished(file) && completeResults(f.out) {
			fmt.Fprintf(stderr, "lockbench: no repetition finished; kept the complete results file %s from before (remove it to replace it)\n", f.out)
		} else if werr := results.WriteFile(f.out, file); werr != nil {
			err = fmt.Errorf("writing -o: %w", werr)
		} else {
			written = append(written, "results: "+f.out)
			saved = true
		}
	}
	if len(file.Cells) == 0 {
		return written, saved || f.out == "", err
	}
	if f.html != "" {
		if werr := results.WriteAtomic(f.html, func(w io.Writer) error { return reports.WriteHTML(w, []*results.File{file}) }); werr != nil {
			err = joinErrors(err, fmt.Errorf("writing -html: %w", werr))
		} else {
			written = append(written, "report: "+f.html)
		}
	}
	if f.hdrLog != "" {
		if werr := results.WriteAtomic(f.hdrLog, func(w io.Writer) error { return reports.WriteHDRLog(w, file, f.hdrOp) }); werr != nil {
			err = joinErrors(err, fmt.Errorf("writing -hdr-log: %w", werr))
		}
	}
	return written, saved, err
}

// anyRepFinished reports whether a repetition of file ran to its end.
func anyRepFinished(file *results.File) bool {
	for _, c := range file.Cells {
		for _, r := range c.Reps {
			if !r.Incomplete {
				return true
			}
		}
	}
	return false
}

// completeResults reports whether path holds a complete results file.
func completeResults(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	old, err := results.ReadFile(path)
	return err == nil && !old.Incomplete && len(old.Cells) > 0
}

// plural writes "1 cell", "2 cells".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// joinErrors joins two errors on one line; either may be nil.
func joinErrors(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}

// optionsString is the options the results record for strategy: the
// registry's rendering, "" for strategies that take none (and the kernel).
func optionsString(strategy string, o strategies.Options) string {
	info, err := strategies.Lookup(strategy)
	if err != nil {
		return ""
	}
	return info.OptionsString(o)
}
