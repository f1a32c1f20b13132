package hotpath

import (
	"fmt"
	"strings"
)

// ConfigError is a Config or InodeConfig field out of range. Field is the
// Go field name ("FileSize", "Threads"): hotpath knows no command line,
// and cmd/lockbench puts its flag's name in front of Msg.
type ConfigError struct {
	Field string
	Msg   string // "must be at least 1, got 0"
}

func (e *ConfigError) Error() string { return e.Field + " " + e.Msg }

// configErrorf returns a *ConfigError of field.
func configErrorf(field, format string, args ...any) error {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// CleanupError is a failure to close the engine (unmap, remove the backing
// files) after a repetition that itself ran to its end: the repetition
// Run returns beside it is whole and may be kept.
type CleanupError struct{ Err error }

func (e *CleanupError) Error() string {
	return "cleaning up after the repetition: " + strings.Join(strings.Fields(strings.ReplaceAll(e.Err.Error(), "\n", "; ")), " ")
}
func (e *CleanupError) Unwrap() error { return e.Err }

// MaxDataWriters is how many data-writing workers (faulters and writers,
// foreground and background) the oracle and the kernel engine's integrity
// check take on pages of pageSize bytes: one 16-byte region of each page
// per worker.
func MaxDataWriters(pageSize int) int { return pageSize / 16 }

// CheckWorkers checks before measuring that scenario sc with threads
// foreground workers fits the oracle's or the kernel engine's regions
// (kernelOrOracle); the error is a ConfigError of Threads.
func CheckWorkers(sc Scenario, threads, pageSize int, kernelOrOracle bool) error {
	if !kernelOrOracle {
		return nil
	}
	dw := dataWriters(sc.workerPlan(threads))
	if most := MaxDataWriters(pageSize); dw > most {
		fit := threads
		for fit > 1 && dataWriters(sc.workerPlan(fit)) > most {
			fit--
		}
		return configErrorf("Threads", "%d gives scenario %s %d data-writing workers; the kernel engine and the oracle (-oracle, verify) check at most %d (one 16-byte region of each %d-byte page each): at most %d threads", threads, sc.Name, dw, most, pageSize, fit)
	}
	return nil
}
