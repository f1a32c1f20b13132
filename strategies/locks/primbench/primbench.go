// Package primbench holds the benchmarks of the lock primitives of package
// locks (RWSem, RangeLock, Seq) beside their peers (sync.RWMutex,
// xsync.RBMutex, a mutex-guarded interval list and the list-based range lock
// of Kogan, Dice and Issa, in kogan.go), in one implementation
// that both the root suite and package locks run:
//
//	func BenchmarkPrimitive(b *testing.B) { primbench.Run(b) }
//
// so that `go test -bench . .` compares the primitives too. It uses only
// the exported API of locks.
//
// Every sub-benchmark starts its goroutines and builds its inputs before
// the timer starts, and its measured loop allocates nothing per operation:
// 0 allocs/op with -benchmem at the b.N a benchmark settles on (CI checks
// it at 10000). At -benchtime 1x the runtime's one-off allocations show
// (a goroutine that blocks after the GC each run starts with gets a new
// sudog; xsync.RBMutex refills its token pool).
package primbench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/puzpuzpuz/xsync/v4"

	"lockbench/internal/benchname"
	"lockbench/strategies/locks"
)

const kib = 1 << 10

// Run is BenchmarkPrimitive: the lock primitives against their peers, as
// sub-benchmarks lock=<lock>/op=<workload>/threads=<n>.
//
// lock=rwsem, sync.RWMutex, xsync.RBMutex: see rwWorkload.
// lock=rangelock, mutex-tree, kogan-list (and sync.Mutex): see rangeBenchmarks.
// lock=seq: see seqBenchmarks.
func Run(b *testing.B) {
	for _, op := range []string{"read", "write", "mixed"} {
		for _, threads := range benchThreads {
			for _, lock := range []string{"rwsem", "sync.RWMutex", "xsync.RBMutex"} {
				b.Run(benchname.Join("lock", lock, "op", op, "threads", strconv.Itoa(threads)), func(b *testing.B) {
					runThreads(b, threads, rwWorkload(lock, op, threads))
				})
			}
		}
	}
	rangeBenchmarks(b)
	seqBenchmarks(b)
}

// benchThreads are the goroutine counts of the contention benchmarks: one,
// one per core of the 2-core target, and twice that.
var benchThreads = []int{1, 2, 4}

// runThreads starts exactly threads goroutines; worker t uses slot t and
// runs body for its share of b.N iterations. It reports three figures:
// ns/op is wall time divided by b.N (the inverse of aggregate throughput,
// not a latency); ops/s is that aggregate throughput; cpu-ns/op is the
// process's CPU time (user and system, all threads) divided by b.N. On a
// machine shared with other work, cpu-ns/op is the steadier figure: it does
// not count time the workers spent descheduled, yet it grows with every
// cache-line transfer, spin and wake-up that contention costs, so
// cpu-ns/op at threads=2 equal to that at threads=1 means perfect scaling
// on two free cores.
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
	cpu0 := processCPU(b)
	close(start)
	wg.Wait()
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU returns the CPU time the process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rwWorkload returns worker slot's loop for lock name under workload op:
// op=read is RLock+RUnlock, op=write is Lock+Unlock, op=mixed makes every
// 64th operation a write (a fault-heavy inode with an occasional punch or
// fsync). Each lock gets its own loop with direct method calls, so that
// op=read at threads=1 is the fast path's own cost.
func rwWorkload(name, op string, slots int) func(slot, n int) {
	every := map[string]int{"read": 0, "write": 1, "mixed": 64}[op] // a power of two
	var read func(slot, n int)
	var write, unlock func()
	switch name {
	case "rwsem":
		r := locks.NewRWSem(slots)
		read = func(slot, n int) {
			for range n {
				r.RLock(slot)
				r.RUnlock(slot)
			}
		}
		write, unlock = r.Lock, r.Unlock
	case "sync.RWMutex":
		m := new(sync.RWMutex)
		read = func(_, n int) {
			for range n {
				m.RLock()
				//lint:ignore SA2001 the acquisition itself is what is measured
				m.RUnlock()
			}
		}
		write, unlock = m.Lock, m.Unlock
	case "xsync.RBMutex":
		m := xsync.NewRBMutex()
		read = func(_, n int) {
			for range n {
				t := m.RLock()
				m.RUnlock(t)
			}
		}
		write, unlock = m.Lock, m.Unlock
	default:
		panic("unknown lock " + name)
	}
	switch every {
	case 0:
		return read
	case 1:
		return func(_, n int) {
			for range n {
				write()
				unlock()
			}
		}
	}
	return func(slot, n int) {
		for i := 0; i < n; i += every {
			read(slot, min(every-1, n-i-1))
			write()
			unlock()
		}
	}
}

// rangeBenchRanges returns, per slot, the 128 ranges that slot cycles
// through in workload op with threads workers.
//
//	disjoint:    exclusive 4 KiB pages of the slot's own 512 KiB region
//	             (different granules, hence different lists)
//	interleaved: exclusive 4 KiB pages, the slots' pages interleaved in the
//	             same granules (one list for all: the contended list)
//	shared:      every slot takes the same 64 KiB range shared
//	whole-file:  exclusive [0, MaxUint64), fsync's logging phase
func rangeBenchRanges(op string, threads int) [][]treeRange {
	const n = 128
	rs := make([][]treeRange, threads)
	for t := range rs {
		for i := range uint64(n) {
			var r treeRange
			switch op {
			case "disjoint":
				s := uint64(t)*512*kib + i*4*kib
				r = treeRange{s, s + 4*kib, true, 0}
			case "interleaved":
				s := (i*uint64(threads) + uint64(t)) * 4 * kib
				r = treeRange{s, s + 4*kib, true, 0}
			case "shared":
				r = treeRange{0, 64 * kib, false, 0}
			case "whole-file":
				r = treeRange{0, math.MaxUint64, true, 0}
			default:
				panic(fmt.Sprintf("unknown range workload %q", op))
			}
			rs[t] = append(rs[t], r)
		}
	}
	return rs
}

// rangeBenchmarks: lock=rangelock is RangeLock, lock=mutex-tree and the
// peers of rangePeerBenchmarks compare; each iteration is one Lock and one
// Unlock of the workload's next range.
func rangeBenchmarks(b *testing.B) {
	type workload struct {
		op      string
		threads []int
	}
	for _, w := range []workload{
		{"disjoint", benchThreads},
		{"interleaved", benchThreads[1:]},
		{"shared", benchThreads[1:]},
		{"whole-file", []int{1}},
	} {
		for _, threads := range w.threads {
			th := strconv.Itoa(threads)
			b.Run(benchname.Join("lock", "rangelock", "op", w.op, "threads", th), func(b *testing.B) {
				rl := locks.NewRangeLock(threads)
				runRangeLoop(b, w.op, threads, rl.Lock, rl.Unlock)
			})
			b.Run(benchname.Join("lock", "mutex-tree", "op", w.op, "threads", th), func(b *testing.B) {
				tr := newMutexTree()
				runRangeLoop(b, w.op, threads,
					func(_ int, start, end uint64, m locks.Mode) uint64 { return tr.Lock(start, end, m) }, tr.Unlock)
			})
			rangePeerBenchmarks(b, w.op, threads)
		}
	}
}

// seqBenchmarks: op=validate is write()'s per-page check, Valid(cookie) on a
// cookie that is still current; op=bump is an extent change.
func seqBenchmarks(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(benchname.Join("lock", "seq", "op", "validate", "threads", strconv.Itoa(threads)), func(b *testing.B) {
			s := new(locks.Seq)
			runThreads(b, threads, func(_, n int) {
				c := s.Load()
				ok := true
				for range n {
					ok = ok && s.Valid(c)
				}
				if !ok {
					panic("stale cookie")
				}
			})
		})
	}
	b.Run(benchname.Join("lock", "seq", "op", "bump", "threads", "1"), func(b *testing.B) {
		s := new(locks.Seq)
		runThreads(b, 1, func(_, n int) {
			for range n {
				s.Bump()
			}
		})
	})
}

// mutexTree is the benchmarks' peer: the classic range lock, one mutex
// guarding the set of held ranges (kept sorted by start, as an interval tree
// would keep them) and one condition variable for waiters, the design of
// Linux's range_lock proposal and of FreeBSD's old rangelock. With at most a
// few ranges held at once a sorted slice is as fast as a tree.
type mutexTree struct {
	mu   sync.Mutex
	cond sync.Cond
	held []treeRange
	next uint64
}

type treeRange struct {
	start, end uint64
	excl       bool
	id         uint64
}

func newMutexTree() *mutexTree {
	t := &mutexTree{held: make([]treeRange, 0, 64)}
	t.cond.L = &t.mu
	return t
}

func (t *mutexTree) conflicts(start, end uint64, excl bool) bool {
	for _, r := range t.held {
		if r.start >= end {
			break // sorted by start
		}
		if start < r.end && (excl || r.excl) {
			return true
		}
	}
	return false
}

// Lock takes [start, end) and returns the id to unlock it with.
func (t *mutexTree) Lock(start, end uint64, m locks.Mode) uint64 {
	excl := m == locks.Exclusive
	t.mu.Lock()
	for t.conflicts(start, end, excl) {
		t.cond.Wait()
	}
	t.next++
	id := t.next
	i, _ := slices.BinarySearchFunc(t.held, start, func(r treeRange, s uint64) int {
		if r.start < s {
			return -1
		}
		return 1
	})
	t.held = slices.Insert(t.held, i, treeRange{start, end, excl, id})
	t.mu.Unlock()
	return id
}

func (t *mutexTree) Unlock(id uint64) {
	t.mu.Lock()
	for i, r := range t.held {
		if r.id == id {
			t.held = slices.Delete(t.held, i, i+1)
			break
		}
	}
	t.cond.Broadcast()
	t.mu.Unlock()
}

// runRangeLoop is the measured loop of the range benchmarks for any lock:
// each iteration is one lock and one unlock of the workload's next range.
func runRangeLoop[H any](b *testing.B, op string, threads int,
	lock func(slot int, start, end uint64, m locks.Mode) H, unlock func(H)) {
	rs := rangeBenchRanges(op, threads)
	runThreads(b, threads, func(slot, n int) {
		mine := rs[slot]
		for i := range n {
			r := &mine[i&(len(mine)-1)] // len is a power of two
			m := locks.Shared
			if r.excl {
				m = locks.Exclusive
			}
			unlock(lock(slot, r.start, r.end, m))
		}
	})
}
