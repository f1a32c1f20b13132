package ktrace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests drive the real kernel into contention whose lock is known,
// on the test's own threads, and check that the tracer attributes the
// waits to that lock. They skip with a message without root or without
// the tracepoints.

func openOrSkip(t *testing.T, opt ...Options) *Tracer {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: perf_event_open of tracepoints and /proc/kallsyms need it")
	}
	var o Options
	if len(opt) > 0 {
		o = opt[0]
	}
	tr, err := Open(o)
	if err != nil {
		t.Skipf("kernel lock waits unavailable: %v", err)
	}
	return tr
}

// role is one kind of test thread: it runs fn until ctx ends.
type role struct {
	name string
	n    int
	fn   func(ctx context.Context, id int) error
}

// drive runs the roles on OS-locked threads attached to tr (tag = role
// index), for d, and returns the result. It ends by the deadline, with a
// message, if a thread hangs.
func drive(t *testing.T, tr *Tracer, d time.Duration, roles ...role) *Result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ready, done sync.WaitGroup
	errs := make(chan error, 64)
	startCh := make(chan struct{})
	for ri, r := range roles {
		for i := 0; i < r.n; i++ {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				err := tr.Attach(unix.Gettid(), ri)
				ready.Done()
				if err != nil {
					errs <- err
					return
				}
				<-startCh
				if err := r.fn(ctx, i); err != nil && !errors.Is(err, context.Canceled) {
					errs <- fmt.Errorf("%s %d: %w", r.name, i, err)
				}
			}()
		}
	}
	ready.Wait()
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	close(startCh)
	time.Sleep(d)
	cancel()
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("test threads did not stop within 10s of the end of the run")
	}
	res, err := tr.Stop()
	if err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, s := range res.Sites {
		if i < 12 {
			t.Logf("%-6s %-28s tag=%d prim=%s waits=%d total=%v max=%v chain=%v", s.Class, s.Label, s.Tag, s.Prim, s.Waits, s.Total, s.Max, s.Chain[:min(len(s.Chain), 8)])
		}
	}
	t.Logf("records=%d waits=%d lost=%d unpaired=%d", res.Records, res.Waits, res.Lost, res.Unpaired)
	return res
}

// classWaits sums the waits of tag attributed to class.
func classWaits(res *Result, tag int, class string) (n int64, total time.Duration) {
	for _, s := range res.Sites {
		if s.Tag == tag && s.Class == class {
			n += s.Waits
			total += s.Total
		}
	}
	return n, total
}

func tempFile(t *testing.T, dir string, size int64) *os.File {
	t.Helper()
	f, err := os.CreateTemp(dir, "ktrace-test-*")
	if err != nil {
		t.Skipf("no temporary file in %s: %v", dir, err)
	}
	t.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return f
}

// pwriteLoop returns a role function that pwrite()s 64 KiB blocks over the
// first MiB of f until its context ends.
func pwriteLoop(f *os.File) func(ctx context.Context, id int) error {
	buf := make([]byte, 64<<10)
	return func(ctx context.Context, id int) error {
		for off := int64(0); ctx.Err() == nil; off = (off + int64(len(buf))) % (1 << 20) {
			if _, err := unix.Pwrite(int(f.Fd()), buf, off); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestAttributePwriteInodeLock: threads pwrite()ing one tmpfs file contend
// on its i_rwsem (inode_lock in shmem_file_write_iter): IO.
func TestAttributePwriteInodeLock(t *testing.T) {
	tr := openOrSkip(t)
	f := tempFile(t, "/dev/shm", 1<<20)
	pw := pwriteLoop(f)
	res := drive(t, tr, 300*time.Millisecond, role{"writer", 3, pw})
	n, total := classWaits(res, 0, "IO")
	if n == 0 {
		t.Log("no IO wait in 300ms (a busy machine may not have run the writers together); again for 2s")
		res = drive(t, openOrSkip(t), 2*time.Second, role{"writer", 3, pw})
		n, total = classWaits(res, 0, "IO")
	}
	if n == 0 {
		t.Fatalf("no pwrite wait attributed to IO (i_rwsem); sites: %v", summary(res))
	}
	t.Logf("IO: %d waits, %v", n, total)
}

// TestLostRecordsCounted: a one-page ring buffer drained once a second
// overflows under pwrite contention, and the records the kernel dropped are
// counted (PERF_RECORD_LOST), never silently missing.
func TestLostRecordsCounted(t *testing.T) {
	tr := openOrSkip(t, Options{BufferPages: 1, Poll: time.Second})
	f := tempFile(t, "/dev/shm", 1<<20)
	pw := pwriteLoop(f)
	res := drive(t, tr, 300*time.Millisecond, role{"writer", 3, pw})
	t.Logf("events %d, records %d, lost %d", res.Events, res.Records, res.Lost)
	if res.Events == 0 {
		t.Skip("this kernel does not count events (PERF_FORMAT_LOST needs Linux 6.0)")
	}
	if res.Records+res.Lost != res.Events {
		t.Errorf("records %d + lost %d != events %d: some samples are neither read nor counted as lost", res.Records, res.Lost, res.Events)
	}
	if res.Lost == 0 {
		t.Skipf("the buffer did not overflow (%d events in 300ms)", res.Events)
	}
}

// TestAttributeFaultsVsPunch: on the temp dir's filesystem (ext4 here),
// threads write-faulting pages of a shared mapping while another punches
// holes in it wait for the mapping's invalidate_lock, which punch holds
// exclusive while faults take it shared: IL.
func TestAttributeFaultsVsPunch(t *testing.T) {
	tr := openOrSkip(t)
	const size = 8 << 20
	f := tempFile(t, os.TempDir(), size)
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 4096); err != nil {
		t.Skipf("the temp dir %s does not punch holes: %v", filepath.Dir(f.Name()), err)
	}
	var st unix.Statfs_t
	unix.Fstatfs(int(f.Fd()), &st)
	if st.Type == unix.TMPFS_MAGIC {
		t.Skip("the temp dir is tmpfs: shmem has no invalidate_lock on its fault path")
	}
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	fault := func(ctx context.Context, id int) error {
		for i := 0; ctx.Err() == nil; i++ {
			for p := id * 4096; p < size; p += 2 * 4096 {
				m[p+i%4096] = byte(i)
			}
		}
		return nil
	}
	punch := func(ctx context.Context, id int) error {
		for i := 0; ctx.Err() == nil; i++ {
			off := int64(i%(size/(256<<10))) * (256 << 10)
			if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, 256<<10); err != nil {
				return err
			}
		}
		return nil
	}
	res := drive(t, tr, 500*time.Millisecond, role{"faulter", 2, fault}, role{"puncher", 1, punch})
	n, total := classWaits(res, 0, "IL")
	if n == 0 {
		t.Log("no IL wait in 500ms (a busy machine may not have run faults beside punches); again for 2s")
		res = drive(t, openOrSkip(t), 2*time.Second, role{"faulter", 2, fault}, role{"puncher", 1, punch})
		n, total = classWaits(res, 0, "IL")
	}
	if n == 0 {
		t.Fatalf("no faulter wait attributed to IL (invalidate_lock); sites: %v", summary(res))
	}
	t.Logf("faulters on IL: %d waits, %v", n, total)
}

func summary(res *Result) []string {
	var s []string
	for i, x := range res.Sites {
		if i == 10 {
			break
		}
		s = append(s, fmt.Sprintf("%s %s tag=%d waits=%d", x.Class, x.Label, x.Tag, x.Waits))
	}
	return s
}

// TestAttributeFsyncStormDir runs write faults against fsync on the
// directory in $KTRACE_FSYNC_DIR (e.g. a btrfs mount) and logs the sites;
// on btrfs the faulters' waits must include MK (page_mkwrite's down_read
// of i_mmap_lock, held exclusive by fsync's logging). Skipped unless set.
func TestAttributeFsyncStormDir(t *testing.T) {
	dir := os.Getenv("KTRACE_FSYNC_DIR")
	if dir == "" {
		t.Skip("KTRACE_FSYNC_DIR not set")
	}
	tr := openOrSkip(t)
	const size = 8 << 20
	f := tempFile(t, dir, size)
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	fault := func(ctx context.Context, id int) error {
		for i := 0; ctx.Err() == nil; i++ {
			for p := id * 4096; p < size && ctx.Err() == nil; p += 2 * 4096 {
				m[p+i%4096] = byte(i)
			}
		}
		return nil
	}
	fsync := func(ctx context.Context, id int) error {
		for ctx.Err() == nil {
			if err := unix.Fsync(int(f.Fd())); err != nil {
				return err
			}
		}
		return nil
	}
	res := drive(t, tr, time.Second, role{"faulter", 2, fault}, role{"fsync", 1, fsync})
	var st unix.Statfs_t
	unix.Fstatfs(int(f.Fd()), &st)
	if st.Type == unix.BTRFS_SUPER_MAGIC {
		if n, _ := classWaits(res, 0, "MK"); n == 0 {
			t.Fatalf("btrfs: no faulter wait attributed to MK; sites: %v", summary(res))
		}
	}
}
