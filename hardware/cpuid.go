package hardware

import (
	"sync"

	"github.com/klauspost/cpuid/v2"
)

// cpuFeatures is the short list of CPUID features lockbench reports, in
// /proc/cpuinfo spelling. They are the ones that change how the hot path or
// its timing behaves: rdtscp for timestamps, erms/fsrm for page copies,
// hybrid for P/E cores, avx for what memclr uses. Running under a
// hypervisor is CPUInfo.VM.
var cpuFeatures = []struct {
	name string
	id   cpuid.FeatureID
}{
	{"sse4_2", cpuid.SSE42},
	{"avx2", cpuid.AVX2},
	{"avx512f", cpuid.AVX512F},
	{"erms", cpuid.ERMS},
	{"fsrm", cpuid.FSRM},
	{"rdtscp", cpuid.RDTSCP},
	{"waitpkg", cpuid.WAITPKG},
	{"hybrid", cpuid.HYBRID_CPU},
}

// cpuidInfo runs once: cpuid/v2 executes CPUID in its init, and this only
// copies the answer, so CPUID never runs again after start-up.
var cpuidInfo = sync.OnceValue(func() CPUInfo {
	c := cpuid.CPU
	info := CPUInfo{
		Vendor:     c.VendorString,
		Brand:      c.BrandName,
		Family:     c.Family,
		Model:      c.Model,
		Stepping:   c.Stepping,
		Hypervisor: c.HypervisorVendorString,
		VM:         c.VM(),
		L1D:        max(c.Cache.L1D, 0),
		L1I:        max(c.Cache.L1I, 0),
		L2:         max(c.Cache.L2, 0),
		L3:         max(c.Cache.L3, 0),
		CacheLine:  c.CacheLine,
		Features:   []string{},
	}
	for _, f := range cpuFeatures {
		if c.Supports(f.id) {
			info.Features = append(info.Features, f.name)
		}
	}
	return info
})

// CPUIDInfo returns what the processor reported through CPUID when the
// program started. InvariantTSC is left false; DetectFS fills it in from the
// kernel. The Features slice is a fresh copy on every call.
func CPUIDInfo() CPUInfo {
	info := cpuidInfo()
	info.Features = append([]string{}, info.Features...)
	return info
}
