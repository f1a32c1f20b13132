package main

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"lockbench/hotpath"
	"lockbench/reports"
	"lockbench/results"
)

// The README shows the output of the default study, of a run and of
// verify. These tests hold those examples to the tool's current format, so
// that a change of the output fails here until the README is regenerated:
// the numbers are one machine's, the layout must be the tool's.

// readmeBlocks returns the README's fenced code blocks, each as its lines.
func readmeBlocks(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]string
	var cur []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "```") {
			if in {
				blocks = append(blocks, cur)
			}
			in, cur = !in, nil
			continue
		}
		if in {
			cur = append(cur, l)
		}
	}
	return blocks
}

// readmeBlock is the README block whose first line starts with prefix.
func readmeBlock(t *testing.T, prefix string) []string {
	t.Helper()
	for _, b := range readmeBlocks(t) {
		if len(b) > 0 && strings.HasPrefix(b[0], prefix) {
			return b
		}
	}
	t.Fatalf("README has no example block starting with %q", prefix)
	return nil
}

// TestREADMEStudyExample: the default study's example has the lines the
// study prints, in its order, with its file names and preamble.
func TestREADMEStudyExample(t *testing.T) {
	b := readmeBlock(t, "lockbench default study:")
	file := &results.File{Cells: []results.Cell{{Reps: make([]results.Rep, fullStudy.reps)}}}
	pre := strings.Split(reports.FindingsPreamble(file, 0), "\n")
	if len(pre) != 2 {
		t.Fatalf("FindingsPreamble has %d lines; this test expects 2", len(pre))
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^lockbench default study: \d+ cells x ` + strconv.Itoa(fullStudy.reps) + `(-\d+)? reps of ` +
			regexp.QuoteMeta(fullStudy.duration.String()) + ` in \S+, verify ` + regexp.QuoteMeta(fullStudy.verify) + `/cell; total \S+$`),
		regexp.MustCompile(`^machine: .+, \d+ logical CPUs?, kernel \S+`),
		// The study adds repetitions to undecided cells: "6-12 reps/cell".
		regexp.MustCompile(`^` + strings.Replace(regexp.QuoteMeta(pre[0]), strconv.Itoa(fullStudy.reps)+" reps/cell", `\d+(-\d+)? reps/cell`, 1) + `$`),
		regexp.MustCompile(`^` + strings.Replace(regexp.QuoteMeta(pre[1]), "Benjamini-Hochberg, 0 tests", `Benjamini-Hochberg, \d+ tests`, 1) + `$`),
	}
	for i, re := range want {
		if i >= len(b) || !re.MatchString(b[i]) {
			t.Fatalf("README study example line %d = %q; want it to match %s (regenerate the example)", i+1, b[min(i, len(b)-1)], re)
		}
	}
	// Findings: question headings at the margin, their lines indented, the
	// note on the mean of the fastest 90%, then the verify verdict and the
	// two file lines; every line within the screen's width.
	n := len(b)
	if n < 7 {
		t.Fatalf("README study example has %d lines", n)
	}
	heading := regexp.MustCompile(`^\S.*: .+ \([a-z0-9-]+, \d+ threads?\)$`)
	for _, l := range b[len(want) : n-3] {
		if !strings.HasPrefix(l, "  ") && !heading.MatchString(l) && !strings.HasPrefix(l, "(mean of the fastest 90%") {
			t.Errorf("README study example: %q is neither a finding heading, an indented finding nor the note", l)
		}
	}
	for _, l := range b {
		if n := utf8.RuneCountInString(l); n > reports.Columns && !strings.HasPrefix(l, "lockbench default study:") {
			t.Errorf("README study example: %q is %d columns, more than the study prints (%d)", l, n, reports.Columns)
		}
	}
	if !strings.HasPrefix(b[n-3], "verify ("+fullStudy.verify+"/cell): ") {
		t.Errorf("README study example: %q; want the verify verdict third from last", b[n-3])
	}
	if w := "results: " + studyResults; b[n-2] != w {
		t.Errorf("README study example: %q; want %q", b[n-2], w)
	}
	if w := "report:  lockbench-report/index.html (full tables: lockbench-report/tables.txt)"; b[n-1] != w {
		t.Errorf("README study example: %q; want %q", b[n-1], w)
	}
}

// TestREADMERunExample runs the README's run example briefly and compares
// its layout: the header's keys, the table's columns, the README's rows
// among the run's, and the lines under the table.
func TestREADMERunExample(t *testing.T) {
	b := readmeBlock(t, "lockbench results (schema ")
	res := runCLI(t.Context(), "run", "-strategy", "rwsem", "-scenario", "fsync-storm", "-duration", "300ms", "-o", t.TempDir()+"/"+runResults, "-q")
	if res.code != 0 {
		t.Fatalf("run: exit %d: %s", res.code, res.stderr)
	}
	got := strings.Split(strings.TrimRight(res.stdout, "\n"), "\n")
	// The file's lines (results, command, machine), then the cell's, then
	// where the results went.
	at := func(lines []string) int {
		return slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "strategy=") })
	}
	bi, gi := at(b), at(got)
	if bi < 0 || gi < 0 || bi+2 > len(b) || gi+2 > len(got) {
		t.Fatalf("no cell header (strategy=...) in the README example (%d) or the run's output (%d):\n%s", bi, gi, res.stdout)
	}
	word := func(l string) string { f := strings.Fields(l); return strings.Join(f[:min(len(f), 2)], " ") }
	var wantPre, gotPre []string
	for _, l := range b[:bi] {
		wantPre = append(wantPre, word(l))
	}
	for _, l := range got[:gi] {
		gotPre = append(gotPre, word(l))
	}
	if !slices.Equal(wantPre, gotPre) {
		t.Errorf("README run example starts %q; the run prints %q", wantPre, gotPre)
	}
	b, got = b[bi:], got[gi:]
	keys := func(l string) []string {
		var ks []string
		for _, f := range strings.Fields(l) {
			k, _, _ := strings.Cut(f, "=")
			ks = append(ks, k)
		}
		return ks
	}
	if !slices.Equal(keys(b[0]), keys(got[0])) {
		t.Errorf("README run example header keys %q; the run prints %q", keys(b[0]), keys(got[0]))
	}
	if !slices.Equal(strings.Fields(b[1]), strings.Fields(got[1])) {
		t.Errorf("README run example columns %q; the run prints %q", strings.Fields(b[1]), strings.Fields(got[1]))
	}
	cols := len(strings.Fields(got[1]))
	var gotRows, gotTail []string
	for _, l := range got[2:] {
		if len(strings.Fields(l)) == cols {
			gotRows = append(gotRows, word(l))
		} else if l != "" {
			gotTail = append(gotTail, strings.Fields(l)[0])
		}
	}
	for _, l := range b[2:] {
		switch f := strings.Fields(l); {
		case len(f) == cols:
			if !slices.Contains(gotRows, word(l)) {
				t.Errorf("README run example row %q; the run has rows %q", word(l), gotRows)
			}
		case l != "" && !slices.Contains(gotTail, f[0]):
			t.Errorf("README run example line %q; the run's lines under the table start %q", l, gotTail)
		}
	}
}

// matrixCell is the form of one cell of verify's matrix.
var matrixCell = regexp.MustCompile(`^(safe: 0 in \S+ ops|VIOLATED \d+ times?, first at op \d+(, \d+/\d+ seeds)?|DEADLOCK) \[[SV]\]( !)?$|^-$`)

// parseMatrix splits verify's matrix as printed into its header, its rows
// of cells and the lines after them.
func parseMatrix(lines []string) (header []string, rows [][]string, after []string) {
	split := regexp.MustCompile(`\s{2,}`)
	for i, l := range lines {
		switch {
		case i == 0:
		case i == 1:
			header = split.Split(strings.TrimSpace(l), -1)
		case strings.HasPrefix(l, "("):
			return header, rows, lines[i:]
		default:
			rows = append(rows, split.Split(strings.TrimSpace(l), -1))
		}
	}
	return header, rows, nil
}

// TestREADMEVerifyExample: the README's verify matrix has the header,
// the cells and the legend verify prints now. The cell form is checked
// against WriteMatrix's own output first, so that it follows the code.
func TestREADMEVerifyExample(t *testing.T) {
	m := &results.Matrix{Budget: "2s", FSType: "tmpfs", Cells: []results.VerifyCell{
		{Strategy: "none", Scenario: "punch", Race: "R2", Verdict: results.Violated, Expect: results.Violated, Violations: 49, FirstAt: 25, Matches: true},
		{Strategy: "rwsem", Scenario: "punch", Race: "R2", Verdict: results.Safe, Expect: results.Safe, Ops: 46_300_000, Matches: true},
		{Strategy: "none", Scenario: "inline", Race: "R4", Verdict: results.Violated, Expect: results.Violated, Violations: 1, FirstAt: 3, Seeds: 3, Reproduced: 1, Matches: true},
		{Strategy: "rwsem", Scenario: "inline", Race: "R4", Verdict: results.Deadlock, Expect: results.Safe},
		{Strategy: hotpath.KernelName, Scenario: "punch", Race: "R2", Verdict: results.Safe, Expect: results.Safe, Ops: 1_670_000, Matches: true},
	}}
	var buf bytes.Buffer
	if err := reports.WriteMatrix(&buf, m, []string{"none", "rwsem", hotpath.KernelName}, []string{"punch", "inline"}); err != nil {
		t.Fatal(err)
	}
	_, rows, legend := parseMatrix(strings.Split(buf.String(), "\n"))
	for _, r := range rows {
		for _, c := range r[2:] {
			if !matrixCell.MatchString(c) {
				t.Fatalf("WriteMatrix cell %q does not match %s: update the test's form", c, matrixCell)
			}
		}
	}

	b := readmeBlock(t, "race oracle, budget ")
	header, rows2, legend2 := parseMatrix(b)
	if len(header) < 3 || header[0] != "SCENARIO" || header[1] != "RACE" {
		t.Fatalf("README verify example header %q; want SCENARIO, RACE and the strategies", header)
	}
	for _, s := range header[2:] {
		name, _, _ := strings.Cut(s, "(")
		if !slices.Contains(hotpath.StrategyNames(), name) {
			t.Errorf("README verify example column %q is not a strategy", s)
		}
	}
	scs := append(raceScenarios(), "holetest", kernelControlName)
	for _, r := range rows2 {
		if len(r) != len(header) {
			t.Errorf("README verify example row %q has %d cells; want %d", r, len(r), len(header))
			continue
		}
		if !slices.Contains(scs, r[0]) {
			t.Errorf("README verify example row %q: %s is not a verify scenario", r, r[0])
		}
		for _, c := range r[2:] {
			if !matrixCell.MatchString(c) {
				t.Errorf("README verify example cell %q is not in verify's current form (regenerate the example)", c)
			}
		}
	}
	if len(legend2) == 0 || len(legend) == 0 || legend2[0] != legend[0] {
		t.Errorf("README verify example legend %q; verify prints %q", first(legend2), first(legend))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// TestREADMERepsForBenchstat: every -reps and -count in the README gives
// benchstat the 6 samples it needs for a confidence interval.
func TestREADMERepsForBenchstat(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`-(reps|count) (\d+)`).FindAllStringSubmatch(string(b), -1) {
		if n, _ := strconv.Atoi(m[2]); n < 6 {
			t.Errorf("README has %q: benchstat says \"need >= 6 samples\" below 6", m[0])
		}
	}
}
