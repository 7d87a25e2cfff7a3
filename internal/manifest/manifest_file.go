package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/record"
	"github.com/strata-db/strata/internal/vfs"
)

// The MANIFEST and CURRENT files: the only I/O this package does.
//
// A MANIFEST (MANIFEST-NNNNNN) is a file in the log format of package
// record (32 KiB blocks of checksummed chunks) whose records are encoded
// VersionEdits. The first record of a MANIFEST written by Strata is a
// snapshot of the whole tree (comparator, compact pointers, every table);
// each later record is one edit. Replaying the records in order rebuilds
// the tree. LevelDB 1.23 writes and reads the same files.
//
// CURRENT names the MANIFEST in use:
//
//	offset 0   "MANIFEST-" followed by the decimal file number (at least
//	           one digit; LevelDB writes six, zero-padded)
//	then       "\n", the last byte of the file
//
// It is replaced atomically: written to NNNNNN.dbtmp, synced, renamed over
// CURRENT, and the directory synced.

// ReadCurrent returns the MANIFEST file name that CURRENT in dir holds.
// Content that is not exactly "MANIFEST-<digits>\n" is a
// *base.CorruptionError at the offending byte; a missing CURRENT is the
// file system's error (errors.Is(err, fs.ErrNotExist)).
func ReadCurrent(fs vfs.FS, dir string) (string, error) {
	path := base.MakeFilepath(dir, base.FileTypeCurrent, 0)
	f, err := fs.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// A CURRENT is a few dozen bytes; reading a little more than the
	// longest name lets the check below report what follows.
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	bad := func(off int, format string, args ...any) (string, error) {
		return "", base.CorruptionErrorf(path, int64(off), format, args...)
	}
	const prefix = "MANIFEST-"
	for i := 0; i < len(prefix); i++ {
		if i >= len(b) || b[i] != prefix[i] {
			return bad(min(i, len(b)), "CURRENT does not name a MANIFEST (content %q)", b)
		}
	}
	i := len(prefix)
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	switch {
	case i == len(prefix):
		return bad(i, "CURRENT has no MANIFEST number (content %q)", b)
	case i == len(b):
		return bad(i, "CURRENT does not end with a newline (content %q)", b)
	case b[i] != '\n':
		return bad(i, "unexpected byte %#02x after the MANIFEST name in CURRENT (content %q)", b[i], b)
	case i+1 != len(b):
		return bad(i+1, "%d unexpected bytes after the newline in CURRENT", len(b)-i-1)
	}
	if _, _, ok := base.ParseFilename(string(b[:i])); !ok {
		return bad(len(prefix), "CURRENT names %q, whose number is out of range", b[:i])
	}
	return string(b[:i]), nil
}

// SetCurrent points CURRENT in dir at MANIFEST-num: the new content is
// written to a temporary file, synced, renamed over CURRENT, and the
// directory synced. On failure the temporary file is removed; CURRENT may
// then name either MANIFEST (the rename is atomic).
func SetCurrent(fs vfs.FS, dir string, num uint64) error {
	tmp := base.MakeFilepath(dir, base.FileTypeTemp, num)
	contents := base.MakeFilename(base.FileTypeManifest, num) + "\n"
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("write CURRENT: %w", err)
	}
	_, err = io.WriteString(f, contents)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, base.MakeFilepath(dir, base.FileTypeCurrent, 0))
	}
	if err == nil {
		err = vfs.SyncDir(fs, dir)
	}
	if err != nil {
		fs.Remove(tmp)
		return fmt.Errorf("write CURRENT: %w", err)
	}
	return nil
}

// Writer appends edits to a MANIFEST file. Not safe for concurrent use.
type Writer struct {
	f    vfs.File
	w    *record.Writer
	path string
}

// Create creates MANIFEST-num in dir and writes first as its first record
// (not yet synced: Sync does that). On failure nothing is left behind.
func Create(fs vfs.FS, dir string, num uint64, first *VersionEdit) (*Writer, error) {
	path := base.MakeFilepath(dir, base.FileTypeManifest, num)
	f, err := fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w := &Writer{f: f, w: record.NewWriter(f), path: path}
	// Strata-only fields go in a record of their own after the snapshot, so
	// that LevelDB meets the marked comparator name (ExtendedComparatorName)
	// before a tag it does not know, and says so.
	rest := (*VersionEdit)(nil)
	if first.HasMerger {
		head := *first
		head.Merger, head.HasMerger = "", false
		rest = &VersionEdit{Merger: first.Merger, HasMerger: true}
		first = &head
	}
	err = w.Append(first)
	if err == nil && rest != nil {
		err = w.Append(rest)
	}
	if err != nil {
		f.Close()
		fs.Remove(path)
		return nil, err
	}
	return w, nil
}

// Append writes e as the next record.
func (w *Writer) Append(e *VersionEdit) error {
	if _, err := w.w.WriteRecord(e.Encode(nil)); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return nil
}

// Sync makes every record written so far durable.
func (w *Writer) Sync() error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", w.path, err)
	}
	return nil
}

// Size is the number of bytes written, framing included.
func (w *Writer) Size() int64 { return w.w.Size() }

// Close closes the file (without syncing it).
func (w *Writer) Close() error { return w.f.Close() }

// CreateCurrent writes MANIFEST-num holding the single edit e, syncs it and
// points CURRENT at it: how a database is created, and how Repair installs
// the tree it rebuilt. A MANIFEST that could not be written and synced is
// removed. Once SetCurrent has begun, CURRENT may name the new MANIFEST even
// if it fails (say, syncing the directory after the rename), so the
// MANIFEST then stays: unused, it is harmless and swept later.
func CreateCurrent(fs vfs.FS, dir string, num uint64, e *VersionEdit) error {
	w, err := Create(fs, dir, num, e)
	if err != nil {
		return err
	}
	err = w.Sync()
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fs.Remove(w.path)
		return err
	}
	return SetCurrent(fs, dir, num)
}

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Comparer is the comparator the tree is built with. A MANIFEST that
	// names another comparator is refused (a *ComparatorError).
	Comparer *base.Comparer
	// OnEdit, if set, is called with each edit applied and the file offset
	// of its record, in order. An error from it ends the replay with that
	// error.
	OnEdit func(e *VersionEdit, offset int64) error
	// OnDamage, if set, makes the replay go on past damage: each record
	// that cannot be read, decoded or applied is passed to it (a
	// *base.CorruptionError with the file and offset) and skipped. This is
	// for tools that list every problem; recovery leaves it nil, and the
	// first damaged record then ends the replay with its error. A torn last
	// record is not damage here: it is reported in State.
	OnDamage func(err error)
}

// State is the tree and the bookkeeping a replayed MANIFEST describes.
type State struct {
	// Path is the MANIFEST's path, Num its file number.
	Path string
	Num  uint64
	// Version is the tree, with no reference taken.
	Version *Version
	// Comparator is the comparator name the MANIFEST records ("" if none),
	// with the extended marker if it has one (see ExtendedComparatorName).
	Comparator string
	// Extended: the database is marked as holding range deletions or merge
	// operands. Merger is the merge operator's name it records ("" if none).
	Extended bool
	Merger   string
	// The last value of each field any edit set; the Has flags say whether
	// one did (see Missing).
	LogNumber, PrevLogNumber, NextFileNumber, LastSequence uint64
	HasLogNumber, HasNextFileNumber, HasLastSequence       bool
	// CompactPointers holds each level's compact pointer (nil: none).
	CompactPointers [NumLevels][]byte
	// Edits counts the records applied.
	Edits int
	// Named holds the number of every table an applied edit added (live or
	// deleted since): the tables this MANIFEST knows. A table file in the
	// directory that it does not name was never recorded as part of the
	// tree.
	Named map[uint64]struct{}
	// End is where the intact records end: the start of a torn tail, or
	// the file's size.
	End int64
	// Torn: the MANIFEST ends in an incomplete record of TornBytes bytes
	// at End, which replay ignored: what a crash during an edit leaves
	// (that edit was never acknowledged). TornByChecksum: the tail is a
	// complete chunk whose checksum fails, which a crash does not leave.
	Torn           bool
	TornBytes      int64
	TornByChecksum bool
}

// Missing names the fields a usable MANIFEST must set but this one never
// did: "next-file-number", "log-number", "last-sequence".
func (s *State) Missing() []string {
	var m []string
	for _, f := range []struct {
		ok   bool
		name string
	}{{s.HasNextFileNumber, "next-file-number"}, {s.HasLogNumber, "log-number"}, {s.HasLastSequence, "last-sequence"}} {
		if !f.ok {
			m = append(m, f.name)
		}
	}
	return m
}

// ComparatorError is returned by Replay when the MANIFEST was written with
// another comparator than the one asked for.
type ComparatorError struct {
	File       string
	Database   string // the comparator the MANIFEST names
	Configured string // the one replay was asked to use
}

// Error names both comparators.
func (e *ComparatorError) Error() string {
	return fmt.Sprintf("%s: the database uses comparator %q, not %q", e.File, e.Database, e.Configured)
}

// Replay reads CURRENT in dir and replays the MANIFEST it names: the one
// reading of a MANIFEST, used by Open, CatchUp, Repair's checks and the
// inspection tools alike. A CURRENT that names a MANIFEST that does not
// exist is a *base.CorruptionError on CURRENT.
func Replay(fs vfs.FS, dir string, o ReplayOptions) (*State, error) {
	name, err := ReadCurrent(fs, dir)
	if err != nil {
		return nil, err
	}
	path := fs.PathJoin(dir, name)
	s, err := ReplayFile(fs, path, o)
	if errors.Is(err, iofs.ErrNotExist) {
		if _, serr := fs.Stat(path); errors.Is(serr, iofs.ErrNotExist) {
			return nil, base.CorruptionErrorf(base.MakeFilepath(dir, base.FileTypeCurrent, 0), 0,
				"CURRENT names %s, which does not exist", name)
		}
	}
	return s, err
}

// ReplayFile replays the MANIFEST at path (see Replay).
func ReplayFile(fs vfs.FS, path string, o ReplayOptions) (*State, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmp := o.Comparer
	s := &State{Path: path, Named: map[uint64]struct{}{}}
	if t, num, ok := base.ParseFilename(baseName(path)); ok && t == base.FileTypeManifest {
		s.Num = num
	}
	var onDamage func(error) error
	if o.OnDamage != nil {
		onDamage = func(err error) error { o.OnDamage(err); return nil }
	}
	b := NewBuilder(cmp, NewVersion(cmp))
	r := record.NewReader(f, path)
	err = r.Each(onDamage, func(rec []byte, off int64) error {
		var e VersionEdit
		if err := e.DecodeAt(rec, off); err != nil {
			return base.WithFile(err, path)
		}
		if e.HasComparator {
			s.Comparator = e.Comparator
			name, extended := SplitComparatorName(e.Comparator)
			if name != cmp.Name {
				return &ComparatorError{File: path, Database: name, Configured: cmp.Name}
			}
			s.Extended = s.Extended || extended
		}
		if e.HasMerger {
			s.Merger = e.Merger
		}
		if err := b.Apply(&e); err != nil {
			return base.WithFileOffset(err, path, off)
		}
		if o.OnEdit != nil {
			if err := o.OnEdit(&e, off); err != nil {
				return err
			}
		}
		s.Edits++
		for _, nf := range e.NewFiles {
			s.Named[nf.Meta.Num] = struct{}{}
		}
		if e.HasLogNumber {
			s.HasLogNumber, s.LogNumber = true, e.LogNumber
		}
		if e.HasPrevLogNumber {
			s.PrevLogNumber = e.PrevLogNumber
		}
		if e.HasNextFileNumber {
			s.HasNextFileNumber, s.NextFileNumber = true, e.NextFileNumber
		}
		if e.HasLastSequence {
			s.HasLastSequence, s.LastSequence = true, e.LastSequence
		}
		for _, cp := range e.CompactPointers {
			s.CompactPointers[cp.Level] = bytes.Clone(cp.Key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.End, s.TornBytes, s.Torn = r.TornTail()
	s.TornByChecksum = r.TornByChecksum()
	if !s.Torn {
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", path, err)
		}
		s.End = fi.Size()
	}
	v, err := b.Finish()
	if err != nil {
		return nil, base.WithFileOffset(err, path, -1)
	}
	s.Version = v
	return s, nil
}

// baseName is the last element of a slash- or backslash-separated path.
func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' || path[i] == '\\' {
			return path[i+1:]
		}
	}
	return path
}
