//go:build !amd64

package clock

import "errors"

// tscSupport reports that only amd64 has a TSC this package can read.
func tscSupport() error {
	return errors.New("no time-stamp counter this package can read off amd64")
}

// rdtscp is never called off amd64: New only selects the TSC when tscSupport
// returns nil.
func rdtscp() int64 { panic("clock: TSC read on an architecture without one") }
