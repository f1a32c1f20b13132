//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"lockbench/calibrate"
	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/results"
	"lockbench/strategies"
)

// parseStrategies parses -strategy: "all" is the designs under study and
// the kernel; a list may also name the real filesystems' schemes
// (scheme-btrfs, scheme-ext4, scheme-xfs), which "all" leaves out.
func parseStrategies(s string) ([]string, error) {
	if s == "all" {
		return hotpath.StrategyNames(), nil
	}
	return parseList(s, slices.Concat(hotpath.StrategyNames(), strategies.SchemeNames()), "-strategy")
}

// calibFlags are run's and sweep's calibration flags.
type calibFlags struct {
	calibrate bool
	file      string
	force     bool
}

func (c *calibFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.calibrate, "calibrate", false, "first measure each target's real filesystem (faults, writeback, page fill, log commit, fsync's exclusive span, punch) and make the model spend those costs as calibrated time inside the kernel's locks (named \"+calibrated\" in every output)")
	fs.StringVar(&c.file, "calibration", "", "reuse the calibrations stored in this results file instead of measuring (implies -calibrate); refused when measured on another machine or kernel")
	fs.BoolVar(&c.force, "calibration-force", false, "use -calibration FILE even when its machine fingerprint or kernel differ")
}

func (c *calibFlags) on() bool { return c.calibrate || c.file != "" }

// calibSuffix marks a calibrated model cell's strategy in every output.
const calibSuffix = "+calibrated"

// calibrations measures (or loads) one calibration per target, printing
// each one's summary on stderr. It returns nil when calibration is off.
func calibrations(ctx context.Context, c *calibFlags, machine hardware.Machine, targets []hardware.Target, seed uint64, quiet bool, stderr io.Writer) (map[string]*results.Calibration, error) {
	if !c.on() {
		return nil, nil
	}
	out := map[string]*results.Calibration{}
	var stored []results.Calibration
	if c.file != "" {
		f, err := results.ReadFile(c.file)
		if err != nil {
			return nil, usagef("-calibration: %v", err)
		}
		if len(f.Calibrations) == 0 {
			return nil, usagef("-calibration: %s holds no calibration (write one with run -calibrate)", c.file)
		}
		stored = f.Calibrations
	}
	for _, t := range targets {
		var cal *results.Calibration
		if c.file != "" {
			i := slices.IndexFunc(stored, func(x results.Calibration) bool { return x.Target == t.Spec })
			if i < 0 {
				i = slices.IndexFunc(stored, func(x results.Calibration) bool { return x.FS == t.FSType })
			}
			if i < 0 {
				var have []string
				for _, x := range stored {
					have = append(have, x.Target+" ("+x.FS+")")
				}
				return nil, usagef("-calibration: %s has no calibration for target %s (%s); it has %s", c.file, t.Spec, t.FSType, strings.Join(have, ", "))
			}
			cal = &stored[i]
			if m := cal.Mismatch(machine.Fingerprint, machine.Kernel, t.FSType); m != "" {
				if !c.force {
					return nil, usagef("-calibration: %s's calibration of %s was measured on another machine or kernel: %s (use -calibration-force to use it anyway)", c.file, cal.Target, m)
				}
				fmt.Fprintf(stderr, "lockbench: -calibration-force: using %s's calibration of %s although %s\n", c.file, cal.Target, m)
			}
		} else {
			if !quiet {
				fmt.Fprintf(stderr, "lockbench: calibrating %s (%s) with real system calls...\n", t.Spec, t.FSType)
			}
			var err error
			cal, err = calibrate.Measure(ctx, calibrate.Options{Dir: t.Path, Target: t.Spec, FS: t.FSType,
				Fingerprint: machine.Fingerprint, Kernel: machine.Kernel, Seed: seed})
			if err != nil {
				return nil, err
			}
		}
		for _, line := range calibrate.Summary(cal) {
			fmt.Fprintln(stderr, line)
		}
		out[t.Spec] = cal
	}
	return out, nil
}
