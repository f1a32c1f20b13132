package strategies

import (
	"fmt"
	"strings"
)

// Info describes one strategy: its command-line name, its description for
// `lockbench list` and the flag help, what its mechanism is expected to
// prevent (the verify matrix's expectations), and how to build it.
type Info struct {
	Name        string
	Description string
	// Expect is docs/MODEL.md's "what each strategy is expected to
	// prevent", per race: S cells must show 0 violations in verify.
	Expect Expectations
	// TakesOptions says the strategy reads Options; the others ignore
	// them, and results record no options for them.
	TakesOptions bool
	build        func(Options) Strategy
}

// S and V shorten the expectation rows of All.
const (
	S = Safe
	V = Violated
)

// All lists every strategy, in the order reports show them. It is the one
// registry that feeds New, the flag help, the unknown-name error, the verify
// expectations and the conformance tests: a new strategy is its own file
// plus one row here.
var All = []Info{
	{
		Name: "none", Description: "unsafe baseline: the base protocol with every seed's fix removed",
		Expect: Expectations{R1: V, R2: V, R3: V, R4: V, R5: V},
		build:  func(Options) Strategy { return None{} },
	},
	{
		Name: "rangelock", Description: "full-range extent lock (btrfs io-tree style): ER is the serialisation; page fills take ER(S), fsync logs under ER over the whole file",
		Expect: Expectations{R1: S, R2: S, R3: S, R4: S, R5: S},
		build:  func(Options) Strategy { return RangeLock{} },
	},
	{
		Name: "rwsem", Description: "mmap rwsems (invalidate_lock IL and btrfs i_mmap_lock MK): fills IL(S), page_mkwrite IL(S)+MK(S); punch, truncate, failed-write cleanup IL(X); fsync MK(X)",
		Expect: Expectations{R1: S, R2: S, R3: V, R4: V, R5: S},
		build:  func(Options) Strategy { return RWSem{} },
	},
	{
		Name: "seqcount", Description: "validity sequence counters (iomap ->iomap_valid): rwsem plus a per-page revalidation of write()'s cached mapping",
		Expect: Expectations{R1: S, R2: S, R3: S, R4: V, R5: S},
		build:  func(Options) Strategy { return SeqCount{} },
	},
	{
		Name: "faultretry", Description: "VM_FAULT_RETRY: write faults that need IO-level work drop MM, take IO(X), and retry",
		Expect:       Expectations{R1: S, R2: S, R3: V, R4: S, R5: S},
		TakesOptions: true, build: newFaultRetry,
	},
}

// Names returns the strategy names in table order.
func Names() []string {
	n := make([]string, len(All))
	for i, s := range All {
		n[i] = s.Name
	}
	return n
}

// Lookup returns the registry row of the strategy called name.
func Lookup(name string) (Info, error) {
	for _, s := range All {
		if s.Name == name {
			return s, nil
		}
	}
	if s, ok := lookupScheme(name); ok {
		return s, nil
	}
	return Info{}, fmt.Errorf("unknown strategy %q (allowed: %s)", name, strings.Join(append(Names(), SchemeNames()...), ", "))
}

// Baseline returns the name of the unsafe baseline: the strategy every race
// is expected to get through (every expectation V). verify requires its
// cells to be violated, which proves the oracle can fail.
func Baseline() string {
	for _, s := range All {
		base := true
		for _, r := range Races() {
			base = base && s.Expect[r] == Violated
		}
		if base {
			return s.Name
		}
	}
	return ""
}

// OptionsString is o as the results record it for this strategy: o.String()
// when the strategy takes options, else "".
func (i Info) OptionsString(o Options) string {
	if !i.TakesOptions {
		return ""
	}
	return o.String()
}

// Options are the strategy settings given on the command line. Only
// faultretry reads them today.
type Options struct {
	// GUPShare is faultretry's share of faults from get_user_pages callers
	// that cannot retry, in [0,1].
	GUPShare float64
	// Fallback is faultretry's answer for those faults: "sigbus" or
	// "convert-unlocked". Empty means sigbus.
	Fallback string
	// RetryOnContended makes faultretry also retry faults that find IL contended.
	RetryOnContended bool
}

// String renders o as comma-separated key=value pairs whose keys are the
// command-line flags' names ("gup-share=0.5,fallback=sigbus,retry-contended=false"),
// so "-" before each pair is a command line that sets o again.
func (o Options) String() string {
	return fmt.Sprintf("gup-share=%v,fallback=%s,retry-contended=%v", o.GUPShare, o.Fallback, o.RetryOnContended)
}

// OptionError is an Options field out of range. Option is the Go field
// name ("GUPShare", "Fallback"); cmd/lockbench puts its flag's name in
// front of Msg.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Option + " " + e.Msg }

// Validate checks the options; errors are *OptionError, naming the setting
// and what is allowed.
func (o Options) Validate() error {
	if !(o.GUPShare >= 0 && o.GUPShare <= 1) { // also rejects NaN
		return &OptionError{Option: "GUPShare", Msg: fmt.Sprintf("must be in [0,1], got %v", o.GUPShare)}
	}
	if o.Fallback != "" {
		if _, err := ParseFallback(o.Fallback); err != nil {
			return &OptionError{Option: "Fallback", Msg: err.Error()}
		}
	}
	return nil
}

// New returns the strategy called name, built by its registry row.
func New(name string, o Options) (Strategy, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	info, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return info.build(o), nil
}
