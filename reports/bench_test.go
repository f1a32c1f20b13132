package reports

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"lockbench/internal/benchname"
	"lockbench/results"
)

// TestBenchName: every strategy's names have the same keys (faultretry's
// options and the kernel's file system add none), so benchstat -col
// /strategy sets them side by side; the options are configuration.
func TestBenchName(t *testing.T) {
	c := results.Config{Strategy: "faultretry", Scenario: "fsync-storm", Target: "loop-1", Threads: 4, Options: "fallback=sigbus"}
	want := "Lockbench/strategy=faultretry/scenario=fsync-storm/target=loop_1/threads=4"
	if got := benchName(c); got != want {
		t.Errorf("benchName(%+v) = %q; want %q", c, got, want)
	}
	k := results.Config{Strategy: "kernel", Scenario: "fsync-storm", Target: "loop-1", Threads: 4}
	k.TargetInfo.FSType = "btrfs"
	if got, want := benchName(k), strings.Replace(want, "faultretry", "kernel", 1); got != want {
		t.Errorf("benchName(%+v) = %q; want %q", k, got, want)
	}
	f := &results.File{Cells: []results.Cell{{Config: c}, {Config: k}}}
	if got := optionsConfig(f); len(got) != 1 || got[0] != [2]string{"faultretry-options", "fallback=sigbus"} {
		t.Errorf("optionsConfig = %q; want one faultretry-options line", got)
	}
}

// The bench output reads back through golang.org/x/perf/benchfmt as
// exactly the results and unit lines written: no syntax error, every
// result named key=value with the op last, under the fixture's machine.
func TestBenchReadsBack(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, "bench", fixture()); err != nil {
		t.Fatal(err)
	}
	r := benchfmt.NewReader(&buf, "fixture.bench")
	results, units := 0, 0
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt: %v", rec)
		case *benchfmt.UnitMetadata:
			units++
		case *benchfmt.Result:
			results++
			_, parts := rec.Name.Parts()
			if len(parts) < 5 || !bytes.HasPrefix(parts[len(parts)-1], []byte("/op=")) {
				t.Errorf("result %q: want /strategy=../scenario=../target=../threads=../op=..", rec.Name)
			}
			if got := rec.GetConfig("target-fs"); got != "tmpfs" {
				t.Errorf("result %q: target-fs = %q; want tmpfs", rec.Name, got)
			}
			if got := rec.GetConfig("cpu"); got == "" {
				t.Errorf("result %q: no cpu configuration", rec.Name)
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if results != 12 || units != len(benchname.Units) {
		t.Errorf("read %d results and %d unit lines; want 12 and %d", results, units, len(benchname.Units))
	}
}

// The bench format carries no timestamp, seed or run id:
// configuration lines describe the machine only.
func TestBenchConfigDescribesMachineOnly(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, "bench", fixture()); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "Unit ") {
			continue
		}
		key, _, ok := strings.Cut(line, ":")
		if !ok {
			t.Errorf("line %q is neither a result, a unit nor a configuration line", line)
			continue
		}
		switch key {
		case "cpu", "logical-cpus", "kernel", "machine", "target-fs", "target-device":
		default:
			t.Errorf("configuration line %q: key %q does not describe the machine", line, key)
		}
	}
}

// TestBenchstatParses runs benchstat (golang.org/x/perf/cmd/benchstat) on
// the bench output when it is on PATH: it must parse every line without
// complaint and, with -col /strategy, compare rwsem against none.
func TestBenchstatParses(t *testing.T) {
	bin, err := exec.LookPath("benchstat")
	if err != nil {
		t.Skip("benchstat not on PATH (go install golang.org/x/perf/cmd/benchstat@latest)")
	}
	var buf bytes.Buffer
	if err := Render(&buf, "bench", fixture()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lockbench.bench")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{path}, {"-col", "/strategy", path}} {
		cmd := exec.Command(bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("benchstat %v: %v\n%s", args, err, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("benchstat %v complained:\n%s", args, stderr.String())
		}
		out := stdout.String()
		for _, want := range []string{"ops/s", "p99-sec/op", "sec/op", "scenario=fsync-storm"} {
			if !strings.Contains(out, want) {
				t.Errorf("benchstat %v output lacks %q:\n%s", args, want, out)
			}
		}
		if len(args) > 1 && !strings.Contains(out, "vs base") {
			t.Errorf("benchstat -col /strategy did not compare strategies:\n%s", out)
		}
	}
}
