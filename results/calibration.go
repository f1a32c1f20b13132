package results

import (
	"fmt"
	"time"
)

// Calibration is what `-calibrate` measured on the real filesystem of one
// target: each phase's cost as a distribution of real system calls, and the
// fingerprint of the machine, kernel and filesystem it was measured on. A
// calibrated model cell spends draws from these distributions inside the
// locks the kernel holds for them (docs/MODEL.md, "Calibrated phases").
type Calibration struct {
	// Target is the target's spec ("loop:btrfs", "tmp") and FS its
	// filesystem type ("btrfs", "tmpfs").
	Target string `json:"target"`
	FS     string `json:"fs"`
	// Fingerprint is the machine's fingerprint, Kernel its release: a file
	// measured elsewhere is refused unless forced.
	Fingerprint string    `json:"fingerprint"`
	Kernel      string    `json:"kernel"`
	Created     time.Time `json:"created"`
	Seed        uint64    `json:"seed"`
	// ExclusiveFrom says how fsync's exclusive span was measured: "ktrace"
	// (the kernel's lock:contention tracepoints), "timing" (system call
	// timing alone) or "" when the filesystem has none.
	ExclusiveFrom string `json:"exclusive_from,omitempty"`
	// Notes are the phases that do not exist on this filesystem, and why.
	Notes  []string    `json:"notes,omitempty"`
	Phases []PhaseDist `json:"phases"`
}

// PhaseDist is one phase's measured distribution. Samples are kept (at most
// a few hundred per phase) so that a reused calibration draws from exactly
// what was measured; Latency summarises them.
type PhaseDist struct {
	Phase string `json:"phase"`
	// Absent is set when the phase does not exist on the filesystem
	// (tmpfs has no writeback and no log); Samples is then empty.
	Absent  bool    `json:"absent,omitempty"`
	Latency Latency `json:"latency"`
	// Samples are the measured durations in nanoseconds, in measured order.
	Samples []int64 `json:"samples_ns,omitempty"`
}

// Phase returns the distribution of the phase called name, or nil.
func (c *Calibration) Phase(name string) *PhaseDist {
	for i := range c.Phases {
		if c.Phases[i].Phase == name {
			return &c.Phases[i]
		}
	}
	return nil
}

// Mismatch names how c differs from the machine (fingerprint, kernel) and
// filesystem it would be used on, or returns "" when it matches.
func (c *Calibration) Mismatch(fingerprint, kernel, fs string) string {
	switch {
	case c.Fingerprint != fingerprint:
		return fmt.Sprintf("machine fingerprint %s, this machine's is %s", c.Fingerprint, fingerprint)
	case c.Kernel != kernel:
		return fmt.Sprintf("kernel %s, this machine runs %s", c.Kernel, kernel)
	case c.FS != fs:
		return fmt.Sprintf("filesystem %s, the target's is %s", c.FS, fs)
	}
	return ""
}
