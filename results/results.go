// Package results holds the typed records a run produces: the boundary between
// measuring (hotpath) and reporting (reports), as a vegeta results file is.
// Everything here is plain data with JSON tags; the file format is versioned by
// SchemaVersion and written atomically by WriteFile.
package results

import (
	"time"

	"lockbench/hardware/desc"
)

// SchemaVersion is the version of the results file format. Version 2 adds
// kernel cells (strategy "kernel"), each worker's getrusage counts
// (Worker.Usage) and the sigbus_beyond_eof counter; Config.Engine came
// later within version 2, as an added field: files without it read with
// the engine their strategy implies (Config.SetEngine). Version 3 stores a
// repetition's time series as columns (Series) instead of one object per
// window, and may be gzip-compressed (a name ending in .gz). Version 1 and
// 2 files read as they are (the new fields stay empty, a schema 2 series
// becomes columns). Readers reject any other version.
const SchemaVersion = 3

// OldestSchema is the oldest version Read accepts.
const OldestSchema = 1

// File is one results file: the machine, the command, and one Cell per
// combination of strategy, scenario, threads, target and placement.
type File struct {
	Schema     int       `json:"schema"`
	Tool       string    `json:"tool"`
	Command    string    `json:"command"`
	Created    time.Time `json:"created"`
	Incomplete bool      `json:"incomplete"`
	// Error is the error that stopped the run early, when one did; the
	// file then holds the cells finished before it and is incomplete.
	Error   string       `json:"error,omitempty"`
	Machine desc.Machine `json:"machine"`
	Cells   []Cell       `json:"cells"`
	Verify  *Matrix      `json:"verify,omitempty"`
	// Version is the lockbench build that wrote the file (module version
	// or VCS revision), for the report's "how to reproduce".
	Version string `json:"version,omitempty"`
	// Findings are the comparisons the report states, computed from Cells
	// by reports.Findings when the file is written; readers may recompute
	// them.
	Findings []Finding `json:"findings,omitempty"`
	// Notes are what a study could not ask and why, one line each
	// ("btrfs questions on every target: mkfs.btrfs not found").
	Notes []string `json:"notes,omitempty"`

	// Calibrations are the targets' measured phase costs (-calibrate), the
	// model's calibrated time; -calibration FILE reuses them.
	Calibrations []Calibration `json:"calibrations,omitempty"`
	// Validations are `lockbench validate`'s tables, one per target.
	Validations []Validation `json:"validations,omitempty"`
}

// The engines a cell can run on (Config.Engine).
const (
	// EngineModel is the user-space model of one inode's hot path, under
	// the cell's strategy.
	EngineModel = "model"
	// EngineKernel is the real kernel: the scenario's real system calls on
	// a real file. Its cells' strategy is "kernel" (StrategyKernel), shown
	// as kernel(<fs>).
	EngineKernel = "kernel"
)

// StrategyKernel is the strategy name of a kernel cell.
const StrategyKernel = "kernel"

// Config is what a cell ran: everything needed to run it again (with the
// machine and the command line of its File).
type Config struct {
	// Engine is EngineModel or EngineKernel. Files written before the
	// field have none; Read fills it in (SetEngine).
	Engine     string        `json:"engine,omitempty"`
	Strategy   string        `json:"strategy"`
	Scenario   string        `json:"scenario"`
	Threads    int           `json:"threads"`
	Target     string        `json:"target"`
	TargetInfo desc.Target   `json:"target_info"`
	Pin        string        `json:"pin"`
	Seed       uint64        `json:"seed"`
	FileSize   int64         `json:"file_size"`
	PageSize   int           `json:"page_size"`
	Duration   time.Duration `json:"duration_ns"`
	OpLimit    int64         `json:"op_limit,omitempty"`
	Warmup     time.Duration `json:"warmup_ns"`
	Reps       int           `json:"reps"`
	Options    string        `json:"options,omitempty"` // strategy options, "k=v,k=v"
	Oracle     bool          `json:"oracle"`
	Delay      bool          `json:"delay_injection"`
	// Locks: the cell ran with -locks (full model lock accounting, the
	// kernel's lock waits traced); text reports show its lock-wait table.
	Locks bool `json:"locks,omitempty"`
	// DelayFor is -delay: how long each of the scenario's delay points waits.
	DelayFor time.Duration `json:"delay_ns,omitempty"`
	// Clock is the timer that measured (-clock, resolved): "tsc" or
	// "mono" (clock.Kind's names; never "auto").
	Clock string `json:"clock,omitempty"`
	// Watchdog is -watchdog: no progress for this long is a deadlock.
	Watchdog time.Duration `json:"watchdog_ns,omitempty"`
	// RolePlace is -role-place: where the exclusive roles ran.
	RolePlace string `json:"role_place,omitempty"`
	// Calibrated is the target whose measured phase costs the model spent
	// (-calibrate); the cell's Strategy then ends in "+calibrated".
	Calibrated string `json:"calibrated,omitempty"`
}

// SetEngine fills in an Engine left empty by a file written before the
// field: EngineKernel for the kernel's strategy name, where "kernel" was a
// strategy, EngineModel for every other.
func (c *Config) SetEngine() {
	if c.Engine != "" {
		return
	}
	c.Engine = EngineModel
	if c.Strategy == StrategyKernel {
		c.Engine = EngineKernel
	}
}

// Cell is the result of one configuration: its repetitions and their summary.
type Cell struct {
	Config     Config `json:"config"`
	Incomplete bool   `json:"incomplete"`
	Reps       []Rep  `json:"reps"`
}

// AddRep appends r to c's repetitions. The exclusive events (each fsync's,
// punch's and truncate's start and end) are kept on the repetition the
// time-series charts draw, the first with a series, and dropped from the
// later ones: nothing else reads them, and a fsync every millisecond made
// them a third of a study's file.
func (c *Cell) AddRep(r Rep) {
	for i := range c.Reps {
		if c.Reps[i].Series.Len() > 1 {
			r.Exclusive = nil
			break
		}
	}
	c.Reps = append(c.Reps, r)
}

// Rep is one repetition of a cell.
type Rep struct {
	Index      int           `json:"index"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Incomplete bool          `json:"incomplete"`
	// TimerFloor is the cost of timing an empty operation on the same path.
	TimerFloor time.Duration `json:"timer_floor_ns"`
	Ops        []OpStats     `json:"ops"`
	Counters   Counters      `json:"counters"`
	Workers    []Worker      `json:"workers"`
	Series     *Series       `json:"series,omitempty"`
	// Exclusive is the exclusive operations' spans, on the repetition the
	// charts draw only (Cell.AddRep).
	Exclusive  []Event     `json:"exclusive,omitempty"`
	Violations []Violation `json:"violations,omitempty"`
	// ViolationsTotal counts every violation; Violations keeps the first
	// few hundred of each worker.
	ViolationsTotal int64  `json:"violations_total"`
	Deadlock        string `json:"deadlock,omitempty"`
	// Locks is the lock accounting (results/locks.go): the model's per
	// lock class and role, or the kernel's lock waits per site and role.
	Locks     []LockStat `json:"locks,omitempty"`
	LockTrace *LockTrace `json:"lock_trace,omitempty"`
}

// OpStats is throughput and latency of one operation kind (read-fault,
// write-fault, store, write, read, fsync, punch, truncate, writeback,
// reclaim) over one repetition.
type OpStats struct {
	Op        string  `json:"op"`
	Role      string  `json:"role"`
	Count     int64   `json:"count"`
	PerSecond float64 `json:"per_second"`
	// SampleEvery is 1 when every operation was timed, k when one in k
	// (seeded random) was.
	SampleEvery int     `json:"sample_every"`
	Latency     Latency `json:"latency"`
	// Hist is the merged HDR histogram, base64 of its compressed encoding.
	Hist string `json:"hdr,omitempty"`
}

// Latency summarises a latency distribution. Percentiles never exceed Max.
type Latency struct {
	Samples int64         `json:"samples"`
	Mean    time.Duration `json:"mean_ns"`
	P50     time.Duration `json:"p50_ns"`
	P90     time.Duration `json:"p90_ns"`
	P99     time.Duration `json:"p99_ns"`
	P999    time.Duration `json:"p999_ns"`
	Max     time.Duration `json:"max_ns"`
}

// Counters are the protocol counters of a repetition, summed over workers.
// CounterFields lists them; Add sums them.
type Counters struct {
	Faults          int64 `json:"faults"`
	FaultAround     int64 `json:"fault_around_mapped"`
	FaultAroundMiss int64 `json:"fault_around_skipped"`
	PagesCreated    int64 `json:"pages_created"`
	ShortWrites     int64 `json:"short_writes"`
	CleanupPunched  int64 `json:"cleanup_punched_blocks"`
	Validations     int64 `json:"validations"`
	StaleMaps       int64 `json:"stale_maps"`
	Remaps          int64 `json:"remaps"`
	Retries         int64 `json:"retries"`
	MaxRetryChain   int64 `json:"max_retry_chain"`
	Sigbus          int64 `json:"sigbus"`
	// SigbusBeyondEOF are SIGBUS faults of stores beyond EOF (after a
	// truncate): legitimate, counted, never a crash.
	SigbusBeyondEOF int64 `json:"sigbus_beyond_eof"`
	ConvertUnlocked int64 `json:"convert_unlocked"`
	InlineConverts  int64 `json:"inline_converts"`
	WritebackPages  int64 `json:"writeback_pages"`
	WritebackStale  int64 `json:"writeback_revalidations"`
	Evicted         int64 `json:"evicted_pages"`
	Zeroed          int64 `json:"zeroed_partial_pages"`
	FsyncLogged     int64 `json:"fsync_logged_extents"`
	ILWaits         int64 `json:"il_contended"`
	// UncheckedFsyncs are fsyncs the oracle could not check (layout
	// history overflowed).
	UncheckedFsyncs int64 `json:"unchecked_fsyncs"`
	// CalibratedNs is the calibrated time the model spent (-calibrate):
	// durations drawn from the real filesystem's measured phases, spent
	// inside the locks the kernel holds for them, in nanoseconds.
	CalibratedNs int64 `json:"calibrated_ns,omitempty"`
	// StableWaits are the calibrated model's write faults that waited for
	// their page's real write to the disk file (btrfs's stable pages).
	StableWaits int64 `json:"stable_waits,omitempty"`
}

// Worker is one worker of a repetition and where it ran.
type Worker struct {
	ID   int    `json:"id"`
	Role string `json:"role"`
	CPU  int    `json:"cpu"` // -1 when not pinned
	Ops  int64  `json:"ops"`
	// Usage is the worker thread's own getrusage(RUSAGE_THREAD) over the
	// repetition: kernel cells only.
	Usage *ThreadUsage `json:"usage,omitempty"`
}

// ThreadUsage is what the kernel counted for one worker thread
// (getrusage(RUSAGE_THREAD) at the end minus at the start).
type ThreadUsage struct {
	MinorFaults int64 `json:"minor_faults"`
	MajorFaults int64 `json:"major_faults"`
	// Voluntary context switches: the thread blocked (a lock, I/O, a
	// sleep); involuntary ones: it was preempted.
	Voluntary   int64 `json:"voluntary_switches"`
	Involuntary int64 `json:"involuntary_switches"`
}

// Event is one exclusive operation (fsync, punch, truncate) in time.
type Event struct {
	Op    string        `json:"op"`
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
}

// Violation is one invariant broken, attributable to a store or write stamp.
type Violation struct {
	Invariant string `json:"invariant"` // I1, I1b, I2, I3, I4, I5
	Race      string `json:"race"`      // R1..R5
	Op        int64  `json:"op"`        // operation index of the detecting worker
	Worker    int    `json:"worker"`
	Page      int64  `json:"page"`
	Detail    string `json:"detail"`
}

// Matrix is the race oracle's verdict table (lockbench verify).
type Matrix struct {
	Budget string       `json:"budget"`
	Cells  []VerifyCell `json:"cells"`
	// FSType is the filesystem of the target verify ran on: the kernel
	// column reads kernel(<fs>).
	FSType string `json:"fs_type,omitempty"`
}

// Verdict is what a verify cell showed (VerifyCell.Verdict) or was
// expected to show (VerifyCell.Expect, Safe or Violated). The results
// file holds it as the string.
type Verdict string

const (
	// Safe is a cell with no violation.
	Safe Verdict = "safe"
	// Violated is a cell in which the oracle (or the real-file checker)
	// caught at least one violation.
	Violated Verdict = "violated"
	// Deadlock is a cell whose run stopped progressing (the watchdog).
	Deadlock Verdict = "deadlock"
)

// VerifyCell is one strategy x scenario verdict.
type VerifyCell struct {
	Strategy   string  `json:"strategy"`
	Scenario   string  `json:"scenario"`
	Race       string  `json:"race"`
	Expect     Verdict `json:"expect"`  // Safe or Violated
	Verdict    Verdict `json:"verdict"` // Safe, Violated or Deadlock
	Ops        int64   `json:"ops"`
	Violations int64   `json:"violations"`
	FirstAt    int64   `json:"first_at,omitempty"`
	Seed       uint64  `json:"seed"`
	Seeds      int     `json:"seeds"`      // seeds run
	Reproduced int     `json:"reproduced"` // seeds with a violation
	Replay     string  `json:"replay,omitempty"`
	Detail     string  `json:"detail,omitempty"`
	Matches    bool    `json:"matches"`
}

// Finding is one comparison a report states: a measure of one operation of
// Strategy against the same of Versus (the baseline, or the second of a
// pair: always this direction), in one scenario, thread count and target,
// over the repetitions of both cells. reports/stats.go defines the
// statistics.
type Finding struct {
	// ID is stable across runs and machines: question, target spec,
	// comparison and measure ("fsync-write/tmpfs/rangelock-vs-none/stall(store)").
	ID       string `json:"id"`
	Question string `json:"question"`
	Scenario string `json:"scenario"`
	Threads  int    `json:"threads"`
	Target   string `json:"target"`
	// TargetLabel names the target for people: "tmpfs", "ext4 (vda)".
	TargetLabel string `json:"target_label"`
	Op          string `json:"op"`
	Role        string `json:"role"`
	// Measure is the measure and its operation: "mean90(write-fault)" (the
	// mean of the fastest 90%), "p99.9(read)", "max(write-fault)",
	// "ops/s(store)", "stall(store)" (the share of time-series windows
	// with no such operation), or a counter per operation ("remaps/write").
	Measure  string `json:"measure"`
	Strategy string `json:"strategy"`
	Versus   string `json:"versus"`
	// Base and Value are the medians of Versus and Strategy.
	Base  float64 `json:"base"`
	Value float64 `json:"value"`
	// Ratio is the Hodges-Lehmann ratio Strategy/Versus (the median of the
	// pairwise ratios of repetitions), in [RatioLo, RatioHi] at Level; 0
	// when a value is not positive (no ratio).
	Ratio   float64 `json:"ratio"`
	RatioLo float64 `json:"ratio_lo"`
	RatioHi float64 `json:"ratio_hi"`
	// Delta is the same shift as a difference, in the measure's unit (ns,
	// operations per second, a share, a count per operation).
	Delta   float64 `json:"delta"`
	DeltaLo float64 `json:"delta_lo"`
	DeltaHi float64 `json:"delta_hi"`
	Level   float64 `json:"level"`
	// P is the two-sided Mann-Whitney U test p-value; PAdj is P adjusted
	// over every finding of the file (Benjamini-Hochberg).
	P    float64 `json:"p"`
	PAdj float64 `json:"p_adj"`
	N1   int     `json:"n_versus"`
	N2   int     `json:"n_strategy"`
	// Verdict is "difference", "no meaningful difference" (below the
	// resolution: 2% or the timer floor) or "no difference detected";
	// Significant is Verdict == "difference".
	Verdict     string `json:"verdict"`
	Significant bool   `json:"significant"`
	// Direction is +1 when Strategy's value is larger, -1 when smaller, 0
	// without a difference.
	Direction int `json:"direction"`
	// Detectable is the smallest relative difference the comparison could
	// have detected (how far its ratio interval reaches from 1).
	Detectable float64 `json:"detectable,omitempty"`
	// Kernel is the kernel engine's same measure of KernelOp on the same
	// target, when the file has it, and KernelShare Delta as a share of
	// it (latencies only): what the lock adds to a real operation.
	Kernel      float64 `json:"kernel,omitempty"`
	KernelOp    string  `json:"kernel_op,omitempty"`
	KernelShare float64 `json:"kernel_share,omitempty"`
	// Explained, on a surprising difference (a serialising strategy
	// better than the unsafe baseline), is what in the data explains it,
	// or "unexplained: ...".
	Explained string `json:"explained,omitempty"`
	Text      string `json:"text"`
}
