package sstable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// TestMetaOffHeap: a Reader whose index, flat index and filter were moved
// out of the Go heap (moveMetaOffHeap) answers every point read, seek and
// scan as one that kept them in the heap, with the table read by ReadAt or
// mapped, its index keys stored whole or prefix-compressed, with and
// without a filter; Close gives the memory back.
func TestMetaOffHeap(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	seen := map[string]bool{}
	var entries []kv
	for len(entries) < 20000 {
		uk := fmt.Appendf(nil, "key%012d", rng.Uint64N(1<<40))
		if seen[string(uk)] {
			continue
		}
		seen[string(uk)] = true
		entries = append(entries, kv{base.AppendInternalKey(nil, uk, rng.Uint64N(1<<40), base.KindSet), fmt.Appendf(nil, "value-%d", len(entries))})
	}
	slices.SortFunc(entries, func(a, b kv) int { return base.InternalCompare(bytes.Compare, a.k, b.k) })
	offHeapSupported := runtime.GOOS == "linux" && !raceEnabled

	for _, c := range []struct {
		name         string
		o            WriterOptions
		indexRestart int
	}{
		{"snappy-bloom", WriterOptions{Compression: SnappyCompression, BloomBitsPerKey: 10}, 1},
		{"none-bloom", WriterOptions{Compression: NoCompression, BloomBitsPerKey: 10}, 1},
		{"snappy-nofilter-prefixed-index", WriterOptions{Compression: SnappyCompression}, 16},
	} {
		var buf bytes.Buffer
		w := NewWriter(&buf, c.o)
		w.index.restartInterval = c.indexRestart
		for _, e := range entries {
			if err := w.Add(e.k, e.v); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		for _, mode := range []string{"readat", "mmap"} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				open := func(min int) *Reader {
					t.Helper()
					defer func(old int) { minOffHeapMeta = old }(minOffHeapMeta)
					minOffHeapMeta = min
					o := ReaderOptions{FileName: "m.ldb", VerifyChecksums: true}
					if mode == "mmap" {
						o.Mmap = data
					}
					return openBytes(t, data, o)
				}
				heap, off := open(1<<62), open(1)
				defer heap.Close()
				if heap.meta != nil {
					t.Fatal("metadata moved with minOffHeapMeta at its maximum")
				}
				if offHeapSupported && off.meta == nil {
					t.Fatal("metadata not moved out of the heap")
				}
				if c.indexRestart > 1 && off.idxRestarts {
					t.Fatal("the index is not prefix-compressed: the key copies are not exercised")
				}
				if !slices.Equal(off.idxPos, heap.idxPos) || !slices.Equal(off.idxOffs, heap.idxOffs) || !slices.Equal(off.idxHandles, heap.idxHandles) || !slices.Equal(off.idxPrefix, heap.idxPrefix) ||
					!bytes.Equal(off.idxCommon, heap.idxCommon) || !bytes.Equal(off.index, heap.index) ||
					!bytes.Equal(off.filter.data, heap.filter.data) || !bytes.Equal(off.idxBuf, heap.idxBuf) {
					t.Fatal("moved metadata differs")
				}
				for i := range heap.idxLen() {
					if !bytes.Equal(off.idxKey(i), heap.idxKey(i)) || off.idxHandle(i) != heap.idxHandle(i) {
						t.Fatalf("index entry %d: %q %v, want %q %v", i, off.idxKey(i), off.idxHandle(i), heap.idxKey(i), heap.idxHandle(i))
					}
				}
				if got, want := readAll(t, off), readAll(t, heap); len(got) != len(want) || len(got) != len(entries) {
					t.Fatalf("scan: %d entries off the heap, %d in it, want %d", len(got), len(want), len(entries))
				}
				for i := 0; i < 3000; i++ {
					e := entries[rng.IntN(len(entries))]
					search := e.k
					if i%2 == 1 { // a key that is absent, or between two
						search = base.AppendInternalKey(nil, fmt.Appendf(nil, "key%012d", rng.Uint64N(1<<40)), base.MaxSeq, base.KindSet)
					}
					gk, gv, gerr := off.Get(search)
					wk, wv, werr := heap.Get(search)
					if !bytes.Equal(gk, wk) || !bytes.Equal(gv, wv) || (gerr == nil) != (werr == nil) {
						t.Fatalf("Get(%q): %q=%q (%v) off the heap, %q=%q (%v) in it", search, gk, gv, gerr, wk, wv, werr)
					}
					a, b := off.NewIter(), heap.NewIter()
					okA, okB := a.SeekGE(search), b.SeekGE(search)
					for j := 0; j < 3 && okA && okB; j++ {
						if !bytes.Equal(a.Key(), b.Key()) {
							t.Fatalf("SeekGE(%q) +%d: %q off the heap, %q in it", search, j, a.Key(), b.Key())
						}
						okA, okB = a.Next(), b.Next()
					}
					if okA != okB {
						t.Fatalf("SeekGE(%q): valid %v off the heap, %v in it", search, okA, okB)
					}
					a.Close()
					b.Close()
				}
				if err := off.Check(); err != nil {
					t.Fatal(err)
				}
				if err := off.Close(); err != nil {
					t.Fatal(err)
				}
				if off.meta != nil || off.idxPos != nil || off.idxBuf != nil || off.index != nil {
					t.Fatal("Close kept the metadata")
				}
			})
		}
	}
}

// TestPaddedDataBlocks: a table whose data blocks do not lie end to end
// (RocksDB's block_align pads them; here 3 bytes after each) keeps its
// handles whole (idxHandles), reads as the table without padding and
// passes Check; an index whose second entry points into the first block
// fails Check as overlapping.
func TestPaddedDataBlocks(t *testing.T) {
	var entries []kv
	for i := range 5000 {
		entries = append(entries, kv{base.AppendInternalKey(nil, fmt.Appendf(nil, "key%08d", i), 1, base.KindSet), fmt.Appendf(nil, "value-%d", i)})
	}
	data := writeTable(t, entries, WriterOptions{Compression: SnappyCompression})
	plain := openBytes(t, data, ReaderOptions{FileName: "plain.ldb"})
	defer plain.Close()
	if plain.idxOffs == nil || plain.idxHandles != nil {
		t.Fatal("a table written end to end has no block offsets array")
	}

	// Rewrite it: each data block and its trailer followed by 3 bytes of
	// padding, an empty metaindex, an index with the new handles (with
	// overlap, the second entry pointing at the first block).
	rewrite := func(overlap bool) []byte {
		var out []byte
		iw := blockWriter{restartInterval: 1}
		iw.reset()
		var first BlockHandle
		for i := range plain.idxLen() {
			h := plain.idxHandle(i)
			nh := BlockHandle{uint64(len(out)), h.Size}
			out = append(out, data[h.Offset:h.Offset+h.Size+blockTrailerLen]...)
			out = append(out, 0, 0, 0)
			if i == 0 {
				first = nh
			} else if i == 1 && overlap {
				nh = first
			}
			iw.add(plain.idxKey(i), appendBlockHandle(nil, nh))
		}
		mw := blockWriter{restartInterval: 1}
		mw.reset()
		var f footer
		contents := mw.finish()
		f.metaindex = BlockHandle{uint64(len(out)), uint64(len(contents))}
		out = appendBlockTrailer(append(out, contents...), contents, NoCompression)
		contents = iw.finish()
		f.index = BlockHandle{uint64(len(out)), uint64(len(contents))}
		out = appendBlockTrailer(append(out, contents...), contents, NoCompression)
		return f.encode(out)
	}
	out := rewrite(false)
	bad := openBytes(t, rewrite(true), ReaderOptions{FileName: "overlap.ldb"})
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "data block 1 at offset 0 overlaps") {
		t.Fatalf("Check of overlapping blocks: %v", err)
	}
	bad.Close()

	for _, mode := range []string{"readat", "mmap"} {
		o := ReaderOptions{FileName: "padded.ldb", VerifyChecksums: true}
		if mode == "mmap" {
			o.Mmap = out
		}
		r := openBytes(t, out, o)
		if r.idxOffs != nil || len(r.idxHandles) != plain.idxLen() {
			t.Fatalf("%s: padded blocks: offsets array %v, %d handles", mode, r.idxOffs != nil, len(r.idxHandles))
		}
		if got := readAll(t, r); len(got) != len(entries) {
			t.Fatalf("%s: %d entries, want %d", mode, len(got), len(entries))
		}
		if err := r.Check(); err != nil {
			t.Fatalf("%s: Check of padded blocks: %v", mode, err)
		}
		for i, e := range entries {
			if i%7 != 0 {
				continue
			}
			k, v, err := r.Get(e.k)
			if err != nil || !bytes.Equal(k, e.k) || !bytes.Equal(v, e.v) {
				t.Fatalf("%s: Get(%q) = %q, %q, %v", mode, e.k, k, v, err)
			}
		}
		r.Close()
	}
}
