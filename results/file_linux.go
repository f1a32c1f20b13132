//go:build linux

package results

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// dirHandle is the directory an output file is written in, held open
// (O_PATH) from the walk that checked its path to the write: a component
// of the path swapped after the check cannot redirect the write, which
// goes through openat, renameat and unlinkat on this descriptor.
type dirHandle struct {
	fd   int
	path string // as the walk spelled it, for messages
}

func (d *dirHandle) close() {
	if d != nil && d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// open opens name in d without following a symbolic link.
func (d *dirHandle) open(name string, flag int, perm fs.FileMode) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(d.path, name), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(d.path, name)), nil
}

// createTemp creates a new file named prefix, a random part and suffix in
// d, mode 0600, as os.CreateTemp does, and returns it with its name.
func (d *dirHandle) createTemp(prefix, suffix string) (*os.File, string, error) {
	for try := 0; ; try++ {
		name := fmt.Sprintf("%s%d%s", prefix, rand.Uint32(), suffix)
		fh, err := d.open(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return fh, name, err
	}
}

func (d *dirHandle) rename(from, to string) error {
	if err := unix.Renameat(d.fd, from, d.fd, to); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, from), New: filepath.Join(d.path, to), Err: err}
	}
	return nil
}

func (d *dirHandle) remove(name string) error { return unix.Unlinkat(d.fd, name, 0) }

// The flags of every step of the walk: a descriptor that only names the
// file (no read permission needed), never a link's target.
const walkFlags = unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC

// resolve walks path one component at a time with openat(O_PATH |
// O_NOFOLLOW), from / or the working directory, as the kernel does, but
// following a symbolic link (a middle component or the last) only when it
// is trusted (trustedLink): the rule of fs.protected_symlinks, which does
// not protect links that lockbench reads itself. It returns the directory
// holding the last component (open; the caller closes it), the last
// component's name there and its Lstat, nil when it does not exist. With
// mkdir, missing directories along the way (not the last component) are
// created, mode 0755, as os.MkdirAll does.
//
// An error names the component that stopped the walk. A missing
// directory along the way wraps errNoDir; a last component that is a
// link to nothing wraps errDangling.
func resolve(path string, mkdir bool) (*dirHandle, string, fs.FileInfo, error) {
	if path == "" {
		return nil, "", nil, errors.New("empty path")
	}
	start, startPath := ".", "."
	if filepath.IsAbs(path) {
		start, startPath = "/", "/"
	}
	fd, err := unix.Open(start, walkFlags|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", startPath, err)
	}
	d := &dirHandle{fd: fd, path: startPath}
	fail := func(err error) (*dirHandle, string, fs.FileInfo, error) {
		d.close()
		return nil, "", nil, err
	}
	comps := splitPath(path)
	if len(comps) == 0 { // "/" or "."
		comps = []string{"."}
	}
	hops := 0
	lastLinked := false // the last component so far is a link's target
	for len(comps) > 0 {
		name := comps[0]
		comps = comps[1:]
		last := len(comps) == 0
		here := filepath.Join(d.path, name)
		cfd, err := unix.Openat(d.fd, name, walkFlags, 0)
		if errors.Is(err, unix.ENOENT) && !last && mkdir {
			if err = unix.Mkdirat(d.fd, name, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				cfd, err = unix.Openat(d.fd, name, walkFlags, 0)
			}
		}
		switch {
		case errors.Is(err, unix.ENOENT) && last && lastLinked:
			return fail(fmt.Errorf("%s is a symbolic link to %s, which does not exist: %w not replaced by a file (create the target or remove the link)", path, here, errDangling))
		case errors.Is(err, unix.ENOENT) && last:
			return d, name, nil, nil
		case errors.Is(err, unix.ENOENT):
			return fail(fmt.Errorf("directory %s does not exist: %w", here, errNoDir))
		case errors.Is(err, errNameTooLong):
			return fail(fmt.Errorf("%s: file name too long (at most %d bytes a name)", path, nameMax))
		case err != nil:
			return fail(&fs.PathError{Op: "open", Path: here, Err: err})
		}
		fh := os.NewFile(uintptr(cfd), here)
		fi, err := fh.Stat()
		if err != nil {
			fh.Close()
			return fail(err)
		}
		switch m := fi.Mode(); {
		case m&fs.ModeSymlink != 0:
			if hops++; hops > maxLinks {
				fh.Close()
				return fail(fmt.Errorf("%s: symbolic link loop (more than %d links)", path, maxLinks))
			}
			lastLinked = lastLinked || last
			dest, err := trustedTarget(d, here, fh, fi)
			fh.Close()
			if err != nil {
				return fail(err)
			}
			if filepath.IsAbs(dest) {
				rfd, err := unix.Open("/", walkFlags|unix.O_DIRECTORY, 0)
				if err != nil {
					return fail(err)
				}
				d.close()
				d = &dirHandle{fd: rfd, path: "/"}
			}
			dc := splitPath(dest)
			if len(dc) == 0 {
				dc = []string{"."}
			}
			comps = append(dc, comps...)
		case last:
			fh.Close()
			return d, name, fi, nil
		case m.IsDir():
			// The O_PATH descriptor of this directory becomes the next
			// step's: what was checked is what is walked.
			nfd, err := unix.Dup(int(fh.Fd()))
			fh.Close()
			if err != nil {
				return fail(err)
			}
			d.close()
			d = &dirHandle{fd: nfd, path: here}
		default:
			fh.Close()
			return fail(fmt.Errorf("%s is %s, not a directory", here, fileTypeName(m)))
		}
	}
	panic("unreachable")
}

// trustedTarget returns the target of the symbolic link link (opened
// O_PATH, fi its stat) in directory d, when following it is trusted. The
// link is read from its own descriptor, not by name: the link checked is
// the link read.
func trustedTarget(d *dirHandle, here string, link *os.File, fi fs.FileInfo) (string, error) {
	var dst unix.Stat_t
	if err := unix.Fstat(d.fd, &dst); err != nil {
		return "", err
	}
	uid, _, _ := fileOwner(fi)
	if err := trustedLink(here, uid, d.path, dst.Mode&0o7777); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(int(link.Fd()), "", buf)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: here, Err: err}
	}
	return string(buf[:n]), nil
}

// splitPath splits a path into its components, dropping the empty ones
// ("a//b", a leading or trailing "/") and ".": the walk starts at / or
// the working directory. ".." stays: it is walked as the kernel does,
// from the directory reached so far (after a link, its target's parent).
func splitPath(path string) []string {
	var out []string
	for _, c := range strings.Split(path, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// fileTypeName names the type of a file mode, for messages.
func fileTypeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "of an unknown type"
}

// mkdirIn makes the directory name in d, mode 0755; one that appeared
// meanwhile is fine when it is a directory (not a link to one).
func mkdirIn(d *dirHandle, name string) error {
	err := unix.Mkdirat(d.fd, name, 0o755)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if serr := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil
		}
	}
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}
