package locks_test

import (
	"testing"

	"lockbench/strategies/locks/primbench"
)

// BenchmarkPrimitive is strategies/locks/primbench, the one implementation of the
// primitive benchmarks, which the root suite runs as well:
//
//	go test -run '^$' -bench Primitive -benchmem ./strategies/locks/
func BenchmarkPrimitive(b *testing.B) { primbench.Run(b) }
