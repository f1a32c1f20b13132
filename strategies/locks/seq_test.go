package locks

import (
	"sync"
	"testing"
	"unsafe"
)

// TestSeq is the cookie protocol: a cookie is valid until the next Bump.
func TestSeq(t *testing.T) {
	var s Seq
	c := s.Load()
	if c != 0 {
		t.Fatalf("zero Seq: Load() = %d; want 0", c)
	}
	if !s.Valid(c) {
		t.Fatalf("Valid(%d) before any Bump = false; want true", c)
	}
	if got := s.Bump(); got != 1 {
		t.Fatalf("Bump() = %d; want 1", got)
	}
	if s.Valid(c) {
		t.Fatalf("Valid(%d) after Bump = true; want false (stale cookie)", c)
	}
	if !s.Valid(s.Load()) {
		t.Fatal("Valid(Load()) = false; want true")
	}
}

// TestSeqPadding checks that the counter is alone in its cache-line pair.
func TestSeqPadding(t *testing.T) {
	var s Seq
	off := unsafe.Offsetof(s.v)
	after := unsafe.Sizeof(s) - off - unsafe.Sizeof(s.v)
	if off < falseSharingPad-8 || after < falseSharingPad-8 {
		t.Fatalf("Seq has %d bytes before and %d after its counter; want at least %d each", off, after, falseSharingPad-8)
	}
}

// TestSeqConcurrent lets readers validate cookies while a writer bumps; it
// exists for the race detector and checks that the sequence only grows.
func TestSeqConcurrent(t *testing.T) {
	var s Seq
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := s.Load()
			for range 10000 {
				c := s.Load()
				if c < last {
					t.Errorf("Load() = %d after %d; the sequence went back", c, last)
					return
				}
				last = c
				s.Valid(c)
			}
		}()
	}
	for range 1000 {
		s.Bump()
	}
	wg.Wait()
	if got := s.Load(); got != 1000 {
		t.Fatalf("Load() after 1000 bumps = %d; want 1000", got)
	}
}
