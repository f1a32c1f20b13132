package ktrace

import "strings"

// Attribution says which lock a kernel wait was for, from its call chain.
type Attribution struct {
	// Class is the lock in the model's names (MM, IO, IL, MK, F, IX), a
	// pair such as "IO/MK" when the call site takes both locks one after
	// the other and the lock address did not decide (see resolveByAddress),
	// or "" when the wait is not on one of the model's locks.
	Class string
	// Site is the function that called the locking primitive: the first
	// frame of the chain outside the locking code.
	Site string
	// Prim is the locking primitive called: down_read, down_write,
	// mutex_lock, _raw_spin_lock, ...
	Prim string
	// Label names the wait in tables: Site for a classified wait, the top
	// filesystem (or, failing that, mm) frame for any other.
	Label string
}

// Attribute attributes a wait from its resolved kernel call chain, the
// innermost frame first (as perf records it: the lock's slow path, the
// primitive, the caller, ...). The rules follow the call sites of Linux
// 6.x (docs/MODEL.md's table of what each filesystem takes):
//
//   - down_read from btrfs_page_mkwrite is MK (btrfs's i_mmap_lock);
//   - btrfs_inode_lock from fsync, punch, fallocate or reflink takes
//     i_rwsem and then i_mmap_lock exclusive: IO/MK; from a write: IO;
//   - filemap_invalidate_lock* (inline into filemap_fault, the readahead
//     and read paths, ext4_page_mkwrite, ext4_setattr) is IL; xfs_ilock
//     is IL under the fault handlers (MMAPLOCK), IO under the write and
//     read paths (IOLOCK), IO/IL under fallocate and setattr, IX elsewhere
//     (ILOCK);
//   - inode_lock (inline into write_iter, do_truncate, shmem_fallocate) is
//     IO; ext4's fallocate paths take inode_lock, invalidate_lock and
//     i_data_sem: IO/IL/IX until the address decides;
//   - ext4's i_data_sem in the block-mapping paths is IX;
//   - folio_lock/__folio_lock (and the folio wait queue) is F;
//   - mmap_lock sites (the fault's lock_mm_and_find_vma, mmap, munmap,
//     madvise) are MM;
//   - anything else is listed by its top filesystem or mm frame.
//
// Note: the folio lock sleeps on a wait queue, not in a primitive with
// contention tracepoints, so F waits appear only where a traced lock is
// contended inside the folio lock's own path; this is a limit of the
// tracepoints, not of the rules.
func Attribute(frames []string) Attribution {
	var a Attribution
	i := 0
	for ; i < len(frames) && isLockFrame(frames[i]); i++ {
		a.Prim = frames[i]
	}
	if i == len(frames) {
		a.Label = a.Prim
		return a
	}
	a.Site = frames[i]
	callers := frames[i+1:]
	if inInterrupt(frames[i:]) {
		// Contention in an interrupt handler that happened to run on the
		// thread: not a lock the thread's own code path waited for.
		a.Label = "irq:" + a.Site
		return a
	}
	a.Class = classify(a.Site, a.Prim, callers)
	if a.Class != "" {
		a.Label = a.Site
	} else {
		a.Label = topFrame(frames[i:])
	}
	return a
}

func classify(site, prim string, callers []string) string {
	rwsem := strings.HasPrefix(prim, "down_") || strings.HasPrefix(prim, "rwsem_") || prim == ""
	switch {
	case isFolioLock(site):
		return "F"
	case site == "btrfs_page_mkwrite" && rwsem:
		return "MK"
	case site == "btrfs_inode_lock":
		if anyOf(callers, "btrfs_sync_file", "btrfs_punch_hole", "btrfs_fallocate", "btrfs_zero_range",
			"btrfs_remap_file_range", "btrfs_setattr", "btrfs_do_encoded_write") {
			return "IO/MK"
		}
		return "IO"
	case site == "xfs_ilock":
		switch {
		case anyOf(callers, "xfs_write_fault", "__xfs_write_fault", "xfs_filemap_page_mkwrite", "__xfs_filemap_fault",
			"xfs_filemap_fault", "xfs_filemap_pfn_mkwrite", "xfs_dax_fault", "xfs_dax_fault_locked"):
			return "IL"
		case anyOf(callers, "xfs_file_fallocate", "__xfs_file_fallocate", "xfs_vn_setattr", "xfs_vn_setattr_size", "xfs_setattr_size",
			"xfs_file_remap_range", "xfs_reflink_remap_prep"):
			return "IO/IL"
		case anyOf(callers, "xfs_ilock_iocb", "xfs_ilock_iocb_for_write", "xfs_file_buffered_write",
			"xfs_file_write_checks", "xfs_file_buffered_read", "xfs_file_dio_read", "xfs_file_dio_write_aligned",
			"xfs_file_dio_write_unaligned"):
			return "IO"
		}
		return "IX"
	case strings.HasPrefix(site, "xfs_ilock_iocb"):
		return "IO"
	case strings.HasPrefix(site, "filemap_invalidate_lock"), oneOf(site, "filemap_fault", "page_cache_ra_unbounded",
		"page_cache_ra_order", "filemap_create_folio", "filemap_update_page", "filemap_get_pages",
		"ext4_page_mkwrite", "ext4_setattr", "filemap_invalidate_pages"):
		if rwsem {
			return "IL"
		}
	case oneOf(site, "ext4_fallocate", "ext4_punch_hole", "ext4_zero_range", "ext4_collapse_range",
		"ext4_insert_range", "ext4_do_fallocate"):
		if rwsem {
			return "IO/IL/IX"
		}
	case oneOf(site, "ext4_map_blocks", "ext4_da_map_blocks", "ext4_da_get_block_prep", "ext4_ext_map_blocks",
		"ext4_ext_truncate", "ext4_ext_remove_space", "ext4_es_remove_extent", "ext4_truncate",
		"ext4_map_query_blocks", "ext4_map_create_blocks", "ext4_ind_map_blocks"):
		if rwsem {
			return "IX"
		}
	case oneOf(site, "ext4_buffered_write_iter", "ext4_dio_write_iter", "ext4_file_write_iter",
		"shmem_file_write_iter", "generic_file_write_iter", "shmem_fallocate", "do_truncate",
		"btrfs_do_write_iter", "btrfs_buffered_write", "__generic_file_fsync", "generic_buffers_fsync",
		"ext4_dax_write_iter", "xfs_file_buffered_write"):
		if rwsem {
			return "IO"
		}
	case isMMSite(site):
		if rwsem {
			return "MM"
		}
	}
	return ""
}

// lockFramePrefixes are the locking code's own functions: the slow paths
// and the primitives. The scheduler is not one of them: a contention inside
// __schedule is on the run queue's lock, and is listed as such.
var lockFramePrefixes = []string{
	"rwsem_", "down_read", "down_write", "__down", "up_read", "up_write", "mutex_", "__mutex", "ww_mutex",
	"_raw_spin", "_raw_read", "_raw_write", "raw_spin_", "do_raw_", "queued_spin", "queued_read",
	"queued_write", "native_queued_spin", "__pv_queued", "pv_queued", "osq_", "rt_mutex", "__rt_mutex",
	"rt_spin", "rtlock", "rwbase_", "percpu_down", "__percpu_down", "percpu_rwsem", "__percpu_rwsem",
	"__lock_text", "__traceiter_", "trace_", "perf_",
}

// inInterrupt reports whether a chain passes through an interrupt or
// softirq entry before reaching the system call or fault.
func inInterrupt(frames []string) bool {
	for _, f := range frames {
		if strings.Contains(f, "sysvec_") || strings.HasSuffix(f, "_interrupt") || strings.Contains(f, "softirq") ||
			strings.HasPrefix(f, "irq_exit") {
			return true
		}
	}
	return false
}

func isLockFrame(name string) bool {
	for _, p := range lockFramePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func isFolioLock(site string) bool {
	return oneOf(site, "__folio_lock", "folio_lock", "__folio_lock_killable", "folio_lock_killable",
		"__folio_lock_or_retry", "folio_wait_bit_common", "folio_lock_or_retry", "lock_page")
}

func isMMSite(site string) bool {
	return strings.Contains(site, "mmap_lock") || strings.Contains(site, "mmap_read_lock") ||
		strings.Contains(site, "mmap_write_lock") ||
		oneOf(site, "lock_mm_and_find_vma", "do_user_addr_fault", "vm_mmap_pgoff", "__vm_munmap", "vm_munmap",
			"do_madvise", "madvise_lock", "do_mprotect_pkey", "__mm_populate", "get_user_pages_unlocked",
			"__get_user_pages_locked", "exit_mmap", "dup_mmap", "__do_sys_brk", "__x64_sys_munmap",
			"__do_sys_mremap", "vm_brk_flags", "mmap_region", "do_mmap")
}

// fsFramePrefixes mark a filesystem's own frames; mmFramePrefixes the page
// cache and memory management's.
var (
	fsFramePrefixes = []string{"btrfs_", "__btrfs", "ext4_", "__ext4", "jbd2_", "__jbd2", "xfs_", "__xfs",
		"iomap_", "shmem_"}
	mmFramePrefixes = []string{"filemap_", "__filemap", "folio", "page_cache", "truncate_", "invalidate_",
		"mapping_", "do_writepages", "writeback", "balance_dirty", "handle_mm_fault", "__handle_mm_fault",
		"do_fault", "__do_fault", "do_read_fault", "do_shared_fault", "do_wp_page", "wp_page", "do_page_mkwrite",
		"zap_", "unmap_", "madvise", "lru_", "release_pages", "vfs_", "generic_"}
)

// topFrame is the first filesystem frame at or below the call site, else
// the first mm frame, else the call site.
func topFrame(frames []string) string {
	for _, f := range frames {
		if hasAnyPrefix(f, fsFramePrefixes) {
			return f
		}
	}
	for _, f := range frames {
		if hasAnyPrefix(f, mmFramePrefixes) {
			return f
		}
	}
	return frames[0]
}

func hasAnyPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func anyOf(frames []string, set ...string) bool {
	for _, f := range frames {
		if oneOf(f, set...) {
			return true
		}
	}
	return false
}

// resolveByAddress settles pairs: a wait at a site that takes two locks
// (IO/MK, IO/IL) is on whichever of them its lock address was seen as at a
// site that takes one. The address of btrfs's i_mmap_lock is learnt from
// page_mkwrite's down_read, i_rwsem's from a write, invalidate_lock's from
// a fault. A pair that no single-lock site names stays a pair. A spin wait
// at the site is on a sleeping lock's wait_lock, which lies within the
// first waitLockSpan bytes of the lock: it is resolved by the lock below it.
func resolveByAddress(class string, addr uint64, spin bool, known map[uint64]string) string {
	if !strings.Contains(class, "/") {
		return class
	}
	k, ok := known[addr]
	for d := uint64(1); !ok && spin && d <= waitLockSpan && d <= addr; d++ {
		k, ok = known[addr-d]
	}
	if ok {
		for _, c := range strings.Split(class, "/") {
			if c == k {
				return k
			}
		}
	}
	return class
}

// waitLockSpan bounds the offset of wait_lock in struct rw_semaphore and
// struct mutex (count, owner, osq, then wait_lock: 8 to 24 bytes on x86-64).
const waitLockSpan = 32

// inferPairs extends known from the addresses waited on at pair sites
// (addrs: pair class -> addresses): when the addresses seen at sites of one
// two-lock pair are all known as one of its locks but exactly one, that one
// is the other lock. btrfs_inode_lock takes i_rwsem and then i_mmap_lock;
// once i_mmap_lock's address is learnt from page_mkwrite, the single other
// address under the IO/MK sites is i_rwsem. With two or more unknown
// addresses (several inodes) nothing is inferred.
func inferPairs(addrs map[string]map[uint64]bool, known map[uint64]string) {
	for class, set := range addrs {
		members := strings.Split(class, "/")
		if len(members) != 2 {
			continue
		}
		var unknown []uint64
		seen := map[string]bool{}
		for a := range set {
			k, ok := known[a]
			switch {
			case !ok:
				unknown = append(unknown, a)
			case k == members[0] || k == members[1]:
				seen[k] = true
			}
		}
		if len(unknown) != 1 || len(seen) != 1 {
			continue
		}
		other := members[0]
		if seen[other] {
			other = members[1]
		}
		known[unknown[0]] = other
	}
}
