package strategies

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/puzpuzpuz/xsync/v4"
)

// TestRWSemExclusion hammers an RWSem from several workers with a mix of
// blocking and try acquisitions and checks every critical section against a
// shadow count: a writer must be alone, a reader must see no writer.
func TestRWSemExclusion(t *testing.T) {
	const workers = 6
	iters := 4000
	if testing.Short() {
		iters = 500
	}
	r := NewRWSem(workers)
	var readers, writers atomic.Int32
	var bad atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(1, uint64(w)))
			for range iters {
				switch k := rng.IntN(16); {
				case k < 2: // writer
					if k == 0 {
						r.Lock()
					} else if !r.TryLock() {
						continue
					}
					if writers.Add(1) != 1 || readers.Load() != 0 {
						bad.Add(1)
					}
					runtime.Gosched()
					writers.Add(-1)
					r.Unlock()
				default: // reader
					if k < 4 {
						if !r.TryRLock(w) {
							continue
						}
					} else {
						r.RLock(w)
					}
					readers.Add(1)
					if writers.Load() != 0 {
						bad.Add(1)
					}
					if k%4 == 0 {
						runtime.Gosched()
					}
					readers.Add(-1)
					r.RUnlock(w)
				}
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d critical sections saw a writer next to another holder", n)
	}
	if !r.TryLock() {
		t.Fatal("TryLock after all workers left = false; want true")
	}
	r.Unlock()
}

// waitFor yields until cond holds. Tests use it to wait for another goroutine
// to reach a state; they never sleep.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

// TestRWSemWriterPreference checks that a writer waiting for a reader makes
// new readers wait (TryRLock fails, Contended is true), as the kernel rwsem
// does, and that the writer gets the lock as soon as the reader leaves.
func TestRWSemWriterPreference(t *testing.T) {
	r := NewRWSem(3)
	r.RLock(0)
	if r.Contended() {
		t.Fatal("Contended with one reader = true; want false")
	}
	if !r.TryRLock(1) {
		t.Fatal("TryRLock next to a reader = false; want true")
	}
	r.RUnlock(1)

	locked := make(chan struct{})
	go func() {
		r.Lock()
		close(locked)
	}()
	waitFor(r.Contended)
	if r.TryRLock(1) {
		t.Fatal("TryRLock while a writer waits = true; want false (writer preference)")
	}
	if r.TryLock() {
		t.Fatal("TryLock while a writer waits = true; want false")
	}
	select {
	case <-locked:
		t.Fatal("Lock returned while a reader held the lock")
	default:
	}
	r.RUnlock(0)
	<-locked
	if r.TryRLock(2) {
		t.Fatal("TryRLock while a writer holds = true; want false")
	}
	r.Unlock()
	if r.Contended() {
		t.Fatal("Contended after Unlock = true; want false")
	}
	if !r.TryRLock(2) {
		t.Fatal("TryRLock after Unlock = false; want true")
	}
	r.RUnlock(2)
}

// TestRWSemTry is the TryLock/TryRLock truth table.
func TestRWSemTry(t *testing.T) {
	r := NewRWSem(2)
	if !r.TryLock() {
		t.Fatal("TryLock on a free RWSem = false; want true")
	}
	if r.TryLock() {
		t.Fatal("TryLock while a writer holds = true; want false")
	}
	if r.TryRLock(0) {
		t.Fatal("TryRLock while a writer holds = true; want false")
	}
	r.Unlock()
	if !r.TryRLock(0) {
		t.Fatal("TryRLock on a free RWSem = false; want true")
	}
	if r.TryLock() {
		t.Fatal("TryLock while a reader holds = true; want false")
	}
	if r.Contended() {
		t.Fatal("Contended after a failed TryLock = true; want false")
	}
	if !r.TryRLock(1) {
		t.Fatal("TryRLock after a failed TryLock = false; want true")
	}
	r.RUnlock(0)
	r.RUnlock(1)
	if !r.TryLock() {
		t.Fatal("TryLock after the readers left = false; want true")
	}
	r.Unlock()
}

// TestRWSemHandoff checks reader hand-off: a reader queued behind a writer
// gets the lock when that writer unlocks, before a writer that queued after
// it, so a stream of writers cannot starve readers.
func TestRWSemHandoff(t *testing.T) {
	r := NewRWSem(2)
	r.Lock()
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }

	readerDone := make(chan struct{})
	go func() {
		r.RLock(1)
		note("reader")
		r.RUnlock(1)
		close(readerDone)
	}()
	waitFor(func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.queued) == 1 })

	writerDone := make(chan struct{})
	go func() {
		r.Lock()
		note("writer")
		r.Unlock()
		close(writerDone)
	}()
	waitFor(func() bool { return r.writers.Load() == 2 })
	r.Unlock()
	<-readerDone
	<-writerDone
	if got := strings.Join(order, ","); got != "reader,writer" {
		t.Fatalf("order = %s; want reader,writer", got)
	}
}

// TestRWSemReadersNotStarved runs a reader against writers that take the lock
// back to back; the test passes when the reader completes its acquisitions.
func TestRWSemReadersNotStarved(t *testing.T) {
	const writers = 3
	r := NewRWSem(1)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				r.Lock()
				r.Unlock()
			}
		}()
	}
	for range 200 {
		r.RLock(0)
		r.RUnlock(0)
	}
	stop.Store(true)
	wg.Wait()
}

// TestRWSemMisuse checks that a recursive read and an unlock without a lock
// panic instead of corrupting the count.
func TestRWSemMisuse(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	r := NewRWSem(1)
	mustPanic("RUnlock without RLock", func() { r.RUnlock(0) })
	r.RLock(0)
	mustPanic("recursive RLock", func() { r.RLock(0) })
	mustPanic("NewRWSem(0)", func() { NewRWSem(0) })
}

// TestRWSemZeroAllocs checks that acquisitions allocate nothing.
func TestRWSemZeroAllocs(t *testing.T) {
	r := NewRWSem(1)
	if n := testing.AllocsPerRun(100, func() {
		r.RLock(0)
		r.RUnlock(0)
		r.Lock()
		r.Unlock()
	}); n != 0 {
		t.Fatalf("allocs per acquisition = %v; want 0", n)
	}
}

// benchName joins key=value pairs into a sub-benchmark name that benchstat
// can slice: benchName("lock", "rwsem", "op", "read") = "lock=rwsem/op=read".
func benchName(kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+kv[i+1])
	}
	return strings.Join(parts, "/")
}

// benchThreads are the goroutine counts of the contention benchmarks: one,
// one per core of the 2-core target, and twice that.
var benchThreads = []int{1, 2, 4}

// runThreads starts exactly threads goroutines; worker t uses slot t and
// runs body for its share of b.N iterations. ns/op is wall time divided by
// b.N (the inverse of aggregate throughput, not a latency) and ops/s is the
// aggregate throughput.
func runThreads(b *testing.B, threads int, body func(slot, n int)) {
	b.ReportAllocs()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for t := range threads {
		n := b.N / threads
		if t < b.N%threads {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body(t, n)
		}()
	}
	b.ResetTimer()
	close(start)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// rwLock is what the reader-writer benchmarks drive: RWSem and its peers.
type rwLock interface {
	rlock(slot int) func()
	lock()
	unlock()
}

// The adapters below return the unlock closure once, outside the loop; the
// benchmark loop calls through them, so every lock pays the same indirection.

type rwsemBench struct{ r *RWSem }

func (l rwsemBench) rlock(slot int) func() {
	return func() { l.r.RLock(slot); l.r.RUnlock(slot) }
}
func (l rwsemBench) lock()   { l.r.Lock() }
func (l rwsemBench) unlock() { l.r.Unlock() }

type rwmutexBench struct{ m *sync.RWMutex }

func (l rwmutexBench) rlock(int) func() {
	return func() { l.m.RLock(); l.m.RUnlock() }
}
func (l rwmutexBench) lock()   { l.m.Lock() }
func (l rwmutexBench) unlock() { l.m.Unlock() }

type rbmutexBench struct{ m *xsync.RBMutex }

func (l rbmutexBench) rlock(int) func() {
	return func() { t := l.m.RLock(); l.m.RUnlock(t) }
}
func (l rbmutexBench) lock()   { l.m.Lock() }
func (l rbmutexBench) unlock() { l.m.Unlock() }

// BenchmarkPrimitive measures the lock primitives against their peers.
//
// lock=rwsem, sync.RWMutex, xsync.RBMutex: op=read is RLock+RUnlock,
// op=write is Lock+Unlock, op=mixed is one write per 64 operations (a
// fault-heavy inode with an occasional punch or fsync). The read loops are
// written out per lock, without an interface call, so that op=read at
// threads=1 is the fast path's own cost.
//
// lock=rangelock and lock=mutex-tree: see rangeBenchmarks. lock=seq: see
// seqBenchmarks.
func BenchmarkPrimitive(b *testing.B) {
	b.Run(benchName("lock", "rwsem", "op", "read", "threads", "1"), func(b *testing.B) {
		r := NewRWSem(1)
		b.ReportAllocs()
		for b.Loop() {
			r.RLock(0)
			r.RUnlock(0)
		}
	})
	b.Run(benchName("lock", "sync.RWMutex", "op", "read", "threads", "1"), func(b *testing.B) {
		var m sync.RWMutex
		b.ReportAllocs()
		for b.Loop() {
			m.RLock()
			m.RUnlock()
		}
	})
	b.Run(benchName("lock", "xsync.RBMutex", "op", "read", "threads", "1"), func(b *testing.B) {
		m := xsync.NewRBMutex()
		b.ReportAllocs()
		for b.Loop() {
			t := m.RLock()
			m.RUnlock(t)
		}
	})
	locks := []struct {
		name string
		make func(slots int) rwLock
	}{
		{"rwsem", func(slots int) rwLock { return rwsemBench{NewRWSem(slots)} }},
		{"sync.RWMutex", func(int) rwLock { return rwmutexBench{new(sync.RWMutex)} }},
		{"xsync.RBMutex", func(int) rwLock { return rbmutexBench{xsync.NewRBMutex()} }},
	}
	for _, op := range []string{"read", "write", "mixed"} {
		for _, threads := range benchThreads {
			for _, l := range locks {
				if op == "read" && threads == 1 {
					continue // the direct loops above
				}
				name := benchName("lock", l.name, "op", op, "threads", strconv.Itoa(threads))
				b.Run(name, func(b *testing.B) {
					lk := l.make(threads)
					runThreads(b, threads, func(slot, n int) {
						read := lk.rlock(slot)
						for i := range n {
							switch {
							case op == "write", op == "mixed" && i%64 == 63:
								lk.lock()
								lk.unlock()
							default:
								read()
							}
						}
					})
				})
			}
		}
	}
	rangeBenchmarks(b)
	seqBenchmarks(b)
}
