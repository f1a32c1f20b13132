package strategies

import "testing"

// TestSchemes pins each real filesystem's scheme to docs/MODEL.md's kernel
// table: which site takes which lock.
func TestSchemes(t *testing.T) {
	want := map[string]map[Op]string{
		"btrfs": {OpReadFault: "IL(S) ER(S range)", OpRead: "IL(S) ER(S range)", OpWriteFault: "MK(S) ER(X range)",
			OpFsyncLog: "IO(X) MK(X)", OpPunch: "MK(X) ER(X range)", OpTruncate: "MK(X) ER(X range)", OpWriteCleanup: "IL(X)", OpWritebackEnd: "ER(X range)", OpWrite: "-"},
		"ext4": {OpReadFault: "IL(S)", OpRead: "IL(S)", OpWriteFault: "IL(S)", OpFsyncLog: "-", OpPunch: "IL(X)", OpTruncate: "IL(X)", OpWriteCleanup: "IL(X)", OpWritebackEnd: "-", OpWrite: "-"},
	}
	want["xfs"] = want["ext4"]
	for fs, ops := range want {
		s, ok := SchemeFor(fs)
		if !ok {
			t.Fatalf("SchemeFor(%q): no scheme", fs)
		}
		for op, locks := range ops {
			if got := s.Plan(op).Locks(); got != locks {
				t.Errorf("%s %v: %s, want %s", s.Name(), op, got, locks)
			}
		}
		if s.ReadIOLock() != (fs == "xfs") {
			t.Errorf("%s: ReadIOLock %v, want %v", s.Name(), s.ReadIOLock(), fs == "xfs")
		}
		info, err := Lookup(s.Name())
		if err != nil || info.build(Options{}).Name() != s.Name() {
			t.Errorf("Lookup(%q) = %v, %v", s.Name(), info.Name, err)
		}
	}
	if _, ok := SchemeFor("tmpfs"); ok {
		t.Errorf("SchemeFor(tmpfs) has a scheme; tmpfs has no page_mkwrite and no log to model")
	}
	for _, n := range Names() {
		for _, sn := range SchemeNames() {
			if n == sn {
				t.Errorf("scheme %s is in All: the verify matrix and the default study would run it", sn)
			}
		}
	}
}
