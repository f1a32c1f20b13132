//go:build !linux

package results

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Off Linux (the report command is all that builds there) there is no
// O_PATH: the directory is named by its path, and only the last
// component's links are checked (Linux walks every component, file_linux.go).
type dirHandle struct{ path string }

func (d *dirHandle) close() {}

func (d *dirHandle) open(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(filepath.Join(d.path, name), flag|oNoFollow, perm)
}

func (d *dirHandle) createTemp(prefix, suffix string) (*os.File, string, error) {
	fh, err := os.CreateTemp(d.path, prefix+"*"+suffix)
	if err != nil {
		return nil, "", err
	}
	return fh, filepath.Base(fh.Name()), nil
}

func (d *dirHandle) rename(from, to string) error {
	return os.Rename(filepath.Join(d.path, from), filepath.Join(d.path, to))
}

func (d *dirHandle) remove(name string) error { return os.Remove(filepath.Join(d.path, name)) }

// resolve follows path's last component's symbolic links, each only when
// trusted, and returns its directory, its name and its Lstat (nil when it
// does not exist); see file_linux.go.
func resolve(path string, mkdir bool) (*dirHandle, string, fs.FileInfo, error) {
	p := path
	for hops := 0; ; hops++ {
		dir := filepath.Dir(p)
		if mkdir {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, "", nil, err
			}
		}
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && hops > 0:
			return nil, "", nil, fmt.Errorf("%s is a symbolic link to %s, which does not exist: %w not replaced by a file (create the target or remove the link)", path, p, errDangling)
		case errors.Is(err, fs.ErrNotExist):
			if _, derr := os.Stat(dir); derr != nil {
				return nil, "", nil, fmt.Errorf("directory %s does not exist: %w", dir, errNoDir)
			}
			return &dirHandle{dir}, filepath.Base(p), nil, nil
		case errors.Is(err, errNameTooLong):
			return nil, "", nil, fmt.Errorf("%s: file name too long (at most %d bytes a name)", path, nameMax)
		case err != nil:
			return nil, "", nil, err
		case fi.Mode()&fs.ModeSymlink == 0:
			return &dirHandle{dir}, filepath.Base(p), fi, nil
		case hops == maxLinks:
			return nil, "", nil, fmt.Errorf("%s: symbolic link loop (more than %d links)", path, maxLinks)
		}
		uid, _, ok := fileOwner(fi)
		if !ok {
			uid = os.Geteuid()
		}
		var dmode uint32
		if di, err := os.Stat(dir); err == nil {
			dmode = uint32(di.Mode().Perm())
		}
		if err := trustedLink(p, uid, dir, dmode); err != nil {
			return nil, "", nil, err
		}
		dest, err := os.Readlink(p)
		if err != nil {
			return nil, "", nil, err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(dir, dest)
		}
		p = dest
	}
}

func mkdirIn(d *dirHandle, name string) error {
	err := os.Mkdir(filepath.Join(d.path, name), 0o755)
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Lstat(filepath.Join(d.path, name)); serr == nil && fi.IsDir() {
			return nil
		}
	}
	return err
}
