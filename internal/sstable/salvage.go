package sstable

import (
	"github.com/strata-db/strata/internal/base"
)

// SalvageResult counts what Salvage kept and lost.
type SalvageResult struct {
	// Entries is the number of entries passed to the callback.
	Entries uint64
	// DamagedBlocks is the number of data blocks that were unreadable or
	// only partly readable.
	DamagedBlocks int
	// FirstError is the first damage met (nil if none).
	FirstError error
	// Lost lists, for each damaged data block, the key range its lost
	// entries lie in, as the index gives it.
	Lost []LostRange
}

// LostRange is the key range of a data block Salvage could not read whole:
// its lost entries are among the internal keys in (After, Through] (After
// nil: from the table's start; Through nil: to its end, when the index could
// not be read past it). After is the last entry passed to fn before the
// damage when there is one (AfterIsEntry), else the index key of the block
// before. Through is the damaged block's index key.
type LostRange struct {
	After, Through []byte
	AfterIsEntry   bool
	Err            error
}

// Salvage walks every data block of the table through the index, verifying
// checksums whatever the options, and passes each intact entry, in order,
// to fn. A damaged block is skipped (from its first bad entry on) and the
// walk continues with the next block, so one bad block costs only its own
// entries: repair's use. Entries that would break the table's strict order
// are dropped as damage. fn's arguments are valid only during the call; an
// error from fn stops the walk and is returned. The index block itself must
// be intact (NewReader verified it).
func (r *Reader) Salvage(fn func(ikey, value []byte) error) (SalvageResult, error) {
	var res SalvageResult
	if r.closed {
		return res, errClosedReader
	}
	cmp := func(a, b []byte) int { return base.InternalCompare(r.cmp.Compare, a, b) }
	var after, through []byte // the current block's range, from the index
	var prev []byte           // the last entry passed to fn
	damage := func(err error) {
		res.DamagedBlocks++
		if res.FirstError == nil {
			res.FirstError = err
		}
		l := LostRange{After: clone(after), Through: clone(through), Err: err}
		if prev != nil && (after == nil || cmp(prev, after) >= 0) {
			l.After, l.AfterIsEntry = clone(prev), true
		}
		res.Lost = append(res.Lost, l)
	}
	var ii, bi blockIter
	if err := ii.init(r.cmp, r.index, r.file, r.footer.index.Offset); err != nil {
		return res, err
	}
	for ok := ii.First(); ok; ok = ii.Next() {
		after, through = through, append([]byte(nil), ii.key...)
		h, err := r.decodeIndexValue(&ii)
		if err != nil {
			damage(err)
			continue
		}
		contents, _, _, err := r.readBlock(h, true)
		if err != nil {
			damage(err)
			continue
		}
		if err := bi.init(r.cmp, contents, r.file, h.Offset); err != nil {
			damage(err)
			continue
		}
		for ok := bi.First(); ok; ok = bi.Next() {
			if !base.ValidInternalKey(bi.key) || (prev != nil && cmp(prev, bi.key) >= 0) {
				damage(base.CorruptionErrorf(r.file, int64(h.Offset), "entry out of order or invalid in block at %d", h.Offset))
				break
			}
			prev = append(prev[:0], bi.key...)
			if err := fn(bi.key, bi.val); err != nil {
				return res, err
			}
			res.Entries++
		}
		if bi.err != nil {
			damage(bi.err)
		}
	}
	if ii.err != nil {
		after, through = through, nil
		damage(ii.err)
	}
	return res, nil
}

// clone copies b, keeping nil nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
