//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// progress prints "cell k/n, current cell, elapsed, ETA" on stderr when it
// is a terminal, and nothing otherwise.
//
// Note: schollz/progressbar was considered; a bar that redraws one line is
// all lockbench needs, and this keeps redraws off the measured path (it is
// only called between cells).
type progress struct {
	w     io.Writer
	on    bool
	total int
	// base is added to every cell number: a study runs several grids
	// under one bar.
	base  int
	start time.Time
}

func newProgress(w io.Writer, total int, quiet bool) *progress {
	on := false
	if f, ok := w.(*os.File); ok && !quiet {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		on = err == nil
	}
	return &progress{w: w, on: on, total: total, start: time.Now()}
}

func (p *progress) cell(k int, name string) {
	if !p.on {
		return
	}
	k += p.base
	el := time.Since(p.start)
	eta := "?"
	if k > 1 {
		eta = (el / time.Duration(k-1) * time.Duration(p.total-k+1)).Round(time.Second).String()
	}
	const width = 20
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < width*(k-1)/p.total {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.w, "\r\033[K[%s] %d/%d %s  elapsed %s  eta %s", bar, k, p.total, name, el.Round(time.Second), eta)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
