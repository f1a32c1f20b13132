package locks

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"lockbench/internal/benchname"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// TestRangeStripeMask pins down which lists a range is linked into.
func TestRangeStripeMask(t *testing.T) {
	g := uint64(1) << rangeGranuleShift
	tests := []struct {
		name       string
		start, end uint64
		want       uint64
	}{
		// One granule.
		{"first page", 0, 4 * kib, 1},
		{"whole first granule", 0, g, 1},
		{"last byte of granule 1", 2*g - 1, 2 * g, 1 << 1},
		// Several granules.
		{"straddles granules 0 and 1", g - 1, g + 1, 0b11},
		{"granules 62 to 65 wrap to lists 62, 63, 0, 1", 62 * g, 66 * g, 1<<62 | 1<<63 | 0b11},
		{"63 granules", g, 64 * g, ^uint64(1)},
		// Every list.
		{"64 granules", 0, 64 * g, ^uint64(0)},
		{"64 granules, unaligned", 5, 64*g + 5, ^uint64(0)},
		{"whole file", 0, math.MaxUint64, ^uint64(0)},
		{"last granule of the space", math.MaxUint64 - 1, math.MaxUint64, 1 << 63},
	}
	for _, tt := range tests {
		if got := rangeStripeMask(tt.start, tt.end); got != tt.want {
			t.Errorf("%s: rangeStripeMask(%#x, %#x) = %#x; want %#x", tt.name, tt.start, tt.end, got, tt.want)
		}
	}
}

// TestRangeInlineWord checks which ranges have an inline stripe word and
// that it reads back as the range and mode it was made from.
func TestRangeInlineWord(t *testing.T) {
	g := uint64(1) << rangeGranuleShift
	tests := []struct {
		start, end uint64
		excl       bool
		inline     bool
	}{
		// Page-aligned ranges within one granule are inline.
		{0, 4 * kib, true, true},
		{4 * kib, 8 * kib, false, true},
		{0, g, false, true},
		{5 * g, 6 * g, true, true},
		{(1<<49 - 1) << rangePageShift, 1 << 61, true, true},
		// Anything else is not.
		{1, 4 * kib, true, false},
		{0, 4*kib + 1, false, false},
		{1 << 61, 1<<61 + 4*kib, false, false},
	}
	for _, tt := range tests {
		w, ok := rangeInlineWord(tt.start, tt.end, tt.excl)
		if ok != tt.inline {
			t.Errorf("rangeInlineWord(%#x, %#x, %v) ok = %v; want %v", tt.start, tt.end, tt.excl, ok, tt.inline)
			continue
		}
		if !ok {
			continue
		}
		if w == 0 || w&(rangeTable|rangeDist) != 0 {
			t.Errorf("rangeInlineWord(%#x, %#x, %v) = %#x: zero or the table tag", tt.start, tt.end, tt.excl, w)
		}
		if e := rangeDecode(w); e != (rangeEntry{start: tt.start, end: tt.end, excl: tt.excl, n: 1}) {
			t.Errorf("rangeDecode(rangeInlineWord(%#x, %#x, %v)) = %+v", tt.start, tt.end, tt.excl, e)
		}
	}
}

// TestRangeLockLayout checks the padding that keeps hot words apart.
func TestRangeLockLayout(t *testing.T) {
	if n := unsafe.Sizeof(rangeSlot{}); n != 4*falseSharingPad {
		t.Errorf("rangeSlot is %d bytes; want %d", n, 4*falseSharingPad)
	}
	if off := unsafe.Offsetof(rangeSlot{}.dist); off != 2*falseSharingPad {
		t.Errorf("rangeSlot.dist at offset %d; want %d, the slot's second line pair", off, 2*falseSharingPad)
	}
	if n := unsafe.Sizeof(rangeStripe{}); n != 2*falseSharingPad {
		t.Errorf("rangeStripe is %d bytes; want %d", n, 2*falseSharingPad)
	}
	if off := unsafe.Offsetof(RangeLock{}.stripes); off < 2*falseSharingPad-8 {
		t.Errorf("RangeLock.stripes at offset %d; the header's hot words must be a line pair away", off)
	}
}

// TestRangeLockTry is TryLock's truth table on one goroutine: a second
// request (slot 1) against a held one (slot 0).
func TestRangeLockTry(t *testing.T) {
	g := uint64(1) << rangeGranuleShift
	type req struct {
		start, end uint64
		m          Mode
	}
	tests := []struct {
		name      string
		held, try req
		want      bool
	}{
		// Shared ranges overlap each other.
		{"shared over shared, same range", req{0, 8 * kib, Shared}, req{0, 8 * kib, Shared}, true},
		{"shared inside shared", req{0, 8 * g, Shared}, req{3 * g, 3*g + 1, Shared}, true},
		{"shared over shared, whole file", req{0, math.MaxUint64, Shared}, req{5, 6, Shared}, true},
		// Anything overlapping an exclusive range conflicts.
		{"exclusive over shared", req{0, 8 * kib, Shared}, req{4 * kib, 12 * kib, Exclusive}, false},
		{"shared over exclusive", req{4 * kib, 12 * kib, Exclusive}, req{0, 4*kib + 1, Shared}, false},
		{"exclusive over exclusive, one byte", req{100, 101, Exclusive}, req{0, 4 * kib, Exclusive}, false},
		{"shared starting inside an exclusive range", req{0, 2 * g, Exclusive}, req{g, 3 * g, Shared}, false},
		{"anything under an exclusive whole file", req{0, math.MaxUint64, Exclusive}, req{7 * mib, 7*mib + 1, Shared}, false},
		{"exclusive whole file over a shared page", req{40 * mib, 40*mib + 4*kib, Shared}, req{0, math.MaxUint64, Exclusive}, false},
		{"exclusive over the end of the space", req{math.MaxUint64 - 2, math.MaxUint64, Shared}, req{math.MaxUint64 - 1, math.MaxUint64, Exclusive}, false},
		// Disjoint ranges never conflict, even in one list or touching.
		{"adjacent exclusive pages", req{0, 4 * kib, Exclusive}, req{4 * kib, 8 * kib, Exclusive}, true},
		{"adjacent, exclusive before shared", req{4 * kib, 8 * kib, Exclusive}, req{0, 4 * kib, Shared}, true},
		{"same list, 4 MiB apart", req{0, 4 * kib, Exclusive}, req{4 * mib, 4*mib + 4*kib, Exclusive}, true},
		{"wrapping range beside a small one in its lists", req{62 * g, 66 * g, Exclusive}, req{66 * g, 66*g + 1, Exclusive}, true},
		{"exclusive to the end after a held range", req{0, mib, Exclusive}, req{mib, math.MaxUint64, Exclusive}, true},
		// Beyond the inline words' start field (2^61): the page bit that
		// would be the distributed bit must not alias page 0.
		{"page at 2^61 against page 0, exclusive", req{1 << 61, 1<<61 + 4*kib, Exclusive}, req{0, 4 * kib, Exclusive}, true},
		{"page at 2^61, shared then exclusive", req{1 << 61, 1<<61 + 4*kib, Shared}, req{1 << 61, 1<<61 + 4*kib, Exclusive}, false},
		{"page at 2^61, exclusive then shared", req{1 << 61, 1<<61 + 4*kib, Exclusive}, req{1 << 61, 1<<61 + 4*kib, Shared}, false},
		{"page 0 shared, then 2^61 exclusive", req{0, 4 * kib, Shared}, req{1 << 61, 1<<61 + 4*kib, Exclusive}, true},
	}
	for _, tt := range tests {
		rl := NewRangeLock(2)
		h0, ok := rl.TryLock(0, tt.held.start, tt.held.end, tt.held.m)
		if !ok {
			t.Fatalf("%s: TryLock of the first range on a free lock = false; want true", tt.name)
		}
		h1, got := rl.TryLock(1, tt.try.start, tt.try.end, tt.try.m)
		if got != tt.want {
			t.Errorf("%s: TryLock(%v [%#x, %#x)) next to %v [%#x, %#x) = %v; want %v",
				tt.name, tt.try.m, tt.try.start, tt.try.end, tt.held.m, tt.held.start, tt.held.end, got, tt.want)
		}
		if got {
			rl.Unlock(h1)
		}
		rl.Unlock(h0)
		if h, ok := rl.TryLock(1, tt.try.start, tt.try.end, tt.try.m); !ok {
			t.Errorf("%s: TryLock after the first range was released = false; want true", tt.name)
		} else {
			rl.Unlock(h)
		}
	}
}

// TestRangeLockDistributed walks one stripe through its distributed life on
// one goroutine: the second shared holder of a range makes the word
// distributed and counts itself in its slot; conflicting requests fail while
// any holder of either kind is left and succeed once none is (moving the
// word into the table and back); a whole-file request ignores an idle
// distributed word.
func TestRangeLockDistributed(t *testing.T) {
	const g = uint64(1) << rangeGranuleShift
	rl := NewRangeLock(4)
	st := &rl.stripes[0]
	kindOf := func(h RangeHandle) uint8 { return rl.slots[h.slot].holds[h.hold-1].kind }
	try := func(slot int, start, end uint64, m Mode) (RangeHandle, bool) {
		t.Helper()
		return rl.TryLock(slot, start, end, m)
	}
	h0, ok0 := try(0, 0, g, Shared)
	h1, ok1 := try(1, 0, g, Shared)
	h2, ok2 := try(2, 0, g, Shared)
	if !ok0 || !ok1 || !ok2 {
		t.Fatalf("three shared TryLocks of [0, 64 KiB) = %v %v %v; want all true", ok0, ok1, ok2)
	}
	if kindOf(h0) != rangeHoldShared || kindOf(h1) != rangeHoldDist || kindOf(h2) != rangeHoldDist {
		t.Fatalf("hold kinds %d %d %d; want shared, then distributed twice", kindOf(h0), kindOf(h1), kindOf(h2))
	}
	if w := st.word.Load(); w&rangeDist == 0 || w&rangeCountMask != rangeCountUnit || st.distHolders() != 2 {
		t.Fatalf("stripe word %#x with %d distributed holders; want distributed, one plain holder, 2 distributed", w, st.distHolders())
	}
	if _, ok := try(3, 4*kib, 8*kib, Exclusive); ok {
		t.Fatal("exclusive TryLock of a page inside three shared holders = true; want false")
	}
	if _, ok := try(3, 0, math.MaxUint64, Exclusive); ok {
		t.Fatal("whole-file TryLock over three shared holders = true; want false")
	}
	rl.Unlock(h0)
	rl.Unlock(h1)
	if _, ok := try(3, 0, 4*kib, Exclusive); ok {
		t.Fatal("exclusive TryLock with one distributed holder left = true; want false")
	}
	if h, ok := try(3, 8*kib, 12*kib, Shared); !ok {
		t.Fatal("shared TryLock of a page inside the distributed range = false; want true")
	} else {
		rl.Unlock(h)
	}
	rl.Unlock(h2)
	if w := st.word.Load(); w != 0 && !st.idleDist(w) {
		t.Fatalf("stripe word %#x after every holder left; want 0 or an idle distributed word", w)
	}
	hf, ok := try(3, 0, math.MaxUint64, Exclusive)
	if !ok {
		t.Fatal("whole-file TryLock after every holder left = false; want true")
	}
	rl.Unlock(hf)
	hx, ok := try(3, 0, 4*kib, Exclusive)
	if !ok {
		t.Fatal("exclusive TryLock after every holder left = false; want true")
	}
	if _, ok := try(0, 0, g, Shared); ok {
		t.Fatal("shared TryLock under an exclusive page = true; want false")
	}
	rl.Unlock(hx)
	if w := st.word.Load(); w != 0 || len(st.ents) != 0 {
		t.Fatalf("stripe word %#x, %d entries after the exclusive page left; want 0 and none", w, len(st.ents))
	}
}

// TestRangeLockHolds checks the per-slot limit and that handles name holds.
func TestRangeLockHolds(t *testing.T) {
	rl := NewRangeLock(1)
	var hs []RangeHandle
	for i := range rangeHolds {
		hs = append(hs, rl.Lock(0, uint64(i)*mib, uint64(i+1)*mib, Exclusive))
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("a fifth range did not panic")
			}
		}()
		rl.TryLock(0, 10*mib, 11*mib, Shared)
	}()
	rl.Unlock(hs[1])
	if h, ok := rl.TryLock(0, mib, 2*mib, Exclusive); !ok {
		t.Error("TryLock of a released range = false; want true")
	} else {
		hs[1] = h
	}
	for _, h := range hs {
		rl.Unlock(h)
	}
}

// TestRangeLockMisuse checks that invalid arguments panic.
func TestRangeLockMisuse(t *testing.T) {
	rl := NewRangeLock(1)
	h := rl.Lock(0, 0, 1, Shared)
	rl.Unlock(h)
	hf := rl.Lock(0, 0, math.MaxUint64, Exclusive)
	rl.Unlock(hf)
	tests := []struct {
		name string
		f    func()
	}{
		{"empty range", func() { rl.Lock(0, 5, 5, Exclusive) }},
		{"reversed range", func() { rl.TryLock(0, 6, 5, Exclusive) }},
		{"mode Skip", func() { rl.Lock(0, 0, 1, Skip) }},
		{"zero handle", func() { rl.Unlock(RangeHandle{}) }},
		{"double unlock", func() { rl.Unlock(h) }},
		{"double unlock of the whole file", func() { rl.Unlock(hf) }},
		{"whole file for a slot out of range", func() { rl.Lock(1, 0, math.MaxUint64, Exclusive) }},
		{"whole file for a negative slot", func() { rl.TryLock(-1, 0, math.MaxUint64, Exclusive) }},
		{"zero slots", func() { NewRangeLock(0) }},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.f()
		}()
	}
}

// TestRangeLockZeroAllocs checks that acquisitions allocate nothing.
func TestRangeLockZeroAllocs(t *testing.T) {
	rl := NewRangeLock(2)
	if n := testing.AllocsPerRun(100, func() {
		h := rl.Lock(0, 4*kib, 8*kib, Exclusive)
		h2, ok := rl.TryLock(1, mib, 2*mib, Shared)
		if !ok {
			panic("TryLock of a free range failed")
		}
		rl.Unlock(h)
		h = rl.Lock(0, 0, math.MaxUint64, Shared)
		rl.Unlock(h)
		rl.Unlock(h2)
	}); n != 0 {
		t.Fatalf("allocs per acquisition = %v; want 0", n)
	}
}

// rangeShadow counts the holders of every unit of a small space, to check
// exclusion from outside the lock.
type rangeShadow struct {
	unit  uint64
	units []struct{ readers, writers atomic.Int32 }
	bad   atomic.Int32
}

func newRangeShadow(unit uint64, n int) *rangeShadow {
	return &rangeShadow{unit: unit, units: make([]struct{ readers, writers atomic.Int32 }, n)}
}

// span returns the shadow units of [start, end), clipped to the space.
func (s *rangeShadow) span(start, end uint64) (int, int) {
	last := uint64(len(s.units))
	u0, u1 := start/s.unit, (end-1)/s.unit+1
	return int(min(u0, last)), int(min(u1, last))
}

// enter records a holder and checks it against the others. An exclusive
// holder increments writers then reads readers; a shared one the reverse;
// sequential consistency makes one of two overlapping holders see the other.
func (s *rangeShadow) enter(start, end uint64, excl bool) {
	u0, u1 := s.span(start, end)
	for u := u0; u < u1; u++ {
		x := &s.units[u]
		if excl {
			if x.writers.Add(1) != 1 || x.readers.Load() != 0 {
				s.bad.Add(1)
			}
		} else {
			x.readers.Add(1)
			if x.writers.Load() != 0 {
				s.bad.Add(1)
			}
		}
	}
}

func (s *rangeShadow) leave(start, end uint64, excl bool) {
	u0, u1 := s.span(start, end)
	for u := u0; u < u1; u++ {
		if excl {
			s.units[u].writers.Add(-1)
		} else {
			s.units[u].readers.Add(-1)
		}
	}
}

// rangeSpaces are the exclusion test's offset spaces. wide: 16 KiB units
// over 8 MiB (the 64 stripes twice over): pages, runs crossing stripes,
// ranges wrapping the stripes and whole-file ranges. pages: 4 KiB pages of
// two granules, the inline words' home (shared counts, inline to table and
// back). one-stripe: 1 KiB units within one granule, so that every request
// meets every other in one stripe's table. hot-shared: two whole granules,
// seven in eight requests shared and most of one granule, so that identical
// shared ranges are held by several slots at once (the distributed words)
// and exclusive and whole-file requests keep taking them back.
type rangeSpace struct {
	name  string
	unit  uint64
	units int
	whole int // 1 in whole requests is a whole-file range
	excl  int // 1 in excl requests is exclusive
	run   int // most requests span 1 to run units
}

var rangeSpaces = []rangeSpace{
	{"wide", 16 * kib, 512, 32, 2, 8},
	{"pages", 4 * kib, 32, 64, 2, 8},
	{"one-stripe", kib, 64, 64, 2, 8},
	{"hot-shared", 64 * kib, 2, 64, 8, 1},
}

// TestRangeLockExclusion runs workers that lock random unit-aligned ranges
// and checks every critical section against the shadow. A worker that holds a range takes a second one only
// with TryLock, as RangeLock's contract asks. With -stress=D each space runs
// for D per lock instead of a fixed number of iterations.
func TestRangeLockExclusion(t *testing.T) {
	for _, sp := range rangeSpaces {
		t.Run(benchname.Join("lock", "rangelock", "space", sp.name), func(t *testing.T) {
			rl := NewRangeLock(rangeTestWorkers)
			testRangeExclusion(t, rl, sp)
			if h, ok := rl.TryLock(0, 0, math.MaxUint64, Exclusive); !ok {
				t.Fatal("TryLock of the whole file after all workers left = false; want true")
			} else {
				rl.Unlock(h)
			}
			for i := range rl.stripes {
				st := &rl.stripes[i]
				if w := st.word.Load(); w != 0 && !st.idleDist(w) || len(st.ents) != 0 || len(st.queue) != 0 {
					t.Fatalf("stripe %d after all workers left: word %#x, %d entries, %d queued; want all 0", i, w, len(st.ents), len(st.queue))
				}
			}
			if g := rl.gate.Load(); g&(rangeClosed|rangeDrainer|rangeParkedMask) != 0 {
				t.Fatalf("gate after all workers left = %#x; want it open with nobody parked", g)
			}
		})
	}
}

const rangeTestWorkers = 6

func testRangeExclusion(t *testing.T, rl *RangeLock, sp rangeSpace) {
	unit, units, whole := sp.unit, sp.units, sp.whole
	iters := 1500
	if testing.Short() {
		iters = 200
	}
	deadline := time.Now().Add(*stress)
	sh := newRangeShadow(unit, units)
	pick := func(rng *rand.Rand) (uint64, uint64, Mode) {
		m := Shared
		if rng.IntN(sp.excl) == 0 {
			m = Exclusive
		}
		u := uint64(rng.IntN(units))
		switch k := rng.IntN(whole); {
		case k == 0:
			return 0, math.MaxUint64, m
		case k == 1:
			return u * unit, math.MaxUint64, m
		case k < whole/4:
			return u * unit, (u + 1 + uint64(rng.IntN(units))) * unit, m
		default:
			return u * unit, (u + 1 + uint64(rng.IntN(sp.run))) * unit, m
		}
	}
	var total, distributed atomic.Int64
	var wg sync.WaitGroup
	for w := range rangeTestWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(2, uint64(w)))
			var n, dist int64
			defer func() { total.Add(n); distributed.Add(dist) }()
			for i := 0; ; i++ {
				if *stress == 0 && i == iters || *stress != 0 && i%1024 == 0 && time.Now().After(deadline) {
					return
				}
				s, e, m := pick(rng)
				var h RangeHandle
				if rng.IntN(4) == 0 {
					var ok bool
					if h, ok = rl.TryLock(w, s, e, m); !ok {
						continue
					}
				} else {
					h = rl.Lock(w, s, e, m)
				}
				n++
				if h.hold != rangeFileHold && rl.slots[w].holds[h.hold-1].kind == rangeHoldDist {
					dist++
				}
				sh.enter(s, e, m == Exclusive)
				if rng.IntN(4) == 0 {
					runtime.Gosched()
				}
				if rng.IntN(4) == 0 {
					s2, e2, m2 := pick(rng)
					if h2, ok := rl.TryLock(w, s2, e2, m2); ok {
						n++
						sh.enter(s2, e2, m2 == Exclusive)
						sh.leave(s2, e2, m2 == Exclusive)
						rl.Unlock(h2)
					}
				}
				sh.leave(s, e, m == Exclusive)
				rl.Unlock(h)
			}
		}()
	}
	wg.Wait()
	if n := sh.bad.Load(); n != 0 {
		t.Fatalf("%d unit acquisitions overlapped a conflicting holder", n)
	}
	if *stress != 0 {
		t.Logf("%d acquisitions with exclusion checked, %d of them distributed", total.Load(), distributed.Load())
	}
	if sp.name == "hot-shared" && !testing.Short() && distributed.Load() == 0 {
		t.Errorf("no acquisition of %d took a distributed word; the space exists to drive them", total.Load())
	}
}

// TestRangeLockWaiterFirst checks, deterministically, writer preference at
// the file level: once a whole-file request waits, a new request from a slot
// holding nothing waits for it (TryLock fails) even though no held range is in
// the way, and a slot already holding a range may still take another.
func TestRangeLockWaiterFirst(t *testing.T) {
	rl := NewRangeLock(3)
	h0 := rl.Lock(0, 0, 4*kib, Shared)
	got := make(chan RangeHandle)
	go func() { got <- rl.Lock(1, 0, math.MaxUint64, Exclusive) }()
	waitFor(func() bool { return rl.gate.Load()&rangeClosed != 0 })

	if _, ok := rl.TryLock(2, 8*mib, 8*mib+4*kib, Shared); ok {
		t.Fatal("TryLock of a free range while a whole-file request waits = true; want false")
	}
	h0b, ok := rl.TryLock(0, 8*mib, 8*mib+4*kib, Shared)
	if !ok {
		t.Fatal("TryLock by a slot that already holds a range = false; want true (it must not wait for a waiter that waits for it)")
	}
	rl.Unlock(h0)
	select {
	case <-got:
		t.Fatal("whole-file Lock returned while slot 0 still held a range")
	default:
	}
	rl.Unlock(h0b)
	hw := <-got
	if _, ok := rl.TryLock(2, 8*mib, 8*mib+4*kib, Shared); ok {
		t.Fatal("TryLock under a held whole-file exclusive range = true; want false")
	}
	if _, ok := rl.TryLock(0, 0, math.MaxUint64, Shared); ok {
		t.Fatal("TryLock of the whole file shared under a held whole-file exclusive range = true; want false")
	}
	rl.Unlock(hw)
	h2, ok := rl.TryLock(2, 8*mib, 8*mib+4*kib, Shared)
	if !ok {
		t.Fatal("TryLock after the whole-file range was released = false; want true")
	}
	rl.Unlock(h2)
}

// TestRangeLockQueuedFirst checks the stripes' queue: a large range waiting
// behind a held page makes a new conflicting request of another slot wait
// (TryLock fails) although nothing held is in its way.
func TestRangeLockQueuedFirst(t *testing.T) {
	rl := NewRangeLock(3)
	h0 := rl.Lock(0, 0, 4*kib, Exclusive)
	got := make(chan RangeHandle)
	go func() { got <- rl.Lock(1, 0, 8*mib, Exclusive) }()
	st := &rl.stripes[0]
	waitFor(func() bool { st.mu.Lock(); defer st.mu.Unlock(); return len(st.queue) == 1 })
	if _, ok := rl.TryLock(2, 8*kib, 12*kib, Shared); ok {
		t.Fatal("TryLock of a free page that a queued request covers = true; want false")
	}
	if h, ok := rl.TryLock(2, 9*mib, 9*mib+4*kib, Shared); !ok {
		t.Fatal("TryLock of a page outside the queued request = false; want true")
	} else {
		rl.Unlock(h)
	}
	rl.Unlock(h0)
	h1 := <-got
	rl.Unlock(h1)
}

// TestRangeLockWholeFileNotStarved runs workers that lock and unlock small
// exclusive ranges back to back, each in its own place, against repeated
// whole-file exclusive requests (fsync's logging phase); the whole-file
// requests must complete within a deadline.
func TestRangeLockWholeFileNotStarved(t *testing.T) {
	const small = 3
	rl := NewRangeLock(small + 1)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range small {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				s := uint64(w)*mib + uint64(i%64)*4*kib
				h := rl.Lock(w, s, s+4*kib, Exclusive)
				runtime.Gosched()
				rl.Unlock(h)
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			h := rl.Lock(small, 0, math.MaxUint64, Exclusive)
			rl.Unlock(h)
		}
	}()
	select {
	case <-done:
	case <-time.After(starveDeadline):
		stop.Store(true) // let the whole-file requests finish so the test can end
		t.Fatalf("50 whole-file Locks against 3 workers did not complete in %v: starved", starveDeadline)
	}
}

// refRange is a held range in FuzzRangeLock's reference model.
type refRange struct {
	slot       int
	start, end uint64
	excl       bool
	h          RangeHandle
}

// FuzzRangeLock drives TryLock and Unlock on one goroutine from a byte
// string and checks every TryLock against a reference that is trivially
// right: a slice of held ranges and a linear overlap check.
//
// Each op is 4 bytes: op, start, length, extra.
//
//	op bit 0:     0 TryLock, 1 Unlock
//	op bits 1-2:  slot (4 slots)
//	op bit 3:     exclusive
//	op bits 4-7:  start += 1 KiB * value
//	start:        start = value * 16 KiB (0 to 4 MiB: two turns of the lists);
//	              248 and up: from 2^61, past the inline words' start field
//	length:       < 200: (value+1) * 4 KiB; < 255: (value-199) MiB; 255: to the end
//	extra:        TryLock: start += value bytes; Unlock: which held range
func FuzzRangeLock(f *testing.F) {
	f.Add([]byte{0x00, 0, 0, 0, 0x02, 0, 0, 0})                     // two exclusive attempts on one page
	f.Add([]byte{0x00, 0, 0, 0, 0x02, 0, 0, 0, 0x01, 0, 0, 0})      // the second fails; unlock; nothing held
	f.Add([]byte{0x08, 0, 0, 0, 0x0a, 0, 0, 0, 0x01, 0, 0, 0})      // two shared holders of one page
	f.Add([]byte{0x08, 10, 255, 0, 0x02, 200, 0, 0, 0x04, 0, 1, 0}) // whole file from 160 KiB vs pages
	f.Add([]byte{0x00, 250, 3, 7, 0x02, 0, 0, 0, 0x0c, 4, 210, 0})  // a range wrapping the lists
	f.Add([]byte{0x00, 1, 0, 0, 0x00, 5, 0, 0, 0x00, 9, 0, 0, 0x00, 13, 0, 0, 0x00, 17, 0, 0, 0x01, 0, 0, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const slots = 4
		rl := NewRangeLock(slots)
		var held []refRange
		conflicts := func(start, end uint64, excl bool) bool {
			for _, r := range held {
				if r.start < end && start < r.end && (r.excl || excl) {
					return true
				}
			}
			return false
		}
		for i := 0; i+4 <= len(ops); i += 4 {
			op, b1, b2, b3 := ops[i], ops[i+1], ops[i+2], ops[i+3]
			slot := int(op>>1) & 3
			var mine []int
			for j, r := range held {
				if r.slot == slot {
					mine = append(mine, j)
				}
			}
			if op&1 == 1 {
				if len(mine) == 0 {
					continue
				}
				j := mine[int(b3)%len(mine)]
				rl.Unlock(held[j].h)
				held = slices.Delete(held, j, j+1)
				continue
			}
			if len(mine) == rangeHolds {
				continue
			}
			start := uint64(b1)*16*kib + uint64(op>>4)*kib + uint64(b3)
			if b1 >= 248 {
				start += 1<<61 - 248*16*kib
			}
			var end uint64
			switch {
			case b2 < 200:
				end = start + (uint64(b2)+1)*4*kib
			case b2 < 255:
				end = start + uint64(b2-199)*mib
			default:
				end = math.MaxUint64
			}
			excl := op&8 != 0
			m := Shared
			if excl {
				m = Exclusive
			}
			want := !conflicts(start, end, excl)
			h, got := rl.TryLock(slot, start, end, m)
			if got != want {
				t.Fatalf("op %d: slot %d TryLock(%v [%#x, %#x)) = %v; want %v; held: %v", i/4, slot, m, start, end, got, want, held)
			}
			if got {
				held = append(held, refRange{slot, start, end, excl, h})
			}
		}
		for _, r := range held {
			rl.Unlock(r.h)
		}
		h, ok := rl.TryLock(0, 0, math.MaxUint64, Exclusive)
		if !ok {
			t.Fatal("TryLock of the whole file after releasing everything = false; want true")
		}
		rl.Unlock(h)
	})
}
