package calibrate

import (
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"lockbench/hotpath"
)

// realFile is the scratch file on the target, mapped shared.
type realFile struct {
	fd     int
	data   []byte
	remove func() error
}

const pageSize = 4096

func openReal(dir string) (*realFile, error) {
	f, remove, err := hotpath.CreateScratch(dir)
	if err != nil {
		return nil, err
	}
	r := &realFile{fd: int(f.Fd()), remove: remove}
	if err := unix.Ftruncate(r.fd, pages*pageSize); err != nil {
		return nil, errors.Join(fmt.Errorf("sizing the scratch file: %w", err), remove())
	}
	if r.data, err = unix.Mmap(r.fd, 0, pages*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, errors.Join(fmt.Errorf("mapping the scratch file: %w", err), remove())
	}
	return r, nil
}

func (r *realFile) Store(p int) { r.data[p*pageSize+8]++ }

// sink keeps Load's read from being optimised away.
var sink atomic.Uint32

func (r *realFile) Load(p int) { sink.Add(uint32(r.data[p*pageSize+16])) }

func (r *realFile) Writeback(p int) error {
	return unix.SyncFileRange(r.fd, int64(p)*pageSize, pageSize,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}

func (r *realFile) Fdatasync() error { return unix.Fdatasync(r.fd) }

// Evict unmaps page p (MADV_DONTNEED on a shared mapping drops only the
// PTE), writes it back if dirty and drops it from the page cache.
func (r *realFile) Evict(p int) error {
	if err := unix.Madvise(r.data[p*pageSize:(p+1)*pageSize], unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("madvise: %w", err)
	}
	if err := r.Writeback(p); err != nil {
		return err
	}
	return unix.Fadvise(r.fd, int64(p)*pageSize, pageSize, unix.FADV_DONTNEED)
}

var rbuf [pageSize]byte

func (r *realFile) Pread(p int) error {
	_, err := unix.Pread(r.fd, rbuf[:], int64(p)*pageSize)
	return err
}

func (r *realFile) Punch(p, n int) error {
	err := unix.Fallocate(r.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(p)*pageSize, int64(n)*pageSize)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	return err
}

func (r *realFile) Close() error {
	return errors.Join(unix.Munmap(r.data), r.remove())
}
