//go:build linux && !race

package memtable

import (
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// mmapArenaMin is the arena size from which arenas are mapped rather than
// allocated on the Go heap.
const mmapArenaMin = 1 << 20

// arena is a mapped arena. Its memory goes back to the system once: by
// Release or, as a backstop, by a cleanup when the MemTable is collected
// unreleased.
type arena struct {
	mapping  []byte
	released atomic.Bool
}

// allocArena returns n zeroed words for m's arena. Large arenas come from
// an anonymous private mapping outside the Go heap: the kernel supplies
// zero pages only as they are first touched, so an arena costs memory as it
// fills rather than all at once, it does not count towards the garbage
// collector's heap goal, and Release returns it at once (a flushed 64 MiB
// memtable does not linger until a collection). Transparent huge pages are
// requested: one page fault per 2 MiB instead of per 4 KiB, which matters
// where first touches are expensive (virtual machines). Recycling released
// arenas instead was measured: no faster with huge pages, and it kept
// ~50 MiB more resident in a 1M-entry fill. (Race builds use the heap: the
// race detector does not track memory outside it.)
func allocArena(m *MemTable, n int) []uint32 {
	size := n * 4
	if size < mmapArenaMin {
		return make([]uint32, n)
	}
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint32, n)
	}
	syscall.Madvise(b, 14 /* MADV_HUGEPAGE */)
	a := &arena{mapping: b}
	m.arena = a
	runtime.AddCleanup(m, func(a *arena) { a.release(0) }, a)
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// release unmaps the arena (once).
func (a *arena) release(int) {
	if a != nil && a.released.CompareAndSwap(false, true) {
		syscall.Munmap(a.mapping)
	}
}
