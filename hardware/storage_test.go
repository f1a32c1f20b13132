package hardware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseTargets(t *testing.T) {
	t.Setenv("TMPDIR", "/scratch")
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in      string
		want    []TargetSpec
		wantErr string
	}{
		// Good lists.
		{in: "tmpfs", want: []TargetSpec{{Kind: "tmpfs"}}},
		{in: "dir:/var/tmp", want: []TargetSpec{{Kind: "dir", Path: "/var/tmp"}}},
		{in: "dir:data/", want: []TargetSpec{{Kind: "dir", Path: filepath.Join(cwd, "data")}}},
		{in: "loop:ext4", want: []TargetSpec{{Kind: "loop", FS: "ext4", Size: 1 << 30}}},
		{in: "loop:xfs:2G, loop:btrfs:512M", want: []TargetSpec{
			{Kind: "loop", FS: "xfs", Size: 2 << 30}, {Kind: "loop", FS: "btrfs", Size: 512 << 20}}},
		// auto is tmpfs plus the temporary directory, both marked.
		{in: "auto", want: []TargetSpec{{Kind: "tmpfs", Auto: true}, {Kind: "dir", Path: "/scratch", Auto: true}}},
		// An entry written out takes over the one auto made.
		{in: "auto,tmpfs", want: []TargetSpec{{Kind: "tmpfs"}, {Kind: "dir", Path: "/scratch", Auto: true}}},
		{in: "dir:/scratch,auto", want: []TargetSpec{{Kind: "dir", Path: "/scratch"}, {Kind: "tmpfs", Auto: true}}},

		// Bad lists: one line naming the entry and what is allowed.
		{in: "", wantErr: "empty target; allowed: tmpfs, dir:PATH, auto, loop:ext4|xfs|btrfs[:SIZE]"},
		{in: "tmpfs,,dir:/a", wantErr: "empty target; allowed:"},
		{in: "nfs", wantErr: `unknown target "nfs"; allowed: tmpfs, dir:PATH, auto, loop:ext4|xfs|btrfs[:SIZE]`},
		{in: "tmpfs:/run", wantErr: `target "tmpfs:/run": tmpfs takes no argument`},
		{in: "dir:", wantErr: `target "dir:": dir needs a path, as in dir:/var/tmp`},
		{in: "loop:zfs", wantErr: `target "loop:zfs": loop filesystem must be ext4, xfs or btrfs`},
		{in: "loop:ext4:huge", wantErr: `target "loop:ext4:huge": size "huge" is not a size: want bytes or a number with a K, M, G or T suffix`},
		{in: "loop:xfs:100M", wantErr: `target "loop:xfs:100M": a xfs image must be at least 320M`},
		{in: "tmpfs,tmpfs", wantErr: `target tmpfs is listed twice in "tmpfs,tmpfs"`},
		{in: "dir:/a,dir:/a/", wantErr: "target dir:/a is listed twice"},
	} {
		got, err := ParseTargets(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTargets(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseTargets(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestTargetJSON checks that a Target survives a JSON round trip.
func TestTargetJSON(t *testing.T) {
	for _, want := range goldenTargets {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v", want, err)
		}
		var got Target
		if err := json.Unmarshal(b, &got); err != nil || got != want {
			t.Errorf("round trip of %s = %+v, %v; want %+v", b, got, err, want)
		}
		if !strings.Contains(string(b), `"fs_type":`) || !strings.Contains(string(b), `"punch_hole":`) {
			t.Errorf("json.Marshal(Target) = %s; want snake_case keys", b)
		}
	}
}

func TestTargetSpecString(t *testing.T) {
	for _, in := range []string{"tmpfs", "dir:/var/tmp", "loop:ext4:1G", "loop:xfs:1536M"} {
		ts, err := ParseTargets(in)
		if err != nil || len(ts) != 1 || ts[0].String() != in {
			t.Errorf("ParseTargets(%q)[0].String() = %v, %v; want %q", in, ts, err, in)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"4096", 4096},
		{"32K", 32 << 10},
		{"512M", 512 << 20},
		{"2G", 2 << 30},
		{"2GiB", 2 << 30},
		{"2gb", 2 << 30},
		{"1T", 1 << 40},
		{"32768K", 32 << 20}, // as in sysfs cache/index3/size
		{"", 0},
		{"G", 0},
		{"-1G", 0},
		{"0", -1}, // zero is a size; callers want a positive one
		{"1.5G", 0},
		{"9999999999T", 0}, // overflows int64
	} {
		got, err := ParseSize(tt.in)
		if tt.want == -1 {
			if err != nil || got != 0 {
				t.Errorf("ParseSize(%q) = %d, %v; want 0, nil", tt.in, got, err)
			}
			continue
		}
		if tt.want == 0 {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d; want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tt := range []struct {
		in   uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {32 << 20, "32 MiB"}, {3 << 29, "1.5 GiB"},
		{25276514304, "23.5 GiB"},
	} {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// blockFS is a fake sysfs with the block devices lockbench meets: an NVMe
// namespace with two partitions, a virtio disk, a SATA SSD with a
// partition, a loop device, zram, and device-mapper devices over NVMe, over
// NVMe and SATA together, and over another dm device (LVM on LUKS).
func blockFS() fstest.MapFS {
	const (
		nvme = "sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1"
		sata = "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"
		virt = "sys/devices/virtual/block"
	)
	return fstest.MapFS{
		"sys/dev/block/259:0":         link("../../devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1"),
		"sys/dev/block/259:1":         link("../../devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1"),
		"sys/dev/block/259:2":         link("../../devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2"),
		nvme + "/device":              link("../../nvme0"),
		nvme + "/queue/rotational":    file("0"),
		nvme + "/nvme0n1p1/partition": file("1"),
		nvme + "/nvme0n1p2/partition": file("2"),
		"sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/model": file("Samsung SSD 980 PRO 1TB"),
		"sys/dev/block/254:0": link("../../devices/pci0000:00/0000:00:02.0/virtio1/block/vda"),
		"sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda/queue/rotational": file("1"),
		"sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda/device":           link("../../../virtio1"),
		"sys/devices/pci0000:00/0000:00:02.0/virtio1/vendor":                     file("0x1af4"),
		"sys/dev/block/8:0":        link("../../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"),
		"sys/dev/block/8:1":        link("../../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1"),
		sata + "/queue/rotational": file("0"),
		sata + "/device":           link("../../../0:0:0:0"),
		sata + "/sda1/partition":   file("1"),
		"sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/model": file("Samsung SSD 870 EVO 1TB "),
		"sys/dev/block/7:0":               link("../../devices/virtual/block/loop0"),
		virt + "/loop0/queue/rotational":  file("0"),
		virt + "/loop0/loop/backing_file": file("/var/tmp/lockbench-ext4-1/image"),
		"sys/dev/block/252:0":             link("../../devices/virtual/block/zram0"),
		virt + "/zram0/queue/rotational":  file("0"),
		"sys/dev/block/253:0":             link("../../devices/virtual/block/dm-0"),
		virt + "/dm-0/queue/rotational":   file("0"),
		virt + "/dm-0/dm/name":            file("vg0-root"),
		virt + "/dm-0/slaves/nvme0n1p2":   link("../../../../pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2"),
		"sys/dev/block/253:1":             link("../../devices/virtual/block/dm-1"),
		virt + "/dm-1/slaves/nvme0n1p1":   link("../../../../pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1"),
		virt + "/dm-1/slaves/sda1":        link("../../../../pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1"),
		"sys/dev/block/253:2":             link("../../devices/virtual/block/dm-2"),
		virt + "/dm-2/slaves/dm-0":        link("../../dm-0"),
		virt + "/dm-2/holders":            dir(),
	}
}

func TestBlockDevice(t *testing.T) {
	fsys := blockFS()
	const nvmeModel = "Samsung SSD 980 PRO 1TB"
	for _, tt := range []struct {
		dev  string // major:minor
		want blockInfo
	}{
		// Whole disks.
		{"259:0", blockInfo{Device: "nvme0n1", Kind: "nvme", Model: nvmeModel}},
		{"254:0", blockInfo{Device: "vda", Kind: "virtio", Rotational: true}},
		{"8:0", blockInfo{Device: "sda", Kind: "sata", Model: "Samsung SSD 870 EVO 1TB"}},
		{"7:0", blockInfo{Device: "loop0", Kind: "loop", BackingFile: "/var/tmp/lockbench-ext4-1/image"}},
		{"252:0", blockInfo{Device: "zram0", Kind: "zram"}},
		// Partitions: described by their disk.
		{"259:1", blockInfo{Device: "nvme0n1p1", Kind: "nvme", Model: nvmeModel, Underlying: "nvme0n1"}},
		{"8:1", blockInfo{Device: "sda1", Kind: "sata", Model: "Samsung SSD 870 EVO 1TB", Underlying: "sda"}},
		// Device-mapper: described by the disks at the bottom.
		{"253:0", blockInfo{Device: "dm-0", Kind: "dm over nvme", Model: nvmeModel, Underlying: "nvme0n1"}},
		{"253:1", blockInfo{Device: "dm-1", Kind: "dm over nvme+sata", Model: nvmeModel + " + Samsung SSD 870 EVO 1TB",
			Underlying: "nvme0n1,sda"}},
		{"253:2", blockInfo{Device: "dm-2", Kind: "dm over nvme", Model: nvmeModel, Underlying: "nvme0n1"}},
	} {
		var major, minor uint32
		if _, err := fmt.Sscanf(tt.dev, "%d:%d", &major, &minor); err != nil {
			t.Fatal(err)
		}
		got, err := blockDevice(fsys, major, minor)
		if err != nil || got != tt.want {
			t.Errorf("blockDevice(%s) = %+v, %v; want %+v", tt.dev, got, err, tt.want)
		}
	}
	if got, err := blockDevice(fsys, 1, 1); err == nil || !strings.Contains(err.Error(), "block device 1:1") {
		t.Errorf("blockDevice(1:1) = %+v, %v; want an error naming 1:1", got, err)
	}
}

func TestDiskKind(t *testing.T) {
	for _, tt := range []struct{ dir, want string }{
		{"sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb", "usb"},
		{"sys/devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:0/0:0:0:0/block/sda", "virtio-scsi"},
		{"sys/devices/pci0000:00/0000:00:1f.2/host2/target2:0:0/2:0:0:0/block/sdc", "scsi"},
		{"sys/devices/vbd-51712/block/xvda", "xen"},
		{"sys/devices/virtual/block/md0", "md"},
		{"sys/devices/platform/mmc/mmc0/mmc0:0001/block/mmcblk0", "mmc"},
		{"sys/devices/virtual/block/weird0", "other"},
	} {
		if got := diskKind(tt.dir); got != tt.want {
			t.Errorf("diskKind(%s) = %q; want %q", tt.dir, got, tt.want)
		}
	}
}

func TestEvalSymlinks(t *testing.T) {
	fsys := fstest.MapFS{
		"a/b/c":      file("x"),
		"l1":         link("a/b"),
		"a/l2":       link("../l1/c"),
		"loop1":      link("loop2"),
		"loop2":      link("loop1"),
		"escape":     link("../../etc"),
		"a/absolute": link("/a/b"),
	}
	for _, tt := range []struct{ in, want, wantErr string }{
		{in: "a/b/c", want: "a/b/c"},
		{in: "l1/c", want: "a/b/c"},
		{in: "a/l2", want: "a/b/c"},
		{in: "a/absolute/c", want: "a/b/c"},
		{in: "loop1", wantErr: "too many levels of symbolic links"},
		{in: "escape", wantErr: "points outside the tree"},
		{in: "missing", wantErr: "not exist"},
	} {
		got, err := evalSymlinks(fsys, tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("evalSymlinks(%s) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("evalSymlinks(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// mountTable is a mount table like this project's VM's, with an escaped
// space and a stacked mount added.
const mountTable = `proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,relatime,size=24684096k 0 0
/dev/vda / ext4 rw,relatime,discard 0 0
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
tmpfs /run tmpfs rw,nosuid,size=1024k 0 0
tmpfs /mnt/ro tmpfs ro,relatime 0 0
/dev/sdb1 /mnt/my\040disk xfs rw 0 0
tmpfs /dev/shm tmpfs rw,relatime,size=1024k 0 0
tmpfs /tmp tmpfs rw 0 0
`

func TestMountFor(t *testing.T) {
	mounts, err := parseMounts(strings.NewReader(mountTable))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mounts[7], (mount{Source: "/dev/sdb1", Point: "/mnt/my disk", Type: "xfs"}); got != want {
		t.Errorf("mounts[7] = %+v; want %+v (\\040 unescaped)", got, want)
	}
	if !mounts[6].ReadOnly || mounts[5].ReadOnly {
		t.Errorf("ReadOnly of /mnt/ro, /run = %v, %v; want true, false", mounts[6].ReadOnly, mounts[5].ReadOnly)
	}
	for _, tt := range []struct{ path, wantPoint, wantOpts string }{
		{"/", "/", ""},
		{"/work/main", "/", ""},
		{"/dev/shmem", "/", ""}, // a prefix of the name is not a parent
		{"/mnt/my disk/x", "/mnt/my disk", ""},
		{"/dev/shm/x", "/dev/shm", "size=1024k"}, // the later of two stacked mounts
	} {
		got, ok := mountFor(mounts, tt.path)
		if !ok || got.Point != tt.wantPoint {
			t.Errorf("mountFor(%s) = %+v, %v; want mount point %s", tt.path, got, ok, tt.wantPoint)
		}
	}
	if got, ok := mountFor(nil, "/x"); ok {
		t.Errorf("mountFor(nil, /x) = %+v, true; want false", got)
	}
}

func TestTmpfsCandidates(t *testing.T) {
	mounts, err := parseMounts(strings.NewReader(mountTable))
	if err != nil {
		t.Fatal(err)
	}
	tmpfs := func(isShm bool) func(string) bool {
		return func(dir string) bool { return dir != "/dev/shm" || isShm }
	}
	// /dev/shm first when it is tmpfs; kernel plumbing under /sys and
	// read-only mounts never.
	if got, want := tmpfsCandidates(mounts, tmpfs(true)), []string{"/dev/shm", "/run", "/tmp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tmpfsCandidates(shm is tmpfs) = %v; want %v", got, want)
	}
	if got, want := tmpfsCandidates(mounts, tmpfs(false)), []string{"/run", "/tmp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tmpfsCandidates(shm is not tmpfs) = %v; want %v", got, want)
	}
}

func TestSameFSFamily(t *testing.T) {
	for _, tt := range []struct {
		magic, mnt string
		want       bool
	}{
		{"ext4", "ext4", true}, {"ext4", "ext3", true}, {"fuse", "fuse.sshfs", true},
		{"tmpfs", "ext4", false}, {"xfs", "btrfs", false},
	} {
		if got := sameFSFamily(tt.magic, tt.mnt); got != tt.want {
			t.Errorf("sameFSFamily(%s, %s) = %v; want %v", tt.magic, tt.mnt, got, tt.want)
		}
	}
}

// TestPrepareDir prepares real directories: a temporary one, /dev/shm, and
// the ways a directory can be unfit.
func TestPrepareDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tgt, cleanup, err := Prepare(ctx, TargetSpec{Kind: "dir", Path: dir})
	if err != nil {
		t.Fatalf("Prepare(dir:%s) = %v", dir, err)
	}
	if err := cleanup(); err != nil {
		t.Errorf("cleanup() = %v", err)
	}
	if tgt.Spec != "dir:"+dir || tgt.Path != dir || tgt.FSType == "" || tgt.SizeBytes == 0 || tgt.MountPoint == "" {
		t.Errorf("Prepare(dir:%s) = %+v; want spec, path, fs type, size and mount point", dir, tgt)
	}
	switch tgt.FSType {
	case "ext4", "xfs", "btrfs":
		if tgt.Device == "" || tgt.DeviceKind == "" || !tgt.Fallocate || !tgt.PunchHole {
			t.Errorf("Prepare(dir:%s) = %+v; want a device, a kind, fallocate and punch-hole on %s", dir, tgt, tgt.FSType)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("after Prepare, %s holds %v; want the probe file removed", dir, entries)
	}

	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC {
		tgt, _, err := Prepare(ctx, TargetSpec{Kind: "tmpfs"})
		want := Target{Spec: "tmpfs", Path: "/dev/shm", FSType: "tmpfs", DeviceKind: "memory", MountPoint: "/dev/shm",
			Fallocate: true, PunchHole: true, FreeBytes: tgt.FreeBytes, SizeBytes: tgt.SizeBytes}
		if err != nil || tgt != want {
			t.Errorf("Prepare(tmpfs) = %+v, %v; want %+v", tgt, err, want)
		}
	}

	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	type bad struct{ path, wantErr string }
	bads := []bad{
		{filepath.Join(dir, "missing"), "does not exist; the target needs an existing writable directory"},
		{file, "is not a directory"},
	}
	if os.Geteuid() == 0 {
		// Root ignores permissions but not a read-only or full mount.
		ro := mountTmpfs(t, unix.MS_RDONLY, "size=128m")
		tiny := mountTmpfs(t, 0, "size=1m")
		bads = append(bads, bad{ro, "is on a read-only filesystem"}, bad{tiny, "free; a target needs at least 64 MiB"})
		// An immutable directory refuses new files even to root.
		immutable := filepath.Join(dir, "immutable")
		if err := os.Mkdir(immutable, 0o755); err != nil {
			t.Fatal(err)
		}
		if exec.Command("chattr", "+i", immutable).Run() == nil {
			t.Cleanup(func() {
				if err := exec.Command("chattr", "-i", immutable).Run(); err != nil {
					t.Errorf("chattr -i %s: %v", immutable, err)
				}
			})
			bads = append(bads, bad{immutable, "is not writable by uid 0"})
		}
	} else {
		locked := filepath.Join(dir, "locked")
		if err := os.Mkdir(locked, 0o500); err != nil {
			t.Fatal(err)
		}
		bads = append(bads, bad{locked, "is not writable by uid"})
	}
	for _, b := range bads {
		_, cleanup, err := Prepare(ctx, TargetSpec{Kind: "dir", Path: b.path})
		prefix := "target dir:" + b.path + ": "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), b.wantErr) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("Prepare(dir:%s) = %v; want one line %q...%q", b.path, err, prefix, b.wantErr)
		}
		if cleanup == nil || cleanup() != nil {
			t.Errorf("Prepare(dir:%s) failed with a nil or failing cleanup", b.path)
		}
	}
}

// mountTmpfs mounts a tmpfs with the given flags and options on a new
// directory, unmounted when the test ends.
func mountTmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (%v)", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// TestPrepareAllAuto checks that auto does not measure one filesystem
// twice: with TMPDIR on /dev/shm it yields only the tmpfs target, and with
// TMPDIR elsewhere both.
func TestPrepareAllAuto(t *testing.T) {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil || st.Type != unix.TMPFS_MAGIC {
		t.Skip("/dev/shm is not tmpfs here")
	}
	elsewhere := t.TempDir()
	for _, tt := range []struct {
		tmpdir    string
		wantSpecs []string
	}{
		{"/dev/shm", []string{"tmpfs"}},
		{elsewhere, []string{"tmpfs", "dir:" + elsewhere}},
	} {
		var es unix.Statfs_t
		if tt.tmpdir == elsewhere && (unix.Statfs(elsewhere, &es) != nil || es.Type == unix.TMPFS_MAGIC) {
			continue // the test's temporary directory is itself on tmpfs
		}
		t.Setenv("TMPDIR", tt.tmpdir)
		specs, err := ParseTargets("auto")
		if err != nil {
			t.Fatal(err)
		}
		targets, cleanup, err := PrepareAll(context.Background(), specs)
		if err != nil {
			t.Fatalf("PrepareAll(auto with TMPDIR=%s) = %v", tt.tmpdir, err)
		}
		var got []string
		for _, tg := range targets {
			got = append(got, tg.Spec)
		}
		if !reflect.DeepEqual(got, tt.wantSpecs) {
			t.Errorf("PrepareAll(auto with TMPDIR=%s) = %v; want %v", tt.tmpdir, got, tt.wantSpecs)
		}
		if err := cleanup(); err != nil {
			t.Errorf("cleanup() = %v", err)
		}
	}
}

// TestPrepareAllFailure checks that a failing target fails the list with
// its own error.
func TestPrepareAllFailure(t *testing.T) {
	specs := []TargetSpec{{Kind: "dir", Path: t.TempDir()}, {Kind: "dir", Path: "/nonexistent/lockbench"}}
	targets, cleanup, err := PrepareAll(context.Background(), specs)
	if err == nil || !strings.Contains(err.Error(), "target dir:/nonexistent/lockbench: ") || targets != nil {
		t.Errorf("PrepareAll(ok, missing) = %v, %v; want nil and the missing target's error", targets, err)
	}
	if cleanup == nil || cleanup() != nil {
		t.Errorf("PrepareAll failed with a nil or failing cleanup")
	}
}

func TestLoopNeeds(t *testing.T) {
	found := func(string) (string, error) { return "/usr/sbin/x", nil }
	only := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, n := range names {
				if n == name {
					return "/usr/sbin/" + n, nil
				}
			}
			return "", exec.ErrNotFound
		}
	}
	for _, tt := range []struct {
		fs       string
		euid     int
		lookPath func(string) (string, error)
		want     string // "" for no error
	}{
		{"ext4", 0, found, ""},
		{"xfs", 0, only("losetup", "mkfs.ext4"), "target loop:xfs needs mkfs.xfs (apt-get install xfsprogs)"},
		{"ext4", 1000, found, "target loop:ext4 needs root to attach a loop device and mount it (running as uid 1000)"},
		{"btrfs", 1000, only(), "target loop:btrfs needs root to attach a loop device and mount it (running as uid 1000), " +
			"mkfs.btrfs (apt-get install btrfs-progs) and losetup (apt-get install mount)"},
		{"zfs", 0, found, "target loop:zfs: loop filesystem must be ext4, xfs or btrfs"},
	} {
		err := loopNeeds(tt.fs, tt.euid, tt.lookPath)
		if got := errString(err); got != tt.want {
			t.Errorf("loopNeeds(%s, uid %d) = %q; want %q", tt.fs, tt.euid, got, tt.want)
		}
	}
}

// errString is err's message, or "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestPrepareLoopExt4 makes a real loop:ext4 target, checks it, and checks
// that cleanup removes every trace and can be called again.
func TestPrepareLoopExt4(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a filesystem; skipped under -short")
	}
	if err := loopNeeds("ext4", os.Geteuid(), exec.LookPath); err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no /dev/loop-control here")
	}
	specs, err := ParseTargets("loop:ext4:128M")
	if err != nil {
		t.Fatal(err)
	}
	tgt, cleanup, err := Prepare(context.Background(), specs[0])
	if err != nil {
		t.Fatalf("Prepare(loop:ext4:128M) = %v", err)
	}
	t.Cleanup(func() { _ = cleanup() }) // in case a check below stops the test
	if tgt.Spec != "loop:ext4:128M" || tgt.FSType != "ext4" || tgt.DeviceKind != "loop" ||
		!strings.HasPrefix(tgt.Device, "loop") || !tgt.Fallocate || !tgt.PunchHole ||
		tgt.MountPoint != tgt.Path || !strings.HasSuffix(tgt.BackingFile, "/image") {
		t.Errorf("Prepare(loop:ext4:128M) = %+v; want a mounted ext4 on a loop device with fallocate and punch-hole", tgt)
	}
	if err := os.WriteFile(filepath.Join(tgt.Path, "data"), []byte("x"), 0o644); err != nil {
		t.Errorf("writing into the loop target: %v", err)
	}
	base := filepath.Dir(tgt.Path)
	if err := cleanup(); err != nil {
		t.Fatalf("cleanup() = %v", err)
	}
	if _, err := os.Stat(base); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after cleanup, stat %s = %v; want it removed", base, err)
	}
	// The device must no longer be backed by our image. It may be backed
	// by another: go test runs packages in parallel and cmd/lockbench's
	// tests attach loop targets too, so the freed device can be taken at
	// once (CI saw loop0 re-attached). A detach of a device something
	// still holds open is deferred by the kernel, hence the short wait.
	backing := "/sys/block/" + tgt.Device + "/loop/backing_file"
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(backing)
		if err != nil || strings.TrimSpace(string(b)) != tgt.BackingFile {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("5 s after cleanup, %s is still backed by %s; want it detached", tgt.Device, tgt.BackingFile)
			break
		}
	}
	if err := cleanup(); err != nil {
		t.Errorf("second cleanup() = %v; want nil", err)
	}
}

// TestPrepareLoopFailureCleansUp makes mkfs fail (an image too small for
// ext4's options) and checks nothing is left in the temporary directory.
func TestPrepareLoopFailureCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mkfs; skipped under -short")
	}
	if err := loopNeeds("ext4", os.Geteuid(), exec.LookPath); err != nil {
		t.Skip(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // mkfs never starts
	_, cleanup, err := Prepare(ctx, TargetSpec{Kind: "loop", FS: "ext4", Size: 128 << 20})
	if err == nil || !strings.HasPrefix(err.Error(), "target loop:ext4:128M: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Prepare(loop with a cancelled context) = %v; want a one-line error naming the target", err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("after a failed Prepare, %s holds %v; want nothing", tmp, entries)
	}
	if cleanup == nil || cleanup() != nil {
		t.Errorf("failed Prepare returned a nil or failing cleanup")
	}
}

func TestMemAvailable(t *testing.T) {
	for _, tt := range []struct {
		meminfo string
		want    uint64 // 0: an error
	}{
		{"MemTotal:       24683520 kB\nMemFree:        23104512 kB\nMemAvailable:   24091648 kB\n", 24091648 << 10},
		{"MemTotal:       24683520 kB\n", 0}, // a kernel before 3.14
		{"MemAvailable:   lots kB\n", 0},     // garbled
	} {
		fsys := fstest.MapFS{"proc/meminfo": {Data: []byte(tt.meminfo)}}
		got, err := memAvailable(fsys)
		if tt.want == 0 && err == nil || tt.want != 0 && (err != nil || got != tt.want) {
			t.Errorf("memAvailable(%q) = %d, %v; want %d (0: an error)", tt.meminfo, got, err, tt.want)
		}
	}
}
