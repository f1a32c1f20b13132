package reports

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"lockbench/results"
)

// This file lays findings out for reading: one section per question, a
// table row per measure and comparison with a cell per target (HTML), and
// one line per difference on a target (stdout), within one screen.

// FindingSection is the findings of one question.
type FindingSection struct {
	Heading string   // "fsync against write faults (fsync-write, 2 threads)"
	Targets []string // the targets' labels, the table's columns
	Rows    []FindingRow
	// Lines are the section on stdout: one line per difference (the
	// headline measure's first), then one line counting the rest.
	Lines []string
	// Notes explain the surprises (or say they are unexplained).
	Notes []string
	ndiff int // Lines[:ndiff] are differences
}

// FindingRow is one measure of one comparison on every target.
type FindingRow struct {
	Label string // "rangelock vs none: write-fault p99.9"
	Cells []FindingCell
}

// FindingCell is one finding's verdict and numbers; Text is empty where
// the target has no such comparison.
type FindingCell struct {
	Text        string
	Significant bool
	// Class is "better" or "worse" (the strategy against the one it is
	// compared with) when Significant, else "": the HTML report's colours.
	Class string
}

// FindingSections groups findings by question, in the findings' order.
func FindingSections(fs []results.Finding) []FindingSection {
	type rowKey struct{ strategy, versus, measure string }
	var out []FindingSection
	idx := map[string]int{}
	var rows [][]rowKey
	var cells []map[rowKey]map[string]results.Finding
	var byQ [][]results.Finding
	for _, f := range fs {
		key := f.Question + "\x00" + f.Scenario + fmt.Sprint(f.Threads)
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, FindingSection{Heading: sectionHeading(f)})
			rows = append(rows, nil)
			cells = append(cells, map[rowKey]map[string]results.Finding{})
			byQ = append(byQ, nil)
		}
		s := &out[i]
		byQ[i] = append(byQ[i], f)
		if !slices.Contains(s.Targets, f.TargetLabel) {
			s.Targets = append(s.Targets, f.TargetLabel)
		}
		k := rowKey{f.Strategy, f.Versus, f.Measure}
		if _, ok := cells[i][k]; !ok {
			rows[i] = append(rows[i], k)
			cells[i][k] = map[string]results.Finding{}
		}
		cells[i][k][f.TargetLabel] = f
		if f.Explained != "" && !slices.Contains(s.Notes, f.Explained) {
			s.Notes = append(s.Notes, f.Explained)
		}
	}
	for i := range out {
		s := &out[i]
		for _, k := range rows[i] {
			var row FindingRow
			for _, t := range s.Targets {
				f, ok := cells[i][k][t]
				if !ok {
					row.Cells = append(row.Cells, FindingCell{})
					continue
				}
				row.Label = f.Strategy + " vs " + f.Versus + ": " + measureLabel(f)
				row.Cells = append(row.Cells, FindingCell{Text: clause(f), Significant: f.Significant, Class: findingClass(f)})
			}
			s.Rows = append(s.Rows, row)
		}
		s.Lines, s.ndiff = sectionLines(byQ[i])
	}
	return out
}

// sectionHeading is "fsync against write faults (fsync-write, 2 threads)".
func sectionHeading(f results.Finding) string {
	title := f.Question
	for _, q := range questions {
		if q.id == f.Question {
			title = q.title
		}
	}
	return fmt.Sprintf("%s: %s (%s, %s)", title, measureLabel(f), f.Scenario, threadsText(f.Threads))
}

// sectionLines is a section on stdout: every difference, then one line
// for the rest.
func sectionLines(fs []results.Finding) ([]string, int) {
	var lines []string
	notMeaningful, notDetected := 0, 0
	minDet, maxDet := math.Inf(1), 0.0
	for _, f := range fs {
		switch Verdict(f.Verdict) {
		case Different:
			lines = append(lines, diffLine(f, fs[0].Measure))
		case NotMeaningful:
			notMeaningful++
		default:
			notDetected++
			if f.Detectable > 0 {
				minDet, maxDet = math.Min(minDet, f.Detectable), math.Max(maxDet, f.Detectable)
			}
		}
	}
	var rest []string
	if notMeaningful > 0 {
		rest = append(rest, fmt.Sprintf("%d no meaningful difference", notMeaningful))
	}
	if notDetected > 0 {
		s := fmt.Sprintf("%d no difference detected", notDetected)
		if maxDet > 0 {
			s += " (smallest detectable ±" + formatPercent(minDet) + ")"
		}
		rest = append(rest, s)
	}
	if len(rest) > 0 {
		prefix := "  others: "
		if len(lines) == 0 {
			prefix = "  all: "
		}
		lines = append(lines, prefix+strings.Join(rest, "; "))
	}
	return lines, len(lines) - min(len(rest), 1)
}

// diffLine is one difference on one target in at most Columns columns:
// "  ext4 (vda) rangelock vs none: +1.2ms (5.0x [2.6x, 6.6x]) p'=0.004,
// 38% of kernel's 3.2ms"; the measure is named unless it is the section's
// headline.
func diffLine(f results.Finding, headline string) string {
	what := f.Strategy + " vs " + f.Versus
	if f.Measure != headline {
		what += " " + shortMeasure(f)
	}
	base := fmt.Sprintf("  %-10s %s: %s %s", f.TargetLabel, what, effect(f), formatPAdj(f.PAdj))
	for _, k := range []string{shortKernel(f, true), shortKernel(f, false), ""} {
		if l := base + k; utf8.RuneCountInString(l) <= Columns {
			return l
		}
	}
	return clip(base)
}

// shortMeasure is "store stall", "store/s", "write-fault p99.9",
// "remaps/write".
func shortMeasure(f results.Finding) string {
	switch k := measureKind(f); k {
	case "stall":
		return f.Op + " stall"
	case "ops/s":
		return f.Op + "/s"
	case "per-op":
		return f.Measure
	default:
		return f.Op + " " + k
	}
}

// shortKernel is the kernel's scale: ", 38% of kernel's 3.2ms" (long) or
// ", kernel 3.2ms".
func shortKernel(f results.Finding, long bool) string {
	if f.Kernel <= 0 {
		return ""
	}
	switch measureKind(f) {
	case "ops/s":
		return ", kernel " + formatRate(f.Kernel) + "/s"
	case "stall", "per-op":
		return ""
	}
	if long {
		return fmt.Sprintf(", %s of kernel's %s", formatPercent(math.Abs(f.KernelShare)), formatNanos(f.Kernel))
	}
	return ", kernel " + formatNanos(f.Kernel)
}

// ScreenLines is at most how many lines WriteFindings prints, so that a
// study's stdout fits one screen; Columns is at most how wide a line is.
const (
	ScreenLines = 40
	Columns     = 100
)

// fitLines cuts sections' lines to budget lines in all (headings
// included). Every section keeps its heading and its summary line; the
// lines left are dealt out one at a time to the sections in turn,
// differences first (each section's strongest first), then notes, so
// that every question shows its clearest effect before any shows its
// second. What a section could not show is counted at the end of its
// summary line ("+3 more in the report"), or on a line of its own when
// it has no summary line or the count does not fit.
func fitLines(secs []FindingSection, budget int) [][]string {
	keepD := make([]int, len(secs))
	keepN := make([]int, len(secs))
	left := budget
	for _, s := range secs {
		left -= 1 + len(s.Lines) - s.ndiff
		if len(s.Lines) == s.ndiff && s.ndiff > 0 {
			left-- // room for its "more" line, should any be cut
		}
	}
	deal := func(keep []int, have func(FindingSection) int) {
		for more := true; more && left > 0; {
			more = false
			for i, s := range secs {
				if left > 0 && keep[i] < have(s) {
					keep[i]++
					left--
					more = true
				}
			}
		}
	}
	deal(keepD, func(s FindingSection) int { return s.ndiff })
	deal(keepN, func(s FindingSection) int { return min(len(s.Notes), maxNotes) })
	out := make([][]string, len(secs))
	for i, s := range secs {
		out[i] = append(out[i], s.Heading)
		out[i] = append(out[i], s.Lines[:keepD[i]]...)
		rest := slices.Clone(s.Lines[s.ndiff:])
		for _, n := range s.Notes[:keepN[i]] {
			rest = append(rest, "  "+clip(n))
		}
		var more []string
		if cut := s.ndiff - keepD[i]; cut > 0 {
			more = append(more, fmt.Sprintf("+%d more difference%s", cut, pluralS(cut)))
		}
		if cut := len(s.Notes) - keepN[i]; cut > 0 {
			more = append(more, fmt.Sprintf("+%d note%s", cut, pluralS(cut)))
		}
		if len(more) > 0 {
			tail := strings.Join(more, ", ") + " in the report"
			switch {
			case len(s.Lines) == s.ndiff:
				rest = append(rest, "  ("+tail+")") // its line was kept free above
			case utf8.RuneCountInString(rest[0]+"; "+tail) <= Columns:
				rest[0] += "; " + tail
			default:
				short := fmt.Sprintf("; +%d in the report", s.ndiff-keepD[i]+len(s.Notes)-keepN[i])
				r := []rune(rest[0])
				if n := Columns - utf8.RuneCountInString(short) - 1; len(r) > n {
					r = append(r[:n], '…')
				}
				rest[0] = string(r) + short
			}
		}
		out[i] = append(out[i], rest...)
	}
	return out
}

// pluralS is "s" unless n is 1.
func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// maxNotes is how many notes a section prints on stdout.
const maxNotes = 2

// clip cuts s to Columns, marking the cut.
func clip(s string) string {
	r := []rune(s)
	if len(r) <= Columns {
		return s
	}
	return string(r[:Columns-1]) + "…"
}
