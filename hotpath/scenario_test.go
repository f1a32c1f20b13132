package hotpath

import (
	"strings"
	"testing"
	"time"

	"lockbench/strategies"
)

// TestScenariosValidate: every scenario of the table names only known delay
// points and a race with a window to widen, and LookupScenario finds it.
func TestScenariosValidate(t *testing.T) {
	for _, sc := range Scenarios {
		if err := sc.Validate(); err != nil {
			t.Errorf("%s.Validate() = %v; want nil", sc.Name, err)
		}
		if _, err := LookupScenario(sc.Name); err != nil {
			t.Errorf("LookupScenario(%q) = %v; want nil", sc.Name, err)
		}
	}
}

// TestScenarioValidateRejects: a typo in a delay-point name fails instead of
// silently turning delay injection off (the regression this guards).
func TestScenarioValidateRejects(t *testing.T) {
	good, err := LookupScenario("fsync-storm")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Scenario)
		want string
	}{
		{"typo in a delay point", func(s *Scenario) { s.Delays = []string{"fsync-leef"} },
			`scenario fsync-storm: unknown delay point "fsync-leef" (allowed: write-after-map, write-copy, cleanup, fault-fill, fault-around, punch-drop-free, writeback-io, inline-write, inline-convert, fsync-leaf)`},
		{"race without a delay point", func(s *Scenario) { s.Delays = nil },
			"scenario fsync-storm reproduces R5 but names no delay point to widen its window"},
		{"race out of range", func(s *Scenario) { s.Race = strategies.NumRaces },
			"scenario fsync-storm: race Race(6) is not one of R1..R5"},
	} {
		sc := good
		tc.edit(&sc)
		if err := sc.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("%s: Validate() = %v; want %q", tc.name, err, tc.want)
		}
	}
}

// TestOpenRejectsUnknownDelayPoint: Open validates a delay config rather
// than ignoring the names it does not know.
func TestOpenRejectsUnknownDelayPoint(t *testing.T) {
	st, _ := strategies.New("rwsem", strategies.Options{})
	dir := t.TempDir()
	for _, tc := range []struct {
		dc   DelayConfig
		want string
	}{
		{DelayConfig{For: 50 * time.Microsecond, Points: []string{"cleanup", "clenaup"}}, `delay injection 50µs at cleanup,clenaup: unknown delay point "clenaup"`},
		{DelayConfig{For: 0, Points: []string{"cleanup"}}, "delay injection 0s at cleanup: delay must be in (0, 1s], got 0s"},
	} {
		in, err := Open(InodeConfig{Dir: dir, FileSize: tPages * tPageSize, PageSize: tPageSize, Slots: 1, Strategy: st, Regions: 8, Delay: &tc.dc})
		if err == nil {
			in.Close()
			t.Errorf("Open with %v = nil error; want %q", tc.dc, tc.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Open with %v = %v; want %q", tc.dc, err, tc.want)
		}
	}
	checkEmptyDir(t, dir)
}

// TestReadersApartSpan: readers pick from the second half, faulters and
// writers from the first, so the pages readers fill are never mapped.
func TestReadersApartSpan(t *testing.T) {
	sc := Scenario{Pattern: ReadersApart, Roles: []RoleSpec{{Role: RoleFaulter, Share: 1}, {Role: RoleReader, Share: 1}}}
	for _, tc := range []struct {
		data, npages, span, base int
	}{
		{data: -1, npages: 256, span: 128, base: 128}, // a reader
		{data: 0, npages: 256, span: 128, base: 0},    // a faulter
		{data: -1, npages: 17, span: 9, base: 8},      // odd sizes: the reader takes the rest
		{data: 1, npages: 17, span: 8, base: 0},
	} {
		if span, base := sc.span(2, tc.npages, tc.data); span != tc.span || base != tc.base {
			t.Errorf("span(2, %d, data %d) = %d, %d; want %d, %d", tc.npages, tc.data, span, base, tc.span, tc.base)
		}
	}
}
