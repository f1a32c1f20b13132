// Package strategies holds the serialisation strategies under study. It
// imports nothing of lockbench but the lock primitives' Mode (subpackage
// locks, which holds the primitives the hot path builds its inode of): the hot
// path (package hotpath) asks a Strategy, once per inode at set-up, which locks
// each operation needs (a Plan), and which optional mechanisms it uses
// (validity cookies, fault retry, the unsafe shortcuts of the baseline).
//
// The contract is declarative on purpose. The hot path owns the lock objects of
// the model inode (MM, IO, IL, MK, F, IX, ER) so that the lock-order checker and the
// deadlock watchdog see every acquisition in one place, and so that a strategy
// cannot forget a lock the base protocol needs. Plans are read once and cached
// in an array indexed by Op, so asking costs nothing on the measured path.
//
// Note: an earlier design had each strategy take its locks itself through
// Enter/Exit methods. It was rejected: an interface call per lock site costs
// more than the rwsem fast path it would wrap, and every strategy duplicated the
// base protocol's MM -> IL -> MK -> F -> IX order.
package strategies

import (
	"fmt"
	"strings"

	"lockbench/strategies/locks"
)

// Mode is how a lock is taken (the lock primitives' own type).
type Mode = locks.Mode

const (
	// Skip means the lock is not taken.
	Skip = locks.Skip
	// Shared is a read (shared) acquisition.
	Shared = locks.Shared
	// Exclusive is a write (exclusive) acquisition.
	Exclusive = locks.Exclusive
)

// Op names a lock site of the hot path: a place where an operation asks the
// strategy for serialisation beyond the locks the base protocol always takes
// (MM(S) for faults, F for page work, IX for extent work, IO(X) for write/
// punch/truncate; read() takes no inode lock unless the XFS option asks for
// IO(S)).
//
// Note: an OpInlineConvert site was once declared here, but the conversion
// runs inside page_mkwrite with the page locked, so it can only ever run
// under the write fault's plan (a second plan would have to be taken after F,
// against the lock order). It was removed rather than left unread.
type Op uint8

const (
	// OpReadFault is page instantiation in a read fault (filemap_fault
	// creating and filling a page).
	OpReadFault Op = iota
	// OpWriteFault is page_mkwrite.
	OpWriteFault
	// OpWrite is one chunk of a buffered write(), under IO(X).
	OpWrite
	// OpWriteCleanup is a failed write's cleanup of what it reserved.
	OpWriteCleanup
	// OpRead is a buffered read()'s creation and fill of a page that is
	// not cached and uptodate (a cached page is copied without it).
	OpRead
	// OpFsyncLog is fsync's logging phase (after writeback and wait).
	OpFsyncLog
	// OpPunch is a hole punch, under IO(X).
	OpPunch
	// OpTruncate is a truncate, under IO(X).
	OpTruncate
	// OpWritebackEnd is writeback's extent work: allocation at submit
	// (DELALLOC -> UNWRITTEN) and I/O completion (UNWRITTEN -> WRITTEN).
	OpWritebackEnd
	// NumOps is the number of lock sites.
	NumOps
)

var opNames = [NumOps]string{
	"read-fault", "write-fault", "write", "write-cleanup", "read",
	"fsync-log", "punch", "truncate", "writeback-end",
}

func (o Op) String() string {
	if o < NumOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Plan is the serialisation a strategy asks for at one lock site, taken in the
// order IO -> IL -> MK -> ER, after MM for faults and before F and IX.
type Plan struct {
	// IO is i_rwsem taken in addition to what the operation already holds
	// (fsync takes IO(X) in every strategy).
	IO Mode
	// IL is mapping->invalidate_lock (XFS MMAPLOCK).
	IL Mode
	// MK is btrfs's i_mmap_lock: page_mkwrite takes it shared, fsync's
	// logging exclusive; nothing else takes it, so an exclusive hold stalls
	// write faults only.
	MK Mode
	// ER is the extent range lock over the operation's byte range.
	ER Mode
	// ERFull widens ER to the whole file [0, max).
	ERFull bool
}

// Locks renders a plan as the lock list used in docs/DESIGN.md, e.g. "IO(X) IL(X)".
func (p Plan) Locks() string {
	var parts []string
	if p.IO != Skip {
		parts = append(parts, "IO("+p.IO.String()+")")
	}
	if p.IL != Skip {
		parts = append(parts, "IL("+p.IL.String()+")")
	}
	if p.MK != Skip {
		parts = append(parts, "MK("+p.MK.String()+")")
	}
	if p.ER != Skip {
		r := "range"
		if p.ERFull {
			r = "0..max"
		}
		parts = append(parts, "ER("+p.ER.String()+" "+r+")")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// Strategy is one way of serialising page faults against file operations.
//
// Contract: Plan is pure and cheap; the hot path calls it once per Op when it
// builds an inode and caches the answers. A Strategy holds no per-inode state,
// so one value may serve many inodes and many goroutines.
type Strategy interface {
	// Name is the kebab-case name used on the command line.
	Name() string
	// Plan returns the serialisation op needs.
	Plan(op Op) Plan
	// Mechanisms tells which optional mechanisms the strategy uses.
	Mechanisms() Mechanisms
}

// Mechanisms are the behaviours beyond lock plans that tell the strategies
// apart. The zero value is the base protocol (rwsem).
type Mechanisms struct {
	// ValidateMappings makes buffered write() compare its cached mapping's
	// cookie with the extent sequence number after locking each page, and
	// remap on a mismatch (iomap ->iomap_valid).
	ValidateMappings bool
	// Retry makes write faults that need IO-level work drop MM, take IO(X),
	// do the work and return RETRY (VM_FAULT_RETRY).
	Retry *RetryPolicy
	// UnsafeCleanup makes a failed write's cleanup punch every block it
	// reserved, dirty pages included (the pre-fix XFS behaviour; none only).
	UnsafeCleanup bool
	// NaiveFaultAround lets a scenario that asks for it map pages in
	// fault-around without the trylock and recheck (none only: every other
	// strategy keeps the fix, which is part of the base protocol).
	NaiveFaultAround bool
}

// Fallback is what a retrying strategy does for a fault that may not retry
// (a get_user_pages caller that passed no `locked`).
type Fallback uint8

const (
	// FallbackSigbus fails the fault with SIGBUS (the proposal's answer).
	FallbackSigbus Fallback = iota
	// FallbackConvertUnlocked converts under IL(S) without IO (the original race).
	FallbackConvertUnlocked
)

// FallbackNames lists the fallbacks by their command-line names, in order.
var FallbackNames = []string{"sigbus", "convert-unlocked"}

func (f Fallback) String() string {
	if int(f) < len(FallbackNames) {
		return FallbackNames[f]
	}
	return fmt.Sprintf("Fallback(%d)", uint8(f))
}

// ParseFallback parses a fallback name.
func ParseFallback(s string) (Fallback, error) {
	for i, n := range FallbackNames {
		if n == s {
			return Fallback(i), nil
		}
	}
	return 0, fmt.Errorf("unknown fallback %q (allowed: %s)", s, strings.Join(FallbackNames, ", "))
}

// RetryPolicy configures VM_FAULT_RETRY.
type RetryPolicy struct {
	// OnContendedIL also retries a fault that finds IL held or wanted by a
	// writer, instead of waiting on it while holding MM.
	OnContendedIL bool
	// GUPShare is the fraction in [0,1] of faults that come from
	// get_user_pages callers that never allow retry.
	GUPShare float64
	// Fallback is the answer for those faults when they need IO-level work.
	Fallback Fallback
	// MaxRetries is how many times a fault may return RETRY before it is
	// retried with TRIED set (model default 1).
	MaxRetries int
}
