package hardware

import (
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
)

// This file builds the fake machines the tests run on: MapFS trees holding
// the sysfs and procfs files DetectFS and blockDevice read.

// file is a MapFS regular file holding s.
func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s + "\n")} }

// link is a MapFS symbolic link to target.
func link(target string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
}

// dir is an empty MapFS directory.
func dir() *fstest.MapFile { return &fstest.MapFile{Mode: fs.ModeDir | 0o755} }

// vmFS mimics this project's 2-vCPU KVM guest as its /sys and /proc read
// on the real machine: two cores without SMT, private L1 and L2, one shared
// L3, one package, one node, and the topology files that do not matter
// (cluster_id 65535, die_id) present as they are there.
func vmFS() fstest.MapFS {
	m := fstest.MapFS{
		"sys/devices/system/cpu/online":                                   file("0-1"),
		"sys/devices/system/node/node0/cpulist":                           file("0-1"),
		"sys/devices/system/node/online":                                  file("0"),
		"sys/devices/system/clocksource/clocksource0/current_clocksource": file("tsc"),
		"proc/self/status":                                                file("Name:\tcat\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0"),
		"proc/sys/kernel/osrelease":                                       file("6.18.44-fc-v595"),
		"proc/sys/kernel/hostname":                                        file("vm"),
		"proc/cpuinfo": file("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n" +
			"flags\t\t: fpu tsc rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid tsc_known_freq\n"),
	}
	for cpu := range 2 {
		d := fmt.Sprintf("sys/devices/system/cpu/cpu%d/", cpu)
		id := fmt.Sprint(cpu)
		for name, v := range map[string]string{
			"topology/core_id":                 id,
			"topology/physical_package_id":     "0",
			"topology/die_id":                  "0",
			"topology/cluster_id":              "65535",
			"topology/thread_siblings_list":    id,
			"topology/core_cpus_list":          id,
			"topology/core_siblings_list":      "0-1",
			"topology/package_cpus_list":       "0-1",
			"cache/index0/level":               "1",
			"cache/index0/type":                "Data",
			"cache/index0/size":                "32K",
			"cache/index0/shared_cpu_list":     id,
			"cache/index0/coherency_line_size": "64",
			"cache/index1/level":               "1",
			"cache/index1/type":                "Instruction",
			"cache/index1/size":                "32K",
			"cache/index1/shared_cpu_list":     id,
			"cache/index1/coherency_line_size": "64",
			"cache/index2/level":               "2",
			"cache/index2/type":                "Unified",
			"cache/index2/size":                "1024K",
			"cache/index2/shared_cpu_list":     id,
			"cache/index2/coherency_line_size": "64",
			"cache/index3/level":               "3",
			"cache/index3/type":                "Unified",
			"cache/index3/size":                "32768K",
			"cache/index3/shared_cpu_list":     "0-1",
			"cache/index3/coherency_line_size": "64",
		} {
			m[d+name] = file(v)
		}
	}
	return m
}

// vmCPU is the CPUID answer of the VM.
var vmCPU = CPUInfo{
	Vendor: "AuthenticAMD", Brand: "AMD EPYC", Family: 25, Model: 17, Stepping: 1,
	Hypervisor: "KVMKVMKVM", VM: true, L1D: 32 << 10, L1I: 32 << 10, L2: 1 << 20, L3: 32 << 20,
	CacheLine: 64, Features: []string{"sse4_2", "avx2", "erms", "fsrm", "rdtscp"},
}

// shape describes a regular machine for regularFS: packages of LLCs of
// cores of threads. id numbers the logical CPUs as a given vendor's
// firmware does; core is the core's index within its package.
type shape struct {
	packages, llcs, cores, threads int
	nodePerPackage                 bool
	l3                             string
	id                             func(pkg, core, thread int) int
	kernel, hostname, allowed      string
}

// regularFS builds the sysfs and procfs of a machine of the given shape.
// The kernel's core_id is sparse (llc*8 + core within the LLC), as on AMD
// parts, so tests see that Core indices do not depend on it.
func regularFS(s shape) fstest.MapFS {
	n := s.packages * s.llcs * s.cores * s.threads
	m := fstest.MapFS{
		"sys/devices/system/cpu/online": file(fmt.Sprintf("0-%d", n-1)),
		"proc/self/status":              file("Cpus_allowed_list:\t" + s.allowed),
		"proc/sys/kernel/osrelease":     file(s.kernel),
		"proc/sys/kernel/hostname":      file(s.hostname),
		"proc/cpuinfo":                  file("flags\t\t: fpu tsc constant_tsc nonstop_tsc"),
		"sys/devices/system/clocksource/clocksource0/current_clocksource": file("tsc"),
	}
	nodeCPUs := map[int][]int{}
	for pkg := range s.packages {
		for llc := range s.llcs {
			var llcCPUs []int
			for c := range s.cores {
				for t := range s.threads {
					llcCPUs = append(llcCPUs, s.id(pkg, llc*s.cores+c, t))
				}
			}
			for c := range s.cores {
				core := llc*s.cores + c
				var sib []int
				for t := range s.threads {
					sib = append(sib, s.id(pkg, core, t))
				}
				for _, id := range sib {
					d := fmt.Sprintf("sys/devices/system/cpu/cpu%d/", id)
					m[d+"topology/core_id"] = file(fmt.Sprint(llc*8 + c))
					m[d+"topology/physical_package_id"] = file(fmt.Sprint(pkg))
					m[d+"topology/thread_siblings_list"] = file(listOf(sib))
					for i, ch := range []struct{ level, typ, size, shared string }{
						{"1", "Data", "32K", listOf(sib)},
						{"1", "Instruction", "32K", listOf(sib)},
						{"2", "Unified", "512K", listOf(sib)},
						{"3", "Unified", s.l3, listOf(llcCPUs)},
					} {
						ci := fmt.Sprintf("%scache/index%d/", d, i)
						m[ci+"level"] = file(ch.level)
						m[ci+"type"] = file(ch.typ)
						m[ci+"size"] = file(ch.size)
						m[ci+"shared_cpu_list"] = file(ch.shared)
						m[ci+"coherency_line_size"] = file("64")
					}
					node := 0
					if s.nodePerPackage {
						node = pkg
					}
					nodeCPUs[node] = append(nodeCPUs[node], id)
				}
			}
		}
	}
	for node, cpus := range nodeCPUs {
		m[fmt.Sprintf("sys/devices/system/node/node%d/cpulist", node)] = file(listOf(cpus))
	}
	return m
}

// listOf writes ids, sorted, in the kernel's list format.
func listOf(ids []int) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return formatList(s)
}

// serverShape is a 2-socket Intel-style server: 2 packages of 4 cores with
// 2 threads, one L3 and one NUMA node per package, CPUs numbered
// alternately across sockets (even IDs on package 0) and second threads
// after all first threads, as many dual-socket BIOSes do.
var serverShape = shape{
	packages: 2, llcs: 1, cores: 4, threads: 2, nodePerPackage: true, l3: "30720K",
	id:     func(pkg, core, thread int) int { return thread*8 + core*2 + pkg },
	kernel: "6.8.0-server", hostname: "server", allowed: "0-15",
}

// serverCPU is the CPUID answer of the server.
var serverCPU = CPUInfo{
	Vendor: "GenuineIntel", Brand: "Intel(R) Xeon(R) Gold 6134 CPU @ 3.20GHz", Family: 6, Model: 85,
	Stepping: 4, L1D: 32 << 10, L1I: 32 << 10, L2: 1 << 20, L3: 25344 << 10, CacheLine: 64,
	Features: []string{"sse4_2", "avx2", "avx512f", "erms", "rdtscp"},
}

// amdShape is a 16-core, 32-thread AMD part with four CCXs of four cores,
// each CCX its own L3, all on one node; Linux numbers the first threads
// 0-15 and their siblings 16-31.
var amdShape = shape{
	packages: 1, llcs: 4, cores: 4, threads: 2, l3: "16384K",
	id:     func(pkg, core, thread int) int { return thread*16 + core },
	kernel: "6.1.0-amd", hostname: "threadripper", allowed: "0-31",
}

// amdCPU is the CPUID answer of the AMD part.
var amdCPU = CPUInfo{
	Vendor: "AuthenticAMD", Brand: "AMD Ryzen 9 3950X 16-Core Processor", Family: 23, Model: 113,
	Stepping: 0, L1D: 32 << 10, L1I: 32 << 10, L2: 512 << 10, L3: 16 << 20, CacheLine: 64,
	Features: []string{"sse4_2", "avx2", "rdtscp"},
}

// fixture is a fake machine and its CPUID answer.
type fixture struct {
	name string
	fsys fstest.MapFS
	cpu  CPUInfo
}

// fixtures are the three fake machines, by name.
func fixtures() []fixture {
	return []fixture{
		{"vm", vmFS(), vmCPU},
		{"server", regularFS(serverShape), serverCPU},
		{"amd", regularFS(amdShape), amdCPU},
	}
}

// machine detects the named fixture, failing the test on error.
func machine(t *testing.T, name string) Machine {
	t.Helper()
	for _, f := range fixtures() {
		if f.name == name {
			m, err := DetectFS(f.fsys, nil, f.cpu)
			if err != nil {
				t.Fatalf("DetectFS(%s) = %v", name, err)
			}
			return m
		}
	}
	t.Fatalf("no fixture %q", name)
	return Machine{}
}
