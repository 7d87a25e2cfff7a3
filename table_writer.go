package strata

import (
	"errors"
	"fmt"

	"github.com/strata-db/strata/internal/base"
)

// TableWriter builds a sorted table file offline, in LevelDB's table
// format, for DB.Ingest: parallel loaders that each write a table and
// ingest them together are the fastest way to build a large database.
// Keys must be added in strictly increasing order (by Options.Comparator).
// A TableWriter is not safe for concurrent use.
type TableWriter struct {
	t    *tableFile
	opts *Options
	cmp  *Comparer
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
	t, err := newTableFile(o.FS, path, 0, o.writerOptions(), o.BytesPerSync)
	if err != nil {
		return nil, err
	}
	return &TableWriter{t: t, opts: o, cmp: o.Comparator}, nil
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
	if len(key) > w.opts.MaxKeySize || len(value) > w.opts.MaxValueSize {
		b := Batch{maxKey: len(key), maxValue: len(value)}
		w.err = fmt.Errorf("strata: table %s: %w", w.t.path, b.checkSizes(w.opts))
		return w.err
	}
	if w.n > 0 && w.cmp.Compare(key, w.last) <= 0 {
		w.err = fmt.Errorf("strata: table %s: key %q added after %q: keys must be strictly increasing", w.t.path, key, w.last)
		return w.err
	}
	// Sequence 0: DB.Ingest gives the entries a sequence newer than every
	// write already in the database when that is needed.
	w.ikey = base.AppendInternalKey(w.ikey[:0], key, 0, base.KindSet)
	if err := w.t.w.Add(w.ikey, value); err != nil {
		w.err = fmt.Errorf("strata: table %s: %w", w.t.path, err)
		return w.err
	}
	w.last = append(w.last[:0], key...)
	w.n++
	return nil
}

// DeleteRange adds a range tombstone over [start, end): once the table is
// ingested, it deletes the keys of that range the database held before
// (not the table's own entries, which are as new as it). Tombstones may be
// added in any order, before, between or after Add calls. An empty range
// (start >= end) is ignored.
func (w *TableWriter) DeleteRange(start, end []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errors.New("strata: TableWriter.DeleteRange after Close")
	}
	if len(start) > w.opts.MaxKeySize || len(end) > w.opts.MaxKeySize {
		b := Batch{maxKey: max(len(start), len(end))}
		w.err = fmt.Errorf("strata: table %s: %w", w.t.path, b.checkSizes(w.opts))
		return w.err
	}
	if w.cmp.Compare(start, end) >= 0 {
		return nil
	}
	w.t.w.AddRangeDel(start, end, 0)
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
	if w.err != nil {
		w.t.abandon()
		return w.err
	}
	_, err := w.t.finish() // an empty table is removed
	return err
}
