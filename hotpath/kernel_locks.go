package hotpath

import (
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"lockbench/ktrace"
	"lockbench/results"
)

// The kernel engine's lock waits (Config.LockStats, -locks): a ktrace.Tracer
// opened with the engine and started at once; each worker attaches its own
// OS thread when it locks it (onThread), so only the benchmark's threads
// are traced and each into its own ring buffer; finish stops the tracer
// after every worker joined and turns its sites into results records.

// openKTrace opens the tracer; a variable so that tests can make it fail
// as it does without root or tracepoints.
var openKTrace = ktrace.Open

// klocks is the kernel engine's lock-wait state.
type klocks struct {
	tracer    *ktrace.Tracer
	lockOff   string                // why there are no kernel lock waits
	attachErr atomic.Pointer[error] // the first worker's Attach error
	// lkw[i] is worker i, set by worker i itself when it attaches and
	// read after every worker joined.
	lkw []*Worker
}

// openTracer opens and starts the tracer for a plan of n workers. Without
// root, tracefs, the tracepoints or perf_event_open, it records why in
// k.lockOff (one line) and the run goes on without kernel lock waits.
func (k *kernelEngine) openTracer(n int) {
	k.lkw = make([]*Worker, n)
	tr, err := openKTrace(ktrace.Options{})
	if err == nil {
		err = tr.Start()
	}
	if err != nil {
		k.lockOff = err.Error()
		return
	}
	k.tracer = tr
}

// attachTracer attaches the calling worker's OS thread (locked by the
// caller). A failure turns the kernel lock waits off for the whole cell,
// since a cell with some threads untraced would under-count silently.
func (k *kernelEngine) attachTracer(w *Worker) {
	if k.tracer == nil {
		return
	}
	k.lkw[w.ID] = w
	if err := k.tracer.Attach(unix.Gettid(), w.ID); err != nil {
		k.attachErr.CompareAndSwap(nil, &err)
	}
}

// stopTracer stops the tracer (if any) and returns its result, or nil
// with why there is none.
func (k *kernelEngine) stopTracer() (*ktrace.Result, string) {
	if k.tracer == nil {
		return nil, k.lockOff
	}
	res, err := k.tracer.Stop()
	k.tracer = nil
	if e := k.attachErr.Load(); e != nil {
		return nil, (*e).Error()
	}
	if err != nil {
		return nil, err.Error()
	}
	return res, ""
}

// kernelLocks fills rep.Locks and rep.LockTrace from the tracer's result:
// one record per class (or, for waits on no model lock, per site), kind
// and role, most total wait first.
func (k *kernelEngine) kernelLocks(rep *results.Rep) {
	if !k.cfg.LockStats {
		return
	}
	res, off := k.stopTracer()
	rep.LockTrace = &results.LockTrace{Source: results.LockSourceKernel, Unavailable: off}
	if res == nil {
		return
	}
	lt := rep.LockTrace
	lt.Records, lt.Events, lt.Lost, lt.Unpaired, lt.Nested, lt.Dropped = res.Records, res.Events, res.Lost, res.Unpaired, res.Nested, res.Dropped
	var workers []*Worker
	for _, w := range k.lkw {
		if w != nil {
			workers = append(workers, w)
		}
	}
	rep.Locks = kernelLockStats(res, workers)
}

// closeTracer releases a tracer still running (an error path).
func (k *kernelEngine) closeTracer() {
	if k.tracer != nil {
		k.tracer.Stop()
		k.tracer = nil
	}
}

// kernelLockStats groups a tracer result by class, label and role.
func kernelLockStats(res *ktrace.Result, workers []*Worker) []results.LockStat {
	role := map[int]Role{}
	for _, w := range workers {
		role[w.ID] = w.Role
	}
	ops := roleOps(workers)
	type key struct {
		class, label string
		r            Role
	}
	type acc struct {
		st    results.LockStat
		kinds map[string]time.Duration
		durs  []time.Duration
	}
	m := map[key]*acc{}
	var keys []key
	for _, s := range res.Sites {
		r := role[s.Tag]
		kk := key{s.Class, s.Label, r}
		x := m[kk]
		if x == nil {
			x = &acc{st: results.LockStat{Class: s.Class, Role: r.String(), Source: results.LockSourceKernel,
				Site: s.Label, Ops: ops[r], Chain: s.Chain}, kinds: map[string]time.Duration{}}
			m[kk] = x
			keys = append(keys, kk)
		}
		kind := s.Kind
		if kind == "" {
			kind = ktrace.LockKind(s.Flags)
		}
		for _, kd := range strings.Split(kind, "+") {
			x.kinds[kd] += s.Total
		}
		x.st.Contentions += s.Waits
		x.st.WaitTotal += s.Total
		x.st.Wait.Max = max(x.st.Wait.Max, s.Max)
		x.durs = append(x.durs, s.Durations...)
	}
	out := make([]results.LockStat, 0, len(keys))
	for _, kk := range keys {
		x := m[kk]
		x.st.Kind = ktrace.JoinKinds(x.kinds)
		sort.Slice(x.durs, func(i, j int) bool { return x.durs[i] < x.durs[j] })
		l := &x.st.Wait
		l.Samples = int64(len(x.durs))
		if l.Samples > 0 {
			l.Mean = x.st.WaitTotal / time.Duration(x.st.Contentions)
			l.P50 = ktrace.Quantile(x.durs, 0.50)
			l.P90 = ktrace.Quantile(x.durs, 0.90)
			l.P99 = ktrace.Quantile(x.durs, 0.99)
			l.P999 = ktrace.Quantile(x.durs, 0.999)
		}
		out = append(out, x.st)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].WaitTotal > out[j].WaitTotal })
	return out
}

// roleTopKinds is each role's top-level operation kinds: the unit of its
// waits/op. Kinds a role does inside its own operations are left out: the
// faults inside stores and loads, the writebacks fsync does page by page.
var roleTopKinds = [NumRoles][]Kind{
	RoleFaulter:   {KStore, KLoad},
	RoleWriter:    {KWrite},
	RoleReader:    {KRead},
	RoleFsync:     {KFsync},
	RolePuncher:   {KPunch},
	RoleTruncater: {KTruncate},
	RoleFlusher:   {KWriteback},
	RoleReclaimer: {KReclaim},
	RoleInliner:   {KInline},
}

// roleOps counts each role's operations of its top-level kinds (roleTopKinds).
func roleOps(workers []*Worker) map[Role]int64 {
	ops := map[Role]int64{}
	for _, w := range workers {
		for _, kd := range roleTopKinds[w.Role] {
			ops[w.Role] += w.ops[kd]
		}
	}
	return ops
}
