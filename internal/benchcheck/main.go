// Command benchcheck reads `go test -bench` output with
// golang.org/x/perf/benchfmt's Reader, the parser benchstat uses, and fails
// when benchstat could not read it cleanly. CI runs it on the benchmark
// smoke run:
//
//	go test -run '^$' -bench . -benchtime 1x -benchmem . | go run ./internal/benchcheck
//
// It exits 1 when a benchmark line does not parse, when a result's name has
// a part that is not key=value, when no result was read at all, or (with
// -zero-allocs REGEXP) when a result whose name matches reports allocs/op
// above 0; 2 on a usage error. It prints a one-line summary.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"

	"golang.org/x/perf/benchfmt"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchcheck:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

// run checks the files named in args, or stdin when there are none.
func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	zero := fs.String("zero-allocs", "", "fail when a result whose full name matches this regexp has allocs/op > 0")
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Errorf("%v (usage: benchcheck [-zero-allocs REGEXP] [file ...])", err)}
	}
	var zeroRE *regexp.Regexp
	if *zero != "" {
		re, err := regexp.Compile(*zero)
		if err != nil {
			return usageError{fmt.Errorf("-zero-allocs: %v", err)}
		}
		zeroRE = re
	}
	c := &checker{zero: zeroRE}
	if fs.NArg() == 0 {
		c.read(stdin, "stdin")
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		c.read(f, name)
		f.Close()
	}
	if c.err != nil {
		return c.err
	}
	if len(c.problems) > 0 {
		for _, p := range c.problems {
			fmt.Fprintln(stdout, p)
		}
		return fmt.Errorf("%d problem(s) in %d results", len(c.problems), c.results)
	}
	if c.results == 0 {
		return errors.New("no benchmark results read")
	}
	fmt.Fprintf(stdout, "benchcheck: %d results, %d unit lines, all readable by benchfmt\n", c.results, c.units)
	return nil
}

type checker struct {
	zero     *regexp.Regexp
	results  int
	units    int
	problems []string
	err      error
}

func (c *checker) read(r io.Reader, name string) {
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			c.problems = append(c.problems, rec.Error())
		case *benchfmt.UnitMetadata:
			c.units++
		case *benchfmt.Result:
			c.results++
			c.check(rec)
		}
	}
	if err := br.Err(); err != nil && c.err == nil {
		c.err = err
	}
}

// check looks at one result: every part of its name after the base is
// /key=value, and allocs/op is 0 where -zero-allocs asks.
func (c *checker) check(res *benchfmt.Result) {
	file, line := res.Pos()
	at := fmt.Sprintf("%s:%d: %s", file, line, res.Name)
	_, parts := res.Name.Parts()
	for _, p := range parts {
		if len(p) == 0 || p[0] == '-' { // the GOMAXPROCS suffix
			continue
		}
		k, v, ok := bytes.Cut(p[1:], []byte("="))
		if p[0] != '/' || !ok || len(k) == 0 || len(v) == 0 || bytes.ContainsRune(v, '=') {
			c.problems = append(c.problems, fmt.Sprintf("%s: name part %q is not /key=value", at, p))
		}
	}
	if c.zero == nil || !c.zero.Match(res.Name.Full()) {
		return
	}
	for _, v := range res.Values {
		if v.Unit == "allocs/op" && v.Value > 0 {
			c.problems = append(c.problems, fmt.Sprintf("%s: %v allocs/op; want 0", at, v.Value))
		}
	}
}
