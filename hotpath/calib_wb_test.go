package hotpath

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"lockbench/strategies"
)

// openCalibrated opens an inode of strategy sn calibrated as if measured on
// a filesystem of type fs.
func openCalibrated(t *testing.T, sn, fs string) *Inode {
	t.Helper()
	st, err := strategies.New(sn, strategies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := testCalibration(time.Microsecond)
	c.FS = fs
	in, err := Open(InodeConfig{Dir: t.TempDir(), FileSize: tPages * tPageSize, PageSize: tPageSize,
		Slots: 4, Strategy: st, Regions: 8, Oracle: true, Calibration: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// TestCalibratedWritebackSpan: the calibrated model's writeback holds the
// page lock (and the extent range where the strategy has one) across its
// extent work and the real submission, as the kernel's writepages hold the
// folio lock until the folio's bio is built; and a write fault on the page it
// has just write-protected waits for it there.
func TestCalibratedWritebackSpan(t *testing.T) {
	for _, sn := range slices.Concat(strategies.Names(), strategies.SchemeNames()) {
		t.Run(sn, func(t *testing.T) {
			in := openCalibrated(t, sn, "ext4")
			w, other := testWorker(t, 0, RoleFlusher), testWorker(t, 1, RoleFaulter)
			mustStore(t, other, in, 3)
			want := "F"
			if in.plans[strategies.OpWritebackEnd].ER != strategies.Skip {
				want = "ER F"
			}
			got := ""
			done := make(chan error, 1)
			var faultedEarly bool
			in.spanHook = func(hw *Worker, sp spanPoint) {
				if hw != w || sp != spWriteback {
					return
				}
				got = heldString(hw.held)
				// The page is write-protected now: a store faults and must
				// wait for the page lock until the submission is done.
				go func() { done <- other.store(in, 3, false) }()
				select {
				case err := <-done:
					faultedEarly = true
					done <- err
				case <-time.After(30 * time.Millisecond):
				}
			}
			if err := w.writebackPage(in, 3, true); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the store did not finish within 10s of the writeback's end")
			}
			in.spanHook = nil
			if got != want {
				t.Errorf("held at the writeback's submission: %q; want %q", got, want)
			}
			if faultedEarly {
				t.Error("a write fault on the page finished while writeback held it for submission")
			}
			if s := in.pages[3].state.Load(); s&pgDirty == 0 || s&pgWriteback != 0 {
				t.Errorf("page 3 after the store: %s; want dirty, not under writeback", pageOf(in, 3))
			}
			checkUnlocked(t, in, "writeback", w, other)
		})
	}
}

// TestStableWaitSpan: on a btrfs target the calibrated write fault waits,
// holding its plan and the page lock (btrfs_page_mkwrite's
// folio_wait_writeback after folio_lock, under i_mmap_lock), for the real
// write of its page that writeback submitted; on ext4 it never waits.
func TestStableWaitSpan(t *testing.T) {
	for _, tc := range []struct{ sn, fs, want string }{
		{"scheme-btrfs", "btrfs", "MM MK ER F"},
		{"rwsem", "btrfs", "MM IL MK F"},
		{"rangelock", "btrfs", "MM ER F"},
		{"scheme-ext4", "ext4", ""},
		{"scheme-xfs", "xfs", ""},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.sn, tc.fs), func(t *testing.T) {
			in := openCalibrated(t, tc.sn, tc.fs)
			w, fl := testWorker(t, 0, RoleFaulter), testWorker(t, 1, RoleFlusher)
			mustStore(t, w, in, 3)
			mustWriteback(t, fl, in, 3)
			if got, want := in.pages[3].state.Load()&pgDiskIO != 0, tc.want != ""; got != want {
				t.Fatalf("page 3 marked as written to the disk file: %v; want %v", got, want)
			}
			var got []string
			in.spanHook = func(hw *Worker, sp spanPoint) {
				if hw == w && sp == spStableWait {
					got = append(got, heldString(hw.held))
				}
			}
			mustStore(t, w, in, 3)
			in.spanHook = nil
			wantN := 0
			if tc.want != "" {
				wantN = 1
			}
			if len(got) != wantN || wantN == 1 && got[0] != tc.want {
				t.Errorf("stable waits held %q; want %d wait holding %q", got, wantN, tc.want)
			}
			if w.ctr.StableWaits != int64(wantN) {
				t.Errorf("stable_waits = %d; want %d", w.ctr.StableWaits, wantN)
			}
			if in.pages[3].state.Load()&pgDiskIO != 0 {
				t.Error("page 3 still marked after its write fault waited")
			}
			checkUnlocked(t, in, "write fault", w, fl)
		})
	}
}

// TestCalibrationFSStable: only a btrfs calibration keeps pages stable.
func TestCalibrationFSStable(t *testing.T) {
	for fs, want := range map[string]bool{"btrfs": true, "ext4": false, "xfs": false, "tmpfs": false} {
		c := testCalibration(time.Microsecond)
		c.FS = fs
		cs, err := newCalibState(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		if cs.stable != want {
			t.Errorf("%s: stable = %v; want %v", fs, cs.stable, want)
		}
	}
}
