package ktrace

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Symbols is the kernel's text symbol table, sorted by address, for
// resolving call-chain addresses to function names.
type Symbols struct {
	addr []uint64
	name []string
}

// LoadKallsyms reads /proc/kallsyms. Without root (kptr_restrict) every
// address reads as zero: that is an error, since no address could be
// resolved.
func LoadKallsyms() (*Symbols, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseKallsyms(f)
}

// ParseKallsyms reads a kallsyms listing ("ffffffff815a45f0 T __folio_lock",
// module symbols with a "[module]" suffix). Only text symbols are kept.
func ParseKallsyms(r io.Reader) (*Symbols, error) {
	type sym struct {
		a uint64
		n string
	}
	var syms []sym
	nonzero := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		switch f[1] {
		case "t", "T", "w", "W":
		default:
			continue
		}
		a, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("kallsyms: bad address %q", f[0])
		}
		if a != 0 {
			nonzero = true
		}
		syms = append(syms, sym{a, baseName(f[2])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("kallsyms: no text symbols")
	}
	if !nonzero {
		return nil, fmt.Errorf("kallsyms: all addresses are hidden (kptr_restrict; needs root)")
	}
	sort.SliceStable(syms, func(i, j int) bool { return syms[i].a < syms[j].a })
	s := &Symbols{addr: make([]uint64, len(syms)), name: make([]string, len(syms))}
	for i, x := range syms {
		s.addr[i], s.name[i] = x.a, x.n
	}
	return s, nil
}

// Resolve returns the function containing address a ("" when a is below
// every symbol). The function is the last symbol at or below a.
func (s *Symbols) Resolve(a uint64) string {
	i := sort.Search(len(s.addr), func(i int) bool { return s.addr[i] > a })
	if i == 0 {
		return ""
	}
	return s.name[i-1]
}

// baseName drops the compiler's suffixes from a symbol name: the function
// "__xfs_write_fault.constprop.0" (or .isra.0, .part.0, .cold) is
// __xfs_write_fault to the attribution rules.
func baseName(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}
