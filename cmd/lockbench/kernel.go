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
// came from "all". run, sweep and the study apply them through
// plan.checkKernel, verify through verifyKernelSkips; both read the one
// list of model-only flags below and the one refusal rule (kernelSkips).

// modelOptions are the values of the model-only flags a command line gave.
type modelOptions struct {
	oracle         bool
	delay          time.Duration
	gupShare       float64
	fallback       string
	retryContended bool
}

// modelOnlyFlags is the one list of the flags that apply to the model only,
// each with the test of a value that asks the model for something (which
// the kernel engine, having no model, cannot honour). A new model-only flag
// is one row here and its field in modelOptions.
var modelOnlyFlags = []struct {
	name string
	set  func(modelOptions) bool
}{
	{"-oracle", func(o modelOptions) bool { return o.oracle }},
	{"-delay", func(o modelOptions) bool { return o.delay > 0 }},
	{"-gup-share", func(o modelOptions) bool { return o.gupShare != 0 }},
	{"-fallback", func(o modelOptions) bool { return o.fallback != "" && o.fallback != "sigbus" }},
	{"-retry-contended", func(o modelOptions) bool { return o.retryContended }},
}

// firstSet returns the first model-only flag o sets, or "".
func (o modelOptions) firstSet() string {
	for _, f := range modelOnlyFlags {
		if f.set(o) {
			return f.name
		}
	}
	return ""
}

// modelOnlyError is the usage error for a model-only flag given with the
// kernel engine named.
func modelOnlyError(flag string) error {
	return usagef("%s is model-only: strategy %s runs the real kernel, which has no such option", flag, hotpath.KernelName)
}

// modelOptions are run's (and sweep's and the study's) model-only values.
func (f *runFlags) modelOptions() modelOptions {
	return modelOptions{oracle: f.oracle, delay: f.delay, gupShare: f.gupShare, fallback: f.fallback, retryContended: f.retryContended}
}

// kernelSkips is the one refusal rule for scenarios: a scenario without a
// real counterpart is a usage error when the kernel and it were both named
// (allNamed false), and skipped otherwise: the returned set.
func kernelSkips(scenarios []hotpath.Scenario, allNamed bool) (map[string]bool, error) {
	var skip map[string]bool
	for _, sc := range scenarios {
		if err := hotpath.KernelRefusal(sc); err != nil {
			if !allNamed {
				return nil, usageError{fmt.Errorf("-scenario: %w", err)}
			}
			if skip == nil {
				skip = map[string]bool{}
			}
			skip[sc.Name] = true
		}
	}
	return skip, nil
}

// checkKernel applies the rules to a plan whose strategies include kernel:
// it returns a usage error, or drops what it skips and returns the note
// that says so. Under -strategy all, a model-only flag drops the kernel.
func (p *plan) checkKernel(f *runFlags) (note string, err error) {
	if !slices.Contains(p.strategies, hotpath.KernelName) {
		return "", nil
	}
	if flag := f.modelOptions().firstSet(); flag != "" {
		if f.strategy != "all" {
			return "", modelOnlyError(flag)
		}
		p.strategies = slices.DeleteFunc(p.strategies, func(s string) bool { return s == hotpath.KernelName })
		return fmt.Sprintf("note: -strategy all skips %s: %s is model-only", hotpath.KernelName, flag), nil
	}
	if p.kernelSkip, err = kernelSkips(p.scenarios, f.strategy == "all" || f.scenario == "all"); err != nil {
		return "", err
	}
	if len(p.kernelSkip) > 0 {
		var skipped []string
		for _, sc := range p.scenarios {
			if p.kernelSkip[sc.Name] {
				skipped = append(skipped, sc.Name)
			}
		}
		note = fmt.Sprintf("note: %s skips %s (no real counterpart; see `lockbench list`)", hotpath.KernelName, strings.Join(skipped, ", "))
	}
	return note, nil
}

// runsCell reports whether the cell of strategy sn and scenario sc runs.
func (p *plan) runsCell(sn string, sc hotpath.Scenario) bool {
	return hotpath.EngineOf(sn) != hotpath.EngineKernel || !p.kernelSkip[sc.Name]
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
	if hotpath.EngineOf(sn) == hotpath.EngineKernel {
		return nil, nil
	}
	return strategies.New(sn, o)
}

// kernelControlName is the verify column of the kernel's control.
const kernelControlName = "control"

// verifyKernelSkips applies the rules to verify: a model-only flag with
// the kernel named is a usage error (under -strategy all the kernel's cells
// run without it); a scenario without a real counterpart, named together
// with kernel, is a usage error, and under "all" the kernel skips it (its
// matrix cell reads "-"). verify's -delay is not in its model options: it
// is the race matrix's injection for the model cells, on by default, and
// the kernel's cells run without it (its help says so).
func verifyKernelSkips(v *verifyFlags, p *verifyPlan) (map[string]bool, error) {
	if !slices.Contains(p.strategies, hotpath.KernelName) {
		return nil, nil
	}
	o := modelOptions{gupShare: v.gup, fallback: v.fallback}
	if flag := o.firstSet(); flag != "" && v.strategy != "all" {
		return nil, modelOnlyError(flag)
	}
	skip, err := kernelSkips(p.scenarios, v.strategy == "all" || v.scenario == "all")
	if skip == nil && err == nil {
		skip = map[string]bool{}
	}
	return skip, err
}

// kernelConfig turns a verify cell's config into the kernel engine's when
// sn is kernel: no model, no oracle, no delay injection (the real file is
// checked at the end of every kernel run).
func kernelConfig(cfg *hotpath.Config, sn string) {
	if hotpath.EngineOf(sn) != hotpath.EngineKernel {
		return
	}
	cfg.Engine, cfg.Strategy, cfg.Oracle, cfg.Delay, cfg.GUPShare = hotpath.EngineKernel, nil, false, nil, 0
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
	cfg := hotpath.Config{Engine: hotpath.EngineKernel, KernelControl: true, Scenario: sc, Threads: v.threads, Duration: min(p.dur, time.Second),
		OpLimit: p.ops, Seed: p.seed, Dir: tgt.Path, Watchdog: 5 * time.Second}
	if cfg.Duration == 0 {
		cfg.Duration = time.Second
	}
	rep, err := p.runRep.run(ctx, cfg)
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
