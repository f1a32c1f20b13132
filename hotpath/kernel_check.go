package hotpath

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"lockbench/results"
)

// finish is the real file's end-of-run read-back, after every worker has
// joined: each data writer's region of each page must hold its last
// completed stamp, or zeros when a punch or truncate began after the stamp
// completed (either, when one overlapped it). A lost stamp is I1; a stamp
// still readable after a punch that followed it is I2. It reads the file
// twice: through the page cache, then, after unmapping, fsync and dropping
// the cache, from the disk (tmpfs has no disk: the second pass rereads
// memory).
func (k *kernelEngine) finish(rep *results.Rep) error {
	k.kernelLocks(rep)
	k.overlapOps(rep)
	if k.cfg.KernelControl {
		if err := k.destroyOne(); err != nil {
			return err
		}
	}
	buf := make([]byte, k.npages*k.pageSize)
	if err := k.readBack(rep, buf, "page cache"); err != nil {
		return err
	}
	if err := unix.Munmap(k.data); err != nil {
		return err
	}
	k.data = nil
	if err := unix.Fsync(k.fd); err != nil {
		return fmt.Errorf("fsync before the read-back: %w", err)
	}
	if err := unix.Fadvise(k.fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("dropping the cache before the read-back: %w", err)
	}
	return k.readBack(rep, buf, "after fsync and cache drop")
}

// readBack reads the whole file into buf and checks every region.
func (k *kernelEngine) readBack(rep *results.Rep, buf []byte, pass string) error {
	for off := 0; off < len(buf); {
		n, err := unix.Pread(k.fd, buf[off:], int64(off))
		if err != nil {
			return fmt.Errorf("read-back: %w", err)
		}
		if n == 0 {
			clear(buf[off:]) // the file is shorter: the rest reads as zeros
			break
		}
		off += n
	}
	for id, kw := range k.kw {
		if kw.shadow == nil {
			continue
		}
		for p := range kw.shadow {
			k.checkRegion(rep, buf, kw, id, p, pass)
		}
	}
	return nil
}

// checkRegion checks data writer id's region of page p.
func (k *kernelEngine) checkRegion(rep *results.Rep, buf []byte, kw *kworker, id, p int, pass string) {
	sh := kw.shadow[p]
	region := k.dataIndex(id) % k.regions
	off := p*k.pageSize + region*k.regSize
	got := binary.LittleEndian.Uint64(buf[off:])
	started := k.started[p].Load()
	// A punch that started after the stamp completed zeroed it; with none
	// in progress before it (s1 == f1) and none started since, the stamp
	// must be there; otherwise one overlapped it and either is right.
	punchedAfter := sh.stamp != 0 && started > sh.s2
	var ok bool
	switch {
	case sh.stamp == 0 || punchedAfter:
		ok = got == 0
	case sh.s1 == sh.f1 && started == sh.s1:
		ok = got == sh.stamp
	default: // a punch overlapped the store: either is right
		ok = got == 0 || got == sh.stamp
	}
	if ok {
		return
	}
	v := results.Violation{Invariant: "I1", Race: lostRace(k.sc.Race).String(), Worker: -1, Page: int64(p)}
	switch {
	case punchedAfter && got == sh.stamp:
		v.Invariant, v.Race = "I2", "R2"
		v.Detail = fmt.Sprintf("end of run (%s): page %d region %d of the real file still holds %s after a punch or truncate that began after it, want zeros", pass, p, region, stampString(got))
	case sh.stamp == 0 || punchedAfter:
		v.Detail = fmt.Sprintf("end of run (%s): page %d region %d of the real file holds %s, which no completed store left there, want zeros", pass, p, region, stampString(got))
	default:
		v.Detail = fmt.Sprintf("end of run (%s): page %d region %d of the real file lost %s, reads %s", pass, p, region, stampString(sh.stamp), stampString(got))
	}
	v.Detail += fmt.Sprintf(" (seed %d)", k.cfg.Seed)
	if len(rep.Violations) < maxViolationsPerWorker {
		rep.Violations = append(rep.Violations, v)
	}
	rep.ViolationsTotal++
}

// dataIndex is the data-writer index of worker id (faulters and writers in
// plan order), which owns region dataIndex%regions of every page.
func (k *kernelEngine) dataIndex(id int) int {
	d := 0
	for i := 0; i < id; i++ {
		if k.kw[i].shadow != nil {
			d++
		}
	}
	return d
}

// destroyOne is the checker's control: it punches the page of one
// completed store that no punch touched, behind the checker's back, so
// the read-back must flag it as lost (I1).
func (k *kernelEngine) destroyOne() error {
	for _, kw := range k.kw {
		for p, sh := range kw.shadow {
			if sh.stamp != 0 && sh.s1 == sh.f1 && k.started[p].Load() == sh.s1 {
				return unix.Fallocate(k.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(p*k.pageSize), int64(k.pageSize))
			}
		}
	}
	return errors.New("kernel control: no completed store to destroy")
}
