package reports

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"lockbench/results"
)

// reencode writes f as a results file of the given schema (gzip) and reads
// it back: a deep copy, compacted when schema is 4 or later.
func reencode(t *testing.T, f *results.File, schema int) *results.File {
	t.Helper()
	g := *f
	g.Schema = schema
	var buf bytes.Buffer
	if err := results.Encode(&buf, &g, true); err != nil {
		t.Fatal(err)
	}
	out, err := results.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// seriesEveryRep is the study fixture as a study writes it before
// schema 4: every repetition of a cell with a series has one (the later
// ones with some windows emptied, so that their stall shares differ) and
// its exclusive events, and the histograms are in HDR's encoding.
func seriesEveryRep(t *testing.T) *results.File {
	f := reencode(t, studyFixture(), 3)
	for ci := range f.Cells {
		c := &f.Cells[ci]
		first := c.Reps[0].Series
		if !first.Charted() {
			continue
		}
		for ri := 1; ri < len(c.Reps); ri++ {
			s := &results.Series{Width: first.Width, Windows: first.Windows}
			for _, k := range first.Kinds {
				k.Ops = append([]int64(nil), k.Ops...)
				k.P99 = append([]int64(nil), k.P99...)
				for i := range k.Ops {
					if (i*7+ri*3+ci)%(5+ri) == 0 {
						k.Ops[i], k.P99[i] = 0, 0
					}
				}
				s.Kinds = append(s.Kinds, k)
			}
			c.Reps[ri].Series = s
			c.Reps[ri].Exclusive = c.Reps[0].Exclusive
		}
	}
	return f
}

// TestReportsSameFromCompactFile: every report format but json (which
// prints the file as it is) and `report base new` read the same from a
// study written in schema 4's compact form as from the same study in
// schema 3's form, stall shares of every repetition included. -short
// leaves out the HTML pages (their charts take most of the time).
func TestReportsSameFromCompactFile(t *testing.T) {
	old := seriesEveryRep(t)
	compact := reencode(t, old, results.SchemaVersion)
	hists, summaries := 0, 0
	for _, c := range compact.Cells {
		for _, r := range c.Reps {
			for _, o := range r.Ops {
				if results.HistCompact(o.Hist) {
					hists++
				}
			}
			if r.Series != nil && r.Series.Summarized {
				summaries++
				if len(r.Exclusive) != 0 {
					t.Errorf("%s rep %d: summarised series with %d exclusive events; want none", c.Config.Strategy, r.Index, len(r.Exclusive))
				}
			}
		}
	}
	if hists == 0 || summaries == 0 {
		t.Fatalf("compact file: %d compact histograms, %d summarised series; want both", hists, summaries)
	}
	for _, format := range Formats {
		if format == "json" || format == "html" && testing.Short() {
			continue // html draws every chart: seconds, a minute under -race
		}
		var a, b bytes.Buffer
		if err := Render(&a, format, old); err != nil {
			t.Fatal(err)
		}
		if err := Render(&b, format, compact); err != nil {
			t.Fatal(err)
		}
		// The text report names the file's schema.
		want := strings.Replace(a.String(), "(schema 3)", "(schema 4)", 1)
		if want != b.String() {
			t.Errorf("format %s: %d bytes from the schema 3 form, %d from the compact one, not the same", format, a.Len(), b.Len())
		}
	}
	fa, fb := Findings(old), Findings(compact)
	stalls := 0
	for _, f := range fa {
		if strings.HasPrefix(f.Measure, "stall(") {
			stalls++
		}
	}
	if stalls == 0 {
		t.Error("no finding of a stall share; the test must cover one")
	}
	if !reflect.DeepEqual(fa, fb) {
		t.Error("findings differ between the schema 3 form and the compact one")
	}
	base := reencode(t, fixture(), 3)
	for name, cmp := range map[string]func(w *bytes.Buffer, base, new *results.File) error{
		"text": func(w *bytes.Buffer, b, n *results.File) error { return CompareText(w, b, n) },
		"html": func(w *bytes.Buffer, b, n *results.File) error { return CompareHTML(w, b, n) },
	} {
		if name == "html" && testing.Short() {
			continue
		}
		var a, b bytes.Buffer
		if err := cmp(&a, base, old); err != nil {
			t.Fatal(err)
		}
		if err := cmp(&b, reencode(t, base, results.SchemaVersion), compact); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("report base new (%s): not the same from the compact files", name)
		}
	}
}

// TestReportsSameFromRewrittenSchema2: a schema 2 file rewritten in
// schema 4 reports the same.
func TestReportsSameFromRewrittenSchema2(t *testing.T) {
	fh, err := os.Open("../results/testdata/schema2.json")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	old, err := results.Read(fh)
	if err != nil {
		t.Fatal(err)
	}
	compact := reencode(t, old, results.SchemaVersion)
	for _, format := range []string{"text", "csv", "bench", "findings", "html"} {
		var a, b bytes.Buffer
		if err := Render(&a, format, old); err != nil {
			t.Fatal(err)
		}
		if err := Render(&b, format, compact); err != nil {
			t.Fatal(err)
		}
		// The text report names the file's schema.
		got := strings.Replace(b.String(), "(schema 4)", "(schema 2)", 1)
		if got != a.String() {
			t.Errorf("format %s: the schema 2 file rewritten in schema 4 reports differently", format)
		}
	}
}
