package strata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"sync"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/iterator"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/memtable"
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
	it     *iterator.DBIter
	err    error
	closed bool
	leakID uint64
	alloc  *iterAlloc // pooled internals (nil after Close)
	lower  []byte
	upper  []byte
	// ctx, if set (IterOptions.Context), is polled every 1024 calls: once
	// it is done, its cause stops the iterator like a read error would.
	ctx   context.Context
	calls uint32
	// holes are the DB's holes when it has any (see moveAcrossHoles);
	// prevKey is the key a Next or Prev started from.
	holes   *holeSet
	prevKey []byte
	// track, for a transaction's iterator, records the span it covers as
	// a read conflict range (txn_iter.go).
	track *iterTrack
	// usable: the iterator was built, and neither an error of its own
	// (err) nor Close has stopped it. Positioning methods check only this
	// (and the DB's closedFlag and ctx), so that ready stays cheap enough
	// to inline; read errors are the inner iterator's.
	usable bool
}

// iterAlloc holds an Iterator's internal iterators and buffers. It is
// pooled: NewIterator takes one and Close gives it back, so opening an
// iterator costs a handful of pointer writes rather than a dozen
// allocations (db_bench's seekrandom opens one per seek). The Iterator
// handle itself is not pooled, so a second Close stays harmless.
type iterAlloc struct {
	dbIter  iterator.DBIter
	merging iterator.Merging
	levels  [manifest.NumLevels]iterator.Level
	mems    []memtable.Iter
	// batchIter reads an indexed batch's memtable (Batch.NewIterator).
	batchIter memtable.Iter
	children  []base.InternalIterator
	// tombs and levelTombs give the children's range tombstones (see
	// iterator.Merging.SetTombstones).
	tombs      []iterator.Tombstones
	levelTombs [manifest.NumLevels]levelTombs
	// usedLevels has bit l set when levels[l] (and levelTombs[l]) were set
	// up by this use: Close clears only those, the others being zero.
	usedLevels uint16
	l0         []*manifest.FileMetadata // NewIterator's scratch
	lowerBuf   []byte
	upperBuf   []byte

	prefixEnd []byte // NewIterator's scratch: PrefixUpperBound(IterOptions.Prefix)

	// Read sampling for seek-triggered compaction (LevelDB's
	// RecordReadSample): onRead is bound once to this iterAlloc.
	db      *DB
	version *manifest.Version
	onRead  func(ikey []byte, n int)
}

func (ia *iterAlloc) sampleRead(ikey []byte, _ int) {
	if ia.version.RecordReadSample(ikey) {
		ia.db.scheduleCompaction()
	}
}

var iterAllocPool = sync.Pool{New: func() any {
	ia := &iterAlloc{}
	ia.onRead = ia.sampleRead
	return ia
}}

// NewIterator returns an iterator over the database (or over o.Snapshot).
// It starts unpositioned: call First, Last, Seek or SeekLT.
//
// NewIterator is small enough to inline, and initIterator keeps no
// reference to the handle: a caller that keeps its iterator local (it :=
// db.NewIterator(nil); …; it.Close()) gets the handle on its stack, and
// an iterator then allocates nothing (its internals are pooled).
func (d *DB) NewIterator(o *IterOptions) *Iterator {
	it := new(Iterator)
	d.initIterator(it, o, nil, 0)
	return it
}

// newIterator is NewIterator through an indexed batch's memtable ix, read
// at ixSeq, laid over the database (nil ix: none).
func (d *DB) newIterator(o *IterOptions, ix *memtable.MemTable, ixSeq uint64) *Iterator {
	it := new(Iterator)
	d.initIterator(it, o, ix, ixSeq)
	return it
}

// initIterator sets up the zero handle it as newIterator's iterator. It
// must not keep it anywhere (see NewIterator).
func (d *DB) initIterator(it *Iterator, o *IterOptions, ix *memtable.MemTable, ixSeq uint64) {
	var opts IterOptions
	if o != nil {
		opts = *o
	}
	it.db, it.ctx = d, opts.Context
	seq := seqLatest
	if opts.Snapshot != nil {
		if opts.Snapshot.closed {
			it.err = errSnapshotClosed
			return
		}
		seq = opts.Snapshot.seq
	}
	if d.isClosed() {
		it.err = ErrClosed
		return
	}
	if len(opts.Prefix) > 0 && d.cmp.Name != DefaultComparer.Name {
		it.err = fmt.Errorf("strata: IterOptions.Prefix needs the bytewise comparator, not %s", d.cmp.Name)
		return
	}
	ia := iterAllocPool.Get().(*iterAlloc)
	it.alloc = ia
	lower, upper := opts.LowerBound, opts.UpperBound
	if len(opts.Prefix) > 0 {
		// The prefix's keys are a range in the bytewise order (checked
		// above): intersect it with the bounds.
		if lower == nil || bytes.Compare(lower, opts.Prefix) < 0 {
			lower = opts.Prefix
		}
		ia.prefixEnd = appendPrefixUpperBound(ia.prefixEnd[:0], opts.Prefix)
		if ia.prefixEnd != nil && (upper == nil || bytes.Compare(ia.prefixEnd, upper) < 0) {
			upper = ia.prefixEnd
		}
	}
	// Copies of the bounds; an empty bound is not a missing one (an empty
	// upper bound admits no key), so the copies stay non-nil.
	if lower != nil {
		ia.lowerBuf = append(nonNil(ia.lowerBuf), lower...)
		it.lower = ia.lowerBuf
	}
	if upper != nil {
		ia.upperBuf = append(nonNil(ia.upperBuf), upper...)
		it.upper = ia.upperBuf
	}
	rs, seq := d.acquireReadView(seq)
	it.rs = rs
	it.leakID = d.leaks.add("iterator", d.opts.DebugLeaks)

	ucmp := d.cmp.Compare
	children := ia.children[:0]
	// tombs[i] gives children[i]'s range tombstones (nil: none).
	tombs := ia.tombs[:0]
	if ix != nil {
		ia.batchIter.Init(ix)
		children = append(children, &ia.batchIter)
		var ts iterator.Tombstones
		if ix.RangeDelCount() > 0 {
			ts = (*setView)(ix.RangeDels())
		}
		tombs = append(tombs, ts)
	}
	dbFrom := len(children) // the database's children start here
	tablesMayHaveTombs := d.extendedFlag.Load()
	memTombs := func(m *memtable.MemTable) iterator.Tombstones {
		if m.RangeDelCount() == 0 {
			return nil
		}
		return (*setView)(m.RangeDels())
	}
	nmem := 1 + len(rs.imms)
	if cap(ia.mems) < nmem {
		ia.mems = make([]memtable.Iter, nmem)
	}
	ia.mems = ia.mems[:nmem]
	ia.mems[0].Init(rs.mem.MemTable)
	children = append(children, &ia.mems[0])
	tombs = append(tombs, memTombs(rs.mem.MemTable))
	// Level 0's tables newest first, after the table of a memtable's
	// stand-in (at most one: the oldest memtable's; see memTable).
	l0 := ia.l0[:0]
	for i, m := range rs.imms {
		if m.table != nil {
			l0 = append(l0, m.table)
			continue
		}
		ia.mems[i+1].Init(m.MemTable)
		children = append(children, &ia.mems[i+1])
		tombs = append(tombs, memTombs(m.MemTable))
	}
	for i := len(rs.version.Levels[0]) - 1; i >= 0; i-- {
		l0 = append(l0, rs.version.Levels[0][i])
	}
	ia.l0 = l0[:0]
	for _, f := range l0 {
		if it.lower != nil && ucmp(f.LargestUserKey(), it.lower) < 0 ||
			it.upper != nil && ucmp(f.SmallestUserKey(), it.upper) >= 0 {
			continue
		}
		if facts := f.Facts(); facts != nil && facts.Empty {
			// Range tombstones only (a flush of a memtable that held
			// nothing else): no table iterator to open (a nil child,
			// see iterator.NewMerging), but its tombstones hide the
			// older children's entries.
			children = append(children, nil)
			var ts iterator.Tombstones
			if facts.RangeDels != nil {
				ts = (*setView)(facts.RangeDels)
			}
			tombs = append(tombs, ts)
			continue
		}
		t, err := d.tables.newIter(f)
		if err != nil {
			for _, c := range children {
				if c != nil {
					c.Close()
				}
			}
			ia.children = children[:0]
			clear(tombs)
			it.err = err
			return
		}
		children = append(children, t)
		var ts iterator.Tombstones
		if rd := t.(*tableIter).entry.reader.RangeDels(); rd != nil {
			ts = (*setView)(rd)
		}
		tombs = append(tombs, ts)
	}
	for level := 1; level < manifest.NumLevels; level++ {
		if len(rs.version.Levels[level]) == 0 {
			continue
		}
		ia.usedLevels |= 1 << level
		li := &ia.levels[level]
		li.Init(d.cmp, rs.version.Levels[level], d.openTableIter)
		li.SetBounds(it.lower, it.upper)
		children = append(children, li)
		var ts iterator.Tombstones
		if tablesMayHaveTombs && rs.version.LevelMayHaveRangeDels(level) {
			lt := &ia.levelTombs[level]
			lt.init(d, rs.version.Levels[level])
			ts = lt
		}
		tombs = append(tombs, ts)
	}
	ia.children = children
	ia.tombs = tombs
	ia.merging.Init(d.icmp, children...)
	readSeq := seq
	if ix != nil {
		readSeq = ixSeq
		ia.merging.SetSeqCap(dbFrom, seq)
	}
	ia.merging.SetTombstones(ucmp, readSeq, tombs)
	ia.dbIter.Init(d.cmp, &ia.merging, readSeq, it.lower, it.upper)
	ia.dbIter.Merge = d.mergeFn
	ia.db, ia.version = d, rs.version
	ia.dbIter.OnRead = ia.onRead
	ia.dbIter.SampleSeed = d.iterSeed.Add(1)
	it.it = &ia.dbIter
	it.usable = true
	it.holes = d.holes.Load()
}

// nonNil returns b emptied, with storage so appending nothing stays non-nil.
func nonNil(b []byte) []byte {
	if b == nil {
		return make([]byte, 0, 32)
	}
	return b[:0]
}

func (it *Iterator) ready() bool {
	if it.ctx != nil || it.db.closedFlag.Load() {
		it.poll()
	}
	return it.usable
}

// poll stops the iterator once its DB is closed (ErrClosed), or once its
// context is done (checked on the first call and every 1024th after). Kept
// out of ready so that ready, on every positioning call, stays small
// enough to inline.
func (it *Iterator) poll() {
	switch {
	case it.err != nil:
	case it.db.closedFlag.Load():
		it.err, it.usable = ErrClosed, false
	case it.ctx != nil:
		if it.calls++; it.calls&1023 == 1 && it.ctx.Err() != nil {
			it.err, it.usable = context.Cause(it.ctx), false
		}
	}
}

// First moves to the first key (at or after LowerBound).
func (it *Iterator) First() bool {
	if it.track != nil {
		return it.trackedFirst()
	}
	return it.first()
}

func (it *Iterator) first() bool {
	if it.holes != nil {
		return it.moveAcrossHoles(it.lower, true, false, it.it.First)
	}
	return it.ready() && it.it.First()
}

// Last moves to the last key (before UpperBound).
func (it *Iterator) Last() bool {
	if it.track != nil {
		return it.trackedLast()
	}
	return it.last()
}

func (it *Iterator) last() bool {
	if it.holes != nil {
		return it.moveAcrossHoles(it.upper, false, true, it.it.Last)
	}
	return it.ready() && it.it.Last()
}

// Seek moves to the first key >= key.
func (it *Iterator) Seek(key []byte) bool {
	if it.track != nil {
		return it.trackedSeek(key)
	}
	return it.seek(key)
}

func (it *Iterator) seek(key []byte) bool {
	if it.holes != nil {
		from := key
		if it.lower != nil && it.db.cmp.Compare(from, it.lower) < 0 {
			from = it.lower
		}
		return it.moveAcrossHoles(from, true, false, func() bool { return it.it.SeekGE(key) })
	}
	return it.ready() && it.it.SeekGE(key)
}

// SeekLT moves to the last key < key.
func (it *Iterator) SeekLT(key []byte) bool {
	if it.track != nil {
		return it.trackedSeekLT(key)
	}
	return it.seekLT(key)
}

func (it *Iterator) seekLT(key []byte) bool {
	if it.holes != nil {
		from := key
		if it.upper != nil && it.db.cmp.Compare(from, it.upper) > 0 {
			from = it.upper
		}
		return it.moveAcrossHoles(from, false, true, func() bool { return it.it.SeekLT(key) })
	}
	return it.ready() && it.it.SeekLT(key)
}

// Next moves to the next key. It returns false at the end.
func (it *Iterator) Next() bool {
	if it.holes != nil || it.track != nil {
		if it.track != nil {
			return it.trackedNext()
		}
		return it.stepAcrossHoles(true, it.it.Next)
	}
	return it.ready() && it.it.Valid() && it.it.Next()
}

func (it *Iterator) next() bool {
	if it.holes != nil {
		return it.stepAcrossHoles(true, it.it.Next)
	}
	return it.ready() && it.it.Valid() && it.it.Next()
}

// Prev moves to the previous key. It returns false at the start.
func (it *Iterator) Prev() bool {
	if it.holes != nil || it.track != nil {
		if it.track != nil {
			return it.trackedPrev()
		}
		return it.stepAcrossHoles(false, it.it.Prev)
	}
	return it.ready() && it.it.Valid() && it.it.Prev()
}

func (it *Iterator) prev() bool {
	if it.holes != nil {
		return it.stepAcrossHoles(false, it.it.Prev)
	}
	return it.ready() && it.it.Valid() && it.it.Prev()
}

// stepAcrossHoles is Next (forward) or Prev in a database with holes: the
// step covers the keys from the current one to where it lands.
func (it *Iterator) stepAcrossHoles(forward bool, move func() bool) bool {
	if !it.ready() || !it.it.Valid() {
		return false
	}
	it.prevKey = append(it.prevKey[:0], it.it.Key()...)
	return it.moveAcrossHoles(it.prevKey, forward, false, move)
}

// moveAcrossHoles makes a move in a database with holes (see holes.go): the
// move covers the keys from `from` (nil: the open end; excluded when
// fromExclusive) to where it lands (or to the bound it ran into), forward
// or backward; if a hole has a key in that span, the iterator stops with a
// *HoleError, since the keys it passed or returned there may be older
// versions, or some missing.
func (it *Iterator) moveAcrossHoles(from []byte, forward, fromExclusive bool, move func() bool) bool {
	if !it.ready() {
		return false
	}
	ok := move()
	var at []byte
	var h *Hole
	switch {
	case ok && forward:
		at = it.it.Key()
		h = it.holes.overlapping(from, at, false)
	case forward:
		h = it.holes.overlapping(from, it.upper, true)
	case ok:
		at = it.it.Key()
		h = it.holes.overlapping(at, from, fromExclusive)
	default:
		h = it.holes.overlapping(it.lower, from, fromExclusive)
	}
	if h == nil {
		return ok
	}
	it.err, it.usable = &HoleError{Hole: *h, Key: bytes.Clone(at)}, false
	return false
}

// Valid reports whether the iterator is at a key.
func (it *Iterator) Valid() bool { return it.ready() && it.it.Valid() }

// Key returns the current key (valid until the next move).
func (it *Iterator) Key() []byte {
	if it.it == nil {
		return nil
	}
	return it.it.Key()
}

// Value returns the current value (valid until the next move).
func (it *Iterator) Value() []byte {
	if it.it == nil {
		return nil
	}
	return it.it.Value()
}

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
	if it.track != nil {
		it.track.close(it)
	}
	err := it.Err()
	it.closed, it.usable = true, false
	if it.it != nil {
		if cerr := it.it.Close(); err == nil {
			err = cerr
		}
		it.it = nil
	}
	if ia := it.alloc; ia != nil {
		// Drop references so the pool does not keep memtables, versions
		// or blocks alive.
		clear(ia.children)
		ia.children = ia.children[:0]
		clear(ia.tombs)
		ia.tombs = ia.tombs[:0]
		clear(ia.mems)
		ia.batchIter = memtable.Iter{}
		ia.db, ia.version = nil, nil
		ia.merging.Init(nil)
		ia.dbIter.Init(nil, nil, 0, nil, nil)
		ia.dbIter.Merge = nil
		for used := ia.usedLevels; used != 0; used &= used - 1 {
			l := bits.TrailingZeros16(used)
			ia.levels[l] = iterator.Level{}
			ia.levelTombs[l] = levelTombs{}
		}
		ia.usedLevels = 0
		iterAllocPool.Put(ia)
		it.alloc = nil
	}
	if it.rs != nil {
		it.rs.unref()
		it.rs = nil
		it.db.leaks.remove("iterator", it.leakID)
	}
	return err
}

// Bounds returns the iterator's bounds, [lower, upper) (nil is open): its
// IterOptions' LowerBound and UpperBound, intersected with Prefix's range
// when Prefix is set. The slices must not be modified, and are valid only
// until Close (copy them to keep them).
func (it *Iterator) Bounds() (lower, upper []byte) { return it.lower, it.upper }

// All returns a forward walk from First to the end, for range-over-func.
// Check Err after the loop: a read error ends it early.
//
//	it := db.NewIterator(nil)
//	defer it.Close()
//	for k, v := range it.All() { ... }
//	if err := it.Err(); err != nil { ... }
//
// The slices are valid only during one loop step. The walk moves the
// iterator: do not position it inside the loop.
func (it *Iterator) All() iter.Seq2[[]byte, []byte] { return it.walk(it.First, it.Next) }

// Backward returns a backward walk from Last to the start, for
// range-over-func: All in reverse, with the same rules (check Err after the
// loop; the slices are valid only during one loop step).
//
//	for k, v := range it.Backward() { ... }
func (it *Iterator) Backward() iter.Seq2[[]byte, []byte] { return it.walk(it.Last, it.Prev) }

// walk yields the key and value at every position from start() on, moving
// by step(), until either returns false or the loop body breaks.
func (it *Iterator) walk(start, step func() bool) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for ok := start(); ok; ok = step() {
			if !yield(it.Key(), it.Value()) {
				return
			}
		}
	}
}

// PrefixUpperBound returns the smallest key greater than every key that
// starts with prefix, in the bytewise order: prefix with its trailing 0xFF
// bytes removed and its last remaining byte incremented. It returns nil,
// meaning no upper bound, when prefix is empty or all 0xFF. With
// LowerBound prefix it makes the bounds of IterOptions.Prefix. The result
// is newly allocated and the caller's; prefix is not modified. Package
// keys's PrefixEnd is the same function.
func PrefixUpperBound(prefix []byte) []byte { return appendPrefixUpperBound(nil, prefix) }

// appendPrefixUpperBound appends PrefixUpperBound(prefix) to dst and
// returns the result, or returns nil when there is no upper bound.
func appendPrefixUpperBound(dst, prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			dst = append(dst, prefix[:i+1]...)
			dst[len(dst)-1]++
			return dst
		}
	}
	return nil
}
