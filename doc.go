// Package strata is an embedded, persistent key-value store: an LSM tree
// whose files are LevelDB's, so a database written by C++ LevelDB opens in
// Strata and one written by Strata opens in LevelDB.
//
// A write goes to the write-ahead log (NNNNNN.log) and to an in-memory
// skiplist (the memtable). A full memtable is frozen and flushed by a
// background goroutine to a sorted table (NNNNNN.ldb) in level 0; background
// compactions merge tables down through levels 1-6, each ten times larger
// than the one above. The MANIFEST records which tables make up the tree;
// CURRENT names the live MANIFEST.
//
// The data path, in the order the files present it: commit.go (sequence
// numbers, group commit, memtable), wal.go (the logs), flush.go and
// table_file.go (memtables to tables), compaction.go, version_set.go (the
// MANIFEST, through internal/manifest), get.go and iterator.go (reads),
// open.go (recovery), catchup.go (read-only handles), repair.go,
// checkpoint.go (consistent copies of a live database).
// docs/architecture.md draws the layers and follows a write and a read
// through them.
//
// Concurrency: a DB is safe for concurrent use by many goroutines. Batches,
// Iterators and Snapshots are not; use one per goroutine.
//
// Cancellation: the calls that can take long have a second form that takes
// a context.Context first, as database/sql's QueryContext:
// CompactRangeContext, CompactRangeWithContext, IngestContext,
// CheckpointContext and WaitForCompactionsContext. Once the context is
// done they stop promptly and return context.Cause(ctx); a compaction or an
// ingest cut short installs nothing and removes the files it wrote, so the
// database reads as before the call, and a checkpoint cut short removes
// what it wrote. The forms without a context (CompactRange, ...) run to
// the end. A long scan stops with IterOptions.Context.
//
// In-memory databases: a database opened with Options{FS: NewMemFS()}
// lives in memory, private to the process and gone with the FS, with the
// same semantics as on disk (see NewMemFS). For tests, caches and
// short-lived pipelines.
//
// Storage of your own: Options.FS takes any FS — wrap OSFS() or NewMemFS()
// (see ExampleFS), or implement FS and File from scratch — to keep the
// files encrypted, remote or counted; FS documents what the engine relies
// on (durability after Sync, atomic Rename, an exclusive Lock, ...).
//
// Backups: DB.Checkpoint writes a consistent, openable copy of a live
// database to another directory, hard-linking its tables where it can.
//
// Events: Options.EventListener is told of flushes, compactions, write
// stalls, table and log files created and deleted, and background errors,
// on the goroutine doing the work and never with the database's mutex held
// (see EventListener). The info log (Options.Logger, by default the LOG
// file) gets the same events, one line each.
package strata
