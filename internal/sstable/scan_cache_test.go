package sstable

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
)

// TestScanDoesNotFillCache: an iterator stepping through many blocks stops
// adding them to the block cache after scanThreshold blocks (a long scan
// must not evict the point-read working set), while seeks still fill it;
// and the scan returns the same entries either way.
func TestScanDoesNotFillCache(t *testing.T) {
	var entries []kv
	for i := 0; i < 5000; i++ {
		k := base.AppendInternalKey(nil, []byte(fmt.Sprintf("key%06d", i)), uint64(i+1), base.KindSet)
		entries = append(entries, kv{k, bytes.Repeat([]byte{byte(i)}, 60)})
	}
	for _, comp := range []Compression{NoCompression, SnappyCompression} {
		data := writeTable(t, entries, WriterOptions{BlockSize: 1024, Compression: comp, Comparer: base.DefaultComparer})
		c := cache.New(64 << 20)
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{
			Comparer: base.DefaultComparer, Cache: c, FileName: "t", VerifyChecksums: true})
		if err != nil {
			t.Fatal(err)
		}
		for dir := 0; dir < 2; dir++ {
			it := r.NewIter()
			n := 0
			ok := it.First()
			if dir == 1 {
				ok = it.Last()
			}
			for ; ok; n++ {
				want := entries[n]
				if dir == 1 {
					want = entries[len(entries)-1-n]
				}
				if !bytes.Equal(it.Key(), want.k) || !bytes.Equal(it.Value(), want.v) {
					t.Fatalf("%v dir %d: entry %d differs", comp, dir, n)
				}
				if dir == 0 {
					ok = it.Next()
				} else {
					ok = it.Prev()
				}
			}
			if err := it.Close(); err != nil || n != len(entries) {
				t.Fatalf("%v dir %d: %d entries, %v", comp, dir, n, err)
			}
		}
		if _, _, _, _, count := c.Stats(); count > 2*(scanThreshold+1) {
			t.Fatalf("%v: full scans left %d blocks in the cache", comp, count)
		}
		for i := 0; i < len(entries); i += 100 {
			it := r.NewIter()
			it.SeekGE(entries[i].k)
			it.Close()
		}
		if _, _, _, _, count := c.Stats(); count < 40 {
			t.Fatalf("%v: seeks cached only %d blocks", comp, count)
		}
		r.Close()
	}
}
