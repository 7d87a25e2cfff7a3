package sstable

import (
	"encoding/binary"

	"github.com/strata-db/strata/internal/base"
)

// Block contents (LevelDB's block_builder.cc), before compression:
//
//	+---------+---------+-----+-------------+-----+-------------------+------------------+
//	| entry 0 | entry 1 | ... | entry n-1   | restarts[0..r-1]    | num_restarts r   |
//	|         |         |     |             | fixed32 each        | fixed32          |
//	+---------+---------+-----+-------------+---------------------+------------------+
//
// Each entry shares a prefix with the previous entry's key:
//
//	+-----------------+---------------------+-------------------+-----------------+-------+
//	| varint32 shared | varint32 non_shared | varint32 value_len | key[shared:]   | value |
//	+-----------------+---------------------+-------------------+-----------------+-------+
//
// Every restartInterval entries the prefix compression restarts (shared = 0)
// and the entry's offset is recorded in restarts[], which lets readers binary
// search. restarts[0] is always 0, so even an empty block has one restart.

// blockWriter builds one block. The zero value is not usable; set
// restartInterval.
type blockWriter struct {
	restartInterval int
	buf             []byte
	restarts        []uint32
	counter         int // entries since the last restart
	nEntries        int
	lastKey         []byte
	finished        bool
}

func (w *blockWriter) reset() {
	w.buf = w.buf[:0]
	w.restarts = append(w.restarts[:0], 0)
	w.counter = 0
	w.nEntries = 0
	w.lastKey = w.lastKey[:0]
	w.finished = false
}

func (w *blockWriter) empty() bool { return w.nEntries == 0 }

// estimatedSize is the size finish would return now (LevelDB's
// CurrentSizeEstimate).
func (w *blockWriter) estimatedSize() int {
	return len(w.buf) + 4*len(w.restarts) + 4
}

// add appends an entry; key must sort after the previous one.
func (w *blockWriter) add(key, value []byte) {
	if len(w.restarts) == 0 {
		w.restarts = append(w.restarts, 0)
	}
	w.buf = grow(w.buf, 3*binary.MaxVarintLen32+len(key)+len(value))
	w.restarts = grow(w.restarts, 1)
	shared := 0
	if w.counter < w.restartInterval {
		n := min(len(w.lastKey), len(key))
		for shared < n && w.lastKey[shared] == key[shared] {
			shared++
		}
	} else {
		w.restarts = append(w.restarts, uint32(len(w.buf)))
		w.counter = 0
	}
	nonShared := len(key) - shared
	if shared < 128 && nonShared < 128 && len(value) < 128 {
		w.buf = append(w.buf, byte(shared), byte(nonShared), byte(len(value)))
	} else {
		w.buf = binary.AppendUvarint(w.buf, uint64(shared))
		w.buf = binary.AppendUvarint(w.buf, uint64(nonShared))
		w.buf = binary.AppendUvarint(w.buf, uint64(len(value)))
	}
	w.buf = append(w.buf, key[shared:]...)
	w.buf = append(w.buf, value...)
	w.lastKey = append(w.lastKey[:shared], key[shared:]...)
	w.counter++
	w.nEntries++
}

// finish appends the restart array and returns the block contents, valid
// until the next reset.
func (w *blockWriter) finish() []byte {
	if len(w.restarts) == 0 {
		w.restarts = append(w.restarts, 0)
	}
	w.buf = grow(w.buf, 4*len(w.restarts)+4)
	for _, r := range w.restarts {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, r)
	}
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(w.restarts)))
	w.finished = true
	return w.buf
}

// grow returns s with room for n more elements. It doubles the capacity
// when it must grow, where append grows large slices by only 1.25×: an
// index or filter block that grows to a megabyte by append leaves ~4 MB of
// garbage behind; by doubling, ~1 MB (and nothing once a reused Writer's
// buffers have reached their size).
func grow[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	ns := make([]T, len(s), max(2*cap(s), len(s)+n, 64))
	copy(ns, s)
	return ns
}

// reserve returns s with room for n more elements, allocating exactly that
// when it must grow (for buffers whose final size is known).
func reserve[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	ns := make([]T, len(s), len(s)+n)
	copy(ns, s)
	return ns
}

// blockIter walks the entries of one block's (uncompressed) contents. It is
// a value type so that the table iterator and Get embed it without
// allocating. Keys are compared with base.InternalCompare when cmp is set;
// the metaindex is only scanned, never searched.
//
// Key() aliases the block when the entry's key is stored whole (shared == 0)
// and otherwise keyBuf, which is rebuilt in place; both stay valid until the
// next positioning call.
type blockIter struct {
	cmp         func(a, b []byte) int // user-key comparison
	bytewise    bool                  // cmp is base.DefaultComparer's: compare inline
	data        []byte                // whole block contents
	restarts    int                   // offset of the restart array
	numRestarts int
	// Position: offset is the current entry's offset (== restarts when
	// past the end, -1 when before the start); next is the following entry's.
	offset     int
	next       int
	restartIdx int // restart point at or before offset
	key        []byte
	keyBuf     []byte
	val        []byte
	valid      bool
	err        error
	// Reverse iteration: Prev and Last decode a whole restart interval
	// forward once and remember its entries, so the following Prev calls in
	// the interval are O(1) instead of a rescan each. cacheIdx is the
	// current entry's index in cache, or -1 when not positioned from it.
	cache    []cachedEntry
	cacheBuf []byte // the cached entries' keys
	cacheIdx int
	// For error messages.
	file     string
	blockOff uint64
}

// cachedEntry is an entry of the restart interval cached for Prev: its key
// is cacheBuf[keyStart:keyEnd], its value data[valStart:next].
type cachedEntry struct {
	offset, next, valStart, keyStart, keyEnd int
}

// init points the iterator at a block. It validates the restart array; on
// failure the iterator is empty and err is set.
func (it *blockIter) init(cmp *base.Comparer, data []byte, file string, blockOff uint64) error {
	it.cmp = nil
	if cmp != nil {
		it.cmp = cmp.Compare
	}
	it.bytewise = cmp == base.DefaultComparer
	it.file = file
	it.blockOff = blockOff
	it.data = data
	it.valid = false
	it.err = nil
	it.key = nil
	it.val = nil
	it.cacheIdx = -1
	if len(data) < 4 {
		it.data, it.restarts, it.numRestarts = nil, 0, 0
		it.err = it.corruption(0, "block too short (%d bytes)", len(data))
		return it.err
	}
	n := binary.LittleEndian.Uint32(data[len(data)-4:])
	if uint64(n) > uint64(len(data)-4)/4 {
		it.data, it.restarts, it.numRestarts = nil, 0, 0
		it.err = it.corruption(len(data)-4, "bad restart count %d in %d-byte block", n, len(data))
		return it.err
	}
	it.numRestarts = int(n)
	it.restarts = len(data) - 4 - 4*int(n)
	it.offset, it.next = it.restarts, it.restarts
	return nil
}

func (it *blockIter) corruption(off int, format string, args ...any) error {
	return base.CorruptionErrorf(it.file, int64(it.blockOff)+int64(off), format, args...)
}

func (it *blockIter) fail(err error) bool {
	it.err = err
	it.valid = false
	it.key, it.val = nil, nil
	return false
}

// restartPoint returns the offset of restart i, or -1 if it is out of range.
func (it *blockIter) restartPoint(i int) int {
	p := binary.LittleEndian.Uint32(it.data[it.restarts+4*i:])
	if int64(p) >= int64(it.restarts) {
		return -1
	}
	return int(p)
}

// decodeEntry parses the entry header at p. It returns the shared length,
// the start and end of the key delta, and the end of the value, or ok=false
// when the entry does not fit in the entries area.
func (it *blockIter) decodeEntry(p int) (shared, keyStart, keyEnd, valEnd int, ok bool) {
	limit := it.restarts
	d := it.data
	if p+3 <= limit && d[p]|d[p+1]|d[p+2] < 128 {
		shared, keyStart = int(d[p]), p+3
		keyEnd = keyStart + int(d[p+1])
		valEnd = keyEnd + int(d[p+2])
	} else {
		var a, b, c uint64
		var n int
		if a, n = binary.Uvarint(d[p:limit]); n <= 0 || a > 0xffffffff {
			return 0, 0, 0, 0, false
		}
		p += n
		if b, n = binary.Uvarint(d[p:limit]); n <= 0 || b > 0xffffffff {
			return 0, 0, 0, 0, false
		}
		p += n
		if c, n = binary.Uvarint(d[p:limit]); n <= 0 || c > 0xffffffff {
			return 0, 0, 0, 0, false
		}
		p += n
		if b > uint64(limit-p) || c > uint64(limit-p)-b {
			return 0, 0, 0, 0, false
		}
		shared, keyStart = int(a), p
		keyEnd = p + int(b)
		valEnd = keyEnd + int(c)
	}
	if valEnd > limit {
		return 0, 0, 0, 0, false
	}
	return shared, keyStart, keyEnd, valEnd, true
}

// parseAt decodes the entry at p, rebuilding the key from the current one.
func (it *blockIter) parseAt(p int) bool {
	shared, ks, ke, ve, ok := it.decodeEntry(p)
	if !ok {
		return it.fail(it.corruption(p, "bad entry in block"))
	}
	if shared == 0 {
		it.key = it.data[ks:ke]
	} else {
		if !it.valid || shared > len(it.key) {
			return it.fail(it.corruption(p, "bad shared key length %d in block", shared))
		}
		if &it.key[0] != firstElem(it.keyBuf) {
			// The previous key lives in the block: copy its prefix.
			it.keyBuf = append(it.keyBuf[:0], it.key[:shared]...)
		} else {
			it.keyBuf = it.keyBuf[:shared]
		}
		it.keyBuf = append(it.keyBuf, it.data[ks:ke]...)
		it.key = it.keyBuf
	}
	it.val = it.data[ke:ve]
	it.cacheIdx = -1
	it.offset = p
	it.next = ve
	it.valid = true
	for it.restartIdx+1 < it.numRestarts {
		r := binary.LittleEndian.Uint32(it.data[it.restarts+4*(it.restartIdx+1):])
		if int64(r) > int64(p) {
			break
		}
		it.restartIdx++
	}
	return true
}

// firstElem returns a pointer to b's first element, or nil.
func firstElem(b []byte) *byte {
	if cap(b) == 0 {
		return nil
	}
	return &b[:1][0]
}

// seekToRestart positions the iterator at restart point i.
func (it *blockIter) seekToRestart(i int) bool {
	p := it.restartPoint(i)
	if p < 0 {
		return it.fail(it.corruption(it.restarts+4*i, "restart point out of range"))
	}
	it.valid = false
	it.restartIdx = i
	if !it.parseAt(p) {
		return false
	}
	return true
}

// setEntry positions the iterator at the entry of restart point i that
// starts at e[0], whose key, stored whole, is data[e[1]:e[2]] and whose
// value runs to e[3]: where an earlier positioning on the same block
// found it (see Iter.memo). It reports false, changing nothing, when
// those offsets do not fit the block.
func (it *blockIter) setEntry(i int, e [4]int) bool {
	if it.err != nil || i < 0 || i >= it.numRestarts || e[0] < 0 || e[0] >= e[1] || e[1] > e[2] || e[2] > e[3] || e[3] > it.restarts {
		return false
	}
	it.key, it.val = it.data[e[1]:e[2]], it.data[e[2]:e[3]]
	it.offset, it.next, it.restartIdx = e[0], e[3], i
	it.cacheIdx = -1
	it.valid = true
	return true
}

// keyAtRestart returns the key stored whole at restart point i.
func (it *blockIter) keyAtRestart(i int) ([]byte, bool) {
	p := it.restartPoint(i)
	if p < 0 {
		return nil, false
	}
	shared, ks, ke, _, ok := it.decodeEntry(p)
	if !ok || shared != 0 {
		return nil, false
	}
	return it.data[ks:ke], true
}

// compare orders internal keys (base.InternalCompare), inlining the
// bytewise case.
func (it *blockIter) compare(a, b []byte) int {
	if it.bytewise {
		return base.InternalCompareBytewise(a, b)
	}
	return base.InternalCompare(it.cmp, a, b)
}

// isEmpty reports a block without entries: no restarts, or (as LevelDB
// writes an empty block) restart 0 pointing at the restart array itself.
func (it *blockIter) isEmpty() bool { return it.numRestarts == 0 || it.restarts == 0 }

func (it *blockIter) First() bool {
	if it.err != nil || it.isEmpty() {
		it.valid = false
		return false
	}
	return it.seekToRestart(0)
}

func (it *blockIter) Last() bool {
	if it.err != nil || it.isEmpty() {
		it.valid = false
		return false
	}
	return it.fillCache(it.numRestarts-1, it.restarts)
}

// fillCache decodes restart interval i from its restart point up to the
// entry that ends at limit, caching every entry, and stays at that last
// entry.
func (it *blockIter) fillCache(i, limit int) bool {
	it.cache = it.cache[:0]
	it.cacheBuf = it.cacheBuf[:0]
	if !it.seekToRestart(i) {
		return false
	}
	for {
		start := len(it.cacheBuf)
		it.cacheBuf = append(it.cacheBuf, it.key...)
		it.cache = append(it.cache, cachedEntry{
			offset: it.offset, next: it.next, valStart: it.next - len(it.val),
			keyStart: start, keyEnd: len(it.cacheBuf),
		})
		if it.next >= limit {
			break
		}
		if !it.parseAt(it.next) {
			return false
		}
	}
	if it.next != limit {
		return it.fail(it.corruption(limit, "entries do not chain to offset %d", limit))
	}
	it.cacheIdx = len(it.cache) - 1
	return true
}

func (it *blockIter) Next() bool {
	if !it.valid {
		return false
	}
	if it.next >= it.restarts {
		it.valid = false
		it.offset = it.restarts
		it.key, it.val = nil, nil
		return false
	}
	return it.parseAt(it.next)
}

func (it *blockIter) Prev() bool {
	if !it.valid {
		return false
	}
	if it.cacheIdx > 0 {
		it.cacheIdx--
		e := &it.cache[it.cacheIdx]
		it.key = it.cacheBuf[e.keyStart:e.keyEnd]
		it.val = it.data[e.valStart:e.next]
		it.offset, it.next = e.offset, e.next
		return true
	}
	original := it.offset
	for {
		p := it.restartPoint(it.restartIdx)
		if p < 0 {
			return it.fail(it.corruption(it.restarts+4*it.restartIdx, "restart point out of range"))
		}
		if p < original {
			break
		}
		if it.restartIdx == 0 {
			it.valid = false
			it.offset = -1
			it.key, it.val = nil, nil
			return false
		}
		it.restartIdx--
	}
	return it.fillCache(it.restartIdx, original)
}

// SeekGE moves to the first entry with key >= target.
func (it *blockIter) SeekGE(target []byte) bool {
	if it.err != nil || it.isEmpty() {
		it.valid = false
		return false
	}
	// Binary search for the last restart point whose key is < target.
	left, right := 0, it.numRestarts-1
	if it.valid {
		// Narrow with the current position, as LevelDB 1.23 does.
		switch c := it.compare(it.key, target); {
		case c < 0:
			left = it.restartIdx
		case c > 0:
			right = it.restartIdx
		default:
			return true
		}
	}
	for left < right {
		mid := int(uint(left+right+1) >> 1)
		k, ok := it.keyAtRestart(mid)
		if !ok {
			return it.fail(it.corruption(it.restarts+4*mid, "bad restart entry"))
		}
		if it.compare(k, target) < 0 {
			left = mid
		} else {
			right = mid - 1
		}
	}
	if !it.seekToRestart(left) {
		return false
	}
	if it.compare(it.key, target) >= 0 {
		return true
	}
	return it.scanTo(target)
}

// scanTo moves forward from the current entry, which is before target, to
// the first entry >= target: Next in a loop, but with the position and the
// key kept in locals, so that a step stores nothing into the iterator (whose
// pointer fields cost a write barrier each while the collector runs) and
// only the entry it stops at is recorded.
func (it *blockIter) scanTo(target []byte) bool {
	data, limit := it.data, it.restarts
	key, buf := it.key, it.keyBuf
	inBuf := len(key) > 0 && &key[0] == firstElem(buf) // key is buf's, not the block's
	p, next := it.offset, it.next
	var ke, ve int
	// With the bytewise order, known >= 0 says the current key is before
	// target because their user keys first differ at byte known (the key's
	// byte is the smaller). A following key that shares more than known
	// bytes with it, and whose user key reaches byte known, differs from
	// target there the same way: it is before target too, without a
	// comparison. (Any other order, or a key that does not qualify, is
	// compared in full.)
	known := -1
	tu := target
	if it.bytewise && len(target) >= base.TrailerLen {
		tu = target[:len(target)-base.TrailerLen]
	}
	for {
		if next >= limit {
			it.keyBuf = buf
			it.valid = false
			it.offset, it.next = limit, limit
			it.key, it.val = nil, nil
			it.cacheIdx = -1
			return false
		}
		var shared, ks, kEnd, vEnd int
		ok := true
		if d := data; next+3 <= limit && d[next]|d[next+1]|d[next+2] < 128 {
			// decodeEntry's one-byte lengths, inline
			shared, ks = int(d[next]), next+3
			kEnd = ks + int(d[next+1])
			vEnd = kEnd + int(d[next+2])
			ok = vEnd <= limit
		} else {
			shared, ks, kEnd, vEnd, ok = it.decodeEntry(next)
		}
		if !ok {
			it.keyBuf = buf
			return it.fail(it.corruption(next, "bad entry in block"))
		}
		if shared == 0 {
			key, inBuf = data[ks:kEnd], false
		} else {
			if shared > len(key) {
				it.keyBuf = buf
				return it.fail(it.corruption(next, "bad shared key length %d in block", shared))
			}
			if !inBuf {
				buf = append(buf[:0], key[:shared]...)
			} else {
				buf = buf[:shared]
			}
			buf = append(buf, data[ks:kEnd]...)
			key, inBuf = buf, true
		}
		p, next, ke, ve = next, vEnd, kEnd, vEnd
		if known >= 0 && shared > known && len(key)-base.TrailerLen > known {
			continue // before target: see known
		}
		if it.compare(key, target) >= 0 {
			break
		}
		known = -1
		if it.bytewise && len(key) >= base.TrailerLen && len(target) >= base.TrailerLen {
			ku := key[:len(key)-base.TrailerLen]
			q := 0
			for q < len(ku) && q < len(tu) && ku[q] == tu[q] {
				q++
			}
			if q < len(ku) && q < len(tu) {
				known = q // ku[q] < tu[q], as key < target
			}
		}
	}
	it.keyBuf = buf
	it.key = key
	it.val = data[ke:ve]
	it.cacheIdx = -1
	it.offset, it.next = p, next
	it.valid = true
	for it.restartIdx+1 < it.numRestarts {
		r := binary.LittleEndian.Uint32(data[it.restarts+4*(it.restartIdx+1):])
		if int64(r) > int64(p) {
			break
		}
		it.restartIdx++
	}
	return true
}

// positionAt moves to the entry at offset off, in restart interval
// restart, whose key is key (copied) and whose value is data[ke:ve]: where
// an earlier SeekGE on the same block landed, as it decoded it (see
// Iter.memo). It reports false, changing nothing, when those offsets do
// not fit the block.
func (it *blockIter) positionAt(off, restart int, key []byte, ke, ve int) bool {
	if it.err != nil || off < 0 || off >= ke || ke > ve || ve > it.restarts || restart < 0 || restart >= it.numRestarts {
		return false
	}
	it.keyBuf = append(it.keyBuf[:0], key...)
	it.key = it.keyBuf
	it.val = it.data[ke:ve]
	it.offset, it.next = off, ve
	it.restartIdx = restart
	it.cacheIdx = -1
	it.valid = true
	return true
}

// SeekLT moves to the last entry with key < target.
func (it *blockIter) SeekLT(target []byte) bool {
	if it.SeekGE(target) {
		return it.Prev()
	}
	if it.err != nil {
		return false
	}
	return it.Last()
}
