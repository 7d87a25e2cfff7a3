package record

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// writtenLog is a log built by the Writer together with what the tests
// need to predict how any damaged version of it reads.
type writtenLog struct {
	data  []byte
	recs  [][]byte
	start []int64 // offset of each record's first chunk header
	end   []int64 // offset just past each record's last chunk
}

func buildLog(t testing.TB, recs [][]byte) writtenLog {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	l := writtenLog{recs: recs}
	for _, r := range recs {
		off, err := w.WriteRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		l.start = append(l.start, off)
		l.end = append(l.end, w.Size())
	}
	l.data = buf.Bytes()
	return l
}

// propertyLog is a multi-record log with every chunk shape: FULL records,
// a record spanning three blocks, a zero-length FIRST with exactly 7 bytes
// left, a trailer, and empty records. Payload bytes are printable, which
// keeps the exhaustive tests below fast (random payloads rarely hold a
// valid chunk type byte either; TestRandomDamage covers them).
func propertyLog(t testing.TB) writtenLog {
	printable := func(n int, salt byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(i*7+int(salt))%26
		}
		return b
	}
	recs := [][]byte{
		printable(10, 0), {}, printable(300, 1),
		printable(BlockSize-331-2*HeaderSize, 2), // starts at 331, leaves exactly 7 bytes in block 0
		printable(200, 3),                        // zero-length FIRST at 32761, LAST in block 1
		printable(2*BlockSize+100, 4),            // FIRST in block 1, MIDDLE block 2, LAST block 3
		{}, printable(5, 5), printable(1000, 6),
	}
	l := buildLog(t, recs)
	// Pin the shapes the comment promises.
	if l.start[3] != 331 || l.start[4] != BlockSize-HeaderSize || l.end[5] < 3*BlockSize {
		t.Fatalf("propertyLog layout changed: starts %v ends %v", l.start, l.end)
	}
	return l
}

// positions returns the offsets the exhaustive tests try: every offset in
// the file, or under the race detector every offset within 9 bytes of a
// record start, a record end or a block boundary (headers, trailers and
// the 7-bytes-left case) plus every 37th offset elsewhere.
func (l writtenLog) positions() []int64 {
	size := int64(len(l.data))
	if !raceEnabled {
		all := make([]int64, size+1)
		for i := range all {
			all[i] = int64(i)
		}
		return all
	}
	near := make([]bool, size+1)
	mark := func(at int64) {
		for p := max(0, at-9); p <= min(size, at+9); p++ {
			near[p] = true
		}
	}
	for i := range l.start {
		mark(l.start[i])
		mark(l.end[i])
	}
	for b := int64(0); b <= size; b += BlockSize {
		mark(b)
	}
	var ps []int64
	for p := int64(0); p <= size; p++ {
		if near[p] || p%37 == 0 {
			ps = append(ps, p)
		}
	}
	return ps
}

// completeBefore returns how many records end at or before cut.
func (l writtenLog) completeBefore(cut int64) int {
	n := 0
	for n < len(l.end) && l.end[n] <= cut {
		n++
	}
	return n
}

// read reads data (l's bytes, perhaps damaged) with rd, checking as it
// goes that every record read is a record written, at the same offset and
// in order. It returns the result and the indexes of the records read.
func (l writtenLog) read(t *testing.T, what string, rd *Reader, data []byte, salvage bool) (readResult, []int) {
	t.Helper()
	var idx []int
	j := 0
	bad := ""
	res := readLogWith(rd, data, salvage, func(rec []byte, off int64) {
		for j < len(l.start) && l.start[j] < off {
			j++
		}
		if j == len(l.start) || l.start[j] != off || !bytes.Equal(rec, l.recs[j]) {
			if bad == "" {
				bad = fmt.Sprintf("%s: record %d read at offset %d was never written there", what, len(idx), off)
			}
			return
		}
		idx = append(idx, j)
		j++
	})
	if bad != "" {
		t.Fatal(bad)
	}
	return res, idx
}

func TestRoundTripRandom(t *testing.T) {
	for range 10 {
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 0))
		// A prefix written by one Writer, continued by NewWriterAt, puts
		// the second Writer's start at a random block position.
		var buf bytes.Buffer
		w := NewWriter(&buf)
		var recs [][]byte
		var offs []int64
		target := rng.Int64N(4 * BlockSize)
		for w.Size() < target {
			r := randRecords(rng, 1, 100<<10)[0]
			off, err := w.WriteRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			recs, offs = append(recs, r), append(offs, off)
		}
		w = NewWriterAt(&buf, int64(buf.Len()))
		for _, r := range randRecords(rng, 40, 100<<10) {
			off, err := w.WriteRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			recs, offs = append(recs, r), append(offs, off)
		}
		res := readLog(buf.Bytes(), false)
		if res.err != io.EOF || res.torn {
			t.Fatalf("seed %d: err %v torn %v", seed, res.err, res.torn)
		}
		checkRecords(t, res, recs, offs)
	}
}

// NewWriterAt at every position near a block boundary: trailer padding,
// the 7-bytes-left case and exact boundaries.
func TestWriterAtBlockEdges(t *testing.T) {
	for left := 0; left <= 12; left++ {
		for _, rec := range [][]byte{{}, []byte("x"), pattern(BlockSize+10, 1)} {
			// One FULL record of the right size leaves `left` bytes.
			size := BlockSize - left - HeaderSize
			prefix, _ := encodeLog(t, 0, [][]byte{pattern(size, 2)})
			var buf bytes.Buffer
			buf.Write(prefix)
			w := NewWriterAt(&buf, int64(len(prefix)))
			off, err := w.WriteRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			wantOff := int64(len(prefix))
			if left < HeaderSize {
				wantOff = BlockSize // after the trailer
			}
			if off != wantOff {
				t.Errorf("left %d, record %d bytes: offset %d, want %d", left, len(rec), off, wantOff)
			}
			res := readLog(buf.Bytes(), false)
			if res.err != io.EOF || res.torn || len(res.recs) != 2 || !bytes.Equal(res.recs[1], rec) {
				t.Errorf("left %d, record %d bytes: %d records, err %v, torn %v", left, len(rec), len(res.recs), res.err, res.torn)
			}
		}
	}
}

// Every truncation point (see positions) yields a prefix of the records and io.EOF, with
// TornTail reporting exactly the bytes after the last whole record.
func TestEveryTruncation(t *testing.T) {
	l := propertyLog(t)
	rd := NewReader(nil, "")
	for _, cut := range l.positions() {
		res, idx := l.read(t, "truncated", rd, l.data[:cut], false)
		if res.err != io.EOF {
			t.Fatalf("cut %d: err %v, want io.EOF", cut, res.err)
		}
		n := l.completeBefore(cut)
		if len(idx) != n {
			t.Fatalf("cut %d: %d records, want %d", cut, len(idx), n)
		}
		clean := int64(0)
		if n > 0 {
			clean = l.end[n-1]
		}
		trailerOnly := clean%BlockSize > BlockSize-HeaderSize && cut == clean-clean%BlockSize+BlockSize
		wantTorn := cut > clean && !trailerOnly
		if res.torn != wantTorn || (wantTorn && (res.tornOff != clean || res.tornN != cut-clean)) {
			t.Fatalf("cut %d: TornTail (%d, %d, %v), want (%d, %d, %v)", cut, res.tornOff, res.tornN, res.torn, clean, cut-clean, wantTorn)
		}
	}
}

// Every single-byte change (see positions) is detected (a corruption error, or a torn
// tail with the records before it intact) or harmless (a trailer byte), and
// never yields a record that was not written. Salvage recovers every record
// outside the damaged block.
func TestEveryByteFlip(t *testing.T) {
	l := propertyLog(t)
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	data := bytes.Clone(l.data)
	rd := NewReader(nil, "")
	for _, p := range l.positions() {
		if p == int64(len(data)) {
			continue
		}
		mask := byte(1 + rng.IntN(255))
		data[p] ^= mask
		checkDamaged(t, l, rd, data, p, seed)
		data[p] ^= mask
	}
}

// checkDamaged checks the reading of l's bytes damaged at offset p.
func checkDamaged(t *testing.T, l writtenLog, rd *Reader, data []byte, p int64, seed uint64) {
	t.Helper()
	res, idx := l.read(t, "damaged", rd, data, false)
	n := len(idx)
	for i := range n { // a prefix
		if idx[i] != i {
			t.Fatalf("seed %d flip at %d: record %d skipped", seed, p, i)
		}
	}
	var ce *base.CorruptionError
	switch {
	case errors.As(res.err, &ce):
		if ce.Offset > p || p-ce.Offset >= BlockSize {
			t.Fatalf("seed %d flip at %d: corruption reported at %d", seed, p, ce.Offset)
		}
	case res.err == io.EOF && n == len(l.recs):
		// Harmless: the byte was in a trailer.
		if res.torn {
			t.Fatalf("seed %d flip at %d: torn tail after all records", seed, p)
		}
	case res.err == io.EOF:
		clean := int64(0)
		if n > 0 {
			clean = l.end[n-1]
		}
		if !res.torn || res.tornOff != clean || res.tornOff+res.tornN != int64(len(data)) || p < clean {
			t.Fatalf("seed %d flip at %d: %d records then EOF, TornTail (%d, %d, %v)", seed, p, n, res.tornOff, res.tornN, res.torn)
		}
	default:
		t.Fatalf("seed %d flip at %d: unexpected error %v", seed, p, res.err)
	}

	sal, salIdx := l.read(t, "salvaged", rd, data, true)
	got := map[int]bool{}
	for _, i := range salIdx {
		got[i] = true
	}
	if sal.err != io.EOF {
		t.Fatalf("seed %d flip at %d: salvage ended with %v", seed, p, sal.err)
	}
	nextBlock := (p/BlockSize + 1) * BlockSize
	for i := range l.recs {
		if (l.end[i] <= p && i < n) || l.start[i] >= nextBlock {
			if !got[i] {
				t.Fatalf("seed %d flip at %d: salvage lost record %d at %d (dropped %d)", seed, p, i, l.start[i], sal.dropped)
			}
		}
	}
}

// Random multi-byte damage on logs with random payloads: never a record
// that was not written, and salvage keeps going to the end.
func TestRandomDamage(t *testing.T) {
	for range 200 {
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 0))
		l := buildLog(t, randRecords(rng, 30, 40<<10))
		data := bytes.Clone(l.data)
		switch rng.IntN(3) {
		case 0: // a few flipped bytes
			for range 1 + rng.IntN(4) {
				data[rng.IntN(len(data))] ^= byte(1 + rng.IntN(255))
			}
		case 1: // a zeroed run
			at := rng.IntN(len(data))
			clear(data[at:min(len(data), at+rng.IntN(2*BlockSize))])
		case 2: // a run of garbage
			at := rng.IntN(len(data))
			fillRand(rng, data[at:min(len(data), at+rng.IntN(2*BlockSize))])
		}
		rd := NewReader(nil, "")
		res, _ := l.read(t, "damaged", rd, data, false)
		if res.err != io.EOF && !errors.Is(res.err, base.ErrCorruption) {
			t.Fatalf("seed %d: %v", seed, res.err)
		}
		sal, _ := l.read(t, "salvaged", rd, data, true)
		if sal.err != io.EOF || sal.dropped > int64(len(data)) {
			t.Fatalf("seed %d: salvage err %v dropped %d", seed, sal.err, sal.dropped)
		}
	}
}
