package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"lockbench/hardware"
	"lockbench/hotpath"
	"lockbench/reports"
	"lockbench/results"
	"lockbench/strategies"
)

func cmdList(args []string, stdout io.Writer) error {
	fs := newFlagSet("list")
	if done, err := parseNoArgs(fs, args, stdout); done || err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STRATEGY\tDESCRIPTION")
	for _, s := range strategies.All {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Description)
		if s.Name == strategies.Baseline() {
			fmt.Fprintf(tw, "%s\t%s\n", hotpath.KernelName, hotpath.KernelDescription)
		}
	}
	fmt.Fprintln(tw, "\nSCENARIO\tRACE\tDESCRIPTION")
	for _, s := range hotpath.Scenarios {
		r := s.Race.String()
		if r == "" {
			r = "-"
		}
		d := s.Description
		if err := hotpath.KernelRefusal(s); err != nil {
			d += " [model only]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, r, d)
	}
	return tw.Flush()
}

func cmdHW(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("hw")
	asJSON := fs.Bool("json", false, "print the description as JSON")
	target := fs.String("target", "auto", "targets to describe (as for run)")
	if done, err := parseNoArgs(fs, args, stdout); done || err != nil {
		return err
	}
	m, err := hardware.Detect()
	if err != nil {
		return err
	}
	specs, err := hardware.ParseTargets(*target)
	if err != nil {
		return usagef("-target: %v", err)
	}
	return withTargets(ctx, specs, stderr, func(targets []hardware.Target) error {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				Machine hardware.Machine  `json:"machine"`
				Targets []hardware.Target `json:"targets"`
			}{m, targets})
		}
		return hardware.WriteText(stdout, m, targets)
	})
}

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report")
	format := fs.String("format", "text", "output format on stdout: "+strings.Join(reports.Formats, ", ")+" (json of several files: one array); with -o or -charts, only when given")
	dir := fs.String("o", "", "write a report directory instead of tables on stdout: DIR/index.html with its PNG charts beside it, the files side by side")
	charts := fs.String("charts", "", "write the PNG charts of each file into this directory instead of tables on stdout")
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
		// Which file and which run: stderr, so that stdout stays the
		// format asked for (benchstat reads it).
		fmt.Fprintf(stderr, "report: %s\n", reports.FileLine(path, f))
		files = append(files, f)
	}
	for _, d := range []struct{ flag, path string }{{"-o", *dir}, {"-charts", *charts}} {
		if d.path != "" {
			if err := os.MkdirAll(d.path, 0o755); err != nil {
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
		fmt.Fprintf(stdout, "charts: %s (%s)\n", *charts, plural(n, "PNG file"))
	}
	if *dir != "" {
		if err := reports.WriteReportDir(*dir, files); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(*dir, "index.html"))
	}
	if (*dir != "" || *charts != "") && !flagGiven(fs, "format") {
		return nil
	}
	return reporter(stdout, files)
}
