package primbench

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"lockbench/internal/benchname"
	"lockbench/strategies/locks"
)

// TestKoganLockExclusion checks the list-based peer the way package locks
// checks RangeLock: workers lock random 4 KiB-unit ranges (pages, runs,
// ranges to the end and the whole file) and a shadow count per unit proves
// that no exclusive holder overlaps another holder.
func TestKoganLockExclusion(t *testing.T) {
	for _, lists := range []int{1, koganStripes} {
		t.Run(benchname.Join("lists", strconv.Itoa(lists)), func(t *testing.T) {
			const workers, units, unit = 6, 256, 4 * kib
			iters := 1500
			if testing.Short() {
				iters = 200
			}
			kl := newKoganLock(workers, lists)
			var readers, writers [units]atomic.Int32
			var bad atomic.Int32
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(3, uint64(w)))
					for range iters {
						u := rng.IntN(units)
						start, end := uint64(u)*unit, uint64(u+1+rng.IntN(8))*unit
						switch rng.IntN(32) {
						case 0:
							start, end = 0, math.MaxUint64
						case 1:
							end = math.MaxUint64
						}
						excl := rng.IntN(2) == 0
						m := locks.Shared
						if excl {
							m = locks.Exclusive
						}
						h := kl.Lock(w, start, end, m)
						u0, u1 := int(start/unit), int(min((end-1)/unit+1, units))
						for i := u0; i < u1; i++ {
							if excl {
								if writers[i].Add(1) != 1 || readers[i].Load() != 0 {
									bad.Add(1)
								}
							} else if readers[i].Add(1); writers[i].Load() != 0 {
								bad.Add(1)
							}
						}
						runtime.Gosched()
						for i := u0; i < u1; i++ {
							if excl {
								writers[i].Add(-1)
							} else {
								readers[i].Add(-1)
							}
						}
						kl.Unlock(h)
					}
				}()
			}
			wg.Wait()
			if n := bad.Load(); n != 0 {
				t.Fatalf("%d unit acquisitions overlapped a conflicting holder", n)
			}
			h, ok := kl.TryLock(0, 0, math.MaxUint64, locks.Exclusive)
			if !ok {
				t.Fatal("TryLock of the whole file after all workers left = false; want true")
			}
			kl.Unlock(h)
		})
	}
}
