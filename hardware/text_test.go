package hardware

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"lockbench/internal/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenTargets are the targets shown in every golden file: one of each
// shape the text must lay out (memory, a stacked device, a loop device).
var goldenTargets = []Target{
	{Spec: "tmpfs", Path: "/dev/shm", FSType: "tmpfs", DeviceKind: "memory", MountPoint: "/dev/shm",
		FreeBytes: 25276514304, SizeBytes: 25276514304, Fallocate: true, PunchHole: true},
	{Spec: "dir:/var/tmp", Path: "/var/tmp", FSType: "ext4", Device: "dm-0", DeviceKind: "dm over nvme",
		Model: "Samsung SSD 980 PRO 1TB", Underlying: "nvme0n1", MountPoint: "/",
		FreeBytes: 80 << 30, SizeBytes: 250 << 30, Fallocate: true, PunchHole: true},
	{Spec: "loop:xfs:2G", Path: "/tmp/lockbench-xfs-1/mnt", FSType: "xfs", Device: "loop0", DeviceKind: "loop",
		BackingFile: "/tmp/lockbench-xfs-1/image", MountPoint: "/tmp/lockbench-xfs-1/mnt",
		FreeBytes: 1983 << 20, SizeBytes: 2 << 30, Fallocate: true, PunchHole: true},
	{Spec: "dir:/mnt/nfs", Path: "/mnt/nfs", FSType: "nfs", Rotational: true, FreeBytes: 1 << 40},
}

// TestWriteTextGolden renders every fake machine and compares the text
// with testdata/<machine>.golden; go test -update rewrites the files.
func TestWriteTextGolden(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, machine(t, f.name), goldenTargets); err != nil {
				t.Fatalf("WriteText = %v", err)
			}
			golden.Check(t, filepath.Join("testdata", f.name+".golden"), b.Bytes(), *update, "go test ./hardware/ -update")
		})
	}
}

// TestWriteTextContent checks a few facts in the text independently of
// the golden files, so that an -update cannot bless a regression there.
func TestWriteTextContent(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, machine(t, "amd"), nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"32 logical CPUs: 1 node, 1 package, 4 LLCs, 16 cores, 2 threads per core",
		"L3 16 MiB x4 (8 CPUs each)",
		"      llc 1 (L3 16 MiB): 4+20 5+21 6+22 7+23\n",
		"  scatter     0,4,8,12,1,5,9,13,",
		"  smt-pairs   0,16,4,20,",
		"same-core 16, same-llc 1, other-llc 4, other-node -",
		"targets    none\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteText(amd) lacks %q; got:\n%s", want, b.String())
		}
	}
	for _, m := range []Machine{{}, {Allowed: []int{0}}} {
		if err := WriteText(&b, m, nil); err != nil {
			t.Errorf("WriteText(%+v) = %v; want it written with dashes, not an error", m, err)
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextError(t *testing.T) {
	if err := WriteText(failWriter{}, machine(t, "vm"), goldenTargets); err == nil || err.Error() != "disk full" {
		t.Errorf("WriteText(failing writer) = %v; want the writer's error", err)
	}
}

// TestWriteTextReal prints this machine and its auto targets; run with -v
// to see them. It checks only that both are described without error.
func TestWriteTextReal(t *testing.T) {
	m, err := Detect()
	if err != nil {
		t.Fatalf("Detect() = %v", err)
	}
	specs, err := ParseTargets("auto")
	if err != nil {
		t.Fatal(err)
	}
	targets, cleanup, err := PrepareAll(context.Background(), specs)
	if err != nil {
		t.Fatalf("PrepareAll(auto) = %v", err)
	}
	defer func() {
		if err := cleanup(); err != nil {
			t.Errorf("cleanup() = %v", err)
		}
	}()
	var b bytes.Buffer
	if err := WriteText(&b, m, targets); err != nil {
		t.Fatalf("WriteText = %v", err)
	}
	t.Logf("this machine:\n%s", b.String())
}
