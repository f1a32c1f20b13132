// Package hardware describes the machine a run happens on: CPU topology,
// placement of workers on CPUs, and storage targets. It imports nothing of
// lockbench.
//
// The package is Linux-only, like the rest of lockbench: topology comes from
// sysfs and procfs, pinning from sched_setaffinity, and the storage probes
// from statfs and fallocate.
//
// Everything that reads sysfs or procfs does so through an fs.FS rooted at
// "/", so tests run on fake machine trees built with testing/fstest.MapFS.
// Only the syscalls that have no file form (CPUID, sched_getaffinity,
// statfs, stat, fallocate, mount) touch the real machine.
//
// Note: github.com/jaypipes/ghw was considered and rejected. It reports
// nodes, cores and caches, but not the LLC groups placement needs in the
// shape needed here, it cannot map a directory to its block device, and its
// test story is snapshot tarballs rather than an fs.FS. Reading the few sysfs
// files ourselves is shorter than adapting it.
package hardware

import "lockbench/hardware/desc"

// Machine is the machine as detected, with the placement methods (Order,
// PlaceRole) that need its topology. What a results file records is its
// plain data, desc.Machine: the same struct, converted with desc.Machine(m)
// and Machine(d).
type Machine desc.Machine

// The parts of the descriptions are plain data in package hardware/desc,
// which builds on every GOOS; this package detects their values on Linux.
// The aliases keep the names hardware's callers use.
type (
	CPU     = desc.CPU
	Cache   = desc.Cache
	CPUInfo = desc.CPUInfo
	Target  = desc.Target
)

// FormatBytes writes n in binary units with at most one decimal: "64 MiB",
// "23.5 GiB" (desc.FormatBytes).
func FormatBytes(n uint64) string { return desc.FormatBytes(n) }

// Desc returns the plain description of m that a results file records.
func (m Machine) Desc() desc.Machine { return desc.Machine(m) }
