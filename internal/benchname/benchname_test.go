package benchname

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/perf/benchfmt"
)

func TestValue(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// Unchanged.
		{"fsync-storm", "fsync-storm"},
		{"sync.RWMutex", "sync.RWMutex"},
		{"nvme0n1", "nvme0n1"},
		{"2", "2"},
		{"p99.9", "p99.9"},
		{"kernel(ext4)", "kernel(ext4)"},
		// Separators of the name format become '_'.
		{"ext4/dev/sda", "ext4_dev_sda"},
		{"gup-share=0.3,fallback=sigbus", "gup-share_0.3,fallback_sigbus"},
		{"a b\tc\nd", "a_b_c_d"},
		{"no\u00a0break", "no_break"}, // Unicode white space ends a name too
		{"bell\x07", "bell_"},         // non-printable
		{"bad\xffutf8", "bad_utf8"},   // invalid UTF-8
		// A trailing -<digits> would read as GOMAXPROCS.
		{"loop-2", "loop_2"},
		{"ram-disk-16", "ram-disk_16"},
		{"-1", "_1"},
		{"a/b-3", "a_b_3"},
		// Digits not after a '-', or a '-' not followed by digits, are fine.
		{"sda2", "sda2"},
		{"x-", "x-"},
		{"-", "-"},
		{"2-a", "2-a"},
		// Empty is spelled out.
		{"", "unset"},
	}
	for _, tt := range tests {
		if got := Value(tt.in); got != tt.want {
			t.Errorf("Value(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		kv   []string
		want string
	}{
		{nil, ""},
		{[]string{"lock", "rwsem"}, "lock=rwsem"},
		{[]string{"strategy", "rwsem", "scenario", "fsync-storm", "target", "tmpfs", "threads", "2"},
			"strategy=rwsem/scenario=fsync-storm/target=tmpfs/threads=2"},
		// Keys are cleaned like values.
		{[]string{"a/b", "c d", "k", "loop-1"}, "a_b=c_d/k=loop_1"},
	}
	for _, tt := range tests {
		if got := Join(tt.kv...); got != tt.want {
			t.Errorf("Join(%q) = %q; want %q", tt.kv, got, tt.want)
		}
	}
}

func TestJoinOddPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Join(\"k\") did not panic; want a panic for the missing value")
		}
	}()
	//lint:ignore SA5012 an odd number of arguments is what this test checks
	Join("k")
}

// checkName parses "Benchmark" + name as one line of the Go benchmark
// format and checks that it reads back as exactly the parts built: one
// name, no GOMAXPROCS suffix, and key=value parts equal to want.
func checkName(t *testing.T, base, name string, want [][2]string) {
	t.Helper()
	line := "Benchmark" + base + "/" + name + " 1 1 ns/op\n"
	r := benchfmt.NewReader(strings.NewReader(line), "fuzz")
	if !r.Scan() {
		t.Fatalf("benchfmt read nothing from %q", line)
	}
	res, ok := r.Result().(*benchfmt.Result)
	if !ok {
		t.Fatalf("benchfmt read %q as %v; want a result", line, r.Result())
	}
	_, parts := res.Name.Parts()
	if len(parts) != len(want) {
		t.Fatalf("%q has %d parts %q; want %d", name, len(parts), parts, len(want))
	}
	for i, p := range parts {
		if !bytes.HasPrefix(p, []byte("/")) {
			t.Fatalf("part %d of %q is %q: not a /key=value part (a GOMAXPROCS suffix?)", i, name, p)
		}
		k, v, ok := bytes.Cut(p[1:], []byte("="))
		if !ok || bytes.ContainsRune(v, '=') {
			t.Fatalf("part %d of %q is %q; want exactly one '='", i, name, p)
		}
		if string(k) != want[i][0] || string(v) != want[i][1] {
			t.Fatalf("part %d of %q = %s=%s; want %s=%s", i, name, k, v, want[i][0], want[i][1])
		}
	}
	if r.Scan() {
		t.Fatalf("benchfmt read a second record from %q: %v", line, r.Result())
	}
}

// FuzzJoin checks the promise of Value on any input: the name parses as
// the parts that were built, no part ends in -<digits>, Value is
// idempotent, and values that need no change are kept.
func FuzzJoin(f *testing.F) {
	for _, s := range [][2]string{
		{"rwsem", "2"}, {"loop-2", "a b"}, {"a/b=c", "-7"}, {"", "\u2028"}, {"x\xff", "kernel(btrfs)"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		name := Join("strategy", v1, "threads", v2)
		want := [][2]string{{"strategy", Value(v1)}, {"threads", Value(v2)}}
		checkName(t, "Hotpath", name, want)
		for _, v := range []string{v1, v2} {
			got := Value(v)
			if Value(got) != got {
				t.Errorf("Value(Value(%q)) = %q; want %q (idempotent)", v, Value(got), got)
			}
			if strings.ContainsAny(got, "/= \t\n") {
				t.Errorf("Value(%q) = %q holds a separator", v, got)
			}
			if i := strings.LastIndexByte(got, '-'); i >= 0 && i+1 < len(got) && strings.Trim(got[i+1:], "0123456789") == "" {
				t.Errorf("Value(%q) = %q ends in -<digits>", v, got)
			}
		}
		if clean(v1) && Value(v1) != v1 {
			t.Errorf("Value(%q) = %q; a clean value must be kept", v1, Value(v1))
		}
	})
}

// clean reports whether v needs no change: valid UTF-8, printable, no
// separator or white space, no trailing -<digits>, not empty. Written
// independently of Value.
func clean(v string) bool {
	if v == "" || !utf8.ValidString(v) || strings.ContainsAny(v, "/=") {
		return false
	}
	for _, r := range v {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	t := strings.TrimRight(v, "0123456789")
	return !(len(t) < len(v) && strings.HasSuffix(t, "-"))
}
