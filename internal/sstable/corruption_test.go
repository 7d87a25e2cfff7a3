package sstable

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
)

// smallTable returns a table of a few blocks with a filter, and its entries.
func smallTable(t testing.TB, c Compression) ([]byte, []kv) {
	var entries []kv
	for i := range 40 {
		k := base.AppendInternalKey(nil, fmt.Appendf(nil, "key%03d", i), uint64(100+i), base.KindSet)
		entries = append(entries, kv{k, bytes.Repeat(fmt.Appendf(nil, "v%d", i), 1+i%4)})
	}
	data := writeTable(t, entries, WriterOptions{BlockSize: 128, BlockRestartInterval: 3, Compression: c, BloomBitsPerKey: 10})
	return data, entries
}

// readEverything opens data and reads it every way, returning the first
// error. With want set, any entry read must be one of want's, with its value,
// and the full scans must return exactly want.
func readEverything(data []byte, want []kv, verify bool) error {
	r, err := NewReader(bytes.NewReader(data), int64(len(data)),
		ReaderOptions{FileName: "c.ldb", VerifyChecksums: verify, Cache: cache.New(1 << 20)})
	if err != nil {
		return err
	}
	defer r.Close()
	it := r.NewIter()
	defer it.Close()
	var got []kv
	for ok := it.First(); ok; ok = it.Next() {
		got = append(got, kv{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
	}
	if err := it.Error(); err != nil {
		return err
	}
	if want != nil && !sameEntries(got, want) {
		return fmt.Errorf("forward scan returned different data (%d entries)", len(got))
	}
	got = got[:0]
	for ok := it.Last(); ok; ok = it.Prev() {
		got = append(got, kv{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
	}
	if err := it.Error(); err != nil {
		return err
	}
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	if want != nil && !sameEntries(got, want) {
		return fmt.Errorf("reverse scan returned different data")
	}
	for _, e := range want {
		k, v, err := r.Get(e.k)
		if err != nil {
			return err
		}
		if !bytes.Equal(k, e.k) || !bytes.Equal(v, e.v) {
			return fmt.Errorf("Get(%s) returned %s=%q", base.FormatInternalKey(e.k), base.FormatInternalKey(k), v)
		}
	}
	if _, err := r.Layout(); err != nil {
		return err
	}
	return r.Check()
}

func sameEntries(a, b []kv) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].k, b[i].k) || !bytes.Equal(a[i].v, b[i].v) {
			return false
		}
	}
	return true
}

// TestCorruptionEveryByte flips each byte of a small table in turn. With
// checksums verified, every read either fails with a corruption error or
// returns exactly the original data. Without verification, reads must still
// never panic.
func TestCorruptionEveryByte(t *testing.T) {
	for _, c := range []Compression{NoCompression, SnappyCompression, ZstdCompression} {
		t.Run(c.String(), func(t *testing.T) {
			data, entries := smallTable(t, c)
			if err := readEverything(data, entries, true); err != nil {
				t.Fatalf("intact table: %v", err)
			}
			bad := make([]byte, len(data))
			masks := []byte{0x01, 0x80, 0xff}
			for i := range data {
				// Every mask on every byte, or one (rotating) under -race.
				ms := masks
				if raceEnabled {
					ms = masks[i%3 : i%3+1]
				}
				for _, mask := range ms {
					copy(bad, data)
					bad[i] ^= mask
					err := readEverything(bad, entries, true)
					if err != nil && !errors.Is(err, base.ErrCorruption) {
						t.Fatalf("byte %d ^ %#x: non-corruption error %v", i, mask, err)
					}
					var ce *base.CorruptionError
					if errors.As(err, &ce) && ce.File != "c.ldb" {
						t.Fatalf("byte %d ^ %#x: error without file name: %v", i, mask, err)
					}
					_ = readEverything(bad, nil, false) // must not panic
				}
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	data, _ := smallTable(t, SnappyCompression)
	for n := 0; n < len(data); n++ {
		err := readEverything(data[:n], nil, true)
		if !errors.Is(err, base.ErrCorruption) {
			t.Fatalf("truncated to %d bytes: %v, want corruption", n, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	data, _ := smallTable(t, NoCompression)
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:47] }, "too short"},
		{"magic", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "bad magic number"},
		{"footer handle", func(b []byte) []byte {
			f := b[len(b)-footerLen:]
			for i := range 40 {
				f[i] = 0xff
			}
			return b
		}, "bad block handle"},
		{"index crc", func(b []byte) []byte {
			r := openBytes(t, data, ReaderOptions{})
			b[r.footer.index.Offset] ^= 1
			return b
		}, "block checksum mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(append([]byte(nil), data...))
			_, err := NewReader(bytes.NewReader(b), int64(len(b)), ReaderOptions{FileName: "x.ldb"})
			var ce *base.CorruptionError
			if !errors.As(err, &ce) || ce.File != "x.ldb" || !bytes.Contains([]byte(ce.Msg), []byte(tc.want)) {
				t.Fatalf("got %v, want corruption %q in x.ldb", err, tc.want)
			}
		})
	}
}

// TestDataBlockChecksum reports the block's offset in the error.
func TestDataBlockChecksum(t *testing.T) {
	data, entries := smallTable(t, NoCompression)
	r := openBytes(t, data, ReaderOptions{})
	l, err := r.Layout()
	if err != nil {
		t.Fatal(err)
	}
	blk := l.DataBlocks[2].Handle
	data[blk.Offset+3] ^= 0x10
	r = openBytes(t, data, ReaderOptions{FileName: "d.ldb", VerifyChecksums: true})
	_, _, err = r.Get(entries[len(entries)-1].k) // not in block 2: fine
	if err != nil {
		t.Fatal(err)
	}
	var ce *base.CorruptionError
	err = r.Check()
	if !errors.As(err, &ce) || ce.Offset != int64(blk.Offset) {
		t.Fatalf("Check = %v, want checksum error at %d", err, blk.Offset)
	}
	want := fmt.Sprintf("block checksum mismatch at block offset %d", blk.Offset)
	if !bytes.Contains([]byte(ce.Msg), []byte(want)) {
		t.Fatalf("message %q", ce.Msg)
	}
}

func TestWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{})
	k1 := base.AppendInternalKey(nil, []byte("b"), 5, base.KindSet)
	if err := w.Add(k1, nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{
		k1, // duplicate
		base.AppendInternalKey(nil, []byte("a"), 9, base.KindSet), // smaller user key
		base.AppendInternalKey(nil, []byte("b"), 6, base.KindSet), // newer seq sorts first
		[]byte("short"), // not an internal key
	} {
		if err := w.Add(bad, nil); err == nil {
			t.Fatalf("Add(%q) accepted a bad key", bad)
		}
	}
	if err := w.Add(base.AppendInternalKey(nil, []byte("b"), 4, base.KindSet), nil); err != nil {
		t.Fatalf("writer unusable after a rejected key: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(base.AppendInternalKey(nil, []byte("c"), 4, base.KindSet), nil); err == nil {
		t.Fatal("Add after Close succeeded")
	}
	if w.Metadata().NumEntries != 2 {
		t.Fatalf("metadata %+v", w.Metadata())
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		return 0, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterIOError(t *testing.T) {
	w := NewWriter(&failingWriter{n: 1000}, WriterOptions{BlockSize: 64})
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		err = w.Add(base.AppendInternalKey(nil, fmt.Appendf(nil, "%08d", i), 1, base.KindSet), make([]byte, 100))
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("got %v, want the write error", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a write error succeeded")
	}
}

func TestEmptyTable(t *testing.T) {
	data := writeTable(t, nil, WriterOptions{BloomBitsPerKey: 10, Compression: SnappyCompression})
	r := openBytes(t, data, ReaderOptions{VerifyChecksums: true})
	it := r.NewIter()
	if it.First() || it.Last() || it.SeekGE([]byte("anything")) || it.SeekLT([]byte("anything")) || it.Close() != nil {
		t.Fatal("empty table iterates")
	}
	if k, _, err := r.Get(base.MakeSearchKey(nil, []byte("a"), 1)); k != nil || err != nil {
		t.Fatal("empty table Get found something")
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestUnknownMetaEntries: a goleveldb-style filter name is ignored, and the
// reader works without a filter.
func TestUnknownMetaEntries(t *testing.T) {
	data, entries := smallTable(t, NoCompression)
	r := openBytes(t, data, ReaderOptions{})
	// Rebuild the table's tail with a metaindex naming goleveldb's filter.
	var buf bytes.Buffer
	buf.Write(data[:r.filterHandle.Offset+r.filterHandle.Size+blockTrailerLen])
	meta := blockWriter{restartInterval: 16}
	meta.reset()
	meta.add([]byte("filter.leveldb.BuiltinBloomFilter"), appendBlockHandle(nil, r.filterHandle))
	metaHandle := BlockHandle{Offset: uint64(buf.Len())}
	contents := meta.finish()
	metaHandle.Size = uint64(len(contents))
	buf.Write(contents)
	buf.Write(appendBlockTrailer(nil, contents, NoCompression))
	indexHandle := BlockHandle{Offset: uint64(buf.Len()), Size: r.footer.index.Size}
	buf.Write(data[r.footer.index.Offset : r.footer.index.Offset+r.footer.index.Size+blockTrailerLen])
	buf.Write(footer{metaindex: metaHandle, index: indexHandle}.encode(nil))
	r2 := openBytes(t, buf.Bytes(), ReaderOptions{VerifyChecksums: true})
	if r2.hasFilter || len(r2.metaEntries) != 1 {
		t.Fatalf("hasFilter=%v meta=%v", r2.hasFilter, r2.metaEntries)
	}
	if err := readEverything(buf.Bytes(), entries, true); err != nil {
		t.Fatal(err)
	}
}

// TestLayoutDamaged: Layout stops at a damaged data block; LayoutDamaged
// lists it with its error and describes the others.
func TestLayoutDamaged(t *testing.T) {
	data, _ := smallTable(t, NoCompression)
	clean, err := openBytes(t, data, ReaderOptions{}).Layout()
	if err != nil {
		t.Fatal(err)
	}
	blk := clean.DataBlocks[2]
	data[blk.Handle.Offset+3] ^= 0x10
	r := openBytes(t, data, ReaderOptions{FileName: "d.ldb", VerifyChecksums: true})
	if _, err := r.Layout(); !errors.Is(err, base.ErrCorruption) {
		t.Fatalf("Layout of a damaged table: %v", err)
	}
	l, err := r.LayoutDamaged()
	if err != nil {
		t.Fatal(err)
	}
	if len(l.DataBlocks) != len(clean.DataBlocks) || l.NumEntries != clean.NumEntries-uint64(blk.NumEntries) {
		t.Fatalf("%d blocks, %d entries; want %d, %d", len(l.DataBlocks), l.NumEntries, len(clean.DataBlocks), clean.NumEntries-uint64(blk.NumEntries))
	}
	for i, b := range l.DataBlocks {
		var ce *base.CorruptionError
		switch {
		case i == 2 && (!errors.As(b.Err, &ce) || ce.Offset != int64(blk.Handle.Offset) || b.Handle != blk.Handle):
			t.Errorf("block 2: %+v", b)
		case i != 2 && (b.Err != nil || b.NumEntries != clean.DataBlocks[i].NumEntries):
			t.Errorf("block %d: %+v", i, b)
		}
	}
}
