package ktrace

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func TestParseKallsyms(t *testing.T) {
	in := `ffffffff81000000 T _stext
ffffffff8226a180 T down_read
ffffffff819d92b0 t btrfs_page_mkwrite
ffffffff82269c00 t rwsem_down_read_slowpath
ffffffff82a00000 D some_data
ffffffffc0001000 t xfs_ilock	[xfs]
ffffffffc0002000 t __xfs_write_fault.constprop.0	[xfs]
`
	s, err := ParseKallsyms(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr uint64
		want string
	}{
		{0xffffffff819d92b0, "btrfs_page_mkwrite"},       // a symbol's own address
		{0xffffffff819d9300, "btrfs_page_mkwrite"},       // inside it
		{0xffffffff8226a185, "down_read"},                // inside the last kernel symbol before data
		{0xffffffff82269c10, "rwsem_down_read_slowpath"}, // sorted although listed out of order
		{0xffffffffc0001004, "xfs_ilock"},                // module symbol, name without [module]
		{0x1000, ""},                                     // below every symbol
	} {
		if got := s.Resolve(c.addr); got != c.want {
			t.Errorf("Resolve(%#x) = %q; want %q", c.addr, got, c.want)
		}
	}
	if _, err := ParseKallsyms(strings.NewReader("0000000000000000 T _stext\n0000000000000000 T down_read\n")); err == nil ||
		!strings.Contains(err.Error(), "hidden") {
		t.Errorf("all-zero addresses: err = %v; want the kptr_restrict error", err)
	}
}

func TestParseFormat(t *testing.T) {
	f := `name: contention_begin
ID: 408
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:void * lock_addr;	offset:8;	size:8;	signed:0;
	field:unsigned int flags;	offset:16;	size:4;	signed:0;
	field:char comm[16];	offset:20;	size:16;	signed:0;
`
	m := ParseFormat([]byte(f))
	for name, want := range map[string]int{"common_type": 0, "common_pid": 4, "lock_addr": 8, "flags": 16, "comm": 20} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("offset of %s = %d, %v; want %d", name, got, ok, want)
		}
	}
}

func TestAttribute(t *testing.T) {
	for _, c := range []struct {
		name   string
		frames string
		class  string
		label  string
	}{
		// btrfs: page_mkwrite's down_read of i_mmap_lock is MK.
		{"btrfs mkwrite", "rwsem_down_read_slowpath down_read btrfs_page_mkwrite do_page_mkwrite do_wp_page", "MK", "btrfs_page_mkwrite"},
		// btrfs fsync takes i_rwsem and i_mmap_lock through btrfs_inode_lock.
		{"btrfs fsync", "rwsem_down_write_slowpath down_write btrfs_inode_lock btrfs_sync_file do_fsync", "IO/MK", "btrfs_inode_lock"},
		{"btrfs write", "rwsem_down_write_slowpath down_write btrfs_inode_lock btrfs_buffered_write btrfs_do_write_iter", "IO", "btrfs_inode_lock"},
		// invalidate_lock, inline into its callers.
		{"fault fill", "rwsem_down_read_slowpath down_read page_cache_ra_order filemap_fault __do_fault", "IL", "page_cache_ra_order"},
		{"ext4 mkwrite", "rwsem_down_read_slowpath down_read ext4_page_mkwrite do_page_mkwrite", "IL", "ext4_page_mkwrite"},
		{"ext4 punch", "rwsem_down_write_slowpath down_write ext4_fallocate vfs_fallocate", "IO/IL/IX", "ext4_fallocate"},
		{"ext4 i_data_sem", "rwsem_down_write_slowpath down_write ext4_da_get_block_prep __block_write_begin_int", "IX", "ext4_da_get_block_prep"},
		// inode_lock, inline.
		{"tmpfs pwrite", "rwsem_down_write_slowpath down_write shmem_file_write_iter vfs_write", "IO", "shmem_file_write_iter"},
		{"truncate", "rwsem_down_write_slowpath down_write do_truncate do_ftruncate", "IO", "do_truncate"},
		// xfs_ilock: the lock is decided by its caller.
		{"xfs fault", "rwsem_down_read_slowpath down_read xfs_ilock xfs_write_fault do_page_mkwrite", "IL", "xfs_ilock"},
		{"xfs write", "rwsem_down_write_slowpath down_write xfs_ilock xfs_ilock_iocb_for_write xfs_file_buffered_write", "IO", "xfs_ilock"},
		{"xfs punch", "rwsem_down_write_slowpath down_write xfs_ilock xfs_file_fallocate vfs_fallocate", "IO/IL", "xfs_ilock"},
		{"xfs 6.18 fault", "rwsem_down_read_slowpath down_read xfs_ilock __xfs_write_fault do_page_mkwrite", "IL", "xfs_ilock"},
		{"xfs 6.18 punch", "rwsem_down_write_slowpath down_write xfs_ilock __xfs_file_fallocate vfs_fallocate", "IO/IL", "xfs_ilock"},
		{"xfs ilock", "rwsem_down_read_slowpath down_read xfs_ilock xfs_ilock_data_map_shared xfs_read_iomap_begin", "IX", "xfs_ilock"},
		// The folio lock's wait queue.
		{"folio", "_raw_spin_lock_irq folio_wait_bit_common __folio_lock filemap_fault", "F", "folio_wait_bit_common"},
		// mmap_lock.
		{"mmap_lock", "rwsem_down_read_slowpath down_read lock_mm_and_find_vma do_user_addr_fault exc_page_fault", "MM", "lock_mm_and_find_vma"},
		// Others by their top filesystem frame, then mm frame.
		{"spin in mkwrite", "__pv_queued_spin_lock_slowpath _raw_spin_lock block_dirty_folio block_page_mkwrite ext4_page_mkwrite", "", "ext4_page_mkwrite"},
		{"pte lock", "__pv_queued_spin_lock_slowpath _raw_spin_lock __pte_offset_map_lock finish_fault do_fault __handle_mm_fault", "", "do_fault"},
		{"btrfs tree", "rwsem_down_write_slowpath down_write btrfs_tree_lock_nested btrfs_search_slot", "", "btrfs_tree_lock_nested"},
		// A spinlock in an interrupt on the thread is not the thread's wait.
		{"irq", "__pv_queued_spin_lock_slowpath _raw_spin_lock try_to_wake_up handle_softirqs __irq_exit_rcu sysvec_apic_timer_interrupt btrfs_page_mkwrite", "", "irq:try_to_wake_up"},
		// Run-queue lock in the scheduler.
		{"rq lock", "__pv_queued_spin_lock_slowpath _raw_spin_lock __schedule schedule exit_to_user_mode_loop", "", "__schedule"},
	} {
		a := Attribute(strings.Fields(c.frames))
		if a.Class != c.class || a.Label != c.label {
			t.Errorf("%s: Attribute(%s) = class %q label %q; want %q %q", c.name, c.frames, a.Class, a.Label, c.class, c.label)
		}
	}
}

func TestResolveByAddress(t *testing.T) {
	known := map[uint64]string{0x10: "MK", 0x20: "IO", 0x30: "IX"}
	for _, c := range []struct {
		class string
		addr  uint64
		spin  bool
		want  string
	}{
		{"IO/MK", 0x10, false, "MK"},    // the address page_mkwrite waited on
		{"IO/MK", 0x18, true, "MK"},     // a spin on its wait_lock, 8 bytes in
		{"IO/MK", 0x18, false, "IO/MK"}, // not a spin: no lock there
		{"IO/MK", 0x20, false, "IO"},    // the address a write waited on
		{"IO/MK", 0x30, false, "IO/MK"}, // known, but not one of the pair
		{"IO/MK", 0x40, false, "IO/MK"}, // unknown
		{"IL", 0x10, false, "IL"},       // a single class is never changed
		{"IO/IL/IX", 0x30, false, "IX"}, // a triple
	} {
		if got := resolveByAddress(c.class, c.addr, c.spin, known); got != c.want {
			t.Errorf("resolveByAddress(%q, %#x) = %q; want %q", c.class, c.addr, got, c.want)
		}
	}
}

// fakeRing is a ring over plain memory: one metadata page and dataSize
// bytes of data.
func fakeRing(dataSize int) *ring {
	mem := make([]byte, 4096+dataSize)
	r := newRing(mem, 4096)
	return r
}

// put writes rec at the ring's head (wrapping) and advances the head.
func (r *ring) put(rec []byte) {
	head := r.meta.Data_head
	for i, b := range rec {
		r.data[(head+uint64(i))&r.mask] = b
	}
	r.meta.Data_head = head + uint64(len(rec))
}

func header(typ uint32, size int) []byte {
	b := make([]byte, 8, size)
	binary.LittleEndian.PutUint32(b, typ)
	binary.LittleEndian.PutUint16(b[6:], uint16(size))
	return b
}

// sample builds a PERF_RECORD_SAMPLE of a contention tracepoint.
func sample(tid uint32, tm uint64, ips []uint64, id uint16, lock uint64, flags uint32) []byte {
	raw := make([]byte, 20)
	binary.LittleEndian.PutUint16(raw, id)
	binary.LittleEndian.PutUint64(raw[8:], lock)
	binary.LittleEndian.PutUint32(raw[16:], flags)
	size := 8 + 8 + 8 + 8 + 8*(len(ips)+1) + 4 + len(raw)
	size = (size + 7) &^ 7
	b := header(9, size)
	b = binary.LittleEndian.AppendUint32(b, tid)
	b = binary.LittleEndian.AppendUint32(b, tid)
	b = binary.LittleEndian.AppendUint64(b, tm)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(ips)+1))
	b = binary.LittleEndian.AppendUint64(b, ^uint64(127)) // PERF_CONTEXT_KERNEL
	for _, ip := range ips {
		b = binary.LittleEndian.AppendUint64(b, ip)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(raw)))
	b = append(b, raw...)
	for len(b) < size {
		b = append(b, 0)
	}
	return b
}

func lostRecord(n uint64) []byte {
	b := header(2, 24)
	b = binary.LittleEndian.AppendUint64(b, 1)
	return binary.LittleEndian.AppendUint64(b, n)
}

// TestDecodeAndPair feeds synthetic records through a small ring (so that
// records wrap around its end) and checks the pairing, the nesting rule,
// the lost count and the attribution with learnt addresses.
func TestDecodeAndPair(t *testing.T) {
	syms, err := ParseKallsyms(strings.NewReader(`0000000000001000 t rwsem_down_read_slowpath
0000000000002000 T down_read
0000000000003000 t btrfs_page_mkwrite
0000000000004000 t rwsem_down_write_slowpath
0000000000005000 T down_write
0000000000006000 T btrfs_inode_lock
0000000000007000 T btrfs_sync_file
0000000000008000 t __pv_queued_spin_lock_slowpath
0000000000009000 T _raw_spin_lock_irq
`))
	if err != nil {
		t.Fatal(err)
	}
	tr := &Tracer{
		begin:   Tracepoint{ID: 408, Fields: map[string]int{"lock_addr": 8, "flags": 16}},
		end:     Tracepoint{ID: 407, Fields: map[string]int{"lock_addr": 8}},
		syms:    syms,
		stacks:  map[string]uint32{},
		buckets: map[bucketKey]*bucket{},
		opt:     Options{KeepDurations: 100},
	}
	mkwrite := []uint64{0x1010, 0x2010, 0x3010}
	fsync := []uint64{0x4010, 0x5010, 0x6010, 0x7010}
	spin := []uint64{0x8010, 0x9010, 0x4020, 0x5010, 0x6010, 0x7010}
	faulter := &thread{tag: 0}
	fsyncer := &thread{tag: 1}
	r := fakeRing(512)
	feed := func(th *thread, recs ...[]byte) {
		for _, rec := range recs {
			r.put(rec)
			r.drain(func(typ uint32, b []byte) { tr.record(th, typ, b) })
		}
	}
	const mk, irw = 0xaa00, 0xbb00
	for i := uint64(0); i < 5; i++ { // five MK waits of 100, 200, ... ns
		feed(faulter, sample(1, 1000*i, mkwrite, 408, mk, FlagRead), sample(1, 1000*i+100*(i+1), nil, 407, mk, 0))
	}
	// fsync waits on i_mmap_lock (the MK address) with a nested spin on
	// its wait_lock, then on i_rwsem (an address no single site names, the
	// only other one at the IO/MK site: IO).
	feed(fsyncer,
		sample(2, 10000, fsync, 408, mk, FlagWrite),
		sample(2, 10100, spin, 408, 0xcc00, FlagSpin),
		sample(2, 10150, nil, 407, 0xcc00, 0),
		sample(2, 13000, nil, 407, mk, 0),
		sample(2, 20000, fsync, 408, irw, FlagWrite),
		sample(2, 20500, nil, 407, irw, 0),
		sample(2, 30000, nil, 407, 0xdd00, 0), // an end without its begin
		lostRecord(7))
	res := tr.result()
	if res.Lost != 7 || res.Unpaired != 1 || res.Nested != 1 || res.Waits != 7 {
		t.Fatalf("lost %d unpaired %d nested %d waits %d; want 7 1 1 7", res.Lost, res.Unpaired, res.Nested, res.Waits)
	}
	got := map[[2]any]Site{}
	for _, s := range res.Sites {
		got[[2]any{s.Class, s.Tag}] = s
	}
	if s := got[[2]any{"MK", 0}]; s.Waits != 5 || s.Total != 1500 || s.Max != 500 || Quantile(s.Durations, 0.99) != 500 || s.Label != "btrfs_page_mkwrite" {
		t.Errorf("faulter MK = %+v; want 5 waits, 1.5µs total, max and p99 500ns at btrfs_page_mkwrite", s)
	}
	if s := got[[2]any{"MK", 1}]; s.Waits != 1 || s.Total != 3000 {
		t.Errorf("fsync MK (learnt from the address) = %+v; want 1 wait of 3µs", s)
	}
	if s := got[[2]any{"IO", 1}]; s.Waits != 1 || s.Total != 500 {
		t.Errorf("fsync IO (the one other address of the IO/MK site) = %+v; want 1 wait of 500ns", s)
	}
	if len(r.buf) == 0 {
		t.Errorf("no record wrapped around the ring's end: the test did not exercise the wrap")
	}
}

func TestInferPairs(t *testing.T) {
	for _, c := range []struct {
		name  string
		addrs []uint64
		known map[uint64]string
		want  map[uint64]string // additions
	}{
		{"one unknown beside MK", []uint64{1, 2}, map[uint64]string{1: "MK"}, map[uint64]string{2: "IO"}},
		{"two unknown: several inodes", []uint64{1, 2, 3}, map[uint64]string{1: "MK"}, nil},
		{"nothing known", []uint64{1, 2}, map[uint64]string{}, nil},
		{"both known", []uint64{1, 2}, map[uint64]string{1: "MK", 2: "IO"}, nil},
		{"known as another class", []uint64{1, 2}, map[uint64]string{1: "IL"}, nil},
	} {
		known := map[uint64]string{}
		for k, v := range c.known {
			known[k] = v
		}
		set := map[uint64]bool{}
		for _, a := range c.addrs {
			set[a] = true
		}
		inferPairs(map[string]map[uint64]bool{"IO/MK": set}, known)
		for a, want := range c.want {
			if known[a] != want {
				t.Errorf("%s: address %d = %q; want %q", c.name, a, known[a], want)
			}
		}
		if len(known) != len(c.known)+len(c.want) {
			t.Errorf("%s: known = %v; want %v plus %v", c.name, known, c.known, c.want)
		}
	}
}

func TestQuantileAndKind(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}} {
		if got := Quantile(d, c.q); got != c.want {
			t.Errorf("Quantile(1..10, %v) = %v; want %v", c.q, got, c.want)
		}
	}
	if got := JoinKinds(map[string]time.Duration{"spin": 5, "rwsem(S)": 30, "mutex": 5}); got != "rwsem(S)+mutex+spin" {
		t.Errorf("JoinKinds = %q; want rwsem(S)+mutex+spin (by total, then name)", got)
	}
	if Quantile(nil, 0.99) != 0 {
		t.Errorf("Quantile(nil) != 0")
	}
	for flags, want := range map[uint32]string{FlagRead: "rwsem(S)", FlagWrite: "rwsem(X)", FlagSpin: "spin",
		FlagSpin | FlagRead: "rwlock", FlagMutex: "mutex", FlagPerCPU | FlagRead: "percpu-rwsem", FlagRead | FlagWrite: "rwsem(S/X)",
		FlagMutex | FlagRT: "rt-mutex"} {
		if got := LockKind(flags); got != want {
			t.Errorf("LockKind(%#x) = %q; want %q", flags, got, want)
		}
	}
}
