// Package hotpath is the model of one inode's fault and write hot path
// (docs/MODEL.md) and the runner that drives it with workers.
//
// The page contents live in a real file on the chosen target, mapped
// MAP_SHARED: the "cache file" is the model's page cache. A second file on the
// same target, read and written with pread/pwrite (O_DIRECT where the target
// supports it) and fdatasync, is the model's disk: writeback writes pages to
// it, read faults of WRITTEN blocks read from it, punch punches real holes in
// it. Page, PTE and extent states are atomics in Go memory.
package hotpath

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"lockbench/results"
	"lockbench/strategies"
)

// Page state bits (docs/MODEL.md, "State"). A page is absent when pgPresent is clear.
const (
	pgPresent   = 1 << 0
	pgUptodate  = 1 << 1
	pgDirty     = 1 << 2
	pgLocked    = 1 << 3
	pgWriteback = 1 << 4
)

// PTE states. The pte word also counts stores in flight (bits 8 and up): a
// store announces itself, checks the PTE is rw, stores, and leaves;
// write-protecting a PTE waits for the stores in flight to drain, which is
// what the TLB shootdown of page_mkclean guarantees in the kernel.
const (
	pteNone  = 0
	pteRO    = 1
	pteRW    = 2
	pteMask  = 3
	pteStore = 1 << 8
)

// Extent states per block (docs/MODEL.md). extModified marks a block changed since
// the last fsync (btrfs's modified-extents list); it lives in the same word.
const (
	extHole      = 0
	extDelalloc  = 1
	extUnwritten = 2
	extWritten   = 3
	extInline    = 4
	extStateMask = 7
	extModified  = 1 << 8
)

var extNames = [...]string{"HOLE", "DELALLOC", "UNWRITTEN", "WRITTEN", "INLINE"}

func extName(s uint32) string {
	if int(s&extStateMask) < len(extNames) {
		return extNames[s&extStateMask]
	}
	return fmt.Sprintf("ext(%d)", s)
}

// page is one page of the model page cache, padded to its own cache line so
// that workers on disjoint pages share nothing.
type page struct {
	state atomic.Uint32
	pte   atomic.Uint32
	_     [56]byte
}

// Inode is the model inode: page cache, PTEs, extent map, locks and the two
// real files. Create it with Open and release it with Close.
type Inode struct {
	pageSize int
	npages   int
	regions  int // marked regions per page
	regSize  int

	plans         [strategies.NumOps]strategies.Plan
	validate      bool
	unsafeCleanup bool
	naiveOK       bool
	retry         *strategies.RetryPolicy
	readIOLock    bool                  // XFS: buffered read() takes IO(S)
	punchFlush    strategies.PunchFlush // a scheme's punch writeback (fileops.go, invalidate)

	// The written words (size, punchEpoch, fsyncs, inlineGen) each sit on
	// their own pair of cache lines, apart from the words every store,
	// fill and write reads (plans, pages, oracle, delay): a truncate or a
	// punch would otherwise invalidate the line each fault reads.
	// TestInodeLayout checks the distances.
	_     [linePad]byte
	size  atomic.Int64 // in pages
	_     [linePad - 8]byte
	pages []page
	ext   []atomic.Uint32
	seq   extentSeq

	mm, io, il, mk, ix *rwsem
	er                 *rangeLock

	data   []byte // the shared mapping of the cache file
	cache  *os.File
	disk   *os.File
	diskFD int
	paths  []string

	oracle *oracle // nil when the oracle is off
	delay  *delays // nil when delay injection is off
	// calib is the calibration the model spends (-calibrate), nil when off;
	// spanHook, set by tests only, sees the locks held at each span point.
	calib    *calibState
	spanHook func(w *Worker, sp spanPoint)

	_          [linePad]byte
	punchEpoch atomic.Uint64 // bumped by every punch and truncate
	_          [linePad - 8]byte
	fsyncs     atomic.Int64
	_          [linePad - 8]byte
	inlineGen  atomic.Uint64 // bumped by every re-inline: a new file, for retry chains
	_          [linePad - 8]byte
}

// linePad is the spacing that keeps a written word off the cache lines of
// the words next to it: two 64-byte lines, because the adjacent-line
// prefetcher pulls lines in pairs (locks' falseSharingPad).
const linePad = 128

// InodeConfig says how to build an inode.
type InodeConfig struct {
	Dir      string // target directory
	FileSize int64
	PageSize int
	Slots    int // workers that may take locks
	Strategy strategies.Strategy
	Regions  int // marked regions per page (>= 2)
	Oracle   bool
	Delay    *DelayConfig
	Direct   bool // try O_DIRECT for the disk file
	// ReadIOLock makes buffered read() take IO(S), as XFS takes its IOLOCK
	// shared; by default read() takes no inode lock (ext4, btrfs).
	ReadIOLock bool
	// Calibration makes the model spend the real filesystem's measured
	// phase costs (calib.go); nil is the uncalibrated model.
	Calibration *results.Calibration
}

// Open creates the two backing files in cfg.Dir, maps the cache file shared
// and returns the inode. On error nothing is left on the target.
func Open(cfg InodeConfig) (in *Inode, err error) {
	if cfg.PageSize <= 0 || cfg.PageSize%os.Getpagesize() != 0 {
		return nil, fmt.Errorf("page size %d is not a multiple of the system page size %d", cfg.PageSize, os.Getpagesize())
	}
	if cfg.FileSize <= 0 || cfg.FileSize%int64(cfg.PageSize) != 0 {
		return nil, configErrorf("FileSize", "must be a positive multiple of the page size %d, got %d", cfg.PageSize, cfg.FileSize)
	}
	if cfg.Regions < 2 || cfg.PageSize/cfg.Regions < 8 {
		return nil, fmt.Errorf("regions per page must be in [2, %d], got %d", cfg.PageSize/8, cfg.Regions)
	}
	if cfg.Dir == "" {
		return nil, errors.New("no target directory given")
	}
	if cfg.Delay != nil {
		if err := cfg.Delay.Validate(); err != nil {
			return nil, fmt.Errorf("delay injection %s: %w", cfg.Delay, err)
		}
	}
	n := int(cfg.FileSize / int64(cfg.PageSize))
	in = &Inode{
		pageSize: cfg.PageSize,
		npages:   n,
		regions:  cfg.Regions,
		regSize:  cfg.PageSize / cfg.Regions,
		pages:    make([]page, n),
		ext:      make([]atomic.Uint32, n),
		mm:       newRWSem(cfg.Slots),
		io:       newRWSem(cfg.Slots),
		il:       newRWSem(cfg.Slots),
		mk:       newRWSem(cfg.Slots),
		ix:       newRWSem(cfg.Slots),
		er:       newRangeLock(cfg.Slots),
	}
	in.size.Store(int64(n))
	for op := strategies.Op(0); op < strategies.NumOps; op++ {
		in.plans[op] = cfg.Strategy.Plan(op)
	}
	mech := cfg.Strategy.Mechanisms()
	in.validate = mech.ValidateMappings
	in.unsafeCleanup = mech.UnsafeCleanup
	in.naiveOK = mech.NaiveFaultAround
	in.retry = mech.Retry
	in.readIOLock = cfg.ReadIOLock
	if x, ok := cfg.Strategy.(interface{ ReadIOLock() bool }); ok && x.ReadIOLock() {
		in.readIOLock = true // a filesystem's scheme whose read() takes IO(S) (xfs)
	}
	if x, ok := cfg.Strategy.(interface{ PunchFlush() strategies.PunchFlush }); ok {
		in.punchFlush = x.PunchFlush()
	}
	if cfg.Oracle {
		in.oracle = newOracle(n, cfg.Regions)
	}
	if cfg.Delay != nil {
		in.delay = newDelays(*cfg.Delay)
	}
	if cfg.Calibration != nil {
		if in.calib, err = newCalibState(cfg.Calibration, cfg.Slots); err != nil {
			return nil, err
		}
	}
	// Close the partly opened inode on error: through a local copy, since
	// `return nil, err` sets the named result to nil first.
	opened := in
	defer func() {
		if err != nil {
			opened.Close()
		}
	}()
	if err = in.openFiles(cfg); err != nil {
		return nil, err
	}
	return in, nil
}

// openFiles creates the backing files (backing.go), reserves their space
// and maps the cache file shared.
func (in *Inode) openFiles(cfg InodeConfig) (err error) {
	if in.cache, err = createBacking(cfg.Dir); err != nil {
		return fmt.Errorf("target %s: %w", cfg.Dir, err)
	}
	in.paths = append(in.paths, in.cache.Name())
	diskName := in.cache.Name() + ".disk"
	flags := os.O_RDWR | os.O_CREATE | os.O_EXCL
	if cfg.Direct {
		in.disk, err = os.OpenFile(diskName, flags|unix.O_DIRECT, 0o600)
	}
	if in.disk == nil {
		in.disk, err = os.OpenFile(diskName, flags, 0o600)
	}
	if err != nil {
		return fmt.Errorf("target %s: %w", cfg.Dir, err)
	}
	in.paths = append(in.paths, diskName)
	live.Store(diskName, struct{}{})
	in.diskFD = int(in.disk.Fd())
	// Both files are reserved before the mapping exists: see reserve.
	for _, f := range []*os.File{in.cache, in.disk} {
		if err = reserve(f, cfg.FileSize); err != nil {
			return fmt.Errorf("target %s: reserving 2 x %d bytes for the backing files: %w", cfg.Dir, cfg.FileSize, err)
		}
	}
	in.data, err = unix.Mmap(int(in.cache.Fd()), 0, int(cfg.FileSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		in.data = nil
		return fmt.Errorf("target %s cannot be mapped shared: %w", cfg.Dir, err)
	}
	return nil
}

// Close unmaps the cache and removes both backing files. It is safe to call
// on a partly opened inode and more than once.
func (in *Inode) Close() error {
	var errs []error
	if in.data != nil {
		errs = append(errs, unix.Munmap(in.data))
		in.data = nil
	}
	if in.cache != nil {
		errs = append(errs, in.cache.Close())
		in.cache = nil
	}
	if in.disk != nil {
		errs = append(errs, in.disk.Close())
		in.disk = nil
	}
	for _, p := range in.paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		live.Delete(p)
	}
	in.paths = nil
	return errors.Join(errs...)
}

// removeFiles unlinks the backing files without unmapping: used when a
// deadlocked run leaves workers blocked that may still touch the mapping.
func (in *Inode) removeFiles() {
	for _, p := range in.paths {
		os.Remove(p)
		live.Delete(p)
	}
	in.paths = nil
}

// pageBytes returns the cache mapping of page p.
func (in *Inode) pageBytes(p int) []byte {
	off := p * in.pageSize
	return in.data[off : off+in.pageSize : off+in.pageSize]
}

// regionOff is the byte offset of region r of page p in the file.
func (in *Inode) regionOff(p, r int) int { return p*in.pageSize + r*in.regSize }

func (in *Inode) loadStamp(p, r int) uint64 {
	off := in.regionOff(p, r)
	return binary.LittleEndian.Uint64(in.data[off : off+8])
}

func (in *Inode) putStamp(p, r int, s uint64) {
	off := in.regionOff(p, r)
	binary.LittleEndian.PutUint64(in.data[off:off+8], s)
}

// setExtent changes block b's state; the caller holds IX(X). It bumps seq
// and, with the oracle on, records the change in the layout history.
func (in *Inode) setExtent(b int, st uint32) {
	old := in.ext[b].Load()
	nw := st | extModified
	if st == extHole {
		nw = st | (old & extModified)
	}
	in.ext[b].Store(nw)
	s := in.seq.Bump()
	if in.oracle != nil {
		in.oracle.extentChanged(b, old&extStateMask, st, s)
	}
}

func (in *Inode) extState(b int) uint32 { return in.ext[b].Load() & extStateMask }

// readDisk fills page p of the cache from the disk file.
func (in *Inode) readDisk(p int) error {
	off := int64(p) * int64(in.pageSize)
	_, err := unix.Pread(in.diskFD, in.pageBytes(p), off)
	return err
}

// writeDisk writes page p of the cache to the disk file.
func (in *Inode) writeDisk(p int) error {
	off := int64(p) * int64(in.pageSize)
	_, err := unix.Pwrite(in.diskFD, in.pageBytes(p), off)
	return err
}

// punchDisk frees the disk blocks of pages [p0, p1) for real.
func (in *Inode) punchDisk(p0, p1 int) error {
	off := int64(p0) * int64(in.pageSize)
	n := int64(p1-p0) * int64(in.pageSize)
	err := unix.Fallocate(in.diskFD, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) {
		// Targets without punch-hole: zero the blocks instead.
		buf := make([]byte, in.pageSize)
		for p := p0; p < p1; p++ {
			if _, err = unix.Pwrite(in.diskFD, buf, int64(p)*int64(in.pageSize)); err != nil {
				return err
			}
		}
		return nil
	}
	return err
}

// SetInline makes the first n blocks INLINE (the inline scenario's start).
func (in *Inode) SetInline(n int) {
	for b := 0; b < n && b < in.npages; b++ {
		in.ext[b].Store(extInline)
	}
}
