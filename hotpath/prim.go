package hotpath

import "lockbench/strategies"

// The model's locks are the optimised primitives of package strategies.
type (
	rwsem       = strategies.RWSem
	rangeLock   = strategies.RangeLock
	rangeHandle = strategies.RangeHandle
)

func newRWSem(slots int) *rwsem         { return strategies.NewRWSem(slots) }
func newRangeLock(slots int) *rangeLock { return strategies.NewRangeLock(slots) }
