package hardware

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes m and targets for people, compactly, in the spirit of
// lscpu and hwloc-ls: the CPU and its caches, the topology tree (node >
// package > LLC > core > CPUs), the allowed CPUs, the CPU order of every
// placement policy, where each role placement lands next to the first
// compact CPU, and the targets. A placement the machine cannot honour is
// shown with the reason. The whole text is built first and written with a
// single Write, whose error is returned.
func WriteText(w io.Writer, m Machine, targets []Target) error {
	var b bytes.Buffer
	writeMachineText(&b, m)
	writeTopologyText(&b, m)
	writePlacementText(&b, m)
	if err := writeTargetsText(&b, targets); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// textLine writes one labelled line of WriteText's output.
func textLine(b *bytes.Buffer, label, format string, args ...any) {
	text := fmt.Sprintf("%-10s %s", label, fmt.Sprintf(format, args...))
	b.WriteString(strings.TrimRight(text, " ") + "\n")
}

// writeMachineText writes the machine, CPU and cache lines.
func writeMachineText(b *bytes.Buffer, m Machine) {
	textLine(b, "machine", "host %s, kernel %s, fingerprint %s", orDash(m.Hostname), orDash(m.Kernel), orDash(m.Fingerprint))
	c := m.CPU
	textLine(b, "cpu", "%s (%s family %d model %d stepping %d)", orDash(m.CPUModel), orDash(c.Vendor), c.Family, c.Model, c.Stepping)
	textLine(b, "", "%d logical CPUs: %s, %s, %s, %s, %d thread%s per core",
		m.LogicalCPUs, plural(m.Nodes, "node"), plural(m.Packages, "package"), plural(m.LLCs, "LLC"),
		plural(m.Cores, "core"), m.ThreadsPerCore, pluralS(m.ThreadsPerCore))
	var props []string
	if c.VM {
		props = append(props, "VM ("+orDash(c.Hypervisor)+")")
	}
	if c.InvariantTSC {
		props = append(props, "invariant TSC")
	} else {
		props = append(props, "no invariant TSC")
	}
	if m.Clocksource != "" {
		props = append(props, "clocksource "+m.Clocksource)
	}
	props = append(props, "features: "+orDash(strings.Join(c.Features, " ")))
	textLine(b, "", "%s", strings.Join(props, ", "))
	textLine(b, "caches", "%s", cachesText(m))

}

// writeTopologyText writes the node, package, LLC and core tree and the
// allowed CPUs.
func writeTopologyText(b *bytes.Buffer, m Machine) {
	textLine(b, "topology", "(cores written as CPU+sibling)")
	// Caches are sorted by level, so the last non-instruction one is the
	// LLC.
	llcName := ""
	for _, c := range m.Caches {
		if c.Type != "instruction" {
			llcName = fmt.Sprintf("L%d %s", c.Level, FormatBytes(uint64(c.Size)))
		}
	}
	for _, node := range groupBy(m.sorted(), func(c CPU) int { return c.Node }) {
		fmt.Fprintf(b, "  node %d: CPUs %s\n", node[0].Node, formatList(sortedIDs(node)))
		for _, pkg := range groupBy(node, func(c CPU) int { return c.Package }) {
			fmt.Fprintf(b, "    package %d\n", pkg[0].Package)
			for _, llc := range groupBy(pkg, func(c CPU) int { return c.LLC }) {
				var cores []string
				for _, core := range groupBy(llc, func(c CPU) int { return c.Core }) {
					cores = append(cores, joinInts(ids(core), "+"))
				}
				label := fmt.Sprintf("llc %d", llc[0].LLC)
				if llcName != "" {
					label += " (" + llcName + ")"
				}
				fmt.Fprintf(b, "      %s: %s\n", label, strings.Join(cores, " "))
			}
		}
	}
	textLine(b, "allowed", "%s (%d of %d)", orDash(formatList(m.Allowed)), len(m.Allowed), len(m.CPUs))

}

// writePlacementText writes each placement policy's CPU order and where
// the exclusive roles go.
func writePlacementText(b *bytes.Buffer, m Machine) {
	textLine(b, "placement", "")
	first := -1
	for _, name := range PolicyNames {
		p, err := ParsePolicy(name)
		if err != nil {
			continue // cpus=LIST is a form, not a policy to show.
		}
		order, err := m.Order(p)
		switch {
		case err != nil:
			fmt.Fprintf(b, "  %-11s unavailable: %s\n", name, strings.TrimPrefix(err.Error(), "placement "+name+": "))
		case order == nil:
			fmt.Fprintf(b, "  %-11s not pinned\n", name)
		default:
			fmt.Fprintf(b, "  %-11s %s\n", name, formatOrder(order))
			if name == "compact" && len(order) > 0 {
				first = order[0]
			}
		}
	}
	if first >= 0 {
		var roles []string
		for _, name := range RolePlacementNames {
			cpu, err := m.PlaceRole(RolePlacement(name), []int{first})
			if err != nil {
				roles = append(roles, name+" -")
				continue
			}
			roles = append(roles, name+" "+strconv.Itoa(cpu))
		}
		fmt.Fprintf(b, "  %-11s %s\n", fmt.Sprintf("roles by %d", first), strings.Join(roles, ", "))
	}

}

// writeTargetsText writes the targets table.
func writeTargetsText(b *bytes.Buffer, targets []Target) error {
	if len(targets) == 0 {
		textLine(b, "targets", "none")
	} else {
		textLine(b, "targets", "")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  spec\tpath\tfs\tdevice\tkind\tmodel\trotational\tfree\tfallocate\tpunch-hole")
		for _, t := range targets {
			dev := t.Device
			if t.Underlying != "" {
				dev += " on " + t.Underlying
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				t.Spec, t.Path, orDash(t.FSType), orDash(dev), orDash(t.DeviceKind), orDash(t.Model),
				yesNo(t.Rotational), FormatBytes(t.FreeBytes), yesNo(t.Fallocate), yesNo(t.PunchHole))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// cachesText summarises the caches on one line: "L1d 32 KiB x16, ...,
// L3 32 MiB x4 (8 CPUs each); line 64 B". The sharing is shown only for
// caches shared beyond one core, the ones that matter for placement.
func cachesText(m Machine) string {
	if len(m.Caches) == 0 {
		return "unknown"
	}
	short := map[string]string{"data": "d", "instruction": "i", "unified": ""}
	var parts []string
	line := 0
	for _, c := range m.Caches {
		s := fmt.Sprintf("L%d%s %s x%d", c.Level, short[c.Type], FormatBytes(uint64(c.Size)), c.Instances)
		if c.CPUsPerInstance > max(m.ThreadsPerCore, 1) {
			s += fmt.Sprintf(" (%d CPUs each)", c.CPUsPerInstance)
		}
		parts = append(parts, s)
		line = max(line, c.LineSize)
	}
	return fmt.Sprintf("%s; line %d B", strings.Join(parts, ", "), line)
}

// formatOrder writes a CPU order, folding only runs of three or more
// consecutive CPUs into a range: in an order, "15-16" in the middle of
// "...,11,15-16,20,..." reads as a set, where "15,16" reads as two steps.
func formatOrder(order []int) string {
	var parts []string
	for i := 0; i < len(order); {
		j := i
		for j+1 < len(order) && order[j+1] == order[j]+1 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, formatList(order[i:j+1]))
			i = j + 1
			continue
		}
		parts = append(parts, strconv.Itoa(order[i]))
		i++
	}
	return strings.Join(parts, ",")
}

// sorted returns all CPUs (allowed or not) in compact order: node,
// package, LLC, core, ID.
func (m Machine) sorted() []CPU {
	all := m
	all.Allowed = ids(m.CPUs)
	return all.compact()
}

// sortedIDs returns the IDs of cpus in ascending order.
func sortedIDs(cpus []CPU) []int {
	out := ids(cpus)
	slices.Sort(out)
	return out
}

// joinInts joins ids with sep.
func joinInts(ids []int, sep string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, sep)
}

// plural writes "1 node" or "2 nodes".
func plural(n int, noun string) string {
	return strconv.Itoa(n) + " " + noun + pluralS(n)
}

// pluralS is "s" unless n is 1.
func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// orDash returns s, or "-" when s is empty, so columns never collapse.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// yesNo writes a bool as "yes" or "no".
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
