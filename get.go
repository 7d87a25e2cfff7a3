package strata

import (
	"bytes"
	"errors"
	"sync"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/memtable"
)

// seqLatest asks get for the latest state rather than a snapshot's.
const seqLatest = ^uint64(0)

// get reads the newest value of key visible at seq (or seqLatest) and
// appends it to dst (nil dst: a fresh copy).
//
// It looks in the sources newest first — the memtable, the older memtables,
// level 0's tables newest first, then one table per deeper level — and
// stops at the first entry it finds. Range tombstones join in as it goes:
// tomb is the newest tombstone seen so far that covers key (at or below
// seq). An entry older than tomb is deleted; and once a source has a
// covering tombstone, the deeper sources hold nothing newer than it (see
// internal/rangedel), so the key is deleted without looking further.
func (d *DB) get(dst, key []byte, seq uint64) ([]byte, error) {
	return d.getThrough(dst, key, seq, nil, 0)
}

// getThrough is get through an indexed batch's memtable ix, read at ixSeq,
// laid over the database (nil ix: none).
func (d *DB) getThrough(dst, key []byte, seq uint64, ix *memtable.MemTable, ixSeq uint64) ([]byte, error) {
	if err := d.holeAt(key); err != nil {
		return nil, err
	}
	rs, seq := d.acquireReadView(seq)
	defer rs.unref()
	v, err := d.getIn(dst, rs, key, seq, ix, ixSeq)
	if err == errMergeOperand {
		return d.getMerged(dst, rs, key, seq, ix, ixSeq)
	}
	return v, err
}

// errMergeOperand stops get's fast path at a merge operand: the read
// starts over collecting operands (getMerged).
var errMergeOperand = errors.New("strata: merge operand")

// getIn is get's fast path in the read state rs: the first entry found
// decides the read, unless it is a merge operand (errMergeOperand).
func (d *DB) getIn(dst []byte, rs *readState, key []byte, seq uint64, ix *memtable.MemTable, ixSeq uint64) ([]byte, error) {
	var tomb uint64
	if ix != nil {
		if v, done, err := getFromMem(dst, ix, key, ixSeq, &tomb); done {
			return v, err
		}
	}
	if v, done, err := getFromMem(dst, rs.mem.MemTable, key, seq, &tomb); done {
		return v, err
	}
	for _, m := range rs.imms {
		if m.table != nil {
			if v, done, err := d.getFromStandIn(dst, m.table, key, seq, &tomb); done {
				return v, err
			}
			continue
		}
		if v, done, err := getFromMem(dst, m.MemTable, key, seq, &tomb); done {
			return v, err
		}
	}
	return d.getFromVersion(dst, rs.version, key, seq, tomb)
}

// getFromMem looks key up at seq in memtable m, raising *tomb to its
// newest covering tombstone: done reports whether m decided the read (a
// value, or a deletion as ErrNotFound).
func getFromMem(dst []byte, m *memtable.MemTable, key []byte, seq uint64, tomb *uint64) (value []byte, done bool, err error) {
	if m.RangeDelCount() > 0 {
		if t, _ := m.RangeDels().Covering(key, seq); t > *tomb {
			*tomb = t
		}
	}
	v, es, kind, ok := m.GetEntry(key, seq)
	return decide(dst, v, es, kind, ok, *tomb)
}

// decide turns what one source holds for a key into get's answer: done
// reports whether the read is decided — by an entry newer than the newest
// covering tombstone tomb (its value, or ErrNotFound for a deletion), or
// by tomb itself (ErrNotFound) — rather than left to deeper sources.
func decide(dst, v []byte, entrySeq uint64, kind base.Kind, ok bool, tomb uint64) ([]byte, bool, error) {
	switch {
	case ok && entrySeq >= tomb:
		v, err := found(dst, v, kind)
		return v, true, err
	case ok || tomb > 0:
		return nil, true, ErrNotFound
	}
	return nil, false, nil
}

// getFromStandIn looks key up in the table a flush wrote for a memtable and
// has not yet installed (see memTable): done reports whether the table
// decided the read (a value, a deletion, or an error).
func (d *DB) getFromStandIn(dst []byte, f *manifest.FileMetadata, key []byte, seq uint64, tomb *uint64) (value []byte, done bool, err error) {
	if !f.Overlaps(d.cmp.Compare, key, key) {
		return nil, false, nil
	}
	scratch := getScratchPool.Get().(*getScratch)
	defer getScratchPool.Put(scratch)
	scratch.search = base.MakeSearchKey(scratch.search[:0], key, seq)
	return d.getFromTable(dst, f, scratch.search, key, seq, scratch, tomb)
}

// getFromTable looks ukey up at readSeq (search is its internal search
// key) in table f, raising *tomb to the table's newest covering tombstone:
// done reports whether the table decided the read (see decide), or an
// error.
func (d *DB) getFromTable(dst []byte, f *manifest.FileMetadata, search, ukey []byte, readSeq uint64, scratch *getScratch, tomb *uint64) (value []byte, done bool, err error) {
	h, err := d.tables.get(dst, f, search, ukey, readSeq, scratch)
	scratch.read, scratch.filtered = h.read, h.filtered
	if err != nil {
		return nil, true, err
	}
	*tomb = max(*tomb, h.tomb)
	if h.found && h.seq >= *tomb {
		switch h.kind {
		case base.KindDelete:
			return nil, true, ErrNotFound
		case base.KindMerge:
			return nil, true, errMergeOperand
		}
		return h.value, true, nil
	}
	if h.found || *tomb > 0 {
		return nil, true, ErrNotFound
	}
	return nil, false, nil
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
	switch kind {
	case base.KindDelete:
		return nil, ErrNotFound
	case base.KindMerge:
		return nil, errMergeOperand
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
	read   bool   // the last table lookup read a data block
	// filtered: the last table looked up has a filter
	filtered bool
}

var getScratchPool = sync.Pool{New: func() any { return &getScratch{} }}

// getFromVersion searches the tables of v: level 0 newest first, then one
// candidate table per deeper level. A read that looks into more than one
// table charges a seek to the first of them (LevelDB's seek compaction). A
// table of level 1 or deeper counts as looked into only if it has no filter
// and the read searched one of its data blocks: unlike LevelDB, a table
// with a filter is not charged, whether the filter ruled the key out (no
// I/O) or passed it in vain (a false positive, 1% at 10 bits per key).
// Compacting such a table down spares later reads nothing (the level below
// is searched anyway, through a filter with the same false-positive rate),
// and charging it made random reads over a deep tree compact the upper
// levels while they ran: 1.3 GB written during 30 s of reads at 20M keys
// for filter-negative lookups, and at 50M keys in a 1 GiB cgroup still
// 681 MiB for false positives (a fifth of the step's disk reads went to
// those compactions; RocksDB, which has no seek compaction, wrote nothing).
// The trade, measured on one 50M tree read four times each way (phases in
// the scale harness's order, medians of the per-round ratios): readrandom
// +15% with 1 thread and -6% with 2, readwhilewriting +9% with its P99
// -28%, seekrandom -8% and -15% with 1 and 2 threads (the charged
// compactions had drained the base level, whose blocks every seek reads).
// Level-0 tables are charged as LevelDB charges them: every read pays their
// index and filter until they are compacted (the table a reopened database
// recovers from its log overlaps every key; charging it moves it down soon,
// which made readrandom 331/354k -> 289/299k ops/s when it was not).
func (d *DB) getFromVersion(dst []byte, v *manifest.Version, ukey []byte, seq, tomb uint64) ([]byte, error) {
	// Keys handed to a comparer escape (it is a function value), so the
	// scratch buffers come from a pool rather than the stack.
	scratch := getScratchPool.Get().(*getScratch)
	defer getScratchPool.Put(scratch)
	scratch.search = base.MakeSearchKey(scratch.search[:0], ukey, seq)
	search := scratch.search
	ucmp := d.cmp.Compare

	var firstFile *manifest.FileMetadata
	firstLevel, firstFiltered := -1, false
	read := 0 // tables whose data blocks the read looked at
	check := func(f *manifest.FileMetadata, level int) (value []byte, done bool, err error) {
		scratch.read, scratch.filtered = false, false
		value, done, err = d.getFromTable(dst, f, search, ukey, seq, scratch, &tomb)
		if scratch.read || level == 0 {
			read++
			if read == 1 {
				firstFile, firstLevel, firstFiltered = f, level, scratch.filtered
			}
		}
		return value, done, err
	}
	defer func() {
		if read > 1 && firstFile != nil && (firstLevel == 0 || !firstFiltered) && v.UpdateStats(firstFile, firstLevel) {
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
