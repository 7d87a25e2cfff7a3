package iterator

import "github.com/strata-db/strata/internal/base"

// Tombstones gives the range tombstones of one child of a Merging iterator
// (a memtable's, a table's, or a level's) so that the Merging iterator can
// hide the entries they delete.
type Tombstones interface {
	// Span returns the largest sequence number at or below readSeq of the
	// child's tombstones covering ukey (0 when none does), and a range
	// [lo, hi) around ukey (nil: open on that side) over which the answer
	// stays the same, as rangedel.Set.Span does. The bounds must stay
	// valid and unchanged while the Merging iterator is in use.
	Span(ukey []byte, readSeq uint64) (seq uint64, lo, hi []byte, err error)
}

// tombView is a child's Tombstones with the last answer cached: a forward
// or backward walk asks again only once it leaves the cached range.
type tombView struct {
	src    Tombstones
	cached bool
	seq    uint64
	lo, hi []byte
}

// SetTombstones makes m hide the entries that range tombstones delete for a
// reader at readSeq. ts[i] (nil: none) gives the tombstones of the i-th
// child; children are listed newest first, as the engine builds them, and
// ucmp orders user keys. Call it after Init, before positioning.
//
// An entry k#s of child j is deleted when a tombstone of child i <= j
// covering k has a sequence in (s, readSeq]. For i < j the engine's layout
// guarantees more: every entry of child j inside the tombstone's fragment
// is older than it (a newer entry for those keys lives in child i or a
// newer one), so child j skips the whole fragment with one seek, and a scan
// over a deleted range costs in the number of tombstones, not of the keys
// they delete. Within one child entries newer and older than a tombstone
// mix, and they are stepped over one at a time.
func (m *Merging) SetTombstones(ucmp func(a, b []byte) int, readSeq uint64, ts []Tombstones) {
	m.ucmp, m.readSeq = ucmp, readSeq
	m.tombs = m.tombs[:0]
	any := false
	for _, t := range ts {
		if t != nil {
			any = true
		}
	}
	if !any {
		return
	}
	for _, t := range ts {
		m.tombs = append(m.tombs, tombView{src: t})
	}
}

// SetSeqCap hides the entries with a sequence above seq of the children
// from index from on, and has their tombstones read at seq at most, while
// the children before from are read at the Merging iterator's readSeq (see
// SetTombstones). An indexed batch's iterator uses it: the batch's entries,
// numbered above every real sequence, come first, and the database beneath
// is read at its own sequence. Call it after Init (which removes the cap).
func (m *Merging) SetSeqCap(from int, seq uint64) {
	m.capFrom, m.capSeq = from, seq
}

// readSeqOf is the sequence child i is read at.
func (m *Merging) readSeqOf(i int) uint64 {
	if i >= m.capFrom {
		return min(m.readSeq, m.capSeq)
	}
	return m.readSeq
}

// covering asks child i's tombstones about ukey, through its cache.
func (m *Merging) covering(i int, ukey []byte) (seq uint64, lo, hi []byte, err error) {
	v := &m.tombs[i]
	if v.cached && (v.lo == nil || m.ucmp(v.lo, ukey) <= 0) && (v.hi == nil || m.ucmp(ukey, v.hi) < 0) {
		return v.seq, v.lo, v.hi, nil
	}
	seq, lo, hi, err = v.src.Span(ukey, m.readSeqOf(i))
	if err != nil {
		v.cached = false
		return 0, nil, nil, err
	}
	v.cached, v.seq, v.lo, v.hi = true, seq, lo, hi
	return seq, lo, hi, nil
}

// settle returns ok, after moving past deleted entries when m has
// tombstones (SetTombstones). Every positioning method ends with it.
func (m *Merging) settle(ok bool) bool {
	if !ok || len(m.tombs) == 0 && m.capFrom >= len(m.children) {
		return ok
	}
	return m.skipDeleted()
}

// skipDeleted moves the heap's top, in the current direction, until it is
// at an entry no tombstone deletes (or m is exhausted).
func (m *Merging) skipDeleted() bool {
	for len(m.heap) > 0 {
		top := m.heap[0]
		if len(top.key) < 8 {
			return true // malformed: the DB iterator reports it
		}
		ukey := base.UserKey(top.key)
		seq := base.Trailer(top.key) >> 8
		act, bound := 0, []byte(nil) // 1: step over the entry; 2: skip to bound
		if top.index >= m.capFrom && seq > m.capSeq {
			act = 1 // above the cap: hidden
		} else if seq > m.readSeq {
			return true // invisible anyway; no visible tombstone is newer
		}
		for i := 0; act == 0 && i <= top.index && i < len(m.tombs); i++ {
			if m.tombs[i].src == nil {
				continue
			}
			t, lo, hi, err := m.covering(i, ukey)
			if err != nil {
				return m.fail(err)
			}
			if t <= seq {
				continue
			}
			act = 1
			if i < top.index {
				act, bound = 2, hi
				if m.dir == dirReverse {
					bound = lo
				}
			}
			break
		}
		if act == 0 {
			return true
		}
		var ok bool
		switch {
		case act == 1 && m.dir == dirForward:
			ok = top.iter.Next()
		case act == 1:
			ok = top.iter.Prev()
		case bound == nil:
			// The fragment is open on that side: nothing further in this
			// child survives it.
			m.removeTop()
			continue
		case m.dir == dirForward:
			m.seekBuf = base.MakeSearchKey(m.seekBuf[:0], bound, base.MaxSeq)
			ok = top.iter.SeekGE(m.seekBuf)
		default:
			m.seekBuf = base.MakeSearchKey(m.seekBuf[:0], bound, base.MaxSeq)
			ok = top.iter.SeekLT(m.seekBuf)
		}
		if ok {
			top.key = top.iter.Key()
			m.down(0)
		} else if !m.popTop() && m.err != nil {
			return false
		}
	}
	return false
}

// removeTop takes the top child out of the heap without checking it for an
// error: it is positioned, but has nothing more to give in this direction.
func (m *Merging) removeTop() {
	n := len(m.heap) - 1
	m.heap[0] = m.heap[n]
	m.heap[n] = nil
	m.heap = m.heap[:n]
	m.down(0)
}
