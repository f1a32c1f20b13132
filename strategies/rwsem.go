package strategies

// RWSem is the base protocol (docs/MODEL.md) with its two mmap rwsems:
// IL (mapping->invalidate_lock, XFS MMAPLOCK) and MK (btrfs's i_mmap_lock).
// Page fills (read faults and read() creating a page) take IL(S);
// page_mkwrite takes IL(S) and MK(S); punch, truncate and a failed write's
// cleanup take IL(X); fsync takes MK(X) (the btrfs fix), which stalls write
// faults and nothing else. It prevents R1, R2 and R5. It does not address R3
// (the pre-fix XFS stale mapping) nor R4 (ext4 converts inline data under
// IL(S)).
type RWSem struct{}

var _ Strategy = RWSem{}

// Name implements Strategy.
func (RWSem) Name() string { return "rwsem" }

// Plan implements Strategy.
func (RWSem) Plan(op Op) Plan { return basePlan(op) }

// Mechanisms implements Strategy.
func (RWSem) Mechanisms() Mechanisms { return Mechanisms{} }

// basePlan is the base protocol's plan, shared by rwsem, seqcount and faultretry.
func basePlan(op Op) Plan {
	switch op {
	case OpReadFault, OpRead:
		return Plan{IL: Shared}
	case OpWriteFault:
		return Plan{IL: Shared, MK: Shared}
	case OpWriteCleanup, OpPunch, OpTruncate:
		return Plan{IL: Exclusive}
	case OpFsyncLog:
		return Plan{IO: Exclusive, MK: Exclusive}
	}
	return Plan{}
}
