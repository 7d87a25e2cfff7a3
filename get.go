package strata

import (
	"bytes"
	"sync"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

// seqLatest asks get for the latest state rather than a snapshot's.
const seqLatest = ^uint64(0)

// get reads the newest value of key visible at seq (or seqLatest) and
// appends it to dst (nil dst: a fresh copy).
func (d *DB) get(dst, key []byte, seq uint64) ([]byte, error) {
	if err := d.holeAt(key); err != nil {
		return nil, err
	}
	rs, seq := d.acquireReadView(seq)
	defer rs.unref()

	if v, kind, ok := rs.mem.Get(key, seq); ok {
		return found(dst, v, kind)
	}
	for _, m := range rs.imms {
		if m.table != nil {
			if v, done, err := d.getFromStandIn(dst, m.table, key, seq); done {
				return v, err
			}
			continue
		}
		if v, kind, ok := m.Get(key, seq); ok {
			return found(dst, v, kind)
		}
	}
	return d.getFromVersion(dst, rs.version, key, seq)
}

// getFromStandIn looks key up in the table a flush wrote for a memtable and
// has not yet installed (see memTable): done reports whether the table
// decided the read (a value, a deletion, or an error).
func (d *DB) getFromStandIn(dst []byte, f *manifest.FileMetadata, key []byte, seq uint64) (value []byte, done bool, err error) {
	if !f.Overlaps(d.cmp.Compare, key, key) {
		return nil, false, nil
	}
	scratch := getScratchPool.Get().(*getScratch)
	defer getScratchPool.Put(scratch)
	scratch.search = base.MakeSearchKey(scratch.search[:0], key, seq)
	return d.getFromTable(dst, f, scratch.search, key, scratch)
}

// getFromTable looks ukey up at the sequence in search (an internal search
// key) in table f: done reports whether the table decided the read (a
// value, a deletion as ErrNotFound, or an error).
func (d *DB) getFromTable(dst []byte, f *manifest.FileMetadata, search, ukey []byte, scratch *getScratch) (value []byte, done bool, err error) {
	val, kind, ok, err := d.tables.get(dst, f, search, ukey, scratch)
	if err != nil {
		return nil, true, err
	}
	if !ok {
		return nil, false, nil
	}
	if kind == base.KindDelete {
		return nil, true, ErrNotFound
	}
	return val, true, nil
}

// acquireReadView returns the read state a read uses, with a reference the
// caller drops with unref, and the sequence it reads at: seq, or the newest
// visible sequence for seqLatest.
//
// The read state is taken first, then the sequence. The other order is
// wrong: a compaction may drop an entry shadowed by a newer one at or
// below the visible sequence when it starts (smallestSnapshot). If it
// started after a reader took an older sequence and installed its output
// before the reader took the read state, the reader would look for the key
// at its older sequence in tables that keep only the newer entry, and find
// nothing, or an even older value from a deeper level. In this order, every
// compaction in the read state's version started before the sequence was
// read, so it kept whatever that sequence can see. (LevelDB takes both
// under its mutex.)
//
// The read state may miss writes at or below the sequence that went into a
// memtable created after it was taken. The read then sees the database as
// of that memtable switch: writes are applied to one memtable per group,
// in sequence order, so what it sees is still a prefix of the writes, and
// one that is at least as new as the moment the read began.
func (d *DB) acquireReadView(seq uint64) (*readState, uint64) {
	rs := d.loadReadState()
	if d.testHookReadView != nil {
		d.testHookReadView()
	}
	if seq == seqLatest {
		seq = d.visibleSeq.Load()
	}
	return rs, seq
}

func found(dst, v []byte, kind base.Kind) ([]byte, error) {
	if kind == base.KindDelete {
		return nil, ErrNotFound
	}
	return appendValue(dst, v), nil
}

// appendValue appends v to dst; with a nil dst it returns a copy of v.
func appendValue(dst, v []byte) []byte {
	if dst == nil {
		return bytes.Clone(v)
	}
	return append(dst, v...)
}

// getScratch holds a point read's reusable buffers.
type getScratch struct {
	search []byte // the internal search key
	key    []byte // the key a table returns
}

var getScratchPool = sync.Pool{New: func() any { return &getScratch{} }}

// getFromVersion searches the tables of v: level 0 newest first, then one
// candidate table per deeper level. A read that has to look at more than
// one table charges a seek to the first one (LevelDB's seek compaction).
func (d *DB) getFromVersion(dst []byte, v *manifest.Version, ukey []byte, seq uint64) ([]byte, error) {
	// Keys handed to a comparer escape (it is a function value), so the
	// scratch buffers come from a pool rather than the stack.
	scratch := getScratchPool.Get().(*getScratch)
	defer getScratchPool.Put(scratch)
	scratch.search = base.MakeSearchKey(scratch.search[:0], ukey, seq)
	search := scratch.search
	ucmp := d.cmp.Compare

	var firstFile *manifest.FileMetadata
	firstLevel := -1
	examined := 0
	check := func(f *manifest.FileMetadata, level int) (value []byte, done bool, err error) {
		examined++
		if examined == 1 {
			firstFile, firstLevel = f, level
		}
		return d.getFromTable(dst, f, search, ukey, scratch)
	}
	defer func() {
		if examined > 1 && firstFile != nil && v.UpdateStats(firstFile, firstLevel) {
			d.scheduleCompaction()
		}
	}()

	l0 := v.Levels[0]
	for i := len(l0) - 1; i >= 0; i-- {
		f := l0[i]
		if ucmp(ukey, f.SmallestUserKey()) < 0 || ucmp(ukey, f.LargestUserKey()) > 0 {
			continue
		}
		if val, done, err := check(f, 0); done {
			return val, err
		}
	}
	for level := 1; level < manifest.NumLevels; level++ {
		files := v.Levels[level]
		if len(files) == 0 {
			continue
		}
		i := v.FindFile(level, search)
		if i >= len(files) {
			continue
		}
		f := files[i]
		if ucmp(ukey, f.SmallestUserKey()) < 0 {
			continue
		}
		if val, done, err := check(f, level); done {
			return val, err
		}
	}
	return nil, ErrNotFound
}
