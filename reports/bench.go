package reports

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"lockbench/hardware"
	"lockbench/results"
)

// benchUnits are the custom units of the bench format with the direction
// benchstat should read them in, written as "Unit" metadata lines
// (golang.org/x/perf/benchfmt: `Unit <unit> better=lower`). ns/op, the wall
// time per operation (elapsed / count, over all workers: RunParallel's
// meaning, not a latency), is benchstat's own unit and needs none.
var benchUnits = []struct{ unit, better string }{
	{"ops/s", "higher"},
	{"p50-ns/op", "lower"},
	{"p99-ns/op", "lower"},
	{"p99.9-ns/op", "lower"},
	{"max-ns/op", "lower"},
}

// writeBench writes f in the Go benchmark format, one line per cell x
// repetition x operation, for golang.org/x/perf/cmd/benchstat:
//
//	cpu: ...
//	Unit ops/s better=higher
//	BenchmarkLockbench/strategy=rwsem/scenario=fsync-storm/target=tmpfs/threads=2/op=write-fault 1200 833.3 ns/op 1200 ops/s ...
//
// Configuration lines describe the machine only (and the storage under
// each target, which changes with the target): never a timestamp, run id
// or seed, which would split benchstat's tables.
//
// Note: goos and goarch are not written. A results file does not record
// them, and runtime.GOOS/GOARCH would describe the machine rendering the
// file, not the one that ran it; they belong in hardware.Machine.
func writeBench(w io.Writer, f *results.File) error {
	ew := &errWriter{w: w}
	for _, kv := range machineConfig(f.Machine) {
		ew.printf("%s: %s\n", kv[0], kv[1])
	}
	for _, u := range benchUnits {
		ew.printf("Unit %s better=%s\n", u.unit, u.better)
	}
	current := map[string]string{}
	for _, c := range f.Cells {
		for _, kv := range targetConfig(c.Config.TargetInfo) {
			if current[kv[0]] != kv[1] {
				current[kv[0]] = kv[1]
				// An empty value deletes the key for the lines below.
				ew.printf("%s: %s\n", kv[0], kv[1])
			}
		}
		name := benchName(c.Config)
		for _, r := range c.Reps {
			for _, o := range r.Ops {
				ew.printf("%s/op=%s %d%s\n", name, benchValue(o.Op), o.Count, benchValues(o))
			}
		}
	}
	return ew.err
}

// machineConfig is the machine as benchmark configuration lines.
func machineConfig(m hardware.Machine) [][2]string {
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
// lines; every key is always present so an empty value clears it.
func targetConfig(t hardware.Target) [][2]string {
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

// benchName is the benchmark name of a cell, without the op: key=value
// parts that benchstat can slice by (-row .name, -col /strategy). Pin and
// options appear only when set.
func benchName(c results.Config) string {
	var b strings.Builder
	b.WriteString("BenchmarkLockbench")
	part := func(k, v string) { fmt.Fprintf(&b, "/%s=%s", k, benchValue(v)) }
	part("strategy", c.Strategy)
	part("scenario", c.Scenario)
	part("target", c.Target)
	part("threads", strconv.Itoa(c.Threads))
	if c.Pin != "" {
		part("pin", c.Pin)
	}
	if c.Options != "" {
		part("options", c.Options)
	}
	return b.String()
}

// benchValue is the one sanitiser of benchmark name values. A value may not
// hold "/" (it separates parts), "=" (it separates a key from its value) or
// white space (it ends the name), and must not end in "-<digits>", which
// benchstat reads as a GOMAXPROCS suffix; those become "_". An empty value
// is "unset".
func benchValue(v string) string {
	if v == "" {
		return "unset"
	}
	b := []byte(v)
	for i, c := range b {
		if c == '/' || c == '=' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			b[i] = '_'
		}
	}
	// "-<digits>" at the end: turn its '-' into '_'.
	i := len(b)
	for i > 0 && b[i-1] >= '0' && b[i-1] <= '9' {
		i--
	}
	if i < len(b) && i > 0 && b[i-1] == '-' {
		b[i-1] = '_'
	}
	return string(b)
}

// benchValues formats the measurements of one operation in one repetition:
// each " <value> <unit>". Units without a measurement (no timed operation,
// zero throughput) are left out rather than written as 0.
func benchValues(o results.OpStats) string {
	var b strings.Builder
	if o.PerSecond > 0 {
		fmt.Fprintf(&b, " %s ns/op", decimal3(1e9/o.PerSecond))
	}
	fmt.Fprintf(&b, " %s ops/s", decimal3(o.PerSecond))
	if o.Latency.Samples > 0 {
		fmt.Fprintf(&b, " %d p50-ns/op %d p99-ns/op %d p99.9-ns/op %d max-ns/op",
			int64(o.Latency.P50), int64(o.Latency.P99), int64(o.Latency.P999), int64(o.Latency.Max))
	}
	return b.String()
}

// decimal3 formats v with at most three decimals and no trailing zeros,
// so values are short and identical on every platform.
func decimal3(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return s
}
