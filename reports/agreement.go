package reports

import (
	"fmt"
	"io"
	"slices"

	"lockbench/results"
)

// This file measures how well two studies agree: issue 20's reproducibility
// goal ("two back-to-back studies with different seeds agree on at least
// 90% of the differences either states, and never state opposite
// directions"). The findings of both files are recomputed with this
// build's statistics (Findings), matched by id, and counted:
//
//	agreement = ids both state as a difference in the same direction
//	            / ids either states as a difference
//
// An id one file does not have at all (a cell missing, a target the other
// machine could not make) is counted apart and left out of the share.

// Agreement is the comparison of two studies' findings, by id.
type Agreement struct {
	IDsA, IDsB int // findings in each file
	Common     int // ids in both
	DiffA      int // differences among the common ids, in A
	DiffB      int
	Either     int // common ids either file states as a difference
	Both       int // of those, stated by both in the same direction
	Opposite   int // stated by both in opposite directions
	// OnlyA and OnlyB are the ids one file has and the other has not.
	OnlyA, OnlyB []string
	// Disagree are the common ids stated as a difference by one file
	// only, or in opposite directions, in the findings' order of A.
	Disagree []AgreementRow
}

// AgreementRow is one id on which two studies disagree.
type AgreementRow struct {
	ID   string
	A, B results.Finding
}

// Share is Both / Either: 1 when neither file states a difference.
func (a Agreement) Share() float64 {
	if a.Either == 0 {
		return 1
	}
	return float64(a.Both) / float64(a.Either)
}

// Agree compares the findings of two studies.
func Agree(a, b *results.File) Agreement {
	return agree(Findings(a), Findings(b))
}

func agree(fa, fb []results.Finding) Agreement {
	ag := Agreement{IDsA: len(fa), IDsB: len(fb)}
	byID := map[string]results.Finding{}
	for _, f := range fb {
		byID[f.ID] = f
	}
	inA := map[string]bool{}
	for _, x := range fa {
		inA[x.ID] = true
		y, ok := byID[x.ID]
		if !ok {
			ag.OnlyA = append(ag.OnlyA, x.ID)
			continue
		}
		ag.Common++
		dx, dy := x.Significant, y.Significant
		if dx {
			ag.DiffA++
		}
		if dy {
			ag.DiffB++
		}
		if !dx && !dy {
			continue
		}
		ag.Either++
		switch {
		case dx && dy && x.Direction == y.Direction:
			ag.Both++
			continue
		case dx && dy:
			ag.Opposite++
		}
		ag.Disagree = append(ag.Disagree, AgreementRow{ID: x.ID, A: x, B: y})
	}
	for _, y := range fb {
		if !inA[y.ID] {
			ag.OnlyB = append(ag.OnlyB, y.ID)
		}
	}
	return ag
}

// WriteAgreement prints ag for people: the figure, then one line per
// disagreement with both files' verdicts, and the ids in one file only.
func WriteAgreement(w io.Writer, nameA, nameB string, ag Agreement) error {
	p := &errWriter{w: w}
	p.printf("agreement of %s (A) and %s (B), findings recomputed by this build, matched by id\n", nameA, nameB)
	p.printf("  findings: A %d, B %d, in both %d; differences among them: A %d, B %d\n", ag.IDsA, ag.IDsB, ag.Common, ag.DiffA, ag.DiffB)
	if ag.Either == 0 {
		p.printf("  neither states a difference: no agreement to measure\n")
	} else {
		p.printf("  stated as a difference by either: %d; by both, same direction: %d (%s); opposite directions: %d\n",
			ag.Either, ag.Both, formatPercent(ag.Share()), ag.Opposite)
	}
	for _, r := range ag.Disagree {
		p.printf("  %s\n    A: %s\n    B: %s\n", r.ID, agreementClause(r.A), agreementClause(r.B))
	}
	if len(ag.OnlyA) > 0 {
		p.printf("  in A only: %d findings (%s)\n", len(ag.OnlyA), firstFew(ag.OnlyA))
	}
	if len(ag.OnlyB) > 0 {
		p.printf("  in B only: %d findings (%s)\n", len(ag.OnlyB), firstFew(ag.OnlyB))
	}
	return p.err
}

// agreementClause is a finding's verdict with its repetitions and its
// unadjusted p, which say how near the threshold it was.
func agreementClause(f results.Finding) string {
	return fmt.Sprintf("%s (n=%d+%d, %s)", clause(f), f.N2, f.N1, formatP(f.P))
}

func firstFew(ids []string) string {
	const n = 3
	s := slices.Clone(ids)
	if len(s) > n {
		return fmt.Sprint(s[:n]) + " ..."
	}
	return fmt.Sprint(s)
}
