package hardware

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParsePolicy(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    string // Policy.String() of the result
		wantErr string
	}{
		// Good policies.
		{in: "none", want: "none"},
		{in: "compact", want: "compact"},
		{in: "scatter", want: "scatter"},
		{in: "smt-pairs", want: "smt-pairs"},
		{in: "cpus=0,2,4-7", want: "cpus=0,2,4-7"},
		{in: "cpus=3,1", want: "cpus=3,1"}, // explicit order is kept
		// Bad policies: each error names what is allowed or wrong.
		{in: "", wantErr: `unknown placement ""; allowed: none, compact, scatter, smt-pairs, cpus=LIST`},
		{in: "spread", wantErr: `unknown placement "spread"; allowed: none, compact, scatter, smt-pairs, cpus=LIST (e.g. cpus=0,2,4-7)`},
		{in: "cpus=", wantErr: "placement cpus=: empty CPU list; want e.g. cpus=0,2,4-7"},
		{in: "cpus=1,x", wantErr: `"x" is not a CPU number`},
		{in: "cpus=0-2,1", wantErr: "placement cpus=0-2,1: CPU 1 is listed twice"},
	} {
		got, err := ParsePolicy(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePolicy(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParsePolicy(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// epycShape is a 2-socket part with two LLCs of two single-threaded cores
// per socket, one node per socket: the smallest machine where scatter must
// alternate at two levels (node, then LLC within the node).
var epycShape = shape{
	packages: 2, llcs: 2, cores: 2, threads: 1, nodePerPackage: true, l3: "16384K",
	id:     func(pkg, core, thread int) int { return pkg*4 + core },
	kernel: "6.1.0", hostname: "epyc", allowed: "0-7",
}

// detectShape detects a machine of shape s with the allowed CPUs given
// (nil: from the fake status file).
func detectShape(t *testing.T, s shape, allowed []int) Machine {
	t.Helper()
	m, err := DetectFS(regularFS(s), allowed, CPUInfo{Brand: "fake"})
	if err != nil {
		t.Fatalf("DetectFS = %v", err)
	}
	return m
}

func TestOrder(t *testing.T) {
	vm, server, amd := machine(t, "vm"), machine(t, "server"), machine(t, "amd")
	serverSubset := detectShape(t, serverShape, []int{0, 2, 8})
	epyc := detectShape(t, epycShape, nil)
	for _, tt := range []struct {
		name    string
		m       Machine
		policy  string
		want    []int
		wantErr string
	}{
		// none pins nothing, everywhere.
		{"vm", vm, "none", nil, ""},
		{"amd", amd, "none", nil, ""},

		// The VM has two plain cores: every order is 0,1, and there is no
		// pair to keep together.
		{"vm", vm, "compact", []int{0, 1}, ""},
		{"vm", vm, "scatter", []int{0, 1}, ""},
		{"vm", vm, "smt-pairs", nil, "placement smt-pairs: this machine has no SMT (1 thread per core)"},
		{"vm", vm, "cpus=1,0", []int{1, 0}, ""},
		{"vm", vm, "cpus=0,2", nil, "placement cpus=0,2: CPU 2 is not online (online CPUs 0-1)"},

		// The server: compact fills node 0's cores (0+8, 2+10, ...)
		// before node 1; scatter alternates sockets, first threads first;
		// smt-pairs alternates sockets with whole cores.
		{"server", server, "compact", []int{0, 8, 2, 10, 4, 12, 6, 14, 1, 9, 3, 11, 5, 13, 7, 15}, ""},
		{"server", server, "scatter", seq(0, 15), ""},
		{"server", server, "smt-pairs", []int{0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15}, ""},
		{"server", server, "cpus=15,0-1", []int{15, 0, 1}, ""},

		// The server restricted to CPUs 0, 2 and 8 (as by taskset): only
		// core 0+8 has both threads allowed.
		{"server 0,2,8", serverSubset, "compact", []int{0, 8, 2}, ""},
		{"server 0,2,8", serverSubset, "scatter", []int{0, 2, 8}, ""},
		{"server 0,2,8", serverSubset, "smt-pairs", []int{0, 8}, ""},
		{"server 0,2,8", serverSubset, "cpus=2,1", nil, "placement cpus=2,1: CPU 1 is not in the allowed set 0,2,8"},

		// The AMD part: compact fills CCX 0 (cores 0-3 with siblings
		// 16-19) first; scatter takes one core per CCX in turn.
		{"amd", amd, "compact", []int{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
			8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}, ""},
		{"amd", amd, "scatter", []int{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
			16, 20, 24, 28, 17, 21, 25, 29, 18, 22, 26, 30, 19, 23, 27, 31}, ""},
		{"amd", amd, "smt-pairs", []int{0, 16, 4, 20, 8, 24, 12, 28, 1, 17, 5, 21, 9, 25, 13, 29,
			2, 18, 6, 22, 10, 26, 14, 30, 3, 19, 7, 23, 11, 27, 15, 31}, ""},

		// Two nodes of two LLCs: scatter alternates nodes, and within a
		// node it alternates LLCs.
		{"epyc", epyc, "compact", seq(0, 7), ""},
		{"epyc", epyc, "scatter", []int{0, 4, 2, 6, 1, 5, 3, 7}, ""},
		{"epyc", epyc, "smt-pairs", nil, "no SMT"},

		// A machine description without allowed CPUs (say, an empty one
		// read from an old results file) is an error, not a panic.
		{"empty", Machine{}, "compact", nil, "placement compact: the machine description has no allowed CPUs"},
		{"empty", Machine{}, "none", nil, ""},
		{"allowed but no topology", Machine{Allowed: []int{0}}, "scatter", nil, "none of the allowed CPUs (0) is in the machine's topology"},
	} {
		p, err := ParsePolicy(tt.policy)
		if err != nil {
			t.Fatalf("ParsePolicy(%q) = %v", tt.policy, err)
		}
		got, err := tt.m.Order(p)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: Order(%s) = %v, %v; want error containing %q", tt.name, tt.policy, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
			t.Errorf("%s: Order(%s) = %v, %v; want %v", tt.name, tt.policy, got, err, tt.want)
		}
	}
}

// TestOrderIsAPermutation checks, on every fixture, that compact and
// scatter use every allowed CPU exactly once.
func TestOrderIsAPermutation(t *testing.T) {
	for _, f := range fixtures() {
		m := machine(t, f.name)
		for _, name := range []string{"compact", "scatter"} {
			got, err := m.Order(Policy{Name: name})
			if err != nil {
				t.Fatalf("%s: Order(%s) = %v", f.name, name, err)
			}
			sorted := slices.Sorted(slices.Values(got))
			if !slices.Equal(sorted, m.Allowed) {
				t.Errorf("%s: Order(%s) = %v; want a permutation of %v", f.name, name, got, m.Allowed)
			}
		}
	}
}

func TestParseRolePlacement(t *testing.T) {
	for _, s := range RolePlacementNames {
		if got, err := ParseRolePlacement(s); err != nil || string(got) != s {
			t.Errorf("ParseRolePlacement(%q) = %q, %v; want %q", s, got, err, s)
		}
	}
	const want = `unknown role placement "far"; allowed: same-core, same-llc, other-llc, other-node`
	if _, err := ParseRolePlacement("far"); err == nil || err.Error() != want {
		t.Errorf("ParseRolePlacement(far) = %v; want %q", err, want)
	}
}

func TestPlaceRole(t *testing.T) {
	vm, server, amd := machine(t, "vm"), machine(t, "server"), machine(t, "amd")
	epyc := detectShape(t, epycShape, nil)
	for _, tt := range []struct {
		name     string
		m        Machine
		rp       RolePlacement
		faulters []int
		want     int
		wantErr  string
	}{
		// The VM: one LLC, one node, no SMT; only same-llc exists.
		{"vm", vm, SameCore, []int{0}, 0, "role placement same-core: this machine has no SMT (1 thread per core)"},
		{"vm", vm, SameLLC, []int{0}, 1, ""},
		{"vm", vm, OtherLLC, []int{0}, 0, "role placement other-llc: this machine has 1 LLC"},
		{"vm", vm, OtherNode, []int{0}, 0, "role placement other-node: this machine has 1 NUMA node"},
		{"vm both taken", vm, SameLLC, []int{0, 1}, 0, "role placement same-llc: no free allowed CPU"},

		// The server: the only other LLC is on the other node.
		{"server", server, SameCore, []int{0}, 8, ""},
		{"server", server, SameLLC, []int{0}, 2, ""},
		{"server", server, OtherLLC, []int{0}, 1, ""},
		{"server", server, OtherNode, []int{0}, 1, ""},
		// Faulters on every core of node 0: no other core in that LLC,
		// but the siblings are free.
		{"server node 0 busy", server, SameLLC, []int{0, 2, 4, 6}, 0, "no free allowed CPU for it next to faulter CPU 0"},
		{"server node 0 busy", server, SameCore, []int{0, 2, 4, 6}, 8, ""},
		// Faulters on both nodes: other-node prefers a node-1 core with
		// no faulter over the faulter's sibling 9.
		{"server both nodes", server, OtherNode, []int{0, 1}, 3, ""},

		// The AMD part: other-llc is the next CCX, and with a faulter in
		// that CCX too, the one after.
		{"amd", amd, SameCore, []int{0}, 16, ""},
		{"amd", amd, SameLLC, []int{0}, 1, ""},
		{"amd", amd, OtherLLC, []int{0}, 4, ""},
		{"amd", amd, OtherNode, []int{0}, 0, "role placement other-node: this machine has 1 NUMA node"},
		{"amd scatter faulters", amd, OtherLLC, []int{0, 4}, 8, ""},
		{"amd CCX 0 full", amd, SameLLC, []int{0, 1, 2, 3}, 0, "faulters on 0-3"},

		// Two LLCs per node: other-llc stays on the reference's node.
		{"epyc", epyc, OtherLLC, []int{0}, 2, ""},
		{"epyc", epyc, OtherNode, []int{0}, 4, ""},

		// Bad input.
		{"no faulters", amd, SameLLC, nil, 0, "role placement same-llc: no faulter CPUs to place against"},
		{"offline faulter", amd, SameLLC, []int{99}, 0, "faulter CPU 99 is not online (online CPUs 0-31)"},
		{"unknown placement", amd, RolePlacement("far"), []int{0}, 0, `unknown role placement "far"`},
	} {
		got, err := tt.m.PlaceRole(tt.rp, tt.faulters)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: PlaceRole(%s, %v) = %d, %v; want error containing %q", tt.name, tt.rp, tt.faulters, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: PlaceRole(%s, %v) = %d, %v; want %d", tt.name, tt.rp, tt.faulters, got, err, tt.want)
		}
	}
}

// TestPin pins a goroutine for real and reads the affinity back.
func TestPin(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	allowed := cpusOf(&set)
	cpu := allowed[len(allowed)-1]
	type result struct {
		err error
		got []int
	}
	done := make(chan result)
	go func() {
		// This goroutine exits locked, so its pinned thread is discarded.
		err := Pin(cpu)
		var got unix.CPUSet
		if gerr := unix.SchedGetaffinity(0, &got); gerr != nil && err == nil {
			err = gerr
		}
		done <- result{err, cpusOf(&got)}
	}()
	if r := <-done; r.err != nil || !slices.Equal(r.got, []int{cpu}) {
		t.Errorf("Pin(%d) = %v, then affinity %v; want nil, [%d]", cpu, r.err, r.got, cpu)
	}

	for _, tt := range []struct {
		cpu     int
		wantErr string
	}{
		{-1, "pin to CPU -1: CPU must be between 0 and 1023"},
		{cpuSetBits, "pin to CPU 1024: CPU must be between 0 and 1023"},
		{cpuSetBits - 1, "pin to CPU 1023: invalid argument"}, // no such CPU here
	} {
		errc := make(chan error)
		go func() { errc <- Pin(tt.cpu) }()
		if err := <-errc; err == nil || err.Error() != tt.wantErr {
			t.Errorf("Pin(%d) = %v; want %q", tt.cpu, err, tt.wantErr)
		}
	}
}
