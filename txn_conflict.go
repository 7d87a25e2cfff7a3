package strata

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/strata-db/strata/internal/base"
)

// The conflict set (FoundationDB's ConflictSet, kept by the commit leader).
//
// It records, for the recent past, the newest version at which each part of
// the key space was written: a sorted set of boundaries, each carrying the
// version of the interval from it to the next boundary (0: not written
// since the floor). A committing transaction's read ranges are checked
// against it — a range written at a version above the transaction's read
// version is a conflict — and then its write ranges are recorded at its
// commit version. Commit versions only grow, so recording [a, b) at v
// simply replaces every boundary inside with one at a carrying v.
//
// The set is a treap (a randomized balanced search tree) whose nodes also
// keep their subtree's highest version, so that the highest version over
// any range is found in O(log n), whatever the history inside it: checking
// costs grow with the ranges checked, not with the writes kept.
//
// floor is the version below which history is not kept: a transaction
// whose read version is below it cannot be checked and gets ErrTxnTooOld.
// The floor rises when the set outgrows Options.TxnConflictWindow (the
// oldest writes are forgotten), and when no read-write transaction is open
// (nothing needs the history; writes are then not recorded at all, and the
// floor follows the last sequence handed out).

// bound is a position between keys: just before key, or just after it
// (after), or before every key (neg), or past every key (inf). Ranges are
// [start, end) over bounds, so a point key k is [before(k), after(k))
// whatever the comparator. The empty key is not a stand-in for neg: under a
// comparator other than the bytewise one it need not be the smallest key.
type bound struct {
	key   []byte
	after bool
	neg   bool
	inf   bool
}

// withKey is b at key k (a copy of its key kept elsewhere).
func (b bound) withKey(k []byte) bound {
	b.key = k
	return b
}

// compareBounds orders bounds by key (under cmp), before < after, with neg
// first and inf last.
func compareBounds(cmp *base.Comparer, a, b bound) int {
	switch {
	case a.neg || b.neg:
		if a.neg == b.neg {
			return 0
		}
		if a.neg {
			return -1
		}
		return 1
	case a.inf || b.inf:
		if a.inf == b.inf {
			return 0
		}
		if a.inf {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	switch {
	case a.after == b.after:
		return 0
	case a.after:
		return 1
	}
	return -1
}

// keyRange is a range of the key space, [start, end).
type keyRange struct {
	start, end bound
}

// String shows a range for error messages: [a, b), a single key as itself.
func (r keyRange) String() string {
	if r.isPoint() {
		return fmt.Sprintf("key %q", r.start.key)
	}
	return fmt.Sprintf("range [%s, %s)", r.start.show(), r.end.show())
}

// isPoint reports whether r holds exactly one key, r.start.key.
func (r keyRange) isPoint() bool {
	return !r.start.after && !r.start.neg && !r.start.inf && r.end.after && !r.end.inf &&
		bytes.Equal(r.start.key, r.end.key)
}

func (b bound) show() string {
	switch {
	case b.neg:
		return "-inf"
	case b.inf:
		return "+inf"
	case b.after:
		return fmt.Sprintf("after %q", b.key)
	}
	return fmt.Sprintf("%q", b.key)
}

// pointRange is the range holding exactly key.
func pointRange(key []byte) keyRange {
	return keyRange{bound{key: key}, bound{key: key, after: true}}
}

// cnode is a boundary of the conflict set: the interval from key to the
// next boundary was last written at version.
type cnode struct {
	key         bound
	version     uint64
	maxVersion  uint64 // highest version in this subtree
	prio        uint32
	left, right *cnode
}

func (n *cnode) fix() {
	m := n.version
	if n.left != nil && n.left.maxVersion > m {
		m = n.left.maxVersion
	}
	if n.right != nil && n.right.maxVersion > m {
		m = n.right.maxVersion
	}
	n.maxVersion = m
}

// nodeOverhead approximates a node's memory beyond its key, for the
// window's byte count.
const nodeOverhead = 64

// conflictSet is the set above. Used under DB.mu only.
type conflictSet struct {
	cmp   *base.Comparer
	root  *cnode
	nodes int
	bytes int64 // keys + nodeOverhead per node
	rng   *rand.PCG
	floor uint64
	// log lists what each recorded commit added, oldest first, so that
	// the window can forget the oldest writes (raising floor).
	log []windowEntry
	// trimAt is the size (bytes) past which the commit path forgets the
	// history older than every open snapshot (DB.trimConflictWindowLocked):
	// twice what the set kept after the last trim, at least
	// conflictTrimMin. So the set stays near what open transactions need
	// (a treap of a few thousand boundaries under a server's stream of
	// short transactions, instead of growing to TxnConflictWindow between
	// trims), and each rebuild, linear in the set, is paid for by as many
	// bytes recorded since.
	trimAt int64
}

// conflictTrimMin is the smallest trimAt: below it the set is not trimmed
// before it reaches the window.
const conflictTrimMin = 256 << 10

type windowEntry struct {
	version uint64
	bytes   int64
}

func newConflictSet(cmp *base.Comparer) *conflictSet {
	return &conflictSet{cmp: cmp, rng: rand.NewPCG(0x5eed, 0xc0ff1c7), trimAt: conflictTrimMin}
}

// split cuts t into the nodes below k and those at or above it.
func (s *conflictSet) split(t *cnode, k bound) (l, r *cnode) {
	if t == nil {
		return nil, nil
	}
	if compareBounds(s.cmp, t.key, k) < 0 {
		t.right, r = s.split(t.right, k)
		t.fix()
		return t, r
	}
	l, t.left = s.split(t.left, k)
	t.fix()
	return l, t
}

// join joins l and r, every key of l below every key of r.
func join(l, r *cnode) *cnode {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.prio > r.prio:
		l.right = join(l.right, r)
		l.fix()
		return l
	}
	r.left = join(l, r.left)
	r.fix()
	return r
}

// floorNode returns the last boundary at or below k (nil: none).
func (s *conflictSet) floorNode(k bound) *cnode {
	var best *cnode
	for n := s.root; n != nil; {
		if compareBounds(s.cmp, n.key, k) <= 0 {
			best, n = n, n.right
		} else {
			n = n.left
		}
	}
	return best
}

// maxAbove returns the highest version of the nodes in t with key > lo and
// key < hi (lo, hi nil: open).
func (s *conflictSet) maxBetween(t *cnode, lo, hi *bound) uint64 {
	var m uint64
	for t != nil {
		if lo != nil && compareBounds(s.cmp, t.key, *lo) <= 0 {
			t = t.right
			continue
		}
		if hi != nil && compareBounds(s.cmp, t.key, *hi) >= 0 {
			t = t.left
			continue
		}
		// t is inside: its version counts; the left subtree is bounded
		// by lo only, the right by hi only.
		m = max(m, t.version)
		m = max(m, s.maxAbove(t.left, lo), s.maxBelow(t.right, hi))
		return m
	}
	return m
}

// maxAbove is the highest version among t's nodes with key > lo.
func (s *conflictSet) maxAbove(t *cnode, lo *bound) uint64 {
	var m uint64
	for t != nil {
		if lo != nil && compareBounds(s.cmp, t.key, *lo) <= 0 {
			t = t.right
			continue
		}
		m = max(m, t.version)
		if t.right != nil {
			m = max(m, t.right.maxVersion)
		}
		t = t.left
	}
	return m
}

// maxBelow is the highest version among t's nodes with key < hi.
func (s *conflictSet) maxBelow(t *cnode, hi *bound) uint64 {
	var m uint64
	for t != nil {
		if hi != nil && compareBounds(s.cmp, t.key, *hi) >= 0 {
			t = t.left
			continue
		}
		m = max(m, t.version)
		if t.left != nil {
			m = max(m, t.left.maxVersion)
		}
		t = t.right
	}
	return m
}

// maxVersion returns the newest version at which any key of r was
// written (0: none since the floor).
func (s *conflictSet) maxVersion(r keyRange) uint64 {
	if compareBounds(s.cmp, r.start, r.end) >= 0 {
		return 0
	}
	var m uint64
	if n := s.floorNode(r.start); n != nil {
		m = n.version // the interval holding r.start
	}
	return max(m, s.maxBetween(s.root, &r.start, &r.end))
}

// record marks r as written at version v, which is at least every version
// recorded before. It returns the bytes the set grew by.
func (s *conflictSet) record(r keyRange, v uint64) int64 {
	if compareBounds(s.cmp, r.start, r.end) >= 0 {
		return 0
	}
	before := s.bytes
	var endVersion uint64 // the version of the interval r.end falls in
	if n := s.floorNode(r.end); n != nil {
		endVersion = n.version
	}
	l, rest := s.split(s.root, r.start)
	mid, right := s.split(rest, r.end)
	s.drop(mid)
	tail := right
	if min := leftmost(right); min == nil || compareBounds(s.cmp, min.key, r.end) != 0 {
		tail = join(s.newNode(r.end, endVersion), right)
	}
	s.root = join(join(l, s.newNode(r.start, v)), tail)
	return s.bytes - before
}

func leftmost(t *cnode) *cnode {
	for t != nil && t.left != nil {
		t = t.left
	}
	return t
}

func (s *conflictSet) newNode(k bound, v uint64) *cnode {
	n := &cnode{key: k.withKey(bytes.Clone(k.key)), version: v, maxVersion: v, prio: uint32(s.rng.Uint64())}
	s.nodes++
	s.bytes += int64(len(k.key)) + nodeOverhead
	return n
}

// drop forgets the nodes of t (already cut out of the tree).
func (s *conflictSet) drop(t *cnode) {
	if t == nil {
		return
	}
	s.drop(t.left)
	s.drop(t.right)
	s.nodes--
	s.bytes -= int64(len(t.key.key)) + nodeOverhead
}

// reset forgets everything: history below floor is not kept.
func (s *conflictSet) reset(floor uint64) {
	s.root, s.nodes, s.bytes, s.log = nil, 0, 0, nil
	s.floor = max(s.floor, floor)
	s.trimAt = conflictTrimMin
}

// raiseFloor forgets every write at or below floor: such intervals read as
// unwritten. The tree is rebuilt without the boundaries that no longer
// separate intervals of different versions.
func (s *conflictSet) raiseFloor(floor uint64) {
	if floor <= s.floor {
		return
	}
	s.floor = floor
	i := 0
	for i < len(s.log) && s.log[i].version <= floor {
		i++
	}
	s.log = append(s.log[:0], s.log[i:]...)
	var kept []*cnode
	var prev uint64
	var walk func(t *cnode)
	walk = func(t *cnode) {
		if t == nil {
			return
		}
		walk(t.left)
		right := t.right
		v := t.version
		if v <= floor {
			v = 0
		}
		if v != prev || (len(kept) == 0 && v != 0) {
			t.version, t.left, t.right = v, nil, nil
			kept = append(kept, t)
			prev = v
		}
		walk(right)
	}
	walk(s.root)
	s.nodes, s.bytes = 0, 0
	for _, n := range kept {
		s.nodes++
		s.bytes += int64(len(n.key.key)) + nodeOverhead
	}
	s.root = buildTreap(kept)
}

// buildTreap builds a treap of sorted nodes in O(n): priorities are
// reassigned so that the middle of each span is its root (a balanced
// tree, and a valid heap).
func buildTreap(nodes []*cnode) *cnode {
	var build func(ns []*cnode, prio uint32) *cnode
	build = func(ns []*cnode, prio uint32) *cnode {
		if len(ns) == 0 {
			return nil
		}
		m := len(ns) / 2
		n := ns[m]
		n.prio = prio
		n.left = build(ns[:m], prio-1)
		n.right = build(ns[m+1:], prio-1)
		n.fix()
		return n
	}
	return build(nodes, ^uint32(0))
}
