package sstable

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
)

// TestRangeDelBlock: tombstones added in any order, overlapping, are
// written fragmented in the range-deletion block and read back as the same
// set; the table's bounds cover them (ending at the End#MaxSeq,RANGEDEL
// sentinel); a table of tombstones only is a table; a table without any
// has no such block.
func TestRangeDelBlock(t *testing.T) {
	for _, points := range []bool{true, false} {
		var buf bytes.Buffer
		w := NewWriter(&buf, WriterOptions{})
		if points {
			for _, k := range []string{"b", "c", "x"} {
				if err := w.Add(base.AppendInternalKey(nil, []byte(k), 9, base.KindSet), []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
		}
		w.AddRangeDel([]byte("m"), []byte("q"), 5)
		w.AddRangeDel([]byte("a"), []byte("d"), 7)
		w.AddRangeDel([]byte("c"), []byte("f"), 3)
		w.AddRangeDel([]byte("z"), []byte("a"), 8) // empty: ignored
		if w.Empty() {
			t.Fatal("a writer with tombstones is empty")
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		md := w.Metadata()
		if got := base.FormatInternalKey(md.Smallest); got != `"a"#7,RANGEDEL` {
			t.Errorf("points=%v: smallest %s", points, got)
		}
		wantLargest := `"x"#9,SET`
		if !points {
			wantLargest = fmt.Sprintf(`"q"#%d,RANGEDEL`, base.MaxSeq)
		}
		if got := base.FormatInternalKey(md.Largest); got != wantLargest {
			t.Errorf("points=%v: largest %s, want %s", points, got, wantLargest)
		}
		if md.NumRangeDels != 5 { // [a,c)7 [c,d)7,3 [d,f)3 [m,q)5
			t.Errorf("points=%v: %d range-deletion entries", points, md.NumRangeDels)
		}
		data := buf.Bytes()
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{VerifyChecksums: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range r.RangeDels().Fragments() {
			got = append(got, fmt.Sprintf("[%s,%s)%v", f.Start, f.End, f.Seqs))
		}
		if fmt.Sprint(got) != "[[a,c)[7] [c,d)[7 3] [d,f)[3] [m,q)[5]]" {
			t.Errorf("points=%v: read back %v", points, got)
		}
		if err := r.Check(); err != nil {
			t.Errorf("points=%v: Check: %v", points, err)
		}
		r.Close()
	}
	// No tombstones, no block: the table is what it always was.
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{})
	w.Add(base.AppendInternalKey(nil, []byte("a"), 1, base.KindSet), nil)
	w.Close()
	if bytes.Contains(buf.Bytes(), []byte(rangeDelMetaKey)) {
		t.Fatal("a table without tombstones has a range-deletion block")
	}
}

// FuzzRangeDels: tombstones drawn from the input, written to a table (with
// options from the first byte), read back as the set that fragmenting them
// gives; and the table with its bytes damaged where the input says either
// opens with a corruption error or yields a well-formed set (sorted,
// disjoint fragments, each with sequences newest first), never a panic.
func FuzzRangeDels(f *testing.F) {
	f.Add([]byte("\x00a-c7m-q5c-f3"), uint16(0), byte(0))
	f.Add([]byte("\x01ab-b8aa-zz1"), uint16(40), byte(0xff))
	f.Fuzz(func(t *testing.T, data []byte, at uint16, flip byte) {
		var o WriterOptions
		if len(data) > 0 {
			o = fuzzWriterOptions(data[0])
			data = data[1:]
		}
		// Each tombstone is 4 bytes: start, '-', end, seq digit (rest ignored).
		var ts []rangedel.Tombstone
		for ; len(data) >= 4; data = data[4:] {
			ts = append(ts, rangedel.Tombstone{Start: data[0:1], End: data[2:3], Seq: uint64(data[3])})
		}
		var buf bytes.Buffer
		w := NewWriter(&buf, o)
		for _, tb := range ts {
			w.AddRangeDel(tb.Start, tb.End, tb.Seq)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		table := buf.Bytes()
		want := rangedel.NewSet(bytes.Compare, ts)
		if len(table) > 0 {
			r, err := NewReader(bytes.NewReader(table), int64(len(table)), ReaderOptions{VerifyChecksums: true})
			if err != nil {
				t.Fatalf("reading a valid table: %v", err)
			}
			if fmt.Sprint(r.RangeDels().Fragments()) != fmt.Sprint(want.Fragments()) {
				t.Fatalf("read back %v, want %v", r.RangeDels().Fragments(), want.Fragments())
			}
			r.Close()
		}
		if len(table) == 0 {
			return
		}
		bad := bytes.Clone(table)
		bad[int(at)%len(bad)] ^= flip | 1
		for _, verify := range []bool{true, false} {
			r, err := NewReader(bytes.NewReader(bad), int64(len(bad)), ReaderOptions{VerifyChecksums: verify})
			if err != nil {
				if !errors.Is(err, base.ErrCorruption) {
					t.Fatalf("damaged table: %v is not corruption", err)
				}
				continue
			}
			frags := r.RangeDels().Fragments()
			for i, fr := range frags {
				if bytes.Compare(fr.Start, fr.End) >= 0 || len(fr.Seqs) == 0 ||
					i > 0 && bytes.Compare(frags[i-1].End, fr.Start) > 0 ||
					!slices.IsSortedFunc(fr.Seqs, func(a, b uint64) int { return cmp.Compare(b, a) }) {
					t.Fatalf("damaged table yields a malformed fragment set %v", frags)
				}
			}
			r.Close()
		}
	})
}
