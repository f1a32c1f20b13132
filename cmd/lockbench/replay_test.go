package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// shellWords splits a command as a POSIX shell does for the quoting
// replayCommand writes: words split on spaces, '...' taken literally.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var w strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			in, quoted = !in, true
		case r == ' ' && !in:
			if w.Len() > 0 || quoted {
				out = append(out, w.String())
			}
			w.Reset()
			quoted = false
		default:
			w.WriteRune(r)
		}
	}
	if in {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if w.Len() > 0 || quoted {
		out = append(out, w.String())
	}
	return out
}

// TestReplayReproducesCell: a verify cell's replay command, parsed back by
// run's flag parser, is the cell's config: strategy, scenario, threads,
// seed, budget (-ops for an operation budget, the duration for a time
// budget), target, oracle, delay and faultretry's options. Regression: the
// replay dropped -gup-share/-fallback and replayed 100000ops as -duration 2s.
func TestReplayReproducesCell(t *testing.T) {
	tests := []struct {
		name     string
		args     []string // verify's flags
		sn, scn  string
		seed     uint64
		dur      time.Duration
		ops      int64
		oracle   bool
		delay    time.Duration
		gup      float64
		fallback string
	}{
		// A time budget replays as -duration.
		{"time", []string{"-budget", "1500ms", "-threads", "3"}, "none", "punch", 7, 1500 * time.Millisecond, 0, true, 50 * time.Microsecond, 0, "sigbus"},
		// An operation budget replays as -ops.
		{"ops", []string{"-budget", "100000ops", "-delay", "0"}, "rwsem", "write-fail", 2, 2 * time.Second, 100000, true, 0, 0, "sigbus"},
		// faultretry's options come along.
		{"faultretry", []string{"-gup-share", "0.25", "-fallback", "convert-unlocked", "-target", "dir:/tmp/a b"}, "faultretry", "punch", 1, 2 * time.Second, 0, true, 50 * time.Microsecond, 0.25, "convert-unlocked"},
		// The kernel has no model-only flags.
		{"kernel", []string{"-budget", "5000ops", "-strategy", "kernel", "-scenario", "punch"}, "kernel", "punch", 4, 2 * time.Second, 5000, false, 0, 0, "sigbus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vfs := newFlagSet("verify")
			var v verifyFlags
			v.register(vfs)
			if err := vfs.Parse(tt.args); err != nil {
				t.Fatalf("verify %q: %v", tt.args, err)
			}
			p, err := v.validate()
			if err != nil {
				t.Fatalf("verify %q: validate: %v", tt.args, err)
			}
			cmd := shellCommand("run", replayArgs(tt.sn, tt.scn, tt.seed, &v, p))
			checkReplayText(t, cmd)
			words := shellWords(t, cmd)
			if want := []string{"go", "run", "./cmd/lockbench", "run"}; len(words) < 4 || !reflect.DeepEqual(words[:4], want) {
				t.Fatalf("replay %q does not start with %q", cmd, want)
			}
			rfs := newFlagSet("run")
			var f runFlags
			f.register(rfs, "", "")
			if err := rfs.Parse(words[4:]); err != nil || rfs.NArg() > 0 {
				t.Fatalf("run flags of replay %q: %v (args left %q)", cmd, err, rfs.Args())
			}
			rp, err := f.validate()
			if err != nil {
				t.Fatalf("replay %q: validate: %v", cmd, err)
			}
			got := []any{f.strategy, f.scenario, f.threads, f.seed, f.duration, f.ops, f.target, f.oracle, f.delay, rp.opts.GUPShare, rp.opts.Fallback, f.out}
			want := []any{tt.sn, tt.scn, threadsOf(tt.args), tt.seed, tt.dur, tt.ops, v.target, tt.oracle, tt.delay, tt.gup, tt.fallback, replayResults}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("replay %q parses to\n  %v\nwant\n  %v", cmd, got, want)
			}
		})
	}
}

// threadsOf is -threads in verify args, or verify's default 2.
func threadsOf(args []string) string {
	for i, a := range args {
		if a == "-threads" {
			return args[i+1]
		}
	}
	return "2"
}

// TestHoletestReplay: a holetest cell's replay, parsed back by verify's
// flag parser, is the cell's verify config: seed, sizes, target, delay and
// faultretry's options. Regression: it dropped -gup-share/-fallback and the
// sizes and target.
func TestHoletestReplay(t *testing.T) {
	for _, sn := range []string{"faultretry", "rwsem", "kernel"} {
		args := []string{"-seed", "9", "-holetest-sizes", "1M,4M", "-target", "dir:/tmp/x y", "-delay", "20us"}
		if sn == "faultretry" {
			args = append(args, "-gup-share", "0.5", "-fallback", "convert-unlocked")
		}
		vfs := newFlagSet("verify")
		var v verifyFlags
		v.register(vfs)
		if err := vfs.Parse(args); err != nil {
			t.Fatal(err)
		}
		p, err := v.validate()
		if err != nil {
			t.Fatalf("verify %q: %v", args, err)
		}
		cmd := shellCommand("verify", holetestReplayArgs(sn, &v, p))
		checkReplayText(t, cmd)
		words := shellWords(t, cmd)
		if len(words) < 4 || words[3] != "verify" {
			t.Fatalf("replay %q is not a verify command", cmd)
		}
		rfs := newFlagSet("verify")
		var r verifyFlags
		r.register(rfs)
		if err := rfs.Parse(words[4:]); err != nil || rfs.NArg() > 0 {
			t.Fatalf("verify flags of replay %q: %v (args left %q)", cmd, err, rfs.Args())
		}
		rp, err := r.validate()
		if err != nil {
			t.Fatalf("replay %q: validate: %v", cmd, err)
		}
		wantDelay, wantOpts := v.delay, p.opts
		if sn == "kernel" { // the kernel has no model-only flags: the defaults
			wantDelay = 50 * time.Microsecond
		}
		if sn != "faultretry" {
			wantOpts = rp.opts // options do not apply
		}
		got := []any{r.strategy, r.scenario, rp.seed, rp.holetest, r.target, r.delay, rp.opts, r.out}
		want := []any{sn, "holetest", uint64(9), []int64{1 << 20, 4 << 20}, v.target, wantDelay, wantOpts, replayResults}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: replay %q parses to\n  %v\nwant\n  %v", sn, cmd, got, want)
		}
	}
}

// checkReplayText: a replay command is ASCII (50us, not 50µs, which some
// shells and terminals mangle) and has no empty argument (”).
func checkReplayText(t *testing.T, cmd string) {
	t.Helper()
	for _, r := range cmd {
		if r > 0x7e {
			t.Errorf("replay %q has the non-ASCII %q", cmd, r)
		}
	}
	if strings.Contains(cmd, "''") {
		t.Errorf("replay %q has an empty argument", cmd)
	}
}
