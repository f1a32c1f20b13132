package hotpath

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"lockbench/hotpath/clock"
)

// fieldGap returns, for the written field w of struct type typ, the
// smallest distance in bytes between w and any other named field except
// those in with (written together with w).
func fieldGap(t *testing.T, typ reflect.Type, w string, with ...string) (gap uintptr, nearest string) {
	t.Helper()
	f, ok := typ.FieldByName(w)
	if !ok {
		t.Fatalf("%s has no field %s", typ, w)
	}
	lo, hi := f.Offset, f.Offset+f.Type.Size()
	gap = ^uintptr(0)
	for i := 0; i < typ.NumField(); i++ {
		g := typ.Field(i)
		if g.Name == "_" || g.Name == w || g.Type.Size() == 0 || slices.Contains(with, g.Name) {
			continue
		}
		var d uintptr
		switch {
		case g.Offset >= hi:
			d = g.Offset - hi
		case g.Offset+g.Type.Size() <= lo:
			d = lo - (g.Offset + g.Type.Size())
		default:
			t.Fatalf("%s.%s overlaps %s", typ, w, g.Name)
		}
		if d < gap {
			gap, nearest = d, g.Name
		}
	}
	return gap, nearest
}

// TestInodeLayout checks that the words written by truncate, punch, fsync
// and re-inline share no cache line with another field of the inode (the
// plans, pages, oracle and delay every fault reads), and that the kernel
// engine's truncate generation is off the line of the slice headers every
// store reads (tsize, written by the same truncate, may share its line).
// A gap of linePad-8 bytes keeps them a line pair apart
// whatever the struct's alignment.
func TestInodeLayout(t *testing.T) {
	for _, tt := range []struct {
		typ    reflect.Type
		fields []string
		with   []string
	}{
		{reflect.TypeFor[Inode](), []string{"size", "punchEpoch", "fsyncs", "inlineGen"}, nil},
		{reflect.TypeFor[kernelEngine](), []string{"tgen"}, []string{"tsize"}},
	} {
		for _, w := range tt.fields {
			if gap, near := fieldGap(t, tt.typ, w, tt.with...); gap < linePad-8 {
				t.Errorf("%s.%s is %d bytes from %s; want at least %d (its own cache lines)", tt.typ, w, gap, near, linePad-8)
			}
		}
	}
}

// TestSeriesIndexCache checks that the cached window span gives the index
// the division gives, for times in order, out of order (another CPU's
// clock) and before the start, across coalesces.
func TestSeriesIndexCache(t *testing.T) {
	clk, err := testClock()
	if err != nil {
		t.Fatal(err)
	}
	s := newSeries(clk, 0, time.Millisecond)
	s.setStart(1000)
	w0 := s.width
	rng := rand.New(rand.NewPCG(1, 2))
	now := clock.Ticks(1000)
	for i := range 200_000 {
		switch i % 7 {
		case 3:
			now -= clock.Ticks(rng.Int64N(int64(s.width))) // a step back
		default:
			now += clock.Ticks(rng.Int64N(int64(s.width) / 2))
		}
		got := s.index(now)
		want := max(int((now-s.start)/s.width), 0) // at the width after any coalesce
		if got != want {
			t.Fatalf("index(%d) = %d after %d calls; want %d (start %d, width %d)", now, got, i, want, s.start, s.width)
		}
	}
	if s.width <= w0 {
		t.Fatalf("series width %d after the walk; want it coalesced past %d", s.width, w0)
	}
}
