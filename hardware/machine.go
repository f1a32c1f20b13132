// Package hardware describes the machine a run happens on: CPU topology,
// placement of workers on CPUs, and storage targets. It imports nothing of
// lockbench.
package hardware

// Machine is the description of the machine that goes into every results
// file. Fingerprint is stable across runs on the same machine.
type Machine struct {
	Fingerprint string `json:"fingerprint"`
	Hostname    string `json:"hostname"`
	Kernel      string `json:"kernel"`
	CPUModel    string `json:"cpu_model"`
	LogicalCPUs int    `json:"logical_cpus"`
}

// Target is a storage target as detected: where backing files live and what
// is under them.
type Target struct {
	Spec       string `json:"spec"`
	Path       string `json:"path"`
	FSType     string `json:"fs_type"`
	Device     string `json:"device,omitempty"`
	DeviceKind string `json:"device_kind,omitempty"`
	Model      string `json:"model,omitempty"`
	Rotational bool   `json:"rotational"`
}
