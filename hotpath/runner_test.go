package hotpath

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lockbench/results"
	"lockbench/strategies"
)

// runConfig is a short run of scenario sc under the named strategy in dir.
func runConfig(t *testing.T, sc Scenario, strategy, dir string) Config {
	t.Helper()
	st, err := strategies.New(strategy, strategies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk, err := testClock()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Strategy: st, Scenario: sc, Threads: 2, OpLimit: 2000, Seed: 1,
		Dir: dir, Oracle: true, Clock: clk, Watchdog: 20 * time.Second,
	}
}

// checkEmptyDir fails when the run left anything in dir.
func checkEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	for _, e := range ents {
		t.Errorf("Run left %s behind in the target directory", e.Name())
	}
}

// checkLatency checks one op's summary: ordered percentiles, none above the
// max, and as many samples as timed operations.
func checkLatency(t *testing.T, o results.OpStats) {
	t.Helper()
	l := o.Latency
	switch {
	case o.SampleEvery == 1 && l.Samples != o.Count:
		t.Errorf("%s: %d samples of %d ops timed every time; want %d", o.Op, l.Samples, o.Count, o.Count)
	case l.Samples > o.Count:
		t.Errorf("%s: %d samples of %d ops; want at most %d", o.Op, l.Samples, o.Count, o.Count)
	case l.Samples == 0:
		// A sampled kind (one in SampleEvery) with few ops may have none.
		if l != (results.Latency{}) {
			t.Errorf("%s: latency %+v without samples; want zero", o.Op, l)
		}
		return
	}
	ps := []time.Duration{l.P50, l.P90, l.P99, l.P999, l.Max}
	if !slices.IsSorted(ps) || l.P50 <= 0 {
		t.Errorf("%s: p50, p90, p99, p99.9, max = %v; want positive and non-decreasing", o.Op, ps)
	}
	if l.Mean <= 0 || l.Mean > l.Max {
		t.Errorf("%s: mean = %v; want in (0, max %v]", o.Op, l.Mean, l.Max)
	}
}

// TestRunEveryScenarioAndStrategy is the conformance run: every scenario
// under every strategy completes a short op budget without error, counts
// operations, reports sane latencies and the workers of its plan, and
// removes its backing files.
func TestRunEveryScenarioAndStrategy(t *testing.T) {
	for _, sc := range Scenarios {
		for _, sn := range strategies.Names() {
			t.Run("scenario="+sc.Name+"/strategy="+sn, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				cfg := runConfig(t, sc, sn, dir)
				rep, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatalf("Run = %v; want no error", err)
				}
				if rep.Incomplete || rep.Deadlock != "" {
					t.Errorf("Run: incomplete %v, deadlock %q; want a complete run", rep.Incomplete, rep.Deadlock)
				}
				if rep.Elapsed <= 0 {
					t.Errorf("Run: elapsed = %v; want > 0", rep.Elapsed)
				}
				var total int64
				for _, o := range rep.Ops {
					if o.Count <= 0 {
						t.Errorf("Run: %s counted %d ops; want > 0 (empty kinds are left out)", o.Op, o.Count)
						continue
					}
					total += o.Count
					checkLatency(t, o)
				}
				if total == 0 {
					t.Fatalf("Run counted no operations")
				}

				plan := sc.workerPlan(cfg.Threads)
				roles := map[string]bool{}
				var workerOps int64
				if len(rep.Workers) != len(plan) {
					t.Errorf("Run: %d workers; want %d", len(rep.Workers), len(plan))
				}
				for i, w := range rep.Workers {
					if i < len(plan) && (w.ID != i || w.Role != plan[i].Role.String() || w.CPU != -1) {
						t.Errorf("Run: worker %d = %+v; want {ID: %d, Role: %s, CPU: -1}", i, w, i, plan[i].Role)
					}
					roles[w.Role] = true
					workerOps += w.Ops
				}
				if workerOps != total {
					t.Errorf("Run: workers' ops sum to %d; op kinds to %d", workerOps, total)
				}
				for _, o := range rep.Ops {
					for _, r := range strings.Split(o.Role, ",") {
						if !roles[r] {
							t.Errorf("Run: %s is attributed to role %q, which no worker has", o.Op, r)
						}
					}
				}
				if expectSafe(sc, sn) {
					for i, v := range rep.Violations {
						if i == 5 {
							t.Errorf("... %d violations in all", len(rep.Violations))
							break
						}
						t.Errorf("oracle: %s %s page %d: %s; want none (docs/MODEL.md expects %s safe here)", v.Invariant, v.Race, v.Page, v.Detail, sn)
					}
				}
				checkEmptyDir(t, dir)
			})
		}
	}
}

// expectSafe reports whether the strategies' registry (docs/MODEL.md, "What
// each strategy is expected to prevent") says strategy sn shows no violation
// in scenario sc. fault-scale exercises no race; mixed exercises R1, R2, R3
// and R5. faultretry's R4 is S while every fault may retry (no gup share).
func expectSafe(sc Scenario, sn string) bool {
	races := []strategies.Race{sc.Race}
	switch {
	case sc.Name == "mixed":
		races = []strategies.Race{strategies.R1, strategies.R2, strategies.R3, strategies.R5}
	case sc.Race == strategies.NoRace:
		// A cost scenario races without injected delays where its roles
		// can: stores under fsync (R5, fsync-write, fsync-read-xfs) and
		// punches beside faults (R2, fsync-read-xfs); only the strategies
		// safe on those must show no violation.
		races = nil
		for _, r := range sc.Roles {
			switch {
			case r.Role == RoleFsync && sc.Stores > 0:
				races = append(races, strategies.R5)
			case r.Role == RolePuncher:
				races = append(races, strategies.R2)
			}
		}
	}
	info, err := strategies.Lookup(sn)
	if err != nil {
		panic(err)
	}
	for _, r := range races {
		if info.Expect[r] != strategies.Safe {
			return false
		}
	}
	return true
}

// TestRunCancel: cancelling the context stops a timed run early; what was
// measured is returned marked incomplete and the files are removed.
func TestRunCancel(t *testing.T) {
	dir := t.TempDir()
	sc, err := LookupScenario("mixed")
	if err != nil {
		t.Fatal(err)
	}
	cfg := runConfig(t, sc, "rwsem", dir)
	cfg.OpLimit, cfg.Duration = 0, time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The 300 ms count from when measuring starts, so that a slow setup
	// (-race on a busy machine) cannot cancel the run before any operation.
	cfg.OnStart = func() { time.AfterFunc(300*time.Millisecond, cancel) }
	start := time.Now()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run cancelled = %v; want no error", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("Run cancelled after 300ms took %v", took)
	}
	if !rep.Incomplete {
		t.Errorf("Run cancelled: Incomplete = false; want true")
	}
	var total int64
	for _, o := range rep.Ops {
		total += o.Count
	}
	if total == 0 || len(rep.Workers) == 0 {
		t.Errorf("Run cancelled: %d ops, %d workers; want the partial results", total, len(rep.Workers))
	}
	checkEmptyDir(t, dir)
}

// TestRunBadConfig: a configuration error is one line and leaves nothing on
// the target.
func TestRunBadConfig(t *testing.T) {
	sc, err := LookupScenario("punch")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(c *Config, dir string)
		want   string
	}{
		{
			name:   "file size not a multiple of the page size",
			modify: func(c *Config, _ string) { c.FileSize = 64*4096 + 100 },
			want:   "FileSize must be a positive multiple of the page size 4096, got 262244",
		},
		{
			name:   "file size too small for the scenario",
			modify: func(c *Config, _ string) { c.FileSize = 4 * 4096 },
			want:   "FileSize must be at least",
		},
		{
			name:   "negative file size",
			modify: func(c *Config, _ string) { c.FileSize = -4096 },
			want:   "FileSize must be",
		},
		{
			name:   "missing target directory",
			modify: func(c *Config, dir string) { c.Dir = filepath.Join(dir, "missing") },
			want:   "missing",
		},
		{
			name:   "target is a file",
			modify: func(c *Config, dir string) { c.Dir = filepath.Join(dir, "file") },
			want:   "file",
		},
		{
			name:   "no threads",
			modify: func(c *Config, _ string) { c.Threads = 0 },
			want:   "Threads must be at least 1, got 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "file")
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := runConfig(t, sc, "rwsem", dir)
			tt.modify(&cfg, dir)
			err := runNoPanic(t, cfg)
			switch {
			case err == nil:
				t.Fatalf("Run = nil; want an error containing %q", tt.want)
			case !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n"):
				t.Errorf("Run = %q; want one line containing %q", err, tt.want)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Name() != "file" {
					t.Errorf("Run left %s behind", e.Name())
				}
			}
		})
	}
}

// runNoPanic runs cfg and returns Run's error; a panic (Open's error path
// once closed a nil inode) fails the test.
func runNoPanic(t *testing.T, cfg Config) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Run(%s) panicked instead of returning an error: %v", cfg.Dir, r)
		}
	}()
	_, err = Run(context.Background(), cfg)
	return err
}

// TestDeadlockReport builds the ABBA that VM_FAULT_RETRY exists to avoid: a
// writer holds IO and wants MM, a fault holds MM and wants IO. The two
// goroutines stay blocked for the rest of the test binary.
func TestDeadlockReport(t *testing.T) {
	if lockCheck {
		t.Skip("with -tags lockcheck the checker panics on MM -> IO before the pair can block (TestLockOrderPanics)")
	}
	in := openTest(t, "rwsem", strategies.Options{})
	writer := testWorker(t, 0, RoleWriter)
	fault := testWorker(t, 1, RoleFaulter)
	idle := testWorker(t, 2, RoleFlusher)
	var first sync.WaitGroup
	first.Add(2)
	go func() {
		writer.wlock(in.io, lkIO)
		first.Done()
		first.Wait()
		writer.wlock(in.mm, lkMM) // never returns
	}()
	go func() {
		fault.rlock(in.mm, lkMM)
		first.Done()
		first.Wait()
		fault.wlock(in.io, lkIO) // never returns
	}()
	waitFor(t, "both workers block", func() bool { return writer.pub.Load() != 0 && fault.pub.Load() != 0 })

	// A worker that is not blocked is not reported.
	if e, want := deadlockReport([]*Worker{idle}, time.Second), []string{"no worker is blocked on a model lock (livelock or a stuck I/O)"}; !slices.Equal(e.Workers, want) {
		t.Errorf("deadlockReport(idle).Workers = %q; want %q", e.Workers, want)
	}

	e := deadlockReport([]*Worker{writer, fault, idle}, 2500*time.Millisecond)
	want := []string{
		"worker 0 (writer): holds IO, waits for MM",
		"worker 1 (faulter): holds MM, waits for IO",
	}
	if !slices.Equal(e.Workers, want) {
		t.Errorf("deadlockReport().Workers = %q; want %q (a blocked worker does not hold the lock it waits for)", e.Workers, want)
	} else if got, want := e.Error(), "deadlock: no progress for 2.5s; "+strings.Join(want, "; "); got != want {
		t.Errorf("deadlockReport().Error() = %q; want %q", got, want)
	}
}
