package results

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// readFixture reads testdata/schema2.json, two cells of a `lockbench
// -quick` study as schema 2 wrote them (series as one object per window),
// cut to 2 repetitions of 6 windows.
func readFixture(t testing.TB) *File {
	t.Helper()
	fh, err := os.Open("testdata/schema2.json")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := Read(fh)
	if err != nil {
		t.Fatalf("Read(schema 2 fixture) = %v; want it read", err)
	}
	return f
}

// TestReadSchema2Series: a schema 2 file's windows become columns holding
// the same counts and p99s (values read off the fixture), with a zero
// where a window had no entry.
func TestReadSchema2Series(t *testing.T) {
	f := readFixture(t)
	if f.Schema != 2 || len(f.Cells) != 2 {
		t.Fatalf("fixture read as schema %d with %d cells; want schema 2, 2 cells", f.Schema, len(f.Cells))
	}
	s := f.Cells[0].Reps[0].Series
	if s.Len() != 6 || s.Width != time.Millisecond || s.Start(5) != 5*time.Millisecond {
		t.Fatalf("series: %d windows of %v; want 6 of 1ms", s.Len(), s.Width)
	}
	for _, c := range []struct {
		op       string
		i        int
		ops, p99 int64
	}{
		{"load", 0, 117, 4096},
		{"store", 1, 372, 4096},
		{"load", 2, 13, 0}, // no load timed in window 2
		{"writeback", 2, 0, 8192},
		{"writeback", 5, 410, 8192},
		{"read-fault", 5, 12, 1 << 20},
	} {
		k := s.Kind(c.op)
		if k == nil {
			t.Errorf("series has no %s column", c.op)
			continue
		}
		if k.Ops[c.i] != c.ops || k.P99[c.i] != c.p99 {
			t.Errorf("%s window %d: %d ops, p99 %d; want %d, %d", c.op, c.i, k.Ops[c.i], k.P99[c.i], c.ops, c.p99)
		}
	}
	if s.Kind("fsync") != nil {
		t.Error("series has an fsync column; fault-scale ran none")
	}
	r := f.Cells[1].Reps[0]
	if len(r.Exclusive) != 4 || r.Series.Len() != 6 {
		t.Errorf("fsync-storm rep: %d events, %d windows; want 4, 6", len(r.Exclusive), r.Series.Len())
	}
	for _, op := range f.Cells[0].Reps[0].Ops {
		if h, err := hdrhistogram.Decode([]byte(op.Hist)); err != nil || h.TotalCount() != op.Latency.Samples {
			t.Errorf("%s histogram: %v; want it decoded with %d samples", op.Op, err, op.Latency.Samples)
		}
	}
}

// TestEncodeRoundTrip writes the fixture both ways (gzip and indented
// JSON, each streamed a cell at a time) and reads it back unchanged; the
// streamed JSON holds what one json.Marshal of the file holds.
func TestEncodeRoundTrip(t *testing.T) {
	in := readFixture(t)
	for _, gz := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Encode(&buf, in, gz); err != nil {
			t.Fatal(err)
		}
		if got := bytes.HasPrefix(buf.Bytes(), gzipMagic); got != gz {
			t.Errorf("Encode(gz=%v) starts with the gzip magic: %v", gz, got)
		}
		text := buf.Bytes()
		if gz {
			zr, err := gzip.NewReader(bytes.NewReader(text))
			if err != nil {
				t.Fatal(err)
			}
			var plain bytes.Buffer
			if _, err := plain.ReadFrom(zr); err != nil {
				t.Fatal(err)
			}
			text = plain.Bytes()
		}
		var streamed, whole any
		if err := json.Unmarshal(text, &streamed); err != nil {
			t.Fatalf("Encode(gz=%v) wrote invalid JSON: %v", gz, err)
		}
		b, _ := json.Marshal(in)
		json.Unmarshal(b, &whole)
		if !reflect.DeepEqual(streamed, whole) {
			t.Errorf("Encode(gz=%v) holds other JSON than json.Marshal of the file", gz)
		}
		out, err := Read(&buf)
		if err != nil {
			t.Fatalf("Read(Encode(gz=%v)) = %v", gz, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("round trip (gz=%v) changed the file", gz)
		}
	}
}

// TestEncodeNoCells: a file without cells (a run interrupted before any
// repetition) is written with "cells": [] and reads back with none.
func TestEncodeNoCells(t *testing.T) {
	for _, gz := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Encode(&buf, &File{Schema: SchemaVersion, Tool: "lockbench"}, gz); err != nil {
			t.Fatal(err)
		}
		f, err := Read(bytes.NewReader(buf.Bytes()))
		if err != nil || f.Cells == nil || len(f.Cells) != 0 || f.Tool != "lockbench" {
			t.Errorf("Read(Encode(no cells, gz=%v)) = %+v, %v; want the file with an empty cell list", gz, f, err)
		}
		if !gz && !strings.Contains(buf.String(), `"cells": []`) {
			t.Errorf("Encode(no cells) = %s; want \"cells\": []", buf.String())
		}
	}
}

// TestReadDamaged: a truncated file, plain or gzip, and a series whose
// columns do not match its window count, are errors, not short files.
func TestReadDamaged(t *testing.T) {
	in := readFixture(t)
	for _, gz := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Encode(&buf, in, gz); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, buf.Len() / 2, buf.Len() - 3} {
			if _, err := Read(bytes.NewReader(buf.Bytes()[:n])); err == nil {
				t.Errorf("Read(first %d of %d bytes, gz=%v) = nil error; want one", n, buf.Len(), gz)
			}
		}
	}
	bad := `{"schema": 3, "cells": [{"reps": [{"series": {"width_ns": 1, "windows": 3, "kinds": [{"op": "store", "ops": [1], "p99_ns": [1, 2, 3]}]}}]}]}`
	if _, err := Read(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "3 windows") {
		t.Errorf("Read(series with 1 count for 3 windows) = %v; want an error naming the window count", err)
	}
}

// FuzzRead: whatever the bytes, Read returns a file or an error, never
// panics.
func FuzzRead(f *testing.F) {
	fix, err := os.ReadFile("testdata/schema2.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fix)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(fix)
	zw.Close()
	f.Add(gz.Bytes())
	f.Add([]byte(`{"schema": 3, "cells": [{"reps": [{"series": [{"start_ns": 0, "ops": {"a": 1}}]}]}]}`))
	v4 := *studyFile()
	v4.Cells = v4.Cells[:1]
	var plain bytes.Buffer
	if err := Encode(&plain, &v4, false); err != nil {
		f.Fatal(err)
	}
	f.Add(plain.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		if f, err := Read(bytes.NewReader(b)); err == nil && f == nil {
			t.Fatal("Read = nil file, nil error")
		}
	})
}

// studyFile is a results file the size of the default study's: 72 cells
// of 6 repetitions, each with 5 operations' histograms (4k to 20k
// samples, log-normal around 150 ns to 3 µs), 4 series columns of 200
// windows, 40 exclusive events and 4 lock classes. Its counts are random,
// so it compresses less than a study's file (2.4 MB for the default
// study on the 2-vCPU VM).
var studyFile = sync.OnceValue(func() *File {
	rng := rand.New(rand.NewPCG(1, 2))
	f := &File{Schema: SchemaVersion, Tool: "lockbench", Command: "lockbench", Created: time.Unix(0, 0).UTC()}
	ops := []string{"store", "load", "write-fault", "fsync", "writeback"}
	h := hdrhistogram.New(1, 100_000_000_000, 3)
	for c := range 72 {
		cell := Cell{Config: Config{Strategy: "rwsem", Scenario: "fsync-storm", Threads: 2, Reps: 6, Duration: 200 * time.Millisecond}}
		for r := range 6 {
			rep := Rep{Index: r, Elapsed: 200 * time.Millisecond}
			for i, op := range ops {
				h.Reset()
				mu := 5 + float64(i) + float64(c%7)/4
				for range 20_000 / (1 + i) {
					h.RecordValue(int64(math.Exp(mu + 0.5*rng.NormFloat64())))
				}
				enc, _ := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
				rep.Ops = append(rep.Ops, OpStats{Op: op, Role: "faulter", Count: h.TotalCount(), Hist: string(enc),
					Latency: Latency{Samples: h.TotalCount(), P50: time.Duration(h.ValueAtQuantile(50))}})
			}
			ws := make([]Window, 200)
			for i := range ws {
				ws[i] = Window{Ops: map[string]int64{}, P99: map[string]int64{}}
				for _, op := range ops[:4] {
					ws[i].Ops[op] = int64(rng.IntN(2000))
					ws[i].P99[op] = 1 << (10 + rng.IntN(8))
				}
			}
			rep.Series = NewSeries(time.Millisecond, ws)
			for i := range 40 {
				at := time.Duration(i)*5*time.Millisecond + time.Duration(rng.IntN(1e6))
				rep.Exclusive = append(rep.Exclusive, Event{Op: "fsync", Start: at, End: at + time.Duration(rng.IntN(3e6))})
			}
			for _, class := range []string{"MM", "IL", "MK", "IX"} {
				rep.Locks = append(rep.Locks, LockStat{Class: class, Role: "faulter", Source: LockSourceModel,
					Ops: int64(rng.IntN(1e6)), Contentions: int64(rng.IntN(1e4)), WaitTotal: time.Duration(rng.IntN(1e8))})
			}
			cell.Reps = append(cell.Reps, rep)
		}
		f.Cells = append(f.Cells, cell)
	}
	return f
})

// BenchmarkEncode writes a study-sized results file to memory, gzip
// (the default) and indented JSON; MB is the file's size.
//
//	go test -run '^$' -bench 'Encode|Decode' -benchmem ./results/
func BenchmarkEncode(b *testing.B) {
	f := studyFile()
	for _, gz := range []bool{true, false} {
		b.Run(fmt.Sprintf("gzip=%v", gz), func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := Encode(&buf, f, gz); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/1e6, "MB")
		})
	}
}

// BenchmarkDecode reads the file BenchmarkEncode writes.
func BenchmarkDecode(b *testing.B) {
	f := studyFile()
	for _, gz := range []bool{true, false} {
		b.Run(fmt.Sprintf("gzip=%v", gz), func(b *testing.B) {
			var buf bytes.Buffer
			if err := Encode(&buf, f, gz); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := Read(bytes.NewReader(buf.Bytes())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/1e6, "MB")
		})
	}
}

// BenchmarkStudyFile writes and reads a real study's results file, named
// by $LOCKBENCH_RESULTS (a schema 3 file; skipped without one), in schema
// 3's form and in schema 4's compact one: write is Encode (gzip), read is
// Read, read+hists is Read and every histogram decoded, as the reports
// do. MB is the file's size.
//
//	LOCKBENCH_RESULTS=lockbench-results.json.gz go test -run '^$' -bench StudyFile -benchtime 3x -count 6 ./results/
func BenchmarkStudyFile(b *testing.B) {
	path := os.Getenv("LOCKBENCH_RESULTS")
	if path == "" {
		b.Skip("LOCKBENCH_RESULTS names no results file")
	}
	f, err := ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if f.Schema >= 4 {
		b.Skipf("%s is schema %d; want a schema 3 file, to write both forms from", path, f.Schema)
	}
	for _, schema := range []int{3, SchemaVersion} {
		g := *f
		g.Schema = schema
		var buf bytes.Buffer
		b.Run(fmt.Sprintf("write/schema=%d", schema), func(b *testing.B) {
			for b.Loop() {
				buf.Reset()
				if err := Encode(&buf, &g, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/1e6, "MB")
		})
		for _, hists := range []bool{false, true} {
			name := map[bool]string{false: "read", true: "read+hists"}[hists]
			b.Run(fmt.Sprintf("%s/schema=%d", name, schema), func(b *testing.B) {
				for b.Loop() {
					r, err := Read(bytes.NewReader(buf.Bytes()))
					if err != nil {
						b.Fatal(err)
					}
					if !hists {
						continue
					}
					for _, c := range r.Cells {
						for _, rep := range c.Reps {
							for _, o := range rep.Ops {
								if o.Hist == "" {
									continue
								}
								if _, err := DecodeHist(o.Hist); err != nil {
									b.Fatal(err)
								}
							}
						}
					}
				}
				b.ReportMetric(float64(buf.Len())/1e6, "MB")
			})
		}
	}
}
