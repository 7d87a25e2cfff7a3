package strata

import (
	"errors"
	"fmt"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/memtable"
)

// Indexed batches (RocksDB's WriteBatchWithIndex, Pebble's indexed
// batch): a Batch that also keeps its writes in a private memtable, so that
// reads through it see them over the database. The batch's entries are
// numbered from batchSeqBase, above every sequence the database hands out,
// in the order they were added: so a later write in the batch overrides an
// earlier one, and the batch's range deletions and merges apply to what
// lies beneath them, by the engine's ordinary rules. The database beneath
// is read at its own sequence (the latest, or a snapshot's): see
// iterator.Merging.SetSeqCap.

// batchSeqBase numbers an indexed batch's entries. The database's sequences
// stay below it (a database would need 2^55 writes to reach it; reads
// through an indexed batch refuse one that has).
const batchSeqBase = uint64(1) << 55

// ErrNotIndexed is returned by Get and NewIterator on a Batch that is not
// indexed (see DB.NewIndexedBatch).
var ErrNotIndexed = errors.New("strata: batch is not indexed (DB.NewIndexedBatch makes one that can be read)")

// batchIndex is an indexed batch's read side.
type batchIndex struct {
	db   *DB
	snap *Snapshot // read the database at it (nil: the latest state)
	mem  *memtable.MemTable
}

// NewIndexedBatch returns an empty batch whose Get and NewIterator see its
// own writes (puts, deletes, range deletions, merges) over the database's
// latest state: the read-your-writes base of a transaction. It is written
// with DB.Write like any batch. Not safe for concurrent use.
func (d *DB) NewIndexedBatch() *Batch {
	return &Batch{ix: &batchIndex{db: d}}
}

// NewIndexedBatch returns an indexed batch (see DB.NewIndexedBatch) that
// reads the database as of the snapshot. The snapshot must stay open while
// the batch is read.
func (s *Snapshot) NewIndexedBatch() *Batch {
	return &Batch{ix: &batchIndex{db: s.db, snap: s}}
}

// Indexed reports whether the batch is indexed (its reads see its writes).
func (b *Batch) Indexed() bool { return b.ix != nil }

// indexAdd records the batch's latest operation in its index.
func (b *Batch) indexAdd(kind base.Kind, key, value []byte) {
	if b.ix.mem == nil {
		b.ix.mem = memtable.New(b.ix.db.cmp, 32<<10)
	}
	seq := batchSeqBase + uint64(b.count) - 1
	for {
		var err error
		if kind == base.KindRangeDelete {
			err = b.ix.mem.AddRangeDel(seq, key, value)
		} else {
			err = b.ix.mem.Add(seq, kind, key, value)
		}
		if !errors.Is(err, memtable.ErrArenaFull) {
			return // no other error is possible for a fresh sequence
		}
		b.reindex(2*b.ix.mem.ArenaSize() + memtable.EstimateEntrySize(len(key), len(value)))
	}
}

// reindex rebuilds the index from the batch's records, with an arena of at
// least size bytes (the old memtable stays valid for the iterators that
// hold it).
func (b *Batch) reindex(size int) {
	mem := memtable.New(b.ix.db.cmp, max(size, 32<<10))
	b.ix.mem = mem
	if b.count == 0 {
		return
	}
	r, _ := batch.NewReader(b.data)
	for seq := batchSeqBase; ; seq++ {
		kind, k, v, ok, _ := r.Next()
		if !ok {
			return
		}
		var err error
		if kind == base.KindRangeDelete {
			err = mem.AddRangeDel(seq, k, v)
		} else {
			err = mem.Add(seq, kind, k, v)
		}
		if err != nil { // full: start over bigger
			b.reindex(2 * mem.ArenaSize())
			return
		}
	}
}

// readView returns the database and the sequence an indexed batch's reads
// see it at.
func (ix *batchIndex) readView() (d *DB, seq uint64, err error) {
	d = ix.db
	switch {
	case ix.snap != nil && ix.snap.closed:
		return nil, 0, errSnapshotClosed
	case d.isClosed():
		return nil, 0, ErrClosed
	case d.visibleSeq.Load() >= batchSeqBase:
		return nil, 0, fmt.Errorf("strata: the database's sequence numbers reached %d: indexed batches cannot be read", batchSeqBase)
	}
	seq = seqLatest
	if ix.snap != nil {
		seq = ix.snap.seq
	}
	return d, seq, nil
}

// Get returns a copy of key's value as the batch's writes leave it over
// the database (or over its snapshot; see Snapshot.NewIndexedBatch), or
// ErrNotFound. A batch that is not indexed returns ErrNotIndexed.
func (b *Batch) Get(key []byte) ([]byte, error) {
	if b.ix == nil {
		return nil, ErrNotIndexed
	}
	d, seq, err := b.ix.readView()
	if err != nil {
		return nil, err
	}
	return d.getThrough(nil, key, seq, b.ix.mem, batchSeqBase+uint64(b.count)-1)
}

// NewIterator returns an iterator over the batch's writes laid over the
// database (or over o.Snapshot, or the batch's snapshot), as DB.NewIterator
// does. Writes added to the batch later are not seen. A batch that is not
// indexed gives an iterator whose Err is ErrNotIndexed.
func (b *Batch) NewIterator(o *IterOptions) *Iterator {
	if b.ix == nil {
		return &Iterator{err: ErrNotIndexed}
	}
	var opts IterOptions
	if o != nil {
		opts = *o
	}
	if opts.Snapshot == nil {
		opts.Snapshot = b.ix.snap
	}
	d, _, err := b.ix.readView()
	if err != nil {
		return &Iterator{db: b.ix.db, err: err}
	}
	return d.newIterator(&opts, b.ix.mem, batchSeqBase+uint64(b.count)-1)
}
