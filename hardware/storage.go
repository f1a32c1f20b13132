package hardware

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MinFreeBytes is the free space a target needs: room for the backing files
// of a run with margin. A fuller filesystem is refused up front rather than
// failing with ENOSPC in the middle of a measurement.
const MinFreeBytes = 64 << 20

// mountsFile is the mount table the target probes read.
const mountsFile = "proc/self/mounts"

// rootFS is the real machine's /sys and /proc, as an fs.FS.
var rootFS fs.FS = os.DirFS("/")

// Prepare makes the target ts ready and describes it. For tmpfs and dir
// targets it checks the directory (it exists, is a directory, is writable,
// is not on a read-only or nearly full filesystem), probes fallocate and
// punch-hole with a temporary file, and finds the filesystem and the block
// device under it. For loop targets it first creates a sparse image of
// ts.Size bytes under os.TempDir(), formats it, attaches it to a loop
// device and mounts it; that needs root, mkfs.FS and losetup, and the error
// says which are missing. zram targets alike make a zram device of ts.Size
// bytes (zram.go).
//
// The returned cleanup undoes what Prepare set up (for a loop target:
// unmount, detach, remove the image); it is non-nil even when
// Prepare fails (Prepare has then cleaned up already and cleanup does
// nothing), and may be called any number of times. It does not use ctx,
// so a cancelled run still cleans up.
func Prepare(ctx context.Context, ts TargetSpec) (Target, func() error, error) {
	switch ts.Kind {
	case "tmpfs":
		t, err := prepareTmpfs(rootFS)
		return t, noCleanup, err
	case "dir":
		t, err := inspect(rootFS, ts.String(), ts.Path)
		return t, noCleanup, err
	case "loop":
		return prepareLoop(ctx, ts)
	case "zram":
		return prepareZram(ctx, ts)
	}
	return Target{}, noCleanup, fmt.Errorf("unknown target %q; allowed: %s", ts, strings.Join(TargetForms, ", "))
}

// noCleanup is the cleanup of targets that set nothing up.
func noCleanup() error { return nil }

// PrepareAll prepares every target in order. An entry that auto expanded
// to (TargetSpec.Auto) is dropped when it lands on the filesystem of an
// earlier target, so auto on a machine whose temporary directory is tmpfs
// yields one target, not the same one twice. On error every target
// prepared so far is cleaned up. The returned cleanup cleans up all of
// them in reverse order and, like Prepare's, is non-nil and idempotent.
func PrepareAll(ctx context.Context, specs []TargetSpec) ([]Target, func() error, error) {
	var (
		targets  []Target
		cleanups []func() error
	)
	cleanupAll := func() error {
		var err error
		for i := len(cleanups) - 1; i >= 0; i-- {
			err = joinErrors(err, cleanups[i]())
		}
		return err
	}
	for _, ts := range specs {
		t, cleanup, err := Prepare(ctx, ts)
		if err != nil {
			return nil, noCleanup, joinErrors(err, cleanupAll())
		}
		if ts.Auto && coveredBy(t, targets) {
			if err := cleanup(); err != nil {
				return nil, noCleanup, joinErrors(err, cleanupAll())
			}
			continue
		}
		if i := sameDir(t, targets); i >= 0 {
			err := targetErr(t.Spec, true, "%s is the same directory as target %s, listed twice", t.Path, targets[i].Spec)
			return nil, noCleanup, joinErrors(err, joinErrors(cleanup(), cleanupAll()))
		}
		targets = append(targets, t)
		cleanups = append(cleanups, cleanup)
	}
	return targets, cleanupAll, nil
}

// sameDir returns the index of the target of targets whose directory is
// t's (tmpfs and dir:/dev/shm, say), or -1.
func sameDir(t Target, targets []Target) int {
	a, err := os.Stat(t.Path)
	if err != nil {
		return -1
	}
	for i, o := range targets {
		if b, err := os.Stat(o.Path); err == nil && os.SameFile(a, b) {
			return i
		}
	}
	return -1
}

// coveredBy reports whether t's path is on the same filesystem (the same
// st_dev) as one of targets.
func coveredBy(t Target, targets []Target) bool {
	var a unix.Stat_t
	if unix.Stat(t.Path, &a) != nil {
		return false
	}
	for _, o := range targets {
		var b unix.Stat_t
		if unix.Stat(o.Path, &b) == nil && a.Dev == b.Dev {
			return true
		}
	}
	return false
}

// joinErrors joins two errors on one line, keeping both for errors.Is. It
// exists because errors.Join separates with a newline.
func joinErrors(err, next error) error {
	switch {
	case next == nil:
		return err
	case err == nil:
		return next
	}
	return fmt.Errorf("%w; %w", err, next)
}

// prepareTmpfs finds a tmpfs for the tmpfs target: /dev/shm when it is one,
// else the first usable tmpfs of the mount table.
func prepareTmpfs(fsys fs.FS) (Target, error) {
	mounts, err := readMounts(fsys)
	if err != nil {
		return Target{}, fmt.Errorf("target tmpfs: %w", err)
	}
	candidates := tmpfsCandidates(mounts, func(dir string) bool {
		var st unix.Statfs_t
		return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
	})
	var firstErr error
	for _, dir := range candidates {
		t, err := inspect(fsys, "tmpfs", dir)
		if err == nil {
			return t, nil
		}
		firstErr = cmp.Or(firstErr, err)
	}
	if firstErr != nil {
		return Target{}, firstErr
	}
	return Target{}, errors.New("target tmpfs: /dev/shm is not tmpfs and the mount table has no other writable tmpfs; use dir:PATH")
}

// tmpfsCandidates lists the directories that may serve as the tmpfs
// target, best first: /dev/shm when isTmpfs says it is one, then every
// read-write tmpfs mount point of the table in order. Mounts under /sys,
// /proc and /dev belong to the kernel or to containers' plumbing (a cgroup
// tmpfs is writable by root, and no place for benchmark files) and are
// skipped.
func tmpfsCandidates(mounts []mount, isTmpfs func(string) bool) []string {
	var out []string
	if isTmpfs("/dev/shm") {
		out = append(out, "/dev/shm")
	}
	for _, m := range mounts {
		if m.Type != "tmpfs" || m.ReadOnly || slices.Contains(out, m.Point) {
			continue
		}
		if underAny(m.Point, "/sys", "/proc", "/dev") || !isTmpfs(m.Point) {
			continue
		}
		out = append(out, m.Point)
	}
	return out
}

// underAny reports whether p is one of dirs or below one of them.
func underAny(p string, dirs ...string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// TargetError is a target that cannot be used. Usage says the fault is in
// the command line (a dir: path that does not exist or is not a directory,
// one directory named twice) rather than in the machine (read-only, full,
// no mkfs); cmd turns the first kind into a usage error naming -target.
type TargetError struct {
	Spec  string
	Usage bool
	Err   error
}

func (e *TargetError) Error() string { return "target " + e.Spec + ": " + e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// targetErr returns a *TargetError for spec with a formatted message.
func targetErr(spec string, usage bool, format string, args ...any) error {
	return &TargetError{Spec: spec, Usage: usage, Err: fmt.Errorf(format, args...)}
}

// inspect checks dir as the directory of the target named spec and
// describes it. The checks and probes use the real filesystem; the mount
// table and the block device come from fsys.
func inspect(fsys fs.FS, spec, dir string) (Target, error) {
	t, st, err := checkDir(spec, dir)
	if err != nil {
		return Target{}, err
	}
	// Without the mount table the filesystem is still known by its magic;
	// only the mount point and a device-less filesystem's source are lost.
	mounts, _ := readMounts(fsys)
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		resolved = dir
	}
	mnt, found := mountFor(mounts, resolved)
	if found {
		t.MountPoint = mnt.Point
		if t.FSType == "" || sameFSFamily(t.FSType, mnt.Type) {
			t.FSType = mnt.Type
		}
	}
	if t.FSType == "tmpfs" || t.FSType == "ramfs" {
		t.DeviceKind = "memory"
		return t, nil
	}
	if err := describeDevice(fsys, &t, mnt, found, st); err != nil {
		return Target{}, err
	}
	return t, nil
}

// checkDir checks that dir exists, is a directory on a writable filesystem
// with at least MinFreeBytes free, and probes fallocate and punch-hole. It
// returns the target's filesystem facts and dir's stat.
func checkDir(spec, dir string) (Target, unix.Stat_t, error) {
	var s unix.Stat_t
	fail := func(usage bool, format string, args ...any) (Target, unix.Stat_t, error) {
		return Target{}, s, targetErr(spec, usage, format, args...)
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(true, "%s does not exist; the target needs an existing writable directory", dir)
	case errors.Is(err, unix.ELOOP):
		return fail(true, "%s is a symbolic link loop; the target needs an existing writable directory", dir)
	case errors.Is(err, unix.ENAMETOOLONG):
		return fail(true, "%s: the path is too long; the target needs an existing writable directory", dir)
	case errors.Is(err, unix.ENOTDIR):
		return fail(true, "%s: a component of the path is not a directory; the target needs an existing writable directory", dir)
	case err != nil:
		return fail(false, "%w", err)
	case !info.IsDir():
		return fail(true, "%s is not a directory", dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fail(false, "statfs %s: %w", dir, err)
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		return fail(false, "%s is on a read-only filesystem", dir)
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < MinFreeBytes {
		return fail(false, "%s has %s free; a target needs at least %s", dir, FormatBytes(free), FormatBytes(MinFreeBytes))
	}
	fallocate, punch, err := probe(dir)
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fail(false, "%s is not writable by uid %d", dir, os.Geteuid())
	case errors.Is(err, unix.EROFS):
		return fail(false, "%s is on a read-only filesystem", dir)
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return fail(false, "%s is full", dir)
	case err != nil:
		return fail(false, "probing %s: %w", dir, err)
	}
	if err := unix.Stat(dir, &s); err != nil {
		return fail(false, "stat %s: %w", dir, err)
	}
	return Target{
		Spec:      spec,
		Path:      dir,
		FSType:    fsTypeName(int64(st.Type)),
		FreeBytes: free,
		SizeBytes: st.Blocks * uint64(st.Bsize),
		Fallocate: fallocate,
		PunchHole: punch,
	}, s, nil
}

// describeDevice fills in the block device under t's filesystem from
// sysfs: its name, kind, model, rotational flag and what it is stacked on.
func describeDevice(fsys fs.FS, t *Target, mnt mount, found bool, s unix.Stat_t) error {
	dev := s.Dev
	// btrfs, overlayfs and network filesystems report an anonymous device
	// (major 0); the mount source, when it is a block device, is the disk.
	if unix.Major(dev) == 0 && found && strings.HasPrefix(mnt.Source, "/dev/") {
		var src unix.Stat_t
		if unix.Stat(mnt.Source, &src) == nil && src.Mode&unix.S_IFMT == unix.S_IFBLK {
			dev = src.Rdev
		}
	}
	if unix.Major(dev) == 0 {
		return nil // No block device: a network or virtual filesystem.
	}
	bi, err := blockDevice(fsys, unix.Major(dev), unix.Minor(dev))
	if err != nil {
		// The target works; only its description is incomplete. Keep
		// the device number so the report shows what could not be read.
		t.Device = fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
		t.DeviceKind = "unknown"
		return nil
	}
	t.Device, t.DeviceKind, t.Model, t.Rotational = bi.Device, bi.Kind, bi.Model, bi.Rotational
	t.Underlying, t.BackingFile = bi.Underlying, bi.BackingFile
	return nil
}

// probe creates a temporary file in dir, writes 64 KiB, and tries
// fallocate(2) over 1 MiB and then a 64 KiB punch-hole. It removes the
// file. A failing fallocate is an answer, not an error; failing to create,
// write, close or remove the file is an error.
func probe(dir string) (fallocate, punch bool, err error) {
	f, err := os.CreateTemp(dir, ".lockbench-probe-*")
	if err != nil {
		return false, false, err
	}
	defer func() {
		err = joinErrors(err, f.Close())
		err = joinErrors(err, os.Remove(f.Name()))
	}()
	if _, err := f.Write(make([]byte, 64<<10)); err != nil {
		return false, false, err
	}
	fd := int(f.Fd())
	fallocate = unix.Fallocate(fd, 0, 0, 1<<20) == nil
	punch = unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 64<<10) == nil
	return fallocate, punch, nil
}

// fsMagic maps statfs f_type values to filesystem names, for the
// filesystems lockbench is likely to meet. ext2, ext3 and ext4 share a
// magic; the mount table tells them apart.
var fsMagic = map[int64]string{
	unix.EXT4_SUPER_MAGIC:      "ext4",
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.RAMFS_MAGIC:           "ramfs",
	unix.F2FS_SUPER_MAGIC:      "f2fs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.FUSE_SUPER_MAGIC:      "fuse",
	unix.SQUASHFS_MAGIC:        "squashfs",
	unix.HUGETLBFS_MAGIC:       "hugetlbfs",
	0x2fc12fc1:                 "zfs",
	0xca451a4e:                 "bcachefs",
}

// fsTypeName names the filesystem with statfs magic m, or returns "" for
// an unknown one.
func fsTypeName(m int64) string {
	return fsMagic[m]
}

// sameFSFamily reports whether the mount table's type mnt refines the name
// byMagic taken from statfs: equal, ext2/ext3 for the ext4 magic, or a
// fuse subtype.
func sameFSFamily(byMagic, mnt string) bool {
	switch byMagic {
	case mnt:
		return true
	case "ext4":
		return mnt == "ext2" || mnt == "ext3"
	case "fuse":
		return strings.HasPrefix(mnt, "fuse")
	}
	return false
}

// mount is one line of the mount table.
type mount struct {
	Source   string
	Point    string
	Type     string
	ReadOnly bool
}

// readMounts reads proc/self/mounts.
func readMounts(fsys fs.FS) ([]mount, error) {
	f, err := fsys.Open(mountsFile)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	defer f.Close()
	return parseMounts(f)
}

// parseMounts parses the mount table format of /proc/self/mounts, whose
// fields escape space, tab, newline and backslash as octal (\040).
func parseMounts(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		out = append(out, mount{
			Source:   unescapeMount(f[0]),
			Point:    unescapeMount(f[1]),
			Type:     f[2],
			ReadOnly: slices.Contains(strings.Split(f[3], ","), "ro"),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	return out, nil
}

// unescapeMount undoes the kernel's octal escapes in a mount table field.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountFor returns the mount that p, an absolute path without symbolic
// links, lives on: the longest mount point that is p or a parent of p, the
// last one listed when several are stacked on the same point.
func mountFor(mounts []mount, p string) (mount, bool) {
	best, found := mount{}, false
	for _, m := range mounts {
		if !(m.Point == "/" || p == m.Point || strings.HasPrefix(p, m.Point+"/")) {
			continue
		}
		if !found || len(m.Point) >= len(best.Point) {
			best, found = m, true
		}
	}
	return best, found
}

// blockInfo is what sysfs says about the block device under a filesystem.
type blockInfo struct {
	Device      string // the device the filesystem is on: "nvme0n1p1", "dm-0"
	Kind        string // "nvme", "virtio", "sata", "dm over nvme", ...
	Model       string
	Rotational  bool
	Underlying  string // the whole disks under Device, when Device is not one
	BackingFile string // a loop device's image
}

// blockDevice describes block device major:minor from sysfs in fsys. It
// follows sys/dev/block/MAJ:MIN to the device's directory, goes from a
// partition to its disk, and from a stacked device (device-mapper, md) down
// its slaves/ to the disks underneath, whose kinds, models and rotational
// flags it reports.
func blockDevice(fsys fs.FS, major, minor uint32) (blockInfo, error) {
	dir, err := evalSymlinks(fsys, fmt.Sprintf("sys/dev/block/%d:%d", major, minor))
	if err != nil {
		return blockInfo{}, fmt.Errorf("block device %d:%d: %w", major, minor, err)
	}
	disk := diskOf(fsys, dir)
	leaves, err := leafDisks(fsys, disk, 0)
	if err != nil {
		return blockInfo{}, fmt.Errorf("block device %d:%d: %w", major, minor, err)
	}
	bi := blockInfo{Device: path.Base(dir)}
	var kinds, models, names []string
	for _, l := range leaves {
		if k := diskKind(l); !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
		if m, _ := readString(fsys, l+"/device/model"); m != "" && !slices.Contains(models, m) {
			models = append(models, m)
		}
		if r, _ := readString(fsys, l+"/queue/rotational"); r == "1" {
			bi.Rotational = true
		}
		names = append(names, path.Base(l))
	}
	bi.Kind = strings.Join(kinds, "+")
	bi.Model = strings.Join(models, " + ")
	if len(leaves) > 1 || leaves[0] != disk {
		bi.Kind = diskKind(disk) + " over " + bi.Kind
	}
	if len(leaves) > 1 || leaves[0] != dir {
		bi.Underlying = strings.Join(names, ",")
	}
	if bf, _ := readString(fsys, disk+"/loop/backing_file"); bf != "" {
		bi.BackingFile = bf
	}
	return bi, nil
}

// diskOf returns the disk directory of a partition directory (its parent),
// and dir itself for a whole disk.
func diskOf(fsys fs.FS, dir string) string {
	if _, err := fs.Stat(fsys, dir+"/partition"); err == nil {
		return path.Dir(dir)
	}
	return dir
}

// leafDisks returns the whole disks at the bottom of a stack of devices:
// disk itself when its slaves/ is empty or absent, else the leaves of each
// slave, each slave partition replaced by its disk.
func leafDisks(fsys fs.FS, disk string, depth int) ([]string, error) {
	entries, err := fs.ReadDir(fsys, disk+"/slaves")
	if err != nil || len(entries) == 0 {
		return []string{disk}, nil
	}
	if depth > 8 {
		return nil, fmt.Errorf("%s: devices stacked more than 8 deep", path.Base(disk))
	}
	var out []string
	for _, e := range entries {
		slave, err := evalSymlinks(fsys, disk+"/slaves/"+e.Name())
		if err != nil {
			return nil, err
		}
		leaves, err := leafDisks(fsys, diskOf(fsys, slave), depth+1)
		if err != nil {
			return nil, err
		}
		for _, l := range leaves {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// diskKind classifies a disk by its name and the bus in its sysfs path.
func diskKind(dir string) string {
	name := path.Base(dir)
	has := func(p string) bool { return strings.HasPrefix(name, p) }
	switch {
	case has("nvme"):
		return "nvme"
	case has("sd"):
		switch {
		case strings.Contains(dir, "/ata"):
			return "sata"
		case strings.Contains(dir, "/usb"):
			return "usb"
		case strings.Contains(dir, "/virtio"):
			return "virtio-scsi"
		}
		return "scsi"
	case has("vd"), strings.Contains(dir, "/virtio"):
		return "virtio"
	case has("xvd"):
		return "xen"
	case has("loop"):
		return "loop"
	case has("zram"):
		return "zram"
	case has("ram"):
		return "ramdisk"
	case has("pmem"):
		return "pmem"
	case has("mmcblk"):
		return "mmc"
	case has("nbd"):
		return "nbd"
	case has("rbd"):
		return "rbd"
	case has("dm-"):
		return "dm"
	case has("md"):
		return "md"
	}
	return "other"
}
