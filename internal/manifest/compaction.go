package manifest

import (
	"fmt"
	"strings"

	"github.com/strata-db/strata/internal/base"
)

// CompactionReason says why a compaction was picked.
type CompactionReason int

// The reasons, in the picker's order of preference.
const (
	// ReasonSize: the level exceeds its budget (score >= 1).
	ReasonSize CompactionReason = iota
	// ReasonSeek: a file absorbed too many seeks (Version.UpdateStats).
	ReasonSeek
	// ReasonManual: requested through PickManual (DB.CompactRange).
	ReasonManual
)

// String returns "size", "seek" or "manual".
func (r CompactionReason) String() string {
	switch r {
	case ReasonSize:
		return "size"
	case ReasonSeek:
		return "seek"
	case ReasonManual:
		return "manual"
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Compaction describes one compaction picked from a Version: merge
// Inputs[0] (level Level) with Inputs[1] (level OutputLevel(): Level+1, or
// for level 0 the base level, see LevelTargets) into new files of
// OutputLevel(). The levels between Level and OutputLevel() are empty. Its fields are read-only for the caller; the key slices
// alias the files' keys. IsBaseLevelForKey and ShouldStopBefore keep state
// for one pass over the merged input, so a Compaction is not safe for
// concurrent use.
//
// Lifecycle, for the engine: pick under the mutex that guards the current
// Version, call MarkCompacting(true) before releasing it, Ref c.Version while
// the compaction runs (its files must stay live), and after installing (or
// abandoning) the result call MarkCompacting(false). The edit to install is
// built with AddInputDeletions, the output files (VersionEdit.AddFile at
// OutputLevel()) and the CompactPointer.
type Compaction struct {
	// Level is the input level; outputs go to OutputLevel().
	Level int
	// Inputs[0] are files of Level, Inputs[1] files of OutputLevel().
	Inputs [2][]*FileMetadata
	// Grandparents are the files of OutputLevel()+1 overlapping the compaction's key
	// range; ShouldStopBefore cuts output files so that none overlaps too
	// many of their bytes.
	Grandparents []*FileMetadata
	// MaxOutputFileSize is the size at which an output file is cut.
	MaxOutputFileSize uint64
	// Reason is why the compaction was picked; Score is the level's score
	// for a size compaction (else 0). For logging.
	Reason CompactionReason
	Score  float64
	// Smallest and Largest are the smallest and largest internal keys of
	// all inputs.
	Smallest, Largest []byte
	// Version is the Version the compaction was picked from.
	Version *Version

	outputLevel           int
	pointerKey            []byte // largest key of Inputs[0]
	maxGrandparentOverlap uint64

	// IsBaseLevelForKey state: per level, the index of the first file
	// whose largest user key may still be >= the next key.
	levelPtrs [NumLevels]int
	// ShouldStopBefore state.
	grandparentIndex int
	seenKey          bool
	overlappedBytes  uint64
}

// OutputLevel returns the level the compaction writes to: Level+1, or for a
// compaction of level 0 the base level it was picked with.
func (c *Compaction) OutputLevel() int { return c.outputLevel }

// NumInputFiles returns the number of input files of both levels.
func (c *Compaction) NumInputFiles() int { return len(c.Inputs[0]) + len(c.Inputs[1]) }

// InputBytes returns the total size of all input files.
func (c *Compaction) InputBytes() uint64 { return totalSize(c.Inputs[0]) + totalSize(c.Inputs[1]) }

// IsTrivialMove reports whether the compaction can be done by moving its
// single input file to OutputLevel() in the MANIFEST, without rewriting it:
// one input in Level, none in OutputLevel(), and not too many grandparent bytes
// overlapping (else the moved file would make a later compaction very
// expensive). Manual compactions are never trivial moves: they are asked
// for to rewrite data (LevelDB's DBImpl makes the same exception).
func (c *Compaction) IsTrivialMove() bool {
	return c.Reason != ReasonManual && len(c.Inputs[0]) == 1 && len(c.Inputs[1]) == 0 &&
		totalSize(c.Grandparents) <= c.maxGrandparentOverlap
}

// IsBaseLevelForKey reports whether no level below OutputLevel() can hold an entry
// for ukey, so a deletion marker for ukey may be dropped once no snapshot
// needs it. It advances a cursor per level, so successive calls must pass
// user keys in non-decreasing order (the order of the compaction's merged
// input); after the first key that goes backwards its answers are wrong.
// It does not allocate.
func (c *Compaction) IsBaseLevelForKey(ukey []byte) bool {
	cmp := c.Version.ucmp()
	for level := c.outputLevel + 1; level < NumLevels; level++ {
		files := c.Version.Levels[level]
		for c.levelPtrs[level] < len(files) {
			f := files[c.levelPtrs[level]]
			if cmp(ukey, f.LargestUserKey()) <= 0 {
				if cmp(ukey, f.SmallestUserKey()) >= 0 {
					return false
				}
				break
			}
			c.levelPtrs[level]++
		}
	}
	return true
}

// ShouldStopBefore reports whether the output file being built should be
// finished before ikey is added, because the current output already overlaps
// more than MaxGrandparentOverlapBytes of grandparent files (a later
// compaction of that output would have to merge them all). Like
// IsBaseLevelForKey it keeps a cursor: call it for every key of the merged
// input, in order. It does not allocate.
func (c *Compaction) ShouldStopBefore(ikey []byte) bool {
	cmp := c.Version.ucmp()
	for c.grandparentIndex < len(c.Grandparents) &&
		base.InternalCompare(cmp, ikey, c.Grandparents[c.grandparentIndex].Largest) > 0 {
		if c.seenKey {
			c.overlappedBytes += c.Grandparents[c.grandparentIndex].Size
		}
		c.grandparentIndex++
	}
	c.seenKey = true
	if c.overlappedBytes > c.maxGrandparentOverlap {
		c.overlappedBytes = 0
		return true
	}
	return false
}

// AddInputDeletions records in edit the deletion of every input file.
func (c *Compaction) AddInputDeletions(edit *VersionEdit) {
	for _, f := range c.Inputs[0] {
		edit.DeleteFile(c.Level, f.Num)
	}
	for _, f := range c.Inputs[1] {
		edit.DeleteFile(c.outputLevel, f.Num)
	}
}

// MarkCompacting sets (or clears) the Compacting flag of every input file.
// The picker skips flagged files; see the package comment.
func (c *Compaction) MarkCompacting(on bool) {
	for _, files := range c.Inputs {
		for _, f := range files {
			f.Compacting.Store(on)
		}
	}
}

// CompactPointer returns the compact pointer to record in the edit that
// installs the compaction: the largest key of the level inputs, where the
// next size compaction of Level will start (LevelDB records it for every
// compaction, manual ones and trivial moves included).
func (c *Compaction) CompactPointer() CompactPointer {
	return CompactPointer{Level: c.Level, Key: c.pointerKey}
}

// String describes the compaction for logs and tests:
//
//	L0 -> L1 (size, score 1.25): 2+1 files, 3072 bytes
//	  L0: 000007 000009
//	  L1: 000004
//	  grandparents: 000002
//	  range: "a"#12,SET .. "k"#3,SET
func (c *Compaction) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "L%d -> L%d (%s", c.Level, c.outputLevel, c.Reason)
	if c.Reason == ReasonSize {
		fmt.Fprintf(&sb, ", score %.2f", c.Score)
	}
	fmt.Fprintf(&sb, "): %d+%d files, %d bytes\n", len(c.Inputs[0]), len(c.Inputs[1]), c.InputBytes())
	writeNums := func(label string, files []*FileMetadata) {
		sb.WriteString("  ")
		sb.WriteString(label)
		sb.WriteByte(':')
		for _, f := range files {
			fmt.Fprintf(&sb, " %06d", f.Num)
		}
		sb.WriteByte('\n')
	}
	writeNums(fmt.Sprintf("L%d", c.Level), c.Inputs[0])
	writeNums(fmt.Sprintf("L%d", c.outputLevel), c.Inputs[1])
	writeNums("grandparents", c.Grandparents)
	fmt.Fprintf(&sb, "  range: %s .. %s\n", base.FormatInternalKey(c.Smallest), base.FormatInternalKey(c.Largest))
	return sb.String()
}
