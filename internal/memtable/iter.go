package memtable

import (
	"encoding/binary"
	"errors"

	"github.com/strata-db/strata/internal/base"
)

// errShortSeekKey is reported by an Iter asked to seek to a key too short to
// be an internal key.
var errShortSeekKey = errors.New("memtable: seek key shorter than an internal key trailer")

// Iter walks a MemTable in internal-key order, in both directions. It
// implements base.InternalIterator. Key and Value alias the arena and stay
// valid for as long as the MemTable is referenced (longer than the
// interface promises). An Iter is not safe for concurrent use, but any
// number of Iters may run concurrently with Add; entries linked while an
// Iter runs may or may not be seen by it.
//
// Prev costs O(1) (amortized, see the package doc), not a search.
type Iter struct {
	m     *MemTable
	nd    uint32 // current node; 0 when not valid (never the head)
	key   []byte
	value []byte
	err   error

	// ra, when set, serves First and the Nexts after it (see
	// readahead.go); raOn says it is positioned (cleared by a seek, Last
	// or Prev, after which Next walks plainly).
	ra   *readahead
	raOn bool
}

var _ base.InternalIterator = (*Iter)(nil)

// NewIter returns an unpositioned iterator over m.
func (m *MemTable) NewIter() *Iter {
	it := &Iter{}
	it.Init(m)
	return it
}

// NewScanIter returns an unpositioned iterator over m for a scan of all or
// most of it from First (a flush): First and Next walk several stretches of
// the skiplist at once so that cache misses overlap, which makes a forward
// scan of a memtable filled in random order about twice as fast. It costs
// a few hundred node lookups ahead of the position, so a short scan should
// use NewIter. Seeks, Last and Prev work as on any Iter.
func (m *MemTable) NewScanIter() *Iter {
	return &Iter{m: m, ra: &readahead{}}
}

// Init resets it to an unpositioned iterator over m, without allocating, so
// an Iter can be reused (also after Close). It keeps the readahead of a
// NewScanIter iterator.
func (it *Iter) Init(m *MemTable) {
	*it = Iter{m: m, ra: it.ra}
}

// setNode positions it at nd; headOff and 0 mean "not valid".
func (it *Iter) setNode(nd uint32) bool {
	if nd == 0 || nd == headOff {
		it.nd, it.key, it.value = 0, nil, nil
		return false
	}
	it.nd = nd
	it.key = it.m.key(nd)
	it.value = it.m.value(nd)
	return true
}

// splitSeekKey splits an internal key for a search, recording an error for
// a key too short to carry a trailer.
func (it *Iter) splitSeekKey(key []byte) ([]byte, uint64, bool) {
	if len(key) < base.TrailerLen {
		if it.err == nil {
			it.err = errShortSeekKey
		}
		it.setNode(0)
		return nil, 0, false
	}
	n := len(key) - base.TrailerLen
	return key[:n], binary.LittleEndian.Uint64(key[n:]), true
}

// SeekGE moves to the first entry whose internal key is >= key (ordered by
// base.InternalCompare). A key shorter than 8 bytes makes the iterator
// invalid with an error.
func (it *Iter) SeekGE(key []byte) bool {
	ukey, trailer, ok := it.splitSeekKey(key)
	if !ok {
		return false
	}
	nd, _ := it.m.findGE(ukey, trailer)
	it.raOn = false
	return it.setNode(nd)
}

// SeekLT moves to the last entry whose internal key is < key. A key shorter
// than 8 bytes makes the iterator invalid with an error.
func (it *Iter) SeekLT(key []byte) bool {
	ukey, trailer, ok := it.splitSeekKey(key)
	if !ok {
		return false
	}
	it.raOn = false
	return it.setNode(it.m.findLT(ukey, trailer))
}

// First moves to the first entry.
func (it *Iter) First() bool {
	if it.ra != nil {
		it.ra.reset(it.m)
		it.raOn = true
		return it.setNode(it.ra.next())
	}
	return it.setNode(it.m.next(headOff, 0))
}

// Last moves to the last entry.
func (it *Iter) Last() bool {
	it.raOn = false
	return it.setNode(it.m.findLast())
}

// Next moves to the following entry. Called when not valid, it stays
// invalid.
func (it *Iter) Next() bool {
	if it.nd == 0 {
		return false
	}
	if it.raOn {
		return it.setNode(it.ra.next())
	}
	return it.setNode(it.m.next(it.nd, 0))
}

// NextSkipping moves forward at least one entry, like Next, and may skip
// entries that sort below target (an internal key): where the current
// entry's version link (see the package doc) names an older entry of its
// user key below target, it jumps there first, so the older versions of a
// key updated many times cost one step rather than one per version. It then
// steps on past entries below target, and seeks to target once that run
// proves long. A target shorter than an internal key makes it Next.
func (it *Iter) NextSkipping(target []byte) bool {
	if it.nd == 0 {
		return false
	}
	if it.raOn || len(target) < base.TrailerLen {
		return it.Next()
	}
	m := it.m
	n := len(target) - base.TrailerLen
	ukey, trailer := target[:n], binary.LittleEndian.Uint64(target[n:])
	nd := it.nd
	if s := m.skip(nd); s != 0 && m.compare(ukey, trailer, s) > 0 {
		nd = s
	}
	nd = m.next(nd, 0)
	for steps := 1; nd != 0 && m.compare(ukey, trailer, nd) > 0; steps++ {
		if steps == stepsBeforeSeek {
			nd, _ = m.findGE(ukey, trailer)
			break
		}
		nd = m.next(nd, 0)
	}
	return it.setNode(nd)
}

// stepsBeforeSeek is how many entries below its target NextSkipping steps
// over before it searches for the target instead (a step is one node, a
// search about e·ln(n) of them).
const stepsBeforeSeek = 32

// Prev moves to the preceding entry. Called when not valid, it stays
// invalid.
func (it *Iter) Prev() bool {
	if it.nd == 0 {
		return false
	}
	it.raOn = false
	return it.setNode(it.m.findPrev(it.nd))
}

// Valid reports whether the iterator is at an entry.
func (it *Iter) Valid() bool { return it.nd != 0 }

// Key returns the current internal key (aliasing the arena).
func (it *Iter) Key() []byte { return it.key }

// Value returns the current value (aliasing the arena).
func (it *Iter) Value() []byte { return it.value }

// Error returns the first error met since Init: only a malformed seek key.
func (it *Iter) Error() error { return it.err }

// Close makes the iterator invalid and returns Error. The Iter may be
// reused with Init.
func (it *Iter) Close() error {
	err := it.err
	it.setNode(0)
	return err
}
