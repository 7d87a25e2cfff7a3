// Package iterator builds the read path out of composable
// base.InternalIterators:
//
//   - Merging merges any number of sorted children into one sorted stream
//     (memtables, level-0 tables and levels), in both directions;
//   - Level concatenates the tables of one sorted, non-overlapping level,
//     opening each table lazily and never opening a table outside its bounds;
//   - DBIter turns a stream of internal keys into what a user sees at a snapshot:
//     user keys, the newest visible value of each, tombstones hidden, bounds
//     applied (LevelDB's DBIter);
//   - SliceIter walks a sorted in-memory slice, for tests here and elsewhere.
//
// Invariants shared by every iterator here:
//
//   - Key and Value return slices owned by the iterator (or by a child) that
//     stay valid only until the next positioning call or Close. Callers that
//     keep a key copy it.
//   - Errors are sticky: once a child reports an error, or a malformed
//     internal key is met, the iterator is invalid, every later positioning
//     call returns false, and Error reports the first error. Iteration never
//     silently skips data it could not read.
//   - Steady-state positioning does not allocate: buffers and heaps are built
//     once and reused, and Init lets a caller reuse a whole iterator.
//   - None of them is safe for concurrent use.
package iterator
