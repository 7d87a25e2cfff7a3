package inspect

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/sstable"
)

// Finding is one problem found in a database file: the file's name in the
// database directory, the byte offset (-1 when the problem is not at one
// place) and what is wrong.
type Finding struct {
	File   string
	Offset int64
	Msg    string
}

// String renders "FILE at offset N: what" (or "FILE: what").
func (f Finding) String() string {
	if f.Offset < 0 {
		return fmt.Sprintf("%s: %s", f.File, f.Msg)
	}
	return fmt.Sprintf("%s at offset %d: %s", f.File, f.Offset, f.Msg)
}

// findingFrom turns an error into a Finding, taking file and offset from a
// *base.CorruptionError when there is one.
func findingFrom(err error, file string) Finding {
	var ce *base.CorruptionError
	if errors.As(err, &ce) {
		f := Finding{File: file, Offset: ce.Offset, Msg: ce.Msg}
		if ce.File != "" {
			f.File = filepath.Base(ce.File)
		}
		return f
	}
	return Finding{File: file, Offset: -1, Msg: err.Error()}
}

// CheckReport is the result of Check.
type CheckReport struct {
	Dir      string
	Manifest string // the MANIFEST CURRENT names ("" if unreadable)
	// What was checked.
	Tables, Logs  int
	TableBytes    uint64
	ManifestEdits int
	LogBatches    int
	LogOps        int64
	// Extended and Merger are what the MANIFEST records: the database has
	// used range deletions or merges (C++ LevelDB refuses it), and the
	// merge operator's name ("" if none).
	Extended bool
	Merger   string
	// RangeDelTables counts the tables with a range-deletion block, and
	// RangeTombstones the entries of those blocks (fragments, one per
	// sequence); LogRangeDels and LogMerges count the range deletions and
	// merge operands of the logs.
	RangeDelTables  int
	RangeTombstones int
	LogRangeDels    int64
	LogMerges       int64
	// Findings lists every problem, in the order found: CURRENT, the
	// MANIFEST, the tables (level by level), the logs.
	Findings []Finding
}

// OK reports whether nothing is wrong.
func (r *CheckReport) OK() bool { return len(r.Findings) == 0 }

// Check verifies the database in dir without opening it (and without
// writing anything or taking its lock): CURRENT must name an existing
// MANIFEST; every MANIFEST record must be intact and decode, and the edits
// must build a consistent tree; every live table must exist with the size
// the MANIFEST gives, pass sstable's full check (every block checksum, the
// structure, strictly increasing keys, index and filter agreement, a
// range-deletion block of ordered, non-overlapping fragments) and hold
// exactly the key range the MANIFEST records, its range tombstones
// included; a table holding range deletions, or a log holding them or
// merge operands, needs a MANIFEST that marks the database as using them;
// every live write-ahead log
// must consist of intact records that are well-formed batches with
// increasing sequence numbers, without a torn end. Each problem becomes a
// Finding; the error is for a directory that holds no database or cannot
// be read.
func Check(dir string) (*CheckReport, error) {
	rep := &CheckReport{Dir: dir}
	l, findings, err := loadLSM(dir)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, findings...)
	if l == nil {
		return rep, nil
	}
	rep.Manifest = l.Manifest
	rep.ManifestEdits = l.ManifestEdits
	rep.Extended, rep.Merger = l.Extended, l.Merger
	// unmarked reports a file holding what LevelDB cannot read in a
	// database whose MANIFEST does not say so.
	unmarked := func(file, what string) {
		if !l.Extended {
			rep.Findings = append(rep.Findings, Finding{File: file, Offset: -1,
				Msg: what + ", but the MANIFEST does not mark the database as using them (C++ LevelDB would misread it)"})
		}
	}
	for level, files := range l.Levels {
		for _, t := range files {
			rep.Tables++
			rep.TableBytes += t.Size
			n, f := checkTable(dir, level, t)
			if n > 0 {
				rep.RangeDelTables++
				rep.RangeTombstones += n
				unmarked(filepath.Base(TablePath(dir, t.Num)), "table holds range deletions")
			}
			if f != nil {
				rep.Findings = append(rep.Findings, *f)
			}
		}
	}
	for _, lf := range l.Logs {
		rep.Logs++
		path := base.MakeFilepath(dir, base.FileTypeLog, lf.Num)
		var rangeDels, merges int64
		fs, err := ReadWAL(path, func(b *Batch) error {
			rep.LogBatches++
			rep.LogOps += int64(b.Count)
			for _, op := range b.Ops {
				switch op.Kind {
				case base.KindRangeDelete.String():
					rangeDels++
				case base.KindMerge.String():
					merges++
				}
			}
			return nil
		})
		rep.Findings = append(rep.Findings, fs...)
		if err != nil {
			rep.Findings = append(rep.Findings, Finding{File: filepath.Base(path), Offset: -1, Msg: err.Error()})
		}
		if rangeDels+merges > 0 {
			unmarked(filepath.Base(path), fmt.Sprintf("log holds %d range deletions and %d merge operands", rangeDels, merges))
		}
		rep.LogRangeDels += rangeDels
		rep.LogMerges += merges
	}
	return rep, nil
}

// TablePath returns the path of table num in dir: NNNNNN.ldb, or the legacy
// NNNNNN.sst when only that exists.
func TablePath(dir string, num uint64) string {
	p := base.MakeFilepath(dir, base.FileTypeTable, num)
	if _, err := os.Stat(p); err != nil {
		legacy := filepath.Join(dir, base.LegacyTableFilename(num))
		if _, err2 := os.Stat(legacy); err2 == nil {
			return legacy
		}
	}
	return p
}

// checkTable checks table t of level (see Check) and returns how many
// range tombstones (entries of its range-deletion block) it holds and the
// first problem, if any.
func checkTable(dir string, level int, t TableMeta) (int, *Finding) {
	path := TablePath(dir, t.Num)
	name := filepath.Base(path)
	fi, err := os.Stat(path)
	if err != nil {
		return 0, &Finding{File: name, Offset: -1, Msg: fmt.Sprintf("table of level %d listed in the MANIFEST is missing: %v", level, err)}
	}
	if uint64(fi.Size()) != t.Size {
		return 0, &Finding{File: name, Offset: -1, Msg: fmt.Sprintf("size %d bytes, but the MANIFEST says %d", fi.Size(), t.Size)}
	}
	r, f, err := openTable(path)
	if err != nil {
		fd := findingFrom(err, name)
		return 0, &fd
	}
	defer f.Close()
	defer r.Close()
	if err := r.Check(); err != nil {
		fd := findingFrom(err, name)
		return 0, &fd
	}
	tombs := r.RangeDels().Tombstones()
	// The MANIFEST's key range must be the table's: its entries' widened
	// to its range tombstones (sstable.WidenBounds).
	it := r.NewIter()
	defer it.Close()
	var first, last []byte
	if it.First() {
		first = bytes.Clone(it.Key())
		if it.Last() {
			last = bytes.Clone(it.Key())
		}
	}
	if err := it.Error(); err != nil {
		fd := findingFrom(err, name)
		return len(tombs), &fd
	}
	first, last = sstable.WidenBounds(base.DefaultComparer, first, last, tombs)
	rangeErr := func(what string, got []byte, want InternalKey) *Finding {
		return &Finding{File: name, Offset: -1, Msg: fmt.Sprintf("%s key %s differs from the MANIFEST's %s",
			what, ParseInternalKey(got).Format(nil), want.Format(nil))}
	}
	switch {
	case first == nil:
		return 0, &Finding{File: name, Offset: -1, Msg: "table is empty, but the MANIFEST lists a key range"}
	case !bytes.Equal(first, t.Smallest.encode()):
		return len(tombs), rangeErr("first", first, t.Smallest)
	case !bytes.Equal(last, t.Largest.encode()):
		return len(tombs), rangeErr("last", last, t.Largest)
	}
	return len(tombs), nil
}
