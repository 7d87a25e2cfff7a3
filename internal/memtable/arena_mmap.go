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
// where first touches are expensive (virtual machines); the mapping starts
// at a huge-page boundary and the part past the last whole huge page
// (the slack for the last write group) keeps base pages, so a memtable
// holds no more than it has filled, rounded to huge pages (see
// mapAligned). Recycling released arenas instead was measured: no faster
// with huge pages, and it kept ~50 MiB more resident in a 1M-entry fill.
// (Race builds use the heap: the race detector does not track memory
// outside it.)
func allocArena(m *MemTable, n int) []uint32 {
	size := n * 4
	if size < mmapArenaMin {
		return make([]uint32, n)
	}
	mapping, b, err := mapAligned(size)
	if err != nil {
		return make([]uint32, n)
	}
	syscall.Madvise(b[:size&^(hugePage-1)], 14 /* MADV_HUGEPAGE */)
	a := &arena{mapping: mapping}
	m.arena = a
	runtime.AddCleanup(m, func(a *arena) { a.release(0) }, a)
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// hugePage is the size of a transparent huge page on amd64 and arm64 (with
// 4 KiB base pages).
const hugePage = 2 << 20

// mapAligned maps size bytes of anonymous memory starting at a hugePage
// boundary: aligned, within mapping (which Munmap takes). A memtable's
// resident memory is then what it has filled, rounded up to whole huge
// pages, rather than that plus up to a huge page more at each end of a
// mapping placed anywhere: with the 1.1 MiB of slack an arena has past its
// write buffer left to base pages (see allocArena), a full 64 MiB memtable
// is resident for 64 MiB, and the next one, which the database bounds to
// 2 MiB while a flush runs (its MaxMemTableBytes, for at most
// MaxMemTableWait), for 2 MiB, where unaligned it held up to 4.
func mapAligned(size int) (mapping, aligned []byte, err error) {
	mapping, err = syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	// The pages before and after the aligned range are never touched, so
	// they cost address space only (syscall.Munmap unmaps whole mappings).
	head := int(-uintptr(unsafe.Pointer(unsafe.SliceData(mapping))) & (hugePage - 1))
	return mapping, mapping[head : head+size : head+size], nil
}

// release unmaps the arena (once).
func (a *arena) release(int) {
	if a != nil && a.released.CompareAndSwap(false, true) {
		syscall.Munmap(a.mapping)
	}
}
