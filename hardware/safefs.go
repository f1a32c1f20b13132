package hardware

// The safe-cleanup primitives: what lockbench, running as root, may
// remove, unmount or detach. The rule: never follow a symbolic link it did
// not create where others can write, never open a non-regular file it
// means to clean up, and only clean up what it can prove it made (owned by
// this process's uid, under a directory of that uid that nobody else can
// write, a mount matched against /proc/self/mountinfo). Every leftover
// cleaner (loop targets, zram) goes through these.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// errNotOurs is a path the cleaners leave alone: not provably lockbench's.
var errNotOurs = errors.New("not provably made by lockbench")

// lstatOwned lstats path and checks that it is of file type kind
// (unix.S_IFDIR, unix.S_IFREG) and owned by this process's effective uid;
// a symbolic link is never followed (it is of type S_IFLNK, never kind).
// A directory must moreover not be writable by group or others, so that
// nobody else can put anything in it.
func lstatOwned(path string, kind uint32) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return st, err
	}
	switch {
	case st.Mode&unix.S_IFMT != kind:
		return st, fmt.Errorf("%s: %w: %s", path, errNotOurs, fileType(st.Mode))
	case int(st.Uid) != os.Geteuid():
		return st, fmt.Errorf("%s: %w: owned by uid %d", path, errNotOurs, st.Uid)
	case kind == unix.S_IFDIR && st.Mode&0o022 != 0:
		return st, fmt.Errorf("%s: %w: writable by others (mode %o)", path, errNotOurs, st.Mode&0o7777)
	}
	return st, nil
}

// fileType names the file type of a stat mode, for messages.
func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return "of unknown type"
}

// openOwnedRegular opens path read-only without following a symbolic link
// and without blocking (a FIFO put in its place opens at once instead of
// waiting for a writer), then checks by fstat that what it opened is a
// regular file owned by this process's uid.
func openOwnedRegular(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w: %s of uid %d", path, errNotOurs, fileType(st.Mode), st.Uid)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct {
	Point  string // mount point, as this process's namespace sees it
	FSType string
	Source string // "/dev/loop3", "tmpfs", ...
	Dev    string // "major:minor" of the filesystem (btrfs: an anonymous 0:N)
}

// mountInfoFile is the mount table the cleaners trust; a variable for tests.
var mountInfoFile = "/proc/self/mountinfo"

// readMountInfo reads the mount table of this process's mount namespace.
func readMountInfo() ([]mountInfo, error) {
	f, err := os.Open(mountInfoFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountInfo(f)
}

// parseMountInfo parses the format of proc(5)'s mountinfo: ID PARENT
// MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS.
func parseMountInfo(r io.Reader) ([]mountInfo, error) {
	var out []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		out = append(out, mountInfo{Point: unescapeMount(f[4]), FSType: f[sep+1], Source: unescapeMount(f[sep+2]), Dev: f[2]})
	}
	return out, sc.Err()
}

// unmountOwned unmounts the filesystem on point only when the mount table
// shows point mounted from source (the loop device lockbench attached);
// anything else mounted there, or point not being a mount point, is left
// alone. UMOUNT_NOFOLLOW: a symbolic link put in point's place is never
// followed. A busy filesystem is detached lazily.
func unmountOwned(point, source string) error {
	mounts, err := readMountInfo()
	if err != nil {
		return fmt.Errorf("reading the mount table: %w", err)
	}
	found := false
	for _, m := range mounts {
		if m.Point != point {
			continue
		}
		if m.Source != source {
			return fmt.Errorf("%s: %w: mounted from %s, not from %s", point, errNotOurs, m.Source, source)
		}
		found = true
	}
	if !found {
		return nil
	}
	err = unix.Unmount(point, unix.UMOUNT_NOFOLLOW)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(point, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmounting %s: %w", point, err)
	}
	return nil
}

// loopBackedBy returns the loop devices whose backing file is the inode
// st (device and inode number), asked of each device (LOOP_GET_STATUS64):
// unlike a path, an inode cannot be a planted link.
func loopBackedBy(st unix.Stat_t) []string {
	var out []string
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "loop") {
			continue
		}
		dev := "/dev/" + e.Name()
		fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		info, err := unix.IoctlLoopGetStatus64(fd)
		unix.Close(fd)
		if err == nil && info.Inode == st.Ino && info.Device == st.Dev {
			out = append(out, dev)
		}
	}
	return out
}

// liveCleanups are the cleanups of targets being prepared or in use, so
// that an exit that cannot wait (a second Ctrl-C, SIGQUIT) undoes what
// was set up so far, including a target half-way through Prepare.
var liveCleanups struct {
	sync.Mutex
	next int
	fns  map[int]func() error
}

// registerCleanup adds fn to the live cleanups and returns its key.
func registerCleanup(fn func() error) int {
	liveCleanups.Lock()
	defer liveCleanups.Unlock()
	if liveCleanups.fns == nil {
		liveCleanups.fns = map[int]func() error{}
	}
	liveCleanups.next++
	liveCleanups.fns[liveCleanups.next] = fn
	return liveCleanups.next
}

// unregisterCleanup removes a cleanup that has run.
func unregisterCleanup(id int) {
	liveCleanups.Lock()
	defer liveCleanups.Unlock()
	delete(liveCleanups.fns, id)
}

// CleanupLive runs the cleanup of every target still set up or being set
// up, for an exit that cannot wait for the runs to end. Each cleanup is
// idempotent; a step in progress finishes first.
func CleanupLive() error {
	liveCleanups.Lock()
	fns := make([]func() error, 0, len(liveCleanups.fns))
	for _, fn := range liveCleanups.fns {
		fns = append(fns, fn)
	}
	liveCleanups.Unlock()
	var err error
	for _, fn := range fns {
		err = joinErrors(err, fn())
	}
	return err
}
