package manifest

import (
	"slices"

	"github.com/strata-db/strata/internal/base"
)

// PickerOptions are the knobs of compaction picking. Zero fields take
// LevelDB's values (WithDefaults).
type PickerOptions struct {
	// L0CompactionTrigger is the number of level-0 files at which level 0
	// scores 1. Default 4.
	L0CompactionTrigger int
	// LevelMultiplier is the growth of the byte budget from one level to
	// the next. Default 10.
	LevelMultiplier int
	// BaseLevelBytes is the byte budget of level 1 (with DynamicLevelBytes,
	// of the base level). Default 10 MiB.
	BaseLevelBytes uint64
	// DynamicLevelBytes sizes the levels from the last one up, as RocksDB's
	// level_compaction_dynamic_level_bytes and Pebble do (see
	// Version.LevelTargets): level 0 compacts into the base level, the
	// shallowest level that gets data, and the levels between them stay
	// empty. Off: LevelDB's fixed budgets, BaseLevelBytes for level 1 and
	// ×LevelMultiplier for each level below, level 0 compacting into level 1.
	DynamicLevelBytes bool
	// TargetFileSize is the size at which compaction output files are cut,
	// and the per-call input limit of a manual compaction. Default 2 MiB.
	TargetFileSize uint64
	// MaxGrandparentOverlapBytes bounds the grandparent bytes one output
	// file (or trivially moved file, or pushed-down flush) may overlap.
	// Default 10 × TargetFileSize.
	MaxGrandparentOverlapBytes uint64
	// ExpandedCompactionByteSizeLimit bounds the input bytes of a
	// compaction whose level inputs are grown to cover more of its key
	// range. Default 25 × TargetFileSize.
	ExpandedCompactionByteSizeLimit uint64
}

// DefaultPickerOptions returns LevelDB's settings.
func DefaultPickerOptions() PickerOptions { return PickerOptions{}.WithDefaults() }

// WithDefaults returns o with every zero field set to its default.
func (o PickerOptions) WithDefaults() PickerOptions {
	if o.L0CompactionTrigger <= 0 {
		o.L0CompactionTrigger = 4
	}
	if o.LevelMultiplier <= 0 {
		o.LevelMultiplier = 10
	}
	if o.BaseLevelBytes == 0 {
		o.BaseLevelBytes = 10 << 20
	}
	if o.TargetFileSize == 0 {
		o.TargetFileSize = 2 << 20
	}
	if o.MaxGrandparentOverlapBytes == 0 {
		o.MaxGrandparentOverlapBytes = 10 * o.TargetFileSize
	}
	if o.ExpandedCompactionByteSizeLimit == 0 {
		o.ExpandedCompactionByteSizeLimit = 25 * o.TargetFileSize
	}
	return o
}

// MaxBytesForLevel returns the byte budget of level (1+): BaseLevelBytes ×
// LevelMultiplier^(level-1). Level 0 is budgeted by file count; for it the
// level-1 budget is returned, as in LevelDB. o should have its defaults
// applied.
func (o PickerOptions) MaxBytesForLevel(level int) float64 {
	b := float64(o.BaseLevelBytes)
	for ; level > 1; level-- {
		b *= float64(o.LevelMultiplier)
	}
	return b
}

// LevelTargets is the shape the picker keeps the tree in: where level 0
// compacts to and the byte budget of each level.
type LevelTargets struct {
	// BaseLevel is the level level 0 compacts into: 1 with LevelDB's fixed
	// budgets; with DynamicLevelBytes the shallowest level below 0 meant to
	// hold data (the levels between 0 and it are empty).
	BaseLevel int
	// MaxBytes[l] is the byte budget of level l, for the levels from
	// BaseLevel on; 0 for level 0 (budgeted by file count) and for the
	// levels above BaseLevel.
	MaxBytes [NumLevels]float64
	// Bytes[l] is the total size of level l's files.
	Bytes [NumLevels]uint64
}

// LevelTargets returns the base level and the level budgets of v under o.
//
// With o.DynamicLevelBytes (RocksDB's level_compaction_dynamic_level_bytes,
// what Pebble always does) the budgets follow the data instead of growing
// from level 1 down: the largest level (normally the last) is taken as the
// last level's size, and each level above it is meant to hold
// 1/LevelMultiplier of the next. The base level is the shallowest level
// whose share that way is still above BaseLevelBytes/LevelMultiplier,
// moved no deeper than the first non-empty level (so no data sits between
// level 0 and the base level); an empty tree's base level is the last one.
// The last level's budget is its size, each level above it has
// 1/LevelMultiplier of the next one's, but never less than BaseLevelBytes
// (so the base level's budget is BaseLevelBytes, as in RocksDB). As the tree
// grows the base level moves up one level at a time, and about
// (multiplier-1)/multiplier of the data sits in the last level (space
// amplification about 1.11 at the default 10), against as little as half
// with fixed budgets when the last level is barely begun. (Pebble instead
// spreads the ratio from BaseLevelBytes to the last level evenly over the
// levels, which writes a little less and keeps more data above the last
// level; measured here, docs/performance.md, it missed issue 28's space
// target.)
func (v *Version) LevelTargets(o PickerOptions) LevelTargets {
	o = o.WithDefaults()
	var t LevelTargets
	first := 0 // the first non-empty level below 0
	var largest uint64
	for level := range NumLevels {
		t.Bytes[level] = v.LevelBytes(level)
		if level > 0 && t.Bytes[level] > 0 {
			if first == 0 {
				first = level
			}
			largest = max(largest, t.Bytes[level])
		}
	}
	if !o.DynamicLevelBytes {
		t.BaseLevel = 1
		for level := 1; level < NumLevels; level++ {
			t.MaxBytes[level] = o.MaxBytesForLevel(level)
		}
		return t
	}
	mult := float64(o.LevelMultiplier)
	baseMax := float64(o.BaseLevelBytes)
	last := NumLevels - 1
	if first == 0 {
		t.BaseLevel = last
		t.MaxBytes[last] = baseMax
		return t
	}
	// The share of the first non-empty level if every level were
	// 1/mult of the next, the largest one being the last.
	share := float64(largest)
	for level := last; level > first; level-- {
		share /= mult
	}
	t.BaseLevel = first
	for t.BaseLevel > 1 && share > baseMax {
		t.BaseLevel--
		share /= mult
	}
	size := float64(largest)
	for level := last; level >= t.BaseLevel; level-- {
		t.MaxBytes[level] = max(size, baseMax)
		size /= mult
	}
	return t
}

// Scores rates how urgently each level needs a compaction.
type Scores struct {
	// Level[0] is the number of level-0 files over L0CompactionTrigger
	// (with DynamicLevelBytes, or level 0's bytes over L0TargetBytes if
	// that is more); Level[l] for l >= 1 is the level's bytes over its budget
	// (LevelTargets; 0 for a level above the base level). A level scoring
	// >= 1 is due for a size compaction. The last level's score is
	// informational: it is never compacted.
	Level [NumLevels]float64
	// BestLevel and BestScore are the highest score among levels 0 to
	// NumLevels-2 and its level (the lowest level on ties), as LevelDB's
	// VersionSet::Finalize computes them.
	BestLevel int
	BestScore float64
	// Targets are the base level and budgets the scores were computed
	// from.
	Targets LevelTargets
}

// ComputeScores returns the Version's compaction scores under o. It does not
// allocate; it costs a pass over every file's size.
func (v *Version) ComputeScores(o PickerOptions) Scores {
	o = o.WithDefaults()
	s := Scores{BestLevel: -1, BestScore: -1, Targets: v.LevelTargets(o)}
	for level := range NumLevels {
		var score float64
		if level == 0 {
			score = float64(len(v.Levels[0])) / float64(o.L0CompactionTrigger)
			if o.DynamicLevelBytes {
				score = max(score, float64(s.Targets.Bytes[0])/s.Targets.L0TargetBytes(o))
			}
		} else if budget := s.Targets.MaxBytes[level]; budget > 0 {
			score = float64(s.Targets.Bytes[level]) / budget
		}
		s.Level[level] = score
		if level < NumLevels-1 && score > s.BestScore {
			s.BestLevel, s.BestScore = level, score
		}
	}
	return s
}

// L0TargetBytes is the size at which level 0 is due for a compaction
// whatever its file count, with DynamicLevelBytes (RocksDB's size score for
// level 0): BaseLevelBytes, or the base level's budget / LevelMultiplier
// when that is more, so that a compaction of level 0 never writes less than
// 1/LevelMultiplier of the base level's budget. With memtables of
// BaseLevelBytes (Strata's default BaseLevelSize for large memtables) and
// tables about half their memtable's size, this compacts level 0 at two
// files, as Pebble does (its level-0 score is twice the sublevels over
// L0CompactionThreshold): what a settled tree keeps in level 0 is then at
// most about one memtable's table, not L0CompactionTrigger-1 of them
// (measured in docs/performance.md, "Level sizes"). Tables of values that
// compress are smaller than that: with db_bench's half-compressible values
// a 64 MiB memtable makes a table of about 20 MiB, and a settled tree keeps
// up to three in level 0 (61.9 MiB in issue 28's 50M-key tree), as the
// file-count trigger alone would. o should have its defaults applied.
func (t *LevelTargets) L0TargetBytes(o PickerOptions) float64 {
	return max(float64(o.BaseLevelBytes), t.MaxBytes[t.BaseLevel]/float64(o.LevelMultiplier))
}

// outputLevel is the level a compaction of level writes to: the base level
// for level 0, else the next level.
func (t *LevelTargets) outputLevel(level int) int {
	if level == 0 {
		return t.BaseLevel
	}
	return level + 1
}

// PickCompaction returns the compaction to run next on v, or nil when none
// is due or every due one is blocked by running compactions. Size
// compactions come first, most urgent level first (LevelDB runs only the
// best level; the others are tried here when the best one is blocked).
// Within a level the first file whose largest key sorts after the level's
// compact pointer is the seed, wrapping to the start of the key space, so
// successive compactions rotate through the level; if that seed's compaction
// would touch a Compacting file, the following files are tried in turn.
// Level-0 seeds are expanded to every overlapping level-0 file. Failing a
// size compaction, v's seek candidate (Version.UpdateStats) is compacted.
//
// A compaction of level L writes to level L+1, except that level 0 writes
// to the base level (LevelTargets: level 1, or with DynamicLevelBytes the
// shallowest level meant to hold data; the levels in between are empty).
// The inputs then grow as LevelDB's SetupOtherInputs grows them: the
// output level's files overlapping the level inputs; then more level inputs
// if that adds no output-level file and stays under
// ExpandedCompactionByteSizeLimit; files sharing a boundary user key with an
// input are always pulled in.
//
// compactPointers (nil: no rotation) is updated at once for the picked
// level, as LevelDB does, so a compaction that fails is not retried on the
// same range; the pointer must still be recorded in the installing edit
// (Compaction.CompactPointer). The stored key aliases a file's key.
//
// The caller must hold the mutex that serializes picking and call
// MarkCompacting(true) on the result before releasing it.
func PickCompaction(v *Version, o PickerOptions, compactPointers *[NumLevels][]byte) *Compaction {
	o = o.WithDefaults()
	scores := v.ComputeScores(o)
	var order [NumLevels - 1]int
	n := 0
	for level := 0; level < NumLevels-1; level++ {
		if scores.Level[level] >= 1 {
			order[n] = level
			n++
		}
	}
	// Stable insertion sort, highest score first (lowest level on ties).
	for i := 1; i < n; i++ {
		for j := i; j > 0 && scores.Level[order[j]] > scores.Level[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for _, level := range order[:n] {
		var ptr []byte
		if compactPointers != nil {
			ptr = compactPointers[level]
		}
		if c := pickSizeCompaction(v, o, level, scores.Targets.outputLevel(level), ptr); c != nil {
			c.Score = scores.Level[level]
			if compactPointers != nil {
				compactPointers[level] = c.pointerKey
			}
			return c
		}
	}
	if f, level := v.FileToCompact(); f != nil && level < NumLevels-1 && !f.Compacting.Load() {
		if c := newCompaction(v, o, level, scores.Targets.outputLevel(level), ReasonSeek, []*FileMetadata{f}); c != nil {
			if compactPointers != nil {
				compactPointers[level] = c.pointerKey
			}
			return c
		}
	}
	return nil
}

// pickSizeCompaction picks a size compaction of level into out seeded after
// ptr.
func pickSizeCompaction(v *Version, o PickerOptions, level, out int, ptr []byte) *Compaction {
	files := v.Levels[level]
	if len(files) == 0 {
		return nil
	}
	cmp := v.ucmp()
	var start int
	if level == 0 {
		// LevelDB keeps level 0 sorted by smallest key and seeds from the
		// first file in that order whose largest key is past the pointer.
		files = slices.Clone(files)
		slices.SortFunc(files, levelOrder(cmp, 1))
		for start < len(files) && ptr != nil && base.InternalCompare(cmp, files[start].Largest, ptr) <= 0 {
			start++
		}
	} else if ptr != nil {
		start = v.FindFile(level, ptr)
		if start < len(files) && base.InternalCompare(cmp, files[start].Largest, ptr) == 0 {
			start++
		}
	}
	if start == len(files) {
		start = 0 // wrap around to the beginning of the key space
	}
	seed := make([]*FileMetadata, 1)
	for k := range files {
		f := files[(start+k)%len(files)]
		if f.Compacting.Load() {
			continue
		}
		seed[0] = f
		if c := newCompaction(v, o, level, out, ReasonSize, seed); c != nil {
			return c
		}
	}
	return nil
}

// PickManual returns a compaction of the files of level overlapping the
// internal-key range [begin, end] (nil: open on that side), LevelDB's
// VersionSet::CompactRange: for levels 1+ the inputs stop once they reach
// TargetFileSize bytes, so one call never does too much; level 0 is taken
// whole, as newer level-0 files cannot be separated from older ones they
// overlap. The inputs then grow as in PickCompaction, and are cut at the
// first gap in their key range (see the package comment).
//
// It returns (nil, false) when nothing in level overlaps the range (or level
// is the last one), and (nil, true) when the compaction would touch a
// Compacting file: retry after a running compaction finishes. To compact a
// whole range, repeat with begin = c.CompactPointer().Key after installing
// each result, until (nil, false). The caller records c.CompactPointer() in
// the edit and in its compact pointers, and marks the inputs Compacting.
// Level 0 compacts into the base level, as in PickCompaction.
func PickManual(v *Version, o PickerOptions, level int, begin, end []byte) (c *Compaction, busy bool) {
	o = o.WithDefaults()
	if level < 0 || level >= NumLevels-1 {
		return nil, false
	}
	var ubegin, uend []byte
	if begin != nil {
		ubegin = begin[:max(len(begin)-base.TrailerLen, 0)]
	}
	if end != nil {
		uend = end[:max(len(end)-base.TrailerLen, 0)]
	}
	inputs := v.Overlaps(level, ubegin, uend)
	if len(inputs) == 0 {
		return nil, false
	}
	if level > 0 {
		var total uint64
		for i, f := range inputs {
			total += f.Size
			if total >= o.TargetFileSize {
				inputs = inputs[:i+1]
				break
			}
		}
	}
	if anyCompacting(inputs) {
		return nil, true
	}
	out := level + 1
	if level == 0 {
		out = v.LevelTargets(o).BaseLevel
	}
	c = newCompaction(v, o, level, out, ReasonManual, inputs)
	if c == nil {
		return nil, true
	}
	return c, false
}

// newCompaction builds the compaction of level into level out seeded with
// inputs (files of level), or returns nil if it would touch a Compacting
// file. Level-0 inputs are first expanded to every level-0 file overlapping
// them. The levels between level and out must be empty.
func newCompaction(v *Version, o PickerOptions, level, out int, reason CompactionReason, inputs []*FileMetadata) *Compaction {
	cmp := v.ucmp()
	if level == 0 {
		smallest, largest := keyRange(cmp, inputs, nil)
		inputs = v.Overlaps(0, base.UserKey(smallest), base.UserKey(largest))
	}
	// setupOtherInputs returns a covered compaction after at most one cut;
	// the bound only guards against a broken invariant.
	for range 4 {
		c := setupOtherInputs(v, o, level, out, reason, inputs)
		if c == nil {
			return nil
		}
		first, covered := firstComponent(cmp, c.Inputs[0], c.Inputs[1])
		if covered {
			return c
		}
		inputs = first
	}
	return nil
}

// setupOtherInputs completes a compaction of level into level out from its
// level inputs (LevelDB's VersionSet::SetupOtherInputs), or returns nil if
// it would read a Compacting file.
func setupOtherInputs(v *Version, o PickerOptions, level, out int, reason CompactionReason, inputs0 []*FileMetadata) *Compaction {
	cmp := v.ucmp()
	inputs0 = v.addBoundaryInputs(level, slices.Clip(inputs0))
	if anyCompacting(inputs0) {
		return nil
	}
	smallest, largest := keyRange(cmp, inputs0, nil)
	inputs1 := v.Overlaps(out, base.UserKey(smallest), base.UserKey(largest))
	inputs1 = v.addBoundaryInputs(out, inputs1)
	if anyCompacting(inputs1) {
		return nil
	}
	allStart, allLimit := keyRange(cmp, inputs0, inputs1)

	// Grow the level inputs if that pulls in no more output-level files.
	if len(inputs1) > 0 {
		expanded0 := v.Overlaps(level, base.UserKey(allStart), base.UserKey(allLimit))
		expanded0 = v.addBoundaryInputs(level, expanded0)
		if len(expanded0) > len(inputs0) &&
			totalSize(inputs1)+totalSize(expanded0) < o.ExpandedCompactionByteSizeLimit &&
			!anyCompacting(expanded0) {
			newStart, newLimit := keyRange(cmp, expanded0, nil)
			expanded1 := v.Overlaps(out, base.UserKey(newStart), base.UserKey(newLimit))
			expanded1 = v.addBoundaryInputs(out, expanded1)
			if len(expanded1) == len(inputs1) && !anyCompacting(expanded1) {
				largest = newLimit
				inputs0, inputs1 = expanded0, expanded1
				allStart, allLimit = keyRange(cmp, inputs0, inputs1)
			}
		}
	}
	c := &Compaction{
		Level:                 level,
		outputLevel:           out,
		Inputs:                [2][]*FileMetadata{inputs0, inputs1},
		MaxOutputFileSize:     o.TargetFileSize,
		Reason:                reason,
		Smallest:              allStart,
		Largest:               allLimit,
		Version:               v,
		pointerKey:            largest,
		maxGrandparentOverlap: o.MaxGrandparentOverlapBytes,
	}
	if out+1 < NumLevels {
		c.Grandparents = v.Overlaps(out+1, base.UserKey(allStart), base.UserKey(allLimit))
	}
	return c
}

// addBoundaryInputs appends to files (files of level) every file of level
// whose smallest key shares its user key with the largest key of files (and,
// transitively, of each file so added): LevelDB's AddBoundaryInputs. Without
// it a compaction could move the newer entries of a user key down a level
// and leave older ones above them, where a lookup would find them first.
func (v *Version) addBoundaryInputs(level int, files []*FileMetadata) []*FileMetadata {
	if len(files) == 0 || level < 0 || level >= NumLevels {
		return files
	}
	cmp := v.ucmp()
	_, largest := keyRange(cmp, files, nil)
	levelFiles := v.Levels[level]
	for {
		var next *FileMetadata
		if level == 0 {
			for _, f := range levelFiles {
				if base.InternalCompare(cmp, f.Smallest, largest) > 0 &&
					cmp(f.SmallestUserKey(), base.UserKey(largest)) == 0 &&
					(next == nil || base.InternalCompare(cmp, f.Smallest, next.Smallest) < 0) {
					next = f
				}
			}
		} else {
			// Sorted level: the only candidate is the first file whose
			// smallest key sorts after largest.
			lo, hi := 0, len(levelFiles)
			for lo < hi {
				mid := int(uint(lo+hi) >> 1)
				if base.InternalCompare(cmp, levelFiles[mid].Smallest, largest) <= 0 {
					lo = mid + 1
				} else {
					hi = mid
				}
			}
			if lo < len(levelFiles) && cmp(levelFiles[lo].SmallestUserKey(), base.UserKey(largest)) == 0 {
				next = levelFiles[lo]
			}
		}
		if next == nil || slices.Contains(files, next) {
			return files
		}
		if base.IsRangeDelSentinel(largest) {
			// largest is a tombstone's exclusive end: files holds nothing
			// of its user key, so no entry of it is split from next.
			return files
		}
		files = append(files, next)
		largest = next.Largest
	}
}

// keyRange returns the smallest and largest internal keys of the files in a
// and b (nil, nil if both are empty).
func keyRange(cmp func(a, b []byte) int, a, b []*FileMetadata) (smallest, largest []byte) {
	for _, files := range [2][]*FileMetadata{a, b} {
		for _, f := range files {
			if smallest == nil || base.InternalCompare(cmp, f.Smallest, smallest) < 0 {
				smallest = f.Smallest
			}
			if largest == nil || base.InternalCompare(cmp, f.Largest, largest) > 0 {
				largest = f.Largest
			}
		}
	}
	return smallest, largest
}

func anyCompacting(files []*FileMetadata) bool {
	for _, f := range files {
		if f.Compacting.Load() {
			return true
		}
	}
	return false
}

// firstComponent checks that the user-key ranges of in0 and in1 together
// cover the hull of the compaction with no gap. If they do, it returns
// covered = true. Otherwise it returns the files of in0 in the first
// gap-free stretch (by key), from which a covered compaction can be built.
func firstComponent(cmp func(a, b []byte) int, in0, in1 []*FileMetadata) (first []*FileMetadata, covered bool) {
	all := make([]*FileMetadata, 0, len(in0)+len(in1))
	all = append(append(all, in0...), in1...)
	slices.SortFunc(all, func(a, b *FileMetadata) int { return cmp(a.SmallestUserKey(), b.SmallestUserKey()) })
	end := all[0].LargestUserKey()
	for _, f := range all[1:] {
		if cmp(f.SmallestUserKey(), end) > 0 {
			for _, g := range in0 {
				if cmp(g.SmallestUserKey(), end) <= 0 {
					first = append(first, g)
				}
			}
			return first, false
		}
		if l := f.LargestUserKey(); cmp(l, end) > 0 {
			end = l
		}
	}
	return nil, true
}
