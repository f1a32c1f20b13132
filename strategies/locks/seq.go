package locks

import "sync/atomic"

// falseSharingPad is the spacing that keeps two hot words out of the same
// pair of cache lines. x86 fetches 64-byte lines but its adjacent-line
// prefetcher pulls the 128-byte aligned pair, so two words written by
// different cores must be at least 128 bytes apart; a word placed alone with
// 120 bytes on each side never shares a pair whatever its alignment.
const falseSharingPad = 128

// Seq is the extent map's sequence number, the validity cookie of iomap's
// ->iomap_valid: a writer bumps it under IX(X) on every extent change; a
// buffered write() records Load() when it maps a range and, after locking each
// page, asks Valid(cookie) whether the mapping it cached is still current.
//
// The zero value is ready to use and starts at 0. Every access goes through
// sync/atomic, so readers need no lock and the race detector sees the
// publication. On amd64 Load and Valid compile to one plain MOV and a compare;
// Bump is one LOCK XADD.
//
// Seq sits alone in its cache-line pair: it is read on every page of every
// write() and written on every extent change, and must not drag neighbouring
// fields (or be dragged by them) between cores.
type Seq struct {
	_ [falseSharingPad - 8]byte
	v atomic.Uint64
	_ [falseSharingPad - 8]byte
}

// Load returns the current sequence number, to be kept as a cookie.
func (s *Seq) Load() uint64 { return s.v.Load() }

// Bump advances the sequence number and returns the new value. The caller
// holds the extent lock (IX) exclusively, so bumps never race each other in
// the model; Bump is atomic anyway so that a misuse cannot lose a bump.
func (s *Seq) Bump() uint64 { return s.v.Add(1) }

// Valid reports whether cookie is still the current sequence number, that is
// whether no extent changed since the cookie was loaded.
func (s *Seq) Valid(cookie uint64) bool { return s.v.Load() == cookie }
