package reports

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"lockbench/hardware/desc"
	"lockbench/results"
)

// Synthetic studies: repetitions drawn from a log-normal with a 3% spread
// (a quiet machine's spread of a p99.9 over 200ms repetitions is wider;
// the sequential repetitions of the study narrow it), 6 repetitions a
// side, 60 comparisons a study, adjusted together as Findings does.

const (
	synthStudies     = 100
	synthComparisons = 60
	synthReps        = 6
	synthSpread      = 0.03
)

func lognormal(rng *rand.Rand, n int, centre float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = centre * math.Exp(synthSpread*rng.NormFloat64())
	}
	return xs
}

// synthStudy judges 60 comparisons, the first planted of them with new
// 10% above base, and returns how many planted and how many null ones it
// stated as differences.
func synthStudy(rng *rand.Rand, planted int) (found, falseFound int) {
	js := make([]Judgement, synthComparisons)
	ps := make([]float64, synthComparisons)
	for i := range js {
		shift := 1.0
		if i < planted {
			shift = 1.10
		}
		base := Describe(lognormal(rng, synthReps, 1000))
		new := Describe(lognormal(rng, synthReps, 1000*shift))
		js[i] = Judge(base, new, 20)
		ps[i] = js[i].P
	}
	for i, padj := range AdjustBH(ps) {
		if js[i].Adjust(padj).Verdict != Different {
			continue
		}
		if i < planted {
			found++
		} else {
			falseFound++
		}
	}
	return found, falseFound
}

// TestSyntheticNulls: over 100 studies of 60 planted nulls, at most 5% of
// the comparisons are stated as differences.
func TestSyntheticNulls(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	falses := 0
	for range synthStudies {
		_, f := synthStudy(rng, 0)
		falses += f
	}
	share := float64(falses) / (synthStudies * synthComparisons)
	t.Logf("planted nulls: %d of %d comparisons stated as differences (%.2f%%)", falses, synthStudies*synthComparisons, 100*share)
	if share > 0.05 {
		t.Errorf("false differences %.2f%% of null comparisons; want at most 5%%", 100*share)
	}
}

// TestSyntheticEffects: planted 10% effects (half of each study's 60
// comparisons) are found in at least 95%, and the false differences among
// the other half stay at or below 5% of the differences stated.
func TestSyntheticEffects(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const planted = synthComparisons / 2
	found, falses := 0, 0
	for range synthStudies {
		f, ff := synthStudy(rng, planted)
		found, falses = found+f, falses+ff
	}
	power := float64(found) / (synthStudies * planted)
	fdr := float64(falses) / math.Max(1, float64(found+falses))
	t.Logf("planted 10%% effects: %.1f%% found; %.2f%% of stated differences false", 100*power, 100*fdr)
	if power < 0.95 {
		t.Errorf("found %.1f%% of planted 10%% effects; want at least 95%%", 100*power)
	}
	if fdr > 0.05 {
		t.Errorf("false discoveries %.2f%% of the stated; want at most 5%%", 100*fdr)
	}
}

// syntheticFile is a study file with every question's cells on two
// targets: a share of the model strategies' cells carry planted effects
// (x1.5 latency, x0.7 throughput), the rest are drawn like the baseline.
// machine names the machine ("" for the fixture's).
func syntheticFile(rng *rand.Rand, reps int, share float64, machine string) *results.File {
	m := fixtureMachine
	if machine != "" {
		m.Hostname, m.Fingerprint = machine, "fp-"+machine
	}
	f := &results.File{
		Schema: results.SchemaVersion, Tool: "lockbench", Command: "lockbench",
		Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Machine: m,
	}
	targets := []desc.Target{
		{Spec: "tmpfs", Path: "/dev/shm/lockbench", FSType: "tmpfs"},
		{Spec: "dir:/tmp", Path: "/tmp", FSType: "ext4", Device: "/dev/vda"},
	}
	strategies := []string{"none", "kernel", "rangelock", "rwsem", "seqcount", "faultretry"}
	parts := []struct {
		scenario string
		threads  int
	}{{"fault-scale", 1}, {"fault-scale", 2}, {"fsync-write", 2}, {"punch", 2}, {"write-fail", 2}}
	for _, tgt := range targets {
		for _, p := range parts {
			for _, s := range strategies {
				effect := s != "none" && s != "kernel" && rng.Float64() < share
				f.Cells = append(f.Cells, synthCell(rng, tgt, p.scenario, p.threads, s, reps, effect))
			}
		}
	}
	return f
}

func synthCell(rng *rand.Rand, tgt desc.Target, scenario string, threads int, strategy string, reps int, effect bool) results.Cell {
	cfg := results.Config{
		Strategy: strategy, Scenario: scenario, Threads: threads, Target: tgt.Spec, TargetInfo: tgt,
		Pin: "none", Seed: 1, FileSize: 1 << 20, PageSize: 4096, Duration: 200 * time.Millisecond, Reps: reps,
	}
	lat, rate := 1.0, 1.0
	if effect {
		lat, rate = 1.5, 0.7
	}
	if strategy == "kernel" {
		lat, rate = 20, 0.2
	}
	cell := results.Cell{Config: cfg}
	for r := 0; r < reps; r++ {
		n := func(v float64) float64 { return v * math.Exp(synthSpread*rng.NormFloat64()) }
		op := func(name, role string, perSecond, p999 float64) results.OpStats {
			d := time.Duration(p999)
			return results.OpStats{Op: name, Role: role, Count: int64(perSecond / 5), PerSecond: perSecond, SampleEvery: 1,
				Latency: results.Latency{Samples: 1000, Mean: d / 20, P50: d / 30, P90: d / 10, P99: d / 3, P999: d, Max: 3 * d}}
		}
		rep := results.Rep{Index: r, Elapsed: cfg.Duration, TimerFloor: 20, Ops: []results.OpStats{
			op("store", "faulter", n(4e6*rate), n(30000*lat)),
			op("load", "faulter", n(8e6*rate), n(20000*lat)),
			op("write-fault", "faulter", n(5e5*rate), n(90000*lat)),
			op("read-fault", "faulter", n(2e5*rate), n(60000*lat)),
		}}
		var ws []results.Window
		for w := 0; w < 50; w++ {
			stores := int64(100)
			if effect && w%4 == 0 || rng.Float64() < 0.05 {
				stores = 0
			}
			ws = append(ws, results.Window{Start: time.Duration(w) * time.Millisecond,
				Ops: map[string]int64{"store": stores}})
		}
		rep.Series = results.NewSeries(time.Millisecond, ws)
		cell.Reps = append(cell.Reps, rep)
	}
	return cell
}

// TestSyntheticFileFindings: the planted cells of a synthetic file are
// found through the whole pipeline (Summarize, Findings), and no finding
// of an unplanted comparison with the baseline states a difference.
func TestSyntheticFileFindings(t *testing.T) {
	f := syntheticFile(rand.New(rand.NewPCG(5, 6)), 6, 0.5, "")
	planted := map[string]bool{}
	for _, c := range f.Cells {
		// Planted cells are the ones drawn 1.5x slower: compare with none's.
		if c.Config.Strategy != "none" && c.Config.Strategy != "kernel" && c.Reps[0].Ops[2].Latency.P999 > 120000 {
			planted[fmt.Sprint(c.Config.Target, c.Config.Scenario, c.Config.Threads, c.Config.Strategy)] = true
		}
	}
	fs := Findings(f)
	for _, x := range fs {
		if x.Versus != Baseline || x.Measure != "p99.9(write-fault)" {
			continue
		}
		want := planted[fmt.Sprint(x.Target, x.Scenario, x.Threads, x.Strategy)]
		if x.Significant != want {
			t.Errorf("%s: %s; planted %v", x.ID, x.Verdict, want)
		}
	}
}
