package hotpath

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestProtectSigbusBeyondEOF stores into a shared mapping of a file that was
// truncated to one page: the store into the second page raises SIGBUS for
// real, and Protect returns it as a fault with the page's address instead
// of crashing the process.
func TestProtectSigbusBeyondEOF(t *testing.T) {
	f, err := os.CreateTemp("/dev/shm", ".lockbench-cache-fault-*")
	if err != nil {
		t.Skipf("no tmpfs: %v", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	ps := os.Getpagesize()
	if err := f.Truncate(int64(2 * ps)); err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, 2*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := f.Truncate(int64(ps)); err != nil {
		t.Fatal(err)
	}
	fault, err := Protect(func() error {
		m[0] = 1 // within EOF: fine
		m[ps+8] = 1
		return nil
	})
	if err != nil {
		t.Fatalf("Protect returned error %v; want a fault", err)
	}
	if fault == nil {
		t.Fatal("Protect returned no fault for a store beyond EOF")
	}
	if want := uintptr(unsafeAddr(m)) + uintptr(ps+8); fault.Addr != want {
		t.Errorf("fault address = %#x; want %#x", fault.Addr, want)
	}
	if m[0] != 1 {
		t.Errorf("the store within EOF was lost")
	}

	// No fault: fn's own error comes back.
	boom := errors.New("boom")
	fault, err = Protect(func() error { return boom })
	if fault != nil || err != boom {
		t.Errorf("Protect(error) = %v, %v; want nil, boom", fault, err)
	}

	// Other panics propagate.
	defer func() {
		if r := recover(); r != "other" {
			t.Errorf("recovered %v; want the panic to propagate", r)
		}
	}()
	Protect(func() error { panic("other") })
}
