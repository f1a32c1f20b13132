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
				row.Cells = append(row.Cells, FindingCell{Text: clause(f), Significant: f.Significant})
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
// included): every section keeps its heading, its summary line and its
// notes; differences are cut from the end of the longest section first,
// and a cut section says how many it left for the report.
func fitLines(secs []FindingSection, budget int) [][]string {
	keep := make([]int, len(secs)) // differences kept per section
	total := 0
	for i, s := range secs {
		keep[i] = s.ndiff
		total += 1 + len(s.Lines) + min(len(s.Notes), maxNotes+1)
	}
	for total > budget {
		longest := -1
		for i, s := range secs {
			if keep[i] > 0 && (longest < 0 || 1+len(s.Lines)-s.ndiff+keep[i] > 1+len(secs[longest].Lines)-secs[longest].ndiff+keep[longest]) {
				longest = i
			}
		}
		if longest < 0 {
			break
		}
		if keep[longest] == secs[longest].ndiff {
			total++ // its "more in the report" line
		}
		keep[longest]--
		total--
	}
	out := make([][]string, len(secs))
	for i, s := range secs {
		out[i] = append(out[i], s.Heading)
		out[i] = append(out[i], s.Lines[:keep[i]]...)
		if cut := s.ndiff - keep[i]; cut > 0 {
			out[i] = append(out[i], fmt.Sprintf("  (%d more differences: see the report)", cut))
		}
		out[i] = append(out[i], s.Lines[s.ndiff:]...)
		for j, n := range s.Notes {
			if j == maxNotes && len(s.Notes) > maxNotes+1 {
				out[i] = append(out[i], fmt.Sprintf("  (%d more notes: see the report)", len(s.Notes)-maxNotes))
				break
			}
			out[i] = append(out[i], "  "+clip(n))
		}
	}
	return out
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
