package base

import (
	"bytes"
	"encoding/binary"
)

// Comparer defines a total order over user keys, and the two helpers the
// table writer uses to shorten index keys. Its Name is stored in the MANIFEST:
// a database must be reopened with a comparer of the same name.
//
// All functions must be safe for concurrent use and must not retain or modify
// their arguments.
type Comparer struct {
	// Name identifies the order, e.g. "leveldb.BytewiseComparator".
	Name string
	// Compare returns -1, 0 or +1 as a sorts before, equal to, or after b.
	Compare func(a, b []byte) int
	// Separator appends to dst a short key k with a <= k < b (given a < b)
	// and returns the extended slice. Appending a itself is always correct.
	Separator func(dst, a, b []byte) []byte
	// Successor appends to dst a short key k >= a and returns the extended
	// slice. Appending a itself is always correct.
	Successor func(dst, a []byte) []byte
}

// BytewiseComparerName is the name LevelDB gives its default comparator.
const BytewiseComparerName = "leveldb.BytewiseComparator"

// DefaultComparer orders keys bytewise, exactly as LevelDB's
// BytewiseComparator does, including its separator and successor rules.
var DefaultComparer = &Comparer{
	Name:      BytewiseComparerName,
	Compare:   bytes.Compare,
	Separator: bytewiseSeparator,
	Successor: bytewiseSuccessor,
}

// bytewiseSeparator follows LevelDB's BytewiseComparatorImpl::
// FindShortestSeparator: keep the common prefix, then bump the first
// differing byte of a if that keeps the result below b.
func bytewiseSeparator(dst, a, b []byte) []byte {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i < n {
		if c := a[i]; c < 0xff && c+1 < b[i] {
			dst = append(dst, a[:i+1]...)
			dst[len(dst)-1]++
			return dst
		}
	}
	return append(dst, a...)
}

// bytewiseSuccessor follows LevelDB's FindShortSuccessor: the first byte that
// is not 0xff is incremented and the key cut after it.
func bytewiseSuccessor(dst, a []byte) []byte {
	for i, c := range a {
		if c != 0xff {
			dst = append(dst, a[:i+1]...)
			dst[len(dst)-1]++
			return dst
		}
	}
	return append(dst, a...)
}

// InternalCompare orders internal keys: user key ascending by ucmp, then
// trailer (sequence, then kind) descending, so the newest entry for a user
// key comes first. Keys shorter than a trailer compare as raw bytes after all
// well-formed keys' user-key comparison; callers validate keys read from disk.
func InternalCompare(ucmp func(a, b []byte) int, a, b []byte) int {
	if len(a) < TrailerLen || len(b) < TrailerLen {
		return bytes.Compare(a, b)
	}
	na, nb := len(a)-TrailerLen, len(b)-TrailerLen
	if c := ucmp(a[:na], b[:nb]); c != 0 {
		return c
	}
	return compareTrailers(a[na:], b[nb:])
}

// InternalCompareBytewise is InternalCompare with the bytewise user order,
// without the indirect call (for hot loops that know the comparer).
func InternalCompareBytewise(a, b []byte) int {
	if len(a) < TrailerLen || len(b) < TrailerLen {
		return bytes.Compare(a, b)
	}
	na, nb := len(a)-TrailerLen, len(b)-TrailerLen
	if c := bytes.Compare(a[:na], b[:nb]); c != 0 {
		return c
	}
	return compareTrailers(a[na:], b[nb:])
}

// compareTrailers orders two 8-byte trailers descending: the newer entry
// (larger sequence, then larger kind) first.
func compareTrailers(a, b []byte) int {
	ta, tb := binary.LittleEndian.Uint64(a), binary.LittleEndian.Uint64(b)
	switch {
	case ta > tb:
		return -1
	case ta < tb:
		return 1
	}
	return 0
}

// InternalSeparator appends to dst a short internal key k with a <= k < b in
// internal order, as LevelDB's InternalKeyComparator::FindShortestSeparator:
// the user keys are shortened and, when that helped, the result carries the
// largest trailer so it sorts before every real entry of its user key.
func InternalSeparator(c *Comparer, dst, a, b []byte) []byte {
	ua, ub := UserKey(a), UserKey(b)
	start := len(dst)
	dst = c.Separator(dst, ua, ub)
	sep := dst[start:]
	if len(sep) < len(ua) && c.Compare(ua, sep) < 0 {
		return binary.LittleEndian.AppendUint64(dst, MakeTrailer(MaxSeq, KindSeparator))
	}
	return append(dst[:start], a...)
}

// InternalSuccessor appends to dst a short internal key k >= a, as LevelDB's
// InternalKeyComparator::FindShortSuccessor.
func InternalSuccessor(c *Comparer, dst, a []byte) []byte {
	ua := UserKey(a)
	start := len(dst)
	dst = c.Successor(dst, ua)
	succ := dst[start:]
	if len(succ) < len(ua) && c.Compare(ua, succ) < 0 {
		return binary.LittleEndian.AppendUint64(dst, MakeTrailer(MaxSeq, KindSeparator))
	}
	return append(dst[:start], a...)
}
