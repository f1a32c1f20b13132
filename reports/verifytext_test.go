package reports

import (
	"bytes"
	"errors"
	"testing"

	"lockbench/results"
)

// verifyMatrixFixture is the study fixture's matrix plus a kernel column
// with a deadlocked cell that does not match its expectation.
func verifyMatrixFixture() (*results.Matrix, []string, []string) {
	m := *studyFixture().Verify
	m.FSType = "btrfs"
	m.Cells = append(append([]results.VerifyCell(nil), m.Cells...), results.VerifyCell{
		Strategy: Kernel, Scenario: "write-fail", Race: "R1", Expect: results.Safe, Verdict: results.Deadlock,
		Seed: 3, Seeds: 1, Reproduced: 1, Detail: "no progress in 5s", Replay: "go run ./cmd/lockbench run -strategy kernel"})
	sts := []string{"none", "rangelock", "rwsem", "seqcount", "faultretry", Kernel}
	// holetest has no cells: its row is left out.
	scs := []string{"fsync-storm", "write-fail", "stale-map", "holetest"}
	return &m, sts, scs
}

// TestWriteMatrixGolden: verify's terminal matrix, rows by scenario,
// columns by strategy, the kernel named with its file system, "-" where a
// strategy has no cell, "!" on a mismatch, then the non-safe cells.
func TestWriteMatrixGolden(t *testing.T) {
	m, sts, scs := verifyMatrixFixture()
	var buf bytes.Buffer
	if err := WriteMatrix(&buf, m, sts, scs); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "verify-matrix.text.golden", buf.Bytes())
}

// TestWriteMatrixWriteError: a write error is returned, not swallowed.
func TestWriteMatrixWriteError(t *testing.T) {
	m, sts, scs := verifyMatrixFixture()
	for _, n := range []int{0, 100, 1000} {
		if err := WriteMatrix(&failWriter{n: n}, m, sts, scs); !errors.Is(err, errDiskFull) {
			t.Errorf("WriteMatrix(writer failing after %d bytes) = %v; want %v", n, err, errDiskFull)
		}
	}
}
