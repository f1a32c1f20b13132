package locks

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

const (
	// rangeGranuleShift sets the granule, the unit by which byte offsets
	// are spread over stripes: 64 KiB, sixteen 4 KiB pages.
	rangeGranuleShift = 16
	// rangeStripes is the number of stripes. Granule g goes to stripe g mod
	// rangeStripes, so ranges within a 4 MiB window that share no granule
	// never share a stripe.
	rangeStripes = 64
	// rangeHolds is how many ranges one slot may hold at once.
	rangeHolds = 4
	// rangeSpins is how many times a waiter yields before it parks.
	rangeSpins = 4
	// rangePageShift is the page size of the inline form (4 KiB).
	rangePageShift = 12
)

// RangeLock is a shared/exclusive lock over byte ranges [start, end) of a
// file: the model's extent range lock ER (btrfs's io tree lock). Shared ranges
// may overlap each other; a range held exclusively overlaps nothing else. end
// is exclusive and math.MaxUint64 means "to the end of the file", so the whole
// file is [0, math.MaxUint64).
//
// Slots. Every caller names its slot, its worker id in [0, slots); a slot is
// used by one goroutine at a time and may hold up to four ranges at once
// (and the whole file, which is not one of them). A
// slot that already holds a range must take further ones with TryLock: a
// blocking Lock can deadlock against a waiter that waits for the slot.
//
// Design: two levels. The range level is 64 stripes by 64 KiB granule
// (granule g in stripe g mod 64); a range is entered in every stripe its
// granules fall in, in increasing stripe order. Conflicts are decided on whole
// ranges, and two overlapping ranges share a granule, so they meet in a
// stripe. A stripe's word is 0, or one range inline (page-aligned, within the
// granule, with a count of identical shared holders, or distributed: see
// rangeDist), or a tag saying that the stripe's mutex-guarded table holds the
// truth; conflicting requests queue in the table in arrival order, and a new
// request waits behind a queued one it conflicts with, so large ranges are
// not starved by small ones. The file
// level is one gate word that ranged requests only read: after entering its
// stripes a request checks that no whole-file request has closed the gate
// (Dekker: its stripe write then the gate read, against the whole-file
// request's gate write then its stripe reads). The whole-file exclusive range
// (fsync's logging phase) closes the gate with one compare-and-swap, and it
// reads the 64 stripe words only if a ranged request has run since the last
// whole-file request found them empty (the gate's active bit). So an
// uncontended page costs one compare-and-swap on its stripe to take and one
// to release, and a whole-file range one on the gate to take and one to
// release; a closed gate turns new ranged requests away (writer preference).
//
// Nothing allocates after NewRangeLock.
//
// Note: the lock-free list of Kogan, Dice and Issa (EuroSys 2020) was this
// type's previous design, striped the same way; it needs five atomic
// read-modify-writes per uncontended range and, striped, links a whole-file
// range into all 64 lists. It (in one list, as in the paper) and the
// mutex-guarded interval tree (Linux's range_lock proposal, FreeBSD's
// rangelock) are the benchmarks' peers. A gate of per-slot words (as in
// RWSem) was rejected: it adds two read-modify-writes to every ranged request.
type RangeLock struct {
	_ [falseSharingPad]byte

	// gate is the file level (see rangeClosed and the bits below it).
	// Ranged requests read it and, while nothing changes, never write it.
	gate  atomic.Uint64
	slots []rangeSlot
	// fileOwner is 1 + the slot that holds the whole file, 0 when none
	// does: the whole file's hold is its handle and this word, written
	// by the gate's owner only, not one of the slot's four holds.
	fileOwner int32
	_         [falseSharingPad - 8 - 24 - 4]byte

	stripes [rangeStripes]rangeStripe

	// mu and cond park gate waiters; mu guards nothing else.
	mu   sync.Mutex
	cond sync.Cond
}

// RangeHandle names a held range; pass it to Unlock. The zero value holds
// nothing.
type RangeHandle struct {
	slot int32
	hold int32 // 1 + the slot's hold index, or rangeFileHold
}

// rangeFileHold is the hold of a handle to the whole file.
const rangeFileHold = -1

// The gate word.
const (
	// rangeClosed: a whole-file request owns the file level (it waits for
	// the stripes to drain, or holds the whole file).
	rangeClosed = 1 << 0
	// rangeActive: a ranged request may have entered the stripes since a
	// whole-file request last found them all empty. Set only while the gate
	// is open, cleared only by the owner of a closed gate.
	rangeActive = 1 << 1
	// rangeDrainer: the owner is parked on cond until the stripes drain.
	rangeDrainer = 1 << 2
	// rangeParkedUnit counts requests parked on cond until the gate opens.
	rangeParkedUnit  = 1 << 8
	rangeParkedMask  = (1<<24 - 1) * rangeParkedUnit
	rangeBypassShift = 32
	// rangeBypassUnit counts nested requests (of a slot that already holds
	// a range) that entered while the gate was closed: they may not wait for
	// the owner, who waits for them, and the owner's scan of the stripes
	// must start again if one entered during it.
	rangeBypassUnit = 1 << rangeBypassShift
)

// rangeSlot is one worker's private bookkeeping, written only by its owner.
type rangeSlot struct {
	inUse  uint8 // bit h: hold h is in use
	ranged uint8 // holds in the stripes, as opposed to the whole file
	holds  [rangeHolds]rangeHold
	_      [2*falseSharingPad - 8 - rangeHolds*32]byte
	// dist[s] counts the slot's holds of stripe s's distributed shared
	// range (see rangeDist). Only the owner writes it; a request that must
	// know whether the distributed range is held sums it over the slots.
	dist [rangeStripes]atomic.Int32
}

// rangeHold is what Unlock needs to release a hold. Its fields are written
// one by one, each as wide as it is read: a composite write (zeroing, then
// filling) read back at once stalls store-to-load forwarding.
type rangeHold struct {
	start, end uint64
	inline     uint64 // the range's inline word (one holder), or 0
	kind       uint8  // rangeHoldShared, rangeHoldExcl or rangeHoldDist
}

const (
	rangeHoldShared = iota
	rangeHoldExcl
	rangeHoldDist // shared, counted in the slot's dist (inline is the word's identity)
)

// set records a hold.
func (hd *rangeHold) set(start, end, inline uint64, kind uint8) {
	hd.start = start
	hd.end = end
	hd.inline = inline
	hd.kind = kind
}

// rangeStripe is one stripe of the range level.
type rangeStripe struct {
	// word is 0 (nothing held), an inline range (see rangeInlineWord; a
	// distributed one may be held by nobody) or rangeTable. Only mu's
	// holder changes it away from rangeTable, and only when nobody queues
	// and the table, less an unheld distributed entry, is empty or holds
	// one inline range.
	word atomic.Uint64

	mu    sync.Mutex
	cond  sync.Cond // waiters for a change of the table
	nwait int32     // goroutines parked on cond
	ents  []rangeEntry
	queue []rangeQueued
	slots []rangeSlot // the lock's, whose dist[idx] count this stripe's distributed range
	idx   int
	// the stripe is 256 bytes, so that words of neighbouring stripes are
	// in different cache-line pairs.
	_ [2*falseSharingPad - 160]byte
}

// rangeEntry is a held range in a stripe's table; n counts identical shared
// holders. A dist entry is the stripe's distributed range: its holders are
// n plus the sum of the slots' dist counts for the stripe.
type rangeEntry struct {
	start, end uint64
	excl       bool
	dist       bool
	n          int32
}

// rangeQueued is a request waiting in a stripe; ticket orders arrivals.
type rangeQueued struct {
	start, end uint64
	ticket     uint64
	slot       int32
	excl       bool
}

// An inline stripe word: bit 62 exclusive, bits 54-61 the number of holders
// (1 if exclusive), bits 50-53 the number of pages less one, bit 49
// distributed, bits 0-48 the first page. rangeTable (bit 63) is never a valid
// inline word.
//
// Distributed: a shared range held by more than one slot at once would make
// every holder write the stripe word twice per acquisition, and those writes
// serialise on one cache line. So a shared request on the fast path that
// finds its identical range in the word (held by another slot, or by its own
// slot once before) sets rangeDist, and from then on holders count themselves in their
// own slot's dist[stripe] (the read side of RWSem, per stripe) while the
// word, which they only read, stays the range with rangeDist set, also when
// nobody holds it. The word's count field still counts holders that took it
// the plain way. Whoever needs to know whether the range is held (a
// conflicting request, moving the word into the table; a whole-file request
// draining the stripes) changes or reads the word first and then sums the
// slots' counts; a holder increments its count first and then checks the
// word and the gate, so one of the two sees the other (Dekker).
const (
	rangeTable      = 1 << 63
	rangeInlineExcl = 1 << 62
	rangeCountShift = 54
	rangeCountUnit  = 1 << rangeCountShift
	rangeCountMax   = 255
	rangeCountMask  = rangeCountMax << rangeCountShift
	rangeLenShift   = 50
	rangeDist       = 1 << 49
	rangeStartBits  = 49
	rangeStartMask  = 1<<rangeStartBits - 1
)

// rangeInlineWord returns the inline word of one holder of [start, end),
// which must lie within one granule, and whether the range has one: start and
// end page-aligned and start below 2^61.
func rangeInlineWord(start, end uint64, excl bool) (uint64, bool) {
	const pageBits = 1<<rangePageShift - 1
	if (start|end)&pageBits != 0 || start>>(rangeStartBits+rangePageShift) != 0 {
		return 0, false
	}
	w := start>>rangePageShift | ((end-start)>>rangePageShift-1)<<rangeLenShift | rangeCountUnit
	if excl {
		w |= rangeInlineExcl
	}
	return w, true
}

// rangeDecode returns the range, mode and holder count of inline word w (for
// a distributed word, the holders that took the word the plain way).
func rangeDecode(w uint64) rangeEntry {
	start := (w & rangeStartMask) << rangePageShift
	pages := (w>>rangeLenShift)&15 + 1
	return rangeEntry{start: start, end: start + pages<<rangePageShift, excl: w&rangeInlineExcl != 0,
		dist: w&rangeDist != 0, n: int32(w & rangeCountMask >> rangeCountShift)}
}

// rangeIdent is inline word w without its holder count and distributed bit:
// the range and mode.
func rangeIdent(w uint64) uint64 { return w &^ (rangeCountMask | rangeDist) }

// rangeConflicts reports whether [s0, e0) in mode x0 conflicts with [s1, e1)
// in mode x1.
func rangeConflicts(s0, e0 uint64, x0 bool, s1, e1 uint64, x1 bool) bool {
	return s0 < e1 && s1 < e0 && (x0 || x1)
}

// NewRangeLock returns an unlocked RangeLock for workers 0 to slots-1.
func NewRangeLock(slots int) *RangeLock {
	if slots < 1 || slots > 1<<16 {
		panic(fmt.Sprintf("locks: NewRangeLock(%d): slots must be between 1 and %d", slots, 1<<16))
	}
	rl := &RangeLock{slots: make([]rangeSlot, slots)}
	rl.cond.L = &rl.mu
	for i := range rl.stripes {
		st := &rl.stripes[i]
		st.slots, st.idx = rl.slots, i
		st.cond.L = &st.mu
		st.ents = make([]rangeEntry, 0, rangeHolds*slots)
		st.queue = make([]rangeQueued, 0, slots)
	}
	return rl
}

// Lock takes [start, end) in mode m for slot, waiting until no conflicting
// range is held and no conflicting request queued before it.
func (rl *RangeLock) Lock(slot int, start, end uint64, m Mode) RangeHandle {
	h, _ := rl.lock(slot, start, end, m, false)
	return h
}

// TryLock takes [start, end) in mode m for slot if that needs no waiting,
// and reports whether it did. It fails if a conflicting range is held or is
// being acquired, or if the slot holds no range and the request conflicts
// with a queued one.
func (rl *RangeLock) TryLock(slot int, start, end uint64, m Mode) (RangeHandle, bool) {
	return rl.lock(slot, start, end, m, true)
}

// Unlock releases a range taken by Lock or TryLock.
func (rl *RangeLock) Unlock(h RangeHandle) {
	if h.hold == rangeFileHold {
		if rl.fileOwner != h.slot+1 {
			panic("locks: RangeLock.Unlock: range not held")
		}
		rl.fileOwner = 0
		if !rl.gate.CompareAndSwap(rangeClosed, 0) {
			rl.openFile()
		}
		return
	}
	hold := uint(h.hold) - 1
	if hold >= rangeHolds || uint(h.slot) >= uint(len(rl.slots)) {
		panic("locks: RangeLock.Unlock: invalid handle")
	}
	sl := &rl.slots[h.slot]
	hd := &sl.holds[hold]
	if sl.inUse&(1<<hold) != 0 {
		switch hd.kind {
		case rangeHoldExcl:
			if hd.inline != 0 && rl.stripes[hd.start>>rangeGranuleShift%rangeStripes].word.CompareAndSwap(hd.inline, 0) {
				sl.inUse &^= 1 << hold
				sl.ranged--
				rl.wakeDrainer()
				return
			}
		case rangeHoldShared:
			if hd.inline != 0 && rl.stripes[hd.start>>rangeGranuleShift%rangeStripes].unlockInline(hd.inline) {
				sl.inUse &^= 1 << hold
				sl.ranged--
				rl.wakeDrainer()
				return
			}
		}
	}
	rl.unlockSlow(sl, hold)
}

// unlockSlow is Unlock's general path.
//
//go:noinline
func (rl *RangeLock) unlockSlow(sl *rangeSlot, hold uint) {
	if sl.inUse&(1<<hold) == 0 {
		panic("locks: RangeLock.Unlock: range not held")
	}
	hd := &sl.holds[hold]
	switch hd.kind {
	case rangeHoldDist:
		rl.unlockDist(sl, &rl.stripes[hd.start>>rangeGranuleShift%rangeStripes], hd.inline)
		sl.ranged--
	default:
		rl.unlockRange(hd.start, hd.end, hd.kind == rangeHoldExcl)
		sl.ranged--
	}
	sl.inUse &^= 1 << hold
}

// lock is Lock and TryLock. Its fast paths are kept small, with everything
// else in lockSlow and lockFileSlow, so that they need no stack frame to
// speak of: the whole file with no ranged request since the last one (one
// compare-and-swap on the gate and the owner word, as a mutex), an
// exclusive or shared page-aligned range within one granule on an empty
// stripe, and a shared one whose identical range holds the stripe's word
// (the distributed form, see rangeDist).
func (rl *RangeLock) lock(slot int, start, end uint64, m Mode, try bool) (RangeHandle, bool) {
	if start == 0 && end == math.MaxUint64 && m == Exclusive {
		if uint(slot) < uint(len(rl.slots)) && rl.gate.CompareAndSwap(0, rangeClosed) {
			rl.fileOwner = int32(slot) + 1
			return RangeHandle{slot: int32(slot), hold: rangeFileHold}, true
		}
		return rl.lockFileSlow(slot, try)
	}
	sl := &rl.slots[slot]
	hold := bits.TrailingZeros8(^sl.inUse)
	if g := start >> rangeGranuleShift; g == (end-1)>>rangeGranuleShift && start < end && hold < rangeHolds &&
		(start|end)&(1<<rangePageShift-1) == 0 && start>>(rangeStartBits+rangePageShift) == 0 && m-Shared <= Exclusive-Shared {
		iw := start>>rangePageShift | ((end-start)>>rangePageShift-1)<<rangeLenShift | rangeCountUnit
		kind := uint8(rangeHoldShared)
		if m == Exclusive {
			iw |= rangeInlineExcl
			kind = rangeHoldExcl
		}
		st := &rl.stripes[g%rangeStripes]
		var w uint64 // an exclusive request goes for the empty word at once
		if kind == rangeHoldShared {
			// A shared one reads first: a failing compare-and-swap on a
			// distributed word would take its line from the readers.
			w = st.word.Load()
		}
		if w == 0 && st.word.CompareAndSwap(0, iw) {
			if rl.gate.Load()&(rangeClosed|rangeActive) != rangeActive && !rl.gateAfter(sl.ranged != 0) {
				// A whole-file request closed the gate: back out.
				rl.unlockRange(start, end, kind == rangeHoldExcl)
				return rl.lockSlow(slot, start, end, m, try)
			}
			sl.holds[hold].set(start, end, iw, kind)
			sl.ranged++
			sl.inUse |= 1 << hold
			return RangeHandle{slot: int32(slot), hold: int32(hold + 1)}, true
		} else if kind == rangeHoldShared && rangeIdent(w) == rangeIdent(iw) {
			return rl.lockShared(slot, start, end, m, try)
		}
	}
	return rl.lockSlow(slot, start, end, m, try)
}

// lockFileSlow is lock's path for the whole file when the gate is not
// free: a ranged request ran since the last whole-file one, or the gate
// is closed.
//
//go:noinline
func (rl *RangeLock) lockFileSlow(slot int, try bool) (RangeHandle, bool) {
	if uint(slot) >= uint(len(rl.slots)) {
		panic(fmt.Sprintf("locks: RangeLock: slot %d out of range [0, %d)", slot, len(rl.slots)))
	}
	if !rl.lockFile(try) {
		return RangeHandle{}, false
	}
	rl.fileOwner = int32(slot) + 1
	return RangeHandle{slot: int32(slot), hold: rangeFileHold}, true
}

// lockSlow is lock's general path.
//
//go:noinline
func (rl *RangeLock) lockSlow(slot int, start, end uint64, m Mode, try bool) (RangeHandle, bool) {
	sl := &rl.slots[slot]
	hold := bits.TrailingZeros8(^sl.inUse)
	if start >= end || m-Shared > Exclusive-Shared || hold >= rangeHolds {
		rangeMisuse(slot, start, end, m)
	}
	excl := m == Exclusive
	if !rl.lockRanged(sl.ranged != 0, slot, start, end, excl, try) {
		return RangeHandle{}, false
	}
	iw, ok := rangeInlineWord(start, end, excl)
	if !ok || start>>rangeGranuleShift != (end-1)>>rangeGranuleShift {
		iw = 0
	}
	sl.holds[hold].set(start, end, iw, rangeHoldKind(excl))
	sl.ranged++
	sl.inUse |= 1 << hold
	return RangeHandle{slot: int32(slot), hold: int32(hold + 1)}, true
}

// lockShared is lock's path for a shared inline range whose identical range
// holds the stripe's word: the distributed form if it can, else lockSlow. It
// has lockSlow's signature, so that lock's fast paths stay small.
//
//go:noinline
func (rl *RangeLock) lockShared(slot int, start, end uint64, m Mode, try bool) (RangeHandle, bool) {
	sl := &rl.slots[slot]
	hold := bits.TrailingZeros8(^sl.inUse)
	iw, _ := rangeInlineWord(start, end, false)
	if rl.lockDist(sl, &rl.stripes[start>>rangeGranuleShift%rangeStripes], hold, start, end, iw) {
		return RangeHandle{slot: int32(slot), hold: int32(hold + 1)}, true
	}
	return rl.lockSlow(slot, start, end, m, try)
}

// lockDist takes the shared range of inline word iw in stripe st as a
// distributed holder (see rangeDist), making the word distributed first if
// it is not, and records it as hold. It fails, holding nothing, if the word
// changed from that range or a whole-file request closed the gate; the
// caller then takes the general path.
func (rl *RangeLock) lockDist(sl *rangeSlot, st *rangeStripe, hold int, start, end, iw uint64) bool {
	for {
		w := st.word.Load()
		if rangeIdent(w) != rangeIdent(iw) {
			return false
		}
		if w&rangeDist != 0 || st.word.CompareAndSwap(w, w|rangeDist) {
			break
		}
	}
	id := rangeIdent(iw) | rangeDist
	c := &sl.dist[st.idx]
	c.Add(1) // then read the word and the gate: see rangeDist
	if w := st.word.Load(); w&^rangeCountMask != id ||
		rl.gate.Load()&(rangeClosed|rangeActive) != rangeActive && !rl.gateAfter(sl.ranged != 0) {
		rl.unlockDist(sl, st, id)
		return false
	}
	sl.holds[hold].set(start, end, id, rangeHoldDist)
	sl.ranged++
	sl.inUse |= 1 << hold
	return true
}

// unlockDist releases one distributed holder of stripe st, whose word was id
// when it was taken: it decrements the slot's count and, if the word has
// moved into the table meanwhile, lets the table see the change (waiters
// wake, the entry may go).
func (rl *RangeLock) unlockDist(sl *rangeSlot, st *rangeStripe, id uint64) {
	sl.dist[st.idx].Add(-1) // then read the word: see rangeDist
	if st.word.Load()&^rangeCountMask != id {
		st.mu.Lock()
		if st.word.Load() == rangeTable {
			st.settle()
		}
		st.mu.Unlock()
	}
	rl.wakeDrainer()
}

func rangeHoldKind(excl bool) uint8 {
	if excl {
		return rangeHoldExcl
	}
	return rangeHoldShared
}

// rangeMisuse panics with what is wrong with a request.
//
//go:noinline
func rangeMisuse(slot int, start, end uint64, m Mode) {
	switch {
	case start >= end:
		panic(fmt.Sprintf("locks: RangeLock: empty range [%d, %d)", start, end))
	case m != Shared && m != Exclusive:
		panic(fmt.Sprintf("locks: RangeLock: mode %v", m))
	}
	panic(fmt.Sprintf("locks: RangeLock: slot %d already holds %d ranges", slot, rangeHolds))
}

// lockRanged takes [start, end), not the whole file exclusively, through
// the gate. nested reports that the slot already holds a range.
func (rl *RangeLock) lockRanged(nested bool, slot int, start, end uint64, excl, try bool) bool {
	for {
		if v := rl.gate.Load(); v&(rangeClosed|rangeActive) != rangeActive && !nested && !rl.gateBefore(try) {
			return false
		}
		if !rl.lockRange(slot, start, end, excl, nested, try) {
			return false
		}
		if v := rl.gate.Load(); v&(rangeClosed|rangeActive) == rangeActive || rl.gateAfter(nested) {
			return true
		}
		// A whole-file request closed the gate meanwhile: it goes first.
		rl.unlockRange(start, end, excl)
		if try {
			return false
		}
		rl.waitOpen()
	}
}

// gateBefore lets a request that holds no range into the stripes: it waits
// while the gate is closed (or fails if try is set) and sets the active bit.
func (rl *RangeLock) gateBefore(try bool) bool {
	for {
		v := rl.gate.Load()
		switch {
		case v&rangeClosed != 0:
			if try {
				return false
			}
			rl.waitOpen()
		case v&rangeActive != 0 || rl.gate.CompareAndSwap(v, v|rangeActive):
			return true
		}
	}
}

// gateAfter decides, after a request entered its stripes, whether it holds
// them: yes if the gate is open (setting the active bit if a whole-file
// request cleared it meanwhile) or if nested; no if the gate is closed.
func (rl *RangeLock) gateAfter(nested bool) bool {
	for {
		v := rl.gate.Load()
		switch {
		case v&rangeClosed != 0:
			if nested {
				rl.gate.Add(rangeBypassUnit)
			}
			return nested
		case v&rangeActive != 0 || rl.gate.CompareAndSwap(v, v|rangeActive):
			return true
		}
	}
}

// waitOpen waits until the gate is open.
func (rl *RangeLock) waitOpen() {
	for range rangeSpins {
		runtime.Gosched()
		if rl.gate.Load()&rangeClosed == 0 {
			return
		}
	}
	rl.mu.Lock()
	rl.gate.Add(rangeParkedUnit) // before the recheck: see openFile
	for rl.gate.Load()&rangeClosed != 0 {
		rl.cond.Wait()
	}
	rl.gate.Add(^uint64(rangeParkedUnit - 1))
	rl.mu.Unlock()
}

// lockFile takes the whole file exclusively: it closes the gate and, if a
// ranged request has run since the stripes were last found empty, waits
// until they are.
func (rl *RangeLock) lockFile(try bool) bool {
	for {
		v := rl.gate.Load()
		if v&rangeClosed == 0 {
			if !rl.gate.CompareAndSwap(v, v|rangeClosed) {
				continue
			}
			if v&rangeActive == 0 || rl.drained() {
				return true
			}
			if try {
				rl.openFile()
				return false
			}
			rl.waitDrained()
			return true
		}
		if try {
			return false
		}
		rl.waitOpen()
	}
}

// openFile opens the gate and wakes the requests parked on it.
func (rl *RangeLock) openFile() {
	for {
		v := rl.gate.Load()
		if rl.gate.CompareAndSwap(v, v&^rangeClosed) {
			if v&rangeParkedMask != 0 {
				rl.wakeAll()
			}
			return
		}
	}
}

// drained reports, as the owner of the closed gate, whether every stripe
// is empty, and clears the active bit if so. A nested request that entered
// during the scan may sit in a stripe already scanned, so a change of the
// bypass count makes the scan inconclusive.
func (rl *RangeLock) drained() bool {
	b := rl.gate.Load() >> rangeBypassShift
	for i := range rl.stripes {
		if w := rl.stripes[i].word.Load(); w != 0 && !rl.stripes[i].idleDist(w) {
			return false
		}
	}
	if rl.gate.Load()>>rangeBypassShift != b {
		return false
	}
	rl.gate.And(^uint64(rangeActive))
	return true
}

// waitDrained waits, as the owner of the closed gate, until drained.
func (rl *RangeLock) waitDrained() {
	for range rangeSpins {
		runtime.Gosched()
		if rl.drained() {
			return
		}
	}
	rl.mu.Lock()
	rl.gate.Or(rangeDrainer) // before the rescan: see unlockRange
	for !rl.drained() {
		rl.cond.Wait()
	}
	rl.gate.And(^uint64(rangeDrainer))
	rl.mu.Unlock()
}

// wakeAll wakes every goroutine parked on rl.cond.
func (rl *RangeLock) wakeAll() {
	rl.mu.Lock()
	rl.cond.Broadcast()
	rl.mu.Unlock()
}

// ---- the range level ----

// rangeStripeMask returns the set of stripes that [start, end) is entered in.
func rangeStripeMask(start, end uint64) uint64 {
	g0, g1 := start>>rangeGranuleShift, (end-1)>>rangeGranuleShift
	if g1-g0 >= rangeStripes-1 {
		return ^uint64(0)
	}
	n := g1 - g0 + 1 // < 64
	return bits.RotateLeft64(1<<n-1, int(g0%rangeStripes))
}

// lockRange enters [start, end) in its stripes. nested reports that the slot
// already holds a range, which exempts it from queueing behind waiters.
func (rl *RangeLock) lockRange(slot int, start, end uint64, excl, nested, try bool) bool {
	g0 := start >> rangeGranuleShift
	if g0 == (end-1)>>rangeGranuleShift {
		st := &rl.stripes[g0%rangeStripes]
		if iw, ok := rangeInlineWord(start, end, excl); ok {
			if st.word.CompareAndSwap(0, iw) {
				return true
			}
			if done, ok := st.lockInline(iw, try); done {
				return ok
			}
		}
		if st.lock(slot, start, end, excl, nested, try) {
			return true
		}
		rl.wakeDrainer()
		return false
	}
	mask := rangeStripeMask(start, end)
	for rest := mask; rest != 0; rest &= rest - 1 {
		s := bits.TrailingZeros64(rest)
		if !rl.stripes[s].lock(slot, start, end, excl, nested, try) {
			for undo := mask &^ rest; undo != 0; undo &= undo - 1 {
				rl.stripes[bits.TrailingZeros64(undo)].unlock(start, end, excl)
			}
			rl.wakeDrainer()
			return false
		}
	}
	return true
}

// unlockRange removes [start, end) from its stripes and wakes a whole-file
// request parked until they drain. The stripe writes and the load of the
// gate pair (Dekker) with the owner's setting rangeDrainer and rescanning.
func (rl *RangeLock) unlockRange(start, end uint64, excl bool) {
	g0 := start >> rangeGranuleShift
	if g0 == (end-1)>>rangeGranuleShift {
		st := &rl.stripes[g0%rangeStripes]
		if iw, ok := rangeInlineWord(start, end, excl); !ok || !st.unlockInline(iw) {
			st.unlock(start, end, excl)
		}
	} else {
		for rest := rangeStripeMask(start, end); rest != 0; rest &= rest - 1 {
			rl.stripes[bits.TrailingZeros64(rest)].unlock(start, end, excl)
		}
	}
	rl.wakeDrainer()
}

// wakeDrainer wakes the owner of the closed gate if it is parked until the
// stripes drain; every path that may return a stripe word to 0 or to an
// unheld distributed word calls it.
func (rl *RangeLock) wakeDrainer() {
	if rl.gate.Load()&rangeDrainer != 0 {
		rl.wakeAll()
	}
}

// lockInline tries the inline forms once the word was found non-zero: a
// word that became 0, or one more holder of the same shared range. With try
// set it also fails at once on a conflicting inline range, unless that is
// an unheld distributed word. done reports that
// the outcome is ok; otherwise the caller takes the table path.
func (st *rangeStripe) lockInline(iw uint64, try bool) (done, ok bool) {
	for {
		w := st.word.Load()
		switch {
		case w == 0:
			if st.word.CompareAndSwap(0, iw) {
				return true, true
			}
		case w == rangeTable:
			return false, false
		case iw&rangeInlineExcl == 0 && rangeIdent(w) == rangeIdent(iw) && w&rangeCountMask != rangeCountMask:
			if st.word.CompareAndSwap(w, w+rangeCountUnit) {
				return true, true
			}
		default:
			if try {
				h, r := rangeDecode(w), rangeDecode(iw)
				if rangeConflicts(h.start, h.end, h.excl, r.start, r.end, r.excl) && !st.idleDist(w) {
					return true, false
				}
			}
			return false, false
		}
	}
}

// unlockInline releases one holder of inline word iw if the stripe's word
// is still inline; it reports whether it did.
func (st *rangeStripe) unlockInline(iw uint64) bool {
	for {
		w := st.word.Load()
		if rangeIdent(w) != rangeIdent(iw) || w&rangeCountMask == 0 {
			return false // the table holds the range
		}
		nw := w - rangeCountUnit
		if nw&(rangeCountMask|rangeDist) == 0 {
			nw = 0 // a distributed word stays: its holders only read it
		}
		if st.word.CompareAndSwap(w, nw) {
			return true
		}
	}
}

// lock enters [start, end) in the stripe's table, waiting (unless try is set)
// while it conflicts with a held range or, unless nested, with a request
// queued before it.
func (st *rangeStripe) lock(slot int, start, end uint64, excl, nested, try bool) bool {
	st.mu.Lock()
	ticket := uint64(math.MaxUint64) // not queued
	for spins := 0; ; spins++ {
		st.toTable()
		if !st.conflicts(start, end, excl) && (nested || !st.queuedBefore(slot, start, end, excl, ticket)) {
			st.add(start, end, excl)
			if ticket != math.MaxUint64 {
				st.dequeue(ticket)
			}
			st.settle()
			st.mu.Unlock()
			return true
		}
		if try {
			st.settle()
			st.mu.Unlock()
			return false
		}
		if ticket == math.MaxUint64 {
			ticket = st.enqueue(slot, start, end, excl)
		}
		if spins < rangeSpins {
			st.mu.Unlock()
			runtime.Gosched()
			st.mu.Lock()
			continue
		}
		st.nwait++
		st.cond.Wait()
		st.nwait--
	}
}

// unlock removes one holder of [start, end) from the stripe's table.
func (st *rangeStripe) unlock(start, end uint64, excl bool) {
	st.mu.Lock()
	st.toTable()
	for i := range st.ents {
		if e := &st.ents[i]; e.start == start && e.end == end && e.excl == excl && e.n != 0 {
			if e.n--; e.n == 0 && !e.dist {
				last := len(st.ents) - 1
				st.ents[i] = st.ents[last]
				st.ents = st.ents[:last]
			}
			st.settle()
			st.mu.Unlock()
			return
		}
	}
	st.mu.Unlock()
	panic("locks: RangeLock: released range not found in its stripe")
}

// toTable moves an inline range into the table and sets the word to
// rangeTable, as mu's holder.
func (st *rangeStripe) toTable() {
	for {
		w := st.word.Load()
		switch {
		case w == rangeTable:
			return
		case w == 0:
			if st.word.CompareAndSwap(0, rangeTable) {
				return
			}
		default:
			st.ents = append(st.ents[:0], rangeDecode(w))
			if st.word.CompareAndSwap(w, rangeTable) {
				return
			}
			st.ents = st.ents[:0]
		}
	}
}

// settle ends a table operation as mu's holder: it wakes waiters, and when
// nobody waits it returns the word to 0 or to the inline form if it can, so
// that the next acquisition or release takes the fast path.
func (st *rangeStripe) settle() {
	if st.nwait != 0 {
		st.cond.Broadcast()
		return
	}
	if len(st.queue) != 0 {
		return
	}
	for i := 0; i < len(st.ents); i++ {
		if e := &st.ents[i]; e.dist && !st.held(e) {
			st.ents[i] = st.ents[len(st.ents)-1]
			st.ents = st.ents[:len(st.ents)-1]
			break // one distributed range per stripe
		}
	}
	switch len(st.ents) {
	case 0:
		st.word.Store(0)
	case 1:
		e := st.ents[0]
		if e.start>>rangeGranuleShift != (e.end-1)>>rangeGranuleShift || e.n > rangeCountMax || e.excl && e.n != 1 {
			return
		}
		if iw, ok := rangeInlineWord(e.start, e.end, e.excl); ok {
			st.ents = st.ents[:0]
			w := iw + uint64(e.n-1)*rangeCountUnit
			if e.dist {
				w = rangeIdent(iw) | rangeDist | uint64(e.n)*rangeCountUnit
			}
			st.word.Store(w)
		}
	}
}

func (st *rangeStripe) conflicts(start, end uint64, excl bool) bool {
	for i := range st.ents {
		if e := &st.ents[i]; rangeConflicts(e.start, e.end, e.excl, start, end, excl) && st.held(e) {
			return true
		}
	}
	return false
}

// held reports whether entry e has a holder: a distributed entry may have
// none left.
func (st *rangeStripe) held(e *rangeEntry) bool {
	return e.n != 0 || e.dist && st.distHolders() != 0
}

// distHolders returns the number of distributed holders of the stripe's
// distributed range: the sum of the slots' counts.
func (st *rangeStripe) distHolders() int64 {
	var n int64
	for i := range st.slots {
		n += int64(st.slots[i].dist[st.idx].Load())
	}
	return n
}

// idleDist reports whether w, the stripe's word, is a distributed range
// that nobody holds.
func (st *rangeStripe) idleDist(w uint64) bool {
	return w&(rangeTable|rangeDist|rangeCountMask) == rangeDist && st.distHolders() == 0
}

// queuedBefore reports whether a request of another slot queued before
// ticket conflicts with [start, end).
func (st *rangeStripe) queuedBefore(slot int, start, end uint64, excl bool, ticket uint64) bool {
	for _, q := range st.queue {
		if q.ticket < ticket && int(q.slot) != slot && rangeConflicts(q.start, q.end, q.excl, start, end, excl) {
			return true
		}
	}
	return false
}

func (st *rangeStripe) add(start, end uint64, excl bool) {
	if !excl {
		for i := range st.ents {
			if e := &st.ents[i]; !e.excl && e.start == start && e.end == end {
				e.n++
				return
			}
		}
	}
	st.ents = append(st.ents, rangeEntry{start: start, end: end, excl: excl, n: 1})
}

// enqueue queues a request and returns its ticket; tickets grow with
// arrival, so the oldest request has the smallest.
func (st *rangeStripe) enqueue(slot int, start, end uint64, excl bool) uint64 {
	t := uint64(1)
	if n := len(st.queue); n > 0 {
		t = st.queue[n-1].ticket + 1
	}
	st.queue = append(st.queue, rangeQueued{start: start, end: end, ticket: t, slot: int32(slot), excl: excl})
	return t
}

func (st *rangeStripe) dequeue(ticket uint64) {
	for i, q := range st.queue {
		if q.ticket == ticket {
			st.queue = append(st.queue[:i], st.queue[i+1:]...)
			return
		}
	}
}
