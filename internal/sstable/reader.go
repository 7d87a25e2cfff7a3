package sstable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
	"github.com/strata-db/strata/internal/rangedel"
)

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// Comparer orders user keys; it must be the one the table was written
	// with. nil means base.DefaultComparer.
	Comparer *base.Comparer
	// Cache holds uncompressed data blocks, keyed by an id the Reader takes
	// from it. nil disables caching.
	Cache *cache.Cache
	// FileName names the file in errors.
	FileName string
	// VerifyChecksums makes every data-block read check the block's crc.
	// The DB sets it (LevelDB's paranoid default for Strata). The footer,
	// index, metaindex and filter blocks are always verified when opened.
	VerifyChecksums bool
	// Mmap, if non-nil, is the whole file's contents (len == size): blocks
	// are read by slicing it, with no system calls, and uncompressed blocks
	// are used in place (not copied, not cached; as in LevelDB, with
	// VerifyChecksums their crc is checked on every access). Compressed
	// blocks are decompressed and cached as usual. The caller keeps the
	// mapping alive until the Reader and its iterators are closed.
	Mmap []byte
	// IgnoreMeta skips the metaindex and the filter block: the table is
	// read without a filter. Repair uses it to save the data of a table
	// whose metaindex or filter block is damaged.
	IgnoreMeta bool
	// WillNeed, if set with Mmap, is called with a part of Mmap a scan is
	// about to read, so that its pages are read ahead (vfs.WillNeed): a
	// mapping advised for random access faults page by page.
	WillNeed func(b []byte)
	// FileWillNeed, if set without Mmap, is called with a part of the file
	// (offset, length) a scan is about to read, so that it is read ahead
	// (vfs.WillNeedFile): a file advised for random access
	// (vfs.AdviseRandom) gets no readahead from the kernel.
	FileWillNeed func(off, n int64)
}

// Reader reads one table. It keeps the index and filter blocks in memory and
// reads data blocks through the cache. A Reader is safe for concurrent use
// by multiple goroutines (each with its own iterators).
type Reader struct {
	f    io.ReaderAt
	size int64
	mmap []byte
	// willNeed is ReaderOptions.WillNeed with a mapping; without one it is
	// a no-op when fileWillNeed is set. Non-nil: scans ask for the part of
	// the table they are about to read (willNeedFrom).
	willNeed     func(b []byte)
	fileWillNeed func(off, n int64)
	cmp          *base.Comparer
	cache        *cache.Cache
	cacheID      uint64
	// id tells this reader apart from every other of the process (an
	// iterator's seek memo is only good for the reader it was made on).
	id     uint64
	file   string
	verify bool
	closed bool
	// deferEvict: Close leaves the blocks cached (DeferEviction).
	deferEvict atomic.Bool

	footer           footer
	index            []byte // index block contents
	indexCompression Compression
	// The index decoded once, for binary search without varint decoding:
	// entry i's key is idxBuf[idxPos[2i]:idxPos[2i+1]] (idxKey). idxBuf is
	// the index block itself when every entry is a restart point (LevelDB
	// writes them so: each key is stored whole); otherwise a copy of the
	// keys. Then, with idxRestarts, an index iterator can also be
	// positioned by seekToRestart. The data blocks lie end to end in every
	// table LevelDB's format writes, so their handles are idxOffs: block i
	// is [idxOffs[i], idxOffs[i+1]-blockTrailerLen) (idxHandle); a table
	// whose blocks do not (or past 4 GiB) has idxHandles instead. 12 bytes
	// per entry, read densely by a point read: slices and decoded handles
	// (40 bytes per entry, 42 KB per 2 MiB table, 79 MB at 50M keys) kept
	// memory from the page cache.
	idxBuf      []byte
	idxPos      []uint32
	idxOffs     []uint32
	idxHandles  []BlockHandle
	idxRestarts bool
	// With the bytewise comparer, a dense search array over the index
	// entries but the last (see buildIndexPrefixes): idxPrefix[i] is bytes
	// idxSkip..idxSkip+8 of idxKey(i)'s user key (zero-padded,
	// big-endian), where idxCommon (idxSkip bytes) is the user-key prefix
	// those entries share. Nil for other comparers.
	idxPrefix       []uint64
	idxCommon       []byte
	idxSkip         int
	metaCompression Compression
	metaEntries     []MetaEntry
	hasFilter       bool
	filterHandle    BlockHandle
	// rangeDels are the table's range tombstones (nil: none), read at open
	// from the range-deletion block; their keys are copies.
	rangeDels *rangedel.Set
	filter    filterReader
	// meta is the memory outside the Go heap holding the index, the flat
	// index and the filter (moveMetaOffHeap), unmapped by Close; nil: they
	// are in the heap (or the table's mapping).
	meta []byte
}

// readerIDs numbers readers (Reader.id).
var readerIDs atomic.Uint64

// MetaEntry is one entry of the metaindex block.
type MetaEntry struct {
	Name   string
	Handle BlockHandle
}

// errClosedReader is returned by a Reader's methods after Close.
var errClosedReader = errors.New("sstable: reader is closed")

// NewReader opens the table held by f, of the given size. It reads and
// verifies the footer, the index block, the metaindex and the filter block.
// Errors about the file's contents are *base.CorruptionError values naming
// o.FileName and the offset. NewReader does not take ownership of f.
func NewReader(f io.ReaderAt, size int64, o ReaderOptions) (*Reader, error) {
	r := &Reader{
		id:     readerIDs.Add(1),
		f:      f,
		size:   size,
		mmap:   o.Mmap,
		cmp:    o.Comparer,
		cache:  o.Cache,
		file:   o.FileName,
		verify: o.VerifyChecksums,
	}
	if o.Mmap != nil {
		r.willNeed = o.WillNeed
	} else if o.FileWillNeed != nil {
		r.fileWillNeed, r.willNeed = o.FileWillNeed, func([]byte) {}
	}
	if r.cmp == nil {
		r.cmp = base.DefaultComparer
	}
	if r.mmap != nil && int64(len(r.mmap)) != size {
		return nil, fmt.Errorf("sstable: %s: mmap holds %d bytes, file size is %d", r.file, len(r.mmap), size)
	}
	if r.mmap == nil && f == nil {
		return nil, fmt.Errorf("sstable: %s: no file", r.file)
	}
	if size < footerLen {
		return nil, base.CorruptionErrorf(r.file, 0, "file is too short (%d bytes) to be an sstable", size)
	}
	footOff := size - footerLen
	var fbuf [footerLen]byte
	fb, err := r.readAt(fbuf[:], footOff)
	if err != nil {
		return nil, err
	}
	if r.footer, err = decodeFooter(fb, r.file, footOff); err != nil {
		return nil, err
	}

	// Index block.
	r.index, r.indexCompression, _, err = r.readBlock(r.footer.index, true)
	if err != nil {
		return nil, err
	}
	var it blockIter
	if err := it.init(r.cmp, r.index, r.file, r.footer.index.Offset); err != nil {
		return nil, err
	}
	if err := r.buildFlatIndex(&it); err != nil {
		return nil, err
	}

	if o.IgnoreMeta {
		r.moveMetaOffHeap()
		r.cacheID = r.cache.NewID()
		return r, nil
	}

	// Metaindex and filter.
	meta, mc, _, err := r.readBlock(r.footer.metaindex, true)
	if err != nil {
		return nil, err
	}
	r.metaCompression = mc
	if err := it.init(nil, meta, r.file, r.footer.metaindex.Offset); err != nil {
		return nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		h, n := decodeBlockHandle(it.val)
		if n <= 0 {
			return nil, base.CorruptionErrorf(r.file, int64(r.footer.metaindex.Offset)+int64(it.offset),
				"bad block handle in metaindex entry %q", it.key)
		}
		r.metaEntries = append(r.metaEntries, MetaEntry{Name: string(it.key), Handle: h})
		if string(it.key) == rangeDelMetaKey {
			if r.rangeDels, err = r.readRangeDels(h); err != nil {
				return nil, err
			}
			continue
		}
		if string(it.key) != filterMetaKey {
			continue // e.g. goleveldb's "filter.leveldb.BuiltinBloomFilter"
		}
		fdata, _, _, err := r.readBlock(h, true)
		if err != nil {
			return nil, err
		}
		if r.filter, err = initFilterReader(fdata, r.file, h.Offset); err != nil {
			return nil, err
		}
		r.hasFilter = true
		r.filterHandle = h
	}
	if it.err != nil {
		return nil, it.err
	}
	r.moveMetaOffHeap()
	r.cacheID = r.cache.NewID()
	return r, nil
}

// readRangeDels reads the range-deletion block at h (see rangeDelMetaKey).
func (r *Reader) readRangeDels(h BlockHandle) (*rangedel.Set, error) {
	data, _, _, err := r.readBlock(h, true)
	if err != nil {
		return nil, err
	}
	var it blockIter
	if err := it.init(r.cmp, data, r.file, h.Offset); err != nil {
		return nil, err
	}
	var ts []rangedel.Tombstone
	for ok := it.First(); ok; ok = it.Next() {
		ukey, seq, kind, valid := base.ParseInternalKey(it.key)
		if !valid || kind != base.KindRangeDelete {
			return nil, base.CorruptionErrorf(r.file, int64(h.Offset)+int64(it.offset),
				"range-deletion block entry %s is not a range tombstone", base.FormatInternalKey(it.key))
		}
		ts = append(ts, rangedel.Tombstone{Start: bytes.Clone(ukey), End: bytes.Clone(it.val), Seq: seq})
	}
	if it.err != nil {
		return nil, it.err
	}
	return rangedel.NewSet(r.cmp.Compare, ts), nil
}

// RangeDels returns the table's range tombstones, fragmented (nil when it
// has none). The set stays valid after Close.
func (r *Reader) RangeDels() *rangedel.Set { return r.rangeDels }

// HasFilter reports whether the table has a bloom filter that point reads
// consult before reading a data block.
func (r *Reader) HasFilter() bool { return r.hasFilter }

// Empty reports whether the table has no data blocks, so no point entries
// (it may still hold range tombstones).
func (r *Reader) Empty() bool { return r.idxLen() == 0 }

// readAt reads len(buf) bytes at off (or slices the mmap).
func (r *Reader) readAt(buf []byte, off int64) ([]byte, error) {
	if r.mmap != nil {
		return r.mmap[off : off+int64(len(buf))], nil
	}
	return r.readFile(buf, off)
}

// readFile reads len(buf) bytes at off with ReadAt, mapped file or not.
func (r *Reader) readFile(buf []byte, off int64) ([]byte, error) {
	n, err := r.f.ReadAt(buf, off)
	if n == len(buf) {
		return buf, nil
	}
	if err == nil || err == io.EOF {
		return nil, base.CorruptionErrorf(r.file, off, "truncated read (%d of %d bytes)", n, len(buf))
	}
	return nil, fmt.Errorf("sstable: %s: read at %d: %w", r.file, off, err)
}

// readBlock reads the block at h, checks its trailer's crc if verify, and
// returns its uncompressed contents. fromMmap reports contents that alias the
// mmap (uncompressed blocks of a mapped file); otherwise contents is a fresh
// allocation owned by the caller.
func (r *Reader) readBlock(h BlockHandle, verify bool) (contents []byte, c Compression, fromMmap bool, err error) {
	return r.readBlockInto(nil, h, verify)
}

// readBlockInto is readBlock decompressing into dst's storage when it can
// (see decompressBlockInto); then contents aliases dst.
func (r *Reader) readBlockInto(dst []byte, h BlockHandle, verify bool) (contents []byte, c Compression, fromMmap bool, err error) {
	if err := r.checkHandle(h); err != nil {
		return nil, 0, false, err
	}
	n := int(h.Size)
	var b []byte
	if r.mmap != nil {
		b = r.mmap[h.Offset : h.Offset+h.Size+blockTrailerLen]
	} else {
		if b, err = r.readAt(make([]byte, n+blockTrailerLen), int64(h.Offset)); err != nil {
			return nil, 0, false, err
		}
	}
	c = Compression(b[n])
	if verify {
		if err := r.checkTrailer(b, h); err != nil {
			return nil, 0, false, err
		}
	}
	if c == NoCompression {
		return b[:n:n], c, r.mmap != nil, nil
	}
	out, err := decompressBlockInto(dst, b[:n], c)
	if err != nil {
		return nil, c, false, r.decompressErr(h, err)
	}
	return out, c, false, nil
}

// dataBlock returns the uncompressed contents of the data block at h,
// through the cache. When the contents are cache memory, v holds a
// reference the caller must Release once done with them (the contents are
// invalid afterwards); v is nil when they are not (no cache, or an
// uncompressed block read in place from the mapped file).
func (r *Reader) dataBlock(h BlockHandle) (contents []byte, v *cache.Value, err error) {
	if v := r.cache.Get(r.cacheID, h.Offset); v != nil {
		return v.Buf(), v, nil
	}
	return r.loadDataBlock(h)
}

// loadDataBlock is dataBlock for a block the cache lacks: it reads it and
// adds it to the cache.
func (r *Reader) loadDataBlock(h BlockHandle) (contents []byte, v *cache.Value, err error) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	payload, c, mapped, err := r.rawBlock(h, r.verify, &sc.buf)
	if err != nil {
		return nil, nil, err
	}
	if r.cache == nil {
		switch {
		case c != NoCompression:
			out, err := decompressBlockInto(nil, payload, c)
			if err != nil {
				return nil, nil, r.decompressErr(h, err)
			}
			return out, nil, nil
		case mapped:
			return payload, nil, nil
		default:
			return bytes.Clone(payload), nil, nil // payload is the pooled scratch
		}
	}
	switch c {
	case NoCompression:
		if mapped {
			return payload, nil, nil // in place: nothing to cache
		}
		v = r.cache.Alloc(len(payload))
		copy(v.Buf(), payload)
	case SnappyCompression:
		n, err := snappyDecodedLen(payload)
		if err != nil {
			return nil, nil, r.decompressErr(h, err)
		}
		v = r.cache.Alloc(n)
		if _, err := decompressBlockInto(v.Buf(), payload, c); err != nil {
			v.Release()
			return nil, nil, r.decompressErr(h, err)
		}
	default:
		out, err := decompressBlockInto(nil, payload, c)
		if err != nil {
			return nil, nil, r.decompressErr(h, err)
		}
		v = r.cache.Alloc(len(out))
		copy(v.Buf(), out)
	}
	r.cache.Set(r.cacheID, h.Offset, v)
	return v.Buf(), v, nil
}

// scratch is a pooled buffer for reading a block's stored bytes with
// ReadAt before they are decompressed into cache memory.
type scratch struct{ buf []byte }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// mappedBlockMax is the largest stored block size that point reads take
// from a mapped file; larger blocks are read with ReadAt (pread). A block
// that large holds one big value or a few (tables have 4 KiB blocks by
// default): its read is dominated by copying and decompressing it, which
// the mapping does not save, while every page of the mapping a read
// touches — with the kernel's fault-around, 64 KiB of it — stays in the
// process's resident memory for as long as the table is open. Random reads
// of 16 KiB values over 140 MiB of tables had 147 MiB of mapped table
// pages resident; with pread, none. Smaller blocks keep the mapping: no
// system call per read, which is what lets point reads of small values
// beat pread-based engines when the cache is smaller than the data.
const mappedBlockMax = 8<<10 - 1

// rawBlock returns the stored bytes of the block at h (without its trailer)
// and its compression type, checking the trailer's checksum if verify.
// With a mapped file the bytes of a block up to mappedBlockMax alias the
// mapping (mapped); otherwise they are read into *buf, grown as needed.
func (r *Reader) rawBlock(h BlockHandle, verify bool, buf *[]byte) (payload []byte, c Compression, mapped bool, err error) {
	if err := r.checkHandle(h); err != nil {
		return nil, 0, false, err
	}
	n := int(h.Size)
	var b []byte
	if r.mmap != nil && (h.Size <= mappedBlockMax || r.f == nil) {
		b = r.mmap[h.Offset : h.Offset+h.Size+blockTrailerLen]
		mapped = true
	} else {
		if cap(*buf) < n+blockTrailerLen {
			*buf = make([]byte, n+blockTrailerLen)
		}
		if b, err = r.readFile((*buf)[:n+blockTrailerLen], int64(h.Offset)); err != nil {
			return nil, 0, false, err
		}
	}
	c = Compression(b[n])
	if verify {
		if err := r.checkTrailer(b, h); err != nil {
			return nil, 0, false, err
		}
	}
	return b[:n:n], c, mapped, nil
}

// readBlockOnce reads the block at h with ReadAt into *raw (never from
// the mapping), verifying its checksum, and returns its contents:
// decompressed into *out when compressed. Both buffers are grown as needed
// and kept by the caller for the next block.
func (r *Reader) readBlockOnce(h BlockHandle, raw, out *[]byte) ([]byte, error) {
	if err := r.checkHandle(h); err != nil {
		return nil, err
	}
	n := int(h.Size)
	if cap(*raw) < n+blockTrailerLen {
		*raw = make([]byte, n+blockTrailerLen)
	}
	b := (*raw)[:n+blockTrailerLen]
	if got, err := r.f.ReadAt(b, int64(h.Offset)); got != len(b) {
		if err == nil || err == io.EOF {
			return nil, base.CorruptionErrorf(r.file, int64(h.Offset), "truncated read (%d of %d bytes)", got, len(b))
		}
		return nil, fmt.Errorf("sstable: %s: read at %d: %w", r.file, h.Offset, err)
	}
	c := Compression(b[n])
	if err := r.checkTrailer(b, h); err != nil {
		return nil, err
	}
	if c == NoCompression {
		return b[:n:n], nil
	}
	contents, err := decompressBlockInto(*out, b[:n], c)
	if err != nil {
		return nil, r.decompressErr(h, err)
	}
	*out = contents
	return contents, nil
}

// checkHandle reports a block handle that does not fit, with its 5-byte
// trailer, between the table's start and its footer.
func (r *Reader) checkHandle(h BlockHandle) error {
	end := uint64(r.size - footerLen)
	if h.Size > end || h.Offset > end-h.Size || end-h.Size-h.Offset < blockTrailerLen {
		return base.CorruptionErrorf(r.file, int64(min(h.Offset, uint64(r.size))), "bad block handle %s", h)
	}
	return nil
}

// checkTrailer checks the checksum in the trailer of the block at h: b holds
// the block's h.Size stored bytes and its trailer (compression type, then
// the masked CRC-32C of the bytes and the type).
func (r *Reader) checkTrailer(b []byte, h BlockHandle) error {
	n := int(h.Size)
	want := base.UnmaskCRC(binary.LittleEndian.Uint32(b[n+1:]))
	if got := base.CRC(b[:n+1]); got != want {
		return base.CorruptionErrorf(r.file, int64(h.Offset),
			"block checksum mismatch at block offset %d (size %d)", h.Offset, h.Size)
	}
	return nil
}

// decompressErr turns a decompression failure into a corruption error
// naming the block.
func (r *Reader) decompressErr(h BlockHandle, err error) error {
	var de *decompressError
	if errors.As(err, &de) {
		return base.CorruptionErrorf(r.file, int64(h.Offset), "block at offset %d: %s", h.Offset, de.msg)
	}
	return err
}

// readBlockNoFill reads the data block at h, which the cache lacks,
// without adding it to the cache, decompressing into *buf (which it grows
// and keeps for the next call). Long scans use it (after a cache look-up):
// they would otherwise evict the working set of point reads for blocks
// read once, and allocate a fresh block each time.
func (r *Reader) readBlockNoFill(h BlockHandle, buf *[]byte) ([]byte, error) {
	b, c, _, err := r.readBlockInto(*buf, h, r.verify)
	if err != nil {
		return nil, err
	}
	if c != NoCompression {
		*buf = b
	}
	return b, nil
}

// scanAheadBytes is the most of a mapped table a scan asks the kernel to
// read ahead at a time (see Reader.willNeedFrom); scanAheadMin is its first
// request, which each further one doubles. A short scan (a range of a
// hundred rows, a few blocks) so asks for 64 KiB: madvise(WILLNEED) costs
// in proportion to the range even when every page is resident, and asking
// for 2 MiB took about a tenth of the CPU of an SQL range select of 100
// rows.
const (
	scanAheadBytes = 2 << 20
	scanAheadMin   = 64 << 10
)

// willNeedFrom asks for n bytes of the mapping from off (or, for a
// backward scan, before off) to be read ahead, and returns the offset past
// which (forward) or before which (backward) it must be asked again.
// The mapping is advised for random access, so without this a scan would
// fault on it page by page; reading it with ReadAt instead (the kernel's own
// readahead) costs a system call and a copy per block, a third of the speed
// of a scan whose tables are in memory.
//
// Without a mapping (ReaderOptions.FileWillNeed) the same part of the file
// is asked for.
func (r *Reader) willNeedFrom(off, n uint64, forward bool) uint64 {
	size := uint64(r.size)
	start, end := off-min(off, n), off
	if forward {
		start, end = off, min(off+n, size)
	}
	if r.mmap != nil {
		r.willNeed(r.mmap[start:end])
	} else {
		r.fileWillNeed(int64(start), int64(end-start))
	}
	if forward {
		return end
	}
	return start
}

// buildFlatIndex decodes every index entry (it is an iterator over the
// index block).
func (r *Reader) buildFlatIndex(it *blockIter) error {
	// Index blocks have a restart point per entry (LevelDB's writers all
	// use interval 1), so this sizes the arrays exactly: growing them by
	// append made 2-3 times their size in garbage per table opened.
	pos := make([]uint32, 0, 2*it.numRestarts)
	offs := make([]uint32, 0, it.numRestarts+1)
	var handles []BlockHandle // when the blocks do not lie end to end
	var copied []byte         // the keys, when some key is not whole in the block
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		h, err := r.decodeIndexValue(it)
		if err != nil {
			return err
		}
		if handles == nil {
			end := h.Offset + h.Size + blockTrailerLen
			if n == 0 && h.Offset <= math.MaxUint32 {
				offs = append(offs, uint32(h.Offset))
			}
			if len(offs) == n+1 && uint64(offs[n]) == h.Offset && end <= math.MaxUint32 && end > h.Offset {
				offs = append(offs, uint32(end))
			} else {
				handles = make([]BlockHandle, n, it.numRestarts)
				for i := range handles {
					handles[i] = BlockHandle{uint64(offs[i]), uint64(offs[i+1]-offs[i]) - blockTrailerLen}
				}
				offs = nil
			}
		}
		if handles != nil {
			handles = append(handles, h)
		}
		if copied == nil && !aliases(it.key, r.index) {
			// A prefix-compressed key lives in the iterator's buffer:
			// copy every key so far, and the rest as they come.
			copied = make([]byte, 0, len(r.index))
			for i := 0; i < n; i++ {
				start := len(copied)
				copied = append(copied, r.index[pos[2*i]:pos[2*i+1]]...)
				pos[2*i], pos[2*i+1] = uint32(start), uint32(len(copied))
			}
		}
		var start, end uint64
		if copied != nil {
			start = uint64(len(copied))
			copied = append(copied, it.key...)
			end = uint64(len(copied))
		} else {
			start = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(it.key))) - uintptr(unsafe.Pointer(unsafe.SliceData(r.index))))
			end = start + uint64(len(it.key))
		}
		if end > math.MaxUint32 {
			return base.CorruptionErrorf(r.file, int64(r.footer.index.Offset), "index keys of more than %d bytes", uint32(math.MaxUint32))
		}
		pos = append(pos, uint32(start), uint32(end))
		n++
	}
	if it.err != nil {
		return it.err
	}
	r.idxBuf, r.idxPos, r.idxOffs, r.idxHandles = r.index, pos, offs, handles
	if copied != nil {
		r.idxBuf = copied
	}
	r.idxRestarts = n == it.numRestarts
	if r.cmp == base.DefaultComparer {
		r.buildIndexPrefixes()
	}
	return nil
}

// idxLen returns the number of index entries (data blocks).
func (r *Reader) idxLen() int { return len(r.idxPos) / 2 }

// idxKey returns index entry i's key.
func (r *Reader) idxKey(i int) []byte {
	return r.idxBuf[r.idxPos[2*i]:r.idxPos[2*i+1]]
}

// idxBlockOffset returns the offset of the data block index entry i
// separates (what a filter probe needs).
func (r *Reader) idxBlockOffset(i int) uint64 {
	if r.idxOffs != nil {
		return uint64(r.idxOffs[i])
	}
	return r.idxHandles[i].Offset
}

// idxHandle returns the handle of the data block index entry i separates.
func (r *Reader) idxHandle(i int) BlockHandle {
	if r.idxOffs != nil {
		return BlockHandle{uint64(r.idxOffs[i]), uint64(r.idxOffs[i+1]-r.idxOffs[i]) - blockTrailerLen}
	}
	return r.idxHandles[i]
}

// buildIndexPrefixes fills idxCommon, idxSkip and idxPrefix, for every
// index entry but the last: that one is usually the short successor of the
// table's last key ("1" for "0999"), which shares nothing with the rest.
// The other keys are sorted, so the common prefix of the first and the
// second-to-last user key is common to all of them; past it, 8 bytes of
// each key as a big-endian number order the entries as their keys do
// wherever the numbers differ (a shorter key is padded with zeros, which
// sorts it first). A binary search over the numbers, in one contiguous
// array, then narrows the search to the entries with the target's number,
// most often one, instead of comparing whole keys reached through a
// pointer at every step.
func (r *Reader) buildIndexPrefixes() {
	n := r.idxLen() - 1
	if n < 1 {
		return
	}
	first, last := r.idxKey(0), r.idxKey(n-1)
	if len(first) < base.TrailerLen || len(last) < base.TrailerLen {
		return // corrupt keys: the plain search reports nothing wrong either
	}
	fu, lu := first[:len(first)-base.TrailerLen], last[:len(last)-base.TrailerLen]
	skip := 0
	for skip < len(fu) && skip < len(lu) && fu[skip] == lu[skip] {
		skip++
	}
	prefix := make([]uint64, n)
	for i := range n {
		k := r.idxKey(i)
		if len(k) < base.TrailerLen {
			return
		}
		prefix[i] = prefixAt(k[:len(k)-base.TrailerLen], skip)
	}
	r.idxCommon, r.idxSkip, r.idxPrefix = fu[:skip:skip], skip, prefix
}

// prefixAt returns bytes skip..skip+8 of u, zero-padded, as a big-endian
// number.
func prefixAt(u []byte, skip int) uint64 {
	if len(u) >= skip+8 {
		return binary.BigEndian.Uint64(u[skip:])
	}
	var b [8]byte
	if skip < len(u) {
		copy(b[:], u[skip:])
	}
	return binary.BigEndian.Uint64(b[:])
}

// aliases reports whether b lies inside buf.
func aliases(b, buf []byte) bool {
	if len(b) == 0 || len(buf) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	start := uintptr(unsafe.Pointer(&buf[0]))
	return p >= start && p < start+uintptr(len(buf))
}

// searchIndex returns the first index entry whose key is >= ikey (the data
// block that holds ikey, if any), or idxLen().
func (r *Reader) searchIndex(ikey []byte) int {
	lo, hi := 0, r.idxLen()
	if r.idxPrefix != nil && len(ikey) >= base.TrailerLen {
		// Narrow [lo, hi) with the numbers of the entries before the last:
		// entries before the target's number sort before ikey, entries
		// after it after ikey.
		u := ikey[:len(ikey)-base.TrailerLen]
		c, p := r.idxCommon, r.idxPrefix
		if !bytes.HasPrefix(u, c) {
			if string(u) < string(c) {
				return 0 // ikey sorts before every index key
			}
			lo = len(p) // after every entry but (perhaps) the last
		} else {
			t := prefixAt(u, r.idxSkip)
			// lo: the first entry whose number is >= t (a branch-free
			// lower bound: the compiler makes the step a conditional move).
			for n := len(p); n > 1; {
				half := n >> 1
				if p[lo+half-1] < t {
					lo += half
				}
				n -= half
			}
			if lo < len(p) && p[lo] < t {
				lo++
			}
			// hi: the first entry whose number is > t, usually lo or lo+1.
			// Past a few equal numbers, or at the end (the last entry has
			// no number and may be the answer), the key search below
			// covers the rest.
			hi = lo
			for hi < len(p) && p[hi] == t && hi-lo < 4 {
				hi++
			}
			if hi == len(p) || p[hi] == t {
				hi = r.idxLen()
			}
		}
	}
	if r.cmp == base.DefaultComparer {
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if base.InternalCompareBytewise(r.idxKey(m), ikey) < 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if base.InternalCompare(r.cmp.Compare, r.idxKey(m), ikey) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// decodeIndexValue decodes the handle stored in the index entry at which it
// is positioned.
func (r *Reader) decodeIndexValue(it *blockIter) (BlockHandle, error) {
	h, n := decodeBlockHandle(it.val)
	if n <= 0 {
		return BlockHandle{}, base.CorruptionErrorf(r.file, int64(r.footer.index.Offset)+int64(it.offset),
			"bad block handle in index entry")
	}
	return h, nil
}

// getState is the per-call state of Get, pooled so Get does not allocate.
type getState struct {
	index, data blockIter
}

var getStatePool = sync.Pool{New: func() any { return new(getState) }}

// Get returns the first entry whose internal key is >= ikey, if its user key
// equals ikey's user key (LevelDB's Table::InternalGet): with ikey built by
// base.MakeSearchKey(ukey, seq), the newest entry for ukey at or below seq.
// key is nil when there is no such entry. The bloom filter is consulted
// first: a filter miss answers without reading a data block.
//
// key and value are the caller's copies. Use GetInto to avoid copying.
func (r *Reader) Get(ikey []byte) (key, value []byte, err error) {
	key, value, v, err := r.get(nil, ikey, true, nil)
	if v != nil {
		value = bytes.Clone(value)
		v.Release()
	}
	return key, value, err
}

// GetInto is Get, but the key is always appended to dst[:0] (which is
// returned as key), and value may point into cache memory: then v is the
// cache Value holding it, which the caller must Release once done with
// value (nil otherwise). Allocation-free on a cache hit.
func (r *Reader) GetInto(dst, ikey []byte) (key, value []byte, v *cache.Value, err error) {
	return r.get(dst, ikey, true, nil)
}

// GetIntoRead is GetInto that also reports whether the lookup read a data
// block: false when the key is past the table's last key or the filter ruled
// it out. That read is what the engine charges to the table's seek budget
// (LevelDB's allowed_seeks): a lookup the filter answers costs no I/O.
func (r *Reader) GetIntoRead(dst, ikey []byte) (key, value []byte, v *cache.Value, read bool, err error) {
	key, value, v, err = r.get(dst, ikey, true, &read)
	return key, value, v, read, err
}

func (r *Reader) get(dst, ikey []byte, into bool, read *bool) (key, value []byte, v *cache.Value, err error) {
	if r.closed {
		return nil, nil, nil, errClosedReader
	}
	if len(ikey) < base.TrailerLen {
		// Cloned so that ikey does not escape on the hot path.
		return nil, nil, nil, fmt.Errorf("sstable: invalid internal key %q", bytes.Clone(ikey))
	}
	i := r.searchIndex(ikey)
	if i == r.idxLen() {
		return nil, nil, nil, nil
	}
	ukey := ikey[:len(ikey)-base.TrailerLen]
	if r.hasFilter && !r.filter.mayContain(r.idxBlockOffset(i), bloomHash(ukey)) {
		return nil, nil, nil, nil
	}
	h := r.idxHandle(i)
	st := getStatePool.Get().(*getState)
	defer putGetState(st)
	if read != nil {
		*read = true
	}
	block, v, err := r.dataBlock(h)
	if err != nil {
		return nil, nil, nil, err
	}
	// Released below unless the caller gets the value.
	defer func() {
		if key == nil {
			v.Release()
		}
	}()
	di := &st.data
	if err := di.init(r.cmp, block, r.file, h.Offset); err != nil {
		return nil, nil, nil, err
	}
	if !di.SeekGE(ikey) {
		return nil, nil, nil, di.err
	}
	k := di.key
	if len(k) < base.TrailerLen {
		return nil, nil, nil, base.CorruptionErrorf(r.file, int64(h.Offset)+int64(di.offset), "invalid internal key %q", bytes.Clone(k))
	}
	if r.cmp.Compare(k[:len(k)-base.TrailerLen], ukey) != 0 {
		return nil, nil, nil, nil
	}
	switch {
	case into:
		k = append(dst[:0], k...)
	case len(k) > 0 && firstElem(k) == firstElem(di.keyBuf):
		k = append([]byte(nil), k...)
	}
	return k, di.val, v, nil
}

func putGetState(st *getState) {
	// Drop references to blocks so evicted blocks can be collected.
	st.index.data, st.index.key, st.index.val = nil, nil, nil
	st.data.data, st.data.key, st.data.val = nil, nil, nil
	getStatePool.Put(st)
}

// ApproximateOffset returns the approximate file offset where the entries
// for ikey are (or would be): the offset of the data block the index points
// to, or the metaindex offset (about the end of the data) when ikey is past
// the last key. It is LevelDB's Table::ApproximateOffsetOf.
func (r *Reader) ApproximateOffset(ikey []byte) uint64 {
	if r.closed {
		return 0
	}
	st := getStatePool.Get().(*getState)
	defer putGetState(st)
	ii := &st.index
	ii.init(r.cmp, r.index, r.file, r.footer.index.Offset)
	if ii.SeekGE(ikey) {
		if h, err := r.decodeIndexValue(ii); err == nil {
			return h.Offset
		}
	}
	return r.footer.metaindex.Offset
}

// CacheID returns the id under which this Reader's blocks are cached (0
// without a cache).
func (r *Reader) CacheID() uint64 { return r.cacheID }

// DeferEviction makes Close leave the Reader's blocks in the cache: the
// caller drops them itself, for many readers in one pass (Cache.EvictIDs
// with their CacheIDs). Safe to call while iterators are open.
func (r *Reader) DeferEviction() { r.deferEvict.Store(true) }

// Close drops the Reader's blocks from the cache (unless DeferEviction was
// called). It does not close the underlying file. Iterators must be closed
// first.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.deferEvict.Load() {
		r.cache.EvictID(r.cacheID)
	}
	r.index = nil
	r.idxBuf, r.idxPos, r.idxOffs, r.idxHandles, r.idxPrefix, r.idxCommon = nil, nil, nil, nil, nil, nil
	r.filter = filterReader{}
	r.hasFilter = false
	if r.meta != nil {
		freeMetaMem(r.meta)
		r.meta = nil
	}
	return nil
}
