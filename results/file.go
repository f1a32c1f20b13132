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
// A symbolic link, as the last component of path or any directory along
// it, is followed only when it is trusted: owned by the caller, or in a
// directory that others cannot write; a link that another user planted in
// /tmp or a shared directory is refused, as is a dangling last link (it
// is not replaced by a regular file) and a loop. On Linux the path is
// walked one component at a time (resolve) and the file is written
// through the descriptor of the directory the walk checked, so a
// component swapped after the check cannot redirect the write.
// CheckOutput says all this before anything is measured.
func WriteAtomic(path string, render func(io.Writer) error) error {
	d, name, info, err := resolve(path, false)
	if err != nil {
		return err
	}
	defer d.close()
	if info == nil {
		return wrap(path, writeRenamed(d, name, nil, render))
	}
	switch m := info.Mode(); {
	case m.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%s is a socket; want a file path", path)
	case m&fs.ModeNamedPipe != 0:
		return wrap(path, writeFIFO(d, name, render))
	case !m.IsRegular():
		return wrap(path, writeThrough(d, name, render))
	}
	return wrap(path, writeRenamed(d, name, info, render))
}

// WriteNew writes f as a new file in dir, named prefix, a random part and
// suffix, created exclusively (never over anything) in the directory the
// link-checked walk reached, and returns its path: the fallback when -o
// cannot be written.
func WriteNew(dir, prefix, suffix string, f *File) (string, error) {
	d, _, _, err := resolve(filepath.Join(dir, "x"), false)
	if err != nil {
		return "", err
	}
	defer d.close()
	fh, name, err := d.createTemp(prefix, suffix)
	if err != nil {
		return "", err
	}
	err = Encode(fh, f, Compressed(name))
	if err == nil {
		err = fh.Chmod(0o644)
	}
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.remove(name)
		return "", err
	}
	return filepath.Join(d.path, name), nil
}

// CheckOutput checks before measuring that WriteAtomic can write path as
// far as its type and links tell: not a directory or a socket, no
// untrusted link along the path, no dangling or looping link. A missing
// directory is left to the caller to name; it does not probe the
// directory (ProbeDir does).
func CheckOutput(path string) error {
	d, _, info, err := resolve(path, false)
	if errors.Is(err, errNoDir) {
		return nil
	}
	if err != nil {
		return err
	}
	d.close()
	if info == nil {
		return nil
	}
	switch m := info.Mode(); {
	case m.IsDir():
		return fmt.Errorf("%s is a directory; want a file path", path)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%s is a socket; want a file path", path)
	}
	return nil
}

// ProbeDir checks that a file can be created in the directory that holds
// path (as WriteAtomic reaches it): it creates and removes an empty
// temporary file there, through the walked directory's descriptor.
func ProbeDir(path string) error {
	d, _, _, err := resolve(path, false)
	if err != nil {
		return err
	}
	defer d.close()
	fh, name, err := d.createTemp(".lockbench-probe-", "")
	if err != nil {
		return fmt.Errorf("directory %s is not writable: %w", d.path, err)
	}
	fh.Close()
	return d.remove(name)
}

// CheckLink checks that following path, a directory lockbench writes
// into, is trusted: no untrusted link along it (see WriteAtomic). A
// directory that does not exist yet is fine (MkdirAll makes it).
func CheckLink(path string) error {
	d, _, _, err := resolve(path, false)
	if errors.Is(err, errDangling) || errors.Is(err, errNoDir) {
		return nil
	}
	if err == nil {
		d.close()
	}
	return err
}

// MkdirAll makes the directory path and the missing ones along it, mode
// 0755, walking it as WriteAtomic does: a symbolic link along it is
// followed only when trusted, and each directory is made in the one the
// walk checked (mkdirat on its descriptor).
func MkdirAll(path string) error {
	d, name, info, err := resolve(path, true)
	if errors.Is(err, errDangling) {
		return err
	}
	if err != nil {
		return err
	}
	defer d.close()
	switch {
	case info == nil:
		return mkdirIn(d, name)
	case !info.IsDir():
		return fmt.Errorf("%s is not a directory", path)
	}
	return nil
}

// wrap prefixes err with path unless it already names it.
func wrap(path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", path, err)
}

// errDangling marks a link whose target does not exist; errNoDir a
// missing directory along a path.
var (
	errDangling = errors.New("dangling symbolic link")
	errNoDir    = errors.New("no such directory")
)

// maxLinks bounds the links followed, as the kernel's 40.
const maxLinks = 40

// nameMax is the longest file name (one path element) Linux filesystems take.
const nameMax = 255

// trustedLink allows following the symbolic link p, owned by uid, in the
// directory dir of mode dirMode, only when the caller owns the link or
// nobody else can write dir (not world-writable). This is the rule of the
// kernel's fs.protected_symlinks, which cannot protect a link that
// lockbench resolves itself, made stricter: the kernel refuses only in a
// sticky world-writable directory and also trusts a link owned by the
// directory's owner; lockbench refuses in any world-writable directory,
// sticky or not (in a non-sticky one anybody can replace any link), and
// trusts only its own user's links there.
func trustedLink(p string, uid int, dir string, dirMode uint32) error {
	if uid == os.Geteuid() || dirMode&0o002 == 0 {
		return nil
	}
	return fmt.Errorf("%s is a symbolic link of uid %d in %s, which others can write: not following it (remove it or write elsewhere)", p, uid, dir)
}

// writeRenamed writes through a temporary file in d renamed over name;
// old is the file it replaces, if any, whose permissions and owner it
// keeps.
func writeRenamed(d *dirHandle, name string, old fs.FileInfo, render func(io.Writer) error) (err error) {
	tmp, tmpName, err := d.createTemp("."+tmpBase(name)+".tmp-", "")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			d.remove(tmpName)
		}
	}()
	if err = render(tmp); err != nil {
		return err
	}
	// The temporary file is 0600; results and reports are for sharing,
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
	return d.rename(tmpName, name)
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
func writeThrough(d *dirHandle, name string, render func(io.Writer) error) (err error) {
	fh, err := d.open(name, os.O_WRONLY|oNoctty, 0)
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
func writeFIFO(d *dirHandle, name string, render func(io.Writer) error) (err error) {
	deadline := time.Now().Add(FIFOWait)
	for {
		fh, err := d.open(name, os.O_WRONLY|oNonblock, 0)
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
