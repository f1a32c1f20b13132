package hotpath

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lockbench/strategies"
)

// The oracle on hand-made histories. Helpers are in model_test.go.

// ---- the oracle on hand-made histories ----

// TestOracleFsyncEnd checks I5 on hand-made logs against a history of
// extent changes made after the snapshot.
func TestOracleFsyncEnd(t *testing.T) {
	const H, D, U, W = extHole, extDelalloc, extUnwritten, extWritten
	// history, after the snapshot: 3 H->D, 3 D->U, 7 H->D, 3 U->W.
	history := func(w *Worker, in *Inode) {
		setExt(w, in, 3, D)
		setExt(w, in, 3, U)
		setExt(w, in, 7, D)
		setExt(w, in, 3, W)
	}
	// layout builds a full log: every block HOLE except the given ones.
	layout := func(blocks map[int]uint32) []logRecord {
		var log []logRecord
		for b := range tPages {
			st, ok := blocks[b]
			if !ok {
				st = H
			}
			log = append(log, logRecord{b, 1, st})
		}
		return log
	}
	tests := []struct {
		name   string
		before func(t *testing.T, w *Worker, in *Inode) // before the snapshot
		during func(w *Worker, in *Inode)               // between snapshot and end
		log    []logRecord
		want   string // substring of the one I5 violation; "" for none
	}{
		{name: "layout at fsync start", log: []logRecord{{0, tPages, H}}},
		{name: "layout at fsync start, changes after", during: history, log: []logRecord{{0, tPages, H}}},
		{name: "intermediate layout", during: history, log: layout(map[int]uint32{3: U})},
		{name: "layout with both blocks changed", during: history, log: layout(map[int]uint32{3: U, 7: D})},
		{name: "final layout", during: history, log: layout(map[int]uint32{3: W, 7: D})},
		{
			name: "overlapping items", during: history,
			log:  []logRecord{{0, tPages, H}, {3, 1, U}},
			want: "overlapping extents at block 3",
		},
		{
			// Block 7 became DELALLOC only after block 3 left HOLE.
			name: "two changes mixed in the wrong order", during: history,
			log:  layout(map[int]uint32{7: D}),
			want: "a layout the file never had",
		},
		{
			name: "a state block 3 never had", during: history,
			log:  layout(map[int]uint32{3: D, 7: D}),
			want: "a layout the file never had",
		},
		{
			name: "block missing from the log",
			log:  []logRecord{{0, tPages - 1, H}},
			want: "a layout the file never had",
		},
		{
			// A real layout, but a stamp completed before fsync is lost.
			name: "completed stamp replays as HOLE",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
			},
			during: func(w *Worker, in *Inode) { setExt(w, in, 2, H) },
			log:    []logRecord{{0, tPages, H}},
			want:   "replays as HOLE and loses (writer 1, #3)",
		},
		{
			name: "WRITTEN block whose disk lacks the stamp",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
			},
			log:  layout(map[int]uint32{2: W}),
			want: "holds (writer -1, #0), want (writer 1, #3) or later",
		},
		{
			name: "WRITTEN block with the stamp on disk",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
				diskPut(t, in, 2, 1, stampOf(1, 3))
			},
			log: layout(map[int]uint32{2: W}),
		},
		{
			name: "WRITTEN block with a later stamp of the same owner",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
				diskPut(t, in, 2, 1, stampOf(1, 4))
			},
			log: layout(map[int]uint32{2: W}),
		},
		{
			name: "WRITTEN block with another owner's stamp",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
				diskPut(t, in, 2, 1, stampOf(2, 9))
			},
			log:  layout(map[int]uint32{2: W}),
			want: "holds (writer 2, #9), want (writer 1, #3)",
		},
		{
			// After a punch the stamps may legitimately be gone.
			name: "lost stamp after a punch is not checked",
			before: func(t *testing.T, w *Worker, in *Inode) {
				setExt(w, in, 2, W)
				in.oracle.stored(2, 1, stampOf(1, 3))
			},
			during: func(w *Worker, in *Inode) { setExt(w, in, 2, H); in.punchEpoch.Add(1) },
			log:    []logRecord{{0, tPages, H}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, "rwsem", strategies.Options{})
			w := testWorker(t, 0, RoleFsync)
			if tt.before != nil {
				tt.before(t, w, in)
			}
			snap := in.oracle.fsyncStart(w, in)
			if tt.during != nil {
				tt.during(w, in)
			}
			in.oracle.fsyncEnd(w, in, snap, tt.log)
			var got []string
			for _, v := range w.oracleV {
				got = append(got, v.Invariant+": "+v.Detail)
			}
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("fsyncEnd(%v) = %q; want no violation", tt.log, got)
			case tt.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], "I5: ") || !strings.Contains(got[0], tt.want)):
				t.Errorf("fsyncEnd(%v) = %q; want one I5 violation containing %q", tt.log, got, tt.want)
			}
			if w.uncheckedFsyncs != 0 {
				t.Errorf("fsyncEnd: unchecked = %d; want 0", w.uncheckedFsyncs)
			}
		})
	}
}

func diskPut(t testing.TB, in *Inode, p, r int, s uint64) {
	t.Helper()
	buf := make([]byte, 8)
	putLE(buf, s)
	if _, err := unix.Pwrite(in.diskFD, buf, int64(in.regionOff(p, r))); err != nil {
		t.Fatal(err)
	}
}

// TestOracleHistoryRing checks that the layout history returns exactly the
// changes after a sequence number once the ring has wrapped, and that an
// fsync whose history straddles the wrap is judged on the real history.
func TestOracleHistoryRing(t *testing.T) {
	o := newOracle(tPages, 8)
	const last = histCap + 100
	for s := uint64(1); s <= last; s++ {
		o.extentChanged(int(s%tPages), uint32(s%5), uint32((s+1)%5), s)
	}
	var bad []string
	for _, from := range []uint64{histCap + 50, histCap - 10, 200} {
		got := o.changesSince(from)
		if len(got) != int(last-from) {
			bad = append(bad, fmt.Sprintf("changesSince(%d) = %d changes; want %d", from, len(got), last-from))
			continue
		}
		for i, c := range got {
			want := from + 1 + uint64(i)
			if c.seq != want {
				bad = append(bad, fmt.Sprintf("changesSince(%d)[%d].seq = %d; want %d", from, i, c.seq, want))
			}
		}
	}
	if got := o.changesSince(50); got != nil {
		bad = append(bad, fmt.Sprintf("changesSince(50) after %d changes = %d changes; want nil (fell out of the ring)", last, len(got)))
	}

	// End to end: the log holds the layout right after the first change
	// made during fsync, a layout the file had.
	in := openTest(t, "rwsem", strategies.Options{})
	w := testWorker(t, 0, RoleFsync)
	for i := range histCap - 4 { // block 0 toggles and ends HOLE
		setExt(w, in, 0, uint32(1-i%2))
	}
	snap := in.oracle.fsyncStart(w, in)
	setExt(w, in, 3, extDelalloc)  // seq histCap-3: the logged layout
	setExt(w, in, 3, extUnwritten) // seq histCap-2
	for i := range 10 {            // past the wrap; block 9 ends HOLE
		setExt(w, in, 9, uint32(1-i%2))
	}
	log := []logRecord{{0, 3, extHole}, {3, 1, extDelalloc}, {4, tPages - 4, extHole}}
	in.oracle.fsyncEnd(w, in, snap, log)
	for _, v := range w.oracleV {
		bad = append(bad, fmt.Sprintf("fsyncEnd across the wrap = %s: %s; want no violation", v.Invariant, v.Detail))
	}

	for _, b := range bad {
		t.Error(b)
	}
}

// TestOracleFinal checks the end-of-run scan on hand-made page states.
func TestOracleFinal(t *testing.T) {
	s1, s2 := stampOf(1, 1), stampOf(1, 2)
	tests := []struct {
		name  string
		race  strategies.Race
		setup func(t *testing.T, in *Inode)
		want  []string // "invariant race page"
	}{
		{name: "empty file"},
		{
			name: "cached page holds the shadow's stamp",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].state.Store(dirty)
				in.ext[3].Store(extDelalloc)
				in.putStamp(3, 1, s1)
				in.oracle.stored(3, 1, s1)
			},
		},
		{
			name: "evicted WRITTEN page, the disk holds the stamp",
			setup: func(t *testing.T, in *Inode) {
				in.ext[3].Store(extWritten)
				diskPut(t, in, 3, 1, s1)
				in.oracle.stored(3, 1, s1)
			},
		},
		{
			name: "stamp neither in cache nor on disk",
			setup: func(t *testing.T, in *Inode) {
				in.oracle.stored(3, 1, s1)
			},
			want: []string{"I1 R1 3"},
		},
		{
			name: "cached page holds an older stamp",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].state.Store(clean)
				in.putStamp(3, 1, s1)
				in.oracle.stored(3, 1, s2)
			},
			want: []string{"I1 R1 3"},
		},
		{
			name: "lost stamp in the stale-map scenario", race: strategies.R3,
			setup: func(t *testing.T, in *Inode) {
				in.ext[3].Store(extWritten)
				in.oracle.stored(3, 1, s1)
			},
			want: []string{"I3 R3 3"},
		},
		{
			name: "stale cached data where the shadow is zero",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].state.Store(clean)
				in.putStamp(3, 2, s1)
			},
			want: []string{"I2 R2 3"},
		},
		{
			name: "stale disk data of a WRITTEN block where the shadow is zero",
			setup: func(t *testing.T, in *Inode) {
				in.ext[3].Store(extWritten)
				diskPut(t, in, 3, 2, s1)
			},
			want: []string{"I2 R2 3"},
		},
		{
			name: "stale disk data of a HOLE is unreadable",
			setup: func(t *testing.T, in *Inode) {
				diskPut(t, in, 3, 2, s1)
			},
		},
		{
			name: "dirty page over HOLE",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].state.Store(dirty)
			},
			want: []string{"I1b R1 3"},
		},
		{
			name: "PTE maps a dropped page",
			setup: func(t *testing.T, in *Inode) {
				in.pages[3].pte.Store(pteRO)
			},
			want: []string{"I2 R2 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTest(t, "rwsem", strategies.Options{})
			if tt.setup != nil {
				tt.setup(t, in)
			}
			race := tt.race
			if race == strategies.NoRace {
				race = strategies.R1
			}
			var got []string
			for _, v := range in.oracle.final(in, race) {
				got = append(got, fmt.Sprintf("%s %s %d", v.Invariant, v.Race, v.Page))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("final(%s) = %q; want %q", race, got, tt.want)
			}
		})
	}
}
