//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"lockbench/hardware"
	"lockbench/reports"
	"lockbench/results"
)

// The default study is what `lockbench` with no command runs: every
// strategy on the scenarios that show the trade-offs, on tmpfs and the temp
// dir's filesystem, with enough repetitions for a 95% interval of every
// median, then a short race-oracle run; it prints the findings and writes
// the results file and a report directory.

// studyParts are the default study's scenarios and their thread counts:
// fault-scale across every CPU count (scaling), the contended scenarios at
// two threads.
var studyParts = []struct{ scenarios, threads string }{
	{"fault-scale", "1..max"},
	{"fsync-storm,fsync-read,punch,write-fail", "2"},
}

// studySize is how long the study measures: repetitions per cell, time
// per repetition, and the race oracle's budget per cell.
type studySize struct {
	name     string
	reps     int
	duration time.Duration
	verify   string
}

var (
	// fullStudy has 6 repetitions, the fewest for a 95% interval of a
	// median; about 4 minutes on a 2-CPU VM.
	fullStudy = studySize{"default", 6, 200 * time.Millisecond, "800ms"}
	// quickStudy has 4, the fewest for a Mann-Whitney p below 0.05; about
	// a minute.
	quickStudy = studySize{"quick", 4, 60 * time.Millisecond, "200ms"}
)

// studyWindow is the time-series window: 200 windows over a 200ms
// repetition, so one fsync or punch stall is its own window.
const studyWindow = time.Millisecond

func cmdStudy(ctx context.Context, rr repRunner, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lockbench")
	quick := fs.Bool("quick", false, "a shorter study (4 reps of 60ms per cell, verify 200ms per cell): about a minute")
	verbose := fs.Bool("v", false, "also print every cell's table")
	out := fs.String("o", "lockbench-results.json.gz", "results file (JSON, gzip-compressed when the name ends in .gz)")
	reportDir := fs.String("report-dir", "lockbench-report", "report directory: index.html and its PNG charts")
	quiet := fs.Bool("q", false, "no progress on stderr")
	seed := fs.Uint64("seed", 1, "seed of every random choice")
	locks := fs.Bool("locks", false, "lock-wait tables in the report (as run -locks: the model's cells count every lock, which costs time)")
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
	file, measured, runErr := runStudy(ctx, rr, size, *seed, *quiet, *locks, stderr)
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
	fmt.Fprintf(stdout, "lockbench %s study: %d cells x %d reps of %v, measured in %s, verify %s per cell; total %s\n",
		size.name, len(file.Cells), size.reps, size.duration, measured.Round(time.Second), size.verify, time.Since(start).Round(time.Second))
	if *quick {
		fmt.Fprintf(stdout, "(-quick: %d reps per cell, enough for a p-value but too few for a 95%% interval of each median; without -quick: 6)\n", size.reps)
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
func runStudy(ctx context.Context, rr repRunner, size studySize, seed uint64, quiet, locks bool, stderr io.Writer) (*results.File, time.Duration, error) {
	var flags []*runFlags
	var plans []*plan
	for _, part := range studyParts {
		f := &runFlags{
			strategy: "all", scenario: part.scenarios, threads: part.threads, target: "auto",
			duration: size.duration, seed: seed, reps: size.reps, pin: "none", format: "text",
			clockKind: "auto", watchdog: 10 * time.Second, fallback: "sigbus", quiet: quiet, window: studyWindow,
			locks: locks,
		}
		p, err := f.validate()
		if err != nil {
			return nil, 0, err
		}
		p.runRep = rr
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
		Created: time.Now().UTC(), Machine: machine.Desc(), Cells: []results.Cell{},
	}
	var measured time.Duration
	err = withTargets(ctx, plans[0].targets, stderr, func(targets []hardware.Target) error {
		start := time.Now()
		var grids []grid
		total := len(vp.strategies) * (len(vp.scenarios) + min(len(vp.holetest), 1))
		for _, p := range plans {
			printNote(stderr, p.note)
			g := grid{strategies: p.strategies, scenarios: p.scenarios, threads: p.threads, targets: targets, reps: 1, runs: p.runsCell}
			grids = append(grids, g)
			total += g.cells() * size.reps
		}
		progress := newProgress(stderr, total, quiet)
		defer progress.done()
		err := measureInterleaved(ctx, grids, flags, plans, machine, file, progress, size.reps)
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

// measureInterleaved runs the grids reps times over, one repetition of
// every cell per pass, and gathers the passes' repetitions into one cell
// each: a drift of the machine (another job, the page cache, the CPU's
// clock) then spreads over every strategy instead of favouring the one
// that ran first. Note: run's order (all repetitions of a cell back to
// back) would put "none", the baseline, first in every group.
func measureInterleaved(ctx context.Context, grids []grid, flags []*runFlags, plans []*plan, machine hardware.Machine,
	file *results.File, progress *progress, reps int) error {
	type key struct {
		strategy, scenario, target string
		threads                    int
	}
	at := map[key]int{}
	for pass := 0; pass < reps; pass++ {
		for i, g := range grids {
			one := *flags[i]
			one.reps = 1
			part := &results.File{}
			s := &session{f: &one, p: plans[i], machine: machine, file: part, progress: progress}
			err := s.runCells(ctx, g)
			for _, c := range part.Cells {
				c.Config.Reps = reps
				k := key{c.Config.Strategy, c.Config.Scenario, c.Config.Target, c.Config.Threads}
				j, ok := at[k]
				if !ok {
					at[k] = len(file.Cells)
					file.Cells = append(file.Cells, c)
					continue
				}
				for _, r := range c.Reps {
					r.Index = len(file.Cells[j].Reps)
					file.Cells[j].Reps = append(file.Cells[j].Reps, r)
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
