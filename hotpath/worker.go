package hotpath

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"lockbench/hotpath/clock"
	"lockbench/results"
)

// Kind is an operation kind, the unit of throughput and latency reporting.
type Kind uint8

const (
	KStore Kind = iota
	KLoad
	KReadFault
	KWriteFault
	KWrite
	KRead
	KFsync
	KPunch
	KTruncate
	KWriteback
	KReclaim
	KInline
	NumKinds
)

var kindNames = [NumKinds]string{
	"store", "load", "read-fault", "write-fault", "write", "read", "fsync",
	"punch", "truncate", "writeback", "reclaim", "re-inline",
}

func (k Kind) String() string { return kindNames[k] }

// KindNames lists the operation kinds by name.
func KindNames() []string { return kindNames[:] }

// Role is what a worker does.
type Role uint8

const (
	RoleFaulter Role = iota
	RoleWriter
	RoleReader
	RoleFsync
	RolePuncher
	RoleTruncater
	RoleFlusher
	RoleReclaimer
	RoleInliner
	NumRoles
)

var roleNames = [NumRoles]string{
	"faulter", "writer", "reader", "fsync", "puncher", "truncater", "flusher", "reclaimer", "inliner",
}

func (r Role) String() string { return roleNames[r] }

// Foreground reports whether the role is scaled by -threads.
func (r Role) Foreground() bool { return r <= RoleReader }

// Worker is one worker's private state. Everything it writes on the measured
// path lives here, padded away from other workers; the runner merges workers
// after they join.
type Worker struct {
	_    [64]byte
	ID   int
	slot int
	Role Role
	data int // data-writer index (owner of region data%regions), -1 if none; set with setData
	// reg is data%regN, the worker's region when pages have regN regions
	// (regN 0: not computed yet): the division leaves the per-store path.
	reg, regN int
	CPU       int

	rng *rand.Rand

	held  uint32    // locks held (lockClass bits)
	locks lockLevel // lock accounting: off, on (Config.LockStats) or absent (benchmarks)
	lk    lockAcct
	pub   atomic.Uint64 // published held|waiting<<32 while blocked (watchdog)
	prog  atomic.Int64  // progress, published every progressEvery ops

	ops       [NumKinds]int64
	hist      [NumKinds]*hdrhistogram.Histogram
	untimed   bool  // count operations without timing them (benchmarks)
	timeAll   bool  // sampled kinds are timed every time (the kernel engine)
	sampleGap int32 // operations of sampled kinds until the next timed one
	ctr       results.Counters
	stampSeq  uint64
	// opIndex is the operation the worker's role loop is at (the loop's
	// position: a kernel worker resumes after it following a SIGBUS).
	opIndex int64

	// fault state carried across a retry chain
	chain    int64
	chainGen uint64 // inode inline generation at the chain's first try

	// write() scratch, preallocated: blocks reserved and the cached mapping.
	reserved []bool
	mapped   []uint32
	// rbuf is read()'s user buffer, one page, allocated on the first read.
	rbuf []byte

	clk             *clock.Clock
	win             *series
	events          []results.Event
	oracleV         []results.Violation
	nViolations     int64
	uncheckedFsyncs int64
	usage           *results.ThreadUsage // the kernel engine's getrusage(RUSAGE_THREAD) delta
	next            time.Time            // background roles: the next paced operation
	_               [64]byte
}

const progressEvery = 64

func newWorker(id, slot int, role Role, seed uint64, maxWrite int) *Worker {
	w := &Worker{
		ID:       id,
		slot:     slot,
		Role:     role,
		data:     -1,
		CPU:      -1,
		rng:      rand.New(rand.NewPCG(seed, uint64(id)+0x9e3779b97f4a7c15)),
		reserved: make([]bool, maxWrite),
		mapped:   make([]uint32, maxWrite),
	}
	w.lk.init()
	return w
}

// setData makes w data writer d: it owns region d%regions of every page.
func (w *Worker) setData(d int) { w.data, w.regN = d, 0 }

// region is w's region of a page divided into n regions: data%n, divided
// once per n instead of on every store and load.
func (w *Worker) region(n int) int {
	if w.regN != n {
		w.reg, w.regN = w.data%n, n
	}
	return w.reg
}

// stamp returns the next unique stamp of this worker: (owner+1)<<40 | seq.
func (w *Worker) stamp() uint64 {
	w.stampSeq++
	return uint64(w.data+1)<<40 | w.stampSeq
}

// stampOwner returns the data-writer index of a stamp and its sequence.
func stampOwner(s uint64) (owner int, seq uint64) {
	return int(s>>40) - 1, s & (1<<40 - 1)
}

func (w *Worker) intn(n int) int { return int(w.rng.Uint64N(uint64(n))) }

func (w *Worker) chance(p float64) bool { return p > 0 && w.rng.Float64() < p }
