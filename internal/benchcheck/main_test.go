package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	const good = `Unit ops/s better=higher
goos: linux
pkg: lockbench
BenchmarkHotpath/strategy=none/scenario=fault-scale/target=tmpfs/threads=1-2   	 100	 115.0 ns/op	 7821510 ops/s	 0 B/op	 0 allocs/op
BenchmarkPrimitive/lock=rwsem/op=read/threads=2 	 100	 6.2 ns/op	 0 B/op	 1 allocs/op
PASS
ok  	lockbench	3.415s
`
	tests := []struct {
		name    string
		args    []string
		in      string
		wantErr string // "" for success
		wantOut string
	}{
		// Good input.
		{"clean", nil, good, "", "2 results, 1 unit lines"},
		{"zero allocs holds where asked", []string{"-zero-allocs", "^Hotpath/"}, good, "", "2 results"},
		// Each way to fail.
		{"allocs where zero is required", []string{"-zero-allocs", "Primitive"}, good, "1 problem", "1 allocs/op; want 0"},
		{"unparsable benchmark line", nil, good + "BenchmarkX/a=b 10 fast ns/op\n", "1 problem", "parsing measurement"},
		{"missing units", nil, "BenchmarkX/a=b 10 12\n", "1 problem", "missing units"},
		{"name part not key=value", nil, "BenchmarkX/a=b/plain 10 12 ns/op\n", "1 problem", `"/plain" is not /key=value`},
		{"empty value", nil, "BenchmarkX/a= 10 12 ns/op\n", "1 problem", "not /key=value"},
		{"no results", nil, "PASS\nok lockbench 0.1s\n", "no benchmark results", ""},
		// Bad usage.
		{"bad regexp", []string{"-zero-allocs", "("}, good, "-zero-allocs", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, strings.NewReader(tt.in), &out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run(%q) = %v; want success", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("run(%q) = %v; want an error containing %q", tt.args, err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("run(%q) printed %q; want it to contain %q", tt.args, out.String(), tt.wantOut)
			}
		})
	}
}
