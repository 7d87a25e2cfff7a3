package strata

import "github.com/strata-db/strata/internal/vfs"

// FS is the file system a database does all its I/O through
// (Options.FS): the operating system's by default (OSFS), memory
// (NewMemFS), or one you bring: wrap OSFS() or NewMemFS() and change what
// you need (ExampleFS wraps one with a toy cipher), or implement every
// method, to keep the files encrypted, remote, or counted. Its methods
// use only File, os.FileInfo and io.Closer, so a package outside this
// module can implement it; every file a database has (tables, logs,
// MANIFEST, CURRENT, LOCK, LOG, HOLES, lost/) and every file Repair,
// Destroy, ClearHoles, NewTableWriter, Ingest and Checkpoint touch goes
// through it.
//
// What the engine relies on, as the operating system and NewMemFS give
// it (internal/vfs documents the same contract; MemFS simulates it,
// power cuts included):
//
//   - Durability. Data written to a File is durable (survives a crash of
//     the machine) once File.Sync returns nil, not before; a directory
//     entry created, renamed or removed is durable once the directory,
//     opened with OpenDir, is synced. The engine syncs the file, then the
//     directory, before anything depends on them (a MANIFEST naming a
//     table, CURRENT naming a MANIFEST, a Sync write's acknowledgement).
//     An FS may make things durable sooner, never later.
//   - Visibility. Bytes a Write returned are readable at once by ReadAt
//     and through a File that Open returns later, before Sync or Close: a
//     flushed table is read before it is synced, and read-only handles
//     read the log the writer is appending.
//   - Rename replaces newname atomically: after a crash, newname is the
//     old file or the new one, never a mix (CURRENT is replaced so).
//   - Absence. A missing file or directory is an error matching
//     io/fs.ErrNotExist under errors.Is (from Open, Stat, List, Remove):
//     that is how the engine tells "absent" from "failed". Any other error
//     is a failure: reported to the caller, and a failed write, sync,
//     flush or compaction stops further writes until the database is
//     reopened.
//   - Lock takes an exclusive lock on the named file, creating it, until
//     the returned io.Closer is closed; locking a file that another
//     process or another Open in this process holds fails, best with an
//     error matching ErrLocked. Without a real lock, two handles could
//     write one database and damage it.
//   - Link makes a hard link and fails if newname exists; it may always
//     fail (no hard links, another device): Ingest with Move and
//     Checkpoint then copy.
//   - Create creates or truncates a file for writing and reading; Open
//     opens one for reading; MkdirAll creates a directory and its
//     parents; Remove removes a file or an empty directory, and fails on
//     a directory that is not empty (Checkpoint's clean-up relies on it
//     not to remove another's); List returns the names (not paths) in a
//     directory; PathJoin joins names as filepath.Join does. Stat's and
//     File.Stat's FileInfo need Size and IsDir.
//   - Concurrency. An FS is used by many goroutines at once. On one File,
//     ReadAt may run concurrently with any call, and Sync concurrently
//     with Write and with another Sync (a log is synced while the next
//     writes are appended); Read, Write and Close are never called
//     concurrently with each other.
//
// The operating system's FS also maps tables into memory for reads, writes
// logs through a mapping, and paces the writeback of new tables; those
// need the *os.File it returns, so a File of your own is read with ReadAt
// and written with Write: as correct, somewhat slower.
type FS = vfs.FS

// File is an open file of an FS; see FS for what the engine relies on.
type File = vfs.File

// OSFS returns the operating system's file system: the default
// Options.FS, and what an FS of your own can wrap to keep the files on
// disk while changing how they are written or read.
func OSFS() FS { return vfs.Default }

// NewMemFS returns an empty file system that lives in memory. A database
// opened on it (Options.FS) is an in-memory database, as LevelDB's
// NewMemEnv and Pebble's vfs.NewMem give: private to the process, gone when
// the last reference to the FS is dropped, and bounded by memory only (its
// tables' bytes are held as written, compressed). Otherwise it is the same
// engine with the same semantics as on disk: the same files in the same
// layout, compactions, snapshots, Close and a later Open on the same FS
// (which finds what a reopen on disk would), the LOCK
// that refuses a second Open of one directory, errors matching
// io/fs.ErrNotExist, Repair, Destroy and Checkpoint. Paths are
// slash-separated; a relative one is taken from the FS's root. Nothing
// outside the process can read it: the strata command and package inspect
// work on the operating system's files only. For tests, caches and
// short-lived pipelines.
func NewMemFS() FS { return vfs.NewMem() }
