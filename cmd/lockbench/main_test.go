package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/results"
	"lockbench/strategies"
)

// outcome is what one command line did: its output, its error and the exit
// status main would give it.
type outcome struct {
	stdout, stderr string
	err            error
	code           int
}

// runCLI runs args through run with ctx, as main would, and returns what
// happened. The stderr it returns includes exitCode's "lockbench: ..." line.
func runCLI(ctx context.Context, args ...string) outcome { return runCLIWith(ctx, nil, args...) }

// runCLIWith is runCLI with the repetitions run by rr (nil: hotpath.Run).
func runCLIWith(ctx context.Context, rr repRunner, args ...string) outcome {
	var stdout, stderr bytes.Buffer
	err := runWith(ctx, rr, args, &stdout, &stderr)
	code := exitCode(err, &stderr)
	return outcome{stdout: stdout.String(), stderr: stderr.String(), err: err, code: code}
}

// assertEmptyDir fails when dir holds anything: a results file, a temporary
// file left by an atomic write, a probe file or a backing file.
func assertEmptyDir(t *testing.T, what, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s %s: %v", what, dir, err)
	}
	for _, e := range ents {
		t.Errorf("%s %s holds %s; want it empty", what, dir, e.Name())
	}
}

// assertNoBackingFiles fails when dir holds a file lockbench creates for a
// run and must remove: backing files (.lockbench-cache-*, with their .disk
// twins) and probe files.
func assertNoBackingFiles(t *testing.T, dir string) {
	t.Helper()
	for _, pat := range []string{".lockbench-cache-*", ".lockbench-probe-*"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range m {
			t.Errorf("target dir holds %s after the run; want no backing files left", filepath.Base(x))
		}
	}
}

// assertOnly fails when dir holds anything but the named files (a leftover
// temporary file of an atomic write, say).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		ok := false
		for _, n := range names {
			ok = ok || e.Name() == n
		}
		if !ok {
			t.Errorf("%s holds %s; want only %v", dir, e.Name(), names)
		}
	}
}

// withDirs returns args with "-o OUT/r.json" and "-target dir:TGT" added
// when args are a run, sweep or verify command line that does not give
// them, so that nothing a bad command line creates can escape the test's
// directories.
func withDirs(args []string, out, tgt string) []string {
	if len(args) == 0 || (args[0] != "run" && args[0] != "sweep" && args[0] != "verify") {
		return args
	}
	has := func(flag string) bool {
		for _, a := range args {
			if a == flag || strings.HasPrefix(a, flag+"=") {
				return true
			}
		}
		return false
	}
	args = append([]string(nil), args...)
	if !has("-o") {
		args = append(args, "-o", filepath.Join(out, "r.json"))
	}
	if !has("-target") {
		args = append(args, "-target", "dir:"+tgt)
	}
	return args
}

// envError in a bad-input row means the exit status may be 1 or 2: the
// command line is well formed but names something the machine lacks.
const envError = -1

type badInput struct {
	name string
	args []string
	code int      // 2 for a usage error, 1 for a failure, envError for 1 or 2
	want []string // substrings of the one-line message: the flag, the input, what is allowed
}

// badInputs returns the bad command lines, grouped; notDir is a regular
// file and schema99 a results file of schema version 99.
func badInputs(notDir, schema99 string) []badInput {
	strategyNames := strings.Join(hotpath.StrategyNames(), ", ")
	scenarioNames := strings.Join(hotpath.ScenarioNames(), ", ")
	raceNames := strings.Join(raceScenarios(), ", ")
	threadsAllowed := "between 1 and 4096"
	return []badInput{
		// Names from the strategy and scenario tables: the error lists them.
		{"unknown strategy", []string{"run", "-strategy", "bogus"}, 2, []string{"-strategy", `"bogus"`, strategyNames}},
		{"unknown strategy in a list", []string{"run", "-strategy", "rwsem,bogus"}, 2, []string{"-strategy", `"bogus"`, strategyNames}},
		{"unknown scenario", []string{"run", "-scenario", "bogus"}, 2, []string{"-scenario", `"bogus"`, scenarioNames}},
		{"sweep shares run's validation", []string{"sweep", "-scenario", "bogus"}, 2, []string{"-scenario", `"bogus"`, scenarioNames}},

		// -threads: a list or a range of 1..4096.
		{"threads zero", []string{"run", "-threads", "0"}, 2, []string{"-threads", threadsAllowed, `"0"`}},
		{"threads above 4096", []string{"run", "-threads", "5000"}, 2, []string{"-threads", threadsAllowed, `"5000"`}},
		{"threads open range", []string{"run", "-threads", "1.."}, 2, []string{"-threads", threadsAllowed, `"1.."`}},
		{"threads not a number", []string{"run", "-threads", "abc"}, 2, []string{"-threads", threadsAllowed, `"abc"`}},
		{"threads reversed range", []string{"run", "-threads", "4..2"}, 2, []string{"-threads", threadsAllowed, `"4..2"`}},

		// Budgets and repetitions.
		{"duration zero", []string{"run", "-duration", "0"}, 2, []string{"-duration", "> 0", "0s"}},
		{"duration negative", []string{"run", "-duration", "-1s"}, 2, []string{"-duration", "> 0", "-1s"}},
		{"ops negative", []string{"run", "-ops", "-1"}, 2, []string{"-ops", ">= 0", "-1"}},
		{"reps zero", []string{"run", "-reps", "0"}, 2, []string{"-reps", "between 1 and 1000", "0"}},

		// -file-size: a size that is a positive multiple of the page size.
		{"file size not page aligned", []string{"run", "-file-size", "1000"}, 2, []string{"-file-size", "multiple of the page size 4096", "1000"}},
		{"file size zero", []string{"run", "-file-size", "0"}, 2, []string{"-file-size", "positive multiple of the page size 4096"}},
		{"file size not a size", []string{"run", "-file-size", "xyz"}, 2, []string{"-file-size", `"xyz"`, "K, M, G or T"}},
		{"file size overflows int64", []string{"run", "-file-size", "9007199254740992K"}, 2, []string{"-file-size", "9007199254740992K"}},
		{"file size below the scenario's write size", []string{"run", "-scenario", "write-fail", "-file-size", "4096"}, 2, []string{"-file-size", "write-fail"}},
		{"file size of one page on mixed", []string{"run", "-scenario", "mixed", "-file-size", "4096"}, 2, []string{"-file-size", "mixed"}},
		// Memory bound: 1048576G is the "1P" the old error allowed; the
		// runtime died of it. The bound is the (fake, 1 GiB) memory.
		{"file size beyond memory", []string{"run", "-file-size", "1048576G"}, 2, []string{"-file-size 1048576G", "memory", "1 GiB available", "largest -file-size here is"}},
		{"file size in petabytes", []string{"run", "-file-size", "1P"}, 2, []string{"-file-size", `"1P"`, "K, M, G or T"}},
		// Memory bound: -threads 4096 needs about 2.4 GiB.
		{"threads beyond memory", []string{"run", "-threads", "4096"}, 2, []string{"-threads 4096", "memory", "per worker", "at most"}},

		// Output, options and placement.
		{"unknown format", []string{"run", "-format", "nope"}, 2, []string{"-format", `"nope"`, "text, json, csv, bench"}},
		{"gup share above 1", []string{"run", "-gup-share", "1.5"}, 2, []string{"-gup-share", "[0,1]", "1.5"}},
		{"unknown fallback", []string{"run", "-fallback", "nope"}, 2, []string{"-fallback", `"nope"`, strings.Join(strategies.FallbackNames, ", ")}},
		{"unknown placement", []string{"run", "-pin", "bogus"}, 2, []string{"-pin", `"bogus"`, "none, compact, scatter, smt-pairs, cpus=LIST"}},
		{"placement on a CPU that is not online", []string{"run", "-pin", "cpus=999"}, 2, []string{"-pin", "999", "online CPUs"}},
		{"delay above 1s", []string{"run", "-delay", "2s"}, 2, []string{"-delay", "[0, 1s]", "2s"}},
		{"unknown role placement", []string{"run", "-pin", "compact", "-role-place", "bogus"}, 2, []string{"-role-place", `"bogus"`, strings.Join(hardware.RolePlacementNames, ", ")}},
		{"role placement without pinning", []string{"run", "-role-place", "same-llc"}, 2, []string{"-role-place", "-pin"}},
		{"stray argument", []string{"run", "extra"}, 2, []string{"unexpected argument", `"extra"`}},
		{"strategy listed twice", []string{"run", "-strategy", "rwsem,rwsem"}, 2, []string{"-strategy", "twice"}},
		// Go's flag errors say the allowed format.
		{"duration not a duration", []string{"run", "-duration", "1y"}, 2, []string{"-duration", `"1y"`, "a duration such as 500ms, 2s or 1m"}},
		{"seed not a number", []string{"run", "-seed", "abc"}, 2, []string{"-seed", `"abc"`, "an unsigned integer"}},
		{"reps not a number", []string{"run", "-reps", "many"}, 2, []string{"-reps", `"many"`, "an integer"}},
		{"gup share not a number", []string{"run", "-gup-share", "half"}, 2, []string{"-gup-share", `"half"`, "a number"}},
		{"oracle not a boolean", []string{"run", "-oracle=maybe"}, 2, []string{"-oracle", `"maybe"`, "true or false"}},

		// A watchdog the delays alone can trip.
		{"watchdog shorter than the delays", []string{"run", "-scenario", "write-fail", "-delay", "4ms", "-watchdog", "200ms"}, 2, []string{"-watchdog 200ms", "-delay 4ms", "write-fail", "false deadlock", "256ms"}},

		// Output problems, found before measuring.
		{"results path is a directory", []string{"run", "-o", "@out"}, 2, []string{"-o", "is a directory"}},
		{"html path is a directory", []string{"run", "-html", "@out"}, 2, []string{"-html", "is a directory"}},
		{"hdr log path is a directory", []string{"run", "-hdr-log", "@out"}, 2, []string{"-hdr-log", "is a directory"}},
		{"html over the results file", []string{"run", "-o", "@out/x", "-html", "@out/x"}, 2, []string{"-html", "same file as -o"}},
		{"hdr log over the html report", []string{"run", "-html", "@out/x", "-hdr-log", "@out/./x"}, 2, []string{"-hdr-log", "same file as -html"}},
		{"hdr op the scenario lacks", []string{"run", "-hdr-log", "@out/h.log", "-hdr-op", "punch"}, 2, []string{"-hdr-op punch", "fault-scale", "puncher"}},
		{"unknown hdr op", []string{"run", "-hdr-log", "@out/h.log", "-hdr-op", "bogus"}, 2, []string{"-hdr-op", `"bogus"`, "write-fault"}},
		{"html dir missing", []string{"run", "-html", "/nonexistent/dir/r.html"}, 2, []string{"-html", "/nonexistent/dir"}},
		{"hdr log dir missing", []string{"run", "-hdr-log", "/nonexistent/dir/h.log"}, 2, []string{"-hdr-log", "/nonexistent/dir"}},

		// The kernel engine: model-only flags and scenarios without a real
		// counterpart are refused, naming the flag or scenario.
		{"kernel with -oracle", []string{"run", "-strategy", "kernel", "-oracle"}, 2, []string{"-oracle", "model-only", "kernel"}},
		{"kernel with -delay", []string{"run", "-strategy", "kernel,rwsem", "-delay", "10us"}, 2, []string{"-delay", "model-only"}},
		{"kernel with -gup-share", []string{"run", "-strategy", "kernel", "-gup-share", "0.5"}, 2, []string{"-gup-share", "model-only"}},
		{"kernel with -fallback", []string{"run", "-strategy", "kernel", "-fallback", "convert-unlocked"}, 2, []string{"-fallback", "model-only"}},
		{"kernel with -retry-contended", []string{"run", "-strategy", "kernel", "-retry-contended"}, 2, []string{"-retry-contended", "model-only"}},
		{"kernel with naive fault-around", []string{"run", "-strategy", "kernel", "-scenario", "punch-naive"}, 2, []string{"-scenario", "punch-naive", "no real counterpart"}},
		{"kernel with inline data", []string{"run", "-strategy", "kernel", "-scenario", "inline"}, 2, []string{"-scenario", "inline", "inline_data"}},

		// Subcommands.
		{"unknown subcommand", []string{"bogus"}, 2, []string{`"bogus"`, "run, sweep, verify, validate, report, hw, list, help"}},
		{"list with an argument", []string{"list", "extra"}, 2, []string{"extra"}},
		{"hw with an argument", []string{"hw", "extra"}, 2, []string{"extra"}},
		{"help of an unknown subcommand", []string{"help", "bogus"}, 2, []string{`"bogus"`, "run, sweep, verify, validate, report, hw, list"}},

		// verify: its own -budget and -seed, and only race scenarios.
		{"verify budget zero", []string{"verify", "-budget", "0s"}, 2, []string{"-budget", `"0s"`, "positive", "2s", "1000000ops"}},
		{"verify budget negative ops", []string{"verify", "-budget", "-5ops"}, 2, []string{"-budget", `"-5ops"`, "positive", "2s", "1000000ops"}},
		{"verify budget not a budget", []string{"verify", "-budget", "abc"}, 2, []string{"-budget", `"abc"`, "positive", "2s", "1000000ops"}},
		{"verify seed not a number", []string{"verify", "-seed", "xyz"}, 2, []string{"-seed", `"xyz"`, "unsigned integer"}},
		{"verify scenario without a race", []string{"verify", "-scenario", "fault-scale"}, 2, []string{"-scenario", `"fault-scale"`, raceNames}},
		{"verify threads zero", []string{"verify", "-threads", "0"}, 2, []string{"-threads", threadsAllowed}},
		{"verify seeds zero", []string{"verify", "-seeds", "0"}, 2, []string{"-seeds", "between 1 and 10000"}},
		{"verify with two targets", []string{"verify", "-target", "tmpfs,dir:/nonexistent/x", "-strategy", "none", "-scenario", "punch", "-budget", "10ms"}, 2, []string{"-target"}},
		{"verify holetest size not page aligned", []string{"verify", "-holetest-sizes", "1M,1000"}, 2, []string{"-holetest-sizes", `"1000"`, "multiple of 4096"}},

		// The default study: its own flags, checked before measuring.
		{"study unknown flag", []string{"-bogus"}, 2, []string{"-bogus"}},
		{"study empty -o", []string{"-o", ""}, 2, []string{"-o", "-report-dir"}},
		{"study -report-dir is a file", []string{"-report-dir", notDir}, 2, []string{"-report-dir", notDir, "not a directory"}},
		{"study -o in a missing directory", []string{"-o", "/nonexistent/r.json"}, 2, []string{"-o", "/nonexistent", "does not exist"}},

		// report.
		{"report without files", []string{"report"}, 2, []string{"report", "results files"}},
		{"report of another schema version", []string{"report", schema99}, 1, []string{schema99, "schema version 99", "version 1"}},
		{"report unknown format", []string{"report", "-format", "nope", schema99}, 2, []string{"-format", `"nope"`, "text, json, csv, bench, findings, html"}},

		// Paths that do not exist: usage errors like a missing -o
		// directory.
		{"target dir missing", []string{"run", "-target", "dir:/nonexistent/x"}, 2, []string{"-target", "dir:/nonexistent/x", "does not exist"}},
		{"target dir is a regular file", []string{"run", "-target", "dir:" + notDir}, 2, []string{"-target", "dir:" + notDir, "is not a directory"}},
		{"results dir missing", []string{"run", "-o", "/nonexistent/dir/out.json"}, 2, []string{"-o", "/nonexistent/dir", "does not exist"}},
		{"verify target dir missing", []string{"verify", "-target", "dir:/nonexistent/x"}, 2, []string{"-target", "dir:/nonexistent/x", "does not exist"}},
		// One directory named twice, like tmpfs,tmpfs.
		{"tmpfs and its directory", []string{"run", "-target", "tmpfs,dir:/dev/shm"}, 2, []string{"-target", "/dev/shm", "same directory as target tmpfs"}},
	}
}

// fakeMemory makes validation see a machine with avail bytes available.
func fakeMemory(t *testing.T, avail uint64) {
	t.Helper()
	old := memAvailable
	memAvailable = func() (uint64, error) { return avail, nil }
	t.Cleanup(func() { memAvailable = old })
}

// TestBadInput checks that every bad command line fails before measuring
// anything: a one-line error naming the flag and what is allowed, exit
// status 2 for a usage error, nothing on stdout, and no file created in the
// working directory, the results directory or the target.
func TestBadInput(t *testing.T) {
	files := t.TempDir()
	notDir := filepath.Join(files, "regular-file")
	if err := os.WriteFile(notDir, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	schema99 := filepath.Join(files, "schema99.json")
	if err := os.WriteFile(schema99, []byte(`{"schema": 99, "tool": "lockbench", "cells": []}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd := t.TempDir()
	t.Chdir(wd) // a default -o or a stray file would land here
	fakeMemory(t, 1<<30)

	for _, tc := range badInputs(notDir, schema99) {
		t.Run(tc.name, func(t *testing.T) {
			out, tgt := t.TempDir(), t.TempDir()
			args := withDirs(tc.args, out, tgt)
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "@out", out)
			}
			got := runCLI(t.Context(), args...)
			if got.err == nil {
				t.Fatalf("run(%q) = nil error, exit %d; want an error", args, got.code)
			}
			msg := got.err.Error()
			switch {
			case tc.code == envError && got.code != 1 && got.code != 2:
				t.Errorf("run(%q): exit status %d; want 1 or 2", args, got.code)
			case tc.code != envError && got.code != tc.code:
				t.Errorf("run(%q): exit status %d; want %d (error %q)", args, got.code, tc.code, msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("run(%q) = error %q; want one line", args, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("run(%q) = error %q; want it to mention %q", args, msg, w)
				}
			}
			if want := "lockbench: " + msg + "\n"; got.stderr != want {
				t.Errorf("run(%q): stderr = %q; want only %q", args, got.stderr, want)
			}
			if got.stdout != "" {
				t.Errorf("run(%q): stdout = %q; want nothing", args, got.stdout)
			}
			assertEmptyDir(t, "results dir", out)
			assertEmptyDir(t, "target dir", tgt)
			assertEmptyDir(t, "working dir", wd)
		})
	}
	assertOnly(t, files, "regular-file", "schema99.json")
}

// TestRunFormats runs two strategies on fsync-storm briefly in every output
// format and checks stdout, the results file and the target directory.
func TestRunFormats(t *testing.T) {
	tests := []struct {
		format string
		check  func(t *testing.T, stdout, resultsPath string)
	}{
		// text: the table names both strategies and the scenario, and
		// points to the results file.
		{"text", func(t *testing.T, stdout, resultsPath string) {
			for _, w := range []string{"strategy=rwsem", "strategy=none", "scenario=fsync-storm", "fsync", "results: " + resultsPath} {
				if !strings.Contains(stdout, w) {
					t.Errorf("text output does not contain %q:\n%s", w, stdout)
				}
			}
		}},
		// json: stdout is the results file itself.
		{"json", func(t *testing.T, stdout, _ string) {
			f, err := results.Read(strings.NewReader(stdout))
			if err != nil {
				t.Fatalf("json output does not parse as a results file: %v\n%s", err, stdout)
			}
			if got := cellStrategies(f); got != "rwsem,none" {
				t.Errorf("json output: cells of strategies %s; want rwsem,none", got)
			}
		}},
		// csv: a header and rows for both strategies, all the same width.
		{"csv", func(t *testing.T, stdout, _ string) {
			rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
			if err != nil {
				t.Fatalf("csv output does not parse: %v\n%s", err, stdout)
			}
			if len(rows) < 3 || rows[0][0] != "strategy" {
				t.Fatalf("csv output: %d rows, first %v; want a header starting with strategy and rows", len(rows), rows[0])
			}
			seen := map[string]bool{}
			for _, r := range rows[1:] {
				seen[r[0]+"/"+r[1]] = true
			}
			for _, w := range []string{"rwsem/fsync-storm", "none/fsync-storm"} {
				if !seen[w] {
					t.Errorf("csv output has no row for %s:\n%s", w, stdout)
				}
			}
		}},
		// bench: key=value benchmark names benchstat can slice.
		{"bench", func(t *testing.T, stdout, _ string) {
			checkBenchFormat(t, stdout, "rwsem", "none")
		}},
	}
	for _, tc := range tests {
		t.Run("format="+tc.format, func(t *testing.T) {
			out, tgt := t.TempDir(), t.TempDir()
			path := filepath.Join(out, "r.json")
			args := []string{"run", "-strategy", "rwsem,none", "-scenario", "fsync-storm", "-duration", "200ms",
				"-target", "dir:" + tgt, "-o", path, "-format", tc.format}
			got := runCLI(t.Context(), args...)
			if got.err != nil || got.code != 0 {
				t.Fatalf("run(%q) = %v, exit %d; want nil, 0\nstderr: %s", args, got.err, got.code, got.stderr)
			}
			tc.check(t, got.stdout, path)
			f, err := results.ReadFile(path)
			if err != nil {
				t.Fatalf("results.ReadFile(%s) = %v; want the results file", path, err)
			}
			if len(f.Cells) != 2 {
				t.Fatalf("results file: %d cells; want 2", len(f.Cells))
			}
			if got := cellStrategies(f); got != "rwsem,none" {
				t.Errorf("results file: cells of strategies %s; want rwsem,none", got)
			}
			for _, c := range f.Cells {
				if c.Config.Scenario != "fsync-storm" || c.Config.Target != "dir:"+tgt || c.Incomplete || len(c.Reps) != 1 {
					t.Errorf("cell %s: scenario %s, target %s, incomplete %v, %d reps; want fsync-storm, dir:%s, false, 1",
						c.Config.Strategy, c.Config.Scenario, c.Config.Target, c.Incomplete, len(c.Reps), tgt)
				}
			}
			if f.Incomplete {
				t.Errorf("results file: incomplete = true; want false")
			}
			assertOnly(t, out, "r.json")
			assertEmptyDir(t, "target dir", tgt)
		})
	}
}

// cellStrategies returns the strategies of f's cells, comma-separated.
func cellStrategies(f *results.File) string {
	var s []string
	for _, c := range f.Cells {
		s = append(s, c.Config.Strategy)
	}
	return strings.Join(s, ",")
}

// benchName matches a benchmark result line and captures its name.
var benchName = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s`)

// checkBenchFormat checks Go benchmark output: key=value name segments
// whose values hold no '/' or space and do not end in -<digits>
// (internal/benchname's rules), Unit lines, and a line for every strategy.
func checkBenchFormat(t *testing.T, stdout string, strategies ...string) {
	t.Helper()
	endsInProcs := regexp.MustCompile(`-\d+$`)
	seen := map[string]bool{}
	n := 0
	for _, line := range strings.Split(stdout, "\n") {
		m := benchName.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		segs := strings.Split(m[1], "/")
		for _, seg := range segs[1:] {
			k, v, ok := strings.Cut(seg, "=")
			if !ok || k == "" || v == "" {
				t.Errorf("benchmark name %s: segment %q is not key=value", m[1], seg)
				continue
			}
			if endsInProcs.MatchString(v) {
				t.Errorf("benchmark name %s: value %q ends in -<digits>, which benchstat reads as GOMAXPROCS", m[1], v)
			}
			if k == "strategy" {
				seen[v] = true
			}
		}
	}
	if n == 0 {
		t.Fatalf("bench output has no benchmark lines:\n%s", stdout)
	}
	if !strings.Contains(stdout, "\nUnit ") && !strings.HasPrefix(stdout, "Unit ") {
		t.Errorf("bench output has no Unit lines telling benchstat the direction:\n%s", stdout)
	}
	for _, s := range strategies {
		if !seen[s] {
			t.Errorf("bench output has no line for strategy=%s:\n%s", s, stdout)
		}
	}
}

// TestRunOps checks that -ops bounds a repetition by operations: the run
// ends well before the default -duration and records the limit.
func TestRunOps(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	args := []string{"run", "-strategy", "rwsem", "-scenario", "fault-scale", "-ops", "5000", "-target", "dir:" + tgt, "-o", path}
	got := runCLI(t.Context(), args...)
	if got.err != nil || got.code != 0 {
		t.Fatalf("run(%q) = %v, exit %d; want nil, 0\nstderr: %s", args, got.err, got.code, got.stderr)
	}
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Cells) != 1 || len(f.Cells[0].Reps) != 1 {
		t.Fatalf("results file: %d cells; want 1 with 1 rep", len(f.Cells))
	}
	c := f.Cells[0]
	if c.Config.OpLimit != 5000 {
		t.Errorf("cell op_limit = %d; want 5000", c.Config.OpLimit)
	}
	if c.Incomplete {
		t.Errorf("cell incomplete = true; want false")
	}
	// Faulters store, load or zap; stores and loads are at most the budget.
	var n int64
	for _, o := range c.Reps[0].Ops {
		if o.Op == "store" || o.Op == "load" {
			n += o.Count
		}
	}
	if n == 0 || n > 5000 {
		t.Errorf("stores+loads = %d; want between 1 and 5000 under -ops 5000", n)
	}
	assertOnly(t, out, "r.json")
	assertEmptyDir(t, "target dir", tgt)
}

// TestRunHTML checks -html: a self-contained HTML file beside the results,
// written atomically (no temporary file left).
func TestRunHTML(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	html := filepath.Join(out, "r.html")
	args := []string{"run", "-strategy", "rwsem", "-scenario", "fsync-storm", "-duration", "200ms",
		"-target", "dir:" + tgt, "-o", filepath.Join(out, "r.json"), "-html", html}
	got := runCLI(t.Context(), args...)
	if got.err != nil || got.code != 0 {
		t.Fatalf("run(%q) = %v, exit %d; want nil, 0\nstderr: %s", args, got.err, got.code, got.stderr)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	head := strings.ToLower(strings.TrimSpace(string(b[:min(len(b), 64)])))
	if !strings.HasPrefix(head, "<!doctype html>") && !strings.HasPrefix(head, "<html") {
		t.Errorf("%s starts with %q; want <!DOCTYPE html> or <html", html, head)
	}
	if !strings.Contains(got.stdout, "report: "+html) {
		t.Errorf("stdout does not point to the report %s:\n%s", html, got.stdout)
	}
	assertOnly(t, out, "r.json", "r.html")
	assertEmptyDir(t, "target dir", tgt)
}

// TestList checks that list names every strategy and every scenario.
func TestList(t *testing.T) {
	got := runCLI(t.Context(), "list")
	if got.err != nil || got.code != 0 {
		t.Fatalf("run(list) = %v, exit %d; want nil, 0", got.err, got.code)
	}
	firstWords := map[string]bool{}
	for _, line := range strings.Split(got.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			firstWords[f[0]] = true
		}
	}
	for _, n := range append(strategies.Names(), hotpath.ScenarioNames()...) {
		if !firstWords[n] {
			t.Errorf("list output has no row for %q:\n%s", n, got.stdout)
		}
	}
}

// TestHW checks hw in text and JSON: the JSON parses and carries the
// machine's fingerprint.
func TestHW(t *testing.T) {
	tests := []struct {
		args  []string
		check func(t *testing.T, stdout string)
	}{
		// text: the machine, its CPUs and the targets.
		{[]string{"hw"}, func(t *testing.T, stdout string) {
			for _, w := range []string{"fingerprint", "targets"} {
				if !strings.Contains(stdout, w) {
					t.Errorf("hw output does not contain %q:\n%s", w, stdout)
				}
			}
		}},
		// -json: one object with machine.fingerprint and the targets.
		{[]string{"hw", "-json"}, func(t *testing.T, stdout string) {
			var v struct {
				Machine struct {
					Fingerprint string `json:"fingerprint"`
				} `json:"machine"`
				Targets []json.RawMessage `json:"targets"`
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatalf("hw -json output does not parse: %v\n%s", err, stdout)
			}
			if v.Machine.Fingerprint == "" {
				t.Errorf("hw -json: machine.fingerprint is empty:\n%s", stdout)
			}
			if len(v.Targets) == 0 {
				t.Errorf("hw -json: no targets:\n%s", stdout)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := runCLI(t.Context(), tc.args...)
			if got.err != nil || got.code != 0 {
				t.Fatalf("run(%q) = %v, exit %d; want nil, 0", tc.args, got.err, got.code)
			}
			tc.check(t, got.stdout)
		})
	}
}

// TestReportRoundTrip checks that report reads what run wrote, in every
// format.
func TestReportRoundTrip(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	args := []string{"run", "-strategy", "rwsem,none", "-scenario", "fsync-storm", "-duration", "200ms",
		"-target", "dir:" + tgt, "-o", path, "-format", "json"}
	if got := runCLI(t.Context(), args...); got.err != nil {
		t.Fatalf("run(%q) = %v; want nil", args, got.err)
	}
	for _, format := range []string{"text", "json", "csv", "bench", "html"} {
		got := runCLI(t.Context(), "report", "-format", format, path)
		if got.err != nil || got.code != 0 || got.stdout == "" {
			t.Errorf("report -format %s %s = %v, exit %d, %d bytes; want nil, 0, output", format, path, got.err, got.code, len(got.stdout))
		}
	}
}

// TestInterrupt checks the first Ctrl-C: a cancelled run stops promptly,
// keeps what was measured in a results file marked incomplete, fails with
// a message saying so, and leaves no backing files.
func TestInterrupt(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The 300 ms count from when the first repetition starts measuring, not
	// from the call: under -race on a busy 2-CPU machine, detecting the
	// machine and preparing the target alone can take longer.
	var arm sync.Once
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		prev := cfg.OnStart
		cfg.OnStart = func() {
			if prev != nil {
				prev()
			}
			arm.Do(func() { time.AfterFunc(300*time.Millisecond, cancel) })
		}
		return hotpath.Run(ctx, cfg)
	})
	args := []string{"run", "-strategy", "rwsem,none", "-scenario", "fsync-storm", "-duration", "5s",
		"-target", "dir:" + tgt, "-o", path}
	start := time.Now()
	got := cli(ctx, args...)
	elapsed := time.Since(start)
	if got.err == nil || !strings.Contains(got.err.Error(), "incomplete") {
		t.Errorf("run(%q) cancelled after 300ms = %v; want an error mentioning \"incomplete\"", args, got.err)
	}
	if got.code != 1 {
		t.Errorf("run(%q) cancelled: exit %d; want 1", args, got.code)
	}
	if elapsed > 4*time.Second {
		t.Errorf("run(%q) cancelled after 300ms returned after %v; want it to stop promptly", args, elapsed)
	}
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatalf("results.ReadFile(%s) after Ctrl-C = %v; want the results measured so far", path, err)
	}
	if !f.Incomplete {
		t.Errorf("results file incomplete = false; want true")
	}
	if len(f.Cells) != 1 || !f.Cells[0].Incomplete || f.Cells[0].Config.Strategy != "rwsem" {
		t.Errorf("results file: cells of strategies %q; want one incomplete rwsem cell", cellStrategies(f))
	}
	assertOnly(t, out, "r.json")
	assertNoBackingFiles(t, tgt)
	assertEmptyDir(t, "target dir", tgt)
}

// TestResultsCommand checks that the results file records run's args, not
// os.Args (under go test, the test binary's flags).
func TestResultsCommand(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	args := []string{"run", "-strategy", "rwsem", "-scenario", "write-fail", "-threads", "1", "-duration", "100ms", "-delay", "5us", "-watchdog", "7s", "-clock", "mono",
		"-target", "dir:" + tgt, "-o", path}
	rolePlace := ""
	if runtime.NumCPU() >= 2 { // same-llc needs a CPU besides the faulter's
		rolePlace = "same-llc"
		args = append(args, "-pin", "compact", "-role-place", rolePlace)
	}
	if got := runCLI(t.Context(), args...); got.err != nil {
		t.Fatalf("run(%q) = %v; want nil", args, got.err)
	}
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(args, " "); f.Command != want {
		t.Errorf("results file command = %q; want %q", f.Command, want)
	}
	// Config holds what the cell needs to run again: -delay,
	// -clock, -watchdog and -role-place were not recorded.
	c := f.Cells[0].Config
	if c.DelayFor != 5*time.Microsecond || c.Clock != "mono" || c.Watchdog != 7*time.Second || c.RolePlace != rolePlace {
		t.Errorf("cell config delay %v, clock %q, watchdog %v, role-place %q; want 5µs, mono, 7s, %q", c.DelayFor, c.Clock, c.Watchdog, c.RolePlace, rolePlace)
	}
}
