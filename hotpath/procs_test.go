package hotpath

import (
	"context"
	"os"
	"runtime"
	"testing"
)

// setProcs sets GOMAXPROCS to n for the test, with the environment's
// GOMAXPROCS unset (the run keeps a value the user set there), and restores
// both after. It cannot run in parallel (t.Setenv refuses).
func setProcs(t *testing.T, n int) {
	t.Helper()
	t.Setenv("GOMAXPROCS", "")
	if err := os.Unsetenv("GOMAXPROCS"); err != nil {
		t.Fatal(err)
	}
	prev := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

// TestRunSetsGOMAXPROCS: under both engines, a run raises GOMAXPROCS to one
// P per worker plus the harness's while it measures, records it in the
// repetition, and restores the process's own after.
func TestRunSetsGOMAXPROCS(t *testing.T) {
	for _, engine := range []Engine{EngineModel, EngineKernel} {
		t.Run(engine.String(), func(t *testing.T) {
			setProcs(t, 1)
			sc, err := LookupScenario("fsync-storm")
			if err != nil {
				t.Fatal(err)
			}
			var cfg Config
			if engine == EngineKernel {
				cfg = kernelConfig(t, sc, t.TempDir())
				cfg.OpLimit = 2000
			} else {
				cfg = runConfig(t, sc, "rwsem", t.TempDir())
			}
			during := 0
			cfg.OnStart = func() { during = runtime.GOMAXPROCS(0) }
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run = %v; want no error", err)
			}
			workers := len(sc.workerPlan(cfg.Threads))
			if want := workers + harnessProcs; during != want {
				t.Errorf("GOMAXPROCS while measuring %d workers = %d; want %d", workers, during, want)
			}
			if rep.GoMaxProcs != during {
				t.Errorf("rep.GoMaxProcs = %d; want the setting in force, %d", rep.GoMaxProcs, during)
			}
			if got := runtime.GOMAXPROCS(0); got != 1 {
				t.Errorf("GOMAXPROCS after the run = %d; want the process's own, 1", got)
			}
		})
	}
}

// TestRunKeepsEnvGOMAXPROCS: a GOMAXPROCS the user set in the environment
// is kept, and recorded.
func TestRunKeepsEnvGOMAXPROCS(t *testing.T) {
	t.Setenv("GOMAXPROCS", "1")
	prev := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	sc, err := LookupScenario("fsync-storm")
	if err != nil {
		t.Fatal(err)
	}
	cfg := runConfig(t, sc, "rwsem", t.TempDir())
	during := 0
	cfg.OnStart = func() { during = runtime.GOMAXPROCS(0) }
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run = %v; want no error", err)
	}
	if during != 1 || rep.GoMaxProcs != 1 {
		t.Errorf("with GOMAXPROCS=1 in the environment: %d while measuring, %d recorded; want 1 and 1", during, rep.GoMaxProcs)
	}
}

// TestProcsOverlappingRuns: runs in flight together hold the largest need;
// the process's own comes back when the last one ends, not the first.
func TestProcsOverlappingRuns(t *testing.T) {
	setProcs(t, 1)
	var s procSetting
	gotA, releaseA := s.acquire(6)
	gotB, releaseB := s.acquire(2)
	if gotA != 7 || gotB != 7 {
		t.Fatalf("acquire(6), acquire(2) = %d, %d; want 7, 7 (the largest need)", gotA, gotB)
	}
	releaseA()
	releaseA() // a second call is a no-op
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("after the larger run ends, GOMAXPROCS = %d; want 3 (the other's need)", got)
	}
	releaseB()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("after both runs end, GOMAXPROCS = %d; want 1", got)
	}
}
