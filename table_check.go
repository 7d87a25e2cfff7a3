package strata

import (
	"context"
	"slices"

	"github.com/strata-db/strata/internal/base"
)

// TableBounds is what CheckTable found in a table file.
type TableBounds struct {
	// Smallest and Largest are the smallest and largest user keys the
	// table's entries and range tombstones cover. When LargestExclusive is
	// set, Largest is the end of a range tombstone, which that tombstone
	// does not cover: every key of the table is below it.
	Smallest, Largest []byte
	LargestExclusive  bool
	// Empty: the table holds neither entries nor range tombstones
	// (Smallest and Largest are nil).
	Empty bool
}

// CheckTable reads the whole table file at path as DB.Ingest checks a
// table offered to it (every checksum, the order of the keys, the range
// tombstones) and returns the range of user keys it covers, so that a
// caller can refuse a table before ingesting it (a raft store checks that a
// received region snapshot stays inside its region). opts gives the file
// system and the comparator (nil: the defaults). The error names the file.
func CheckTable(path string, opts *Options) (TableBounds, error) {
	o := opts.withDefaults()
	e, err := inspectTable(context.Background(), o.FS, o.Comparator, path)
	if err != nil {
		return TableBounds{}, err
	}
	if e == nil {
		return TableBounds{Empty: true}, nil
	}
	return TableBounds{
		Smallest:         slices.Clone(base.UserKey(e.smallest)),
		Largest:          slices.Clone(base.UserKey(e.largest)),
		LargestExclusive: base.IsRangeDelSentinel(e.largest),
	}, nil
}
