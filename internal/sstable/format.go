package sstable

import (
	"encoding/binary"
	"fmt"

	"github.com/strata-db/strata/internal/base"
)

// Compression is the codec of a block, stored in its trailer.
type Compression uint8

// The block-trailer compression codes of LevelDB.
const (
	// NoCompression stores blocks raw.
	NoCompression Compression = 0
	// SnappyCompression stores blocks in the raw (unframed) snappy format.
	SnappyCompression Compression = 1
	// ZstdCompression stores blocks as single zstd frames (code 2 of current
	// LevelDB sources; LevelDB 1.23 itself cannot read it).
	ZstdCompression Compression = 2
)

// String returns "none", "snappy", "zstd" or "compression(N)".
func (c Compression) String() string {
	switch c {
	case NoCompression:
		return "none"
	case SnappyCompression:
		return "snappy"
	case ZstdCompression:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

const (
	// blockTrailerLen is the size of the trailer after every block.
	blockTrailerLen = 5
	// maxBlockHandleLen is the longest encoding of a BlockHandle.
	maxBlockHandleLen = 2 * binary.MaxVarintLen64
	// footerLen is the size of the footer: two padded handles and the magic.
	footerLen = 2*maxBlockHandleLen + 8
	// tableMagic ends every table file.
	tableMagic uint64 = 0xdb4775248b80fb57
	// filterMetaKey is the metaindex key of the bloom filter block.
	filterMetaKey = "filter.leveldb.BuiltinBloomFilter2"
	// rangeDelMetaKey is the metaindex key of the range-deletion block
	// (RocksDB's name). The block has the layout of a data block (restart
	// interval 1, no compression); each entry is a fragment of the table's
	// range tombstones: key Start#Seq,RANGEDEL (an internal key), value End.
	// Entries are in internal-key order, fragments do not overlap, and a
	// fragment covered by several tombstones has one entry per sequence.
	// A table without range tombstones has no such block (C++ LevelDB's
	// tables never do).
	rangeDelMetaKey = "rocksdb.range_del"
)

// BlockHandle locates a block in the file: its offset and its size, the
// size excluding the 5-byte trailer.
//
// Encoding (LevelDB's BlockHandle::EncodeTo), 2 to 20 bytes:
//
//	+-----------------+---------------+
//	| varint64 offset | varint64 size |
//	+-----------------+---------------+
type BlockHandle struct {
	Offset, Size uint64
}

// String renders "offset+size".
func (h BlockHandle) String() string { return fmt.Sprintf("%d+%d", h.Offset, h.Size) }

// appendBlockHandle appends h's encoding to dst.
func appendBlockHandle(dst []byte, h BlockHandle) []byte {
	dst = binary.AppendUvarint(dst, h.Offset)
	return binary.AppendUvarint(dst, h.Size)
}

// decodeBlockHandle decodes a handle from the start of b and returns it with
// the number of bytes read (n <= 0 if b does not start with a valid handle).
func decodeBlockHandle(b []byte) (h BlockHandle, n int) {
	off, n1 := binary.Uvarint(b)
	if n1 <= 0 {
		return BlockHandle{}, 0
	}
	size, n2 := binary.Uvarint(b[n1:])
	if n2 <= 0 {
		return BlockHandle{}, 0
	}
	return BlockHandle{off, size}, n1 + n2
}

// footer is the fixed-size tail of a table.
//
// Layout (LevelDB's Footer::EncodeTo), exactly 48 bytes:
//
//	+------------------+--------------+---------------------+-----------------+
//	| metaindex handle | index handle | zero padding to 40B | fixed64 magic   |
//	| (varints)        | (varints)    |                     | 0xdb4775248b80fb57 |
//	+------------------+--------------+---------------------+-----------------+
type footer struct {
	metaindex, index BlockHandle
}

func (f footer) encode(dst []byte) []byte {
	start := len(dst)
	dst = appendBlockHandle(dst, f.metaindex)
	dst = appendBlockHandle(dst, f.index)
	for len(dst)-start < 2*maxBlockHandleLen {
		dst = append(dst, 0)
	}
	return binary.LittleEndian.AppendUint64(dst, tableMagic)
}

// decodeFooter parses the footer found at file offset off.
func decodeFooter(b []byte, file string, off int64) (footer, error) {
	if len(b) != footerLen {
		return footer{}, base.CorruptionErrorf(file, off, "file is too short to be an sstable")
	}
	if binary.LittleEndian.Uint64(b[footerLen-8:]) != tableMagic {
		return footer{}, base.CorruptionErrorf(file, off+footerLen-8, "bad magic number (not an sstable)")
	}
	var f footer
	var n1, n2 int
	f.metaindex, n1 = decodeBlockHandle(b[:footerLen-8])
	if n1 > 0 {
		f.index, n2 = decodeBlockHandle(b[n1 : footerLen-8])
	}
	if n1 <= 0 || n2 <= 0 {
		return footer{}, base.CorruptionErrorf(file, off, "bad block handle in footer")
	}
	return f, nil
}

// Block trailer (LevelDB's kBlockTrailerSize), written after every block's
// possibly compressed contents:
//
//	+------------------+--------------------------------------------------+
//	| uint8 compression | fixed32 masked crc32c(contents || compression) |
//	+------------------+--------------------------------------------------+
func appendBlockTrailer(dst, contents []byte, c Compression) []byte {
	dst = append(dst, byte(c))
	// The type byte is checksummed from dst: a one-byte slice literal
	// would escape to the heap, one allocation per block written.
	crc := base.CRCUpdate(base.CRC(contents), dst[len(dst)-1:])
	return binary.LittleEndian.AppendUint32(dst, base.MaskCRC(crc))
}
