package strategies

import (
	"fmt"
	"strings"
)

// LockTable renders, as a Markdown table, the locks every strategy asks for
// at every lock site. docs/DESIGN.md embeds it; a test keeps them equal.
func LockTable() string {
	var b strings.Builder
	b.WriteString("| lock site |")
	for _, s := range All {
		fmt.Fprintf(&b, " %s |", s.Name)
	}
	b.WriteString("\n|---|")
	for range All {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for op := Op(0); op < NumOps; op++ {
		fmt.Fprintf(&b, "| %s |", op)
		for _, s := range All {
			st, _ := New(s.Name, Options{})
			fmt.Fprintf(&b, " %s |", st.Plan(op).Locks())
		}
		b.WriteString("\n")
	}
	return b.String()
}
