//go:build linux

package results

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// plantLink makes a symbolic link at link to target owned by uid (root
// gives it away with lchown).
func plantLink(t *testing.T, target, link string, uid int) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func writeString(path, s string) error {
	return WriteAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, s); return err })
}

// TestWalkMiddleLink: the link rule applies to every component of an
// output path, not only the last (before, -o /tmp/x/LINK/out.json with LINK
// planted by another user followed LINK and wrote into its target).
// Cases: a world-writable directory, sticky (as /tmp) or not, with
// another user's link as a middle component: refused, naming the
// component, its owner and the directory; the caller's own link there,
// and another user's link in a directory nobody else writes: followed.
func TestWalkMiddleLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a link another owner")
	}
	for _, mode := range []os.FileMode{os.ModeSticky | 0o777, 0o777} {
		t.Run(mode.String(), func(t *testing.T) {
			shared := t.TempDir()
			if err := os.Chmod(shared, mode); err != nil {
				t.Fatal(err)
			}
			vault := t.TempDir()
			decoy := filepath.Join(vault, "out.json")
			os.WriteFile(decoy, []byte("decoy"), 0o600)
			plantLink(t, vault, filepath.Join(shared, "d"), 65534)
			for _, p := range []string{
				filepath.Join(shared, "d", "out.json"),
				filepath.Join(shared, "d", "new.json"),
				filepath.Join(shared, "d", ".", "out.json"),
			} {
				err := CheckOutput(p)
				if err == nil || !strings.Contains(err.Error(), filepath.Join(shared, "d")+" is a symbolic link of uid 65534 in "+shared) {
					t.Errorf("CheckOutput(%s) = %v; want a refusal naming the link, its owner and its directory", p, err)
				}
				if err := writeString(p, "x"); err == nil {
					t.Errorf("WriteAtomic(%s) = nil; want a refusal", p)
				}
			}
			if p, err := WriteNew(filepath.Join(shared, "d"), "saved-", ".json", &File{}); err == nil {
				t.Errorf("WriteNew through the planted link = %s; want a refusal", p)
			}
			if err := MkdirAll(filepath.Join(shared, "d", "sub", "dir")); err == nil {
				t.Errorf("MkdirAll through the planted link = nil; want a refusal")
			}
			if err := CheckLink(filepath.Join(shared, "d", "sub")); err == nil {
				t.Errorf("CheckLink through the planted link = nil; want a refusal")
			}
			if b, _ := os.ReadFile(decoy); string(b) != "decoy" {
				t.Errorf("the decoy was written: %q", b)
			}
			if m, _ := filepath.Glob(filepath.Join(vault, "*")); len(m) != 1 {
				t.Errorf("files made in the link's target: %v", m)
			}
			// The caller's own link in the same directory is followed.
			mine := filepath.Join(shared, "mine")
			plantLink(t, vault, mine, 0)
			if err := writeString(filepath.Join(mine, "mine.json"), "ok"); err != nil {
				t.Errorf("WriteAtomic through the caller's own link: %v", err)
			}
		})
	}
	t.Run("private directory", func(t *testing.T) {
		// Another user's link in a directory only root writes (0755), and
		// root's link in a root-only directory (0700): followed.
		priv, target := t.TempDir(), t.TempDir()
		os.Chmod(priv, 0o755)
		plantLink(t, target, filepath.Join(priv, "theirs"), 65534)
		plantLink(t, target, filepath.Join(priv, "root"), 0)
		for _, l := range []string{"theirs", "root"} {
			if err := writeString(filepath.Join(priv, l, l+".json"), l); err != nil {
				t.Errorf("WriteAtomic through %s link in a 0755 directory: %v", l, err)
			}
			if b, _ := os.ReadFile(filepath.Join(target, l+".json")); string(b) != l {
				t.Errorf("%s.json in the link's target: %q", l, b)
			}
		}
		os.Chmod(priv, 0o700)
		if err := MkdirAll(filepath.Join(priv, "root", "a", "b")); err != nil {
			t.Errorf("MkdirAll through root's link in a 0700 directory: %v", err)
		}
		if fi, err := os.Stat(filepath.Join(target, "a", "b")); err != nil || !fi.IsDir() {
			t.Errorf("MkdirAll did not make the directories in the link's target: %v", err)
		}
	})
}

// TestWalkSwapAfterCheck: a middle component swapped for a link after the
// walk checked it (the TOCTOU window between the check and the write)
// cannot redirect the write: it goes through the walked directory's
// descriptor, into the directory that was checked.
func TestWalkSwapAfterCheck(t *testing.T) {
	base, vault := t.TempDir(), t.TempDir()
	sub := filepath.Join(base, "sub")
	os.Mkdir(sub, 0o755)
	d, name, info, err := resolve(filepath.Join(sub, "out.json"), false)
	if err != nil || info != nil || name != "out.json" {
		t.Fatalf("resolve = %v, %q, %v", err, name, info)
	}
	defer d.close()
	// Swap: sub moves away and a link to the vault takes its place.
	moved := filepath.Join(base, "moved")
	if err := os.Rename(sub, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(vault, sub); err != nil {
		t.Fatal(err)
	}
	if err := writeRenamed(d, name, nil, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(vault, "*")); len(m) != 0 {
		t.Errorf("the write followed the swapped-in link: %v", m)
	}
	if b, err := os.ReadFile(filepath.Join(moved, "out.json")); err != nil || string(b) != "x" {
		t.Errorf("the checked directory did not get the file: %q, %v", b, err)
	}
}

// TestWalkErrors: what the walk says of paths it cannot take.
func TestWalkErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	loop := filepath.Join(dir, "loop")
	os.Symlink(loop, loop)
	for _, c := range []struct {
		path, want string
		is         error
	}{
		{filepath.Join(dir, "missing", "x.json"), "directory " + filepath.Join(dir, "missing") + " does not exist", errNoDir},
		{filepath.Join(file, "x.json"), file + " is a regular file, not a directory", nil},
		{filepath.Join(loop, "x.json"), "symbolic link loop", nil},
		{filepath.Join(dir, strings.Repeat("n", 300), "x"), "file name too long", nil},
	} {
		_, _, _, err := resolve(c.path, false)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("resolve(%s) = %v; want %q", c.path, err, c.want)
		}
	}
	// A middle link is not a dangling last link: link/new.json is a new
	// file in the link's target.
	os.Symlink(dir, filepath.Join(dir, "self"))
	if _, name, info, err := resolve(filepath.Join(dir, "self", "new.json"), false); err != nil || name != "new.json" || info != nil {
		t.Errorf("resolve(link/new.json) = %q, %v, %v; want a new file", name, info, err)
	}
}

// FuzzResolve walks arbitrary relative paths in a tree of directories,
// files and trusted links (the caller's own) and checks the walk against
// the kernel's: no panic, and when the walk finds an existing file, it is
// the one open(2) reaches (same device and inode); when the kernel
// reaches a file through directories, the walk does not fail for
// a reason other than a missing last component's directory or a loop.
func FuzzResolve(f *testing.F) {
	root := f.TempDir()
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(root, "a", "f"), []byte("f"), 0o644)
	os.Symlink("b", filepath.Join(root, "a", "lb"))
	os.Symlink("../a", filepath.Join(root, "a", "b", "up"))
	os.Symlink(filepath.Join(root, "a", "f"), filepath.Join(root, "abs"))
	os.Symlink("nowhere", filepath.Join(root, "dangling"))
	os.Symlink("l2", filepath.Join(root, "l1"))
	os.Symlink("l1", filepath.Join(root, "l2"))
	for _, s := range []string{"a/f", "a/lb/up/f", "abs", "a/b/up/lb/../f", "dangling", "l1/x", "a//./b/", "..", "a/../a/f", "a/f/x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		if strings.ContainsRune(rel, 0) || strings.HasPrefix(rel, "/") {
			return
		}
		p := filepath.Join(root, "") + "/" + rel
		d, name, info, err := resolve(p, false)
		if err != nil {
			return
		}
		defer d.close()
		if info == nil {
			return
		}
		var want, got unix.Stat_t
		if unix.Stat(p, &want) != nil {
			// The kernel fails where the walk found something: only "."
			// or ".." spelled after a file name differ (a/f/.. is ENOTDIR).
			return
		}
		if err := unix.Fstatat(d.fd, name, &got, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatalf("fstatat(%s in %s): %v", name, d.path, err)
		}
		if got.Dev != want.Dev || got.Ino != want.Ino {
			t.Errorf("resolve(%q) reached inode %d; open reaches %d", rel, got.Ino, want.Ino)
		}
	})
}
