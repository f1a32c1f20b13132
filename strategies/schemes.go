package strategies

import (
	"slices"
	"strings"
)

// The real filesystems' own schemes, as model strategies, so that the
// calibrated model can be held against kernel(<fs>) on the same target
// (lockbench validate). They are kept out of All: they are not designs under
// study and the verify matrix and default study do not run them; -strategy
// accepts them by name. Each follows docs/MODEL.md's "the real kernel beside
// the model" table.

// Scheme is a real filesystem's serialisation in the model.
type Scheme struct {
	name string
	fs   string
	// readIO: buffered read() takes IO(S) (XFS's IOLOCK).
	readIO bool
	// punchFlush is what punch does with its range's writeback, and
	// where (PunchFlush).
	punchFlush PunchFlush
	plan       func(Op) Plan
}

var _ Strategy = Scheme{}

// Name implements Strategy.
func (s Scheme) Name() string { return s.name }

// Plan implements Strategy.
func (s Scheme) Plan(op Op) Plan { return s.plan(op) }

// Mechanisms implements Strategy: the schemes are the base protocol's
// mechanisms (no cookie, no retry).
func (s Scheme) Mechanisms() Mechanisms { return Mechanisms{} }

// FS is the filesystem type whose scheme this is ("btrfs", "ext4", "xfs").
func (s Scheme) FS() string { return s.fs }

// ReadIOLock reports whether the scheme's buffered read() takes IO(S); the
// hot path reads it as the XFS option.
func (s Scheme) ReadIOLock() bool { return s.readIO }

// PunchFlush is how a punch treats the writeback of its range.
type PunchFlush uint8

const (
	// PunchFlushBefore writes the range back and waits before the
	// invalidate lock, holding IO alone (ext4_punch_hole before Linux
	// 6.13's rework; the model's strategies under study).
	PunchFlushBefore PunchFlush = iota
	// PunchFlushLocked writes the range back and waits inside the
	// invalidate lock (xfs: xfs_file_fallocate takes XFS_IOLOCK_EXCL |
	// XFS_MMAPLOCK_EXCL, then xfs_flush_unmap_range's
	// filemap_write_and_wait_range; btrfs: btrfs_punch_hole takes
	// btrfs_inode_lock(BTRFS_ILOCK_MMAP), then btrfs_wait_ordered_range,
	// and the extent range after it).
	PunchFlushLocked
	// PunchWaitLocked writes nothing back: dirty pages of the range are
	// dropped, and only writeback already in flight is waited for, inside
	// the invalidate lock (ext4 since Linux 6.13, commit 982bf37da09d
	// "ext4: refactor ext4_punch_hole()": inode_lock,
	// filemap_invalidate_lock, then ext4_truncate_page_cache_block_range,
	// whose truncate_inode_pages_range waits for each folio's writeback;
	// it writes back only in data=journal mode).
	PunchWaitLocked
)

// PunchFlush reports how the scheme's punch treats its range's writeback.
func (s Scheme) PunchFlush() PunchFlush { return s.punchFlush }

// btrfsPlan is btrfs (Linux 6.x): page_mkwrite takes i_mmap_lock(S) and the
// extent range of its page (btrfs_page_mkwrite); page fills take the
// invalidate lock(S) (filemap_fault, filemap_read creating a folio) and the
// extent range of the page (btrfs_read_folio -> btrfs_lock_and_flush_ordered_range);
// fsync takes i_rwsem(X) + i_mmap_lock(X) (btrfs_inode_lock(BTRFS_ILOCK_MMAP));
// punch and truncate i_rwsem(X) + i_mmap_lock(X) and the extent range
// (btrfs_punch_hole, btrfs_punch_hole_lock_range); writeback's extent work
// the extent range of its page (writepage_delalloc, ordered completion);
// a failed write's cleanup, as everywhere, the invalidate lock(X).
func btrfsPlan(op Op) Plan {
	switch op {
	case OpReadFault, OpRead:
		return Plan{IL: Shared, ER: Shared}
	case OpWriteFault:
		return Plan{MK: Shared, ER: Exclusive}
	case OpWriteCleanup:
		return Plan{IL: Exclusive}
	case OpPunch, OpTruncate:
		return Plan{MK: Exclusive, ER: Exclusive}
	case OpFsyncLog:
		return Plan{IO: Exclusive, MK: Exclusive}
	case OpWritebackEnd:
		return Plan{ER: Exclusive}
	}
	return Plan{}
}

// ext4Plan is ext4: the invalidate lock for page fills and page_mkwrite
// (filemap_fault; ext4_page_mkwrite's filemap_invalidate_lock_shared) shared,
// for punch, truncate (ext4_punch_hole, ext4_setattr) and a failed write's
// cleanup exclusive; fsync takes no inode lock for the data
// (ext4_sync_file: file_write_and_wait_range, then the jbd2 commit).
func ext4Plan(op Op) Plan {
	switch op {
	case OpReadFault, OpRead, OpWriteFault:
		return Plan{IL: Shared}
	case OpWriteCleanup, OpPunch, OpTruncate:
		return Plan{IL: Exclusive}
	}
	return Plan{}
}

// Schemes lists the real filesystems' schemes: btrfs (MK against fsync,
// the extent range lock on page fills), ext4 (the invalidate lock; fsync
// excludes nothing) and xfs (ext4's, plus IOLOCK(S) for buffered read():
// xfs_file_buffered_read's xfs_ilock(XFS_IOLOCK_SHARED)).
var Schemes = []Scheme{
	{name: "scheme-btrfs", fs: "btrfs", punchFlush: PunchFlushLocked, plan: btrfsPlan},
	{name: "scheme-ext4", fs: "ext4", punchFlush: PunchWaitLocked, plan: ext4Plan},
	{name: "scheme-xfs", fs: "xfs", readIO: true, punchFlush: PunchFlushLocked, plan: ext4Plan},
}

// SchemeNames lists the schemes' strategy names.
func SchemeNames() []string {
	var n []string
	for _, s := range Schemes {
		n = append(n, s.name)
	}
	return n
}

// SchemeFor returns the scheme of filesystem type fs, or false when the model
// has none; the supported types are SchemeFSTypes.
func SchemeFor(fs string) (Scheme, bool) {
	i := slices.IndexFunc(Schemes, func(s Scheme) bool { return s.fs == fs })
	if i < 0 {
		return Scheme{}, false
	}
	return Schemes[i], true
}

// SchemeFSTypes lists the filesystems that have a scheme, comma-separated.
func SchemeFSTypes() string {
	var n []string
	for _, s := range Schemes {
		n = append(n, s.fs)
	}
	return strings.Join(n, ", ")
}

// lookupScheme returns the registry row of a scheme, built like All's rows;
// schemes are safe against R1, R2 and R5 and, being the base protocol
// without cookies or retry, not against R3 and R4.
func lookupScheme(name string) (Info, bool) {
	for _, s := range Schemes {
		if s.name == name {
			s := s
			return Info{Name: s.name, Description: "the " + s.fs + " kernel's own scheme in the model (lockbench validate)",
				Expect: Expectations{R1: S, R2: S, R3: V, R4: V, R5: S}, build: func(Options) Strategy { return s }}, true
		}
	}
	return Info{}, false
}
