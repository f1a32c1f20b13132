package ktrace

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenUnmountsTracefs: issue 22 item 8. When no tracefs is mounted,
// Open mounts one to read the tracepoints and unmounts it before it
// returns, whether it succeeds or not: -locks left it mounted.
func TestOpenUnmountsTracefs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount tracefs")
	}
	dir := t.TempDir()
	old := tracefsDirs
	tracefsDirs = []string{dir}
	t.Cleanup(func() { tracefsDirs = old })
	_, err := Open(Options{})
	t.Logf("Open with tracefs at a new directory: %v", err)
	if mountedAt(dir) {
		t.Errorf("tracefs is still mounted at %s after Open", dir)
	}
}

// TestNonRootMessage: issue 22 item 17: as non-root, the error says the
// lock waits need root, not that tracefs is not mounted.
func TestNonRootMessage(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs as non-root (as root the tracepoints are readable)")
	}
	_, err := Open(Options{})
	if err == nil || !strings.Contains(err.Error(), "need root") {
		t.Errorf("Open as uid %d = %v; want \"need root\"", os.Geteuid(), err)
	}
}

func mountedAt(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// TestNonRootMessageAsNobody runs TestNonRootMessage as uid 65534 when the
// suite runs as root: a copy of the test binary, in a directory nobody can
// enter, with dropped credentials.
func TestNonRootMessageAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("TestNonRootMessage runs directly")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ktrace-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "ktrace.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestNonRootMessage$", "-test.v")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNonRootMessage") {
		t.Errorf("TestNonRootMessage as uid 65534: %v\n%s", err, out)
	}
}
