// Package reports turns a results file into what people read: summaries
// over repetitions with confidence intervals and comparisons against the
// unsafe baseline (summary.go, on the statistics in stats.go), and
// renderers picked by name: a text table, the JSON file itself, CSV, Go
// benchmark format for benchstat, PNG charts and one self-contained HTML
// page.
//
// Data flows one way, as in vegeta's `attack | report`: the results file is
// the input; Summarize derives the summaries from it (a pure function of the
// file, called by each renderer that needs them), and each renderer only
// formats. Renderers are pure: they write to an io.Writer and return every write error; where
// files are made durable is results.WriteFile's business, not theirs.
// reports reads results and desc.Machine as plain data; of the rest of
// lockbench it imports only internal/benchname, the one builder of benchmark
// names (for the bench renderer).
package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"lockbench/results"
)

// Reporter renders results files to w, as vegeta's reporters do: a
// format name picks one from reporters, and cmd calls it without knowing
// which it is.
type Reporter func(w io.Writer, files []*results.File) error

// reporters is the one table of formats: the flag help, the unknown-format
// error and the test that renders every format all read it. A per-file
// format renders each file in turn; html puts them side by side.
var reporters = []struct {
	name string
	r    Reporter
}{
	{"text", perFile(func(w io.Writer, f *results.File) error { return writeText(w, f, Summarize(f)) })},
	{"json", writeJSON},
	{"csv", perFile(writeCSV)},
	{"bench", perFile(writeBench)},
	{"findings", perFile(WriteFindings)},
	{"html", WriteHTML},
}

// Formats lists the reporters' names in the order the flag help shows
// them.
var Formats = func() []string {
	var out []string
	for _, r := range reporters {
		out = append(out, r.name)
	}
	return out
}()

// perFile makes a Reporter of a renderer of one file.
func perFile(render func(io.Writer, *results.File) error) Reporter {
	return func(w io.Writer, files []*results.File) error {
		for _, f := range files {
			if err := render(w, f); err != nil {
				return err
			}
		}
		return nil
	}
}

// NewReporter returns the reporter of a format name (one of Formats).
func NewReporter(format string) (Reporter, error) {
	for _, r := range reporters {
		if r.name == format {
			return r.r, nil
		}
	}
	return nil, fmt.Errorf("unknown format %q (allowed: %s)", format, strings.Join(Formats, ", "))
}

// Render writes f to w in the named format (one of Formats).
func Render(w io.Writer, format string, f *results.File) error {
	r, err := NewReporter(format)
	if err != nil {
		return err
	}
	return r(w, []*results.File{f})
}

// writeJSON writes the results file itself, indented as results.WriteFile
// writes it, plus "kernel_terms" when a cell has any (kernel.go): a
// results reader ignores that field, so the output still reads as the file.
// Several files are one JSON document, an array of them in order
// (concatenated documents are not JSON), each with its kernel_terms.
func writeJSON(w io.Writer, files []*results.File) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if len(files) == 1 {
		return enc.Encode(jsonDoc(files[0]))
	}
	docs := make([]any, len(files))
	for i, f := range files {
		docs[i] = jsonDoc(f)
	}
	return enc.Encode(docs)
}

// jsonDoc is f as the json format writes it: f itself, or f with its
// kernel_terms.
func jsonDoc(f *results.File) any {
	terms := kernelTerms(Summarize(f))
	if len(terms) == 0 {
		return f
	}
	return struct {
		*results.File
		KernelTerms []CellTerms `json:"kernel_terms"`
	}{f, terms}
}

// csvHeader names the columns of the CSV format: one row per cell,
// repetition and operation, durations in nanoseconds.
var csvHeader = []string{
	"strategy", "scenario", "threads", "target", "pin", "options", "seed",
	"rep", "incomplete", "elapsed_ns", "timer_floor_ns",
	"op", "role", "count", "per_second", "sample_every", "samples",
	"mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns",
	"violations",
}

// writeCSV writes one row per cell x repetition x operation under
// csvHeader. Violations are those of the whole repetition, repeated on
// each of its rows.
func writeCSV(w io.Writer, f *results.File) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, c := range f.Cells {
		cfg := c.Config
		for _, r := range c.Reps {
			for _, o := range r.Ops {
				row := []string{
					cfg.Strategy, cfg.Scenario, strconv.Itoa(cfg.Threads), cfg.Target, cfg.Pin, cfg.Options,
					strconv.FormatUint(cfg.Seed, 10),
					strconv.Itoa(r.Index), strconv.FormatBool(r.Incomplete || c.Incomplete),
					itoa(int64(r.Elapsed)), itoa(int64(r.TimerFloor)),
					o.Op, o.Role, itoa(o.Count), strconv.FormatFloat(o.PerSecond, 'f', -1, 64),
					strconv.Itoa(o.SampleEvery), itoa(o.Latency.Samples),
					itoa(int64(o.Latency.Mean)), itoa(int64(o.Latency.P50)), itoa(int64(o.Latency.P90)),
					itoa(int64(o.Latency.P99)), itoa(int64(o.Latency.P999)), itoa(int64(o.Latency.Max)),
					strconv.Itoa(len(r.Violations)),
				}
				if err := cw.Write(row); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
