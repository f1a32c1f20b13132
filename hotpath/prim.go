package hotpath

import "lockbench/strategies/locks"

// The model's locks are the optimised primitives of package locks.
type (
	rwsem       = locks.RWSem
	rangeLock   = locks.RangeLock
	rangeHandle = locks.RangeHandle
	extentSeq   = locks.Seq
)

func newRWSem(slots int) *rwsem         { return locks.NewRWSem(slots) }
func newRangeLock(slots int) *rangeLock { return locks.NewRangeLock(slots) }
