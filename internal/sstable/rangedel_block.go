package sstable

import (
	"bytes"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
)

// The range-deletion block as stored, for tools and repair: its entries in
// file order with their offsets (RangeDelBlock), the checks Check runs on
// them (checkRangeDels), and the bounds a table's tombstones give it
// (RangeDelBounds). The block's layout is given at rangeDelMetaKey.

// RangeDelEntry is one entry of a table's range-deletion block as stored:
// the tombstone fragment [Start, End)#Seq (Start and Seq from the entry's
// internal key Start#Seq,RANGEDEL, End its value) and the file offset of
// the entry.
type RangeDelEntry struct {
	Start, End []byte
	Seq        uint64
	Offset     int64
}

// RangeDelBlock reads the table's range-deletion block afresh through the
// metaindex, whether or not the Reader was opened with IgnoreMeta (repair
// uses it to keep the tombstones of a table whose filter block is damaged),
// and returns its entries in file order (copies) and the block's handle.
// found is false when the metaindex lists no such block. A damaged
// metaindex or block, or an entry that is not a range tombstone, is a
// *base.CorruptionError naming the file and offset (found then says
// whether the metaindex listed the block).
func (r *Reader) RangeDelBlock() (entries []RangeDelEntry, h BlockHandle, found bool, err error) {
	if r.closed {
		return nil, h, false, errClosedReader
	}
	meta, _, _, err := r.readBlock(r.footer.metaindex, true)
	if err != nil {
		return nil, h, false, err
	}
	var it blockIter
	if err := it.init(nil, meta, r.file, r.footer.metaindex.Offset); err != nil {
		return nil, h, false, err
	}
	for ok := it.First(); ok && !found; ok = it.Next() {
		if string(it.key) != rangeDelMetaKey {
			continue
		}
		var n int
		if h, n = decodeBlockHandle(it.val); n <= 0 {
			return nil, h, true, base.CorruptionErrorf(r.file, int64(r.footer.metaindex.Offset)+int64(it.offset),
				"bad block handle in metaindex entry %q", it.key)
		}
		found = true
	}
	if it.err != nil {
		return nil, h, found, it.err
	}
	if !found {
		return nil, h, false, nil
	}
	data, _, _, err := r.readBlock(h, true)
	if err != nil {
		return nil, h, true, err
	}
	if err := it.init(nil, data, r.file, h.Offset); err != nil {
		return nil, h, true, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		off := int64(h.Offset) + int64(it.offset)
		ukey, seq, kind, valid := base.ParseInternalKey(it.key)
		if !valid || kind != base.KindRangeDelete {
			return nil, h, true, base.CorruptionErrorf(r.file, off,
				"range-deletion block entry %s is not a range tombstone", base.FormatInternalKey(it.key))
		}
		entries = append(entries, RangeDelEntry{Start: bytes.Clone(ukey), End: bytes.Clone(it.val), Seq: seq, Offset: off})
	}
	if it.err != nil {
		return nil, h, true, it.err
	}
	return entries, h, true, nil
}

// checkRangeDels verifies the range-deletion block, if the table has one,
// as the writer lays it out: every entry is a range tombstone over a
// non-empty range; entries are in strictly increasing internal-key order
// (by Start, then newest first); and they are fragments: an entry either
// repeats the previous one's [Start, End) with an older sequence, or
// starts at or after the previous one's End. The first problem is a
// *base.CorruptionError at the entry's offset.
func (r *Reader) checkRangeDels() error {
	entries, _, _, err := r.RangeDelBlock()
	if err != nil {
		return err
	}
	ucmp := r.cmp.Compare
	for i, e := range entries {
		if ucmp(e.Start, e.End) >= 0 {
			return base.CorruptionErrorf(r.file, e.Offset, "range tombstone [%q, %q)#%d is empty", e.Start, e.End, e.Seq)
		}
		if i == 0 {
			continue
		}
		p := entries[i-1]
		switch c := ucmp(p.Start, e.Start); {
		case c > 0 || c == 0 && p.Seq <= e.Seq:
			return base.CorruptionErrorf(r.file, e.Offset, "range tombstones out of order: [%q, %q)#%d after [%q, %q)#%d",
				e.Start, e.End, e.Seq, p.Start, p.End, p.Seq)
		case c == 0 && ucmp(p.End, e.End) != 0:
			return base.CorruptionErrorf(r.file, e.Offset, "range tombstones not fragmented: [%q, %q)#%d and [%q, %q)#%d start together but end apart",
				p.Start, p.End, p.Seq, e.Start, e.End, e.Seq)
		case c < 0 && ucmp(p.End, e.Start) > 0:
			return base.CorruptionErrorf(r.file, e.Offset, "range tombstones not fragmented: [%q, %q)#%d overlaps [%q, %q)#%d",
				e.Start, e.End, e.Seq, p.Start, p.End, p.Seq)
		}
	}
	return nil
}

// RangeDelBounds returns the internal keys that bound a table holding the
// range tombstones ts, sorted as Set.Tombstones returns them (nil when ts
// is empty): smallest is the first tombstone's Start#Seq,RANGEDEL, largest
// the sentinel End#MaxSeq,RANGEDEL of the greatest End (base.
// IsRangeDelSentinel), which sorts before every entry of End, a key the
// tombstones do not cover. A table's bounds are those of its entries
// widened to these (see Writer.Close).
func RangeDelBounds(cmp *base.Comparer, ts []rangedel.Tombstone) (smallest, largest []byte) {
	if len(ts) == 0 {
		return nil, nil
	}
	end := ts[0].End
	for _, t := range ts[1:] {
		if cmp.Compare(t.End, end) > 0 {
			end = t.End
		}
	}
	return base.AppendInternalKey(nil, ts[0].Start, ts[0].Seq, base.KindRangeDelete),
		base.AppendInternalKey(nil, end, base.MaxSeq, base.KindRangeDelete)
}

// WidenBounds returns the bounds smallest and largest (internal keys; nil
// when unset) widened to cover the range tombstones ts (see
// RangeDelBounds).
func WidenBounds(cmp *base.Comparer, smallest, largest []byte, ts []rangedel.Tombstone) ([]byte, []byte) {
	first, last := RangeDelBounds(cmp, ts)
	if first == nil {
		return smallest, largest
	}
	icmp := func(a, b []byte) int { return base.InternalCompare(cmp.Compare, a, b) }
	if smallest == nil || icmp(first, smallest) < 0 {
		smallest = first
	}
	if largest == nil || icmp(last, largest) > 0 {
		largest = last
	}
	return smallest, largest
}
