package sstable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/strata-db/strata/internal/base"
)

// TestWriterReset writes a sequence of random tables (random options,
// sizes and contents, some abandoned half-way, some with a size hint from
// Reserve) through one reused Writer and checks that every finished table is byte-for-byte the table a fresh
// Writer produces, with the same metadata, and that the metadata of one
// table survives writing the next.
func TestWriterReset(t *testing.T) { testReusedWriter(t, nil, 40, nil) }

// testReusedWriter is TestWriterReset's body; with a non-nil Assist every
// table is written through it (SetAssist after each Reset). A non-nil
// afterAdd is called after every Add.
func testReusedWriter(t *testing.T, a *Assist, tables int, afterAdd func()) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	var reused *Writer
	var prevMeta WriterMetadata
	var prevSmallest, prevLargest []byte
	for i := range tables {
		cfg := randomConfig(rng)
		cmp := base.DefaultComparer
		if cfg.reverseCmp {
			cmp = reverseComparer
		}
		entries := randomEntries(rng, cfg.n, cmp, cfg.maxVal)
		want := writeTable(t, entries, cfg.opts)

		var got bytes.Buffer
		if reused == nil {
			reused = NewWriter(&got, cfg.opts)
		} else {
			reused.Reset(&got, cfg.opts)
		}
		if a != nil {
			reused.SetAssist(a)
		}
		if rng.IntN(2) == 0 {
			// A size hint, right or off by up to 4× either way, changes
			// buffers only, never the table.
			var data int64
			for _, e := range entries {
				data += int64(len(e.k) + len(e.v))
			}
			scale := []float64{0.25, 0.5, 1, 1, 2, 4}[rng.IntN(6)]
			reused.Reserve(int(float64(len(entries))*scale), int64(float64(data)*scale))
		}
		abandon := rng.IntN(5) == 0 && len(entries) > 1
		for j, e := range entries {
			if abandon && j == len(entries)/2 {
				break
			}
			if err := reused.Add(e.k, e.v); err != nil {
				t.Fatalf("seed %d table %d: %v", seed, i, err)
			}
			if afterAdd != nil {
				afterAdd()
			}
			if est := reused.EstimatedSize(); est < uint64(got.Len()) {
				t.Fatalf("seed %d table %d: EstimatedSize %d below the %d bytes written", seed, i, est, got.Len())
			}
		}
		if abandon {
			continue // the next Reset (and SetAssist) must forget this half-written table
		}
		if err := reused.Close(); err != nil {
			t.Fatalf("seed %d table %d: %v", seed, i, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("seed %d table %d (%s): reused writer's table differs from a fresh writer's at byte %d",
				seed, i, cfg.description, firstDiff(got.Bytes(), want))
		}
		if prevMeta.Smallest != nil && (!bytes.Equal(prevMeta.Smallest, prevSmallest) || !bytes.Equal(prevMeta.Largest, prevLargest)) {
			t.Fatalf("seed %d table %d: the previous table's metadata changed when the writer was reused", seed, i)
		}
		prevMeta = reused.Metadata()
		prevSmallest = bytes.Clone(prevMeta.Smallest)
		prevLargest = bytes.Clone(prevMeta.Largest)
		if prevMeta.NumEntries != uint64(len(entries)) || prevMeta.Size != uint64(len(want)) {
			t.Fatalf("seed %d table %d: metadata %+v for %d entries, %d bytes", seed, i, prevMeta, len(entries), len(want))
		}
	}
}

// TestReserveSizesBuffers checks that with an exact Reserve the filter
// buffer is allocated once, before the first entry, and the index buffer
// ends within a fifth of the index block's size (where doubling leaves up
// to twice it), for small and large values.
func TestReserveSizesBuffers(t *testing.T) {
	for _, valueLen := range []int{100, 10000} {
		rng := rand.New(rand.NewPCG(uint64(valueLen), 2))
		n := 2_000_000 / (valueLen + 24)
		var data int64
		entries := make([]kv, n)
		for i := range entries {
			k := fmt.Appendf(nil, "key%013d", i)
			entries[i] = kv{base.AppendInternalKey(nil, k, uint64(i+1), base.KindSet), make([]byte, valueLen)}
			for j := range entries[i].v {
				entries[i].v[j] = byte('a' + rng.IntN(26))
			}
			data += int64(len(entries[i].k) + valueLen)
		}
		var out bytes.Buffer
		w := NewWriter(&out, WriterOptions{BloomBitsPerKey: 10, Compression: NoCompression})
		w.Reserve(n, data)
		filterBuf := unsafe.SliceData(w.filter.result)
		for _, e := range entries {
			if err := w.Add(e.k, e.v); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if unsafe.SliceData(w.filter.result) != filterBuf {
			t.Errorf("values of %d bytes: the filter buffer was reallocated after Reserve", valueLen)
		}
		b := out.Bytes()
		f, err := decodeFooter(b[len(b)-footerLen:], "t", int64(len(b)-footerLen))
		if err != nil {
			t.Fatal(err)
		}
		indexLen := int(f.index.Size)
		if c := cap(w.index.buf); c < indexLen || c > indexLen*6/5 {
			t.Errorf("values of %d bytes: index buffer capacity %d for a %d-byte index block", valueLen, c, indexLen)
		}
	}
}
