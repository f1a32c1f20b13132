// Package locks holds the lock primitives the hot path's model inode is built
// of: RWSem (the rwsems MM, IO, IL, MK, IX), RangeLock (the extent range lock
// ER) and Seq (the extent sequence number, the validity cookie). It imports
// nothing of lockbench; package strategies names the modes of its plans with
// Mode, and subpackage primbench benchmarks the primitives against their
// peers.
package locks

import "fmt"

// Mode is how a lock is taken.
type Mode uint8

const (
	// Skip means the lock is not taken.
	Skip Mode = iota
	// Shared is a read (shared) acquisition.
	Shared
	// Exclusive is a write (exclusive) acquisition.
	Exclusive
)

func (m Mode) String() string {
	switch m {
	case Skip:
		return "-"
	case Shared:
		return "S"
	case Exclusive:
		return "X"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}
