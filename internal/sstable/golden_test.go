package sstable

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// goldenTable describes a table written by C++ LevelDB 1.23 (see
// testdata/gen_golden.py) and the options it was written with.
type goldenTable struct {
	file string
	opts WriterOptions
}

var goldenTables = []goldenTable{
	{"cpp_none_b4096_r16_bloom10.ldb", WriterOptions{BlockSize: 4096, BlockRestartInterval: 16, Compression: NoCompression, BloomBitsPerKey: 10}},
	{"cpp_snappy_b4096_r16_bloom10.ldb", WriterOptions{BlockSize: 4096, BlockRestartInterval: 16, Compression: SnappyCompression, BloomBitsPerKey: 10}},
	{"cpp_none_b1024_r4_nofilter.ldb", WriterOptions{BlockSize: 1024, BlockRestartInterval: 4, Compression: NoCompression}},
}

// goldenNumEntries is the number of operations gen_golden.py performs:
// 1000 puts, 91 overwrites, 77 deletions, 200 binary keys and one last key.
const goldenNumEntries = 1000 + 91 + 77 + 200 + 1

type kv struct{ k, v []byte }

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func openBytes(t testing.TB, data []byte, o ReaderOptions) *Reader {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readAll(t testing.TB, r *Reader) []kv {
	t.Helper()
	it := r.NewIter()
	var out []kv
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, kv{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeTable(t testing.TB, entries []kv, o WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, o)
	for _, e := range entries {
		if err := w.Add(e.k, e.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func firstDiff(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// TestGoldenRead reads the C++ tables in every mode and checks their
// contents: the same entries in all three, every sequence number once.
func TestGoldenRead(t *testing.T) {
	var ref []kv
	for _, g := range goldenTables {
		data := readFile(t, g.file)
		for _, mode := range []string{"readat", "mmap"} {
			t.Run(g.file+"/"+mode, func(t *testing.T) {
				o := ReaderOptions{VerifyChecksums: true, FileName: g.file}
				if mode == "mmap" {
					o.Mmap = data
				}
				r := openBytes(t, data, o)
				defer r.Close()
				if err := r.Check(); err != nil {
					t.Fatal(err)
				}
				entries := readAll(t, r)
				if len(entries) != goldenNumEntries {
					t.Fatalf("%d entries, want %d", len(entries), goldenNumEntries)
				}
				seqs := make([]bool, goldenNumEntries+1)
				for _, e := range entries {
					_, seq, kind, ok := base.ParseInternalKey(e.k)
					if !ok || seq == 0 || seq > goldenNumEntries || seqs[seq] {
						t.Fatalf("bad or repeated key %s", base.FormatInternalKey(e.k))
					}
					seqs[seq] = true
					if kind == base.KindDelete && len(e.v) != 0 {
						t.Fatalf("tombstone %s has a value", base.FormatInternalKey(e.k))
					}
				}
				last := entries[len(entries)-1]
				if string(base.UserKey(last.k)) != "\xff\xff\xff" || string(last.v) != "last" {
					t.Fatalf("last entry %s = %q", base.FormatInternalKey(last.k), last.v)
				}
				if ref == nil {
					ref = entries
				} else {
					for i := range ref {
						if !bytes.Equal(ref[i].k, entries[i].k) || !bytes.Equal(ref[i].v, entries[i].v) {
							t.Fatalf("entry %d differs between golden tables", i)
						}
					}
				}
				// Every entry is found by Get at its own sequence, and a
				// search at a later sequence finds the newest version.
				for i, e := range entries {
					k, v, err := r.Get(e.k)
					if err != nil || !bytes.Equal(k, e.k) || !bytes.Equal(v, e.v) {
						t.Fatalf("Get(%s) = %s, %q, %v", base.FormatInternalKey(e.k), base.FormatInternalKey(k), v, err)
					}
					ukey := base.UserKey(e.k)
					if i == 0 || !bytes.Equal(base.UserKey(entries[i-1].k), ukey) {
						k, _, err := r.Get(base.MakeSearchKey(nil, ukey, base.MaxSeq))
						if err != nil || !bytes.Equal(k, e.k) {
							t.Fatalf("Get(%q@max) = %s, %v", ukey, base.FormatInternalKey(k), err)
						}
					}
				}
				for _, absent := range []string{"", "key", "key000000\x00", "zzz", "\xff\xff\xff\xff"} {
					k, _, err := r.Get(base.MakeSearchKey(nil, []byte(absent), base.MaxSeq))
					if err != nil || k != nil {
						t.Fatalf("Get(%q) = %s, %v; want nothing", absent, base.FormatInternalKey(k), err)
					}
				}
			})
		}
	}
}

// TestGoldenRewriteIdentical rebuilds each C++ table from its entries with
// the same options and requires the very same bytes. Snappy output differs
// between compressor implementations (both are valid snappy), so for the
// snappy table the writer is given C++'s compressed bytes for each block it
// compresses: everything else (the 12.5% rule, trailers, handles, filter
// partitioning, index separators, metaindex, footer) must still match.
func TestGoldenRewriteIdentical(t *testing.T) {
	for _, g := range goldenTables {
		t.Run(g.file, func(t *testing.T) {
			want := readFile(t, g.file)
			r := openBytes(t, want, ReaderOptions{VerifyChecksums: true})
			entries := readAll(t, r)
			var buf bytes.Buffer
			w := NewWriter(&buf, g.opts)
			if g.opts.Compression == SnappyCompression {
				ref := cppCompressedBlocks(t, want)
				w.compress = func(dst, raw []byte, c Compression) ([]byte, bool) {
					if b, ok := ref[string(raw)]; ok {
						return append(dst[:0], b...), true
					}
					// C++ stored this block raw: compression did not save
					// 12.5% there; ours must not either.
					return compressBlock(dst, raw, c)
				}
			}
			for _, e := range entries {
				if err := w.Add(e.k, e.v); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			if !bytes.Equal(got, want) {
				t.Fatalf("rewrite differs from C++ table: sizes %d vs %d, first difference at %d",
					len(got), len(want), firstDiff(got, want))
			}
			m := w.Metadata()
			if m.Size != uint64(len(want)) || m.NumEntries != uint64(len(entries)) ||
				!bytes.Equal(m.Smallest, entries[0].k) || !bytes.Equal(m.Largest, entries[len(entries)-1].k) {
				t.Fatalf("bad metadata %+v", m)
			}
		})
	}
}

// cppCompressedBlocks maps the uncompressed contents of every compressed
// block of a table to its compressed bytes.
func cppCompressedBlocks(t *testing.T, data []byte) map[string][]byte {
	r := openBytes(t, data, ReaderOptions{VerifyChecksums: true})
	l, err := r.Layout()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	blocks := append([]BlockInfo{l.Index, l.Metaindex}, l.DataBlocks...)
	for _, b := range blocks {
		if b.Compression == NoCompression {
			continue
		}
		raw, _, _, err := r.readBlock(b.Handle, true)
		if err != nil {
			t.Fatal(err)
		}
		m[string(raw)] = data[b.Handle.Offset : b.Handle.Offset+b.Handle.Size]
	}
	if len(m) == 0 {
		t.Fatal("no compressed blocks in the snappy table")
	}
	return m
}

// TestGoldenFilterBytes rebuilds the filter block of each C++ table from the
// user keys of its data blocks at C++'s block offsets: the bytes must be
// identical, which pins the hash, the probe count and the block framing.
func TestGoldenFilterBytes(t *testing.T) {
	for _, g := range goldenTables {
		if g.opts.BloomBitsPerKey == 0 {
			continue
		}
		t.Run(g.file, func(t *testing.T) {
			data := readFile(t, g.file)
			r := openBytes(t, data, ReaderOptions{VerifyChecksums: true})
			l, err := r.Layout()
			if err != nil {
				t.Fatal(err)
			}
			if !l.HasFilter || len(l.MetaEntries) != 1 || l.MetaEntries[0].Name != filterMetaKey {
				t.Fatalf("unexpected meta entries %+v", l.MetaEntries)
			}
			fw := &filterWriter{bitsPerKey: g.opts.BloomBitsPerKey}
			it := r.NewIter()
			defer it.Close()
			for _, b := range l.DataBlocks {
				fw.startBlock(b.Handle.Offset)
				for ok := it.SeekGE(b.FirstKey); ok; ok = it.Next() {
					fw.addKey(base.UserKey(it.Key()))
					if bytes.Equal(it.Key(), b.LastKey) {
						break
					}
				}
			}
			got := fw.finish()
			want := data[l.Filter.Offset : l.Filter.Offset+l.Filter.Size]
			if !bytes.Equal(got, want) {
				t.Fatalf("filter block differs from C++'s: %d vs %d bytes, first difference at %d",
					len(got), len(want), firstDiff(got, want))
			}
			// More filters than data blocks: the 2 KiB partitioning left empty
			// filters between blocks, as C++ does.
			nFilters := (len(want) - 5 - int(binary.LittleEndian.Uint32(want[len(want)-5:]))) / 4
			if nFilters <= len(l.DataBlocks) {
				t.Fatalf("%d filters for %d blocks: expected empty filters", nFilters, len(l.DataBlocks))
			}
		})
	}
}
