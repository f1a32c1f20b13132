package locks

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// rwsemSpins is how many times a waiter yields (runtime.Gosched) before it
// parks. The machine this tool targets has two cores and usually more
// goroutines than cores, so a waiter that spins on a core delays the very
// holder it waits for; a few yields catch the short holds (IX) cheaply, and
// longer waits (IL against fsync or punch) park.
const rwsemSpins = 4

// A waiting writer does not spin on the owner bit before it yields: with two
// CPUs, rereading the word while the holder works made contended writes
// slower, not faster, the more it reread (the spinner's reads take the line
// from the holder; BenchmarkPrimitive/lock=rwsem/op=write, figures in
// docs/MEASUREMENTS.md, "RWSem writers' spinning").

// RWSem is a reader-writer semaphore with per-worker reader counters, for the
// model's MM, IO, IL and IX locks. It behaves as the kernel's rw_semaphore as
// far as the model cares: readers share, a writer excludes everybody, and a
// waiting writer blocks new readers (writer preference), which is what makes
// the inline-data deadlock of R4 reproducible.
//
// Slots. Every caller names its slot, its worker id in [0, slots). A slot is
// used by one goroutine at a time; that goroutine may hold the read side of
// several RWSems but never of the same RWSem twice (a recursive read would
// deadlock against a waiting writer, as in the kernel, and is caught as a
// panic).
//
// Read fast path. Each slot owns one word alone in its cache-line pair: its
// reader count (0 or 1) plus a writer bit. RLock adds 1 to its own word and
// holds the read side if the result is exactly 1; RUnlock subtracts 1 and is
// done if the result is 0. So an uncontended read is two LOCK XADDs on a line
// that no other reader touches, with no shared line read or written at all:
// readers on different cores never exchange cache lines, and both methods are
// small enough to be inlined. This is the per-CPU rwsem (and BRAVO reader
// table) design, with the writer's flag moved into each reader's word.
//
// Writers. The writer lock is an owner bit in slot 0's word. A writer takes
// it and sets the writer bit in every slot's word; since the reader's add and
// the writer's OR are read-modify-writes of the same word, one of them sees
// the other (no Dekker handshake between two locations is needed, and Go's
// atomics being sequentially consistent covers the few two-location
// handshakes that remain on the slow paths). A reader whose add finds the bit
// backs out; the writer then waits until every count is 0. Unlock releases
// only the owner bit and leaves the writer bits set: a slot stays closed until
// its next reader finds no writer holding or waiting and reopens it (it marks
// slot 0's word dirty, clears its own writer bit and checks again). So
// writers that follow each other write one word (slot 0's: one
// compare-and-swap to take, one to release) and only read the others, and
// each slot pays its reopening once per write at its next read.
//
// Waiting. A writer that finds the owner bit set counts itself in writers,
// yields a few times and then parks; while writers are counted, readers do
// not reopen (writer preference). A new writer may take the owner bit before
// one that is still yielding, as with sync.Mutex, but a parked writer is
// handed the owner bit by the next release. The owner waits for the readers to
// drain by yielding a few times and then sleeping on a sync.Cond that each
// departing reader signals while the sleeping flag is set. A reader that
// finds its slot closed by a writer yields a few times and then queues under
// an internal mutex. Every writer's Unlock hands the read lock to all queued
// readers at once, by adding their counts itself before it gives up the owner
// bit (the kernel's reader hand-off), so readers do not starve under a stream
// of writers either: a queued reader waits for at most the writer that
// releases after it queued.
//
// Nothing allocates after NewRWSem.
//
// Note: sync.RWMutex was rejected as the model's rwsem because every RLock
// and RUnlock is an atomic add on one shared word, whose cache line then moves
// between cores on every fault. xsync.RBMutex (BRAVO) avoids that but hashes
// readers to slots through a sync.Pool token and turns its reader bias off
// for a while after each writer, which costs more per read here, where
// writers (fsync, punch, write()) are regular. A first version of RWSem kept
// one shared writer count that readers loaded after incrementing their own
// counter (a Dekker handshake across two words); it needed two extra loads of
// a shared line per read and did not fit the inlining budget.
type RWSem struct {
	_ [falseSharingPad]byte // keeps the header off the previous object's lines

	// writers counts writers that wait for the owner bit.
	writers atomic.Int32
	// sleeping is 1 while the draining writer is parked on drained.
	sleeping atomic.Int32
	// queued counts readers that are queued or about to queue under mu.
	queued atomic.Int32
	// wparked counts writers parked on wakeup.
	wparked atomic.Int32
	slots   []rwsemSlot
	_       [falseSharingPad - 16 - 24]byte

	// mu guards the slow paths: the queue of parked readers and the two
	// condition variables.
	mu sync.Mutex
	// drained wakes the draining writer when a reader leaves.
	drained sync.Cond
	// handoff wakes parked readers when a writer grants them the lock.
	handoff sync.Cond
	// wakeup wakes parked writers when the owner bit is released.
	wakeup sync.Cond
	// queue lists the slots of parked readers, in arrival order.
	queue []int32
	// granted[slot] is set by the writer that handed slot the read lock.
	granted []bool
	// wturn is set by a release that handed the owner bit to a parked
	// writer.
	wturn bool
}

const (
	// rwsemWriter is the writer bit of a slot word.
	rwsemWriter = 1 << 16
	// rwsemOwner is the writer lock, in slot 0's word only.
	rwsemOwner = 1 << 17
	// rwsemDirty, in slot 0's word only, means that a slot other than 0 may
	// have been reopened, or handed a read count, since a writer last closed
	// them all. Without it the next writer finds every other slot closed and
	// empty (a reader whose add finds its slot closed never holds), so it
	// needs to look at no word but slot 0's.
	rwsemDirty = 1 << 18
	// rwsemCount masks a slot word's reader count.
	rwsemCount = rwsemWriter - 1
	// rwsemHeld masks what a reader checks: the word is exactly 1 under it
	// when the reader holds (slot 0's owner and dirty bits do not matter).
	rwsemHeld = rwsemCount | rwsemWriter
)

// rwsemSlot is one worker's word: its reader count (1 while it holds the
// read side, or has been handed it) plus rwsemWriter while a writer holds
// the lock or waits for readers to drain.
type rwsemSlot struct {
	word atomic.Int32
	_    [falseSharingPad - 4]byte
}

// NewRWSem returns an unlocked RWSem for workers 0 to slots-1.
func NewRWSem(slots int) *RWSem {
	if slots < 1 || slots > 1<<20 {
		panic(fmt.Sprintf("locks: NewRWSem(%d): slots must be between 1 and %d", slots, 1<<20))
	}
	r := &RWSem{
		slots:   make([]rwsemSlot, slots),
		queue:   make([]int32, 0, slots),
		granted: make([]bool, slots),
	}
	r.slots[0].word.Store(rwsemDirty) // the other slots start open
	r.drained.L = &r.mu
	r.handoff.L = &r.mu
	r.wakeup.L = &r.mu
	return r
}

// RLock takes the read side for slot, waiting while a writer holds the lock
// or waits for it.
func (r *RWSem) RLock(slot int) {
	if r.slots[slot].word.Add(1)&rwsemHeld != 1 {
		r.rlockSlow(slot)
	}
}

// RUnlock releases the read side held by slot.
func (r *RWSem) RUnlock(slot int) {
	if r.slots[slot].word.Add(-1)&rwsemHeld != 0 {
		r.runlockSlow(slot)
	}
}

// TryRLock takes the read side for slot if no writer holds the lock or waits
// for it, and reports whether it did.
func (r *RWSem) TryRLock(slot int) bool {
	s := &r.slots[slot]
	v := s.word.Add(1)
	if v&rwsemHeld == 1 {
		return true // no writer bit
	}
	if v&rwsemCount != 1 {
		s.word.Add(-1)
		panic("locks: RWSem.TryRLock: slot already holds the read side")
	}
	r.backOut(s)
	if r.reopen(slot) {
		if s.word.Add(1)&rwsemHeld == 1 {
			return true
		}
		r.backOut(s)
	}
	return false
}

// Lock takes the write side, waiting for the current writer and for every
// reader to leave. From the moment this writer is next in line, new readers
// wait and Contended is true.
func (r *RWSem) Lock() {
	s0 := &r.slots[0].word
	v := s0.Load()
	if v&rwsemOwner != 0 || !s0.CompareAndSwap(v, (v|rwsemOwner|rwsemWriter)&^rwsemDirty) {
		v = r.lockSlow()
	}
	if v&(rwsemDirty|rwsemCount) != 0 {
		r.closeSlots(v)
		if !r.drainedNow() {
			r.waitDrained()
		}
	}
}

// lockSlow waits for the owner bit and takes it; it returns slot 0's word
// as it was just before. A writer that had to park gets the owner bit handed
// to it by the next release (wturn), so writers that keep coming cannot
// starve it.
func (r *RWSem) lockSlow() int32 {
	s0 := &r.slots[0].word
	r.writers.Add(1)
	for spins := 0; ; spins++ {
		if v := s0.Load(); v&rwsemOwner == 0 && s0.CompareAndSwap(v, (v|rwsemOwner|rwsemWriter)&^rwsemDirty) {
			r.writers.Add(-1)
			return v
		}
		if spins < rwsemSpins {
			runtime.Gosched()
			continue
		}
		r.mu.Lock()
		r.wparked.Add(1) // before the recheck: see release
		for !r.wturn && s0.Load()&rwsemOwner != 0 {
			r.wakeup.Wait()
		}
		r.wparked.Add(-1)
		if r.wturn {
			// The releaser kept the owner bit set for this writer.
			r.wturn = false
			r.mu.Unlock()
			r.writers.Add(-1)
			for {
				v := s0.Load()
				if s0.CompareAndSwap(v, v&^rwsemDirty) {
					return v
				}
			}
		}
		r.mu.Unlock()
	}
}

// TryLock takes the write side if nobody holds the lock, and reports whether
// it did. It fails if another writer holds or waits, or any reader holds.
func (r *RWSem) TryLock() bool {
	s0 := &r.slots[0].word
	if r.writers.Load() != 0 {
		return false
	}
	v := s0.Load()
	if v&rwsemOwner != 0 || !s0.CompareAndSwap(v, (v|rwsemOwner|rwsemWriter)&^rwsemDirty) {
		return false
	}
	if v&(rwsemDirty|rwsemCount) == 0 {
		return true
	}
	r.closeSlots(v)
	if r.drainedNow() {
		return true
	}
	// Readers are inside: the slots are closed but not empty, so the next
	// writer must drain them. Readers that arrived meanwhile may have queued
	// behind this attempt; let them in as Unlock would.
	s0.Or(rwsemDirty)
	r.Unlock()
	return false
}

// Unlock releases the write side and hands the read side to every reader
// queued behind it. The writer bits stay set (see RWSem).
func (r *RWSem) Unlock() {
	// A queued reader counted itself in queued before it last checked for a
	// writer; readers that queue after this load are woken by release.
	if r.queued.Load() != 0 {
		r.handOff()
	}
	r.release()
}

// release gives up the owner bit, or hands it to a parked writer, and wakes
// the queued readers and parked writers that wait for that. Its
// read-modify-write of slot 0 and its loads pair (Dekker) with their counting
// themselves and then rechecking the owner bit.
func (r *RWSem) release() {
	if r.wparked.Load() != 0 {
		r.mu.Lock()
		if r.wparked.Load() != 0 && !r.wturn {
			r.wturn = true
			r.wakeup.Signal()
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
	}
	r.slots[0].word.And(^int32(rwsemOwner))
	if q, w := r.queued.Load(), r.wparked.Load(); q != 0 || w != 0 {
		r.mu.Lock()
		if q != 0 {
			r.handoff.Broadcast()
		}
		if w != 0 {
			r.wakeup.Signal()
		}
		r.mu.Unlock()
	}
}

// writerActive reports whether a writer holds the owner bit or waits for it.
func (r *RWSem) writerActive() bool {
	return r.writers.Load() != 0 || r.slots[0].word.Load()&rwsemOwner != 0
}

// reopen clears slot's writer bit left by past writers, if no writer holds
// or waits, and reports whether it did. The slot holds no read count. A
// reopened slot other than 0 makes slot 0's word dirty, so that the next
// writer closes and drains it; the check after the clear pairs (Dekker) with
// that writer's compare-and-swap and its reading the slot, and a writer that
// came meanwhile finds the slot closed again.
func (r *RWSem) reopen(slot int) bool {
	s0 := &r.slots[0].word
	if r.writers.Load() != 0 {
		return false
	}
	v := s0.Load()
	if v&rwsemOwner != 0 {
		return false
	}
	if slot == 0 {
		return s0.CompareAndSwap(v, v&^rwsemWriter)
	}
	if v&rwsemDirty == 0 && !s0.CompareAndSwap(v, v|rwsemDirty) {
		return false
	}
	w := &r.slots[slot].word
	w.And(^int32(rwsemWriter))
	if v := s0.Load(); v&rwsemOwner != 0 || v&rwsemDirty == 0 || r.writers.Load() != 0 {
		w.Or(rwsemWriter) // a writer came, or went and cleaned: close again
		return false
	}
	return true
}

// Contended reports whether a writer holds the lock or waits for it, that
// is whether a reader arriving now would (or soon will) wait. VM_FAULT_RETRY's
// contended option uses it to retry a fault instead of sleeping on IL while
// holding MM. It reads slot 0's word, a line that slot 0's reader writes.
func (r *RWSem) Contended() bool { return r.writerActive() }

// closeSlots sets the writer bit in every slot but 0, as the owner whose
// compare-and-swap found slot 0's word v. Unless v is dirty, every other
// slot is still closed by a previous writer.
func (r *RWSem) closeSlots(v int32) {
	if v&rwsemDirty == 0 {
		return
	}
	for i := 1; i < len(r.slots); i++ {
		if w := &r.slots[i].word; w.Load()&rwsemWriter == 0 {
			w.Or(rwsemWriter)
		}
	}
}

// handOff gives the read side to every queued reader.
func (r *RWSem) handOff() {
	r.mu.Lock()
	if len(r.queue) > 0 {
		for _, q := range r.queue {
			// The queued reader backed its count out and nobody else uses
			// its slot: adding it here makes it a holder that the next
			// writer must drain.
			r.slots[q].word.Add(1)
			r.granted[q] = true
		}
		r.slots[0].word.Or(rwsemDirty) // the next writer must drain them
		r.queued.Add(-int32(len(r.queue)))
		r.queue = r.queue[:0]
		r.handoff.Broadcast()
	}
	r.mu.Unlock()
}

// rlockSlow is RLock's rare path: the fast path's add found the writer bit
// or a recursive read. Only this slot changes its count, so the count read
// here is the one the add produced. On return slot holds the read side.
func (r *RWSem) rlockSlow(slot int) {
	s := &r.slots[slot]
	v := s.word.Load()
	if v&rwsemCount != 1 {
		s.word.Add(-1)
		panic("locks: RWSem.RLock: slot already holds the read side")
	}
	if v&rwsemWriter == 0 {
		// The writer whose bit the add found has left since; the count
		// it did not wait for is now a plain read hold.
		return
	}
	r.backOut(s)
	for spins := 0; ; spins++ {
		if r.reopen(slot) || s.word.Load()&rwsemWriter == 0 {
			if s.word.Add(1)&rwsemHeld == 1 {
				return
			}
			r.backOut(s)
		}
		if spins >= rwsemSpins && r.rlockQueued(slot) {
			return
		}
		runtime.Gosched()
	}
}

// rlockQueued queues slot's reader until a writer's Unlock hands it the read
// side (true), or until no writer holds or waits any more (false: the caller
// reopens and tries again).
func (r *RWSem) rlockQueued(slot int) bool {
	s := &r.slots[slot]
	r.queued.Add(1)
	r.mu.Lock()
	if s.word.Add(1)&rwsemHeld == 1 {
		r.queued.Add(-1)
		r.mu.Unlock()
		return true
	}
	s.word.Add(-1)
	if r.sleeping.Load() != 0 {
		r.drained.Signal()
	}
	r.granted[slot] = false
	r.queue = append(r.queue, int32(slot))
	for !r.granted[slot] && r.writerActive() {
		r.handoff.Wait()
	}
	if r.granted[slot] {
		r.mu.Unlock() // handOff took it off the queue and out of queued
		return true
	}
	if i := slices.Index(r.queue, int32(slot)); i >= 0 {
		r.queue = slices.Delete(r.queue, i, i+1)
	}
	r.queued.Add(-1)
	r.mu.Unlock()
	return false
}

// runlockSlow is RUnlock's rare path: a misuse (the count went below 0), or
// a writer bit, whose writer may wait for the readers to drain.
//
//go:noinline
func (r *RWSem) runlockSlow(slot int) {
	if r.slots[slot].word.Load()&rwsemCount != 0 {
		r.slots[slot].word.Add(1)
		panic("locks: RWSem.RUnlock: slot does not hold the read side")
	}
	if r.sleeping.Load() != 0 {
		r.wakeWriter()
	}
}

// backOut withdraws a read attempt that found the writer bit: the writer may
// be asleep waiting for exactly this count.
func (r *RWSem) backOut(s *rwsemSlot) {
	s.word.Add(-1)
	if r.sleeping.Load() != 0 {
		r.wakeWriter()
	}
}

// wakeWriter wakes the writer parked on drained, if any.
func (r *RWSem) wakeWriter() {
	r.mu.Lock()
	r.drained.Signal()
	r.mu.Unlock()
}

// drainedNow reports whether no slot holds the read side.
func (r *RWSem) drainedNow() bool {
	for i := range r.slots {
		if r.slots[i].word.Load()&rwsemCount != 0 {
			return false
		}
	}
	return true
}

// waitDrained waits, as the owner, until no reader holds.
func (r *RWSem) waitDrained() {
	for range rwsemSpins {
		runtime.Gosched()
		if r.drainedNow() {
			return
		}
	}
	r.mu.Lock()
	// sleeping is set before the rescan: a reader that leaves after the
	// rescan loaded its word sees the flag and signals (Dekker: both sides
	// are sequentially consistent).
	r.sleeping.Store(1)
	for !r.drainedNow() {
		r.drained.Wait()
	}
	r.sleeping.Store(0)
	r.mu.Unlock()
}
