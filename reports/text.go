package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"lockbench/hardware/desc"
	"lockbench/results"
)

// writeText writes the table `lockbench run` prints: a header about the
// run and machine, then for each cell a config line and a table of its
// operations, the sampling note, the non-zero protocol counters, the
// violations, the comparison with the baseline and the warnings. With more
// than one repetition every value is the median with "±" the half-width of
// its confidence interval.
func writeText(w io.Writer, f *results.File, sums []CellSummary) error {
	ew := &errWriter{w: w}
	ew.printf("lockbench results (schema %d)", f.Schema)
	if f.Tool != "" {
		ew.printf(", %s", f.Tool)
	}
	ew.printf("\n")
	if f.Command != "" {
		ew.printf("command: %s\n", f.Command)
	}
	ew.printf("machine: %s\n", describeMachine(f.Machine))
	if f.Incomplete {
		ew.printf("INCOMPLETE: the run was interrupted; cells may be missing or short\n")
	}
	for _, s := range sums {
		if s.Reps > 1 {
			ew.printf("values are medians over repetitions; ± is the half-width of the %.0f%% confidence interval of the median\n", 100*Confidence)
			break
		}
	}
	for i := range sums {
		ew.printf("\n")
		if err := writeTextCell(ew, &sums[i]); err != nil {
			return err
		}
	}
	if err := writeTextLockCompare(ew, sums); err != nil { // locks.go
		return err
	}
	if f.Verify != nil {
		ew.printf("\n")
		if err := writeTextVerify(ew, f.Verify); err != nil {
			return err
		}
	}
	return ew.err
}

// describeMachine is the one-line description of a machine.
func describeMachine(m desc.Machine) string {
	var parts []string
	if m.Hostname != "" {
		parts = append(parts, m.Hostname)
	}
	if m.CPUModel != "" {
		parts = append(parts, m.CPUModel)
	}
	if m.LogicalCPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d logical CPUs", m.LogicalCPUs))
	}
	if m.Kernel != "" {
		parts = append(parts, "kernel "+m.Kernel)
	}
	s := strings.Join(parts, ", ")
	if m.Fingerprint != "" {
		s += " (fingerprint " + m.Fingerprint + ")"
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// cellHeader is the one-line identity of a cell: what ran and how to run
// it again.
func cellHeader(s *CellSummary) string {
	c := s.Config
	parts := []string{
		"strategy=" + StrategyLabel(c),
		"scenario=" + c.Scenario,
		fmt.Sprintf("threads=%d", c.Threads),
		"target=" + c.Target,
	}
	if c.Pin != "" {
		parts = append(parts, "pin="+c.Pin)
	}
	if c.Options != "" {
		parts = append(parts, "options="+c.Options)
	}
	parts = append(parts, fmt.Sprintf("seed=%d", c.Seed))
	if s.TimerFloor.Valid() {
		parts = append(parts, "timer-floor="+formatNanos(s.TimerFloor.Median))
	}
	parts = append(parts, fmt.Sprintf("reps=%d", s.Reps))
	if s.Incomplete {
		parts = append(parts, "INCOMPLETE")
	}
	return strings.Join(parts, " ")
}

// estimateText formats an estimate: the value for one repetition, the
// median and "±" the interval's half-width for more; "-" for none.
func estimateText(e Estimate, format func(float64) string) string {
	switch {
	case !e.Valid():
		return "-"
	case e.N == 1:
		return format(e.Median)
	}
	return format(e.Median) + " " + strings.TrimSuffix(intervalText(e, format), fmt.Sprintf(" (%.0f%%)", 100*e.Level))
}

// comparisonText formats a comparison as benchstat would read it: the
// ratio, the p-value and sample sizes, and "~" when not significant.
func comparisonText(c Comparison) string {
	s := fmt.Sprintf("%s %s n=%d+%d", formatRatio(c.Ratio), formatP(c.P), c.N1, c.N2)
	if !c.Significant {
		s += " ~"
	}
	return s
}

func writeTextCell(ew *errWriter, s *CellSummary) error {
	ew.printf("%s\n", cellHeader(s))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  op\trole\tops\tops/s\tp50\tp99\tp99.9\tmax\n")
	for _, o := range s.Ops {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Op, o.Role,
			estimateText(o.Count, formatRate), estimateText(o.PerSecond, formatRate),
			estimateText(o.P50, formatNanos), estimateText(o.P99, formatNanos),
			estimateText(o.P999, formatNanos), estimateText(o.Max, formatNanos))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range s.Ops {
		if o.SampleEvery > 1 {
			ew.printf("  %s latency timed on 1 in %d operations (seeded sample)\n", o.Op, o.SampleEvery)
		}
	}
	if len(s.Counters) > 0 {
		var parts []string
		for _, c := range s.Counters {
			if c.IsMax {
				parts = append(parts, fmt.Sprintf("%s %d (max)", c.Name, c.Total))
			} else {
				parts = append(parts, fmt.Sprintf("%s %d (%s)", c.Name, c.Total, formatRate(c.Median)))
			}
		}
		ew.printf("  counters, total over %d reps (median per rep): %s\n", s.Reps, strings.Join(parts, ", "))
	}
	if err := writeTextUsage(ew, s); err != nil {
		return err
	}
	if s.Violations == 0 {
		ew.printf("  violations: none\n")
	} else {
		var parts []string
		for _, v := range s.ViolationKinds {
			parts = append(parts, fmt.Sprintf("%s/%s ×%d", v.Invariant, v.Race, v.Count))
		}
		ew.printf("  violations: %d (%s)\n", s.Violations, strings.Join(parts, ", "))
	}
	for _, d := range s.Deadlocks {
		ew.printf("  deadlock %s\n", d)
	}
	if s.Config.Locks {
		if err := writeTextLocks(ew, s); err != nil {
			return err
		}
	}
	if s.HasBaseline {
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  vs %s\tops/s\tp99\n", Baseline)
		for _, o := range s.Ops {
			if o.VsBaseline == nil {
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Op, comparisonText(o.VsBaseline.PerSecond), comparisonText(o.VsBaseline.P99))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if err := writeTextCosts(ew, s); err != nil {
		return err
	}
	if ws := s.AllWarnings(); len(ws) > 0 {
		ew.printf("  warnings:\n")
		for _, w := range ws {
			ew.printf("    %s\n", w)
		}
	}
	return ew.err
}

func writeTextVerify(ew *errWriter, m *results.Matrix) error {
	ew.printf("verify")
	if m.Budget != "" {
		ew.printf(" (budget %s)", m.Budget)
	}
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  strategy\tscenario\trace\texpect\tverdict\tops\tviolations\tfirst at\tseed\tmatches\n")
	for _, c := range m.Cells {
		first := "-"
		if c.Violations > 0 {
			first = fmt.Sprint(c.FirstAt)
		}
		match := "yes"
		if !c.Matches {
			match = "NO"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\n",
			c.Strategy, c.Scenario, c.Race, c.Expect, c.Verdict, c.Ops, c.Violations, first, c.Seed, match)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range m.Cells {
		if c.Replay != "" {
			ew.printf("  replay %s/%s: %s\n", c.Strategy, c.Scenario, c.Replay)
		}
		if c.Detail != "" {
			ew.printf("  detail %s/%s: %s\n", c.Strategy, c.Scenario, c.Detail)
		}
	}
	return ew.err
}
