package strata

import (
	"fmt"
	"sync"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/memtable"
	"github.com/strata-db/strata/internal/rangedel"
	"github.com/strata-db/strata/internal/sstable"
	"github.com/strata-db/strata/internal/vfs"
)

// Writing table files. Every table the engine writes — a flush, a
// compaction output, a table recovered from a log or rebuilt by Repair, an
// ingested table rewritten with a new sequence number, a TableWriter's — is
// a tableFile: created, filled through its sstable.Writer, completed
// (writeOut), then synced and closed (sync); finish does both steps, and
// abandon removes an unfinished one. A flush keeps the two steps apart so
// that readers can use the table before its fsync (see DB.flushOne).

// tableFile is a table being written to a new file.
type tableFile struct {
	fs   vfs.FS
	num  uint64 // the table's file number (0 for a TableWriter's)
	path string
	file vfs.File
	w    *sstable.Writer
}

// newTableFile creates the file at path for a table numbered num, written
// with wo; bytesPerSync paces the file's writeback (Options.BytesPerSync).
func newTableFile(fs vfs.FS, path string, num uint64, wo sstable.WriterOptions, bytesPerSync int) (*tableFile, error) {
	f, err := fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("strata: create table %s: %w", path, err)
	}
	dst := vfs.NewWritebackWriter(f, bytesPerSync)
	w, _ := sstWriters.Get().(*sstable.Writer)
	if w == nil {
		w = sstable.NewWriter(dst, wo)
	} else {
		w.Reset(dst, wo)
	}
	return &tableFile{fs: fs, num: num, path: path, file: f, w: w}, nil
}

// createTable creates table num in the database directory, written with wo.
func (d *DB) createTable(num uint64, wo sstable.WriterOptions) (*tableFile, error) {
	return newTableFile(d.fs, base.MakeFilepath(d.dirname, base.FileTypeTable, num), num, wo, d.opts.BytesPerSync)
}

// sstWriters holds sstable Writers between tables. A Writer's buffers grow
// to the size of the tables it writes (a flushed 64 MiB memtable has a
// ~1 MB index and filter block, and its output buffer is 64 KiB), so a
// new Writer per table made megabytes of garbage per flush, which raised
// the Go heap (and peak RSS) by as much while the garbage collector caught
// up. A sync.Pool lets idle Writers go after two collections.
var sstWriters sync.Pool

// release returns t's Writer to sstWriters; t.w is unusable afterwards.
func (t *tableFile) release() {
	if t.w != nil {
		sstWriters.Put(t.w)
		t.w = nil
	}
}

// addRangeDels adds the range tombstones of s (nil: none).
func (t *tableFile) addRangeDels(s *rangedel.Set) {
	for _, ts := range s.Tombstones() {
		t.w.AddRangeDel(ts.Start, ts.End, ts.Seq)
	}
}

// addAll adds every entry of it, which it closes. entries and dataBytes,
// when known (0 otherwise), size the Writer's buffers
// (sstable.Writer.Reserve). On error the table is abandoned.
func (t *tableFile) addAll(it base.InternalIterator, entries int, dataBytes int64) error {
	t.w.Reserve(entries, dataBytes)
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		if err = t.w.Add(it.Key(), it.Value()); err != nil {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.abandon()
		return fmt.Errorf("strata: write table %s: %w", t.path, err)
	}
	return nil
}

// writeOut completes the table: every byte is written to the file (to the
// page cache: nothing is synced), and its metadata returned. An empty table
// is removed and nil returned. On error the file is removed.
func (t *tableFile) writeOut() (*manifest.FileMetadata, error) {
	if t.w.Empty() {
		t.abandon()
		return nil, nil
	}
	if err := t.w.Close(); err != nil {
		t.abandon()
		return nil, fmt.Errorf("strata: write table %s: %w", t.path, err)
	}
	md := t.w.Metadata()
	t.release()
	meta := &manifest.FileMetadata{Num: t.num, Size: md.Size, Smallest: md.Smallest, Largest: md.Largest}
	meta.InitAllowedSeeks()
	return meta, nil
}

// sync syncs and closes a table writeOut completed. On error the file is
// removed, unless keep (a flush's stand-in may be reading it).
func (t *tableFile) sync(keep bool) error {
	err := t.file.Sync()
	if cerr := t.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if !keep {
			t.fs.Remove(t.path)
		}
		return fmt.Errorf("strata: write table %s: %w", t.path, err)
	}
	return nil
}

// finish completes, syncs and closes the table. An empty table is removed
// and nil returned.
func (t *tableFile) finish() (*manifest.FileMetadata, error) {
	meta, err := t.writeOut()
	if err != nil || meta == nil {
		return nil, err
	}
	if err := t.sync(false); err != nil {
		return nil, err
	}
	return meta, nil
}

// abandon closes and removes the unfinished table.
func (t *tableFile) abandon() {
	t.release()
	t.file.Close()
	t.fs.Remove(t.path)
}

// writeMemTable writes every entry and range tombstone of m to a new table
// num in dir, synced:
// how recovery and Repair turn a replayed log into a table. It returns nil
// metadata (and leaves no file) when m is empty.
func writeMemTable(o *Options, dir string, num uint64, m *memtable.MemTable) (*manifest.FileMetadata, error) {
	t, err := newTableFile(o.FS, base.MakeFilepath(dir, base.FileTypeTable, num), num, o.writerOptions(), o.BytesPerSync)
	if err != nil {
		return nil, err
	}
	if err := t.addAll(m.NewScanIter(), m.Len(), int64(m.ApproximateMemoryUsage())); err != nil {
		return nil, err
	}
	t.addRangeDels(m.RangeDels())
	return t.finish()
}
