package sstable

import (
	"testing"
	"unsafe"
)

// minOffHeapMeta is the size from which a Reader's index and filter move
// out of the Go heap (moveMetaOffHeap): smaller tables' metadata costs the
// collector little, and a mapping of its own would waste most of a page.
// Test binaries move every table's, so that their suites run on the
// unmapped-at-Close memory (a use after Close faults there).
var minOffHeapMeta = func() int {
	if testing.Testing() {
		return 1
	}
	return 16 << 10
}()

// moveMetaOffHeap moves what NewReader built in the Go heap for the life of
// the Reader — the index block (unless it lies in the table's mapping),
// the flat index (idxPrefix, idxHandles, idxPos, idxOffs, and idxBuf when
// it is a copy) and the filter block (unless mapped) — into one block of
// memory outside the heap (allocMetaMem), which Close unmaps.
//
// Issue 28: a database larger than memory keeps thousands of tables open,
// and their index and filter (~90 KB per 2 MiB table, 170 MB at 50M keys)
// were live heap that the collector's goal (GOGC=100) doubled, taking
// memory from the page cache that the reads miss. The heap copies become
// garbage here, once per table opened.
//
// Layout (offsets from the start; the 8-byte arrays first, for alignment):
//
//	idxPrefix   len(idxPrefix) × 8 bytes
//	idxHandles  len(idxHandles) × 16 bytes (usually none)
//	idxPos      len(idxPos) × 4 bytes
//	idxOffs     len(idxOffs) × 4 bytes
//	index       the index block's contents, when not in the mapping
//	idxBuf      the copy of the index keys, when idxBuf is not the index
//	filter      the filter block, when not in the mapping
//
// The block holds no pointers: the collector need not see it.
func (r *Reader) moveMetaOffHeap() {
	moveIndex := !aliases(r.index, r.mmap)
	ownBuf := !aliases(r.idxBuf, r.index) // a copy of the keys, not the block
	moveFilter := r.hasFilter && !aliases(r.filter.data, r.mmap)
	handlesOff := len(r.idxPrefix) * 8
	posOff := handlesOff + len(r.idxHandles)*int(unsafe.Sizeof(BlockHandle{}))
	offsOff := posOff + len(r.idxPos)*4
	size := offsOff + len(r.idxOffs)*4
	indexOff := size
	if moveIndex {
		size += len(r.index)
	}
	bufOff := size
	if ownBuf {
		size += len(r.idxBuf)
	}
	filterOff := size
	if moveFilter {
		size += len(r.filter.data)
	}
	if size < minOffHeapMeta {
		return
	}
	mem, ok := allocMetaMem(size)
	if !ok {
		return
	}
	base := unsafe.Pointer(unsafe.SliceData(mem))
	prefix := moveSlice(base, 0, r.idxPrefix)
	handles := moveSlice(base, handlesOff, r.idxHandles)
	pos := moveSlice(base, posOff, r.idxPos)
	offs := moveSlice(base, offsOff, r.idxOffs)
	index := r.index
	if moveIndex {
		index = moveSlice(base, indexOff, r.index)
	}
	buf := index
	if ownBuf {
		buf = moveSlice(base, bufOff, r.idxBuf)
	}
	if moveFilter {
		r.filter.data = moveSlice(base, filterOff, r.filter.data)
	}
	r.index, r.idxBuf, r.idxPos, r.idxOffs, r.idxHandles, r.idxPrefix, r.meta = index, buf, pos, offs, handles, prefix, mem
	if r.idxCommon != nil {
		r.idxCommon = r.idxKey(0)[:r.idxSkip:r.idxSkip]
	}
}

// moveSlice copies s to base+off and returns the copy (nil for a nil s).
// T holds no pointers.
func moveSlice[T any](base unsafe.Pointer, off int, s []T) []T {
	if s == nil {
		return nil
	}
	d := unsafe.Slice((*T)(unsafe.Add(base, off)), len(s))
	copy(d, s)
	return d[:len(s):len(s)]
}
