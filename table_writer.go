package strata

import (
	"errors"
	"fmt"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/sstable"
	"github.com/strata-db/strata/internal/vfs"
)

// TableWriter builds a sorted table file offline, in LevelDB's table
// format, for DB.Ingest: parallel loaders that each write a table and
// ingest them together are the fastest way to build a large database.
// Keys must be added in strictly increasing order (by Options.Comparator).
// A TableWriter is not safe for concurrent use.
type TableWriter struct {
	path string
	fs   FS
	file File
	cmp  *Comparer
	w    *sstable.Writer
	last []byte
	ikey []byte
	n    uint64
	err  error
	done bool
}

// NewTableWriter creates the table file at path (which must not exist
// inside a live database directory under a table's name). The block size,
// restart interval, compression, bloom filter and comparator come from
// opts (nil means defaults), as for the database the table is meant for.
func NewTableWriter(path string, opts *Options) (*TableWriter, error) {
	o := opts.withDefaults()
	f, err := o.FS.Create(path)
	if err != nil {
		return nil, fmt.Errorf("strata: create table %s: %w", path, err)
	}
	d := &DB{opts: o, cmp: o.Comparator}
	return &TableWriter{path: path, fs: o.FS, file: f, cmp: o.Comparator,
		w: sstable.NewWriter(vfs.NewWritebackWriter(f, o.BytesPerSync), d.writerOptions())}, nil
}

// Add appends key with value. key must sort after every key added before;
// otherwise Add returns an error and the writer accepts nothing more.
func (w *TableWriter) Add(key, value []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errors.New("strata: TableWriter.Add after Close")
	}
	if w.n > 0 && w.cmp.Compare(key, w.last) <= 0 {
		w.err = fmt.Errorf("strata: table %s: key %q added after %q: keys must be strictly increasing", w.path, key, w.last)
		return w.err
	}
	// Sequence 0: DB.Ingest gives the entries a sequence newer than every
	// write already in the database when that is needed.
	w.ikey = base.AppendInternalKey(w.ikey[:0], key, 0, base.KindSet)
	if err := w.w.Add(w.ikey, value); err != nil {
		w.err = fmt.Errorf("strata: table %s: %w", w.path, err)
		return w.err
	}
	w.last = append(w.last[:0], key...)
	w.n++
	return nil
}

// Count returns the number of entries added.
func (w *TableWriter) Count() uint64 { return w.n }

// Close finishes the table, syncs and closes the file. After an Add error
// it removes the file and returns that error. A table with no entries is
// removed and Close returns nil.
func (w *TableWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.err != nil || w.n == 0 {
		w.file.Close()
		w.fs.Remove(w.path)
		return w.err
	}
	err := w.w.Close()
	if err == nil {
		err = w.file.Sync()
	}
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.fs.Remove(w.path)
		return fmt.Errorf("strata: write table %s: %w", w.path, err)
	}
	return nil
}
