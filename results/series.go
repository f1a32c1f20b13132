package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Series is a repetition's time series: Windows windows of Width each, the
// first starting at the measured run's start, and per operation kind a
// column of counts and of p99s, one entry per window.
//
// A summarised series (Summarized, schema 4) keeps its width, its number
// of windows and, per kind, the number of windows with no operation
// (ZeroWindows: what a finding's stall share reads) and drops the
// columns: the repetitions after the one the charts draw are kept so
// (Cell.AddRep, Compact).
//
// Note: schema 2 files held one object per window with a map of counts and
// a map of p99s (about 50 bytes a value in the file and more in memory);
// the columns hold the same values (UnmarshalJSON reads both forms).
type Series struct {
	Width   time.Duration `json:"width_ns"`
	Windows int           `json:"windows"`
	// Summarized: the kinds have no columns, only their Zero.
	Summarized bool         `json:"summarized,omitempty"`
	Kinds      []SeriesKind `json:"kinds"`
}

// SeriesKind is one operation kind's columns of a Series.
type SeriesKind struct {
	Op string `json:"op"`
	// Ops is the operations counted in each window.
	Ops []int64 `json:"ops,omitempty"`
	// P99 is each window's p99 latency in ns, 0 when no operation of the
	// window was timed. The model measures it in power-of-two buckets
	// (the bucket's upper bound, an over-estimate of at most 2x); the
	// run's percentiles come from the HDR histograms.
	P99 []int64 `json:"p99_ns,omitempty"`
	// Zero is the number of windows with no operation counted, in a
	// summarised series only (the columns hold it otherwise).
	Zero int `json:"zero_windows,omitempty"`
}

// Window is one window of a series, the form of schema 2 files and a
// convenient one to build a Series from (NewSeries).
type Window struct {
	Start time.Duration    `json:"start_ns"`
	Ops   map[string]int64 `json:"ops"`
	P99   map[string]int64 `json:"p99_ns,omitempty"`
}

// Len is the number of windows.
func (s *Series) Len() int {
	if s == nil {
		return 0
	}
	return s.Windows
}

// Charted reports whether s has its columns and at least two windows:
// what the time-series charts draw.
func (s *Series) Charted() bool { return s.Len() > 1 && !s.Summarized }

// ZeroWindows is the number of s's windows in which no op was counted
// (all of them when op never was), from the columns or the summary.
func (s *Series) ZeroWindows(op string) int {
	k := s.Kind(op)
	if k == nil {
		return s.Len()
	}
	if s.Summarized {
		return k.Zero
	}
	zero := 0
	for _, n := range k.Ops {
		if n == 0 {
			zero++
		}
	}
	return zero
}

// Summary is s summarised: the same width and windows and each kind's
// ZeroWindows, without the columns. nil for nil.
func (s *Series) Summary() *Series {
	if s == nil || s.Summarized {
		return s
	}
	out := &Series{Width: s.Width, Windows: s.Windows, Summarized: true, Kinds: make([]SeriesKind, len(s.Kinds))}
	for i, k := range s.Kinds {
		out.Kinds[i] = SeriesKind{Op: k.Op, Zero: s.ZeroWindows(k.Op)}
	}
	return out
}

// Start is when window i starts, from the measured run's start.
func (s *Series) Start(i int) time.Duration { return time.Duration(i) * s.Width }

// Kind returns op's columns, or nil when no window counted or timed op.
func (s *Series) Kind(op string) *SeriesKind {
	if s == nil {
		return nil
	}
	for i := range s.Kinds {
		if s.Kinds[i].Op == op {
			return &s.Kinds[i]
		}
	}
	return nil
}

// NewSeries builds a Series from windows that start width apart, the
// first at 0 (a window's Start is not read). Kinds are in the order they
// first appear, each window's kinds in name order.
func NewSeries(width time.Duration, ws []Window) *Series {
	s := &Series{Width: width, Windows: len(ws)}
	for i, w := range ws {
		for _, op := range sortedKeys(w.Ops, w.P99) {
			k := s.Kind(op)
			if k == nil {
				s.Kinds = append(s.Kinds, SeriesKind{Op: op, Ops: make([]int64, len(ws)), P99: make([]int64, len(ws))})
				k = &s.Kinds[len(s.Kinds)-1]
			}
			k.Ops[i], k.P99[i] = w.Ops[op], w.P99[op]
		}
	}
	return s
}

// UnmarshalJSON reads the columns, or a schema 2 array of windows (whose
// width is the distance between the first two starts).
func (s *Series) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '[' {
		var ws []Window
		if err := json.Unmarshal(b, &ws); err != nil {
			return err
		}
		var width time.Duration
		if len(ws) > 1 {
			width = ws[1].Start - ws[0].Start
		}
		*s = *NewSeries(width, ws)
		return nil
	}
	type plain Series
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Windows < 0 {
		return fmt.Errorf("series of %d windows", p.Windows)
	}
	for _, k := range p.Kinds {
		if p.Summarized {
			if len(k.Ops) != 0 || len(k.P99) != 0 || k.Zero < 0 || k.Zero > p.Windows {
				return fmt.Errorf("summarised series of %d windows: %s has columns or %d windows without an operation", p.Windows, k.Op, k.Zero)
			}
			continue
		}
		if k.Zero != 0 {
			return fmt.Errorf("series of %d windows: %s has columns and a count of windows without an operation", p.Windows, k.Op)
		}
		if len(k.Ops) != p.Windows || len(k.P99) != p.Windows {
			return fmt.Errorf("series of %d windows has %d counts and %d p99s of %s", p.Windows, len(k.Ops), len(k.P99), k.Op)
		}
	}
	*s = Series(p)
	return nil
}

// sortedKeys is the union of the maps' keys, sorted.
func sortedKeys(a, b map[string]int64) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
