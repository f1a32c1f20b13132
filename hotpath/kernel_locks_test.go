package hotpath

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"lockbench/ktrace"
	"lockbench/results"
)

// TestKernelLockStats: the tracer's sites become one record per class (or
// site), role and label, with the role's operations (faults excluded) as
// the unit, and percentiles from the kept durations.
func TestKernelLockStats(t *testing.T) {
	f := newWorker(0, 0, RoleFaulter, 1, 1)
	f.ops[KStore], f.ops[KWriteFault], f.ops[KLoad] = 90, 40, 10
	p := newWorker(1, 1, RolePuncher, 1, 1)
	p.ops[KPunch] = 5
	mk := ktrace.Attribution{Class: "MK", Site: "btrfs_page_mkwrite", Label: "btrfs_page_mkwrite"}
	res := &ktrace.Result{Sites: []ktrace.Site{
		{Attribution: mk, Tag: 0, Flags: ktrace.FlagRead, Waits: 2, Total: 30, Max: 20, Durations: []time.Duration{10, 20}},
		{Attribution: mk, Tag: 0, Flags: ktrace.FlagSpin, Waits: 1, Total: 5, Max: 5, Durations: []time.Duration{5}},
		{Attribution: ktrace.Attribution{Class: "IO/MK", Site: "btrfs_inode_lock", Label: "btrfs_inode_lock"}, Tag: 1,
			Flags: ktrace.FlagWrite, Waits: 1, Total: 100, Max: 100, Durations: []time.Duration{100}},
	}}
	got := kernelLockStats(res, []*Worker{f, p})
	if len(got) != 2 {
		t.Fatalf("kernelLockStats = %+v; want 2 records", got)
	}
	io, mkr := got[0], got[1] // most total wait first
	if io.Class != "IO/MK" || io.Role != "puncher" || io.Ops != 5 || io.Contentions != 1 || io.Kind != "rwsem(X)" || io.Source != results.LockSourceKernel {
		t.Errorf("puncher record = %+v; want IO/MK, 5 ops, 1 wait, rwsem(X), kernel", io)
	}
	if mkr.Class != "MK" || mkr.Role != "faulter" || mkr.Ops != 100 || mkr.Contentions != 3 || mkr.WaitTotal != 35 ||
		mkr.Wait.Max != 20 || mkr.Wait.P99 != 20 || mkr.Wait.P50 != 10 || mkr.Wait.Samples != 3 || mkr.Site != "btrfs_page_mkwrite" ||
		mkr.Kind != "rwsem(S)+spin" {
		t.Errorf("faulter record = %+v; want MK at btrfs_page_mkwrite, 100 ops (faults excluded), 3 waits of 35ns, p50 10 p99 and max 20, rwsem(S)+spin", mkr)
	}
}

// TestRoleOpsTopLevel: a role's operations are its top-level kinds only;
// the fsync role's own writebacks (fsync -> writebackPage) are not fsyncs,
// so they do not divide its waits/op.
func TestRoleOpsTopLevel(t *testing.T) {
	fs := newWorker(0, 0, RoleFsync, 1, 1)
	fs.ops[KFsync], fs.ops[KWriteback] = 4, 60
	fl := newWorker(1, 1, RoleFlusher, 1, 1)
	fl.ops[KWriteback] = 7
	fa := newWorker(2, 2, RoleFaulter, 1, 1)
	fa.ops[KStore], fa.ops[KLoad], fa.ops[KWriteFault], fa.ops[KReadFault] = 3, 2, 50, 50
	got := roleOps([]*Worker{fs, fl, fa})
	for r, want := range map[Role]int64{RoleFsync: 4, RoleFlusher: 7, RoleFaulter: 5} {
		if got[r] != want {
			t.Errorf("roleOps()[%s] = %d; want %d", r, got[r], want)
		}
	}
}

// TestKernelLockWaits runs the punch scenario on the real kernel with
// LockStats on the temp dir: the cell records the kernel's lock waits (or
// says in one line why not) and the run itself is unaffected.
func TestKernelLockWaits(t *testing.T) {
	sc, err := LookupScenario("punch")
	if err != nil {
		t.Fatal(err)
	}
	cfg := kernelConfig(t, sc, t.TempDir())
	cfg.OpLimit, cfg.Duration = 0, 300*time.Millisecond
	cfg.LockStats = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	lt := rep.LockTrace
	if lt == nil || lt.Source != results.LockSourceKernel {
		t.Fatalf("LockTrace = %+v; want the kernel's", lt)
	}
	if os.Geteuid() != 0 {
		if lt.Unavailable == "" {
			t.Errorf("not root, yet LockTrace.Unavailable is empty")
		}
		t.Skipf("not root: %s", lt.Unavailable)
	}
	if lt.Unavailable != "" {
		t.Skipf("kernel lock waits unavailable: %s", lt.Unavailable)
	}
	if lt.Records == 0 || len(rep.Locks) == 0 {
		t.Log("no lock wait in 300ms (a busy machine may not have run the roles together); again for 2s")
		cfg.Duration = 2 * time.Second
		if rep, err = Run(ctx, cfg); err != nil {
			t.Fatalf("Run: %v", err)
		}
		lt = rep.LockTrace
	}
	if lt == nil || lt.Records == 0 || len(rep.Locks) == 0 {
		t.Fatalf("no lock waits recorded from a punch run (records %d, %d rows)", lt.Records, len(rep.Locks))
	}
	for _, l := range rep.Locks {
		if l.Role == "" || l.Contentions <= 0 || l.Source != results.LockSourceKernel || l.Ops <= 0 {
			t.Errorf("record %+v: want a role, waits, ops and source kernel", l)
		}
	}
}

// TestKernelLockWaitsUnavailable: when the tracer cannot be had (no root,
// no tracefs, no tracepoints, perf_event_open refused), the cell records
// the one-line reason and the measurement itself goes on.
func TestKernelLockWaitsUnavailable(t *testing.T) {
	old := openKTrace
	t.Cleanup(func() { openKTrace = old })
	openKTrace = func(ktrace.Options) (*ktrace.Tracer, error) {
		return nil, errors.New("ktrace: perf_event_open refused (EACCES; needs root or CAP_PERFMON)")
	}
	sc, err := LookupScenario("fsync-storm")
	if err != nil {
		t.Fatal(err)
	}
	cfg := kernelConfig(t, sc, t.TempDir())
	cfg.OpLimit = 2000
	cfg.LockStats = true
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run = %v; want the run to go on without kernel lock waits", err)
	}
	if lt := rep.LockTrace; lt == nil || lt.Unavailable != "ktrace: perf_event_open refused (EACCES; needs root or CAP_PERFMON)" || len(rep.Locks) != 0 {
		t.Errorf("LockTrace = %+v, %d lock rows; want the reason and no rows", lt, len(rep.Locks))
	}
	var ops int64
	for _, o := range rep.Ops {
		ops += o.Count
	}
	if ops == 0 {
		t.Errorf("no operations measured")
	}
}
