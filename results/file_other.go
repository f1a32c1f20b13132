//go:build !unix

package results

import (
	"errors"
	"io/fs"
)

// Off Unix there are no such flags, and files have no uid: links are
// followed as the system does (report is all that builds there).
const (
	oNoFollow = 0
	oNonblock = 0
	oNoctty   = 0
)

var (
	errNoReader    = errors.New("no reader")
	errNameTooLong = errors.New("file name too long")
)

func fileOwner(fs.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
