package hardware

import (
	"bufio"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
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
