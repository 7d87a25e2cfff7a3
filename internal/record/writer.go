package record

import (
	"encoding/binary"
	"io"

	"github.com/strata-db/strata/internal/base"
)

// The log format (LevelDB doc/log_format.md), byte by byte.
//
// The file is a sequence of blocks of BlockSize (32768) bytes; only the last
// block may be shorter. Block boundaries are at file offsets that are
// multiples of BlockSize, counted from the start of the file (not from where
// a Writer started).
//
//	+---------------------------+---------------------------+-----+------------+
//	| block 0 (32768 bytes)     | block 1 (32768 bytes)     | ... | last block |
//	+---------------------------+---------------------------+-----+------------+
//
// A block is a run of chunks, then a trailer of 0..6 zero bytes when fewer
// than HeaderSize bytes are left (a chunk never starts there):
//
//	+---------+---------+-----+---------+-----------------------+
//	| chunk   | chunk   | ... | chunk   | trailer: 0..6 x 0x00  |
//	+---------+---------+-----+---------+-----------------------+
//
// A chunk is a 7-byte header and its payload, and never crosses a block
// boundary:
//
//	 0        4        6      7                     7+length
//	+--------+--------+------+---------------------+
//	| crc    | length | type | payload             |
//	| u32 LE | u16 LE | u8   | length bytes        |
//	+--------+--------+------+---------------------+
//
//	crc    = MaskCRC(crc32c(type byte || payload))   (see base.MaskCRC)
//	length = payload length, 0..BlockSize-HeaderSize
//	type   = 1 FULL    the whole record
//	         2 FIRST   first fragment of a record
//	         3 MIDDLE  interior fragment
//	         4 LAST    final fragment
//	         0         only in an all-zero header: padding to the block end
//
// A record of n bytes is one FULL chunk when it fits in what is left of the
// current block, otherwise FIRST, MIDDLE..., LAST, each fragment as long as
// its block allows. An empty record is a FULL chunk of length 0. When
// exactly HeaderSize bytes are left in a block, a non-empty record starts
// with a zero-length FIRST chunk there (C++ LevelDB does the same).
const (
	// BlockSize is the size of a log block.
	BlockSize = 32 * 1024
	// HeaderSize is the size of a chunk header.
	HeaderSize = 7

	typeZero   = 0
	typeFull   = 1
	typeFirst  = 2
	typeMiddle = 3
	typeLast   = 4

	// maxRetainedBuf is the largest encode buffer a Writer keeps between
	// records; a bigger one (from an unusually large record) is released.
	maxRetainedBuf = 8 << 20
)

// Writer appends records in the log format to an io.Writer.
//
// Each WriteRecord call makes exactly one Write call on the underlying
// writer, holding the complete encoded record. The Writer does no buffering
// of its own, so once WriteRecord returns the record has been handed to the
// underlying writer; syncing it is the caller's job.
type Writer struct {
	w        io.Writer
	size     int64  // bytes in the file, including the start offset
	blockPos int    // size % BlockSize: where the next byte lands in its block
	buf      []byte // reused encode buffer
	err      error  // sticky: the first Write error
}

// NewWriter returns a Writer for an empty file.
func NewWriter(w io.Writer) *Writer { return NewWriterAt(w, 0) }

// NewWriterAt returns a Writer that continues a file already holding offset
// bytes: w's next byte lands at file offset offset, so the block position
// is offset % BlockSize. The existing bytes must end cleanly (truncate a
// torn tail first, see Reader.TornTail); otherwise the new records are read
// back as corruption. A negative offset is treated as 0.
func NewWriterAt(w io.Writer, offset int64) *Writer {
	if offset < 0 {
		offset = 0
	}
	return &Writer{w: w, size: offset, blockPos: int(offset % BlockSize)}
}

// WriteRecord appends p as one record and returns the file offset of the
// record's first chunk header (after any trailer padding), the value
// Reader.Offset reports for it. p is not retained.
//
// On a Write error (including a short write) nothing more is ever written:
// this and every later call return offset -1 and that error, and Size stays
// at the size before the failed record (the file may hold part of it).
func (w *Writer) WriteRecord(p []byte) (offset int64, err error) {
	if w.err != nil {
		return -1, w.err
	}
	buf, start, blockPos := w.encode(w.buf[:0], p)
	n, err := w.w.Write(buf)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if cap(buf) <= maxRetainedBuf {
		w.buf = buf[:0]
	} else {
		w.buf = nil
	}
	if err != nil {
		w.err = err
		return -1, err
	}
	offset = w.size + int64(start)
	w.size += int64(len(buf))
	w.blockPos = blockPos
	return offset, nil
}

// encode appends the encoding of record p, given the Writer's current
// block position, to buf. It returns the grown buffer, the index in it of
// the first chunk header and the block position after the record.
func (w *Writer) encode(buf, p []byte) ([]byte, int, int) {
	blockPos := w.blockPos
	// Worst case: a trailer, then one header per block touched.
	need := len(p) + HeaderSize - 1 + (len(p)/(BlockSize-HeaderSize)+2)*HeaderSize
	if cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	start := -1
	first := true
	for {
		if left := BlockSize - blockPos; left < HeaderSize {
			// Trailer: zero-fill the rest of the block.
			for range left {
				buf = append(buf, 0)
			}
			blockPos = 0
		}
		avail := BlockSize - blockPos - HeaderSize
		frag := min(len(p), avail)
		last := frag == len(p)
		var typ byte
		switch {
		case first && last:
			typ = typeFull
		case first:
			typ = typeFirst
		case last:
			typ = typeLast
		default:
			typ = typeMiddle
		}
		h := len(buf)
		if start < 0 {
			start = h
		}
		buf = append(buf, 0, 0, 0, 0, byte(frag), byte(frag>>8), typ)
		buf = append(buf, p[:frag]...)
		binary.LittleEndian.PutUint32(buf[h:], base.MaskCRC(base.CRC(buf[h+6:])))
		blockPos += HeaderSize + frag
		p = p[frag:]
		first = false
		if last {
			return buf, start, blockPos
		}
	}
}

// Size returns the file size after the last successful WriteRecord: the
// start offset given to NewWriterAt plus every byte written since.
func (w *Writer) Size() int64 { return w.size }
