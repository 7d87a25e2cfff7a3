package sstable

import (
	"bytes"
	"sync"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
)

// Iter is a two-level iterator over a table: an iterator over the index
// block picks a data block, an iterator over that block walks its entries.
// It implements base.InternalIterator; empty data blocks are skipped in both
// directions. Key and Value point into blocks (or a buffer reused by the
// next positioning call).
//
// Iterators come from Reader.NewIter and are recycled by Close: an Iter must
// not be used after Close. An Iter is not safe for concurrent use.
type Iter struct {
	r          *Reader
	index      blockIter
	data       blockIter
	dataOff    uint64 // offset of the loaded data block
	dataLoaded bool
	err        error
	// Optional user-key bounds [lower, upper) (see SetBounds), kept as the
	// smallest internal keys of those user keys: lowerKey/upperKey are nil
	// when unbounded.
	lowerKey, upperKey []byte
	lowerBuf, upperBuf []byte
	// seqLoads counts data blocks loaded in a row by stepping (Next or Prev
	// across a block boundary), reset by a seek. From readAheadAfter on,
	// the part of the table ahead of a block the cache lacks is read ahead
	// first (aheadLo, aheadHi: what was last asked for; see readAhead);
	// from scanThreshold on the iterator is scanning: blocks the cache
	// lacks are read into scanBuf and not cached (scan resistance, and no
	// allocation per block).
	seqLoads int
	scanBuf  []byte
	aheadLo  uint64
	aheadHi  uint64
	aheadN   uint64 // the size of the next request (scanAheadMin, doubling)
	// dataValue holds the loaded data block when it is cache memory (a
	// reference released when the iterator moves to another block or
	// closes).
	dataValue *cache.Value
	// readOnce: a compaction's iterator, which reads every block once in
	// order: through ReadAt (not the mapping, whose touched pages would
	// count towards the process's resident memory), without the cache.
	readOnce bool
	rawBuf   []byte
	// memo is where the last SeekGE of a user key's first key
	// (memoTrailer) that stopped inside the block it searched landed. It survives Close, as the pooled iterator goes to
	// the next caller, and a SeekGE of the same key on the same reader
	// returns to that entry without searching the index and the block
	// again: every scan that starts at the end of a range deletion seeks
	// the same key of the same table.
	memo seekMemo
}

// memoTrailer is the trailer of the search keys whose seeks the memo
// records: the first key of a user key (MaxSeq, KindMax), which is what an
// iterator seeks to skip past a range tombstone. Seeks at a read's
// sequence (a user's Seek) are not recorded: they rarely repeat, and the
// two copies would be a cost on every one of them (~7% of a random
// SeekGE in a table, measured).
var memoTrailer = base.Trailer(base.MakeSearchKey(nil, nil, base.MaxSeq))

// seekMemo: SeekGE(key) on reader readerID (0: no memo) landed on the
// entry at offset off (key entryKey, in restart interval restart) of the
// block of index entry block. The rest is what decoding found there,
// kept so that a return decodes nothing: the index entry (its key
// idx[1]:idx[2], its value, the block's handle h, up to idx[3]; it starts
// at idx[0]) and the end of the data entry's key and value (keyEnd,
// valEnd).
type seekMemo struct {
	readerID uint64
	key      []byte
	block    int
	off      int
	restart  int
	entryKey []byte
	idx      [4]int
	h        BlockHandle
	keyEnd   int
	valEnd   int
}

// readAhead asks for the part of the mapping a scan is about to read to be
// read ahead, when block h is outside what was asked last: the next aheadN
// bytes after it going forward, before it going backward. aheadN starts at
// scanAheadMin with each scan (a seek) and doubles with each request up to
// scanAheadBytes, so a short scan asks for little.
func (it *Iter) readAhead(h BlockHandle) {
	end := h.Offset + h.Size + blockTrailerLen
	if h.Offset >= it.aheadLo && end <= it.aheadHi {
		return
	}
	n := max(it.aheadN, h.Size+blockTrailerLen)
	it.aheadN = min(it.aheadN*2, scanAheadBytes)
	if forward := h.Offset >= it.dataOff; forward {
		it.aheadLo, it.aheadHi = h.Offset, it.r.willNeedFrom(h.Offset, n, true)
	} else {
		it.aheadLo, it.aheadHi = it.r.willNeedFrom(end, n, false), end
	}
}

// scanThreshold is how many blocks in a row an iterator steps through
// before it stops filling the block cache: a long scan must not evict the
// point reads' working set, but a short range read repeatedly (an SQL
// range select of a few hundred rows: 16 blocks of 4 KiB) stays cached, as
// it would in RocksDB or Pebble, which fill the cache on every read. With 2,
// every such query read its third block on from the table again (a copy or
// a decompression, and a checksum each time) and asked the kernel to read
// ahead: about a tenth of the CPU of a 100-row range select.
//
// readAheadAfter is how many blocks in a row it steps through before it
// asks the kernel to read ahead of the blocks the cache lacks (readAhead):
// a scan of data larger than memory gets its disk reads batched from its
// third block on, cached or not.
const (
	scanThreshold  = 16
	readAheadAfter = 2
)

var _ base.InternalIterator = (*Iter)(nil)

var iterPool = sync.Pool{New: func() any { return new(Iter) }}

// NewIter returns an iterator over the table, unpositioned. Iterators are
// pooled: in steady state NewIter does not allocate.
func (r *Reader) NewIter() *Iter {
	it := iterPool.Get().(*Iter)
	it.r = r
	it.err = nil
	it.dataLoaded = false
	it.data.valid = false
	it.data.data = nil
	it.lowerKey, it.upperKey = nil, nil
	it.readOnce = false
	it.aheadLo, it.aheadHi = 0, 0 // what a previous table's scan asked for
	it.aheadN = scanAheadMin
	if r.closed {
		it.err = errClosedReader
		it.index = blockIter{keyBuf: it.index.keyBuf}
		return it
	}
	it.index.init(r.cmp, r.index, r.file, r.footer.index.Offset)
	return it
}

// NewCompactionIter returns an iterator for reading the whole table once,
// in order, as a compaction does: blocks are read with ReadAt into buffers
// the iterator reuses, bypassing the block cache and the memory mapping
// (sequential reads get the kernel's readahead, and the table does not
// become resident in the process).
func (r *Reader) NewCompactionIter() *Iter {
	it := r.NewIter()
	it.readOnce = true
	return it
}

// SetBounds limits the iterator to user keys in [lower, upper); a nil bound
// is no limit. The bounds are copied. The position is undefined until the
// next SeekGE, SeekLT, First or Last.
func (it *Iter) SetBounds(lower, upper []byte) {
	it.lowerKey, it.upperKey = nil, nil
	if lower != nil {
		it.lowerBuf = base.MakeSearchKey(it.lowerBuf[:0], lower, base.MaxSeq)
		it.lowerKey = it.lowerBuf
	}
	if upper != nil {
		it.upperBuf = base.MakeSearchKey(it.upperBuf[:0], upper, base.MaxSeq)
		it.upperKey = it.upperBuf
	}
	it.data.valid = false
}

// checkUpper invalidates the iterator if it moved to or past the upper
// bound, and reports whether it is at an entry.
func (it *Iter) checkUpper(ok bool) bool {
	if ok && it.upperKey != nil && base.InternalCompare(it.r.cmp.Compare, it.data.key, it.upperKey) >= 0 {
		it.data.valid = false
		return false
	}
	return ok
}

// checkLower invalidates the iterator if it moved below the lower bound.
func (it *Iter) checkLower(ok bool) bool {
	if ok && it.lowerKey != nil && base.InternalCompare(it.r.cmp.Compare, it.data.key, it.lowerKey) < 0 {
		it.data.valid = false
		return false
	}
	return ok
}

// loadBlock points the data iterator at the block the index iterator is
// at. It reports false (with it.err set) on failure.
func (it *Iter) loadBlock() bool {
	h, err := it.r.decodeIndexValue(&it.index)
	if err != nil {
		it.err = err
		it.data.valid = false
		return false
	}
	return it.loadBlockAt(h)
}

// loadBlockAt is loadBlock for the block of handle h, which the index
// iterator's entry holds.
func (it *Iter) loadBlockAt(h BlockHandle) bool {
	var err error
	if it.dataLoaded && h.Offset == it.dataOff {
		// Same block: keep the position, which lets SeekGE narrow its
		// search; every caller repositions the data iterator next.
		return true
	}
	var b []byte
	var v *cache.Value
	if it.readOnce {
		b, err = it.r.readBlockOnce(h, &it.rawBuf, &it.scanBuf)
	} else if v = it.r.cache.Get(it.r.cacheID, h.Offset); v != nil {
		b = v.Buf()
	} else {
		// Read ahead only for blocks the cache lacks: asking the kernel
		// costs in proportion to the range even when every page is
		// resident.
		if it.seqLoads >= readAheadAfter && it.r.willNeed != nil {
			it.readAhead(h)
		}
		if it.seqLoads >= scanThreshold {
			b, err = it.r.readBlockNoFill(h, &it.scanBuf)
		} else {
			b, v, err = it.r.loadDataBlock(h)
		}
	}
	// The previous block's memory goes back now: its keys and values were
	// only valid until this move.
	it.dataValue.Release()
	it.dataValue = v
	if err != nil {
		it.err = err
		it.dataLoaded = false
		it.data.valid = false
		return false
	}
	if err := it.data.init(it.r.cmp, b, it.r.file, h.Offset); err != nil {
		it.err = err
		it.dataLoaded = false
		return false
	}
	it.dataOff = h.Offset
	it.dataLoaded = true
	return true
}

// skipForward moves to the first entry of the following non-empty blocks
// when the data iterator is exhausted.
func (it *Iter) skipForward() bool {
	for !it.data.valid {
		if it.data.err != nil || it.err != nil || !it.index.Next() {
			return false
		}
		it.seqLoads++
		if !it.loadBlock() {
			return false
		}
		it.data.First()
	}
	return true
}

// skipBackward moves to the last entry of the preceding non-empty blocks
// when the data iterator is exhausted.
func (it *Iter) skipBackward() bool {
	for !it.data.valid {
		if it.data.err != nil || it.err != nil || !it.index.Prev() {
			return false
		}
		it.seqLoads++
		if !it.loadBlock() {
			return false
		}
		it.data.Last()
	}
	return true
}

// seekIndex positions the index iterator at the first entry >= key, through
// the Reader's decoded index when its entries are all restart points.
func (it *Iter) seekIndex(key []byte) bool {
	if !it.r.idxRestarts {
		return it.index.SeekGE(key)
	}
	i := it.r.searchIndex(key)
	if i == it.r.idxLen() {
		it.index.valid = false
		return false
	}
	return it.index.seekToRestart(i)
}

func (it *Iter) ok() bool { return it.err == nil && it.data.err == nil && it.index.err == nil }

// SeekGE moves to the first entry with internal key >= key.
func (it *Iter) SeekGE(key []byte) bool {
	if !it.ok() {
		return false
	}
	if it.lowerKey != nil && base.InternalCompare(it.r.cmp.Compare, key, it.lowerKey) < 0 {
		key = it.lowerKey
	}
	it.seqLoads, it.aheadN = 0, scanAheadMin
	if m := &it.memo; m.readerID == it.r.id && bytes.Equal(m.key, key) {
		if it.index.setEntry(m.block, m.idx) && it.loadBlockAt(m.h) &&
			it.data.positionAt(m.off, m.restart, m.entryKey, m.keyEnd, m.valEnd) {
			return it.checkUpper(true)
		}
		if !it.ok() {
			it.data.valid = false
			return false
		}
	}
	m := &it.memo
	m.readerID = 0
	if !it.seekIndex(key) || !it.loadBlock() {
		it.data.valid = false
		return false
	}
	if it.data.SeekGE(key) && it.r.idxRestarts && base.Trailer(key) == memoTrailer {
		// Every index entry is a restart point: the index iterator's
		// restart interval is its entry, and its key is stored whole
		// (it.index.key lies in the block, before the value).
		h, err := it.r.decodeIndexValue(&it.index)
		if err == nil {
			x := &it.index
			m.readerID, m.block, m.off, m.restart = it.r.id, x.restartIdx, it.data.offset, it.data.restartIdx
			m.idx = [4]int{x.offset, x.next - len(x.val) - len(x.key), x.next - len(x.val), x.next}
			m.h = h
			m.keyEnd, m.valEnd = it.data.next-len(it.data.val), it.data.next
			m.key = append(m.key[:0], key...)
			m.entryKey = append(m.entryKey[:0], it.data.key...)
		}
	}
	return it.checkUpper(it.skipForward())
}

// SeekLT moves to the last entry with internal key < key.
func (it *Iter) SeekLT(key []byte) bool {
	if !it.ok() {
		return false
	}
	if it.upperKey != nil && base.InternalCompare(it.r.cmp.Compare, key, it.upperKey) > 0 {
		key = it.upperKey
	}
	it.seqLoads, it.aheadN = 0, scanAheadMin
	if !it.seekIndex(key) {
		if it.index.err != nil {
			it.data.valid = false
			return false
		}
		return it.checkLower(it.last())
	}
	if !it.loadBlock() {
		return false
	}
	it.data.SeekLT(key)
	return it.checkLower(it.skipBackward())
}

// First moves to the first entry.
func (it *Iter) First() bool {
	if !it.ok() {
		return false
	}
	if it.lowerKey != nil {
		return it.SeekGE(it.lowerKey)
	}
	it.seqLoads, it.aheadN = 0, scanAheadMin
	if !it.index.First() || !it.loadBlock() {
		it.data.valid = false
		return false
	}
	it.data.First()
	return it.checkUpper(it.skipForward())
}

// Last moves to the last entry.
func (it *Iter) Last() bool {
	if !it.ok() {
		return false
	}
	if it.upperKey != nil {
		return it.SeekLT(it.upperKey)
	}
	return it.checkLower(it.last())
}

// last moves to the last entry of the table, ignoring the bounds.
func (it *Iter) last() bool {
	it.seqLoads, it.aheadN = 0, scanAheadMin
	if !it.index.Last() || !it.loadBlock() {
		it.data.valid = false
		return false
	}
	it.data.Last()
	return it.skipBackward()
}

// Next moves to the next entry.
func (it *Iter) Next() bool {
	if !it.data.valid {
		return false
	}
	if it.data.Next() {
		return it.checkUpper(true)
	}
	return it.checkUpper(it.skipForward())
}

// Prev moves to the previous entry.
func (it *Iter) Prev() bool {
	if !it.data.valid {
		return false
	}
	if it.data.Prev() {
		return it.checkLower(true)
	}
	return it.checkLower(it.skipBackward())
}

// Valid reports whether the iterator is at an entry.
func (it *Iter) Valid() bool { return it.data.valid }

// Key returns the current internal key.
func (it *Iter) Key() []byte { return it.data.key }

// Value returns the current value.
func (it *Iter) Value() []byte { return it.data.val }

// Error returns the first error met.
func (it *Iter) Error() error {
	switch {
	case it.err != nil:
		return it.err
	case it.index.err != nil:
		return it.index.err
	}
	return it.data.err
}

// Close returns Error and recycles the iterator: it must not be used
// afterwards, not even closed again (it may already serve another caller).
func (it *Iter) Close() error {
	if it.r == nil {
		return nil
	}
	err := it.Error()
	it.r = nil
	it.err = nil
	it.dataLoaded = false
	it.dataValue.Release()
	it.dataValue = nil
	it.index.data, it.index.key, it.index.val, it.index.err, it.index.valid = nil, nil, nil, nil, false
	it.data.data, it.data.key, it.data.val, it.data.err, it.data.valid = nil, nil, nil, nil, false
	iterPool.Put(it)
	return err
}
