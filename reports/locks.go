package reports

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchfmt"

	"lockbench/internal/benchname"
	"lockbench/results"
)

// The lock-wait tables: the model's lock accounting and the real kernel's
// lock waits (results.LockStat) in one set of names, so that "rwsem stalls
// write faults on MK during fsync" and "btrfs's page_mkwrite waits on
// i_mmap_lock (MK) during fsync" read as the same row.

// LockSummary is one row of a cell's lock-wait table over its repetitions:
// one lock class (or, for kernel waits on no model lock, one site) and
// role. A repetition without the row counts as no waits.
type LockSummary struct {
	Source, Class, Site, Role, Kind string
	Ops                             Estimate // the role's operations per repetition
	Acquisitions                    Estimate // model; contended ones only without -locks
	Waits                           Estimate // contended acquisitions / kernel waits
	WaitsPerOp                      Estimate
	WaitNsPerOp                     Estimate // total wait / the role's operations
	WaitTotal, WaitP99, WaitMax     Estimate // ns
	Holds                           Estimate // exclusive holds timed (model, -locks)
	HoldTotal, HoldP99, HoldMax     Estimate // ns
}

// Name is the row's lock as tables print it: the class, or the site for a
// wait on no model lock.
func (l *LockSummary) Name() string {
	if l.Class != "" {
		return l.Class
	}
	return "-"
}

// LockInfo is how a cell's lock accounting was measured, over its
// repetitions.
type LockInfo struct {
	Source      string
	Full        bool   // model: every acquisition counted and exclusive hold timed
	Unavailable string // kernel: why there are no kernel lock waits
	Records     int64  // kernel: samples decoded, summed over repetitions
	Events      int64  // kernel: events the kernel counted (Records + Lost when none is missing)
	Lost        int64  // kernel: records dropped by the kernel (ring buffer full)
	Unpaired    int64
	Nested      int64
	Dropped     int64 // waits not kept for percentiles
}

// lockAcc collects one row's values, one per repetition.
type lockAcc struct {
	row                                        LockSummary
	ops, acq, waits, wpo, wnpo, total, p99, mx []float64
	holds, ht, hp, hmax                        []float64
}

func (x *lockAcc) add(l *results.LockStat) {
	var ops, waits float64
	if l != nil {
		ops, waits = float64(l.Ops), float64(l.Contentions)
	} else {
		l = &results.LockStat{}
	}
	x.ops = append(x.ops, ops)
	x.acq = append(x.acq, float64(l.Acquisitions))
	x.waits = append(x.waits, waits)
	wpo, wnpo := 0.0, 0.0
	if ops > 0 {
		wpo, wnpo = waits/ops, float64(l.WaitTotal)/ops
	}
	x.wpo = append(x.wpo, wpo)
	x.wnpo = append(x.wnpo, wnpo)
	x.total = append(x.total, float64(l.WaitTotal))
	x.p99 = append(x.p99, float64(l.Wait.P99))
	x.mx = append(x.mx, float64(l.Wait.Max))
	x.holds = append(x.holds, float64(l.Holds))
	x.ht = append(x.ht, float64(l.HoldTotal))
	x.hp = append(x.hp, float64(l.Hold.P99))
	x.hmax = append(x.hmax, float64(l.Hold.Max))
}

// summarizeLocks summarises the lock accounting of a cell's repetitions;
// nil when no repetition recorded any.
func summarizeLocks(c *results.Cell) ([]LockSummary, *LockInfo) {
	var info *LockInfo
	type key struct{ source, class, site, role string }
	m := map[key]*lockAcc{}
	var keys []key
	reps := 0
	for _, r := range c.Reps {
		if r.LockTrace == nil {
			continue
		}
		reps++
		lt := r.LockTrace
		if info == nil {
			info = &LockInfo{Source: lt.Source, Full: lt.Full}
		}
		if lt.Unavailable != "" && info.Unavailable == "" {
			info.Unavailable = lt.Unavailable
		}
		info.Records += lt.Records
		info.Events += lt.Events
		info.Lost += lt.Lost
		info.Unpaired += lt.Unpaired
		info.Nested += lt.Nested
		info.Dropped += lt.Dropped
		for i := range r.Locks {
			l := &r.Locks[i]
			k := key{l.Source, l.Class, l.Site, l.Role}
			x := m[k]
			if x == nil {
				x = &lockAcc{row: LockSummary{Source: l.Source, Class: l.Class, Site: l.Site, Role: l.Role, Kind: l.Kind}}
				m[k] = x
				keys = append(keys, k)
			}
			for len(x.waits) < reps-1 { // earlier repetitions had none
				x.add(nil)
			}
			x.add(l)
		}
		for _, x := range m {
			for len(x.waits) < reps {
				x.add(nil)
			}
		}
	}
	if info == nil {
		return nil, nil
	}
	out := make([]LockSummary, 0, len(keys))
	for _, k := range keys {
		x := m[k]
		r := x.row
		r.Ops, r.Acquisitions, r.Waits = Describe(x.ops), Describe(x.acq), Describe(x.waits)
		r.WaitsPerOp, r.WaitNsPerOp = Describe(x.wpo), Describe(x.wnpo)
		r.WaitTotal, r.WaitP99, r.WaitMax = Describe(x.total), Describe(x.p99), Describe(x.mx)
		r.Holds, r.HoldTotal, r.HoldP99, r.HoldMax = Describe(x.holds), Describe(x.ht), Describe(x.hp), Describe(x.hmax)
		out = append(out, r)
	}
	if info.Source == results.LockSourceKernel {
		// Most total wait first; the model's rows keep the lock order.
		sort.SliceStable(out, func(i, j int) bool { return out[i].WaitTotal.Median > out[j].WaitTotal.Median })
	}
	return out, info
}

// maxKernelLockRows bounds the kernel rows of a text table; the results
// file has them all.
const maxKernelLockRows = 12

// writeTextLocks writes a cell's lock-wait table (cells run with -locks).
func writeTextLocks(ew *errWriter, s *CellSummary) error {
	info := s.LockInfo
	if info == nil {
		return ew.err
	}
	if info.Unavailable != "" {
		ew.printf("  kernel lock waits: unavailable (%s)\n", info.Unavailable)
		return ew.err
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	rows := s.Locks
	switch info.Source {
	case results.LockSourceModel:
		how := "acquisitions and exclusive holds counted (-locks)"
		if !info.Full {
			how = "contended acquisitions only (-locks counts every acquisition and times exclusive holds)"
		}
		ew.printf("  lock waits, model, per lock and role; %s:\n", how)
		fmt.Fprintf(tw, "    lock\trole\tacquired\twaits\twaits/op\twait/op\twait total\twait p99\twait max\thold total\thold p99\thold max\n")
		for i := range rows {
			l := &rows[i]
			hold := []string{"-", "-", "-"}
			if info.Full && l.Holds.Median > 0 {
				hold = []string{estimateText(l.HoldTotal, formatNanos), estimateText(l.HoldP99, formatNanos), estimateText(l.HoldMax, formatNanos)}
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name(), l.Role,
				estimateText(l.Acquisitions, formatRate), estimateText(l.Waits, formatRate),
				estimateText(l.WaitsPerOp, formatLockPerOp), waitText(l.Waits, l.WaitNsPerOp),
				waitText(l.Waits, l.WaitTotal), waitText(l.Waits, l.WaitP99), waitText(l.Waits, l.WaitMax),
				hold[0], hold[1], hold[2])
		}
	case results.LockSourceKernel:
		ew.printf("  lock waits, kernel, from lock:contention_begin/end per call site and role (%d records, %d lost", info.Records, info.Lost)
		if info.Unpaired > 0 {
			ew.printf(", %d unpaired", info.Unpaired)
		}
		ew.printf("):\n")
		fmt.Fprintf(tw, "    lock\tsite\trole\tkind\twaits\twaits/op\twait/op\twait total\twait p99\twait max\n")
		for i := range rows[:min(len(rows), maxKernelLockRows)] {
			l := &rows[i]
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name(), l.Site, l.Role, l.Kind,
				estimateText(l.Waits, formatRate), estimateText(l.WaitsPerOp, formatLockPerOp), waitText(l.Waits, l.WaitNsPerOp),
				waitText(l.Waits, l.WaitTotal), waitText(l.Waits, l.WaitP99), waitText(l.Waits, l.WaitMax))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rows) == 0 {
		ew.printf("    no lock waits\n")
	}
	if info.Source == results.LockSourceKernel && len(rows) > maxKernelLockRows {
		ew.printf("    %d more sites in the results file\n", len(rows)-maxKernelLockRows)
	}
	if info.Lost > 0 {
		ew.printf("  WARNING: the kernel dropped %d lock-wait records (ring buffer full): waits are under-counted\n", info.Lost)
	}
	if missing := info.Events - info.Records - info.Lost; info.Events > 0 && missing > 0 {
		ew.printf("  WARNING: %d lock-wait events were neither read nor counted as lost\n", missing)
	}
	if info.Dropped > 0 {
		ew.printf("  note: %d waits were counted but not kept for percentiles\n", info.Dropped)
	}
	return ew.err
}

// waitText is a wait figure, "-" for a row without waits.
func waitText(waits, e Estimate) string {
	if waits.Median == 0 && waits.Max == 0 {
		return "-"
	}
	return estimateText(e, formatNanos)
}

// formatLockPerOp formats a per-operation ratio with three significant digits
// ("0.32", "0.000265", "2.65e-06").
func formatLockPerOp(v float64) string {
	if v >= 1000 {
		return formatRate(v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// Bench format: one line per repetition and role that has lock rows, named
// .../op=locks/role=<role>, with the role's operations as iterations and,
// per lock class, <class>-waits/op, <class>-wait-ns/op and
// <class>-p99-wait-ns (kernel rows of no model class are summed as
// "other"). Class pairs (IO/MK) are written with "+" (io+mk).

// lockUnit is the unit of a class's figure: "mk-wait-ns/op".
func lockUnit(class, what string) string {
	c := strings.ToLower(strings.ReplaceAll(class, "/", "+"))
	if c == "" {
		c = "other"
	}
	return c + "-" + what
}

// lockBenchUnits lists the lock units f's bench lines use, with their
// direction, for the Unit metadata lines.
func lockBenchUnits(f *results.File) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range f.Cells {
		for _, r := range c.Reps {
			for _, l := range r.Locks {
				for _, u := range []string{lockUnit(l.Class, "waits/op"), lockUnit(l.Class, "wait-ns/op"), lockUnit(l.Class, "p99-wait-ns")} {
					if !seen[u] {
						seen[u] = true
						out = append(out, u)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// lockBenchResults appends rep's lock lines for the cell named name.
func lockBenchResults(out []benchfmt.Result, name string, r *results.Rep) []benchfmt.Result {
	type agg struct {
		ops, waits, total int64
		p99               float64
	}
	byRole := map[string]map[string]*agg{}
	var roles []string
	for _, l := range r.Locks {
		if l.Contentions == 0 {
			continue
		}
		m := byRole[l.Role]
		if m == nil {
			m = map[string]*agg{}
			byRole[l.Role] = m
			roles = append(roles, l.Role)
		}
		a := m[l.Class]
		if a == nil {
			a = &agg{}
			m[l.Class] = a
		}
		a.ops = l.Ops
		a.waits += l.Contentions
		a.total += int64(l.WaitTotal)
		a.p99 = math.Max(a.p99, float64(l.Wait.P99))
	}
	sort.Strings(roles)
	for _, role := range roles {
		m := byRole[role]
		classes := make([]string, 0, len(m))
		for c := range m {
			classes = append(classes, c)
		}
		sort.Strings(classes)
		res := benchfmt.Result{Name: benchfmt.Name(name + "/" + benchname.Join("op", "locks", "role", role))}
		for _, c := range classes {
			a := m[c]
			if a.ops <= 0 {
				continue
			}
			res.Iters = int(a.ops)
			round := func(v float64) float64 { return math.Round(v*1000) / 1000 }
			res.Values = append(res.Values,
				benchfmt.Value{Value: round(float64(a.waits) / float64(a.ops)), Unit: lockUnit(c, "waits/op")},
				benchfmt.Value{Value: round(float64(a.total) / float64(a.ops)), Unit: lockUnit(c, "wait-ns/op")},
				benchfmt.Value{Value: a.p99, Unit: lockUnit(c, "p99-wait-ns")})
		}
		if len(res.Values) > 0 {
			out = append(out, res)
		}
	}
	return out
}

// HTML: LockTablesHTML renders every cell's lock-wait table (cells run
// with -locks) with the text table's columns, role and kernel call site
// included, for the report page.

type lockWaitTable struct {
	Cell  string
	Note  string
	Model bool
	Rows  []lockWaitRow
}

type lockWaitRow struct {
	Lock, Site, Role, Kind                                  string
	Acquired, Waits, WaitsPerOp, WaitPerOp, Total, P99, Max string
	HoldTotal, HoldP99, HoldMax                             string
}

// lockTables makes the HTML lock tables of a file's cells.
func lockWaitTables(sums []CellSummary) []lockWaitTable {
	var out []lockWaitTable
	for i := range sums {
		s := &sums[i]
		if !s.Config.Locks || s.LockInfo == nil {
			continue
		}
		t := lockWaitTable{Cell: cellHeader(s), Model: s.LockInfo.Source == results.LockSourceModel}
		switch {
		case s.LockInfo.Unavailable != "":
			t.Note = "kernel lock waits unavailable: " + s.LockInfo.Unavailable
		case s.LockInfo.Lost > 0:
			t.Note = fmt.Sprintf("the kernel dropped %d lock-wait records (ring buffer full): waits are under-counted", s.LockInfo.Lost)
		}
		for j := range s.Locks {
			l := &s.Locks[j]
			if !t.Model && j == maxKernelLockRows {
				break
			}
			row := lockWaitRow{Lock: l.Name(), Site: l.Site, Role: l.Role, Kind: l.Kind,
				Acquired: estimateText(l.Acquisitions, formatRate), Waits: estimateText(l.Waits, formatRate),
				WaitsPerOp: estimateText(l.WaitsPerOp, formatLockPerOp), WaitPerOp: waitText(l.Waits, l.WaitNsPerOp),
				Total: waitText(l.Waits, l.WaitTotal), P99: waitText(l.Waits, l.WaitP99), Max: waitText(l.Waits, l.WaitMax),
				HoldTotal: "-", HoldP99: "-", HoldMax: "-"}
			if s.LockInfo.Full && l.Holds.Median > 0 {
				row.HoldTotal, row.HoldP99, row.HoldMax = estimateText(l.HoldTotal, formatNanos), estimateText(l.HoldP99, formatNanos), estimateText(l.HoldMax, formatNanos)
			}
			t.Rows = append(t.Rows, row)
		}
		out = append(out, t)
	}
	return out
}

var lockTablesTemplate = template.Must(template.New("locks").Parse(`{{range .}}<h3>{{.Cell}}</h3>
{{if .Note}}<p class="warnings">{{.Note}}</p>{{end}}{{if .Rows}}<div class="scroll"><table class="nowrap">
{{if .Model}}<tr><th>lock</th><th>role</th><th>acquired</th><th>waits</th><th>waits/op</th><th>wait/op</th><th>wait total</th><th>wait p99</th><th>wait max</th><th>hold total</th><th>hold p99</th><th>hold max</th></tr>
{{range .Rows}}<tr><th>{{.Lock}}</th><td>{{.Role}}</td><td class="num">{{.Acquired}}</td><td class="num">{{.Waits}}</td><td class="num">{{.WaitsPerOp}}</td><td class="num">{{.WaitPerOp}}</td><td class="num">{{.Total}}</td><td class="num">{{.P99}}</td><td class="num">{{.Max}}</td><td class="num">{{.HoldTotal}}</td><td class="num">{{.HoldP99}}</td><td class="num">{{.HoldMax}}</td></tr>
{{end}}{{else}}<tr><th>lock</th><th>site</th><th>role</th><th>kind</th><th>waits</th><th>waits/op</th><th>wait/op</th><th>wait total</th><th>wait p99</th><th>wait max</th></tr>
{{range .Rows}}<tr><th>{{.Lock}}</th><td><code>{{.Site}}</code></td><td>{{.Role}}</td><td>{{.Kind}}</td><td class="num">{{.Waits}}</td><td class="num">{{.WaitsPerOp}}</td><td class="num">{{.WaitPerOp}}</td><td class="num">{{.Total}}</td><td class="num">{{.P99}}</td><td class="num">{{.Max}}</td></tr>
{{end}}{{end}}</table></div>{{end}}
{{end}}`))

// LockTablesHTML renders the lock-wait tables of a file's cell summaries
// (cells run with -locks) as an HTML fragment for the report page; empty
// when no cell has any.
func LockTablesHTML(sums []CellSummary) (template.HTML, error) {
	ts := lockWaitTables(sums)
	if len(ts) == 0 {
		return "", nil
	}
	var b strings.Builder
	if err := lockTablesTemplate.Execute(&b, ts); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

// The side-by-side table: for each group of cells run with -locks (same
// scenario, threads, target, ...), one row per lock class and role and,
// per cell, waits/op and total wait (medians over repetitions; a kernel
// cell's sites of one class summed, its waits on no model lock as
// "other"). So the model's "rwsem: MK faulter" and the kernel's "btrfs:
// MK faulter (btrfs_page_mkwrite)" stand on one row.

// lockClassOrder orders the side-by-side rows: the lock order, then pairs,
// then other.
var lockClassOrder = map[string]int{"IO": 1, "MM": 2, "IL": 3, "MK": 4, "ER": 5, "F": 6, "IX": 7}

func lockClassRank(c string) int {
	if r, ok := lockClassOrder[c]; ok {
		return r
	}
	if c == "other" {
		return 100
	}
	return 50
}

type lockClassRole struct{ class, role string }

// lockByClass is one cell's waits and total wait per class and role,
// medians over its repetitions.
func lockByClass(s *CellSummary) map[lockClassRole][2]float64 {
	type acc struct{ waits, total, ops float64 }
	m := map[lockClassRole]*acc{}
	for i := range s.Locks {
		l := &s.Locks[i]
		c := l.Class
		if c == "" {
			c = "other"
		}
		k := lockClassRole{c, l.Role}
		a := m[k]
		if a == nil {
			a = &acc{}
			m[k] = a
		}
		a.waits += l.Waits.Median
		a.total += l.WaitTotal.Median
		a.ops = math.Max(a.ops, l.Ops.Median)
	}
	out := map[lockClassRole][2]float64{}
	for k, a := range m {
		if a.waits == 0 {
			continue
		}
		wpo := math.NaN()
		if a.ops > 0 {
			wpo = a.waits / a.ops
		}
		out[k] = [2]float64{wpo, a.total}
	}
	return out
}

// writeTextLockCompare writes the side-by-side tables of groups with two
// or more cells that have lock waits.
func writeTextLockCompare(ew *errWriter, sums []CellSummary) error {
	for _, g := range groupCells(sums) {
		var cells []*CellSummary
		for _, s := range g.cells {
			if s.Config.Locks && s.LockInfo != nil && s.LockInfo.Unavailable == "" {
				cells = append(cells, s)
			}
		}
		if len(cells) < 2 {
			continue
		}
		by := make([]map[lockClassRole][2]float64, len(cells))
		seen := map[lockClassRole]bool{}
		var rows []lockClassRole
		for i, s := range cells {
			by[i] = lockByClass(s)
			for k := range by[i] {
				if !seen[k] {
					seen[k] = true
					rows = append(rows, k)
				}
			}
		}
		sort.Slice(rows, func(i, j int) bool {
			a, b := rows[i], rows[j]
			if ra, rb := lockClassRank(a.class), lockClassRank(b.class); ra != rb {
				return ra < rb
			}
			if a.class != b.class {
				return a.class < b.class
			}
			return a.role < b.role
		})
		ew.printf("\nlock waits side by side: %s (waits/op and total wait per lock and role)\n", g.label)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  lock\trole")
		for _, s := range cells {
			fmt.Fprintf(tw, "\t%s\t", lockCellLabel(s))
		}
		fmt.Fprintf(tw, "\n")
		for _, k := range rows {
			fmt.Fprintf(tw, "  %s\t%s", k.class, k.role)
			for i := range cells {
				v, ok := by[i][k]
				if !ok {
					fmt.Fprintf(tw, "\t-\t-")
					continue
				}
				fmt.Fprintf(tw, "\t%s/op\t%s", formatLockPerOp(v[0]), formatNanos(v[1]))
			}
			fmt.Fprintf(tw, "\n")
		}
		if len(rows) == 0 {
			fmt.Fprintf(tw, "  no lock waits\n")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return ew.err
}

// lockCellLabel names a cell's column: the strategy ("kernel(btrfs)" for
// the kernel engine) with its options.
func lockCellLabel(s *CellSummary) string {
	l := StrategyLabel(s.Config)
	if s.Config.Options != "" {
		l += " (" + s.Config.Options + ")"
	}
	return l
}
