package reports

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"testing"

	"lockbench/internal/golden"
	"lockbench/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// checkGolden compares got with testdata/name, or rewrites it with -update;
// a mismatch is reported as a line diff (internal/golden).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got, *update, "go test ./reports/ -update")
}

func TestRenderGolden(t *testing.T) {
	for _, format := range Formats {
		if format == "html" {
			continue // TestHTMLGolden, with stub charts
		}
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, format, fixture()); err != nil {
				t.Fatalf("Render(%q) = %v", format, err)
			}
			checkGolden(t, "fixture."+format+".golden", buf.Bytes())
		})
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	var buf bytes.Buffer
	err := Render(&buf, "yaml", fixture())
	want := `unknown format "yaml" (allowed: text, json, csv, bench, findings, html)`
	if err == nil || err.Error() != want {
		t.Errorf("Render(yaml) = %v; want %s", err, want)
	}
	if buf.Len() != 0 {
		t.Errorf("Render(yaml) wrote %q; want nothing", buf.String())
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

// A write error at any point must come back from the renderer, never be
// swallowed (the regression: tabwriter and csv buffer their output).
func TestRenderReturnsWriteErrors(t *testing.T) {
	for _, format := range Formats {
		var full bytes.Buffer
		if err := Render(&full, format, fixture()); err != nil {
			t.Fatal(err)
		}
		for _, at := range []int{0, 10, full.Len() / 2, full.Len() - 1} {
			if err := Render(&failWriter{n: at}, format, fixture()); !errors.Is(err, errDiskFull) {
				t.Errorf("Render(%s) failing after %d of %d bytes = %v; want %v", format, at, full.Len(), err, errDiskFull)
			}
		}
	}
	files := []*results.File{fixture()}
	var full bytes.Buffer
	// Stub charts: the write path is the template's, and real charts
	// would only make this slow.
	if err := writeHTML(&full, files, stubCharts, embedPNG); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, 100, full.Len() / 2, full.Len() - 1} {
		if err := writeHTML(&failWriter{n: at}, files, stubCharts, embedPNG); !errors.Is(err, errDiskFull) {
			t.Errorf("WriteHTML failing after %d of %d bytes = %v; want %v", at, full.Len(), err, errDiskFull)
		}
	}
}
