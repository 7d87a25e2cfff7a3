// Package memtable is Strata's in-memory write buffer: a lock-free skiplist
// of internal keys (user key + 8-byte trailer seq<<8|kind, the layout of
// base.AppendInternalKey) and their values, ordered by base.InternalCompare
// under a user comparer, living entirely in one fixed-size arena.
//
// # Design
//
// The arena is a single []byte (backed by a []uint32, so it is 4-byte
// aligned and holds no pointers the garbage collector must scan) allocated
// up front. Nodes are referenced by uint32 byte offsets into it; offset 0 is
// the nil node. Space is taken by a compare-and-swap bump of the arena's
// end offset, so an allocation that does not fit consumes nothing. Nothing
// is ever freed or overwritten: a MemTable only grows until it is dropped.
//
// Node layout (offsets in bytes from the node's offset nd; words are native
// endian and accessed as uint32; nd is 4-byte aligned; the tower precedes
// the node's offset, growing down):
//
//	+----------------+---------+------------------------------------------+
//	| offset         | size    | field                                    |
//	+----------------+---------+------------------------------------------+
//	| -4*h           | 4*h     | next[h-1..0]: successor per level        |
//	|                |         | (atomic); next[l] is at nd-4*(l+1)       |
//	| 0              | 4       | keyLen: internal key length (user key+8) |
//	| 4              | 4       | valLen: value length                     |
//	| 8              | 4       | height h: tower height, 1..maxHeight     |
//	| 12             | 4       | prev: level-0 predecessor hint (atomic)  |
//	| 16             | 4       | skip: version link, an older entry of    |
//	|                |         | the same user key, or 0 (see below)      |
//	| 20             | keyLen  | internal key: user key, fixed64 LE       |
//	|                |         | seq<<8|kind                              |
//	| 20+keyLen      | valLen  | value                                    |
//	| ...            | 0..3    | padding to a multiple of 4               |
//	+----------------+---------+------------------------------------------+
//
// A search reads a successor offset from the predecessor's tower, then the
// successor's key length and key. Every one of those addresses is known
// without loading anything from the successor first (the key sits at a
// fixed offset, not past a tower of the node's own height), so the loads of
// a node go out together: one cache miss's latency, not two in a row, where
// header and key straddle a cache line. For short keys the level-0 link,
// the header and the key of a node of height 1 lie within 40 bytes. The
// head node (offset 4+4*maxHeight, after the nil word and its full tower;
// height maxHeight, empty key) is never compared and never returned.
//
// Tower heights are random, 1..maxHeight (20) with p = 1/e per extra level
// (as Pebble's arenaskl), which took 10-17% less CPU per insert than 1/4 at
// 1M entries.
//
// The insert's search (findSplice) compares each node once, also where the
// successor one level down is the node just compared, and while it
// compares a successor it loads the header of the node the search compares
// first if it descends from the current predecessor, so that miss overlaps
// with the comparison.
//
// # Invariants
//
//   - Level 0 links every inserted entry exactly once, in strictly
//     increasing internal-key order; level i > 0 links a subsequence of
//     level i-1. Entries are never unlinked, moved or modified.
//   - A node's header, key and value are written before the node is linked
//     at level 0 by a compare-and-swap of its predecessor's next word; every
//     reader loads next words atomically, so a reader never sees a
//     half-written node (Go's sync/atomic operations order the plain writes
//     before them).
//   - Levels are linked bottom-up after level 0, so a node reached at level
//     i is already linked at every level below i.
//   - Two entries never share (user key, sequence): Add detects that at
//     level 0, where such entries would be neighbours, and the CAS that
//     links the node re-validates the neighbours it checked.
//   - A node's skip word is 0 or names a node after it on level 0 with an
//     equal user key; it is written before the node is linked and never
//     changes.
//   - A node's prev word always names a node that precedes it in order (or
//     the head), never the node itself or a later one. It is exact whenever
//     no Add is in flight; while inserts race it may lag behind.
//
// # Version links
//
// A key updated many times holds a run of entries on level 0, newest first,
// and a scan that wants only its newest visible version would step through
// every one of them, each a cache miss. A node's skip word names an older
// entry of its user key: when a node is linked right before an entry of the
// same user key, its skip is that entry's skip, or the entry itself when
// that is 0; otherwise 0. Every entry between a node and its skip sorts
// between two internal keys of one user key, so it has that user key too,
// and it stays so as entries are added; Iter.NextSkipping jumps along the
// link, so the run costs two nodes, not one per version. The link names the
// oldest entry of the run that existed when the node was linked; an older
// one linked later (sequence numbers of a group commit are inserted in any
// order) is stepped over as before.
//
// # Prev
//
// Iter.Prev does not search from the head as LevelDB does. It reads the
// level-0 prev hint of the current node and walks forward on level 0 until
// the node whose successor is the current node: O(1) when the hint is exact,
// which it is except transiently under concurrent inserts next to the node.
//
// # Concurrency
//
// Add may be called from any number of goroutines at once, concurrently with
// Get and with iterators. Get and an Iter observe an entry once its level-0
// link is in place; an iterator is not a snapshot, so callers filter entries
// by sequence number (the DB publishes a sequence only after all of its
// entries are inserted). An Iter itself is not safe for concurrent use.
//
// Slices returned by Get, Iter.Key and Iter.Value alias the arena (capacity
// clipped to their length, so appending to them cannot clobber the arena).
// They stay valid for as long as the MemTable is referenced.
package memtable
