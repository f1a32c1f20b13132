package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
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
	c := results.VerifyCell{Scenario: "holetest", Race: "R1", Seed: seed, Expect: "safe", Verdict: "safe", Seeds: 1}
	var dc *hotpath.DelayConfig
	if delay > 0 {
		dc = &hotpath.DelayConfig{For: delay, Points: []string{"write-copy", "cleanup"}}
	}
	for _, size := range sizes {
		for k := range hotpath.HoleKindNames {
			for _, pre := range []bool{false, true} {
				for _, pw := range []bool{false, true} {
					r, err := hotpath.HoleTest(ctx, hotpath.HoleConfig{Strategy: st, Dir: dir, Size: size, Kind: hotpath.HoleKind(k),
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
						c.Verdict = "violated"
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

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("verify")
	strategy := fs.String("strategy", "all", "comma list of strategies: "+strings.Join(strategies.Names(), ", ")+", or all")
	scenario := fs.String("scenario", "all", "comma list of race scenarios: "+strings.Join(raceScenarios(), ", ")+", holetest, or all")
	budget := fs.String("budget", "2s", "budget per cell: a duration (2s) or an operation count (1000000ops)")
	threads := fs.Int("threads", 2, "foreground workers per cell")
	seedStr := fs.String("seed", "1", "seed (a replay gives the seed of a violating run)")
	seeds := fs.Int("seeds", 1, "run each cell with this many seeds (seed, seed+1, ...) and count how many reproduce")
	delay := fs.Duration("delay", 50*time.Microsecond, "delay injection at each scenario's race points (0: off)")
	target := fs.String("target", "tmpfs", "target (as for run)")
	out := fs.String("o", "lockbench-verify.json", "results file with the matrix (empty: none)")
	holeSizes := fs.String("holetest-sizes", "1M,16M", "file sizes of the fstests 344/346 replica (1M,16M,256M in fstests; empty: skip it)")
	gup := fs.Float64("gup-share", 0, "faultretry: share of stores from get_user_pages callers, in [0,1]")
	fallback := fs.String("fallback", "sigbus", "faultretry: "+strings.Join(strategies.FallbackNames, ", "))
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("verify: unexpected argument %q", fs.Arg(0))
	}
	sts, err := parseList(*strategy, strategies.Names(), "-strategy")
	if err != nil {
		return err
	}
	scs, err := parseList(*scenario, append(raceScenarios(), "holetest"), "-scenario")
	if err != nil {
		return err
	}
	if *scenario == "all" {
		scs = raceScenarios()
	}
	scs = slices.DeleteFunc(scs, func(s string) bool { return s == "holetest" })
	dur, ops, err := parseBudget(*budget)
	if err != nil {
		return err
	}
	seed, err := strconv.ParseUint(*seedStr, 10, 64)
	if err != nil {
		return usagef("-seed %q is not an unsigned integer", *seedStr)
	}
	if *seeds < 1 || *seeds > 10000 {
		return usagef("-seeds must be between 1 and 10000, got %d", *seeds)
	}
	if *threads < 1 || *threads > 4096 {
		return usagef("-threads must be between 1 and 4096, got %d", *threads)
	}
	if *delay < 0 || *delay > time.Second {
		return usagef("-delay must be in [0, 1s], got %v", *delay)
	}
	var sizes []int64
	if *holeSizes != "" {
		for _, x := range strings.Split(*holeSizes, ",") {
			n, err := parseSize(strings.TrimSpace(x))
			if err != nil || n <= 0 || n%4096 != 0 {
				return usagef("-holetest-sizes: %q is not a positive multiple of 4096 bytes (such as 1M)", x)
			}
			sizes = append(sizes, n)
		}
	}
	opts := strategies.Options{GUPShare: *gup, Fallback: *fallback}
	if err := opts.Validate(); err != nil {
		return usageError{err}
	}
	if *out != "" {
		if err := checkWritableDir("-o", *out); err != nil {
			return err
		}
	}
	specs, err := hardware.ParseTargets(*target)
	if err != nil {
		return usagef("-target: %v", err)
	}
	if len(specs) != 1 {
		return usagef("-target: verify runs on one target, got %d in %q", len(specs), *target)
	}
	targets, cleanup, err := hardware.PrepareAll(ctx, specs)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	tgt := targets[0]
	machine, err := hardware.Detect()
	if err != nil {
		return err
	}
	m := &results.Matrix{Budget: *budget}
	ok := true
	progress := newProgress(stderr, len(sts)*len(scs), false)
	k := 0
	for _, scn := range scs {
		sc, _ := hotpath.LookupScenario(scn)
		for _, sn := range sts {
			k++
			progress.cell(k, sn+" "+scn)
			st, err := strategies.New(sn, opts)
			if err != nil {
				return usageError{err}
			}
			// Run the cell once per seed; the cell shows the first
			// violating seed's run, and how many seeds reproduced.
			var c results.VerifyCell
			var totalOps int64
			for i := 0; i < *seeds && ctx.Err() == nil; i++ {
				cfg := hotpath.Config{
					Strategy: st, Scenario: sc, Threads: *threads, Duration: dur, OpLimit: ops,
					Seed: seed + uint64(i), Dir: tgt.Path, Oracle: true, GUPShare: *gup, Watchdog: 5 * time.Second, Direct: true,
				}
				if *delay > 0 {
					cfg.Delay = &hotpath.DelayConfig{For: *delay, Points: sc.Delays}
				}
				activeDirs.Store(tgt.Path, true)
				rep, err := hotpath.Run(ctx, cfg)
				activeDirs.Delete(tgt.Path)
				var dl *hotpath.DeadlockError
				if err != nil && !errors.As(err, &dl) {
					return fmt.Errorf("verify %s %s: %w", sn, scn, err)
				}
				ci := verdict(sn, sc, rep, seed+uint64(i), *budget, *delay, *threads)
				totalOps += ci.Ops
				if i == 0 || c.Verdict == "safe" && ci.Verdict != "safe" {
					ci.Seeds, ci.Reproduced = c.Seeds, c.Reproduced
					c = ci
				}
				if ci.Verdict != "safe" {
					c.Reproduced++
				}
				c.Seeds++
			}
			c.Ops = totalOps
			c.Matches = matches(c)
			ok = ok && c.Matches
			m.Cells = append(m.Cells, c)
			if ctx.Err() != nil {
				break
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(sizes) > 0 && ctx.Err() == nil && (*scenario == "all" || strings.Contains(*scenario, "holetest")) {
		for _, sn := range sts {
			progress.cell(k, sn+" holetest")
			st, err := strategies.New(sn, opts)
			if err != nil {
				return usageError{err}
			}
			c, err := holetest(ctx, st, tgt.Path, sizes, seed, *delay)
			if err != nil {
				return fmt.Errorf("verify %s holetest: %w", sn, err)
			}
			c.Strategy = sn
			if c.Verdict != "safe" {
				c.Replay = fmt.Sprintf("go run ./cmd/lockbench verify -strategy %s -scenario holetest -seed %d -delay %v", sn, seed, *delay)
			}
			if expectViolated(sn, strategies.R1) {
				c.Expect = "violated"
			}
			c.Matches = matches(c)
			ok = ok && c.Matches
			m.Cells = append(m.Cells, c)
		}
		scs = append(scs, "holetest")
	}
	progress.done()
	if err := writeMatrix(stdout, m, sts, scs); err != nil {
		return err
	}
	if *out != "" {
		f := &results.File{Schema: results.SchemaVersion, Tool: "lockbench", Command: "verify " + strings.Join(args, " "), Created: time.Now().UTC(),
			Machine: machine, Verify: m, Incomplete: ctx.Err() != nil}
		if err := results.WriteFile(*out, f); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "results: %s\n", *out)
	}
	if ctx.Err() != nil {
		return errors.New("interrupted: the matrix is incomplete")
	}
	if !ok {
		return errMismatch
	}
	return nil
}

func verdict(sn string, sc hotpath.Scenario, rep results.Rep, seed uint64, budget string, delay time.Duration, threads int) results.VerifyCell {
	c := results.VerifyCell{Strategy: sn, Scenario: sc.Name, Race: sc.Race.String(), Seed: seed, Verdict: "safe", Expect: "safe"}
	if expectViolated(sn, sc.Race) {
		c.Expect = "violated"
	}
	for _, w := range rep.Workers {
		c.Ops += w.Ops
	}
	switch {
	case rep.Deadlock != "":
		c.Verdict = "deadlock"
		c.Detail = rep.Deadlock
	case len(rep.Violations) > 0:
		c.Verdict = "violated"
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
	if c.Verdict != "safe" {
		d := "2s"
		if strings.HasSuffix(budget, "s") && !strings.HasSuffix(budget, "ops") {
			d = budget
		}
		c.Replay = fmt.Sprintf("go run ./cmd/lockbench run -strategy %s -scenario %s -threads %d -seed %d -duration %s -oracle -delay %v -o ''", sn, sc.Name, threads, seed, d, delay)
	}
	return c
}

// matches says whether a cell meets its expectation: S cells must be safe;
// none must be violated; other V cells are reported as measured.
func matches(c results.VerifyCell) bool {
	if c.Expect == "safe" {
		return c.Verdict == "safe"
	}
	if c.Strategy == "none" {
		return c.Verdict != "safe"
	}
	return true
}

func writeMatrix(w io.Writer, m *results.Matrix, sts, scs []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "race oracle, budget %s per cell\n", m.Budget)
	fmt.Fprint(tw, "SCENARIO\tRACE")
	for _, s := range sts {
		fmt.Fprintf(tw, "\t%s", s)
	}
	fmt.Fprintln(tw)
	for _, scn := range scs {
		race := ""
		var row []string
		for _, s := range sts {
			for _, c := range m.Cells {
				if c.Strategy == s && c.Scenario == scn {
					race = c.Race
					row = append(row, cellText(c))
				}
			}
		}
		if len(row) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", scn, race, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(expected: S = must be safe, V = expected violated; ! marks a cell that does not match)")
	for _, c := range m.Cells {
		if c.Verdict != "safe" {
			fmt.Fprintf(w, "\n%s on %s: %s, first at op %d (seed %d)\n  %s\n  replay: %s\n", c.Strategy, c.Scenario, c.Verdict, c.FirstAt, c.Seed, c.Detail, c.Replay)
		}
	}
	return nil
}

func cellText(c results.VerifyCell) string {
	exp := "S"
	if c.Expect == "violated" {
		exp = "V"
	}
	var s string
	switch c.Verdict {
	case "safe":
		s = fmt.Sprintf("safe: 0 in %s ops", human(c.Ops))
	case "violated":
		s = fmt.Sprintf("VIOLATED: %d, first at op %d", c.Violations, c.FirstAt)
		if c.Seeds > 1 {
			s += fmt.Sprintf(", %d/%d seeds", c.Reproduced, c.Seeds)
		}
	default:
		s = "DEADLOCK"
	}
	mark := ""
	if !c.Matches {
		mark = " !"
	}
	return fmt.Sprintf("%s [%s]%s", s, exp, mark)
}

func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}
