//go:build linux

package main

// The hostile-user suite (`go test -run Hostile ./...`, as root): an
// unprivileged user (uid 65534, a child process with dropped credentials)
// plants symbolic links, FIFOs and stale-looking files and directories in
// /tmp, /dev/shm, a shared working directory and a report directory, all
// pointing at decoys the test owns (files in a directory only root can
// enter, and a tmpfs mounted for the test); root then runs lockbench's
// commands. No decoy may change, nothing outside lockbench's own files
// may be unmounted or removed, and every command must end by a deadline.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nobody is the unprivileged user that plants.
const nobody = 65534

// asNobody runs a shell script as uid/gid 65534 with no supplementary
// groups, as `setpriv --reuid=65534 --regid=65534 --clear-groups` would.
func asNobody(t *testing.T, script string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-euc", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("planting as uid %d: %v\n%s\nscript:\n%s", nobody, err, out, script)
	}
}

// decoy is a file the test owns whose content, mode and owner must not
// change.
type decoy struct {
	path string
	data []byte
	mode os.FileMode
}

func newDecoy(t *testing.T, dir, name string) decoy {
	t.Helper()
	d := decoy{path: filepath.Join(dir, name), data: []byte("decoy " + name + "\n"), mode: 0o600}
	if err := os.WriteFile(d.path, d.data, d.mode); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d decoy) check(t *testing.T) {
	t.Helper()
	fi, err := os.Lstat(d.path)
	if err != nil {
		t.Errorf("decoy %s: %v", d.path, err)
		return
	}
	b, _ := os.ReadFile(d.path)
	st := fi.Sys().(*syscall.Stat_t)
	if !bytes.Equal(b, d.data) || fi.Mode() != d.mode || st.Uid != 0 {
		t.Errorf("decoy %s changed: mode %v uid %d content %.40q; want %v uid 0 %.40q", d.path, fi.Mode(), st.Uid, b, d.mode, d.data)
	}
}

// deadPID returns a pid that no process has (a child that has exited).
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// isMountPoint reports whether dir is a mount point of this namespace.
func isMountPoint(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// runRoot runs lockbench (the test binary) as root in dir and returns its
// exit status and stderr; it fails the test when the command outlives
// deadline.
func runRoot(t *testing.T, dir string, deadline time.Duration, args ...string) (int, string) {
	t.Helper()
	cmd := lockbenchCmd(t, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, cmd, deadline)
	if strings.Contains(stderr.String(), "panic") {
		t.Errorf("lockbench %q crashed:\n%s", args, stderr.String())
	}
	return code, stderr.String()
}

func TestHostile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the hostile-user suite runs as root (it drops to uid 65534 to plant, then runs lockbench as root)")
	}
	// Decoys: in a directory only root can enter, and a tmpfs mounted for
	// the test that a planted link may point at.
	vault := t.TempDir() // 0700 root
	decoyMnt := filepath.Join(vault, "mnt")
	os.Mkdir(decoyMnt, 0o755)
	if err := unix.Mount("tmpfs", decoyMnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount the decoy tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(decoyMnt, unix.MNT_DETACH) })
	decoys := []decoy{
		newDecoy(t, vault, "results.json"), newDecoy(t, vault, "index.html"), newDecoy(t, vault, "chart.png"),
		newDecoy(t, vault, "image"), newDecoy(t, vault, "cache"), newDecoy(t, decoyMnt, "inside"),
	}
	// A loop device backed by a decoy image, which a planted image link
	// names: it must stay attached.
	decoyDev := ""
	if _, err := exec.LookPath("losetup"); err == nil {
		img := filepath.Join(vault, "decoy.img")
		os.WriteFile(img, make([]byte, 1<<20), 0o600)
		if out, err := exec.Command("losetup", "--find", "--show", img).Output(); err == nil {
			decoyDev = strings.TrimSpace(string(out))
			t.Cleanup(func() { exec.Command("losetup", "--detach", decoyDev).Run() })
		} else {
			t.Logf("no decoy loop device: %v", err)
		}
	}
	// The shared places: a world-writable sticky working directory (as
	// /tmp), /tmp and /dev/shm themselves.
	shared, err := os.MkdirTemp("", "lockbench-hostile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	os.Chmod(shared, 0o1777)
	dead := deadPID(t)
	tag := fmt.Sprintf("%d-hostile%d", dead, os.Getpid())
	stale := []string{
		fmt.Sprintf("/tmp/lockbench-ext4-%s-a", tag),
		fmt.Sprintf("/tmp/lockbench-xfs-%d-b%d", dead, os.Getpid()),
	}
	shmPlants := []string{
		fmt.Sprintf("/dev/shm/.lockbench-cache-1-fifo%d", os.Getpid()), // pid 1 is alive: the lock check opens it
		fmt.Sprintf("/dev/shm/.lockbench-cache-%s-link", tag),
		fmt.Sprintf("/dev/shm/.lockbench-cache-%s-link2.disk", tag),
	}
	t.Cleanup(func() {
		for _, p := range append(stale, shmPlants...) {
			os.RemoveAll(p)
		}
	})
	report := filepath.Join(shared, "report")
	asNobody(t, fmt.Sprintf(`
		cd %[1]s
		ln -s %[2]s/results.json lockbench-results.json.gz
		ln -s %[2]s/results.json r.json
		ln -s %[2]s/nonexistent.json dangling.json
		mkdir -m 0777 report
		ln -s %[2]s/index.html report/index.html
		for c in p99_fsync-storm_t2_tmpfs.png series_fsync-storm_t2_tmpfs.png spectrum_fsync-storm_t2_tmpfs.png; do
			ln -s %[2]s/chart.png report/$c
		done
		ln -s %[2]s linkdir
		ln -s %[2]s lockbench-report
		for d in %[3]s %[4]s; do
			mkdir -m 0700 $d
			ln -s %[5]s $d/mnt
			ln -s %[2]s/decoy.img $d/image
			touch -d '2 hours ago' $d
		done
		mkfifo %[6]s
		touch -d '2 hours ago' %[6]s
		ln -s %[2]s/cache %[7]s
		ln -s %[2]s/cache %[8]s
	`, shared, vault, stale[0], stale[1], decoyMnt, shmPlants[0], shmPlants[1], shmPlants[2]))
	planted := append(append([]string{
		filepath.Join(shared, "lockbench-results.json.gz"), filepath.Join(shared, "r.json"), filepath.Join(shared, "dangling.json"),
		filepath.Join(report, "index.html"), filepath.Join(shared, "linkdir"), filepath.Join(shared, "lockbench-report"),
	}, stale...), shmPlants...)

	// A results file root owns, for the report commands.
	good := filepath.Join(t.TempDir(), "good.json")
	tgt := t.TempDir()
	if code, stderr := runRoot(t, "/", 60*time.Second, "run", "-strategy", "rwsem", "-scenario", "fsync-storm", "-duration", "100ms", "-target", "tmpfs", "-o", good, "-q"); code != 0 {
		t.Fatalf("making a results file: exit %d\n%s", code, stderr)
	}

	steps := []struct {
		name     string
		dir      string
		args     []string
		wantFail bool // refused: a planted link is not followed
	}{
		{"run in the shared directory with the default -o", shared, []string{"run", "-duration", "50ms", "-target", "dir:" + tgt, "-q"}, true},
		{"run -o a planted link", "/", []string{"run", "-duration", "50ms", "-target", "dir:" + tgt, "-o", filepath.Join(shared, "r.json"), "-q"}, true},
		{"run -o a planted dangling link", "/", []string{"run", "-duration", "50ms", "-target", "dir:" + tgt, "-o", filepath.Join(shared, "dangling.json"), "-q"}, true},
		{"run -html a planted link", "/", []string{"run", "-duration", "50ms", "-target", "dir:" + tgt, "-o", "", "-html", filepath.Join(shared, "r.json"), "-q"}, true},
		{"the default study with a planted lockbench-report link", shared, []string{"-quick", "-o", filepath.Join(t.TempDir(), "s.json")}, true},
		{"report -o a planted report directory", "/", []string{"report", "-o", report, good}, true},
		{"report -o a planted link to a directory", "/", []string{"report", "-o", filepath.Join(shared, "linkdir"), good}, true},
		{"report -charts a planted link to a directory", "/", []string{"report", "-charts", filepath.Join(shared, "linkdir"), good}, true},
		{"run on tmpfs with FIFOs and links planted in /dev/shm", "/", []string{"run", "-duration", "50ms", "-target", "tmpfs", "-o", "", "-q"}, false},
		{"run on the shared directory", "/", []string{"run", "-duration", "50ms", "-target", "dir:" + shared, "-o", "", "-q"}, false},
	}
	if _, err := exec.LookPath("mkfs.ext4"); err == nil {
		steps = append(steps, struct {
			name     string
			dir      string
			args     []string
			wantFail bool
		}{"hw with a loop target, stale-looking loop directories planted in /tmp", "/", []string{"hw", "-target", "loop:ext4:128M"}, false})
	} else {
		t.Log("no mkfs.ext4: the loop-target step is left out")
	}
	for _, s := range steps {
		code, stderr := runRoot(t, s.dir, 60*time.Second, s.args...)
		switch {
		case s.wantFail && code == 0:
			t.Errorf("%s: exit 0; want a refusal", s.name)
		case !s.wantFail && code != 0:
			t.Errorf("%s: exit %d; want 0\n%s", s.name, code, stderr)
		}
		t.Logf("%s: exit %d: %s", s.name, code, strings.TrimSpace(stderr))
		for _, d := range decoys {
			d.check(t)
		}
		if !isMountPoint(decoyMnt) {
			t.Fatalf("%s: the decoy tmpfs %s was unmounted", s.name, decoyMnt)
		}
		if decoyDev != "" {
			if b, err := os.ReadFile("/sys/block/" + filepath.Base(decoyDev) + "/loop/backing_file"); err != nil || !strings.Contains(string(b), "decoy.img") {
				t.Fatalf("%s: the decoy loop device %s was detached (%q, %v)", s.name, decoyDev, b, err)
			}
		}
		for _, p := range planted {
			if _, err := os.Lstat(p); err != nil {
				t.Errorf("%s: the planted %s was removed: %v", s.name, p, err)
			}
		}
	}
	// Nothing written into the vault through a link to its directory.
	if m, _ := filepath.Glob(filepath.Join(vault, "*_*.png")); len(m) > 0 {
		t.Errorf("charts written into the decoy directory: %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(vault, ".*")); len(m) > 0 {
		t.Errorf("temporary files left in the decoy directory: %v", m)
	}
	m, _ := filepath.Glob(filepath.Join(report, "*"))
	for _, p := range m {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			t.Errorf("the refused report directory was half-written: %s", p)
		}
	}
}

// TestHostileMiddleLink: the link rule holds for every directory along an
// output path, not only its last component. uid 65534 plants a link to a
// root-only directory of decoys as a middle component, in a world-writable
// sticky directory (as /tmp) and in a world-writable one without the
// sticky bit; root's -o, -html, -hdr-log, report -o and -charts through it
// are refused with exit 2 and one line naming the link, its owner and its
// directory, and nothing is written in the decoys' directory. root's own
// link in a directory only root can write is still followed.
func TestHostileMiddleLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the hostile-user suite runs as root (it drops to uid 65534 to plant, then runs lockbench as root)")
	}
	vault := t.TempDir() // 0700 root
	decoys := []decoy{newDecoy(t, vault, "r.json"), newDecoy(t, vault, "index.html")}
	good := filepath.Join(t.TempDir(), "good.json")
	tgt := t.TempDir()
	if code, stderr := runRoot(t, "/", 60*time.Second, "run", "-strategy", "rwsem", "-scenario", "fsync-storm", "-duration", "50ms", "-target", "tmpfs", "-o", good, "-q"); code != 0 {
		t.Fatalf("making a results file: exit %d\n%s", code, stderr)
	}
	for _, mode := range []string{"1777", "0777"} {
		shared, err := os.MkdirTemp("", "lockbench-hostile-mid-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shared) })
		m, _ := strconv.ParseUint(mode, 8, 32)
		if err := unix.Chmod(shared, uint32(m)); err != nil {
			t.Fatal(err)
		}
		asNobody(t, fmt.Sprintf("mkdir %[1]s/real && ln -s %[2]s %[1]s/link && ln -s real %[1]s/own", shared, vault))
		link := filepath.Join(shared, "link")
		run := []string{"run", "-strategy", "rwsem", "-scenario", "fsync-storm", "-duration", "50ms", "-target", "dir:" + tgt, "-q"}
		for _, s := range []struct {
			name string
			args []string
		}{
			{"-o", append(run, "-o", filepath.Join(link, "r.json"))},
			{"-o new file", append(run, "-o", filepath.Join(link, "new.json"))},
			{"-o two levels", append(run, "-o", filepath.Join(shared, "real", "..", "link", "r.json"))},
			{"-html", append(run, "-o", "", "-html", filepath.Join(link, "index.html"))},
			{"-hdr-log", append(run, "-o", "", "-hdr-log", filepath.Join(link, "h.hlog"))},
			{"report -o", []string{"report", "-o", filepath.Join(link, "rep"), good}},
			{"report -charts", []string{"report", "-charts", filepath.Join(link, "charts"), good}},
		} {
			code, stderr := runRoot(t, "/", 60*time.Second, s.args...)
			want := link + " is a symbolic link of uid 65534 in " + shared + ", which others can write"
			if code != 2 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("mode %s, %s through a planted middle link: exit %d, stderr %q; want exit 2 and one line with %q", mode, s.name, code, stderr, want)
			}
			for _, d := range decoys {
				d.check(t)
			}
			if m, _ := filepath.Glob(filepath.Join(vault, "*")); len(m) != len(decoys) {
				t.Errorf("mode %s, %s: files made in the decoys' directory: %v", mode, s.name, m)
			}
		}
		// A link nobody planted in the shared directory but that root
		// made there (its own): followed.
		mine := filepath.Join(shared, "mine")
		if err := os.Symlink(tgt, mine); err != nil {
			t.Fatal(err)
		}
		if code, stderr := runRoot(t, "/", 60*time.Second, append(run, "-o", filepath.Join(mine, "ok.json"))...); code != 0 {
			t.Errorf("mode %s: -o through root's own link in the shared directory: exit %d\n%s", mode, code, stderr)
		}
	}
	// root's link in a directory only root can write: followed, as the
	// kernel does.
	priv := t.TempDir()
	os.Chmod(priv, 0o755)
	os.Symlink(tgt, filepath.Join(priv, "out"))
	if code, stderr := runRoot(t, "/", 60*time.Second, "report", "-o", filepath.Join(priv, "out", "rep"), good); code != 0 {
		t.Errorf("report -o through root's link in a root-only directory: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(tgt, "rep", "index.html")); err != nil {
		t.Errorf("the report did not land in the link's target: %v", err)
	}
}
