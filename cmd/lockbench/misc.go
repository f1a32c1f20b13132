//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"lockbench/hardware"
	"lockbench/hotpath"
)

func cmdList(args []string, stdout io.Writer) error {
	fs := newFlagSet("list")
	if done, err := parseNoArgs(fs, args, stdout); done || err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STRATEGY\tDESCRIPTION")
	for _, c := range hotpath.Choices() {
		fmt.Fprintf(tw, "%s\t%s\n", c.Name, c.Description)
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
				Machine hardware.Machine    `json:"machine"`
				Targets []hardware.Target   `json:"targets"`
				Zram    hardware.ZramStatus `json:"zram"`
			}{m, targets, hardware.Zram()})
		}
		if err := hardware.WriteText(stdout, m, targets); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "%-10s %s\n", "zram", hardware.Zram().Text())
		return err
	})
}
