package hardware

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// maxCPU bounds the CPU IDs accepted from lists: the kernel's own limit
// (CONFIG_NR_CPUS) is at most 8192, so anything larger is a typo and would
// otherwise make a range like "0-4000000000" allocate without bound.
const maxCPU = 8191

// parseList parses the kernel's CPU list format ("0-3,8,10-11"), as found in
// sysfs *_list files and in the cpus= placement, into IDs in the order
// written. Whitespace around the list is ignored and an empty list is valid.
// Duplicates are kept; callers that care reject them.
func parseList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var ids []int
	for part := range strings.SplitSeq(s, ",") {
		if p := strings.TrimSpace(part); strings.HasPrefix(p, "-") {
			return nil, fmt.Errorf("CPU list %q: %q is negative; CPU numbers run from 0 to %d", s, p, maxCPU)
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parseCPU(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		last := first
		if isRange {
			if last, err = parseCPU(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", s, err)
			}
			if last < first {
				return nil, fmt.Errorf("CPU list %q: range %s runs backwards", s, part)
			}
		}
		for id := first; id <= last; id++ {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// parseCPU parses one CPU ID of a list.
func parseCPU(s string) (int, error) {
	id, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || id < 0 || id > maxCPU {
		return 0, fmt.Errorf("%q is not a CPU number between 0 and %d", s, maxCPU)
	}
	return id, nil
}

// formatList writes ids in the kernel's list format, folding runs of
// consecutive ascending IDs into ranges and keeping the order otherwise, so
// formatList(parseList(s)) reproduces an explicit order such as "4,0-3".
func formatList(ids []int) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ids[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ids[j]))
		}
		i = j + 1
	}
	return b.String()
}

// readString reads a small sysfs or procfs file and trims surrounding white
// space.
func readString(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// readInt reads a file holding one decimal integer.
func readInt(fsys fs.FS, name string) (int, error) {
	s, err := readString(fsys, name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", name, s)
	}
	return n, nil
}

// readList reads a file holding a CPU list and returns it sorted.
func readList(fsys fs.FS, name string) ([]int, error) {
	s, err := readString(fsys, name)
	if err != nil {
		return nil, err
	}
	ids, err := parseList(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// evalSymlinks resolves every symbolic link in name, which must be a valid
// fs.FS path, the way filepath.EvalSymlinks does on the real filesystem.
// sysfs is a forest of relative links (sys/dev/block/259:1 ->
// ../../devices/.../nvme0n1/nvme0n1p1), and the real path is what tells a
// partition from its disk. fsys must implement fs.ReadLinkFS (os.DirFS and
// fstest.MapFS do); otherwise links are not seen and name is returned as is.
func evalSymlinks(fsys fs.FS, name string) (string, error) {
	rest := strings.Split(name, "/")
	resolved := ""
	for hops := 0; len(rest) > 0; {
		next := path.Join(resolved, rest[0])
		rest = rest[1:]
		info, err := fs.Lstat(fsys, next)
		if err != nil {
			return "", err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("resolving %s: too many levels of symbolic links", name)
		}
		target, err := fs.ReadLink(fsys, next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			target = path.Clean(target)[1:]
		} else {
			target = path.Join(resolved, target)
		}
		if !fs.ValidPath(target) {
			return "", fmt.Errorf("resolving %s: link %s points outside the tree", name, next)
		}
		rest = append(strings.Split(target, "/"), rest...)
		resolved = ""
	}
	return resolved, nil
}
