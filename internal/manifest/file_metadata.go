package manifest

import (
	"fmt"
	"sync/atomic"

	"github.com/strata-db/strata/internal/base"
)

// NumLevels is the number of levels in the tree, as in LevelDB.
const NumLevels = 7

// FileMetadata describes one table file of a Version. It is shared by every
// Version that holds the file and is immutable after creation except for the
// atomics, which the engine updates concurrently.
type FileMetadata struct {
	// Num is the file number: the table lives in NNNNNN.ldb (or .sst).
	Num uint64
	// Size is the file's size in bytes.
	Size uint64
	// Smallest and Largest are the smallest and largest internal keys in the
	// table (inclusive).
	Smallest, Largest []byte

	// AllowedSeeks counts down the seeks this file may absorb before a
	// seek-triggered compaction is due (LevelDB's allowed_seeks).
	AllowedSeeks atomic.Int64
	// Compacting is true while a compaction has the file as an input; the
	// picker skips such files so concurrent compactions do not share inputs.
	Compacting atomic.Bool
}

// InitAllowedSeeks sets AllowedSeeks as LevelDB does: one seek per 16 KiB of
// file, at least 100.
func (f *FileMetadata) InitAllowedSeeks() {
	n := int64(f.Size / 16384)
	if n < 100 {
		n = 100
	}
	f.AllowedSeeks.Store(n)
}

// SmallestUserKey returns the user key of Smallest.
func (f *FileMetadata) SmallestUserKey() []byte { return base.UserKey(f.Smallest) }

// LargestUserKey returns the user key of Largest.
func (f *FileMetadata) LargestUserKey() []byte { return base.UserKey(f.Largest) }

// Overlaps reports whether f's user-key range meets [smallest, largest]
// under the user-key comparison cmp (nil = unbounded).
func (f *FileMetadata) Overlaps(cmp func(a, b []byte) int, smallest, largest []byte) bool {
	if smallest != nil && cmp(f.LargestUserKey(), smallest) < 0 {
		return false
	}
	if largest != nil && cmp(f.SmallestUserKey(), largest) > 0 {
		return false
	}
	return true
}

// String renders "NNNNNN:size[smallest..largest]".
func (f *FileMetadata) String() string {
	return fmt.Sprintf("%06d:%d[%s..%s]", f.Num, f.Size,
		base.FormatInternalKey(f.Smallest), base.FormatInternalKey(f.Largest))
}
