// Package desc holds the descriptions of a machine and of a storage target
// that every results file records: plain data with JSON tags, on the standard
// library only, with no syscalls, so that results and reports (and a
// report-only build of lockbench) compile on every GOOS. Package hardware
// detects the real values on Linux and fills these types; hardware.Machine
// and hardware.Target are aliases of them.
package desc

import (
	"strconv"
	"strings"
)

// Machine is the description of the machine that goes into every results
// file. Fingerprint is stable across runs on the same machine: it hashes the
// CPU model, the topology and the kernel, and nothing that changes from run
// to run (no hostname, no timestamps, no affinity mask).
//
// The topology fields describe online CPUs only; offline CPUs have no
// topology in sysfs. Allowed is the subset this process may run on, which is
// what placement chooses from.
type Machine struct {
	Fingerprint string `json:"fingerprint"`
	Hostname    string `json:"hostname"`
	Kernel      string `json:"kernel"`
	CPUModel    string `json:"cpu_model"`
	LogicalCPUs int    `json:"logical_cpus"`

	// CPU is what CPUID said at start-up, plus the invariant TSC flag from
	// the kernel.
	CPU CPUInfo `json:"cpu"`
	// Clocksource is the kernel's current clocksource ("tsc", "kvm-clock",
	// "hpet"), which decides how cheap and how trustworthy time.Now is.
	Clocksource string `json:"clocksource,omitempty"`

	// Packages, Cores, LLCs and Nodes count the distinct sockets, physical
	// cores, last-level cache domains and NUMA nodes that have online CPUs.
	Packages int `json:"packages"`
	Cores    int `json:"cores"`
	LLCs     int `json:"llcs"`
	Nodes    int `json:"nodes"`
	// ThreadsPerCore is the largest number of SMT siblings of any core: 1
	// means no SMT.
	ThreadsPerCore int `json:"threads_per_core"`

	// Caches summarises the cache hierarchy from sysfs, one entry per level
	// and type, ordered by level then type.
	Caches []Cache `json:"caches"`
	// CPUs lists every online logical CPU in ID order.
	CPUs []CPU `json:"cpus"`
	// Allowed lists, in ascending order, the online CPUs this process's
	// affinity mask allows.
	Allowed []int `json:"allowed_cpus"`
}

// CPU is one online logical CPU and where it sits in the topology. Core and
// LLC are machine-wide indices numbered from 0 in order of each group's
// lowest CPU ID, as lscpu numbers its CORE column; Package and Node are the
// kernel's own IDs.
type CPU struct {
	ID      int `json:"id"`
	Core    int `json:"core"`
	Package int `json:"package"`
	LLC     int `json:"llc"`
	Node    int `json:"node"`
	// Siblings lists the online CPUs of the same physical core, including ID
	// itself, in ascending order (the kernel's thread_siblings_list).
	Siblings []int `json:"siblings"`
}

// Cache summarises one level and type of cache across the machine.
type Cache struct {
	Level int `json:"level"`
	// Type is "data", "instruction" or "unified".
	Type string `json:"type"`
	// Size is the size of one instance in bytes.
	Size     int64 `json:"size_bytes"`
	LineSize int   `json:"line_size"`
	// Instances is how many separate caches of this kind exist, and
	// CPUsPerInstance how many logical CPUs share each one (the largest
	// such group, should they differ).
	Instances       int `json:"instances"`
	CPUsPerInstance int `json:"cpus_per_instance"`
}

// CPUInfo is what the processor reports about itself through CPUID. Cache
// sizes are per instance, in bytes, and 0 when CPUID does not say.
type CPUInfo struct {
	Vendor   string `json:"vendor"`
	Brand    string `json:"brand"`
	Family   int    `json:"family"`
	Model    int    `json:"model"`
	Stepping int    `json:"stepping"`
	// Hypervisor is the hypervisor's vendor string ("KVMKVMKVM") when the
	// CPU reports running under one, and empty on bare metal.
	Hypervisor string `json:"hypervisor,omitempty"`
	VM         bool   `json:"vm"`
	L1D        int    `json:"l1d_bytes"`
	L1I        int    `json:"l1i_bytes"`
	L2         int    `json:"l2_bytes"`
	L3         int    `json:"l3_bytes"`
	CacheLine  int    `json:"cache_line"`
	// InvariantTSC reports a TSC that ticks at a constant rate in every
	// P-state and C-state. CPUID leaf 0x80000007 holds it but cpuid/v2 does
	// not expose it, so DetectFS takes it from the kernel's constant_tsc and
	// nonstop_tsc flags in /proc/cpuinfo, which the kernel derives from that
	// leaf.
	InvariantTSC bool `json:"invariant_tsc"`
	// Features lists the few instruction-set features that matter to
	// lockbench, in /proc/cpuinfo spelling ("avx2", "rdtscp", "hybrid").
	Features []string `json:"features"`
}

// Target is a storage target as detected: where backing files live and what
// is under them. Target holds only comparable fields (no slices) so that
// records embedding it stay comparable.
type Target struct {
	Spec       string `json:"spec"`
	Path       string `json:"path"`
	FSType     string `json:"fs_type"`
	Device     string `json:"device,omitempty"`
	DeviceKind string `json:"device_kind,omitempty"`
	Model      string `json:"model,omitempty"`
	Rotational bool   `json:"rotational"`

	// MountPoint is the mount the path lives on, from /proc/self/mounts.
	MountPoint string `json:"mount_point,omitempty"`
	// Underlying names the disks under a stacked device (device-mapper, md),
	// comma-separated ("nvme0n1"), and is empty otherwise.
	Underlying string `json:"underlying,omitempty"`
	// BackingFile is the image file behind a loop device.
	BackingFile string `json:"backing_file,omitempty"`
	// Compression is a zram device's compressor ("lz4").
	Compression string `json:"compression,omitempty"`
	// FreeBytes and SizeBytes are the filesystem's space available to this
	// user and its total size when the target was prepared.
	FreeBytes uint64 `json:"free_bytes"`
	SizeBytes uint64 `json:"size_bytes"`
	// Fallocate and PunchHole report whether fallocate(2), plain and with
	// FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, worked on a probe file.
	Fallocate bool `json:"fallocate"`
	PunchHole bool `json:"punch_hole"`
}

// FormatBytes writes n in binary units with at most one decimal: "64 MiB",
// "23.5 GiB".
func FormatBytes(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[i:i+1] + "iB"
}
