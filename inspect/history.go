package inspect

import (
	"bytes"
	"cmp"
	"path/filepath"
	"slices"

	"github.com/strata-db/strata/internal/base"
)

// KeyVersion is one version of a key in a database's files: a write (SET),
// a merge operand (MERGE), a deletion (DEL) or a range deletion covering
// the key (RANGEDEL) with its sequence number, and where it is.
type KeyVersion struct {
	Seq  uint64
	Kind string // "SET", "MERGE", "DEL" or "RANGEDEL"
	// File is the table or log's name in the database directory; Level the
	// table's level, or -1 for a log.
	File  string
	Level int
	Value []byte // the value or operand; nil for DEL and RANGEDEL
	// RangeStart and RangeEnd bound a RANGEDEL's range, [RangeStart,
	// RangeEnd): the log record's, or in a table the fragment holding the
	// key (tables store tombstones cut where they overlap).
	RangeStart, RangeEnd []byte
}

// KeyHistory returns every version of the user key held by the live files
// of the database in dir, range deletions covering it included, newest
// (highest sequence) first: the tables the
// MANIFEST lists, and the write-ahead logs not yet flushed (what the
// memtables of a process that has the database open hold; writes made
// without the WAL are in no file until flushed). A version may appear
// twice, in a log and in the table it was flushed to, while the log is
// kept. Damaged records and blocks, and a damaged MANIFEST, are Findings;
// the versions in what was read are still returned. Like everything here
// it only reads, without the lock.
func KeyHistory(dir string, key []byte) ([]KeyVersion, []Finding, error) {
	l, findings, err := loadLSM(dir)
	if err != nil || l == nil {
		return nil, findings, err
	}
	var versions []KeyVersion
	for level, tables := range l.Levels {
		for _, t := range tables {
			if bytes.Compare(key, t.Smallest.UserKey) < 0 || bytes.Compare(key, t.Largest.UserKey) > 0 {
				continue
			}
			vs, bad := tableVersions(dir, level, t.Num, key)
			versions = append(versions, vs...)
			if bad != nil {
				findings = append(findings, *bad)
			}
		}
	}
	for _, lf := range l.Logs {
		path := base.MakeFilepath(dir, base.FileTypeLog, lf.Num)
		name := filepath.Base(path)
		fs, err := ReadWAL(path, func(b *Batch) error {
			for i, op := range b.Ops {
				v := KeyVersion{Seq: b.Seq + uint64(i), Kind: op.Kind, File: name, Level: -1}
				switch {
				case op.Kind == base.KindRangeDelete.String():
					if bytes.Compare(op.Key, key) > 0 || bytes.Compare(key, op.Value) >= 0 {
						continue
					}
					v.RangeStart, v.RangeEnd = bytes.Clone(op.Key), bytes.Clone(op.Value)
				case bytes.Equal(op.Key, key):
					v.Value = bytes.Clone(op.Value)
				default:
					continue
				}
				versions = append(versions, v)
			}
			return nil
		})
		findings = append(findings, fs...)
		if err != nil {
			findings = append(findings, Finding{File: name, Offset: -1, Msg: err.Error()})
		}
	}
	slices.SortStableFunc(versions, func(a, b KeyVersion) int { return cmp.Compare(b.Seq, a.Seq) })
	return versions, findings, nil
}

// tableVersions returns the versions of key in table num of level.
func tableVersions(dir string, level int, num uint64, key []byte) ([]KeyVersion, *Finding) {
	path := TablePath(dir, num)
	name := filepath.Base(path)
	r, f, err := openTable(path)
	if err != nil {
		fd := findingFrom(err, name)
		return nil, &fd
	}
	defer f.Close()
	defer r.Close()
	var versions []KeyVersion
	if _, frag := r.RangeDels().Covering(key, base.MaxSeq); frag != nil {
		for _, seq := range frag.Seqs {
			versions = append(versions, KeyVersion{Seq: seq, Kind: base.KindRangeDelete.String(), File: name, Level: level,
				RangeStart: bytes.Clone(frag.Start), RangeEnd: bytes.Clone(frag.End)})
		}
	}
	it := r.NewIter()
	for ok := it.SeekGE(base.MakeSearchKey(nil, key, base.MaxSeq)); ok; ok = it.Next() {
		k := ParseInternalKey(it.Key())
		if !k.Valid || !bytes.Equal(k.UserKey, key) {
			break
		}
		v := KeyVersion{Seq: k.Seq, Kind: k.Kind, File: name, Level: level}
		if k.Kind != base.KindDelete.String() {
			v.Value = bytes.Clone(it.Value())
		}
		versions = append(versions, v)
	}
	if err := it.Close(); err != nil {
		fd := findingFrom(err, name)
		return versions, &fd
	}
	return versions, nil
}
