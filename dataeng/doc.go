// Package dataeng holds the data-engineering algorithms built on the
// engine: ParallelScan (a key range cut into parts of equal bytes, each read
// by its own iterator on one snapshot), CompareKeySets and
// ParallelCompareKeySets (set logic across two databases by a two-pointer
// walk) and GroupBy (map, a compaction as the shuffle, reduce, out of core).
//
// It is a client of the engine's public API only (package strata): no
// internal package, no private hook. What it needs from the engine —
// DB.SplitKeys, snapshots, bounded iterators that stop when their
// IterOptions.Context is done, bulk-load options and
// CompactRangeWithContext — any user of the engine has too. Keys it writes to scratch databases are
// encoded with package keys.
//
// Invariants. Every helper reads each database as of one snapshot (taken at
// the start and released at the end unless the caller passes its own), so
// the parts of a parallel walk together see each key exactly once. Parts
// are numbered in key order; callbacks for different parts run
// concurrently. The first error cancels the other parts and is returned,
// wrapped with the part and its bounds.
//
// docs/data-engineering.md shows each pattern with its command-line form.
package dataeng
