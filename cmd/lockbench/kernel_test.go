package main

import (
	"testing"
	"time"
)

// TestModelOnlyFlags: every row of the one model-only list names a flag of
// run's command line, its default asks the model for nothing, and a value
// that asks for something is reported under the row's name.
func TestModelOnlyFlags(t *testing.T) {
	var f runFlags
	fs := newFlagSet("run")
	f.register(fs, "rwsem", "fault-scale")
	if got := f.modelOptions().firstSet(); got != "" {
		t.Errorf("run's defaults set model-only flag %s; want none", got)
	}
	set := map[string]modelOptions{
		"-oracle":          {oracle: true},
		"-delay":           {delay: time.Microsecond},
		"-gup-share":       {gupShare: 0.5},
		"-fallback":        {fallback: "convert-unlocked"},
		"-retry-contended": {retryContended: true},
	}
	for _, row := range modelOnlyFlags {
		if fs.Lookup(row.name[1:]) == nil {
			t.Errorf("model-only flag %s is not a flag of run", row.name)
		}
		o, ok := set[row.name]
		if !ok {
			t.Errorf("model-only flag %s has no case in this test", row.name)
			continue
		}
		if got := o.firstSet(); got != row.name {
			t.Errorf("%+v: firstSet = %q; want %q", o, got, row.name)
		}
	}
	if len(set) != len(modelOnlyFlags) {
		t.Errorf("%d cases for %d model-only flags", len(set), len(modelOnlyFlags))
	}
}
