package hotpath

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// KernelHoleTest is HoleTest on the real kernel, as fstests generic/344 and
// 346 run it: a real file of cfg.Size on the target, zeroed through the
// mapping, fallocated or truncated up; optionally one byte of every page
// read first; two threads store an 8-byte id into every page at 1/4 and 3/4
// through a MAP_SHARED mapping, the second optionally with pwrite() whose
// copies stop short at cfg.FailRate for real (its buffer's tail in a
// PROT_NONE page) and are retried until written; a flusher runs
// sync_file_range(WRITE) meanwhile, so stores keep taking page_mkwrite.
// After the join every page must hold both ids, read back through the page
// cache and again from the disk after fsync and a cache drop. cfg.Strategy
// and cfg.Delay are the model's and are ignored.
func KernelHoleTest(ctx context.Context, cfg HoleConfig) (res HoleResult, err error) {
	const ps = 4096
	if cfg.Size <= 0 || cfg.Size%ps != 0 {
		return res, fmt.Errorf("holetest size must be a positive multiple of %d, got %d", ps, cfg.Size)
	}
	f, err := createBacking(cfg.Dir)
	if err != nil {
		return res, fmt.Errorf("target %s: %w", cfg.Dir, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
		os.Remove(f.Name())
		live.Delete(f.Name())
	}()
	fd, n := int(f.Fd()), int(cfg.Size/ps)
	res = HoleResult{Pages: n, First: -1}
	m, err := holeFile(fd, cfg)
	if err != nil {
		return res, err
	}
	mapped := true
	defer func() {
		if mapped {
			unix.Munmap(m)
		}
	}()
	if cfg.PreRead {
		var sink byte
		for p := 0; p < n; p++ {
			sink += m[p*ps]
		}
		_ = sink
	}
	var shorts atomic.Int64
	if err := holeWorkers(ctx, fd, m, n, cfg, &shorts); err != nil {
		return res, err
	}
	res.ShortWrites = shorts.Load()
	mapped = false
	if err := unix.Munmap(m); err != nil {
		return res, err
	}
	for _, pass := range []string{"page cache", "after fsync and cache drop"} {
		if pass != "page cache" {
			if err := unix.Fsync(fd); err != nil {
				return res, err
			}
			if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
				return res, err
			}
		}
		if err := holeCheck(fd, n, pass, &res); err != nil || res.Missing > 0 {
			return res, err
		}
	}
	return res, nil
}

// holeFile sizes the file as cfg.Kind says and maps it shared.
func holeFile(fd int, cfg HoleConfig) ([]byte, error) {
	var err error
	switch cfg.Kind {
	case HoleFallocated:
		err = unix.Fallocate(fd, 0, 0, cfg.Size)
	default:
		err = unix.Ftruncate(fd, cfg.Size)
	}
	if err != nil {
		return nil, fmt.Errorf("holetest: preparing the %s file: %w", HoleKindNames[cfg.Kind], err)
	}
	m, err := unix.Mmap(fd, 0, int(cfg.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("holetest: mapping: %w", err)
	}
	if cfg.Kind == HoleZeroed {
		if _, err := Protect(func() error { clear(m); return nil }); err != nil {
			return nil, err
		}
		if err := unix.Fsync(fd); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// holeID is the id thread t (0 or 1) stores in page p.
func holeID(t, p int) uint64 { return uint64(t+1)<<56 | 0xfe<<48 | uint64(p) }

// holeWorkers runs the two id writers and the flusher until both writers
// are done.
func holeWorkers(ctx context.Context, fd int, m []byte, n int, cfg HoleConfig, shorts *atomic.Int64) error {
	const ps = 4096
	var done atomic.Bool
	g, ctx := errgroup.WithContext(ctx)
	store := func(t int) error {
		fault, err := Protect(func() error {
			for p := 0; p < n && ctx.Err() == nil; p++ {
				binary.LittleEndian.PutUint64(m[p*ps+(1+2*t)*ps/4:], holeID(t, p))
			}
			return nil
		})
		if fault != nil {
			return fmt.Errorf("holetest: SIGBUS on a store within EOF: %w", fault)
		}
		return err
	}
	g.Go(func() error { return store(0) })
	g.Go(func() error {
		if !cfg.PWrite {
			return store(1)
		}
		return holePwrite(ctx, fd, n, cfg, shorts)
	})
	flush := make(chan error, 1)
	go func() {
		var err error
		for !done.Load() && err == nil {
			err = unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		}
		flush <- err
	}()
	err := g.Wait()
	done.Store(true)
	return errors.Join(err, <-flush)
}

// holePwrite writes the second id of every page with pwrite(); at
// cfg.FailRate a write's buffer ends in a PROT_NONE page after 4 of its 8
// bytes, so the kernel's copy stops short, and it is retried whole.
func holePwrite(ctx context.Context, fd, n int, cfg HoleConfig, shorts *atomic.Int64) error {
	const ps = 4096
	buf, err := unix.Mmap(-1, 0, 2*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return err
	}
	defer unix.Munmap(buf)
	if err := unix.Mprotect(buf[ps:], unix.PROT_NONE); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 346))
	good, bad := buf[:8], buf[ps-4:ps+4]
	for p := 0; p < n && ctx.Err() == nil; p++ {
		off := int64(p*ps + 3*ps/4)
		if cfg.FailRate > 0 && rng.Float64() < cfg.FailRate {
			binary.LittleEndian.PutUint32(bad, uint32(holeID(1, p))) // the id's first half; the rest is PROT_NONE
			if nw, err := unix.Pwrite(fd, bad, off); err != nil && !errors.Is(err, unix.EFAULT) || nw == 8 {
				return fmt.Errorf("holetest: a pwrite from a buffer ending in PROT_NONE returned %d, %v; want a short copy", nw, err)
			}
			shorts.Add(1)
		}
		binary.LittleEndian.PutUint64(good, holeID(1, p))
		if nw, err := unix.Pwrite(fd, good, off); err != nil || nw != 8 {
			return fmt.Errorf("holetest: pwrite = %d, %v", nw, err)
		}
	}
	return nil
}

// holeCheck reads every page back with pread and counts the pages that
// lack one of the ids.
func holeCheck(fd, n int, pass string, res *HoleResult) error {
	const ps = 4096
	page := make([]byte, ps)
	for p := 0; p < n; p++ {
		if _, err := unix.Pread(fd, page, int64(p*ps)); err != nil {
			return fmt.Errorf("holetest read-back: %w", err)
		}
		for t := 0; t < 2; t++ {
			got := binary.LittleEndian.Uint64(page[(1+2*t)*ps/4:])
			if got == holeID(t, p) {
				continue
			}
			if res.Missing == 0 {
				res.First = p
				res.Detail = fmt.Sprintf("(%s) page %d at %d/4 holds %#x, want id %#x of thread %d", pass, p, 1+2*t, got, holeID(t, p), t)
			}
			res.Missing++
			break
		}
	}
	return nil
}
