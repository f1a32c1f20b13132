package results

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWriteAtomicLinks: issue 22 items 2 and 14. A link another user
// planted in a directory others can write is not followed (WriteAtomic
// resolved it itself, past fs.protected_symlinks, and renamed over its
// target); a dangling link is not replaced by a regular file; a file
// replaced keeps its mode (a 0600 file became 0644).
func TestWriteAtomicLinks(t *testing.T) {
	f := &File{Schema: SchemaVersion, Tool: "lockbench", Created: time.Unix(0, 0).UTC()}
	t.Run("planted", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the link another owner")
		}
		shared := t.TempDir()
		os.Chmod(shared, 0o1777)
		decoy := filepath.Join(t.TempDir(), "decoy")
		os.WriteFile(decoy, []byte("decoy"), 0o600)
		link := filepath.Join(shared, "r.json")
		os.Symlink(decoy, link)
		if err := os.Lchown(link, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := CheckOutput(link); err == nil || !strings.Contains(err.Error(), "uid 65534") {
			t.Errorf("CheckOutput(planted link) = %v; want a refusal naming the owner", err)
		}
		if err := WriteFile(link, f); err == nil {
			t.Errorf("WriteFile(planted link) = nil; want a refusal")
		}
		if b, _ := os.ReadFile(decoy); string(b) != "decoy" {
			t.Errorf("the link's target was written: %q", b)
		}
		// The same link in a directory nobody else writes is the caller's
		// business, as cp's.
		os.Chmod(shared, 0o755)
		if err := WriteFile(link, f); err != nil {
			t.Errorf("WriteFile(link in a private directory) = %v", err)
		}
	})
	t.Run("dangling", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "r.json")
		os.Symlink(filepath.Join(dir, "nowhere.json"), link)
		if err := WriteFile(link, f); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("WriteFile(dangling link) = %v; want a refusal", err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the dangling link was replaced: %v", err)
		}
	})
	t.Run("mode kept", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "r.json")
		os.WriteFile(p, []byte("old"), 0o600)
		if err := WriteFile(p, f); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode after replacing a 0600 file: %v; want 0600", fi.Mode().Perm())
		}
	})
	t.Run("long name", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), strings.Repeat("n", 250))
		if err := WriteFile(p, f); err != nil {
			t.Errorf("WriteFile(250-byte name) = %v; its temporary file must fit", err)
		}
	})
}

// TestFIFONoPeer: issue 22 item 10. A FIFO with no reader (-o) or no
// writer (report) is given up after FIFOWait instead of hanging.
func TestFIFONoPeer(t *testing.T) {
	old := FIFOWait
	FIFOWait = 200 * time.Millisecond
	t.Cleanup(func() { FIFOWait = old })
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Skip(err)
	}
	for name, fn := range map[string]func() error{
		"write": func() error { return WriteFile(p, &File{Schema: SchemaVersion}) },
		"read":  func() error { _, err := ReadFile(p); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- fn() }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "FIFO") {
				t.Errorf("%s of a FIFO with nobody at the other end = %v; want a FIFO error", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s of a FIFO with nobody at the other end hung", name)
		}
	}
	// With a writer, report reads the FIFO.
	go func() {
		fh, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err == nil {
			io.WriteString(fh, `{"schema": 2, "tool": "lockbench", "cells": []}`)
			fh.Close()
		}
	}()
	if _, err := ReadFile(p); err != nil {
		t.Errorf("ReadFile(FIFO with a writer) = %v", err)
	}
}

// TestReadNotLockbench: issue 22 item 20.
func TestReadNotLockbench(t *testing.T) {
	_, err := Read(strings.NewReader(`{"name": "x"}`))
	if err == nil || !strings.Contains(err.Error(), "not a lockbench results file") {
		t.Errorf("Read(other JSON) = %v", err)
	}
}
