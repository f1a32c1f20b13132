package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// WriteFile writes f to path with WriteAtomic: gzip-compressed JSON when
// the name ends in ".gz" (Compressed), indented JSON otherwise (Encode).
func WriteFile(path string, f *File) error {
	return WriteAtomic(path, func(w io.Writer) error { return Encode(w, f, Compressed(path)) })
}

// WriteAtomic writes what render produces to path, the one write path of
// every file lockbench makes (results, HTML report, charts, HDR log).
//
// A regular file, or a path that does not exist yet, is written
// atomically: a temporary file in the same directory, fsynced, then
// renamed over path; a failed write leaves an existing file untouched and
// no temporary file behind. A file replaced keeps its permissions (and,
// for root, its owner). A character device such as /dev/null is written
// through in place, and a FIFO too once a reader comes (FIFOWait; with
// none, an error instead of a hang). A directory or a socket is an error.
//
// A symbolic link is followed (the link stays and its target is
// replaced) only when it is trusted: owned by the caller, or in a
// directory that others cannot write; a link that another user planted in
// /tmp or a shared directory is refused, as is a dangling link (it is not
// replaced by a regular file) and a loop. CheckOutput says all this
// before anything is measured.
func WriteAtomic(path string, render func(io.Writer) error) error {
	real, info, err := resolveOutput(path)
	if err != nil {
		return err
	}
	if info == nil {
		return wrap(path, writeRenamed(real, nil, render))
	}
	switch m := info.Mode(); {
	case m.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%s is a socket; want a file path", path)
	case m&fs.ModeNamedPipe != 0:
		return wrap(path, writeFIFO(real, render))
	case !m.IsRegular():
		return wrap(path, writeThrough(real, render))
	}
	return wrap(path, writeRenamed(real, info, render))
}

// CheckOutput checks before measuring that WriteAtomic can write path as
// far as its type and links tell: not a directory or a socket, no
// untrusted, dangling or looping link. It does not probe the directory.
func CheckOutput(path string) error {
	_, info, err := resolveOutput(path)
	if err != nil || info == nil {
		return err
	}
	switch m := info.Mode(); {
	case m.IsDir():
		return fmt.Errorf("%s is a directory; want a file path", path)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%s is a socket; want a file path", path)
	}
	return nil
}

// CheckLink checks that following path, when it is a symbolic link, is
// trusted (see WriteAtomic): for a directory lockbench writes into.
func CheckLink(path string) error {
	_, _, err := resolveOutput(path)
	if errors.Is(err, errDangling) {
		return nil
	}
	return err
}

// wrap prefixes err with path unless it already names it.
func wrap(path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", path, err)
}

// errDangling marks a link whose target does not exist.
var errDangling = errors.New("dangling symbolic link")

// maxLinks bounds the links followed, as the kernel's 40.
const maxLinks = 40

// resolveOutput follows path's symbolic links, each only when trusted, and
// returns the file at the end of them with its Lstat (nil when it does not
// exist yet and path was not a link).
func resolveOutput(path string) (string, fs.FileInfo, error) {
	p := path
	for hops := 0; ; hops++ {
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && hops > 0:
			return "", nil, fmt.Errorf("%s is a symbolic link to %s, which does not exist: %w not replaced by a file (create the target or remove the link)", path, p, errDangling)
		case errors.Is(err, fs.ErrNotExist):
			return p, nil, nil
		case errors.Is(err, errNameTooLong):
			return "", nil, fmt.Errorf("%s: file name too long (at most %d bytes a name)", path, nameMax)
		case err != nil:
			return "", nil, err
		case fi.Mode()&fs.ModeSymlink == 0:
			return p, fi, nil
		case hops == maxLinks:
			return "", nil, fmt.Errorf("%s: symbolic link loop (more than %d links)", path, maxLinks)
		}
		if err := trustedLink(p, fi); err != nil {
			return "", nil, err
		}
		dest, err := os.Readlink(p)
		if err != nil {
			return "", nil, err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(p), dest)
		}
		p = dest
	}
}

// nameMax is the longest file name (one path element) Linux filesystems take.
const nameMax = 255

// trustedLink allows following the symbolic link p only when the caller
// owns it or nobody else can write its directory: the rule of the
// kernel's fs.protected_symlinks, which cannot protect a link that
// lockbench resolves itself.
func trustedLink(p string, fi fs.FileInfo) error {
	uid, _, ok := fileOwner(fi)
	if !ok || uid == os.Geteuid() {
		return nil
	}
	dir := filepath.Dir(p)
	di, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if di.Mode().Perm()&0o002 == 0 {
		return nil
	}
	return fmt.Errorf("%s is a symbolic link of uid %d in %s, which others can write: not following it (remove it or write elsewhere)", p, uid, dir)
}

// writeRenamed writes through a temporary file renamed over path; old is
// the file it replaces, if any, whose permissions and owner it keeps.
func writeRenamed(path string, old fs.FileInfo, render func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+tmpBase(filepath.Base(path))+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = render(tmp); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; results and reports are for sharing,
	// and a file replaced keeps its own mode.
	perm := fs.FileMode(0o644)
	if old != nil {
		perm = old.Mode().Perm()
		if uid, gid, ok := fileOwner(old); ok && uid != os.Geteuid() && os.Geteuid() == 0 {
			tmp.Chown(uid, gid)
		}
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// tmpBase shortens a long file name for its temporary file's name, which
// adds about 20 bytes: a name near the limit must not fail there.
func tmpBase(name string) string {
	if len(name) > 200 {
		return name[:200]
	}
	return name
}

// writeThrough writes to a device in place, never through a link.
func writeThrough(path string, render func(io.Writer) error) (err error) {
	fh, err := os.OpenFile(path, os.O_WRONLY|oNoFollow|oNoctty, 0)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := fh.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return render(fh)
}

// FIFOWait is how long WriteAtomic waits for a FIFO's reader, and
// ReadFile for a FIFO's writer, before giving up with an error.
var FIFOWait = 10 * time.Second

// writeFIFO writes to a FIFO once a reader has it open: opened
// non-blocking (ENXIO while nobody reads), retried until FIFOWait.
func writeFIFO(path string, render func(io.Writer) error) (err error) {
	deadline := time.Now().Add(FIFOWait)
	for {
		fh, err := os.OpenFile(path, os.O_WRONLY|oNonblock|oNoFollow, 0)
		if err == nil {
			defer func() {
				if cerr := fh.Close(); cerr != nil && err == nil {
					err = cerr
				}
			}()
			return render(fh)
		}
		if !errors.Is(err, errNoReader) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a FIFO with no reader for %v", FIFOWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Read decodes a results file of schema OldestSchema to SchemaVersion,
// plain or gzip-compressed JSON, and rejects other versions. Older files
// keep their own Schema number.
func Read(r io.Reader) (*File, error) {
	f, err := decode(r)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	if f.Schema == 0 && f.Tool != "lockbench" {
		return nil, errors.New("results: not a lockbench results file (JSON without lockbench's \"schema\" and \"tool\" fields)")
	}
	if f.Schema < OldestSchema || f.Schema > SchemaVersion {
		return nil, fmt.Errorf("results: schema version %d, this lockbench reads schema version %d to %d", f.Schema, OldestSchema, SchemaVersion)
	}
	for i := range f.Cells {
		f.Cells[i].Config.SetEngine()
	}
	return f, nil
}

// ReadFile reads the results file at path. A FIFO is read once its
// writer comes, within FIFOWait: with none, an error instead of a hang.
func ReadFile(path string) (*File, error) {
	fh, err := os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var r io.Reader = fh
	if fi, err := fh.Stat(); err == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
		b, err := readFIFO(fh)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = bytes.NewReader(b)
	}
	f, err := Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// readFIFO reads a FIFO opened non-blocking: end of file before any
// writer came is no writer yet, retried until FIFOWait.
func readFIFO(fh *os.File) ([]byte, error) {
	deadline := time.Now().Add(FIFOWait)
	fh.SetReadDeadline(deadline)
	var buf bytes.Buffer
	chunk := make([]byte, 64<<10)
	for {
		n, err := fh.Read(chunk)
		buf.Write(chunk[:n])
		switch {
		case errors.Is(err, io.EOF) && buf.Len() > 0:
			return buf.Bytes(), nil
		case errors.Is(err, io.EOF), err == nil:
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("a FIFO with no writer for %v", FIFOWait)
			}
			if n == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, fmt.Errorf("a FIFO whose writer sent nothing complete in %v", FIFOWait)
		default:
			return nil, err
		}
	}
}
