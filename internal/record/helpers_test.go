package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// encodeLog writes recs with a Writer started at offset and returns the
// bytes written and each record's offset.
func encodeLog(t testing.TB, offset int64, recs [][]byte) ([]byte, []int64) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriterAt(&buf, offset)
	offs := make([]int64, len(recs))
	for i, r := range recs {
		off, err := w.WriteRecord(r)
		if err != nil {
			t.Fatalf("WriteRecord(%d): %v", i, err)
		}
		offs[i] = off
	}
	if w.Size() != offset+int64(buf.Len()) {
		t.Fatalf("Size() = %d, want %d", w.Size(), offset+int64(buf.Len()))
	}
	return buf.Bytes(), offs
}

// readResult is everything a Reader returned for one file.
type readResult struct {
	recs    [][]byte
	offs    []int64
	err     error // the final error: io.EOF, a corruption error, ...
	tornOff int64
	tornN   int64
	torn    bool
	dropped int64
}

// readLog reads data to its end. With salvage it calls Skip after each
// corruption error and keeps going.
func readLog(data []byte, salvage bool) readResult {
	return readLogWith(NewReader(nil, ""), data, salvage, nil)
}

// readLogWith is readLog with a reused Reader. When visit is not nil it is
// given each record (valid during the call only) instead of res.recs
// keeping a copy.
func readLogWith(r *Reader, data []byte, salvage bool, visit func(rec []byte, off int64)) readResult {
	r.Reset(bytes.NewReader(data), "test.log")
	var res readResult
	lastSkip := int64(-1)
	for {
		rec, err := r.Next()
		if err == nil {
			if visit != nil {
				visit(rec, r.Offset())
			} else {
				res.recs = append(res.recs, bytes.Clone(rec))
			}
			res.offs = append(res.offs, r.Offset())
			continue
		}
		if salvage && errors.Is(err, base.ErrCorruption) {
			r.Skip()
			// Every Skip must move forward, or salvage could loop forever.
			if at := r.blockOff + int64(r.pos); at <= lastSkip {
				panic(fmt.Sprintf("Skip resumed at %d, not after the previous resume point %d", at, lastSkip))
			} else {
				lastSkip = at
			}
			continue
		}
		res.err = err
		break
	}
	res.tornOff, res.tornN, res.torn = r.TornTail()
	res.dropped = r.Dropped()
	return res
}

// chunk builds one chunk by hand with a correct checksum.
func chunk(typ byte, payload []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(payload))
	binary.LittleEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = typ
	b = append(b, payload...)
	binary.LittleEndian.PutUint32(b, base.MaskCRC(base.CRC(b[6:])))
	return b
}

// randRecords returns n records with sizes drawn to cover the interesting
// cases: empty, small, around a block, and up to maxSize.
func randRecords(rng *rand.Rand, n, maxSize int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		var size int
		switch rng.IntN(8) {
		case 0:
			size = 0
		case 1, 2, 3:
			size = rng.IntN(200)
		case 4, 5:
			size = rng.IntN(5000)
		case 6:
			size = BlockSize - 20 + rng.IntN(40)
		default:
			size = rng.IntN(maxSize + 1)
		}
		size = min(size, maxSize)
		recs[i] = make([]byte, size)
		fillRand(rng, recs[i])
	}
	return recs
}

func fillRand(rng *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := i; j < len(b) && j < i+8; j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}

// pattern returns n deterministic bytes (for golden files).
func pattern(n int, salt byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/251) ^ salt
	}
	return b
}

// describe renders data as a readable list of blocks and chunks, used as
// the companion picture of every golden file.
func describe(data []byte) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "file size %d\n", len(data))
	names := map[byte]string{0: "ZERO", 1: "FULL", 2: "FIRST", 3: "MIDDLE", 4: "LAST"}
	for pos := 0; pos < len(data); {
		blockEnd := min((pos/BlockSize+1)*BlockSize, len(data))
		if pos%BlockSize == 0 {
			fmt.Fprintf(&sb, "block %d @%d\n", pos/BlockSize, pos)
		}
		if blockEnd-pos < HeaderSize {
			fmt.Fprintf(&sb, "  @%-6d trailer  %d bytes % x\n", pos, blockEnd-pos, data[pos:blockEnd])
			pos = blockEnd
			continue
		}
		h := data[pos : pos+HeaderSize]
		n := int(binary.LittleEndian.Uint16(h[4:]))
		name, ok := names[h[6]]
		if !ok {
			name = fmt.Sprintf("type%d", h[6])
		}
		end := min(pos+HeaderSize+n, blockEnd)
		payload := data[pos+HeaderSize : end]
		fmt.Fprintf(&sb, "  @%-6d %-6s len %-5d crc %08x", pos, name, n, binary.LittleEndian.Uint32(h))
		if len(payload) <= 16 {
			fmt.Fprintf(&sb, " %q\n", payload)
		} else {
			fmt.Fprintf(&sb, " %q...\n", payload[:16])
		}
		pos = end
	}
	return sb.String()
}
