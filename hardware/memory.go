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
	// InUse is, for RLIMIT_NPROC, the tasks (processes and threads) that
	// the limit already counts besides this process: those of its real
	// uid. Zero for RLIMIT_AS.
	InUse uint64
}

// limitsForTest, when set, is what AddressSpaceLimit and ProcessLimit
// return (SetLimitsForTest).
var limitsForTest *[2]Limit

// getrlimit reads a resource limit's soft value.
func getrlimit(resource int) (Limit, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(resource, &rl); err != nil {
		return Limit{}, err
	}
	return Limit{Value: rl.Cur, Limited: rl.Cur != unix.RLIM_INFINITY}, nil
}

// AddressSpaceLimit is RLIMIT_AS (ulimit -v): the virtual memory this
// process may map, heap, stacks and the mapped backing files together.
func AddressSpaceLimit() (Limit, error) {
	if limitsForTest != nil {
		return limitsForTest[0], nil
	}
	return getrlimit(unix.RLIMIT_AS)
}

// ProcessLimit is RLIMIT_NPROC (ulimit -u) with the tasks it already
// counts: the kernel checks it at each fork and thread creation against
// every process and thread of the caller's real uid, not this process's
// alone, so a user with other work running reaches it sooner.
func ProcessLimit() (Limit, error) {
	if limitsForTest != nil {
		return limitsForTest[1], nil
	}
	lim, err := getrlimit(unix.RLIMIT_NPROC)
	if err != nil {
		return lim, err
	}
	return processLimit(rootFS, lim, os.Getuid(), os.Getpid())
}

// The capabilities that lift RLIMIT_NPROC (linux/capability.h).
const (
	capSysAdmin    = 21
	capSysResource = 24
)

// processLimit completes the RLIMIT_NPROC limit lim of the process pid of
// real uid uid with the tasks in use, from fsys's proc/. The kernel
// (copy_process in kernel/fork.c) does not enforce the limit on the root
// user (real uid 0) nor on a process with CAP_SYS_RESOURCE or
// CAP_SYS_ADMIN in its effective set: for those, no limit. Otherwise the
// count is the sum of Threads: over the processes whose real uid (the
// first field of Uid:) is uid, this process left out (its threads are the
// caller's to count). Processes in other PID namespaces are not visible
// and not counted; a process that exits during the scan is skipped.
func processLimit(fsys fs.FS, lim Limit, uid, pid int) (Limit, error) {
	if !lim.Limited {
		return lim, nil
	}
	if uid == 0 {
		return Limit{}, nil
	}
	self, err := readStatus(fsys, "proc/self/status")
	if err != nil {
		return lim, fmt.Errorf("reading this process's capabilities: %w", err)
	}
	if capEff, err := strconv.ParseUint(self["CapEff"], 16, 64); err == nil && capEff&(1<<capSysResource|1<<capSysAdmin) != 0 {
		return Limit{}, nil
	}
	n, err := userTasks(fsys, uid, pid)
	lim.InUse = n
	return lim, err
}

// userTasks counts the tasks (processes and threads) of real uid uid in
// fsys's proc/, the process pid left out.
func userTasks(fsys fs.FS, uid, pid int) (uint64, error) {
	entries, err := fs.ReadDir(fsys, "proc")
	if err != nil {
		return 0, fmt.Errorf("counting the tasks of uid %d: %w", uid, err)
	}
	var total uint64
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n <= 0 || n == pid {
			continue
		}
		st, err := readStatus(fsys, "proc/"+e.Name()+"/status")
		if err != nil {
			continue // exited meanwhile
		}
		ids := strings.Fields(st["Uid"])
		if len(ids) == 0 || ids[0] != strconv.Itoa(uid) {
			continue
		}
		threads, err := strconv.ParseUint(st["Threads"], 10, 32)
		if err != nil || threads == 0 {
			threads = 1 // a zombie shows no Threads: line, and still counts
		}
		total += threads
	}
	return total, nil
}

// readStatus reads the "Key:\tvalue" lines of a /proc/PID/status file.
func readStatus(fsys fs.FS, name string) (map[string]string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, nil
}

// SetLimitsForTest replaces the limits AddressSpaceLimit and ProcessLimit
// return until the returned function restores them.
func SetLimitsForTest(as, nproc Limit) (restore func()) {
	old := limitsForTest
	limitsForTest = &[2]Limit{as, nproc}
	return func() { limitsForTest = old }
}
