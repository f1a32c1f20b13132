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
