package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"lockbench/hotpath"
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
