package hotpath

// TEMPORARY stand-ins until strategies' primitives land.

import (
	"sync"
	"sync/atomic"

	"lockbench/strategies"
)

type rwsem struct {
	mu      sync.RWMutex
	writers atomic.Int32
}

func newRWSem(slots int) *rwsem           { return &rwsem{} }
func (s *rwsem) RLock(slot int)           { s.mu.RLock() }
func (s *rwsem) RUnlock(slot int)         { s.mu.RUnlock() }
func (s *rwsem) TryRLock(slot int) bool   { return s.mu.TryRLock() }
func (s *rwsem) Lock()                    { s.writers.Add(1); s.mu.Lock() }
func (s *rwsem) Unlock()                  { s.writers.Add(-1); s.mu.Unlock() }
func (s *rwsem) TryLock() bool {
	if s.mu.TryLock() {
		s.writers.Add(1)
		return true
	}
	return false
}
func (s *rwsem) Contended() bool { return s.writers.Load() > 0 }

type rangeHandle struct{ start, end uint64; m strategies.Mode }

type rangeLock struct {
	mu   sync.Mutex
	cond *sync.Cond
	held []rangeHandle
}

func newRangeLock(slots int) *rangeLock {
	l := &rangeLock{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *rangeLock) conflict(s, e uint64, m strategies.Mode) bool {
	for _, h := range l.held {
		if h.start < e && s < h.end && (m == strategies.Exclusive || h.m == strategies.Exclusive) {
			return true
		}
	}
	return false
}

func (l *rangeLock) Lock(slot int, s, e uint64, m strategies.Mode) rangeHandle {
	l.mu.Lock()
	for l.conflict(s, e, m) {
		l.cond.Wait()
	}
	h := rangeHandle{s, e, m}
	l.held = append(l.held, h)
	l.mu.Unlock()
	return h
}

func (l *rangeLock) TryLock(slot int, s, e uint64, m strategies.Mode) (rangeHandle, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conflict(s, e, m) {
		return rangeHandle{}, false
	}
	h := rangeHandle{s, e, m}
	l.held = append(l.held, h)
	return h, true
}

func (l *rangeLock) Unlock(h rangeHandle) {
	l.mu.Lock()
	for i, x := range l.held {
		if x == h {
			l.held = append(l.held[:i], l.held[i+1:]...)
			break
		}
	}
	l.cond.Broadcast()
	l.mu.Unlock()
}
