package reports

import (
	"fmt"
	"io"
	"strings"

	"lockbench/results"
)

// WriteFindings writes the one-screen summary of a study: the machine in
// one line, the findings by section, and the verify verdict in one line.
// The findings are computed from the cells (a file's stored findings are
// for other readers; a newer lockbench may ask better questions).
func WriteFindings(w io.Writer, f *results.File) error {
	ew := &errWriter{w: w}
	ew.printf("machine: %s\n", describeMachine(f.Machine))
	fs := Findings(f)
	ew.printf("%s\n", FindingsPreamble(f))
	for _, s := range FindingSections(fs) {
		ew.printf("%s\n", s.Heading)
		for _, l := range s.Lines {
			ew.printf("  %s\n", l)
		}
	}
	if Mean90Note(fs) != "" {
		ew.printf("  (mean of the fastest 90%%: of each rep's operations at or below its p90; the report's p99 charts of the scenario show it)\n")
	}
	if f.Verify != nil {
		ew.printf("%s\n", VerifyVerdict(f.Verify))
	}
	return ew.err
}

// Mean90Note explains the "mean of the fastest 90%" measure when one of
// fs uses it, else "".
func Mean90Note(fs []results.Finding) string {
	for _, f := range fs {
		if f.Measure == "mean90" {
			return "mean of the fastest 90%: per repetition, the mean latency of the operations at or below its 90th percentile " +
				"(from its histogram), so that a rare writeback stall does not drown a lock's cost of a few ns; " +
				"the report's p99 charts of that scenario show it as their first panel, its spectrum chart the same operations from 50 to 90"
		}
	}
	return ""
}

// FileLine says which results file and run a report reads, in one line:
// "a.json: lockbench run -strategy all ... (version v0.1 abc), 12 cells
// of 2 reps, machine vm, created 2026-12-07 21:03 UTC".
func FileLine(path string, f *results.File) string {
	cmd := f.Command
	if cmd == "" {
		cmd = "(command not recorded)"
	} else if !strings.HasPrefix(cmd, "lockbench") {
		cmd = "lockbench " + cmd
	}
	s := path + ": " + cmd
	if f.Version != "" {
		s += " (version " + f.Version + ")"
	}
	reps := map[int]bool{}
	for _, c := range f.Cells {
		reps[len(c.Reps)] = true
	}
	switch {
	case len(f.Cells) == 0 && f.Verify != nil:
		s += fmt.Sprintf(", a verify matrix of %d cells", len(f.Verify.Cells))
	case len(reps) == 1:
		for n := range reps {
			s += fmt.Sprintf(", %d cells of %d reps", len(f.Cells), n)
		}
	default:
		s += fmt.Sprintf(", %d cells", len(f.Cells))
	}
	if f.Machine.Hostname != "" {
		s += ", machine " + f.Machine.Hostname
	}
	if !f.Created.IsZero() {
		s += ", created " + f.Created.UTC().Format("2006-01-02 15:04 UTC")
	}
	if f.Incomplete {
		s += ", INCOMPLETE"
	}
	return s
}

// FindingsPreamble says how to read the findings: repetitions, the
// interval and the test.
func FindingsPreamble(f *results.File) string {
	reps := map[int]bool{}
	for _, c := range f.Cells {
		reps[len(c.Reps)] = true
	}
	var ns []string
	for n := range reps {
		ns = append(ns, fmt.Sprint(n))
	}
	r := strings.Join(ns, "/")
	if len(ns) == 0 {
		r = "0"
	}
	return fmt.Sprintf("findings (%s reps per cell; ratio or difference of the repetitions (Hodges-Lehmann) [%.0f%% CI], "+
		"Mann-Whitney p; a difference is stated only at p<%v):", r, 100*Confidence, Alpha)
}

// VerifySafe reports whether no cell expected safe was violated or
// deadlocked: the failures that matter. A baseline cell that did not
// reproduce its race in a short budget is not one.
func VerifySafe(m *results.Matrix) bool {
	for _, c := range m.Cells {
		if c.Expect == results.Safe && c.Verdict != results.Safe {
			return false
		}
	}
	return true
}

// VerifyVerdict is the matrix in one line.
func VerifyVerdict(m *results.Matrix) string {
	var bad, missed []string
	ok := 0
	for _, c := range m.Cells {
		switch {
		case c.Matches:
			ok++
		case c.Expect == results.Safe:
			bad = append(bad, fmt.Sprintf("%s %s on %s", c.Strategy, c.Verdict, c.Scenario))
		default:
			missed = append(missed, fmt.Sprintf("%s (%s)", c.Race, c.Scenario))
		}
	}
	head := fmt.Sprintf("verify (%s per cell): ", m.Budget)
	switch {
	case len(bad) > 0:
		return head + fmt.Sprintf("MISMATCH: %s, expected safe (%d of %d cells as expected); see the report", strings.Join(bad, ", "), ok, len(m.Cells))
	case len(missed) > 0:
		return head + fmt.Sprintf("%d of %d cells as expected, no safe cell violated; %s did not reproduce %s in so short a run (lockbench verify -budget 2s does)",
			ok, len(m.Cells), Baseline, strings.Join(missed, ", "))
	}
	return head + fmt.Sprintf("all %d cells as expected: every safe cell held, %s broke every race", len(m.Cells), Baseline)
}
