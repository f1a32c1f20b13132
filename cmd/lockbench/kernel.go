//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/results"
	"lockbench/strategies"
)

// The kernel engine's command-line rules (strategy "kernel"): the model's
// own flags are refused with it, and scenarios without a real counterpart
// are refused when both were named, skipped (and said so once) when either
// came from "all".

// kernelModelOnly returns the first model-only flag f sets, or "".
func kernelModelOnly(f *runFlags) string {
	switch {
	case f.oracle:
		return "-oracle"
	case f.delay > 0:
		return "-delay"
	case f.gupShare != 0:
		return "-gup-share"
	case f.fallback != "" && f.fallback != "sigbus":
		return "-fallback"
	case f.retryContended:
		return "-retry-contended"
	}
	return ""
}

// checkKernel applies the rules to a plan whose strategies include kernel:
// it returns a usage error, or drops what it skips and returns the note
// that says so.
func (p *plan) checkKernel(f *runFlags) (note string, err error) {
	if !slices.Contains(p.strategies, hotpath.KernelName) {
		return "", nil
	}
	if flag := kernelModelOnly(f); flag != "" {
		if f.strategy != "all" {
			return "", usagef("%s is model-only: strategy %s runs the real kernel, which has no such option", flag, hotpath.KernelName)
		}
		p.strategies = slices.DeleteFunc(p.strategies, func(s string) bool { return s == hotpath.KernelName })
		return fmt.Sprintf("note: -strategy all skips %s: %s is model-only", hotpath.KernelName, flag), nil
	}
	var skipped []string
	for _, sc := range p.scenarios {
		if rerr := hotpath.KernelRefusal(sc); rerr != nil {
			if f.strategy != "all" && f.scenario != "all" {
				return "", usageError{fmt.Errorf("-scenario: %w", rerr)}
			}
			skipped = append(skipped, sc.Name)
			if p.kernelSkip == nil {
				p.kernelSkip = map[string]bool{}
			}
			p.kernelSkip[sc.Name] = true
		}
	}
	if len(skipped) > 0 {
		note = fmt.Sprintf("note: %s skips %s (no real counterpart; see `lockbench list`)", hotpath.KernelName, strings.Join(skipped, ", "))
	}
	return note, nil
}

// runsCell reports whether the cell of strategy sn and scenario sc runs.
func (p *plan) runsCell(sn string, sc hotpath.Scenario) bool {
	return sn != hotpath.KernelName || !p.kernelSkip[sc.Name]
}

// printNote writes a plan's note once, if any.
func printNote(w io.Writer, note string) {
	if note != "" {
		fmt.Fprintln(w, note)
	}
}

// newStrategy returns the model strategy called sn, or nil for the
// kernel engine, which has none.
func newStrategy(sn string, o strategies.Options) (strategies.Strategy, error) {
	if sn == hotpath.KernelName {
		return nil, nil
	}
	return strategies.New(sn, o)
}

// kernelControlName is the verify column of the kernel's control.
const kernelControlName = "control"

// verifyKernelSkips applies the refusal rule to verify: a scenario without
// a real counterpart, named together with kernel, is a usage error; under
// "all" the kernel skips it (its matrix cell reads "-").
func verifyKernelSkips(v *verifyFlags, p *verifyPlan) (map[string]bool, error) {
	if !slices.Contains(p.strategies, hotpath.KernelName) {
		return nil, nil
	}
	switch {
	case v.gup != 0 && v.strategy != "all":
		return nil, usagef("-gup-share is model-only: strategy %s runs the real kernel, which has no such option", hotpath.KernelName)
	case v.fallback != "sigbus" && v.strategy != "all":
		return nil, usagef("-fallback is model-only: strategy %s runs the real kernel, which has no such option", hotpath.KernelName)
	}
	skip := map[string]bool{}
	for _, sc := range p.scenarios {
		if err := hotpath.KernelRefusal(sc); err != nil {
			if v.strategy != "all" && v.scenario != "all" {
				return nil, usageError{fmt.Errorf("-scenario: %w", err)}
			}
			skip[sc.Name] = true
		}
	}
	return skip, nil
}

// kernelConfig turns a verify cell's config into the kernel engine's when
// sn is kernel: no model, no oracle, no delay injection (the real file is
// checked at the end of every kernel run).
func kernelConfig(cfg *hotpath.Config, sn string) {
	if sn != hotpath.KernelName {
		return
	}
	cfg.Kernel, cfg.Strategy, cfg.Oracle, cfg.Delay, cfg.GUPShare = true, nil, false, nil, 0
}

// verifyKernelControl runs the real-file checker's control: a punch run
// whose read-back is preceded by a punch of one completed store's page
// behind the checker's back. The checker must flag it; a "safe" verdict
// here means the checker cannot fail and the matrix does not match.
func verifyKernelControl(ctx context.Context, v *verifyFlags, p *verifyPlan, tgt hardware.Target, m *results.Matrix) error {
	sc, err := hotpath.LookupScenario("punch")
	if err != nil {
		return err
	}
	cfg := hotpath.Config{Kernel: true, KernelControl: true, Scenario: sc, Threads: v.threads, Duration: min(p.dur, time.Second),
		OpLimit: p.ops, Seed: p.seed, Dir: tgt.Path, Watchdog: 5 * time.Second}
	if cfg.Duration == 0 {
		cfg.Duration = time.Second
	}
	rep, err := runRep(ctx, cfg)
	if err != nil {
		return fmt.Errorf("verify %s control: %w", hotpath.KernelName, err)
	}
	c := verdict(hotpath.KernelName, sc, rep, p.seed)
	c.Scenario, c.Race, c.Expect = kernelControlName, "I1", results.Violated
	c.Replay = fmt.Sprintf("go run ./cmd/lockbench verify -strategy %s -scenario punch -seed %d -target %s", hotpath.KernelName, p.seed, v.target)
	if c.Verdict == results.Violated {
		c.Detail = "the control destroyed a completed store and the real-file checker caught it: " + c.Detail
	} else {
		c.Detail = "the control destroyed a completed store and the real-file checker did NOT catch it"
	}
	c.Matches = c.Verdict == results.Violated
	m.Cells = append(m.Cells, c)
	return nil
}
