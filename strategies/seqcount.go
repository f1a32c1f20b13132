package strategies

// SeqCount is the base protocol plus iomap's validity cookie: write() records
// the extent map's sequence number when it maps a range, and after locking
// each page compares it with the current one; on a mismatch the mapping is
// stale, the iteration ends short and the rest is remapped. It adds R3 to what
// the base protocol prevents.
type SeqCount struct{}

var _ Strategy = SeqCount{}

// Name implements Strategy.
func (SeqCount) Name() string { return "seqcount" }

// Plan implements Strategy.
func (SeqCount) Plan(op Op) Plan { return basePlan(op) }

// Mechanisms implements Strategy.
func (SeqCount) Mechanisms() Mechanisms { return Mechanisms{ValidateMappings: true} }
