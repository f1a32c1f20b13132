package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lockbench/hardware"
)

// TestZramUsage: a zram target's bad filesystem or size is a usage error
// naming what is allowed, before anything is made; hw says whether zram
// targets can be made here.
func TestZramUsage(t *testing.T) {
	for _, tt := range []struct{ target, want string }{
		{"zram:zfs", `-target: target "zram:zfs": zram filesystem must be ext4, xfs or btrfs, as in zram:btrfs:1G`},
		{"zram:btrfs:lots", `-target: target "zram:btrfs:lots": size "lots" is not a size: want bytes or a number with a K, M, G or T suffix`},
		{"zram:xfs:64M", `-target: target "zram:xfs:64M": a xfs zram device must be at least 320M`},
	} {
		res := runCLI(t.Context(), "run", "-duration", "100ms", "-target", tt.target, "-o", "")
		if res.code != 2 || !strings.Contains(res.stderr, tt.want) || strings.Count(res.stderr, "\n") != 1 {
			t.Errorf("run -target %s = exit %d, stderr %q; want exit 2 and one line containing %q", tt.target, res.code, res.stderr, tt.want)
		}
	}
	// A directory of the test's: a shared one may hold what other runs
	// (or hostile-user tests) left there.
	tgt := "dir:" + t.TempDir()
	res := runCLI(t.Context(), "hw", "-target", tgt)
	want := "zram       " + hardware.Zram().Text()
	if res.code != 0 || !strings.Contains(res.stdout, want+"\n") {
		t.Errorf("hw = exit %d, stdout ending %q; want a line %q", res.code, res.stdout[max(0, len(res.stdout)-200):], want)
	}
	res = runCLI(t.Context(), "hw", "-json", "-target", tgt)
	var got struct {
		Zram *hardware.ZramStatus `json:"zram"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil || got.Zram == nil || (!got.Zram.Available && got.Zram.Reason == "") {
		t.Errorf("hw -json = %v, zram %+v; want the zram status with a reason when unavailable", err, got.Zram)
	}
}

// needZram skips a test that makes zram:ext4 targets unless it can.
func needZram(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("makes zram devices; skipped under -short")
	}
	if s := hardware.Zram(); !s.Available || !strings.Contains(strings.Join(s.Filesystems, " "), "ext4") {
		t.Skipf("zram:ext4 targets cannot be made here: %s", s.Text())
	}
}

// zramOfPID waits until the lockbench process cmd has a zram target
// directory (and, with file, a backing file in its mount) and returns the
// directory and its device, as "zramN diskseq" ("" before it is added).
func zramOfPID(t *testing.T, cmd *exec.Cmd, file bool) (dir string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, _ := filepath.Glob(fmt.Sprintf("/run/lockbench/zram-*-%d-*", cmd.Process.Pid))
		if len(m) > 0 {
			if !file {
				return m[0]
			}
			if f, _ := filepath.Glob(filepath.Join(m[0], "mnt", ".lockbench-cache-*")); len(f) > 0 {
				return m[0]
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the zram run made no target within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// ownerDevice reads the device and diskseq a zram target's owner file
// names ("" when it names none yet).
func ownerDevice(dir string) (dev, diskseq string) {
	b, _ := os.ReadFile(filepath.Join(dir, "owner"))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "device "); ok {
			dev = v
		}
		if v, ok := strings.CutPrefix(line, "diskseq "); ok {
			diskseq = v
		}
	}
	return dev, diskseq
}

// checkZramGone fails when the zram target of pid is still there: its
// directory, a mount under it, or its device.
func checkZramGone(t *testing.T, pid int, dev, diskseq string) {
	t.Helper()
	if m, _ := filepath.Glob(fmt.Sprintf("/run/lockbench/zram-*-%d-*", pid)); len(m) > 0 {
		t.Errorf("the zram target directory %v of pid %d is left", m, pid)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, fmt.Sprintf("-%d-", pid)) && strings.Contains(line, "/run/lockbench/") ||
			dev != "" && strings.Contains(line, " /dev/"+dev+" ") {
			t.Errorf("left mounted: %s", line)
		}
	}
	if dev != "" {
		if b, err := os.ReadFile("/sys/block/" + dev + "/diskseq"); err == nil && strings.TrimSpace(string(b)) == diskseq {
			t.Errorf("%s (diskseq %s) of pid %d is left attached", dev, diskseq, pid)
		}
	}
}

// TestZramSignals: a real lockbench process with a zram target, stopped by
// SIGINT, SIGTERM or SIGHUP while measuring, or by two SIGINTs 10 ms apart
// during the target's setup, leaves no directory, mount or device; a
// SIGKILLed one's is removed by the next zram run, with a notice.
func TestZramSignals(t *testing.T) {
	needZram(t)
	for _, tt := range []struct {
		name  string
		sigs  []syscall.Signal
		setup bool // signal during setup, not while measuring
	}{
		{"INT", []syscall.Signal{syscall.SIGINT}, false},
		{"TERM", []syscall.Signal{syscall.SIGTERM}, false},
		{"HUP", []syscall.Signal{syscall.SIGHUP}, false},
		{"INT twice while measuring", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, false},
		{"INT twice during setup", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, true},
		{"KILL", []syscall.Signal{syscall.SIGKILL}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := lockbenchCmd(t, "run", "-strategy", "kernel", "-scenario", "fsync-storm", "-duration", "20s",
				"-target", "zram:ext4:128M", "-o", "", "-q")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			dir := zramOfPID(t, cmd, !tt.setup)
			dev, seq := ownerDevice(dir)
			for i, sig := range tt.sigs {
				if i > 0 {
					time.Sleep(10 * time.Millisecond)
				}
				cmd.Process.Signal(sig)
			}
			code := waitExit(t, cmd, 30*time.Second)
			if d, s := ownerDevice(dir); d != "" {
				dev, seq = d, s // added after the first look
			}
			if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "fatal error") {
				t.Fatalf("lockbench crashed:\n%s", stderr.String())
			}
			if tt.sigs[0] == syscall.SIGKILL {
				res := runCLI(context.Background(), "hw", "-target", "zram:ext4:128M")
				want := fmt.Sprintf("the zram target a killed lockbench run (pid %d) left", cmd.Process.Pid)
				if res.code != 0 || !strings.Contains(res.stderr, want) {
					t.Errorf("the next zram run: exit %d, stderr %q; want a notice %q", res.code, res.stderr, want)
				}
			} else if code != 1 {
				t.Errorf("exit status %d after %v; want 1 (interrupted)\n%s", code, tt.sigs, stderr.String())
			}
			checkZramGone(t, cmd.Process.Pid, dev, seq)
		})
	}
}
