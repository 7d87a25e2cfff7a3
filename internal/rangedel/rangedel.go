// Package rangedel holds range tombstones and their fragmentation.
//
// A range tombstone [Start, End)#Seq deletes every version with a smaller
// sequence number of every user key k with Start <= k < End. Tombstones may
// overlap any way; fragmenting them cuts the key space at every tombstone's
// bounds into fragments that do not overlap, each carrying the sequence
// numbers of all the tombstones that cover it, newest first. Questions about
// a key then cost a binary search: which fragment holds it, and which of
// its sequences a reader at some sequence sees. Overlapping tombstones stay
// cheap: n tombstones make at most 2n-1 fragments.
//
// A Set is an immutable fragmented set, safe for concurrent use. Everything
// here compares user keys with the comparator it is given and does no I/O;
// how tombstones are stored (a memtable's list, a table's range-deletion
// block) is other packages' business.
package rangedel

import (
	"slices"
)

// Tombstone deletes every version with a smaller sequence number of every
// user key in [Start, End). A tombstone with Start >= End is empty.
type Tombstone struct {
	Start, End []byte
	Seq        uint64
}

// Fragment is a piece [Start, End) of the key space and the sequence
// numbers of the tombstones that cover all of it, newest first, without
// repeats.
type Fragment struct {
	Start, End []byte
	Seqs       []uint64
}

// Fragmentize cuts tombstones into fragments: sorted by Start, not
// overlapping (a fragment's End may equal the next one's Start), covering
// exactly the keys the tombstones cover, each with the sequences of the
// tombstones covering it. Empty tombstones are dropped. The fragments'
// bounds alias the tombstones' slices.
func Fragmentize(cmp func(a, b []byte) int, ts []Tombstone) []Fragment {
	live := make([]Tombstone, 0, len(ts))
	var bounds [][]byte
	for _, t := range ts {
		if cmp(t.Start, t.End) < 0 {
			live = append(live, t)
			bounds = append(bounds, t.Start, t.End)
		}
	}
	if len(live) == 0 {
		return nil
	}
	slices.SortFunc(live, func(a, b Tombstone) int { return cmp(a.Start, b.Start) })
	slices.SortFunc(bounds, cmp)
	bounds = slices.CompactFunc(bounds, func(a, b []byte) bool { return cmp(a, b) == 0 })
	var frags []Fragment
	var active []Tombstone // the tombstones started at or before the current bound and not yet ended
	next := 0
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]
		for next < len(live) && cmp(live[next].Start, lo) <= 0 {
			active = append(active, live[next])
			next++
		}
		active = slices.DeleteFunc(active, func(t Tombstone) bool { return cmp(t.End, lo) <= 0 })
		if len(active) == 0 {
			continue
		}
		seqs := make([]uint64, len(active))
		for j, t := range active {
			seqs[j] = t.Seq
		}
		slices.Sort(seqs)
		slices.Reverse(seqs)
		frags = append(frags, Fragment{Start: lo, End: hi, Seqs: slices.Compact(seqs)})
	}
	return frags
}

// Set is an immutable, fragmented set of tombstones.
type Set struct {
	cmp   func(a, b []byte) int
	frags []Fragment
	// maxSeq is the largest sequence of the set's tombstones.
	maxSeq uint64
}

// NewSet fragments ts into a Set (nil when ts deletes nothing).
func NewSet(cmp func(a, b []byte) int, ts []Tombstone) *Set {
	frags := Fragmentize(cmp, ts)
	if len(frags) == 0 {
		return nil
	}
	s := &Set{cmp: cmp, frags: frags}
	for _, f := range frags {
		s.maxSeq = max(s.maxSeq, f.Seqs[0]) // newest first
	}
	return s
}

// MaxSeq returns the largest sequence number of the set's tombstones (0
// for a nil or empty set): a reader at that sequence or above sees every
// one of them, so its answers do not depend on its sequence.
func (s *Set) MaxSeq() uint64 {
	if s == nil {
		return 0
	}
	return s.maxSeq
}

// Fragments returns the set's fragments, sorted (see Fragmentize). The
// caller must not modify them. A nil Set has none.
func (s *Set) Fragments() []Fragment {
	if s == nil {
		return nil
	}
	return s.frags
}

// Tombstones returns the set as tombstones: one per fragment and sequence,
// sorted by Start and, within a Start, newest first. That is the order of
// their internal keys (Start#Seq,RANGEDEL) in a table's range-deletion
// block, and fragmenting them again gives the same set.
func (s *Set) Tombstones() []Tombstone {
	var ts []Tombstone
	for _, f := range s.Fragments() {
		for _, seq := range f.Seqs {
			ts = append(ts, Tombstone{Start: f.Start, End: f.End, Seq: seq})
		}
	}
	return ts
}

// find returns the index of the fragment holding key, or -1.
func (s *Set) find(key []byte) int {
	// The first fragment whose End is after key; it holds key if its
	// Start is at or before it.
	i, _ := slices.BinarySearchFunc(s.frags, key, func(f Fragment, k []byte) int {
		if s.cmp(f.End, k) <= 0 {
			return -1
		}
		return 1
	})
	if i < len(s.frags) && s.cmp(s.frags[i].Start, key) <= 0 {
		return i
	}
	return -1
}

// Covering returns the largest sequence number, at or below readSeq, of
// the tombstones covering key, and the fragment holding key; 0 and nil
// when no tombstone a reader at readSeq sees covers it. An entry for key
// with a sequence below the returned one is deleted for that reader.
func (s *Set) Covering(key []byte, readSeq uint64) (uint64, *Fragment) {
	if s == nil {
		return 0, nil
	}
	i := s.find(key)
	if i < 0 {
		return 0, nil
	}
	f := &s.frags[i]
	for _, seq := range f.Seqs { // newest first
		if seq <= readSeq {
			return seq, f
		}
	}
	return 0, nil
}

// Span returns what Covering does for key (the largest sequence at or
// below readSeq of the tombstones covering it, or 0), together with the
// widest range [lo, hi) around key over which that answer is the same: the
// fragment holding key, or the gap between fragments that key falls in. A
// nil lo or hi is open. Iterators use it to ask once per range, not once
// per key.
func (s *Set) Span(key []byte, readSeq uint64) (seq uint64, lo, hi []byte) {
	seq, lo, hi, _, _ = s.SpanGap(key, readSeq)
	return seq, lo, hi
}

// SpanGap is Span that also tells, when key is in a fragment, where the
// stretch that no tombstone covers after the fragment ends: gap reports
// that [hi, gapEnd) is covered by none (gapEnd nil: open), so that a
// forward walk past a deleted range needs no second question. gap is false
// when the next fragment starts at hi, and for a key between fragments.
func (s *Set) SpanGap(key []byte, readSeq uint64) (seq uint64, lo, hi, gapEnd []byte, gap bool) {
	if s == nil {
		return 0, nil, nil, nil, false
	}
	// The first fragment whose End is after key (a loop, not
	// slices.BinarySearchFunc: iterators ask on every positioning call).
	i, j := 0, len(s.frags)
	for i < j {
		h := int(uint(i+j) >> 1)
		if s.cmp(s.frags[h].End, key) <= 0 {
			i = h + 1
		} else {
			j = h
		}
	}
	if i > 0 {
		lo = s.frags[i-1].End
	}
	if i == len(s.frags) {
		return 0, lo, nil, nil, false
	}
	f := &s.frags[i]
	if s.cmp(f.Start, key) > 0 {
		return 0, lo, f.Start, nil, false // in the gap before f
	}
	gap = true // up to the next fragment, or open
	if i+1 < len(s.frags) {
		gapEnd = s.frags[i+1].Start
		gap = s.cmp(f.End, gapEnd) < 0
	}
	for _, q := range f.Seqs { // newest first
		if q <= readSeq {
			return q, f.Start, f.End, gapEnd, gap
		}
	}
	return 0, f.Start, f.End, gapEnd, gap
}

// Union returns the set of the tombstones of every set given (nil ones are
// skipped; nil when all are empty).
func Union(cmp func(a, b []byte) int, sets ...*Set) *Set {
	var ts []Tombstone
	n := 0
	var only *Set
	for _, s := range sets {
		if s != nil {
			n++
			only = s
			ts = append(ts, s.Tombstones()...)
		}
	}
	if n <= 1 {
		return only
	}
	return NewSet(cmp, ts)
}

// Truncate returns the tombstones of s clipped to [lo, hi) (nil: open on
// that side), as Tombstones: what a table holding the keys of [lo, hi) must
// carry of s. The bounds of the result alias s's and lo's and hi's slices.
func (s *Set) Truncate(lo, hi []byte) []Tombstone {
	var ts []Tombstone
	for _, f := range s.Fragments() {
		start, end := f.Start, f.End
		if lo != nil && s.cmp(start, lo) < 0 {
			start = lo
		}
		if hi != nil && s.cmp(end, hi) > 0 {
			end = hi
		}
		if s.cmp(start, end) >= 0 {
			continue
		}
		for _, seq := range f.Seqs {
			ts = append(ts, Tombstone{Start: start, End: end, Seq: seq})
		}
	}
	return ts
}
