// Command lockbench measures what it costs a filesystem to serialise
// memory-mapped page faults against write(), read(), fsync, hole punch and
// truncate, under several locking strategies, and checks which are safe.
//
//	lockbench [-quick] [-v]    the default study: every strategy on the default scenarios, tmpfs and the temp dir's disk, then a short verify
//	lockbench run [flags]      run strategies x scenarios x threads x targets, print a table, write results
//	lockbench sweep [flags]    the same, with lists everywhere (an alias kept for scripts)
//	lockbench verify [flags]   the race oracle: strategy x race matrix
//	lockbench report FILE...   render results files (text, json, csv, bench, findings, html; -o DIR: a report directory)
//	lockbench hw [-json]       describe this machine and its storage targets
//	lockbench list             strategies and scenarios
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "lockbench: interrupted: stopping after the current run and keeping what was measured (again to exit now)")
		cancel()
		<-sigs
		if err := exitNow(); err != nil {
			fmt.Fprintln(os.Stderr, "lockbench: cleaning up:", err)
		}
		os.Exit(1)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a bad command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errMismatch is verify's failure: the matrix does not match expectations.
var errMismatch = errors.New("verify: the matrix does not match the expected verdicts")

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "lockbench:", err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// run is the whole program, minus process exit: testable.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		return cmdStudy(ctx, args, stdout, stderr)
	}
	switch args[0] {
	case "run", "sweep":
		return cmdRun(ctx, args[0], args[1:], stdout, stderr)
	case "verify":
		return cmdVerify(ctx, args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(ctx, args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "hw":
		return cmdHW(ctx, args[1:], stdout, stderr)
	case "list":
		return cmdList(args[1:], stdout)
	case "help", "-h", "-help", "--help":
		return cmdHelp(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown command %q (allowed: run, sweep, verify, validate, report, hw, list, help)", args[0])
}

const usageText = `lockbench: the cost and safety of serialising mmap page faults against file operations

usage:
  lockbench [-quick] [-v]    the default study (about 4 minutes; -quick about 1): all strategies x fault-scale
                             (1..all CPUs), fsync-storm, fsync-read, punch, write-fail on tmpfs and the temp dir,
                             then a short verify; prints the findings, writes lockbench-results.json (-o) and
                             lockbench-report/ (-report-dir); also -seed N, -q
  lockbench run [flags]      run and print a table (lockbench run -h for flags)
  lockbench sweep [flags]    the same, lists everywhere
  lockbench verify [flags]   race oracle: strategy x race matrix
  lockbench validate [flags] the calibrated model under each filesystem's own scheme against the kernel (-target LIST)
  lockbench report [flags] FILE...
  lockbench hw [-json]
  lockbench list
`

// cmdHelp prints the usage, or with a subcommand its flags, as
// "lockbench CMD -h" does.
func cmdHelp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usageText)
		return nil
	}
	switch args[0] {
	case "run", "sweep", "verify", "validate", "report", "hw", "list":
		return run(ctx, []string{args[0], "-h"}, stdout, stderr)
	}
	return usagef("help: unknown command %q (allowed: run, sweep, verify, validate, report, hw, list)", args[0])
}

// newFlagSet returns a flag set whose errors come back as one line (run
// prints them once) instead of being printed with the whole usage.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseNoArgs is parseFlags for a command that takes flags only: an
// argument left after them is a usage error naming it.
func parseNoArgs(fs *flag.FlagSet, args []string, stdout io.Writer) (done bool, err error) {
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return done, err
	}
	if fs.NArg() > 0 {
		return true, usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return false, nil
}

// parseFlags parses args; -h prints the flags on stdout and reports done.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (done bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage of lockbench %s:\n", fs.Name())
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return true, nil
	}
	if err != nil {
		return true, usageError{fmt.Errorf("%s: %w%s", fs.Name(), err, formatHint(fs, err))}
	}
	return false, nil
}

// flagName finds the flag in one of Go's flag errors: `invalid value "1y"
// for flag -duration: ...` or `invalid boolean value "x" for -oracle: ...`.
var flagName = regexp.MustCompile(`for (?:flag )?-([\w-]+)`)

// formatHint says which format the flag of a parse error takes, from its
// type: Go's own message says only "parse error".
func formatHint(fs *flag.FlagSet, err error) string {
	m := flagName.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	fl := fs.Lookup(m[1])
	if fl == nil {
		return ""
	}
	g, ok := fl.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return " (want a duration such as 500ms, 2s or 1m)"
	case bool:
		return " (want true or false)"
	case uint, uint64:
		return " (want an unsigned integer)"
	case int, int64:
		return " (want an integer)"
	case float64:
		return " (want a number)"
	}
	return ""
}
