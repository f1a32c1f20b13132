package results

// CounterField is one protocol counter of Counters: its JSON name, where
// it lives, and whether it is a maximum (max over workers and repetitions)
// rather than a count that adds up.
type CounterField struct {
	Name  string
	Ptr   func(*Counters) *int64
	IsMax bool
}

// CounterFields is the one list of protocol counters, in the order of
// Counters' fields. Add, the reports' summaries and the tests all read it;
// TestCounterFields keeps it in step with the struct.
var CounterFields = []CounterField{
	{"faults", func(c *Counters) *int64 { return &c.Faults }, false},
	{"fault_around_mapped", func(c *Counters) *int64 { return &c.FaultAround }, false},
	{"fault_around_skipped", func(c *Counters) *int64 { return &c.FaultAroundMiss }, false},
	{"pages_created", func(c *Counters) *int64 { return &c.PagesCreated }, false},
	{"short_writes", func(c *Counters) *int64 { return &c.ShortWrites }, false},
	{"cleanup_punched_blocks", func(c *Counters) *int64 { return &c.CleanupPunched }, false},
	{"validations", func(c *Counters) *int64 { return &c.Validations }, false},
	{"stale_maps", func(c *Counters) *int64 { return &c.StaleMaps }, false},
	{"remaps", func(c *Counters) *int64 { return &c.Remaps }, false},
	{"retries", func(c *Counters) *int64 { return &c.Retries }, false},
	{"max_retry_chain", func(c *Counters) *int64 { return &c.MaxRetryChain }, true},
	{"sigbus", func(c *Counters) *int64 { return &c.Sigbus }, false},
	{"sigbus_beyond_eof", func(c *Counters) *int64 { return &c.SigbusBeyondEOF }, false},
	{"convert_unlocked", func(c *Counters) *int64 { return &c.ConvertUnlocked }, false},
	{"inline_converts", func(c *Counters) *int64 { return &c.InlineConverts }, false},
	{"writeback_pages", func(c *Counters) *int64 { return &c.WritebackPages }, false},
	{"writeback_revalidations", func(c *Counters) *int64 { return &c.WritebackStale }, false},
	{"evicted_pages", func(c *Counters) *int64 { return &c.Evicted }, false},
	{"zeroed_partial_pages", func(c *Counters) *int64 { return &c.Zeroed }, false},
	{"fsync_logged_extents", func(c *Counters) *int64 { return &c.FsyncLogged }, false},
	{"il_contended", func(c *Counters) *int64 { return &c.ILWaits }, false},
	{"unchecked_fsyncs", func(c *Counters) *int64 { return &c.UncheckedFsyncs }, false},
	{"calibrated_ns", func(c *Counters) *int64 { return &c.CalibratedNs }, false},
	{"stable_waits", func(c *Counters) *int64 { return &c.StableWaits }, false},
}

// Add adds o's counters to c: counts are summed, maxima kept.
func (c *Counters) Add(o *Counters) {
	for _, f := range CounterFields {
		a, b := f.Ptr(c), f.Ptr(o)
		if f.IsMax {
			*a = max(*a, *b)
		} else {
			*a += *b
		}
	}
}
