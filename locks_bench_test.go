package lockbench_test

import (
	"testing"

	"lockbench/hotpath"
	"lockbench/internal/benchname"
	"lockbench/strategies"
)

// BenchmarkWriteFaultLocks is BenchmarkWriteFault with the full lock
// accounting off (the default: contentions and waits only, one branch per
// uncontended acquisition) and on (-locks: every acquisition counted, every
// exclusive hold timed, which for the write fault is F's):
//
//	go test -run '^$' -bench 'WriteFault' -count 8 . | tee locks.txt
//	benchstat -col /locks locks.txt
func BenchmarkWriteFaultLocks(b *testing.B) {
	for _, name := range []string{"none", "rwsem", "rangelock"} {
		for _, locks := range []string{"off", "on"} {
			b.Run(benchname.Join("strategy", name, "target", "tmpfs", "locks", locks, "threads", "1"), func(b *testing.B) {
				st, err := strategies.New(name, strategies.Options{})
				if err != nil {
					b.Fatal(err)
				}
				bn, err := hotpath.NewBench(st, tmpfsDir(b), 16, false)
				if err != nil {
					b.Fatal(err)
				}
				defer bn.Close()
				bn.LockStats(locks == "on")
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
