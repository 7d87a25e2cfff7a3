package sstable

import (
	"errors"
	"fmt"

	"github.com/strata-db/strata/internal/base"
)

// BlockInfo describes one block of a table.
type BlockInfo struct {
	// Handle locates the block (Size excludes the 5-byte trailer).
	Handle BlockHandle
	// Compression is the codec recorded in the block's trailer.
	Compression Compression
	// RawSize is the size of the uncompressed contents.
	RawSize int
	// NumEntries and NumRestarts count the block's entries and restart points.
	NumEntries, NumRestarts int
	// FirstKey and LastKey are the block's first and last keys (nil if
	// empty); IndexKey is the key of its index entry (data blocks only).
	FirstKey, LastKey, IndexKey []byte
	// Err is why a data block could not be read or decoded (a
	// *base.CorruptionError); only LayoutDamaged lists such blocks, with
	// Handle and IndexKey alone filled in besides.
	Err error
}

// Layout describes a table's structure, for tools (`strata sst`).
type Layout struct {
	// FileSize is the table's size in bytes.
	FileSize uint64
	// DataBlocks lists the data blocks in file order.
	DataBlocks []BlockInfo
	// Index and Metaindex describe the index and metaindex blocks (keys are
	// not filled in).
	Index, Metaindex BlockInfo
	// MetaEntries lists the metaindex entries, known or not.
	MetaEntries []MetaEntry
	// Filter is the bloom filter block's handle; HasFilter is false when the
	// table has no "filter.leveldb.BuiltinBloomFilter2" block.
	Filter    BlockHandle
	HasFilter bool
	// NumEntries is the total number of entries in the data blocks.
	NumEntries uint64
	// Compression is the codec of the first compressed data block, or
	// NoCompression when every data block is stored raw.
	Compression Compression
}

// Layout reads every data block (without the cache, verifying checksums if
// the Reader does) and describes the table. A damaged block is an error.
func (r *Reader) Layout() (*Layout, error) { return r.layout(false) }

// LayoutDamaged is Layout going on past damaged data blocks: each is listed
// with its Err, and NumEntries counts the intact blocks' entries. Damage
// that hides the data blocks (in the footer, the index or the metaindex)
// is still an error.
func (r *Reader) LayoutDamaged() (*Layout, error) { return r.layout(true) }

func (r *Reader) layout(goOn bool) (*Layout, error) {
	if r.closed {
		return nil, errClosedReader
	}
	l := &Layout{
		FileSize:    uint64(r.size),
		MetaEntries: append([]MetaEntry(nil), r.metaEntries...),
		Filter:      r.filterHandle,
		HasFilter:   r.hasFilter,
	}
	var bi blockIter
	var err error
	if l.Index, err = r.describeBlock(&bi, r.footer.index, r.indexCompression, r.index, false); err != nil {
		return nil, err
	}
	meta, mc, _, err := r.readBlock(r.footer.metaindex, true)
	if err != nil {
		return nil, err
	}
	if l.Metaindex, err = r.describeBlock(&bi, r.footer.metaindex, mc, meta, false); err != nil {
		return nil, err
	}
	var ii blockIter
	ii.init(r.cmp, r.index, r.file, r.footer.index.Offset)
	for ok := ii.First(); ok; ok = ii.Next() {
		h, err := r.decodeIndexValue(&ii)
		if err != nil {
			return nil, err
		}
		contents, c, _, err := r.readBlock(h, r.verify)
		var info BlockInfo
		if err == nil {
			info, err = r.describeBlock(&bi, h, c, contents, true)
		}
		if err != nil && goOn && errors.Is(err, base.ErrCorruption) {
			l.DataBlocks = append(l.DataBlocks, BlockInfo{Handle: h, IndexKey: append([]byte(nil), ii.key...), Err: err})
			continue
		}
		if err != nil {
			return nil, err
		}
		info.IndexKey = append([]byte(nil), ii.key...)
		if c != NoCompression && l.Compression == NoCompression {
			l.Compression = c
		}
		l.NumEntries += uint64(info.NumEntries)
		l.DataBlocks = append(l.DataBlocks, info)
	}
	if ii.err != nil {
		return nil, ii.err
	}
	return l, nil
}

// describeBlock counts a block's entries; with keys it records the first and
// last key.
func (r *Reader) describeBlock(bi *blockIter, h BlockHandle, c Compression, contents []byte, keys bool) (BlockInfo, error) {
	info := BlockInfo{Handle: h, Compression: c, RawSize: len(contents)}
	if err := bi.init(nil, contents, r.file, h.Offset); err != nil {
		return info, err
	}
	info.NumRestarts = bi.numRestarts
	for ok := bi.First(); ok; ok = bi.Next() {
		if keys && info.NumEntries == 0 {
			info.FirstKey = append([]byte(nil), bi.key...)
		}
		info.NumEntries++
	}
	if bi.err != nil {
		return info, bi.err
	}
	if keys && info.NumEntries > 0 {
		bi.Last()
		info.LastKey = append([]byte(nil), bi.key...)
	}
	return info, bi.err
}

// Check reads every block of the table, verifying every checksum whatever
// the options, and checks the structure: data blocks lie in order without
// overlapping (gaps are allowed: the format locates every block by its
// handle, and RocksDB's block_align pads blocks to a boundary) and before
// the meta blocks; every key is a valid internal
// key; keys are strictly increasing across the table; each index key is >=
// the last key of its block and < the first key of the next; the filter's
// framing is sound and it matches every key of its block; the
// range-deletion block, if any, holds ordered, non-empty, non-overlapping
// fragments (checkRangeDels). It returns the
// first problem found as a *base.CorruptionError with its offset.
func (r *Reader) Check() error {
	if r.closed {
		return errClosedReader
	}
	cmp := func(a, b []byte) int { return base.InternalCompare(r.cmp.Compare, a, b) }
	var ii, bi blockIter
	ii.init(r.cmp, r.index, r.file, r.footer.index.Offset)
	var prevKey, prevIndexKey []byte
	next := uint64(0) // where the next data block must start
	nBlocks := 0
	for ok := ii.First(); ok; ok = ii.Next() {
		indexOff := int64(r.footer.index.Offset) + int64(ii.offset)
		if !base.ValidInternalKey(ii.key) {
			return base.CorruptionErrorf(r.file, indexOff, "invalid index key %q", ii.key)
		}
		if prevIndexKey != nil && cmp(prevIndexKey, ii.key) >= 0 {
			return base.CorruptionErrorf(r.file, indexOff, "index keys out of order: %s after %s",
				base.FormatInternalKey(ii.key), base.FormatInternalKey(prevIndexKey))
		}
		h, err := r.decodeIndexValue(&ii)
		if err != nil {
			return err
		}
		if h.Offset < next {
			return base.CorruptionErrorf(r.file, indexOff, "data block %d at offset %d overlaps the block before it, which ends at %d", nBlocks, h.Offset, next)
		}
		next = h.Offset + h.Size + blockTrailerLen
		contents, _, _, err := r.readBlock(h, true)
		if err != nil {
			return err
		}
		if err := bi.init(r.cmp, contents, r.file, h.Offset); err != nil {
			return err
		}
		if err := checkRestarts(&bi); err != nil {
			return err
		}
		first := true
		for ok := bi.First(); ok; ok = bi.Next() {
			entryOff := int64(h.Offset) + int64(bi.offset)
			if !base.ValidInternalKey(bi.key) {
				return base.CorruptionErrorf(r.file, entryOff, "invalid internal key %q", bi.key)
			}
			if prevKey != nil && cmp(prevKey, bi.key) >= 0 {
				return base.CorruptionErrorf(r.file, entryOff, "keys out of order: %s after %s",
					base.FormatInternalKey(bi.key), base.FormatInternalKey(prevKey))
			}
			if first && prevIndexKey != nil && cmp(prevIndexKey, bi.key) >= 0 {
				return base.CorruptionErrorf(r.file, entryOff, "first key %s of block not after index key %s",
					base.FormatInternalKey(bi.key), base.FormatInternalKey(prevIndexKey))
			}
			if cmp(bi.key, ii.key) > 0 {
				return base.CorruptionErrorf(r.file, entryOff, "key %s after its block's index key %s",
					base.FormatInternalKey(bi.key), base.FormatInternalKey(ii.key))
			}
			if r.hasFilter && !r.filter.mayContain(h.Offset, bloomHash(base.UserKey(bi.key))) {
				return base.CorruptionErrorf(r.file, entryOff, "bloom filter misses key %s", base.FormatInternalKey(bi.key))
			}
			prevKey = append(prevKey[:0], bi.key...)
			first = false
		}
		if bi.err != nil {
			return bi.err
		}
		prevIndexKey = append(prevIndexKey[:0], ii.key...)
		nBlocks++
	}
	if ii.err != nil {
		return ii.err
	}
	// The meta blocks follow the data.
	metaStart := r.footer.metaindex.Offset
	if r.hasFilter {
		metaStart = min(metaStart, r.filterHandle.Offset)
		if err := checkFilterFraming(&r.filter, r.file, r.filterHandle.Offset); err != nil {
			return err
		}
	}
	if next > metaStart {
		return base.CorruptionErrorf(r.file, int64(metaStart), "meta blocks overlap the data blocks (which end at %d)", next)
	}
	if _, _, _, err := r.readBlock(r.footer.metaindex, true); err != nil {
		return err
	}
	return r.checkRangeDels()
}

// checkRestarts verifies that restart points are strictly increasing, start
// at 0 and point at entries stored with shared == 0.
func checkRestarts(bi *blockIter) error {
	prev := -1
	for i := 0; i < bi.numRestarts; i++ {
		p := bi.restartPoint(i)
		if bi.restarts == 0 && p < 0 {
			continue // empty block
		}
		if p < 0 || p <= prev || (i == 0 && p != 0) {
			return bi.corruption(bi.restarts+4*i, "bad restart point %d", i)
		}
		if _, ok := bi.keyAtRestart(i); !ok {
			return bi.corruption(p, "bad entry at restart point %d", i)
		}
		prev = p
	}
	return nil
}

// checkFilterFraming verifies every filter's offsets.
func checkFilterFraming(f *filterReader, file string, off uint64) error {
	for i := 0; i < f.num; i++ {
		p := f.offsets + 4*i
		start := uint32LE(f.data[p:])
		limit := uint32LE(f.data[p+4:])
		if start > limit || int(limit) > f.offsets {
			return base.CorruptionErrorf(file, int64(off)+int64(p), "bad offsets [%d, %d) of filter %d", start, limit, i)
		}
	}
	return nil
}

func uint32LE(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// String summarizes a layout in one line.
func (l *Layout) String() string {
	return fmt.Sprintf("%d bytes, %d data blocks, %d entries, compression %s, filter %v",
		l.FileSize, len(l.DataBlocks), l.NumEntries, l.Compression, l.HasFilter)
}
