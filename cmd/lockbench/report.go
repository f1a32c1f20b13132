package main

import (
	"fmt"
	"io"
	"strings"

	"lockbench/reports"
	"lockbench/results"
)

// cmdReport renders results files. It measures nothing, so it builds on
// every GOOS: a results file from a Linux lab reads on a laptop.
func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report")
	format := fs.String("format", "text", "output format on stdout: "+strings.Join(reports.Formats, ", ")+" (json of several files: one array)")
	dir := fs.String("o", "", "also write a report directory: DIR/index.html with its PNG charts beside it, the files side by side")
	charts := fs.String("charts", "", "also write the PNG charts of each file into this directory")
	each := fs.Bool("each", false, "with two files, report each instead of comparing the second (new) with the first (base)")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("report: give one or more results files")
	}
	reporter, err := reports.NewReporter(*format)
	if err != nil {
		return usagef("-format: %v", err)
	}
	var files []*results.File
	for _, path := range fs.Args() {
		f, err := results.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	for _, d := range []struct{ flag, path string }{{"-o", *dir}, {"-charts", *charts}} {
		if d.path != "" {
			// A directory named by a link that another user planted where
			// others can write is not followed (results.WriteAtomic's rule).
			if err := results.CheckLink(strings.TrimRight(d.path, "/")); err != nil {
				return usagef("%s: %v", d.flag, err)
			}
			if err := results.MkdirAll(d.path); err != nil {
				return fmt.Errorf("%s: %w", d.flag, err)
			}
		}
	}
	if *charts != "" {
		for _, f := range files {
			if _, err := reports.WriteCharts(*charts, f); err != nil {
				return err
			}
		}
	}
	if *dir != "" {
		if err := reports.WriteReportDir(*dir, files); err != nil {
			return err
		}
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
