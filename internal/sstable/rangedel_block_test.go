package sstable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// rangeDelTable writes a table with one entry and the tombstones [a, c)#7
// and [m, q)#5, and returns its bytes and the range-deletion block's
// handle.
func rangeDelTable(t *testing.T, filter bool) ([]byte, BlockHandle) {
	t.Helper()
	var buf bytes.Buffer
	o := WriterOptions{}
	if filter {
		o.BloomBitsPerKey = 10
	}
	w := NewWriter(&buf, o)
	if err := w.Add(base.AppendInternalKey(nil, []byte("b"), 9, base.KindSet), []byte("v")); err != nil {
		t.Fatal(err)
	}
	w.AddRangeDel([]byte("m"), []byte("q"), 5)
	w.AddRangeDel([]byte("a"), []byte("c"), 7)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, h, found, err := r.RangeDelBlock()
	if err != nil || !found {
		t.Fatalf("RangeDelBlock: found %v, %v", found, err)
	}
	return data, h
}

// patchBlock replaces old by new (same length) in the block at h and
// recomputes the block's checksum.
func patchBlock(t *testing.T, data []byte, h BlockHandle, old, new string) []byte {
	t.Helper()
	out := bytes.Clone(data)
	blk := out[h.Offset : h.Offset+h.Size]
	i := bytes.Index(blk, []byte(old))
	if i < 0 || len(old) != len(new) {
		t.Fatalf("cannot patch %q into %q", old, new)
	}
	copy(blk[i:], new)
	crc := base.CRC(out[h.Offset : h.Offset+h.Size+1])
	binary.LittleEndian.PutUint32(out[h.Offset+h.Size+1:], base.MaskCRC(crc))
	return out
}

// TestRangeDelBlockAndCheck: RangeDelBlock lists the block's entries with
// their offsets, also through a Reader opened with IgnoreMeta; Check
// passes on what the writer wrote and reports, at the entry, tombstones out
// of order, overlapping or empty; an entry that is not a tombstone is
// refused at open, and RangeDelBlock reports it as damage.
func TestRangeDelBlockAndCheck(t *testing.T) {
	data, h := rangeDelTable(t, true)
	for _, ignoreMeta := range []bool{false, true} {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{IgnoreMeta: ignoreMeta})
		if err != nil {
			t.Fatal(err)
		}
		entries, got, found, err := r.RangeDelBlock()
		if err != nil || !found || got != h {
			t.Fatalf("ignoreMeta=%v: RangeDelBlock: %v %v %v", ignoreMeta, got, found, err)
		}
		var s []string
		for _, e := range entries {
			if e.Offset < int64(h.Offset) || e.Offset >= int64(h.Offset+h.Size) {
				t.Errorf("entry offset %d outside the block %+v", e.Offset, h)
			}
			s = append(s, fmt.Sprintf("[%s,%s)#%d", e.Start, e.End, e.Seq))
		}
		if fmt.Sprint(s) != "[[a,c)#7 [m,q)#5]" {
			t.Errorf("ignoreMeta=%v: entries %v", ignoreMeta, s)
		}
		if err := r.Check(); err != nil {
			t.Errorf("ignoreMeta=%v: Check: %v", ignoreMeta, err)
		}
		r.Close()
	}

	cases := []struct {
		name     string
		old, new string
		want     string
		atOpen   bool
	}{
		// The first entry: key "a"#7,RANGEDEL (trailer 0f 07 00 ...), value
		// "c"; the second "m"#5,RANGEDEL, value "q".
		{"out of order", "a\x0f\x07\x00\x00\x00\x00\x00\x00c", "n\x0f\x07\x00\x00\x00\x00\x00\x00p", "out of order", false},
		{"ends apart", "m\x0f\x05", "a\x0f\x05", "end apart", false},
		{"overlap", "\x07\x00\x00\x00\x00\x00\x00c", "\x07\x00\x00\x00\x00\x00\x00n", "overlaps", false},
		{"empty", "\x07\x00\x00\x00\x00\x00\x00c", "\x07\x00\x00\x00\x00\x00\x00a", "is empty", false},
		{"not a tombstone", "a\x0f\x07", "a\x01\x07", "not a range tombstone", true},
	}
	for _, tc := range cases {
		bad := patchBlock(t, data, h, tc.old, tc.new)
		r, err := NewReader(bytes.NewReader(bad), int64(len(bad)), ReaderOptions{})
		if tc.atOpen {
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, base.ErrCorruption) {
				t.Errorf("%s: open: %v, want corruption %q", tc.name, err, tc.want)
			}
			r, err = NewReader(bytes.NewReader(bad), int64(len(bad)), ReaderOptions{IgnoreMeta: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, found, err := r.RangeDelBlock(); !found || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: RangeDelBlock: found %v, %v", tc.name, found, err)
			}
			r.Close()
			continue
		}
		if err != nil {
			t.Fatalf("%s: open: %v", tc.name, err)
		}
		err = r.Check()
		var ce *base.CorruptionError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || ce.Offset < int64(h.Offset) || ce.Offset >= int64(h.Offset+h.Size) {
			t.Errorf("%s: Check: %v, want %q within the block at %d", tc.name, err, tc.want, h.Offset)
		}
		r.Close()
	}

	// A damaged block is damage to RangeDelBlock, and found.
	bad := bytes.Clone(data)
	bad[h.Offset+1] ^= 0x40
	r, err := NewReader(bytes.NewReader(bad), int64(len(bad)), ReaderOptions{IgnoreMeta: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, found, err := r.RangeDelBlock(); !found || !errors.Is(err, base.ErrCorruption) {
		t.Errorf("damaged block: found %v, %v", found, err)
	}
}

// TestRangeDelBounds: the bounds of tombstones alone, and widened entry
// bounds, are what the writer gives its tables.
func TestRangeDelBounds(t *testing.T) {
	data, _ := rangeDelTable(t, false)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ts := r.RangeDels().Tombstones()
	lo, hi := RangeDelBounds(base.DefaultComparer, ts)
	if base.FormatInternalKey(lo) != `"a"#7,RANGEDEL` || !base.IsRangeDelSentinel(hi) || string(base.UserKey(hi)) != "q" {
		t.Errorf("bounds %s .. %s", base.FormatInternalKey(lo), base.FormatInternalKey(hi))
	}
	point := base.AppendInternalKey(nil, []byte("b"), 9, base.KindSet)
	lo, hi = WidenBounds(base.DefaultComparer, point, point, ts)
	if string(base.UserKey(lo)) != "a" || string(base.UserKey(hi)) != "q" {
		t.Errorf("widened %s .. %s", base.FormatInternalKey(lo), base.FormatInternalKey(hi))
	}
	if lo, hi := WidenBounds(base.DefaultComparer, point, point, nil); !bytes.Equal(lo, point) || !bytes.Equal(hi, point) {
		t.Error("no tombstones changed the bounds")
	}
}
