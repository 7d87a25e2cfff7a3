package iterator

import (
	"bytes"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
)

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
	// SpanGap returns Span's answer and also, when gap, that none of the
	// child's tombstones covers [hi, gapEnd) (nil gapEnd: open), as
	// rangedel.Set.SpanGap does: a walk forward past a covering fragment
	// (First, SeekGE across a deleted range) then asks once, not again at
	// the fragment's end. A source that cannot tell returns gap false.
	// The Merging iterator asks only SpanGap.
	SpanGap(ukey []byte, readSeq uint64) (seq uint64, lo, hi, gapEnd []byte, gap bool, err error)
}

// SetView is a fragmented set of range tombstones (a memtable's, a
// table's) as Tombstones. The Merging iterator asks a SetView's set
// directly, not through the interface, and, since a set never changes,
// may remember what a walk over SetViews found (see startMemo).
type SetView rangedel.Set

// Span implements Tombstones.
func (v *SetView) Span(ukey []byte, readSeq uint64) (uint64, []byte, []byte, error) {
	q, lo, hi := (*rangedel.Set)(v).Span(ukey, readSeq)
	return q, lo, hi, nil
}

// SpanGap implements Tombstones.
func (v *SetView) SpanGap(ukey []byte, readSeq uint64) (uint64, []byte, []byte, []byte, bool, error) {
	q, lo, hi, gapEnd, gap := (*rangedel.Set)(v).SpanGap(ukey, readSeq)
	return q, lo, hi, gapEnd, gap, nil
}

// tombView is a child's Tombstones with the last answer cached: a forward
// or backward walk asks again only once it leaves the cached range (or the
// uncovered stretch after it).
type tombView struct {
	src    Tombstones
	cached bool
	seq    uint64
	lo, hi []byte
	// gap: no tombstone covers [hi, gapEnd) (gapEnd nil: open).
	gap    bool
	gapEnd []byte
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
// mix, and they are stepped over one at a time. The positioning calls use
// the same guarantee before positioning a child at all: SeekGE and SeekLT
// cascade (seekPast), First and Last use a Hinted child's bounds
// (startPast), so a child whose start a newer child's tombstone covers is
// positioned once, past the fragment.
func (m *Merging) SetTombstones(ucmp func(a, b []byte) int, readSeq uint64, ts []Tombstones) {
	m.ucmp, m.readSeq = ucmp, readSeq
	// Every view within m.tombs's capacity is zero after clearTombs (see
	// there), so only the sources need writing; the caches start empty.
	m.clearTombs()
	first := -1
	for i, t := range ts {
		if t != nil {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	if cap(m.tombs) < len(ts) {
		m.tombs = make([]tombView, len(ts))
	}
	m.tombs = m.tombs[:len(ts)]
	m.firstTomb = first
	for i := first; i < len(ts); i++ {
		if t := ts[i]; t != nil {
			m.tombs[i].src = t
		}
	}
}

// clearTombs empties m.tombs, leaving every view within its capacity zero
// (and holding no references): only views with a source are ever written
// (covering is asked only of those), so only those are cleared; views past
// the length were cleared when it last shrank, or never used.
func (m *Merging) clearTombs() {
	for i := range m.tombs {
		if m.tombs[i].src != nil {
			m.tombs[i] = tombView{}
		}
	}
	m.tombs = m.tombs[:0]
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
	if v.cached {
		if (v.lo == nil || m.ucmp(v.lo, ukey) <= 0) && (v.hi == nil || m.ucmp(ukey, v.hi) < 0) {
			return v.seq, v.lo, v.hi, nil
		}
		if v.gap && m.ucmp(v.hi, ukey) <= 0 && (v.gapEnd == nil || m.ucmp(ukey, v.gapEnd) < 0) {
			// In the uncovered stretch after the cached range.
			v.seq, v.lo, v.hi, v.gap = 0, v.hi, v.gapEnd, false
			return 0, v.lo, v.hi, nil
		}
	}
	var gapEnd []byte
	var gap bool
	if sv, ok := v.src.(*SetView); ok {
		seq, lo, hi, gapEnd, gap = (*rangedel.Set)(sv).SpanGap(ukey, m.readSeqOf(i))
	} else if seq, lo, hi, gapEnd, gap, err = v.src.SpanGap(ukey, m.readSeqOf(i)); err != nil {
		v.cached = false
		return 0, nil, nil, err
	}
	v.cached, v.seq, v.lo, v.hi, v.gap, v.gapEnd = true, seq, lo, hi, gap && hi != nil, gapEnd
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
		if top.pastAll && m.dir == dirForward && top.index < m.capFrom &&
			(top.index >= len(m.tombs) || m.tombs[top.index].src == nil) {
			return true // no tombstone covers anything of the child from here on
		}
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
		from := 0
		if top.pastAll && m.dir == dirForward {
			from = top.index // the earlier children's cover nothing from here on
		}
		for i := from; act == 0 && i <= top.index && i < len(m.tombs); i++ {
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

// Hinted is implemented by children of a Merging iterator that know, without
// being positioned, where their entries start and end (a level or a table,
// from the MANIFEST's smallest and largest keys). First and Last use the
// hints: when range tombstones of newer children delete a child's first
// (last) entries, the child is positioned past them with one seek, not
// positioned at them and then moved again.
type Hinted interface {
	// FirstHint returns a user key at or before the user key of the entry
	// First would move to (nil: unknown).
	FirstHint() []byte
	// LastHint returns a user key at or after the user key of the entry
	// Last would move to (nil: unknown).
	LastHint() []byte
}

// startAll is First (forward) or Last with range tombstones: each child is
// positioned at its start, or past what the tombstones of the children
// before it delete there (startPast). The children up to the first with
// tombstones have none before them: they start as usual, and moving
// forward nothing before them covers a key (pastAll).
func (m *Merging) startAll(dir int8) {
	for j := range m.children {
		c := &m.children[j]
		if j <= m.firstTomb {
			c.pastAll = dir == dirForward
		} else if m.startPast(j, dir) {
			continue
		}
		if c.iter == nil {
			continue
		}
		if dir == dirForward {
			c.iter.First()
		} else {
			c.iter.Last()
		}
	}
}

// startPast is First (forward) or Last for child j when range tombstones
// of the children before it delete the entries at its start (end), as its
// hints tell: the child seeks straight past them, or is left out of the
// heap when nothing of it survives in that direction. It reports whether it
// positioned (or left out) the child; false: the caller positions it as
// usual. An error from the tombstones is recorded, and the child left out.
func (m *Merging) startPast(j int, dir int8) bool {
	c := &m.children[j]
	c.pastAll = false
	var ukey []byte
	// A Level first: a comparison of types, not a look-up of Hinted's
	// method table.
	switch h := c.iter.(type) {
	case *Level:
		ukey = h.hint(dir)
	case Hinted:
		if dir == dirForward {
			ukey = h.FirstHint()
		} else {
			ukey = h.LastHint()
		}
	default:
		return false
	}
	if ukey == nil {
		return false
	}
	var to, seekKey []byte
	var moved, open bool
	var err error
	if sm := m.startMemoFor(j, ukey, dir); sm != nil {
		seekKey, moved, open, c.pastAll = sm.seekKey, sm.moved, sm.open, sm.pastAll
	} else {
		to, moved, open, err = m.pastTombstones(j, ukey, dir)
		if err == nil && !open && dir == dirForward {
			c.pastAll = m.clearOnward(j)
		}
		if moved && !open {
			m.seekBuf = base.MakeSearchKey(m.seekBuf[:0], to, base.MaxSeq)
			seekKey = m.seekBuf
		}
		if err == nil {
			m.rememberStart(j, ukey, dir, seekKey, moved, open, c.pastAll)
		}
	}
	switch {
	case err != nil:
		if m.err == nil {
			m.err = err
		}
		c.skip = true
	case !moved:
		return false
	case open:
		c.skip = true
	default:
		// seekKey is to's first key (MaxSeq).
		if l, ok := c.iter.(*Level); ok {
			l.seekPastHint(seekKey, dir) // to is past the hint: see there
		} else if dir == dirForward {
			c.iter.SeekGE(seekKey)
		} else {
			c.iter.SeekLT(seekKey)
		}
	}
	return true
}

// startMemo is what startPast last found for one child: moving in
// direction dir from the child's hint, past the tombstones of the sources
// srcs (the children's before it, nil where a child has none), it seeks
// seekKey, a user key's first key (when moved, and not open), or nothing
// of the child survives (open); pastAll is
// the child's mark (see mergeChild). Kept only when every source is a
// SetView (a set, which never changes) whose tombstones the reader all
// sees (its sequence at or above maxSeq, their largest), so that the
// answer depends on nothing but the sets and the hint: the next iterator
// from the same pool that starts the same child over the same sets (a
// queue's consumers, every scan from the start of a range a prefix of
// which was deleted) takes it without asking the sets. It survives Init
// and Close, holding its sets.
type startMemo struct {
	valid   bool
	dir     int8
	hint    []byte
	srcs    []*SetView
	maxSeq  uint64
	seekKey []byte
	moved   bool
	open    bool
	pastAll bool
}

// startMemoFor returns child j's startMemo when it answers the question
// of starting it from hint ukey in direction dir, or nil.
func (m *Merging) startMemoFor(j int, ukey []byte, dir int8) *startMemo {
	if j >= len(m.starts) {
		return nil
	}
	sm := &m.starts[j]
	if !sm.valid || sm.dir != dir || len(sm.srcs) != j || m.readSeqOf(j-1) < sm.maxSeq {
		return nil
	}
	for i, src := range sm.srcs {
		var cur Tombstones
		if i < len(m.tombs) {
			cur = m.tombs[i].src
		}
		if cur == nil {
			if src != nil {
				return nil
			}
		} else if sv, ok := cur.(*SetView); !ok || sv != src {
			return nil
		}
	}
	if !bytes.Equal(sm.hint, ukey) {
		return nil
	}
	return sm
}

// rememberStart records startPast's answer for child j (see startMemo),
// when its sources allow. seekKey is copied.
func (m *Merging) rememberStart(j int, ukey []byte, dir int8, seekKey []byte, moved, open, pastAll bool) {
	var maxSeq uint64
	for i := 0; i < j && i < len(m.tombs); i++ {
		src := m.tombs[i].src
		if src == nil {
			continue
		}
		sv, ok := src.(*SetView)
		if !ok {
			return
		}
		maxSeq = max(maxSeq, (*rangedel.Set)(sv).MaxSeq())
	}
	if m.readSeqOf(j-1) < maxSeq {
		return // some tombstones are invisible to this reader
	}
	for len(m.starts) <= j {
		m.starts = append(m.starts, startMemo{})
	}
	sm := &m.starts[j]
	sm.valid, sm.dir, sm.maxSeq = true, dir, maxSeq
	sm.hint = append(sm.hint[:0], ukey...)
	sm.srcs = sm.srcs[:0]
	for i := 0; i < j; i++ {
		var sv *SetView
		if i < len(m.tombs) && m.tombs[i].src != nil {
			sv = m.tombs[i].src.(*SetView) // checked above
		}
		sm.srcs = append(sm.srcs, sv)
	}
	sm.seekKey = append(sm.seekKey[:0], seekKey...)
	sm.moved, sm.open, sm.pastAll = moved, open, pastAll
}

// clearOnward reports, after pastTombstones(j, …) moved forward to a key
// (every view before j then holds an answer for that key), whether no
// tombstone of the children before j covers that key or any after it: each
// view's answer is "not covered", open-ended.
func (m *Merging) clearOnward(j int) bool {
	for i := 0; i < j && i < len(m.tombs); i++ {
		if v := &m.tombs[i]; v.src != nil && (!v.cached || v.seq != 0 || v.hi != nil) {
			return false
		}
	}
	return true
}

// pastTombstones returns where the entries of child j that survive the
// tombstones of the children before it start, moving from user key ukey in
// direction dir: the end (forward) or start of the fragments that cover
// ukey, followed while another covers where they lead. moved reports that
// some did; open that one is open on that side, so nothing of child j
// survives from ukey on. By the layout (see SetTombstones) every entry of
// child j in a fragment a child before it has a visible tombstone over is
// older than that tombstone, so none of them needs to be looked at.
//
// Moving backward, "covers" means: a fragment [lo, hi) holding the key with
// lo before it; the keys in [lo, key] are deleted, and the walk goes on
// below lo.
func (m *Merging) pastTombstones(j int, ukey []byte, dir int8) (to []byte, moved, open bool, err error) {
	// skip is a child whose tombstones are known not to cover ukey: moving
	// forward, it moved ukey to the end of its fragment, where its view
	// knows the uncovered stretch begins (the next pass need not ask it).
	skip := -1
	for {
		again := false
		for i := 0; i < j && i < len(m.tombs); i++ {
			if m.tombs[i].src == nil || i == skip {
				continue
			}
			t, lo, hi, err := m.covering(i, ukey)
			if err != nil {
				return nil, false, false, err
			}
			if t == 0 {
				continue
			}
			next := hi
			if dir == dirReverse {
				next = lo
			}
			if next == nil {
				return nil, true, true, nil
			}
			if dir == dirReverse && m.ucmp(next, ukey) >= 0 {
				continue // no progress: lo is the key itself
			}
			ukey, moved, again = next, true, true
			skip = -1
			if v := &m.tombs[i]; dir == dirForward && v.gap {
				// ukey is v.hi, where the stretch no tombstone of
				// child i covers starts: enter it now, as covering
				// would on the next pass.
				v.seq, v.lo, v.hi, v.gap = 0, v.hi, v.gapEnd, false
				skip = i
			}
		}
		if !again {
			return ukey, moved, false, nil
		}
	}
}

// seekPast is SeekGE (forward) or SeekLT of key with range tombstones,
// positioning the children newest first: once a child's tombstones cover
// the user key the seek is at, the children after it seek past the
// fragment instead (Pebble's cascading seek), since every entry of theirs
// in it is older than the tombstone and deleted. A fragment open on that
// side leaves the children after it out of the heap.
func (m *Merging) seekPast(key []byte, dir int8) bool {
	ukey := base.UserKey(key)
	target := key
	open := false
	for j := range m.children {
		c := &m.children[j]
		c.pastAll = false
		if open {
			c.skip = true
			continue
		}
		switch {
		case c.iter == nil:
		case dir == dirForward:
			c.iter.SeekGE(target)
		default:
			c.iter.SeekLT(target)
		}
		if ukey == nil || j+1 == len(m.children) || j >= len(m.tombs) || m.tombs[j].src == nil {
			continue
		}
		t, lo, hi, err := m.covering(j, ukey)
		if err != nil {
			if m.err == nil {
				m.err = err
			}
			open = true // leave the rest out; rebuild reports the error
			continue
		}
		if t == 0 {
			continue
		}
		next := hi
		if dir == dirReverse {
			next = lo
		}
		switch {
		case next == nil:
			open = true
		case dir == dirReverse && m.ucmp(next, ukey) >= 0:
			// lo is the key itself: nothing to skip below it.
		default:
			ukey = next
			m.seekBuf = base.MakeSearchKey(m.seekBuf[:0], ukey, base.MaxSeq)
			target = m.seekBuf
		}
	}
	return m.settle(m.rebuild(dir))
}
