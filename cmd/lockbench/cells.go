//go:build linux

package main

import (
	"iter"

	"lockbench/hardware"
	"lockbench/hotpath"
)

// grid is the cross product a run, sweep or verify goes through:
// targets x scenarios x threads x strategies, each cell repeated reps
// times (verify's repetitions are its seeds).
type grid struct {
	strategies []string
	scenarios  []hotpath.Scenario
	threads    []int
	targets    []hardware.Target
	reps       int
	// runs, when set, says whether the cell of a strategy and a scenario
	// runs at all (the kernel engine skips scenarios without a real
	// counterpart).
	runs func(strategy string, sc hotpath.Scenario) bool
}

// point is one repetition of one cell of a grid.
type point struct {
	Strategy string
	Scenario hotpath.Scenario
	Threads  int
	Target   hardware.Target
	Rep      int // 0 .. reps-1; 0 starts a new cell
	Cell     int // index of the cell, 0 .. cells-1
}

// cells is the number of cells of g.
func (g grid) cells() int {
	n := 0
	for _, sc := range g.scenarios {
		for _, sn := range g.strategies {
			if g.runs == nil || g.runs(sn, sc) {
				n++
			}
		}
	}
	return n * len(g.targets) * len(g.threads)
}

// points yields every repetition of every cell in the order lockbench
// runs them: by target, then scenario, then threads, then strategy, so
// that the strategies of one configuration run back to back.
func (g grid) points() iter.Seq[point] {
	return func(yield func(point) bool) {
		k := 0
		for _, tgt := range g.targets {
			for _, sc := range g.scenarios {
				for _, th := range g.threads {
					for _, sn := range g.strategies {
						if g.runs != nil && !g.runs(sn, sc) {
							continue
						}
						for r := range max(g.reps, 1) {
							if !yield(point{Strategy: sn, Scenario: sc, Threads: th, Target: tgt, Rep: r, Cell: k}) {
								return
							}
						}
						k++
					}
				}
			}
		}
	}
}
