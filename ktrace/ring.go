package ktrace

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is one perf ring buffer: the metadata page followed by 2^n data
// pages, mapped read-write so that the reader can advance data_tail (the
// kernel then never overwrites unread records; when the buffer is full it
// drops records and says so with PERF_RECORD_LOST).
//
// Note: hand-written rather than cilium/ebpf's perf.Reader. That reader
// reads BPF perf event arrays: it needs a BPF_MAP_TYPE_PERF_EVENT_ARRAY map
// and opens its own PERF_COUNT_SW_BPF_OUTPUT events, so it cannot read the
// tracepoint events opened here per thread. The ring protocol is small (two
// 64-bit indexes with acquire/release order) and is tested on synthetic
// buffers.
type ring struct {
	mem  []byte
	meta *unix.PerfEventMmapPage
	data []byte
	mask uint64
	buf  []byte // scratch for a record that wraps around the end
}

func mapRing(fd, dataPages int) (*ring, error) {
	ps := unix.Getpagesize()
	mem, err := unix.Mmap(fd, 0, (1+dataPages)*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap of the perf ring buffer (%d pages): %w", 1+dataPages, err)
	}
	r := newRing(mem, ps)
	return r, nil
}

// newRing wraps a mapping whose first page is the metadata page. Older
// kernels leave data_offset and data_size zero: the data then starts at the
// second page and fills the rest.
func newRing(mem []byte, pageSize int) *ring {
	meta := (*unix.PerfEventMmapPage)(unsafe.Pointer(&mem[0]))
	off, size := meta.Data_offset, meta.Data_size
	if size == 0 {
		off, size = uint64(pageSize), uint64(len(mem)-pageSize)
	}
	return &ring{mem: mem, meta: meta, data: mem[off : off+size], mask: size - 1}
}

func (r *ring) unmap() error {
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem, r.meta, r.data = nil, nil, nil
	return err
}

// drain calls fn for every complete record between data_tail and data_head,
// then publishes the new tail. The record slice is valid only during fn.
func (r *ring) drain(fn func(typ uint32, rec []byte)) {
	head := atomic.LoadUint64(&r.meta.Data_head) // acquire: records before head are complete
	tail := r.meta.Data_tail
	for tail+8 <= head {
		hdr := r.at(tail, 8)
		typ := binary.LittleEndian.Uint32(hdr[0:])
		size := uint64(binary.LittleEndian.Uint16(hdr[6:]))
		if size < 8 || tail+size > head {
			break // never happens with a sane kernel; stop rather than loop
		}
		fn(typ, r.at(tail, size))
		tail += size
	}
	atomic.StoreUint64(&r.meta.Data_tail, tail) // release: the kernel may reuse the space
}

// at returns n bytes of the data area from position pos, copying into
// scratch when they wrap around the end.
func (r *ring) at(pos, n uint64) []byte {
	start := pos & r.mask
	if start+n <= uint64(len(r.data)) {
		return r.data[start : start+n]
	}
	if uint64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	k := copy(b, r.data[start:])
	copy(b[k:], r.data)
	return b
}
