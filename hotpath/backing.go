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
		if !ok || pid == os.Getpid() || !ownedRegular(name) || !deadOwner(name, pid) {
			continue
		}
		var removed []string
		for _, p := range []string{name, strings.TrimSuffix(name, ".disk") + ".disk"} {
			if !ownedRegular(p) {
				continue // not there, or not ours: someone else's file or link
			}
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
	// Opened without following a link and without blocking (a FIFO in
	// its place would wait for a writer forever), then checked by fstat.
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	fh := os.NewFile(uintptr(fd), name)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() ||
		time.Since(time.Unix(st.Mtim.Unix())) < staleAge {
		fh.Close()
		return false
	}
	defer fh.Close()
	if unix.Flock(int(fh.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // held: a live run
	}
	return true
}

// ownedRegular reports whether name is a regular file (not a link to one)
// owned by this process's uid: only such a file can be a backing file this
// uid's run made. In a shared directory (/tmp, /dev/shm) anyone can make a
// file, FIFO or link of a backing file's name.
func ownedRegular(name string) bool {
	var st unix.Stat_t
	return unix.Lstat(name, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && int(st.Uid) == os.Geteuid()
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
