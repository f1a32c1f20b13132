package reports

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"

	"lockbench/hardware/desc"
	"lockbench/internal/benchname"
	"lockbench/results"
)

// writeBench writes f in the Go benchmark format, one line per cell x
// repetition x operation, for golang.org/x/perf/cmd/benchstat:
//
//	cpu: ...
//	Unit ops/s better=higher
//	BenchmarkLockbench/strategy=rwsem/scenario=fsync-storm/target=tmpfs/threads=2/op=write-fault 1200 833.3 ns/op 1200 ops/s ...
//
// The lines are written by golang.org/x/perf/benchfmt's Writer, which
// tracks the configuration: each result carries the full configuration it
// ran under (the machine, and the storage under its target) and the
// Writer emits the lines that changed, including "key:" to delete a key
// a target does not have. Configuration describes the machine only: never
// a timestamp, run id or seed, which would split benchstat's tables.
//
// Note: goos and goarch are not written. A results file does not record
// them, and runtime.GOOS/GOARCH would describe the machine rendering the
// file, not the one that ran it; they belong in desc.Machine.
func writeBench(w io.Writer, f *results.File) error {
	bw := benchfmt.NewWriter(w)
	// The custom units with their direction (benchname.Units, shared with
	// the root package's benchmarks), then the lock units of f (locks.go).
	// ns/op, the wall time per operation (elapsed / count, over all
	// workers: RunParallel's meaning, not a latency), is benchstat's own
	// unit and needs none.
	units := slices.Clone(benchname.Units)
	for _, u := range lockBenchUnits(f) { // locks.go
		units = append(units, benchname.Unit{Name: u, Better: "lower"})
	}
	for _, u := range units {
		m := &benchfmt.UnitMetadata{UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: u.Name, Key: "better"}, OrigUnit: u.Name, Value: u.Better}
		if err := bw.Write(m); err != nil {
			return err
		}
	}
	machine := machineConfig(f.Machine)
	sums := Summarize(f)
	var res benchfmt.Result
	for ci, c := range f.Cells {
		res.Config = res.Config[:0]
		for _, kv := range slices.Concat(machine, targetConfig(c.Config.TargetInfo)) {
			if kv[1] != "" { // a key left out is deleted for the lines below
				res.Config = append(res.Config, benchfmt.Config{Key: kv[0], Value: []byte(kv[1]), File: true})
			}
		}
		name := benchName(c.Config)
		for _, r := range c.Reps {
			for _, o := range r.Ops {
				res.Name = benchfmt.Name(name + "/" + benchname.Join("op", o.Op))
				res.Iters = int(o.Count)
				res.Values = benchValues(res.Values[:0], o)
				res.Values = kernelBenchValues(res.Values, &sums[ci], &r, o)
				if err := bw.Write(&res); err != nil {
					return err
				}
			}
			for _, lr := range lockBenchResults(nil, name, &r) {
				lr.Config = res.Config
				if err := bw.Write(&lr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// machineConfig is the machine as benchmark configuration lines.
func machineConfig(m desc.Machine) [][2]string {
	var kv [][2]string
	add := func(k, v string) {
		if v = oneLine(v); v != "" {
			kv = append(kv, [2]string{k, v})
		}
	}
	add("cpu", m.CPUModel)
	if m.LogicalCPUs > 0 {
		// Logical CPUs, not cores: with SMT they differ, and a later
		// "cores:" line can say how many physical cores there are.
		add("logical-cpus", strconv.Itoa(m.LogicalCPUs))
	}
	add("kernel", m.Kernel)
	add("machine", m.Fingerprint)
	return kv
}

// targetConfig describes the storage under a target as configuration
// lines; an empty value means the target has no such property.
func targetConfig(t desc.Target) [][2]string {
	var dev []string
	for _, s := range []string{t.Device, t.DeviceKind, t.Model} {
		if s != "" {
			dev = append(dev, s)
		}
	}
	return [][2]string{
		{"target-fs", oneLine(t.FSType)},
		{"target-device", oneLine(strings.Join(dev, " "))},
	}
}

// oneLine makes v safe as a configuration value: one line, trimmed.
func oneLine(v string) string {
	return strings.TrimSpace(strings.Join(strings.Fields(v), " "))
}

// benchName is the benchmark name of a cell without the "Benchmark"
// prefix and the op: key=value parts that benchstat can slice by
// (-row .name, -col /strategy), built by the repository's one name
// builder. Pin and options appear only when set.
func benchName(c results.Config) string {
	kv := []string{
		"strategy", StrategyLabel(c),
		"scenario", c.Scenario,
		"target", c.Target,
		"threads", strconv.Itoa(c.Threads),
	}
	if c.Pin != "" {
		kv = append(kv, "pin", c.Pin)
	}
	if c.Options != "" {
		kv = append(kv, "options", c.Options)
	}
	return "Lockbench/" + benchname.Join(kv...)
}

// benchValues appends the measurements of one operation in one
// repetition. Units without a measurement (no timed operation, zero
// throughput) are left out rather than written as 0. Values are rounded
// to three decimals so that the output is short and the same everywhere.
func benchValues(vs []benchfmt.Value, o results.OpStats) []benchfmt.Value {
	add := func(v float64, unit string) {
		vs = append(vs, benchfmt.Value{Value: math.Round(v*1000) / 1000, Unit: unit})
	}
	if o.PerSecond > 0 {
		add(1e9/o.PerSecond, "ns/op")
	}
	add(o.PerSecond, "ops/s")
	if o.Latency.Samples > 0 {
		add(float64(o.Latency.P50), "p50-ns/op")
		add(float64(o.Latency.P99), "p99-ns/op")
		add(float64(o.Latency.P999), "p99.9-ns/op")
		add(float64(o.Latency.Max), "max-ns/op")
	}
	return vs
}
