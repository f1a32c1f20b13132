package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// The command line's plumbing, shared by every command and built on every
// GOOS (the report-only build included): usage errors and exit codes, and
// flag sets whose errors come back as one line.

// usageError is a bad command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	// One line, whatever the error joined (errors.Join separates with
	// newlines).
	fmt.Fprintln(stderr, "lockbench:", strings.ReplaceAll(strings.TrimRight(err.Error(), "\n"), "\n", "; "))
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
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
		if fs.Name() == "lockbench" {
			// The default command: exitCode's "lockbench: " names it.
			return true, usageError{fmt.Errorf("%w%s", err, formatHint(fs, err))}
		}
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
