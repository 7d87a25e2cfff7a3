package strata

import (
	"fmt"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/iterator"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/rangedel"
)

// Range deletions in the read paths. A memtable keeps its tombstones
// beside its entries, a table in its range-deletion block (see
// internal/sstable); get asks each source it visits, and an iterator gives
// the Merging iterator one view of tombstones per child (a memtable's, a
// level-0 table's, or a whole level's) to hide what they delete (see
// iterator.Merging.SetTombstones).

// setView is a fragmented set of tombstones as an iterator.Tombstones.
type setView = iterator.SetView

// levelTombs is the tombstones of a sorted level (1 and deeper) as an
// iterator.Tombstones: those of the table whose range holds the key. It
// keeps the last table's set, so a walk opens each table's once.
type levelTombs struct {
	d     *DB
	files []*manifest.FileMetadata
	cur   int // the index of the file whose tombstones set holds; -1: none
	set   *rangedel.Set
}

func (l *levelTombs) init(d *DB, files []*manifest.FileMetadata) {
	*l = levelTombs{d: d, files: files, cur: -1}
}

// Span implements iterator.Tombstones.
func (l *levelTombs) Span(ukey []byte, readSeq uint64) (uint64, []byte, []byte, error) {
	q, lo, hi, _, _, err := l.SpanGap(ukey, readSeq)
	return q, lo, hi, err
}

// SpanGap implements iterator.Tombstones: after a fragment of a table,
// the stretch its table's tombstones leave uncovered, up to the next
// table's start at most.
func (l *levelTombs) SpanGap(ukey []byte, readSeq uint64) (seq uint64, lo, hi, gapEnd []byte, gap bool, err error) {
	cmp := l.d.cmp.Compare
	files := l.files
	i, j := 0, len(files) // the first file that reaches ukey
	for i < j {
		h := int(uint(i+j) >> 1)
		if reachesKey(cmp, files[h], ukey) {
			j = h
		} else {
			i = h + 1
		}
	}
	// Between tables (or past the last), the range runs from the previous
	// table's largest user key: no tombstone of that table covers it (one
	// that did would end after it, and the table's largest key would be
	// that end), and none of this level covers what follows it. (Never
	// ukey itself: the caller's key changes under it.)
	var prevEnd []byte
	if i > 0 {
		prevEnd = files[i-1].LargestUserKey()
	}
	if i == len(files) {
		return 0, prevEnd, nil, nil, false, nil
	}
	f := files[i]
	lo = f.SmallestUserKey()
	if cmp(ukey, lo) < 0 {
		return 0, prevEnd, lo, nil, false, nil
	}
	var next []byte // where the next table starts: no tombstone of this level before it
	if i+1 < len(files) {
		next = files[i+1].SmallestUserKey()
	}
	if l.cur != i {
		set, err := l.d.tables.rangeDels(f)
		if err != nil {
			return 0, nil, nil, nil, false, err
		}
		l.cur, l.set = i, set
	}
	q, slo, shi, sgEnd, sgap := l.set.SpanGap(ukey, readSeq)
	if slo != nil && cmp(slo, lo) > 0 {
		lo = slo
	}
	hi = shi
	if hi == nil || next != nil && cmp(hi, next) > 0 {
		hi = next
	}
	if sgap && shi != nil && (next == nil || cmp(shi, next) < 0) {
		// After the fragment: uncovered up to the table's next fragment,
		// and past the table's end up to the next table.
		gap, gapEnd = true, sgEnd
		if next != nil && (gapEnd == nil || cmp(gapEnd, next) > 0) {
			gapEnd = next
		}
	}
	return q, lo, hi, gapEnd, gap, nil
}

// reachesKey reports whether table f's range reaches ukey: its largest key
// is after ukey, or is an entry of ukey (not a tombstone's end, which
// excludes its user key; see base.IsRangeDelSentinel).
func reachesKey(cmp func(a, b []byte) int, f *manifest.FileMetadata, ukey []byte) bool {
	c := cmp(f.LargestUserKey(), ukey)
	return c > 0 || c == 0 && !base.IsRangeDelSentinel(f.Largest)
}

// rangeDels returns table f's tombstones (nil when it has none): from its
// facts once a read has recorded them, without the table cache.
func (tc *tableCache) rangeDels(f *manifest.FileMetadata) (*rangedel.Set, error) {
	if facts := f.Facts(); facts != nil {
		return facts.RangeDels, nil
	}
	e, err := tc.acquire(f)
	if err != nil {
		return nil, err
	}
	defer e.release()
	return e.reader.RangeDels(), nil
}

// ensureExtended marks the database, before a batch that needs it is
// written, as one that holds range deletions (and, with merges, merge
// operands of Options.Merger, whose name it records): see
// manifest.ExtendedComparatorName. The marks are MANIFEST edits, made
// durable before the batch reaches the WAL, so that LevelDB never meets a
// record it would misread. Each is written once in a database's life.
func (d *DB) ensureExtended(merges bool) error {
	if d.extendedFlag.Load() && (!merges || d.mergerRecorded.Load()) {
		return nil
	}
	d.markMu.Lock()
	defer d.markMu.Unlock()
	d.mu.Lock()
	extended, merger := d.versions.extended, d.versions.merger
	d.mu.Unlock()
	var edits []*manifest.VersionEdit
	if !extended {
		edits = append(edits, &manifest.VersionEdit{HasComparator: true, Comparator: manifest.ExtendedComparatorName(d.cmp.Name)})
	}
	if merges && merger == "" {
		edits = append(edits, &manifest.VersionEdit{HasMerger: true, Merger: d.opts.Merger.Name})
	}
	for _, e := range edits {
		if err := d.versions.logAndApply(e, nil); err != nil {
			err = fmt.Errorf("strata: mark the database as using range deletions or merges: %w", err)
			d.mu.Lock()
			notify := d.setBGErrLocked("write", err)
			d.mu.Unlock()
			notify()
			return err
		}
	}
	d.extendedFlag.Store(true)
	if merges {
		d.mergerRecorded.Store(true)
	}
	return nil
}
