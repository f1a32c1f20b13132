package strategies

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// rwsemSpins is how many times a waiter yields (runtime.Gosched) before it
// parks. The machine this tool targets has two cores and usually more
// goroutines than cores, so a waiter that spins on a core delays the very
// holder it waits for; a few yields catch the short holds (IX) cheaply, and
// longer waits (IL against fsync or punch) park.
const rwsemSpins = 4

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
// Writers. A writer sets the writer bit in every slot's word; since the
// reader's add and the writer's OR are read-modify-writes of the same word,
// one of them sees the other (no Dekker handshake between two locations is
// needed, and Go's atomics being sequentially consistent covers the few
// two-location handshakes that remain on the slow paths). A reader whose add
// finds the bit backs out; the writer then waits until every count is 0. The
// cost moves to writers: two atomic operations per slot per write lock, which
// is the right trade for locks taken shared on every fault and exclusively
// on fsync, punch and write().
//
// Waiting. Writers queue on a sync.Mutex (FIFO once a waiter has waited 1 ms,
// so writers do not starve each other) and count themselves in writers from
// the moment they call Lock; a writer that unlocks while another writer is
// counted leaves the writer bits set, so new readers keep waiting (writer
// preference). The writer that owns the mutex waits for the readers to drain
// by yielding a few times and then sleeping on a sync.Cond that each departing
// reader signals while the sleeping flag is set. A reader that finds the bit
// yields a few times and then queues under an internal mutex. Every writer's
// Unlock hands the read lock to all queued readers at once, by adding their
// counts itself before it lets the next writer in (the kernel's reader
// hand-off), so readers do not starve under a stream of writers either: a
// queued reader waits for at most the writer that releases after it queued.
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

	// writers counts writers that hold the lock or wait for it.
	writers atomic.Int32
	// sleeping is 1 while the draining writer is parked on drained.
	sleeping atomic.Int32
	// queued counts readers that are queued or about to queue under mu.
	queued atomic.Int32
	slots  []rwsemSlot
	_      [falseSharingPad - 12 - 24]byte

	// wmu serialises writers.
	wmu sync.Mutex

	// mu guards the slow paths: the queue of parked readers and the two
	// condition variables.
	mu sync.Mutex
	// drained wakes the draining writer when a reader leaves.
	drained sync.Cond
	// handoff wakes parked readers when a writer grants them the lock.
	handoff sync.Cond
	// queue lists the slots of parked readers, in arrival order.
	queue []int32
	// granted[slot] is set by the writer that handed slot the read lock.
	granted []bool
}

const (
	// rwsemWriter is the writer bit of a slot word.
	rwsemWriter = 1 << 16
	// rwsemCount masks a slot word's reader count.
	rwsemCount = rwsemWriter - 1
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
		panic(fmt.Sprintf("strategies: NewRWSem(%d): slots must be between 1 and %d", slots, 1<<20))
	}
	r := &RWSem{
		slots:   make([]rwsemSlot, slots),
		queue:   make([]int32, 0, slots),
		granted: make([]bool, slots),
	}
	r.drained.L = &r.mu
	r.handoff.L = &r.mu
	return r
}

// RLock takes the read side for slot, waiting while a writer holds the lock
// or waits for it.
func (r *RWSem) RLock(slot int) {
	if r.slots[slot].word.Add(1) != 1 {
		r.rlockSlow(slot)
	}
}

// RUnlock releases the read side held by slot.
func (r *RWSem) RUnlock(slot int) {
	if r.slots[slot].word.Add(-1) != 0 {
		r.runlockSlow(slot)
	}
}

// TryRLock takes the read side for slot if no writer holds the lock or waits
// for it, and reports whether it did.
func (r *RWSem) TryRLock(slot int) bool {
	s := &r.slots[slot]
	v := s.word.Add(1)
	if v == 1 {
		return true
	}
	if v&rwsemCount != 1 {
		s.word.Add(-1)
		panic("strategies: RWSem.TryRLock: slot already holds the read side")
	}
	r.backOut(s)
	return false
}

// Lock takes the write side, waiting for the current writer and for every
// reader to leave. From the moment Lock is called, Contended is true, and
// from the moment this writer is next in line new readers wait.
func (r *RWSem) Lock() {
	r.writers.Add(1)
	r.wmu.Lock()
	r.closeSlots()
	if !r.drainedNow() {
		r.waitDrained()
	}
}

// TryLock takes the write side if nobody holds the lock, and reports whether
// it did. It fails if another writer holds or waits, or any reader holds.
func (r *RWSem) TryLock() bool {
	if !r.wmu.TryLock() {
		return false
	}
	r.writers.Add(1)
	r.closeSlots()
	if r.drainedNow() {
		return true
	}
	// Readers are inside. Readers that arrived meanwhile may have queued
	// behind this attempt; let them in as Unlock would.
	r.Unlock()
	return false
}

// Unlock releases the write side and hands the read side to every reader
// queued behind it.
func (r *RWSem) Unlock() {
	if r.writers.Add(-1) == 0 {
		for i := range r.slots {
			r.slots[i].word.And(^int32(rwsemWriter))
		}
	}
	// A reader counts itself in queued before the add that finds the
	// writer bit, and the bit is cleared above before this load: a reader
	// that saw the bit is seen here (or by the Unlock of a writer that kept
	// the bits set).
	if r.queued.Load() != 0 {
		r.handOff()
	}
	r.wmu.Unlock()
}

// Contended reports whether a writer holds the lock or waits for it, that
// is whether a reader arriving now would (or soon will) wait. VM_FAULT_RETRY's
// contended option uses it to retry a fault instead of sleeping on IL while
// holding MM.
func (r *RWSem) Contended() bool { return r.writers.Load() != 0 }

// closeSlots sets the writer bit in every slot, as the writer that owns wmu.
// The bits may still be set by the previous writer.
func (r *RWSem) closeSlots() {
	for i := range r.slots {
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
		panic("strategies: RWSem.RLock: slot already holds the read side")
	}
	if v&rwsemWriter == 0 {
		// The writer whose bit the add found has left since; the count
		// it did not wait for is now a plain read hold.
		return
	}
	r.backOut(s)
	for range rwsemSpins {
		runtime.Gosched()
		if s.word.Load()&rwsemWriter != 0 {
			continue
		}
		if s.word.Add(1) == 1 {
			return
		}
		r.backOut(s)
	}

	r.queued.Add(1)
	r.mu.Lock()
	if s.word.Add(1) == 1 {
		r.queued.Add(-1)
		r.mu.Unlock()
		return
	}
	s.word.Add(-1)
	if r.sleeping.Load() != 0 {
		r.drained.Signal()
	}
	r.granted[slot] = false
	r.queue = append(r.queue, int32(slot))
	for !r.granted[slot] {
		r.handoff.Wait()
	}
	r.mu.Unlock()
}

// runlockSlow is RUnlock's rare path: a misuse (the count went below 0), or
// a writer bit, whose writer may wait for the readers to drain.
//
//go:noinline
func (r *RWSem) runlockSlow(slot int) {
	if r.slots[slot].word.Load()&rwsemCount != 0 {
		r.slots[slot].word.Add(1)
		panic("strategies: RWSem.RUnlock: slot does not hold the read side")
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

// waitDrained waits, as the writer that owns wmu, until no reader holds.
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
