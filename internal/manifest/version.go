package manifest

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/strata-db/strata/internal/base"
)

// Version is one state of the tree: the table files of every level. See the
// package comment for the ordering invariants. A Version is immutable after
// Builder.Finish (or after the caller, e.g. a test, fills Levels by hand and
// hands the Version out): Levels and the keys of its files must not be
// modified. Reference counting, seek statistics and every query are safe for
// concurrent use.
type Version struct {
	// Levels holds each level's files: level 0 by file number ascending,
	// levels 1+ by smallest key. Shared with other Versions; read-only.
	Levels [NumLevels][]*FileMetadata

	cmp  *base.Comparer
	refs atomic.Int32
	// seek is the seek-compaction candidate, set at most once (by the first
	// reader whose UpdateStats call exhausts a file's AllowedSeeks).
	seek atomic.Pointer[seekCandidate]
	// tombsKnown[l] is how many of level l's first files are known to
	// hold no range tombstones (their TableFacts say so); tombsFound[l]
	// that one of its files holds some. See LevelMayHaveRangeDels.
	tombsKnown [NumLevels]atomic.Int32
	tombsFound [NumLevels]atomic.Bool
}

// LevelMayHaveRangeDels reports whether a table of level (1 or deeper, or
// 0) may hold range tombstones: false once every table's facts are
// recorded (FileMetadata.Facts) and none has any. What it learns is kept,
// so that a reader asking on every iterator looks at each table's facts
// about once per Version.
func (v *Version) LevelMayHaveRangeDels(level int) bool {
	if v.tombsFound[level].Load() {
		return true
	}
	files := v.Levels[level]
	i := int(v.tombsKnown[level].Load())
	if i >= len(files) {
		return false
	}
	for ; i < len(files); i++ {
		facts := files[i].Facts()
		if facts == nil {
			break // not known yet: a later read may know
		}
		if facts.RangeDels != nil {
			v.tombsFound[level].Store(true)
			return true
		}
	}
	// Concurrent callers store what each has seen, every value true.
	v.tombsKnown[level].Store(int32(i))
	return i < len(files)
}

type seekCandidate struct {
	file  *FileMetadata
	level int
}

// NewVersion returns an empty Version ordered by cmp (nil means
// base.DefaultComparer), with no references.
func NewVersion(cmp *base.Comparer) *Version {
	if cmp == nil {
		cmp = base.DefaultComparer
	}
	return &Version{cmp: cmp}
}

// Comparer returns the user-key comparer the Version orders keys by.
func (v *Version) Comparer() *base.Comparer {
	if v.cmp == nil {
		return base.DefaultComparer
	}
	return v.cmp
}

func (v *Version) ucmp() func(a, b []byte) int { return v.Comparer().Compare }

// Ref adds a reference. The engine holds one reference for the current
// Version and one per reader or compaction using an older Version; the files
// of every referenced Version are live.
func (v *Version) Ref() { v.refs.Add(1) }

// Unref drops a reference and reports whether none is left, in which case
// the caller may forget the Version and delete files no other Version holds.
// Unref without a matching Ref is a programming error and panics.
func (v *Version) Unref() (zero bool) {
	n := v.refs.Add(-1)
	if n < 0 {
		panic("manifest: Version.Unref without Ref")
	}
	return n == 0
}

// Refs returns the current reference count.
func (v *Version) Refs() int32 { return v.refs.Load() }

// NumFiles returns the number of files in level (0 for a level out of range).
func (v *Version) NumFiles(level int) int {
	if level < 0 || level >= NumLevels {
		return 0
	}
	return len(v.Levels[level])
}

// LevelBytes returns the total size of level's files.
func (v *Version) LevelBytes(level int) uint64 {
	if level < 0 || level >= NumLevels {
		return 0
	}
	return totalSize(v.Levels[level])
}

// TotalBytes returns the total size of all files.
func (v *Version) TotalBytes() uint64 {
	var n uint64
	for l := range v.Levels {
		n += totalSize(v.Levels[l])
	}
	return n
}

func totalSize(files []*FileMetadata) uint64 {
	var n uint64
	for _, f := range files {
		n += f.Size
	}
	return n
}

// Overlaps returns the files of level whose user-key range meets [smallest,
// largest] (user keys, inclusive; nil means unbounded on that side), in level
// order. For level 0 the range grows to cover each file found, repeatedly,
// as LevelDB's GetOverlappingInputs does, so the result contains every
// level-0 file that overlaps, directly or through a chain, the requested
// range: a compaction must never take a newer level-0 file and leave an older
// overlapping one behind. The result is a new slice.
func (v *Version) Overlaps(level int, smallest, largest []byte) []*FileMetadata {
	return v.appendOverlaps(nil, level, smallest, largest)
}

func (v *Version) appendOverlaps(dst []*FileMetadata, level int, smallest, largest []byte) []*FileMetadata {
	if level < 0 || level >= NumLevels {
		return dst
	}
	cmp := v.ucmp()
	files := v.Levels[level]
	if level == 0 {
		smallest, largest = v.l0Range(smallest, largest)
		for _, f := range files {
			if f.Overlaps(cmp, smallest, largest) {
				dst = append(dst, f)
			}
		}
		return dst
	}
	for i := v.firstByLargestUkey(level, smallest); i < len(files); i++ {
		f := files[i]
		if largest != nil && cmp(f.SmallestUserKey(), largest) > 0 {
			break
		}
		dst = append(dst, f)
	}
	return dst
}

// l0Range widens [smallest, largest] until no level-0 file that overlaps it
// sticks out of it (nil bounds stay unbounded).
func (v *Version) l0Range(smallest, largest []byte) ([]byte, []byte) {
	cmp := v.ucmp()
	for changed := true; changed; {
		changed = false
		for _, f := range v.Levels[0] {
			if !f.Overlaps(cmp, smallest, largest) {
				continue
			}
			if s := f.SmallestUserKey(); smallest != nil && cmp(s, smallest) < 0 {
				smallest, changed = s, true
			}
			if l := f.LargestUserKey(); largest != nil && cmp(l, largest) > 0 {
				largest, changed = l, true
			}
		}
	}
	return smallest, largest
}

// firstByLargestUkey returns the index of the first file of a sorted level
// (1+) whose largest user key is >= ukey (0 when ukey is nil). Largest user
// keys never decrease along such a level, so a binary search is exact.
func (v *Version) firstByLargestUkey(level int, ukey []byte) int {
	files := v.Levels[level]
	if ukey == nil {
		return 0
	}
	cmp := v.ucmp()
	lo, hi := 0, len(files)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if cmp(files[mid].LargestUserKey(), ukey) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// OverlapInLevel reports whether any file of level meets the user-key range
// [smallest, largest] (nil = unbounded). Unlike Overlaps it does not expand
// the range in level 0, and it does not allocate.
func (v *Version) OverlapInLevel(level int, smallest, largest []byte) bool {
	if level < 0 || level >= NumLevels {
		return false
	}
	cmp := v.ucmp()
	files := v.Levels[level]
	if level == 0 {
		for _, f := range files {
			if f.Overlaps(cmp, smallest, largest) {
				return true
			}
		}
		return false
	}
	i := v.firstByLargestUkey(level, smallest)
	return i < len(files) && (largest == nil || cmp(files[i].SmallestUserKey(), largest) <= 0)
}

// overlapBytes sums the sizes of Overlaps(level, smallest, largest) without
// allocating.
func (v *Version) overlapBytes(level int, smallest, largest []byte) uint64 {
	if level < 0 || level >= NumLevels {
		return 0
	}
	cmp := v.ucmp()
	var n uint64
	if level == 0 {
		smallest, largest = v.l0Range(smallest, largest)
		for _, f := range v.Levels[0] {
			if f.Overlaps(cmp, smallest, largest) {
				n += f.Size
			}
		}
		return n
	}
	files := v.Levels[level]
	for i := v.firstByLargestUkey(level, smallest); i < len(files); i++ {
		if largest != nil && cmp(files[i].SmallestUserKey(), largest) > 0 {
			break
		}
		n += files[i].Size
	}
	return n
}

// PickLevelForMemTableOutput returns the level a flushed memtable covering
// user keys [smallest, largest] should be written to, as LevelDB does: level
// 0 if the range overlaps a level-0 file; otherwise the table is pushed down
// while the next level has no overlapping file and the level after that
// holds at most o.MaxGrandparentOverlapBytes of overlapping data, but never
// below maxLevel (LevelDB's kMaxMemCompactLevel is 2). Pushing flushes down
// saves compactions of data that overlaps nothing.
//
// With o.DynamicLevelBytes the only level below 0 a flush may go to is the
// base level (LevelTargets), whatever maxLevel says: the levels above it
// are kept empty. The table goes there on the same conditions (nothing
// overlapping in levels 0 to the base level, at most
// o.MaxGrandparentOverlapBytes overlapping in the level below it), else to
// level 0.
//
// With compactions running concurrently the result is safe (see the package
// comment) provided no other flush of an overlapping range is between
// choosing its level and installing its edit.
func (v *Version) PickLevelForMemTableOutput(smallest, largest []byte, maxLevel int, o PickerOptions) int {
	o = o.WithDefaults()
	maxLevel = min(maxLevel, NumLevels-1)
	level := 0
	if v.OverlapInLevel(0, smallest, largest) {
		return 0
	}
	if o.DynamicLevelBytes {
		baseLevel := v.LevelTargets(o).BaseLevel
		for l := 1; l <= baseLevel; l++ {
			if v.OverlapInLevel(l, smallest, largest) {
				return 0
			}
		}
		if baseLevel+1 < NumLevels && v.overlapBytes(baseLevel+1, smallest, largest) > o.MaxGrandparentOverlapBytes {
			return 0
		}
		return baseLevel
	}
	for level < maxLevel {
		if v.OverlapInLevel(level+1, smallest, largest) {
			break
		}
		if level+2 < NumLevels && v.overlapBytes(level+2, smallest, largest) > o.MaxGrandparentOverlapBytes {
			break
		}
		level++
	}
	return level
}

// FindFile returns the index of the first file in level (1+) whose largest
// internal key is >= ikey, or NumFiles(level) if there is none: the only file
// of a sorted level that can hold ikey. Level 0 is not sorted by key; for it
// (and for a level out of range) FindFile returns 0.
func (v *Version) FindFile(level int, ikey []byte) int {
	if level <= 0 || level >= NumLevels {
		return 0
	}
	files := v.Levels[level]
	cmp := v.ucmp()
	lo, hi := 0, len(files)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if base.InternalCompare(cmp, files[mid].Largest, ikey) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// ForEachOverlapping calls fn for every file that may contain entries for
// the user key of ikey, in the order a point lookup must visit them: level-0
// files newest first, then at most one file per deeper level (found with
// FindFile, so a lookup at an older sequence number lands on the right file
// when a user key straddles two files). It stops when fn returns false. It
// does not allocate.
func (v *Version) ForEachOverlapping(ikey []byte, fn func(level int, f *FileMetadata) bool) {
	ukey := base.UserKey(ikey)
	cmp := v.ucmp()
	l0 := v.Levels[0]
	for i := len(l0) - 1; i >= 0; i-- {
		f := l0[i]
		if cmp(ukey, f.SmallestUserKey()) >= 0 && cmp(ukey, f.LargestUserKey()) <= 0 {
			if !fn(0, f) {
				return
			}
		}
	}
	for level := 1; level < NumLevels; level++ {
		files := v.Levels[level]
		if len(files) == 0 {
			continue
		}
		i := v.FindFile(level, ikey)
		if i < len(files) && cmp(ukey, files[i].SmallestUserKey()) >= 0 {
			if !fn(level, files[i]) {
				return
			}
		}
	}
}

// UpdateStats charges one seek to f, found in level: a lookup had to read f
// and then another file (LevelDB's Version::UpdateStats). When f's
// AllowedSeeks runs out and no candidate is recorded yet, f becomes the
// Version's seek-compaction candidate and UpdateStats returns true: the
// caller should schedule a compaction. Files of the last level are never
// recorded (there is nothing to compact them into). Safe for concurrent use.
func (v *Version) UpdateStats(f *FileMetadata, level int) bool {
	if f == nil {
		return false
	}
	if f.AllowedSeeks.Add(-1) > 0 {
		return false
	}
	if level < 0 || level >= NumLevels-1 || v.seek.Load() != nil {
		return false
	}
	return v.seek.CompareAndSwap(nil, &seekCandidate{file: f, level: level})
}

// RecordReadSample is LevelDB's sampling hook for iterators: called about
// once per MiB an iterator reads, with the internal key at that point. If at
// least two files overlap the key's user key, the first one a lookup would
// visit is charged a seek (UpdateStats), and the result of that is returned.
// A key that is not a valid internal key is ignored.
func (v *Version) RecordReadSample(ikey []byte) bool {
	if !base.ValidInternalKey(ikey) {
		return false
	}
	var (
		first      *FileMetadata
		firstLevel int
		matches    int
	)
	v.ForEachOverlapping(ikey, func(level int, f *FileMetadata) bool {
		matches++
		if matches == 1 {
			first, firstLevel = f, level
		}
		return matches < 2
	})
	if matches < 2 {
		return false
	}
	return v.UpdateStats(first, firstLevel)
}

// FileToCompact returns the seek-compaction candidate recorded by
// UpdateStats, or (nil, -1).
func (v *Version) FileToCompact() (*FileMetadata, int) {
	if c := v.seek.Load(); c != nil {
		return c.file, c.level
	}
	return nil, -1
}

// CheckConsistency verifies the Version's invariants (package comment):
// valid keys with smallest <= largest, level 0 ordered by file number, levels
// 1+ ordered and non-overlapping, no file number twice. A violation is a
// *base.CorruptionError (a corrupt MANIFEST is the usual cause).
func (v *Version) CheckConsistency() error {
	cmp := v.ucmp()
	seen := make(map[uint64]int)
	for level, files := range v.Levels {
		for i, f := range files {
			if f == nil {
				return consistencyErrorf(level, "nil file at index %d", i)
			}
			if err := checkFile(cmp, level, f); err != nil {
				return err
			}
			if prev, dup := seen[f.Num]; dup {
				return consistencyErrorf(level, "file %06d also in level %d", f.Num, prev)
			}
			seen[f.Num] = level
			if i == 0 {
				continue
			}
			if err := checkOrder(cmp, level, files[i-1], f); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkFile verifies one file's keys.
func checkFile(cmp func(a, b []byte) int, level int, f *FileMetadata) error {
	if !base.ValidInternalKey(f.Smallest) || !base.ValidInternalKey(f.Largest) {
		return consistencyErrorf(level, "file %06d has a bad internal key", f.Num)
	}
	if base.InternalCompare(cmp, f.Smallest, f.Largest) > 0 {
		return consistencyErrorf(level, "file %06d: smallest key %s > largest key %s",
			f.Num, base.FormatInternalKey(f.Smallest), base.FormatInternalKey(f.Largest))
	}
	return nil
}

// checkOrder verifies that b may follow a in level.
func checkOrder(cmp func(a, b []byte) int, level int, a, b *FileMetadata) error {
	if level == 0 {
		if a.Num >= b.Num {
			return consistencyErrorf(0, "files %06d and %06d out of file-number order", a.Num, b.Num)
		}
		return nil
	}
	if base.InternalCompare(cmp, a.Largest, b.Smallest) >= 0 {
		return consistencyErrorf(level, "files %06d and %06d overlap or are out of order: %s >= %s",
			a.Num, b.Num, base.FormatInternalKey(a.Largest), base.FormatInternalKey(b.Smallest))
	}
	return nil
}

func consistencyErrorf(level int, format string, args ...any) error {
	return base.CorruptionErrorf("", -1, "version: level %d: %s", level, fmt.Sprintf(format, args...))
}

// String renders the Version one file a line under a header per level, as
// LevelDB's Version::DebugString does:
//
//	--- level 0 ---
//	 000005:1024["a"#10,SET.."c"#12,SET]
//	--- level 1 ---
//	...
//
// Used as golden output by tests and by the `strata lsm` command.
func (v *Version) String() string {
	var sb strings.Builder
	for level, files := range v.Levels {
		fmt.Fprintf(&sb, "--- level %d ---\n", level)
		for _, f := range files {
			sb.WriteByte(' ')
			sb.WriteString(f.String())
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}
