// Package benchname builds the key=value names of every Go benchmark in
// lockbench, and of the benchmark lines that `lockbench report -format bench`
// writes, so that benchstat can slice them (-col /strategy, -row .name):
//
//	Join("strategy", "rwsem", "threads", "2") = "strategy=rwsem/threads=2"
//
// It is the one name builder of the repository; benchmarks_test.go,
// strategies/locks/primbench, hotpath/clock and reports all call it. It imports
// only the standard library, so that any package may use it.
package benchname

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Join returns the parts k1=v1/k2=v2/... with every key and value passed
// through Value. It panics on an odd number of arguments (a programming
// error in a benchmark, not an input).
func Join(kv ...string) string {
	if len(kv)%2 != 0 {
		panic("benchname.Join: odd number of arguments (want key, value pairs)")
	}
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(Value(kv[i]))
		b.WriteByte('=')
		b.WriteString(Value(kv[i+1]))
	}
	return b.String()
}

// Value makes v safe as one key or value of a benchmark name:
//
//   - '/' (it separates parts), '=' (it separates a key from its value),
//     white space (it ends the name in the benchmark format, which splits
//     at unicode.IsSpace), non-printable runes (go test would escape them)
//     and invalid UTF-8 each become '_';
//   - a trailing "-<digits>" becomes "_<digits>": benchstat reads
//     "-<digits>" at the end of a name as the GOMAXPROCS suffix;
//   - the empty string becomes "unset".
//
// Value is idempotent, and a value with none of these is returned as is.
func Value(v string) string {
	if v == "" {
		return "unset"
	}
	var b []byte
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRuneInString(v[i:])
		if r == '/' || r == '=' || r == utf8.RuneError && n == 1 || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			if b == nil {
				b = append(make([]byte, 0, len(v)), v[:i]...)
			}
			b = append(b, '_')
		} else if b != nil {
			b = append(b, v[i:i+n]...)
		}
		i += n
	}
	if b == nil {
		b = []byte(v)
	}
	// "-<digits>" at the end: turn its '-' into '_'.
	i := len(b)
	for i > 0 && b[i-1] >= '0' && b[i-1] <= '9' {
		i--
	}
	if i < len(b) && i > 0 && b[i-1] == '-' {
		b[i-1] = '_'
	}
	return string(b)
}
