package strata

import (
	"bytes"
	"sync"

	"strata/internal/base"
	"strata/internal/manifest"
)

// seqLatest asks get for the latest state rather than a snapshot's.
const seqLatest = ^uint64(0)

// get reads the newest value of key visible at seq (or seqLatest) and
// appends it to dst (nil dst: a fresh copy).
func (d *DB) get(dst, key []byte, seq uint64) ([]byte, error) {
	// The sequence must be read before the read state: every write at or
	// below it is then in a memtable of that read state or in a table of
	// its version. Reading them the other way round could miss a write
	// that went into a memtable created after the read state was taken.
	if seq == seqLatest {
		seq = d.visibleSeq.Load()
	}
	rs := d.loadReadState()
	defer rs.unref()

	if v, kind, ok := rs.mem.Get(key, seq); ok {
		return found(dst, v, kind)
	}
	for _, m := range rs.imms {
		if v, kind, ok := m.Get(key, seq); ok {
			return found(dst, v, kind)
		}
	}
	return d.getFromVersion(dst, rs.version, key, seq)
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
