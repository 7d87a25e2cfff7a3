package sstable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
)

// reverseComparer orders user keys in reverse bytewise order; appending a
// itself is always a valid separator and successor.
var reverseComparer = &base.Comparer{
	Name:      "test.Reverse",
	Compare:   func(a, b []byte) int { return bytes.Compare(b, a) },
	Separator: func(dst, a, b []byte) []byte { return append(dst, a...) },
	Successor: func(dst, a []byte) []byte { return append(dst, a...) },
}

// randomEntries returns n entries sorted in internal order for cmp: user keys
// from a small alphabet (so prefixes are shared), several versions of some.
// alphabetKey returns a random key of fewer than maxLen bytes drawn from
// alphabet: small alphabets make keys that are prefixes of one another.
func alphabetKey(rng *rand.Rand, alphabet string, maxLen int) []byte {
	k := make([]byte, rng.IntN(maxLen))
	for i := range k {
		k[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return k
}

func randomEntries(rng *rand.Rand, n int, cmp *base.Comparer, maxVal int) []kv {
	var out []kv
	seen := map[string]bool{}
	for len(out) < n {
		ukey := alphabetKey(rng, "abc\x00\xff", 12)
		versions := 1 + rng.IntN(3)
		for range versions {
			seq := rng.Uint64N(base.MaxSeq + 1)
			kind := base.KindSet
			if rng.IntN(5) == 0 {
				kind = base.KindDelete
			}
			k := base.AppendInternalKey(nil, ukey, seq, kind)
			if seen[string(k)] {
				continue
			}
			seen[string(k)] = true
			v := make([]byte, rng.IntN(maxVal+1))
			if rng.IntN(2) == 0 {
				for i := range v {
					v[i] = byte(rng.Uint32())
				}
			} else {
				for i := range v {
					v[i] = "xyz"[i%3]
				}
			}
			out = append(out, kv{k, v})
		}
	}
	slices.SortFunc(out, func(a, b kv) int { return base.InternalCompare(cmp.Compare, a.k, b.k) })
	return out
}

// model answers iterator and Get questions over a sorted slice.
type model struct {
	cmp     *base.Comparer
	entries []kv
}

func (m *model) seekGE(k []byte) int {
	i, _ := slices.BinarySearchFunc(m.entries, k, func(e kv, t []byte) int {
		return base.InternalCompare(m.cmp.Compare, e.k, t)
	})
	return i
}

func (m *model) get(k []byte) (kv, bool) {
	i := m.seekGE(k)
	if i < len(m.entries) && m.cmp.Compare(base.UserKey(m.entries[i].k), base.UserKey(k)) == 0 {
		return m.entries[i], true
	}
	return kv{}, false
}

type roundTripConfig struct {
	n           int
	maxVal      int
	opts        WriterOptions
	cacheSize   int64
	mmap        bool
	verify      bool
	reverseCmp  bool
	description string
}

func randomConfig(rng *rand.Rand) roundTripConfig {
	c := roundTripConfig{
		n:      []int{0, 1, 2, 10, 100, 1000, 3000}[rng.IntN(7)],
		maxVal: []int{0, 10, 100, 1000, 5000}[rng.IntN(5)],
		opts: WriterOptions{
			BlockSize:            []int{64, 100, 256, 1024, 4096, 65536}[rng.IntN(6)],
			BlockRestartInterval: 1 + rng.IntN(32),
			Compression:          []Compression{NoCompression, SnappyCompression, ZstdCompression}[rng.IntN(3)],
			BloomBitsPerKey:      []int{0, 0, 1, 10, 20}[rng.IntN(5)],
		},
		cacheSize:  []int64{0, 4096, 1 << 20}[rng.IntN(3)],
		mmap:       rng.IntN(2) == 0,
		verify:     rng.IntN(2) == 0,
		reverseCmp: rng.IntN(4) == 0,
	}
	if c.reverseCmp {
		c.opts.Comparer = reverseComparer
	}
	c.description = fmt.Sprintf("%+v", c)
	return c
}

func TestRandomRoundTrip(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	iters := 60
	if testing.Short() || raceEnabled {
		iters = 15
	}
	for i := range iters {
		cfg := randomConfig(rng)
		caseSeed := rng.Uint64()
		if !runRoundTrip(t, cfg, caseSeed) {
			t.Fatalf("failed: seed %d, case %d (case seed %d), config %s", seed, i, caseSeed, cfg.description)
		}
	}
}

// runRoundTrip writes a random table, reads it back in every way and
// compares with the model. It reports false after logging the first
// mismatch.
func runRoundTrip(t *testing.T, cfg roundTripConfig, seed uint64) bool {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	cmp := base.DefaultComparer
	if cfg.reverseCmp {
		cmp = reverseComparer
	}
	m := &model{cmp: cmp, entries: randomEntries(rng, cfg.n, cmp, cfg.maxVal)}
	if cfg.n == 0 {
		m.entries = nil
	}
	data := writeTable(t, m.entries, cfg.opts)
	o := ReaderOptions{Comparer: cmp, FileName: "rt.ldb", VerifyChecksums: cfg.verify}
	if cfg.cacheSize > 0 {
		o.Cache = cache.New(cfg.cacheSize)
	}
	if cfg.mmap {
		o.Mmap = data
	}
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		t.Logf("NewReader: %v", err)
		return false
	}
	defer r.Close()
	if err := r.Check(); err != nil {
		t.Logf("Check: %v", err)
		return false
	}
	l, err := r.Layout()
	if err != nil || l.NumEntries != uint64(len(m.entries)) || l.HasFilter != (cfg.opts.BloomBitsPerKey > 0) {
		t.Logf("Layout: %v %v", l, err)
		return false
	}

	// Full scans in both directions.
	got := readAll(t, r)
	if len(got) != len(m.entries) {
		t.Logf("scan: %d entries, want %d", len(got), len(m.entries))
		return false
	}
	for i := range got {
		if !bytes.Equal(got[i].k, m.entries[i].k) || !bytes.Equal(got[i].v, m.entries[i].v) {
			t.Logf("scan: entry %d differs", i)
			return false
		}
	}
	it := r.NewIter()
	defer it.Close()
	j := len(m.entries) - 1
	for ok := it.Last(); ok; ok = it.Prev() {
		if j < 0 || !bytes.Equal(it.Key(), m.entries[j].k) || !bytes.Equal(it.Value(), m.entries[j].v) {
			t.Logf("reverse scan: entry %d differs", j)
			return false
		}
		j--
	}
	if j != -1 || it.Error() != nil {
		t.Logf("reverse scan stopped at %d: %v", j, it.Error())
		return false
	}

	// Random positioning, checked step by step against the model.
	randomKey := func() []byte {
		if len(m.entries) > 0 && rng.IntN(3) > 0 {
			e := m.entries[rng.IntN(len(m.entries))].k
			switch rng.IntN(3) {
			case 0:
				return e
			case 1:
				return base.MakeSearchKey(nil, base.UserKey(e), rng.Uint64N(base.MaxSeq+1))
			}
			ukey := append([]byte(nil), base.UserKey(e)...)
			if len(ukey) > 0 {
				ukey[len(ukey)-1]++
			}
			return base.MakeSearchKey(nil, ukey, base.MaxSeq)
		}
		ukey := make([]byte, rng.IntN(6))
		for i := range ukey {
			ukey[i] = "abc\x00\xff"[rng.IntN(5)]
		}
		return base.MakeSearchKey(nil, ukey, rng.Uint64N(base.MaxSeq+1))
	}
	// Half the time, bound the iterator to a random user-key range
	// [lower, upper): the model is then the entries in [lo, hi).
	lo, hi := 0, len(m.entries)
	if rng.IntN(2) == 0 {
		var lower, upper []byte
		if rng.IntN(3) > 0 {
			lower = append([]byte{}, base.UserKey(randomKey())...)
			lo = m.seekGE(base.MakeSearchKey(nil, lower, base.MaxSeq))
		}
		if rng.IntN(3) > 0 {
			upper = append([]byte{}, base.UserKey(randomKey())...)
			hi = m.seekGE(base.MakeSearchKey(nil, upper, base.MaxSeq))
		}
		it.SetBounds(lower, upper)
		if hi < lo {
			hi = lo
		}
	}
	pos := -1 // model position; outside [lo, hi) means invalid
	check := func(op string, ok bool) bool {
		valid := pos >= lo && pos < hi
		if ok != valid || it.Valid() != valid {
			t.Logf("%s: valid=%v (Valid()=%v), model says %v (pos %d in [%d, %d) of %d), err %v", op, ok, it.Valid(), valid, pos, lo, hi, len(m.entries), it.Error())
			return false
		}
		if valid && (!bytes.Equal(it.Key(), m.entries[pos].k) || !bytes.Equal(it.Value(), m.entries[pos].v)) {
			t.Logf("%s: at %s, model at %s", op, base.FormatInternalKey(it.Key()), base.FormatInternalKey(m.entries[pos].k))
			return false
		}
		if it.Error() != nil {
			t.Logf("%s: error %v", op, it.Error())
			return false
		}
		return true
	}
	var lastSeek []byte
	for range 400 {
		var ok bool
		var op string
		valid := pos >= lo && pos < hi
		switch r := rng.IntN(10); {
		case r == 0:
			op, ok, pos = "First", it.First(), lo
		case r == 1:
			op, ok, pos = "Last", it.Last(), hi-1
		case r < 4:
			k := randomKey()
			if lastSeek != nil && rng.IntN(2) == 0 {
				k = lastSeek // the same key again: from the iterator's seek memo
			}
			lastSeek = k
			op, ok, pos = fmt.Sprintf("SeekGE(%s)", base.FormatInternalKey(k)), it.SeekGE(k), max(m.seekGE(k), lo)
		case r < 6:
			k := randomKey()
			op, ok, pos = fmt.Sprintf("SeekLT(%s)", base.FormatInternalKey(k)), it.SeekLT(k), min(m.seekGE(k), hi)-1
		case r < 8 && valid:
			op, ok = "Next", it.Next()
			pos++
		case valid:
			op, ok = "Prev", it.Prev()
			pos--
		default:
			continue
		}
		if !check(op, ok) {
			return false
		}
	}

	// Get, including keys absent from the table.
	var dst []byte
	for range 300 {
		k := randomKey()
		want, found := m.get(k)
		gk, gv, err := r.Get(k)
		var v *cache.Value
		dst, _, v, _ = r.GetInto(dst, k)
		v.Release()
		if err != nil || (gk != nil) != found || (found && (!bytes.Equal(gk, want.k) || !bytes.Equal(gv, want.v) || !bytes.Equal(dst, want.k))) {
			t.Logf("Get(%s) = %s, %v; model %s, %v", base.FormatInternalKey(k), base.FormatInternalKey(gk), err, base.FormatInternalKey(want.k), found)
			return false
		}
	}

	// ApproximateOffset is monotonic and within the file.
	var prev uint64
	for i := 0; i < len(m.entries); i += 1 + len(m.entries)/50 {
		off := r.ApproximateOffset(m.entries[i].k)
		if off < prev || off > uint64(len(data)) {
			t.Logf("ApproximateOffset not monotonic: %d after %d", off, prev)
			return false
		}
		prev = off
	}
	if len(m.entries) > 0 {
		// Past the last index key (the successor of the last key).
		lastIndexKey := l.DataBlocks[len(l.DataBlocks)-1].IndexKey
		past := base.MakeSearchKey(nil, append(base.UserKey(lastIndexKey), 0), 0)
		if cmp == base.DefaultComparer && r.ApproximateOffset(past) != r.footer.metaindex.Offset {
			t.Logf("ApproximateOffset past the end = %d, want metaindex offset %d", r.ApproximateOffset(past), r.footer.metaindex.Offset)
			return false
		}
	}
	return true
}

// TestRoundTripGrid runs the round trip over the full grid of block sizes,
// codecs and filter settings with a fixed seed.
func TestRoundTripGrid(t *testing.T) {
	seed := uint64(1)
	n := 500
	if raceEnabled {
		n = 100
	}
	for _, bs := range []int{64, 512, 4096, 65536} {
		for _, c := range []Compression{NoCompression, SnappyCompression, ZstdCompression} {
			for _, bloom := range []int{0, 10} {
				for _, ri := range []int{1, 16, 32} {
					cfg := roundTripConfig{n: n, maxVal: 300, opts: WriterOptions{
						BlockSize: bs, BlockRestartInterval: ri, Compression: c, BloomBitsPerKey: bloom,
					}, cacheSize: 1 << 20, verify: true}
					cfg.description = fmt.Sprintf("%+v", cfg)
					seed++
					if !runRoundTrip(t, cfg, seed) {
						t.Fatalf("failed: seed %d config %s", seed, cfg.description)
					}
				}
			}
		}
	}
}

// TestConcurrentReaders shares one Reader and one small cache between
// goroutines doing Gets and scans (run with -race).
func TestConcurrentReaders(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	entries := randomEntries(rng, 2000, base.DefaultComparer, 200)
	data := writeTable(t, entries, WriterOptions{BlockSize: 512, Compression: SnappyCompression, BloomBitsPerKey: 10})
	c := cache.New(32 << 10) // small: blocks are evicted while in use
	r := openBytes(t, data, ReaderOptions{Cache: c, VerifyChecksums: true})
	defer r.Close()
	m := &model{cmp: base.DefaultComparer, entries: entries}
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for i := range 300 {
				e := entries[rng.IntN(len(entries))]
				if g%2 == 0 {
					k, v, err := r.Get(e.k)
					if want, _ := m.get(e.k); err != nil || !bytes.Equal(k, want.k) || !bytes.Equal(v, want.v) {
						done <- fmt.Errorf("goroutine %d op %d: Get(%s) = %s, %v", g, i, base.FormatInternalKey(e.k), base.FormatInternalKey(k), err)
						return
					}
					continue
				}
				it := r.NewIter()
				j := m.seekGE(e.k)
				for ok := it.SeekGE(e.k); ok && j < len(entries) && j < m.seekGE(e.k)+20; ok = it.Next() {
					if !bytes.Equal(it.Key(), entries[j].k) || !bytes.Equal(it.Value(), entries[j].v) {
						done <- fmt.Errorf("goroutine %d op %d: scan mismatch at %d", g, i, j)
						return
					}
					j++
				}
				if err := it.Close(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if hits, misses, _, _, _ := c.Stats(); hits == 0 || misses == 0 {
		t.Fatalf("cache hits %d misses %d: expected both", hits, misses)
	}
}

// TestLargeBlocksBypassMapping checks which point reads of a mapped table
// use the mapping: blocks up to mappedBlockMax do, larger ones are read
// from the file (see mappedBlockMax). The mapping handed to the Reader is
// a copy of the table in which every data block is damaged, so a read that
// uses it fails its checksum, while one that reads the file succeeds; with
// and without a block cache.
func TestLargeBlocksBypassMapping(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var entries []kv
	for i := range 140 {
		n := 100
		if i >= 100 {
			n = 20 << 10 // one entry per block, stored as more than 8 KiB
		}
		v := make([]byte, n)
		for j := range v {
			v[j] = byte(rng.Uint32()) // incompressible
		}
		entries = append(entries, kv{base.AppendInternalKey(nil, fmt.Appendf(nil, "k%03d", i), 1, base.KindSet), v})
	}
	data := writeTable(t, entries, WriterOptions{Compression: SnappyCompression})
	clean := openBytes(t, data, ReaderOptions{})
	layout, err := clean.Layout()
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(data)
	small, large := 0, 0
	for _, b := range layout.DataBlocks {
		damaged[b.Handle.Offset] ^= 0xff
		if b.Handle.Size > mappedBlockMax {
			large++
		} else {
			small++
		}
	}
	if small < 2 || large < 20 {
		t.Fatalf("%d small and %d large blocks, want at least 2 and 20", small, large)
	}
	// blockOf returns the data block holding the i-th entry.
	blockOf := func(i int) BlockInfo {
		for _, b := range layout.DataBlocks {
			if bytes.Compare(entries[i].k, b.LastKey) <= 0 {
				return b
			}
		}
		t.Fatalf("no block holds entry %d", i)
		return BlockInfo{}
	}
	for _, withCache := range []bool{true, false} {
		o := ReaderOptions{Mmap: damaged, VerifyChecksums: true}
		if withCache {
			o.Cache = cache.New(1 << 20)
		}
		r := openBytes(t, data, o)
		for i, e := range entries {
			_, v, err := r.Get(base.MakeSearchKey(nil, e.k[:len(e.k)-base.TrailerLen], 1))
			if h := blockOf(i).Handle; h.Size <= mappedBlockMax {
				if err == nil {
					t.Fatalf("cache %v: entry %d in block %s was not read from the (damaged) mapping", withCache, i, h)
				}
			} else if err != nil || !bytes.Equal(v, e.v) {
				t.Fatalf("cache %v: entry %d in block %s: %v (want it read from the file)", withCache, i, h, err)
			}
		}
	}
}

// TestIterSeekMemo: a pooled iterator remembers where its last SeekGE
// landed (Iter.memo); the memo must serve only a SeekGE of the same key on
// the same reader. Iterators over two tables of different contents are
// opened, sought and closed by turns (so the pool hands the same Iter to
// both), with the same keys, and checked against each table's model; each
// landing is followed by Next and Prev.
func TestIterSeekMemo(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	var readers []*Reader
	var models []*model
	for i := range 2 {
		m := &model{cmp: base.DefaultComparer, entries: randomEntries(rng, 300+200*i, base.DefaultComparer, 20)}
		data := writeTable(t, m.entries, WriterOptions{BlockSize: 256, BlockRestartInterval: 1 + 8*i})
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{FileName: fmt.Sprint(i), Cache: cache.New(1 << 20)})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		readers, models = append(readers, r), append(models, m)
	}
	var keys [][]byte
	for _, m := range models {
		for range 20 {
			e := m.entries[rng.IntN(len(m.entries))].k
			keys = append(keys, base.MakeSearchKey(nil, base.UserKey(e), base.MaxSeq))
		}
	}
	for round := range 400 {
		i := round % 2
		r, m := readers[i], models[i]
		k := keys[rng.IntN(len(keys))]
		for range 1 + rng.IntN(2) { // the second seek of the same key hits the memo
			it := r.NewIter()
			want := m.seekGE(k)
			ok := it.SeekGE(k)
			if ok != (want < len(m.entries)) || ok && !bytes.Equal(it.Key(), m.entries[want].k) {
				t.Fatalf("round %d: table %d: SeekGE(%s) = %v %s, want entry %d", round, i, base.FormatInternalKey(k), ok, base.FormatInternalKey(it.Key()), want)
			}
			if ok && !bytes.Equal(it.Value(), m.entries[want].v) {
				t.Fatalf("round %d: table %d: SeekGE(%s): wrong value", round, i, base.FormatInternalKey(k))
			}
			if ok && rng.IntN(2) == 0 {
				if it.Next() != (want+1 < len(m.entries)) || want+1 < len(m.entries) && !bytes.Equal(it.Key(), m.entries[want+1].k) {
					t.Fatalf("round %d: table %d: Next after SeekGE(%s) at %s", round, i, base.FormatInternalKey(k), base.FormatInternalKey(it.Key()))
				}
			} else if ok {
				if it.Prev() != (want > 0) || want > 0 && !bytes.Equal(it.Key(), m.entries[want-1].k) {
					t.Fatalf("round %d: table %d: Prev after SeekGE(%s) at %s", round, i, base.FormatInternalKey(k), base.FormatInternalKey(it.Key()))
				}
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
