package dataio

import (
	"bytes"
	"io"

	"github.com/strata-db/strata"
)

// KeyRange selects keys: From (inclusive), To (exclusive) and Prefix, each
// nil for no limit. All given limits apply together.
type KeyRange struct {
	From, To, Prefix []byte
}

// Bounds returns the iterator bounds [lower, upper) of the range (nil for
// unbounded). empty is true when no key can match.
func (r KeyRange) Bounds() (lower, upper []byte, empty bool) {
	lower, upper = r.From, r.To
	if r.Prefix != nil {
		if lower == nil || bytes.Compare(r.Prefix, lower) > 0 {
			lower = r.Prefix
		}
		if ps := PrefixSuccessor(r.Prefix); ps != nil && (upper == nil || bytes.Compare(ps, upper) < 0) {
			upper = ps
		}
	}
	if lower != nil && upper != nil && bytes.Compare(lower, upper) >= 0 {
		return lower, upper, true
	}
	return lower, upper, false
}

// PrefixSuccessor returns the smallest key greater than every key that
// starts with p, or nil when there is none (p is empty or all 0xff).
func PrefixSuccessor(p []byte) []byte {
	s := bytes.Clone(p)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	return nil
}

// DumpOptions configure Dump.
type DumpOptions struct {
	// Format, Hex and KeysOnly say how entries are written (see Writer).
	Format   Format
	Hex      bool
	KeysOnly bool
	// Range selects the keys.
	Range KeyRange
	// Reverse writes entries in descending key order.
	Reverse bool
	// Limit stops after that many entries (0: no limit).
	Limit int64
}

// Dump writes the entries of db in the range to w, from one consistent
// view of the database, and returns how many it wrote.
func Dump(db *strata.DB, w io.Writer, o DumpOptions) (int64, error) {
	lower, upper, empty := o.Range.Bounds()
	if empty {
		return 0, nil
	}
	it := db.NewIterator(&strata.IterOptions{LowerBound: lower, UpperBound: upper})
	out := NewWriter(w, o.Format, o.Hex, o.KeysOnly)
	var n int64
	var ok bool
	if o.Reverse {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	for ; ok && (o.Limit <= 0 || n < o.Limit); n++ {
		if err := out.Write(it.Key(), it.Value()); err != nil {
			it.Close()
			return n, err
		}
		if o.Reverse {
			ok = it.Prev()
		} else {
			ok = it.Next()
		}
	}
	if err := it.Close(); err != nil {
		return n, err
	}
	return n, out.Flush()
}
