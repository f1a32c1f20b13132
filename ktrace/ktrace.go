// Package ktrace records the real kernel's lock waits of chosen threads from
// the tracepoints lock:contention_begin and lock:contention_end, opened with
// perf_event_open per thread, and attributes each wait to a lock by its call
// site (Attribute), in the model's lock names.
//
// It imports nothing of lockbench: the kernel engine in hotpath attaches its
// worker threads (each locked to its OS thread with runtime.LockOSThread) and
// turns the Result into results records.
//
// The measured threads pay only what the kernel pays to emit a sample (a
// record with a kernel call chain into the thread's own ring buffer); one
// reader goroutine drains the buffers every Poll, off the measured threads.
package ktrace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"lockbench/internal/quantile"
)

// Options tune a Tracer. Zero values take the defaults.
type Options struct {
	// BufferPages is the data size of each thread's ring buffer in pages,
	// a power of two (default 256: 1 MiB).
	BufferPages int
	// MaxStack bounds the kernel call chain recorded per event (default 40).
	MaxStack int
	// Poll is how often the reader drains the buffers (default 5ms).
	Poll time.Duration
	// KeepDurations bounds how many wait durations are kept for
	// percentiles (default 1<<22); counts, totals and maxima are exact
	// beyond it, and Result.Dropped says how many were not kept.
	KeepDurations int
}

func (o *Options) defaults() {
	if o.BufferPages <= 0 {
		o.BufferPages = 256
	}
	if o.MaxStack <= 0 {
		o.MaxStack = 40
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Millisecond
	}
	if o.KeepDurations <= 0 {
		o.KeepDurations = 1 << 22
	}
}

// Tracepoint describes one tracepoint: its id and the offsets of the
// fields read from its raw record.
type Tracepoint struct {
	ID     uint64
	Fields map[string]int // field name -> offset in the raw record
}

// tracefsDirs are where tracefs may be mounted.
var tracefsDirs = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// Tracer records the lock waits of the threads attached to it. Attach is
// safe for concurrent use; Start, Stop and Result are called by one owner.
type Tracer struct {
	opt        Options
	begin, end Tracepoint
	syms       *Symbols

	mu      sync.Mutex
	threads []*thread
	started bool
	stopped bool
	stop    chan struct{}
	done    chan struct{}

	// Reader state: touched only by the reader goroutine, and by Stop
	// after the reader has exited.
	stacks   map[string]uint32
	stackIPs [][]uint64
	buckets  map[bucketKey]*bucket
	records  int64
	events   int64
	lost     int64
	unpaired int64
	nested   int64
	kept     int64
	dropped  int64
	ips      []uint64
	start    time.Time
	elapsed  time.Duration
}

type thread struct {
	tid, tag int
	fds      [2]int
	ring     *ring
	open     []pending // begins awaiting their end, innermost last
}

type pending struct {
	lock   uint64
	flags  uint32
	time   uint64
	stack  uint32
	nested bool // begun while another wait of the thread was open
}

type bucketKey struct {
	stack uint32
	flags uint32
	lock  uint64
	tag   int
}

type bucket struct {
	n     int64
	total int64
	max   int64
	durs  []int64
}

// contextMax is PERF_CONTEXT_MAX as an address: call-chain entries at or
// above it mark contexts (PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER), not frames.
const contextMax = ^uint64(0) - 4094

// maxOpen bounds the begins a thread may have open: nesting is at most a
// spinlock inside a sleeping lock's slow path; more means ends were lost.
const maxOpen = 8

// Open checks that the tracepoints exist and that perf_event_open is
// allowed, mounting tracefs if no tracefs is mounted, and loads the kernel
// symbols. Its error is one line saying what is missing; the caller goes on
// without kernel lock waits.
func Open(opt Options) (*Tracer, error) {
	opt.defaults()
	if opt.BufferPages&(opt.BufferPages-1) != 0 {
		return nil, fmt.Errorf("ktrace: buffer pages must be a power of two, got %d", opt.BufferPages)
	}
	dir, mounted, err := findTracefs()
	if err != nil {
		return nil, err
	}
	if mounted {
		// The tracepoints' ids and formats are read here, and perf events
		// need no tracefs after that: what Open mounted, it unmounts.
		defer unix.Unmount(dir, unix.UMOUNT_NOFOLLOW)
	}
	t := &Tracer{opt: opt, stacks: map[string]uint32{}, buckets: map[bucketKey]*bucket{}}
	if t.begin, err = ReadTracepoint(filepath.Join(dir, "events/lock/contention_begin")); err != nil {
		return nil, err
	}
	if t.end, err = ReadTracepoint(filepath.Join(dir, "events/lock/contention_end")); err != nil {
		return nil, err
	}
	for _, f := range []string{"lock_addr", "flags"} {
		if _, ok := t.begin.Fields[f]; !ok {
			return nil, fmt.Errorf("ktrace: lock:contention_begin has no field %s", f)
		}
	}
	if _, ok := t.end.Fields["lock_addr"]; !ok {
		return nil, fmt.Errorf("ktrace: lock:contention_end has no field lock_addr")
	}
	// Probe: the same event on the calling thread, opened and closed.
	fd, err := t.open(t.begin.ID, 0)
	if err != nil {
		return nil, err
	}
	unix.Close(fd)
	if t.syms, err = LoadKallsyms(); err != nil {
		return nil, fmt.Errorf("ktrace: %w", err)
	}
	return t, nil
}

// findTracefs returns a tracefs directory holding the lock tracepoints,
// mounting tracefs at /sys/kernel/tracing when none is mounted; mounted
// says Open mounted it (and must unmount it).
func findTracefs() (dir string, mounted bool, err error) {
	for _, d := range tracefsDirs {
		_, err := os.Stat(filepath.Join(d, "events/lock/contention_begin/id"))
		if err == nil {
			return d, false, nil
		}
		if errors.Is(err, fs.ErrPermission) {
			return "", false, fmt.Errorf("ktrace: kernel lock waits need root: tracefs at %s is not readable by uid %d", d, os.Geteuid())
		}
	}
	d := tracefsDirs[0]
	if _, err := os.Stat(filepath.Join(d, "events")); err == nil {
		return "", false, fmt.Errorf("ktrace: this kernel has no lock:contention_begin tracepoint (%s/events/lock)", d)
	}
	if os.Geteuid() != 0 {
		return "", false, fmt.Errorf("ktrace: kernel lock waits need root (tracefs is not mounted at %s, and mounting it needs root too)", d)
	}
	if err := unix.Mount("nodev", d, "tracefs", 0, ""); err != nil {
		return "", false, fmt.Errorf("ktrace: tracefs is not mounted and mounting it at %s failed: %w", d, err)
	}
	if _, err := os.Stat(filepath.Join(d, "events/lock/contention_begin/id")); err != nil {
		unix.Unmount(d, unix.UMOUNT_NOFOLLOW)
		return "", false, fmt.Errorf("ktrace: this kernel has no lock:contention_begin tracepoint (%s/events/lock)", d)
	}
	return d, true, nil
}

// ReadTracepoint reads a tracepoint's id and field offsets from its tracefs
// directory (id and format).
func ReadTracepoint(dir string) (Tracepoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, "id"))
	if err != nil {
		return Tracepoint{}, fmt.Errorf("ktrace: %w", err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return Tracepoint{}, fmt.Errorf("ktrace: %s/id: %w", dir, err)
	}
	f, err := os.ReadFile(filepath.Join(dir, "format"))
	if err != nil {
		return Tracepoint{}, fmt.Errorf("ktrace: %w", err)
	}
	return Tracepoint{ID: id, Fields: ParseFormat(f)}, nil
}

// ParseFormat reads the field offsets of a tracefs format file
// ("field:void * lock_addr;	offset:8;	size:8;	signed:0;").
func ParseFormat(b []byte) map[string]int {
	m := map[string]int{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if !strings.HasPrefix(s, "field:") {
			continue
		}
		parts := strings.Split(s, ";")
		if len(parts) < 2 {
			continue
		}
		decl := strings.Fields(strings.TrimPrefix(parts[0], "field:"))
		if len(decl) == 0 {
			continue
		}
		name := strings.TrimLeft(decl[len(decl)-1], "*")
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = name[:i]
		}
		off := strings.TrimSpace(parts[1])
		if v, ok := strings.CutPrefix(off, "offset:"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				m[name] = n
			}
		}
	}
	return m
}

const sampleType = unix.PERF_SAMPLE_TID | unix.PERF_SAMPLE_TIME | unix.PERF_SAMPLE_CALLCHAIN | unix.PERF_SAMPLE_RAW

func (t *Tracer) open(id uint64, tid int) (int, error) {
	attr := unix.PerfEventAttr{
		Type:             unix.PERF_TYPE_TRACEPOINT,
		Size:             uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Config:           id,
		Sample:           1, // sample_period: every event
		Sample_type:      sampleType,
		Read_format:      unix.PERF_FORMAT_LOST,
		Bits:             unix.PerfBitDisabled | unix.PerfBitExcludeCallchainUser | unix.PerfBitUseClockID,
		Wakeup:           1,
		Clockid:          unix.CLOCK_MONOTONIC,
		Sample_max_stack: uint16(t.opt.MaxStack),
	}
	fd, err := unix.PerfEventOpen(&attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if errors.Is(err, unix.EINVAL) {
		// Before Linux 6.0 there is no PERF_FORMAT_LOST; PERF_RECORD_LOST
		// still counts drops.
		attr.Read_format = 0
		fd, err = unix.PerfEventOpen(&attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	}
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return -1, fmt.Errorf("ktrace: perf_event_open refused (%v; needs root or CAP_PERFMON)", err)
		}
		return -1, fmt.Errorf("ktrace: perf_event_open of tracepoint %d for thread %d: %w", id, tid, err)
	}
	return fd, nil
}

// Attach starts recording thread tid's lock waits under tag (for example
// the worker's index). The thread must stay the same OS thread for the
// whole measurement: call it from a goroutine that has called
// runtime.LockOSThread, with unix.Gettid(). Attaching after Start enables
// the thread at once.
func (t *Tracer) Attach(tid, tag int) error {
	th := &thread{tid: tid, tag: tag, fds: [2]int{-1, -1}}
	var err error
	if th.fds[0], err = t.open(t.begin.ID, tid); err != nil {
		return err
	}
	if th.fds[1], err = t.open(t.end.ID, tid); err != nil {
		th.close()
		return err
	}
	if th.ring, err = mapRing(th.fds[0], t.opt.BufferPages); err != nil {
		th.close()
		return fmt.Errorf("ktrace: %w", err)
	}
	// Both events into one buffer, so that a thread's begins and ends are
	// read in the order they happened.
	if err := unix.IoctlSetInt(th.fds[1], unix.PERF_EVENT_IOC_SET_OUTPUT, th.fds[0]); err != nil {
		th.close()
		return fmt.Errorf("ktrace: PERF_EVENT_IOC_SET_OUTPUT: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		th.close()
		return errors.New("ktrace: Attach after Stop")
	}
	if t.started {
		if err := th.enable(true); err != nil {
			th.close()
			return err
		}
	}
	t.threads = append(t.threads, th)
	return nil
}

func (th *thread) enable(on bool) error {
	req := uint(unix.PERF_EVENT_IOC_DISABLE)
	if on {
		req = unix.PERF_EVENT_IOC_ENABLE
	}
	for _, fd := range th.fds {
		if err := unix.IoctlSetInt(fd, req, 0); err != nil {
			return fmt.Errorf("ktrace: enabling the events of thread %d: %w", th.tid, err)
		}
	}
	return nil
}

func (th *thread) close() error {
	var err error
	for i, fd := range th.fds {
		if fd >= 0 {
			if e := unix.Close(fd); e != nil && err == nil {
				err = e
			}
			th.fds[i] = -1
		}
	}
	if th.ring != nil {
		if e := th.ring.unmap(); e != nil && err == nil {
			err = e
		}
		th.ring = nil
	}
	return err
}

// Start enables every attached thread's events and starts the reader.
func (t *Tracer) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return errors.New("ktrace: Start twice")
	}
	for _, th := range t.threads {
		if err := th.enable(true); err != nil {
			return err
		}
	}
	t.started = true
	t.start = time.Now()
	t.stop = make(chan struct{})
	t.done = make(chan struct{})
	go t.reader()
	return nil
}

func (t *Tracer) reader() {
	defer close(t.done)
	tick := time.NewTicker(t.opt.Poll)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.drainAll()
		}
	}
}

func (t *Tracer) drainAll() {
	t.mu.Lock()
	ths := slices.Clone(t.threads)
	t.mu.Unlock()
	for _, th := range ths {
		th.ring.drain(func(typ uint32, rec []byte) { t.record(th, typ, rec) })
	}
}

// Stop disables the events, drains what is left, releases the buffers and
// the events, and returns the result. Safe to call without Start (an empty
// result) and only once.
func (t *Tracer) Stop() (*Result, error) {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return nil, errors.New("ktrace: Stop twice")
	}
	t.stopped = true
	started := t.started
	t.mu.Unlock()
	var err error
	for _, th := range t.threads {
		if e := th.enable(false); e != nil && err == nil {
			err = e
		}
	}
	if started {
		close(t.stop)
		<-t.done
		t.elapsed = time.Since(t.start)
		t.drainAll()
	}
	var lostRead int64
	for _, th := range t.threads {
		t.unpaired += int64(len(th.open))
		ev, lost := th.counts()
		t.events += ev
		lostRead += lost
		if e := th.close(); e != nil && err == nil {
			err = e
		}
	}
	// The kernel writes a PERF_RECORD_LOST only once space frees up, so
	// records dropped just before the events were disabled are reported by
	// no record; the events' own lost counts (PERF_FORMAT_LOST) have them.
	t.lost = max(t.lost, lostRead)
	return t.result(), err
}

// counts reads the events that fired on the thread's two events and the
// samples the kernel dropped (read_format PERF_FORMAT_LOST: {value,
// lost}); 0, 0 when the kernel cannot say (before Linux 6.0).
func (th *thread) counts() (events, lost int64) {
	var b [16]byte
	for _, fd := range th.fds {
		if fd < 0 {
			continue
		}
		if k, err := unix.Read(fd, b[:]); err == nil && k == 16 {
			events += int64(binary.LittleEndian.Uint64(b[0:]))
			lost += int64(binary.LittleEndian.Uint64(b[8:]))
		}
	}
	return events, lost
}

// Record decoding. A PERF_RECORD_SAMPLE with TID|TIME|CALLCHAIN|RAW is
//
//	header(8) pid,tid(8) time(8) nr(8) ips[nr](8 each) size(4) raw[size]
//
// and the raw record starts with common_type, the tracepoint id.
func (t *Tracer) record(th *thread, typ uint32, rec []byte) {
	switch typ {
	case unix.PERF_RECORD_LOST:
		if len(rec) >= 24 {
			t.lost += int64(binary.LittleEndian.Uint64(rec[16:]))
		}
		return
	case unix.PERF_RECORD_SAMPLE:
	default:
		return
	}
	le := binary.LittleEndian
	if len(rec) < 32 {
		return
	}
	t.records++
	tm := le.Uint64(rec[16:])
	nr := int(le.Uint64(rec[24:]))
	off := 32 + 8*nr
	if nr < 0 || off+4 > len(rec) {
		return
	}
	t.ips = t.ips[:0]
	for i := 0; i < nr; i++ {
		ip := le.Uint64(rec[32+8*i:])
		if ip >= contextMax { // a context marker (PERF_CONTEXT_KERNEL, ...)
			continue
		}
		t.ips = append(t.ips, ip)
	}
	size := int(le.Uint32(rec[off:]))
	raw := rec[off+4:]
	if size > len(raw) || size < 2 {
		return
	}
	raw = raw[:size]
	id := uint64(le.Uint16(raw))
	switch id {
	case t.begin.ID:
		addr, ok1 := field64(raw, t.begin.Fields["lock_addr"])
		flags, ok2 := field32(raw, t.begin.Fields["flags"])
		if !ok1 || !ok2 {
			return
		}
		if len(th.open) == maxOpen {
			t.unpaired++
			th.open = append(th.open[:0], th.open[1:]...)
		}
		th.open = append(th.open, pending{lock: addr, flags: flags, time: tm, stack: t.intern(t.ips), nested: len(th.open) > 0})
	case t.end.ID:
		addr, ok := field64(raw, t.end.Fields["lock_addr"])
		if !ok {
			return
		}
		i := len(th.open) - 1
		for i >= 0 && th.open[i].lock != addr {
			i--
		}
		if i < 0 {
			t.unpaired++
			return
		}
		p := th.open[i]
		t.unpaired += int64(len(th.open) - 1 - i)
		th.open = th.open[:i]
		if p.nested {
			// A spinlock contended inside a sleeping lock's slow path (its
			// wait_lock): its time is already inside the outer wait.
			t.nested++
			return
		}
		d := int64(tm - p.time)
		if tm < p.time {
			d = 0
		}
		t.add(bucketKey{stack: p.stack, flags: p.flags, lock: p.lock, tag: th.tag}, d)
	}
}

func field64(raw []byte, off int) (uint64, bool) {
	if off <= 0 || off+8 > len(raw) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(raw[off:]), true
}

func field32(raw []byte, off int) (uint32, bool) {
	if off <= 0 || off+4 > len(raw) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(raw[off:]), true
}

func (t *Tracer) intern(ips []uint64) uint32 {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ips))), 8*len(ips))
	if id, ok := t.stacks[string(b)]; ok {
		return id
	}
	id := uint32(len(t.stackIPs))
	t.stacks[string(b)] = id
	t.stackIPs = append(t.stackIPs, slices.Clone(ips))
	return id
}

func (t *Tracer) add(k bucketKey, d int64) {
	b := t.buckets[k]
	if b == nil {
		b = &bucket{}
		t.buckets[k] = b
	}
	b.n++
	b.total += d
	b.max = max(b.max, d)
	if t.kept < int64(t.opt.KeepDurations) {
		b.durs = append(b.durs, d)
		t.kept++
	} else {
		t.dropped++
	}
}

// Result is what a Tracer recorded.
type Result struct {
	Threads  int           // threads attached
	Elapsed  time.Duration // from Start to Stop
	Records  int64         // samples decoded
	Events   int64         // events the kernel counted (Linux 6.0+): Records + Lost when nothing is missing
	Lost     int64         // samples the kernel dropped because a buffer was full (PERF_FORMAT_LOST, PERF_RECORD_LOST)
	Unpaired int64         // begins without their end or ends without their begin
	Nested   int64         // waits inside another wait of the same thread, not counted again
	Waits    int64         // waits paired (outermost only)
	Dropped  int64         // waits not kept for percentiles (beyond Options.KeepDurations)
	Sites    []Site        // by class, label and tag; most total wait first
}

// Site is the waits of one tag at one attributed site.
type Site struct {
	Attribution
	Tag   int
	Flags uint32 // the union of the waits' LCB_F_* flags
	// Kind names the primitives waited for (LockKind of each wait's
	// flags), most total wait first, joined with "+": "rwsem(S)+spin"
	// when the wait_lock of an rwsem was also contended on its way in.
	Kind  string
	Waits int64
	Total time.Duration
	Max   time.Duration
	// Durations holds the kept wait durations, ascending.
	Durations []time.Duration
	// Chain is one call chain of the site, innermost first (up to 16 frames).
	Chain []string
}

func (t *Tracer) result() *Result {
	r := &Result{Threads: len(t.threads), Elapsed: t.elapsed, Records: t.records, Events: t.events, Lost: t.lost,
		Unpaired: t.unpaired, Nested: t.nested, Dropped: t.dropped}
	type named struct {
		Attribution
		chain []string
	}
	byStack := make([]named, len(t.stackIPs))
	for i, ips := range t.stackIPs {
		frames := make([]string, len(ips))
		for j, ip := range ips {
			if frames[j] = t.syms.Resolve(ip); frames[j] == "" {
				frames[j] = fmt.Sprintf("%#x", ip)
			}
		}
		byStack[i] = named{Attribute(frames), frames[:min(len(frames), 16)]}
	}
	// Learn lock addresses at single-lock sites, then settle the pairs.
	// Spin waits are left out: at a sleeping lock's site they are on its
	// wait_lock, a few bytes into the lock (resolveByAddress).
	known := map[uint64]string{}
	for k := range t.buckets {
		if c := byStack[k.stack].Class; c != "" && !strings.Contains(c, "/") && k.flags&FlagSpin == 0 {
			known[k.lock] = c
		}
	}
	type siteKey struct {
		class, label string
		tag          int
	}
	pairs := map[string]map[uint64]bool{}
	for k := range t.buckets {
		if c := byStack[k.stack].Class; strings.Contains(c, "/") && k.flags&FlagSpin == 0 {
			if pairs[c] == nil {
				pairs[c] = map[uint64]bool{}
			}
			pairs[c][k.lock] = true
		}
	}
	inferPairs(pairs, known)
	sites := map[siteKey]*Site{}
	kinds := map[siteKey]map[string]time.Duration{}
	for k, b := range t.buckets {
		n := byStack[k.stack]
		a := n.Attribution
		a.Class = resolveByAddress(a.Class, k.lock, k.flags&FlagSpin != 0, known)
		sk := siteKey{a.Class, a.Label, k.tag}
		s := sites[sk]
		if s == nil {
			s = &Site{Attribution: a, Tag: k.tag, Chain: n.chain}
			sites[sk] = s
			kinds[sk] = map[string]time.Duration{}
		}
		kinds[sk][LockKind(k.flags)] += time.Duration(b.total)
		s.Flags |= k.flags
		s.Waits += b.n
		s.Total += time.Duration(b.total)
		s.Max = max(s.Max, time.Duration(b.max))
		for _, d := range b.durs {
			s.Durations = append(s.Durations, time.Duration(d))
		}
		r.Waits += b.n
	}
	for sk, s := range sites {
		slices.Sort(s.Durations)
		s.Kind = JoinKinds(kinds[sk])
		r.Sites = append(r.Sites, *s)
	}
	sort.Slice(r.Sites, func(i, j int) bool {
		a, b := &r.Sites[i], &r.Sites[j]
		if a.Total != b.Total {
			return a.Total > b.Total
		}
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return a.Tag < b.Tag
	})
	return r
}

// The flags of lock:contention_begin (include/trace/events/lock.h).
const (
	FlagSpin   = 1 << 0
	FlagRead   = 1 << 1
	FlagWrite  = 1 << 2
	FlagRT     = 1 << 3
	FlagPerCPU = 1 << 4
	FlagMutex  = 1 << 5
)

// LockKind names the primitive from contention_begin's flags:
// "rwsem(S)", "rwsem(X)", "mutex", "spin", "rwlock", "percpu-rwsem", with
// "rt-" before it for the PREEMPT_RT variants. It never contains "+",
// which joins the kinds of one site (Site.Kind).
func LockKind(flags uint32) string {
	var k string
	switch {
	case flags&FlagPerCPU != 0:
		k = "percpu-rwsem"
	case flags&FlagMutex != 0:
		k = "mutex"
	case flags&FlagSpin != 0 && flags&(FlagRead|FlagWrite) != 0:
		k = "rwlock"
	case flags&FlagSpin != 0:
		k = "spin"
	case flags&FlagRead != 0 && flags&FlagWrite != 0:
		k = "rwsem(S/X)"
	case flags&FlagRead != 0:
		k = "rwsem(S)"
	case flags&FlagWrite != 0:
		k = "rwsem(X)"
	default:
		k = "lock"
	}
	if flags&FlagRT != 0 {
		k = "rt-" + k
	}
	return k
}

// JoinKinds joins kinds (LockKind names) by their total wait, most first,
// with "+".
func JoinKinds(total map[string]time.Duration) string {
	ks := make([]string, 0, len(total))
	for k := range total {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if total[ks[i]] != total[ks[j]] {
			return total[ks[i]] > total[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return strings.Join(ks, "+")
}

// Quantile returns the q-quantile (0 <= q <= 1) of ascending durations by
// the nearest-rank method (package quantile, the one method of lockbench);
// 0 for none.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	return quantile.Durations(sorted, q)
}
