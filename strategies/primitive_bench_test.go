package strategies_test

import (
	"testing"

	"lockbench/strategies/primbench"
)

// BenchmarkPrimitive is strategies/primbench, the one implementation of the
// primitive benchmarks, which the root suite runs as well:
//
//	go test -run '^$' -bench Primitive -benchmem ./strategies/
func BenchmarkPrimitive(b *testing.B) { primbench.Run(b) }
