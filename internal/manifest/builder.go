package manifest

import (
	"cmp"
	"math"
	"slices"

	"github.com/strata-db/strata/internal/base"
)

// Builder applies a sequence of VersionEdits to a base Version without
// building the intermediate Versions (LevelDB's VersionSet::Builder). Use one
// Builder per batch: NewBuilder, Apply each edit in order, Finish.
//
// Edits are applied in order, and within an edit deletions come before
// additions, so the outcome for a file is decided by the last edit that
// mentions it: added (present), deleted (absent), or deleted and re-added in
// one edit (present, with the new metadata). Adding a file number that is
// already in the level replaces the earlier entry instead of duplicating it
// (goleveldb may list a file twice). Deleting a file that is not there is not
// an error, as in LevelDB. Compact pointers are not the Builder's business:
// the caller records them.
//
// A Builder is not safe for concurrent use.
type Builder struct {
	cmp    *base.Comparer
	base   *Version
	levels [NumLevels]builderLevel
}

type builderLevel struct {
	deleted map[uint64]struct{}
	added   map[uint64]*FileMetadata
}

// NewBuilder returns a Builder that starts from base (nil means an empty
// Version) and orders keys with cmp (nil means base's comparer). The Builder
// does not take a reference on base: the caller keeps base alive, which in Go
// only matters for the engine's live-file accounting.
func NewBuilder(cmp *base.Comparer, base *Version) *Builder {
	if base == nil {
		base = NewVersion(cmp)
	}
	if cmp == nil {
		cmp = base.Comparer()
	}
	return &Builder{cmp: cmp, base: base}
}

// Apply adds an edit's file changes to the Builder's state. It returns a
// *base.CorruptionError, leaving the state unchanged, if the edit names a
// level out of range, has a nil Meta, or adds a file whose keys are not valid
// internal keys with smallest <= largest.
func (b *Builder) Apply(edit *VersionEdit) error {
	for d, ok := range edit.DeletedFiles {
		if ok && (d.Level < 0 || d.Level >= NumLevels) {
			return base.CorruptionErrorf("", -1, "version edit: deleted file %06d: level %d out of range", d.Num, d.Level)
		}
	}
	for _, nf := range edit.NewFiles {
		if nf.Level < 0 || nf.Level >= NumLevels {
			return base.CorruptionErrorf("", -1, "version edit: new file: level %d out of range", nf.Level)
		}
		if nf.Meta == nil {
			return base.CorruptionErrorf("", -1, "version edit: new file at level %d without metadata", nf.Level)
		}
		if err := checkFile(b.cmp.Compare, nf.Level, nf.Meta); err != nil {
			return err
		}
	}
	for d, ok := range edit.DeletedFiles {
		if !ok {
			continue
		}
		l := &b.levels[d.Level]
		if l.deleted == nil {
			l.deleted = make(map[uint64]struct{})
		}
		l.deleted[d.Num] = struct{}{}
		delete(l.added, d.Num)
	}
	for _, nf := range edit.NewFiles {
		l := &b.levels[nf.Level]
		if l.added == nil {
			l.added = make(map[uint64]*FileMetadata)
		}
		l.added[nf.Meta.Num] = nf.Meta
		delete(l.deleted, nf.Meta.Num)
	}
	return nil
}

// Finish returns the Version that results from applying the edits to the
// base. Levels no edit touched share the base's slices. Every added file
// gets its AllowedSeeks initialized. The new Version has no references.
//
// Finish verifies what the edits could have broken: levels 1+ must stay
// sorted without overlaps, and no file number may be live in two levels.
// Violations return a *base.CorruptionError (a corrupt or foreign MANIFEST
// must not crash the engine) and no Version.
func (b *Builder) Finish() (*Version, error) {
	v := NewVersion(b.cmp)
	cmp := b.cmp.Compare
	var addedLevel map[uint64]int
	for level := range v.Levels {
		l := &b.levels[level]
		baseFiles := b.base.Levels[level]
		if len(l.added) == 0 && !deletesAny(l.deleted, baseFiles) {
			v.Levels[level] = baseFiles
			continue
		}
		added := make([]*FileMetadata, 0, len(l.added))
		for _, f := range l.added {
			added = append(added, f)
		}
		less := levelOrder(cmp, level)
		slices.SortFunc(added, less)

		files := make([]*FileMetadata, 0, len(baseFiles)+len(added))
		i := 0
		for _, f := range baseFiles {
			if _, gone := l.deleted[f.Num]; gone {
				continue
			}
			if _, replaced := l.added[f.Num]; replaced {
				continue
			}
			for i < len(added) && less(added[i], f) < 0 {
				files = append(files, added[i])
				i++
			}
			files = append(files, f)
		}
		files = append(files, added[i:]...)
		for j := 1; j < len(files); j++ {
			if err := checkOrder(cmp, level, files[j-1], files[j]); err != nil {
				return nil, err
			}
		}
		for _, f := range added {
			if addedLevel == nil {
				addedLevel = make(map[uint64]int)
			}
			addedLevel[f.Num] = level
		}
		v.Levels[level] = files
	}
	if len(addedLevel) > 0 {
		// New files usually carry numbers above every live one, so a range
		// test settles most files without a map lookup.
		minAdded, maxAdded := uint64(math.MaxUint64), uint64(0)
		for num := range addedLevel {
			minAdded, maxAdded = min(minAdded, num), max(maxAdded, num)
		}
		for level, files := range v.Levels {
			for _, f := range files {
				if f.Num < minAdded || f.Num > maxAdded {
					continue
				}
				if al, ok := addedLevel[f.Num]; ok && al != level {
					return nil, consistencyErrorf(al, "file %06d added while live in level %d", f.Num, level)
				}
			}
		}
	}
	for level := range b.levels {
		for _, f := range b.levels[level].added {
			f.InitAllowedSeeks()
		}
	}
	return v, nil
}

// deletesAny reports whether any file of files is in deleted.
func deletesAny(deleted map[uint64]struct{}, files []*FileMetadata) bool {
	if len(deleted) == 0 {
		return false
	}
	for _, f := range files {
		if _, ok := deleted[f.Num]; ok {
			return true
		}
	}
	return false
}

// levelOrder returns the order of files within level: file number for level
// 0, smallest key then file number for the others.
func levelOrder(ucmp func(a, b []byte) int, level int) func(a, b *FileMetadata) int {
	byNum := func(a, b *FileMetadata) int { return cmp.Compare(a.Num, b.Num) }
	if level == 0 {
		return byNum
	}
	return func(a, b *FileMetadata) int {
		if c := base.InternalCompare(ucmp, a.Smallest, b.Smallest); c != 0 {
			return c
		}
		return byNum(a, b)
	}
}
