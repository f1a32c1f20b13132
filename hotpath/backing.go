package hotpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Backing files are named .lockbench-cache-PID-RANDOM (the page cache) and
// the same with .disk (the "disk"), PID being the process that made them,
// which holds an exclusive flock(2) on the cache file while it is open.
// A process killed with SIGKILL (or by the OOM killer) cannot remove its
// files; CleanStale lets a later run tell them from a live run's and
// remove them. The name alone would do until the pid is reused; the lock
// alone would do except in the instant between creating a file and
// locking it; a file is a dead run's when its pid is gone, or when its lock
// is free and the file is older than staleAge.
const backingPrefix = ".lockbench-cache-"

// staleAge is how old an unlocked backing file of a live pid must be to
// count as a dead run's (the pid then belongs to another process).
const staleAge = time.Minute

// live holds the backing files this process has open, for
// RemoveBackingFiles on the second Ctrl-C.
var live sync.Map // path -> struct{}

// RemoveBackingFiles removes the backing files of this process's open
// inodes, and only those: it is for an exit that cannot wait for the runs
// to finish (a second Ctrl-C). A concurrent run's files in the same
// directory are not touched.
func RemoveBackingFiles() {
	live.Range(func(k, _ any) bool {
		os.Remove(k.(string))
		live.Delete(k)
		return true
	})
}

// Stale is a killed run's leftover backing files, removed by CleanStale.
type Stale struct {
	PID   int
	Files []string
}

// CleanStale removes the backing files in dir that a run which no longer
// exists left behind, and returns them grouped by pid. It never touches
// this process's files or those of a live run.
func CleanStale(dir string) ([]Stale, error) {
	names, err := filepath.Glob(filepath.Join(dir, backingPrefix+"*"))
	if err != nil {
		return nil, err
	}
	var out []Stale
	var errs []error
	for _, name := range names {
		if strings.HasSuffix(name, ".disk") {
			if _, err := os.Lstat(strings.TrimSuffix(name, ".disk")); err == nil {
				continue // decided with its cache file
			}
		}
		pid, ok := backingPID(name)
		if !ok || pid == os.Getpid() || !deadOwner(name, pid) {
			continue
		}
		var removed []string
		for _, p := range []string{name, strings.TrimSuffix(name, ".disk") + ".disk"} {
			err := os.Remove(p)
			switch {
			case err == nil:
				removed = append(removed, filepath.Base(p))
			case !errors.Is(err, os.ErrNotExist):
				errs = append(errs, err)
			}
		}
		if len(removed) == 0 {
			continue
		}
		if i := len(out) - 1; i >= 0 && out[i].PID == pid {
			out[i].Files = append(out[i].Files, removed...)
		} else {
			out = append(out, Stale{PID: pid, Files: removed})
		}
	}
	return out, errors.Join(errs...)
}

// backingPID returns the pid in a backing file's name.
func backingPID(name string) (int, bool) {
	rest := strings.TrimPrefix(filepath.Base(name), backingPrefix)
	p, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

// deadOwner reports whether the run that made backing file name, of pid,
// is gone.
func deadOwner(name string, pid int) bool {
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return true
	}
	if strings.HasSuffix(name, ".disk") {
		return false // the lock is on the cache file, which is gone
	}
	fi, err := os.Stat(name)
	if err != nil || time.Since(fi.ModTime()) < staleAge {
		return false
	}
	fh, err := os.Open(name)
	if err != nil {
		return false
	}
	defer fh.Close()
	if unix.Flock(int(fh.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // held: a live run
	}
	return true
}

// createBacking creates the cache file of a new inode in dir, named and
// locked as above, and registers it for RemoveBackingFiles.
func createBacking(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, fmt.Sprintf("%s%d-*", backingPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	live.Store(f.Name(), struct{}{})
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		live.Delete(f.Name())
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return f, nil
}

// reserve allocates size bytes of f's blocks now (fallocate), so that a
// target too small for the run fails here with ENOSPC instead of with a
// SIGBUS on a store into the mapping in the middle of a measurement. A
// filesystem without fallocate gets a sparse file, as before.
func reserve(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return f.Truncate(size)
	}
	return err
}
