package hotpath

import (
	"reflect"
	"slices"
	"testing"
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
