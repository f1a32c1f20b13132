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
// Read fast path. Each slot owns a counter alone in its cache-line pair. RLock
// swaps its own counter to 1 and then loads the shared writer count; if no
// writer holds or waits, the read lock is held. A writer increments the writer
// count and then loads every counter. This is Dekker's handshake (the per-CPU
// rwsem and BRAVO reader-side design): because Go's sync/atomic operations are
// sequentially consistent, either the reader sees the writer's count or the
// writer sees the reader's counter, never neither. RUnlock swaps the counter
// back to 0 and loads a flag that is set only while the writer sleeps waiting
// for readers to drain. So an uncontended read is two LOCK-prefixed
// instructions on lines the reader owns plus two loads of a line that only
// writers write: no reader writes a shared line, and readers on different
// cores never exchange cache lines.
//
// Waiting. Writers queue on a sync.Mutex (FIFO once a waiter has waited 1 ms,
// so writers do not starve each other). The writer that owns it waits for the
// readers to drain by yielding a few times and then sleeping on a sync.Cond
// that each departing reader signals while the sleeping flag is set. A reader
// that finds a writer backs its counter out, yields a few times, and then
// queues under the internal mutex. Every writer's Unlock hands the read lock
// to all queued readers at once by setting their counters itself before it
// lets the next writer in (the kernel's reader hand-off), so readers do not
// starve under a stream of writers either: a queued reader waits for at most
// the writer that is running when it queued.
//
// Nothing allocates after NewRWSem.
//
// Note: sync.RWMutex was rejected as the model's rwsem because every RLock
// and RUnlock is an atomic add on one shared word, whose cache line then moves
// between cores on every fault; xsync.RBMutex (BRAVO) avoids that but hashes
// readers to slots through a sync.Pool token and disables its reader bias for
// a while after each writer, which costs more per read on this workload where
// the lock is taken once per fault and writers (fsync, punch) are regular.
type RWSem struct {
	_ [falseSharingPad]byte // keeps the reader-read line off the previous object

	// writers counts writers that hold the lock or wait for it. Readers load
	// it on every acquisition; only writers write it.
	writers atomic.Int32
	// sleeping is 1 while the draining writer is parked on drained. Readers
	// load it on every release.
	sleeping atomic.Int32
	slots    []rwsemSlot
	_        [falseSharingPad - 8 - 24]byte

	// wmu serialises writers.
	wmu sync.Mutex

	// mu guards the slow paths: the queue of parked readers and the two
	// condition variables.
	mu sync.Mutex
	// drained wakes the draining writer when a reader leaves.
	drained sync.Cond
	// handoff wakes parked readers when a writer grants them the lock.
	handoff sync.Cond
	// queued lists the slots of parked readers, in arrival order.
	queued []int32
	// granted[slot] is set by the writer that handed slot the read lock.
	granted []bool
}

// rwsemSlot is one worker's reader counter: 1 while it holds the read side
// (or has been handed it), else 0.
type rwsemSlot struct {
	held atomic.Int32
	_    [falseSharingPad - 4]byte
}

// NewRWSem returns an unlocked RWSem for workers 0 to slots-1.
func NewRWSem(slots int) *RWSem {
	if slots < 1 || slots > 1<<20 {
		panic(fmt.Sprintf("strategies: NewRWSem(%d): slots must be between 1 and %d", slots, 1<<20))
	}
	r := &RWSem{
		slots:   make([]rwsemSlot, slots),
		queued:  make([]int32, 0, slots),
		granted: make([]bool, slots),
	}
	r.drained.L = &r.mu
	r.handoff.L = &r.mu
	return r
}

// RLock takes the read side for slot, waiting while a writer holds the lock
// or waits for it.
func (r *RWSem) RLock(slot int) {
	s := &r.slots[slot]
	if s.held.Swap(1) != 0 {
		panic("strategies: RWSem.RLock: slot already holds the read side")
	}
	if r.writers.Load() == 0 {
		return
	}
	r.rlockSlow(slot)
}

// TryRLock takes the read side for slot if no writer holds the lock or waits
// for it, and reports whether it did.
func (r *RWSem) TryRLock(slot int) bool {
	s := &r.slots[slot]
	if s.held.Swap(1) != 0 {
		panic("strategies: RWSem.TryRLock: slot already holds the read side")
	}
	if r.writers.Load() == 0 {
		return true
	}
	r.backOut(s)
	return false
}

// RUnlock releases the read side held by slot.
func (r *RWSem) RUnlock(slot int) {
	if r.slots[slot].held.Swap(0) != 1 {
		panic("strategies: RWSem.RUnlock: slot does not hold the read side")
	}
	if r.sleeping.Load() != 0 {
		r.wakeWriter()
	}
}

// Lock takes the write side, waiting for the current writer and for every
// reader to leave. From the moment Lock is called, new readers wait.
func (r *RWSem) Lock() {
	r.writers.Add(1)
	r.wmu.Lock()
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
	r.mu.Lock()
	if len(r.queued) > 0 {
		for _, q := range r.queued {
			// The queued reader backed its counter out before it queued and
			// nobody else uses its slot: setting it here makes it a holder
			// that the next writer must drain.
			r.slots[q].held.Store(1)
			r.granted[q] = true
		}
		r.queued = r.queued[:0]
		r.handoff.Broadcast()
	}
	// The count drops under mu: a reader that queues under mu after seeing
	// a nonzero count is therefore always seen by some writer's Unlock.
	r.writers.Add(-1)
	r.mu.Unlock()
	r.wmu.Unlock()
}

// Contended reports whether a writer holds the lock or waits for it, that
// is whether a reader arriving now would wait. VM_FAULT_RETRY's contended
// option uses it to retry a fault instead of sleeping on IL while holding MM.
func (r *RWSem) Contended() bool { return r.writers.Load() != 0 }

// rlockSlow waits for the read side after the fast path found a writer. On
// entry slot's counter is 1; on return slot holds the read side.
func (r *RWSem) rlockSlow(slot int) {
	s := &r.slots[slot]
	r.backOut(s)
	for range rwsemSpins {
		runtime.Gosched()
		if r.writers.Load() != 0 {
			continue
		}
		s.held.Store(1)
		if r.writers.Load() == 0 {
			return
		}
		r.backOut(s)
	}

	r.mu.Lock()
	s.held.Store(1)
	if r.writers.Load() == 0 {
		r.mu.Unlock()
		return
	}
	s.held.Store(0)
	if r.sleeping.Load() != 0 {
		r.drained.Signal()
	}
	// writers > 0 and it only drops under mu, in Unlock, which hands the
	// lock to everything queued here.
	r.granted[slot] = false
	r.queued = append(r.queued, int32(slot))
	for !r.granted[slot] {
		r.handoff.Wait()
	}
	r.mu.Unlock()
}

// backOut withdraws a read attempt that found a writer: the writer may be
// asleep waiting for exactly this counter.
func (r *RWSem) backOut(s *rwsemSlot) {
	s.held.Store(0)
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
		if r.slots[i].held.Load() != 0 {
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
	// rescan loaded its counter sees the flag and signals (Dekker again).
	r.sleeping.Store(1)
	for !r.drainedNow() {
		r.drained.Wait()
	}
	r.sleeping.Store(0)
	r.mu.Unlock()
}
