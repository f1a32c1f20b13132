// Benchmarks of the modelled hot path, named key=value for benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 10 . | tee new.txt
//	benchstat -col /strategy new.txt
package lockbench_test

import (
	"fmt"
	"os"
	"testing"

	"lockbench/hotpath"
	"lockbench/internal/benchname"
	"lockbench/strategies"
	"lockbench/strategies/primbench"
)

func tmpfsDir(b *testing.B) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return b.TempDir()
}

// BenchmarkWriteFault is the modelled write fault (page_mkwrite) on a cached
// page, 1 thread, on tmpfs: the cost each strategy adds to the fault path.
func BenchmarkWriteFault(b *testing.B) {
	for _, oracle := range []bool{false, true} {
		for _, name := range strategies.Names() {
			b.Run(benchname.Join("strategy", name, "target", "tmpfs", "oracle", fmt.Sprint(oracle), "threads", "1"), func(b *testing.B) {
				st, err := strategies.New(name, strategies.Options{})
				if err != nil {
					b.Fatal(err)
				}
				bn, err := hotpath.NewBench(st, tmpfsDir(b), 16, oracle)
				if err != nil {
					b.Fatal(err)
				}
				defer bn.Close()
				if err := bn.CacheWritable(3); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := bn.WriteFault(3); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkStore is a store through a writable mapping: no fault, the
// PTE check and the stores-in-flight count only.
func BenchmarkStore(b *testing.B) {
	st, _ := strategies.New("none", strategies.Options{})
	bn, err := hotpath.NewBench(st, tmpfsDir(b), 16, false)
	if err != nil {
		b.Fatal(err)
	}
	defer bn.Close()
	if err := bn.CacheWritable(3); err != nil {
		b.Fatal(err)
	}
	b.Run(benchname.Join("op", "store", "harness", "bare", "target", "tmpfs", "threads", "1"), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := bn.Store(3); err != nil {
				b.Fatal(err)
			}
		}
	})
	// harness=loop is the runner's loop around the store (progress and
	// time-series tick every 64 operations) without counting; counted adds
	// the per-worker counter (counting overhead = counted/loop); timed adds
	// the seeded 1-in-64 latency sample. All on the cheapest operation the
	// runner runs.
	b.Run(benchname.Join("op", "store", "harness", "loop", "target", "tmpfs", "threads", "1"), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := bn.StoreLoop(3, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, timed := range []bool{false, true} {
		h := "counted"
		if timed {
			h = "timed"
		}
		b.Run(benchname.Join("op", "store", "harness", h, "target", "tmpfs", "threads", "1"), func(b *testing.B) {
			bn.SetTimed(timed)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := bn.StoreCounted(3, int64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPrimitive is the lock primitives against their peers
// (strategies/primbench, the one implementation, which package strategies
// runs too).
func BenchmarkPrimitive(b *testing.B) { primbench.Run(b) }
