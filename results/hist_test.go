package results

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// testHists are histograms of the shapes a study records and the edges of
// the geometry: empty, one value, the highest trackable value, huge
// counts, a timer's comb, the lock accounting's 2 significant figures,
// other lowest values and precisions.
func testHists() map[string]*hdrhistogram.Histogram {
	rng := rand.New(rand.NewPCG(3, 4))
	hs := map[string]*hdrhistogram.Histogram{}
	add := func(name string, lo, hi int64, sig int, fill func(h *hdrhistogram.Histogram)) {
		h := hdrhistogram.New(lo, hi, sig)
		fill(h)
		hs[name] = h
	}
	add("empty", 1, 100_000_000_000, 3, func(*hdrhistogram.Histogram) {})
	add("one", 1, 100_000_000_000, 3, func(h *hdrhistogram.Histogram) { h.RecordValue(1) })
	add("highest", 1, 100_000_000_000, 3, func(h *hdrhistogram.Histogram) { h.RecordValue(100_000_000_000) })
	add("huge counts", 1, 100_000_000_000, 3, func(h *hdrhistogram.Histogram) {
		h.RecordValues(150, 1<<50)
		h.RecordValues(151, 3)
		h.RecordValues(90_000, 1<<40)
	})
	add("lognormal", 1, 100_000_000_000, 3, func(h *hdrhistogram.Histogram) {
		for range 50_000 {
			h.RecordValue(int64(math.Exp(6 + 1.5*rng.NormFloat64())))
		}
	})
	add("comb", 1, 100_000_000_000, 3, func(h *hdrhistogram.Histogram) {
		for range 50_000 {
			ticks := 40 + rng.IntN(400)
			h.RecordValue(int64(float64(ticks) / 2.1)) // a 2.1 GHz TSC in ns
		}
	})
	add("lock", 1, 100_000_000_000, 2, func(h *hdrhistogram.Histogram) {
		for range 5000 {
			h.RecordValue(int64(rng.ExpFloat64() * 3000))
		}
	})
	for sig := 1; sig <= 5; sig++ {
		add("sig"+string(rune('0'+sig)), 1000, 1_000_000_000, sig, func(h *hdrhistogram.Histogram) {
			for range 2000 {
				h.RecordValue(1000 + int64(rng.ExpFloat64()*1e6))
			}
		})
	}
	return hs
}

// sameCounts reports whether a and b have the same geometry and counts.
func sameCounts(a, b *hdrhistogram.Histogram) bool {
	x, y := a.Export(), b.Export()
	return x.LowestTrackableValue == y.LowestTrackableValue && x.HighestTrackableValue == y.HighestTrackableValue &&
		x.SignificantFigures == y.SignificantFigures && reflect.DeepEqual(x.Counts, y.Counts)
}

// TestCompactHistExact: the compact form holds every count exactly: read
// back, it re-encodes to HDR's form byte for byte, and it is smaller.
func TestCompactHistExact(t *testing.T) {
	for name, h := range testHists() {
		s, err := EncodeHist(h)
		if err != nil {
			t.Fatal(err)
		}
		c := CompactHist(s)
		if !HistCompact(c) {
			t.Errorf("%s: CompactHist kept HDR's form", name)
			continue
		}
		if slow := compactSlow(s); slow != c {
			t.Errorf("%s: CompactHist and compactSlow (through the dense counts) differ", name)
		}
		if CompactHist(c) != c {
			t.Errorf("%s: CompactHist of a compact histogram changed it", name)
		}
		d, err := DecodeHist(c)
		if err != nil {
			t.Errorf("%s: DecodeHist(compact) = %v", name, err)
			continue
		}
		if back, _ := EncodeHist(d); back != s {
			t.Errorf("%s: the compact form re-encodes to other bytes than HDR's", name)
		}
		if !sameCounts(d, h) || d.TotalCount() != h.TotalCount() || d.Max() != h.Max() || d.Min() != h.Min() {
			t.Errorf("%s: read back with other counts: total %d, min %d, max %d; want %d, %d, %d",
				name, d.TotalCount(), d.Min(), d.Max(), h.TotalCount(), h.Min(), h.Max())
		}
		if h.TotalCount() > 1000 && len(c) >= len(s) {
			t.Errorf("%s: compact form %d bytes, HDR's %d; want it smaller", name, len(c), len(s))
		}
		old, err := DecodeHist(s)
		if err != nil || !sameCounts(old, h) {
			t.Errorf("%s: DecodeHist(HDR's form) = %v, or other counts", name, err)
		}
	}
}

// TestCompactHistKeepsWhatItCannotHold: what is not an HDR histogram, or
// holds a conversion ratio, is kept as it is, never made lossy.
func TestCompactHistKeepsWhatItCannotHold(t *testing.T) {
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("not a histogram"))} {
		if got := CompactHist(s); got != s {
			t.Errorf("CompactHist(%q) = %q; want it unchanged", s, got)
		}
	}
	h := hdrhistogram.New(1, 1000, 2)
	h.RecordValue(5)
	snap := h.Export()
	snap.IntegerToDoubleConversionRatio = 0.5
	s, err := EncodeHist(hdrhistogram.Import(snap))
	if err != nil {
		t.Fatal(err)
	}
	if got := CompactHist(s); got != s {
		t.Error("CompactHist of a histogram with a conversion ratio changed it; want it kept in HDR's form")
	}
}

// TestDecodeHistCorrupt: a damaged compact histogram is an error naming
// the histogram, never a wrong one: every truncation fails, and so does
// a payload with bytes after its end.
func TestDecodeHistCorrupt(t *testing.T) {
	s, _ := EncodeHist(testHists()["lognormal"])
	c := CompactHist(s)
	payload, err := base64.StdEncoding.DecodeString(c[len(histCompactPrefix):])
	if err != nil {
		t.Fatal(err)
	}
	enc := func(b []byte) string { return histCompactPrefix + base64.StdEncoding.EncodeToString(b) }
	for n := range len(payload) {
		if _, err := DecodeHist(enc(payload[:n])); err == nil {
			t.Fatalf("DecodeHist(first %d of %d bytes) = nil error; want one", n, len(payload))
		}
	}
	if _, err := DecodeHist(enc(append(bytes.Clone(payload), 0))); err == nil {
		t.Error("DecodeHist(payload and a byte more) = nil error; want one")
	}
	if _, err := DecodeHist(histCompactPrefix + "@@@"); err == nil || !strings.Contains(err.Error(), "histogram") {
		t.Errorf("DecodeHist(bad base64) = %v; want an error naming the histogram", err)
	}
	// A flipped byte either fails or decodes to a valid histogram; the
	// total's check catches nearly all.
	caught := 0
	for i := range payload {
		b := bytes.Clone(payload)
		b[i] ^= 0x55
		if _, err := DecodeHist(enc(b)); err != nil {
			caught++
		}
	}
	if caught < len(payload)*9/10 {
		t.Errorf("%d of %d flipped bytes caught; want nearly all", caught, len(payload))
	}
}

// FuzzDecodeHist: whatever the payload, DecodeHist returns a histogram or
// an error, never panics; a histogram it returns compacts and reads back
// to the same counts.
func FuzzDecodeHist(f *testing.F) {
	for _, h := range testHists() {
		s, _ := EncodeHist(h)
		b, _ := base64.StdEncoding.DecodeString(CompactHist(s)[len(histCompactPrefix):])
		f.Add(b)
	}
	f.Add([]byte{3, 1, 100, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHist(histCompactPrefix + base64.StdEncoding.EncodeToString(b))
		if err != nil {
			return
		}
		s, err := EncodeHist(h)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeHist(CompactHist(s))
		if err != nil || !sameCounts(back, h) {
			t.Fatalf("a decoded histogram did not survive compacting: %v", err)
		}
	})
}

// FuzzCompactHist: any values recorded at any geometry survive the compact
// form exactly.
func FuzzCompactHist(f *testing.F) {
	f.Add(int64(1), int64(100_000_000_000), uint8(3), []byte{1, 2, 3, 200, 7, 7, 7})
	f.Add(int64(1000), int64(2000), uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, lo, hi int64, sig uint8, vals []byte) {
		if lo < 1 || lo > 1<<40 || hi < 2*lo || hi > 1<<50 || sig > 5 {
			return
		}
		h := hdrhistogram.New(lo, hi, int(sig))
		for i := 0; i+1 < len(vals); i += 2 {
			h.RecordValues(lo+int64(vals[i])<<(vals[i+1]%40), int64(vals[i+1])+1)
		}
		s, err := EncodeHist(h)
		if err != nil {
			return
		}
		c := CompactHist(s)
		if slow := compactSlow(s); slow != c {
			t.Fatal("CompactHist and compactSlow differ")
		}
		d, err := DecodeHist(c)
		if err != nil {
			t.Fatalf("DecodeHist(CompactHist) = %v", err)
		}
		if back, _ := EncodeHist(d); back != s {
			t.Fatal("compact round trip changed the histogram")
		}
	})
}

// TestSeriesSummary: a summarised series keeps each kind's windows
// without an operation (what a stall share reads), reads back from JSON,
// and is not charted.
func TestSeriesSummary(t *testing.T) {
	s := NewSeries(time.Millisecond, []Window{
		{Ops: map[string]int64{"store": 3}, P99: map[string]int64{"store": 90}},
		{Ops: map[string]int64{"store": 0, "fsync": 1}},
		{Ops: map[string]int64{"store": 2}},
		{},
	})
	sum := s.Summary()
	if !s.Charted() || sum.Charted() || !sum.Summarized || sum.Len() != 4 || sum.Width != time.Millisecond {
		t.Fatalf("summary %+v of a 4-window series; want 4 windows of 1ms, summarised, not charted", sum)
	}
	for _, op := range []string{"store", "fsync", "load"} {
		if got, want := sum.ZeroWindows(op), s.ZeroWindows(op); got != want {
			t.Errorf("ZeroWindows(%s) = %d from the summary, %d from the columns", op, got, want)
		}
	}
	if s.ZeroWindows("store") != 2 || s.ZeroWindows("fsync") != 3 || s.ZeroWindows("load") != 4 {
		t.Errorf("ZeroWindows from the columns: store %d, fsync %d, load %d; want 2, 3, 4",
			s.ZeroWindows("store"), s.ZeroWindows("fsync"), s.ZeroWindows("load"))
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	var back Series
	if err := back.UnmarshalJSON(b); err != nil || !reflect.DeepEqual(&back, sum) {
		t.Errorf("summary read back as %+v (%v); want %+v", back, err, sum)
	}
	for _, bad := range []string{
		`{"width_ns": 1, "windows": 2, "summarized": true, "kinds": [{"op": "store", "ops": [1, 2], "p99_ns": [1, 1]}]}`,
		`{"width_ns": 1, "windows": 2, "summarized": true, "kinds": [{"op": "store", "zero_windows": 3}]}`,
		`{"width_ns": 1, "windows": 1, "kinds": [{"op": "store", "ops": [1], "p99_ns": [1], "zero_windows": 1}]}`,
		`{"width_ns": 1, "windows": -1, "kinds": []}`,
	} {
		var x Series
		if err := x.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s) = nil error; want one", bad)
		}
	}
}

// TestCompactCell: Compact leaves the cell it is given as it was, and the
// schema 4 file it writes reads back with the same histograms, the charted
// repetition whole and the later ones summarised.
func TestCompactCell(t *testing.T) {
	f := studyFile()
	c := f.Cells[0]
	h0 := c.Reps[1].Ops[0].Hist
	cc := c.Compact()
	if c.Reps[1].Ops[0].Hist != h0 || c.Reps[1].Series.Summarized || len(c.Reps[1].Exclusive) == 0 {
		t.Fatal("Compact changed the cell it was given")
	}
	if !reflect.DeepEqual(cc.Reps[0].Series, c.Reps[0].Series) || !reflect.DeepEqual(cc.Reps[0].Exclusive, c.Reps[0].Exclusive) {
		t.Error("Compact changed the charted repetition's series or events")
	}
	var buf bytes.Buffer
	if err := Encode(&buf, &File{Schema: SchemaVersion, Tool: "lockbench", Cells: []Cell{c}}, true); err != nil {
		t.Fatal(err)
	}
	g, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for ri, r := range g.Cells[0].Reps {
		want := c.Reps[ri]
		if (ri > 0) != r.Series.Summarized || (ri > 0) != (r.Exclusive == nil) {
			t.Errorf("rep %d: summarised %v with %d events", ri, r.Series.Summarized, len(r.Exclusive))
		}
		for _, op := range []string{"store", "load", "write-fault", "fsync", "writeback"} {
			if r.Series.ZeroWindows(op) != want.Series.ZeroWindows(op) {
				t.Errorf("rep %d %s: %d windows without an operation; want %d", ri, op, r.Series.ZeroWindows(op), want.Series.ZeroWindows(op))
			}
		}
		for oi, o := range r.Ops {
			if !HistCompact(o.Hist) {
				t.Errorf("rep %d %s: histogram not in the compact form", ri, o.Op)
			}
			a, err1 := DecodeHist(o.Hist)
			b, err2 := DecodeHist(want.Ops[oi].Hist)
			if err1 != nil || err2 != nil || !sameCounts(a, b) {
				t.Errorf("rep %d %s: histogram read back with other counts (%v, %v)", ri, o.Op, err1, err2)
			}
		}
	}
}
