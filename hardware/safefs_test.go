package hardware

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseMountInfo(t *testing.T) {
	in := `22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw
105 30 7:3 / /tmp/lockbench-ext4-12-x/mnt rw,relatime - ext4 /dev/loop3 rw
106 30 0:50 / /tmp/a\040b rw - tmpfs tmpfs rw,size=1024k
`
	got, err := parseMountInfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []mountInfo{{"/proc", "proc", "proc", "0:21"}, {"/tmp/lockbench-ext4-12-x/mnt", "ext4", "/dev/loop3", "7:3"}, {"/tmp/a b", "tmpfs", "tmpfs", "0:50"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseMountInfo = %v; want %v", got, want)
	}
}

// TestCleanStaleLoopsPlanted: issue 22 item 1. Stale-looking loop target
// directories whose mnt is a link to a mount point, or a directory on
// which something other than a loop device of theirs is mounted, and
// whose image is a link to a file: the cleaner unmounts nothing, detaches
// nothing and leaves the decoy file alone. Before, it unmounted the link's
// target (lazily when busy).
func TestCleanStaleLoopsPlanted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount the decoy tmpfs")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	vault := t.TempDir()
	decoyMnt := filepath.Join(vault, "mnt")
	os.Mkdir(decoyMnt, 0o755)
	if err := unix.Mount("tmpfs", decoyMnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(decoyMnt, unix.MNT_DETACH) })
	decoy := filepath.Join(vault, "file")
	os.WriteFile(decoy, []byte("decoy"), 0o600)

	cmd := exec.Command("/bin/true")
	cmd.Run()
	dead := cmd.Process.Pid
	// Root-owned (as a root run would make them) but planted: mnt a link.
	linked := filepath.Join(tmp, fmt.Sprintf("lockbench-ext4-%d-link", dead))
	os.Mkdir(linked, 0o700)
	os.Symlink(decoyMnt, filepath.Join(linked, "mnt"))
	os.Symlink(decoy, filepath.Join(linked, "image"))
	// mnt a real directory with a tmpfs, not a loop device, on it.
	other := filepath.Join(tmp, fmt.Sprintf("lockbench-ext4-%d-other", dead))
	os.MkdirAll(filepath.Join(other, "mnt"), 0o755)
	os.Chmod(other, 0o700)
	if err := unix.Mount("tmpfs", filepath.Join(other, "mnt"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(other, "mnt"), unix.MNT_DETACH) })
	os.WriteFile(filepath.Join(other, "mnt", "precious"), []byte("x"), 0o644)

	done := make(chan error, 1)
	go func() {
		_, err := CleanStaleLoops(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		t.Logf("CleanStaleLoops: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("CleanStaleLoops did not return within 20s")
	}
	mounts, _ := readMountInfo()
	mounted := map[string]bool{}
	for _, m := range mounts {
		mounted[m.Point] = true
	}
	if !mounted[decoyMnt] {
		t.Errorf("the decoy mount %s behind a planted mnt link was unmounted", decoyMnt)
	}
	if !mounted[filepath.Join(other, "mnt")] {
		t.Errorf("a tmpfs mounted on a stale-looking mnt was unmounted")
	}
	if _, err := os.Stat(filepath.Join(other, "mnt", "precious")); err != nil {
		t.Errorf("a file inside a foreign mount was removed: %v", err)
	}
	if b, err := os.ReadFile(decoy); err != nil || string(b) != "decoy" {
		t.Errorf("the decoy file changed: %q, %v", b, err)
	}
}

// TestLstatOwned: links are never taken for what they point to; a
// directory others can write is not ours.
func TestLstatOwned(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, nil, 0o600)
	link := filepath.Join(dir, "l")
	os.Symlink(f, link)
	if _, err := lstatOwned(f, unix.S_IFREG); err != nil {
		t.Errorf("lstatOwned(own file) = %v", err)
	}
	if _, err := lstatOwned(link, unix.S_IFREG); err == nil {
		t.Errorf("lstatOwned(link to own file) = nil; want not ours")
	}
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := lstatOwned(open, unix.S_IFDIR); err == nil {
		t.Errorf("lstatOwned(world-writable dir) = nil; want not ours")
	}
	fifo := filepath.Join(dir, "fifo")
	unix.Mkfifo(fifo, 0o600)
	done := make(chan error, 1)
	go func() {
		_, err := openOwnedRegular(fifo)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("openOwnedRegular(FIFO) = nil; want not a regular file")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("openOwnedRegular(FIFO) blocked")
	}
}

// TestParseSizeStrict: issue 21 item 6 and issue 22 item 19.
func TestParseSizeStrict(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4096B": 4096, "2G": 2 << 30, "2GB": 2 << 30, "2GiB": 2 << 30, "512k": 512 << 10, "1Ti": 1 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"4096iii": "is not a size", "2GBBB": "is not a size", "4096i": "is not a size", "iB": "is not a size", "-1M": "is not a size",
		"9223372036854775807": "too large", "99999999999999999999": "too large", "8388608T": "too large",
	} {
		if _, err := ParseSize(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseSize(%q) = %v; want an error with %q", in, err, msg)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4096", "2GiB", "2GBBB", "4096iii", "1T", "-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && (n < 0 || n > 1<<62) {
			t.Errorf("ParseSize(%q) = %d; out of range", s, n)
		}
	})
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add("105 30 7:3 / /tmp/x\\040y rw - ext4 /dev/loop3 rw\n")
	f.Add("1 2 3 4 5 6 -\n- - - - - - - - -\n")
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseMountInfo(strings.NewReader(s))
		if err == nil {
			for _, m := range ms {
				if m.FSType == "" {
					t.Errorf("parseMountInfo(%q) gave an entry without a type: %+v", s, m)
				}
			}
		}
	})
}
