package reports

import (
	"fmt"
	"io"

	"github.com/HdrHistogram/hdrhistogram-go"

	"lockbench/results"
)

// WriteHDRLog writes the latency histograms of one operation (such as
// "write-fault") of every cell and repetition as an HdrHistogram log (format
// 1.3), readable by HdrHistogram's tools (HistogramLogProcessor, hdr-plot).
// Each interval is tagged with the cell (strategy, scenario, threads, target,
// repetition); its values are nanoseconds.
func WriteHDRLog(w io.Writer, f *results.File, op string) error {
	lw := hdrhistogram.NewHistogramLogWriter(w)
	if err := lw.OutputLogFormatVersion(); err != nil {
		return err
	}
	start := f.Created.UnixMilli()
	if err := lw.OutputStartTime(start); err != nil {
		return err
	}
	if err := lw.OutputComment(fmt.Sprintf("lockbench %s, op %s, values in ns, machine %s", f.Command, op, f.Machine.Fingerprint)); err != nil {
		return err
	}
	if err := lw.OutputLegend(); err != nil {
		return err
	}
	found := false
	offset := int64(0)
	for _, c := range f.Cells {
		for _, r := range c.Reps {
			for _, o := range r.Ops {
				if o.Op != op || o.Hist == "" {
					continue
				}
				h, err := results.DecodeHist(o.Hist)
				if err != nil {
					return fmt.Errorf("hdr log: cell %s/%s rep %d: %w", c.Config.Strategy, c.Config.Scenario, r.Index, err)
				}
				h.SetStartTimeMs(start + offset)
				offset += r.Elapsed.Milliseconds()
				h.SetEndTimeMs(start + offset)
				h.SetTag(sanitizeTag(fmt.Sprintf("strategy=%s;scenario=%s;threads=%d;target=%s;rep=%d",
					c.Config.Strategy, c.Config.Scenario, c.Config.Threads, c.Config.Target, r.Index)))
				if err := lw.OutputIntervalHistogram(h); err != nil {
					return err
				}
				found = true
			}
		}
	}
	if !found {
		return fmt.Errorf("hdr log: no histogram of op %q in the results", op)
	}
	return nil
}

// sanitizeTag keeps a tag free of the log format's separators.
func sanitizeTag(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case ' ', ':', '\t':
			b[i] = '_'
		case ',':
			b[i] = ';'
		}
	}
	return string(b)
}
