package hotpath

import "fmt"

// FaultError is a memory fault on the model's shared mapping taken by one
// worker of a run (or by the oracle's end-of-run scan): the filesystem
// under the target could not back a page (full, shut down, or the file
// truncated behind lockbench's back). Unprotected, the Go runtime dies of
// it ("fatal error: fault"), leaving the backing files and any loop mount
// behind; under Protect it is the run's error and cleanup runs.
type FaultError struct {
	Who string // "worker 3 (faulter)", "oracle"
	*MemFault
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("memory fault on the shared mapping in %s at %#x (the target could not back a page: full, read-only or the file shrank): %v", e.Who, e.Addr, e.Err)
}

func (e *FaultError) Unwrap() error { return e.MemFault }

// protected runs fn under Protect and returns a fault as a *FaultError of
// who, fn's error otherwise.
func protected(who string, fn func() error) error {
	fault, err := Protect(fn)
	if fault != nil {
		return &FaultError{Who: who, MemFault: fault}
	}
	return err
}
