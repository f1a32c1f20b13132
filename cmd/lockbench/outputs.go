//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/results"
	"lockbench/strategies"
)

// checkOutputs checks every output path of a run before anything is
// measured: each names a file, not a directory, in an
// existing writable directory, and no two name the same file.
func checkOutputs(f *runFlags, p *plan) error {
	seen := map[string]string{}
	for _, o := range []struct{ flag, path string }{{"-o", f.out}, {"-html", f.html}, {"-hdr-log", f.hdrLog}} {
		if o.path == "" {
			continue
		}
		if err := checkOutputPath(o.flag, o.path); err != nil {
			return err
		}
		key := canonicalPath(o.path)
		if other, ok := seen[key]; ok {
			return usagef("%s %s is the same file as %s: each output needs its own path", o.flag, o.path, other)
		}
		seen[key] = o.flag
	}
	return nil
}

// checkOutputPath fails early when an output file cannot be written: its
// path is a directory or a socket, an untrusted, dangling or looping
// symbolic link, a name too long, an immutable file, or its directory is
// missing or read-only. A device or FIFO is written through
// (results.WriteAtomic) and needs no probe.
func checkOutputPath(flagName, path string) error {
	if n := len(filepath.Base(path)); n > nameMax {
		return usagef("%s: the file name %.40q... is %d bytes long; at most %d", flagName, filepath.Base(path), n, nameMax)
	}
	if len(path) >= unix.PathMax {
		return usagef("%s: the path is %d bytes long; at most %d", flagName, len(path), unix.PathMax-1)
	}
	if err := results.CheckOutput(path); err != nil {
		return usagef("%s %v", flagName, err)
	}
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return nil
		}
		if err := checkMutable(path); err != nil {
			return fmt.Errorf("%s %s: %w", flagName, path, err)
		}
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("%s %s: directory %s does not exist", flagName, path, dir)
	}
	if !st.IsDir() {
		return usagef("%s %s: %s is not a directory", flagName, path, dir)
	}
	// Probed through the descriptor of the directory the link check walked.
	if err := results.ProbeDir(path); err != nil {
		return fmt.Errorf("%s %s: %w", flagName, path, err)
	}
	return nil
}

// The inode attributes of FS_IOC_GETFLAGS (linux/fs.h) that forbid
// replacing a file.
const (
	fsImmutableFL = 0x10
	fsAppendFL    = 0x20
)

// nameMax is the longest file name Linux filesystems take.
const nameMax = 255

// checkMutable fails for a file with the immutable or append-only
// attribute (chattr +i, +a): a rename over it fails, even for root.
func checkMutable(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil // the write will say what is wrong
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return nil // no attributes on this filesystem
	}
	switch {
	case flags&fsImmutableFL != 0:
		return errors.New("the file is immutable (chattr +i); lsattr shows it, chattr -i lifts it")
	case flags&fsAppendFL != 0:
		return errors.New("the file is append-only (chattr +a); lsattr shows it, chattr -a lifts it")
	}
	return nil
}

// canonicalPath is path absolute with its directory's symlinks resolved,
// so that two spellings of one file compare equal.
func canonicalPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// cleanups are the target cleanups of runs in progress, for an exit that
// cannot wait for them (the second Ctrl-C).
type cleanups struct {
	mu   sync.Mutex
	next int
	fns  map[int]func() error
}

var exitCleanups = &cleanups{fns: map[int]func() error{}}

func (c *cleanups) add(fn func() error) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	c.fns[c.next] = fn
	return c.next
}

func (c *cleanups) remove(id int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.fns, id)
}

// exitNow removes this process's backing files, and only those (a
// concurrent run's in the same directory stay), then undoes the targets it
// set up (unmounts and detaches loop targets), for the second Ctrl-C.
func exitNow() error {
	hotpath.RemoveBackingFiles()
	err := hardware.CleanupLive()
	exitCleanups.mu.Lock()
	defer exitCleanups.mu.Unlock()
	for _, fn := range exitCleanups.fns {
		err = joinErrors(err, fn())
	}
	return err
}

// flagOf names the command-line flag of each field the lower layers
// report in their typed errors (hotpath.ConfigError,
// strategies.OptionError): they know no command line.
var flagOf = map[string]string{
	"FileSize": "-file-size", "Threads": "-threads",
	"GUPShare": "-gup-share", "Fallback": "-fallback",
}

// flagError turns a lower layer's typed error into a usage error naming
// the flag; other errors pass unchanged.
func flagError(err error) error {
	var ce *hotpath.ConfigError
	if errors.As(err, &ce) && flagOf[ce.Field] != "" {
		return usagef("%s %s", flagOf[ce.Field], ce.Msg)
	}
	var oe *strategies.OptionError
	if errors.As(err, &oe) && flagOf[oe.Option] != "" {
		return usagef("%s %s", flagOf[oe.Option], oe.Msg)
	}
	return err
}
