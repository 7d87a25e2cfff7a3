package iterator

import (
	"fmt"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

// Level iterates over the concatenated tables of one level whose files are
// sorted by key and do not overlap (level 1 and up), like LevelDB's
// two-level iterator over a LevelFileNumIterator.
//
// Invariants:
//   - files is sorted: files[i].Largest < files[i+1].Smallest in internal
//     key order (neighbours may share a user key, never an internal key).
//   - At most one table is open at a time: iter is the iterator of
//     files[index], or nil. Moving to another table closes the previous
//     one first; repositioning within the current table reuses it.
//   - With bounds set, only tables overlapping [lower, upper) in user-key
//     order are ever opened: tables that lie entirely outside are skipped by
//     positioning and end iteration in their direction. Keys outside the
//     bounds inside an opened table are still returned; the DB iterator
//     above filters them.
//   - Tables that turn out empty are skipped; a table whose facts
//     (manifest.TableFacts) say it has no point entries is skipped without
//     being opened. An open or table error ends iteration for good and is
//     reported by Error.
type Level struct {
	cmp   *base.Comparer
	files []*manifest.FileMetadata
	open  func(f *manifest.FileMetadata) (base.InternalIterator, error)

	lower, upper []byte

	index int // file of iter; meaningful only while iter != nil
	iter  base.InternalIterator
	err   error
	// valid is the result of the last positioning call: whether iter is at
	// an entry (so no error is set). It saves Key, Value, Valid and Next a
	// call through the interface on every step.
	valid bool
	// hintIdx is the table the last hint came from (see seekPastHint).
	hintIdx int
}

// NewLevel returns an unpositioned iterator over the tables of a level.
// files must be sorted and non-overlapping; the slice is not copied and must
// not change while the iterator is in use. open returns an iterator over one
// table; Level closes every iterator open returns.
func NewLevel(cmp *base.Comparer, files []*manifest.FileMetadata,
	open func(f *manifest.FileMetadata) (base.InternalIterator, error)) *Level {
	l := &Level{}
	l.Init(cmp, files, open)
	return l
}

// Init resets l to iterate over files, reusing l. The table iterator l had
// open, if any, is closed and its close error dropped; call Close first to
// see it. Bounds are cleared.
func (l *Level) Init(cmp *base.Comparer, files []*manifest.FileMetadata,
	open func(f *manifest.FileMetadata) (base.InternalIterator, error)) {
	if l.iter != nil {
		_ = l.iter.Close()
	}
	*l = Level{cmp: cmp, files: files, open: open}
}

// SetBounds restricts which tables may be opened to those overlapping the
// user-key range [lower, upper); nil means unbounded on that side. The
// slices are retained, not copied. The current position is kept; call a
// positioning method before relying on the new bounds.
func (l *Level) SetBounds(lower, upper []byte) {
	l.lower, l.upper = lower, upper
}

// icmp compares internal keys by the level's user comparator.
func (l *Level) icmp(a, b []byte) int { return base.InternalCompare(l.cmp.Compare, a, b) }

// belowLower reports whether every key of f is below the lower bound.
func (l *Level) belowLower(f *manifest.FileMetadata) bool {
	return l.lower != nil && l.cmp.Compare(f.LargestUserKey(), l.lower) < 0
}

// atOrAboveUpper reports whether every key of f is at or above the upper
// bound.
func (l *Level) atOrAboveUpper(f *manifest.FileMetadata) bool {
	return l.upper != nil && l.cmp.Compare(f.SmallestUserKey(), l.upper) >= 0
}

// closeIter closes the open table, keeping its close error.
func (l *Level) closeIter() {
	if l.iter == nil {
		return
	}
	if err := l.iter.Close(); err != nil && l.err == nil {
		l.err = err
	}
	l.iter = nil
}

// load makes the iterator of the first table at or after i (dir > 0) or at
// or before i (dir < 0) that is inside the bounds the current table. It
// returns false, with no table open, when there is none or open fails.
func (l *Level) load(i int, dir int8) bool {
	for {
		if i < 0 || i >= len(l.files) {
			l.closeIter()
			return false
		}
		f := l.files[i]
		if dir > 0 {
			if l.atOrAboveUpper(f) {
				l.closeIter()
				return false
			}
			if l.belowLower(f) {
				i++
				continue
			}
		} else {
			if l.belowLower(f) {
				l.closeIter()
				return false
			}
			if l.atOrAboveUpper(f) {
				i--
				continue
			}
		}
		if l.iter != nil && l.index == i {
			return true
		}
		if facts := f.Facts(); facts != nil && facts.Empty {
			// No point entries (range tombstones only): nothing to open.
			i += int(dir)
			continue
		}
		l.closeIter()
		if l.err != nil {
			return false
		}
		it, err := l.open(f)
		if err == nil && it == nil {
			err = fmt.Errorf("iterator: opening table %06d returned no iterator", f.Num)
		}
		if err != nil {
			if it != nil {
				_ = it.Close()
			}
			l.err = err
			return false
		}
		l.iter, l.index = it, i
		return true
	}
}

// skipForward moves from the exhausted current table to the first entry of
// the next non-empty table in bounds.
func (l *Level) skipForward() bool {
	for {
		if err := l.iter.Error(); err != nil {
			l.err = err
			l.closeIter()
			return false
		}
		if !l.load(l.index+1, dirForward) {
			return false
		}
		if l.iter.First() {
			return true
		}
	}
}

// skipBackward moves from the exhausted current table to the last entry of
// the previous non-empty table in bounds.
func (l *Level) skipBackward() bool {
	for {
		if err := l.iter.Error(); err != nil {
			l.err = err
			l.closeIter()
			return false
		}
		if !l.load(l.index-1, dirReverse) {
			return false
		}
		if l.iter.Last() {
			return true
		}
	}
}

// seekGE is SeekGE without the bookkeeping of valid.
func (l *Level) seekGE(key []byte) bool { return l.seekGEFrom(0, key) }

// seekGEFrom is seekGE for a key no table before files[from] can hold an
// entry at or after (in bounds).
func (l *Level) seekGEFrom(from int, key []byte) bool {
	if l.err != nil {
		return false
	}
	lo, hi := from, len(l.files)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.icmp(l.files[mid].Largest, key) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if !l.load(lo, dirForward) {
		return false
	}
	if l.iter.SeekGE(key) {
		return true
	}
	return l.skipForward()
}

// seekLT is SeekLT without the bookkeeping of valid.
func (l *Level) seekLT(key []byte) bool { return l.seekLTTo(len(l.files), key) }

// seekLTTo is seekLT for a key no table from files[to] on can hold an
// entry before (in bounds).
func (l *Level) seekLTTo(to int, key []byte) bool {
	if l.err != nil {
		return false
	}
	lo, hi := 0, to
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.icmp(l.files[mid].Smallest, key) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if !l.load(lo-1, dirReverse) {
		return false
	}
	if l.iter.SeekLT(key) {
		return true
	}
	return l.skipBackward()
}

// firstIndex is the index of the first table whose largest user key is
// at or after the lower bound (len(files): none).
func (l *Level) firstIndex() int {
	lo := 0
	if l.lower != nil {
		hi := len(l.files)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if l.belowLower(l.files[mid]) {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
	}
	return lo
}

// lastIndex is the index of the last table whose smallest user key is
// before the upper bound (-1: none).
func (l *Level) lastIndex() int {
	hi := len(l.files)
	if l.upper != nil {
		lo := 0
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if !l.atOrAboveUpper(l.files[mid]) {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
	}
	return hi - 1
}

// first is First without the bookkeeping of valid.
func (l *Level) first() bool {
	if l.err != nil {
		return false
	}
	lo := l.firstIndex()
	if !l.load(lo, dirForward) {
		return false
	}
	if l.iter.First() {
		return true
	}
	return l.skipForward()
}

// last is Last without the bookkeeping of valid.
func (l *Level) last() bool {
	if l.err != nil {
		return false
	}
	if !l.load(l.lastIndex(), dirReverse) {
		return false
	}
	if l.iter.Last() {
		return true
	}
	return l.skipBackward()
}

// FirstHint implements Hinted: the smallest user key of the table First
// starts from (nil when there is none in bounds).
func (l *Level) FirstHint() []byte { return l.hint(dirForward) }

// LastHint implements Hinted: the largest user key of the table Last
// starts from (nil when there is none in bounds).
func (l *Level) LastHint() []byte { return l.hint(dirReverse) }

// hint is FirstHint (dirForward) or LastHint, remembering the table it
// names for seekPastHint.
func (l *Level) hint(dir int8) []byte {
	if dir == dirForward {
		i := l.firstIndex()
		if i >= len(l.files) || l.atOrAboveUpper(l.files[i]) {
			return nil
		}
		l.hintIdx = i
		return l.files[i].SmallestUserKey()
	}
	i := l.lastIndex()
	if i < 0 || l.belowLower(l.files[i]) {
		return nil
	}
	l.hintIdx = i
	return l.files[i].LargestUserKey()
}

// seekPastHint is SeekGE (dirForward) or SeekLT of key, the first key of
// a user key strictly after (before) the one hint(dir) returned last: the
// tables before (after) the one the hint came from lie outside the
// bounds or hold nothing from there on, so the search starts at that
// table.
func (l *Level) seekPastHint(key []byte, dir int8) bool {
	if dir == dirForward {
		l.valid = l.seekGEFrom(l.hintIdx, key)
	} else {
		l.valid = l.seekLTTo(l.hintIdx+1, key)
	}
	return l.valid
}

// SeekGE moves to the first entry whose internal key is >= key: the table
// is the first whose Largest is >= key.
func (l *Level) SeekGE(key []byte) bool { l.valid = l.seekGE(key); return l.valid }

// SeekLT moves to the last entry whose internal key is < key: the table is
// the last whose Smallest is < key.
func (l *Level) SeekLT(key []byte) bool { l.valid = l.seekLT(key); return l.valid }

// First moves to the first entry of the first table in bounds.
func (l *Level) First() bool { l.valid = l.first(); return l.valid }

// Last moves to the last entry of the last table in bounds.
func (l *Level) Last() bool { l.valid = l.last(); return l.valid }

// Next moves to the next entry, crossing into later tables as needed. It
// returns false, doing nothing, when l is not positioned.
func (l *Level) Next() bool {
	if !l.valid {
		return false
	}
	l.valid = l.iter.Next() || l.skipForward()
	return l.valid
}

// Prev moves to the previous entry, crossing into earlier tables as needed.
// It returns false, doing nothing, when l is not positioned.
func (l *Level) Prev() bool {
	if !l.valid {
		return false
	}
	l.valid = l.iter.Prev() || l.skipBackward()
	return l.valid
}

// Valid reports whether l is at an entry.
func (l *Level) Valid() bool { return l.valid }

// Key returns the current internal key, or nil when not Valid.
func (l *Level) Key() []byte {
	if !l.valid {
		return nil
	}
	return l.iter.Key()
}

// Value returns the current value, or nil when not Valid.
func (l *Level) Value() []byte {
	if !l.valid {
		return nil
	}
	return l.iter.Value()
}

// Error returns the first open, table or close error met.
func (l *Level) Error() error { return l.err }

// Close closes the open table, if any, and returns Error.
func (l *Level) Close() error {
	l.closeIter()
	l.valid = false
	return l.err
}
