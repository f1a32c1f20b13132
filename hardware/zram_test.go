package hardware

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseZramTargets(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []TargetSpec
		wantErr string
	}{
		{in: "zram:btrfs", want: []TargetSpec{{Kind: "zram", FS: "btrfs", Size: 1 << 30}}},
		{in: "zram:ext4:256M, zram:xfs:2G", want: []TargetSpec{{Kind: "zram", FS: "ext4", Size: 256 << 20}, {Kind: "zram", FS: "xfs", Size: 2 << 30}}},
		// A zram target and a loop target of the same filesystem are two targets.
		{in: "zram:btrfs,loop:btrfs", want: []TargetSpec{{Kind: "zram", FS: "btrfs", Size: 1 << 30}, {Kind: "loop", FS: "btrfs", Size: 1 << 30}}},

		{in: "zram", wantErr: `target "zram": zram filesystem must be ext4, xfs or btrfs, as in zram:btrfs:1G`},
		{in: "zram:", wantErr: `target "zram:": zram filesystem must be ext4, xfs or btrfs`},
		{in: "zram:zfs", wantErr: `target "zram:zfs": zram filesystem must be ext4, xfs or btrfs`},
		{in: "zram:btrfs:huge", wantErr: `target "zram:btrfs:huge": size "huge" is not a size: want bytes or a number with a K, M, G or T suffix`},
		{in: "zram:btrfs:", wantErr: `target "zram:btrfs:": size "" is not a size`},
		{in: "zram:xfs:100M", wantErr: `target "zram:xfs:100M": a xfs zram device must be at least 320M`},
		{in: "zram:ext4:1G,zram:ext4:1024M", wantErr: `target zram:ext4:1G is listed twice`},
		{in: "ram:ext4", wantErr: `unknown target "ram:ext4"; allowed: tmpfs, dir:PATH, auto, loop:ext4|xfs|btrfs[:SIZE], zram:ext4|xfs|btrfs[:SIZE]`},
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
	if s := (TargetSpec{Kind: "zram", FS: "xfs", Size: 1536 << 20}).String(); s != "zram:xfs:1536M" {
		t.Errorf("zram spec String() = %q; want zram:xfs:1536M", s)
	}
}

// FuzzParseTargets checks that any -target value parses or fails with one
// line, never panics, and that every parsed spec is written back in a form
// that parses to the same spec; loop and zram sizes respect their minimums.
func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{"tmpfs", "auto", "dir:/tmp", "loop:ext4", "zram:btrfs:512M", "zram:xfs:1G,loop:xfs",
		"zram:ext4:9223372036854775807", "zram:btrfs:4T", "zram::", "zram:btrfs:1G:lz4", "zram:ext4:128MiB", " zram:ext4 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		specs, err := ParseTargets(in)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(in, "\n") {
				t.Fatalf("ParseTargets(%q) error spans lines: %q", in, err)
			}
			return
		}
		for _, ts := range specs {
			if ts.Kind == "dir" || ts.Auto {
				continue // a dir path's spelling is the directory's
			}
			back, err := ParseTargets(ts.String())
			if err != nil || len(back) != 1 || back[0] != ts {
				t.Fatalf("ParseTargets(%q) gave %+v, whose String %q parses to %+v, %v", in, ts, ts.String(), back, err)
			}
			if ts.Kind == "loop" || ts.Kind == "zram" {
				i := slices.IndexFunc(LoopFilesystems, func(l LoopFS) bool { return l.Name == ts.FS })
				if i < 0 || ts.Size < LoopFilesystems[i].MinSize {
					t.Fatalf("ParseTargets(%q) = %+v: unknown filesystem or size under the minimum", in, ts)
				}
			}
		}
	})
}

func TestZramNeeds(t *testing.T) {
	found := func(string) (string, error) { return "/usr/sbin/x", nil }
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	for _, tt := range []struct {
		fs       string
		euid     int
		lookPath func(string) (string, error)
		control  bool
		want     string
	}{
		{"btrfs", 0, found, true, ""},
		{"btrfs", 1000, found, true, "target zram:btrfs needs root to create a zram device and mount it (running as uid 1000)"},
		{"ext4", 0, found, false, "target zram:ext4 needs the zram module (no /sys/class/zram-control; modprobe zram)"},
		{"xfs", 1000, none, false, "target zram:xfs needs root to create a zram device and mount it (running as uid 1000), " +
			"the zram module (no /sys/class/zram-control; modprobe zram) and mkfs.xfs (apt-get install xfsprogs)"},
		{"zfs", 0, found, true, "target zram:zfs: zram filesystem must be ext4, xfs or btrfs"},
	} {
		if got := errString(zramNeeds(tt.fs, tt.euid, tt.lookPath, tt.control)); got != tt.want {
			t.Errorf("zramNeeds(%s, uid %d, control %v) = %q; want %q", tt.fs, tt.euid, tt.control, got, tt.want)
		}
	}
}

func TestZramStatus(t *testing.T) {
	only := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			if slices.Contains(names, name) {
				return "/usr/sbin/" + name, nil
			}
			return "", exec.ErrNotFound
		}
	}
	for _, tt := range []struct {
		euid     int
		lookPath func(string) (string, error)
		control  bool
		want     string
	}{
		{0, only("mkfs.ext4", "mkfs.btrfs"), true, "available for ext4, btrfs (-target zram:FS[:SIZE])"},
		{1000, only("mkfs.ext4"), true, "unavailable: needs root (running as uid 1000)"},
		{0, only(), false, "unavailable: no /sys/class/zram-control (the zram module is not loaded: modprobe zram); no mkfs.ext4, mkfs.xfs or mkfs.btrfs"},
	} {
		if got := zramStatus(tt.euid, tt.lookPath, tt.control).Text(); got != tt.want {
			t.Errorf("zramStatus(uid %d, control %v) = %q; want %q", tt.euid, tt.control, got, tt.want)
		}
	}
}

func TestParseOwner(t *testing.T) {
	for _, tt := range []struct {
		text string
		want zramOwner
		ok   bool
	}{
		{"lockbench zram target\ndevice zram3\ndiskseq 42\npid 77\nboot b-1\nfs xfs\n", zramOwner{3, "42", 77, "b-1", "xfs"}, true},
		{"lockbench zram target\npid 77\nboot b-1\nfs xfs\n", zramOwner{-1, "", 77, "b-1", "xfs"}, true},
		{"", zramOwner{Device: -1}, false},
		{"device zram3\n", zramOwner{Device: -1}, false},                              // no header
		{"lockbench zram target\ndevice zram-1\n", zramOwner{Device: -1}, false},      // not a number
		{"lockbench zram target\ndevice zram03\n", zramOwner{Device: -1}, false},      // not as the kernel writes it
		{"lockbench zram target\ndevice ../sda\n", zramOwner{Device: -1}, false},      // not a zram device
		{"lockbench zram target\ndevice zram1/../..\n", zramOwner{Device: -1}, false}, // nor a path
	} {
		got, ok := parseOwner(tt.text)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseOwner(%q) = %+v, %v; want %+v, %v", tt.text, got, ok, tt.want, tt.ok)
		}
	}
	// What writeOwner writes, parseOwner reads back.
	f, err := os.Create(filepath.Join(t.TempDir(), "owner"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := zramOwner{Device: 12, Diskseq: "901", PID: 4242, Boot: "e15b", FS: "btrfs"}
	if err := writeOwner(f, zramOwner{Device: -1, PID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := writeOwner(f, want); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	if got, ok := parseOwner(string(b)); !ok || got != want {
		t.Errorf("parseOwner(writeOwner(%+v)) = %+v, %v", want, got, ok)
	}
}

// TestParseMountInfoZram: the mount table lines the zram cleaner reads,
// btrfs's anonymous device among them.
func TestParseMountInfoZram(t *testing.T) {
	in := `22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
98 22 0:52 / /run/lockbench/zram-btrfs-1-2/mnt rw,relatime shared:40 - btrfs /dev/zram1 rw,ssd,space_cache=v2
99 22 252:2 / /mnt/a\040b rw - xfs /dev/zram2 rw
100 22 7:0 / /x rw master:3 shared:9 - ext4 /dev/loop0 rw
short line
`
	got, err := parseMountInfo(strings.NewReader(in))
	want := []mountInfo{
		{"/", "ext4", "/dev/vda1", "253:1"},
		{"/run/lockbench/zram-btrfs-1-2/mnt", "btrfs", "/dev/zram1", "0:52"},
		{"/mnt/a b", "xfs", "/dev/zram2", "252:2"},
		{"/x", "ext4", "/dev/loop0", "7:0"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseMountInfo = %+v, %v; want %+v", got, err, want)
	}
}

// zramTestNeeds skips the test unless zram targets of fsName can be made
// here, saying why.
func zramTestNeeds(t *testing.T, fsName string) {
	t.Helper()
	if testing.Short() {
		t.Skip("makes zram devices and filesystems; skipped under -short")
	}
	if err := zramNeeds(fsName, os.Geteuid(), exec.LookPath, haveZramControl()); err != nil {
		t.Skip(err)
	}
}

// privateStateDir points zramStateDir at a directory of the test's, so
// that the test's cleaners meet only its own targets, and restores it.
func privateStateDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	old := zramStateDir
	zramStateDir = dir
	t.Cleanup(func() { zramStateDir = old })
	return dir
}

// zramGone checks that zramN is no longer the device instance diskseq
// (removed, or the number reused by someone else), that nothing in the
// mount table is the device or lies under dir, and that dir is gone.
func zramGone(t *testing.T, dev, diskseq, dir string) {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(dev, "zram"))
	if err != nil {
		t.Fatalf("device %q is not zramN", dev)
	}
	if cur, err := readSys(n, "diskseq"); err == nil && cur == diskseq {
		size, _ := readSys(n, "disksize")
		t.Errorf("%s (diskseq %s) is still attached, disksize %s; want it removed", dev, diskseq, size)
	}
	mounts, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.Source == "/dev/"+dev || underAny(m.Point, dir) {
			t.Errorf("%s is still mounted on %s (from %s)", m.FSType, m.Point, m.Source)
		}
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after cleanup, lstat %s = %v; want it removed", dir, err)
	}
}

// TestPrepareZram makes a zram target of each filesystem whose mkfs is
// installed, checks it, writes into it, and checks that cleanup leaves
// nothing mounted or attached and can be called again.
func TestPrepareZram(t *testing.T) {
	for _, l := range LoopFilesystems {
		t.Run(l.Name, func(t *testing.T) {
			zramTestNeeds(t, l.Name)
			privateStateDir(t)
			ts := TargetSpec{Kind: "zram", FS: l.Name, Size: l.MinSize}
			tgt, cleanup, err := Prepare(context.Background(), ts)
			if err != nil {
				t.Fatalf("Prepare(%s) = %v", ts, err)
			}
			t.Cleanup(func() { _ = cleanup() })
			n, _ := strconv.Atoi(strings.TrimPrefix(tgt.Device, "zram"))
			diskseq, _ := readSys(n, "diskseq")
			size, _ := readSys(n, "disksize")
			if tgt.Spec != ts.String() || tgt.FSType != l.Name || tgt.DeviceKind != "zram" || !strings.HasPrefix(tgt.Device, "zram") ||
				tgt.Compression == "" || !strings.Contains(tgt.Model, tgt.Compression) || tgt.MountPoint != tgt.Path ||
				size != strconv.FormatInt(l.MinSize, 10) || tgt.Rotational {
				t.Errorf("Prepare(%s) = %+v, disksize %s; want a mounted %s on a compressed zram device of %d bytes", ts, tgt, size, l.Name, l.MinSize)
			}
			if err := os.WriteFile(filepath.Join(tgt.Path, "data"), []byte("x"), 0o644); err != nil {
				t.Errorf("writing into the zram target: %v", err)
			}
			dir := filepath.Dir(tgt.Path)
			if err := rootOnlyDir(dir, true); err != nil {
				t.Errorf("the target's directory: %v", err)
			}
			if err := cleanup(); err != nil {
				t.Fatalf("cleanup() = %v", err)
			}
			zramGone(t, tgt.Device, diskseq, dir)
			if err := cleanup(); err != nil {
				t.Errorf("second cleanup() = %v; want nil", err)
			}
			liveCleanups.Lock()
			left := len(liveCleanups.fns)
			liveCleanups.Unlock()
			if left != 0 {
				t.Errorf("after cleanup, %d cleanups are still registered for CleanupLive", left)
			}
		})
	}
}

// TestPrepareZramInterrupted cancels the setup, runs CleanupLive (the
// second Ctrl-C) after each stage of it and at times throughout it from
// another goroutine, and checks that each leaves nothing: the test's
// devices removed, nothing mounted, no directory.
func TestPrepareZramInterrupted(t *testing.T) {
	zramTestNeeds(t, "ext4")
	state := privateStateDir(t)
	var mu sync.Mutex
	added := map[int]string{}
	stages := map[string]int{}
	var interruptAt string
	var signals sync.WaitGroup
	zramStageHook = func(stage string, n int, diskseq string) {
		mu.Lock()
		added[n] = diskseq
		stages[stage]++
		at := interruptAt
		mu.Unlock()
		if stage == at {
			// As a signal does: the setup goes on meanwhile.
			signals.Add(1)
			go func() {
				defer signals.Done()
				if err := CleanupLive(); err != nil {
					t.Errorf("CleanupLive after %s = %v", stage, err)
				}
			}()
		}
	}
	t.Cleanup(func() { zramStageHook = nil })
	ts := TargetSpec{Kind: "zram", FS: "ext4", Size: 128 << 20}
	checkNothingLeft := func(when string) {
		t.Helper()
		if entries, _ := os.ReadDir(state); len(entries) != 0 {
			t.Errorf("%s: the state directory holds %v; want nothing", when, entries)
		}
		mounts, _ := readMountInfo()
		for _, m := range mounts {
			if underAny(m.Point, state) {
				t.Errorf("%s: %s is left mounted", when, m.Point)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for n, seq := range added {
			if cur, err := readSys(n, "diskseq"); err == nil && cur == seq {
				t.Errorf("%s: zram%d (diskseq %s) is left attached", when, n, seq)
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, cleanup, err := Prepare(ctx, ts)
	if err == nil || !strings.HasPrefix(err.Error(), "target zram:ext4:128M: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Prepare(zram with a cancelled context) = %v; want a one-line error naming the target", err)
	}
	if cleanup == nil || cleanup() != nil {
		t.Errorf("failed Prepare returned a nil or failing cleanup")
	}
	checkNothingLeft("cancelled")

	for _, stage := range []string{"added", "sized", "formatted", "mounted"} {
		mu.Lock()
		interruptAt = stage
		mu.Unlock()
		_, cleanup, _ := Prepare(context.Background(), ts)
		signals.Wait()
		// CleanupLive alone must have undone everything (the process
		// exits after it); the setup's own cleanup then has nothing
		// to do.
		checkNothingLeft("CleanupLive after " + stage)
		if err := cleanup(); err != nil {
			t.Errorf("cleanup after CleanupLive after %s = %v", stage, err)
		}
	}
	mu.Lock()
	interruptAt = ""
	mu.Unlock()

	for _, delay := range []time.Duration{0, 10 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond, 100 * time.Millisecond} {
		done := make(chan func() error, 1)
		go func() {
			_, cleanup, _ := Prepare(context.Background(), ts)
			done <- cleanup
		}()
		time.Sleep(delay)
		nowErr := CleanupLive()
		var cleanup func() error
		select {
		case cleanup = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("Prepare did not return 30 s after CleanupLive at %v", delay)
		}
		if nowErr != nil {
			t.Errorf("CleanupLive at %v = %v", delay, nowErr)
		}
		// A setup that finished before the signal is undone by a
		// second CleanupLive, as a signal after setup would.
		if err := CleanupLive(); err != nil {
			t.Errorf("second CleanupLive at %v = %v", delay, err)
		}
		checkNothingLeft(fmt.Sprintf("CleanupLive at %v", delay))
		if err := cleanup(); err != nil {
			t.Errorf("cleanup after CleanupLive at %v = %v", delay, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if stages["mounted"] == 0 || stages["added"] < 5 {
		t.Errorf("the setups reached the stages %v; want every stage reached", stages)
	}
}

// TestZramHelperProcess is not a test: TestCleanStaleZram runs the test
// binary with it to make a zram target in a process it then kills.
func TestZramHelperProcess(t *testing.T) {
	state := os.Getenv("LOCKBENCH_ZRAM_HELPER")
	if state == "" {
		t.Skip("helper process of TestCleanStaleZram")
	}
	zramStateDir = state
	tgt, _, err := Prepare(context.Background(), TargetSpec{Kind: "zram", FS: "ext4", Size: 128 << 20})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	f, err := os.Create(filepath.Join(tgt.Path, "open-file"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	defer f.Close()
	fmt.Println("ready", tgt.Device, tgt.Path)
	time.Sleep(time.Minute)
	os.Exit(1)
}

// TestCleanStaleZram kills a process holding a zram target and checks that
// CleanStaleZram removes its device, mount and directory, while a decoy
// zram device the test made itself, and owner files that do not prove
// their device (a number whose diskseq differs, a file not owned by root,
// a live run's lock), stay untouched.
func TestCleanStaleZram(t *testing.T) {
	zramTestNeeds(t, "ext4")
	state := privateStateDir(t)

	// A killed run's target.
	cmd := exec.Command(os.Args[0], "-test.run=^TestZramHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "LOCKBENCH_ZRAM_HELPER="+state)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var fields []string
	for deadline := time.Now().Add(30 * time.Second); lines.Scan() && time.Now().Before(deadline); {
		if fields = strings.Fields(lines.Text()); len(fields) == 3 && fields[0] == "ready" {
			break
		}
	}
	if len(fields) != 3 || fields[0] != "ready" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the helper did not make its zram target: %q", fields)
	}
	killed, killedPath := fields[1], fields[2]
	killedN, _ := strconv.Atoi(strings.TrimPrefix(killed, "zram"))
	killedSeq, _ := readSys(killedN, "diskseq")
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	// The decoy: a zram device with a size, which lockbench did not make.
	b, err := os.ReadFile(zramControl + "/hot_add")
	if err != nil {
		t.Fatalf("adding the decoy zram device: %v", err)
	}
	decoyN, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	t.Cleanup(func() {
		_ = writeSys(decoyN, "reset", "1")
		_ = writeFile(zramControl+"/hot_remove", strconv.Itoa(decoyN))
	})
	if err := writeSys(decoyN, "disksize", "64M"); err != nil {
		t.Fatal(err)
	}
	decoySeq, _ := readSys(decoyN, "diskseq")
	if decoySeq == "" {
		t.Skip("this kernel has no diskseq: a stale device is proved only by its mount")
	}

	// Owner files naming the decoy, none of which proves it.
	plant := func(name string, o zramOwner, uid int) string {
		dir := filepath.Join(state, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, "owner"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeOwner(f, o); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chown(filepath.Join(dir, "owner"), uid, uid); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	boot := bootID()
	reused := plant("zram-ext4-1-1", zramOwner{Device: decoyN, Diskseq: decoySeq + "0", PID: 1, Boot: boot, FS: "ext4"}, 0)
	notRoots := plant("zram-ext4-1-2", zramOwner{Device: decoyN, Diskseq: decoySeq, PID: 1, Boot: boot, FS: "ext4"}, 65534)
	live := plant("zram-ext4-1-3", zramOwner{Device: decoyN, Diskseq: decoySeq, PID: 1, Boot: boot, FS: "ext4"}, 0)
	lock, err := os.Open(filepath.Join(live, "owner"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	// Directories without an owner file: a killed run's between mkdir and
	// its owner file (old and empty: removed), a live run's at that moment
	// (young: kept), and one holding more than an empty mount point (kept).
	ownerless := func(name string, age time.Duration, file bool) string {
		dir := filepath.Join(state, name)
		if err := os.MkdirAll(filepath.Join(dir, "mnt"), 0o700); err != nil {
			t.Fatal(err)
		}
		if file {
			if err := os.WriteFile(filepath.Join(dir, "mnt", "data"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	emptyOld := ownerless("zram-ext4-1-4", 2*time.Minute, false)
	emptyYoung := ownerless("zram-ext4-1-5", 0, false)
	notEmpty := ownerless("zram-ext4-1-6", 2*time.Minute, true)

	notes, err := CleanStaleZram()
	if err != nil {
		t.Errorf("CleanStaleZram() = %v", err)
	}
	want := fmt.Sprintf("removed %s (ext4), the zram target a killed lockbench run", killed)
	if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
		t.Errorf("CleanStaleZram notes %q; want one starting %q", notes, want)
	}
	zramGone(t, killed, killedSeq, filepath.Dir(killedPath))
	if seq, _ := readSys(decoyN, "diskseq"); seq != decoySeq {
		t.Errorf("the decoy zram%d is gone (diskseq %q, was %s)", decoyN, seq, decoySeq)
	}
	if size, _ := readSys(decoyN, "disksize"); size != strconv.Itoa(64<<20) {
		t.Errorf("the decoy zram%d was reset (disksize %s)", decoyN, size)
	}
	// The directory whose device number was reused proves nothing about
	// the device, but is a killed run's own: it goes, the device stays.
	if _, err := os.Lstat(reused); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed run's directory %s naming a reused device number was kept (%v)", reused, err)
	}
	for _, dir := range []string{notRoots, live} {
		if _, err := os.Lstat(filepath.Join(dir, "owner")); err != nil {
			t.Errorf("%s, which proves nothing, was removed: %v", dir, err)
		}
	}
	if _, err := os.Lstat(emptyOld); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the old empty directory %s was kept (%v)", emptyOld, err)
	}
	for _, dir := range []string{emptyYoung, filepath.Join(notEmpty, "mnt", "data")} {
		if _, err := os.Lstat(dir); err != nil {
			t.Errorf("%s, a live run's or not empty, was removed: %v", dir, err)
		}
	}
}
