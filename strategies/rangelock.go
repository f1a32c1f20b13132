package strategies

// RangeLockStrategy is the full-range extent lock (btrfs io-tree style, the
// alternative btrfs rejected): ER replaces IL as the serialisation. Faults
// take ER over their page (read faults shared, write faults exclusive);
// read() takes ER(S) over its range; write() takes ER(X) per chunk, and its
// cleanup runs inside that chunk's ER; writeback completion takes ER(X) over
// its range; punch and truncate take ER(X) over theirs; fsync holds ER(X) over
// [0, max) for its whole logging phase. Cost signature: fsync stalls reads,
// writes and faults on the whole file.
type RangeLockStrategy struct{}

var _ Strategy = RangeLockStrategy{}

// Name implements Strategy.
func (RangeLockStrategy) Name() string { return "rangelock" }

// Plan implements Strategy.
func (RangeLockStrategy) Plan(op Op) Plan {
	switch op {
	case OpReadFault, OpRead:
		return Plan{ER: Shared}
	case OpWriteFault, OpWrite, OpWritebackEnd, OpPunch, OpTruncate, OpInlineConvert:
		return Plan{ER: Exclusive}
	case OpFsyncLog:
		return Plan{IO: Exclusive, ER: Exclusive, ERFull: true}
	}
	// OpWriteCleanup runs inside the write chunk's ER(X).
	return Plan{}
}

// Mechanisms implements Strategy.
func (RangeLockStrategy) Mechanisms() Mechanisms { return Mechanisms{} }
