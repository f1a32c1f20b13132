package hotpath

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"lockbench/strategies"
)

// Pattern is how foreground workers pick pages.
type Pattern uint8

const (
	// Uniform picks any page of the file.
	Uniform Pattern = iota
	// HotSpot sends 90% of operations to the first 10% of the file.
	HotSpot
	// Disjoint gives each data-writing worker its own slice of the file.
	Disjoint
	// ReadersApart sends readers to the second half of the file and every
	// other foreground worker to the first: the pages readers fill are
	// never mapped, so the reclaimer can evict them and reads keep missing.
	ReadersApart
)

// readersApart is the span of a foreground worker under ReadersApart: the
// second half of the file for a reader (data < 0: it writes no data), the
// first half for a faulter or writer.
func readersApart(npages, data int) (span, base int) {
	half := npages / 2
	if data < 0 {
		return npages - half, half
	}
	return half, 0
}

// RoleSpec says how many workers run a role and how often they act.
type RoleSpec struct {
	Role Role
	// Share of -threads for foreground roles (each gets at least one);
	// ignored for background roles, which run Count workers.
	Share float64
	Count int
	// Interval paces background roles: one operation (or flusher pass)
	// per Interval; 0 runs back to back.
	Interval time.Duration
	// Sweep makes a reclaimer's operation a pass over the whole file,
	// evicting every page it can (kswapd scanning the LRU), instead of one
	// try at a random page. Paced by Interval, its eviction rate does not
	// depend on how often a busy machine schedules the reclaimer.
	Sweep bool
}

// Scenario is a named workload preset.
type Scenario struct {
	Name        string
	Description string
	// Race is the race the scenario reproduces under the unsafe baseline
	// (R1..R5), or NoRace for a cost scenario.
	Race     strategies.Race
	FileSize int64
	Pattern  Pattern
	Roles    []RoleSpec

	// Faulter op mix: fractions of stores, loads and zaps (the rest).
	Stores, Loads float64
	// FaultAround maps neighbouring pages on read faults; Naive skips the
	// trylock and recheck.
	FaultAround, NaiveFaultAround bool
	// WritePages is the number of pages per write() and read().
	WritePages int
	// WriteFailRate is the share of write() pages where the copy stops short.
	WriteFailRate float64
	// PunchPages is the size of a punch.
	PunchPages int
	// InlineBlocks start INLINE and are re-inlined by the inliner.
	InlineBlocks int
	// GUPShare is the share of faulter stores that come from
	// get_user_pages callers (faultretry's no-retry path); 0 unless the
	// strategy option sets it.
	GUPShare float64
	// ReadIOLock makes read() take IO(S), as XFS's buffered reads take the
	// IOLOCK shared; false is ext4's and btrfs's read(), which takes no
	// inode lock.
	ReadIOLock bool
	// Delays are the points whose windows verify widens for this race.
	Delays []string
}

// Validate checks what the scenario table could get wrong and a run would
// otherwise hide: an unknown delay-point name would silently turn delay
// injection off for the race the scenario is there to reproduce.
func (s Scenario) Validate() error {
	var errs []error
	for _, p := range s.Delays {
		if _, err := parseDelayPoint(p); err != nil {
			errs = append(errs, fmt.Errorf("scenario %s: %w", s.Name, err))
		}
	}
	if s.Race >= strategies.NumRaces {
		errs = append(errs, fmt.Errorf("scenario %s: race %v is not one of R1..R5", s.Name, s.Race))
	}
	if s.Race != strategies.NoRace && len(s.Delays) == 0 {
		errs = append(errs, fmt.Errorf("scenario %s reproduces %v but names no delay point to widen its window", s.Name, s.Race))
	}
	return errors.Join(errs...)
}

const kib, mib = 1 << 10, 1 << 20

// Scenarios lists every scenario in the order `lockbench list` prints them.
var Scenarios = []Scenario{
	{
		Name: "fault-scale", Description: "faulters only (stores, loads, zaps) on disjoint pages; a flusher write-protects: fault cost and its scaling",
		FileSize: 16 * mib, Pattern: Disjoint, Stores: 0.6, Loads: 0.3, FaultAround: true,
		Roles: []RoleSpec{{Role: RoleFaulter, Share: 1}, {Role: RoleFlusher, Count: 1, Interval: time.Millisecond}},
	},
	{
		Name: "fsync-storm", Description: "faulters storing while an fsync thread syncs every 500µs and a puncher reopens holes (btrfs mmap write vs fsync logging, R5)",
		Race: strategies.R5, FileSize: 1 * mib, Pattern: Uniform, Stores: 0.8, Loads: 0.1, FaultAround: true,
		PunchPages: 16,
		Roles: []RoleSpec{{Role: RoleFaulter, Share: 1}, {Role: RoleFsync, Count: 1, Interval: 500 * time.Microsecond},
			{Role: RolePuncher, Count: 1, Interval: 2 * time.Millisecond}, {Role: RoleFlusher, Count: 1, Interval: 200 * time.Microsecond}},
		Delays: []string{"fsync-leaf"},
	},
	{
		Name: "fsync-write", Description: "fsync-storm without the puncher: faulters storing while an fsync thread syncs every 500µs, so write faults stall on fsync alone (a cost scenario)",
		FileSize: 1 * mib, Pattern: Uniform, Stores: 0.8, Loads: 0.1, FaultAround: true,
		Roles: []RoleSpec{{Role: RoleFaulter, Share: 1}, {Role: RoleFsync, Count: 1, Interval: 500 * time.Microsecond},
			{Role: RoleFlusher, Count: 1, Interval: 200 * time.Microsecond}},
	},
	fsyncRead(false),
	fsyncRead(true),
	{
		Name: "punch", Description: "faulters loading and storing with fault-around while a puncher punches holes (page instantiation vs hole punch, R2)",
		Race: strategies.R2, FileSize: 1 * mib, Pattern: Uniform, Stores: 0.3, Loads: 0.6, FaultAround: true, PunchPages: 16,
		Roles:  []RoleSpec{{Role: RoleFaulter, Share: 1}, {Role: RolePuncher, Count: 1, Interval: 100 * time.Microsecond}, {Role: RoleFlusher, Count: 1, Interval: 200 * time.Microsecond}},
		Delays: []string{"punch-drop-free"},
	},
	{
		Name: "punch-naive", Description: "punch with naive fault-around (no trylock and recheck): stale mappings of punched pages (R2)",
		Race: strategies.R2, FileSize: 1 * mib, Pattern: Uniform, Stores: 0.3, Loads: 0.6, FaultAround: true, NaiveFaultAround: true, PunchPages: 16,
		Roles:  []RoleSpec{{Role: RoleFaulter, Share: 1}, {Role: RolePuncher, Count: 1, Interval: 100 * time.Microsecond}, {Role: RoleFlusher, Count: 1, Interval: 200 * time.Microsecond}},
		Delays: []string{"punch-drop-free", "fault-around"},
	},
	{
		Name: "write-fail", Description: "writers whose copies fail short while faulters store into the same ranges (failed write vs write fault, R1; fstests 344/346)",
		Race: strategies.R1, FileSize: 1 * mib, Pattern: Uniform, Stores: 0.9, Loads: 0.05, FaultAround: true, WritePages: 8, WriteFailRate: 0.05,
		Roles:      []RoleSpec{{Role: RoleWriter, Share: 0.5}, {Role: RoleFaulter, Share: 0.5}, {Role: RolePuncher, Count: 1, Interval: 300 * time.Microsecond}, {Role: RoleFlusher, Count: 1, Interval: time.Millisecond}},
		PunchPages: 64, Delays: []string{"write-copy", "cleanup"},
	},
	{
		Name: "stale-map", Description: "partial-page writers, a flusher and a reclaimer on a small file (stale cached mapping, R3)",
		Race: strategies.R3, FileSize: 256 * kib, Pattern: Uniform, WritePages: 1, PunchPages: 4,
		Roles:  []RoleSpec{{Role: RoleWriter, Share: 1}, {Role: RoleFlusher, Count: 1}, {Role: RoleReclaimer, Count: 1}, {Role: RolePuncher, Count: 1, Interval: 500 * time.Microsecond}},
		Delays: []string{"write-after-map"},
	},
	{
		Name: "inline", Description: "writers and faulters on inline-data blocks that an inliner re-creates (inline conversion in page_mkwrite, R4)",
		Race: strategies.R4, FileSize: 64 * kib, Pattern: HotSpot, Stores: 0.9, Loads: 0.05, WritePages: 1, InlineBlocks: 1,
		Roles:  []RoleSpec{{Role: RoleWriter, Share: 0.5}, {Role: RoleFaulter, Share: 0.5}, {Role: RoleInliner, Count: 1, Interval: 100 * time.Microsecond}},
		Delays: []string{"write-after-map", "inline-write", "inline-convert"},
	},
	{
		Name: "mixed", Description: "everything at once: faulters, writers, readers, fsync, punch, truncate, flusher, reclaimer",
		FileSize: 8 * mib, Pattern: HotSpot, Stores: 0.5, Loads: 0.4, FaultAround: true, WritePages: 4, PunchPages: 16,
		Roles: []RoleSpec{
			{Role: RoleFaulter, Share: 0.5}, {Role: RoleWriter, Share: 0.25}, {Role: RoleReader, Share: 0.25},
			{Role: RoleFsync, Count: 1, Interval: 10 * time.Millisecond}, {Role: RolePuncher, Count: 1, Interval: 5 * time.Millisecond},
			{Role: RoleTruncater, Count: 1, Interval: 20 * time.Millisecond}, {Role: RoleFlusher, Count: 1, Interval: time.Millisecond},
			{Role: RoleReclaimer, Count: 1, Interval: 100 * time.Microsecond},
		},
	},
}

// fsyncRead is the fsync-read scenario; with xfs, read() takes IO(S) as XFS's
// buffered reads take the IOLOCK, which makes fsync's IO(X) stall every
// read() in every strategy (the model before docs/MODEL.md's correction).
func fsyncRead(xfs bool) Scenario {
	s := Scenario{
		Name: "fsync-read", Description: "faulters storing in one half of a 1 MiB file, readers reading 64 KiB at a time from the other half while a reclaimer sweeps it every 500µs (reads miss and fill), fsync every 1ms, a puncher reopening holes every 2ms (the btrfs claim: fsync's lock should stall cache-missing reads under rangelock, only write faults under rwsem; R5)",
		Race: strategies.R5, FileSize: 1 * mib, Pattern: ReadersApart, Stores: 0.8, Loads: 0.1, FaultAround: true, WritePages: 16, PunchPages: 16,
		Roles: []RoleSpec{
			{Role: RoleFaulter, Share: 0.5}, {Role: RoleReader, Share: 0.5},
			{Role: RoleFsync, Count: 1, Interval: time.Millisecond}, {Role: RolePuncher, Count: 1, Interval: 2 * time.Millisecond},
			{Role: RoleFlusher, Count: 1, Interval: 200 * time.Microsecond}, {Role: RoleReclaimer, Count: 1, Interval: 500 * time.Microsecond, Sweep: true},
		},
		Delays: []string{"fsync-leaf"},
	}
	if xfs {
		s.Name, s.Race, s.Delays, s.ReadIOLock = "fsync-read-xfs", strategies.NoRace, nil, true
		s.Description = "fsync-read with XFS's buffered read(), which takes IO(S): fsync's IO(X) then stalls every read() in every strategy (a cost scenario)"
	}
	return s
}

// ScenarioNames returns the scenario names in table order.
func ScenarioNames() []string {
	n := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		n[i] = s.Name
	}
	return n
}

// LookupScenario returns the scenario called name, validated.
func LookupScenario(name string) (Scenario, error) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, s.Validate()
		}
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (allowed: %s)", name, strings.Join(ScenarioNames(), ", "))
}

// workerPlan expands the scenario's roles for `threads` foreground workers.
func (s Scenario) workerPlan(threads int) []RoleSpec {
	var fg, bg []RoleSpec
	var shares float64
	for _, r := range s.Roles {
		if r.Role.Foreground() {
			fg = append(fg, r)
			shares += r.Share
		} else {
			bg = append(bg, r)
		}
	}
	var out []RoleSpec
	left := threads
	for i, r := range fg {
		n := int(float64(threads) * r.Share / shares)
		if i == len(fg)-1 {
			n = left
		}
		n = max(n, 1)
		left -= n
		for j := 0; j < n; j++ {
			out = append(out, r)
		}
	}
	for _, r := range bg {
		for j := 0; j < max(r.Count, 1); j++ {
			out = append(out, r)
		}
	}
	return out
}

// ForegroundWorkers is the number of foreground workers the scenario runs
// at threads (each foreground role has at least one).
func (s Scenario) ForegroundWorkers(threads int) int {
	n := 0
	for _, r := range s.workerPlan(threads) {
		if r.Role.Foreground() {
			n++
		}
	}
	return n
}

// MinPages is the smallest file, in pages, the scenario can run on: its
// writes, punches, fault-around window and inline blocks must fit, with room
// for the truncater to cut at least one page.
func (s Scenario) MinPages() int {
	return max(faultAroundPages, 2*max(s.WritePages, 1), s.PunchPages+1, s.InlineBlocks+1, 4)
}
