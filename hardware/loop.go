package hardware

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// mkfsArgs are the options each mkfs gets besides the image path: quiet,
// and force, since the target is a plain file. ext4 initialises its inode
// tables and journal now instead of in a background kernel thread
// (ext4lazyinit) that would otherwise write to the device during the first
// minutes of measurement.
var mkfsArgs = map[string][]string{
	"ext4":  {"-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"},
	"xfs":   {"-q", "-f"},
	"btrfs": {"-q", "-f"},
}

// loopNeeds reports, as one error, everything a loop target of filesystem
// fsName lacks: root (to attach a loop device and mount), mkfs.fsName and
// losetup. euid and lookPath are the real ones outside tests.
func loopNeeds(fsName string, euid int, lookPath func(string) (string, error)) error {
	i := slices.IndexFunc(LoopFilesystems, func(l LoopFS) bool { return l.Name == fsName })
	if i < 0 {
		return fmt.Errorf("target loop:%s: loop filesystem must be ext4, xfs or btrfs", fsName)
	}
	var missing []string
	if euid != 0 {
		missing = append(missing, fmt.Sprintf("root to attach a loop device and mount it (running as uid %d)", euid))
	}
	if _, err := lookPath("mkfs." + fsName); err != nil {
		missing = append(missing, fmt.Sprintf("mkfs.%s (apt-get install %s)", fsName, LoopFilesystems[i].Package))
	}
	if _, err := lookPath("losetup"); err != nil {
		missing = append(missing, "losetup (apt-get install mount)")
	}
	if len(missing) == 0 {
		return nil
	}
	list := missing[len(missing)-1]
	if len(missing) > 1 {
		list = strings.Join(missing[:len(missing)-1], ", ") + " and " + list
	}
	return fmt.Errorf("target loop:%s needs %s", fsName, list)
}

// prepareLoop makes a loop target: it creates a sparse image of ts.Size
// bytes in a new directory under os.TempDir(), formats it with mkfs.FS,
// attaches it to a free loop device with losetup, mounts the device on a
// directory next to the image, and describes the mounted filesystem.
//
// Every step that succeeded is recorded in a loopMount, and any failure
// runs its cleanup before returning, so a failed Prepare leaves nothing
// behind. The cleanup returned on success unmounts, detaches and removes
// the directory; see loopMount.cleanup.
//
// Note: attaching through /dev/loop-control (LOOP_CTL_GET_FREE, then
// LOOP_CONFIGURE) was rejected: another process can take the free device
// between the two calls, and the retry loop that handles it is what
// losetup already is. Mounting, on the other hand, is one plain syscall
// and needs no mount binary.
func prepareLoop(ctx context.Context, ts TargetSpec) (Target, func() error, error) {
	spec := ts.String()
	if err := loopNeeds(ts.FS, os.Geteuid(), exec.LookPath); err != nil {
		return Target{}, noCleanup, err
	}
	tmp, fromEnv := tempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(tmp, &st); err != nil {
		return Target{}, noCleanup, fmt.Errorf("target %s: statfs %s%s: %w", spec, tmp, fromEnv, err)
	}
	if free := st.Bavail * uint64(st.Bsize); free < uint64(ts.Size) {
		return Target{}, noCleanup, fmt.Errorf("target %s: %s%s has %s free, less than the %s image",
			spec, tmp, fromEnv, FormatBytes(free), FormatBytes(uint64(ts.Size)))
	}
	// The cleanup is live before the first step: a second Ctrl-C at any
	// point of the preparation undoes what was done so far (CleanupLive).
	l := &loopMount{spec: spec}
	id := registerCleanup(l.cleanup)
	cleanup := func() error {
		err := l.cleanup()
		if err == nil {
			unregisterCleanup(id)
		}
		return err
	}
	fail := func(err error) (Target, func() error, error) {
		err = fmt.Errorf("target %s: %w", spec, err)
		return Target{}, noCleanup, joinErrors(err, cleanup())
	}
	l.mu.Lock()
	base, err := os.MkdirTemp(tmp, fmt.Sprintf("%s%s-%d-", loopPrefix, ts.FS, os.Getpid()))
	l.base = base
	l.mu.Unlock()
	if err != nil {
		return fail(fmt.Errorf("%w%s", err, fromEnv))
	}

	// The image stays open, flock(2)ed, until cleanup: a later run tells
	// a live loop target from a killed run's by the lock (CleanStaleLoops).
	image := filepath.Join(base, "image")
	l.mu.Lock()
	f, err := os.OpenFile(image, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err == nil {
		l.lock = f
	}
	l.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fail(err)
	}
	if err := f.Truncate(ts.Size); err != nil {
		return fail(err)
	}
	if _, err := run(ctx, "mkfs."+ts.FS, append(mkfsArgs[ts.FS], image)...); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	// losetup is not cancelled: killed between attaching and printing the
	// device, it would leave a device nobody knows. Whatever it did, the
	// devices backed by the image are looked up by its inode.
	lctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	l.mu.Lock()
	out, err := run(lctx, "losetup", "--find", "--show", image)
	cancel()
	var ist unix.Stat_t
	if unix.Fstat(int(f.Fd()), &ist) == nil {
		if devs := loopBackedBy(ist); len(devs) > 0 {
			l.device = devs[0]
		}
	}
	l.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	if dev := strings.TrimSpace(out); !strings.HasPrefix(dev, "/dev/") {
		return fail(fmt.Errorf("losetup printed %q, not a device", dev))
	} else if l.device == "" {
		l.device = dev
	}
	mnt := filepath.Join(base, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	l.mu.Lock()
	err = unix.Mount(l.device, mnt, ts.FS, 0, "")
	if err == nil {
		l.mountPoint = mnt
	}
	l.mu.Unlock()
	if err != nil {
		return fail(fmt.Errorf("mounting %s on %s: %w", l.device, mnt, err))
	}
	t, err := inspect(rootFS, spec, mnt)
	if err != nil {
		return Target{}, noCleanup, joinErrors(err, cleanup())
	}
	return t, cleanup, nil
}

// tempDir is os.TempDir(), absolute, with its symbolic links resolved (the mount
// table names resolved paths), and, when TMPDIR set it, " (from TMPDIR)"
// for the messages that name it.
func tempDir() (dir, fromEnv string) {
	dir = os.TempDir()
	if os.Getenv("TMPDIR") != "" {
		fromEnv = " (from TMPDIR)"
	}
	if a, err := filepath.Abs(dir); err == nil {
		dir = a // a relative TMPDIR would never match the mount table
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	return dir, fromEnv
}

// loopMount records what prepareLoop has set up, so that cleanup undoes
// exactly that.
type loopMount struct {
	spec string

	mu         sync.Mutex
	lock       *os.File // the image, open and flocked while the target lives
	base       string   // directory holding the image and the mount point
	device     string   // attached loop device, "/dev/loopN"
	mountPoint string
}

// cleanup unmounts the filesystem, detaches the loop device and removes
// the directory, in that order, forgetting each step once it succeeds. A
// failing step stops it: removing the directory while the filesystem is
// still mounted would delete inside the mount. Calling cleanup again
// retries from the failed step, and after a full success does nothing, so
// it is safe to call from both a defer and a signal path. It does not take
// a context: a cancelled run must still clean up.
//
// It unmounts only a mount of its own device (unmountOwned, never through
// a link) and removes the directory only when nothing is mounted in it.
func (l *loopMount) cleanup() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mountPoint != "" {
		if err := unmountOwned(l.mountPoint, l.device); err != nil {
			return fmt.Errorf("target %s cleanup: %w", l.spec, err)
		}
		l.mountPoint = ""
	}
	if l.device != "" {
		if err := detachLoop(l.device); err != nil {
			return fmt.Errorf("target %s cleanup: %w", l.spec, err)
		}
		l.device = ""
	}
	if l.lock != nil {
		l.lock.Close()
		l.lock = nil
	}
	if l.base != "" {
		if err := notMountedUnder(l.base); err != nil {
			return fmt.Errorf("target %s cleanup: %w", l.spec, err)
		}
		if err := os.RemoveAll(l.base); err != nil {
			return fmt.Errorf("target %s cleanup: %w", l.spec, err)
		}
		l.base = ""
	}
	return nil
}

// detachLoop detaches loop device dev (LOOP_CLR_FD); one that is already
// free (ENXIO) is done.
func detachLoop(dev string) error {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("detaching %s: %w", dev, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return fmt.Errorf("detaching %s: not a block device", dev)
	}
	for range 50 {
		err = unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0)
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond) // a lazy unmount still letting go
	}
	if err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("detaching %s: %w", dev, err)
	}
	return nil
}

// notMountedUnder checks that no mount point of the mount table lies in
// dir: removing it then stays on dir's own filesystem.
func notMountedUnder(dir string) error {
	mounts, err := readMountInfo()
	if err != nil {
		return fmt.Errorf("reading the mount table: %w", err)
	}
	for _, m := range mounts {
		if strings.HasPrefix(m.Point, dir+"/") {
			return fmt.Errorf("%s is still mounted (from %s); not removing %s", m.Point, m.Source, dir)
		}
	}
	return nil
}

// loopPrefix starts the name of a loop target's directory under
// os.TempDir(): lockbench-FS-PID-RANDOM.
const loopPrefix = "lockbench-"

// CleanStaleLoops removes the loop targets that killed lockbench runs left
// under os.TempDir() (mounted, the loop device attached): it unmounts
// them, detaches their devices and removes their directories. A target
// belongs to a dead run when its pid is gone, or when its image's lock is
// free (the pid was reused). A live run's target is never touched. It
// returns one line per target removed.
//
// Only what is provably a lockbench target is touched: a directory owned
// by this uid that nobody else can write (in /tmp, anyone can make one of
// that name), its image a regular file of this uid, never through a link;
// the device is the one backed by that image's inode, and the mount is
// undone only when the mount table shows that device on its mnt.
func CleanStaleLoops(ctx context.Context) ([]string, error) {
	tmp, _ := tempDir()
	dirs, err := filepath.Glob(filepath.Join(tmp, loopPrefix+"*-*-*"))
	if err != nil {
		return nil, err
	}
	var notes []string
	var errs error
	for _, dir := range dirs {
		pid, ok := loopPID(filepath.Base(dir))
		if !ok || pid == os.Getpid() {
			continue
		}
		if _, err := lstatOwned(dir, unix.S_IFDIR); err != nil {
			continue // someone else's: not ours to judge
		}
		if !deadLoop(dir, pid) {
			continue
		}
		l := &loopMount{spec: filepath.Base(dir), base: dir}
		if ist, err := lstatOwned(filepath.Join(dir, "image"), unix.S_IFREG); err == nil {
			if devs := loopBackedBy(ist); len(devs) > 0 {
				l.device = devs[0]
			}
		}
		if _, err := lstatOwned(filepath.Join(dir, "mnt"), unix.S_IFDIR); err == nil {
			l.mountPoint = filepath.Join(dir, "mnt")
		}
		if err := l.cleanup(); err != nil {
			errs = joinErrors(errs, err)
			continue
		}
		notes = append(notes, fmt.Sprintf("removed the loop target %s that a killed lockbench run (pid %d) left mounted", dir, pid))
	}
	return notes, errs
}

// loopPID returns the pid in a loop target's directory name.
func loopPID(name string) (int, bool) {
	parts := strings.Split(strings.TrimPrefix(name, loopPrefix), "-")
	if len(parts) != 3 {
		return 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	return pid, err == nil && pid > 0
}

// deadLoop reports whether the run of pid that made loop directory dir is
// gone: no such process, or nobody holds the image's lock.
func deadLoop(dir string, pid int) bool {
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return true
	}
	// The pid is alive: a reused one, or the run itself between making
	// the directory and locking the image. Only an old target's free lock
	// says the run is gone.
	var st unix.Stat_t
	if unix.Lstat(dir, &st) != nil || time.Since(time.Unix(st.Mtim.Unix())) < time.Minute {
		return false
	}
	f, err := openOwnedRegular(filepath.Join(dir, "image"))
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// run runs a command and returns its standard output. On failure the error
// holds the command, the exit status and its output squeezed onto one line.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(stderr.String()+" "+stdout.String()), " ")
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		if msg != "" {
			return "", fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return stdout.String(), nil
}
