package reports

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"lockbench/hardware/desc"
	"lockbench/results"
)

// studyFixture is a synthetic default study: five strategies on
// fault-scale at 1 and 2 threads and fsync-storm at 2, on tmpfs and ext4,
// six repetitions each, with HDR histograms, 1ms time series and
// exclusive operations. Its effects are planted so the findings are known:
// on fsync-storm rangelock's write-fault p99 is about 10x the others'
// (fsync stalls it), on fault-scale its write fault costs about 30% more
// than none's, and the other strategies differ from none by nothing but
// ±4% noise. Values come from a seeded generator: the same every run.
func studyFixture() *results.File { return studyFixtureOnce() }

// studyFixtureOnce builds the fixture once per test binary: encoding its
// histograms takes a while, and no test changes it.
var studyFixtureOnce = sync.OnceValue(buildStudyFixture)

func buildStudyFixture() *results.File {
	rng := rand.New(rand.NewPCG(7, 11))
	f := &results.File{
		Schema: results.SchemaVersion, Tool: "lockbench", Command: "lockbench",
		Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Machine: fixtureMachine,
		Version: "v0.0.0 0123456789ab",
	}
	targets := []desc.Target{
		{Spec: "tmpfs", Path: "/dev/shm/lockbench", FSType: "tmpfs"},
		{Spec: "dir:/tmp", Path: "/tmp", FSType: "ext4", Device: "/dev/vda", DeviceKind: "virtio"},
	}
	strategies := []string{"none", "kernel", "rangelock", "rwsem", "seqcount", "faultretry"}
	type part struct {
		scenario string
		threads  int
	}
	for _, tgt := range targets {
		for _, p := range []part{{"fault-scale", 1}, {"fault-scale", 2}, {"fsync-storm", 2}} {
			for _, s := range strategies {
				f.Cells = append(f.Cells, studyCell(rng, tgt, p.scenario, p.threads, s))
			}
		}
	}
	f.Verify = &results.Matrix{Budget: "1s"}
	for _, s := range []string{"none", "rangelock", "rwsem", "seqcount", "faultretry"} { // the kernel has no oracle
		for _, sc := range []struct{ name, race string }{{"fsync-storm", "R5"}, {"write-fail", "R1"}, {"stale-map", "R3"}} {
			expect, verdict := results.Safe, results.Safe
			if s == "none" || sc.race == "R3" && (s == "rwsem" || s == "faultretry") {
				expect, verdict = results.Violated, results.Violated
			}
			c := results.VerifyCell{Strategy: s, Scenario: sc.name, Race: sc.race, Expect: expect, Verdict: verdict,
				Ops: 1_000_000, Seed: 1, Seeds: 1, Matches: true}
			if verdict == "violated" {
				c.Violations, c.FirstAt, c.Reproduced = 3, 1234, 1
			}
			f.Verify.Cells = append(f.Verify.Cells, c)
		}
	}
	return f
}

// studyCell is one cell of studyFixture.
func studyCell(rng *rand.Rand, tgt desc.Target, scenario string, threads int, strategy string) results.Cell {
	const reps = 6
	cfg := results.Config{
		Strategy: strategy, Scenario: scenario, Threads: threads, Target: tgt.Spec, TargetInfo: tgt,
		Pin: "none", Seed: 1, FileSize: 16 << 20, PageSize: 4096, Duration: 250 * time.Millisecond, Reps: reps,
	}
	if strategy == "faultretry" {
		cfg.Options = "gup-share=0,fallback=sigbus,retry-contended=false"
	}
	disk := 1.0
	if tgt.FSType != "tmpfs" {
		disk = 1.5
	}
	cell := results.Cell{Config: cfg}
	for r := 0; r < reps; r++ {
		noise := func() float64 { return 1 + 0.04*(2*rng.Float64()-1) }
		rep := results.Rep{Index: r, Elapsed: cfg.Duration, TimerFloor: 30}
		// The write fault: 100ns, rangelock +30%; on fsync-storm its
		// tail is fsync's stall, 10x longer under rangelock.
		wf := 100 * disk * noise()
		tail := 2000 * disk * noise()
		if strategy == "rangelock" {
			wf *= 1.3
			if scenario == "fsync-storm" {
				tail *= 10
			}
		}
		if strategy == "kernel" {
			// A real write fault: page_mkwrite and all, about 6µs.
			wf, tail = 60*wf, 20*tail
		}
		if scenario == "fault-scale" {
			tail = 400 * disk * noise()
		}
		rate := 4e6 * float64(threads) * noise() / disk
		if strategy == "rangelock" {
			rate *= 0.8
		}
		rep.Ops = append(rep.Ops,
			studyOp(rng, "store", "faulter", rate, 64, 40, 200),
			studyOp(rng, "write-fault", "faulter", rate/8, 1, wf, tail),
			studyOp(rng, "read-fault", "faulter", rate/20, 1, 1.5*wf, 1.5*tail),
		)
		if scenario == "fsync-storm" {
			fs := 2e6 * disk * noise()
			if strategy == "rangelock" {
				fs *= 3
			}
			rep.Ops = append(rep.Ops,
				studyOp(rng, "fsync", "fsync", 400, 1, fs, 3*fs),
				studyOp(rng, "punch", "puncher", 100, 1, fs/2, 2*fs),
			)
			if r == 0 {
				var ws []results.Window
				ws, rep.Exclusive = studySeries(strategy, rate/8)
				rep.Series = results.NewSeries(time.Millisecond, ws)
			}
		}
		cell.Reps = append(cell.Reps, rep)
	}
	return cell
}

// studyOp is one operation of a repetition of studyFixture: latencies
// around p50 with a tail reaching tail at p99, recorded in an HDR
// histogram.
func studyOp(rng *rand.Rand, op, role string, perSecond float64, sample int, p50, tail float64) results.OpStats {
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	for i := 0; i < 4000; i++ {
		v := p50 * (0.8 + 0.4*rng.Float64())
		if u := rng.Float64(); u > 0.97 {
			// The tail, log-uniform from p50 to 3x tail.
			v = p50 * math.Pow(3*tail/p50, (u-0.97)/0.03)
		}
		h.RecordValue(int64(v))
	}
	enc, _ := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	count := int64(perSecond / 4)
	return results.OpStats{
		Op: op, Role: role, Count: count, PerSecond: perSecond, SampleEvery: sample,
		Latency: results.Latency{
			Samples: h.TotalCount(), Mean: time.Duration(h.Mean()),
			P50: time.Duration(h.ValueAtQuantile(50)), P90: time.Duration(h.ValueAtQuantile(90)),
			P99: time.Duration(h.ValueAtQuantile(99)), P999: time.Duration(h.ValueAtQuantile(99.9)),
			Max: time.Duration(h.Max()),
		},
		Hist: string(enc),
	}
}

// studySeries is 250 windows of 1ms with an fsync every 10ms (3ms long,
// 8ms under rangelock, which stops write faults meanwhile) and a punch
// every 25ms.
func studySeries(strategy string, faultsPerSecond float64) ([]results.Window, []results.Event) {
	const ms = time.Millisecond
	long := 3 * ms
	if strategy == "rangelock" {
		long = 8 * ms
	}
	var evs []results.Event
	for t := 2 * ms; t < 250*ms; t += 10 * ms {
		evs = append(evs, results.Event{Op: "fsync", Start: t, End: t + long})
	}
	for t := 5 * ms; t < 250*ms; t += 25 * ms {
		evs = append(evs, results.Event{Op: "punch", Start: t, End: t + ms/2})
	}
	var wins []results.Window
	perWindow := int64(faultsPerSecond / 1000)
	for i := 0; i < 250; i++ {
		start := time.Duration(i) * ms
		n, p99 := perWindow, int64(128)
		for _, e := range evs {
			if e.Op == "fsync" && start >= e.Start && start < e.End {
				if strategy == "rangelock" {
					n, p99 = 0, 0
				} else {
					p99 = 512
				}
			}
			if e.Op == "fsync" && strategy == "rangelock" && start == e.End.Truncate(ms) {
				p99 = 8 << 20 // the stalled faults complete
			}
		}
		w := results.Window{Start: start, Ops: map[string]int64{"write-fault": n, "store": 8 * perWindow}, P99: map[string]int64{}}
		if p99 > 0 {
			w.P99["write-fault"] = p99
		}
		wins = append(wins, w)
	}
	return wins, evs
}
