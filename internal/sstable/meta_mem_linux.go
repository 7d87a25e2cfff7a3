//go:build linux && !race

package sstable

import (
	"sync/atomic"
	"syscall"
)

// maxMetaMappings bounds the metadata mappings live at once: each is a
// mapping of its own, and the kernel allows a process vm.max_map_count of
// them (65530 by default) for everything. Past it, metadata stays in the
// Go heap.
const maxMetaMappings = 16384

// metaMappings counts the live metadata mappings.
var metaMappings atomic.Int64

// allocMetaMem returns n bytes of zeroed memory outside the Go heap (an
// anonymous private mapping, populated at once: one system call instead of
// a page fault per page), or ok false when mapping fails or too many
// mappings are live; the caller then keeps its metadata in the Go heap.
func allocMetaMem(n int) (b []byte, ok bool) {
	if n <= 0 || metaMappings.Add(1) > maxMetaMappings {
		metaMappings.Add(-1)
		return nil, false
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_POPULATE)
	if err != nil {
		metaMappings.Add(-1)
		return nil, false
	}
	return b, true
}

// freeMetaMem unmaps memory from allocMetaMem. Nothing may use it after.
func freeMetaMem(b []byte) {
	if syscall.Munmap(b) == nil {
		metaMappings.Add(-1)
	}
}
