package iterator

import (
	"bytes"
	"slices"

	"github.com/strata-db/strata/internal/base"
)

// KV is one entry of a SliceIter: an encoded internal key and its value.
type KV struct {
	Key, Value []byte
}

// SliceIter is a base.InternalIterator over a sorted in-memory slice of
// entries. It is meant for tests (here and in other packages): it can be
// told to fail when it reaches a given entry, and it counts Close calls.
//
// Key and Value return the slice's own byte slices, which callers must not
// modify. Unlike a real iterator they stay valid after the next move.
type SliceIter struct {
	cmp func(a, b []byte) int
	kvs []KV
	pos int // index of the current entry; -1 or len(kvs) when unpositioned

	failAt  int
	failErr error
	err     error

	// Closes counts calls to Close.
	Closes int
}

// NewSliceIter returns an unpositioned iterator over kvs, which must be
// sorted by cmp, an internal-key comparison (nil means base.InternalCompare
// with bytewise user keys). kvs is retained, not copied.
func NewSliceIter(cmp func(a, b []byte) int, kvs []KV) *SliceIter {
	if cmp == nil {
		cmp = bytewiseInternalCompare
	}
	return &SliceIter{cmp: cmp, kvs: kvs, pos: -1, failAt: -1}
}

func bytewiseInternalCompare(a, b []byte) int { return base.InternalCompare(bytes.Compare, a, b) }

// FailAt makes the iterator fail with err, for good, when a positioning call
// would land on entry i (in either direction); a seek that would land beyond
// the entries fails too when i is len(kvs). A negative i or a nil err
// disables failing.
func (s *SliceIter) FailAt(i int, err error) {
	s.failAt, s.failErr = i, err
}

// land positions at i, applying the injected failure.
func (s *SliceIter) land(i int) bool {
	if s.err != nil {
		s.pos = -1
		return false
	}
	if i == s.failAt && i >= 0 && s.failErr != nil {
		s.err = s.failErr
		s.pos = -1
		return false
	}
	s.pos = i
	return s.Valid()
}

// SeekGE moves to the first entry whose key is >= key.
func (s *SliceIter) SeekGE(key []byte) bool { return s.land(s.search(key)) }

// SeekLT moves to the last entry whose key is < key.
func (s *SliceIter) SeekLT(key []byte) bool { return s.land(s.search(key) - 1) }

// search returns the index of the first entry whose key is >= key.
func (s *SliceIter) search(key []byte) int {
	i, _ := slices.BinarySearchFunc(s.kvs, key, func(kv KV, k []byte) int { return s.cmp(kv.Key, k) })
	return i
}

// First moves to the first entry.
func (s *SliceIter) First() bool { return s.land(0) }

// Last moves to the last entry.
func (s *SliceIter) Last() bool { return s.land(len(s.kvs) - 1) }

// Next moves to the next entry; it returns false when not Valid.
func (s *SliceIter) Next() bool {
	if !s.Valid() {
		return false
	}
	return s.land(s.pos + 1)
}

// Prev moves to the previous entry; it returns false when not Valid.
func (s *SliceIter) Prev() bool {
	if !s.Valid() {
		return false
	}
	return s.land(s.pos - 1)
}

// Valid reports whether the iterator is at an entry.
func (s *SliceIter) Valid() bool { return s.err == nil && s.pos >= 0 && s.pos < len(s.kvs) }

// Key returns the current key, or nil when not Valid.
func (s *SliceIter) Key() []byte {
	if !s.Valid() {
		return nil
	}
	return s.kvs[s.pos].Key
}

// Value returns the current value, or nil when not Valid.
func (s *SliceIter) Value() []byte {
	if !s.Valid() {
		return nil
	}
	return s.kvs[s.pos].Value
}

// Error returns the injected error once it has fired.
func (s *SliceIter) Error() error { return s.err }

// Close counts the call and returns Error.
func (s *SliceIter) Close() error {
	s.Closes++
	return s.err
}
