package iterator

import "github.com/strata-db/strata/internal/base"

// Direction of the last positioning call of a bidirectional iterator.
const (
	dirForward int8 = 1
	dirReverse int8 = -1
)

// mergeChild is one child of a Merging iterator and the key it is at.
type mergeChild struct {
	iter base.InternalIterator
	// key caches iter.Key() while the child is in the heap, so heap
	// comparisons do not make interface calls.
	key []byte
	// skipper is iter when it can skip a run of entries itself (a
	// memtable's version links); nil otherwise.
	skipper skipper
	// index is the child's position in the constructor's argument list; it
	// breaks ties between equal keys so the order is total.
	index int
	// skip: the positioning call under way left the child unpositioned
	// because range tombstones of newer children delete everything it
	// holds in that direction (see seekPast); rebuild leaves it out of the
	// heap and clears the mark.
	skip bool
	// pastAll: moving forward, no tombstone of an earlier child covers a
	// key at or after the child's position (startPast found every earlier
	// child's tombstones answering "none" up to the open end from where it
	// started the child), so skipDeleted asks only the child's own
	// tombstones until the next positioning call, which clears the mark.
	pastAll bool
}

// Merging merges the sorted streams of its children into one sorted stream
// (LevelDB's MergingIterator), using a binary heap of the children that are
// positioned at an entry.
//
// Invariants:
//   - Moving forward, heap is a min-heap on (key, index) and every child in
//     it is at its first entry > the merged iterator's previous key; moving
//     backward it is a max-heap on (key, index) with the symmetric property.
//     Children not in the heap are exhausted in the current direction.
//   - On a direction change every child except the current one is repositioned
//     relative to the current key (LevelDB's rule: SeekGE and step past equal
//     keys before Next; SeekLT before Prev), so the switch costs one seek per
//     child and lands on the correct neighbour.
//   - Equal internal keys in different children do not occur in the engine
//     (sequence numbers are unique); if they do, every entry is still
//     produced in a single direction (ties broken by child order), and no
//     operation can loop, but a direction change skips the other children's
//     copies of the current key.
//   - Once a child reports an error the Merging iterator is invalid for good
//     and Error returns that error.
type Merging struct {
	cmp      func(a, b []byte) int
	children []mergeChild
	heap     []*mergeChild
	dir      int8
	err      error

	// Range tombstones (SetTombstones): tombs is empty when there are none;
	// firstTomb is the first child with tombstones (meaningful only when
	// tombs is not empty).
	tombs     []tombView
	firstTomb int
	ucmp      func(a, b []byte) int
	readSeq   uint64
	seekBuf   []byte
	// capFrom and capSeq: see SetSeqCap (capFrom >= len(children): none).
	capFrom int
	capSeq  uint64
	// starts[j] remembers startPast's last answer for child j; kept
	// across Init and Close (see startMemo).
	starts []startMemo
}

// NewMerging returns an iterator over the merged contents of iters, ordered
// by cmp, which must be the internal-key order the children are sorted by.
// It is unpositioned: call a positioning method first. The Merging iterator
// owns the children: Close closes them. A nil child has no entries (a
// table of range tombstones only, whose tombstones SetTombstones still
// gives): it costs no call.
func NewMerging(cmp func(a, b []byte) int, iters ...base.InternalIterator) *Merging {
	m := &Merging{}
	m.Init(cmp, iters...)
	return m
}

// Init resets m to merge iters under cmp, reusing m's memory, so a caller
// can keep one Merging iterator per read. The previous children are not
// closed: Close them first if they should be. Init does not retain the iters
// slice itself.
func (m *Merging) Init(cmp func(a, b []byte) int, iters ...base.InternalIterator) {
	m.cmp = cmp
	m.err = nil
	m.dir = dirForward
	if cap(m.children) < len(iters) {
		m.children = make([]mergeChild, len(iters))
		m.heap = make([]*mergeChild, 0, len(iters))
	}
	m.children = m.children[:len(iters)]
	for i, it := range iters {
		m.children[i] = mergeChild{iter: it, index: i}
		if sk, ok := it.(skipper); ok {
			m.children[i].skipper = sk
		}
	}
	m.heap = m.heap[:0]
	m.clearTombs()
	m.capFrom, m.capSeq = len(iters), base.MaxSeq
}

// less orders heap entries: by key in the current direction, ties by child
// index (ascending forward, descending backward).
func (m *Merging) less(a, b *mergeChild) bool {
	c := m.cmp(a.key, b.key)
	if c == 0 {
		c = a.index - b.index
	}
	if m.dir == dirForward {
		return c < 0
	}
	return c > 0
}

func (m *Merging) down(i int) {
	h := m.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && m.less(h[r], h[l]) {
			j = r
		}
		if !m.less(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// rebuild puts every positioned child into the heap and heapifies it. A child
// that is not positioned is checked for an error.
func (m *Merging) rebuild(dir int8) bool {
	m.dir = dir
	m.heap = m.heap[:0]
	for i := range m.children {
		c := &m.children[i]
		if c.skip {
			c.skip = false
			continue
		}
		if c.iter == nil {
			continue
		}
		if c.iter.Valid() {
			c.key = c.iter.Key()
			m.heap = append(m.heap, c)
		} else if err := c.iter.Error(); err != nil && m.err == nil {
			m.err = err
		}
	}
	if m.err != nil {
		m.heap = m.heap[:0]
		return false
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return len(m.heap) > 0
}

// fail records err, empties the heap and returns false.
func (m *Merging) fail(err error) bool {
	if m.err == nil {
		m.err = err
	}
	m.heap = m.heap[:0]
	return false
}

// SeekGE moves to the first entry whose key is >= key.
func (m *Merging) SeekGE(key []byte) bool {
	if m.err != nil {
		return false
	}
	if len(m.tombs) > 0 {
		return m.seekPast(key, dirForward)
	}
	for i := range m.children {
		if it := m.children[i].iter; it != nil {
			it.SeekGE(key)
		}
	}
	return m.settle(m.rebuild(dirForward))
}

// SeekLT moves to the last entry whose key is < key.
func (m *Merging) SeekLT(key []byte) bool {
	if m.err != nil {
		return false
	}
	if len(m.tombs) > 0 {
		return m.seekPast(key, dirReverse)
	}
	for i := range m.children {
		if it := m.children[i].iter; it != nil {
			it.SeekLT(key)
		}
	}
	return m.settle(m.rebuild(dirReverse))
}

// First moves to the first entry.
func (m *Merging) First() bool {
	if m.err != nil {
		return false
	}
	if len(m.tombs) > 0 {
		m.startAll(dirForward)
	} else {
		for i := range m.children {
			if it := m.children[i].iter; it != nil {
				it.First()
			}
		}
	}
	return m.settle(m.rebuild(dirForward))
}

// Last moves to the last entry.
func (m *Merging) Last() bool {
	if m.err != nil {
		return false
	}
	if len(m.tombs) > 0 {
		m.startAll(dirReverse)
	} else {
		for i := range m.children {
			if it := m.children[i].iter; it != nil {
				it.Last()
			}
		}
	}
	return m.settle(m.rebuild(dirReverse))
}

// Next moves to the next entry. It returns false, doing nothing, when m is
// not positioned.
func (m *Merging) Next() bool {
	if len(m.heap) == 0 {
		return false
	}
	if m.dir != dirForward {
		return m.switchToForward()
	}
	top := m.heap[0]
	if top.iter.Next() {
		top.key = top.iter.Key()
		m.down(0)
		return m.settle(true)
	}
	return m.settle(m.popTop())
}

// NextSkipping is Next that may also skip entries below target (an
// internal key above the current one): the child at the current entry
// moves on past its entries below target without the heap — stepping, and
// seeking once the run proves long (childStepsBeforeSeek) — so a run of
// entries in it below target, such as the older versions of one user key
// piled up in a memtable by repeated updates, costs a comparison per entry
// or one seek rather than a heap update per entry.
// A child that can skip such a run itself (a memtable iterator, whose
// version links jump over a key's older versions) is asked to.
// The other children keep their positions, so m may still land on an
// entry below target from one of them. Moving backward it is Next.
func (m *Merging) NextSkipping(target []byte) bool {
	if len(m.heap) == 0 || m.dir != dirForward {
		return m.Next()
	}
	top := m.heap[0]
	var ok bool
	if top.skipper != nil {
		ok = top.skipper.NextSkipping(target)
	} else {
		ok = top.iter.Next()
		for steps := 1; ok && m.cmp(top.iter.Key(), target) < 0; steps++ {
			if steps == childStepsBeforeSeek {
				ok = top.iter.SeekGE(target)
				break
			}
			ok = top.iter.Next()
		}
	}
	if ok {
		top.key = top.iter.Key()
		m.down(0)
		return m.settle(true)
	}
	return m.settle(m.popTop())
}

// topSkips reports whether moving forward the current entry comes from a
// child that skips runs of entries itself (NextSkipping), so that asking it
// to costs no more than Next.
func (m *Merging) topSkips() bool {
	return len(m.heap) > 0 && m.dir == dirForward && m.heap[0].skipper != nil
}

// childStepsBeforeSeek is how many entries below its target NextSkipping
// steps a child over before it seeks: a step that stays in one child
// costs a comparison, not the heap's, so short runs are stepped and only
// long ones sought.
const childStepsBeforeSeek = 32

// Prev moves to the previous entry. It returns false, doing nothing, when m
// is not positioned.
func (m *Merging) Prev() bool {
	if len(m.heap) == 0 {
		return false
	}
	if m.dir != dirReverse {
		return m.switchToReverse()
	}
	top := m.heap[0]
	if top.iter.Prev() {
		top.key = top.iter.Key()
		m.down(0)
		return m.settle(true)
	}
	return m.settle(m.popTop())
}

// popTop removes the exhausted top child from the heap, or fails if it
// stopped because of an error.
func (m *Merging) popTop() bool {
	if err := m.heap[0].iter.Error(); err != nil {
		return m.fail(err)
	}
	n := len(m.heap) - 1
	m.heap[0] = m.heap[n]
	m.heap[n] = nil
	m.heap = m.heap[:n]
	m.down(0)
	return n > 0
}

// switchToForward is Next after backward movement: every other child moves
// to its first entry > the current key, the current child steps forward, and
// the heap is rebuilt as a min-heap.
func (m *Merging) switchToForward() bool {
	cur := m.heap[0]
	key := cur.key // cur does not move until the others are placed
	for i := range m.children {
		c := &m.children[i]
		c.pastAll = false
		if c == cur || c.iter == nil {
			continue
		}
		ok := c.iter.SeekGE(key)
		for ok && m.cmp(c.iter.Key(), key) == 0 {
			ok = c.iter.Next()
		}
	}
	cur.iter.Next()
	return m.settle(m.rebuild(dirForward))
}

// switchToReverse is Prev after forward movement: every other child moves to
// its last entry < the current key, the current child steps back, and the
// heap is rebuilt as a max-heap.
func (m *Merging) switchToReverse() bool {
	cur := m.heap[0]
	key := cur.key
	for i := range m.children {
		c := &m.children[i]
		c.pastAll = false
		if c == cur || c.iter == nil {
			continue
		}
		c.iter.SeekLT(key)
	}
	cur.iter.Prev()
	return m.settle(m.rebuild(dirReverse))
}

// Valid reports whether m is at an entry.
func (m *Merging) Valid() bool { return len(m.heap) > 0 }

// Key returns the current internal key, or nil when not Valid.
func (m *Merging) Key() []byte {
	if len(m.heap) == 0 {
		return nil
	}
	return m.heap[0].key
}

// Value returns the current value, or nil when not Valid.
func (m *Merging) Value() []byte {
	if len(m.heap) == 0 {
		return nil
	}
	return m.heap[0].iter.Value()
}

// Error returns the first error reported by a child.
func (m *Merging) Error() error { return m.err }

// Close closes every child and returns the first error met while iterating
// or closing. m must not be used afterwards except through Init.
func (m *Merging) Close() error {
	err := m.err
	for i := range m.children {
		c := &m.children[i]
		if c.iter == nil {
			continue
		}
		if cerr := c.iter.Close(); cerr != nil && err == nil {
			err = cerr
		}
		*c = mergeChild{}
	}
	m.heap = m.heap[:0]
	m.children = m.children[:0]
	return err
}
