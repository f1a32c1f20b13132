package hotpath

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// delayPoint names a place in the hot path where delay injection can widen
// a race window: the user-space counterpart of XFS's write_delay_ms error tag.
type delayPoint uint8

const (
	dWriteAfterMap delayPoint = iota // write(): between mapping and the page locks (R3)
	dWriteCopy                       // write(): before copying each page (R1)
	dCleanup                         // write(): before the failed write's cleanup (R1)
	dFaultFill                       // read fault: between extent lookup and read (R2)
	dFaultAround                     // naive fault-around: between look and map (R2)
	dPunchDropFree                   // punch: between page-cache drop and extent free (R2)
	dWritebackIO                     // writeback: between I/O and completion (R3)
	dInlineWrite                     // write(): between write_begin and write_end (R4)
	dInlineConvert                   // write fault: before inline conversion (R4)
	dFsyncLeaf                       // fsync: between log leaves (R5)
	numDelayPoints
)

var delayNames = [numDelayPoints]string{
	"write-after-map", "write-copy", "cleanup", "fault-fill", "fault-around",
	"punch-drop-free", "writeback-io", "inline-write", "inline-convert", "fsync-leaf",
}

// DelayPointNames lists the delay points by name.
func DelayPointNames() []string { return delayNames[:] }

// DelayConfig turns delay injection on: Each of Points waits For.
type DelayConfig struct {
	For    time.Duration
	Points []string
}

// String renders the config as it is reported with results.
func (c DelayConfig) String() string {
	return fmt.Sprintf("%v at %s", c.For, strings.Join(c.Points, ","))
}

type delays struct {
	on [numDelayPoints]time.Duration
}

func parseDelayPoint(s string) (delayPoint, error) {
	for i, n := range delayNames {
		if n == s {
			return delayPoint(i), nil
		}
	}
	return 0, fmt.Errorf("unknown delay point %q (allowed: %s)", s, strings.Join(DelayPointNames(), ", "))
}

// Validate checks the points' names and the duration.
func (c DelayConfig) Validate() error {
	if c.For <= 0 || c.For > time.Second {
		return fmt.Errorf("delay must be in (0, 1s], got %v", c.For)
	}
	for _, p := range c.Points {
		if _, err := parseDelayPoint(p); err != nil {
			return err
		}
	}
	return nil
}

// newDelays turns on the points of c, which Open has validated: an unknown
// name never reaches here to be ignored.
func newDelays(c DelayConfig) *delays {
	d := &delays{}
	for _, p := range c.Points {
		i, _ := parseDelayPoint(p)
		d.on[i] = c.For
	}
	return d
}

// at waits at point p when delay injection is on there. It yields rather
// than sleeps: the window must stay open on a 2-core machine without
// handing the core to the timer wheel.
func (d *delays) at(p delayPoint) {
	if d == nil || d.on[p] == 0 {
		return
	}
	end := time.Now().Add(d.on[p])
	for time.Now().Before(end) {
		runtime.Gosched()
	}
}

func yield() { runtime.Gosched() }
