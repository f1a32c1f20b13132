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
	tmp := os.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(tmp, &st); err != nil {
		return Target{}, noCleanup, fmt.Errorf("target %s: statfs %s: %w", spec, tmp, err)
	}
	if free := st.Bavail * uint64(st.Bsize); free < uint64(ts.Size) {
		return Target{}, noCleanup, fmt.Errorf("target %s: %s has %s free, less than the %s image",
			spec, tmp, FormatBytes(free), FormatBytes(uint64(ts.Size)))
	}
	base, err := os.MkdirTemp(tmp, fmt.Sprintf("%s%s-%d-", loopPrefix, ts.FS, os.Getpid()))
	if err != nil {
		return Target{}, noCleanup, fmt.Errorf("target %s: %w", spec, err)
	}
	l := &loopMount{spec: spec, base: base}
	fail := func(err error) (Target, func() error, error) {
		err = fmt.Errorf("target %s: %w", spec, err)
		return Target{}, noCleanup, joinErrors(err, l.cleanup())
	}

	// The image stays open, flock(2)ed, until cleanup: a later run tells
	// a live loop target from a killed run's by the lock (CleanStaleLoops).
	image := filepath.Join(base, "image")
	f, err := os.OpenFile(image, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fail(err)
	}
	l.lock = f
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fail(err)
	}
	if err := f.Truncate(ts.Size); err != nil {
		return fail(err)
	}
	if _, err := run(ctx, "mkfs."+ts.FS, append(mkfsArgs[ts.FS], image)...); err != nil {
		return fail(err)
	}
	out, err := run(ctx, "losetup", "--find", "--show", image)
	if err != nil {
		return fail(err)
	}
	l.device = strings.TrimSpace(out)
	if !strings.HasPrefix(l.device, "/dev/") {
		return fail(fmt.Errorf("losetup printed %q, not a device", l.device))
	}
	mnt := filepath.Join(base, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := unix.Mount(l.device, mnt, ts.FS, 0, ""); err != nil {
		return fail(fmt.Errorf("mounting %s on %s: %w", l.device, mnt, err))
	}
	l.mountPoint = mnt
	t, err := inspect(rootFS, spec, mnt)
	if err != nil {
		return Target{}, noCleanup, joinErrors(err, l.cleanup())
	}
	return t, l.cleanup, nil
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
func (l *loopMount) cleanup() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mountPoint != "" {
		if err := unmount(l.mountPoint); err != nil {
			return fmt.Errorf("target %s cleanup: %w", l.spec, err)
		}
		l.mountPoint = ""
	}
	if l.device != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := run(ctx, "losetup", "--detach", l.device); err != nil {
			return fmt.Errorf("target %s cleanup: %w", l.spec, err)
		}
		l.device = ""
	}
	if l.lock != nil {
		l.lock.Close()
		l.lock = nil
	}
	if l.base != "" {
		if err := os.RemoveAll(l.base); err != nil {
			return fmt.Errorf("target %s cleanup: %w", l.spec, err)
		}
		l.base = ""
	}
	return nil
}

// unmount unmounts dir. A filesystem still busy (files a faulted or
// interrupted run keeps open or mapped) is detached lazily (MNT_DETACH):
// it leaves the namespace now and goes when the last file closes, so the
// directory can be removed. EINVAL means it is not mounted (any more).
func unmount(dir string) error {
	err := unix.Unmount(dir, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(dir, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmounting %s: %w", dir, err)
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
func CleanStaleLoops(ctx context.Context) ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), loopPrefix+"*-*-*"))
	if err != nil {
		return nil, err
	}
	var notes []string
	var errs error
	for _, dir := range dirs {
		pid, ok := loopPID(filepath.Base(dir))
		if !ok || pid == os.Getpid() || !deadLoop(dir, pid) {
			continue
		}
		l := &loopMount{spec: filepath.Base(dir), base: dir, mountPoint: filepath.Join(dir, "mnt")}
		image := filepath.Join(dir, "image")
		if out, err := run(ctx, "losetup", "--noheadings", "--output", "NAME", "--associated", image); err == nil {
			if devs := strings.Fields(out); len(devs) > 0 {
				l.device = devs[0]
			}
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
	if fi, err := os.Stat(dir); err != nil || time.Since(fi.ModTime()) < time.Minute {
		return false
	}
	f, err := os.Open(filepath.Join(dir, "image"))
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
