package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"lockbench/results"
)

// WriteMatrix writes verify's matrix as the terminal shows it: one row per
// scenario (in scs order), one column per strategy (in sts order), each
// cell's verdict against its expectation, then every cell that was not
// safe with its first violation and replay. It is the text twin of the
// HTML page's verify grid (verifyTable). A write error is returned.
func WriteMatrix(out io.Writer, m *results.Matrix, sts, scs []string) error {
	w := &errWriter{w: out}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "race oracle, budget %s per cell\n", m.Budget)
	fmt.Fprint(tw, "SCENARIO\tRACE")
	for _, s := range sts {
		if s == Kernel && m.FSType != "" {
			s += "(" + m.FSType + ")"
		}
		fmt.Fprintf(tw, "\t%s", s)
	}
	fmt.Fprintln(tw)
	for _, scn := range scs {
		race := ""
		var row []string
		found := false
		for _, s := range sts {
			text := "-" // no such cell (the kernel has no counterpart; the control is the kernel's)
			for _, c := range m.Cells {
				if c.Strategy == s && c.Scenario == scn {
					race = c.Race
					text = matrixCellText(c)
					found = true
				}
			}
			row = append(row, text)
		}
		if !found {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", scn, race, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(S = must be safe; V = not required to be safe: none must be violated, another strategy's V cell is reported as measured; "+
		"- = no such cell; ! marks a cell that does not match)")
	replays := false
	for _, c := range m.Cells {
		if c.Verdict == results.Safe {
			continue
		}
		if !replays && c.Replay != "" {
			replays = true
			fmt.Fprintln(w, "(a replay repeats the run's seed, budget and delays: it reproduces the race, not the count of violations, which depends on timing)")
		}
		fmt.Fprintf(w, "\n%s on %s: %s, first at op %d (seed %d)\n", c.Strategy, c.Scenario, c.Verdict, c.FirstAt, c.Seed)
		if c.Detail != "" {
			fmt.Fprintf(w, "  %s\n", c.Detail)
		}
		if c.Replay != "" {
			fmt.Fprintf(w, "  replay: %s\n", c.Replay)
		}
	}
	return w.err
}

// matrixCellText is one cell of WriteMatrix: "safe: 0 in 1.2M ops [S]",
// "VIOLATED 3 times, first at op 12 [V]", "DEADLOCK [S] !" (! marks a
// mismatch).
func matrixCellText(c results.VerifyCell) string {
	exp := "S"
	if c.Expect == results.Violated {
		exp = "V"
	}
	var s string
	switch c.Verdict {
	case results.Safe:
		s = fmt.Sprintf("safe: 0 in %s ops", FormatCount(c.Ops))
	case results.Violated:
		s = fmt.Sprintf("VIOLATED %s, first at op %d", plural(c.Violations, "time"), c.FirstAt)
		if c.Seeds > 1 {
			s += fmt.Sprintf(", %d/%d seeds", c.Reproduced, c.Seeds)
		}
	default:
		s = "DEADLOCK"
	}
	mark := ""
	if !c.Matches {
		mark = " !"
	}
	return fmt.Sprintf("%s [%s]%s", s, exp, mark)
}

// plural is "1 time", "3 times".
func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
