package strata

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/memtable"
)

// Reading merged keys. A point read that meets a merge operand (get's
// fast path stops with errMergeOperand) starts over in getMerged, which
// visits the same sources in the same order but reads every entry of the
// key in each, newest first, collecting operands down to the first value,
// deletion or covering range tombstone, and folds them with
// Options.Merger. Iterators fold operands in iterator.DBIter.

// operandCollector gathers what a merged point read finds.
type operandCollector struct {
	key    []byte
	seq    uint64 // the read's sequence
	search []byte // key's search key at seq
	cmp    func(a, b []byte) int
	tomb   uint64   // the newest covering tombstone seen so far
	ops    [][]byte // operands, newest first (copies)
	base   []byte   // the value beneath them, when has
	has    bool
	done   bool // a value, a deletion or a tombstone ended the walk
}

// at makes the next sources read at seq.
func (c *operandCollector) at(seq uint64) {
	c.seq = seq
	c.search = base.MakeSearchKey(c.search[:0], c.key, seq)
}

// raise notes a covering tombstone of the next source to be fed.
func (c *operandCollector) raise(tomb uint64) { c.tomb = max(c.tomb, tomb) }

// feed reads one source's entries for the key, through it (closed by the
// caller), newest first.
func (c *operandCollector) feed(it base.InternalIterator) error {
	for ok := it.SeekGE(c.search); ok; ok = it.Next() {
		uk, s, kind, valid := base.ParseInternalKey(it.Key())
		if !valid {
			return base.CorruptionErrorf("", -1, "bad internal key %q", bytes.Clone(it.Key()))
		}
		if c.cmp(uk, c.key) != 0 {
			break
		}
		if s < c.tomb {
			c.done = true // deleted by a range: nothing beneath
			return nil
		}
		switch kind {
		case base.KindMerge:
			c.ops = append(c.ops, bytes.Clone(it.Value()))
			continue
		case base.KindSet:
			c.base, c.has = bytes.Clone(it.Value()), true
		}
		c.done = true
		return nil
	}
	if err := it.Error(); err != nil {
		return err
	}
	if c.tomb > 0 {
		c.done = true // deeper sources hold nothing newer than the tombstone
	}
	return nil
}

// getMerged reads key at seq in rs collecting merge operands (see above).
func (d *DB) getMerged(dst []byte, rs *readState, key []byte, seq uint64, ix *memtable.MemTable, ixSeq uint64) ([]byte, error) {
	c := &operandCollector{key: key, cmp: d.cmp.Compare}
	var mi memtable.Iter
	feedMem := func(m *memtable.MemTable) error {
		if m.RangeDelCount() > 0 {
			t, _ := m.RangeDels().Covering(key, c.seq)
			c.raise(t)
		}
		mi.Init(m)
		err := c.feed(&mi)
		mi.Close()
		return err
	}
	if ix != nil {
		c.at(ixSeq)
		if err := feedMem(ix); err != nil || c.done {
			return d.foldOperands(dst, c, err)
		}
	}
	c.at(seq)
	if err := feedMem(rs.mem.MemTable); err != nil || c.done {
		return d.foldOperands(dst, c, err)
	}
	for _, m := range rs.imms {
		var err error
		if m.table != nil {
			if m.table.Overlaps(d.cmp.Compare, key, key) {
				err = d.feedTable(c, m.table)
			}
		} else {
			err = feedMem(m.MemTable)
		}
		if err != nil || c.done {
			return d.foldOperands(dst, c, err)
		}
	}
	v := rs.version
	for i := len(v.Levels[0]) - 1; i >= 0; i-- {
		f := v.Levels[0][i]
		if !f.Overlaps(d.cmp.Compare, key, key) {
			continue
		}
		if err := d.feedTable(c, f); err != nil || c.done {
			return d.foldOperands(dst, c, err)
		}
	}
	for level := 1; level < manifest.NumLevels; level++ {
		files := v.Levels[level]
		i := v.FindFile(level, c.search)
		if i >= len(files) || d.cmp.Compare(key, files[i].SmallestUserKey()) < 0 {
			continue
		}
		if err := d.feedTable(c, files[i]); err != nil || c.done {
			return d.foldOperands(dst, c, err)
		}
	}
	return d.foldOperands(dst, c, nil)
}

// feedTable feeds table f's tombstones and entries to c.
func (d *DB) feedTable(c *operandCollector, f *manifest.FileMetadata) error {
	e, err := d.tables.acquire(f)
	if err != nil {
		return err
	}
	defer e.release()
	if rd := e.reader.RangeDels(); rd != nil {
		t, _ := rd.Covering(c.key, c.seq)
		c.raise(t)
	}
	it := e.reader.NewIter()
	err = c.feed(it)
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// foldOperands finishes getMerged: err, or the operands folded onto the
// value beneath them, appended to dst.
func (d *DB) foldOperands(dst []byte, c *operandCollector, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	if len(c.ops) == 0 { // the operand seen before is gone: cannot happen in one read state
		if !c.has {
			return nil, ErrNotFound
		}
		return appendValue(dst, c.base), nil
	}
	slices.Reverse(c.ops)
	v, err := d.fullMerge(c.key, c.base, c.has, c.ops)
	if err != nil {
		return nil, err
	}
	return appendValue(dst, v), nil
}

// fullMerge folds operands (oldest first) onto existing with the
// database's Merger.
func (d *DB) fullMerge(key, existing []byte, has bool, ops [][]byte) ([]byte, error) {
	m := d.opts.Merger
	if m == nil {
		return nil, fmt.Errorf("%w: key %q has merge operands", ErrNoMerger, key)
	}
	v, err := m.FullMerge(key, existing, has, ops)
	if err != nil {
		return nil, fmt.Errorf("strata: merge operator %s on key %q: %w", m.Name, key, err)
	}
	return v, nil
}
