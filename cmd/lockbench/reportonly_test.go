package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lockbench/hardware/desc"
	"lockbench/results"
)

// TestReportOnly runs the report-only build's program (main_other.go's, off
// Linux) here: it renders a results file and refuses every measuring command
// as a usage error (exit 2) that names what the build has.
func TestReportOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	f := &results.File{Schema: results.SchemaVersion, Tool: "lockbench", Command: "run", Created: time.Unix(0, 0).UTC(),
		Machine: desc.Machine{Hostname: "lab1", Kernel: "6.18", LogicalCPUs: 2}, Cells: []results.Cell{}}
	if err := results.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if err := runReportOnly([]string{"report", "-format", "json", path}, &out, &errw); err != nil {
		t.Fatalf("report: %v (stderr %q)", err, errw.String())
	}
	if !strings.Contains(out.String(), `"hostname": "lab1"`) {
		t.Errorf("report -format json wrote %q; want the file's machine", out.String())
	}
	for _, args := range [][]string{nil, {"run"}, {"verify", "-strategy", "none"}, {"hw"}, {"bogus"}} {
		out.Reset()
		err := runReportOnly(args, &out, &errw)
		var u usageError
		if !errors.As(err, &u) || exitCode(err, &errw) != 2 {
			t.Errorf("runReportOnly(%q) = %v; want a usage error (exit 2)", args, err)
			continue
		}
		if !strings.Contains(err.Error(), "report") {
			t.Errorf("runReportOnly(%q) = %q; want it to name report, the command this build has", args, err)
		}
	}
	out.Reset()
	if err := runReportOnly([]string{"help"}, &out, &errw); err != nil || !strings.Contains(out.String(), "lockbench report") {
		t.Errorf("help = %v, %q; want the report-only usage", err, out.String())
	}
}
