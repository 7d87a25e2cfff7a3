package sstable

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/strata-db/strata/internal/base"
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
