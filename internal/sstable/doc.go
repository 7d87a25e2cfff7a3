// Package sstable reads and writes LevelDB table files (NNNNNN.ldb), byte for
// byte compatible with C++ LevelDB 1.23: a table written here opens in
// LevelDB and a LevelDB table opens here.
//
// A table is an immutable, sorted run of entries keyed by internal keys (user
// key + 8-byte trailer, see internal/base) ordered by base.InternalCompare
// over a user *base.Comparer. File layout (every block is followed by a
// 5-byte trailer; the filter block is optional; the footer is 48 bytes):
//
//	+--------------+-----+--------------+--------------+-----------+-------+--------+
//	| data block 0 | ... | data block n | filter block | metaindex | index | footer |
//	+--------------+-----+--------------+--------------+-----------+-------+--------+
//
// The parts:
//
//   - Data blocks hold the entries (block.go), each block followed by a
//     trailer (compression type, masked crc32c; format.go).
//   - The filter block (filter.go, bloom.go) holds one bloom filter per 2 KiB
//     of data-block offsets over the user keys; it is never compressed.
//   - The metaindex block maps "filter.leveldb.BuiltinBloomFilter2" to the
//     filter block's handle; unknown entries are ignored.
//   - The index block has one entry per data block: a key >= every key of the
//     block and < every key of the next one (a shortened separator), whose
//     value is the block's handle. Its restart interval is 1.
//   - The footer (format.go) locates the metaindex and index blocks and ends
//     with the magic number 0xdb4775248b80fb57.
//
// Invariants: keys within a table are strictly increasing in internal order;
// blocks are never modified once written; a Reader never returns bytes that
// failed a check: damaged input yields a *base.CorruptionError naming the file
// and offset, never a panic and never different data.
package sstable
