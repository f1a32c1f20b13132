package reports

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"lockbench/results"
)

// compareFixtures are two synthetic study files of one machine: new has a
// planted regression (rangelock's write faults on tmpfs in punch 2x
// slower at p99.9), a shorter duration for write-fail, a kernel upgrade,
// no seqcount cell for fsync-write on ext4 and an extra scenario.
func compareFixtures() (base, new *results.File) {
	base = syntheticFile(rand.New(rand.NewPCG(11, 12)), 6, 0, "")
	new = syntheticFile(rand.New(rand.NewPCG(13, 14)), 6, 0, "")
	new.Machine.Kernel = "6.9.0-1-generic"
	new.Created = base.Created.Add(24 * time.Hour)
	var kept []results.Cell
	for _, c := range new.Cells {
		cfg := c.Config
		switch {
		case cfg.Scenario == "fsync-write" && cfg.Target == "dir:/tmp" && cfg.Strategy == "seqcount":
			continue
		case cfg.Scenario == "write-fail":
			c.Config.Duration = 100 * time.Millisecond
		case cfg.Scenario == "punch" && cfg.Target == "tmpfs" && cfg.Strategy == "rangelock":
			for i := range c.Reps {
				for j := range c.Reps[i].Ops {
					if c.Reps[i].Ops[j].Op == "read-fault" {
						c.Reps[i].Ops[j].Latency.P999 *= 2
					}
				}
			}
		}
		kept = append(kept, c)
	}
	extra := kept[0]
	extra.Config.Scenario = "mixed"
	new.Cells = append(kept, extra)
	return base, new
}

// TestCompareRunsGolden: `report base new` in text and HTML.
func TestCompareRunsGolden(t *testing.T) {
	base, new := compareFixtures()
	var txt, html bytes.Buffer
	if err := CompareText(&txt, base, new); err != nil {
		t.Fatal(err)
	}
	if err := CompareHTML(&html, base, new); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "compare.text.golden", txt.Bytes())
	checkGolden(t, "compare.html.golden", html.Bytes())
}

// TestCompareRunsPlanted: the planted regression is the one difference,
// in the right direction; the rest is what the fixtures changed.
func TestCompareRunsPlanted(t *testing.T) {
	base, new := compareFixtures()
	rc := CompareRuns(base, new)
	planted := "run/punch/tmpfs/2/rangelock/p99.9(read-fault)"
	found, falses := false, 0
	for _, f := range rc.Findings {
		switch {
		case f.ID == planted:
			found = f.Significant && f.Direction == 1 && f.Ratio > 1.6 && f.Ratio < 2.5
			if !found {
				t.Errorf("%s: %s, direction %d, ratio %v; want a difference, new 2x base", f.ID, f.Verdict, f.Direction, f.Ratio)
			}
		case f.Significant:
			falses++
		}
	}
	if !slices.ContainsFunc(rc.Findings, func(f results.Finding) bool { return f.ID == planted }) {
		t.Errorf("no finding %s", planted)
	}
	// Nothing else was planted: chance differences stay within the rate.
	if falses > len(rc.Findings)/20 {
		t.Errorf("%d unplanted differences of %d comparisons; want at most 5%%", falses, len(rc.Findings))
	}
	if !slices.ContainsFunc(rc.Header, func(s string) bool { return strings.Contains(s, "different kernel") }) {
		t.Errorf("header %q does not say the kernel differs", rc.Header)
	}
	if len(rc.Config) != 1 || !strings.Contains(rc.Config[0], "duration_ns") || !strings.Contains(rc.Config[0], "12 cells") {
		t.Errorf("config lines %q; want the write-fail duration, 12 cells", rc.Config)
	}
	if len(rc.OnlyBase) != 1 || !strings.Contains(rc.OnlyBase[0], "seqcount fsync-write") || len(rc.OnlyNew) != 1 || !strings.Contains(rc.OnlyNew[0], "mixed") {
		t.Errorf("only in base %q, only in new %q; want the removed and the added cell", rc.OnlyBase, rc.OnlyNew)
	}
	// Same file against itself: nothing differs.
	self := CompareRuns(base, base)
	for _, f := range self.Findings {
		if f.Verdict == string(Different) {
			t.Errorf("base against itself: %s", f.Text)
		}
	}
	if len(self.Header) != 2 || len(self.Config) != 0 {
		t.Errorf("base against itself: header %q, config %q; want no differences named", self.Header, self.Config)
	}
}
