package strategies

import (
	"os"
	"strings"
	"testing"
)

// TestDesignTableIsCurrent keeps docs/DESIGN.md's lock table equal to the
// strategies' plans.
func TestDesignTableIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("../docs/DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := LockTable(); !strings.Contains(string(doc), want) {
		t.Errorf("docs/DESIGN.md does not contain the current lock table; want:\n%s", want)
	}
}

// TestNewRejectsBadInput covers the strategy name and options errors.
func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"bogus", Options{}, "unknown strategy \"bogus\" (allowed: none, rangelock, rwsem, seqcount, faultretry)"},
		{"faultretry", Options{GUPShare: 1.5}, "-gup-share must be in [0,1], got 1.5"},
		{"faultretry", Options{GUPShare: -0.1}, "-gup-share must be in [0,1], got -0.1"},
		{"faultretry", Options{Fallback: "x"}, "-fallback: unknown fallback \"x\" (allowed: sigbus, convert-unlocked)"},
	} {
		_, err := New(tc.name, tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%q, %+v) = %v; want %q", tc.name, tc.opts, err, tc.want)
		}
	}
	for _, n := range Names() {
		s, err := New(n, Options{})
		if err != nil || s.Name() != n {
			t.Errorf("New(%q) = %v, %v; want a strategy named %q", n, s, err, n)
		}
	}
}

// TestPlansRespectModel spot-checks the plans against model.md.
func TestPlansRespectModel(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		op       Op
		want     string
	}{
		{"none", OpReadFault, "-"},         // R2: page fill without IL
		{"none", OpWriteCleanup, "-"},      // R1: cleanup without IL
		{"none", OpFsyncLog, "IO(X)"},      // R5: fsync without IL(X) or ER
		{"rwsem", OpReadFault, "IL(S)"},    // the invalidate_lock fix
		{"rwsem", OpWriteCleanup, "IL(X)"}, // the XFS fix
		{"rwsem", OpFsyncLog, "IO(X) IL(X)"},
		{"rwsem", OpPunch, "IL(X)"},
		{"seqcount", OpWriteFault, "IL(S)"},
		{"rangelock", OpFsyncLog, "IO(X) ER(X 0..max)"},
		{"rangelock", OpWriteFault, "ER(X range)"},
		{"rangelock", OpRead, "ER(S range)"},
		{"rangelock", OpWritebackEnd, "ER(X range)"},
		{"faultretry", OpInlineConvert, "IL(S)"},
	} {
		s, _ := New(tc.strategy, Options{})
		if got := s.Plan(tc.op).Locks(); got != tc.want {
			t.Errorf("%s.Plan(%s) = %s; want %s", tc.strategy, tc.op, got, tc.want)
		}
	}
	if !(SeqCount{}).Mechanisms().ValidateMappings || (RWSemStrategy{}).Mechanisms().ValidateMappings {
		t.Error("only seqcount validates mappings")
	}
	if (FaultRetry{}).Mechanisms().Retry == nil || (None{}).Mechanisms().Retry != nil {
		t.Error("only faultretry retries")
	}
	if !(None{}).Mechanisms().UnsafeCleanup || (RWSemStrategy{}).Mechanisms().UnsafeCleanup {
		t.Error("only none has the unsafe cleanup")
	}
}
