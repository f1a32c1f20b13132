package main

import (
	"fmt"
	"io"
	"runtime"
)

// Off Linux, lockbench is built report-only: measuring needs Linux (mmap page
// faults against a real filesystem, sched_setaffinity, the kernel's
// tracepoints), but a results file measured there reads and renders anywhere,
// as benchstat's input does. The files that measure carry //go:build linux;
// this one, report.go and cli.go build everywhere (CI cross-builds them).

// reportOnlyUsage is the usage of the report-only build.
const reportOnlyUsage = `lockbench (report-only build for ` + runtime.GOOS + `; measuring needs Linux)

usage:
  lockbench report [flags] FILE...   render results files; two: the second against the first, cell by cell
`

// runReportOnly is the report-only program (main_other.go's): report and
// help; a measuring command is a usage error naming what this build has.
// It is built, and tested, on Linux too.
func runReportOnly(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("this build for %s only renders results files (measuring needs Linux): lockbench report FILE...", runtime.GOOS)
	}
	switch args[0] {
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[1] == "report" {
			return cmdReport([]string{"-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, reportOnlyUsage)
		return nil
	case "run", "sweep", "verify", "hw", "list":
		return usagef("%s: measuring needs Linux; this build for %s only renders results files (allowed: report, help)", args[0], runtime.GOOS)
	}
	return usagef("unknown command %q (allowed in this build for %s: report, help)", args[0], runtime.GOOS)
}
