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

// TestWriteAtomicTargets writes a results file to each kind of path and
// checks what is there afterwards: a regular file is replaced, a symlink
// stays a symlink to the new content, a FIFO stays a FIFO and its reader
// gets the file, a directory is an error and stays. Before, a FIFO (or, as
// root, /dev/null) was replaced by a regular file.
func TestWriteAtomicTargets(t *testing.T) {
	f := &File{Schema: SchemaVersion, Tool: "lockbench", Created: time.Unix(0, 0).UTC()}
	t.Run("regular", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "r.json")
		os.WriteFile(p, []byte("old"), 0o644)
		if err := WriteFile(p, f); err != nil {
			t.Fatal(err)
		}
		checkResults(t, p)
	})
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		real, link := filepath.Join(dir, "real.json"), filepath.Join(dir, "link.json")
		os.WriteFile(real, []byte("old"), 0o644)
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(link, f); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("WriteFile(symlink): %s is no longer a symlink (%v)", link, err)
		}
		checkResults(t, real)
	})
	t.Run("fifo", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "fifo")
		if err := unix.Mkfifo(p, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		got := make(chan string, 1)
		go func() {
			fh, err := os.Open(p)
			if err != nil {
				got <- err.Error()
				return
			}
			defer fh.Close()
			b, _ := io.ReadAll(fh)
			got <- string(b)
		}()
		if err := WriteFile(p, f); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if _, err := Read(strings.NewReader(s)); err != nil {
				t.Errorf("the FIFO's reader got %q: %v; want the results file", s, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the FIFO's reader got nothing in 10s")
		}
		if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("WriteFile(fifo): %s is no longer a FIFO (%v)", p, err)
		}
	})
	t.Run("dev-null", func(t *testing.T) {
		if err := WriteFile("/dev/null", f); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat("/dev/null"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("WriteFile(/dev/null): /dev/null is no longer a character device (%v, %v)", fi.Mode(), err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		err := WriteFile(dir, f)
		if err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("WriteFile(directory) = %v; want \"is a directory\"", err)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("WriteFile(directory): %s is gone", dir)
		}
	})
}

// checkResults fails unless p is a regular, readable results file whose
// cells are [] (not null) and no temporary file is beside it.
func checkResults(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"cells": []`) {
		t.Errorf("%s: cells are not []:\n%s", p, b)
	}
	if _, err := Read(strings.NewReader(string(b))); err != nil {
		t.Errorf("%s: %v", p, err)
	}
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*.tmp-*"))
	if len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// TestAddRepKeepsChartedEvents: the exclusive events and the series'
// columns stay on the first repetition with a series (the one the charts
// draw); the later ones drop the events and keep a summary.
func TestAddRepKeepsChartedEvents(t *testing.T) {
	ev := []Event{{Op: "fsync", Start: 1, End: 2}}
	series := NewSeries(time.Millisecond, []Window{{Ops: map[string]int64{"store": 1}}, {Ops: map[string]int64{"store": 2}}})
	var c Cell
	c.AddRep(Rep{Exclusive: ev})                 // no series: kept, nothing charted yet
	c.AddRep(Rep{Exclusive: ev, Series: series}) // the charted one
	c.AddRep(Rep{Exclusive: ev, Series: series})
	for i, want := range []int{1, 1, 0} {
		if got := len(c.Reps[i].Exclusive); got != want {
			t.Errorf("rep %d keeps %d events; want %d", i, got, want)
		}
	}
	if !c.Reps[1].Series.Charted() || !c.Reps[2].Series.Summarized || c.Reps[2].Series.ZeroWindows("store") != 0 || c.Reps[2].Series.Len() != 2 {
		t.Errorf("series: rep 1 charted %v, rep 2 %+v; want rep 1 charted, rep 2 summarised with 2 windows", c.Reps[1].Series.Charted(), c.Reps[2].Series)
	}
	if series.Summarized {
		t.Error("AddRep changed the series it was given")
	}
}
