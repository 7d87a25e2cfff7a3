package vfs

import "io"

// Appender is an append-only sink for a log file: the WAL writes its
// records through one. Write hands the bytes to the operating system (they
// survive a crash of this process, not of the machine); Sync makes
// everything written durable; Close releases the file.
type Appender interface {
	io.Writer
	Sync() error
	Close() error
}

// Retirer is implemented by an Appender that holds memory for the writes to
// come (the mapped appender's chunks). Retire releases it when nothing more
// will be written; Sync and Close still work, Write fails.
type Retirer interface {
	Retire() error
}

// SyncNoter is implemented by an Appender that writes differently once its
// file is synced (the mapped appender turns to pwrite: see
// mmapAppender.synced). NoteSync tells it of a sync made beside it, on the
// file under it (DB.SyncWAL's); it may be called from any goroutine.
type SyncNoter interface {
	NoteSync()
}

// NewAppender returns an Appender for f, a file just created for writing.
// When f is an operating-system file on Linux it is a memory-mapped
// appender (see mmapAppender): each Write is a copy into a shared mapping
// of the file, with no system call, which reaches the page cache exactly as
// write(2) would. Otherwise f itself is returned. On Close the mapped
// appender truncates the file to the bytes written.
func NewAppender(f File) Appender {
	if a, err := newMmapAppender(f); err == nil {
		return a
	}
	return f
}
