package results

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"lockbench/hardware/desc"
)

// schema1 is a results file as lockbench wrote it before kernel cells
// (schema 1): no usage, no sigbus_beyond_eof.
const schema1 = `{"schema": 1, "tool": "lockbench", "command": "run", "created": "2026-01-01T00:00:00Z",
 "incomplete": false, "machine": {}, "cells": [{"config": {"strategy": "rwsem", "scenario": "punch", "threads": 2,
 "target": "tmpfs", "target_info": {"spec": "tmpfs", "path": "/dev/shm", "fs_type": "tmpfs"}, "pin": "none", "seed": 1,
 "file_size": 1048576, "page_size": 4096, "duration_ns": 1000000000, "warmup_ns": 0, "reps": 1, "oracle": false,
 "delay_injection": false}, "incomplete": false, "reps": [{"index": 0, "elapsed_ns": 1000000000, "incomplete": false,
 "timer_floor_ns": 30, "ops": [{"op": "store", "role": "faulter", "count": 10, "per_second": 10, "sample_every": 64,
 "latency": {"samples": 1, "mean_ns": 50, "p50_ns": 50, "p90_ns": 50, "p99_ns": 50, "p999_ns": 50, "max_ns": 50}}],
 "counters": {"faults": 3, "sigbus": 0}, "workers": [{"id": 0, "role": "faulter", "cpu": -1, "ops": 10}],
 "violations_total": 0}]}]}`

// TestReadSchemaVersions: the current and the previous schema read; any
// other version is refused with a message naming both.
func TestReadSchemaVersions(t *testing.T) {
	f, err := Read(strings.NewReader(schema1))
	if err != nil {
		t.Fatalf("Read(schema 1) = %v; want it read", err)
	}
	if f.Schema != 1 || len(f.Cells) != 1 || f.Cells[0].Reps[0].Counters.Faults != 3 {
		t.Errorf("Read(schema 1) = schema %d, %d cells; want schema 1 with its cell and counters", f.Schema, len(f.Cells))
	}
	if w := f.Cells[0].Reps[0].Workers[0]; w.Usage != nil {
		t.Errorf("a schema 1 worker has usage %+v; want none", *w.Usage)
	}
	for _, v := range []int{0, SchemaVersion + 1, 99} {
		src := strings.Replace(schema1, `"schema": 1`, `"schema": `+itoa(v), 1)
		_, err := Read(strings.NewReader(src))
		if err == nil {
			t.Errorf("Read(schema %d) = nil error; want a refusal", v)
			continue
		}
		for _, want := range []string{"schema version " + itoa(v), "version 1 to " + itoa(SchemaVersion)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Read(schema %d) = %q; want it to mention %q", v, err, want)
			}
		}
	}
	if _, err := Read(strings.NewReader("{not json")); err == nil {
		t.Error("Read(garbage) = nil error; want the decoder's")
	}
}

func itoa(v int) string { b, _ := json.Marshal(v); return string(b) }

// TestKernelCellRoundTrip: a kernel cell, with its per-thread usage and
// the new counter, survives writing and reading unchanged.
func TestKernelCellRoundTrip(t *testing.T) {
	in := &File{Schema: SchemaVersion, Tool: "lockbench", Created: time.Unix(0, 0).UTC(), Cells: []Cell{{
		Config: Config{Engine: EngineKernel, Strategy: StrategyKernel, Scenario: "punch", Threads: 2, Target: "loop:btrfs",
			TargetInfo: desc.Target{Spec: "loop:btrfs", FSType: "btrfs", PunchHole: true}},
		Reps: []Rep{{Counters: Counters{SigbusBeyondEOF: 7}, Workers: []Worker{
			{ID: 0, Role: "faulter", CPU: -1, Ops: 100, Usage: &ThreadUsage{MinorFaults: 9, MajorFaults: 1, Voluntary: 4, Involuntary: 2}},
			{ID: 1, Role: "puncher", CPU: -1, Ops: 5},
		}}},
	}}}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(in); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), `"usage"`) != 1 {
		t.Errorf("encoded file has %d usage fields; want 1 (omitted for the worker without one)", strings.Count(buf.String(), `"usage"`))
	}
	out, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip changed the file:\n got %+v\nwant %+v", out.Cells[0].Reps[0], in.Cells[0].Reps[0])
	}
}

// TestReadBeforeEngine: a version 2 file written before Config.Engine (by
// lockbench at 737a19c: `lockbench run -strategy rwsem,kernel -scenario
// punch -threads 1 -ops 2000 -target tmpfs`), where "kernel" was only a
// strategy name, reads with each cell's engine filled in from its strategy;
// a schema 1 cell is the model's; an engine the file names is kept.
func TestReadBeforeEngine(t *testing.T) {
	f, err := ReadFile(filepath.Join("testdata", "schema2-before-engine.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range f.Cells {
		got = append(got, c.Config.Strategy+":"+c.Config.Engine)
	}
	if want := []string{"rwsem:" + EngineModel, StrategyKernel + ":" + EngineKernel}; !reflect.DeepEqual(got, want) {
		t.Errorf("cells' strategy:engine = %q; want %q", got, want)
	}
	f1, err := Read(strings.NewReader(schema1))
	if err != nil {
		t.Fatal(err)
	}
	if e := f1.Cells[0].Config.Engine; e != EngineModel {
		t.Errorf("schema 1 cell: engine %q; want %q", e, EngineModel)
	}
	named := strings.Replace(schema1, `"strategy": "rwsem"`, `"engine": "kernel", "strategy": "rwsem"`, 1)
	if f2, err := Read(strings.NewReader(named)); err != nil || f2.Cells[0].Config.Engine != EngineKernel {
		t.Errorf("a named engine: %v; want it kept (%q)", err, EngineKernel)
	}
}
