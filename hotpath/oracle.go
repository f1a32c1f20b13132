package hotpath

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"lockbench/results"
	"lockbench/strategies"
)

// oracle checks the invariants I1-I5 of docs/MODEL.md. It is nil when off, so the
// measured path pays one predictable branch per check site.
//
// Each marked region of each page has one owner (a data-writing worker), so
// the shadow holds, exactly, the last stamp its owner completed there; punch
// and truncate reset the shadow of the range they invalidate, after unmapping
// it and while faults are excluded.
type oracle struct {
	regions int
	shadow  []atomic.Uint64 // [page*regions+region]

	mu      sync.Mutex // guards hist (written under IX(X), read by fsync checks)
	hist    []extChange
	histSeq uint64 // seq of the last change recorded

	scratch []byte // page-aligned buffer for O_DIRECT reads of the disk
}

// extChange is one change of the extent map, numbered by seq.
type extChange struct {
	seq      uint64
	block    int
	old, new uint32
}

// histCap bounds the layout history (a ring): an fsync whose changes fell out
// of it is reported as unchecked rather than checked wrongly.
const histCap = 1 << 16

func newOracle(pages, regions int) *oracle {
	buf, err := unix.Mmap(-1, 0, 1<<16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		buf = make([]byte, 1<<16)
	}
	return &oracle{regions: regions, shadow: make([]atomic.Uint64, pages*regions), hist: make([]extChange, 0, histCap), scratch: buf}
}

// stored records that the owner completed stamp s in region r of page p.
func (o *oracle) stored(p, r int, s uint64) { o.shadow[p*o.regions+r].Store(s) }

// reset forgets the shadow of pages [p0, p1): punched data reads as zeros.
func (o *oracle) reset(p0, p1 int) {
	for i := p0 * o.regions; i < p1*o.regions; i++ {
		o.shadow[i].Store(0)
	}
}

func (o *oracle) extentChanged(b int, old, nw uint32, seq uint64) {
	o.mu.Lock()
	c := extChange{seq: seq, block: b, old: old, new: nw}
	// seq starts at 1 and every change is recorded, so change seq lives
	// at (seq-1) % histCap both before and after the ring wraps.
	if len(o.hist) < histCap {
		o.hist = append(o.hist, c)
	} else {
		o.hist[(seq-1)%histCap] = c
	}
	o.histSeq = seq
	o.mu.Unlock()
}

// liveStamps returns a stamp of a completed store that page p holds in its
// cache (the shadow and the page agree and it is not zero), or 0.
func (o *oracle) liveStamps(in *Inode, p int) uint64 {
	for r := 0; r < o.regions; r++ {
		s := o.shadow[p*o.regions+r].Load()
		if s != 0 && in.loadStamp(p, r) == s {
			return s
		}
	}
	return 0
}

func stampString(s uint64) string {
	owner, seq := stampOwner(s)
	return fmt.Sprintf("(writer %d, #%d)", owner, seq)
}

// violation records a broken invariant in the worker's own list. detail
// is called only for a violation the list keeps: a SIGBUS on the measured
// path (oracle on or off) then formats nothing once the list is full, and
// detail must not escape, so the caller's closure stays on its stack.
func (w *Worker) violation(in *Inode, inv string, race strategies.Race, page int, detail func() string) {
	if len(w.oracleV) < maxViolationsPerWorker {
		w.oracleV = append(w.oracleV, results.Violation{Invariant: inv, Race: race.String(), Op: w.opIndex, Worker: w.ID, Page: int64(page), Detail: detail()})
	}
	w.nViolations++
}

const maxViolationsPerWorker = 256

// fsyncSnap is the state at fsync's start that I5 is checked against.
type fsyncSnap struct {
	layout []uint32 // extent state per block
	seq    uint64
	shadow []uint64
	epoch  uint64
}

func (o *oracle) fsyncStart(w *Worker, in *Inode) *fsyncSnap {
	s := &fsyncSnap{layout: make([]uint32, in.npages), shadow: make([]uint64, len(o.shadow))}
	s.epoch = in.punchEpoch.Load()
	w.wlock(in.ix, lkIX)
	for b := range s.layout {
		s.layout[b] = in.extState(b)
	}
	s.seq = in.seq.Load()
	w.wunlock(in.ix, lkIX)
	for i := range o.shadow {
		s.shadow[i] = o.shadow[i].Load()
	}
	return s
}

// fsyncEnd checks I5 on the log of one fsync: no block is logged twice; the
// replayed layout is one the file had between the snapshot and now; and,
// when no punch or truncate ran meanwhile, every stamp completed before the
// fsync started survives a crash (it is in a block the replay says is
// WRITTEN, and the disk holds it or a later stamp of the same owner).
// Each check stops at its first violation, and a later check runs only
// when the earlier ones passed.
func (o *oracle) fsyncEnd(w *Worker, in *Inode, snap *fsyncSnap, log []logRecord) {
	replay, ok := o.replayLog(w, in, log)
	if !ok || !o.layoutHeld(w, in, snap, replay) {
		return
	}
	if in.punchEpoch.Load() != snap.epoch {
		return
	}
	o.checkDurable(w, in, snap, replay)
}

// replayLog is the layout a crash right after fsync replays from log, per
// block; a block not logged reads 1<<31 (it keeps its durable state,
// unknown here). It records a violation and returns false when the log
// holds a block twice.
func (o *oracle) replayLog(w *Worker, in *Inode, log []logRecord) ([]uint32, bool) {
	replay := make([]uint32, in.npages)
	covered := make([]bool, in.npages)
	for i := range replay {
		replay[i] = 1 << 31
	}
	for _, r := range log {
		for b := r.Start; b < r.Start+r.Len; b++ {
			if covered[b] {
				w.violation(in, "I5", strategies.R5, b, func() string {
					return fmt.Sprintf("fsync log holds overlapping extents at block %d (%s and %s)", b, extName(replay[b]), extName(r.State))
				})
				return nil, false
			}
			covered[b] = true
			replay[b] = r.State
		}
	}
	return replay, true
}

// layoutHeld reports whether replay equals the layout at some point
// between the snapshot and now, walking the history from the snapshot and
// counting the differing blocks incrementally; it records a violation when
// it never does. A history that overflowed its ring counts the fsync as
// unchecked and returns false.
func (o *oracle) layoutHeld(w *Worker, in *Inode, snap *fsyncSnap, replay []uint32) bool {
	o.mu.Lock()
	changes := o.changesSince(snap.seq)
	o.mu.Unlock()
	if changes == nil {
		w.uncheckedFsyncs++ // history overflowed: reported as unchecked
		return false
	}
	cur := append([]uint32(nil), snap.layout...)
	diff := 0
	for b := range cur {
		if replay[b] != cur[b] {
			diff++
		}
	}
	matched := diff == 0
	for _, c := range changes {
		if !matched {
			before := replay[c.block] != cur[c.block]
			cur[c.block] = c.new
			after := replay[c.block] != cur[c.block]
			if before && !after {
				diff--
			} else if !before && after {
				diff++
			}
			matched = diff == 0
		}
	}
	if !matched {
		w.violation(in, "I5", strategies.R5, -1, func() string {
			return fmt.Sprintf("fsync logged a layout the file never had between its start and end (%d blocks differ from the closest, %d changes during fsync)", diff, len(changes))
		})
	}
	return matched
}

// checkDurable checks that every stamp completed before the fsync started
// is in a block replay says is WRITTEN (or INLINE) and that the disk holds
// it or a later stamp of the same owner.
func (o *oracle) checkDurable(w *Worker, in *Inode, snap *fsyncSnap, replay []uint32) {
	for b := 0; b < in.npages; b++ {
		var disk []byte
		for r := 0; r < o.regions; r++ {
			want := snap.shadow[b*o.regions+r]
			if want == 0 {
				continue
			}
			if replay[b] != extWritten && replay[b] != extInline {
				w.violation(in, "I5", strategies.R5, b, func() string {
					return fmt.Sprintf("after crash, block %d replays as %s and loses %s completed before fsync", b, extName(replay[b]), stampString(want))
				})
				return
			}
			if replay[b] == extInline {
				continue
			}
			if disk == nil {
				disk = o.scratch[:in.pageSize]
				if _, err := unix.Pread(in.diskFD, disk, int64(b)*int64(in.pageSize)); err != nil {
					return
				}
			}
			got := leUint64(disk[r*in.regSize:])
			wo, ws := stampOwner(want)
			go_, gs := stampOwner(got)
			if got == 0 || go_ != wo || gs < ws {
				w.violation(in, "I5", strategies.R5, b, func() string {
					return fmt.Sprintf("after crash, block %d region %d holds %s, want %s or later (page state %#x, pte %#x, extent %s, cache holds %s)",
						b, r, stampString(got), stampString(want), in.pages[b].state.Load(), in.pages[b].pte.Load(), extName(in.extState(b)), stampString(in.loadStamp(b, r)))
				})
				return
			}
		}
	}
}

// changesSince returns the recorded changes after seq in order, or nil when
// the ring no longer holds them all.
func (o *oracle) changesSince(seq uint64) []extChange {
	if o.histSeq == seq {
		return []extChange{}
	}
	if len(o.hist) < histCap {
		// Not wrapped: changes are in order; find the first after seq.
		i := len(o.hist)
		for i > 0 && o.hist[i-1].seq > seq {
			i--
		}
		return append([]extChange(nil), o.hist[i:]...)
	}
	if o.histSeq-seq >= histCap {
		return nil
	}
	out := make([]extChange, 0, o.histSeq-seq)
	for s := seq + 1; s <= o.histSeq; s++ {
		out = append(out, o.hist[(s-1)%histCap])
	}
	return out
}

func leUint64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// final is the end-of-run scan, after every worker has joined: each region
// must read back as the shadow says (from the cache if the page is cached,
// from the disk if its block is WRITTEN, else zeros), and every dirty page
// must have an extent (I1b). A lost stamp is I1 (I3 in the stale-map
// scenario); pre-punch data still readable is I2.
func (o *oracle) final(in *Inode, lostRace strategies.Race) []results.Violation {
	var out []results.Violation
	add := func(v results.Violation) {
		if len(out) < maxViolationsPerWorker {
			out = append(out, v)
		}
	}
	for p := 0; p < in.npages; p++ {
		s := in.pages[p].state.Load()
		st := in.extState(p)
		cached := s&(pgPresent|pgUptodate) == pgPresent|pgUptodate
		if s&pgDirty != 0 && s&pgPresent != 0 && st == extHole {
			add(results.Violation{Invariant: "I1b", Race: strategies.R1.String(), Page: int64(p), Worker: -1, Detail: fmt.Sprintf("end of run: dirty page %d has no extent", p)})
		}
		if !cached && in.pages[p].pte.Load()&pteMask != pteNone {
			add(results.Violation{Invariant: "I2", Race: strategies.R2.String(), Page: int64(p), Worker: -1, Detail: fmt.Sprintf("end of run: a PTE maps dropped page %d", p)})
		}
		var disk []byte
		for r := 0; r < o.regions; r++ {
			want := o.shadow[p*o.regions+r].Load()
			var got uint64
			switch {
			case cached, st == extInline:
				got = in.loadStamp(p, r)
			case st == extWritten:
				if disk == nil {
					disk = o.scratch[:in.pageSize]
					if _, err := unix.Pread(in.diskFD, disk, int64(p)*int64(in.pageSize)); err != nil {
						return append(out, results.Violation{Invariant: "-", Detail: err.Error()})
					}
				}
				got = leUint64(disk[r*in.regSize:])
			}
			if got == want {
				continue
			}
			if want == 0 {
				add(results.Violation{Invariant: "I2", Race: strategies.R2.String(), Page: int64(p), Worker: -1, Detail: fmt.Sprintf("end of run: page %d region %d reads pre-punch data %s, want zeros", p, r, stampString(got))})
				continue
			}
			inv := "I1"
			if lostRace == strategies.R3 {
				inv = "I3"
			}
			add(results.Violation{Invariant: inv, Race: lostRace.String(), Page: int64(p), Worker: -1, Detail: fmt.Sprintf("end of run: page %d region %d lost %s, reads %s", p, r, stampString(want), stampString(got))})
		}
	}
	return out
}
