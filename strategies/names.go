package strategies

import (
	"fmt"
	"strings"
)

// Info describes one strategy for `lockbench list` and the flag help.
type Info struct {
	Name        string
	Description string
}

// All lists every strategy, in the order reports show them. It is the one
// table that feeds the flag help, the unknown-name error and the conformance
// tests.
var All = []Info{
	{"none", "unsafe baseline: the base protocol with every seed's fix removed"},
	{"rangelock", "full-range extent lock (btrfs io-tree style): ER is the serialisation, fsync holds ER over the whole file"},
	{"rwsem", "mmap rwsem (invalidate_lock, XFS MMAPLOCK, btrfs i_mmap_lock): faults IL(S); fsync, punch, truncate, failed-write cleanup IL(X)"},
	{"seqcount", "validity sequence counters (iomap ->iomap_valid): rwsem plus a per-page revalidation of write()'s cached mapping"},
	{"faultretry", "VM_FAULT_RETRY: write faults that need IO-level work drop MM, take IO(X), and retry"},
}

// Names returns the strategy names in table order.
func Names() []string {
	n := make([]string, len(All))
	for i, s := range All {
		n[i] = s.Name
	}
	return n
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

// Validate checks the options; errors name the setting and what is allowed.
func (o Options) Validate() error {
	if !(o.GUPShare >= 0 && o.GUPShare <= 1) { // also rejects NaN
		return fmt.Errorf("-gup-share must be in [0,1], got %v", o.GUPShare)
	}
	if o.Fallback != "" {
		if _, err := ParseFallback(o.Fallback); err != nil {
			return fmt.Errorf("-fallback: %w", err)
		}
	}
	return nil
}

// New returns the strategy called name.
func New(name string, o Options) (Strategy, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	switch name {
	case "none":
		return None{}, nil
	case "rangelock":
		return RangeLockStrategy{}, nil
	case "rwsem":
		return RWSemStrategy{}, nil
	case "seqcount":
		return SeqCount{}, nil
	case "faultretry":
		fb := FallbackSigbus
		if o.Fallback != "" {
			fb, _ = ParseFallback(o.Fallback) // validated above
		}
		return FaultRetry{Policy: RetryPolicy{
			OnContendedIL: o.RetryOnContended,
			GUPShare:      o.GUPShare,
			Fallback:      fb,
			MaxRetries:    1,
		}}, nil
	}
	return nil, fmt.Errorf("unknown strategy %q (allowed: %s)", name, strings.Join(Names(), ", "))
}
