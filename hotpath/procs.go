package hotpath

import (
	"os"
	"runtime"
	"sync"
)

// harnessProcs is the Ps a run's own goroutines need besides one per
// worker: the coordinating goroutine (its timer and watchdog) and the
// runtime's work that needs a P (the GC's background marking).
const harnessProcs = 1

// RunProcs is the GOMAXPROCS a run of the given number of workers (every
// role, foreground and background) runs under: one P per worker plus the
// harness's, never fewer than the process had, unless the user set
// GOMAXPROCS in the environment, which is kept.
//
// Why: the engines' workers stand for kernel threads, which the OS
// schedules. With fewer Ps than workers, the workers that never block in
// Go's sense (faulters: a page fault is not a system call) hold every P,
// and a worker back from a blocking system call (fsync, fallocate, read)
// waits for one until the Go scheduler preempts a faulter (up to 10ms):
// latency of Go's scheduler, not of the kernel or the model's locks.
func RunProcs(workers int) int {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	return procs.need(workers)
}

// need is RunProcs for s; s.mu is held.
func (s *procSetting) need(workers int) int {
	base := runtime.GOMAXPROCS(0)
	if len(s.needs) > 0 {
		base = s.prev // a run in flight raised it
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return base
	}
	return max(base, workers+harnessProcs)
}

// procs raises GOMAXPROCS for the runs in flight and restores the
// process's own when the last one ends; runs may overlap (tests in
// parallel, the study's goroutines), so each holds a need and the setting
// is the largest need in flight.
var procs procSetting

type procSetting struct {
	mu    sync.Mutex
	needs []int // one per run in flight
	prev  int   // GOMAXPROCS before the first of them
}

// acquire makes GOMAXPROCS at least RunProcs(workers) until the returned
// release is called, and returns the setting in force.
func (s *procSetting) acquire(workers int) (got int, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	need := s.need(workers)
	if len(s.needs) == 0 {
		s.prev = runtime.GOMAXPROCS(0)
	}
	s.needs = append(s.needs, need)
	s.apply()
	got = runtime.GOMAXPROCS(0)
	var once sync.Once
	return got, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			for i, n := range s.needs {
				if n == need {
					s.needs = append(s.needs[:i], s.needs[i+1:]...)
					break
				}
			}
			s.apply()
		})
	}
}

// apply sets GOMAXPROCS to the largest need in flight, or back to the
// process's own when none is.
func (s *procSetting) apply() {
	want := s.prev
	for _, n := range s.needs {
		want = max(want, n)
	}
	if runtime.GOMAXPROCS(0) != want {
		runtime.GOMAXPROCS(want)
	}
}
