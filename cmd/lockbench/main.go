//go:build linux

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
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	handleSignals(cancel)
	err := run(ctx, os.Args[1:], stdoutWriter{os.Stdout}, os.Stderr)
	if errors.Is(err, errStdoutClosed) {
		// The reader of stdout went away (`| head`): everything else is
		// done and the files written; die of SIGPIPE as a filter does.
		signal.Reset(syscall.SIGPIPE)
		syscall.Kill(os.Getpid(), syscall.SIGPIPE)
		os.Exit(1)
	}
	os.Exit(exitCode(err, os.Stderr))
}

// errStdoutClosed is a write to stdout that found its reader gone (EPIPE).
var errStdoutClosed = errors.New("stdout closed by its reader")

// stdoutWriter marks a write to stdout that found its reader gone, so
// that main tells it from a broken pipe elsewhere (a -o FIFO).
type stdoutWriter struct{ f *os.File }

func (w stdoutWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if errors.Is(err, syscall.EPIPE) {
		err = fmt.Errorf("%w: %w", errStdoutClosed, err)
	}
	return n, err
}

// handleSignals installs the handlers of a run. SIGINT, SIGTERM and
// SIGHUP (a closed terminal or ssh session) stop after the current
// repetition and keep what was measured, marked incomplete; the second
// exits at once, removing this process's files and targets. SIGPIPE is
// caught so that a write to a closed stderr fails instead of killing the
// process with its targets set up (a closed stdout is errStdoutClosed).
// SIGQUIT prints every goroutine's stack, as Go's default does, but
// cleans up before exiting 2.
func handleSignals(cancel context.CancelFunc) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "lockbench: %v: stopping after the current run and keeping what was measured (again to exit now)\n", signalName(sig))
		cancel()
		<-sigs
		if err := exitNow(); err != nil {
			fmt.Fprintln(os.Stderr, "lockbench: cleaning up:", err)
		}
		os.Exit(1)
	}()
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	go func() {
		for range pipe {
		}
	}()
	quit := make(chan os.Signal, 1)
	signal.Notify(quit, syscall.SIGQUIT)
	go func() {
		<-quit
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		os.Stderr.Write(buf)
		if err := exitNow(); err != nil {
			fmt.Fprintln(os.Stderr, "lockbench: cleaning up:", err)
		}
		fmt.Fprintln(os.Stderr, "lockbench: SIGQUIT: goroutine stacks above; removed this run's files and targets")
		os.Exit(2)
	}()
}

// signalName names a stopping signal for the message.
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGHUP:
		return "hangup (SIGHUP)"
	case syscall.SIGTERM:
		return "terminated (SIGTERM)"
	}
	return "interrupted"
}

// errMismatch is verify's failure: the matrix does not match expectations.
var errMismatch = errors.New("verify: the matrix does not match the expected verdicts")

// run is the whole program, minus process exit: testable.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWith(ctx, nil, args, stdout, stderr)
}

// runWith is run with the repetitions run by rr (nil: hotpath.Run).
func runWith(ctx context.Context, rr repRunner, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		return cmdStudy(ctx, rr, args, stdout, stderr)
	}
	switch args[0] {
	case "run", "sweep":
		return cmdRun(ctx, rr, args[0], args[1:], stdout, stderr)
	case "verify":
		return cmdVerify(ctx, rr, args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(ctx, rr, args[1:], stdout, stderr)
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
  lockbench [-quick] [-v]    the default study (under 5 minutes; -quick about 2): the source threads' questions,
                             all strategies x fault-scale (1 thread, every CPU), fsync-write, punch, write-fail,
                             stale-map, inline on tmpfs and the temp dir, fsync-read on btrfs and fsync-read-xfs
                             on xfs loop targets (as root), then a short verify; prints the findings, writes
                             lockbench-results.json.gz (-o) and lockbench-report/ (-report-dir); also -seed N, -q
  lockbench run [flags]      run and print a table (lockbench run -h for flags)
  lockbench sweep [flags]    the same, lists everywhere
  lockbench verify [flags]   race oracle: strategy x race matrix
  lockbench validate [flags] the calibrated model under each filesystem's own scheme against the kernel (-target LIST)
  lockbench report [flags] FILE...  (two files: the second against the first, cell by cell)
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
