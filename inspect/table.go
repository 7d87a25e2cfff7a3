package inspect

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
	"github.com/strata-db/strata/internal/sstable"
)

// InternalKey is a decoded internal key: the user key, the sequence number
// of the write and its kind ("SET", "DEL", "MERGE" for a merge operand, or
// "RANGEDEL" for a range tombstone's start, or its end as a table's
// largest key). Valid is false for bytes that are not an internal key (then
// UserKey holds them all).
type InternalKey struct {
	UserKey []byte
	Seq     uint64
	Kind    string
	Valid   bool
}

// ParseInternalKey decodes an internal key (user key + 8-byte trailer).
func ParseInternalKey(ikey []byte) InternalKey {
	ukey, seq, kind, ok := base.ParseInternalKey(ikey)
	if !ok {
		return InternalKey{UserKey: append([]byte(nil), ikey...)}
	}
	return InternalKey{UserKey: append([]byte(nil), ukey...), Seq: seq, Kind: kind.String(), Valid: true}
}

// Format renders the key as KEY#SEQ,KIND (or BAD-KEY(...) when invalid).
// A range tombstone's end as a table's largest key, the sentinel
// END#MaxSeq,RANGEDEL that bounds the table without covering END (see
// IsRangeDelEnd), is rendered END#max,RANGEDEL.
func (k InternalKey) Format(f KeyFormat) string {
	f = f.orDefault()
	if !k.Valid {
		return fmt.Sprintf("BAD-KEY(%s)", f(k.UserKey))
	}
	if k.IsRangeDelEnd() {
		return fmt.Sprintf("%s#max,%s", f(k.UserKey), k.Kind)
	}
	return fmt.Sprintf("%s#%d,%s", f(k.UserKey), k.Seq, k.Kind)
}

// IsRangeDelEnd reports whether k is a range tombstone's end used as a
// table's largest key (END#MaxSeq,RANGEDEL): an exclusive bound, the table
// holds nothing of END.
func (k InternalKey) IsRangeDelEnd() bool {
	return k.Valid && k.Seq == base.MaxSeq && k.Kind == base.KindRangeDelete.String()
}

// RangeTombstone is a range deletion as a table's range-deletion block
// stores it: every version older than Seq of every key in [Start, End) is
// deleted. Offset is the entry's offset in the file.
type RangeTombstone struct {
	Start, End []byte
	Seq        uint64
	Offset     int64
}

// Format renders the tombstone as [START, END)#SEQ.
func (t RangeTombstone) Format(f KeyFormat) string {
	f = f.orDefault()
	return fmt.Sprintf("[%s, %s)#%d", f(t.Start), f(t.End), t.Seq)
}

// Block describes one block of a table. Size excludes the 5-byte trailer
// (compression type and checksum) that follows every block.
type Block struct {
	Offset, Size uint64
	// RawSize is the uncompressed size; Compression the codec in the trailer.
	RawSize     int
	Compression string
	// Entries and Restarts count the block's entries and restart points.
	Entries, Restarts int
	// FirstKey and LastKey are the block's first and last internal keys
	// (data blocks only).
	FirstKey, LastKey InternalKey
	// Damage says why a data block could not be read ("" when it was);
	// only Offset and Size are known then.
	Damage string
}

// MetaEntry is one entry of a table's metaindex block.
type MetaEntry struct {
	Name         string
	Offset, Size uint64
}

// TableInfo is the layout of a table file.
type TableInfo struct {
	File string
	Size uint64
	// Entries is the number of entries, Compression the codec of the data
	// blocks ("none" when every block is stored raw).
	Entries     uint64
	Compression string
	// Smallest and Largest are the first and last internal keys of the
	// data blocks (the table's bounds, as the MANIFEST records them, also
	// cover its range tombstones: see Bounds).
	Smallest, Largest InternalKey
	DataBlocks        []Block
	Index, Metaindex  Block
	// Filter is the bloom filter block (nil when the table has none).
	Filter *Block
	// RangeDel is the range-deletion block (nil when the table has none:
	// every table C++ LevelDB writes), and RangeDels its tombstones in
	// file order: fragments, so that they do not overlap, one per sequence
	// of the tombstones covering the fragment.
	RangeDel    *Block
	RangeDels   []RangeTombstone
	MetaEntries []MetaEntry
	// DataBytes and RawDataBytes are the stored and uncompressed sizes of
	// all data blocks (trailers excluded; raw sizes of intact blocks only).
	DataBytes, RawDataBytes uint64
	// Findings lists the damaged data blocks, in file order. Entries,
	// Smallest and Largest count only intact blocks.
	Findings []Finding
}

const blockTrailerLen = 5

// openTable opens a table file, verifying checksums of everything read.
func openTable(path string) (*sstable.Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	r, err := sstable.NewReader(f, fi.Size(), sstable.ReaderOptions{FileName: path, VerifyChecksums: true})
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, f, nil
}

// DescribeTable reads every block of the table at path and describes its
// layout. A damaged data block is described as such (Block.Damage) and
// listed in Findings; damage that hides the blocks (in the footer, the
// index or the metaindex) gives a *base.CorruptionError (errors.Is
// strata.ErrCorruption) naming the file and offset.
func DescribeTable(path string) (*TableInfo, error) {
	r, f, err := openTable(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer r.Close()
	l, err := r.LayoutDamaged()
	if err != nil {
		return nil, err
	}
	info := &TableInfo{
		File:        path,
		Size:        l.FileSize,
		Entries:     l.NumEntries,
		Compression: l.Compression.String(),
		Index:       block(l.Index),
		Metaindex:   block(l.Metaindex),
	}
	for _, b := range l.DataBlocks {
		blk := block(b)
		if b.Err != nil {
			fd := findingFrom(b.Err, filepath.Base(path))
			info.Findings = append(info.Findings, fd)
			blk.Damage = fd.Msg
		}
		info.DataBlocks = append(info.DataBlocks, blk)
		info.DataBytes += blk.Size
		info.RawDataBytes += uint64(blk.RawSize)
	}
	for _, blk := range info.DataBlocks {
		if blk.Entries > 0 {
			info.Smallest = blk.FirstKey
			break
		}
	}
	for i := len(info.DataBlocks) - 1; i >= 0; i-- {
		if blk := info.DataBlocks[i]; blk.Entries > 0 {
			info.Largest = blk.LastKey
			break
		}
	}
	for _, m := range l.MetaEntries {
		info.MetaEntries = append(info.MetaEntries, MetaEntry{Name: m.Name, Offset: m.Handle.Offset, Size: m.Handle.Size})
	}
	if l.HasFilter {
		info.Filter = &Block{Offset: l.Filter.Offset, Size: l.Filter.Size, RawSize: int(l.Filter.Size), Compression: "none"}
	}
	entries, h, found, err := r.RangeDelBlock()
	if err != nil {
		return nil, err
	}
	if found {
		info.RangeDel = &Block{Offset: h.Offset, Size: h.Size, RawSize: int(h.Size), Compression: "none", Entries: len(entries)}
		for _, e := range entries {
			info.RangeDels = append(info.RangeDels, RangeTombstone(e))
		}
	}
	return info, nil
}

// Bounds returns the table's smallest and largest internal keys as the
// MANIFEST records them: those of the data blocks widened to cover the
// range tombstones (the largest then may be a tombstone's end, END#max,
// RANGEDEL, which excludes END). ok is false when the table holds neither
// entries nor tombstones.
func (t *TableInfo) Bounds() (smallest, largest InternalKey, ok bool) {
	var lo, hi []byte
	if t.Entries > 0 {
		lo, hi = t.Smallest.encode(), t.Largest.encode()
	}
	lo, hi = sstable.WidenBounds(base.DefaultComparer, lo, hi, t.tombstones())
	if lo == nil {
		return InternalKey{}, InternalKey{}, false
	}
	return ParseInternalKey(lo), ParseInternalKey(hi), true
}

// tombstones returns the table's range tombstones in the rangedel form.
func (t *TableInfo) tombstones() []rangedel.Tombstone {
	ts := make([]rangedel.Tombstone, len(t.RangeDels))
	for i, rt := range t.RangeDels {
		ts[i] = rangedel.Tombstone{Start: rt.Start, End: rt.End, Seq: rt.Seq}
	}
	return ts
}

func block(b sstable.BlockInfo) Block {
	blk := Block{
		Offset: b.Handle.Offset, Size: b.Handle.Size, RawSize: b.RawSize,
		Compression: b.Compression.String(), Entries: b.NumEntries, Restarts: b.NumRestarts,
	}
	if b.FirstKey != nil {
		blk.FirstKey = ParseInternalKey(b.FirstKey)
	}
	if b.LastKey != nil {
		blk.LastKey = ParseInternalKey(b.LastKey)
	}
	return blk
}

// WriteText writes the layout for people: a summary, then (with blocks)
// one line per block in file order.
func (t *TableInfo) WriteText(w io.Writer, kf KeyFormat, blocks bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s\n", t.File)
	fmt.Fprintf(&b, "  size         %d bytes\n", t.Size)
	fmt.Fprintf(&b, "  entries      %d\n", t.Entries)
	fmt.Fprintf(&b, "  compression  %s\n", t.Compression)
	ratio := 0.0
	if t.DataBytes > 0 {
		ratio = float64(t.RawDataBytes) / float64(t.DataBytes)
	}
	fmt.Fprintf(&b, "  data         %d blocks, %d bytes stored, %d raw (ratio %.2f)\n",
		len(t.DataBlocks), t.DataBytes, t.RawDataBytes, ratio)
	fmt.Fprintf(&b, "  index        offset %d, %d bytes, %d entries\n", t.Index.Offset, t.Index.Size, t.Index.Entries)
	if t.Filter != nil {
		fmt.Fprintf(&b, "  filter       offset %d, %d bytes (bloom)\n", t.Filter.Offset, t.Filter.Size)
	} else {
		b.WriteString("  filter       none\n")
	}
	fmt.Fprintf(&b, "  metaindex    offset %d, %d bytes", t.Metaindex.Offset, t.Metaindex.Size)
	for _, m := range t.MetaEntries {
		fmt.Fprintf(&b, "; %s -> %d+%d", m.Name, m.Offset, m.Size)
	}
	b.WriteString("\n")
	if t.RangeDel != nil {
		fmt.Fprintf(&b, "  range-del    offset %d, %d bytes, %d tombstones\n", t.RangeDel.Offset, t.RangeDel.Size, len(t.RangeDels))
	}
	fmt.Fprintf(&b, "  footer       offset %d, 48 bytes\n", t.Size-48)
	intact := ""
	if len(t.Findings) > 0 {
		fmt.Fprintf(&b, "  damage       %d of %d data blocks unreadable (marked DAMAGED below); entries and keys are of the others\n",
			len(t.Findings), len(t.DataBlocks))
		intact = " (of the intact blocks)"
	}
	if t.Entries > 0 {
		fmt.Fprintf(&b, "  smallest     %s%s\n", t.Smallest.Format(kf), intact)
		fmt.Fprintf(&b, "  largest      %s%s\n", t.Largest.Format(kf), intact)
	}
	if lo, hi, ok := t.Bounds(); ok && t.RangeDel != nil {
		fmt.Fprintf(&b, "  bounds       %s .. %s (entries and range tombstones)\n", lo.Format(kf), hi.Format(kf))
	}
	if blocks {
		b.WriteString("  blocks:\n")
		for i, blk := range t.DataBlocks {
			if blk.Damage != "" {
				fmt.Fprintf(&b, "    data %-5d offset %-9d size %-6d DAMAGED: %s\n", i, blk.Offset, blk.Size, blk.Damage)
				continue
			}
			fmt.Fprintf(&b, "    data %-5d offset %-9d size %-6d raw %-6d %-6s entries %-4d restarts %-3d %s .. %s\n",
				i, blk.Offset, blk.Size, blk.RawSize, blk.Compression, blk.Entries, blk.Restarts,
				blk.FirstKey.Format(kf), blk.LastKey.Format(kf))
		}
		if t.Filter != nil {
			fmt.Fprintf(&b, "    filter     offset %-9d size %d\n", t.Filter.Offset, t.Filter.Size)
		}
		if t.RangeDel != nil {
			fmt.Fprintf(&b, "    range-del  offset %-9d size %-6d none, %d entries\n", t.RangeDel.Offset, t.RangeDel.Size, len(t.RangeDels))
		}
		fmt.Fprintf(&b, "    metaindex  offset %-9d size %-6d %s\n", t.Metaindex.Offset, t.Metaindex.Size, t.Metaindex.Compression)
		fmt.Fprintf(&b, "    index      offset %-9d size %-6d %s, %d entries\n", t.Index.Offset, t.Index.Size, t.Index.Compression, t.Index.Entries)
		fmt.Fprintf(&b, "    footer     offset %-9d size 48\n", t.Size-48)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ScanTable calls fn with every entry of the table at path, in order:
// its internal key and value (valid only during the call). It stops at
// the first error (a damaged block, or one from fn).
func ScanTable(path string, fn func(key InternalKey, value []byte) error) error {
	r, f, err := openTable(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer r.Close()
	it := r.NewIter()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(ParseInternalKey(it.Key()), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// WriteRangeDels writes the table's range tombstones for people, one per
// line: [START, END)#SEQ, in file order.
func (t *TableInfo) WriteRangeDels(w io.Writer, kf KeyFormat) error {
	var b strings.Builder
	for _, rt := range t.RangeDels {
		fmt.Fprintf(&b, "%s\n", rt.Format(kf))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// CheckTable verifies every checksum of the table at path, its structure,
// the order of its keys, and its range-deletion block (sstable.Reader.Check).
// The error names the file and offset of the first problem.
func CheckTable(path string) error {
	r, f, err := openTable(path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer r.Close()
	return r.Check()
}
