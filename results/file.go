package results

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes f to path atomically: a temporary file in the same
// directory, fsynced, then renamed over path. A failed write leaves an
// existing file untouched and no temporary file behind.
func WriteFile(path string, f *File) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("results file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	enc := json.NewEncoder(tmp)
	enc.SetIndent("", "  ")
	if err = enc.Encode(f); err != nil {
		return fmt.Errorf("results file %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; a results file is for sharing.
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("results file %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("results file %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("results file %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("results file %s: %w", path, err)
	}
	return nil
}

// Read decodes a results file and rejects other schema versions.
func Read(r io.Reader) (*File, error) {
	var f File
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	if f.Schema != SchemaVersion {
		return nil, fmt.Errorf("results: schema version %d, this lockbench reads version %d", f.Schema, SchemaVersion)
	}
	return &f, nil
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
