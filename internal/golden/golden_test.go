package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// numbered returns lines "line 1".."line n".
func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("line %d", i+1)
	}
	return out
}

func TestDiffEqual(t *testing.T) {
	if d := Diff("a\nb\n", "a\nb\n"); d != "" {
		t.Errorf("Diff of equal texts = %q; want empty", d)
	}
}

// One inserted line is one "+" line with its context, not every line below
// it shifted (the regression: a positional diff listed 50 changed lines).
func TestDiffInsertedLine(t *testing.T) {
	w := numbered(100)
	g := append(append(append([]string{}, w[:50]...), "new"), w[50:]...)
	got := Diff(strings.Join(w, "\n"), strings.Join(g, "\n"))
	want := "@@ golden line 49, got line 49 @@\n  line 49\n  line 50\n+ new\n  line 51\n  line 52\n"
	if got != want {
		t.Errorf("Diff = %q; want %q", got, want)
	}
}

func TestDiffDeletedAndChanged(t *testing.T) {
	w := numbered(30)
	g := append([]string{}, w...)
	g = append(g[:3], g[4:]...) // delete line 4
	g[20] = "changed"           // was line 22
	got := Diff(strings.Join(w, "\n"), strings.Join(g, "\n"))
	want := "@@ golden line 2, got line 2 @@\n  line 2\n  line 3\n- line 4\n  line 5\n  line 6\n" +
		"@@ golden line 20, got line 19 @@\n  line 20\n  line 21\n- line 22\n+ changed\n  line 23\n  line 24\n"
	if got != want {
		t.Errorf("Diff = %q; want %q", got, want)
	}
}

func TestDiffCapped(t *testing.T) {
	w := numbered(500)
	g := make([]string, len(w))
	for i := range g {
		g[i] = w[i] + "x"
	}
	got := Diff(strings.Join(w, "\n"), strings.Join(g, "\n"))
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != MaxLines+2 || !strings.HasPrefix(lines[len(lines)-1], "... and ") {
		t.Errorf("Diff of 1000 changed lines has %d lines ending %q; want %d ending with the count left out",
			len(lines), lines[len(lines)-1], MaxLines+2)
	}
	if want := fmt.Sprintf("... and %d more changed lines", 1000-MaxLines); lines[len(lines)-1] != want {
		t.Errorf("last line %q; want %q", lines[len(lines)-1], want)
	}
}

// Past maxCells the middle is shown as removed then added, still between
// the common prefix and suffix.
func TestDiffFallback(t *testing.T) {
	defer func(old int) { maxCells = old }(maxCells)
	maxCells = 1
	got := Diff("a\nb\nc\nz", "a\nx\ny\nz")
	want := "@@ golden line 1, got line 1 @@\n  a\n- b\n- c\n+ x\n+ y\n  z\n"
	if got != want {
		t.Errorf("Diff = %q; want %q", got, want)
	}
}

// recorder is a testing.TB that keeps the failures Check reports.
type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.failed = append(r.failed, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = append(r.failed, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatal(a ...any)            { r.failed = append(r.failed, fmt.Sprint(a...)) }

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.golden")
	r := &recorder{TB: t}
	Check(r, path, []byte("a\n"), false, "go test -update")
	if len(r.failed) != 1 || !strings.Contains(r.failed[0], "go test -update") {
		t.Errorf("missing golden: %q; want one failure naming the update command", r.failed)
	}
	r.failed = nil
	Check(r, path, []byte("a\n"), true, "go test -update")
	if b, err := os.ReadFile(path); err != nil || string(b) != "a\n" || len(r.failed) != 0 {
		t.Errorf("update wrote %q, %v (failures %q); want the output", b, err, r.failed)
	}
	Check(r, path, []byte("a\n"), false, "go test -update")
	if len(r.failed) != 0 {
		t.Errorf("equal output failed: %q", r.failed)
	}
	Check(r, path, []byte("b\n"), false, "go test -update")
	if len(r.failed) != 1 || !strings.Contains(r.failed[0], "- a\n+ b") {
		t.Errorf("changed output: %q; want one failure with the diff", r.failed)
	}
}

// FuzzEdits: the edit script rebuilds both texts (equal and removed lines
// are want, equal and added lines are got, in order, at their line
// numbers), through the LCS and through the positional fallback.
func FuzzEdits(f *testing.F) {
	f.Add("a\nb\nc", "a\nx\nc", false)
	f.Add("", "a\n", true)
	f.Add("x\nx\ny", "y\nx\nx\nx", false)
	f.Fuzz(func(t *testing.T, want, got string, fallback bool) {
		if fallback {
			defer func(old int) { maxCells = old }(maxCells)
			maxCells = 0
		}
		w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
		var rw, rg []string
		for _, o := range edits(w, g) {
			if o.kind != '+' {
				if o.wl != len(rw)+1 {
					t.Fatalf("%q: want line number %d; want %d", o.text, o.wl, len(rw)+1)
				}
				rw = append(rw, o.text)
			}
			if o.kind != '-' {
				if o.gl != len(rg)+1 {
					t.Fatalf("%q: got line number %d; want %d", o.text, o.gl, len(rg)+1)
				}
				rg = append(rg, o.text)
			}
		}
		if strings.Join(rw, "\n") != want || strings.Join(rg, "\n") != got {
			t.Fatalf("edits rebuild %q and %q; want %q and %q", rw, rg, want, got)
		}
		if (Diff(want, got) == "") != (want == got) {
			t.Fatalf("Diff(%q, %q) empty: %v; want empty exactly when equal", want, got, want != got)
		}
	})
}
