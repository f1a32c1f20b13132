//go:build race

package calibrate

// raceEnabled: the race detector slows the fake filesystem's own code (its
// locks and atomics), which the measurement then counts as phase time.
const raceEnabled = true
