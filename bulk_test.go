package strata

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestBulkLoadFlow: the data-engineering load — PrepareForBulkLoad, batches
// without the WAL from several goroutines, Flush, CompactRangeWith into the
// last level in parallel — leaves every key readable, level 0 empty and all
// data in one level.
func TestBulkLoadFlow(t *testing.T) {
	dir := t.TempDir()
	opts := (&Options{}).PrepareForBulkLoad()
	opts.WriteBufferSize = 256 << 10 // many flushes in a small test
	opts.TargetFileSize = 128 << 10
	db := mustOpen(t, dir, opts)
	const loaders, perLoader = 4, 5000
	var wg sync.WaitGroup
	for l := 0; l < loaders; l++ {
		wg.Add(1)
		go func(l int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(l), 1))
			b := db.NewBatch()
			for i := 0; i < perLoader; i++ {
				k := fmt.Sprintf("%08d", rng.IntN(1_000_000)*loaders+l) // disjoint per loader
				b.Put([]byte(k), bytes.Repeat([]byte(k), 4))
				if b.Len() == 500 {
					if err := db.Write(b, &WriteOptions{DisableWAL: true}); err != nil {
						t.Error(err)
						return
					}
					b.Reset()
				}
			}
			if err := db.Write(b, &WriteOptions{DisableWAL: true}); err != nil {
				t.Error(err)
			}
		}(l)
	}
	wg.Wait()
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := mustProp(db, "strata.num-files-at-level0"); n == "0" || n == "1" {
		t.Fatalf("expected several level-0 tables before the compaction, got %s", n)
	}
	if err := db.CompactRangeWith(nil, nil, CompactOptions{Parallelism: 3, BottommostCompression: ZstdCompression}); err != nil {
		t.Fatal(err)
	}
	for level := 0; level < 6; level++ {
		if n := mustProp(db, fmt.Sprintf("strata.num-files-at-level%d", level)); n != "0" {
			t.Fatalf("level %d holds %s tables after compacting into level 6:\n%s", level, n, mustProp(db, "strata.sstables"))
		}
	}
	if n := mustProp(db, "strata.num-files-at-level6"); n == "0" || n == "1" {
		t.Fatalf("level 6 holds %s tables", n)
	}
	count := 0
	it := db.NewIterator(nil)
	var prev []byte
	for ok := it.First(); ok; ok = it.Next() {
		if prev != nil && bytes.Compare(prev, it.Key()) >= 0 {
			t.Fatalf("order: %q then %q", prev, it.Key())
		}
		if !bytes.Equal(it.Value(), bytes.Repeat(it.Key(), 4)) {
			t.Fatalf("value of %q", it.Key())
		}
		prev = append(prev[:0], it.Key()...)
		count++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if count < loaders*perLoader*9/10 { // random keys may repeat within a loader
		t.Fatalf("only %d keys after the bulk load", count)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened with ordinary options, the data is all there.
	db = mustOpen(t, dir, nil)
	defer db.Close()
	n := 0
	it = db.NewIterator(nil)
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	it.Close()
	if n != count {
		t.Fatalf("after reopen %d keys, want %d", n, count)
	}
}

// TestCompactRangeWithLevels: compacting newer data into a level above
// older data keeps reads correct, drops tombstones only when nothing deeper
// holds the key, and respects snapshots.
func TestCompactRangeWithLevels(t *testing.T) {
	db := mustOpen(t, t.TempDir(), &Options{WriteBufferSize: 32 << 10})
	defer db.Close()
	put := func(k, v string) {
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2000; i++ {
		put(fmt.Sprintf("k%05d", i), "old")
	}
	if err := db.CompactRangeWith(nil, nil, CompactOptions{TargetLevel: 6}); err != nil {
		t.Fatal(err)
	}
	snap := db.NewSnapshot()
	defer snap.Close()
	for i := 0; i < 2000; i += 2 {
		put(fmt.Sprintf("k%05d", i), "new")
	}
	for i := 1; i < 2000; i += 4 {
		if err := db.Delete([]byte(fmt.Sprintf("k%05d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CompactRangeWith([]byte("k00500"), []byte("k01500"), CompactOptions{TargetLevel: 3, Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("k%05d", i)
		v, err := db.Get([]byte(k))
		switch {
		case i%2 == 0:
			if err != nil || string(v) != "new" {
				t.Fatalf("%s: %q %v, want new", k, v, err)
			}
		case i%4 == 1:
			if err != ErrNotFound {
				t.Fatalf("%s: %q %v, want deleted", k, v, err)
			}
		default:
			if err != nil || string(v) != "old" {
				t.Fatalf("%s: %q %v, want old", k, v, err)
			}
		}
		if v, err := snap.Get([]byte(k)); err != nil || string(v) != "old" {
			t.Fatalf("snapshot %s: %q %v, want old", k, v, err)
		}
	}
}

// TestSplitKeysSkewed: split points follow bytes, not the key alphabet: on
// heavily skewed keys the parts are within 2x of each other.
func TestSplitKeysSkewed(t *testing.T) {
	db := mustOpen(t, t.TempDir(), &Options{WriteBufferSize: 256 << 10, Compression: NoCompression})
	defer db.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	b := db.NewBatch()
	for i := 0; i < 40000; i++ {
		var k []byte
		if i%10 != 0 {
			k = fmt.Appendf(nil, "a/%010d", rng.IntN(1<<30)) // 90% of the keys share a prefix
		} else {
			k = []byte{byte('b' + rng.IntN(20)), byte(rng.IntN(256)), byte(rng.IntN(256))}
		}
		b.Put(k, make([]byte, 50+rng.IntN(100)))
		if b.Len() == 1000 {
			db.Write(b, nil)
			b.Reset()
		}
	}
	db.Write(b, nil)
	if err := db.CompactRange(nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 4, 8} {
		splits, err := db.SplitKeys(nil, nil, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(splits) != n-1 {
			t.Fatalf("n=%d: %d split keys", n, len(splits))
		}
		bounds := append(append([][]byte{nil}, splits...), nil)
		var ranges []Range
		for i := 0; i+1 < len(bounds); i++ {
			ranges = append(ranges, Range{Start: bounds[i], Limit: bounds[i+1]})
		}
		ranges[0].Start = []byte{}
		sizes, err := db.ApproximateSizes(ranges)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := sizes[0], sizes[0]
		for _, s := range sizes {
			lo, hi = min(lo, s), max(hi, s)
		}
		if hi > 2*lo {
			t.Fatalf("n=%d: part sizes %v differ by more than 2x (splits %q)", n, sizes, splits)
		}
	}
	// Bounds are honoured.
	splits, _ := db.SplitKeys([]byte("a/"), []byte("a0"), 4)
	for _, s := range splits {
		if bytes.Compare(s, []byte("a/")) <= 0 || bytes.Compare(s, []byte("a0")) >= 0 {
			t.Fatalf("split %q outside [a/, a0)", s)
		}
	}
	if len(splits) != 3 {
		t.Fatalf("bounded split: %q", splits)
	}
}
