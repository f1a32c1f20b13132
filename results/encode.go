package results

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Compressed reports whether a results file at path is written
// gzip-compressed: a name ending in ".gz" (the default study's
// lockbench-results.json.gz). Read takes either form whatever the name.
func Compressed(path string) bool { return strings.HasSuffix(path, ".gz") }

// Encode writes f as JSON to w, gzip-compressed when gz is set, compact
// then (JSON's white space is a third of an indented file, which gzip
// takes out anyway) and indented otherwise. It streams: it holds one
// cell's encoding at a time, never the whole file's. A nil Cells is
// written as []. A file of schema 4 or later is written compacted
// (Cell.Compact: the histograms in the compact form); f is not changed.
func Encode(w io.Writer, f *File, gz bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var out io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(bw)
		out = zw
	}
	if err := encodeFile(out, f, !gz); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// fileHead is a File without its cells, which encodeFile writes one by
// one after it: the outer Cells hides the File's.
type fileHead struct {
	*File
	Cells *struct{} `json:"cells,omitempty"`
}

// encodeFile writes the file's other fields, then "cells" last, a cell
// at a time.
func encodeFile(w io.Writer, f *File, indent bool) error {
	marshal := json.Marshal
	sep, open, close := ",", `,"cells":[`, "]}\n"
	if indent {
		marshal = func(v any) ([]byte, error) { return json.MarshalIndent(v, "    ", "  ") }
		sep, open, close = ",\n    ", ",\n  \"cells\": [\n    ", "\n  ]\n}\n"
	}
	var head []byte
	var err error
	if indent {
		head, err = json.MarshalIndent(fileHead{File: f}, "", "  ")
	} else {
		head, err = json.Marshal(fileHead{File: f})
	}
	if err != nil {
		return err
	}
	// head is {...}: the cells go in before its closing brace.
	head = bytes.TrimRight(head[:len(head)-1], "\n")
	if len(f.Cells) == 0 {
		open, close = `,"cells":[`, "]}\n"
		if indent {
			open, close = ",\n  \"cells\": [", "]\n}\n"
		}
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	if _, err := io.WriteString(w, open); err != nil {
		return err
	}
	for i := range f.Cells {
		c := &f.Cells[i]
		if f.Schema >= 4 {
			cc := c.Compact()
			c = &cc
		}
		b, err := marshal(c)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, sep); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, close)
	return err
}

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// decode reads a results file, plain or gzip-compressed JSON, a cell at a
// time: the decoder holds one cell's text, not the file's.
func decode(r io.Reader) (*File, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var zr *gzip.Reader
	if magic, err := br.Peek(2); err == nil && bytes.Equal(magic, gzipMagic) {
		if zr, err = gzip.NewReader(br); err != nil {
			return nil, err
		}
		zr.Multistream(false)
		r = zr
	} else {
		r = br
	}
	f, err := decodeJSON(json.NewDecoder(r))
	if err != nil {
		return nil, err
	}
	// The JSON ends before the gzip trailer: read it, so that a truncated
	// or corrupted stream fails its checksum instead of passing.
	if zr != nil {
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func decodeJSON(dec *json.Decoder) (*File, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	// Every field but the cells is gathered as raw JSON and decoded into
	// the File at the end; the cells are decoded one by one.
	head := []byte{'{'}
	var cells []Cell
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		if key != "cells" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, err
			}
			if len(head) > 1 {
				head = append(head, ',')
			}
			kb, _ := json.Marshal(key)
			head = append(append(append(head, kb...), ':'), raw...)
			continue
		}
		if t, err := dec.Token(); err != nil {
			return nil, err
		} else if t == nil {
			continue // "cells": null
		} else if d, ok := t.(json.Delim); !ok || d != '[' {
			return nil, fmt.Errorf("cells: want an array, got %v", t)
		}
		cells = []Cell{}
		for dec.More() {
			var c Cell
			if err := dec.Decode(&c); err != nil {
				return nil, fmt.Errorf("cell %d: %w", len(cells), err)
			}
			cells = append(cells, c)
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(append(head, '}'), &f); err != nil {
		return nil, err
	}
	f.Cells = cells
	return &f, nil
}

// expectDelim reads the next token and checks that it is d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if got, ok := t.(json.Delim); !ok || got != d {
		return fmt.Errorf("invalid results file: want %q, got %v", d, t)
	}
	return nil
}
