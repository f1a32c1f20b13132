package hotpath

import (
	"runtime/debug"
	"unsafe"
)

// MemFault is a memory fault (SIGBUS or SIGSEGV) on an access through a
// mapping, turned into a value by Protect instead of crashing the process.
type MemFault struct {
	// Addr is the faulting address the kernel reported (si_addr).
	Addr uintptr
	// Err is the runtime error the fault became.
	Err error
}

func (f *MemFault) Error() string { return f.Err.Error() }

// addrError is the runtime error a fault becomes under SetPanicOnFault;
// it carries the faulting address.
type addrError interface {
	error
	Addr() uintptr
}

// Protect runs fn on the calling goroutine with runtime/debug.SetPanicOnFault
// on, and returns the memory fault that stopped it, or nil when fn returned.
// fn's own error is returned as err. Any other panic propagates unchanged.
//
// A store into a MAP_SHARED mapping beyond the file's EOF (after a
// truncate) or on a full filesystem raises SIGBUS; without this the Go
// runtime would crash the process. The fault is an event the caller
// classifies and counts (beyond EOF: legitimate; within EOF: a violation).
//
// Protect costs one deferred call per call, not per access: callers run
// their whole loop inside fn, keep the loop's position in their own state,
// and call Protect again after a fault to resume it.
func Protect(fn func() error) (fault *MemFault, err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			ae, ok := r.(addrError)
			if !ok {
				panic(r)
			}
			fault, err = &MemFault{Addr: ae.Addr(), Err: ae}, nil
		}
	}()
	return nil, fn()
}

// unsafeAddr is the address of b's first byte.
func unsafeAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// waitStable is btrfs's stable-page wait in the calibrated model: a write
// fault that finds its page's write to the disk file still in flight
// (pgDiskIO, set by writebackPageCalib on a btrfs target) waits, holding
// the page lock and the fault's plan, until that real write has completed,
// as btrfs_page_mkwrite's folio_wait_writeback waits for the folio's bio
// (btrfs checksums data, so a page may not change under its write) and
// btrfs_start_ordered_extent for the ordered extent behind it. The wait is
// the real one: sync_file_range(SYNC_FILE_RANGE_WAIT_BEFORE) on the disk
// file's page, which the model's writeback submitted. ext4 and xfs on a
// device without stable writes do not wait, and the bit is never set there.
func (w *Worker) waitStable(in *Inode, p int) {
	w.at(in, spStableWait)
	w.waitDiskIO(in, p)
	w.ctr.StableWaits++
}
