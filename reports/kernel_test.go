package reports

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"lockbench/results"
)

// kernelFixture is the golden fixture plus a kernel cell of the same
// scenario, threads and target: its write fault costs 178µs on average,
// its faulter threads faulted 50 times and blocked 10 times in 1000 ops.
func kernelFixture() *results.File {
	f := fixture()
	cfg := f.Cells[0].Config
	cfg.Strategy, cfg.Oracle = Kernel, false // the kernel never runs the oracle
	cfg.TargetInfo.FSType = "btrfs"
	var reps []results.Rep
	for i := range 3 {
		reps = append(reps, results.Rep{Index: i, Elapsed: 2 * time.Second,
			Ops: []results.OpStats{{Op: "write-fault", Role: "faulter", Count: 1000, PerSecond: 500, SampleEvery: 1,
				Latency: results.Latency{Samples: 1000, Mean: 178 * time.Microsecond, P50: 100 * time.Microsecond, P99: time.Millisecond, Max: time.Millisecond}}},
			Workers: []results.Worker{
				{ID: 0, Role: "faulter", CPU: -1, Ops: 600, Usage: &results.ThreadUsage{MinorFaults: 28, MajorFaults: 2, Voluntary: 6}},
				{ID: 1, Role: "faulter", CPU: -1, Ops: 400, Usage: &results.ThreadUsage{MinorFaults: 20, Voluntary: 4}},
				{ID: 2, Role: "fsync", CPU: -1, Ops: 10, Usage: &results.ThreadUsage{Voluntary: 30}},
			}})
	}
	f.Cells = append(f.Cells, results.Cell{Config: cfg, Reps: reps})
	return f
}

// TestKernelTerms: a model strategy's operation is given in the kernel's
// terms (added mean ns over none, its share of the kernel's same
// operation); the kernel cell gets per-role faults/op and blocked/op and
// is not compared with none as if it were a strategy.
func TestKernelTerms(t *testing.T) {
	sums := Summarize(kernelFixture())
	rwsem, kern := &sums[1], &sums[2]
	if len(rwsem.Costs) == 0 {
		t.Fatal("rwsem has no costs in the kernel's terms")
	}
	c := rwsem.Costs[0]
	// Means (p50+p99)/2 per rep: none 2900, 2940, 2860 ns; rwsem 20700,
	// 19650, 23250 ns: medians 2900 and 20700. p50s: none 800, 780,
	// 820; rwsem 1400, 1300, 1500: medians 800 and 1400.
	if c.Op != "write-fault" || c.Mean.AddedNs != 17800 || c.P50.AddedNs != 600 {
		t.Errorf("rwsem cost = %s mean %+v, p50 %+v ns; want write-fault +17800, +600", c.Op, c.Mean.AddedNs, c.P50.AddedNs)
	}
	if c.Mean.KernelNs != 178000 || math.Abs(c.Mean.Share-0.1) > 1e-9 || c.KernelLabel != "kernel(btrfs)" {
		t.Errorf("rwsem mean cost vs kernel = %v ns, share %v, label %q; want 178000, 0.1, kernel(btrfs)", c.Mean.KernelNs, c.Mean.Share, c.KernelLabel)
	}
	if c.P50.KernelNs != 100000 || math.Abs(c.P50.Share-0.006) > 1e-9 {
		t.Errorf("rwsem p50 cost vs kernel = %v ns, share %v; want 100000, 0.006", c.P50.KernelNs, c.P50.Share)
	}
	if fs := rwsem.Costs[1]; fs.Op != "fsync" || !math.IsNaN(fs.Mean.Share) || !math.IsNaN(fs.P50.Share) {
		t.Errorf("fsync cost = %+v; want no share (the kernel cell has no fsync)", fs)
	}
	if kern.HasBaseline || len(kern.Costs) != 0 {
		t.Errorf("kernel cell compared with none (HasBaseline %v, %d costs); want neither", kern.HasBaseline, len(kern.Costs))
	}
	want := map[string][2]float64{"faulter": {0.05, 0.01}, "fsync": {0, 3}}
	if len(kern.Usage) != len(want) {
		t.Fatalf("kernel usage has %d roles; want %d", len(kern.Usage), len(want))
	}
	for _, u := range kern.Usage {
		w := want[u.Role]
		if math.Abs(u.FaultsPerOp.Median-w[0]) > 1e-9 || math.Abs(u.BlockedPerOp.Median-w[1]) > 1e-9 {
			t.Errorf("%s: faults/op %v, blocked/op %v; want %v, %v", u.Role, u.FaultsPerOp.Median, u.BlockedPerOp.Median, w[0], w[1])
		}
	}
	if got := sums[0].Usage; len(got) != 0 {
		t.Errorf("a model cell has kernel usage %+v; want none", got)
	}

	var buf bytes.Buffer
	if err := Render(&buf, "text", kernelFixture()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"strategy=kernel(btrfs)", "faults/op", "blocked/op", "+17.8µs", "178µs", "10%", "+600ns", "100µs", "0.60%"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, buf.String())
		}
	}
}

// TestKernelTermsBench: the bench format carries the same terms per
// repetition, under units benchstat is told the direction of.
func TestKernelTermsBench(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, "bench", kernelFixture()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"strategy=kernel/", "0.05 faults/op 0.01 blocked/op", "op=write-fault 1200000"} {
		if !strings.Contains(out, s) {
			t.Errorf("bench output lacks %q:\n%s", s, out)
		}
	}
	// Added ns can be 0 or negative: benchstat takes no geomean of them.
	for _, s := range []string{"added-", "kernel-share-"} {
		if strings.Contains(out, s) {
			t.Errorf("bench output has %q, a unit whose values can be <= 0:\n%s", s, out)
		}
	}
}

// TestKernelTermsHTML: the HTML table gives the model's cost as a share
// of the kernel's and the kernel cell's counts.
func TestKernelTermsHTML(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*results.File{kernelFixture()}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"p50 &#43;600ns = 0.60%, mean &#43;17.8µs = 10% of kernel(btrfs)", "0.05 faults/op, 0.01 blocked/op"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
}

// TestFormatShare: shares as percentages, far-off ones as ratios.
func TestFormatShare(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{
		{0.004, "0.40%"},
		{0.11, "11%"},
		{-0.026, "-2.6%"},
		{-24721, "-24721×"},
		{math.NaN(), "-"},
	} {
		if got := formatShare(tt.in); got != tt.want {
			t.Errorf("formatShare(%v) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestKernelTermsJSON: the json format adds kernel_terms for one file and
// for each file of several (one array). Regression: report -format json
// a.json b.json dropped them.
func TestKernelTermsJSON(t *testing.T) {
	r, err := NewReporter("json")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2} {
		files := make([]*results.File, n)
		for i := range files {
			files[i] = kernelFixture()
		}
		var buf bytes.Buffer
		if err := r(&buf, files); err != nil {
			t.Fatal(err)
		}
		var docs []map[string]json.RawMessage
		if n == 1 {
			docs = make([]map[string]json.RawMessage, 1)
			err = json.Unmarshal(buf.Bytes(), &docs[0])
		} else {
			err = json.Unmarshal(buf.Bytes(), &docs)
		}
		if err != nil || len(docs) != n {
			t.Fatalf("json of %d files: %d documents, %v; want %d", n, len(docs), err, n)
		}
		for i, d := range docs {
			if len(d["kernel_terms"]) == 0 || len(d["cells"]) == 0 {
				t.Errorf("json of %d files: file %d has keys %v; want cells and kernel_terms", n, i, keys(d))
			}
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
