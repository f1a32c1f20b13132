package results

import "time"

// Sources of lock accounting.
const (
	LockSourceModel  = "model"  // the model's locks, counted by each worker
	LockSourceKernel = "kernel" // the real kernel's lock waits, from lock:contention_begin/end
)

// LockStat is lock_stat-style accounting of one lock class for one worker
// role: in the model every acquisition, in the kernel every wait the
// contention tracepoints saw (the kernel does not count uncontended
// acquisitions, so Acquisitions is 0 there and Contentions is the waits).
type LockStat struct {
	// Class is the lock in the model's names (MM, IO, IL, MK, F, IX, ER);
	// kernel waits at a site that takes two of them and that the lock
	// address did not settle carry the pair ("IO/MK"); kernel waits on no
	// model lock have no class and are named by Site.
	Class  string `json:"class,omitempty"`
	Role   string `json:"role"`
	Source string `json:"source"`
	// Site is the kernel call site (the function that called the lock
	// primitive) or, for a wait on no model lock, the top filesystem or mm
	// frame; Kind the primitive ("rwsem(S)", "spin", ...). Kernel only.
	Site string `json:"site,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Chain is one kernel call chain of the record, innermost frame first
	// (at most 16 frames): the evidence for its attribution. Kernel only.
	Chain []string `json:"chain,omitempty"`
	// Ops is the role's operations in the repetition (stores, loads,
	// writes, fsyncs, ...; faults are inside stores and loads): the unit
	// of waits/op.
	Ops          int64         `json:"ops"`
	Acquisitions int64         `json:"acquisitions"`
	Contentions  int64         `json:"contentions"`
	WaitTotal    time.Duration `json:"wait_total_ns"`
	Wait         Latency       `json:"wait"`
	// Holds counts the exclusive holds timed (model, with -locks).
	Holds     int64         `json:"holds,omitempty"`
	HoldTotal time.Duration `json:"hold_total_ns,omitempty"`
	Hold      Latency       `json:"hold"`
}

// LockTrace says how a repetition's lock accounting was measured.
type LockTrace struct {
	Source string `json:"source"`
	// Full: the model counted every acquisition and timed every exclusive
	// hold (-locks); without it Acquisitions counts contended ones only.
	Full bool `json:"full,omitempty"`
	// Unavailable is why a kernel cell has no lock waits (one line: no
	// root, no tracefs, no tracepoints, perf_event_open refused).
	Unavailable string `json:"unavailable,omitempty"`
	// Kernel tracer counts: samples decoded, records the kernel dropped
	// because a buffer was full (PERF_RECORD_LOST), begins or ends without
	// their pair, waits inside another wait (not counted again), waits not
	// kept for percentiles.
	Records  int64 `json:"records,omitempty"`
	Events   int64 `json:"events,omitempty"` // events the kernel counted: Records + Lost when none is missing
	Lost     int64 `json:"lost,omitempty"`
	Unpaired int64 `json:"unpaired,omitempty"`
	Nested   int64 `json:"nested,omitempty"`
	Dropped  int64 `json:"dropped,omitempty"`
}
