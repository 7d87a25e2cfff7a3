package memtable

// Readahead for forward scans of a whole memtable (flushes).
//
// Entries are inserted in any order, so walking level 0 of the skiplist
// visits nodes scattered across the arena: every step is a dependent load
// of a cold cache line (and often a TLB miss), and a flush of a 64 MiB
// memtable filled in random order spent over half its time waiting on
// them. The readahead walks several stretches of level 0 at once, so the
// memory system serves several misses in parallel instead of one.
//
// The stretches (segments) are bounded by the nodes taller than raLevel
// (~20 entries apart with p = 1/e), found by walking level raLevel: a
// segment runs from one such node (or the first entry) on level 0 up to,
// not including, the next. raLanes lanes each walk one segment, taking the
// next unassigned segment when theirs ends; segments sit in a ring of
// raSlots in list order, and the iterator hands out the oldest segment's
// nodes once that segment is complete, so lanes run up to raSlots segments
// (~500 entries, well within the L2 cache) ahead of the consumer. A lane
// also touches the last byte of each node it reaches, so the node's key
// and value are cached by the time the consumer copies them.
//
// Concurrent Adds are safe: segment ends are linked nodes, which never move
// and which level 0 always reaches from the segment's start; an entry
// linked during the walk is seen or not, as with a plain Iter.

const (
	raLevel = 3
	raLanes = 8
	raSlots = 32
)

// raSeg is one stretch of level 0: its first node, then the successors up
// to end (excluded; 0 means the end of the list).
type raSeg struct {
	end   uint32
	nodes []uint32 // the stretch's nodes walked so far, in order
	done  bool
}

// raLane walks one segment.
type raLane struct {
	seg int    // index of its segment (head-relative slots are seg % raSlots); -1 when idle
	cur uint32 // last node appended
}

type readahead struct {
	m     *MemTable
	segs  [raSlots]raSeg
	head  int // oldest segment not yet fully handed out
	tail  int // next segment to assign
	pos   int // next node of segs[head%raSlots] to hand out
	lanes [raLanes]raLane

	// The next segment starts at segStart; tower is the tall node (or the
	// head) whose level-raLevel successor ends it. segStart 0: no more.
	segStart uint32
	tower    uint32
	sink     byte // keeps the touching loads alive
}

// reset starts handing out m's entries from the first one.
func (r *readahead) reset(m *MemTable) {
	r.m = m
	r.head, r.tail, r.pos = 0, 0, 0
	r.segStart = m.next(headOff, 0)
	r.tower = headOff
	for i := range r.lanes {
		r.lanes[i].seg = -1
	}
	for i := range r.lanes {
		if !r.assign(i) {
			break
		}
	}
}

// assign gives lane i the next segment, if there is one and a free slot.
func (r *readahead) assign(i int) bool {
	if r.segStart == 0 || r.tail-r.head == raSlots {
		r.lanes[i].seg = -1
		return false
	}
	m := r.m
	end := m.next(r.tower, raLevel)
	if end == r.segStart {
		// The first entry is itself tall: its segment starts there.
		r.tower = end
		end = m.next(end, raLevel)
	}
	s := &r.segs[r.tail%raSlots]
	s.end, s.done = end, false
	s.nodes = append(s.nodes[:0], r.segStart)
	r.touch(r.segStart)
	r.lanes[i] = raLane{seg: r.tail, cur: r.segStart}
	r.tail++
	r.tower, r.segStart = end, end
	return true
}

// touch loads the last byte of nd's value (or key), so the node's cache
// lines are on their way before the consumer reads them.
func (r *readahead) touch(nd uint32) {
	m := r.m
	w := nd / 4
	end := nd + headerBytes + m.words[w+wKeyLen] + m.words[w+wValLen]
	r.sink += m.buf[end-1]
}

// step advances every lane by one node; a lane whose segment ends takes
// the next one.
func (r *readahead) step() {
	m := r.m
	for i := range r.lanes {
		l := &r.lanes[i]
		if l.seg < 0 {
			r.assign(i)
			continue
		}
		s := &r.segs[l.seg%raSlots]
		n := m.next(l.cur, 0)
		if n == s.end || n == 0 {
			s.done = true
			r.assign(i)
			continue
		}
		s.nodes = append(s.nodes, n)
		l.cur = n
		r.touch(n)
	}
}

// next returns the following entry's node, 0 at the end.
func (r *readahead) next() uint32 {
	for {
		if r.head == r.tail {
			if r.segStart == 0 {
				return 0 // the list is exhausted
			}
			// Every segment was handed out while lanes waited for a
			// free slot: set them going again.
			r.step()
			continue
		}
		s := &r.segs[r.head%raSlots]
		if r.pos < len(s.nodes) {
			nd := s.nodes[r.pos]
			r.pos++
			return nd
		}
		if s.done {
			r.head++
			r.pos = 0
			continue
		}
		r.step()
	}
}
