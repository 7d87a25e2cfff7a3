package inspect

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/strata-db/strata/internal/base"
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
// structure, strictly increasing keys, index and filter agreement) and hold
// exactly the key range the MANIFEST records; every live write-ahead log
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
	for level, files := range l.Levels {
		for _, t := range files {
			rep.Tables++
			rep.TableBytes += t.Size
			if f := checkTable(dir, level, t); f != nil {
				rep.Findings = append(rep.Findings, *f)
			}
		}
	}
	for _, lf := range l.Logs {
		rep.Logs++
		path := base.MakeFilepath(dir, base.FileTypeLog, lf.Num)
		fs, err := ReadWAL(path, func(b *Batch) error {
			rep.LogBatches++
			rep.LogOps += int64(b.Count)
			return nil
		})
		rep.Findings = append(rep.Findings, fs...)
		if err != nil {
			rep.Findings = append(rep.Findings, Finding{File: filepath.Base(path), Offset: -1, Msg: err.Error()})
		}
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

func checkTable(dir string, level int, t TableMeta) *Finding {
	path := TablePath(dir, t.Num)
	name := filepath.Base(path)
	fi, err := os.Stat(path)
	if err != nil {
		return &Finding{File: name, Offset: -1, Msg: fmt.Sprintf("table of level %d listed in the MANIFEST is missing: %v", level, err)}
	}
	if uint64(fi.Size()) != t.Size {
		return &Finding{File: name, Offset: -1, Msg: fmt.Sprintf("size %d bytes, but the MANIFEST says %d", fi.Size(), t.Size)}
	}
	r, f, err := openTable(path)
	if err != nil {
		fd := findingFrom(err, name)
		return &fd
	}
	defer f.Close()
	defer r.Close()
	if err := r.Check(); err != nil {
		fd := findingFrom(err, name)
		return &fd
	}
	// The MANIFEST's key range must be the table's.
	it := r.NewIter()
	defer it.Close()
	rangeErr := func(what string, got []byte, want InternalKey) *Finding {
		return &Finding{File: name, Offset: -1, Msg: fmt.Sprintf("%s key %s differs from the MANIFEST's %s",
			what, ParseInternalKey(got).Format(nil), want.Format(nil))}
	}
	if !it.First() {
		if err := it.Error(); err != nil {
			fd := findingFrom(err, name)
			return &fd
		}
		return &Finding{File: name, Offset: -1, Msg: "table is empty, but the MANIFEST lists a key range"}
	}
	if !bytes.Equal(it.Key(), t.Smallest.encode()) {
		return rangeErr("first", it.Key(), t.Smallest)
	}
	if it.Last() && !bytes.Equal(it.Key(), t.Largest.encode()) {
		return rangeErr("last", it.Key(), t.Largest)
	}
	if err := it.Error(); err != nil {
		fd := findingFrom(err, name)
		return &fd
	}
	return nil
}
