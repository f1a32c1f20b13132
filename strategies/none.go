package strategies

// None is the unsafe baseline: the base protocol with the serialisation each
// seed added taken away (docs/MODEL.md, "The unsafe baseline"):
//   - read faults and read() create and fill pages without IL (R2);
//   - a failed write's cleanup takes no IL and punches dirty pages too (R1);
//   - write() never revalidates its cached mapping (R3);
//   - inline conversion runs under the write fault's IL(S) only (R4);
//   - fsync logs without MK(X) or ER, and page_mkwrite takes no MK (R5).
type None struct{}

var _ Strategy = None{}

// Name implements Strategy.
func (None) Name() string { return "none" }

// Plan implements Strategy.
func (None) Plan(op Op) Plan {
	switch op {
	case OpWriteFault:
		return Plan{IL: Shared}
	case OpFsyncLog:
		return Plan{IO: Exclusive}
	case OpPunch, OpTruncate:
		return Plan{IL: Exclusive}
	}
	return Plan{}
}

// Mechanisms implements Strategy.
func (None) Mechanisms() Mechanisms { return Mechanisms{UnsafeCleanup: true, NaiveFaultAround: true} }
