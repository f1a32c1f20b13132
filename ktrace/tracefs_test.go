package ktrace

import (
	"os"
	"strings"
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
