package hardware

import (
	"encoding/json"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseList(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []int
		wantErr string
	}{
		// Good lists, as sysfs writes them and as people type them.
		{in: "", want: nil},
		{in: "0", want: []int{0}},
		{in: "0-3", want: []int{0, 1, 2, 3}},
		{in: "0-1,8,10-11\n", want: []int{0, 1, 8, 10, 11}},
		{in: "4,0-1", want: []int{4, 0, 1}}, // order is kept
		{in: " 2 , 3 ", want: []int{2, 3}},
		// Bad lists.
		{in: "a", wantErr: `"a" is not a CPU number`},
		{in: "3-1", wantErr: "runs backwards"},
		{in: "0,,1", wantErr: `"" is not a CPU number`},
		{in: "-1", wantErr: `"-1" is negative`},
		{in: "0-4000000000", wantErr: "not a CPU number between 0 and 8191"},
	} {
		got, err := parseList(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseList(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatList(t *testing.T) {
	for _, tt := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1, 2, 3}, "0-3"},
		{[]int{0, 16, 1, 17}, "0,16,1,17"}, // an order, not a set: nothing folds
		{[]int{4, 0, 1, 2}, "4,0-2"},
		{[]int{0, 1, 3, 4, 5, 7}, "0-1,3-5,7"},
	} {
		if got := formatList(tt.in); got != tt.want {
			t.Errorf("formatList(%v) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestDetectFS(t *testing.T) {
	for _, tt := range []struct {
		name string
		// Counts.
		logical, packages, cores, llcs, nodes, threads int
		allowed                                        []int
		// A few CPUs in full.
		cpus                    []CPU
		caches                  []Cache
		kernel, hostname, clock string
	}{
		{
			// The 2-vCPU KVM guest: two cores, no SMT, one shared L3.
			name: "vm", logical: 2, packages: 1, cores: 2, llcs: 1, nodes: 1, threads: 1,
			allowed: []int{0, 1},
			cpus: []CPU{
				{ID: 0, Core: 0, Package: 0, LLC: 0, Node: 0, Siblings: []int{0}},
				{ID: 1, Core: 1, Package: 0, LLC: 0, Node: 0, Siblings: []int{1}},
			},
			caches: []Cache{
				{Level: 1, Type: "data", Size: 32 << 10, LineSize: 64, Instances: 2, CPUsPerInstance: 1},
				{Level: 1, Type: "instruction", Size: 32 << 10, LineSize: 64, Instances: 2, CPUsPerInstance: 1},
				{Level: 2, Type: "unified", Size: 1 << 20, LineSize: 64, Instances: 2, CPUsPerInstance: 1},
				{Level: 3, Type: "unified", Size: 32 << 20, LineSize: 64, Instances: 1, CPUsPerInstance: 2},
			},
			kernel: "6.18.44-fc-v595", hostname: "vm", clock: "tsc",
		},
		{
			// The 2-socket server numbers CPUs alternately across
			// sockets: cores are numbered by lowest CPU, so core i
			// holds CPUs i and i+8, on package i%2.
			name: "server", logical: 16, packages: 2, cores: 8, llcs: 2, nodes: 2, threads: 2,
			allowed: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
			cpus: []CPU{
				{ID: 0, Core: 0, Package: 0, LLC: 0, Node: 0, Siblings: []int{0, 8}},
				{ID: 1, Core: 1, Package: 1, LLC: 1, Node: 1, Siblings: []int{1, 9}},
				{ID: 9, Core: 1, Package: 1, LLC: 1, Node: 1, Siblings: []int{1, 9}},
				{ID: 14, Core: 6, Package: 0, LLC: 0, Node: 0, Siblings: []int{6, 14}},
			},
			caches: []Cache{
				{Level: 1, Type: "data", Size: 32 << 10, LineSize: 64, Instances: 8, CPUsPerInstance: 2},
				{Level: 1, Type: "instruction", Size: 32 << 10, LineSize: 64, Instances: 8, CPUsPerInstance: 2},
				{Level: 2, Type: "unified", Size: 512 << 10, LineSize: 64, Instances: 8, CPUsPerInstance: 2},
				{Level: 3, Type: "unified", Size: 30 << 20, LineSize: 64, Instances: 2, CPUsPerInstance: 8},
			},
			kernel: "6.8.0-server", hostname: "server", clock: "tsc",
		},
		{
			// The AMD part: four CCXs of four cores, each its own L3.
			name: "amd", logical: 32, packages: 1, cores: 16, llcs: 4, nodes: 1, threads: 2,
			allowed: seq(0, 31),
			cpus: []CPU{
				{ID: 0, Core: 0, Package: 0, LLC: 0, Node: 0, Siblings: []int{0, 16}},
				{ID: 5, Core: 5, Package: 0, LLC: 1, Node: 0, Siblings: []int{5, 21}},
				{ID: 21, Core: 5, Package: 0, LLC: 1, Node: 0, Siblings: []int{5, 21}},
				{ID: 31, Core: 15, Package: 0, LLC: 3, Node: 0, Siblings: []int{15, 31}},
			},
			caches: []Cache{
				{Level: 1, Type: "data", Size: 32 << 10, LineSize: 64, Instances: 16, CPUsPerInstance: 2},
				{Level: 1, Type: "instruction", Size: 32 << 10, LineSize: 64, Instances: 16, CPUsPerInstance: 2},
				{Level: 2, Type: "unified", Size: 512 << 10, LineSize: 64, Instances: 16, CPUsPerInstance: 2},
				{Level: 3, Type: "unified", Size: 16 << 20, LineSize: 64, Instances: 4, CPUsPerInstance: 8},
			},
			kernel: "6.1.0-amd", hostname: "threadripper", clock: "tsc",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := machine(t, tt.name)
			counts := []int{m.LogicalCPUs, m.Packages, m.Cores, m.LLCs, m.Nodes, m.ThreadsPerCore}
			want := []int{tt.logical, tt.packages, tt.cores, tt.llcs, tt.nodes, tt.threads}
			if !slices.Equal(counts, want) {
				t.Errorf("logical, packages, cores, llcs, nodes, threads = %v; want %v", counts, want)
			}
			if len(m.CPUs) != tt.logical {
				t.Errorf("len(CPUs) = %d; want %d", len(m.CPUs), tt.logical)
			}
			if !slices.Equal(m.Allowed, tt.allowed) {
				t.Errorf("Allowed = %v; want %v", m.Allowed, tt.allowed)
			}
			for _, want := range tt.cpus {
				if got := m.cpuByID(want.ID); !reflect.DeepEqual(got, want) {
					t.Errorf("CPU %d = %+v; want %+v", want.ID, got, want)
				}
			}
			if !reflect.DeepEqual(m.Caches, tt.caches) {
				t.Errorf("Caches = %+v; want %+v", m.Caches, tt.caches)
			}
			strs := []string{m.Kernel, m.Hostname, m.Clocksource}
			if wantStrs := []string{tt.kernel, tt.hostname, tt.clock}; !slices.Equal(strs, wantStrs) {
				t.Errorf("kernel, hostname, clocksource = %q; want %q", strs, wantStrs)
			}
			if !m.CPU.InvariantTSC {
				t.Errorf("CPU.InvariantTSC = false; want true (cpuinfo has constant_tsc and nonstop_tsc)")
			}
			if m.CPUModel != m.CPU.Brand || m.CPUModel == "" {
				t.Errorf("CPUModel = %q; want the brand %q", m.CPUModel, m.CPU.Brand)
			}
			if len(m.Fingerprint) != 16 {
				t.Errorf("Fingerprint = %q; want 16 hex digits", m.Fingerprint)
			}
		})
	}
}

// seq returns lo..hi inclusive.
func seq(lo, hi int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

// TestDetectFSOptional checks the fallbacks for files some machines lack:
// no caches makes the LLC the package, no node directory puts every CPU on
// node 0, no cpuinfo flags means no invariant TSC.
func TestDetectFSOptional(t *testing.T) {
	fsys := regularFS(serverShape)
	for name := range fsys {
		if strings.Contains(name, "/cache/") || strings.HasPrefix(name, "sys/devices/system/node/") ||
			name == "proc/cpuinfo" {
			delete(fsys, name)
		}
	}
	m, err := DetectFS(fsys, nil, serverCPU)
	if err != nil {
		t.Fatalf("DetectFS(server without caches and nodes) = %v", err)
	}
	if m.LLCs != 2 || m.Nodes != 1 || len(m.Caches) != 0 || m.CPU.InvariantTSC {
		t.Errorf("LLCs, Nodes, len(Caches), InvariantTSC = %d, %d, %d, %v; want 2, 1, 0, false",
			m.LLCs, m.Nodes, len(m.Caches), m.CPU.InvariantTSC)
	}
	if got := m.cpuByID(9); got.LLC != 1 || got.Node != 0 {
		t.Errorf("CPU 9 = %+v; want LLC 1 (its package), node 0", got)
	}
}

// TestDetectFSAllowed checks that an explicit affinity mask wins over
// proc/self/status and that offline CPUs in it are dropped.
func TestDetectFSAllowed(t *testing.T) {
	m, err := DetectFS(regularFS(serverShape), []int{8, 0, 2, 99}, serverCPU)
	if err != nil {
		t.Fatalf("DetectFS = %v", err)
	}
	if want := []int{0, 2, 8}; !slices.Equal(m.Allowed, want) {
		t.Errorf("Allowed = %v; want %v", m.Allowed, want)
	}
	if m.LogicalCPUs != 16 {
		t.Errorf("LogicalCPUs = %d; want 16 (the mask does not shrink the machine)", m.LogicalCPUs)
	}
}

func TestDetectFSErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		edit    func(fstest.MapFS)
		wantErr string
	}{
		{"no online list", func(m fstest.MapFS) { delete(m, onlineFile) }, "reading online CPUs"},
		{"empty online list", func(m fstest.MapFS) { m[onlineFile] = file("") }, "lists no CPUs"},
		{"garbled online list", func(m fstest.MapFS) { m[onlineFile] = file("0-x") }, `"x" is not a CPU number`},
		{"CPU without core_id", func(m fstest.MapFS) { delete(m, "sys/devices/system/cpu/cpu1/topology/core_id") },
			"CPU 1: reading its core"},
		{"siblings without the CPU", func(m fstest.MapFS) {
			m["sys/devices/system/cpu/cpu1/topology/thread_siblings_list"] = file("0")
		}, "does not include the CPU itself"},
		{"garbled cache level", func(m fstest.MapFS) { m["sys/devices/system/cpu/cpu0/cache/index2/level"] = file("two") },
			`"two" is not an integer`},
		{"mask outside the online CPUs", func(m fstest.MapFS) { m[statusFile] = file("Cpus_allowed_list:\t4-7") },
			"allows none of the online CPUs (0-1)"},
		{"status without the mask", func(m fstest.MapFS) { m[statusFile] = file("Name:\tx") },
			"has no Cpus_allowed_list line"},
		{"garbled node list", func(m fstest.MapFS) { m["sys/devices/system/node/node0/cpulist"] = file("z") },
			"reading NUMA node 0"},
	} {
		fsys := vmFS()
		tt.edit(fsys)
		_, err := DetectFS(fsys, nil, vmCPU)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: DetectFS = %v; want one-line error containing %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestFingerprint checks what the fingerprint depends on: model, kernel
// and topology, and not hostname or affinity mask.
func TestFingerprint(t *testing.T) {
	base := machine(t, "server").Fingerprint
	for _, tt := range []struct {
		name     string
		edit     func(fstest.MapFS)
		cpu      func(*CPUInfo)
		wantSame bool
	}{
		{name: "nothing changed", wantSame: true},
		{name: "hostname", edit: func(m fstest.MapFS) { m[hostnameFile] = file("renamed") }, wantSame: true},
		{name: "affinity mask", edit: func(m fstest.MapFS) { m[statusFile] = file("Cpus_allowed_list:\t0-3") }, wantSame: true},
		{name: "kernel", edit: func(m fstest.MapFS) { m[osreleaseFile] = file("6.9.0") }},
		{name: "stepping", cpu: func(c *CPUInfo) { c.Stepping++ }},
		{name: "a CPU offline", edit: func(m fstest.MapFS) { m[onlineFile] = file("0-14") }},
	} {
		fsys, cpu := regularFS(serverShape), serverCPU
		if tt.edit != nil {
			tt.edit(fsys)
		}
		if tt.cpu != nil {
			tt.cpu(&cpu)
		}
		m, err := DetectFS(fsys, nil, cpu)
		if err != nil {
			t.Fatalf("%s: DetectFS = %v", tt.name, err)
		}
		if same := m.Fingerprint == base; same != tt.wantSame {
			t.Errorf("%s: Fingerprint = %s vs %s; want same=%v", tt.name, m.Fingerprint, base, tt.wantSame)
		}
	}
}

// TestMachineJSON checks that a Machine survives a JSON round trip and
// uses snake_case keys.
func TestMachineJSON(t *testing.T) {
	m := machine(t, "amd")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("json.Marshal = %v", err)
	}
	var back Machine
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Unmarshal = %v", err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip = %+v; want %+v", back, m)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"fingerprint", "cpu_model", "logical_cpus", "threads_per_core", "allowed_cpus", "cpus", "caches"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON keys = %v; want %q among them", slices.Sorted(maps.Keys(keys)), k)
		}
	}
}

// TestDetect runs on the real machine: it must describe it without error,
// and its allowed CPUs must be what the Go runtime sees.
func TestDetect(t *testing.T) {
	m, err := Detect()
	if err != nil {
		t.Fatalf("Detect() = %v", err)
	}
	if len(m.Allowed) != runtime.NumCPU() {
		t.Errorf("len(Detect().Allowed) = %d; want runtime.NumCPU() = %d", len(m.Allowed), runtime.NumCPU())
	}
	if m.CPUModel == "" || m.Kernel == "" || m.Cores == 0 || m.LogicalCPUs < len(m.Allowed) {
		t.Errorf("Detect() = %+v; want a model, a kernel, cores, and at least the allowed CPUs online", m)
	}
	again, err := Detect()
	if err != nil || again.Fingerprint != m.Fingerprint {
		t.Errorf("Detect() twice: fingerprints %s, %s (%v); want equal", m.Fingerprint, again.Fingerprint, err)
	}
}
