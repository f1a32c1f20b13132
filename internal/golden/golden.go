// Package golden compares a test's output with a golden file under testdata
// and rewrites the file when the test binary's -update flag is set. Each
// package's tests own that flag (var update = flag.Bool("update", ...)) and
// pass its value; this package registers no flags.
//
// A mismatch is reported as a line diff that aligns the two texts on their
// longest common subsequence of lines, so one inserted or deleted line shows
// as that one line, not as every line after it.
package golden

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Check compares got with the file at path, or with update writes got there
// (creating its directory). The hint names the command that accepts a change,
// such as "go test ./reports/ -update".
func Check(t testing.TB, path string, got []byte, update bool, hint string) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `%s` to create it)", err, hint)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-golden +got; run `%s` to accept):\n%s", path, hint, Diff(string(want), string(got)))
	}
}

// Context is how many equal lines Diff shows around each change, and
// MaxLines how many lines of diff it shows at most.
const (
	Context  = 2
	MaxLines = 60
)

// maxCells bounds the LCS table (lines of want x lines of got, after the
// common prefix and suffix are trimmed); past it Diff pairs lines by
// position, as a last resort that still shows where the texts part.
var maxCells = 16 << 20

// Diff returns a line diff of want and got, "" when they are equal: hunks
// headed "@@ golden line W, got line G @@", equal lines indented by two
// spaces, removed ones prefixed "- " and added ones "+ ", at most MaxLines
// lines.
func Diff(want, got string) string {
	if want == got {
		return ""
	}
	return format(edits(strings.Split(want, "\n"), strings.Split(got, "\n")))
}

// op is one line of an edit script: ' ' equal, '-' only in want, '+' only in
// got, with the line's 1-based numbers in want and got.
type op struct {
	kind   byte
	text   string
	wl, gl int
}

// edits is the edit script from w to g: the common prefix and suffix, and
// between them an LCS alignment.
func edits(w, g []string) []op {
	p := 0
	for p < len(w) && p < len(g) && w[p] == g[p] {
		p++
	}
	s := 0
	for s < len(w)-p && s < len(g)-p && w[len(w)-1-s] == g[len(g)-1-s] {
		s++
	}
	var out []op
	for i := range p {
		out = append(out, op{' ', w[i], i + 1, i + 1})
	}
	out = append(out, middle(w[p:len(w)-s], g[p:len(g)-s], p)...)
	for k := s; k > 0; k-- {
		i, j := len(w)-k, len(g)-k
		out = append(out, op{' ', w[i], i + 1, j + 1})
	}
	return out
}

// middle aligns w and g, which start at line off+1 of both texts.
func middle(w, g []string, off int) []op {
	n, m := len(w), len(g)
	var out []op
	if n*m > maxCells {
		for i := range n {
			out = append(out, op{'-', w[i], off + i + 1, off + 1})
		}
		for j := range m {
			out = append(out, op{'+', g[j], off + n + 1, off + j + 1})
		}
		return out
	}
	// lcs[i][j] is the LCS length of w[i:] and g[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && w[i] == g[j]:
			out = append(out, op{' ', w[i], off + i + 1, off + j + 1})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, op{'-', w[i], off + i + 1, off + j + 1})
			i++
		default:
			out = append(out, op{'+', g[j], off + i + 1, off + j + 1})
			j++
		}
	}
	return out
}

// format writes the changes of ops with Context equal lines around each,
// one hunk header per run of shown lines, cut at MaxLines.
func format(ops []op) string {
	show := make([]bool, len(ops))
	changes := 0
	for k, o := range ops {
		if o.kind == ' ' {
			continue
		}
		changes++
		for c := max(0, k-Context); c <= min(len(ops)-1, k+Context); c++ {
			show[c] = true
		}
	}
	var b strings.Builder
	lines, shownChanges := 0, 0
	for k, o := range ops {
		if !show[k] {
			continue
		}
		if lines >= MaxLines {
			fmt.Fprintf(&b, "... and %d more changed lines\n", changes-shownChanges)
			break
		}
		if k == 0 || !show[k-1] {
			fmt.Fprintf(&b, "@@ golden line %d, got line %d @@\n", o.wl, o.gl)
		}
		fmt.Fprintf(&b, "%c %s\n", o.kind, o.text)
		lines++
		if o.kind != ' ' {
			shownChanges++
		}
	}
	return b.String()
}
