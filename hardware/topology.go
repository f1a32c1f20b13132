package hardware

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Paths of the kernel files DetectFS reads, relative to the root of its
// fs.FS.
const (
	cpuDir        = "sys/devices/system/cpu"
	nodeDir       = "sys/devices/system/node"
	onlineFile    = cpuDir + "/online"
	statusFile    = "proc/self/status"
	cpuinfoFile   = "proc/cpuinfo"
	osreleaseFile = "proc/sys/kernel/osrelease"
	hostnameFile  = "proc/sys/kernel/hostname"
	clockFile     = "sys/devices/system/clocksource/clocksource0/current_clocksource"
)

// Detect describes the machine this process runs on: CPUID as read at
// start-up, the kernel's topology from /sys and /proc, and the CPUs the
// calling thread's affinity mask allows (sched_getaffinity). Call it before
// pinning anything, from an unpinned goroutine, or Allowed will be the pin.
func Detect() (Machine, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return Machine{}, fmt.Errorf("hardware: reading the CPU affinity mask: %w", err)
	}
	return DetectFS(os.DirFS("/"), cpusOf(&set), CPUIDInfo())
}

// DetectFS describes the machine whose /sys and /proc are in fsys, an fs.FS
// rooted at "/". It reads the online CPUs, each CPU's core, package and
// caches, the NUMA nodes, the kernel release, the hostname and the
// clocksource. allowed is the affinity mask as a CPU list; when it is nil,
// DetectFS reads Cpus_allowed_list from proc/self/status instead, which is
// how tests describe a restricted process. cpu is the CPUID answer (see
// CPUIDInfo); DetectFS sets its InvariantTSC from proc/cpuinfo.
//
// A file that only some kernels or machines have (caches, NUMA nodes,
// clocksource, hostname) is optional: without caches the LLC falls back to
// the package, without nodes every CPU is on node 0. The online list and
// each CPU's core_id are required.
func DetectFS(fsys fs.FS, allowed []int, cpu CPUInfo) (Machine, error) {
	online, err := readList(fsys, onlineFile)
	if err != nil {
		return Machine{}, fmt.Errorf("hardware: reading online CPUs: %w", err)
	}
	if len(online) == 0 {
		return Machine{}, fmt.Errorf("hardware: %s lists no CPUs", onlineFile)
	}
	m := Machine{CPUModel: cpu.Brand, CPU: cpu, LogicalCPUs: len(online)}
	m.CPU.Features = append([]string{}, cpu.Features...)
	m.CPU.InvariantTSC = invariantTSC(fsys)
	m.Kernel, _ = readString(fsys, osreleaseFile)
	m.Hostname, _ = readString(fsys, hostnameFile)
	m.Clocksource, _ = readString(fsys, clockFile)

	t, err := readTopology(fsys, online)
	if err != nil {
		return Machine{}, err
	}
	m.CPUs = t.cpus
	m.Caches = t.caches
	m.Packages, m.Cores, m.LLCs, m.Nodes = t.count()
	for _, c := range m.CPUs {
		m.ThreadsPerCore = max(m.ThreadsPerCore, len(c.Siblings))
	}

	if allowed == nil {
		if allowed, err = allowedFromStatus(fsys); err != nil {
			return Machine{}, err
		}
	}
	m.Allowed = intersect(allowed, online)
	if len(m.Allowed) == 0 {
		return Machine{}, fmt.Errorf("hardware: the affinity mask (%s) allows none of the online CPUs (%s)",
			formatList(allowed), formatList(online))
	}
	m.Fingerprint = fingerprint(m)
	return m, nil
}

// topology is what readTopology found, before it is copied into a Machine.
type topology struct {
	cpus   []CPU
	caches []Cache
}

// count returns the number of distinct packages, cores, LLCs and nodes.
func (t topology) count() (packages, cores, llcs, nodes int) {
	distinct := func(key func(CPU) int) int {
		seen := map[int]bool{}
		for _, c := range t.cpus {
			seen[key(c)] = true
		}
		return len(seen)
	}
	return distinct(func(c CPU) int { return c.Package }),
		distinct(func(c CPU) int { return c.Core }),
		distinct(func(c CPU) int { return c.LLC }),
		distinct(func(c CPU) int { return c.Node })
}

// cacheIndex is one cpuN/cache/indexK directory.
type cacheIndex struct {
	level    int
	typ      string
	size     int64
	line     int
	shared   []int
	sharedID string // formatList(shared), the key that identifies an instance
}

// readTopology reads the topology of the online CPUs.
func readTopology(fsys fs.FS, online []int) (topology, error) {
	nodeOf, err := readNodes(fsys)
	if err != nil {
		return topology{}, err
	}
	raws := make([]rawCPU, len(online))
	// Caches are summarised per level and type; each instance is counted
	// once, keyed by its shared_cpu_list.
	instances := map[cacheKey]map[string]cacheIndex{}
	for i, id := range online {
		if raws[i], err = readCPU(fsys, id, online, instances); err != nil {
			return topology{}, err
		}
	}
	// Without cache information the LLC is taken to be the package, the
	// coarsest domain that still tells sockets apart.
	for i := range raws {
		if raws[i].llc == nil {
			for j, r := range raws {
				if r.pkg == raws[i].pkg {
					raws[i].llc = append(raws[i].llc, online[j])
				}
			}
		}
	}
	return topology{cpus: numberCPUs(raws, online, nodeOf), caches: summarizeCaches(instances)}, nil
}

// rawCPU is what sysfs says about one CPU before cores and LLCs are numbered.
type rawCPU struct {
	pkg      int
	siblings []int
	llc      []int
}

// cacheKey is a cache level and type ("data", "instruction", "unified").
type cacheKey struct {
	level int
	typ   string
}

// readCPU reads CPU id's package, thread siblings and caches, adding its
// cache instances to instances.
func readCPU(fsys fs.FS, id int, online []int, instances map[cacheKey]map[string]cacheIndex) (rawCPU, error) {
	dir := fmt.Sprintf("%s/cpu%d", cpuDir, id)
	if _, err := readInt(fsys, dir+"/topology/core_id"); err != nil {
		return rawCPU{}, fmt.Errorf("hardware: CPU %d: reading its core: %w", id, err)
	}
	pkg, err := readInt(fsys, dir+"/topology/physical_package_id")
	if err != nil || pkg < 0 {
		pkg = 0 // Some hypervisors report -1 or nothing: one package.
	}
	siblings, err := readList(fsys, dir+"/topology/thread_siblings_list")
	if err != nil {
		siblings = []int{id}
	}
	siblings = intersect(siblings, online)
	if !slices.Contains(siblings, id) {
		return rawCPU{}, fmt.Errorf("hardware: CPU %d: thread_siblings_list %s does not include the CPU itself",
			id, formatList(siblings))
	}
	indexes, err := readCaches(fsys, dir+"/cache", online)
	if err != nil {
		return rawCPU{}, fmt.Errorf("hardware: CPU %d: %w", id, err)
	}
	var llc []int
	llcLevel := 0
	for _, ci := range indexes {
		k := cacheKey{ci.level, ci.typ}
		if instances[k] == nil {
			instances[k] = map[string]cacheIndex{}
		}
		instances[k][ci.sharedID] = ci
		if ci.typ != "instruction" && ci.level > llcLevel && slices.Contains(ci.shared, id) {
			llc, llcLevel = ci.shared, ci.level
		}
	}
	return rawCPU{pkg: pkg, siblings: siblings, llc: llc}, nil
}

// numberCPUs numbers cores and LLCs in order of each group's lowest CPU;
// online is ascending, so first appearance is that order.
func numberCPUs(raws []rawCPU, online []int, nodeOf map[int]int) []CPU {
	var cpus []CPU
	coreIdx, llcIdx := map[string]int{}, map[string]int{}
	index := func(m map[string]int, key string) int {
		if n, ok := m[key]; ok {
			return n
		}
		m[key] = len(m)
		return m[key]
	}
	for i, id := range online {
		r := raws[i]
		node, ok := nodeOf[id]
		if !ok {
			node = 0
		}
		cpus = append(cpus, CPU{
			ID:       id,
			Core:     index(coreIdx, strconv.Itoa(r.pkg)+":"+formatList(r.siblings)),
			Package:  r.pkg,
			LLC:      index(llcIdx, formatList(r.llc)),
			Node:     node,
			Siblings: r.siblings,
		})
	}
	return cpus
}

// summarizeCaches turns the cache instances into one Cache per level and
// type, sorted by level.
func summarizeCaches(instances map[cacheKey]map[string]cacheIndex) []Cache {
	var caches []Cache
	for k, insts := range instances {
		c := Cache{Level: k.level, Type: k.typ, Instances: len(insts)}
		for _, ci := range insts {
			c.Size = max(c.Size, ci.size)
			c.LineSize = max(c.LineSize, ci.line)
			c.CPUsPerInstance = max(c.CPUsPerInstance, len(ci.shared))
		}
		caches = append(caches, c)
	}
	slices.SortFunc(caches, func(a, b Cache) int {
		if a.Level != b.Level {
			return a.Level - b.Level
		}
		return strings.Compare(a.Type, b.Type)
	})
	return caches
}

// readCaches reads the cache/indexK directories of one CPU. A CPU without a
// cache directory has no caches; a malformed entry is an error.
func readCaches(fsys fs.FS, dir string, online []int) ([]cacheIndex, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading caches: %w", err)
	}
	var out []cacheIndex
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "index") {
			continue
		}
		d := path.Join(dir, e.Name())
		level, err := readInt(fsys, d+"/level")
		if err != nil {
			return nil, fmt.Errorf("reading caches: %w", err)
		}
		typ, err := readString(fsys, d+"/type")
		if err != nil {
			return nil, fmt.Errorf("reading caches: %w", err)
		}
		shared, err := readList(fsys, d+"/shared_cpu_list")
		if err != nil {
			return nil, fmt.Errorf("reading caches: %w", err)
		}
		shared = intersect(shared, online)
		ci := cacheIndex{level: level, typ: strings.ToLower(typ), shared: shared, sharedID: formatList(shared)}
		if s, err := readString(fsys, d+"/size"); err == nil {
			ci.size, _ = ParseSize(s)
		}
		ci.line, _ = readInt(fsys, d+"/coherency_line_size")
		out = append(out, ci)
	}
	return out, nil
}

// readNodes maps each CPU to its NUMA node from nodeN/cpulist. A kernel
// without NUMA support has no node directory, and then the map is empty.
func readNodes(fsys fs.FS) (map[int]int, error) {
	nodeOf := map[int]int{}
	entries, err := fs.ReadDir(fsys, nodeDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nodeOf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hardware: reading NUMA nodes: %w", err)
	}
	for _, e := range entries {
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "node"))
		if !strings.HasPrefix(e.Name(), "node") || err != nil {
			continue
		}
		cpus, err := readList(fsys, path.Join(nodeDir, e.Name(), "cpulist"))
		if err != nil {
			return nil, fmt.Errorf("hardware: reading NUMA node %d: %w", n, err)
		}
		for _, c := range cpus {
			nodeOf[c] = n
		}
	}
	return nodeOf, nil
}

// allowedFromStatus reads Cpus_allowed_list from proc/self/status.
func allowedFromStatus(fsys fs.FS) ([]int, error) {
	f, err := fsys.Open(statusFile)
	if err != nil {
		return nil, fmt.Errorf("hardware: reading the allowed CPUs: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			ids, err := parseList(v)
			if err != nil {
				return nil, fmt.Errorf("hardware: %s: %w", statusFile, err)
			}
			slices.Sort(ids)
			return slices.Compact(ids), nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hardware: reading %s: %w", statusFile, err)
	}
	return nil, fmt.Errorf("hardware: %s has no Cpus_allowed_list line", statusFile)
}

// invariantTSC reports whether the kernel flags the TSC as both constant
// and nonstop, which it does exactly when CPUID 0x80000007 EDX bit 8
// (invariant TSC) is set. A missing /proc/cpuinfo reads as false.
func invariantTSC(fsys fs.FS) bool {
	b, err := fs.ReadFile(fsys, cpuinfoFile)
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if name, flags, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "flags" {
			f := strings.Fields(flags)
			return slices.Contains(f, "constant_tsc") && slices.Contains(f, "nonstop_tsc")
		}
	}
	return false
}

// intersect returns the IDs of a that are also in b, sorted and without
// duplicates.
func intersect(a, b []int) []int {
	out := []int{}
	for _, id := range a {
		if slices.Contains(b, id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// cpuSetBits is the number of CPUs a unix.CPUSet can name (1024).
const cpuSetBits = int(unsafe.Sizeof(unix.CPUSet{})) * 8

// cpusOf lists the CPUs in set in ascending order.
func cpusOf(set *unix.CPUSet) []int {
	ids := []int{}
	for id := range cpuSetBits {
		if set.IsSet(id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// fingerprint hashes what identifies the machine as a benchmark platform:
// the CPU model, the kernel, the topology and the caches. It leaves out the
// hostname (a renamed host is the same machine), the affinity mask (taskset
// does not change the machine) and anything time-dependent.
func fingerprint(m Machine) string {
	h := sha256.New()
	fmt.Fprintf(h, "cpu %s|%s|%d|%d|%d\n", m.CPU.Vendor, m.CPU.Brand, m.CPU.Family, m.CPU.Model, m.CPU.Stepping)
	fmt.Fprintf(h, "kernel %s\n", m.Kernel)
	for _, c := range m.CPUs {
		fmt.Fprintf(h, "cpu%d %d %d %d %d %s\n", c.ID, c.Core, c.Package, c.LLC, c.Node, formatList(c.Siblings))
	}
	for _, c := range m.Caches {
		fmt.Fprintf(h, "L%d %s %d %d %d\n", c.Level, c.Type, c.Size, c.Instances, c.CPUsPerInstance)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
