package primbench

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"lockbench/internal/benchname"
	"lockbench/strategies/locks"
)

// koganPad keeps hot words of different cores in different cache-line pairs
// (locks' falseSharingPad).
const koganPad = 128

const (
	// koganGranuleShift sets the granule, the unit by which byte offsets
	// are spread over lists: 64 KiB, sixteen 4 KiB pages.
	koganGranuleShift = 16
	// koganStripes is the number of lists. Granule g goes to list g mod
	// koganStripes, so ranges within a 4 MiB window that share no granule
	// never share a list; a range of 64 granules or more is in every list.
	koganStripes = 64
	// koganHolds is how many ranges one slot may hold at once.
	koganHolds = 4
	// koganSpins is how many times a waiter yields before it parks.
	koganSpins = 4
	// koganAnnounceAfter is how many yields, summed over all the waits of
	// one acquisition, make a waiter announce itself (see koganLock).
	koganAnnounceAfter = 8
)

// koganLock is the literature peer of RangeLock in the benchmarks: the
// lock-free list-based range lock of Kogan, Dice and Issa ("Scalable Range
// Locks for Scalable Address Spaces and Beyond", EuroSys 2020). It is the
// RangeLock lockbench used before the two-level design, kept as it was: a
// sorted list of held ranges per list, linked with one compare-and-swap and
// released by marking the node's link word (versioned 32-bit indexes into
// preallocated nodes instead of pointers, walks hand over hand), with a
// waiter announcement for fairness. With lists = 1 it is the paper's single
// list; with lists = 64 it cuts the offset space into 64 KiB granules,
// granule g in list g mod 64, so that disjoint ranges share no memory but a
// whole-file range is linked into all 64 lists.
type koganLock struct {
	_ [koganPad]byte

	// announced counts announced waiters; every acquisition loads it.
	announced atomic.Int32
	// waiters counts parked goroutines; every release loads it.
	waiters atomic.Int32
	nslots  int
	lists   int
	nodes   []koganNode
	slots   []koganSlot
	notices []koganNotice
	_       [koganPad - 8 - 8 - 8 - 3*24]byte

	stripes [koganStripes]koganStripe

	// mu and cond park waiters; mu guards nothing else.
	mu   sync.Mutex
	cond sync.Cond
}

// koganHandle names a held range; pass it to Unlock. The zero value holds
// nothing.
type koganHandle struct {
	slot int32
	hold int32 // 1 + the slot's hold index
}

// koganStripe is the head of one list.
type koganStripe struct {
	head atomic.Uint64
	_    [koganPad - 8]byte
}

// koganNode is one range's entry in one list. Nodes are 64 bytes, not 128:
// a node is written by its owner and by walkers of its own list, and nodes of
// one list are grouped (list-major layout), so the lines next to a node belong
// to the same list, where the walkers meet anyway.
type koganNode struct {
	// next is the link word: version<<32 | index<<1 | mark, where index is
	// 1 + the successor's position in koganLock.nodes (0 ends the list) and
	// mark means this node is released.
	next atomic.Uint64
	// bounds is the range and mode packed into one word (see
	// koganPackBounds), so that setting a node up is one store.
	bounds atomic.Uint64
	// start and end hold the range when bounds has koganWide set.
	start atomic.Uint64
	end   atomic.Uint64
	_     [64 - 32]byte
}

// A bounds word is either packed, excl<<62 | endPage<<31 | startPage, for
// ranges on 4 KiB page boundaries below 8 TiB (endPage koganEndless means "to
// the end"), or koganWide | excl<<62 with the range in the node's start and
// end fields. Every range the model asks for is packed; the wide form keeps
// byte ranges exact.
const (
	koganWide      = 1 << 63
	koganExcl      = 1 << 62
	koganPageShift = 12
	koganPageMask  = 1<<31 - 1
	koganEndless   = koganPageMask
)

// koganPackBounds returns the bounds word of [start, end) and whether it
// is packed.
func koganPackBounds(start, end uint64, excl bool) (uint64, bool) {
	var b uint64
	if excl {
		b = koganExcl
	}
	const pageBits = 1<<koganPageShift - 1
	sp, ep := start>>koganPageShift, uint64(koganEndless)
	if end != math.MaxUint64 {
		ep = end >> koganPageShift
		if end&pageBits != 0 || ep >= koganEndless {
			return b | koganWide, false
		}
	}
	if start&pageBits != 0 || sp >= koganEndless {
		return b | koganWide, false
	}
	return b | ep<<31 | sp, true
}

// loadBounds reads node c's range and mode.
func (c *koganNode) loadBounds() (start, end uint64, excl bool) {
	b := c.bounds.Load()
	excl = b&koganExcl != 0
	if b&koganWide != 0 {
		return c.start.Load(), c.end.Load(), excl
	}
	start = (b & koganPageMask) << koganPageShift
	end = math.MaxUint64
	if ep := b >> 31 & koganPageMask; ep != koganEndless {
		end = ep << koganPageShift
	}
	return start, end, excl
}

// koganSlot is the private state of one worker.
type koganSlot struct {
	inUse uint8              // bit h: hold h is in use
	masks [koganHolds]uint64 // lists of hold h
	_     [koganPad - 40]byte
}

// koganNotice is a waiter's announcement, read by new requests.
type koganNotice struct {
	active atomic.Uint32
	excl   atomic.Uint32
	start  atomic.Uint64
	end    atomic.Uint64
	_      [koganPad - 24]byte
}

const koganMarked = 1

func koganWord(ver, idx uint32) uint64 { return uint64(ver)<<32 | uint64(idx)<<1 }
func koganIdx(w uint64) uint32         { return uint32(w) >> 1 }
func koganVer(w uint64) uint32         { return uint32(w >> 32) }

// newKoganLock returns an unlocked koganLock for workers 0 to slots-1 with
// 1 or 64 lists.
func newKoganLock(slots, lists int) *koganLock {
	if lists != 1 && lists != koganStripes {
		panic(fmt.Sprintf("newKoganLock: %d lists; want 1 or %d", lists, koganStripes))
	}
	if slots < 1 || slots > 1<<16 {
		panic(fmt.Sprintf("locks: newKoganLock(%d): slots must be between 1 and %d", slots, 1<<16))
	}
	rl := &koganLock{
		nslots:  slots,
		lists:   lists,
		nodes:   make([]koganNode, lists*slots*koganHolds),
		slots:   make([]koganSlot, slots),
		notices: make([]koganNotice, slots),
	}
	rl.cond.L = &rl.mu
	return rl
}

// Lock takes [start, end) in mode m for slot, waiting until no conflicting
// range is held and no announced waiter would be overtaken.
func (rl *koganLock) Lock(slot int, start, end uint64, m locks.Mode) koganHandle {
	h, _ := rl.lock(slot, start, end, m, false)
	return h
}

// TryLock takes [start, end) in mode m for slot if that needs no waiting,
// and reports whether it did. It fails if a conflicting range is held or is
// being acquired, or if the slot holds no range and the request conflicts
// with an announced waiter.
func (rl *koganLock) TryLock(slot int, start, end uint64, m locks.Mode) (koganHandle, bool) {
	return rl.lock(slot, start, end, m, true)
}

// Unlock releases a range taken by Lock or TryLock.
func (rl *koganLock) Unlock(h koganHandle) {
	hold := int(h.hold) - 1
	if hold < 0 || hold >= koganHolds || int(h.slot) >= rl.nslots {
		panic("locks: koganLock.Unlock: invalid handle")
	}
	sl := &rl.slots[h.slot]
	if sl.inUse&(1<<hold) == 0 {
		panic("locks: koganLock.Unlock: range not held")
	}
	rl.release(sl.masks[hold], int(h.slot), hold)
	sl.inUse &^= 1 << hold
}

// koganWait is one acquisition in progress.
type koganWait struct {
	slot       int
	start, end uint64
	bounds     uint64 // koganPackBounds(start, end, excl)
	excl       bool
	packed     bool
	yields     int
	announced  bool
}

func (rl *koganLock) lock(slot int, start, end uint64, m locks.Mode, try bool) (koganHandle, bool) {
	if start >= end {
		panic(fmt.Sprintf("locks: koganLock: empty range [%d, %d)", start, end))
	}
	if m != locks.Shared && m != locks.Exclusive {
		panic(fmt.Sprintf("locks: koganLock: mode %v", m))
	}
	sl := &rl.slots[slot]
	hold := bits.TrailingZeros8(^sl.inUse)
	if hold >= koganHolds {
		panic(fmt.Sprintf("locks: koganLock: slot %d already holds %d ranges", slot, koganHolds))
	}
	w := koganWait{slot: slot, start: start, end: end, excl: m == locks.Exclusive}
	w.bounds, w.packed = koganPackBounds(start, end, w.excl)
	if sl.inUse == 0 && rl.announced.Load() != 0 && !rl.yieldToAnnounced(&w, try) {
		return koganHandle{}, false
	}
	mask := uint64(1)
	if rl.lists > 1 {
		mask = koganStripeMask(start, end)
	}
	var done uint64
	for rest := mask; rest != 0; rest &= rest - 1 {
		s := bits.TrailingZeros64(rest)
		if !rl.acquireStripe(s, hold, &w, try) {
			rl.release(done, slot, hold)
			return koganHandle{}, false
		}
		done |= 1 << s
	}
	if w.announced {
		rl.withdraw(&w)
	}
	sl.masks[hold] = mask
	sl.inUse |= 1 << hold
	return koganHandle{slot: int32(slot), hold: int32(hold + 1)}, true
}

// koganStripeMask returns the set of lists that [start, end) is linked into.
func koganStripeMask(start, end uint64) uint64 {
	g0, g1 := start>>koganGranuleShift, (end-1)>>koganGranuleShift
	if g1-g0 >= koganStripes-1 {
		return ^uint64(0)
	}
	n := g1 - g0 + 1 // < 64
	return bits.RotateLeft64(1<<n-1, int(g0%koganStripes))
}

// node returns slot's node for hold in list s, and its index as stored in link words.
func (rl *koganLock) node(s, slot, hold int) (*koganNode, uint32) {
	i := (s*rl.nslots+slot)*koganHolds + hold
	return &rl.nodes[i], uint32(i + 1)
}

// release releases the nodes of hold in the lists of mask: it marks them all,
// wakes the waiters, and then unlinks them, so that a node that is not held
// is never linked and can be reused at once.
func (rl *koganLock) release(mask uint64, slot, hold int) {
	if mask == 0 {
		return
	}
	if mask&(mask-1) == 0 { // one list: the common case
		s := bits.TrailingZeros64(mask)
		n, _ := rl.node(s, slot, hold)
		n.next.Or(koganMarked)
		rl.wake()
		rl.unlinkTo(s, n)
		return
	}
	for rest := mask; rest != 0; rest &= rest - 1 {
		n, _ := rl.node(bits.TrailingZeros64(rest), slot, hold)
		n.next.Or(koganMarked)
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
func (rl *koganLock) wake() {
	if rl.waiters.Load() != 0 {
		rl.wakeAll()
	}
}

// wakeAll wakes every parked waiter.
func (rl *koganLock) wakeAll() {
	rl.mu.Lock()
	rl.cond.Broadcast()
	rl.mu.Unlock()
}

// acquireStripe links w's node for hold into list s and validates it. It
// returns false, with the node unlinked, only if try is set.
func (rl *koganLock) acquireStripe(s, hold int, w *koganWait, try bool) bool {
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
// walker had. A walk is hand over hand (see koganLock), so a node it does not
// meet was not linked while the walk passed its place.
func (rl *koganLock) unlinkTo(s int, n *koganNode) {
restart:
	prev := &rl.stripes[s].head
	pv := prev.Load()
	for {
		if pv&koganMarked != 0 {
			goto restart
		}
		ci := koganIdx(pv)
		if ci == 0 {
			return
		}
		c := &rl.nodes[ci-1]
		cv := c.next.Load()
		if prev.Load() != pv {
			goto restart
		}
		if cv&koganMarked != 0 {
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
func (rl *koganLock) unlink(prev *atomic.Uint64, pv, cv uint64) (uint64, bool) {
	nv := koganWord(koganVer(pv)+1, koganIdx(cv))
	return nv, prev.CompareAndSwap(pv, nv)
}

// Where a new range goes relative to a listed node.
const (
	koganBefore   = iota // the listed node stays before it: walk on
	koganAfter           // the new range goes in front of the listed node
	koganConflict        // they conflict: wait
)

// koganOrder compares a listed node [cs, ce) (exclusive if cx) with a new
// range [start, end) (exclusive if excl). Readers keep their arrival order
// among readers with the same start, as in Kogan et al.
func koganOrder(cs, ce uint64, cx bool, start, end uint64, excl bool) int {
	shared := !cx && !excl
	switch {
	case start >= ce, shared && start >= cs:
		return koganBefore
	case cs >= end, shared && cs >= start:
		return koganAfter
	}
	return koganConflict
}

// insert links n (index ni) into list s in start order, waiting for
// conflicting nodes on the way. linked is false only if try is set and a
// conflicting node is in the way. alone reports that validation is not
// needed: a writer linked right behind the list head, or a reader linked at
// the end of the list, had no part of the list behind it (respectively ahead
// of it) that it did not examine, so nothing that conflicts with it can have
// slipped in unseen; any later conflicting request walks into it.
func (rl *koganLock) insert(s int, n *koganNode, ni uint32, w *koganWait, try bool) (linked, alone bool) {
	head := &rl.stripes[s].head
restart:
	prev := head
	pv := prev.Load()
	for {
		// Invariant: prev was linked when pv was read from it.
		if pv&koganMarked != 0 {
			goto restart // prev was released under us
		}
		ci := koganIdx(pv)
		if ci != 0 {
			c := &rl.nodes[ci-1]
			cv := c.next.Load()
			cs, ce, cx := c.loadBounds()
			if prev.Load() != pv {
				goto restart // c may have been unlinked and reused
			}
			if cv&koganMarked != 0 {
				nv, ok := rl.unlink(prev, pv, cv)
				if !ok {
					goto restart
				}
				pv = nv
				continue
			}
			switch koganOrder(cs, ce, cx, w.start, w.end, w.excl) {
			case koganBefore:
				prev, pv = &c.next, cv
				continue
			case koganConflict:
				if try {
					return false, false
				}
				rl.waitChange(&c.next, cv, w)
				goto restart
			}
		}
		n.next.Store(koganWord(koganVer(n.next.Load())+1, ci))
		if prev.CompareAndSwap(pv, koganWord(koganVer(pv)+1, ni)) {
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
func (rl *koganLock) validateWriter(s int, n *koganNode, ni uint32, w *koganWait, try bool) bool {
restart:
	prev := &rl.stripes[s].head
	pv := prev.Load()
	for {
		if pv&koganMarked != 0 {
			goto restart
		}
		ci := koganIdx(pv)
		if ci == ni {
			return true
		}
		if ci == 0 {
			panic("locks: koganLock: linked node not found in its list")
		}
		c := &rl.nodes[ci-1]
		cv := c.next.Load()
		_, ce, _ := c.loadBounds()
		if prev.Load() != pv {
			goto restart
		}
		if cv&koganMarked != 0 {
			nv, ok := rl.unlink(prev, pv, cv)
			if !ok {
				goto restart
			}
			pv = nv
			continue
		}
		if ce > w.start {
			n.next.Or(koganMarked)
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
func (rl *koganLock) validateReader(s int, n *koganNode, w *koganWait, try bool) bool {
restart:
	// n is linked and only its owner marks it, so the walk may start there.
	prev := &n.next
	pv := prev.Load()
	for {
		if pv&koganMarked != 0 {
			if prev == &n.next {
				panic("locks: koganLock: node released while validating")
			}
			goto restart
		}
		ci := koganIdx(pv)
		if ci == 0 {
			return true
		}
		c := &rl.nodes[ci-1]
		cv := c.next.Load()
		cs, _, cx := c.loadBounds()
		if prev.Load() != pv {
			goto restart
		}
		if cv&koganMarked != 0 {
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
				n.next.Or(koganMarked)
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
func (rl *koganLock) waitChange(word *atomic.Uint64, old uint64, w *koganWait) {
	for range koganSpins {
		if word.Load() != old {
			return
		}
		w.yields++
		if w.yields >= koganAnnounceAfter && !w.announced {
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
func (rl *koganLock) announce(w *koganWait) {
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
func (rl *koganLock) withdraw(w *koganWait) {
	rl.notices[w.slot].active.Store(0)
	rl.announced.Add(-1)
	w.announced = false
	rl.wake()
}

// overtakes reports whether w conflicts with another slot's announced waiter.
// A notice read while its slot rewrites it may mix two ranges; that can only
// make a request wait once more or pass once early, never break exclusion.
func (rl *koganLock) overtakes(w *koganWait) bool {
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
func (rl *koganLock) yieldToAnnounced(w *koganWait, try bool) bool {
	if !rl.overtakes(w) {
		return true
	}
	if try {
		return false
	}
	for range koganSpins {
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

// rangePeerBenchmarks runs workload op with threads workers on the range
// lock peers beyond the mutex tree: lock=kogan-list, the list-based lock in
// one list as in the paper, and, for op=whole-file, lock=sync.Mutex, the
// yardstick of RangeLock's whole-file goal (an uncontended mutex).
func rangePeerBenchmarks(b *testing.B, op string, threads int) {
	th := strconv.Itoa(threads)
	b.Run(benchname.Join("lock", "kogan-list", "op", op, "threads", th), func(b *testing.B) {
		kl := newKoganLock(threads, 1)
		runRangeLoop(b, op, threads, kl.Lock, kl.Unlock)
	})
	if op == "whole-file" {
		b.Run(benchname.Join("lock", "sync.Mutex", "op", op, "threads", th), func(b *testing.B) {
			var mu sync.Mutex
			runRangeLoop(b, op, threads,
				func(int, uint64, uint64, locks.Mode) struct{} { mu.Lock(); return struct{}{} },
				func(struct{}) { mu.Unlock() })
		})
	}
}
