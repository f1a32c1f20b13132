package reports

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file holds the number formats every human-readable renderer (text,
// HTML, chart labels) shares, so a duration reads the same everywhere.

// formatPercent formats a fraction as a percentage: two decimals below 1%,
// one below 10%, none above: "0.42%", "3.1%", "27%".
func formatPercent(f float64) string {
	p := 100 * f
	switch {
	case math.IsNaN(p) || math.IsInf(p, 0):
		return "∞"
	case p < 1:
		return fmt.Sprintf("%.2f%%", p)
	case p < 10:
		return fmt.Sprintf("%.1f%%", p)
	}
	return fmt.Sprintf("%.0f%%", p)
}

// sig3 formats v (>= 0) with three significant digits and no trailing
// zeros after the point: 1.2, 12.3, 123, 1234.
func sig3(v float64) string {
	var s string
	switch {
	case v >= 100:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatNanos formats a duration given in nanoseconds with three
// significant digits and the largest unit that keeps it at or above 1:
// "850ns", "1.2µs", "12.3ms", "2.5s". NaN (no measurement) is "-".
func formatNanos(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "-"
	case ns == 0:
		return "0"
	case ns < 0:
		return "-" + formatNanos(-ns)
	case ns < 1e3:
		return sig3(ns) + "ns"
	case ns < 1e6:
		return sig3(ns/1e3) + "µs"
	case ns < 1e9:
		return sig3(ns/1e6) + "ms"
	}
	return sig3(ns/1e9) + "s"
}

// formatDuration is formatNanos for a time.Duration.
func formatDuration(d time.Duration) string { return formatNanos(float64(d)) }

// formatRate formats a count or rate with three significant digits and an
// SI suffix: "40", "401k", "1.2M". NaN is "-".
func formatRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v < 0:
		return "-" + formatRate(-v)
	case v < 1e3:
		return sig3(v)
	case v < 1e6:
		return sig3(v/1e3) + "k"
	case v < 1e9:
		return sig3(v/1e6) + "M"
	}
	return sig3(v/1e9) + "G"
}

// FormatCount formats a count as the text renderers do: three significant
// digits and an SI suffix ("40", "401k", "1.2M"), as the verify matrix
// (WriteMatrix) does, so that counts read the same everywhere.
func FormatCount(n int64) string { return formatRate(float64(n)) }

// formatRatio formats a ratio of medians: "×0.82", "×3.1"; NaN is "-".
func formatRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	return "×" + sig3(r)
}

// formatP formats a p-value: "p=0.029", "p=1".
func formatP(p float64) string {
	if p < 0.001 {
		return "p<0.001"
	}
	return "p=" + strings.TrimRight(strings.TrimRight(strconv.FormatFloat(p, 'f', 3, 64), "0"), ".")
}

// errWriter remembers the first error of an io.Writer so a renderer can
// write many lines and check once, without losing the error (the writes
// after a failure are skipped).
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

// intervalText formats the confidence interval of e: "±4.1%" when it is
// about symmetric and narrower than the value, else "[lo, hi]" in format,
// so that a wide or lopsided interval never reads as a percentage in the
// thousands. A reduced confidence level follows in parentheses. It is
// empty for fewer than two repetitions.
func intervalText(e Estimate, format func(float64) string) string {
	if !e.Valid() || e.N < 2 {
		return ""
	}
	var s string
	if intervalIsRange(e) {
		s = "[" + format(e.Lo) + ", " + format(e.Hi) + "]"
	} else {
		s = "±" + formatPercent(e.HalfWidth())
	}
	if e.Reduced() {
		s += fmt.Sprintf(" (%.0f%%)", 100*e.Level)
	}
	return s
}

// intervalIsRange reports whether e's interval reads better as [lo, hi]:
// wider than the median, or one side more than twice the other (and more
// than 2% of the median, so that tiny intervals stay "±").
func intervalIsRange(e Estimate) bool {
	if e.Median <= 0 {
		return e.Lo != e.Hi
	}
	up, down := e.Hi-e.Median, e.Median-e.Lo
	if e.HalfWidth() > 1 {
		return true
	}
	big, small := math.Max(up, down), math.Min(up, down)
	return big > 2*small && big > 0.02*e.Median
}
