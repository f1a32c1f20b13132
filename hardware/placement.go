package hardware

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// PolicyNames lists the placement policies in the spelling ParsePolicy
// accepts. It feeds the flag help and the error for an unknown policy.
var PolicyNames = []string{"none", "compact", "scatter", "smt-pairs", "cpus=LIST"}

// Policy is how workers are placed on CPUs. Name is one of "none",
// "compact", "scatter", "smt-pairs" or "cpus"; CPUs is the explicit list of
// a "cpus" policy in the order given, and nil otherwise.
type Policy struct {
	Name string
	CPUs []int
}

// String returns the policy in the form ParsePolicy accepts.
func (p Policy) String() string {
	if p.Name == "cpus" {
		return "cpus=" + formatList(p.CPUs)
	}
	return p.Name
}

// ParsePolicy parses a placement policy: none, compact, scatter, smt-pairs,
// or cpus= followed by a CPU list such as "0,2,4-7". An explicit list keeps
// its order and may not name a CPU twice. Whether the CPUs exist and are
// allowed is checked by Order, which knows the machine.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "none", "compact", "scatter", "smt-pairs":
		return Policy{Name: s}, nil
	}
	list, ok := strings.CutPrefix(s, "cpus=")
	if !ok {
		return Policy{}, fmt.Errorf("unknown placement %q; allowed: %s (e.g. cpus=0,2,4-7)",
			s, strings.Join(PolicyNames, ", "))
	}
	ids, err := parseList(list)
	if err != nil {
		return Policy{}, fmt.Errorf("placement %s: %w", s, err)
	}
	if len(ids) == 0 {
		return Policy{}, fmt.Errorf("placement %s: empty CPU list; want e.g. cpus=0,2,4-7", s)
	}
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return Policy{}, fmt.Errorf("placement %s: CPU %d is listed twice", s, id)
		}
	}
	return Policy{Name: "cpus", CPUs: ids}, nil
}

// Order returns the CPUs, among those the machine allows, in the order
// workers should be pinned to them: worker i goes to Order[i % len]. It
// returns nil for "none", which pins nothing.
//
//   - compact fills a core's SMT siblings, then the next core in the same
//     LLC, then the next LLC, then the next node, so n workers share as
//     much cache as n workers can.
//   - scatter takes one thread of every core first, alternating between
//     nodes and, within a node, between LLCs, so consecutive workers are
//     as far apart as the machine allows; the second threads of the cores
//     follow in the same order.
//   - smt-pairs keeps both threads of a core next to each other and spreads
//     the cores as scatter does, so workers 2k and 2k+1 share a core and
//     pairs share nothing else. Cores with one allowed thread are left out;
//     a machine without SMT is an error rather than a silent scatter.
//   - cpus=LIST is the list as written; every CPU must be online and
//     allowed.
func (m Machine) Order(p Policy) ([]int, error) {
	if p.Name == "none" {
		return nil, nil
	}
	if len(m.Allowed) == 0 {
		return nil, fmt.Errorf("placement %s: the machine description has no allowed CPUs", p)
	}
	if len(m.compact()) == 0 {
		return nil, fmt.Errorf("placement %s: none of the allowed CPUs (%s) is in the machine's topology", p, formatList(m.Allowed))
	}
	switch p.Name {
	case "compact":
		return ids(m.compact()), nil
	case "scatter":
		var out []int
		for _, rank := range m.threadRanks() {
			out = append(out, spread(rank)...)
		}
		return out, nil
	case "smt-pairs":
		return m.smtPairs()
	case "cpus":
		for _, id := range p.CPUs {
			if err := m.checkAllowed(id); err != nil {
				return nil, fmt.Errorf("placement %s: %w", p, err)
			}
		}
		if len(p.CPUs) == 0 {
			return nil, fmt.Errorf("placement %s: empty CPU list", p)
		}
		return slices.Clone(p.CPUs), nil
	}
	return nil, fmt.Errorf("unknown placement %q; allowed: %s", p, strings.Join(PolicyNames, ", "))
}

// smtPairs implements the smt-pairs policy.
func (m Machine) smtPairs() ([]int, error) {
	if m.ThreadsPerCore < 2 {
		return nil, fmt.Errorf("placement smt-pairs: this machine has no SMT (%d thread per core)", m.ThreadsPerCore)
	}
	ranks := m.threadRanks()
	if len(ranks) < 2 {
		return nil, fmt.Errorf("placement smt-pairs: no core has two allowed SMT siblings (allowed CPUs %s)",
			formatList(m.Allowed))
	}
	// Cores that have a second allowed thread, represented by their first.
	var paired []CPU
	for _, c := range ranks[0] {
		if slices.ContainsFunc(ranks[1], func(d CPU) bool { return d.Core == c.Core }) {
			paired = append(paired, c)
		}
	}
	var out []int
	for _, first := range spread(paired) {
		for _, c := range m.compact() {
			if c.Core == m.cpuByID(first).Core {
				out = append(out, c.ID)
			}
		}
	}
	return out, nil
}

// compact returns the allowed CPUs sorted by node, package, LLC, core and
// ID: the compact order, and the order every other policy starts from.
func (m Machine) compact() []CPU {
	var out []CPU
	for _, c := range m.CPUs {
		if slices.Contains(m.Allowed, c.ID) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b CPU) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Package, b.Package),
			cmp.Compare(a.LLC, b.LLC), cmp.Compare(a.Core, b.Core), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// threadRanks splits the allowed CPUs by their rank among the allowed
// threads of their core: rank 0 holds the first allowed thread of every
// core, rank 1 the second, and so on. Each rank is in compact order.
func (m Machine) threadRanks() [][]CPU {
	var ranks [][]CPU
	seen := map[int]int{} // core -> allowed threads seen so far
	for _, c := range m.compact() {
		r := seen[c.Core]
		seen[c.Core]++
		if r == len(ranks) {
			ranks = append(ranks, nil)
		}
		ranks[r] = append(ranks[r], c)
	}
	return ranks
}

// spread orders cpus, given in compact order, so that consecutive entries
// alternate between nodes, then between packages within a node, then
// between LLCs within a package: a round-robin at each level of the tree.
func spread(cpus []CPU) []int {
	levels := []func(CPU) int{
		func(c CPU) int { return c.Node },
		func(c CPU) int { return c.Package },
		func(c CPU) int { return c.LLC },
	}
	var walk func(cpus []CPU, level int) []int
	walk = func(cpus []CPU, level int) []int {
		if level == len(levels) {
			return ids(cpus)
		}
		var lists [][]int
		for _, g := range groupBy(cpus, levels[level]) {
			lists = append(lists, walk(g, level+1))
		}
		return interleave(lists)
	}
	return walk(cpus, 0)
}

// groupBy splits cpus into groups of equal key, in order of first
// appearance, keeping the order within each group.
func groupBy(cpus []CPU, key func(CPU) int) [][]CPU {
	var groups [][]CPU
	index := map[int]int{}
	for _, c := range cpus {
		i, ok := index[key(c)]
		if !ok {
			i = len(groups)
			index[key(c)] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

// interleave takes the first entry of every list, then the second of
// every list, and so on.
func interleave(lists [][]int) []int {
	var out []int
	for i := 0; ; i++ {
		added := false
		for _, l := range lists {
			if i < len(l) {
				out = append(out, l[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// ids returns the IDs of cpus in order.
func ids(cpus []CPU) []int {
	out := make([]int, len(cpus))
	for i, c := range cpus {
		out[i] = c.ID
	}
	return out
}

// cpuByID returns the CPU with the given ID, or a CPU with ID -1 when the
// machine has none.
func (m Machine) cpuByID(id int) CPU {
	for _, c := range m.CPUs {
		if c.ID == id {
			return c
		}
	}
	return CPU{ID: -1}
}

// checkAllowed reports whether id is an online CPU this process may use.
func (m Machine) checkAllowed(id int) error {
	if m.cpuByID(id).ID < 0 {
		return fmt.Errorf("CPU %d is not online (online CPUs %s)", id, formatList(ids(m.CPUs)))
	}
	if !slices.Contains(m.Allowed, id) {
		return fmt.Errorf("CPU %d is not in the allowed set %s", id, formatList(m.Allowed))
	}
	return nil
}

// RolePlacementNames lists the placements of an exclusive role relative to
// the faulters, in the spelling ParseRolePlacement accepts.
var RolePlacementNames = []string{"same-core", "same-llc", "other-llc", "other-node"}

// RolePlacement is where an exclusive role (a writer, a puncher, an
// fsyncer) runs relative to the faulters: on an SMT sibling of a faulter's
// core, on another core of its LLC, in another LLC, or on another NUMA
// node.
type RolePlacement string

// The role placements.
const (
	SameCore  RolePlacement = "same-core"
	SameLLC   RolePlacement = "same-llc"
	OtherLLC  RolePlacement = "other-llc"
	OtherNode RolePlacement = "other-node"
)

// ParseRolePlacement parses one of RolePlacementNames.
func ParseRolePlacement(s string) (RolePlacement, error) {
	if !slices.Contains(RolePlacementNames, s) {
		return "", fmt.Errorf("unknown role placement %q; allowed: %s", s, strings.Join(RolePlacementNames, ", "))
	}
	return RolePlacement(s), nil
}

// PlaceRole picks the CPU for an exclusive role. faulterCPUs[0] is the
// reference the placement is relative to; every CPU in faulterCPUs is taken,
// so a role never shares a CPU with a faulter, and callers placing several
// roles append each placed role's CPU to keep the roles apart too.
//
//   - same-core: a free SMT sibling of the reference.
//   - same-llc: a CPU of the reference's LLC on a core no taken CPU uses.
//   - other-llc: a CPU outside the reference's LLC, preferring the
//     reference's node (so only the LLC is crossed), then LLCs and cores
//     with no taken CPU.
//   - other-node: a CPU outside the reference's node, preferring nodes,
//     LLCs and cores with no taken CPU.
//
// Ties go to the earliest CPU in compact order. When the machine has no
// such place the error says why, e.g. "role placement other-node: this
// machine has 1 NUMA node".
func (m Machine) PlaceRole(rp RolePlacement, faulterCPUs []int) (int, error) {
	fail := func(format string, args ...any) (int, error) {
		return -1, fmt.Errorf("role placement %s: "+format, append([]any{rp}, args...)...)
	}
	if !slices.Contains(RolePlacementNames, string(rp)) {
		return -1, fmt.Errorf("unknown role placement %q; allowed: %s", rp, strings.Join(RolePlacementNames, ", "))
	}
	if len(faulterCPUs) == 0 {
		return fail("no faulter CPUs to place against (placement none pins no faulter)")
	}
	for _, id := range faulterCPUs {
		if m.cpuByID(id).ID < 0 {
			return fail("faulter CPU %d is not online (online CPUs %s)", id, formatList(ids(m.CPUs)))
		}
	}
	ref := m.cpuByID(faulterCPUs[0])
	taken := map[int]bool{}
	busy := struct{ core, llc, node map[int]bool }{map[int]bool{}, map[int]bool{}, map[int]bool{}}
	for _, id := range faulterCPUs {
		c := m.cpuByID(id)
		taken[id] = true
		busy.core[c.Core], busy.llc[c.LLC], busy.node[c.Node] = true, true, true
	}
	// b2i turns a "bad" condition into a sort key: false sorts first.
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	var (
		ok    func(CPU) bool
		score func(CPU) []int
	)
	switch rp {
	case SameCore:
		if m.ThreadsPerCore < 2 {
			return fail("this machine has no SMT (%d thread per core)", m.ThreadsPerCore)
		}
		ok = func(c CPU) bool { return c.Core == ref.Core }
		score = func(CPU) []int { return nil }
	case SameLLC:
		ok = func(c CPU) bool { return c.LLC == ref.LLC && !busy.core[c.Core] }
		score = func(CPU) []int { return nil }
	case OtherLLC:
		if m.LLCs < 2 {
			return fail("this machine has 1 LLC")
		}
		ok = func(c CPU) bool { return c.LLC != ref.LLC }
		score = func(c CPU) []int {
			return []int{b2i(c.Node != ref.Node), b2i(busy.llc[c.LLC]), b2i(busy.core[c.Core])}
		}
	case OtherNode:
		if m.Nodes < 2 {
			return fail("this machine has 1 NUMA node")
		}
		ok = func(c CPU) bool { return c.Node != ref.Node }
		score = func(c CPU) []int {
			return []int{b2i(busy.node[c.Node]), b2i(busy.llc[c.LLC]), b2i(busy.core[c.Core])}
		}
	}
	best, bestScore := -1, []int(nil)
	for _, c := range m.compact() {
		if taken[c.ID] || !ok(c) {
			continue
		}
		if s := score(c); best < 0 || slices.Compare(s, bestScore) < 0 {
			best, bestScore = c.ID, s
		}
	}
	if best < 0 {
		return fail("no free allowed CPU for it next to faulter CPU %d (faulters on %s, allowed CPUs %s)",
			ref.ID, formatList(faulterCPUs), formatList(m.Allowed))
	}
	return best, nil
}

// Pin locks the calling goroutine to its OS thread and binds that thread to
// cpu, then reads the affinity back and fails if the kernel did not apply
// exactly that CPU (a cpuset cgroup can narrow it). It must be called from
// the goroutine that will run the worker, before the worker starts.
//
// Pin never unlocks the thread, on success or failure. A pinned worker
// goroutine should simply return when done: a goroutine that exits while
// locked takes its thread with it, so a changed affinity never leaks to
// goroutines that did not ask for it.
func Pin(cpu int) error {
	if cpu < 0 || cpu >= cpuSetBits {
		return fmt.Errorf("pin to CPU %d: CPU must be between 0 and %d", cpu, cpuSetBits-1)
	}
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	var got unix.CPUSet
	if err := unix.SchedGetaffinity(0, &got); err != nil {
		return fmt.Errorf("pin to CPU %d: reading the affinity back: %w", cpu, err)
	}
	if got.Count() != 1 || !got.IsSet(cpu) {
		return fmt.Errorf("pin to CPU %d: the kernel applied CPUs %s instead", cpu, formatList(cpusOf(&got)))
	}
	return nil
}
