package hardware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// A zram target is a compressed RAM block device, made for the run through
// /sys/class/zram-control, formatted and mounted: a block device whose
// writeback and log commits cost what the filesystem's own code costs, not
// a slow disk's latency.
//
// Everything a zram target needs is recorded in a private directory
// zramStateDir/zram-FS-PID-RANDOM, which only root can reach (the state
// directory is root's, mode 0700): an "owner" file, flock(2)ed for as long
// as the target lives, names the device, its diskseq (the kernel's
// per-boot sequence number of that device instance), the pid and the boot;
// "mnt" is the mount point. A later run removes a zram device only when it
// can prove a killed run of lockbench made it: the owner file is a regular
// file owned by root in a root-owned directory no one else can write, its
// lock is free, the boot is this one, and the device's diskseq is the one
// recorded. Any other zram device (the system's swap, another tool's, one
// whose number a killed run's device had) is never touched.

// zramControl is the zram module's control directory.
const zramControl = "/sys/class/zram-control"

// zramStateDir holds the private directories of zram targets. /run is
// root's and goes with the boot, as zram devices do.
var zramStateDir = "/run/lockbench"

// zramStageHook, when set (by tests), is called after each stage of a
// zram target's setup ("added", "sized", "formatted", "mounted") with the
// device's number and diskseq, outside the target's lock.
var zramStageHook func(stage string, n int, diskseq string)

// zramStage calls zramStageHook when it is set.
func zramStage(stage string, n int, diskseq string) {
	if zramStageHook != nil {
		zramStageHook(stage, n, diskseq)
	}
}

// zramPrefix starts a zram target's directory name: zram-FS-PID-RANDOM.
const zramPrefix = "zram-"

// DefaultZramSize is the size of a zram device when the spec gives none.
const DefaultZramSize = 1 << 30

// zramPreferredAlgorithms are the compressors a zram target asks for, the
// fastest first; when the kernel offers none of them its default stays.
var zramPreferredAlgorithms = []string{"lz4", "lzo-rle", "lzo"}

// parseZram parses the rest of a zram:FS[:SIZE] entry.
func parseZram(entry, rest string) (TargetSpec, error) {
	return parseBlockTarget(entry, rest, "zram", DefaultZramSize, "zram device", "zram:btrfs:1G")
}

// parseBlockTarget parses the rest of a KIND:FS[:SIZE] entry of a block
// device lockbench makes and formats (loop, zram): FS one of
// LoopFilesystems, SIZE at least its MinSize (def when absent); noun and
// example name the device in the errors ("image", "loop:xfs:2G").
func parseBlockTarget(entry, rest, kind string, def int64, noun, example string) (TargetSpec, error) {
	fsName, size, hasSize := strings.Cut(rest, ":")
	i := slices.IndexFunc(LoopFilesystems, func(l LoopFS) bool { return l.Name == fsName })
	if i < 0 {
		return TargetSpec{}, fmt.Errorf("target %q: %s filesystem must be ext4, xfs or btrfs, as in %s", entry, kind, example)
	}
	ts := TargetSpec{Kind: kind, FS: fsName, Size: def}
	if hasSize {
		n, err := ParseSize(size)
		if err != nil {
			return TargetSpec{}, fmt.Errorf("target %q: %w", entry, err)
		}
		ts.Size = n
	}
	if lf := LoopFilesystems[i]; ts.Size < lf.MinSize {
		return TargetSpec{}, fmt.Errorf("target %q: a %s %s must be at least %s", entry, fsName, noun, formatSize(lf.MinSize))
	}
	return ts, nil
}

// zramNeeds reports, as one error, everything a zram target of filesystem
// fsName lacks: root, the zram module (its control directory) and
// mkfs.fsName. euid, lookPath and haveControl are the real ones outside
// tests.
func zramNeeds(fsName string, euid int, lookPath func(string) (string, error), haveControl bool) error {
	i := slices.IndexFunc(LoopFilesystems, func(l LoopFS) bool { return l.Name == fsName })
	if i < 0 {
		return fmt.Errorf("target zram:%s: zram filesystem must be ext4, xfs or btrfs", fsName)
	}
	var missing []string
	if euid != 0 {
		missing = append(missing, fmt.Sprintf("root to create a zram device and mount it (running as uid %d)", euid))
	}
	if !haveControl {
		missing = append(missing, "the zram module (no "+zramControl+"; modprobe zram)")
	}
	if _, err := lookPath("mkfs." + fsName); err != nil {
		missing = append(missing, fmt.Sprintf("mkfs.%s (apt-get install %s)", fsName, LoopFilesystems[i].Package))
	}
	if len(missing) == 0 {
		return nil
	}
	list := missing[len(missing)-1]
	if len(missing) > 1 {
		list = strings.Join(missing[:len(missing)-1], ", ") + " and " + list
	}
	return fmt.Errorf("target zram:%s needs %s", fsName, list)
}

// haveZramControl reports whether the zram module's control directory is
// there.
func haveZramControl() bool {
	fi, err := os.Stat(zramControl)
	return err == nil && fi.IsDir()
}

// ZramStatus says whether zram targets can be made on this machine.
type ZramStatus struct {
	Available bool `json:"available"`
	// Reason says what is missing when zram targets cannot be made.
	Reason string `json:"reason,omitempty"`
	// Filesystems lists the filesystems whose mkfs is installed.
	Filesystems []string `json:"filesystems"`
}

// Zram says whether zram targets can be made here and, if not, why.
func Zram() ZramStatus { return zramStatus(os.Geteuid(), exec.LookPath, haveZramControl()) }

func zramStatus(euid int, lookPath func(string) (string, error), haveControl bool) ZramStatus {
	s := ZramStatus{Filesystems: []string{}}
	for _, l := range LoopFilesystems {
		if _, err := lookPath("mkfs." + l.Name); err == nil {
			s.Filesystems = append(s.Filesystems, l.Name)
		}
	}
	var missing []string
	if euid != 0 {
		missing = append(missing, fmt.Sprintf("needs root (running as uid %d)", euid))
	}
	if !haveControl {
		missing = append(missing, "no "+zramControl+" (the zram module is not loaded: modprobe zram)")
	}
	if len(s.Filesystems) == 0 {
		missing = append(missing, "no mkfs.ext4, mkfs.xfs or mkfs.btrfs")
	}
	s.Available = len(missing) == 0
	s.Reason = strings.Join(missing, "; ")
	return s
}

// Text is the status on one line: "available for ext4, xfs, btrfs
// (zram:FS[:SIZE])" or "unavailable: needs root (running as uid 1000)".
func (s ZramStatus) Text() string {
	if !s.Available {
		return "unavailable: " + s.Reason
	}
	return "available for " + strings.Join(s.Filesystems, ", ") + " (-target zram:FS[:SIZE])"
}

// zramDevice records what prepareZram has set up, so that cleanup undoes
// exactly that. Each step that makes something runs under mu and only
// while the target is not closed, so a cleanup from a signal (the second
// Ctrl-C during setup) and the setup itself cannot miss each other's work.
type zramDevice struct {
	spec string

	mu         sync.Mutex
	closed     bool     // cleanup has run: setup must make nothing more
	id         int      // the key of its live cleanup (registerCleanup)
	dir        string   // private directory: owner file and mount point
	lock       *os.File // the owner file, open and flocked while the target lives
	num        int      // the device number, -1 before hot_add
	diskseq    string   // the device's diskseq, "" where the kernel has none
	mountPoint string
}

// errZramClosed is a setup step refused because cleanup already ran.
var errZramClosed = errors.New("interrupted: the target was cleaned up during setup")

// step runs f under the lock unless cleanup has already run.
func (z *zramDevice) step(f func() error) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return errZramClosed
	}
	return f()
}

// prepareZram makes a zram target: it checks root, the zram module and
// mkfs.FS, makes a private directory with its owner file, adds a zram
// device, picks the fastest compressor the kernel offers, sets the size,
// formats it, mounts it, and describes the mounted filesystem. Any failure
// runs the cleanup before returning, so a failed Prepare leaves nothing
// behind.
func prepareZram(ctx context.Context, ts TargetSpec) (Target, func() error, error) {
	spec := ts.String()
	if err := zramNeeds(ts.FS, os.Geteuid(), exec.LookPath, haveZramControl()); err != nil {
		return Target{}, noCleanup, err
	}
	if avail, err := MemAvailable(); err == nil && uint64(ts.Size) > avail {
		return Target{}, noCleanup, targetErr(spec, true, "a zram device of %s may take that much memory, more than the %s available; give a smaller SIZE",
			FormatBytes(uint64(ts.Size)), FormatBytes(avail))
	}
	// The cleanup is live before the first step (CleanupLive, for the
	// second Ctrl-C), and every step that makes something runs under z's
	// lock while no cleanup has run: a signal at any point of the setup
	// undoes what was done so far, and the setup then makes nothing more.
	z := &zramDevice{spec: spec, num: -1}
	z.mu.Lock()
	z.id = registerCleanup(z.cleanup)
	z.mu.Unlock()
	// hold is the device, open from when it is configured until it is
	// mounted; see below.
	var hold *os.File
	fail := func(err error) (Target, func() error, error) {
		if hold != nil {
			hold.Close() // or the reset would wait for it
		}
		err = fmt.Errorf("target %s: %w", spec, err)
		return Target{}, noCleanup, joinErrors(err, z.cleanup())
	}

	stateDir, err := zramStateDirectory(true)
	if err != nil {
		return fail(err)
	}
	// The directory, device number and diskseq as this setup made them:
	// a cleanup from a signal clears z's copies.
	var (
		dir     string
		n       int
		diskseq string
	)
	if err := z.step(func() error {
		var err error
		dir, err = os.MkdirTemp(stateDir, fmt.Sprintf("%s%s-%d-", zramPrefix, ts.FS, os.Getpid()))
		if err != nil {
			return err
		}
		z.dir = dir
		f, err := os.OpenFile(filepath.Join(dir, "owner"), os.O_CREATE|os.O_EXCL|os.O_RDWR|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		z.lock = f
		// Blocking: a cleaner may hold the new file's lock for the moment
		// it takes to find it names no device yet.
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			return err
		}
		return writeOwner(f, zramOwner{Device: -1, PID: os.Getpid(), Boot: bootID(), FS: ts.FS})
	}); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := z.step(func() error {
		b, err := os.ReadFile(zramControl + "/hot_add")
		if err != nil {
			return fmt.Errorf("adding a zram device: %w", err)
		}
		n, err = strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || n < 0 {
			return fmt.Errorf("adding a zram device: %s/hot_add read %q, not a device number", zramControl, b)
		}
		z.num = n
		diskseq, _ = readSys(n, "diskseq")
		z.diskseq = diskseq
		return writeOwner(z.lock, zramOwner{Device: n, Diskseq: diskseq, PID: os.Getpid(), Boot: bootID(), FS: ts.FS})
	}); err != nil {
		return fail(err)
	}
	zramStage("added", n, diskseq)
	// The device is configured, and opened, under the lock, and held open
	// through mkfs: a device this process holds open cannot be reset, so a
	// cleanup meanwhile cannot remove it and let its number go to another
	// device before mkfs names it by /dev/zramN. It is closed before the
	// mount step takes the lock (which checks that no cleanup ran), so
	// that a cleanup holding the lock can reset it.
	var alg, size, dev string
	if err := z.step(func() error {
		var err error
		if alg, err = setZramAlgorithm(n); err != nil {
			return err
		}
		if err := writeSys(n, "disksize", strconv.FormatInt(ts.Size, 10)); err != nil {
			return fmt.Errorf("setting zram%d's size to %s: %w", n, FormatBytes(uint64(ts.Size)), err)
		}
		size, _ = readSys(n, "disksize")
		if dev, err = zramNode(n); err != nil {
			return err
		}
		hold, err = os.OpenFile(dev, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		return err
	}); err != nil {
		return fail(err)
	}
	zramStage("sized", n, diskseq)
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	// mkfs runs outside the lock: a cleanup from a signal meanwhile finds
	// the device open, and its reset waits for mkfs, which the cancelled
	// context ends.
	if _, err := run(ctx, "mkfs."+ts.FS, append(mkfsArgs[ts.FS], dev)...); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	hold.Close()
	zramStage("formatted", n, diskseq)
	mnt := filepath.Join(dir, "mnt")
	if err := z.step(func() error {
		if err := os.Mkdir(mnt, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(dev, mnt, ts.FS, 0, ""); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", dev, mnt, err)
		}
		z.mountPoint = mnt
		return nil
	}); err != nil {
		return fail(err)
	}
	zramStage("mounted", n, diskseq)
	t, err := inspect(rootFS, spec, mnt)
	if err != nil {
		return Target{}, noCleanup, joinErrors(err, z.cleanup())
	}
	t.Compression = alg
	t.DeviceKind = "zram"
	if bytes, err := strconv.ParseUint(size, 10, 64); err == nil {
		t.Model = fmt.Sprintf("RAM, %s, %s-compressed", FormatBytes(bytes), alg)
	}
	return t, z.cleanup, nil
}

// setZramAlgorithm sets zram device n's compressor to the first of
// zramPreferredAlgorithms the kernel offers and returns the one in use.
func setZramAlgorithm(n int) (string, error) {
	list, err := readSys(n, "comp_algorithm")
	if err != nil {
		return "", fmt.Errorf("reading zram%d's compressors: %w", n, err)
	}
	offered := strings.Fields(strings.NewReplacer("[", "", "]", "").Replace(list))
	for _, a := range zramPreferredAlgorithms {
		if slices.Contains(offered, a) {
			if err := writeSys(n, "comp_algorithm", a); err != nil {
				return "", fmt.Errorf("setting zram%d's compressor to %s: %w", n, a, err)
			}
			break
		}
	}
	list, err = readSys(n, "comp_algorithm")
	if err != nil {
		return "", fmt.Errorf("reading zram%d's compressors: %w", n, err)
	}
	if _, rest, ok := strings.Cut(list, "["); ok {
		if alg, _, ok := strings.Cut(rest, "]"); ok {
			return alg, nil
		}
	}
	return "", fmt.Errorf("zram%d's comp_algorithm %q names no compressor in use", n, list)
}

// zramNode returns /dev/zramN once it is the block device whose number
// sysfs gives (devtmpfs makes it as the device appears).
func zramNode(n int) (string, error) {
	dev := fmt.Sprintf("/dev/zram%d", n)
	want, err := readSys(n, "dev")
	if err != nil {
		return "", err
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var st unix.Stat_t
		err := unix.Lstat(dev, &st)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			if got := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)); got == want {
				return dev, nil
			}
			return "", fmt.Errorf("%s is not zram%d's device node (%s)", dev, n, want)
		}
		if err == nil {
			return "", fmt.Errorf("%s is not a block device", dev)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s did not appear: %w", dev, err)
		}
	}
}

// cleanup unmounts the filesystem, resets and removes the zram device and
// removes the private directory, in that order, forgetting each step once
// it succeeds; a failing step stops it (the directory must not go while
// the filesystem is mounted on it). Calling it again retries from the
// failed step, and after a full success does nothing, so it is safe from
// both a defer and a signal path. It takes no context: a cancelled run must
// still clean up.
func (z *zramDevice) cleanup() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.closed = true
	if z.mountPoint != "" {
		if err := unmountOwned(z.mountPoint, fmt.Sprintf("/dev/zram%d", z.num)); err != nil {
			return fmt.Errorf("target %s cleanup: %w", z.spec, err)
		}
		z.mountPoint = ""
	}
	if z.num >= 0 {
		if err := zramRemove(z.num, z.diskseq); err != nil {
			return fmt.Errorf("target %s cleanup: %w", z.spec, err)
		}
		z.num = -1
	}
	if z.dir != "" {
		if err := removeZramDir(z.dir, z.lock); err != nil {
			return fmt.Errorf("target %s cleanup: %w", z.spec, err)
		}
		z.dir, z.lock = "", nil
	}
	unregisterCleanup(z.id)
	return nil
}

// removeZramDir removes a zram target's directory: the mount point (an
// empty directory: rmdir fails on a filesystem still mounted there), the
// owner file, and the directory itself. lock, the open owner file, is
// closed after the file is gone, so no cleaner finds it free meanwhile.
// Nothing is removed recursively.
func removeZramDir(dir string, lock *os.File) error {
	for _, name := range []string{"mnt", "owner"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if lock != nil {
		lock.Close()
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// zramRemove resets zram device n (freeing its memory) and removes it,
// after checking it is still the device instance of diskseq ("" skips the
// check: the kernel has no diskseq). A device already gone, or replaced by
// another of the same number, is left alone. The device stays busy for a
// moment after a lazy unmount or while a cancelled mkfs exits, so busy is
// retried for a few seconds.
func zramRemove(n int, diskseq string) error {
	cur, err := readSys(n, "diskseq")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(fmt.Sprintf("/sys/block/zram%d", n)); errors.Is(err, fs.ErrNotExist) {
			return nil // gone already
		}
		// A kernel without diskseq: the number is all there is.
	case err != nil:
		return fmt.Errorf("zram%d: %w", n, err)
	case diskseq != "" && cur != diskseq:
		return nil // not ours any more
	}
	busy := func(err error) bool { return errors.Is(err, unix.EBUSY) }
	if err := retryBusy(busy, func() error { return writeSys(n, "reset", "1") }); err != nil {
		return fmt.Errorf("resetting zram%d: %w", n, err)
	}
	if err := retryBusy(busy, func() error {
		return writeFile(zramControl+"/hot_remove", strconv.Itoa(n))
	}); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("removing zram%d: %w", n, err)
	}
	return nil
}

// retryBusy calls f until it succeeds, fails other than busy, or 5 s pass.
func retryBusy(busy func(error) bool, f func() error) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		if err == nil || !busy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readSys reads /sys/block/zramN/attr, trimmed.
func readSys(n int, attr string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/sys/block/zram%d/%s", n, attr))
	return strings.TrimSpace(string(b)), err
}

// writeSys writes value to /sys/block/zramN/attr.
func writeSys(n int, attr, value string) error {
	return writeFile(fmt.Sprintf("/sys/block/zram%d/%s", n, attr), value)
}

// writeFile writes value to an existing sysfs attribute in one write, as
// echo does, and returns the write's error (sysfs reports EBUSY there).
func writeFile(name, value string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(value + "\n"))
	return joinErrors(err, f.Close())
}

// bootID is this boot's random id, or "" when the kernel does not say.
func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// zramOwner is the owner file of a zram target.
type zramOwner struct {
	Device  int // N of zramN, -1 when the file names none
	Diskseq string
	PID     int
	Boot    string
	FS      string
}

// writeOwner writes o into the open owner file f and syncs it.
func writeOwner(f *os.File, o zramOwner) error {
	text := "lockbench zram target\n"
	if o.Device >= 0 {
		text += fmt.Sprintf("device zram%d\ndiskseq %s\n", o.Device, o.Diskseq)
	}
	text += fmt.Sprintf("pid %d\nboot %s\nfs %s\n", o.PID, o.Boot, o.FS)
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(text), 0); err != nil {
		return err
	}
	return f.Sync()
}

// parseOwner parses an owner file. A file without its header, or without
// a device line (a run killed before it added its device), names no
// device.
func parseOwner(text string) (zramOwner, bool) {
	o := zramOwner{Device: -1}
	lines := strings.Split(text, "\n")
	if lines[0] != "lockbench zram target" {
		return o, false
	}
	for _, line := range lines[1:] {
		key, value, _ := strings.Cut(line, " ")
		switch key {
		case "device":
			num, ok := strings.CutPrefix(value, "zram")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 || strconv.Itoa(n) != num {
				return zramOwner{Device: -1}, false
			}
			o.Device = n
		case "diskseq":
			o.Diskseq = value
		case "pid":
			o.PID, _ = strconv.Atoi(value)
		case "boot":
			o.Boot = value
		case "fs":
			o.FS = value
		}
	}
	return o, true
}

// zramStateDirectory returns zramStateDir after checking that it is a
// directory (not a link) owned by root that no one else can write, and
// that its parent is too; with create, it makes it (mode 0700) when
// missing. Anything else is refused: a directory others can write could
// hold planted names.
func zramStateDirectory(create bool) (string, error) {
	if err := rootOnlyDir(filepath.Dir(zramStateDir), false); err != nil {
		return "", err
	}
	if create {
		if err := os.Mkdir(zramStateDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	if err := rootOnlyDir(zramStateDir, true); err != nil {
		return "", err
	}
	return zramStateDir, nil
}

// rootOnlyDir checks that dir is a directory, not a symbolic link, owned by
// root and not writable by group or others (private: nor readable).
func rootOnlyDir(dir string, private bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	mask := uint32(0o022)
	if private {
		mask = 0o077
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != 0 || st.Mode&mask != 0 {
		return fmt.Errorf("%s is not a directory of root's that only root can write (mode %o, uid %d); not using it", dir, st.Mode&0o7777, st.Uid)
	}
	return nil
}

// CleanStaleZram removes the zram targets that killed lockbench runs left:
// it unmounts each, resets and removes its device, and removes its
// directory, when it can prove the run made it (see the comment at the top
// of this file). A live run's target, and any zram device lockbench did not
// make, is never touched. It returns one line per target removed.
func CleanStaleZram() ([]string, error) {
	if _, err := os.Lstat(zramStateDir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	stateDir, err := zramStateDirectory(false)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(stateDir)
	if err != nil {
		return nil, err
	}
	var notes []string
	var errs error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), zramPrefix) {
			continue
		}
		note, err := cleanStaleZram(filepath.Join(stateDir, e.Name()))
		if note != "" {
			notes = append(notes, note)
		}
		errs = joinErrors(errs, err)
	}
	return notes, errs
}

// cleanStaleZram removes one killed run's zram target in dir, when it can
// prove it made it; it returns "" and no error for a live run's target or
// one it cannot prove.
func cleanStaleZram(dir string) (string, error) {
	if rootOnlyDir(dir, true) != nil {
		return "", nil
	}
	f, err := openOwnedRegular(filepath.Join(dir, "owner"))
	if errors.Is(err, unix.ENOENT) {
		return removeEmptyZramDir(dir), nil
	}
	if err != nil {
		return "", nil // not a regular file of root's: not provably ours
	}
	defer f.Close()
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Uid != 0 || st.Nlink != 1 {
		return "", nil
	}
	// The lock is held for as long as the run that made the target lives;
	// holding it here also keeps two cleaners apart.
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return "", nil
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", nil
	}
	o, ok := parseOwner(string(b))
	if !ok {
		return "", nil
	}
	mnt := filepath.Join(dir, "mnt")
	mounts, err := readMountInfo()
	if err != nil {
		return "", err
	}
	ours := o.Device >= 0 && o.Boot == bootID()
	if ours {
		cur, err := readSys(o.Device, "diskseq")
		switch {
		case errors.Is(err, fs.ErrNotExist):
			ours = false // the device is gone
		case o.Diskseq != "":
			ours = cur == o.Diskseq
		default:
			// No diskseq on this kernel: only the device mounted on
			// this directory proves it.
			ours = slices.ContainsFunc(mounts, func(m mountInfo) bool { return m.Point == mnt && m.Source == fmt.Sprintf("/dev/zram%d", o.Device) })
		}
	}
	if ours {
		dev, _ := readSys(o.Device, "dev")
		name := fmt.Sprintf("/dev/zram%d", o.Device)
		for _, m := range mounts {
			if m.Dev != dev && m.Source != name {
				continue
			}
			if m.Point != mnt {
				return "", fmt.Errorf("zram%d, which a killed lockbench run (pid %d) made, is also mounted on %s: left alone", o.Device, o.PID, m.Point)
			}
			if err := unmountOwned(mnt, name); err != nil {
				return "", err
			}
		}
		if err := zramRemove(o.Device, o.Diskseq); err != nil {
			return "", err
		}
	} else if slices.ContainsFunc(mounts, func(m mountInfo) bool { return m.Point == mnt }) {
		return "", fmt.Errorf("%s is a mount point lockbench cannot prove it made: left alone", mnt)
	}
	if err := removeZramDir(dir, nil); err != nil {
		return "", err
	}
	switch {
	case o.Device < 0:
		return fmt.Sprintf("removed the directory %s that a killed lockbench run (pid %d) left before adding its zram device", dir, o.PID), nil
	case !ours:
		return fmt.Sprintf("removed the directory %s of a killed lockbench run (pid %d), whose zram%d is gone", dir, o.PID, o.Device), nil
	}
	return fmt.Sprintf("removed zram%d (%s), the zram target a killed lockbench run (pid %d) left", o.Device, o.FS, o.PID), nil
}

// removeEmptyZramDir removes a zram target directory without an owner
// file, left by a run killed in the middle of making or removing it, when
// it is over a minute old (a live run makes the owner file right after the
// directory) and empty but for an empty mount point. rmdir removes only
// empty directories and fails on a mount point in use, so nothing else can
// go. It returns a notice when it removed the directory.
func removeEmptyZramDir(dir string) string {
	var st unix.Stat_t
	if unix.Lstat(dir, &st) != nil || time.Since(time.Unix(st.Mtim.Unix())) < time.Minute {
		return ""
	}
	if err := os.Remove(filepath.Join(dir, "mnt")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if os.Remove(dir) != nil {
		return ""
	}
	return fmt.Sprintf("removed the empty directory %s that a killed lockbench run left", dir)
}
