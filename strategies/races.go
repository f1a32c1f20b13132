package strategies

import (
	"fmt"
	"strings"
)

// Race names one of the five races the study is about (docs/MODEL.md,
// "Races"). The zero value NoRace marks a cost scenario.
type Race uint8

const (
	// NoRace is a scenario that reproduces no race.
	NoRace Race = iota
	// R1 is a failed write() racing a write fault (XFS, fstests 344/346).
	R1
	// R2 is page instantiation racing a hole punch.
	R2
	// R3 is write() trusting a stale cached mapping (iomap).
	R3
	// R4 is inline-data conversion in page_mkwrite (ext4).
	R4
	// R5 is an mmap write racing fsync's logging (btrfs).
	R5
	// NumRaces bounds the races, NoRace included.
	NumRaces
)

// String returns "R1".."R5", and "" for NoRace (as results files record it).
func (r Race) String() string {
	switch {
	case r == NoRace:
		return ""
	case r < NumRaces:
		return fmt.Sprintf("R%d", uint8(r))
	}
	return fmt.Sprintf("Race(%d)", uint8(r))
}

// Races lists R1..R5 in order.
func Races() []Race { return []Race{R1, R2, R3, R4, R5} }

// Expectation is what a strategy's mechanism is expected to do about a race.
type Expectation uint8

const (
	// NoExpectation is the zero value: no race, nothing expected.
	NoExpectation Expectation = iota
	// Safe (S) means the strategy must show 0 violations.
	Safe
	// Violated (V) means the race is expected to get through: the unsafe
	// baseline must reproduce it, other strategies report it as measured.
	Violated
)

func (e Expectation) String() string {
	switch e {
	case NoExpectation:
		return "-"
	case Safe:
		return "S"
	case Violated:
		return "V"
	}
	return fmt.Sprintf("Expectation(%d)", uint8(e))
}

// Expectations holds one strategy's expectation per race, indexed by Race.
type Expectations [NumRaces]Expectation

// ExpectationTable renders, as a Markdown table, every strategy's
// expectation per race. docs/DESIGN.md embeds it; a test keeps them equal.
func ExpectationTable() string {
	var b strings.Builder
	b.WriteString("| strategy |")
	for _, r := range Races() {
		fmt.Fprintf(&b, " %s |", r)
	}
	b.WriteString("\n|---|")
	for range Races() {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range All {
		fmt.Fprintf(&b, "| %s |", s.Name)
		for _, r := range Races() {
			fmt.Fprintf(&b, " %s |", s.Expect[r])
		}
		b.WriteString("\n")
	}
	return b.String()
}
