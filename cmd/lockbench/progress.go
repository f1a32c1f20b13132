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
	// k and name are the current cell's, and cellStart when it began, for
	// within.
	k         int
	name      string
	cellStart time.Time
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
	p.k, p.name, p.cellStart = k+p.base, name, time.Now()
	p.draw(0, "")
}

// within redraws the current cell's line with frac of the cell done and
// detail ("312k of 1M ops"), for a cell long enough to need it (verify
// with an operation budget); the ETA counts the done share of the cell.
func (p *progress) within(frac float64, detail string) {
	if !p.on || p.k == 0 {
		return
	}
	p.draw(min(max(frac, 0), 1), detail)
}

func (p *progress) draw(frac float64, detail string) {
	k := p.k
	el := time.Since(p.start)
	done := float64(k-1) + frac
	eta := "?"
	if done > 0 {
		eta = time.Duration(float64(el) / done * (float64(p.total) - done)).Round(time.Second).String()
	}
	const width = 20
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if float64(i) < width*done/float64(p.total) {
			bar[i] = '='
		}
	}
	name := p.name
	if detail != "" {
		name += " (" + detail + ")"
	}
	fmt.Fprintf(p.w, "\r\033[K[%s] %d/%d %s  elapsed %s  eta %s", bar, k, p.total, name, el.Round(time.Second), eta)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
