package record

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/strata-db/strata/internal/base"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func zeros(n int) []byte { return make([]byte, n) }

// badCRC returns c with its checksum broken.
func badCRC(c []byte) []byte {
	c = bytes.Clone(c)
	c[0] ^= 0x55
	return c
}

// padTo pads b with fill bytes to length n.
func padTo(b []byte, n int, fill byte) []byte {
	for len(b) < n {
		b = append(b, fill)
	}
	return b
}

func TestReaderDamage(t *testing.T) {
	a, b, c := chunk(typeFull, []byte("a")), chunk(typeFull, []byte("b")), chunk(typeFull, []byte("c"))
	big := chunk(typeFull, pattern(BlockSize-HeaderSize-6, 9)) // leaves a 6-byte trailer
	type torn struct {
		ok     bool
		off, n int64
	}
	tests := []struct {
		name    string
		data    []byte
		want    []string // records before the end or the error
		corrupt int64    // offset of the corruption error, or -1 for io.EOF
		torn    torn
		// With Skip after each corruption error:
		salvaged []string
		dropped  int64
	}{
		{name: "empty file", data: nil, corrupt: -1},
		{name: "clean", data: cat(a, b), want: []string{"a", "b"}, corrupt: -1},
		{name: "torn header", data: cat(a, b[:3]), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 3}},
		{name: "torn payload", data: cat(a, chunk(typeFull, []byte("bcdef"))[:9]), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 9}},
		{name: "header only", data: cat(a, chunk(typeFull, []byte("bcdef"))[:7]), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 7}},
		{name: "FIRST without LAST", data: cat(a, chunk(typeFirst, []byte("xy"))), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 9}},
		{name: "FIRST MIDDLE then EOF", data: cat(a, chunk(typeFirst, []byte("x")), chunk(typeMiddle, []byte("y"))), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 16}},
		{name: "zero tail", data: cat(a, zeros(100)), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 100}},
		{name: "garbage tail", data: cat(a, bytes.Repeat([]byte{0xff, 0x13, 0x02}, 20)), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 60}},
		{name: "checksum mismatch at the end", data: cat(a, badCRC(b)), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 8}},
		{name: "orphan LAST at the end", data: cat(a, chunk(typeLast, []byte("l"))), want: []string{"a"}, corrupt: -1, torn: torn{true, 8, 8}},
		{name: "trailer at the end of a full block", data: cat(big, zeros(6)), want: []string{string(pattern(BlockSize-HeaderSize-6, 9))}, corrupt: -1},
		{name: "torn header in the next block", data: cat(big, zeros(6), b[:4]), want: []string{string(pattern(BlockSize-HeaderSize-6, 9))}, corrupt: -1, torn: torn{true, BlockSize - 6, 10}},
		{name: "non-zero trailer is ignored", data: cat(big, []byte("xxxxxx"), b), want: []string{string(pattern(BlockSize-HeaderSize-6, 9)), "b"}, corrupt: -1},
		{name: "zero padding then a record in the next block", data: cat(padTo(a, BlockSize, 0), b), want: []string{"a", "b"}, corrupt: -1},
		{name: "empty FIRST then FULL (old LevelDB writers)", data: cat(chunk(typeFirst, nil), b), want: []string{"b"}, corrupt: -1},

		{
			name: "checksum mismatch then a record", data: cat(a, badCRC(b), c), want: []string{"a"}, corrupt: 8,
			salvaged: []string{"a"}, dropped: 16, // resumes at the next block: there is none
		},
		{
			name: "checksum mismatch then a record in the next block", data: cat(padTo(cat(a, badCRC(b)), BlockSize, 0), c), want: []string{"a"}, corrupt: 8,
			salvaged: []string{"a", "c"}, dropped: BlockSize - 8,
		},
		{name: "bad type then a record", data: cat(a, chunk(5, []byte("b")), c), want: []string{"a"}, corrupt: 8, salvaged: []string{"a"}, dropped: 16},
		{
			name: "zero header with data after it", data: cat(padTo(cat(a, zeros(7), []byte("junk")), BlockSize, 0), c), want: []string{"a"}, corrupt: 8,
			salvaged: []string{"a", "c"}, dropped: BlockSize - 8,
		},
		{
			name: "length overruns the block", data: cat(padTo(cat(a, chunk(typeFull, make([]byte, BlockSize-HeaderSize))[:BlockSize-8]), BlockSize, 0), c), want: []string{"a"}, corrupt: 8,
			salvaged: []string{"a", "c"}, dropped: BlockSize - 8,
		},
		{
			name: "length overruns the file but a record follows", data: cat(a, chunk(typeFull, make([]byte, 1000))[:7], c), want: []string{"a"}, corrupt: 8,
			salvaged: []string{"a"}, dropped: 15,
		},
		{
			name: "FIRST inside a record", data: cat(a, chunk(typeFirst, []byte("x")), chunk(typeFirst, []byte("y")), chunk(typeLast, []byte("z"))), want: []string{"a"}, corrupt: 16,
			salvaged: []string{"a", "yz"}, dropped: 8,
		},
		{
			name: "FULL inside a record", data: cat(chunk(typeFirst, []byte("x")), b), corrupt: 8,
			salvaged: []string{"b"}, dropped: 8,
		},
		{
			name: "orphan MIDDLE then a record", data: cat(a, chunk(typeMiddle, []byte("m")), chunk(typeLast, []byte("l")), b), want: []string{"a"}, corrupt: 8,
			salvaged: []string{"a", "b"}, dropped: 16,
		},
		{
			name: "zero padding inside a record", data: cat(padTo(chunk(typeFirst, []byte("x")), BlockSize, 0), chunk(typeLast, []byte("y")), b), corrupt: 8,
			salvaged: []string{"b"}, dropped: BlockSize + 8,
		},
		{
			name: "garbage block between records",
			data: cat(padTo(a, BlockSize, 0), bytes.Repeat([]byte{0xfe}, BlockSize), b), want: []string{"a"}, corrupt: BlockSize,
			salvaged: []string{"a", "b"}, dropped: BlockSize,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := readLog(tc.data, false)
			if got := strs(res.recs); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("records %q, want %q", got, tc.want)
			}
			if tc.corrupt < 0 {
				if res.err != io.EOF {
					t.Fatalf("err %v, want io.EOF", res.err)
				}
				if got := (torn{res.torn, res.tornOff, res.tornN}); got != tc.torn {
					t.Errorf("TornTail %+v, want %+v", got, tc.torn)
				}
				return
			}
			var ce *base.CorruptionError
			if !errors.As(res.err, &ce) || !errors.Is(res.err, base.ErrCorruption) {
				t.Fatalf("err %v, want a corruption error", res.err)
			}
			if ce.File != "test.log" || ce.Offset != tc.corrupt {
				t.Errorf("corruption at %s:%d, want test.log:%d (%v)", ce.File, ce.Offset, tc.corrupt, ce)
			}
			sal := readLog(tc.data, true)
			if got := strs(sal.recs); strings.Join(got, "|") != strings.Join(tc.salvaged, "|") {
				t.Errorf("salvaged %q, want %q", got, tc.salvaged)
			}
			if sal.err != io.EOF || sal.dropped != tc.dropped {
				t.Errorf("salvage: err %v dropped %d, want EOF and %d", sal.err, sal.dropped, tc.dropped)
			}
		})
	}
}

func strs(recs [][]byte) []string {
	s := make([]string, len(recs))
	for i, r := range recs {
		s[i] = string(r)
	}
	return s
}

// A corruption error is sticky until Skip; io.EOF is final.
func TestReaderStickyErrors(t *testing.T) {
	a, b := chunk(typeFull, []byte("a")), chunk(typeFull, []byte("b"))
	r := NewReader(bytes.NewReader(cat(badCRC(a), b)), "x")
	_, err1 := r.Next()
	_, err2 := r.Next()
	if !errors.Is(err1, base.ErrCorruption) || err1 != err2 {
		t.Fatalf("errors %v, %v: want the same corruption error twice", err1, err2)
	}
	r.Skip()
	r.Skip() // a second Skip is a no-op
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after Skip: %v, want io.EOF", err)
	}
	r.Skip()
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after EOF: %v, want io.EOF", err)
	}
	if r.Dropped() != 16 {
		t.Fatalf("Dropped %d, want 16", r.Dropped())
	}
}

// I/O errors are returned wrapped and are final.
func TestReaderIOError(t *testing.T) {
	data, _ := encodeLog(t, 0, [][]byte{pattern(100, 1), pattern(BlockSize, 2)})
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(bytes.NewReader(data[:BlockSize]), iotest.ErrReader(boom)), "x")
	if rec, err := r.Next(); err != nil || len(rec) != 100 {
		t.Fatalf("first record: %d bytes, %v", len(rec), err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, boom) || errors.Is(err, base.ErrCorruption) {
			t.Fatalf("Next: %v, want the I/O error", err)
		}
	}
}

// A reader that returns one byte at a time reads the same records.
func TestReaderOneByteReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := randRecords(rng, 50, 70000)
	data, offs := encodeLog(t, 0, recs)
	r := NewReader(iotest.OneByteReader(bytes.NewReader(data)), "x")
	var res readResult
	for {
		rec, err := r.Next()
		if err != nil {
			res.err = err
			break
		}
		res.recs = append(res.recs, bytes.Clone(rec))
		res.offs = append(res.offs, r.Offset())
	}
	if res.err != io.EOF {
		t.Fatal(res.err)
	}
	checkRecords(t, res, recs, offs)
}
