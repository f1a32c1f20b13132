package hardware

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MemAvailable returns the memory the kernel estimates is available to a
// new process without swapping (MemAvailable of /proc/meminfo), in bytes.
func MemAvailable() (uint64, error) { return memAvailable(rootFS) }

func memAvailable(fsys fs.FS) (uint64, error) {
	f, err := fsys.Open("proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading available memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading available memory: /proc/meminfo: %q", sc.Text())
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading available memory: %w", err)
	}
	return 0, fmt.Errorf("reading available memory: /proc/meminfo has no MemAvailable line")
}

// Limit is a resource limit of this process: its soft value, and whether
// there is one (RLIM_INFINITY is none).
type Limit struct {
	Value   uint64
	Limited bool
}

// getrlimit reads a resource limit; a variable so that tests can set one.
var getrlimit = func(resource int) (Limit, error) {
	if resource == unix.RLIMIT_NPROC && os.Geteuid() == 0 {
		return Limit{}, nil // not enforced on root
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(resource, &rl); err != nil {
		return Limit{}, err
	}
	return Limit{Value: rl.Cur, Limited: rl.Cur != unix.RLIM_INFINITY}, nil
}

// AddressSpaceLimit is RLIMIT_AS (ulimit -v): the virtual memory this
// process may map, heap, stacks and the mapped backing files together.
func AddressSpaceLimit() (Limit, error) { return getrlimit(unix.RLIMIT_AS) }

// ProcessLimit is RLIMIT_NPROC (ulimit -u): the threads this user may run,
// which the kernel does not enforce on root.
func ProcessLimit() (Limit, error) {
	return getrlimit(unix.RLIMIT_NPROC)
}

// SetLimitsForTest replaces the limits AddressSpaceLimit and ProcessLimit
// read until the returned function restores them.
func SetLimitsForTest(as, nproc Limit) (restore func()) {
	old := getrlimit
	getrlimit = func(resource int) (Limit, error) {
		if resource == unix.RLIMIT_AS {
			return as, nil
		}
		return nproc, nil
	}
	return func() { getrlimit = old }
}
