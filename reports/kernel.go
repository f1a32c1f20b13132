package reports

import (
	"fmt"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"golang.org/x/perf/benchfmt"

	"lockbench/results"
)

// Kernel is the strategy name of the kernel engine's cells: the same
// scenario run as real system calls on the real file of the target.
const Kernel = "kernel"

// KernelFaultFloor is the latency above which the kernel engine counts a
// store or load as a real fault too (hotpath's kernelFaultFloor; reports
// imports no hotpath, so the figure is repeated here and a test in hotpath
// keeps the two equal).
const KernelFaultFloor = 400 * time.Nanosecond

// StrategyLabel is how reports name a cell's strategy: the strategy, or
// for a kernel cell kernel(<fs>) with the target's detected filesystem.
func StrategyLabel(c results.Config) string {
	if c.Strategy != Kernel {
		return c.Strategy
	}
	fs := c.TargetInfo.FSType
	if fs == "" {
		fs = "?"
	}
	return Kernel + "(" + fs + ")"
}

// RoleUsage is what the kernel counted for the worker threads of one role
// of a kernel cell (getrusage(RUSAGE_THREAD)), per operation of the role,
// over the repetitions.
type RoleUsage struct {
	Role string
	// FaultsPerOp are minor plus major faults per operation; MajorPerOp
	// the major ones alone (a fault that waited for I/O).
	FaultsPerOp, MajorPerOp Estimate
	// BlockedPerOp are voluntary context switches per operation: the
	// thread blocked (a lock, I/O; for paced background roles also the
	// pacing sleep, about one per operation).
	BlockedPerOp Estimate
}

// OpCost is a model operation's cost in the kernel's terms: the latency
// it adds over the Baseline's same operation, and that as a share of the
// kernel's same operation on the same target in the same file, by the
// median latency (the typical operation: what the mechanism itself costs)
// and by the mean (stalls included: what the operations cost in all).
type OpCost struct {
	Op string
	// KernelLabel names the kernel cell, as kernel(<fs>); "" without one.
	KernelLabel string
	P50, Mean   CostStat
}

// CostStat is one statistic of an OpCost, in ns per operation, each the
// median over repetitions.
type CostStat struct {
	// AddedNs is the strategy's value minus the Baseline's; negative when
	// it measured cheaper.
	AddedNs float64
	// BaseNs is the Baseline's value.
	BaseNs float64
	// KernelNs is the kernel's value for the same operation; NaN without
	// a kernel cell or without that operation in it.
	KernelNs float64
	// Share is AddedNs / KernelNs (NaN without KernelNs).
	Share float64
}

// costStat compares the strategy's, the Baseline's and the kernel's
// estimates of one statistic; kernel may be invalid.
func costStat(op, base, kernel Estimate) CostStat {
	c := CostStat{AddedNs: op.Median - base.Median, BaseNs: base.Median, KernelNs: math.NaN(), Share: math.NaN()}
	if kernel.Valid() && kernel.Median > 0 {
		c.KernelNs = kernel.Median
		c.Share = c.AddedNs / c.KernelNs
	}
	return c
}

// summarizeUsage sums a kernel cell's per-thread counts by role and divides
// by the role's operations, one value per repetition.
func summarizeUsage(reps []results.Rep) []RoleUsage {
	type acc struct{ faults, major, blocked []float64 }
	var order []string
	by := map[string]*acc{}
	for _, r := range reps {
		type sum struct{ ops, faults, major, blocked int64 }
		sums := map[string]*sum{}
		for _, w := range r.Workers {
			if w.Usage == nil {
				continue
			}
			s := sums[w.Role]
			if s == nil {
				s = &sum{}
				sums[w.Role] = s
				if by[w.Role] == nil {
					by[w.Role] = &acc{}
					order = append(order, w.Role)
				}
			}
			s.ops += w.Ops
			s.faults += w.Usage.MinorFaults + w.Usage.MajorFaults
			s.major += w.Usage.MajorFaults
			s.blocked += w.Usage.Voluntary
		}
		for role, s := range sums {
			if s.ops == 0 {
				continue
			}
			a, n := by[role], float64(s.ops)
			a.faults = append(a.faults, float64(s.faults)/n)
			a.major = append(a.major, float64(s.major)/n)
			a.blocked = append(a.blocked, float64(s.blocked)/n)
		}
	}
	out := make([]RoleUsage, 0, len(order))
	for _, role := range order {
		a := by[role]
		out = append(out, RoleUsage{Role: role, FaultsPerOp: Describe(a.faults), MajorPerOp: Describe(a.major), BlockedPerOp: Describe(a.blocked)})
	}
	return out
}

// addKernelTerms fills in, for every model cell that has a Baseline cell,
// its operations' cost in the kernel's terms, from the kernel cell of the
// same scenario, threads, target, placement and sizes in the same file.
func addKernelTerms(out []CellSummary, baselines map[comparableKey]int) {
	kernels := firstCells(out, Kernel, kernelKey)
	for i := range out {
		c := &out[i]
		if c.Config.Strategy == Kernel || c.Config.Strategy == Baseline {
			continue
		}
		b, ok := baselines[keyOf(c.Config)]
		if !ok {
			continue
		}
		kc, hasKernel := kernels[kernelKey(c.Config)]
		for _, op := range c.Ops {
			base := findOpByName(out[b].Ops, op.Op)
			if base == nil || !op.Mean.Valid() || !base.Mean.Valid() || !op.P50.Valid() || !base.P50.Valid() {
				continue
			}
			var kp50, kmean Estimate
			cost := OpCost{Op: op.Op}
			if hasKernel {
				cost.KernelLabel = StrategyLabel(out[kc].Config)
				if ko := findOpByName(out[kc].Ops, op.Op); ko != nil {
					kp50, kmean = ko.P50, ko.Mean
				}
			}
			cost.P50 = costStat(op.P50, base.P50, kp50)
			cost.Mean = costStat(op.Mean, base.Mean, kmean)
			c.Costs = append(c.Costs, cost)
		}
	}
}

// kernelKey is comparableKey without the model-only settings: a kernel
// cell never runs the oracle or delay injection.
func kernelKey(c results.Config) comparableKey {
	k := keyOf(c)
	k.Oracle, k.Delay = false, false
	return k
}

// findOpByName finds an operation by name whatever its role: the model's
// writeback is done by "flusher,fsync", the kernel's by "flusher".
func findOpByName(ops []OpSummary, op string) *OpSummary {
	for i := range ops {
		if ops[i].Op == op {
			return &ops[i]
		}
	}
	return nil
}

// formatSigned formats added ns with its sign: "+23ns", "-4ns", "0".
func formatSigned(ns float64) string {
	if ns > 0 {
		return "+" + formatNanos(ns)
	}
	return formatNanos(ns)
}

// formatShare formats a cost share of the kernel's operation: "0.4%",
// "-1.2%", "-" without a kernel figure.
func formatShare(f float64) string {
	switch {
	case math.IsNaN(f):
		return "-"
	case math.Abs(f) >= 10:
		// The kernel's operation is far cheaper than the model's
		// difference (tmpfs's fsync has nothing to write): a ratio reads
		// better than a percentage in the hundred thousands.
		return sig3(f) + "×"
	case f < 0:
		return "-" + formatPercent(-f)
	}
	return formatPercent(f)
}

// formatPerOp formats a per-operation count: "0.085", "1.2e-05".
func formatPerOp(e Estimate) string {
	if !e.Valid() {
		return "-"
	}
	v := e.Median
	switch {
	case v == 0:
		return "0"
	case v < 0.001:
		return strconv.FormatFloat(v, 'e', 1, 64)
	}
	return sig3(v)
}

// writeTextUsage writes a kernel cell's per-role faults/op and blocked/op.
func writeTextUsage(ew *errWriter, s *CellSummary) error {
	if len(s.Usage) > 0 {
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  kernel counts per op (getrusage per thread)\tfaults/op\tmajor/op\tblocked/op\n")
		for _, u := range s.Usage {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", u.Role, formatPerOp(u.FaultsPerOp), formatPerOp(u.MajorPerOp), formatPerOp(u.BlockedPerOp))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		ew.printf("  (blocked = voluntary context switches; paced background roles also sleep once per op;\n")
		ew.printf("   write-fault and read-fault are the stores and loads that took %s or more: the real faults)\n", formatNanos(float64(KernelFaultFloor)))
	}
	return ew.err
}

// writeTextCosts writes a model cell's costs in the kernel's terms.
func writeTextCosts(ew *errWriter, s *CellSummary) error {
	if len(s.Costs) > 0 {
		label := "no kernel cell in this file"
		for _, c := range s.Costs {
			if c.KernelLabel != "" {
				label = c.KernelLabel + " of this file"
			}
		}
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		ew.printf("  cost over %s in the kernel's terms (kernel: %s; p50: the typical op, mean: stalls included)\n", Baseline, label)
		fmt.Fprintf(tw, "  op\tadded p50\tkernel p50\tshare\tadded mean\tkernel mean\tshare\n")
		for _, c := range s.Costs {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Op,
				formatSigned(c.P50.AddedNs), formatNanos(c.P50.KernelNs), formatShare(c.P50.Share),
				formatSigned(c.Mean.AddedNs), formatNanos(c.Mean.KernelNs), formatShare(c.Mean.Share))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return ew.err
}

// CellTerms is one cell's kernel terms as the JSON format adds them to
// the results file ("kernel_terms"): a model cell's costs, a kernel cell's
// per-role counts. Absent figures are left out (JSON has no NaN).
type CellTerms struct {
	Strategy string      `json:"strategy"` // kernel(<fs>) for a kernel cell
	Scenario string      `json:"scenario"`
	Threads  int         `json:"threads"`
	Target   string      `json:"target"`
	Costs    []CostJSON  `json:"costs,omitempty"`
	Usage    []UsageJSON `json:"usage,omitempty"`
}

// CostJSON is an OpCost in JSON.
type CostJSON struct {
	Op     string       `json:"op"`
	Kernel string       `json:"kernel,omitempty"`
	P50    CostStatJSON `json:"p50"`
	Mean   CostStatJSON `json:"mean"`
}

// CostStatJSON is a CostStat in JSON.
type CostStatJSON struct {
	AddedNs  float64  `json:"added_ns_per_op"`
	KernelNs *float64 `json:"kernel_ns_per_op,omitempty"`
	Share    *float64 `json:"share_of_kernel,omitempty"`
}

// UsageJSON is a RoleUsage in JSON (medians over repetitions).
type UsageJSON struct {
	Role         string  `json:"role"`
	FaultsPerOp  float64 `json:"faults_per_op"`
	MajorPerOp   float64 `json:"major_faults_per_op"`
	BlockedPerOp float64 `json:"blocked_per_op"`
}

// kernelTerms collects the cells' kernel terms for the JSON format.
func kernelTerms(sums []CellSummary) []CellTerms {
	var out []CellTerms
	finite := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	for _, s := range sums {
		if len(s.Costs) == 0 && len(s.Usage) == 0 {
			continue
		}
		t := CellTerms{Strategy: StrategyLabel(s.Config), Scenario: s.Config.Scenario, Threads: s.Config.Threads, Target: s.Config.Target}
		for _, c := range s.Costs {
			t.Costs = append(t.Costs, CostJSON{Op: c.Op, Kernel: c.KernelLabel,
				P50:  CostStatJSON{AddedNs: c.P50.AddedNs, KernelNs: finite(c.P50.KernelNs), Share: finite(c.P50.Share)},
				Mean: CostStatJSON{AddedNs: c.Mean.AddedNs, KernelNs: finite(c.Mean.KernelNs), Share: finite(c.Mean.Share)}})
		}
		for _, u := range s.Usage {
			t.Usage = append(t.Usage, UsageJSON{Role: u.Role, FaultsPerOp: nanZero(u.FaultsPerOp), MajorPerOp: nanZero(u.MajorPerOp), BlockedPerOp: nanZero(u.BlockedPerOp)})
		}
		out = append(out, t)
	}
	return out
}

func nanZero(e Estimate) float64 {
	if !e.Valid() {
		return 0
	}
	return e.Median
}

// kernelBenchValues appends, for a kernel cell, the faults and voluntary
// switches per operation of the operation's role in this repetition. The
// model's added ns and kernel share are not in the bench format: they can
// be zero or negative, which benchstat cannot take a geomean of; the
// kernel's own rows (strategy=kernel) and each strategy's latency give the
// same comparison there.
func kernelBenchValues(vs []benchfmt.Value, r *results.Rep, o results.OpStats) []benchfmt.Value {
	var ops, faults, blocked int64
	for _, w := range r.Workers {
		if w.Usage != nil && w.Role == o.Role {
			ops += w.Ops
			faults += w.Usage.MinorFaults + w.Usage.MajorFaults
			blocked += w.Usage.Voluntary
		}
	}
	if ops > 0 {
		vs = append(vs, benchfmt.Value{Value: float64(faults) / float64(ops), Unit: "faults/op"},
			benchfmt.Value{Value: float64(blocked) / float64(ops), Unit: "blocked/op"})
	}
	return vs
}

// kernelCellText is one operation of a cell in the kernel's terms, for the
// HTML table: "+23ns = 0.4% of kernel(ext4)" for a model cell, "0.08
// faults/op, 5.4e-05 blocked/op" (of the operation's role) for a kernel
// cell, "" otherwise.
func kernelCellText(s *CellSummary, o *OpSummary) string {
	for _, c := range s.Costs {
		if c.Op != o.Op {
			continue
		}
		if math.IsNaN(c.P50.Share) {
			return "p50 " + formatSigned(c.P50.AddedNs) + ", mean " + formatSigned(c.Mean.AddedNs) + " over " + Baseline
		}
		return "p50 " + formatSigned(c.P50.AddedNs) + " = " + formatShare(c.P50.Share) + ", mean " + formatSigned(c.Mean.AddedNs) +
			" = " + formatShare(c.Mean.Share) + " of " + c.KernelLabel
	}
	for _, u := range s.Usage {
		if u.Role == o.Role {
			return formatPerOp(u.FaultsPerOp) + " faults/op, " + formatPerOp(u.BlockedPerOp) + " blocked/op"
		}
	}
	return ""
}
