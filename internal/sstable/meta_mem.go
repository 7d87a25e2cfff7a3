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
// the flat index (idxHandles, idxPrefix, idxKeys and the copies of its
// prefix-compressed keys) and the filter block (unless mapped) — into one
// block of memory outside the heap (allocMetaMem), which Close unmaps.
//
// Issue 28: a database larger than memory keeps thousands of tables open,
// and their index and filter, ~57 KB per 2 MiB table (100 MB at 50M keys),
// were live heap that the collector's goal (GOGC=100) doubled, taking
// memory from the page cache that the reads miss. The heap copies become
// garbage here, once per table opened.
//
// Layout (offsets from the start, 8-byte aligned where the type needs it):
//
//	idxHandles  len(idxKeys) × 16 bytes (BlockHandle)
//	idxPrefix   len(idxPrefix) × 8 bytes
//	idxKeys     len(idxKeys) × a slice header, each slicing the index
//	            block or the key copies below
//	index       the index block's contents, when not in the mapping
//	key copies  the index keys that do not lie in the index block
//	filter      the filter block, when not in the mapping
//
// Nothing in the block points into the Go heap, which the collector does
// not see here: every key slices the block itself or the table's mapping.
func (r *Reader) moveMetaOffHeap() {
	n := len(r.idxKeys)
	moveIndex := !aliases(r.index, r.mmap)
	moveFilter := r.hasFilter && !aliases(r.filter.data, r.mmap)
	copied := 0
	for _, k := range r.idxKeys {
		if !aliases(k, r.index) {
			copied += len(k)
		}
	}
	handlesOff := 0
	prefixOff := handlesOff + n*int(unsafe.Sizeof(BlockHandle{}))
	keysOff := prefixOff + len(r.idxPrefix)*8
	indexOff := keysOff + n*int(unsafe.Sizeof([]byte(nil)))
	size := indexOff
	if moveIndex {
		size += len(r.index)
	}
	copiesOff := size
	size += copied
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

	handles := unsafe.Slice((*BlockHandle)(unsafe.Add(base, handlesOff)), n)
	copy(handles, r.idxHandles)
	var prefix []uint64
	if len(r.idxPrefix) > 0 {
		prefix = unsafe.Slice((*uint64)(unsafe.Add(base, prefixOff)), len(r.idxPrefix))
		copy(prefix, r.idxPrefix)
	}
	index := r.index
	if moveIndex {
		index = mem[indexOff : indexOff+len(r.index) : indexOff+len(r.index)]
		copy(index, r.index)
	}
	keys := unsafe.Slice((*[]byte)(unsafe.Add(base, keysOff)), n)
	next := copiesOff
	for i, k := range r.idxKeys {
		switch {
		case len(k) == 0:
			keys[i] = nil
		case aliases(k, r.index):
			off := int(uintptr(unsafe.Pointer(unsafe.SliceData(k))) - uintptr(unsafe.Pointer(unsafe.SliceData(r.index))))
			keys[i] = index[off : off+len(k) : off+len(k)]
		default:
			keys[i] = mem[next : next+len(k) : next+len(k)]
			copy(keys[i], k)
			next += len(k)
		}
	}
	if moveFilter {
		data := mem[filterOff : filterOff+len(r.filter.data) : filterOff+len(r.filter.data)]
		copy(data, r.filter.data)
		r.filter.data = data
	}
	if r.idxCommon != nil {
		r.idxCommon = keys[0][:r.idxSkip:r.idxSkip]
	}
	r.index, r.idxHandles, r.idxPrefix, r.idxKeys, r.meta = index, handles, prefix, keys, mem
}
