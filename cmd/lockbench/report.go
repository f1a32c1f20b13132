package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"lockbench/reports"
	"lockbench/results"
)

// cmdReport renders results files. It measures nothing, so it builds on
// every GOOS: a results file from a Linux lab reads on a laptop.
func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report")
	format := fs.String("format", "text", "output format on stdout: "+strings.Join(reports.Formats, ", ")+" (json of several files: one array); with -o or -charts, only when given")
	dir := fs.String("o", "", "write a report directory instead of tables on stdout: DIR/index.html with its PNG charts beside it, the files side by side")
	charts := fs.String("charts", "", "write the PNG charts of each file into this directory instead of tables on stdout")
	each := fs.Bool("each", false, "with two files, report each instead of comparing the second (new) with the first (base)")
	agreement := fs.Bool("agreement", false, "with two study files: how far their findings agree (the differences either states, matched by id: the share both state in the same direction, and those in opposite directions), with every disagreement")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("report: give one or more results files")
	}
	if *agreement && (fs.NArg() != 2 || *each || *dir != "" || *charts != "") {
		return usagef("report -agreement: give exactly two results files, without -each, -o or -charts")
	}
	reporter, err := reports.NewReporter(*format)
	if err != nil {
		return usagef("-format: %v", err)
	}
	// A directory named by a link that another user planted where others
	// can write is not followed (results.WriteAtomic's rule): refused
	// before any file is read, in one line.
	for _, d := range []struct{ flag, path string }{{"-o", *dir}, {"-charts", *charts}} {
		if d.path != "" {
			if err := results.CheckLink(strings.TrimRight(d.path, "/")); err != nil {
				return usagef("%s: %v", d.flag, err)
			}
		}
	}
	var files []*results.File
	for _, path := range fs.Args() {
		f, err := results.ReadFile(path)
		if err != nil {
			return err
		}
		// Which file and which run: stderr, so that stdout stays the
		// format asked for (benchstat reads it).
		fmt.Fprintf(stderr, "report: %s\n", reports.FileLine(path, f))
		files = append(files, f)
	}
	if *agreement {
		return reports.WriteAgreement(stdout, fs.Arg(0), fs.Arg(1), reports.Agree(files[0], files[1]))
	}
	outDirs := []struct{ flag, path string }{{"-o", *dir}, {"-charts", *charts}}
	for _, d := range outDirs {
		if d.path != "" {
			if err := results.MkdirAll(d.path); err != nil {
				return fmt.Errorf("%s: %w", d.flag, err)
			}
		}
	}
	if *charts != "" {
		n := 0
		for _, f := range files {
			paths, err := reports.WriteCharts(*charts, f)
			if err != nil {
				return err
			}
			n += len(paths)
		}
		fmt.Fprintf(stdout, "charts: %s (%d PNG files)\n", *charts, n)
	}
	if *dir != "" {
		if err := reports.WriteReportDir(*dir, files); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(*dir, "index.html"))
	}
	// With a directory asked for, stdout says only where it is, unless a
	// format was asked for too.
	formatGiven := false
	fs.Visit(func(f *flag.Flag) { formatGiven = formatGiven || f.Name == "format" })
	if (*dir != "" || *charts != "") && !formatGiven {
		return nil
	}
	if len(files) == 2 && !*each {
		switch *format {
		case "text":
			return reports.CompareText(stdout, files[0], files[1])
		case "html":
			return reports.CompareHTML(stdout, files[0], files[1])
		}
	}
	return reporter(stdout, files)
}
