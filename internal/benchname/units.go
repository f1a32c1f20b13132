package benchname

// Unit is a custom benchmark unit and the direction benchstat should read
// it in ("higher" or "lower"), written as a benchfmt metadata line
// `Unit <Name> better=<Better>`.
type Unit struct{ Name, Better string }

// Units is the one table of lockbench's custom units beyond ns/op, B/op and
// allocs/op: the root package's benchmarks (TestMain) and `lockbench report
// -format bench` (reports/bench.go) both write all of it ahead of their
// results. The per-lock units of the bench format are made per class
// (reports/locks.go) and added there.
var Units = []Unit{
	{"ops/s", "higher"},
	{"p50-ns/op", "lower"},
	{"p99-ns/op", "lower"},
	{"p99.9-ns/op", "lower"},
	{"max-ns/op", "lower"},
	{"faults/op", "lower"},
	{"blocked/op", "lower"},
	{"retries/op", "lower"},
	{"stale/op", "lower"},
	{"violations/op", "lower"},
	{"cpu-ns/op", "lower"},
}
