//go:build !linux || race

package sstable

// allocMetaMem reports that metadata stays in the Go heap: off Linux, and in
// race builds so that the race detector sees the index and filter memory.
func allocMetaMem(n int) ([]byte, bool) { return nil, false }

// freeMetaMem is never called (allocMetaMem hands out nothing).
func freeMetaMem([]byte) {}
