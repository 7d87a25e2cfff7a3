package vfs

import "io"

// DefaultBytesPerSync is how often (in bytes written) a WritebackWriter
// asks the operating system to start writing a file's dirty pages to disk:
// Pebble's default for table files.
const DefaultBytesPerSync = 512 << 10

// WritebackWriter writes to a File being filled from start to end (a table)
// and, every bytesPerSync bytes, asks the operating system to start writing
// the bytes written since the last request to disk without waiting for
// them (RocksDB's and Pebble's bytes_per_sync). The final Sync of the file
// then has little left to write, so it returns in milliseconds instead of
// writing the whole file at once; durability is unchanged, since nothing
// relies on the file before that Sync. Where the operating system has no
// such request (or f is not an operating-system file) the writer only
// counts bytes.
type WritebackWriter struct {
	f            File
	bytesPerSync int64
	written      int64 // bytes written through the writer
	started      int64 // bytes [0, started) already handed to writeback
	// start asks for writeback of [off, off+n) of f; startWriteback, or a
	// recorder in tests.
	start func(f File, off, n int64) error
}

// NewWritebackWriter returns a writer to f, which must be empty, that starts
// writeback every bytesPerSync bytes; bytesPerSync <= 0 turns that off.
func NewWritebackWriter(f File, bytesPerSync int) *WritebackWriter {
	return &WritebackWriter{f: f, bytesPerSync: int64(bytesPerSync), start: startWriteback}
}

// Write writes p to the file, then starts writeback of the bytes written
// since the last start once there are bytesPerSync of them. An error from
// either is returned (a failed writeback request is a failed write: the
// final Sync would report the same failure).
func (w *WritebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if err != nil {
		return n, err
	}
	if w.bytesPerSync > 0 && w.written-w.started >= w.bytesPerSync {
		if err := w.start(w.f, w.started, w.written-w.started); err != nil {
			return n, err
		}
		w.started = w.written
	}
	return n, nil
}

var _ io.Writer = (*WritebackWriter)(nil)
