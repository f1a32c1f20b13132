package desc

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFormatBytes(t *testing.T) {
	for _, tt := range []struct {
		in   uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {32 << 20, "32 MiB"}, {3 << 29, "1.5 GiB"},
		{25276514304, "23.5 GiB"}, {1 << 60, "1 EiB"}, {^uint64(0), "16 EiB"},
	} {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestJSONNames pins the field names results files carry: the move from
// package hardware must not have changed the schema.
func TestJSONNames(t *testing.T) {
	b, err := json.Marshal(struct {
		M Machine
		T Target
	}{Machine{CPUs: []CPU{{}}, Caches: []Cache{{}}}, Target{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"fingerprint"`, `"logical_cpus"`, `"cpu":{"vendor"`, `"invariant_tsc"`, `"threads_per_core"`,
		`"allowed_cpus"`, `"siblings"`, `"size_bytes"`, `"cpus_per_instance"`, `"fs_type"`, `"punch_hole"`, `"free_bytes"`} {
		if !strings.Contains(string(b), name) {
			t.Errorf("JSON %s lacks %s", b, name)
		}
	}
}
