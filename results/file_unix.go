//go:build unix

package results

import (
	"io/fs"
	"syscall"
)

// The open flags and errors of the write path's checks, where they exist.
const (
	oNoFollow = syscall.O_NOFOLLOW
	oNonblock = syscall.O_NONBLOCK
	oNoctty   = syscall.O_NOCTTY
)

var (
	errNoReader    error = syscall.ENXIO // a FIFO opened for writing with no reader
	errNameTooLong error = syscall.ENAMETOOLONG
)

// fileOwner returns the owner of the file fi describes.
func fileOwner(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
