package record

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic,
// must end every read with io.EOF (salvage mode) or io.EOF / a corruption
// error (strict mode), and its bookkeeping must be consistent.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"small", "seven-left", "trailer"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name+".log")); err == nil {
			f.Add(data)
		}
	}
	a, b := chunk(typeFull, []byte("a")), chunk(typeFull, []byte("b"))
	f.Add([]byte{})
	f.Add(cat(a, b[:3]))
	f.Add(cat(a, badCRC(b), a))
	f.Add(cat(chunk(typeFirst, []byte("x")), chunk(typeMiddle, []byte("y")), chunk(typeLast, []byte("z"))))
	f.Add(cat(chunk(typeMiddle, []byte("m")), a, zeros(40)))
	f.Add(cat(padTo(a, BlockSize, 0), bytes.Repeat([]byte{3}, 100), b))

	f.Fuzz(func(t *testing.T, data []byte) {
		strict := readLog(data, false)
		if strict.err != io.EOF && !errors.Is(strict.err, base.ErrCorruption) {
			t.Fatalf("strict read ended with %v", strict.err)
		}
		sal := readLog(data, true)
		if sal.err != io.EOF {
			t.Fatalf("salvage read ended with %v", sal.err)
		}
		// Salvage returns what strict mode returned, then perhaps more.
		if len(sal.recs) < len(strict.recs) {
			t.Fatalf("salvage read %d records, strict %d", len(sal.recs), len(strict.recs))
		}
		for i := range strict.recs {
			if sal.offs[i] != strict.offs[i] || !bytes.Equal(sal.recs[i], strict.recs[i]) {
				t.Fatalf("record %d differs between strict and salvage reads", i)
			}
		}
		size := int64(len(data))
		for i, off := range sal.offs {
			if off < 0 || off+HeaderSize > size || (i > 0 && off <= sal.offs[i-1]) {
				t.Fatalf("record %d at offset %d (previous %v, size %d)", i, off, sal.offs[:i], size)
			}
		}
		for _, res := range []readResult{strict, sal} {
			if res.torn && (res.tornN <= 0 || res.tornOff < 0 || res.tornOff+res.tornN != size) {
				t.Fatalf("TornTail (%d, %d) for a %d-byte file", res.tornOff, res.tornN, size)
			}
		}
		if sal.dropped < 0 || sal.dropped > size {
			t.Fatalf("Dropped %d for a %d-byte file", sal.dropped, size)
		}
	})
}

// FuzzRoundTrip writes records cut from arbitrary bytes at an arbitrary
// block position and reads them back.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello world"), uint16(0), uint16(3))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4}, 20000), uint16(BlockSize-7), uint16(40000))
	f.Add([]byte{}, uint16(BlockSize-1), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, blockPos, step uint16) {
		// A prefix record puts the Writer at blockPos in block 0 (or at the
		// start of block 1 when blockPos is in the trailer zone).
		var prefix [][]byte
		if p := int(blockPos) % BlockSize; p >= HeaderSize {
			prefix = [][]byte{make([]byte, p-HeaderSize)}
		}
		recs := append([][]byte(nil), prefix...)
		n := max(1, int(step))
		for len(data) > 0 {
			k := min(n, len(data))
			recs = append(recs, data[:k])
			data = data[k:]
			n = n*3/2 + 1
		}
		recs = append(recs, nil)
		enc, offs := encodeLog(t, 0, recs)
		res := readLog(enc, false)
		if res.err != io.EOF || res.torn {
			t.Fatalf("err %v torn %v", res.err, res.torn)
		}
		checkRecords(t, res, recs, offs)
	})
}
