package strategies

// RangeLock is the full-range extent lock (btrfs io-tree style, the
// alternative btrfs rejected): ER replaces IL and MK as the serialisation. A
// read fault or read() that creates and fills a page takes ER(S) over it (a
// cached uptodate page needs none); write faults take ER(X) over their page
// (the inline conversion runs inside it); write() takes ER(X) per chunk, and
// its cleanup runs inside that chunk's ER; writeback takes ER(X) over its
// page at submit and completion; punch and truncate take ER(X) over their
// range; fsync holds ER(X) over [0, max) for its whole logging phase. Cost
// signature: fsync stalls every read that misses the cache, every write and
// every write fault on the whole file.
type RangeLock struct{}

var _ Strategy = RangeLock{}

// Name implements Strategy.
func (RangeLock) Name() string { return "rangelock" }

// Plan implements Strategy.
func (RangeLock) Plan(op Op) Plan {
	switch op {
	case OpReadFault, OpRead:
		return Plan{ER: Shared}
	case OpWriteFault, OpWrite, OpWritebackEnd, OpPunch, OpTruncate:
		return Plan{ER: Exclusive}
	case OpFsyncLog:
		return Plan{IO: Exclusive, ER: Exclusive, ERFull: true}
	}
	// OpWriteCleanup runs inside the write chunk's ER(X).
	return Plan{}
}

// Mechanisms implements Strategy.
func (RangeLock) Mechanisms() Mechanisms { return Mechanisms{} }
