package sstable

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
)

// WriterOptions configure a Writer. The zero value writes uncompressed
// tables without a filter, with 4 KiB blocks, restart interval 16 and the
// bytewise comparer. (LevelDB's defaults are snappy and, in Strata's DB
// options, a 10 bits-per-key bloom filter: the DB layer passes those.)
type WriterOptions struct {
	// BlockSize is the target uncompressed size of a data block: a block is
	// cut once its estimated size reaches it. <= 0 means 4096.
	BlockSize int
	// BlockRestartInterval is the number of keys between restart points of a
	// data block. <= 0 means 16. Index blocks always use 1.
	BlockRestartInterval int
	// Compression is applied to data, index and metaindex blocks, each kept
	// raw unless compressing saves at least 12.5% (as LevelDB does). The
	// filter block is never compressed.
	Compression Compression
	// BloomBitsPerKey enables the bloom filter block over user keys with
	// this many bits per key (10 gives ~1% false positives). 0 disables it.
	BloomBitsPerKey int
	// Comparer orders user keys. nil means base.DefaultComparer.
	Comparer *base.Comparer
}

// WriterMetadata describes a finished table.
type WriterMetadata struct {
	// Smallest and Largest are the first and last internal keys (nil for an
	// empty table).
	Smallest, Largest []byte
	// Size is the file's total size in bytes.
	Size uint64
	// NumEntries is the number of entries; NumRangeDels the number of
	// range-deletion entries (fragments times their sequences).
	NumEntries   uint64
	NumRangeDels uint64
}

// writeBufferSize is the buffer between the Writer and the file, so the file
// sees large writes. 64 KiB, as LevelDB's WritableFile: BenchmarkFlush
// writes a 64 MiB memtable as fast as with 256 KiB (192–202 ns/entry
// sequential, 317–329 random, either way), and each pooled Writer holds
// 192 KiB less of the Go heap.
const writeBufferSize = 64 << 10

// Writer builds a table, writing it sequentially to an io.Writer. Add the
// entries in strictly increasing internal-key order, then Close. After an
// error every method returns it. A Writer is not safe for concurrent use.
type Writer struct {
	opts   WriterOptions
	cmp    *base.Comparer
	w      *bufio.Writer
	offset uint64 // bytes handed to w so far
	err    error
	closed bool

	data    blockWriter
	index   blockWriter
	filter  *filterWriter
	lastKey []byte

	// The index entry of a finished block is added when the next key
	// arrives (or at Close), so its key can be a short separator.
	pendingIndex  bool
	pendingHandle BlockHandle

	numEntries uint64
	smallest   []byte
	// rangeDels are the range tombstones added (AddRangeDel), written
	// fragmented in a block of their own at Close.
	rangeDels   []rangedel.Tombstone
	compressBuf []byte
	scratch     []byte // separator keys, handle encodings
	trailer     [blockTrailerLen]byte
	meta        WriterMetadata
	// compress is compressBlock; tests substitute a reference codec.
	compress func(dst, raw []byte, c Compression) ([]byte, bool)

	// With an Assist (SetAssist), finished data blocks wait there to be
	// compressed and written in order: the filter hashes of the block
	// being built, whether the last published block still needs its
	// index key, and the raw bytes published but not yet written.
	assist      *Assist
	blockHashes []uint32
	sepPending  bool
	queued      uint64

	// expectBlocks is the number of data blocks Reserve expects (0: no
	// Reserve); the index buffer is sized from it once the first
	// indexSampleEntries entries show how long an index entry is.
	expectBlocks int
}

// indexSampleEntries is how many index entries Reserve's sizing of the
// index buffer waits for: enough to average out the length of separators.
const indexSampleEntries = 16

// NewWriter returns a Writer that writes a table to w. Close does not close
// or sync w.
func NewWriter(w io.Writer, o WriterOptions) *Writer {
	tw := &Writer{}
	tw.Reset(w, o)
	return tw
}

// Reset makes the Writer write a new table to w with options o, as a
// Writer from NewWriter would, keeping the memory of its buffers (block,
// index, filter, compression and output buffers). A database writes its
// tables through a few reused Writers so that each new table does not
// allocate megabytes of buffers that become garbage when it is done. The
// previous table's Metadata is invalid after Reset.
func (w *Writer) Reset(dst io.Writer, o WriterOptions) {
	if o.BlockSize <= 0 {
		o.BlockSize = 4096
	}
	if o.BlockRestartInterval <= 0 {
		o.BlockRestartInterval = 16
	}
	if o.BloomBitsPerKey < 0 {
		o.BloomBitsPerKey = 0
	}
	cmp := o.Comparer
	if cmp == nil {
		cmp = base.DefaultComparer
	}
	if w.w == nil {
		w.w = bufio.NewWriterSize(dst, writeBufferSize)
	} else {
		w.w.Reset(dst)
	}
	*w = Writer{
		opts:        o,
		cmp:         cmp,
		w:           w.w,
		data:        w.data,
		index:       w.index,
		filter:      w.filter,
		lastKey:     w.lastKey[:0],
		smallest:    w.smallest[:0],
		compressBuf: w.compressBuf[:0],
		scratch:     w.scratch[:0],
		compress:    compressBlock,
		blockHashes: w.blockHashes[:0],
	}
	w.data.restartInterval = o.BlockRestartInterval
	w.data.reset()
	w.index.restartInterval = 1
	w.index.reset()
	if o.BloomBitsPerKey > 0 {
		if w.filter == nil {
			w.filter = &filterWriter{}
		}
		w.filter.reset(o.BloomBitsPerKey)
		w.filter.startBlock(0)
	} else {
		w.filter = nil
	}
}

// errClosed is returned by Add and Close after Close.
var errClosed = errors.New("sstable: writer is closed")

// Add appends an entry. ikey must be a valid internal key (at least 8
// bytes) that sorts strictly after the previous one; otherwise Add returns
// an error and the Writer stays usable. Add copies what it keeps.
func (w *Writer) Add(ikey, value []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errClosed
	}
	if len(ikey) < base.TrailerLen {
		return fmt.Errorf("sstable: invalid internal key %q (shorter than %d bytes)", ikey, base.TrailerLen)
	}
	if w.numEntries > 0 && base.InternalCompare(w.cmp.Compare, ikey, w.lastKey) <= 0 {
		return fmt.Errorf("sstable: keys out of order: %s after %s",
			base.FormatInternalKey(ikey), base.FormatInternalKey(w.lastKey))
	}
	if w.pendingIndex {
		w.scratch = base.InternalSeparator(w.cmp, w.scratch[:0], w.lastKey, ikey)
		w.addIndexEntry(w.scratch)
	}
	if w.sepPending {
		sl := w.pendingSlot()
		sl.sep = base.InternalSeparator(w.cmp, sl.sep[:0], w.lastKey, ikey)
	}
	if w.filter != nil {
		if w.assist != nil {
			w.blockHashes = append(w.blockHashes, bloomHash(ikey[:len(ikey)-base.TrailerLen]))
		} else {
			w.filter.addKey(ikey[:len(ikey)-base.TrailerLen])
		}
	}
	if w.numEntries == 0 {
		w.smallest = append(w.smallest[:0], ikey...)
	}
	w.lastKey = append(w.lastKey[:0], ikey...)
	w.numEntries++
	w.data.add(ikey, value)
	if w.data.estimatedSize() >= w.opts.BlockSize {
		w.flushDataBlock()
	}
	return w.err
}

// addIndexEntry adds the pending block's handle under key. key may alias
// w.scratch: the handle is encoded after it.
func (w *Writer) addIndexEntry(key []byte) {
	n := len(key)
	enc := appendBlockHandle(key, w.pendingHandle)
	w.index.add(enc[:n], enc[n:])
	w.scratch = enc[:0]
	w.pendingIndex = false
	if w.index.nEntries == indexSampleEntries && w.expectBlocks > indexSampleEntries {
		// The entries so far, scaled to the expected blocks, with a
		// sixteenth for separators longer than these, plus the restart
		// array that finish appends (every index entry is a restart).
		b := &w.index
		want := len(b.buf)/indexSampleEntries*w.expectBlocks*17/16 + 4*w.expectBlocks + 8
		b.buf = reserve(b.buf, want-len(b.buf))
		b.restarts = reserve(b.restarts, w.expectBlocks+1-len(b.restarts))
	}
}

// Reserve tells the Writer how big the table it is about to write is: at
// most about dataBytes of uncompressed keys and values in entries entries
// (a flush knows both from its memtable). The filter and index blocks,
// which the Writer holds until Close and which grow to ~1.2 MB for a
// 64 MiB memtable, are then allocated once at about their final size,
// rather than grown by doubling to up to twice it: the Writer keeps its
// buffers for its next table, so that slack stayed on the heap, and each
// live heap byte lets the garbage collector's heap grow by another. Call
// it after NewWriter or Reset, before the first Add; it is optional.
func (w *Writer) Reserve(entries int, dataBytes int64) {
	if entries <= 0 || dataBytes <= 0 {
		return
	}
	// A block is cut once it reaches BlockSize, so it holds on average
	// half an entry more; an entry larger than a block is a block.
	avg := dataBytes / int64(entries)
	w.expectBlocks = int(min(dataBytes/(int64(w.opts.BlockSize)+avg/2), int64(entries))) + 1
	if f := w.filter; f != nil {
		// One filter per 2 KiB of file, non-empty for the ranges where a
		// data block starts: each key's bits, and per block up to 8 bytes
		// of rounding (a filter has at least 64 bits) and the k byte; then
		// the offset array, written into the same buffer by finish.
		filters := int(dataBytes>>filterBaseLg) + 2
		want := entries*f.bitsPerKey/8 + 9*w.expectBlocks + 4*filters + 5
		f.result = reserve(f.result, want-len(f.result))
		f.offsets = reserve(f.offsets, filters-len(f.offsets))
	}
}

// flushDataBlock writes the current data block and starts the next.
func (w *Writer) flushDataBlock() {
	if w.data.empty() {
		return
	}
	if w.assist != nil {
		w.publishBlock()
		return
	}
	w.pendingHandle = w.writeBlock(&w.data, w.opts.Compression)
	w.pendingIndex = true
	if w.filter != nil {
		w.filter.startBlock(w.offset)
	}
}

// writeBlock finishes b, compresses it if that saves at least 12.5%, writes
// it with its trailer and resets b.
func (w *Writer) writeBlock(b *blockWriter, c Compression) BlockHandle {
	raw := b.finish()
	contents, typ := raw, NoCompression
	if c != NoCompression {
		var ok bool
		w.compressBuf, ok = w.compress(w.compressBuf, raw, c)
		contents, typ = storedForm(raw, w.compressBuf, ok, c)
	}
	h := w.writeRawBlock(contents, typ)
	b.reset()
	return h
}

// storedForm picks what a block is stored as: its compressed form out (by
// c) when compression succeeded (ok) and saved at least an eighth, as
// LevelDB decides, else raw, uncompressed.
func storedForm(raw, out []byte, ok bool, c Compression) ([]byte, Compression) {
	if ok && len(out) < len(raw)-len(raw)/8 {
		return out, c
	}
	return raw, NoCompression
}

// writeRawBlock writes contents and their trailer (see appendBlockTrailer).
func (w *Writer) writeRawBlock(contents []byte, c Compression) BlockHandle {
	h := BlockHandle{Offset: w.offset, Size: uint64(len(contents))}
	if w.err != nil {
		return h
	}
	if _, err := w.w.Write(contents); err != nil {
		w.err = err
		return h
	}
	if _, err := w.w.Write(appendBlockTrailer(w.trailer[:0], contents, c)); err != nil {
		w.err = err
		return h
	}
	w.offset += uint64(len(contents)) + blockTrailerLen
	return h
}

// EstimatedSize returns the bytes written so far plus the raw size of the
// data blocks waiting in an Assist and the estimated size of the data block
// being built: a running estimate of the final file size, for deciding when
// to start a new output file.
func (w *Writer) EstimatedSize() uint64 {
	return w.offset + w.queued + uint64(w.data.estimatedSize())
}

// NumEntries returns the number of entries added so far.
func (w *Writer) NumEntries() uint64 { return w.numEntries }

// AddRangeDel adds the range tombstone [start, end)#seq, in any order
// relative to the entries and the other tombstones (Close fragments them).
// The Writer copies the keys. An empty range is ignored.
func (w *Writer) AddRangeDel(start, end []byte, seq uint64) {
	if w.cmp.Compare(start, end) >= 0 {
		return
	}
	w.rangeDels = append(w.rangeDels, rangedel.Tombstone{Start: bytes.Clone(start), End: bytes.Clone(end), Seq: seq})
}

// Empty reports whether nothing was added: no entry, no range tombstone.
func (w *Writer) Empty() bool { return w.numEntries == 0 && len(w.rangeDels) == 0 }

// Close writes the last data block, the filter, metaindex and index blocks
// and the footer, and flushes everything to the underlying writer, which it
// neither syncs nor closes. Calling Close again returns the first result.
func (w *Writer) Close() error {
	if w.closed {
		if w.err != nil {
			return w.err
		}
		return nil
	}
	w.closed = true
	w.flushDataBlock()
	if w.assist != nil {
		if w.sepPending {
			sl := w.pendingSlot()
			sl.sep = base.InternalSuccessor(w.cmp, sl.sep[:0], w.lastKey)
		}
		for w.assist.emitted < w.assist.produced.Load() {
			w.emitBlock()
		}
	}

	var filterHandle BlockHandle
	compressBuf := w.compressBuf
	if w.filter != nil {
		filterHandle = w.writeRawBlock(w.filter.finish(), NoCompression)
		// The filter's bytes have been written: its buffer, the largest
		// the Writer has, now holds the compressed index (about half the
		// filter's size), which otherwise grew compressBuf, sized for data
		// blocks, to the index's size for the Writer's lifetime.
		w.compressBuf = w.filter.result[:0]
	}

	rdel := rangedel.NewSet(w.cmp.Compare, w.rangeDels).Tombstones()
	var rangeDelHandle BlockHandle
	if len(rdel) > 0 {
		b := blockWriter{restartInterval: 1}
		b.reset()
		var k []byte
		for _, t := range rdel {
			k = base.AppendInternalKey(k[:0], t.Start, t.Seq, base.KindRangeDelete)
			b.add(k, t.End)
		}
		rangeDelHandle = w.writeBlock(&b, NoCompression)
	}

	// The metaindex is built with the data blocks' options, like LevelDB.
	// Its keys are sorted: the filter's ("filter.") before the range
	// deletions' ("rocksdb.").
	meta := blockWriter{restartInterval: w.opts.BlockRestartInterval}
	meta.reset()
	if w.filter != nil {
		meta.add([]byte(filterMetaKey), appendBlockHandle(nil, filterHandle))
	}
	if len(rdel) > 0 {
		meta.add([]byte(rangeDelMetaKey), appendBlockHandle(nil, rangeDelHandle))
	}
	metaHandle := w.writeBlock(&meta, w.opts.Compression)

	if w.pendingIndex {
		w.scratch = base.InternalSuccessor(w.cmp, w.scratch[:0], w.lastKey)
		w.addIndexEntry(w.scratch)
	}
	indexHandle := w.writeBlock(&w.index, w.opts.Compression)
	if w.filter != nil {
		w.filter.result, w.compressBuf = w.compressBuf[:0], compressBuf
	}

	var buf [footerLen]byte
	f := footer{metaindex: metaHandle, index: indexHandle}
	if w.err == nil {
		if _, err := w.w.Write(f.encode(buf[:0])); err != nil {
			w.err = err
		} else {
			w.offset += footerLen
		}
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err != nil {
		return w.err
	}
	w.meta = WriterMetadata{Size: w.offset, NumEntries: w.numEntries, NumRangeDels: uint64(len(rdel))}
	if w.numEntries > 0 {
		w.meta.Smallest = append([]byte(nil), w.smallest...)
		w.meta.Largest = append([]byte(nil), w.lastKey...)
	}
	// The bounds cover the tombstones too: from the first one's start (at
	// its sequence) to the last one's end, as a sentinel (End#MaxSeq,
	// RANGEDEL) that sorts before every entry of End, which the table does
	// not cover (RangeDelBounds).
	w.meta.Smallest, w.meta.Largest = WidenBounds(w.cmp, w.meta.Smallest, w.meta.Largest, rdel)
	return nil
}

// Metadata describes the table; valid after a successful Close.
func (w *Writer) Metadata() WriterMetadata { return w.meta }
