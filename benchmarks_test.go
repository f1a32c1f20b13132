// Benchmarks of lockbench, named key=value for benchstat (the names are
// built by internal/benchname, the repository's one name builder):
//
//	go test -run '^$' -bench . -benchmem -count 6 . | tee new.txt
//	benchstat -col /strategy new.txt
//
// BenchmarkHotpath runs the scenarios through the CLI's runner,
// BenchmarkPrimitive the lock primitives against their peers,
// BenchmarkWriteFault and BenchmarkStore single operations of the model.
// -short (without -benchtime) runs every benchmark once, as -benchtime 1x
// does: a smoke run of the whole suite. README "Comparing with benchstat"
// has the commands to compare two commits or two machines.
package lockbench_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/hotpath/clock"
	"lockbench/internal/benchname"
	"lockbench/results"
	"lockbench/strategies"
	"lockbench/strategies/locks/primbench"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		// -short is a smoke run: every benchmark once, unless -benchtime
		// says otherwise.
		benchtime := false
		flag.Visit(func(f *flag.Flag) { benchtime = benchtime || f.Name == "test.benchtime" })
		if testing.Short() && !benchtime {
			if err := flag.Set("test.benchtime", "1x"); err != nil {
				fmt.Fprintln(os.Stderr, "setting -test.benchtime for -short:", err)
				os.Exit(2)
			}
		}
		for _, u := range benchname.Units {
			fmt.Printf("Unit %s better=%s\n", u.Name, u.Better)
		}
	}
	os.Exit(m.Run())
}

// hotpathScenarios are the scenarios BenchmarkHotpath runs, each with its
// key role: the foreground role whose throughput (ops/s, all operations of
// its loop) and latency (p50/p99/p99.9 of op) the benchmark reports.
//
//	scenario     key role  ops counted   latency of  why
//	fault-scale  faulter   store, load   store       fault cost and scaling: the only role
//	fsync-storm  faulter   store, load   store       fsync's serialisation stalls write faults (R5)
//	fsync-read   reader    read          read        rangelock's fsync stalls cache-missing reads, rwsem's does not
//	fsync-read-xfs reader  read          read        the same with XFS's read() under IO(S): fsync stalls every read
//	punch        faulter   store, load   load        punch stalls faults and page fills (R2)
//	write-fail   writer    write         write       the failed write and its cleanup (R1)
//	stale-map    writer    write         write       write()'s cached mapping and its revalidation (R3)
//	inline       faulter   store, load   store       inline conversion in page_mkwrite, retries (R4)
//	mixed        faulter   store, load   store       everything at once
//
// punch-naive is left out: it differs from punch only for strategy none
// (the naive fault-around that reproduces R2), so as a cost it measures
// nothing punch does not.
var hotpathScenarios = []struct {
	name    string
	role    hotpath.Role
	latency string // the operation kind whose latency is reported
}{
	{"fault-scale", hotpath.RoleFaulter, "store"},
	{"fsync-storm", hotpath.RoleFaulter, "store"},
	{"fsync-read", hotpath.RoleReader, "read"},
	{"fsync-read-xfs", hotpath.RoleReader, "read"},
	{"punch", hotpath.RoleFaulter, "load"},
	{"write-fail", hotpath.RoleWriter, "write"},
	{"stale-map", hotpath.RoleWriter, "write"},
	{"inline", hotpath.RoleFaulter, "store"},
	{"mixed", hotpath.RoleFaulter, "store"},
}

// roleOps are the operation kinds each foreground role's loop counts.
var roleOps = map[hotpath.Role][]string{
	hotpath.RoleFaulter: {"store", "load"},
	hotpath.RoleWriter:  {"write"},
	hotpath.RoleReader:  {"read"},
}

// hotpathThreads are the foreground thread counts: one, and one per core
// of the 2-core machine this suite is tuned on.
var hotpathThreads = []int{1, 2}

// benchTarget is a prepared target: its name in benchmark names and its
// directory.
type benchTarget struct {
	name, dir string
}

// hotpathTargets prepares tmpfs and the temporary directory the way the
// CLI's -target tmpfs,dir:$TMPDIR does (hardware.Prepare); tmpdir is a
// directory of b's under os.TempDir(), removed when b ends.
func hotpathTargets(b *testing.B) []benchTarget {
	var out []benchTarget
	for _, ts := range []struct {
		name string
		spec hardware.TargetSpec
	}{
		{"tmpfs", hardware.TargetSpec{Kind: "tmpfs"}},
		{"tmpdir", hardware.TargetSpec{Kind: "dir", Path: b.TempDir()}},
	} {
		t, cleanup, err := hardware.Prepare(context.Background(), ts.spec)
		if err != nil {
			b.Fatalf("target %s: %v", ts.name, err)
		}
		b.Cleanup(func() {
			if err := cleanup(); err != nil {
				b.Errorf("target %s: cleanup: %v", ts.name, err)
			}
		})
		out = append(out, benchTarget{ts.name, t.Path})
	}
	return out
}

// BenchmarkHotpath runs each scenario under each strategy through
// hotpath.Run, the runner the CLI's `lockbench run` calls, on tmpfs and on
// the temporary directory, at 1 and 2 foreground threads. strategy=kernel
// is the kernel engine (the real system calls on the real file), as
// `-strategy kernel` runs it; it has no cell for the scenarios the CLI
// refuses for it (hotpath.KernelRefusal: inline).
//
// One b.N is one foreground operation: the run's op budget (the CLI's
// -ops) is b.N, split evenly over the foreground workers (at least one
// each: a b.N below their number is raised to it, as -benchtime 1x asks); background roles (fsync, puncher, flusher, reclaimer, inliner,
// truncater) run at their scenario's pace until the foreground workers are
// done. ns/op is therefore wall time per foreground operation (the inverse
// of their aggregate throughput, not a latency). The timer covers only the
// measured section (hotpath.Config.OnStart/OnStop): opening the inode,
// making workers and merging results are outside it, so allocs/op counts
// what the workers allocate while they run (a bounded number per run,
// never per operation: hotpath's TestRunMeasuredSectionAllocs).
//
// Metrics, for the scenario's key role (hotpathScenarios):
//
//	ops/s           the key role's operations per second of the run
//	p50/p99/p99.9-ns/op  latency of its key operation (stores and loads are
//	                timed on a seeded 1-in-64 sample, other kinds every time;
//	                0 when b.N is too small for any sample)
//	faults/op       modelled faults (read and write) per b.N; for kernel
//	                the foreground threads' minor+major faults (getrusage)
//	retries/op      VM_FAULT_RETRY retries per b.N (faultretry)
//	stale/op        stale cached mappings found per b.N (seqcount)
//	violations/op   invariant violations per b.N: the race oracle is off,
//	                as in a cost run, so 0 for every strategy
func BenchmarkHotpath(b *testing.B) {
	clk, err := clock.New(clock.Auto)
	if err != nil {
		b.Fatal(err)
	}
	targets := hotpathTargets(b)
	for _, sn := range hotpath.StrategyNames() {
		kernel := sn == hotpath.KernelName
		for _, hs := range hotpathScenarios {
			sc, err := hotpath.LookupScenario(hs.name)
			if err != nil {
				b.Fatal(err)
			}
			if kernel && hotpath.KernelRefusal(sc) != nil {
				continue // no real counterpart (inline); the CLI refuses it too
			}
			for _, tgt := range targets {
				for _, th := range hotpathThreads {
					name := benchname.Join("strategy", sn, "scenario", sc.Name, "target", tgt.name, "threads", strconv.Itoa(th))
					b.Run(name, func(b *testing.B) {
						cfg := hotpath.Config{
							Scenario: sc, Threads: th, OpLimit: int64(max(b.N, sc.ForegroundWorkers(th))), Seed: 1,
							Dir: tgt.dir, Clock: clk, Direct: true, Engine: hotpath.EngineOf(sn),
							OnStart: b.StartTimer, OnStop: b.StopTimer,
						}
						if !kernel {
							if cfg.Strategy, err = strategies.New(sn, strategies.Options{}); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportAllocs()
						b.StopTimer()
						b.ResetTimer()
						rep, err := hotpath.Run(context.Background(), cfg)
						if err != nil {
							b.Fatal(err)
						}
						reportHotpath(b, &rep, hs.role, hs.latency)
					})
				}
			}
		}
	}
}

// isForeground reports whether role (a results.Worker's Role) is a
// foreground role, scaled by threads.
func isForeground(role string) bool {
	for r := range roleOps {
		if r.String() == role {
			return true
		}
	}
	return false
}

// reportHotpath reports rep's metrics for the key role and operation.
func reportHotpath(b *testing.B, rep *results.Rep, role hotpath.Role, latency string) {
	var ops int64
	var lat results.Latency
	found := false
	for _, o := range rep.Ops {
		if !strings.Contains(","+o.Role+",", ","+role.String()+",") {
			continue
		}
		for _, k := range roleOps[role] {
			if o.Op == k {
				ops += o.Count
			}
		}
		if o.Op == latency {
			lat, found = o.Latency, true
		}
	}
	if ops == 0 || !found {
		b.Fatalf("the run has no %s operations of the key role %s (ops: %+v)", latency, role, rep.Ops)
	}
	faults := rep.Counters.Faults
	for _, w := range rep.Workers {
		if w.Usage != nil && isForeground(w.Role) { // a kernel cell: the kernel's own count
			faults += w.Usage.MinorFaults + w.Usage.MajorFaults
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(ops)/rep.Elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(lat.P50), "p50-ns/op")
	b.ReportMetric(float64(lat.P99), "p99-ns/op")
	b.ReportMetric(float64(lat.P999), "p99.9-ns/op")
	b.ReportMetric(float64(faults)/n, "faults/op")
	b.ReportMetric(float64(rep.Counters.Retries)/n, "retries/op")
	b.ReportMetric(float64(rep.Counters.StaleMaps)/n, "stale/op")
	b.ReportMetric(float64(rep.ViolationsTotal)/n, "violations/op")
}

func tmpfsDir(b *testing.B) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return b.TempDir()
}

// BenchmarkWriteFault is the modelled write fault (page_mkwrite) on a cached
// page, 1 thread, on tmpfs: the cost each strategy adds to the fault path,
// with the oracle off and on, and with the lock accounting absent (a fault
// path compiled with no accounting code, the baseline), off (the default:
// contentions and waits only, on the slow paths) and on (-locks: every
// acquisition counted, every exclusive hold timed, which for the write
// fault is F's). off against absent is what the accounting costs when it
// is not asked for:
//
//	go test -run '^$' -bench 'WriteFault' -count 8 . | tee locks.txt
//	benchstat -col /locks locks.txt
func BenchmarkWriteFault(b *testing.B) {
	for _, oracle := range []bool{false, true} {
		for _, name := range strategies.Names() {
			for _, locks := range hotpath.LockLevels {
				b.Run(benchname.Join("strategy", name, "target", "tmpfs", "oracle", fmt.Sprint(oracle), "locks", locks, "threads", "1"), func(b *testing.B) {
					st, err := strategies.New(name, strategies.Options{})
					if err != nil {
						b.Fatal(err)
					}
					bn, err := hotpath.NewBench(st, tmpfsDir(b), 16, oracle)
					if err != nil {
						b.Fatal(err)
					}
					defer bn.Close()
					if err := bn.Locks(locks); err != nil {
						b.Fatal(err)
					}
					if err := bn.CacheWritable(3); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					// min-batch-ns/op is the fastest batch of faultBatch
					// faults: on a loaded machine, preemption only adds
					// to a batch, so the minimum keeps the path's own cost
					// where ns/op (the mean) takes the load's.
					best := math.Inf(1)
					for i := 0; i < b.N; {
						n := min(faultBatch, b.N-i)
						t0 := time.Now()
						for range n {
							if err := bn.WriteFault(3); err != nil {
								b.Fatal(err)
							}
						}
						if n == faultBatch {
							best = min(best, float64(time.Since(t0).Nanoseconds())/faultBatch)
						}
						i += n
					}
					if !math.IsInf(best, 1) {
						b.ReportMetric(best, "min-batch-ns/op")
					}
				})
			}
		}
	}
}

// faultBatch is BenchmarkWriteFault's batch for min-batch-ns/op.
const faultBatch = 256

// BenchmarkStore is a store through a writable mapping: no fault, the
// PTE check and the stores-in-flight count only.
func BenchmarkStore(b *testing.B) {
	st, _ := strategies.New("none", strategies.Options{})
	bn, err := hotpath.NewBench(st, tmpfsDir(b), 16, false)
	if err != nil {
		b.Fatal(err)
	}
	defer bn.Close()
	if err := bn.CacheWritable(3); err != nil {
		b.Fatal(err)
	}
	b.Run(benchname.Join("op", "store", "harness", "bare", "target", "tmpfs", "threads", "1"), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := bn.Store(3); err != nil {
				b.Fatal(err)
			}
		}
	})
	// harness=loop is the runner's loop around the store (progress and
	// time-series tick every 64 operations) without counting; counted adds
	// the per-worker counter (counting overhead = counted/loop); timed adds
	// the seeded 1-in-64 latency sample. All on the cheapest operation the
	// runner runs.
	b.Run(benchname.Join("op", "store", "harness", "loop", "target", "tmpfs", "threads", "1"), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := bn.StoreLoop(3, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, timed := range []bool{false, true} {
		h := "counted"
		if timed {
			h = "timed"
		}
		b.Run(benchname.Join("op", "store", "harness", h, "target", "tmpfs", "threads", "1"), func(b *testing.B) {
			bn.SetTimed(timed)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := bn.StoreCounted(3, int64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoop is the runner's faulter loop (hotpath's foregroundLoop over
// the model's operations) with fault-scale's mix of stores, loads and zaps,
// on one thread: BenchmarkHotpath's per-operation path without its start,
// merge and background roles. min-batch-ns/op is the fastest batch of
// faultBatch operations (see BenchmarkWriteFault).
func BenchmarkLoop(b *testing.B) {
	sc, err := hotpath.LookupScenario("fault-scale")
	if err != nil {
		b.Fatal(err)
	}
	st, _ := strategies.New("rwsem", strategies.Options{})
	bn, err := hotpath.NewBench(st, tmpfsDir(b), 16, false)
	if err != nil {
		b.Fatal(err)
	}
	defer bn.Close()
	b.Run(benchname.Join("scenario", sc.Name, "strategy", "rwsem", "target", "tmpfs", "threads", "1"), func(b *testing.B) {
		b.ReportAllocs()
		best := math.Inf(1)
		for i := 0; i < b.N; {
			n := min(faultBatch, b.N-i)
			t0 := time.Now()
			if err := bn.Loop(&sc, int64(n)); err != nil {
				b.Fatal(err)
			}
			if n == faultBatch {
				best = min(best, float64(time.Since(t0).Nanoseconds())/faultBatch)
			}
			i += n
		}
		if !math.IsInf(best, 1) {
			b.ReportMetric(best, "min-batch-ns/op")
		}
	})
}

// BenchmarkPrimitive is the lock primitives against their peers
// (strategies/locks/primbench, the one implementation, which package locks
// runs too).
func BenchmarkPrimitive(b *testing.B) { primbench.Run(b) }

// hotpathLeftOut are the scenarios BenchmarkHotpath does not run, each
// with the reason (see hotpathScenarios).
var hotpathLeftOut = map[string]string{
	"punch-naive": "differs from punch only for none: a race reproducer, not a cost",
	"fsync-write": "fsync-storm without its puncher, the study's isolation of fsync; fsync-storm's benchmark covers its roles",
}

// TestHotpathScenarios keeps the key-role table true: every scenario is
// benchmarked or left out with a reason, and each benchmarked one has its
// key role among its foreground roles and its latency op among the ops
// that role counts.
func TestHotpathScenarios(t *testing.T) {
	listed := map[string]bool{}
	for _, hs := range hotpathScenarios {
		listed[hs.name] = true
		sc, err := hotpath.LookupScenario(hs.name)
		if err != nil {
			t.Errorf("hotpathScenarios: %v", err)
			continue
		}
		if !slices.ContainsFunc(sc.Roles, func(r hotpath.RoleSpec) bool { return r.Role == hs.role }) {
			t.Errorf("scenario %s: key role %s is not one of its roles", hs.name, hs.role)
		}
		if !slices.Contains(roleOps[hs.role], hs.latency) {
			t.Errorf("scenario %s: latency op %q is not an op of role %s (%q)", hs.name, hs.latency, hs.role, roleOps[hs.role])
		}
		if _, out := hotpathLeftOut[hs.name]; out {
			t.Errorf("scenario %s is both benchmarked and left out", hs.name)
		}
	}
	for _, name := range hotpath.ScenarioNames() {
		if _, out := hotpathLeftOut[name]; !listed[name] && !out {
			t.Errorf("scenario %s is neither in hotpathScenarios nor in hotpathLeftOut: add it to one (with its key role, or a reason)", name)
		}
	}
}
