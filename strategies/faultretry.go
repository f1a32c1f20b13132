package strategies

// FaultRetry is the base protocol plus VM_FAULT_RETRY for write faults that
// need IO-level work (ext4's inline-data proposal): the fault drops MM, takes
// IO(X), converts, releases and returns RETRY; the caller retakes MM and
// faults again with TRIED set. Faults from get_user_pages callers cannot
// retry; the Policy's Fallback decides what they get. It adds R4 (when every
// fault may retry) to what the base protocol prevents.
type FaultRetry struct {
	Policy RetryPolicy
}

var _ Strategy = FaultRetry{}

// newFaultRetry builds faultretry from validated options.
func newFaultRetry(o Options) Strategy {
	fb := FallbackSigbus
	if o.Fallback != "" {
		fb, _ = ParseFallback(o.Fallback) // validated by New
	}
	return FaultRetry{Policy: RetryPolicy{
		OnContendedIL: o.RetryOnContended,
		GUPShare:      o.GUPShare,
		Fallback:      fb,
		MaxRetries:    1,
	}}
}

// Name implements Strategy.
func (FaultRetry) Name() string { return "faultretry" }

// Plan implements Strategy. The inline conversion of a retrying fault runs
// under IO(X) after MM is dropped (the hot path takes IO from the Retry
// mechanism); a fault that may not retry and falls back to converting runs
// the conversion under the write-fault plan, as the base protocol does.
func (FaultRetry) Plan(op Op) Plan { return basePlan(op) }

// Mechanisms implements Strategy.
func (f FaultRetry) Mechanisms() Mechanisms {
	p := f.Policy
	return Mechanisms{Retry: &p}
}
