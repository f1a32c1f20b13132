package strategies

// RWSemStrategy is the base protocol (model.md): the mmap rwsem IL
// (invalidate_lock, XFS MMAPLOCK, btrfs i_mmap_lock). Faults and page fills
// take IL(S); punch, truncate, a failed write's cleanup and fsync's logging
// phase (the btrfs fix) take IL(X). It prevents R1, R2 and R5. It does not
// address R3 (the pre-fix XFS stale mapping) nor R4 (ext4 converts inline
// data under IL(S)).
type RWSemStrategy struct{}

var _ Strategy = RWSemStrategy{}

// Name implements Strategy.
func (RWSemStrategy) Name() string { return "rwsem" }

// Plan implements Strategy.
func (RWSemStrategy) Plan(op Op) Plan { return basePlan(op) }

// Mechanisms implements Strategy.
func (RWSemStrategy) Mechanisms() Mechanisms { return Mechanisms{} }

// basePlan is the base protocol's plan, shared by rwsem, seqcount and faultretry.
func basePlan(op Op) Plan {
	switch op {
	case OpReadFault, OpWriteFault, OpRead, OpInlineConvert:
		return Plan{IL: Shared}
	case OpWriteCleanup, OpPunch, OpTruncate:
		return Plan{IL: Exclusive}
	case OpFsyncLog:
		return Plan{IO: Exclusive, IL: Exclusive}
	}
	return Plan{}
}
