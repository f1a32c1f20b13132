package results

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes f to path with WriteAtomic: gzip-compressed JSON when
// the name ends in ".gz" (Compressed), indented JSON otherwise (Encode).
func WriteFile(path string, f *File) error {
	return WriteAtomic(path, func(w io.Writer) error { return Encode(w, f, Compressed(path)) })
}

// WriteAtomic writes what render produces to path, the one write path of
// every file lockbench makes (results, HTML report, HDR log).
//
// A regular file, or a path that does not exist yet, is written
// atomically: a temporary file in the same directory, fsynced, then
// renamed over path; a failed write leaves an existing file untouched and
// no temporary file behind. A symbolic link is followed, so the link stays
// and its target is replaced. Anything else (a character device such as
// /dev/null, a FIFO, a socket) is written through, opened and written in
// place: a rename would replace the device node or the pipe by a regular
// file. A directory is an error.
func WriteAtomic(path string, render func(io.Writer) error) error {
	real := path
	if r, err := filepath.EvalSymlinks(path); err == nil {
		real = r
	}
	info, err := os.Stat(real)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("%s: %w", path, err)
	case info.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case !info.Mode().IsRegular():
		return writeThrough(path, render)
	}
	if err := writeRenamed(real, render); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeRenamed writes through a temporary file renamed over path.
func writeRenamed(path string, render func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
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
	// CreateTemp makes the file 0600; results and reports are for sharing.
	if err = tmp.Chmod(0o644); err != nil {
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

// writeThrough writes to a file that is not regular, in place.
func writeThrough(path string, render func(io.Writer) error) (err error) {
	fh, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer func() {
		if cerr := fh.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", path, cerr)
		}
	}()
	if err := render(fh); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Read decodes a results file of schema OldestSchema to SchemaVersion,
// plain or gzip-compressed JSON, and rejects other versions. Older files
// keep their own Schema number.
func Read(r io.Reader) (*File, error) {
	f, err := decode(r)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	if f.Schema < OldestSchema || f.Schema > SchemaVersion {
		return nil, fmt.Errorf("results: schema version %d, this lockbench reads schema version %d to %d", f.Schema, OldestSchema, SchemaVersion)
	}
	return f, nil
}

// ReadFile reads the results file at path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Read(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}
