package reports

import (
	"os"
	"strings"
	"testing"

	"lockbench/results"
)

// TestChartNamesBounded: issue 22 item 15. A target path of about 230
// characters made chart names too long for the filesystem ("file name
// too long") and left a half-written report directory.
func TestChartNamesBounded(t *testing.T) {
	f := fixture()
	long := "dir:/" + strings.Repeat("very-long-directory-name/", 12)
	for i := range f.Cells {
		f.Cells[i].Config.Target = long
	}
	dir := t.TempDir()
	if err := WriteReportDir(dir, []*results.File{f}); err != nil {
		t.Fatalf("WriteReportDir with a %d-character target = %v", len(long), err)
	}
	ents, _ := os.ReadDir(dir)
	seen := map[string]bool{}
	for _, e := range ents {
		if len(e.Name()) > maxChartName {
			t.Errorf("%s: %d bytes, over %d", e.Name(), len(e.Name()), maxChartName)
		}
		seen[e.Name()] = true
	}
	if !seen["index.html"] || len(ents) < 2 {
		t.Errorf("report directory holds %d files; want index.html and the charts", len(ents))
	}
	if a, b := boundName(strings.Repeat("a", 200)+"x.png"), boundName(strings.Repeat("a", 200)+"y.png"); a == b {
		t.Errorf("two long names bound to the same %s", a)
	}
}
