package reports

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"lockbench/results"
)

// agree counts by id: both in the same direction, one only, opposite
// directions; ids in one file only are apart and out of the share.
func TestAgreeCounts(t *testing.T) {
	f := func(id string, dir int) results.Finding {
		x := results.Finding{ID: id, Verdict: string(NotDetected)}
		if dir != 0 {
			x.Verdict, x.Significant, x.Direction = string(Different), true, dir
		}
		return x
	}
	a := []results.Finding{f("same", 1), f("onlyA", -1), f("opposite", 1), f("none", 0), f("onlyB", 0), f("gone", 1)}
	b := []results.Finding{f("same", 1), f("onlyA", 0), f("opposite", -1), f("none", 0), f("onlyB", 1), f("new", -1)}
	ag := agree(a, b)
	if ag.Common != 5 || ag.DiffA != 3 || ag.DiffB != 3 || ag.Either != 4 || ag.Both != 1 || ag.Opposite != 1 {
		t.Errorf("agree = %+v; want 5 common, 3 and 3 differences, 4 by either, 1 by both, 1 opposite", ag)
	}
	var ids []string
	for _, r := range ag.Disagree {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"onlyA", "opposite", "onlyB"}) {
		t.Errorf("disagreements %v; want onlyA, opposite, onlyB in A's order", ids)
	}
	if !slices.Equal(ag.OnlyA, []string{"gone"}) || !slices.Equal(ag.OnlyB, []string{"new"}) {
		t.Errorf("ids in one file only: A %v, B %v; want [gone], [new]", ag.OnlyA, ag.OnlyB)
	}
	if got := ag.Share(); got != 0.25 {
		t.Errorf("Share = %v; want 0.25", got)
	}
	if got := agree(nil, nil).Share(); got != 1 {
		t.Errorf("Share of two studies without differences = %v; want 1", got)
	}
	var buf bytes.Buffer
	if err := WriteAgreement(&buf, "a", "b", agree(a[3:4], b[3:4])); err != nil || !bytes.Contains(buf.Bytes(), []byte("no agreement to measure")) {
		t.Errorf("two studies without differences: %q, %v; want no share stated", buf.String(), err)
	}
}

// Two synthetic studies, the second with one planted cell replaced by the
// baseline's repetitions: the findings that cell gave are the
// disagreements, printed with both verdicts (golden).
func TestAgreementGolden(t *testing.T) {
	a := syntheticFile(rand.New(rand.NewPCG(5, 6)), 6, 0.5, "")
	b := syntheticFile(rand.New(rand.NewPCG(5, 6)), 6, 0.5, "")
	if ag := Agree(a, b); ag.Either == 0 || ag.Share() != 1 || len(ag.Disagree) != 0 {
		t.Fatalf("a study against itself: %+v; want full agreement on its differences", ag)
	}
	none := slices.IndexFunc(b.Cells, func(c results.Cell) bool {
		return c.Config.Strategy == "none" && c.Config.Scenario == "punch" && c.Config.Target == "tmpfs"
	})
	planted := slices.IndexFunc(b.Cells, func(c results.Cell) bool {
		return c.Config.Strategy != "none" && c.Config.Strategy != "kernel" && c.Config.Scenario == "punch" &&
			c.Config.Target == "tmpfs" && c.Reps[0].Ops[2].Latency.P999 > 120000
	})
	if none < 0 || planted < 0 {
		t.Fatal("the synthetic study has no planted punch cell on tmpfs")
	}
	b.Cells[planted].Reps = b.Cells[none].Reps
	ag := Agree(a, b)
	if len(ag.Disagree) == 0 || ag.Opposite != 0 {
		t.Fatalf("agreement %+v; want the planted cell's findings as disagreements, none opposite", ag)
	}
	var buf bytes.Buffer
	if err := WriteAgreement(&buf, "a.json", "b.json", ag); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "agreement.text.golden", buf.Bytes())
}
