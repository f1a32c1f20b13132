//go:build !lockcheck

package hotpath

// lockCheck enables the lock-order checker; build with -tags lockcheck.
const lockCheck = false
