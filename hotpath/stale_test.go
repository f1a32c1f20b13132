package hotpath

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCleanStalePlanted: issue 22 item 3. A FIFO named like an old backing
// file of a live pid blocked CleanStale in open() forever; links named
// like a dead run's backing files were removed (not what they point to,
// but not lockbench's either). Now neither is opened nor removed.
func TestCleanStalePlanted(t *testing.T) {
	dir := t.TempDir()
	decoy := filepath.Join(t.TempDir(), "decoy")
	os.WriteFile(decoy, []byte("decoy"), 0o600)
	fifo := filepath.Join(dir, backingPrefix+"1-fifo") // pid 1 is alive
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(fifo, old, old)
	cmd := exec.Command("/bin/true")
	cmd.Run()
	link := filepath.Join(dir, fmt.Sprintf("%s%d-link", backingPrefix, cmd.Process.Pid))
	os.Symlink(decoy, link)
	disk := filepath.Join(dir, fmt.Sprintf("%s%d-x.disk", backingPrefix, cmd.Process.Pid))
	os.Symlink(decoy, disk)

	done := make(chan error, 1)
	go func() {
		_, err := CleanStale(dir)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("CleanStale = %v", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the open so the goroutine ends.
		if fh, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			fh.Close()
		}
		t.Fatal("CleanStale blocked on a planted FIFO")
	}
	for _, p := range []string{fifo, link, disk} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("CleanStale removed %s, not a backing file of this uid: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(decoy); string(b) != "decoy" {
		t.Errorf("the decoy changed: %q", b)
	}
}

// TestOpShare: issue 22 item 18 and issue 21: the shares add up to the
// budget exactly, and a worker with none runs none (-1).
func TestOpShare(t *testing.T) {
	for _, tc := range []struct {
		n  int64
		fg int
	}{{1, 2}, {5, 2}, {10, 3}, {7, 4}, {100, 7}, {3, 8}} {
		var sum int64
		for k := range tc.fg {
			s := opShare(tc.n, tc.fg, k)
			if s == 0 || s < -1 {
				t.Errorf("opShare(%d, %d, %d) = %d; want > 0 or -1", tc.n, tc.fg, k, s)
			}
			sum += max(s, 0)
		}
		if sum != tc.n {
			t.Errorf("shares of %d over %d workers add up to %d", tc.n, tc.fg, sum)
		}
	}
}
