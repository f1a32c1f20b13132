package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"lockbench/hardware/desc"

	"lockbench/results"
)

// WriteFindings writes the one-screen summary of a study: the machine in
// one line, how to read the findings, the findings by question, and the
// verify verdict in one line, in at most ScreenLines-4 lines (the study
// prints four of its own) of at most Columns columns. The findings are
// computed from the cells (a file's stored findings are for other readers;
// a newer lockbench may ask better questions).
func WriteFindings(w io.Writer, f *results.File) error {
	return writeFindings(w, f, ScreenLines-4)
}

func writeFindings(w io.Writer, f *results.File, budget int) error {
	ew := &errWriter{w: w}
	fs := Findings(f)
	head := []string{machineLine(f.Machine)}
	head = append(head, strings.Split(FindingsPreamble(f, len(fs)), "\n")...)
	head = append(head, f.Notes...)
	tail := 0
	if f.Verify != nil {
		tail = 1
	}
	for _, l := range head {
		ew.printf("%s\n", clip(l))
	}
	for _, sec := range fitLines(FindingSections(fs), budget-len(head)-tail) {
		for _, l := range sec {
			ew.printf("%s\n", clip(l))
		}
	}
	if f.Verify != nil {
		ew.printf("%s\n", clip(VerifyVerdict(f.Verify)))
	}
	return ew.err
}

// machineLine is the machine in one line of at most Columns: without its
// fingerprint when the whole is too wide.
func machineLine(m desc.Machine) string {
	l := "machine: " + describeMachine(m)
	if utf8.RuneCountInString(l) > Columns {
		m.Fingerprint = ""
		l = "machine: " + describeMachine(m)
	}
	return l
}

// FindingsPreamble says how to read n findings of f, in two lines:
// direction, statistics, the false-discovery-rate control, resolution and
// repetitions.
func FindingsPreamble(f *results.File, n int) string {
	var reps []int
	for _, c := range f.Cells {
		if !slices.Contains(reps, len(c.Reps)) {
			reps = append(reps, len(c.Reps))
		}
	}
	slices.Sort(reps)
	r := "0"
	if len(reps) > 0 {
		r = fmt.Sprint(reps[0])
		if len(reps) > 1 {
			r += fmt.Sprintf("-%d", reps[len(reps)-1])
		}
	}
	return fmt.Sprintf("findings: A vs B = A's effect over B (baseline second), Hodges-Lehmann [%.0f%% CI], %s reps/cell\n", 100*Confidence, r) +
		fmt.Sprintf("p' = Mann-Whitney p adjusted (Benjamini-Hochberg, %d tests); difference: p'<%v, >%.0f%%, >timer floor",
			n, Alpha, 100*MinMeaningful)
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
	head := fmt.Sprintf("verify (%s/cell): ", m.Budget)
	switch {
	case len(bad) > 0:
		return head + fmt.Sprintf("MISMATCH: %s, expected safe (%d of %d cells as expected); see the report", strings.Join(bad, ", "), ok, len(m.Cells))
	case len(missed) > 0:
		return head + fmt.Sprintf("%d of %d cells as expected, no safe cell violated; %s did not reproduce %s in so short a run (lockbench verify -budget 2s does)",
			ok, len(m.Cells), Baseline, strings.Join(missed, ", "))
	}
	return head + fmt.Sprintf("all %d cells as expected: safe cells held, %s (unsafe) failed every race", len(m.Cells), Baseline)
}
