package sstable

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"strata/internal/base"
)

// TestWriterReset writes a sequence of random tables (random options,
// sizes and contents, some abandoned half-way) through one reused Writer
// and checks that every finished table is byte-for-byte the table a fresh
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
