package reports

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"lockbench/results"
)

// locksFixture is the fixture with -locks on: its first cell gets the
// model's lock rows (its last repetition without MK waits), and a
// kernel cell with the kernel's sites is added.
func locksFixture() *results.File {
	f := fixture()
	c := &f.Cells[0]
	c.Config.Locks = true
	for i := range c.Reps {
		r := &c.Reps[i]
		r.LockTrace = &results.LockTrace{Source: results.LockSourceModel, Full: true}
		r.Locks = []results.LockStat{
			{Class: "MM", Role: "faulter", Source: results.LockSourceModel, Ops: 1000, Acquisitions: 900},
			{Class: "IO", Role: "fsync", Source: results.LockSourceModel, Ops: 10, Acquisitions: 10, Holds: 10,
				HoldTotal: 50 * time.Millisecond, Hold: results.Latency{P99: 9 * time.Millisecond, Max: 9 * time.Millisecond}},
		}
		if i < len(c.Reps)-1 {
			r.Locks = append(r.Locks, results.LockStat{Class: "MK", Role: "faulter", Source: results.LockSourceModel, Ops: 1000,
				Acquisitions: 800, Contentions: 20, WaitTotal: 40 * time.Millisecond, Wait: results.Latency{P99: 5 * time.Millisecond, Max: 6 * time.Millisecond}})
		}
	}
	k := results.Cell{Config: c.Config}
	k.Config.Strategy = "kernel"
	k.Reps = []results.Rep{{Elapsed: time.Second, LockTrace: &results.LockTrace{Source: results.LockSourceKernel, Records: 400, Lost: 3},
		Locks: []results.LockStat{
			{Class: "MK", Site: "btrfs_page_mkwrite", Kind: "rwsem(S)", Role: "faulter", Source: results.LockSourceKernel, Ops: 5000,
				Contentions: 50, WaitTotal: 100 * time.Millisecond, Wait: results.Latency{P99: 30 * time.Millisecond, Max: 38 * time.Millisecond}},
			{Class: "IO/MK", Site: "btrfs_inode_lock", Kind: "rwsem(X)", Role: "fsync", Source: results.LockSourceKernel, Ops: 40,
				Contentions: 4, WaitTotal: 2 * time.Millisecond},
			{Site: "do_fault", Kind: "spin", Role: "faulter", Source: results.LockSourceKernel, Ops: 5000, Contentions: 300, WaitTotal: time.Millisecond},
		}}}
	f.Cells = append(f.Cells, k)
	return f
}

func TestLockSummary(t *testing.T) {
	f := locksFixture()
	s := summarizeCellLocksFor(t, f, 0)
	var mk *LockSummary
	for i := range s {
		if s[i].Class == "MK" {
			mk = &s[i]
		}
	}
	if mk == nil {
		t.Fatalf("no MK row in %+v", s)
	}
	// Two repetitions, one without the row: it counts as no waits.
	if n := len(f.Cells[0].Reps); mk.Waits.N != n || mk.Waits.Max != 20 || mk.Waits.Min != 0 {
		t.Errorf("MK waits = %+v; want %d repetitions, 20 and 0", mk.Waits, n)
	}
	if mk.WaitsPerOp.Max != 0.02 || mk.WaitNsPerOp.Max != 40e3 {
		t.Errorf("MK waits/op, wait ns/op = %v, %v; want 0.02, 40000 in the repetition with waits", mk.WaitsPerOp.Max, mk.WaitNsPerOp.Max)
	}
	if s := summarizeCellLocksFor(t, f, len(f.Cells)-1); s[0].Class != "MK" || s[len(s)-1].Site != "do_fault" {
		t.Errorf("kernel rows = %+v; want most total wait first", s)
	}
}

func summarizeCellLocksFor(t *testing.T, f *results.File, i int) []LockSummary {
	t.Helper()
	rows, info := summarizeLocks(&f.Cells[i])
	if info == nil {
		t.Fatalf("cell %d: no lock info", i)
	}
	return rows
}

func TestLockText(t *testing.T) {
	f := locksFixture()
	var b bytes.Buffer
	if err := Render(&b, "text", f); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"lock waits, model, per lock and role; acquisitions and exclusive holds counted (-locks):",
		"lock waits, kernel, from lock:contention_begin/end per call site and role (400 records, 3 lost):",
		"MK     btrfs_page_mkwrite  faulter  rwsem(S)",
		"WARNING: the kernel dropped 3 lock-wait records",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	// The side-by-side table puts the model's and the kernel's MK waits of
	// the faulters on one row.
	i := strings.Index(out, "lock waits side by side: ")
	if i < 0 {
		t.Fatalf("no side-by-side table:\n%s", out)
	}
	side := out[i:]
	if !strings.Contains(side, "kernel(tmpfs)") || !regexp.MustCompile(`MK\s+faulter\s+0\.02/op\s+40ms\s+0\.01/op\s+100ms`).MatchString(side) {
		t.Errorf("side-by-side table lacks the MK faulter row of both cells:\n%s", side)
	}
	if !regexp.MustCompile(`IO/MK\s+fsync\s+-\s+-\s+0\.1/op\s+2ms`).MatchString(side) {
		t.Errorf("side-by-side table lacks the kernel's IO/MK fsync row:\n%s", side)
	}
	// Without -locks the table is not shown (it is in the JSON all the same).
	for i := range f.Cells {
		f.Cells[i].Config.Locks = false
	}
	b.Reset()
	if err := Render(&b, "text", f); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "lock waits") {
		t.Errorf("text output without -locks shows lock waits:\n%s", b.String())
	}
}

func TestLockTextUnavailable(t *testing.T) {
	f := locksFixture()
	k := &f.Cells[len(f.Cells)-1].Reps[0]
	k.Locks, k.LockTrace = nil, &results.LockTrace{Source: results.LockSourceKernel, Unavailable: "ktrace: perf_event_open refused"}
	var b bytes.Buffer
	if err := Render(&b, "text", f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "kernel lock waits: unavailable (ktrace: perf_event_open refused)") {
		t.Errorf("text output lacks the one-line reason:\n%s", b.String())
	}
}

func TestLockBench(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, "bench", locksFixture()); err != nil {
		t.Fatal(err)
	}
	r := benchfmt.NewReader(&b, "bench")
	units := map[string]bool{}
	found := map[string]float64{}
	for r.Scan() {
		switch x := r.Result().(type) {
		case *benchfmt.UnitMetadata:
			units[x.Unit] = x.Value == "lower"
		case *benchfmt.Result:
			if !strings.Contains(string(x.Name), "op=locks") {
				continue
			}
			for _, v := range x.Values {
				found[string(x.Name)+" "+v.Unit] = v.Value
			}
		case *benchfmt.SyntaxError:
			t.Errorf("bench output: %v", x)
		}
	}
	// The reader tidies ns into sec.
	if !units["mk-wait-sec/op"] || !units["io+mk-waits/op"] {
		t.Errorf("Unit lines = %v; want mk-wait-ns/op and io+mk-waits/op better=lower", units)
	}
	var v float64
	ok := false
	for k, x := range found {
		if strings.Contains(k, "strategy=kernel") && strings.Contains(k, "/op=locks/role=faulter ") && strings.HasSuffix(k, " mk-wait-sec/op") {
			v, ok = x, true
		}
	}
	if !ok || v != 20e-6 {
		t.Errorf("kernel faulter mk-wait-ns/op = %v, %v; want 20000ns (100ms over 5000 ops); lines: %v", v, ok, found)
	}
}

func TestLockHTML(t *testing.T) {
	f := locksFixture()
	h, err := LockTablesHTML(Summarize(f))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<code>btrfs_page_mkwrite</code>", "<th>hold p99</th>", "dropped 3 lock-wait records"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("HTML lock tables lack %q:\n%s", want, h)
		}
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, []*results.File{f}); err != nil {
		t.Fatal(err)
	}
	// The page carries the same tables: the kernel's MK site and role.
	if _, sec, ok := strings.Cut(page.String(), "<h2>Lock waits</h2>"); !ok || !strings.Contains(sec, "<code>btrfs_page_mkwrite</code>") || !strings.Contains(sec, "<td>faulter</td>") {
		t.Errorf("the report page's lock section does not name the kernel's MK site and role")
	}
}
