package manifest

import (
	"fmt"
	"sync/atomic"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
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
	// facts caches what the read paths learn of the table's contents the
	// first time it is opened (see Facts); nil until then.
	facts atomic.Pointer[TableFacts]
}

// TableFacts are facts about a table's contents that the read paths need
// often and that only opening the table tells: the engine records them on
// the table's FileMetadata when it first opens it (SetFacts), so that a
// later iterator asks them without a trip through the table cache. They
// live only in memory; a reopened database learns them again.
type TableFacts struct {
	// RangeDels are the table's range tombstones, fragmented (nil: none).
	// Immutable, and valid after the table's reader is closed.
	RangeDels *rangedel.Set
	// Empty: the table has no data blocks, so no point entries (it holds
	// range tombstones only, as a flush of a memtable holding nothing but
	// a range deletion writes).
	Empty bool
}

// Facts returns the table's facts, or nil when no read has recorded them
// yet.
func (f *FileMetadata) Facts() *TableFacts { return f.facts.Load() }

// SetFacts records the table's facts (see TableFacts). Every caller must
// record the same facts: those of the file f names, which never changes.
func (f *FileMetadata) SetFacts(t *TableFacts) { f.facts.Store(t) }

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
