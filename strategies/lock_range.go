package strategies

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
	// are spread over lists: 64 KiB, sixteen 4 KiB pages.
	rangeGranuleShift = 16
	// rangeStripes is the number of lists. Granule g goes to list g mod
	// rangeStripes, so ranges within a 4 MiB window that share no granule
	// never share a list; a range of 64 granules or more is in every list.
	rangeStripes = 64
	// rangeHolds is how many ranges one slot may hold at once.
	rangeHolds = 4
	// rangeSpins is how many times a waiter yields before it parks.
	rangeSpins = 4
	// rangeAnnounceAfter is how many yields, summed over all the waits of
	// one acquisition, make a waiter announce itself (see RangeLock).
	rangeAnnounceAfter = 8
)

// RangeLock is a shared/exclusive lock over byte ranges [start, end) of a
// file: the model's extent range lock ER (btrfs's io tree lock). Shared ranges
// may overlap each other; a range held exclusively overlaps nothing else. end
// is exclusive and math.MaxUint64 means "to the end of the file", so the whole
// file is [0, math.MaxUint64).
//
// Slots. Every caller names its slot, its worker id in [0, slots); a slot is
// used by one goroutine at a time and may hold up to four ranges at once. The
// lock is fair, like the kernel's range locks, so (as with a recursive read of
// a writer-preferring rwsem) a slot that already holds a range and blocks in
// Lock for another one can deadlock against a third request that overlaps
// both; a slot that holds ranges should take further ones with TryLock.
//
// Design. Each list is the lock-free list of Kogan, Dice and Issa ("Scalable
// Range Locks for Scalable Address Spaces and Beyond", EuroSys 2020): a
// linked list of the ranges currently held (or being validated), sorted by
// start. To acquire, a goroutine walks the list: it passes nodes that end
// before its start (or, reader behind reader, that start no later), waits on
// a node it conflicts with until that node is released, and links its own node
// with one compare-and-swap in front of the first node that starts at or after
// its end. A concurrent insertion can slip a conflicting node in behind the
// walker, and a reader stops before the first reader that starts after it,
// so after linking, a writer rescans its predecessors and backs off if one
// overlaps it, and a reader rescans its successors and waits for any writer
// among those that overlap it. A writer linked right behind the list head, or
// a reader linked at its end, examined the whole part of the list that could
// hide a conflict and skips its rescan. Release is one atomic OR that marks
// the node's link word, which also freezes it, so nothing can be linked behind
// a node on its way out; the releaser then walks to the node and unlinks it
// with one compare-and-swap on its predecessor (walkers that meet a marked
// node unlink it as well). Taking and releasing an uncontended range costs
// five atomic read-modify-writes (the store of the node's bounds, the store
// and compare-and-swap that link it, the mark and the unlink) on lines that no
// disjoint range needs.
//
// Striping. A single list still makes every acquisition read and write its
// head, and on the two-core virtual machine this tool runs on a cache line
// takes about 170 ns to move from one core to the other (half a ping-pong
// round trip), several times an uncontended acquisition. So the offset space is cut into 64 KiB granules, granule g
// belongs to list g mod 64, and a range is linked, as one node per list, into
// every list its granules fall in, in increasing list order. Conflicts are
// still decided on whole ranges, so the semantics are exactly those of one
// list: two ranges that overlap share a granule and so meet in that
// granule's list, and two that do not overlap never wait for each other.
// Disjoint ranges in different granules of a 4 MiB window touch disjoint
// memory. Taking lists in increasing order, and never waiting for anything
// while holding a list except for a node of that list or a later one, keeps
// partial acquisitions free of cycles. A range of 64 granules or more (the
// full-file range of fsync's logging phase) is linked into all 64 lists,
// which costs about 64 uncontended acquisitions; that is the price of keeping
// small ranges independent.
//
// Memory. Nodes are preallocated, four per slot per list (16 KiB per slot),
// and addressed by index, so an acquisition allocates nothing and the garbage collector never
// sees a tagged pointer. A node that is not held is never linked (release
// returns only once its nodes are unlinked), so a slot reuses its nodes at
// once, without the epochs or RCU that the paper's C code leans on. A link
// word packs a 32-bit version, a 31-bit node index and the mark bit; every
// change of a link word bumps its version, which defeats ABA when a node is
// unlinked and reused. Reuse still lets a slow walker sit on a node that has
// since been recycled into another place of the list; walkers therefore move
// hand over hand: after reading a node's link and fields they check that
// their predecessor's link word is unchanged, which proves the node was still
// linked, and otherwise restart from the list head. The node's bounds are
// atomics for the same reason: a stale walker may read them while the owner
// rewrites them, and discards what it read.
//
// Fairness. The lists alone are not fair: a waiting request, say fsync's full
// range, restarts from the head each time the node it waits on goes, and a
// stream of small ranges can keep it waiting forever. So a waiter that has
// yielded rangeAnnounceAfter times, or is about to park, announces its range
// in a per-slot notice, and a new request from a slot that holds no range of
// this lock that conflicts with an announced range waits until that waiter has
// acquired before it enters the lists (TryLock fails instead). This is the
// range version of a rwsem's writer preference: the announced waiter waits at
// most for the holders present when it announced. Slots that already hold a
// range skip the check, which keeps a slot from waiting for a waiter that
// waits for it.
//
// Waiting. Waiters yield a few times (runtime.Gosched), then park on one
// sync.Cond per lock. Every release and every withdrawn announcement loads a
// waiter count and broadcasts only when someone is parked.
//
// Note: the peer design, one mutex guarding an interval tree or a sorted
// slice with a condition variable (Linux's range_lock proposal, FreeBSD's
// rangelock), serialises every acquisition on the mutex's cache line; it is
// the baseline the benchmarks compare against. Hashing granules to lists was
// rejected in favour of the plain modulus: the modulus keeps neighbouring
// granules, which concurrent workers on one file touch together, in
// different lists.
type RangeLock struct {
	_ [falseSharingPad]byte

	// announced counts announced waiters; every acquisition loads it.
	announced atomic.Int32
	// waiters counts parked goroutines; every release loads it.
	waiters atomic.Int32
	nslots  int
	nodes   []rangeNode
	slots   []rangeSlot
	notices []rangeNotice
	_       [falseSharingPad - 8 - 8 - 3*24]byte

	stripes [rangeStripes]rangeStripe

	// mu and cond park waiters; mu guards nothing else.
	mu   sync.Mutex
	cond sync.Cond
}

// RangeHandle names a held range; pass it to Unlock. The zero value holds
// nothing.
type RangeHandle struct {
	slot int32
	hold int32 // 1 + the slot's hold index
}

// rangeStripe is the head of one list.
type rangeStripe struct {
	head atomic.Uint64
	_    [falseSharingPad - 8]byte
}

// rangeNode is one range's entry in one list. Nodes are 64 bytes, not 128:
// a node is written by its owner and by walkers of its own list, and nodes of
// one list are grouped (list-major layout), so the lines next to a node belong
// to the same list, where the walkers meet anyway.
type rangeNode struct {
	// next is the link word: version<<32 | index<<1 | mark, where index is
	// 1 + the successor's position in RangeLock.nodes (0 ends the list) and
	// mark means this node is released.
	next atomic.Uint64
	// bounds is the range and mode packed into one word (see
	// rangePackBounds), so that setting a node up is one store.
	bounds atomic.Uint64
	// start and end hold the range when bounds has rangeWide set.
	start atomic.Uint64
	end   atomic.Uint64
	_     [64 - 32]byte
}

// A bounds word is either packed, excl<<62 | endPage<<31 | startPage, for
// ranges on 4 KiB page boundaries below 8 TiB (endPage rangeEndless means "to
// the end"), or rangeWide | excl<<62 with the range in the node's start and
// end fields. Every range the model asks for is packed; the wide form keeps
// byte ranges exact.
const (
	rangeWide      = 1 << 63
	rangeExcl      = 1 << 62
	rangePageShift = 12
	rangePageMask  = 1<<31 - 1
	rangeEndless   = rangePageMask
)

// rangePackBounds returns the bounds word of [start, end) and whether it
// is packed.
func rangePackBounds(start, end uint64, excl bool) (uint64, bool) {
	var b uint64
	if excl {
		b = rangeExcl
	}
	const pageBits = 1<<rangePageShift - 1
	sp, ep := start>>rangePageShift, uint64(rangeEndless)
	if end != math.MaxUint64 {
		ep = end >> rangePageShift
		if end&pageBits != 0 || ep >= rangeEndless {
			return b | rangeWide, false
		}
	}
	if start&pageBits != 0 || sp >= rangeEndless {
		return b | rangeWide, false
	}
	return b | ep<<31 | sp, true
}

// loadBounds reads node c's range and mode.
func (c *rangeNode) loadBounds() (start, end uint64, excl bool) {
	b := c.bounds.Load()
	excl = b&rangeExcl != 0
	if b&rangeWide != 0 {
		return c.start.Load(), c.end.Load(), excl
	}
	start = (b & rangePageMask) << rangePageShift
	end = math.MaxUint64
	if ep := b >> 31 & rangePageMask; ep != rangeEndless {
		end = ep << rangePageShift
	}
	return start, end, excl
}

// rangeSlot is the private state of one worker.
type rangeSlot struct {
	inUse uint8              // bit h: hold h is in use
	masks [rangeHolds]uint64 // lists of hold h
	_     [falseSharingPad - 40]byte
}

// rangeNotice is a waiter's announcement, read by new requests.
type rangeNotice struct {
	active atomic.Uint32
	excl   atomic.Uint32
	start  atomic.Uint64
	end    atomic.Uint64
	_      [falseSharingPad - 24]byte
}

const rangeMarked = 1

func rangeWord(ver, idx uint32) uint64 { return uint64(ver)<<32 | uint64(idx)<<1 }
func rangeIdx(w uint64) uint32         { return uint32(w) >> 1 }
func rangeVer(w uint64) uint32         { return uint32(w >> 32) }

// NewRangeLock returns an unlocked RangeLock for workers 0 to slots-1.
func NewRangeLock(slots int) *RangeLock {
	if slots < 1 || slots > 1<<16 {
		panic(fmt.Sprintf("strategies: NewRangeLock(%d): slots must be between 1 and %d", slots, 1<<16))
	}
	rl := &RangeLock{
		nslots:  slots,
		nodes:   make([]rangeNode, rangeStripes*slots*rangeHolds),
		slots:   make([]rangeSlot, slots),
		notices: make([]rangeNotice, slots),
	}
	rl.cond.L = &rl.mu
	return rl
}

// Lock takes [start, end) in mode m for slot, waiting until no conflicting
// range is held and no announced waiter would be overtaken.
func (rl *RangeLock) Lock(slot int, start, end uint64, m Mode) RangeHandle {
	h, _ := rl.lock(slot, start, end, m, false)
	return h
}

// TryLock takes [start, end) in mode m for slot if that needs no waiting,
// and reports whether it did. It fails if a conflicting range is held or is
// being acquired, or if the slot holds no range and the request conflicts
// with an announced waiter.
func (rl *RangeLock) TryLock(slot int, start, end uint64, m Mode) (RangeHandle, bool) {
	return rl.lock(slot, start, end, m, true)
}

// Unlock releases a range taken by Lock or TryLock.
func (rl *RangeLock) Unlock(h RangeHandle) {
	hold := int(h.hold) - 1
	if hold < 0 || hold >= rangeHolds || int(h.slot) >= rl.nslots {
		panic("strategies: RangeLock.Unlock: invalid handle")
	}
	sl := &rl.slots[h.slot]
	if sl.inUse&(1<<hold) == 0 {
		panic("strategies: RangeLock.Unlock: range not held")
	}
	rl.release(sl.masks[hold], int(h.slot), hold)
	sl.inUse &^= 1 << hold
}

// rangeWait is one acquisition in progress.
type rangeWait struct {
	slot       int
	start, end uint64
	bounds     uint64 // rangePackBounds(start, end, excl)
	excl       bool
	packed     bool
	yields     int
	announced  bool
}

func (rl *RangeLock) lock(slot int, start, end uint64, m Mode, try bool) (RangeHandle, bool) {
	if start >= end {
		panic(fmt.Sprintf("strategies: RangeLock: empty range [%d, %d)", start, end))
	}
	if m != Shared && m != Exclusive {
		panic(fmt.Sprintf("strategies: RangeLock: mode %v", m))
	}
	sl := &rl.slots[slot]
	hold := bits.TrailingZeros8(^sl.inUse)
	if hold >= rangeHolds {
		panic(fmt.Sprintf("strategies: RangeLock: slot %d already holds %d ranges", slot, rangeHolds))
	}
	w := rangeWait{slot: slot, start: start, end: end, excl: m == Exclusive}
	w.bounds, w.packed = rangePackBounds(start, end, w.excl)
	if sl.inUse == 0 && rl.announced.Load() != 0 && !rl.yieldToAnnounced(&w, try) {
		return RangeHandle{}, false
	}
	mask := rangeStripeMask(start, end)
	var done uint64
	for rest := mask; rest != 0; rest &= rest - 1 {
		s := bits.TrailingZeros64(rest)
		if !rl.acquireStripe(s, hold, &w, try) {
			rl.release(done, slot, hold)
			return RangeHandle{}, false
		}
		done |= 1 << s
	}
	if w.announced {
		rl.withdraw(&w)
	}
	sl.masks[hold] = mask
	sl.inUse |= 1 << hold
	return RangeHandle{slot: int32(slot), hold: int32(hold + 1)}, true
}

// rangeStripeMask returns the set of lists that [start, end) is linked into.
func rangeStripeMask(start, end uint64) uint64 {
	g0, g1 := start>>rangeGranuleShift, (end-1)>>rangeGranuleShift
	if g1-g0 >= rangeStripes-1 {
		return ^uint64(0)
	}
	n := g1 - g0 + 1 // < 64
	return bits.RotateLeft64(1<<n-1, int(g0%rangeStripes))
}

// node returns slot's node for hold in list s, and its index as stored in link words.
func (rl *RangeLock) node(s, slot, hold int) (*rangeNode, uint32) {
	i := (s*rl.nslots+slot)*rangeHolds + hold
	return &rl.nodes[i], uint32(i + 1)
}

// release releases the nodes of hold in the lists of mask: it marks them all,
// wakes the waiters, and then unlinks them, so that a node that is not held
// is never linked and can be reused at once.
func (rl *RangeLock) release(mask uint64, slot, hold int) {
	if mask == 0 {
		return
	}
	if mask&(mask-1) == 0 { // one list: the common case
		s := bits.TrailingZeros64(mask)
		n, _ := rl.node(s, slot, hold)
		n.next.Or(rangeMarked)
		rl.wake()
		rl.unlinkTo(s, n)
		return
	}
	for rest := mask; rest != 0; rest &= rest - 1 {
		n, _ := rl.node(bits.TrailingZeros64(rest), slot, hold)
		n.next.Or(rangeMarked)
	}
	rl.wake()
	for rest := mask; rest != 0; rest &= rest - 1 {
		s := bits.TrailingZeros64(rest)
		n, _ := rl.node(s, slot, hold)
		rl.unlinkTo(s, n)
	}
}

// wake wakes parked waiters, if any, after a release or a withdrawal. Its
// load of waiters pairs with the waiter's increment before it rechecks
// (Dekker): either the waiter sees the change or wake sees the waiter.
func (rl *RangeLock) wake() {
	if rl.waiters.Load() != 0 {
		rl.wakeAll()
	}
}

// wakeAll wakes every parked waiter.
func (rl *RangeLock) wakeAll() {
	rl.mu.Lock()
	rl.cond.Broadcast()
	rl.mu.Unlock()
}

// acquireStripe links w's node for hold into list s and validates it. It
// returns false, with the node unlinked, only if try is set.
func (rl *RangeLock) acquireStripe(s, hold int, w *rangeWait, try bool) bool {
	n, ni := rl.node(s, w.slot, hold)
	for {
		// The node is not linked (see release): no walker that could still
		// read it will act on what it reads (hand over hand), so its
		// fields may change.
		if !w.packed {
			if n.start.Load() != w.start {
				n.start.Store(w.start)
			}
			if n.end.Load() != w.end {
				n.end.Store(w.end)
			}
		}
		if n.bounds.Load() != w.bounds {
			n.bounds.Store(w.bounds)
		}
		linked, alone := rl.insert(s, n, ni, w, try)
		if !linked {
			return false
		}
		if alone {
			return true
		}
		if w.excl {
			if rl.validateWriter(s, n, ni, w, try) {
				return true
			}
		} else if rl.validateReader(s, n, w, try) {
			return true
		}
		if try {
			return false
		}
		// A writer that backed off retries with the same node.
	}
}

// unlinkTo walks list s, unlinking every released node it meets, until n,
// which its owner has marked, is no longer linked: either the walk unlinked it
// or it reached the end of the list without meeting it, because another
// walker had. A walk is hand over hand (see RangeLock), so a node it does not
// meet was not linked while the walk passed its place.
func (rl *RangeLock) unlinkTo(s int, n *rangeNode) {
restart:
	prev := &rl.stripes[s].head
	pv := prev.Load()
	for {
		if pv&rangeMarked != 0 {
			goto restart
		}
		ci := rangeIdx(pv)
		if ci == 0 {
			return
		}
		c := &rl.nodes[ci-1]
		cv := c.next.Load()
		if prev.Load() != pv {
			goto restart
		}
		if cv&rangeMarked != 0 {
			nv, ok := rl.unlink(prev, pv, cv)
			if !ok {
				goto restart
			}
			if c == n {
				return
			}
			pv = nv
			continue
		}
		prev, pv = &c.next, cv
	}
}

// unlink removes a released node, whose marked link word is cv, from behind
// prev, whose link word is pv. It returns prev's new link word.
func (rl *RangeLock) unlink(prev *atomic.Uint64, pv, cv uint64) (uint64, bool) {
	nv := rangeWord(rangeVer(pv)+1, rangeIdx(cv))
	return nv, prev.CompareAndSwap(pv, nv)
}

// Where a new range goes relative to a listed node.
const (
	rangeBefore   = iota // the listed node stays before it: walk on
	rangeAfter           // the new range goes in front of the listed node
	rangeConflict        // they conflict: wait
)

// rangeOrder compares a listed node [cs, ce) (exclusive if cx) with a new
// range [start, end) (exclusive if excl). Readers keep their arrival order
// among readers with the same start, as in Kogan et al.
func rangeOrder(cs, ce uint64, cx bool, start, end uint64, excl bool) int {
	shared := !cx && !excl
	switch {
	case start >= ce, shared && start >= cs:
		return rangeBefore
	case cs >= end, shared && cs >= start:
		return rangeAfter
	}
	return rangeConflict
}

// insert links n (index ni) into list s in start order, waiting for
// conflicting nodes on the way. linked is false only if try is set and a
// conflicting node is in the way. alone reports that validation is not
// needed: a writer linked right behind the list head, or a reader linked at
// the end of the list, had no part of the list behind it (respectively ahead
// of it) that it did not examine, so nothing that conflicts with it can have
// slipped in unseen; any later conflicting request walks into it.
func (rl *RangeLock) insert(s int, n *rangeNode, ni uint32, w *rangeWait, try bool) (linked, alone bool) {
	head := &rl.stripes[s].head
restart:
	prev := head
	pv := prev.Load()
	for {
		// Invariant: prev was linked when pv was read from it.
		if pv&rangeMarked != 0 {
			goto restart // prev was released under us
		}
		ci := rangeIdx(pv)
		if ci != 0 {
			c := &rl.nodes[ci-1]
			cv := c.next.Load()
			cs, ce, cx := c.loadBounds()
			if prev.Load() != pv {
				goto restart // c may have been unlinked and reused
			}
			if cv&rangeMarked != 0 {
				nv, ok := rl.unlink(prev, pv, cv)
				if !ok {
					goto restart
				}
				pv = nv
				continue
			}
			switch rangeOrder(cs, ce, cx, w.start, w.end, w.excl) {
			case rangeBefore:
				prev, pv = &c.next, cv
				continue
			case rangeConflict:
				if try {
					return false, false
				}
				rl.waitChange(&c.next, cv, w)
				goto restart
			}
		}
		n.next.Store(rangeWord(rangeVer(n.next.Load())+1, ci))
		if prev.CompareAndSwap(pv, rangeWord(rangeVer(pv)+1, ni)) {
			if w.excl {
				return true, prev == head
			}
			return true, ci == 0
		}
		goto restart
	}
}

// validateWriter checks that no node before n (index ni) in list s overlaps
// it. If one does (it was linked while n's walk was past its place), n backs
// off: it is marked, and unless try is set validateWriter waits until that
// node changes. Readers linked before a writer thus win, as in Kogan et al.
func (rl *RangeLock) validateWriter(s int, n *rangeNode, ni uint32, w *rangeWait, try bool) bool {
restart:
	prev := &rl.stripes[s].head
	pv := prev.Load()
	for {
		if pv&rangeMarked != 0 {
			goto restart
		}
		ci := rangeIdx(pv)
		if ci == ni {
			return true
		}
		if ci == 0 {
			panic("strategies: RangeLock: linked node not found in its list")
		}
		c := &rl.nodes[ci-1]
		cv := c.next.Load()
		_, ce, _ := c.loadBounds()
		if prev.Load() != pv {
			goto restart
		}
		if cv&rangeMarked != 0 {
			nv, ok := rl.unlink(prev, pv, cv)
			if !ok {
				goto restart
			}
			pv = nv
			continue
		}
		if ce > w.start {
			n.next.Or(rangeMarked)
			rl.wake()
			rl.unlinkTo(s, n)
			if !try {
				rl.waitChange(&c.next, cv, w)
			}
			return false
		}
		prev, pv = &c.next, cv
	}
}

// validateReader waits until no writer after n overlaps it. With try set it
// marks n and returns false instead of waiting.
func (rl *RangeLock) validateReader(s int, n *rangeNode, w *rangeWait, try bool) bool {
restart:
	// n is linked and only its owner marks it, so the walk may start there.
	prev := &n.next
	pv := prev.Load()
	for {
		if pv&rangeMarked != 0 {
			if prev == &n.next {
				panic("strategies: RangeLock: node released while validating")
			}
			goto restart
		}
		ci := rangeIdx(pv)
		if ci == 0 {
			return true
		}
		c := &rl.nodes[ci-1]
		cv := c.next.Load()
		cs, _, cx := c.loadBounds()
		if prev.Load() != pv {
			goto restart
		}
		if cv&rangeMarked != 0 {
			nv, ok := rl.unlink(prev, pv, cv)
			if !ok {
				goto restart
			}
			pv = nv
			continue
		}
		if cs >= w.end {
			return true // the list is sorted: nothing further overlaps
		}
		if cx {
			if try {
				n.next.Or(rangeMarked)
				rl.wake()
				rl.unlinkTo(s, n)
				return false
			}
			rl.waitChange(&c.next, cv, w)
			goto restart
		}
		prev, pv = &c.next, cv
	}
}

// waitChange waits until the link word at word is no longer old: the node
// it belongs to was released, or changed in a way that calls for a new walk.
func (rl *RangeLock) waitChange(word *atomic.Uint64, old uint64, w *rangeWait) {
	for range rangeSpins {
		if word.Load() != old {
			return
		}
		w.yields++
		if w.yields >= rangeAnnounceAfter && !w.announced {
			rl.announce(w)
		}
		runtime.Gosched()
	}
	if !w.announced {
		rl.announce(w)
	}
	rl.mu.Lock()
	rl.waiters.Add(1)
	for word.Load() == old {
		rl.cond.Wait()
	}
	rl.waiters.Add(-1)
	rl.mu.Unlock()
}

// announce publishes w's range so that new requests let it go first.
func (rl *RangeLock) announce(w *rangeWait) {
	nt := &rl.notices[w.slot]
	nt.start.Store(w.start)
	nt.end.Store(w.end)
	var x uint32
	if w.excl {
		x = 1
	}
	nt.excl.Store(x)
	nt.active.Store(1)
	rl.announced.Add(1)
	w.announced = true
}

// withdraw removes w's announcement once it holds its range.
func (rl *RangeLock) withdraw(w *rangeWait) {
	rl.notices[w.slot].active.Store(0)
	rl.announced.Add(-1)
	w.announced = false
	rl.wake()
}

// overtakes reports whether w conflicts with another slot's announced waiter.
// A notice read while its slot rewrites it may mix two ranges; that can only
// make a request wait once more or pass once early, never break exclusion.
func (rl *RangeLock) overtakes(w *rangeWait) bool {
	for i := range rl.notices {
		nt := &rl.notices[i]
		if i == w.slot || nt.active.Load() == 0 {
			continue
		}
		s, e, x := nt.start.Load(), nt.end.Load(), nt.excl.Load() != 0
		if s < w.end && w.start < e && (x || w.excl) {
			return true
		}
	}
	return false
}

// yieldToAnnounced lets announced waiters that w conflicts with acquire
// first. It returns false, without waiting, if try is set and w would have
// to wait. A request waiting here does not announce itself: announced waiters
// never wait here, so waits on notices form no cycle.
func (rl *RangeLock) yieldToAnnounced(w *rangeWait, try bool) bool {
	if !rl.overtakes(w) {
		return true
	}
	if try {
		return false
	}
	for range rangeSpins {
		runtime.Gosched()
		if !rl.overtakes(w) {
			return true
		}
	}
	rl.mu.Lock()
	rl.waiters.Add(1)
	for rl.overtakes(w) {
		rl.cond.Wait()
	}
	rl.waiters.Add(-1)
	rl.mu.Unlock()
	return true
}
