package iterator

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

const benchEntries = 1 << 16

// benchChildren deals benchEntries entries (versions user keys, one version
// per user key when versions is 1) round-robin into n sorted children.
func benchChildren(n, versions int) ([]base.InternalIterator, [][]byte) {
	parts := make([][]KV, n)
	var ukeys [][]byte
	seq := uint64(1)
	for i := 0; i < benchEntries/versions; i++ {
		uk := fmt.Appendf(nil, "user-key-%08d", i)
		ukeys = append(ukeys, uk)
		for range versions {
			kv := KV{Key: base.AppendInternalKey(nil, uk, seq, base.KindSet), Value: make([]byte, 100)}
			parts[int(seq)%n] = append(parts[int(seq)%n], kv)
			seq++
		}
	}
	its := make([]base.InternalIterator, n)
	for i := range parts {
		its[i] = NewSliceIter(icmp, packKVs(sortKVs(parts[i])))
	}
	return its, ukeys
}

// packKVs copies kvs into one contiguous buffer, as a table block holds
// them, so benchmarks measure the iterators rather than cache misses on
// scattered allocations.
func packKVs(kvs []KV) []KV {
	size := 0
	for _, kv := range kvs {
		size += len(kv.Key) + len(kv.Value)
	}
	buf := make([]byte, 0, size)
	out := make([]KV, len(kvs))
	for i, kv := range kvs {
		k := len(buf)
		buf = append(buf, kv.Key...)
		v := len(buf)
		buf = append(buf, kv.Value...)
		out[i] = KV{Key: buf[k:v:v], Value: buf[v:len(buf):len(buf)]}
	}
	return out
}

func BenchmarkMergingNext(b *testing.B) {
	for _, n := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("children=%d", n), func(b *testing.B) {
			its, _ := benchChildren(n, 1)
			m := NewMerging(icmp, its...)
			m.First()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if !m.Next() {
					m.First()
				}
			}
		})
	}
}

func BenchmarkMergingPrev(b *testing.B) {
	its, _ := benchChildren(4, 1)
	m := NewMerging(icmp, its...)
	m.Last()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !m.Prev() {
			m.Last()
		}
	}
}

func BenchmarkMergingSeekGE(b *testing.B) {
	its, ukeys := benchChildren(4, 1)
	m := NewMerging(icmp, its...)
	rng := rand.New(rand.NewPCG(1, 1))
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = base.MakeSearchKey(nil, ukeys[rng.IntN(len(ukeys))], base.MaxSeq)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.SeekGE(keys[i&1023])
	}
}

// benchDB is a DB iterator over 4 merged children holding versions entries
// per user key.
func benchDB(versions int) (*DBIter, [][]byte) {
	its, ukeys := benchChildren(4, versions)
	return NewDBIter(base.DefaultComparer, NewMerging(icmp, its...), base.MaxSeq, nil, nil), ukeys
}

func BenchmarkDBNext(b *testing.B) {
	for _, v := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("versions=%d", v), func(b *testing.B) {
			d, _ := benchDB(v)
			d.First()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if !d.Next() {
					d.First()
				}
			}
		})
	}
}

// BenchmarkDBNextOneChild is BenchmarkDBNext with every version of a key in
// one child, as repeated updates of a key leave them in a memtable.
func BenchmarkDBNextOneChild(b *testing.B) {
	for _, v := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("versions=%d", v), func(b *testing.B) {
			its, _ := benchChildren(1, v)
			d := NewDBIter(base.DefaultComparer, NewMerging(icmp, its...), base.MaxSeq, nil, nil)
			d.First()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if !d.Next() {
					d.First()
				}
			}
		})
	}
}

func BenchmarkDBPrev(b *testing.B) {
	d, _ := benchDB(1)
	d.Last()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !d.Prev() {
			d.Last()
		}
	}
}

func BenchmarkDBSeekGE(b *testing.B) {
	d, ukeys := benchDB(1)
	rng := rand.New(rand.NewPCG(2, 2))
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = ukeys[rng.IntN(len(ukeys))]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if !d.SeekGE(keys[i&1023]) {
			b.Fatal("seek missed")
		}
	}
}

// BenchmarkDBNextSampled is DBNext with the read sampler on.
func BenchmarkDBNextSampled(b *testing.B) {
	d, _ := benchDB(1)
	calls := 0
	d.OnRead = func([]byte, int) { calls++ }
	d.First()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !d.Next() {
			d.First()
		}
	}
}

func BenchmarkLevelNext(b *testing.B) {
	its, _ := benchChildren(1, 1)
	all := its[0].(*SliceIter).kvs
	const perFile = 1000
	var files []*manifest.FileMetadata
	tables := map[uint64]*SliceIter{}
	for i := 0; i < len(all); i += perFile {
		c := all[i:min(i+perFile, len(all))]
		f := &manifest.FileMetadata{Num: uint64(len(files)), Smallest: c[0].Key, Largest: c[len(c)-1].Key}
		files = append(files, f)
		tables[f.Num] = NewSliceIter(icmp, c)
	}
	// A table cache hands out cached iterators: opening does not allocate.
	open := func(f *manifest.FileMetadata) (base.InternalIterator, error) { return tables[f.Num], nil }
	l := NewLevel(base.DefaultComparer, files, open)
	l.First()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !l.Next() {
			l.First()
		}
	}
}
