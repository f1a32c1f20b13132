package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"lockbench/results"
	"lockbench/strategies"
)

// TestVerifyMatrix runs the race oracle and checks that the matrix matches
// docs/MODEL.md's expectations: exit 0, none violated on every race, every S
// cell safe, and the matrix in the results file. The full matrix (every
// race scenario and the holetest replica) takes one to two minutes; -short
// runs none and rwsem on write-fail (R1) and punch (R2) only.
func TestVerifyMatrix(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "v.json")
	sts, scs := strategies.Names(), append(raceScenarios(), "holetest")
	// Two seeds per cell: none must be caught on at least one of them
	// (a race usually reproduces on every seed at 1s, but the test machine
	// may be loaded); S cells must be safe on both.
	args := []string{"verify", "-strategy", strings.Join(sts, ","), "-budget", "1s", "-seeds", "2", "-target", "dir:" + tgt, "-o", path}
	if testing.Short() {
		sts, scs = []string{"none", "rwsem"}, []string{"write-fail", "punch"}
		args = []string{"verify", "-strategy", "none,rwsem", "-scenario", "write-fail,punch", "-budget", "1s", "-seeds", "2",
			"-target", "dir:" + tgt, "-o", path}
	}
	got := runCLI(t.Context(), args...)
	// The printed matrix is the evidence for every failure below.
	defer func() {
		if t.Failed() {
			t.Logf("run(%q) printed:\n%s", args, got.stdout)
		}
	}()
	for _, w := range []string{"race oracle", "SCENARIO", "results: " + path} {
		if !strings.Contains(got.stdout, w) {
			t.Errorf("verify output does not contain %q", w)
		}
	}
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatalf("results.ReadFile(%s) = %v; want the matrix", path, err)
	}
	if f.Verify == nil {
		t.Fatalf("results file has no verify matrix")
	}
	if f.Incomplete {
		t.Errorf("results file incomplete = true; want false")
	}
	raceNamed := map[string]strategies.Race{}
	for r := strategies.R1; r < strategies.NumRaces; r++ {
		raceNamed[r.String()] = r
	}
	cells := map[string]results.VerifyCell{}
	for _, c := range f.Verify.Cells {
		cells[c.Strategy+"/"+c.Scenario] = c
	}
	// A race is a matter of timing: on a loaded machine none may slip
	// through both seeds of a cell. Such a cell gets a second, longer
	// chance (more seeds, a longer budget) before the test calls the
	// oracle blind; every other mismatch fails at once.
	retried := retryMissedRaces(t, cells, tgt)
	if (got.err != nil || got.code != 0) && !onlyRetried(cells, retried) {
		t.Errorf("run(%q) = %v, exit %d; want nil, 0 (the matrix matches its expectations)", args, got.err, got.code)
	}
	if len(f.Verify.Cells) != len(sts)*len(scs) || len(cells) != len(f.Verify.Cells) {
		t.Errorf("matrix has %d cells (%d distinct); want %d strategies x %d scenarios", len(f.Verify.Cells), len(cells), len(sts), len(scs))
	}
	for _, sn := range sts {
		for _, scn := range scs {
			c, ok := cells[sn+"/"+scn]
			if !ok {
				t.Errorf("matrix has no cell %s on %s", sn, scn)
				continue
			}
			cell := fmt.Sprintf("%s on %s (%s): verdict %s, %d violations in %d ops", sn, scn, c.Race, c.Verdict, c.Violations, c.Ops)
			wantExpect := results.Safe
			if expectViolated(sn, raceNamed[c.Race]) {
				wantExpect = results.Violated
			}
			switch {
			case c.Expect != wantExpect:
				t.Errorf("%s: expect %q; want %q", cell, c.Expect, wantExpect)
			case !c.Matches:
				t.Errorf("%s: does not match its expectation %q", cell, c.Expect)
			}
			// none has every fix removed: the oracle must catch each race.
			if sn == "none" && c.Verdict != "violated" {
				t.Errorf("%s; want violated", cell)
			}
			// Every S cell must be safe, with operations to show for it.
			if c.Expect == "safe" && (c.Verdict != "safe" || c.Ops == 0) {
				t.Errorf("%s; want safe after some operations", cell)
			}
			// Both seeds ran and are counted (a regression: the first
			// seed went uncounted).
			// The baseline's cell that both seeds missed is chased with up to 3
			// more (verify's -chase default), stopping at the first to reproduce.
			wantSeeds := map[bool]int{true: 1, false: 2}[scn == "holetest"] + 4*btoi(retried[sn+"/"+scn])
			maxSeeds := wantSeeds
			if sn == strategies.Baseline() && scn != "holetest" && !retried[sn+"/"+scn] {
				maxSeeds += 3
			}
			if c.Seeds < wantSeeds || c.Seeds > maxSeeds || c.Reproduced > c.Seeds || c.Verdict == "violated" && c.Reproduced == 0 {
				t.Errorf("%s: seeds %d, reproduced %d; want %d to %d seeds, reproduced between 1 (if violated) and that", cell, c.Seeds, c.Reproduced, wantSeeds, maxSeeds)
			}
			// A violation comes with the seed and a command to replay it.
			if c.Verdict == "violated" && (c.Detail == "" || !strings.Contains(c.Replay, "-strategy "+sn+" -scenario "+scn)) {
				t.Errorf("%s: detail %q, replay %q; want both, the replay naming the cell", cell, c.Detail, c.Replay)
			}
		}
	}
	// rwsem is the fix for R1 and R2: safe on write-fail and punch.
	for _, scn := range []string{"write-fail", "punch"} {
		if c := cells["rwsem/"+scn]; c.Verdict != "safe" {
			t.Errorf("rwsem on %s: verdict %q; want safe", scn, c.Verdict)
		}
	}
	assertOnly(t, out, "v.json")
	assertEmptyDir(t, "target dir", tgt)
}

// TestVerifyKernel runs verify on the real kernel: every scenario with a
// real counterpart and the holetest replica are safe on this kernel, the
// scenarios without one are left out, and the control (a completed store
// destroyed behind the checker's back) is caught, so the matrix matches.
func TestVerifyKernel(t *testing.T) {
	out, tgt := t.TempDir(), t.TempDir()
	path := filepath.Join(out, "v.json")
	args := []string{"verify", "-strategy", "kernel", "-scenario", "all", "-budget", "300ms", "-holetest-sizes", "1M",
		"-target", "dir:" + tgt, "-o", path}
	got := runCLI(t.Context(), args...)
	if got.err != nil || got.code != 0 {
		t.Fatalf("run(%q) = %v, exit %d; want nil, 0\n%s", args, got.err, got.code, got.stdout)
	}
	f, err := results.ReadFile(path)
	if err != nil || f.Verify == nil {
		t.Fatalf("results.ReadFile(%s) = %v; want the matrix", path, err)
	}
	seen := map[string]results.VerifyCell{}
	for _, c := range f.Verify.Cells {
		seen[c.Scenario] = c
	}
	for _, sc := range []string{"fsync-storm", "punch", "write-fail", "stale-map", "holetest"} {
		if c, ok := seen[sc]; !ok || c.Verdict != "safe" || c.Ops == 0 {
			t.Errorf("kernel %s: %+v; want a safe cell with operations", sc, c)
		}
	}
	for _, sc := range []string{"punch-naive", "inline"} {
		if _, ok := seen[sc]; ok {
			t.Errorf("kernel ran %s, which has no real counterpart", sc)
		}
	}
	if !strings.Contains(got.stdout, "kernel(") || f.Verify.FSType == "" {
		t.Errorf("verify names the kernel column without its filesystem (fs_type %q):\n%s", f.Verify.FSType, got.stdout)
	}
	if c := seen["control"]; c.Verdict != "violated" || !c.Matches || !strings.Contains(c.Detail, "I1") {
		t.Errorf("kernel control = %+v; want the destroyed store caught as I1", c)
	}
}

// TestMergeSeed checks how a verify cell adds up its seeds: it shows the
// first violating seed, counts every seed and every reproduction, and sums
// the operations.
func TestMergeSeed(t *testing.T) {
	safe := results.VerifyCell{Verdict: "safe", Seed: 1, Ops: 10}
	bad := results.VerifyCell{Verdict: "violated", Seed: 2, Ops: 20, Detail: "first"}
	bad2 := results.VerifyCell{Verdict: "violated", Seed: 3, Ops: 30, Detail: "second"}
	c := safe
	c.Seeds, c.Reproduced, c.Ops = 0, 0, 0
	for _, ci := range []results.VerifyCell{safe, bad, bad2} {
		mergeSeed(&c, ci)
	}
	if c.Seeds != 3 || c.Reproduced != 2 || c.Ops != 60 || c.Seed != 2 || c.Detail != "first" || c.Verdict != "violated" {
		t.Errorf("mergeSeed(safe, bad, bad2) = seeds %d, reproduced %d, ops %d, seed %d, detail %q, verdict %s; want 3, 2, 60, 2, first, violated",
			c.Seeds, c.Reproduced, c.Ops, c.Seed, c.Detail, c.Verdict)
	}
}

// retryMissedRaces reruns each cell in which none went uncaught with six
// seeds of 2s, replaces the cell by the rerun's, and returns the cells it
// reran. A cell still uncaught after that stays as it is, so the checks
// that follow fail on it.
func retryMissedRaces(t *testing.T, cells map[string]results.VerifyCell, tgt string) map[string]bool {
	t.Helper()
	retried := map[string]bool{}
	for key, c := range cells {
		if c.Strategy != "none" || c.Verdict == "violated" || c.Scenario == "holetest" {
			continue
		}
		path := filepath.Join(t.TempDir(), "retry.json")
		args := []string{"verify", "-strategy", "none", "-scenario", c.Scenario, "-budget", "2s", "-seeds", "6",
			"-target", "dir:" + tgt, "-o", path}
		got := runCLI(t.Context(), args...)
		f, err := results.ReadFile(path)
		if err != nil || f.Verify == nil || len(f.Verify.Cells) != 1 {
			t.Errorf("retry run(%q) = %v, exit %d, file error %v; want one cell", args, got.err, got.code, err)
			continue
		}
		t.Logf("none on %s went uncaught on 2 seeds of 1s; retried on 6 seeds of 2s: %s, %d/%d seeds reproduced",
			c.Scenario, f.Verify.Cells[0].Verdict, f.Verify.Cells[0].Reproduced, f.Verify.Cells[0].Seeds)
		cells[key] = f.Verify.Cells[0]
		retried[key] = true
	}
	return retried
}

// onlyRetried reports whether every cell that fails its expectation was
// retried and now matches, so the first run's exit status owes nothing
// to any other cell.
func onlyRetried(cells map[string]results.VerifyCell, retried map[string]bool) bool {
	if len(retried) == 0 {
		return false
	}
	for key, c := range cells {
		if !matches(c) || retried[key] && c.Verdict != "violated" {
			return false
		}
	}
	return true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestVerifyChase: a baseline cell that no seed reproduced gets -chase more
// seeds, each counted, and the chase stops at the first seed that
// reproduces; -chase 0 runs the -seeds only. A budget of two operations
// with no delay injection is too short for a race nearly always, but not
// always, so a violation found by the chase is allowed when it stopped there.
func TestVerifyChase(t *testing.T) {
	for _, tc := range []struct {
		chase     string
		wantSeeds int
	}{
		{"0", 1}, // no chase: the one seed
		{"2", 3}, // the seed and two more
	} {
		path := filepath.Join(t.TempDir(), "v.json")
		args := []string{"verify", "-strategy", "none", "-scenario", "fsync-read", "-budget", "2ops", "-delay", "0", "-chase", tc.chase, "-target", "dir:" + t.TempDir(), "-o", path}
		got := runCLI(t.Context(), args...)
		f, err := results.ReadFile(path)
		if err != nil || f.Verify == nil || len(f.Verify.Cells) != 1 {
			t.Fatalf("run(%q): results %v, %v; want one cell", args, f, err)
		}
		switch c := f.Verify.Cells[0]; {
		case c.Verdict == results.Safe && (c.Seeds != tc.wantSeeds || got.code != 1):
			t.Errorf("run(%q): safe after %d seeds, exit %d; want %d seeds, exit 1 (none uncaught does not match)", args, c.Seeds, got.code, tc.wantSeeds)
		case c.Verdict != results.Safe && (c.Reproduced != 1 || c.Seeds > tc.wantSeeds || got.code != 0):
			t.Errorf("run(%q): %s on %d of %d seeds, exit %d; want the chase stopped at the first reproducing seed (1 of at most %d), exit 0", args, c.Verdict, c.Reproduced, c.Seeds, got.code, tc.wantSeeds)
		}
	}
}
