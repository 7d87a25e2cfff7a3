package sstable

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
)

const benchEntries = 100000

// benchKey is the internal key of entry i: a 16-byte user key.
func benchKey(dst []byte, i int) []byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(i))
	binary.BigEndian.PutUint64(u[8:], uint64(i)*0x9e3779b97f4a7c15)
	return base.AppendInternalKey(dst, u[:], uint64(i+1), base.KindSet)
}

func benchValue(rng *rand.Rand) []byte {
	v := make([]byte, 100)
	for i := range v {
		v[i] = "abcdefghij"[rng.IntN(10)] // compressible like typical values
	}
	return v
}

func BenchmarkWriterAdd(b *testing.B) {
	for _, c := range []Compression{NoCompression, SnappyCompression, ZstdCompression} {
		b.Run(c.String(), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 1 << 14
			keys := make([][]byte, n)
			vals := make([][]byte, n)
			for i := range n {
				keys[i] = benchKey(nil, i)
				vals[i] = benchValue(rng)
			}
			b.SetBytes(int64(len(keys[0]) + len(vals[0])))
			b.ReportAllocs()
			w := NewWriter(io.Discard, WriterOptions{Compression: c, BloomBitsPerKey: 10})
			j := 0
			for b.Loop() {
				if j == n {
					w.Close()
					w = NewWriter(io.Discard, WriterOptions{Compression: c, BloomBitsPerKey: 10})
					j = 0
				}
				if err := w.Add(keys[j], vals[j]); err != nil {
					b.Fatal(err)
				}
				j++
			}
			w.Close()
		})
	}
}

// benchReader builds a snappy table of benchEntries entries with a filter and
// opens it with a cache large enough to hold it.
func benchReader(b *testing.B, o ReaderOptions) (*Reader, []byte) {
	return benchReaderN(b, o, benchEntries)
}

func benchReaderN(b *testing.B, o ReaderOptions, entries int) (*Reader, []byte) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{Compression: SnappyCompression, BloomBitsPerKey: 10})
	var k []byte
	for i := range entries {
		k = benchKey(k[:0], i)
		if err := w.Add(k, benchValue(rng)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	o.Cache = cache.New(64 << 20)
	o.VerifyChecksums = true
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		b.Fatal(err)
	}
	it := r.NewIter()
	for ok := it.First(); ok; ok = it.Next() { // warm the cache
	}
	it.Close()
	return r, data
}

func searchKeys(n int) [][]byte { return searchKeysIn(n, benchEntries) }

func searchKeysIn(n, entries int) [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([][]byte, n)
	for i := range keys {
		k := benchKey(nil, rng.IntN(entries))
		keys[i] = base.MakeSearchKey(nil, base.UserKey(k), base.MaxSeq)
	}
	return keys
}

func BenchmarkReaderGet(b *testing.B) {
	r, _ := benchReader(b, ReaderOptions{})
	keys := searchKeys(1 << 12)
	b.Run("GetInto/hit", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		i := 0
		for b.Loop() {
			var err error
			var v *cache.Value
			dst, _, v, err = r.GetInto(dst, keys[i&(len(keys)-1)])
			v.Release()
			if err != nil || dst == nil {
				b.Fatal("miss", err)
			}
			i++
		}
	})
	b.Run("Get/hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if k, _, err := r.Get(keys[i&(len(keys)-1)]); err != nil || k == nil {
				b.Fatal("miss", err)
			}
			i++
		}
	})
	absent := make([][]byte, len(keys))
	for i, k := range keys {
		u := append([]byte(nil), base.UserKey(k)...)
		u[15] ^= 0x55 // a user key not in the table
		absent[i] = base.MakeSearchKey(nil, u, base.MaxSeq)
	}
	b.Run("GetInto/absent", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		i := 0
		for b.Loop() {
			var v *cache.Value
			dst, _, v, _ = r.GetInto(dst, absent[i&(len(absent)-1)])
			v.Release()
			i++
		}
	})
}

func BenchmarkIterNext(b *testing.B) {
	r, _ := benchReader(b, ReaderOptions{})
	b.ReportAllocs()
	it := r.NewIter()
	defer it.Close()
	it.First()
	for b.Loop() {
		if !it.Next() {
			it.First()
		}
	}
}

func BenchmarkIterPrev(b *testing.B) {
	r, _ := benchReader(b, ReaderOptions{})
	b.ReportAllocs()
	it := r.NewIter()
	defer it.Close()
	it.Last()
	for b.Loop() {
		if !it.Prev() {
			it.Last()
		}
	}
}

func BenchmarkIterSeekGE(b *testing.B) {
	r, _ := benchReader(b, ReaderOptions{})
	keys := searchKeys(1 << 12)
	b.ReportAllocs()
	it := r.NewIter()
	defer it.Close()
	i := 0
	for b.Loop() {
		if !it.SeekGE(keys[i&(len(keys)-1)]) {
			b.Fatal("not found")
		}
		i++
	}
}

func BenchmarkNewIter(b *testing.B) {
	r, _ := benchReader(b, ReaderOptions{})
	keys := searchKeys(1 << 12)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		it := r.NewIter()
		it.SeekGE(keys[i&(len(keys)-1)])
		it.Close()
		i++
	}
}

// BenchmarkReaderGetSmall is Get on a 2000-entry table that stays in the CPU
// caches: the algorithmic cost without memory latency.
func BenchmarkReaderGetSmall(b *testing.B) {
	r, _ := benchReaderN(b, ReaderOptions{}, 2000)
	keys := searchKeysIn(1<<12, 2000)
	b.ReportAllocs()
	var dst []byte
	i := 0
	for b.Loop() {
		var err error
		var v *cache.Value
		dst, _, v, err = r.GetInto(dst, keys[i&(len(keys)-1)])
		v.Release()
		if err != nil || dst == nil {
			b.Fatal("miss", err)
		}
		i++
	}
}
