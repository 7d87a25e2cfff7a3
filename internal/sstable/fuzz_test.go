package sstable

import (
	"bytes"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// FuzzBlockIter drives the block iterator over arbitrary bytes: it must
// never panic, and when no error occurs the forward and backward scans must
// agree.
func FuzzBlockIter(f *testing.F) {
	w := blockWriter{restartInterval: 2}
	w.reset()
	for _, k := range []string{"apple", "apricot", "banana", "bandana", "cherry"} {
		w.add(base.AppendInternalKey(nil, []byte(k), 7, base.KindSet), []byte(k))
	}
	f.Add(append([]byte(nil), w.finish()...), []byte("banana"))
	w.reset()
	f.Add(append([]byte(nil), w.finish()...), []byte(""))
	f.Add([]byte{0, 0, 0, 0}, []byte("x"))
	f.Add([]byte{0, 5, 1, 'a', 'b', 'c', 'd', 'e', 'v', 0, 0, 0, 0, 1, 0, 0, 0}, []byte("abc"))
	f.Fuzz(func(t *testing.T, data, target []byte) {
		var it blockIter
		if it.init(base.DefaultComparer, data, "fuzz", 0) != nil {
			return
		}
		var fwd [][]byte
		for ok := it.First(); ok && len(fwd) <= len(data); ok = it.Next() {
			fwd = append(fwd, append([]byte(nil), it.key...))
		}
		fwdErr := it.err
		var bwd [][]byte
		it.err = nil
		for ok := it.Last(); ok && len(bwd) <= len(data); ok = it.Prev() {
			bwd = append(bwd, append([]byte(nil), it.key...))
		}
		if fwdErr == nil && it.err == nil {
			if len(fwd) != len(bwd) {
				t.Fatalf("forward %d entries, backward %d", len(fwd), len(bwd))
			}
			for i := range fwd {
				if !bytes.Equal(fwd[i], bwd[len(bwd)-1-i]) {
					t.Fatalf("entry %d differs between directions", i)
				}
			}
		}
		it.err = nil
		it.valid = false
		it.SeekGE(target)
		it.err = nil
		it.valid = false
		it.SeekLT(target)
	})
}

// FuzzReader opens arbitrary bytes as a table and reads everything: it must
// never panic or hang.
func FuzzReader(f *testing.F) {
	for _, c := range []Compression{NoCompression, SnappyCompression, ZstdCompression} {
		data, _ := smallTable(f, c)
		f.Add(data)
	}
	f.Add(writeTable(f, nil, WriterOptions{}))
	f.Add(make([]byte, 48))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, verify := range []bool{true, false} {
			r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{VerifyChecksums: verify})
			if err != nil {
				continue
			}
			_ = r.Check()
			_, _ = r.Layout()
			it := r.NewIter()
			n := 0
			for ok := it.First(); ok && n <= len(data); ok = it.Next() {
				_, _, _ = r.Get(it.Key())
				n++
			}
			for ok := it.Last(); ok && n >= 0; ok = it.Prev() {
				n--
			}
			it.SeekGE([]byte("key010\x01\x00\x00\x00\x00\x00\x00\x00"))
			it.SeekLT([]byte("key010\x01\x00\x00\x00\x00\x00\x00\x00"))
			_ = it.Close()
			_ = r.ApproximateOffset([]byte("key010\x01\x00\x00\x00\x00\x00\x00\x00"))
			_ = r.Close()
		}
	})
}
