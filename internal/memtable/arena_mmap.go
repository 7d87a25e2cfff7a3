//go:build linux && !race

package memtable

import (
	"runtime"
	"syscall"
	"unsafe"
)

// mmapArenaMin is the arena size from which arenas are mapped rather than
// allocated on the Go heap.
const mmapArenaMin = 1 << 20

// allocArena returns n zeroed words for m's arena. Large arenas come from
// an anonymous private mapping outside the Go heap: the kernel supplies
// zero pages only as they are first touched, so an arena costs memory as it
// fills rather than all at once, and it does not count towards the garbage
// collector's heap goal (a 64 MiB memtable would otherwise let the heap grow
// by as much again before a collection). The mapping is released by a
// cleanup once m is unreachable; everything that hands out slices of the
// arena (Get's value, an iterator's Key and Value) keeps m reachable while
// they are valid. (Race builds use the heap: the race detector does not
// track memory outside it.)
func allocArena(m *MemTable, n int) []uint32 {
	if n*4 < mmapArenaMin {
		return make([]uint32, n)
	}
	b, err := syscall.Mmap(-1, 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint32, n)
	}
	runtime.AddCleanup(m, func(b []byte) { syscall.Munmap(b) }, b)
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}
