package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/strata-db/strata/internal/base"
)

// Reader reads records in the log format from an io.Reader, one 32 KiB
// block at a time. See the package documentation for how damage is
// classified as a torn tail or as corruption.
type Reader struct {
	r    io.Reader
	file string

	block    []byte // BlockSize bytes once the first block is read
	blockOff int64  // file offset of block[0]
	n        int    // valid bytes in block
	pos      int    // block position of the next chunk header
	final    bool   // the underlying reader is exhausted: block is the last

	rec    []byte // reassembly buffer for fragmented records
	recOff int64  // offset of the record last returned

	// clean is the offset just past the last byte accounted for: the end of
	// the last record returned, or the resume point of the last Skip. It is
	// where a torn tail starts.
	clean int64

	err     error // sticky: io.EOF, an I/O error or a corruption error
	corrupt bool  // err is a corruption error that Skip clears
	resync  bool  // drop MIDDLE and LAST chunks until a FULL or FIRST

	// Set when a corruption error is raised; applied by Skip. The block
	// buffer and pos already hold the resume point.
	damageStart int64

	torn    bool
	tornOff int64
	tornN   int64
	dropped int64

	// tornChecksum: the torn tail starts with a complete chunk whose
	// checksum does not match (see TornByChecksum).
	tornChecksum bool
}

// NewReader returns a Reader for the log in r, read from its start. file
// names the log in errors.
func NewReader(r io.Reader, file string) *Reader {
	return &Reader{r: r, file: file}
}

// Reset makes the Reader read the log in rr from its start, named file,
// keeping its buffers (for reading many logs without allocating).
func (r *Reader) Reset(rr io.Reader, file string) {
	*r = Reader{r: rr, file: file, block: r.block, rec: r.rec[:0]}
}

// Next returns the next record. The slice is owned by the Reader and valid
// until the next call to Next or Skip.
//
// At the end of the log, including a torn tail, Next returns io.EOF (see
// TornTail). On damage followed by intact data it returns a
// *base.CorruptionError (errors.Is(err, base.ErrCorruption)) holding the
// file name and the offset of the bad chunk; it keeps returning that error
// until Skip is called. Errors from the underlying reader are returned
// wrapped, and are final. io.EOF is final too.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if cap(r.rec) > maxRetainedBuf {
		r.rec = nil
	}
	r.rec = r.rec[:0]
	inRec := false   // a FIRST chunk has been accepted
	var recOff int64 // offset of that FIRST chunk
	for {
		if r.n-r.pos < HeaderSize {
			if r.n < BlockSize && r.n > r.pos {
				// A short (hence final) block ends inside a header.
				return nil, r.damage(r.blockOff+int64(r.pos), "file ends inside a chunk header", r.n, false, inRec, recOff)
			}
			// Past the block's trailer: on to the next block.
			if err := r.readBlock(); err == io.EOF {
				if inRec {
					return nil, r.damage(recOff, "file ends inside a record", r.n, false, inRec, recOff)
				}
				return nil, r.endOfFile()
			} else if err != nil {
				return nil, r.fail(err)
			}
			continue
		}

		off := r.blockOff + int64(r.pos)
		h := r.block[r.pos : r.pos+HeaderSize]
		length := int(binary.LittleEndian.Uint16(h[4:6]))
		typ := h[6]
		end := r.pos + HeaderSize + length

		if typ == typeZero && length == 0 && binary.LittleEndian.Uint32(h[0:4]) == 0 && allZero(r.block[r.pos+HeaderSize:r.n]) {
			if inRec {
				return nil, r.damage(off, "zero padding inside a record", r.n, false, inRec, recOff)
			}
			r.pos = r.n // padding runs to the block end
			continue
		}
		if typ < typeFull || typ > typeLast {
			return nil, r.damage(off, fmt.Sprintf("bad chunk type %d", typ), r.pos+1, false, inRec, recOff)
		}
		if end > r.n {
			msg := "chunk length %d overruns the block"
			if r.n < BlockSize {
				msg = "chunk length %d overruns the end of the file"
			}
			return nil, r.damage(off, fmt.Sprintf(msg, length), r.pos+1, false, inRec, recOff)
		}
		if base.UnmaskCRC(binary.LittleEndian.Uint32(h[0:4])) != base.CRC(r.block[r.pos+6:end]) {
			return nil, r.damage(off, msgChecksumMismatch, r.pos+1, false, inRec, recOff)
		}
		payload := r.block[r.pos+HeaderSize : end]

		switch typ {
		case typeFull, typeFirst:
			// An empty FIRST directly followed by FULL or FIRST was written
			// by old LevelDB writers; nothing is lost, so it is accepted.
			if inRec && len(r.rec) > 0 {
				return nil, r.damage(off, fmt.Sprintf("record at %d has no LAST chunk", recOff), r.pos, true, inRec, recOff)
			}
			r.resync = false
			r.pos = end
			if typ == typeFull {
				r.recOff = off
				r.clean = r.blockOff + int64(end)
				return payload, nil
			}
			inRec, recOff = true, off
			r.rec = append(r.rec[:0], payload...)

		default: // typeMiddle, typeLast
			if !inRec {
				if r.resync {
					// The tail of a record whose start was lost to damage
					// already reported: dropped silently, as LevelDB does.
					r.pos = end
					r.dropped += int64(HeaderSize + length)
					r.clean = r.blockOff + int64(end)
					continue
				}
				r.pos = end
				return nil, r.damage(off, "MIDDLE or LAST chunk without a FIRST", end, true, false, 0)
			}
			r.pos = end
			r.rec = append(r.rec, payload...)
			if typ == typeLast {
				r.recOff = recOff
				r.clean = r.blockOff + int64(end)
				return r.rec, nil
			}
		}
	}
}

// damage classifies the damage found at file offset at (described by msg):
// the search for a valid chunk starts at block position from in the current
// block. trusted says from is a real header position (reached by following
// valid chunks), so salvage may resume exactly there. inRec and recOff
// describe the partial record being assembled, which the damage discards.
func (r *Reader) damage(at int64, msg string, from int, trusted, inRec bool, recOff int64) error {
	start := at
	if inRec && recOff < at {
		start = recOff
	}
	found, err := r.scan(from)
	if err != nil {
		return r.fail(err)
	}
	if !found {
		r.tornChecksum = msg == msgChecksumMismatch
		return r.endOfFile()
	}
	// scan left the block holding the first valid chunk loaded. Resume at
	// from if it is trustworthy and still in this block, else at the first
	// block boundary after the damage.
	switch {
	case trusted && r.blockOff <= at && r.blockOff+int64(from) >= at:
		r.pos = from
	case r.blockOff <= at:
		r.pos = r.n
	default:
		r.pos = 0
	}
	r.damageStart = start
	r.corrupt = true
	r.err = base.CorruptionErrorf(r.file, at, "%s", msg)
	return r.err
}

// scan reports whether a valid chunk starts at or after block position from
// in the current block, or anywhere in a later block. It reads blocks as
// it goes, and stops with the block holding the first valid chunk loaded.
func (r *Reader) scan(from int) (bool, error) {
	for {
		if r.findValid(from) {
			return true, nil
		}
		if err := r.readBlock(); err == io.EOF {
			return false, nil
		} else if err != nil {
			return false, err
		}
		from = 0
	}
}

// findValid reports whether a valid chunk starts at a block position at or
// after from in the current block. Candidates are found with one
// bytes.IndexByte cursor per chunk type over the would-be type bytes (a
// chunk starting at q has its type at q+6), so runs of bytes that cannot be
// a type byte are skipped at memory speed.
func (r *Reader) findValid(from int) bool {
	last := r.n - HeaderSize // the last position a header fits at
	if from > last {
		return false
	}
	types := r.block[from+6 : last+7] // types[i] is the type byte of position from+i
	var next [typeLast]int            // next[t-1]: next index in types holding t, or -1
	for i := range next {
		next[i] = indexFrom(types, 0, byte(i+1))
	}
	for {
		k := -1
		for i, v := range next {
			if v >= 0 && (k < 0 || v < next[k]) {
				k = i
			}
		}
		if k < 0 {
			return false
		}
		if r.validAt(from + next[k]) {
			return true
		}
		next[k] = indexFrom(types, next[k]+1, byte(k+1))
	}
}

// indexFrom returns the index of the first c in b at or after i, or -1.
func indexFrom(b []byte, i int, c byte) int {
	if j := bytes.IndexByte(b[i:], c); j >= 0 {
		return i + j
	}
	return -1
}

// validAt reports whether a chunk with a sane type and length and a good
// checksum starts at block position q.
func (r *Reader) validAt(q int) bool {
	h := r.block[q : q+HeaderSize]
	if typ := h[6]; typ < typeFull || typ > typeLast {
		return false
	}
	end := q + HeaderSize + int(binary.LittleEndian.Uint16(h[4:6]))
	if end > r.n {
		return false
	}
	return base.UnmaskCRC(binary.LittleEndian.Uint32(h[0:4])) == base.CRC(r.block[q+6:end])
}

// readBlock loads the next block. It returns io.EOF when there is none.
func (r *Reader) readBlock() error {
	if r.final {
		r.pos = r.n
		return io.EOF
	}
	if r.block == nil {
		r.block = make([]byte, BlockSize)
	}
	r.blockOff += int64(r.n)
	r.pos = 0
	n, err := io.ReadFull(r.r, r.block)
	r.n = n
	switch err {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		r.final = true
		if n == 0 {
			return io.EOF
		}
	default:
		// Keep whatever was read out of sight: the error is final.
		r.n = 0
		r.final = true
		return fmt.Errorf("record: reading %s at offset %d: %w", r.file, r.blockOff, err)
	}
	return nil
}

// endOfFile ends the log (the current block is the last one) and records
// the torn tail, if any.
func (r *Reader) endOfFile() error {
	fileEnd := r.blockOff + int64(r.n)
	tail := fileEnd - r.clean
	// The trailer of the final full block is not a torn tail.
	trailerOnly := r.clean%BlockSize > BlockSize-HeaderSize && fileEnd == r.clean-r.clean%BlockSize+BlockSize
	if tail > 0 && !trailerOnly {
		r.torn, r.tornOff, r.tornN = true, r.clean, tail
	}
	r.pos = r.n
	r.err = io.EOF
	return io.EOF
}

// fail makes err final.
func (r *Reader) fail(err error) error {
	r.err = err
	r.corrupt = false
	return err
}

// Skip clears the corruption error the last Next returned and resumes
// reading after the damage: at the next block boundary (or, when the damage
// was a misplaced but intact chunk, right after it); MIDDLE and LAST chunks
// found there are dropped until a FULL or FIRST chunk starts a record. The
// bytes given up are added to Dropped. Skip does nothing unless the last
// Next returned a corruption error.
func (r *Reader) Skip() {
	if !r.corrupt {
		return
	}
	resume := r.blockOff + int64(r.pos)
	if resume > r.damageStart {
		r.dropped += resume - r.damageStart
	}
	r.clean = resume
	r.err, r.corrupt, r.resync = nil, false, true
}

// Each reads the remaining records in order, calling fn with each and the
// file offset of its first chunk (rec is valid only during the call). A
// damaged record — a corruption error from Next, or a corruption error fn
// returns for a record it cannot decode (errors.Is(err,
// base.ErrCorruption)) — goes to onDamage: if it returns nil, the damage is
// skipped (Skip) and reading goes on; otherwise Each returns its error. A nil
// onDamage stops at the first damage with its error. Any other error, from
// reading or from fn, stops Each and is returned. At the end of the log Each
// returns nil; TornTail, TornByChecksum and Dropped then describe the log.
func (r *Reader) Each(onDamage func(error) error, fn func(rec []byte, off int64) error) error {
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err == nil {
			err = fn(rec, r.Offset())
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, base.ErrCorruption) {
			return err
		}
		if onDamage == nil {
			return err
		}
		if err := onDamage(err); err != nil {
			return err
		}
		r.Skip()
	}
}

// Offset returns the file offset of the first chunk header of the record
// the last successful Next returned.
func (r *Reader) Offset() int64 { return r.recOff }

// TornTail reports, once Next has returned io.EOF, whether the log ended in
// a torn tail: bytes after the last record that hold no complete record and
// no valid chunk (a write cut short by a crash, or zero padding). offset is
// where those bytes start, just past the last record returned (truncate the
// file there before appending to it), and n is how many there are.
func (r *Reader) TornTail() (offset int64, n int64, ok bool) {
	return r.tornOff, r.tornN, r.torn
}

// TornByChecksum reports, with TornTail, whether the torn tail starts with
// a complete chunk (header and whole payload present) whose checksum does
// not match. A crash that cuts a write short leaves an incomplete chunk;
// a complete one with a bad checksum is what bit rot leaves (or a file
// system that persisted a write's bytes out of order), so a caller that
// must refuse damage (ParanoidChecks) refuses this tail.
func (r *Reader) TornByChecksum() bool { return r.torn && r.tornChecksum }

// msgChecksumMismatch describes a complete chunk whose checksum fails.
const msgChecksumMismatch = "chunk checksum mismatch"

// Dropped returns the number of bytes given up by Skip: damaged chunks,
// partial records around them, and the fragments of records whose start
// was lost.
func (r *Reader) Dropped() int64 { return r.dropped }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
