package hotpath

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"lockbench/results"
	"lockbench/strategies"
)

// KernelName is the kernel engine's name where a strategy's would stand:
// -strategy kernel, and the strategy column of results and reports, which
// show it as kernel(<fs>) (docs/MODEL.md, docs/DESIGN.md, "The kernel
// engine").
const KernelName = results.StrategyKernel

// KernelDescription is the kernel engine's line in `lockbench list`.
const KernelDescription = "the real kernel: each role's real system call on a real MAP_SHARED file of the target (shown as kernel(<fs>)); faults/op and blocked/op from getrusage per thread"

// Engine is what a run measures: the model of one inode's hot path under a
// strategy, or the real kernel.
type Engine uint8

const (
	// EngineModel runs the model (modelEngine) under Config.Strategy.
	EngineModel Engine = iota
	// EngineKernel runs the real system calls on a real file
	// (kernelEngine); Config's model-only fields are ignored.
	EngineKernel
)

// String is the engine's name in results files (results.EngineModel,
// results.EngineKernel).
func (e Engine) String() string {
	if e == EngineKernel {
		return results.EngineKernel
	}
	return results.EngineModel
}

// Choice is one name -strategy accepts: a model strategy, or the kernel
// engine.
type Choice struct {
	Name        string
	Description string
	Engine      Engine
}

// Choices is the one table of what -strategy accepts, in the order reports
// show them: the unsafe baseline, the real kernel right after it, then the
// model's other strategies (strategies.All). It feeds the flag help, the
// unknown-name error, `lockbench list` and the engine of each cell.
func Choices() []Choice {
	var out []Choice
	for _, in := range strategies.All {
		out = append(out, Choice{Name: in.Name, Description: in.Description, Engine: EngineModel})
		if in.Name == strategies.Baseline() {
			out = append(out, Choice{Name: KernelName, Description: KernelDescription, Engine: EngineKernel})
		}
	}
	return out
}

// StrategyNames lists Choices' names.
func StrategyNames() []string {
	var out []string
	for _, c := range Choices() {
		out = append(out, c.Name)
	}
	return out
}

// EngineOf is the engine that runs -strategy name: the kernel engine for
// KernelName, the model for every other name.
func EngineOf(name string) Engine {
	if name == KernelName {
		return EngineKernel
	}
	return EngineModel
}

// KernelRefusal returns why scenario sc has no real counterpart under the
// kernel engine, or nil when it has one.
func KernelRefusal(sc Scenario) error {
	switch {
	case sc.NaiveFaultAround:
		return fmt.Errorf("scenario %s has no real counterpart under %s: the kernel's fault-around always trylocks and rechecks (naive fault-around is a model-only defect)", sc.Name, KernelName)
	case sc.InlineBlocks > 0:
		return fmt.Errorf("scenario %s has no real counterpart under %s: inline data needs ext4 made with -O inline_data, which lockbench's targets are not", sc.Name, KernelName)
	}
	for _, r := range sc.Roles {
		if r.Role == RoleInliner {
			return fmt.Errorf("scenario %s has no real counterpart under %s: the kernel has no re-inline operation", sc.Name, KernelName)
		}
	}
	return nil
}

// Punches reports whether the scenario punches holes (a puncher role).
func (s Scenario) Punches() bool {
	for _, r := range s.Roles {
		if r.Role == RolePuncher {
			return true
		}
	}
	return false
}

// kernelFaultFloor is the store or load latency above which the kernel
// engine also records the access as a write or read fault (KWriteFault,
// KReadFault): the real fault's own latency. A store through a writable
// PTE costs the timer's floor; the cheapest real fault, a minor fault on a
// cached page, costs well above the threshold (figures:
// docs/MEASUREMENTS.md, "The kernel engine"). getrusage's
// per-thread fault count cross-checks the inference (faults/op).
const kernelFaultFloor = 400 * time.Nanosecond

// kshadow is the last completed store or write of one data writer in its
// own region of one page, with the page's punch counters read around it
// after it: the real file's integrity check needs no lock on the path.
type kshadow struct {
	stamp uint64
	// s1 and f1 are the page's started and finished punch counts read
	// (in that order) before it, s2 the started count after it.
	s1, f1, s2 uint32
}

// kworker is a kernel worker's private state, allocated per worker and
// padded, so nothing of it is shared on the measured path.
type kworker struct {
	_      [64]byte
	shadow []kshadow // data writers: own region of every page
	wbuf   []byte    // writers: one region
	fbuf   []byte    // writers: two pages, the second PROT_NONE
	rbuf   []byte    // readers: WritePages pages
	gen0   uint64    // truncate generation at the last progress tick
	sink   uint64    // loads land here so they are not dead code
	// Faulters: write faults that overlapped an fsync, a punch, neither.
	wfFsync, wfPunch, wfIdle *hdrhistogram.Histogram
	u0                       unix.Rusage
	_                        [64]byte
}

// kernelEngine runs a scenario's roles as real system calls on one real
// file of the target, mapped MAP_SHARED for the faulters.
type kernelEngine struct {
	cfg      *Config
	sc       *Scenario
	file     *os.File
	fd       int
	path     string
	data     []byte
	pageSize int
	npages   int
	regions  int
	regSize  int
	// started[p] and finished[p] count the punches and truncates that
	// cover page p, bumped before and after the call. Two counters, not one
	// epoch's parity: a punch and a truncate may overlap on one page.
	started, finished []atomic.Uint32
	// tgen counts truncate starts and ends (odd: one is in progress);
	// tsize[j%len] is the size, in pages, truncate j cut the file to. The
	// pad keeps truncate's writes off the line of the slice headers above,
	// which every store reads.
	_     [linePad]byte
	tgen  atomic.Uint64
	tsize [256]atomic.Int64
	// busy has busyFsync set while an fsync runs and busyPunch while a
	// punch runs: a write fault that saw either, before or after it, is
	// also recorded as overlapping it (write-fault@fsync, @punch).
	busy   atomic.Uint32
	kw     []*kworker
	klocks // lock waits from the kernel's tracepoints (kernel_locks.go)
}

// openKernel creates the real file on the target, checks the target can
// run the scenario, and maps the file. On error nothing is left behind.
func openKernel(cfg *Config, plan []RoleSpec, regions int) (_ *kernelEngine, err error) {
	if err := KernelRefusal(cfg.Scenario); err != nil {
		return nil, err
	}
	if dw := dataWriters(plan); dw > regions {
		return nil, fmt.Errorf("the real file's integrity check needs one region per data-writing worker: %d workers, at most %d regions per %d-byte page", dw, regions, cfg.PageSize)
	}
	if cfg.FileSize%int64(cfg.PageSize) != 0 {
		return nil, configErrorf("FileSize", "must be a multiple of the page size %d, got %d", cfg.PageSize, cfg.FileSize)
	}
	n := int(cfg.FileSize / int64(cfg.PageSize))
	k := &kernelEngine{cfg: cfg, sc: &cfg.Scenario, pageSize: cfg.PageSize, npages: n, regions: regions,
		regSize: cfg.PageSize / regions, started: make([]atomic.Uint32, n), finished: make([]atomic.Uint32, n)}
	defer func() {
		if err != nil {
			k.close()
		}
	}()
	// Named by pid and locked like the model's files (backing.go), so a
	// later run can clean it up after a SIGKILL.
	if k.file, err = createBacking(cfg.Dir); err != nil {
		return nil, fmt.Errorf("target %s: %w", cfg.Dir, err)
	}
	k.path, k.fd = k.file.Name(), int(k.file.Fd())
	if err = k.file.Truncate(cfg.FileSize); err != nil {
		return nil, fmt.Errorf("target %s: sizing the file: %w", cfg.Dir, err)
	}
	if cfg.Scenario.Punches() {
		perr := unix.Fallocate(k.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, int64(cfg.PageSize))
		if perr != nil {
			return nil, fmt.Errorf("target %s does not support punch-hole (fallocate PUNCH_HOLE|KEEP_SIZE: %v), which scenario %s needs", cfg.Dir, perr, cfg.Scenario.Name)
		}
	}
	if k.data, err = unix.Mmap(k.fd, 0, int(cfg.FileSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		k.data = nil
		return nil, fmt.Errorf("target %s cannot be mapped shared: %w", cfg.Dir, err)
	}
	for _, r := range plan {
		kw, err := k.newKworker(r.Role)
		k.kw = append(k.kw, kw)
		if err != nil {
			return nil, err
		}
	}
	if cfg.LockStats {
		k.openTracer(len(plan))
	}
	return k, nil
}

// newKworker allocates one worker's private buffers.
func (k *kernelEngine) newKworker(role Role) (*kworker, error) {
	kw := &kworker{}
	switch role {
	case RoleFaulter:
		kw.shadow = make([]kshadow, k.npages)
		kw.wfFsync = hdrhistogram.New(1, 100_000_000_000, 3)
		kw.wfPunch = hdrhistogram.New(1, 100_000_000_000, 3)
		kw.wfIdle = hdrhistogram.New(1, 100_000_000_000, 3)
	case RoleWriter:
		kw.shadow = make([]kshadow, k.npages)
		kw.wbuf = make([]byte, k.regSize)
		// The failure injection's user buffer: a write from the end of
		// the first page runs into the PROT_NONE second page, so the
		// kernel's copy really stops short (the R1 path).
		b, err := unix.Mmap(-1, 0, 2*k.pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err != nil {
			return kw, fmt.Errorf("failure-injection buffer: %w", err)
		}
		kw.fbuf = b
		if err := unix.Mprotect(b[k.pageSize:], unix.PROT_NONE); err != nil {
			return kw, fmt.Errorf("failure-injection buffer: %w", err)
		}
	case RoleReader:
		kw.rbuf = make([]byte, max(k.sc.WritePages, 1)*k.pageSize)
	}
	return kw, nil
}

// close unmaps and removes the file. It is safe on a partly opened engine.
func (k *kernelEngine) close() error {
	k.closeTracer()
	var errs []error
	if k.data != nil {
		errs = append(errs, unix.Munmap(k.data))
		k.data = nil
	}
	for _, kw := range k.kw {
		if kw != nil && kw.fbuf != nil {
			errs = append(errs, unix.Munmap(kw.fbuf))
			kw.fbuf = nil
		}
	}
	if k.file != nil {
		errs = append(errs, k.file.Close())
		k.file = nil
	}
	k.abandon()
	return errors.Join(errs...)
}

// abandon removes the file and keeps the mapping (a deadlocked run).
func (k *kernelEngine) abandon() {
	if k.path != "" {
		os.Remove(k.path)
		live.Delete(k.path)
		k.path = ""
	}
}

// The busy bits of kernelEngine.busy.
const (
	busyFsync = 1 << iota
	busyPunch
)

// overlap records a write fault of latency d that saw the busy bits b.
func (kw *kworker) overlap(b uint32, d time.Duration) {
	if b&busyFsync != 0 {
		kw.wfFsync.RecordValue(int64(d))
	}
	if b&busyPunch != 0 {
		kw.wfPunch.RecordValue(int64(d))
	}
	if b == 0 {
		kw.wfIdle.RecordValue(int64(d))
	}
}

// overlapOps merges the faulters' overlap histograms into three more
// operations of the repetition: write-fault@fsync and write-fault@punch,
// the write faults that began or ended while an fsync or a punch ran, and
// write-fault@idle, those that saw neither. Their latencies side by side,
// and beside the fsync's or punch's, say whether the filesystem stalls
// write faults for it.
func (k *kernelEngine) overlapOps(rep *results.Rep) {
	for _, o := range []struct {
		name string
		get  func(*kworker) *hdrhistogram.Histogram
	}{
		{"write-fault@fsync", func(kw *kworker) *hdrhistogram.Histogram { return kw.wfFsync }},
		{"write-fault@punch", func(kw *kworker) *hdrhistogram.Histogram { return kw.wfPunch }},
		{"write-fault@idle", func(kw *kworker) *hdrhistogram.Histogram { return kw.wfIdle }},
	} {
		h := hdrhistogram.New(1, 100_000_000_000, 3)
		for _, kw := range k.kw {
			if g := o.get(kw); g != nil {
				h.Merge(g)
			}
		}
		if h.TotalCount() == 0 {
			continue
		}
		st := results.OpStats{Op: o.name, Role: RoleFaulter.String(), Count: h.TotalCount(),
			PerSecond: float64(h.TotalCount()) / rep.Elapsed.Seconds(), SampleEvery: 1, Latency: latencyOf(h)}
		if enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
			st.Hist = string(enc)
		}
		rep.Ops = append(rep.Ops, st)
	}
}
