package clock

import "errors"

// rdtscp returns the time-stamp counter. It executes RDTSCP, which waits for
// all earlier instructions to finish, then LFENCE, which keeps later ones from
// starting, so the read is ordered on both sides (see the package comment).
//
//go:noescape
func rdtscp() int64

// cpuid executes CPUID with the given leaf and subleaf 0. Each call is a VM
// exit under a hypervisor (microseconds): start-up only.
//
//go:noescape
func cpuid(leaf uint32) (eax, ebx, ecx, edx uint32)

// tscSupport reports why the TSC cannot be this package's clock, or nil. It
// needs RDTSCP (CPUID 0x8000_0001 EDX bit 27) and an invariant TSC, one that
// ticks at a constant rate through frequency changes and sleep states
// (CPUID 0x8000_0007 EDX bit 8); under a hypervisor the bit is set only when
// the host promises the same.
//
// Note: github.com/klauspost/cpuid/v2 (v2.4.2, in go.mod) reports RDTSCP but
// has no invariant-TSC flag, so that leaf has to be read here anyway; reading
// the RDTSCP bit with the same instruction saves importing the library (and
// its start-up detection, dozens of CPUIDs) for one bit. /proc/cpuinfo's
// constant_tsc and nonstop_tsc are the kernel's copy of the same bit.
func tscSupport() error {
	maxExt, _, _, _ := cpuid(0x8000_0000)
	if maxExt < 0x8000_0007 {
		return errors.New("CPU reports no invariant-TSC leaf (CPUID 0x80000007)")
	}
	if _, _, _, edx := cpuid(0x8000_0001); edx&(1<<27) == 0 {
		return errors.New("CPU has no RDTSCP")
	}
	if _, _, _, edx := cpuid(0x8000_0007); edx&(1<<8) == 0 {
		return errors.New("TSC is not invariant (CPUID 0x80000007 EDX bit 8 clear)")
	}
	return nil
}
