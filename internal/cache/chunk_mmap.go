//go:build linux && !race

package cache

import "syscall"

// allocChunk maps n bytes outside the Go heap (transparent huge pages
// requested), falling back to the heap when mapping fails.
func allocChunk(n int) chunk {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return chunk{buf: make([]byte, n)}
	}
	syscall.Madvise(b, 14 /* MADV_HUGEPAGE */)
	return chunk{buf: b, mapped: true}
}

// populate faults in b (page-aligned) with one madvise(MADV_POPULATE_WRITE)
// (Linux 5.14; where missing, the pages fault in as they are first
// written). One system call costs far less than a page fault per 4 KiB
// page, which on a virtual machine is several microseconds each.
func populate(b []byte) {
	syscall.Madvise(b, 23 /* MADV_POPULATE_WRITE */)
}

// freeChunk unmaps a mapped chunk (heap chunks are left to the GC).
func freeChunk(c chunk) {
	if c.mapped {
		syscall.Munmap(c.buf)
	}
}
