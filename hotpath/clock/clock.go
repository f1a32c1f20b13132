// Package clock is the timer of the measured path: a counter that is cheap to
// read, never goes backwards on one goroutine, and has a known floor.
//
// On amd64 with an invariant TSC the clock reads the time-stamp counter with
// RDTSCP followed by LFENCE and converts ticks to time with a frequency
// calibrated against the monotonic clock when the Clock is made. Elsewhere, or
// when asked for Mono, it reads the runtime's monotonic clock. Either way Now
// costs one small call and allocates nothing; Floor measures what timing an
// empty operation reads as, and every run prints it.
//
// The ordering of the TSC read is the point of this package. RDTSC on its own
// is not ordered against the instructions around it, so the closing read can
// execute before the timed operation has finished: plain RDTSC timed a DRAM
// miss and a contended atomic add as little more than its own floor, so it
// measures the timer, not the lock (figures: docs/MEASUREMENTS.md, "The
// timer"). RDTSCP waits for every earlier instruction to finish before
// reading, and the LFENCE after it keeps later instructions from starting
// before the read, so the timed operation lies wholly between two Now calls.
// That costs a higher floor, no better than the vDSO clock behind time.Now,
// which orders its own TSC read the same way. Auto still prefers the TSC because it does not depend on
// the kernel's clocksource: with hpet or acpi_pm every monotonic read is a
// system call, while the TSC read stays the same.
//
// Note: LFENCE;RDTSC;LFENCE orders the same way at the same cost, and was
// rejected because on AMD LFENCE orders only when the kernel has set the
// matching MSR bit. With RDTSCP the earlier side, which decides whether the
// timed operation has finished before the closing read, is architectural on
// both vendors; only the later side leans on LFENCE. Plain RDTSC was rejected
// above, and RDTSCP alone lets the operation start before the opening read.
//
// Note: on some machines the TSC advances in steps of many ticks
// (docs/MEASUREMENTS.md, "The timer"), so a single reading of a
// tens-of-nanoseconds operation is only good to one step; means over many
// operations resolve finer, as long as the operations do not run in step with
// the counter.
package clock

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Kind chooses the counter a Clock reads.
type Kind int

const (
	// Auto uses the TSC where it is usable and the monotonic clock otherwise;
	// Clock.Fallback says why it fell back.
	Auto Kind = iota
	// TSC uses the time-stamp counter, and New fails where it is not usable.
	TSC
	// Mono uses the runtime's monotonic clock.
	Mono
)

// kindNames is the one list of kind names: it feeds String, ParseKind, its
// error and KindNames (the flag help).
var kindNames = [...]string{Auto: "auto", TSC: "tsc", Mono: "mono"}

// KindNames returns the names ParseKind accepts, in order, for flag help.
func KindNames() []string { return slices.Clone(kindNames[:]) }

// String returns the name ParseKind accepts for k.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// ParseKind returns the Kind named s. Names are exact and lower case; an
// unknown name is an error that lists the allowed ones.
func ParseKind(s string) (Kind, error) {
	if i := slices.Index(kindNames[:], s); i >= 0 {
		return Kind(i), nil
	}
	return 0, fmt.Errorf("unknown clock %q: allowed values are %s", s, strings.Join(kindNames[:], ", "))
}

// Ticks is a reading of a Clock's counter. Only differences between readings
// of the same Clock mean anything; Clock.Duration converts them to time.
type Ticks int64

// Clock reads one counter and converts its ticks to time. It is immutable
// after New and safe for concurrent use.
type Clock struct {
	tsc       bool      // read the TSC; otherwise nanoseconds since base
	base      time.Time // origin of the monotonic ticks
	hz        float64   // ticks per second: calibrated for the TSC, 1e9 otherwise
	nsPerTick float64   // 1e9 / hz
	fallback  error     // why Auto chose the monotonic clock, or nil
}

// Calibration: three windows of 15 ms whose median is the frequency. The
// windows of a constant-rate counter agree to a few parts per million; more
// than maxSpread apart means the counter does not tick at a constant rate.
const (
	calWindows = 3
	calWindow  = 15 * time.Millisecond
	maxSpread  = 0.01
	minHz      = 100e6
	maxHz      = 10e9
)

// New returns a Clock of the given kind. For Auto and TSC it checks the CPU
// (a few CPUID instructions, microseconds each in a VM) and calibrates the TSC
// (about 45 ms), so make one Clock at start-up and share it.
func New(kind Kind) (*Clock, error) {
	return newClock(kind, probeTSC)
}

// newClock is New with the TSC probe passed in, so tests can choose what the
// machine offers. probe returns the TSC frequency in Hz, or why the TSC is
// not usable.
func newClock(kind Kind, probe func() (float64, error)) (*Clock, error) {
	c := &Clock{base: time.Now(), hz: 1e9, nsPerTick: 1}
	switch kind {
	case Mono:
		return c, nil
	case Auto, TSC:
		hz, err := probe()
		if err != nil {
			if kind == TSC {
				return nil, fmt.Errorf("clock tsc: %w", err)
			}
			c.fallback = err
			return c, nil
		}
		c.tsc, c.hz, c.nsPerTick = true, hz, 1e9/hz
		return c, nil
	default:
		return nil, fmt.Errorf("unknown clock %v: allowed values are %s", kind, strings.Join(kindNames[:], ", "))
	}
}

// probeTSC returns the calibrated TSC frequency, or why the TSC is unusable.
func probeTSC() (float64, error) {
	if err := tscSupport(); err != nil {
		return 0, err
	}
	return calibrate(readTSC, calWindows, calWindow)
}

// readTSC is rdtscp as a func value for calibrate.
func readTSC() int64 { return rdtscp() }

// Now returns the current reading. On the TSC it is one RDTSCP;LFENCE and
// never touches the monotonic clock. Now is not inlined (it has two callees)
// but is a predictable branch and one call; it allocates nothing.
func (c *Clock) Now() Ticks {
	if c.tsc {
		return Ticks(rdtscp())
	}
	return Ticks(time.Since(c.base))
}

// Since returns the time elapsed since the reading t.
func (c *Clock) Since(t Ticks) time.Duration {
	return c.Duration(c.Now() - t)
}

// Duration converts a difference of readings to time, rounded to the
// nanosecond.
func (c *Clock) Duration(d Ticks) time.Duration {
	return time.Duration(math.Round(float64(d) * c.nsPerTick))
}

// Deadline returns the reading d after t, rounded up to a whole tick, so
// that a wait until Now() >= Deadline(t, d) is never shorter than d. A
// busy-wait compares readings with it, and needs no conversion per read.
func (c *Clock) Deadline(t Ticks, d time.Duration) Ticks {
	return t + Ticks(math.Ceil(float64(d)/c.nsPerTick))
}

// Kind returns the counter in use, "tsc" or "mono"; never "auto".
func (c *Clock) Kind() string {
	if c.tsc {
		return TSC.String()
	}
	return Mono.String()
}

// FreqHz returns ticks per second: the calibrated TSC frequency, or 1e9 for
// the monotonic clock, whose ticks are nanoseconds.
func (c *Clock) FreqHz() float64 { return c.hz }

// Fallback returns why Auto chose the monotonic clock, or nil if it did not
// (or the Clock was not made with Auto).
func (c *Clock) Fallback() error { return c.fallback }

// floorSamples is odd so the median is one sample; at tens of nanoseconds a
// pair it makes Floor take about a millisecond.
const floorSamples = 10001

// Floor returns the timer floor: the median, over floorSamples tries, of what
// timing an empty operation reads as (start := Now(); end := Now()). It is the
// smallest duration this clock can report and is printed with every run.
// Floor measures afresh on each call (about 1 ms) and allocates its samples.
//
// Note: each sample is a whole number of counter steps, so the median is too
// and may move by one step between calls.
func (c *Clock) Floor() time.Duration {
	gaps := make([]Ticks, floorSamples)
	for range 1000 { // warm the branch predictor and caches
		c.Now()
	}
	for i := range gaps {
		start := c.Now()
		end := c.Now()
		gaps[i] = end - start
	}
	slices.Sort(gaps)
	return c.Duration(gaps[len(gaps)/2])
}

// calibrate returns the rate of read in ticks per second, measured against the
// monotonic clock over windows sleeps of length window. The result is the
// median window; it is an error when the windows disagree by more than
// maxSpread or the rate is outside minHz..maxHz.
//
// Sleeping rather than spinning keeps a shared machine free during the
// windows; only the readings at the window edges matter.
func calibrate(read func() int64, windows int, window time.Duration) (float64, error) {
	rates := make([]float64, windows)
	for i := range rates {
		t0, m0 := readPair(read)
		time.Sleep(window)
		t1, m1 := readPair(read)
		rates[i] = float64(t1-t0) / m1.Sub(m0).Seconds()
	}
	slices.Sort(rates)
	median := rates[len(rates)/2]
	if spread := (rates[len(rates)-1] - rates[0]) / median; !(spread <= maxSpread) {
		return 0, fmt.Errorf("calibration windows disagree by %.2g%% (rates %.6g Hz): counter rate is not constant", spread*100, rates)
	}
	if !(median >= minHz && median <= maxHz) {
		return 0, fmt.Errorf("calibrated %.6g Hz, outside %.0e..%.0e Hz", median, minHz, maxHz)
	}
	return median, nil
}

// readPair reads the counter and the monotonic clock at (nearly) the same
// instant: it brackets time.Now between two counter reads, keeps the tightest
// of a few brackets and returns its midpoint, so a preemption between the
// reads costs a retry rather than an error in the rate.
func readPair(read func() int64) (ticks int64, mono time.Time) {
	best := int64(math.MaxInt64)
	for range 5 {
		a := read()
		m := time.Now()
		b := read()
		if b-a < best {
			best, ticks, mono = b-a, a+(b-a)/2, m
		}
	}
	return ticks, mono
}
