package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
			if err := os.MkdirAll(d.path, 0o755); err != nil {
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
