package strata

import (
	"bytes"
	"errors"
	"iter"

	"strata/internal/base"
	"strata/internal/iterator"
	"strata/internal/manifest"
)

var errIterClosed = errors.New("strata: iterator is closed")

// Iterator walks keys in order, forward or backward, over a consistent
// view: the state at its creation (or its snapshot's), unaffected by later
// writes, flushes and compactions. Not safe for concurrent use.
//
// Positioning methods return Valid(). Key and Value return slices owned by
// the iterator, valid until the next positioning call or Close; copy them
// to keep them. An iterator that meets an error becomes invalid and Err
// reports it. Close it when done: it pins the files it reads.
type Iterator struct {
	db     *DB
	rs     *readState
	it     *iterator.DB
	err    error
	closed bool
	leakID uint64
	lower  []byte
	upper  []byte
	// interrupt, if set, is polled every 1024 calls (ParallelScan passes
	// its context's Err): an error from it stops the iterator like a read
	// error would.
	interrupt func() error
	calls     uint32
}

// NewIterator returns an iterator over the database (or over o.Snapshot).
// It starts unpositioned: call First, Last, Seek or SeekLT.
func (d *DB) NewIterator(o *IterOptions) *Iterator {
	var opts IterOptions
	if o != nil {
		opts = *o
	}
	it := &Iterator{db: d, lower: bytes.Clone(opts.LowerBound), upper: bytes.Clone(opts.UpperBound)}
	seq := d.visibleSeq.Load() // before the read state: see get
	if opts.Snapshot != nil {
		if opts.Snapshot.closed {
			it.err = errSnapshotClosed
			return it
		}
		seq = opts.Snapshot.seq
	}
	if d.isClosed() {
		it.err = ErrClosed
		return it
	}
	rs := d.loadReadState()
	it.rs = rs
	it.leakID = d.leaks.add("iterator", d.opts.DebugLeaks)

	ucmp := d.cmp.Compare
	inBounds := func(f *manifest.FileMetadata) bool {
		if it.lower != nil && ucmp(f.LargestUserKey(), it.lower) < 0 {
			return false
		}
		if it.upper != nil && ucmp(f.SmallestUserKey(), it.upper) >= 0 {
			return false
		}
		return true
	}
	children := make([]base.InternalIterator, 0, 2+len(rs.imms)+len(rs.version.Levels[0])+manifest.NumLevels)
	children = append(children, rs.mem.NewIter())
	for _, m := range rs.imms {
		children = append(children, m.NewIter())
	}
	l0 := rs.version.Levels[0]
	for i := len(l0) - 1; i >= 0; i-- {
		if !inBounds(l0[i]) {
			continue
		}
		t, err := d.tables.newIter(l0[i])
		if err != nil {
			for _, c := range children {
				c.Close()
			}
			it.err = err
			return it
		}
		children = append(children, t)
	}
	for level := 1; level < manifest.NumLevels; level++ {
		if len(rs.version.Levels[level]) == 0 {
			continue
		}
		li := iterator.NewLevel(d.cmp, rs.version.Levels[level], d.tables.newIter)
		li.SetBounds(it.lower, it.upper)
		children = append(children, li)
	}
	icmp := func(a, b []byte) int { return base.InternalCompare(ucmp, a, b) }
	merged := iterator.NewMerging(icmp, children...)
	it.it = iterator.NewDB(d.cmp, merged, seq, it.lower, it.upper)
	// Sample reads for seek-triggered compaction (LevelDB's
	// RecordReadSample): a key range that iterators keep reading through
	// several overlapping tables is worth compacting.
	v := rs.version
	it.it.OnRead = func(ikey []byte, _ int) {
		if v.RecordReadSample(ikey) {
			d.scheduleCompaction()
		}
	}
	it.it.SampleSeed = d.iterSeed.Add(1)
	return it
}

func (it *Iterator) ready() bool {
	if it.interrupt != nil {
		if it.calls++; it.calls&1023 == 1 && it.err == nil {
			it.err = it.interrupt()
		}
	}
	return it.err == nil && !it.closed && it.it != nil
}

// First moves to the first key (at or after LowerBound).
func (it *Iterator) First() bool { return it.ready() && it.it.First() }

// Last moves to the last key (before UpperBound).
func (it *Iterator) Last() bool { return it.ready() && it.it.Last() }

// Seek moves to the first key >= key.
func (it *Iterator) Seek(key []byte) bool { return it.ready() && it.it.SeekGE(key) }

// SeekLT moves to the last key < key.
func (it *Iterator) SeekLT(key []byte) bool { return it.ready() && it.it.SeekLT(key) }

// Next moves to the next key. It returns false at the end.
func (it *Iterator) Next() bool { return it.ready() && it.it.Valid() && it.it.Next() }

// Prev moves to the previous key. It returns false at the start.
func (it *Iterator) Prev() bool { return it.ready() && it.it.Valid() && it.it.Prev() }

// Valid reports whether the iterator is at a key.
func (it *Iterator) Valid() bool { return it.ready() && it.it.Valid() }

// Key returns the current key (valid until the next move).
func (it *Iterator) Key() []byte { return it.it.Key() }

// Value returns the current value (valid until the next move).
func (it *Iterator) Value() []byte { return it.it.Value() }

// Err returns the error that stopped the iterator, if any.
func (it *Iterator) Err() error {
	if it.err != nil {
		return it.err
	}
	if it.it != nil {
		return it.it.Error()
	}
	return nil
}

// Close releases the iterator and returns Err. Closing twice is a no-op.
func (it *Iterator) Close() error {
	if it.closed {
		return nil
	}
	err := it.Err()
	it.closed = true
	if it.it != nil {
		if cerr := it.it.Close(); err == nil {
			err = cerr
		}
	}
	if it.rs != nil {
		it.rs.unref()
		it.rs = nil
		it.db.leaks.remove(it.leakID)
	}
	return err
}

// All returns a forward walk from First to the end, for range-over-func.
// Check Err after the loop: a read error ends it early.
//
//	it := db.NewIterator(nil)
//	defer it.Close()
//	for k, v := range it.All() { ... }
//	if err := it.Err(); err != nil { ... }
//
// The slices are valid only during one loop step.
func (it *Iterator) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for ok := it.First(); ok; ok = it.Next() {
			if !yield(it.Key(), it.Value()) {
				return
			}
		}
	}
}
