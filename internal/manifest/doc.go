// Package manifest holds the LSM tree's metadata logic: which table files
// make up the tree (a Version), the change records that move it from one
// Version to the next (a VersionEdit, the payload of MANIFEST log records),
// the Builder that applies edits, and the compaction picker; and the
// MANIFEST and CURRENT files themselves (manifest_file.go): Replay, the one
// reading of a MANIFEST that Open, CatchUp and the inspection tools share,
// Writer and SetCurrent. That is all its I/O: the log framing is package
// record's, the tables package sstable's.
//
// The VersionEdit encoding is byte-compatible with LevelDB 1.23
// (db/version_edit.cc): edits Strata writes decode in C++ LevelDB and vice
// versa. The picking rules follow db/version_set.cc (PickCompaction,
// SetupOtherInputs, CompactRange, PickLevelForMemTableOutput) so that a tree
// evolves as it would under LevelDB; PickerOptions.DynamicLevelBytes replaces
// LevelDB's fixed level budgets with RocksDB's dynamic ones (LevelTargets).
//
// Invariants of a Version (checked by Builder.Finish and CheckConsistency):
//   - Level 0 is ordered by file number ascending: the newest file is last.
//     Level-0 files may overlap one another; readers visit them newest first.
//   - Levels 1 and up are ordered by smallest internal key and their files do
//     not overlap: each file's largest key sorts strictly before the next
//     file's smallest key. Two adjacent files may still share a user key
//     (with different sequence numbers), which is why compactions pull in
//     such "boundary" neighbours.
//   - Every file's smallest key sorts at or before its largest key, and a
//     file number appears at most once in the whole Version.
//   - A Version is immutable once built: its level slices and the keys of its
//     FileMetadata are never modified, so any number of readers may use it
//     without locks. Only the FileMetadata atomics (AllowedSeeks,
//     Compacting), the reference count and the seek-compaction candidate
//     change after construction, and all of them are safe for concurrent use.
//
// Concurrent compactions. The picker never hands out a compaction that
// shares an input with a running one: every file of a running compaction
// carries the Compacting flag (set by Compaction.MarkCompacting while the
// caller still holds the mutex it picked under), and a candidate that would
// read such a file is skipped. That also keeps output ranges apart, because
// every compaction the picker returns is "covered": the key range
// [Smallest, Largest] it will write into its output level (Level+1, or the
// base level for level 0) is the union of the ranges of its input files,
// with no gap. The output-level inputs are all its files overlapping the
// level inputs, so any later candidate whose output range would meet a
// running compaction's output range must overlap one of that compaction's
// input files, in level Level (level-0 inputs are expanded to every
// overlapping level-0 file; in levels 1+ files do not overlap) or in the
// output level (its inputs there are then Compacting).
//
// Dynamic level sizes (PickerOptions.DynamicLevelBytes) let level 0 skip
// the empty levels above the base level. A compaction picked while the base
// level was deeper may still be writing into level B when the base level
// has moved to B-1 (or the reverse); that keeps every key's entries newest
// first, because a level-0 compaction's output holds only keys of its
// level-0 inputs and of its output-level inputs, and any later level-0
// compaction's level-0 inputs overlap none of its level-0 inputs: entries
// from level 0 are newer than any below it, wherever they land. The
// simulation in sim_test.go checks this under random interleavings. Manual compactions,
// whose requested range may span gaps between files, are cut at the first gap
// so they stay covered; the caller simply continues from where the previous
// piece ended. PickLevelForMemTableOutput gives the same guarantee to
// flushes: a flush is pushed below level 0 only into a key range that meets
// no file of levels 0 through the chosen level, hence no running
// compaction's output range. The one rule left to the engine: flushes whose
// key ranges overlap must not be placed concurrently (LevelDB flushes one
// memtable at a time).
package manifest
