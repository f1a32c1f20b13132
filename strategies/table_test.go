package strategies

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated tables in docs/DESIGN.md and docs/MODEL.md from the code")

// TestDocTablesAreCurrent keeps docs/DESIGN.md's lock table and both docs'
// expectation tables equal to the strategies' plans and registry; with
// -update it rewrites them in place.
func TestDocTablesAreCurrent(t *testing.T) {
	for _, tc := range []struct{ doc, name, want string }{
		{"DESIGN.md", "lock table", LockTable()},
		{"DESIGN.md", "expectation table", ExpectationTable()},
		{"MODEL.md", "expectation table", ExpectationTable()},
	} {
		path := filepath.Join("..", "docs", tc.doc)
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			doc, err = replaceTable(string(doc), tc.want)
			if err != nil {
				t.Fatalf("docs/%s: %s: %v", tc.doc, tc.name, err)
			}
			if err := os.WriteFile(path, doc, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !strings.Contains(string(doc), tc.want) {
			t.Errorf("docs/%s does not contain the current %s (run `go test ./strategies/ -update` to rewrite it); want:\n%s", tc.doc, tc.name, tc.want)
		}
	}
}

// replaceTable replaces, in doc, the one Markdown table whose header line is
// table's first line with table: the table runs from that line to the first
// line that does not start with "|".
func replaceTable(doc, table string) ([]byte, error) {
	header, _, _ := strings.Cut(table, "\n")
	lines := strings.SplitAfter(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\n") != header {
			continue
		}
		if start >= 0 {
			return nil, fmt.Errorf("two tables headed %q", header)
		}
		start = i
	}
	if start < 0 {
		return nil, fmt.Errorf("no table headed %q", header)
	}
	end := start
	for end < len(lines) && strings.HasPrefix(lines[end], "|") {
		end++
	}
	if !strings.HasSuffix(table, "\n") {
		table += "\n"
	}
	return []byte(strings.Join(lines[:start], "") + table + strings.Join(lines[end:], "")), nil
}

// TestReplaceTable: -update replaces the table in place, whatever its rows
// were, and refuses a doc without the table or with two.
func TestReplaceTable(t *testing.T) {
	table := "| a | b |\n|---|---|\n| 1 | 2 |\n"
	doc := "intro\n\n| a | b |\n|---|---|\n| 0 | 0 |\n| 9 | 9 |\n\n(after)\n"
	got, err := replaceTable(doc, table)
	if want := "intro\n\n" + table + "\n(after)\n"; err != nil || string(got) != want {
		t.Errorf("replaceTable = %q, %v; want %q", got, err, want)
	}
	if _, err := replaceTable("no table\n", table); err == nil {
		t.Error("replaceTable without the table: nil error; want one")
	}
	if _, err := replaceTable(doc+doc, table); err == nil {
		t.Error("replaceTable with two tables: nil error; want one")
	}
}

// TestNewRejectsBadInput covers the strategy name and options errors.
func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"bogus", Options{}, "unknown strategy \"bogus\" (allowed: none, rangelock, rwsem, seqcount, faultretry, scheme-btrfs, scheme-ext4, scheme-xfs)"},
		{"faultretry", Options{GUPShare: 1.5}, "GUPShare must be in [0,1], got 1.5"},
		{"faultretry", Options{GUPShare: -0.1}, "GUPShare must be in [0,1], got -0.1"},
		{"faultretry", Options{Fallback: "x"}, "Fallback unknown fallback \"x\" (allowed: sigbus, convert-unlocked)"},
	} {
		_, err := New(tc.name, tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%q, %+v) = %v; want %q", tc.name, tc.opts, err, tc.want)
		}
	}
	for _, n := range append(Names(), SchemeNames()...) {
		s, err := New(n, Options{})
		if err != nil || s.Name() != n {
			t.Errorf("New(%q) = %v, %v; want a strategy named %q", n, s, err, n)
		}
	}
}

// TestNewPassesOptions: the registry's builder hands the options to faultretry.
func TestNewPassesOptions(t *testing.T) {
	s, err := New("faultretry", Options{GUPShare: 0.25, Fallback: "convert-unlocked", RetryOnContended: true})
	if err != nil {
		t.Fatal(err)
	}
	got := *s.Mechanisms().Retry
	want := RetryPolicy{OnContendedIL: true, GUPShare: 0.25, Fallback: FallbackConvertUnlocked, MaxRetries: 1}
	if got != want {
		t.Errorf("New(faultretry, ...).Mechanisms().Retry = %+v; want %+v", got, want)
	}
}

// TestRegistryExpectations: every strategy states S or V for every race,
// none is V everywhere (it must reproduce each race), and the rows are
// docs/MODEL.md's table.
func TestRegistryExpectations(t *testing.T) {
	want := map[string]string{
		"none": "VVVVV", "rangelock": "SSSSS", "rwsem": "SSVVS", "seqcount": "SSSVS", "faultretry": "SSVSS",
	}
	for _, s := range All {
		var got strings.Builder
		for _, r := range Races() {
			got.WriteString(s.Expect[r].String())
		}
		if got.String() != want[s.Name] {
			t.Errorf("%s expects %s for R1..R5; want %s", s.Name, got.String(), want[s.Name])
		}
		if s.Expect[NoRace] != NoExpectation {
			t.Errorf("%s has expectation %v for NoRace; want none", s.Name, s.Expect[NoRace])
		}
	}
}

// TestPlansRespectModel spot-checks the plans against docs/MODEL.md.
func TestPlansRespectModel(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		op       Op
		want     string
	}{
		{"none", OpReadFault, "-"},         // R2: page fill without IL
		{"none", OpWriteCleanup, "-"},      // R1: cleanup without IL
		{"none", OpFsyncLog, "IO(X)"},      // R5: fsync without MK(X) or ER
		{"none", OpWriteFault, "IL(S)"},    // R4: conversion under IL(S); no MK
		{"rwsem", OpReadFault, "IL(S)"},    // the invalidate_lock fix
		{"rwsem", OpRead, "IL(S)"},         // a page fill, never MK
		{"rwsem", OpWriteCleanup, "IL(X)"}, // the XFS fix
		{"rwsem", OpWriteFault, "IL(S) MK(S)"},
		{"rwsem", OpFsyncLog, "IO(X) MK(X)"}, // the btrfs fix: i_mmap_lock, not IL
		{"rwsem", OpPunch, "IL(X)"},
		{"seqcount", OpWriteFault, "IL(S) MK(S)"},
		{"faultretry", OpFsyncLog, "IO(X) MK(X)"},
		{"rangelock", OpFsyncLog, "IO(X) ER(X 0..max)"},
		{"rangelock", OpWriteFault, "ER(X range)"},
		{"rangelock", OpReadFault, "ER(S range)"}, // btrfs readpage locks the extent range
		{"rangelock", OpRead, "ER(S range)"},
		{"rangelock", OpWritebackEnd, "ER(X range)"},
	} {
		s, _ := New(tc.strategy, Options{})
		if got := s.Plan(tc.op).Locks(); got != tc.want {
			t.Errorf("%s.Plan(%s) = %s; want %s", tc.strategy, tc.op, got, tc.want)
		}
	}
	if !(SeqCount{}).Mechanisms().ValidateMappings || (RWSem{}).Mechanisms().ValidateMappings {
		t.Error("only seqcount validates mappings")
	}
	if (FaultRetry{}).Mechanisms().Retry == nil || (None{}).Mechanisms().Retry != nil {
		t.Error("only faultretry retries")
	}
	if !(None{}).Mechanisms().UnsafeCleanup || (RWSem{}).Mechanisms().UnsafeCleanup {
		t.Error("only none has the unsafe cleanup")
	}
}

// TestMKOnlyWriteFaultAndFsync: in every strategy MK is taken shared by
// page_mkwrite only and exclusive by fsync only, so an fsync's MK(X) can
// stall write faults and nothing else (the btrfs claim); read() and page
// fills take no IO beyond the XFS option.
func TestMKOnlyWriteFaultAndFsync(t *testing.T) {
	for _, n := range Names() {
		s, _ := New(n, Options{})
		for op := Op(0); op < NumOps; op++ {
			p := s.Plan(op)
			switch {
			case p.MK == Shared && op != OpWriteFault:
				t.Errorf("%s.Plan(%s) takes MK(S); only write-fault may", n, op)
			case p.MK == Exclusive && op != OpFsyncLog:
				t.Errorf("%s.Plan(%s) takes MK(X); only fsync-log may", n, op)
			}
			if (op == OpRead || op == OpReadFault) && p.IO != Skip {
				t.Errorf("%s.Plan(%s) takes IO(%s); page fills take no inode lock", n, op, p.IO)
			}
		}
		wf, fl := s.Plan(OpWriteFault), s.Plan(OpFsyncLog)
		if (wf.MK == Shared) != (fl.MK == Exclusive) {
			t.Errorf("%s: write-fault MK %s, fsync-log MK %s; want both or neither", n, wf.MK, fl.MK)
		}
	}
}

// TestBaseline: the baseline is the strategy expected violated on every
// race, and only options-taking strategies record options.
func TestBaseline(t *testing.T) {
	if got := Baseline(); got != "none" {
		t.Errorf("Baseline() = %q; want none", got)
	}
	o := Options{GUPShare: 0.5, Fallback: "sigbus"}
	for _, s := range All {
		want := ""
		if s.Name == "faultretry" {
			want = "gup-share=0.5,fallback=sigbus,retry-contended=false"
		}
		if got := s.OptionsString(o); got != want {
			t.Errorf("%s.OptionsString(%+v) = %q; want %q", s.Name, o, got, want)
		}
	}
}
