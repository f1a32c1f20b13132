//go:build linux

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/reports"
	"lockbench/results"
)

// The default study is what `lockbench` with no command runs: the source
// threads' questions (docs/DESIGN.md, "Findings"), each on the scenario
// that isolates its effect, every strategy on tmpfs and the temp dir's
// filesystem, the filesystem-specific questions on loop targets of that
// filesystem when the machine can make them; then more repetitions for the
// cells whose comparisons are undecided, within the study's budget, and a
// short race-oracle run; it prints the findings and writes the results file
// and a report directory.

// studyPart is one grid of the default study.
type studyPart struct {
	scenarios, threads string
	// strategies is "all" when empty; models leaves the kernel engine out
	// where its scale is not part of the question's answer.
	strategies string
	// target is "auto" (tmpfs and the temp dir's filesystem) when empty.
	target string
	// fs, when set, runs the part on a loop target of that filesystem
	// (root and its mkfs needed), instead of the default targets.
	fs string
	// gupShare is the share of faulter stores from get_user_pages callers.
	gupShare float64
}

// models are the model's strategies, without the kernel engine.
const models = "none,rangelock,rwsem,seqcount,faultretry"

// studyParts are the default study's grids: fault-scale at one thread and
// at every CPU (the lock's cost, scaling) and fsync-write with the kernel
// engine beside the model (the kernel's scale); punch and write-fail on
// the model; stale-map and inline (protocol costs the model counts, with a
// tenth of inline's stores from GUP callers) on tmpfs; and the btrfs and
// XFS questions, kernel included, on their filesystems (on the default
// targets when the machine cannot make one, with a note saying why).
// Fewer cells leave the budget repetitions for the undecided ones.
var studyParts = []studyPart{
	{scenarios: "fault-scale", threads: "1..max"},
	{scenarios: "fsync-write", threads: "2"},
	{scenarios: "punch,write-fail", threads: "2", strategies: models},
	{scenarios: "stale-map", threads: "2", strategies: models, target: "tmpfs"},
	{scenarios: "inline", threads: "2", strategies: models, target: "tmpfs", gupShare: 0.1},
	{scenarios: "fsync-read", threads: "2", fs: "btrfs"},
	{scenarios: "fsync-read-xfs", threads: "2", fs: "xfs"},
}

// studySize is how long the study measures: repetitions per cell, time
// per repetition, the race oracle's budget per cell, and the time the
// measuring may take with the repetitions added to undecided cells.
type studySize struct {
	name     string
	reps     int
	maxReps  int
	duration time.Duration
	verify   string
	budget   time.Duration
}

var (
	// fullStudy has 6 repetitions of 200ms, the fewest for a 95% interval
	// of a median, and up to 20 for the cells of unsettled comparisons
	// while the measuring stays within 3m40s, so the whole study (with
	// verify and the report) stays within 5 minutes. (Shorter repetitions would buy more of them,
	// starting one costs about as much as measuring it, but the lock's
	// cost on a 100ms repetition swings with the pages it first creates.)
	fullStudy = studySize{"default", 6, 20, 200 * time.Millisecond, "500ms", 220 * time.Second}
	// quickStudy has 4, the fewest for a Mann-Whitney p below 0.05; about
	// a minute.
	quickStudy = studySize{"quick", 4, 6, 60 * time.Millisecond, "200ms", 40 * time.Second}
)

// studyWindow is the time-series window: 200 windows over a 200ms
// repetition, so one fsync or punch stall is its own window (and the
// faulters' stall share is the share of windows without a store).
const studyWindow = time.Millisecond

func cmdStudy(ctx context.Context, rr repRunner, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lockbench")
	quick := fs.Bool("quick", false, "a shorter study (4 reps of 60ms per cell, verify 200ms per cell): about a minute")
	verbose := fs.Bool("v", false, "also print every cell's table")
	out := fs.String("o", studyResults, "results file (JSON, gzip-compressed when the name ends in .gz)")
	reportDir := fs.String("report-dir", "lockbench-report", "report directory: index.html and its PNG charts")
	quiet := fs.Bool("q", false, "no progress on stderr")
	seed := fs.Uint64("seed", 1, "seed of every random choice")
	locks := fs.Bool("locks", false, "lock-wait tables in the report (as run -locks: the model's cells count every lock, which costs time)")
	calib := fs.Bool("calibrate", true, "first calibrate each target the kernel engine runs on (a few seconds each), and run the model cells of those parts there calibrated (\"+calibrated\"; the calibrations are stored in the results file); -calibrate=false: the uncalibrated model everywhere")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("lockbench: unexpected argument %q (commands: run, sweep, verify, report, hw, list, help)", fs.Arg(0))
	}
	if *out == "" || *reportDir == "" {
		return usagef("-o and -report-dir must not be empty")
	}
	if err := checkOutputPath("-o", *out); err != nil {
		return err
	}
	if err := results.CheckLink(strings.TrimRight(*reportDir, "/")); err != nil {
		return usagef("-report-dir: %v", err)
	}
	noteReplace(stderr, fs, "o", *out, "this study")
	if fi, err := os.Stat(*reportDir); err == nil && !fi.IsDir() {
		return usagef("-report-dir %s is not a directory", *reportDir)
	}
	if err := checkOutputPath("-report-dir", filepath.Join(filepath.Clean(*reportDir), "..", "probe")); err != nil {
		return err
	}
	size := fullStudy
	if *quick {
		size = quickStudy
	}
	start := time.Now()
	file, measured, runErr := runStudy(ctx, rr, size, *seed, *quiet, *locks, *calib, stderr)
	if file == nil {
		return runErr
	}
	if runErr != nil {
		file.Incomplete, file.Error = true, runErr.Error()
	}
	file.Version = buildVersion()
	file.Findings = reports.Findings(file)
	if err := writeStudy(file, *out, *reportDir); err != nil {
		return joinErrors(runErr, err)
	}
	if *verbose {
		if err := reports.Render(stdout, "text", file); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "lockbench %s study: %d cells x %s reps of %v in %s, verify %s/cell; total %s\n",
		size.name, len(file.Cells), repsRange(file), size.duration, measured.Round(time.Second), size.verify, time.Since(start).Round(time.Second))
	if *quick {
		fmt.Fprintf(stdout, "(-quick: %d reps per cell, too few for a difference to survive %d tests; without -quick: %d-%d)\n",
			size.reps, len(file.Findings), fullStudy.reps, fullStudy.maxReps)
	}
	if err := reports.WriteFindings(stdout, file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s\nreport:  %s (full tables: %s)\n", *out,
		filepath.Join(*reportDir, "index.html"), filepath.Join(*reportDir, "tables.txt"))
	switch {
	case runErr != nil:
		return fmt.Errorf("%w (the %d cells finished before it are kept, marked incomplete, with the error)", runErr, len(file.Cells))
	case file.Incomplete || ctx.Err() != nil:
		return errors.New("interrupted: results are incomplete (marked \"incomplete\": true)")
	case file.Verify != nil && !reports.VerifySafe(file.Verify):
		return errMismatch
	}
	return nil
}

// runStudy measures every part of the study into one results file, then
// runs the verify matrix into it, under one progress bar. It returns the
// file (nil when nothing could start), how long the measuring took, and
// the error that stopped it early.
func runStudy(ctx context.Context, rr repRunner, size studySize, seed uint64, quiet, locks, calib bool, stderr io.Writer) (*results.File, time.Duration, error) {
	var flags []*runFlags
	var plans []*plan
	var notes []string
	specs := []hardware.TargetSpec{}
	for _, part := range studyParts {
		target, strategy := cmp.Or(part.target, "auto"), cmp.Or(part.strategies, "all")
		if part.fs != "" {
			if why := loopUnavailable(part.fs); why != "" {
				notes = append(notes, fmt.Sprintf("%s on the default targets: no loop:%s target (%s)", part.scenarios, part.fs, why))
			} else {
				target = "loop:" + part.fs
			}
		}
		f := &runFlags{
			strategy: strategy, scenario: part.scenarios, threads: part.threads, target: target,
			duration: size.duration, seed: seed, reps: size.reps, pin: "none", format: "text",
			clockKind: "auto", watchdog: 10 * time.Second, fallback: "sigbus", quiet: quiet, window: studyWindow,
			locks: locks, gupShare: part.gupShare,
		}
		p, err := f.validate()
		if err != nil {
			return nil, 0, err
		}
		p.runRep = rr
		specs = addSpecs(specs, p.targets)
		flags, plans = append(flags, f), append(plans, p)
	}
	v, vp, err := studyVerifyPlan(size, seed)
	if err != nil {
		return nil, 0, err
	}
	vp.runRep = rr
	machine, err := hardware.Detect()
	if err != nil {
		return nil, 0, fmt.Errorf("detecting the machine: %w", err)
	}
	file := &results.File{
		Schema: results.SchemaVersion, Tool: "lockbench", Command: "lockbench" + map[bool]string{true: " -quick"}[size.name == "quick"],
		Created: time.Now().UTC(), Machine: machine.Desc(), Cells: []results.Cell{}, Notes: notes,
	}
	var measured time.Duration
	err = withTargets(ctx, specs, stderr, func(targets []hardware.Target) error {
		start := time.Now()
		if calib {
			if err := studyCalibrations(ctx, plans, targets, machine, seed, quiet, file, stderr); err != nil {
				return err
			}
		}
		var grids []grid
		total := len(vp.strategies) * (len(vp.scenarios) + min(len(vp.holetest), 1))
		for _, p := range plans {
			printNote(stderr, p.note)
			g := grid{strategies: p.strategies, scenarios: p.scenarios, threads: p.threads, targets: targetsOf(targets, p.targets),
				reps: 1, runs: p.runsCell}
			grids = append(grids, g)
			total += g.cells() * size.reps
		}
		progress := newProgress(stderr, total, quiet)
		defer progress.done()
		measuring := time.Now()
		err := measureInterleaved(ctx, grids, flags, plans, machine, file, progress, size.reps)
		if err == nil && ctx.Err() == nil {
			err = measureUndecided(ctx, grids, flags, plans, machine, file, progress, size, start, measuring)
			for j := range file.Cells {
				file.Cells[j].Config.Reps = max(file.Cells[j].Config.Reps, len(file.Cells[j].Reps))
			}
		}
		measured = time.Since(start)
		if err != nil || ctx.Err() != nil {
			return err
		}
		var tmpfs []hardware.Target
		for _, t := range targets {
			if t.Spec == "tmpfs" {
				tmpfs = append(tmpfs, t)
			}
		}
		if len(tmpfs) == 0 {
			tmpfs = targets[:1]
		}
		m := &results.Matrix{Budget: v.budget}
		file.Verify = m
		if err := verifyMatrix(ctx, v, vp, tmpfs[0], m, progress); err != nil || ctx.Err() != nil {
			return err
		}
		return verifyHoletest(ctx, v, vp, tmpfs[0], m, progress)
	})
	if ctx.Err() != nil {
		file.Incomplete = true
	}
	return file, measured, err
}

// addSpecs adds to specs those of more it does not name yet: a part's
// "tmpfs" and another's "auto" name one directory, prepared once.
func addSpecs(specs, more []hardware.TargetSpec) []hardware.TargetSpec {
	for _, ts := range more {
		if !slices.ContainsFunc(specs, func(o hardware.TargetSpec) bool { return o.String() == ts.String() }) {
			specs = append(specs, ts)
		}
	}
	return specs
}

// targetsOf keeps the prepared targets whose spec is in specs.
func targetsOf(all []hardware.Target, specs []hardware.TargetSpec) []hardware.Target {
	var out []hardware.Target
	for _, t := range all {
		if slices.ContainsFunc(specs, func(ts hardware.TargetSpec) bool { return ts.String() == t.Spec }) {
			out = append(out, t)
		}
	}
	return out
}

// loopUnavailable says why the study cannot make a loop target of fs
// ("not root", "mkfs.btrfs not found"), or "" when it can.
func loopUnavailable(fs string) string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	for _, tool := range []string{"mkfs." + fs, "losetup", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found"
		}
	}
	return ""
}

// repsRange is "6" or "6-12": the repetitions of the file's cells.
func repsRange(f *results.File) string {
	lo, hi := 0, 0
	for i, c := range f.Cells {
		if n := len(c.Reps); i == 0 || n < lo {
			lo = n
		}
		hi = max(hi, len(c.Reps))
	}
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// measureInterleaved runs the grids reps times over, one repetition of
// every cell per pass, and gathers the passes' repetitions into one cell
// each: a drift of the machine (another job, the page cache, the CPU's
// clock) then spreads over every strategy instead of favouring the one
// that ran first. Note: run's order (all repetitions of a cell back to
// back) would put "none", the baseline, first in every group.
func measureInterleaved(ctx context.Context, grids []grid, flags []*runFlags, plans []*plan, machine hardware.Machine,
	file *results.File, progress *progress, reps int) error {
	at := map[cellKey]int{}
	for j, c := range file.Cells {
		at[cellKey{c.Config.Strategy, c.Config.Scenario, c.Config.Target, c.Config.Threads}] = j
	}
	for pass := 0; pass < reps; pass++ {
		for i, g := range grids {
			one := *flags[i]
			one.reps = 1
			part := &results.File{}
			s := &session{f: &one, p: plans[i], machine: machine, file: part, progress: progress, cals: plans[i].cals}
			err := s.runCells(ctx, g)
			for _, c := range part.Cells {
				c.Config.Reps = reps
				k := cellKey{c.Config.Strategy, c.Config.Scenario, c.Config.Target, c.Config.Threads}
				j, ok := at[k]
				if !ok {
					at[k] = len(file.Cells)
					file.Cells = append(file.Cells, c)
					continue
				}
				for _, r := range c.Reps {
					r.Index = len(file.Cells[j].Reps)
					file.Cells[j].AddRep(r)
				}
				file.Cells[j].Incomplete = file.Cells[j].Incomplete || c.Incomplete
			}
			progress.base += g.cells()
			if err != nil || ctx.Err() != nil {
				for j := range file.Cells {
					file.Cells[j].Incomplete = file.Cells[j].Incomplete || len(file.Cells[j].Reps) < reps
				}
				return err
			}
		}
	}
	return nil
}

// cellKey identifies a cell of the study.
type cellKey struct {
	strategy, scenario, target string
	threads                    int
}

// measureUndecided adds repetitions, two per round, to the cells of the
// comparisons that are not settled (reports.Settled: no difference
// detected yet, or a difference at an adjusted p near the threshold),
// until every comparison is settled, a cell has size.maxReps, or the
// measuring since start would overrun size.budget; when the budget cannot
// take every unsettled cell, a round takes those of the comparisons
// nearest to the threshold (reports.Nearness) first. Settled cells stop:
// sequential, as the findings' statistics allow (docs/DESIGN.md,
// "Findings"). A repetition's cost is what the repetitions since
// measuring took on average (setup, measuring, the findings between
// rounds), so a loaded machine gets fewer rounds rather than a late study.
func measureUndecided(ctx context.Context, grids []grid, flags []*runFlags, plans []*plan, machine hardware.Machine,
	file *results.File, progress *progress, size studySize, start, measuring time.Time) error {
	const step = 2
	for {
		undecided := undecidedCells(file, size.maxReps-step)
		perCell := time.Duration(step) * repCost(file, measuring, size.duration)
		fit := int((size.budget - time.Since(start)) / perCell)
		if len(undecided) == 0 || fit < 2 {
			return nil
		}
		keys := slices.Collect(maps.Keys(undecided))
		slices.SortFunc(keys, func(a, b cellKey) int {
			return cmp.Or(cmp.Compare(undecided[a], undecided[b]), cmp.Compare(a.String(), b.String()))
		})
		take := map[cellKey]bool{}
		for _, k := range keys[:min(fit, len(keys))] {
			take[k] = true
		}
		progress.total += len(take) * step
		for range step {
			for i, g := range grids {
				var sub []grid
				for pt := range g.points() {
					if take[cellKey{pt.Strategy, pt.Scenario.Name, pt.Target.Spec, pt.Threads}] {
						sub = append(sub, grid{strategies: []string{pt.Strategy}, scenarios: []hotpath.Scenario{pt.Scenario},
							threads: []int{pt.Threads}, targets: []hardware.Target{pt.Target}, reps: 1, runs: g.runs})
					}
				}
				if len(sub) == 0 {
					continue
				}
				if err := measureInterleaved(ctx, sub, repeat(flags[i], len(sub)), repeatPlan(plans[i], len(sub)), machine, file, progress, 1); err != nil || ctx.Err() != nil {
					return err
				}
			}
		}
	}
}

func repeat(f *runFlags, n int) []*runFlags {
	out := make([]*runFlags, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func repeatPlan(p *plan, n int) []*plan {
	out := make([]*plan, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func (k cellKey) String() string { return fmt.Sprint(k.strategy, k.scenario, k.target, k.threads) }

// repCost is what a repetition has cost on average since measuring began
// (the file's repetitions are all measured since); before any, twice the
// duration (a repetition's setup costs about as much as its measuring).
func repCost(file *results.File, measuring time.Time, duration time.Duration) time.Duration {
	n := 0
	for _, c := range file.Cells {
		n += len(c.Reps)
	}
	if n == 0 {
		return 2 * duration
	}
	return max(time.Since(measuring)/time.Duration(n), duration)
}

// undecidedCells are the cells, with at most limit repetitions, of the
// comparisons that are not settled (reports.Settled), each with the
// reports.Nearness of its comparison nearest to the threshold. Cells are
// keyed by the strategy the findings name them by: a calibrated model
// cell ("rwsem+calibrated") under its strategy's ("rwsem"), as the grids'
// points name it.
func undecidedCells(file *results.File, limit int) map[cellKey]float64 {
	reps := map[cellKey]int{}
	for _, c := range file.Cells {
		s := strings.TrimSuffix(c.Config.Strategy, calibSuffix)
		reps[cellKey{s, c.Config.Scenario, c.Config.Target, c.Config.Threads}] = len(c.Reps)
	}
	out := map[cellKey]float64{}
	for _, f := range reports.Findings(file) {
		if reports.Settled(f) {
			continue
		}
		near := reports.Nearness(f.PAdj)
		for _, s := range []string{f.Strategy, f.Versus} {
			k := cellKey{s, f.Scenario, f.Target, f.Threads}
			if n, ok := reps[k]; ok && n <= limit {
				if d, seen := out[k]; !seen || near < d {
					out[k] = near
				}
			}
		}
	}
	return out
}

// studyVerifyPlan is verify's defaults at the study's budget, with a 1 MiB
// holetest.
func studyVerifyPlan(size studySize, seed uint64) (*verifyFlags, *verifyPlan, error) {
	v := &verifyFlags{}
	v.register(newFlagSet("verify"))
	v.budget, v.seed, v.holeSizes, v.out = size.verify, fmt.Sprint(seed), "1M", ""
	p, err := v.validate()
	return v, p, err
}

// writeStudy writes the results file and the report directory with its
// charts and the full text tables.
func writeStudy(file *results.File, out, reportDir string) error {
	if err := results.WriteFile(out, file); err != nil {
		return err
	}
	if err := results.MkdirAll(reportDir); err != nil {
		return fmt.Errorf("-report-dir: %w", err)
	}
	if err := reports.WriteReportDir(reportDir, []*results.File{file}); err != nil {
		return err
	}
	return results.WriteAtomic(filepath.Join(reportDir, "tables.txt"), func(w io.Writer) error {
		return reports.Render(w, "text", file)
	})
}

// buildVersion is the module version and VCS revision of this build;
// `go run` stamps no revision, so then it asks git about the current
// directory (the module, for `go run ./cmd/lockbench`).
func buildVersion() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			rev = strings.TrimSpace(string(out))
			st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
			dirty = err == nil && len(st) > 0
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev
	}
	if dirty {
		v += "+dirty"
	}
	return v
}

// studyCalibrations calibrates (-calibrate) every target that a part of
// the study runs the kernel engine on, stores the calibrations in file,
// and gives them to those parts, whose model cells then run calibrated.
func studyCalibrations(ctx context.Context, plans []*plan, targets []hardware.Target, machine hardware.Machine, seed uint64, quiet bool, file *results.File, stderr io.Writer) error {
	var kt []hardware.Target
	for _, p := range plans {
		if !slices.Contains(p.strategies, hotpath.KernelName) {
			continue
		}
		for _, t := range targetsOf(targets, p.targets) {
			if !slices.ContainsFunc(kt, func(u hardware.Target) bool { return u.Spec == t.Spec }) {
				kt = append(kt, t)
			}
		}
	}
	cals, err := calibrations(ctx, &calibFlags{calibrate: true}, machine, kt, seed, quiet, stderr)
	if err != nil {
		return err
	}
	for _, t := range kt {
		if c := cals[t.Spec]; c != nil {
			file.Calibrations = append(file.Calibrations, *c)
		}
	}
	for _, p := range plans {
		if slices.Contains(p.strategies, hotpath.KernelName) {
			p.cals = cals
		}
	}
	return nil
}
