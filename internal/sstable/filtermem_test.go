package sstable

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
)

// TestFilterOutsideHeap: a table read without a mapping keeps its filter
// in the block cache's allocator (filterMem), answers every lookup as the
// heap copy would, and gives the memory back on Close; readers opened and
// closed over and over on one cache (whose freed memory tests poison) never
// see another reader's filter. A mapped table's filter stays in the
// mapping, and a reader without a cache keeps it in the heap.
func TestFilterOutsideHeap(t *testing.T) {
	var entries []kv
	for i := 0; i < 20000; i += 2 {
		entries = append(entries, kv{k: base.AppendInternalKey(nil, []byte(fmt.Sprintf("key%08d", i)), 1, base.KindSet), v: []byte("v")})
	}
	data := writeTable(t, entries, WriterOptions{BlockSize: 4096, BloomBitsPerKey: 10, Compression: SnappyCompression})
	c := cache.New(32 << 20) // large enough for the slab allocator
	open := func(o ReaderOptions) *Reader {
		t.Helper()
		o.Comparer, o.FileName, o.VerifyChecksums = base.DefaultComparer, "f.ldb", true
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func(r *Reader) {
		t.Helper()
		for i := 0; i < 20000; i++ {
			k, _, err := r.Get(base.MakeSearchKey(nil, []byte(fmt.Sprintf("key%08d", i)), 2))
			if err != nil {
				t.Fatal(err)
			}
			if found := k != nil && bytes.Equal(base.UserKey(k), []byte(fmt.Sprintf("key%08d", i))); found != (i%2 == 0) {
				t.Fatalf("key%08d: found %v", i, found)
			}
		}
	}
	for round := 0; round < 5; round++ {
		a, b := open(ReaderOptions{Cache: c}), open(ReaderOptions{Cache: c})
		if a.filterMem == nil || !a.hasFilter {
			t.Fatalf("round %d: unmapped reader's filter not in the allocator (filterMem %v, hasFilter %v)", round, a.filterMem, a.hasFilter)
		}
		check(a)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if a.filterMem != nil || a.hasFilter {
			t.Fatal("Close kept the filter")
		}
		check(b) // a's released (poisoned) memory is not b's
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if r := open(ReaderOptions{Cache: c, Mmap: data}); r.filterMem != nil {
		t.Error("a mapped table's filter copied out of its mapping")
	} else {
		check(r)
		r.Close()
	}
	if r := open(ReaderOptions{}); r.filterMem != nil || !r.hasFilter {
		t.Errorf("without a cache: filterMem %v, hasFilter %v", r.filterMem, r.hasFilter)
	} else {
		check(r)
		r.Close()
	}
}
