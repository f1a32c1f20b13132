package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/results"
	"lockbench/strategies"
)

// Regression tests of the CLI's reliability (docs/DESIGN.md, "Reliability"):
// full targets, failures, signals, bad outputs and limits. Each fails on the
// code before its fix.

// quickRun is a short two-cell run on tgt writing path.
func quickRun(tgt, path string, extra ...string) []string {
	return append([]string{"run", "-strategy", "rwsem,none", "-scenario", "fsync-storm", "-duration", "100ms",
		"-target", "dir:" + tgt, "-o", path}, extra...)
}

// withRunRep returns runCLI with fn as the repetition runner.
func withRunRep(fn repRunner) func(ctx context.Context, args ...string) outcome {
	return func(ctx context.Context, args ...string) outcome { return runCLIWith(ctx, fn, args...) }
}

// Item 2: outputs that are not regular files are written through, not
// replaced by a regular file (as root, -o /dev/null replaced the node).
func TestOutputNotRegular(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	fifo := filepath.Join(out, "hdr.fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte, 1)
	go func() {
		fh, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer fh.Close()
		b, _ := io.ReadAll(fh)
		got <- b
	}()
	args := []string{"run", "-strategy", "rwsem", "-scenario", "fsync-storm", "-duration", "100ms",
		"-target", "dir:" + tgt, "-o", "/dev/null", "-hdr-log", fifo}
	res := runCLI(t.Context(), args...)
	if res.err != nil {
		t.Fatalf("run(%q) = %v; want nil", args, res.err)
	}
	if fi, err := os.Lstat("/dev/null"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("after -o /dev/null: /dev/null is %v (%v); want the character device", fi.Mode(), err)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("after -hdr-log FIFO: %s is %v; want the FIFO", fifo, fi.Mode())
	}
	select {
	case b := <-got:
		if !bytes.Contains(b, []byte("#[Histogram log format")) && !bytes.Contains(b, []byte("#[StartTime")) {
			t.Errorf("the FIFO's reader got %d bytes without an HdrHistogram log header:\n%.200s", len(b), b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the FIFO's reader got nothing within 10s")
	}
}

// Item 4: the results file is written before stdout, so a reader that
// stops early (`| head`, here a stdout that fails after 10 bytes) loses
// no results.
func TestStdoutClosedEarly(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	var stderr bytes.Buffer
	err := run(t.Context(), quickRun(tgt, path), &failingWriter{n: 10}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "stdout") {
		t.Errorf("run with a stdout that closes = %v; want an error about stdout", err)
	}
	f, rerr := results.ReadFile(path)
	if rerr != nil {
		t.Fatalf("results file after stdout closed early: %v; want it written first", rerr)
	}
	if len(f.Cells) != 2 || f.Incomplete {
		t.Errorf("results file: %d cells, incomplete %v; want 2 complete cells", len(f.Cells), f.Incomplete)
	}
}

// failingWriter accepts n bytes, then fails as a closed pipe does.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, unix.EPIPE
	}
	w.n -= len(p)
	return len(p), nil
}

// Item 5: an error in a later cell keeps the finished ones: the file is
// written, marked incomplete, with the error, and the exit status is 1.
func TestLateErrorKeepsCells(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	injected := errors.New("injected: read-only file system")
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		if cfg.Strategy.Name() == "none" {
			return results.Rep{}, injected
		}
		return hotpath.Run(ctx, cfg)
	})
	res := cli(t.Context(), quickRun(tgt, path)...)
	if res.code != 1 || !errors.Is(res.err, injected) {
		t.Fatalf("run with a failing second cell = %v, exit %d; want the injected error, exit 1", res.err, res.code)
	}
	if msg := res.err.Error(); !strings.Contains(msg, "none fsync-storm") || !strings.Contains(msg, "kept") || strings.Contains(msg, "\n") {
		t.Errorf("error = %q; want one line naming the cell and saying the finished cells are kept", msg)
	}
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatalf("results file after a late error: %v; want the finished cells", err)
	}
	if len(f.Cells) != 1 || f.Cells[0].Config.Strategy != "rwsem" || !f.Incomplete || !strings.Contains(f.Error, "injected") {
		t.Errorf("results file: cells %q, incomplete %v, error %q; want the rwsem cell, incomplete, the error", cellStrategies(f), f.Incomplete, f.Error)
	}
	if !strings.Contains(res.stdout, "strategy=rwsem") {
		t.Errorf("stdout does not show the finished cell:\n%s", res.stdout)
	}
	assertNoBackingFiles(t, tgt)
}

// Item 10: a reported deadlock exits 1 (it exited 0), and the results
// keep the deadlocked repetition.
func TestDeadlockExits1(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "r.json")
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		dl := &hotpath.DeadlockError{After: time.Second, Workers: []string{"worker 0 (faulter): holds MM, waits for IL"}}
		return results.Rep{Deadlock: dl.Error(), Incomplete: true}, dl
	})
	res := cli(t.Context(), "run", "-strategy", "rwsem", "-duration", "100ms", "-target", "dir:"+tgt, "-o", path)
	if res.code != 1 || res.err == nil || !strings.Contains(res.err.Error(), "deadlock") {
		t.Fatalf("run with a deadlock = %v, exit %d; want an error about the deadlock, exit 1", res.err, res.code)
	}
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Cells) != 1 || f.Cells[0].Reps[0].Deadlock == "" {
		t.Errorf("results file: %d cells; want the deadlocked cell with its report", len(f.Cells))
	}
}

// Item 8: Ctrl-C before any repetition finished writes "cells": [] (it
// wrote null), and does not replace a complete results file.
func TestInterruptBeforeAnyRep(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	t.Run("no file before", func(t *testing.T) {
		out, tgt := t.TempDir(), t.TempDir()
		path := filepath.Join(out, "r.json")
		res := runCLI(cancelled, quickRun(tgt, path)...)
		if res.code != 1 {
			t.Errorf("run cancelled before it started: exit %d; want 1", res.code)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`"cells": []`)) || !bytes.Contains(b, []byte(`"incomplete": true`)) {
			t.Errorf("results file of a run cancelled before any rep:\n%s\nwant \"cells\": [] and \"incomplete\": true", b)
		}
	})
	t.Run("complete file before and Ctrl-C in the first rep", func(t *testing.T) {
		out, tgt := t.TempDir(), t.TempDir()
		path := filepath.Join(out, "r.json")
		if res := runCLI(t.Context(), quickRun(tgt, path)...); res.err != nil {
			t.Fatal(res.err)
		}
		before, _ := os.ReadFile(path)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		time.AfterFunc(200*time.Millisecond, cancel)
		res := runCLI(ctx, "run", "-strategy", "rwsem", "-duration", "5s", "-target", "dir:"+tgt, "-o", path)
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("a run cancelled in its first rep replaced the complete results file")
		}
		if res.code != 1 || !strings.Contains(res.stderr, "kept the complete results file") {
			t.Errorf("exit %d, stderr %q; want 1 and a note that the complete file was kept", res.code, res.stderr)
		}
	})
	t.Run("complete file before", func(t *testing.T) {
		out, tgt := t.TempDir(), t.TempDir()
		path := filepath.Join(out, "r.json")
		if res := runCLI(t.Context(), quickRun(tgt, path)...); res.err != nil {
			t.Fatal(res.err)
		}
		before, _ := os.ReadFile(path)
		res := runCLI(cancelled, quickRun(tgt, path)...)
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Errorf("a run cancelled before any rep replaced the complete results file")
		}
		if !strings.Contains(res.stderr, "kept the complete results file "+path) {
			t.Errorf("stderr = %q; want it to say the complete file was kept", res.stderr)
		}
	})
}

// Item 9: report -format json of two files prints one JSON document.
func TestReportJSONOneDocument(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"a.json", "b.json"} {
		p := filepath.Join(dir, name)
		f := &results.File{Schema: results.SchemaVersion, Tool: "lockbench", Command: name}
		if err := results.WriteFile(p, f); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	res := runCLI(t.Context(), append([]string{"report", "-format", "json"}, paths...)...)
	if res.err != nil {
		t.Fatal(res.err)
	}
	dec := json.NewDecoder(strings.NewReader(res.stdout))
	var files []results.File
	if err := dec.Decode(&files); err != nil {
		t.Fatalf("report -format json a b: %v; want one JSON array of files:\n%.300s", err, res.stdout)
	}
	if len(files) != 2 || files[0].Command != "a.json" || files[1].Command != "b.json" {
		t.Errorf("report -format json a b: %d files; want a and b in order", len(files))
	}
	if dec.More() {
		t.Errorf("report -format json a b printed more than one JSON document")
	}
}

// Item 7: leftovers of a killed run (its pid gone) are removed with a
// notice; a live run's files in the same directory are never touched.
func TestStaleLeftovers(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	// 4194305 is above the largest pid_max: that run is gone.
	for _, n := range []string{".lockbench-cache-4194305-x", ".lockbench-cache-4194305-x.disk"} {
		os.WriteFile(filepath.Join(tgt, n), nil, 0o600)
	}
	live := filepath.Join(tgt, ".lockbench-cache-1-live") // pid 1 is alive
	os.WriteFile(live, nil, 0o600)
	res := runCLI(t.Context(), "run", "-strategy", "rwsem", "-duration", "100ms", "-target", "dir:"+tgt, "-o", filepath.Join(out, "r.json"))
	if res.err != nil {
		t.Fatal(res.err)
	}
	if want := "removed 2 backing files that a killed lockbench run (pid 4194305) left in " + tgt; !strings.Contains(res.stderr, want) {
		t.Errorf("stderr = %q; want %q", res.stderr, want)
	}
	ents, _ := os.ReadDir(tgt)
	if len(ents) != 1 || ents[0].Name() != filepath.Base(live) {
		t.Errorf("target holds %v after the run; want only the live run's %s", ents, filepath.Base(live))
	}
}

// Item 7: the second Ctrl-C removes this process's backing files, not
// every .lockbench-cache-* of the directory (a concurrent run's).
func TestSecondInterruptSparesOthers(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	other := filepath.Join(tgt, ".lockbench-cache-1-concurrent")
	os.WriteFile(other, nil, 0o600)
	started := make(chan struct{})
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		cfg.OnStart = func() { close(started) } // the inode is open: both files made
		return hotpath.Run(ctx, cfg)
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		done <- cli(ctx, "run", "-strategy", "rwsem", "-duration", "3s", "-target", "dir:"+tgt, "-o", filepath.Join(out, "r.json"))
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not start measuring within 10s")
	}
	if err := exitNow(); err != nil {
		t.Errorf("exitNow() = %v", err)
	}
	m, _ := filepath.Glob(filepath.Join(tgt, ".lockbench-cache-*"))
	if len(m) != 1 || m[0] != other {
		t.Errorf("after the second Ctrl-C's cleanup the target holds %v; want only the concurrent run's %s", m, other)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not stop within 10s of cancellation")
	}
}

// Item 11: list -h and help CMD work like every subcommand's -h, and -ops
// is documented as a total.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"list", "-h"}, []string{"usage of lockbench list"}},
		{[]string{"help", "run"}, []string{"usage of lockbench run", "-strategy", "total foreground operations"}},
		{[]string{"help", "verify"}, []string{"usage of lockbench verify", "-budget"}},
		{[]string{"help"}, []string{"lockbench run [flags]"}},
	} {
		res := runCLI(t.Context(), tc.args...)
		if res.err != nil || res.code != 0 {
			t.Errorf("run(%q) = %v, exit %d; want nil, 0", tc.args, res.err, res.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(res.stdout, w) {
				t.Errorf("run(%q) printed %q; want it to mention %q", tc.args, res.stdout, w)
			}
		}
	}
}

// Issue 15: one size parser; -file-size 2GB works as loop:ext4:2GB does.
func TestFileSizeSyntax(t *testing.T) {
	specs, err := hardware.ParseTargets("loop:ext4:2GB")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"2GB", "2G", "2GiB", "2097152K", "2147483648"} {
		f := runFlags{fileSize: in}
		var p plan
		if err := f.validateFileSize(&p); err != nil || p.fileSize != specs[0].Size {
			t.Errorf("-file-size %s = %d, %v; want %d as loop:ext4:2GB", in, p.fileSize, err, specs[0].Size)
		}
	}
}

// Item 6: outputs are checked before measuring; a run with a bad -hdr-log
// never reaches the runner.
func TestOutputsCheckedFirst(t *testing.T) {
	cli := withRunRep(func(ctx context.Context, cfg hotpath.Config) (results.Rep, error) {
		t.Error("a run with a bad output path measured")
		return results.Rep{}, nil
	})
	out, tgt := t.TempDir(), t.TempDir()
	res := cli(t.Context(), "run", "-target", "dir:"+tgt, "-o", filepath.Join(out, "r.json"), "-hdr-log", out)
	if res.code != 2 {
		t.Errorf("run -hdr-log DIR: exit %d (%v); want 2", res.code, res.err)
	}
}

// Issue 15: the lower layers' typed errors get their flag's name in cmd.
func TestFlagError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&hotpath.ConfigError{Field: "Threads", Msg: "must be at least 1, got 0"}, "-threads must be at least 1, got 0"},
		{fmt.Errorf("cell: %w", &hotpath.ConfigError{Field: "FileSize", Msg: "must be a positive multiple of the page size 4096, got 1"}), "-file-size must be a positive multiple"},
		{strategies.Options{GUPShare: 2}.Validate(), "-gup-share must be in [0,1], got 2"},
		{strategies.Options{Fallback: "x"}.Validate(), `-fallback unknown fallback "x"`},
	} {
		got := flagError(tc.err)
		var u usageError
		if !errors.As(got, &u) || !strings.HasPrefix(got.Error(), tc.want) {
			t.Errorf("flagError(%v) = %v; want a usage error starting %q", tc.err, got, tc.want)
		}
	}
	if err := errors.New("other"); flagError(err) != err {
		t.Errorf("flagError(other) changed an error that names no field")
	}
}
