package hardware

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// TargetForms lists the forms a -target entry takes, in the spelling of the
// flag help and of the error for an unknown one.
var TargetForms = []string{"tmpfs", "dir:PATH", "auto", "loop:ext4|xfs|btrfs[:SIZE]", "zram:ext4|xfs|btrfs[:SIZE]"}

// LoopFS is a filesystem a loop target can be made with.
type LoopFS struct {
	// Name is the filesystem type, which also names its mkfs.Name tool.
	Name string
	// Package is the Debian package that provides mkfs.Name.
	Package string
	// MinSize is the smallest image accepted, in bytes: one mkfs.Name
	// formats and that leaves at least MinFreeBytes free.
	MinSize int64
}

// LoopFilesystems lists the filesystems a loop target can be made with.
var LoopFilesystems = []LoopFS{
	{"ext4", "e2fsprogs", 128 << 20},
	{"xfs", "xfsprogs", 320 << 20}, // mkfs.xfs refuses anything under 300 MB.
	{"btrfs", "btrfs-progs", 256 << 20},
}

// DefaultLoopSize is the size of a loop image when the spec gives none.
const DefaultLoopSize = 1 << 30

// TargetSpec is one parsed entry of -target. Kind is "tmpfs", "dir" or
// "loop" or "zram"; Path is the directory of a dir target; FS and Size are
// the filesystem and image (device) size in bytes of a loop (zram) target. Auto marks the
// entries "auto" expanded to, which PrepareAll drops when they land on a
// filesystem an earlier target already covers.
type TargetSpec struct {
	Kind string
	Path string
	FS   string
	Size int64
	Auto bool
}

// String returns the spec in the form ParseTargets accepts: "tmpfs",
// "dir:/var/tmp", "loop:xfs:2G". It is the name a target goes by in results.
func (ts TargetSpec) String() string {
	switch ts.Kind {
	case "dir":
		return "dir:" + ts.Path
	case "loop", "zram":
		return ts.Kind + ":" + ts.FS + ":" + formatSize(ts.Size)
	}
	return ts.Kind
}

// ParseTargets parses a comma-separated list of targets: tmpfs, dir:PATH,
// auto, and loop:FS[:SIZE] and zram:FS[:SIZE] with FS one of ext4, xfs,
// btrfs and SIZE like 512M or 2G (default 1G). auto stands for tmpfs and a dir target on
// os.TempDir(). A relative PATH is made absolute against the working
// directory; a PATH cannot hold a comma, which separates entries. A target listed twice is an error, except that an entry auto
// expanded to gives way to the same entry written out.
func ParseTargets(spec string) ([]TargetSpec, error) {
	var out []TargetSpec
	add := func(ts TargetSpec) error {
		i := slices.IndexFunc(out, func(o TargetSpec) bool { return o.String() == ts.String() })
		switch {
		case i < 0:
			out = append(out, ts)
		case out[i].Auto:
			out[i].Auto = ts.Auto
		case !ts.Auto:
			return fmt.Errorf("target %s is listed twice in %q", ts, spec)
		}
		return nil
	}
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "auto" {
			if err := add(TargetSpec{Kind: "tmpfs", Auto: true}); err != nil {
				return nil, err
			}
			if err := add(TargetSpec{Kind: "dir", Path: filepath.Clean(os.TempDir()), Auto: true}); err != nil {
				return nil, err
			}
			continue
		}
		ts, err := parseTarget(entry)
		if err != nil {
			return nil, err
		}
		if err := add(ts); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseTarget parses one entry other than auto.
func parseTarget(entry string) (TargetSpec, error) {
	kind, rest, _ := strings.Cut(entry, ":")
	switch kind {
	case "":
		return TargetSpec{}, fmt.Errorf("empty target; allowed: %s", strings.Join(TargetForms, ", "))
	case "tmpfs":
		if rest != "" || strings.Contains(entry, ":") {
			return TargetSpec{}, fmt.Errorf("target %q: tmpfs takes no argument (use dir:PATH for a given tmpfs mount)", entry)
		}
		return TargetSpec{Kind: "tmpfs"}, nil
	case "dir":
		if rest == "" {
			return TargetSpec{}, fmt.Errorf("target %q: dir needs a path, as in dir:/var/tmp", entry)
		}
		abs, err := filepath.Abs(rest)
		if err != nil {
			return TargetSpec{}, fmt.Errorf("target %q: %w", entry, err)
		}
		return TargetSpec{Kind: "dir", Path: abs}, nil
	case "loop":
		return parseBlockTarget(entry, rest, "loop", DefaultLoopSize, "image", "loop:xfs:2G")
	case "zram":
		return parseZram(entry, rest)
	}
	return TargetSpec{}, fmt.Errorf("unknown target %q; allowed: %s", entry, strings.Join(TargetForms, ", "))
}

// SizeSuffixes are the suffixes ParseSize accepts, in the spelling of its
// error: powers of 1024, optionally followed by "iB" or "B".
const SizeSuffixes = "K, M, G or T"

// ParseSize parses a size in bytes with an optional binary suffix: "4096",
// "32K", "512M", "2G", "1T", also written "2GiB" or "2GB" (all powers of
// 1024, as sysfs and dd use them). It is the one size parser of lockbench:
// -file-size, -holetest-sizes and loop:FS:SIZE all go through it. Zero is
// a size; callers that need a positive one say so in their own error.
func ParseSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	// At most one "B" or "b", then at most one "i" right after a unit
	// letter: "2GiB", "2GB", "2G", "4096B"; "2GBBB" and "4096iii" are not
	// sizes.
	num = strings.TrimSuffix(strings.TrimSuffix(num, "B"), "b")
	unitI := strings.HasSuffix(num, "i")
	if unitI {
		num = num[:len(num)-1]
	}
	shift := 0
	if n := len(num); n > 0 {
		if i := strings.IndexByte("KMGT", num[n-1]&^0x20); i >= 0 {
			shift = 10 * (i + 1)
			num = num[:n-1]
		}
	}
	bad := fmt.Errorf("size %q is not a size: want bytes or a number with a %s suffix, such as 512M or 2G", s, SizeSuffixes)
	if unitI && shift == 0 || num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if errors.Is(err, strconv.ErrRange) || err == nil && n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q is too large: at most %s", s, FormatBytes(1<<62))
	}
	if err != nil {
		return 0, bad
	}
	return n << shift, nil
}

// formatSize writes n in the largest binary unit that divides it exactly,
// in the form parseSize reads: 1073741824 is "1G", 1536 MiB is "1536M".
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
