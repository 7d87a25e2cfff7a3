package sstable

import (
	"bytes"
	"errors"
	"slices"
	"sort"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
)

// The fuzz targets check two things on every input: the input itself,
// decoded as a block or a table, damaged or not; and a valid block or table
// built from the input's bytes (fuzzEntries), which must read back exactly.
// Wherever the contents are well formed, every positioning call must land
// where a sorted model of the entries says (checkSeeks).

// fuzzEntries turns arbitrary bytes into sorted entries: per entry a byte
// of user-key length (mod 12), the key, a byte of sequence number (odd:
// a deletion), a byte of value length (mod 24) and the value, each cut
// short where the bytes end; sorted in internal order, duplicates dropped.
func fuzzEntries(data []byte) []kv {
	take := func(n int) []byte {
		n = min(n, len(data))
		b := bytes.Clone(data[:n])
		data = data[n:]
		return b
	}
	var ents []kv
	for len(data) >= 3 {
		ukey := take(int(data[0]) % 12)
		seq := take(1)
		vlen := take(1)
		if len(seq) == 0 || len(vlen) == 0 {
			break
		}
		kind := base.KindSet
		if seq[0]&1 == 1 {
			kind = base.KindDelete
		}
		ents = append(ents, kv{base.AppendInternalKey(nil, ukey, uint64(seq[0]), kind), take(int(vlen[0]) % 24)})
	}
	slices.SortFunc(ents, func(a, b kv) int { return base.InternalCompareBytewise(a.k, b.k) })
	return slices.CompactFunc(ents, func(a, b kv) bool { return bytes.Equal(a.k, b.k) })
}

// seekable is what checkSeeks drives: a block or a table iterator.
type seekable interface {
	First() bool
	Last() bool
	Next() bool
	Prev() bool
	SeekGE(key []byte) bool
	SeekLT(key []byte) bool
	Key() []byte
	Value() []byte
	Error() error
	// unposition makes the iterator as new.
	unposition()
}

type blockSeeker struct{ *blockIter }

func (b blockSeeker) Key() []byte   { return b.key }
func (b blockSeeker) Value() []byte { return b.val }
func (b blockSeeker) Error() error  { return b.err }
func (b blockSeeker) unposition()   { b.valid, b.err = false, nil }

type tableSeeker struct {
	r *Reader
	*Iter
}

func (s *tableSeeker) unposition() {
	s.Iter.Close()
	s.Iter = s.r.NewIter()
}

// seekTargets returns search keys for ents: for every key (or, with most
// > 0, for at most max keys spread over ents) the key itself and its user
// key's largest and smallest internal keys; and extra, padded to an
// internal key (the model orders internal keys only).
func seekTargets(ents []kv, most int, extra []byte) [][]byte {
	if len(extra) < base.TrailerLen {
		extra = append(bytes.Clone(extra), make([]byte, base.TrailerLen-len(extra))...)
	}
	targets := [][]byte{extra}
	step := 1
	if most > 0 {
		step = max(1, len(ents)/most)
	}
	for i := 0; i < len(ents); i += step {
		e := ents[i]
		ukey := base.UserKey(e.k)
		targets = append(targets, e.k, base.MakeSearchKey(nil, ukey, base.MaxSeq),
			base.AppendInternalKey(nil, ukey, 0, 0))
	}
	return targets
}

// checkSeeks checks every positioning call against ents, the entries in
// order: First, Last, and for each target SeekGE and SeekLT from a new
// iterator and from positions at the first, last and middle entry (the
// block iterator narrows its search with the current position), each
// followed by a step.
func checkSeeks(t *testing.T, it seekable, ents []kv, targets [][]byte) {
	t.Helper()
	n := len(ents)
	at := func(what string, target []byte, ok bool, want int) {
		if err := it.Error(); err != nil {
			t.Fatalf("%s %q: error on well-formed contents: %v", what, target, err)
		}
		if want < 0 || want >= n {
			if ok {
				t.Fatalf("%s %q: at %s, want no entry (of %d)", what, target, base.FormatInternalKey(it.Key()), n)
			}
			return
		}
		if !ok || !bytes.Equal(it.Key(), ents[want].k) || !bytes.Equal(it.Value(), ents[want].v) {
			t.Fatalf("%s %q: at %s=%q (valid %v), want entry %d of %d, %s=%q", what, target,
				base.FormatInternalKey(it.Key()), it.Value(), ok, want, n, base.FormatInternalKey(ents[want].k), ents[want].v)
		}
	}
	start := func(from int) {
		it.unposition()
		switch from {
		case 1:
			at("First", nil, it.First(), 0)
		case 2:
			at("Last", nil, it.Last(), n-1)
		case 3:
			if n > 0 {
				at("SeekGE", ents[n/2].k, it.SeekGE(ents[n/2].k), n/2)
			}
		}
	}
	for _, target := range targets {
		ge := sort.Search(n, func(i int) bool { return base.InternalCompareBytewise(ents[i].k, target) >= 0 })
		for from := range 4 {
			start(from)
			at("SeekGE", target, it.SeekGE(target), ge)
			if ge < n {
				at("Next after SeekGE", target, it.Next(), ge+1)
			}
			start(from)
			at("SeekLT", target, it.SeekLT(target), ge-1)
			if ge > 0 {
				at("Prev after SeekLT", target, it.Prev(), ge-2)
			}
		}
	}
}

// scanBlock reads every entry of a block forward (at most limit), the
// offsets they start at, and the first error.
func scanBlock(it *blockIter, limit int) (ents []kv, offsets []int, err error) {
	for ok := it.First(); ok && len(ents) < limit; ok = it.Next() {
		ents = append(ents, kv{bytes.Clone(it.key), bytes.Clone(it.val)})
		offsets = append(offsets, it.offset)
	}
	return ents, offsets, it.err
}

// wellFormedBlock reports whether a block read without error has what
// binary search needs: valid internal keys in strictly increasing order,
// restart points on entries (offsets) with whole keys, the first at 0.
func wellFormedBlock(it *blockIter, ents []kv, offsets []int) bool {
	for i, e := range ents {
		if !base.ValidInternalKey(e.k) || i > 0 && base.InternalCompareBytewise(ents[i-1].k, e.k) >= 0 {
			return false
		}
	}
	if len(ents) == 0 || checkRestarts(it) != nil {
		return false
	}
	for i := range it.numRestarts {
		if _, ok := slices.BinarySearch(offsets, it.restartPoint(i)); !ok {
			return false
		}
	}
	return true
}

// FuzzBlockIter checks the block iterator:
//   - on arbitrary bytes it never panics, every error is a corruption
//     error, and without errors the forward and backward scans agree; where
//     the block is well formed (wellFormedBlock), every seek lands where
//     the sorted entries say;
//   - a block written from the input's entries (fuzzEntries, with a
//     restart interval from its first byte) reads back exactly, in both
//     directions, and every seek lands where the entries say.
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
	f.Add([]byte("\x03abc\x07\x05value\x04abcd\x08\x00\x02ab\x09\x03xyz"), []byte("abc"))
	f.Fuzz(func(t *testing.T, data, target []byte) {
		var it blockIter
		if err := it.init(base.DefaultComparer, data, "fuzz", 0); err != nil {
			if !errors.Is(err, base.ErrCorruption) {
				t.Fatalf("init: %v is not corruption", err)
			}
		} else {
			fwd, offsets, fwdErr := scanBlock(&it, len(data)+1)
			var bwd [][]byte
			it.err = nil
			for ok := it.Last(); ok && len(bwd) <= len(data); ok = it.Prev() {
				bwd = append(bwd, bytes.Clone(it.key))
			}
			for _, err := range []error{fwdErr, it.err} {
				if err != nil && !errors.Is(err, base.ErrCorruption) {
					t.Fatalf("scan: %v is not corruption", err)
				}
			}
			if fwdErr == nil && it.err == nil {
				if len(fwd) != len(bwd) {
					t.Fatalf("forward %d entries, backward %d", len(fwd), len(bwd))
				}
				for i := range fwd {
					if !bytes.Equal(fwd[i].k, bwd[len(bwd)-1-i]) {
						t.Fatalf("entry %d differs between directions", i)
					}
				}
				if wellFormedBlock(&it, fwd, offsets) {
					checkSeeks(t, blockSeeker{&it}, fwd, seekTargets(fwd, 0, target))
				}
			}
			// Whatever the bytes, seeks do not panic.
			it.err, it.valid = nil, false
			it.SeekGE(target)
			it.err, it.valid = nil, false
			it.SeekLT(target)
		}

		want := fuzzEntries(data)
		interval := 16
		if len(target) > 0 {
			interval = 1 + int(target[0]%8)
		}
		w := blockWriter{restartInterval: interval}
		w.reset()
		for _, e := range want {
			w.add(e.k, e.v)
		}
		block := bytes.Clone(w.finish())
		if err := it.init(base.DefaultComparer, block, "valid", 0); err != nil {
			t.Fatalf("valid block: %v", err)
		}
		got, _, err := scanBlock(&it, len(want)+1)
		if err != nil || !sameEntries(got, want) {
			t.Fatalf("valid block of %d entries (restart interval %d) read back %d: %v", len(want), interval, len(got), err)
		}
		checkSeeks(t, blockSeeker{&it}, want, seekTargets(want, 0, target))
	})
}

// fuzzWriterOptions picks table options from a byte.
func fuzzWriterOptions(b byte) WriterOptions {
	return WriterOptions{
		BlockSize:            []int{1, 64, 256, 4096}[b&3],
		BlockRestartInterval: 1 + int(b>>2&7),
		Compression:          []Compression{NoCompression, SnappyCompression, ZstdCompression}[int(b>>5)%3],
		BloomBitsPerKey:      int(b>>7) * 10,
	}
}

// readTable opens data and reads it every way. It returns the entries of a
// forward scan (at most limit), whether Check passed, and the first error of
// any call (nil if none). If Check passed, it checks what a table that
// passes Check must do:
// scans that agree with each other and are strictly ordered, a layout
// counting them, Get of every entry and every seek where the entries say.
func readTable(t *testing.T, data []byte, verify bool, limit int, target []byte) (fwd []kv, checked bool, err error) {
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	r, err := NewReader(bytes.NewReader(data), int64(len(data)),
		ReaderOptions{FileName: "fuzz.ldb", VerifyChecksums: verify, Cache: cache.New(64 << 10)})
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	checkErr := r.Check()
	note(checkErr)
	l, err := r.Layout()
	note(err)
	it := r.NewIter()
	for ok := it.First(); ok && len(fwd) < limit; ok = it.Next() {
		fwd = append(fwd, kv{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	fwdErr := it.Close()
	note(fwdErr)
	it = r.NewIter()
	var bwd []kv
	for ok := it.Last(); ok && len(bwd) < limit; ok = it.Prev() {
		bwd = append(bwd, kv{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	note(it.Close())
	slices.Reverse(bwd)
	targets := seekTargets(fwd, 12, target)
	for _, k := range targets {
		_, _, err := r.Get(k)
		note(err)
	}
	_ = r.ApproximateOffset(targets[0])
	if checkErr != nil {
		return fwd, false, firstErr
	}
	if firstErr != nil {
		t.Fatalf("Check passed, but reading failed: %v", firstErr)
	}
	for i := 1; i < len(fwd); i++ {
		if base.InternalCompareBytewise(fwd[i-1].k, fwd[i].k) >= 0 {
			t.Fatalf("Check passed, but entry %d (%s) is not after %s", i,
				base.FormatInternalKey(fwd[i].k), base.FormatInternalKey(fwd[i-1].k))
		}
	}
	if !sameEntries(fwd, bwd) || l.NumEntries != uint64(len(fwd)) {
		t.Fatalf("Check passed, but scans disagree: %d forward, %d backward, layout %d", len(fwd), len(bwd), l.NumEntries)
	}
	for _, k := range targets {
		ge := sort.Search(len(fwd), func(i int) bool { return base.InternalCompareBytewise(fwd[i].k, k) >= 0 })
		var want kv
		if ge < len(fwd) && bytes.Equal(base.UserKey(fwd[ge].k), base.UserKey(k)) {
			want = fwd[ge]
		}
		if gk, gv, err := r.Get(k); err != nil || !bytes.Equal(gk, want.k) || !bytes.Equal(gv, want.v) {
			t.Fatalf("Get(%s) = %s=%q, %v; want %s=%q", base.FormatInternalKey(k),
				base.FormatInternalKey(gk), gv, err, base.FormatInternalKey(want.k), want.v)
		}
	}
	s := &tableSeeker{r: r, Iter: r.NewIter()}
	checkSeeks(t, s, fwd, targets)
	s.Close()
	return fwd, true, nil
}

// FuzzReader checks the table reader:
//   - on arbitrary bytes, with checksums verified or not, it never panics
//     or hangs and every error of any call is a corruption error; where
//     Check passes, reads do not fail and agree with each other and with a
//     sorted model of the entries (readTable), so Check never passes a
//     table that reads fail on;
//   - a table written from the input's entries (fuzzEntries, with options
//     from its first byte) passes Check and reads back exactly.
func FuzzReader(f *testing.F) {
	for _, c := range []Compression{NoCompression, SnappyCompression, ZstdCompression} {
		data, _ := smallTable(f, c)
		f.Add(data)
	}
	f.Add(writeTable(f, nil, WriterOptions{}))
	f.Add(make([]byte, 48))
	f.Fuzz(func(t *testing.T, data []byte) {
		target := []byte("key010\x01\x00\x00\x00\x00\x00\x00\x00")
		for _, verify := range []bool{true, false} {
			if _, _, err := readTable(t, data, verify, 4*len(data)+16, target); err != nil && !errors.Is(err, base.ErrCorruption) {
				t.Fatalf("verify %v: %v is not corruption", verify, err)
			}
		}

		var o WriterOptions
		if len(data) > 0 {
			o = fuzzWriterOptions(data[0])
		}
		want := fuzzEntries(data)
		table := writeTable(t, want, o)
		for _, verify := range []bool{true, false} {
			got, checked, err := readTable(t, table, verify, len(want)+1, target)
			if err != nil || !checked || !sameEntries(got, want) {
				t.Fatalf("valid table of %d entries (%+v, verify %v) read back %d: %v", len(want), o, verify, len(got), err)
			}
		}
	})
}
