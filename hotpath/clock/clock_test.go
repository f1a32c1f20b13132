package clock

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// newOrSkip returns a Clock of kind, skipping the test where the machine has
// no usable TSC and kind is TSC.
func newOrSkip(t testing.TB, kind Kind) *Clock {
	t.Helper()
	if kind == TSC {
		if err := tscSupport(); err != nil {
			t.Skipf("no usable TSC: %v", err)
		}
	}
	c, err := New(kind)
	if err != nil {
		t.Fatalf("New(%v) = %v", kind, err)
	}
	return c
}

func TestParseKind(t *testing.T) {
	good := []struct {
		in   string
		want Kind
	}{
		{"auto", Auto}, // the default
		{"tsc", TSC},
		{"mono", Mono},
	}
	for _, tc := range good {
		if got, err := ParseKind(tc.in); got != tc.want || err != nil {
			t.Errorf("ParseKind(%q) = %v, %v; want %v, nil", tc.in, got, err, tc.want)
		}
		if got := tc.want.String(); got != tc.in {
			t.Errorf("%d.String() = %q; want %q", tc.want, got, tc.in)
		}
	}

	bad := []string{
		"",           // empty flag value
		"TSC",        // names are exact: validate, never repair
		" tsc",       // nor trimmed
		"rdtsc",      // the instruction, not the kind
		"time.Since", // a benchmark label, not a kind
	}
	for _, in := range bad {
		_, err := ParseKind(in)
		if err == nil {
			t.Errorf("ParseKind(%q) = nil error; want one", in)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "auto, tsc, mono") || strings.Contains(msg, "\n") {
			t.Errorf("ParseKind(%q) error = %q; want one line listing auto, tsc, mono", in, msg)
		}
	}
}

func TestKindNamesIsACopy(t *testing.T) {
	KindNames()[0] = "broken"
	if got := Auto.String(); got != "auto" {
		t.Errorf("after editing KindNames(), Auto.String() = %q; want auto", got)
	}
}

// TestNewChoosesCounter drives New's choice with a fake TSC probe, so the
// fallback is tested on machines that have a TSC and vice versa.
func TestNewChoosesCounter(t *testing.T) {
	const hz = 2.5e9
	usable := func() (float64, error) { return hz, nil }
	unusable := func() (float64, error) { return 0, errors.New("TSC is not invariant") }
	unprobed := func() (float64, error) { t.Error("Mono probed the TSC"); return hz, nil }

	tests := []struct {
		kind     Kind
		probe    func() (float64, error)
		wantKind string
		wantHz   float64
		fallback bool // Fallback() != nil
		err      bool
	}{
		{Auto, usable, "tsc", hz, false, false},     // Auto takes a usable TSC
		{Auto, unusable, "mono", 1e9, true, false},  // and falls back, saying why
		{TSC, usable, "tsc", hz, false, false},      // TSC on request
		{TSC, unusable, "", 0, false, true},         // is an error when unusable, not a fallback
		{Mono, unprobed, "mono", 1e9, false, false}, // Mono never runs CPUID or calibrates
		{Kind(7), unprobed, "", 0, false, true},     // out of range
	}
	for _, tc := range tests {
		c, err := newClock(tc.kind, tc.probe)
		if tc.err {
			if err == nil {
				t.Errorf("newClock(%v) = %s clock; want error", tc.kind, c.Kind())
			}
			continue
		}
		if err != nil {
			t.Errorf("newClock(%v) = %v; want a %s clock", tc.kind, err, tc.wantKind)
			continue
		}
		if got := c.Kind(); got != tc.wantKind {
			t.Errorf("newClock(%v).Kind() = %q; want %q", tc.kind, got, tc.wantKind)
		}
		if got := c.FreqHz(); got != tc.wantHz {
			t.Errorf("newClock(%v).FreqHz() = %g; want %g", tc.kind, got, tc.wantHz)
		}
		if got := c.Fallback() != nil; got != tc.fallback {
			t.Errorf("newClock(%v).Fallback() = %v; want non-nil %v", tc.kind, c.Fallback(), tc.fallback)
		}
	}
}

func TestMonotonic(t *testing.T) {
	for _, kind := range []Kind{TSC, Mono} {
		t.Run(kind.String(), func(t *testing.T) {
			c := newOrSkip(t, kind)
			const reads = 1_000_000
			prev := c.Now()
			for i := range reads {
				now := c.Now()
				if now < prev {
					t.Fatalf("read %d: Now() = %d after %d; went back %d ticks", i, now, prev, prev-now)
				}
				prev = now
			}
		})
	}
}

// TestSleep checks the calibration end to end: a 20 ms sleep must read as
// 20 ms give or take a broken conversion. The band is wide because a shared
// machine may oversleep by a lot; it catches a frequency off by 2x or more.
func TestSleep(t *testing.T) {
	for _, kind := range []Kind{Auto, TSC, Mono} {
		t.Run(kind.String(), func(t *testing.T) {
			c := newOrSkip(t, kind)
			if c.Kind() == "tsc" {
				if hz := c.FreqHz(); hz < minHz || hz > maxHz {
					t.Errorf("FreqHz() = %g; want within %g..%g", hz, minHz, maxHz)
				}
			}
			start := c.Now()
			time.Sleep(20 * time.Millisecond)
			if got := c.Since(start); got < 10*time.Millisecond || got > 2*time.Second {
				t.Errorf("%s clock: Since(before a 20ms sleep) = %v; want 10ms..2s", c.Kind(), got)
			}
			t.Logf("%s: %.6g Hz, fallback %v, floor %v", c.Kind(), c.FreqHz(), c.Fallback(), c.Floor())
		})
	}
}

func TestCalibrate(t *testing.T) {
	// A counter at 3 GHz derived from the monotonic clock: calibrate must
	// find its rate, on any architecture.
	base := time.Now()
	fake := func() int64 { return 3 * int64(time.Since(base)) }
	hz, err := calibrate(fake, 3, 5*time.Millisecond)
	if err != nil || hz < 2.9e9 || hz > 3.1e9 {
		t.Errorf("calibrate(3 GHz counter) = %g, %v; want 3e9, nil", hz, err)
	}

	// A counter whose rate doubles with every window is not a clock. Each
	// window makes 10 reads (two brackets of 5).
	var ticks, lastNs, reads int64
	rate := int64(1)
	doubling := func() int64 {
		if reads++; reads%10 == 0 {
			rate *= 2
		}
		ns := int64(time.Since(base))
		ticks += (ns - lastNs) * rate
		lastNs = ns
		return ticks
	}
	if hz, err := calibrate(doubling, 3, 5*time.Millisecond); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("calibrate(counter doubling its rate) = %g, %v; want windows-disagree error", hz, err)
	}

	// A counter far too slow to be a TSC.
	slow := func() int64 { return int64(time.Since(base)) / 1000 }
	if hz, err := calibrate(slow, 3, 5*time.Millisecond); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("calibrate(1 MHz counter) = %g, %v; want out-of-range error", hz, err)
	}
}

func TestDuration(t *testing.T) {
	tsc := &Clock{tsc: true, hz: 2.5e9, nsPerTick: 0.4}
	mono := &Clock{hz: 1e9, nsPerTick: 1}
	tests := []struct {
		c    *Clock
		d    Ticks
		want time.Duration
	}{
		{tsc, 0, 0},
		{tsc, 25, 10},   // 25 ticks at 2.5 GHz
		{tsc, 26, 10},   // 10.4 ns rounds down
		{tsc, 29, 12},   // 11.6 ns rounds up
		{tsc, -25, -10}, // a reading taken late on another CPU
		{tsc, 2_500_000_000, time.Second},
		{mono, 1, 1},             // mono ticks are nanoseconds
		{mono, 1 << 52, 1 << 52}, // exactly, for 52 days and more
	}
	for _, tc := range tests {
		if got := tc.c.Duration(tc.d); got != tc.want {
			t.Errorf("%s Duration(%d) = %v; want %v", tc.c.Kind(), tc.d, got, tc.want)
		}
	}
}

func TestNowDoesNotAllocate(t *testing.T) {
	for _, kind := range []Kind{TSC, Mono} {
		c := newOrSkip(t, kind)
		if n := testing.AllocsPerRun(1000, func() { c.Since(c.Now()) }); n != 0 {
			t.Errorf("%s: Now and Since allocate %v times per call; want 0", kind, n)
		}
	}
}

func TestFloorIsPositiveAndSmall(t *testing.T) {
	for _, kind := range []Kind{TSC, Mono} {
		c := newOrSkip(t, kind)
		// Not a timing assertion: the median of 10001 back-to-back reads
		// is far below a millisecond on any machine that runs the tests.
		if f := c.Floor(); f < 0 || f > time.Millisecond {
			t.Errorf("%s: Floor() = %v; want 0..1ms", kind, f)
		}
	}
}

// TestDeadline: a deadline is never short of d (it rounds up to a whole
// tick) and never more than a tick beyond it, on the TSC at an odd
// frequency and on the monotonic clock.
func TestDeadline(t *testing.T) {
	for _, hz := range []float64{2_593_906_000, 1e9, 3.3e9} {
		c, err := newClock(TSC, func() (float64, error) { return hz, nil })
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []time.Duration{0, 1, 7, 500, 3000, 50_000, 400_000, 2_000_000, 1 << 40} {
			for _, t0 := range []Ticks{0, 12345, 1 << 50} {
				got := c.Deadline(t0, d) - t0
				if ns := float64(got) * c.nsPerTick; ns < float64(d) || ns >= float64(d)+c.nsPerTick {
					t.Errorf("%g Hz: Deadline(%d, %v) is %d ticks (%.2f ns); want within one tick at or above %v", hz, t0, d, got, ns, d)
				}
			}
		}
	}
	m, err := New(Mono)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Deadline(100, 3*time.Microsecond); got != 3100 {
		t.Errorf("mono Deadline(100, 3µs) = %d; want 3100", got)
	}
}
