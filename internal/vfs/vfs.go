// Package vfs is the narrow file-system interface the engine does all its
// I/O through, so tests can swap the operating system for an in-memory file
// system that simulates power loss, or for one that injects faults.
//
// Durability contract (what the engine relies on and what MemFS simulates):
//   - Data written to a File is durable only after File.Sync returns nil.
//   - A newly created, renamed or removed directory entry is durable only
//     after the directory, opened with OpenDir, is synced.
//   - Rename replaces the destination atomically.
package vfs

import (
	"fmt"
	"io"
	"os"
)

// File is an open file. Implementations must allow ReadAt concurrently
// with any call, and Sync concurrently with Write and with another Sync
// (a log is synced while the next writes are appended); Read, Write and
// Close are not called concurrently on one File. Bytes a Write returned
// are readable at once, through this File and any File Open returns
// later, before Sync. (strata.FS documents the whole contract for users.)
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync makes everything written so far durable.
	Sync() error
	// Stat returns the file's metadata (Size at least).
	Stat() (os.FileInfo, error)
}

// FS is a file system.
type FS interface {
	// Create creates or truncates the named file for writing (and reading).
	Create(name string) (File, error)
	// Open opens the named file for reading.
	Open(name string) (File, error)
	// OpenDir opens a directory so that it can be synced.
	OpenDir(name string) (File, error)
	// Remove removes the named file or empty directory.
	Remove(name string) error
	// Rename atomically renames oldname to newname, replacing newname.
	Rename(oldname, newname string) error
	// Link creates newname as a hard link to oldname (used to ingest tables
	// and take checkpoints without copying). It fails if newname exists;
	// the engine copies when it fails.
	Link(oldname, newname string) error
	// MkdirAll creates a directory and any missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// List returns the names (not paths) of the entries in dir.
	List(dir string) ([]string, error)
	// Stat returns the named file's metadata.
	Stat(name string) (os.FileInfo, error)
	// Lock takes an exclusive advisory lock on the named file, creating it if
	// needed; the returned Closer releases it. Locking a file already locked,
	// by this process or another, fails.
	Lock(name string) (io.Closer, error)
	// PathJoin joins path elements (filepath.Join for the OS).
	PathJoin(elem ...string) string
}

// SyncDir makes the directory entries of dir durable (files created,
// renamed or removed in it): it opens dir with OpenDir and syncs it.
func SyncDir(fs FS, dir string) error {
	f, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
