package hotpath

import (
	"context"
	"testing"
	"time"

	"lockbench/results"
	"lockbench/strategies"
)

// TestLockWaitAccounting: a shared acquisition that waits for a writer
// counts as an acquisition and a contention whose wait covers the writer's
// hold, without -locks too; uncontended acquisitions count only with it.
func TestLockWaitAccounting(t *testing.T) {
	for _, full := range []bool{false, true} {
		testLockWait(t, full)
	}
}

func testLockWait(t *testing.T, full bool) {
	in := openTest(t, "rwsem", strategies.Options{})
	w := testWorker(t, 0, RoleFaulter)
	w.setLockStats(full)
	w.rlock(in.il, lkIL)
	w.runlock(in.il, lkIL)
	in.il.Lock() // the test holds IL exclusive
	done := make(chan struct{})
	go func() {
		w.rlock(in.il, lkIL)
		w.runlock(in.il, lkIL)
		close(done)
	}()
	waitFor(t, "the worker blocks on IL", waitingFor(w, lkIL))
	const hold = 20 * time.Millisecond
	time.Sleep(hold)
	in.il.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not get IL within 10s of its release")
	}
	a := &w.lk
	wantAcq := int64(1) // the contended one
	if full {
		wantAcq = 2
	}
	if a.acq[lkIL] != wantAcq || a.cont[lkIL] != 1 {
		t.Errorf("lockStats=%v: IL acquisitions, contentions = %d, %d; want %d, 1", full, a.acq[lkIL], a.cont[lkIL], wantAcq)
	}
	if d := time.Duration(a.waitTotal[lkIL]); d < hold {
		t.Errorf("IL wait = %v; want at least the writer's hold %v", d, hold)
	}
	if c := w.counters(); c.ILWaits != 1 {
		t.Errorf("il_contended = %d; want 1", c.ILWaits)
	}
	ls := mergeLocks([]*Worker{w})
	if len(ls) != 1 || ls[0].Class != "IL" || ls[0].Role != "faulter" || ls[0].Contentions != 1 ||
		ls[0].Wait.Max < hold || ls[0].WaitTotal != time.Duration(a.waitTotal[lkIL]) || ls[0].Source != results.LockSourceModel {
		t.Errorf("mergeLocks = %+v; want one IL row for faulter, 1 contention of at least %v", ls, hold)
	}
}

// TestLockHoldTiming: exclusive holds are timed only with lockStats, and
// never for shared holds.
func TestLockHoldTiming(t *testing.T) {
	in := openTest(t, "rwsem", strategies.Options{})
	for _, timed := range []bool{false, true} {
		w := testWorker(t, 0, RoleFsync)
		w.setLockStats(timed)
		w.wlock(in.ix, lkIX)
		time.Sleep(2 * time.Millisecond)
		w.wunlock(in.ix, lkIX)
		w.rlock(in.il, lkIL)
		w.runlock(in.il, lkIL)
		w.lockPage(&in.pages[1])
		w.unlockPage(&in.pages[1])
		a := &w.lk
		want := int64(0)
		if timed {
			want = 1
		}
		if a.holdN[lkIX] != want || a.holdN[lkF] != want || a.holdN[lkIL] != 0 {
			t.Errorf("lockStats=%v: IX, F, IL holds timed = %d, %d, %d; want %d, %d, 0", timed, a.holdN[lkIX], a.holdN[lkF], a.holdN[lkIL], want, want)
		}
		if timed && time.Duration(a.holdTotal[lkIX]) < 2*time.Millisecond {
			t.Errorf("IX hold = %v; want at least 2ms", time.Duration(a.holdTotal[lkIX]))
		}
	}
}

// TestRunLockStats: an fsync-storm run under rwsem records, per class and
// role, acquisitions for every lock the protocol takes, and the faulters'
// MK waits behind fsync's MK(X) (the btrfs fix's cost); with LockStats the
// fsync worker's MK holds are timed.
func TestRunLockStats(t *testing.T) {
	sc, err := LookupScenario("fsync-storm")
	if err != nil {
		t.Fatal(err)
	}
	cfg := runConfig(t, sc, "rwsem", t.TempDir())
	cfg.Oracle = false
	cfg.OpLimit = 0
	cfg.Duration = 400 * time.Millisecond
	cfg.LockStats = true
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LockTrace == nil || rep.LockTrace.Source != results.LockSourceModel || !rep.LockTrace.Full {
		t.Errorf("LockTrace = %+v; want model, hold timed", rep.LockTrace)
	}
	row := func(class, role string) *results.LockStat {
		for i := range rep.Locks {
			if rep.Locks[i].Class == class && rep.Locks[i].Role == role {
				return &rep.Locks[i]
			}
		}
		return nil
	}
	for _, c := range []string{"MM", "IL", "MK", "F", "IX"} {
		if r := row(c, "faulter"); r == nil || r.Acquisitions == 0 {
			t.Errorf("faulter %s: %+v; want acquisitions", c, r)
		}
	}
	mk := row("MK", "faulter")
	if mk == nil || mk.Contentions == 0 || mk.WaitTotal <= 0 || mk.Wait.Max <= 0 {
		t.Fatalf("faulter MK = %+v; want waits behind fsync's MK(X)", mk)
	}
	if mk.Contentions > mk.Acquisitions {
		t.Errorf("faulter MK: %d contentions > %d acquisitions", mk.Contentions, mk.Acquisitions)
	}
	if f := row("MK", "fsync"); f == nil || f.Holds == 0 || f.HoldTotal <= 0 || f.Hold.Max <= 0 {
		t.Errorf("fsync MK = %+v; want timed exclusive holds", f)
	}
}

// TestLockLevels: a write fault on a cached page (the fault path compiled
// per level) counts its uncontended acquisitions and times F's hold only
// at locksOn; a contended IL acquisition through each level's locker, and
// through the Worker's methods (the level read per acquisition), records
// its wait at locksOff and locksOn and nothing at locksAbsent.
func TestLockLevels(t *testing.T) {
	for _, lv := range []lockLevel{locksAbsent, locksOff, locksOn} {
		in := openTest(t, "rwsem", strategies.Options{})
		w := testWorker(t, 0, RoleFaulter)
		w.setLockStats(lv == locksOn)
		w.locks = lv
		if err := w.store(in, 1, false); err != nil { // first fault: fill and map
			t.Fatal(err)
		}
		w.lk = lockAcct{}
		w.lk.init()
		w.setLockStats(lv == locksOn)
		w.locks = lv
		if res, err := w.writeFault(in, 1, flagAllowRetry); err != nil || res != faultOK {
			t.Fatalf("level %d: write fault = %v, %v", lv, res, err)
		}
		wantAcq, wantHold := int64(0), int64(0)
		if lv == locksOn {
			wantAcq, wantHold = 1, 1
		}
		if a := &w.lk; a.acq[lkMM] != wantAcq || a.acq[lkF] != wantAcq || a.holdN[lkF] != wantHold {
			t.Errorf("level %d: write fault MM, F acquisitions, F holds = %d, %d, %d; want %d, %d, %d", lv, a.acq[lkMM], a.acq[lkF], a.holdN[lkF], wantAcq, wantAcq, wantHold)
		}
		for _, path := range []struct {
			name string
			lock func()
		}{
			{"fault path", func() {
				switch lv {
				case locksAbsent:
					locker[acctAbsent]{w}.rlock(in.il, lkIL)
				case locksOff:
					locker[acctOff]{w}.rlock(in.il, lkIL)
				default:
					locker[acctOn]{w}.rlock(in.il, lkIL)
				}
			}},
			{"Worker", func() { w.rlock(in.il, lkIL) }},
		} {
			w.lk = lockAcct{}
			w.lk.init()
			in.il.Lock()
			done := make(chan struct{})
			go func() {
				path.lock()
				w.runlock(in.il, lkIL)
				close(done)
			}()
			waitFor(t, "the worker blocks on IL", waitingFor(w, lkIL))
			in.il.Unlock()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("level %d, %s: the worker did not get IL within 10s of its release", lv, path.name)
			}
			want := int64(1)
			if lv == locksAbsent {
				want = 0
			}
			if a := &w.lk; a.cont[lkIL] != want || a.wait[lkIL].TotalCount() != want {
				t.Errorf("level %d, %s: IL contentions, waits recorded = %d, %d; want %d, %d", lv, path.name, a.cont[lkIL], a.wait[lkIL].TotalCount(), want, want)
			}
		}
	}
}
