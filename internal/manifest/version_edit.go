package manifest

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/strata-db/strata/internal/base"
)

// Tags of the VersionEdit fields, numbered as in LevelDB's version_edit.cc.
// They are written to disk and must never change.
const (
	tagComparator     = 1
	tagLogNumber      = 2
	tagNextFileNumber = 3
	tagLastSequence   = 4
	tagCompactPointer = 5
	tagDeletedFile    = 6
	tagNewFile        = 7
	// Tag 8 was LevelDB's "large value reference"; no 1.x release writes it
	// and it decodes as an unknown tag, as in LevelDB.
	tagPrevLogNumber = 9
	// tagMerger is Strata's own: the name of the merge operator whose
	// operands the database holds. It appears only in a database marked
	// as extended (see ExtendedComparatorName), and only in records after
	// the first that carries the marked name, so that LevelDB, which does
	// not know it, stops at the comparator instead (see Create).
	tagMerger = 0x5301
)

// extendedSuffix marks a comparator name recorded in the MANIFEST of a
// database that holds range deletions or merge operands.
const extendedSuffix = " (strata.v2: range deletions or merge operands, which LevelDB cannot read)"

// ExtendedComparatorName returns the comparator name a MANIFEST records for
// a database that has used range deletions or merge operands: name with a
// marker appended. LevelDB and RocksDB compare the recorded name with their
// comparator's and refuse the database with an error that quotes it
// ("Invalid argument: leveldb.BytewiseComparator (strata.v2: range
// deletions or merge operands, which LevelDB cannot read) does not match
// existing comparator leveldb.BytewiseComparator") instead of misreading
// records they do not know. A database that never used them records name
// alone and stays readable by LevelDB.
func ExtendedComparatorName(name string) string { return name + extendedSuffix }

// SplitComparatorName undoes ExtendedComparatorName: the comparator's name
// and whether the database is marked as extended.
func SplitComparatorName(recorded string) (name string, extended bool) {
	if n, ok := strings.CutSuffix(recorded, extendedSuffix); ok {
		return n, true
	}
	return recorded, false
}

// CompactPointer records where the next size compaction of Level starts: the
// first file whose largest key sorts after Key. Key is an internal key.
type CompactPointer struct {
	Level int
	Key   []byte
}

// DeletedFileEntry names a file removed from a level.
type DeletedFileEntry struct {
	Level int
	Num   uint64
}

// NewFileEntry adds a file to a level.
type NewFileEntry struct {
	Level int
	Meta  *FileMetadata
}

// VersionEdit is one change to the tree: the payload of a MANIFEST record.
// Scalar fields are present only when their Has flag is set, so an absent
// field is distinguishable from a zero one. The first record of a MANIFEST
// is a snapshot: an edit that adds every live file to an empty Version.
//
// A VersionEdit is not safe for concurrent mutation.
type VersionEdit struct {
	// Comparator is the user comparator's name (base.Comparer.Name).
	Comparator    string
	HasComparator bool
	// LogNumber is the oldest write-ahead log still needed: logs with smaller
	// numbers are fully reflected in tables.
	LogNumber    uint64
	HasLogNumber bool
	// PrevLogNumber is LevelDB's legacy second log (always 0 in LevelDB 1.x).
	PrevLogNumber    uint64
	HasPrevLogNumber bool
	// NextFileNumber is the next unused file number.
	NextFileNumber    uint64
	HasNextFileNumber bool
	// LastSequence is the sequence number of the last write in a table.
	LastSequence    uint64
	HasLastSequence bool

	// CompactPointers are applied in order; a later pointer for a level
	// replaces an earlier one.
	CompactPointers []CompactPointer
	// DeletedFiles is a set; Encode writes it sorted by (level, number), as
	// LevelDB's std::set does.
	DeletedFiles map[DeletedFileEntry]bool
	// NewFiles are added in order. Within one edit every deletion is applied
	// before any addition (LevelDB's Builder::Apply).
	NewFiles []NewFileEntry

	// Merger is the name of the merge operator (Strata only; see
	// tagMerger).
	Merger    string
	HasMerger bool
}

// SetComparator sets Comparator and HasComparator.
func (e *VersionEdit) SetComparator(name string) { e.Comparator, e.HasComparator = name, true }

// SetLogNumber sets LogNumber and HasLogNumber.
func (e *VersionEdit) SetLogNumber(n uint64) { e.LogNumber, e.HasLogNumber = n, true }

// SetPrevLogNumber sets PrevLogNumber and HasPrevLogNumber.
func (e *VersionEdit) SetPrevLogNumber(n uint64) { e.PrevLogNumber, e.HasPrevLogNumber = n, true }

// SetNextFileNumber sets NextFileNumber and HasNextFileNumber.
func (e *VersionEdit) SetNextFileNumber(n uint64) { e.NextFileNumber, e.HasNextFileNumber = n, true }

// SetLastSequence sets LastSequence and HasLastSequence.
func (e *VersionEdit) SetLastSequence(s uint64) { e.LastSequence, e.HasLastSequence = s, true }

// AddFile appends a new-file entry. The edit keeps m; m's keys must not be
// modified afterwards.
func (e *VersionEdit) AddFile(level int, m *FileMetadata) {
	e.NewFiles = append(e.NewFiles, NewFileEntry{Level: level, Meta: m})
}

// DeleteFile records that file num leaves level.
func (e *VersionEdit) DeleteFile(level int, num uint64) {
	if e.DeletedFiles == nil {
		e.DeletedFiles = make(map[DeletedFileEntry]bool)
	}
	e.DeletedFiles[DeletedFileEntry{Level: level, Num: num}] = true
}

// Encode appends the edit's LevelDB encoding to dst and returns the extended
// slice. Fields are written in LevelDB's order: comparator, log number,
// previous log number, next file number, last sequence, compact pointers,
// deleted files (sorted by level, then number), new files. Every field is a
// varint32 tag followed by its payload:
//
//	+-----+--------------------+----------------------------------------------+
//	| tag | field              | payload                                      |
//	+-----+--------------------+----------------------------------------------+
//	|  1  | comparator         | varint32 len | name bytes                    |
//	|  2  | log number         | varint64                                     |
//	|  9  | prev log number    | varint64                                     |
//	|  3  | next file number   | varint64                                     |
//	|  4  | last sequence      | varint64                                     |
//	|  5  | compact pointer    | varint32 level | varint32 len | internal key |
//	|  6  | deleted file       | varint32 level | varint64 file number        |
//	|  7  | new file           | varint32 level | varint64 file number |      |
//	|     |                    | varint64 file size |                         |
//	|     |                    | varint32 len | smallest internal key |       |
//	|     |                    | varint32 len | largest internal key         |
//	|0x5301| merge operator    | varint32 len | name bytes (Strata only)      |
//	+-----+--------------------+----------------------------------------------+
//
// There is no count, length or terminator: the edit ends where the record
// ends. Encode does not validate the edit (Builder.Apply does); every
// NewFiles entry must have a non-nil Meta.
func (e *VersionEdit) Encode(dst []byte) []byte {
	if e.HasComparator {
		dst = binary.AppendUvarint(dst, tagComparator)
		dst = appendLengthPrefixed(dst, e.Comparator)
	}
	if e.HasLogNumber {
		dst = binary.AppendUvarint(dst, tagLogNumber)
		dst = binary.AppendUvarint(dst, e.LogNumber)
	}
	if e.HasPrevLogNumber {
		dst = binary.AppendUvarint(dst, tagPrevLogNumber)
		dst = binary.AppendUvarint(dst, e.PrevLogNumber)
	}
	if e.HasNextFileNumber {
		dst = binary.AppendUvarint(dst, tagNextFileNumber)
		dst = binary.AppendUvarint(dst, e.NextFileNumber)
	}
	if e.HasLastSequence {
		dst = binary.AppendUvarint(dst, tagLastSequence)
		dst = binary.AppendUvarint(dst, e.LastSequence)
	}
	for _, cp := range e.CompactPointers {
		dst = binary.AppendUvarint(dst, tagCompactPointer)
		dst = binary.AppendUvarint(dst, uint64(uint32(cp.Level)))
		dst = appendLengthPrefixed(dst, cp.Key)
	}
	if len(e.DeletedFiles) > 0 {
		var stack [16]DeletedFileEntry
		del := stack[:0]
		for d, ok := range e.DeletedFiles {
			if ok {
				del = append(del, d)
			}
		}
		slices.SortFunc(del, compareDeleted)
		for _, d := range del {
			dst = binary.AppendUvarint(dst, tagDeletedFile)
			dst = binary.AppendUvarint(dst, uint64(uint32(d.Level)))
			dst = binary.AppendUvarint(dst, d.Num)
		}
	}
	for _, nf := range e.NewFiles {
		dst = binary.AppendUvarint(dst, tagNewFile)
		dst = binary.AppendUvarint(dst, uint64(uint32(nf.Level)))
		dst = binary.AppendUvarint(dst, nf.Meta.Num)
		dst = binary.AppendUvarint(dst, nf.Meta.Size)
		dst = appendLengthPrefixed(dst, nf.Meta.Smallest)
		dst = appendLengthPrefixed(dst, nf.Meta.Largest)
	}
	if e.HasMerger {
		dst = binary.AppendUvarint(dst, tagMerger)
		dst = appendLengthPrefixed(dst, e.Merger)
	}
	return dst
}

func compareDeleted(a, b DeletedFileEntry) int {
	if a.Level != b.Level {
		return a.Level - b.Level
	}
	return cmp.Compare(a.Num, b.Num)
}

func appendLengthPrefixed[T string | []byte](dst []byte, s T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Decode replaces the edit's contents with the edit encoded in b (one
// MANIFEST record's payload). It is DecodeAt(b, -1).
func (e *VersionEdit) Decode(b []byte) error { return e.DecodeAt(b, -1) }

// DecodeAt replaces the edit's contents with the edit encoded in b.
// recordOffset is the file offset of the log record that held b (as the log
// reader reports it), or -1; it becomes the Offset of a returned
// *base.CorruptionError. The byte position inside the edit is in the error
// message, because a record fragmented across log blocks is not contiguous in
// the file. File is left empty for the caller to fill with base.WithFile.
//
// An unknown tag, a truncated or over-long field, a level >= NumLevels and an
// internal key that is too short or has an unknown kind are corruption; the
// message names the field (LevelDB's wording: "comparator name", "new-file
// entry", ...). Decoded keys and names are copies: b may be reused
// afterwards. On error the edit holds the fields decoded before the bad one.
func (e *VersionEdit) DecodeAt(b []byte, recordOffset int64) error {
	*e = VersionEdit{}
	d := editDecoder{b: b, recordOffset: recordOffset}
	for d.pos < len(b) {
		d.fieldStart = d.pos
		tag, ok := d.uvarint32()
		if !ok {
			return d.errorf("tag", "truncated or over-long varint")
		}
		switch tag {
		case tagComparator:
			s, ok := d.lengthPrefixed()
			if !ok {
				return d.errorf("comparator name", "truncated")
			}
			e.SetComparator(string(s))
		case tagLogNumber, tagPrevLogNumber, tagNextFileNumber, tagLastSequence:
			f := numberFields[tag]
			v, err := d.number(f.name)
			if err != nil {
				return err
			}
			f.set(e, v)
		case tagCompactPointer:
			const field = "compaction pointer"
			level, err := d.level(field)
			if err != nil {
				return err
			}
			key, err := d.internalKey(field, "key")
			if err != nil {
				return err
			}
			e.CompactPointers = append(e.CompactPointers, CompactPointer{Level: level, Key: slices.Clone(key)})
		case tagDeletedFile:
			const field = "deleted file"
			level, err := d.level(field)
			if err != nil {
				return err
			}
			num, ok := d.uvarint64()
			if !ok {
				return d.errorf(field, "truncated file number")
			}
			e.DeleteFile(level, num)
		case tagNewFile:
			const field = "new-file entry"
			level, err := d.level(field)
			if err != nil {
				return err
			}
			num, ok := d.uvarint64()
			if !ok {
				return d.errorf(field, "truncated file number")
			}
			size, ok := d.uvarint64()
			if !ok {
				return d.errorf(field, "truncated file size")
			}
			smallest, err := d.internalKey(field, "smallest key")
			if err != nil {
				return err
			}
			largest, err := d.internalKey(field, "largest key")
			if err != nil {
				return err
			}
			// One allocation holds both keys; the three-index slices keep
			// an append to Smallest from overwriting Largest.
			keys := make([]byte, len(smallest)+len(largest))
			n := copy(keys, smallest)
			copy(keys[n:], largest)
			m := &FileMetadata{Num: num, Size: size, Smallest: keys[:n:n], Largest: keys[n:]}
			e.NewFiles = append(e.NewFiles, NewFileEntry{Level: level, Meta: m})
		case tagMerger:
			s, ok := d.lengthPrefixed()
			if !ok {
				return d.errorf("merge operator name", "truncated")
			}
			e.Merger, e.HasMerger = string(s), true
		default:
			return d.errorf("tag", "unknown tag %d", tag)
		}
	}
	return nil
}

// editDecoder walks an encoded edit; pos is the next byte to read and
// fieldStart the first byte of the field being decoded (for messages).
type editDecoder struct {
	b            []byte
	pos          int
	fieldStart   int
	recordOffset int64
}

func (d *editDecoder) errorf(field, format string, args ...any) error {
	return base.CorruptionErrorf("", d.recordOffset, "version edit: %s at byte %d of %d: %s",
		field, d.fieldStart, len(d.b), fmt.Sprintf(format, args...))
}

// uvarint32 reads a varint32 as LevelDB's GetVarint32 does, except that a
// fifth byte carrying bits beyond 32 is rejected rather than truncated.
func (d *editDecoder) uvarint32() (uint32, bool) {
	v, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 || n > binary.MaxVarintLen32 || v > math.MaxUint32 {
		return 0, false
	}
	d.pos += n
	return uint32(v), true
}

func (d *editDecoder) uvarint64() (uint64, bool) {
	v, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		return 0, false
	}
	d.pos += n
	return v, true
}

// lengthPrefixed returns a slice of d.b (not a copy).
// numberFields are the edit's number fields by tag: LevelDB's name for each
// (in error messages) and its setter.
var numberFields = map[uint32]struct {
	name string
	set  func(*VersionEdit, uint64)
}{
	tagLogNumber:      {"log number", (*VersionEdit).SetLogNumber},
	tagPrevLogNumber:  {"previous log number", (*VersionEdit).SetPrevLogNumber},
	tagNextFileNumber: {"next file number", (*VersionEdit).SetNextFileNumber},
	tagLastSequence:   {"last sequence number", (*VersionEdit).SetLastSequence},
}

// number reads a uvarint64 field named field.
func (d *editDecoder) number(field string) (uint64, error) {
	v, ok := d.uvarint64()
	if !ok {
		return 0, d.errorf(field, "truncated or over-long varint")
	}
	return v, nil
}

func (d *editDecoder) lengthPrefixed() ([]byte, bool) {
	n, ok := d.uvarint32()
	if !ok || uint64(n) > uint64(len(d.b)-d.pos) {
		return nil, false
	}
	s := d.b[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s, true
}

func (d *editDecoder) level(field string) (int, error) {
	l, ok := d.uvarint32()
	if !ok {
		return 0, d.errorf(field, "truncated level")
	}
	if l >= NumLevels {
		return 0, d.errorf(field, "level %d >= %d", l, NumLevels)
	}
	return int(l), nil
}

func (d *editDecoder) internalKey(field, what string) ([]byte, error) {
	k, ok := d.lengthPrefixed()
	if !ok {
		return nil, d.errorf(field, "truncated %s", what)
	}
	if !base.ValidInternalKey(k) {
		return nil, d.errorf(field, "bad internal %s %q", what, k)
	}
	return k, nil
}

// String renders the edit for humans, one field per line, in encoding order
// (LevelDB's VersionEdit::DebugString with Strata's key formatting).
func (e *VersionEdit) String() string {
	var sb strings.Builder
	sb.WriteString("VersionEdit {\n")
	if e.HasComparator {
		fmt.Fprintf(&sb, "  Comparator: %s\n", e.Comparator)
	}
	if e.HasLogNumber {
		fmt.Fprintf(&sb, "  LogNumber: %d\n", e.LogNumber)
	}
	if e.HasPrevLogNumber {
		fmt.Fprintf(&sb, "  PrevLogNumber: %d\n", e.PrevLogNumber)
	}
	if e.HasNextFileNumber {
		fmt.Fprintf(&sb, "  NextFile: %d\n", e.NextFileNumber)
	}
	if e.HasLastSequence {
		fmt.Fprintf(&sb, "  LastSeq: %d\n", e.LastSequence)
	}
	for _, cp := range e.CompactPointers {
		fmt.Fprintf(&sb, "  CompactPointer: L%d %s\n", cp.Level, base.FormatInternalKey(cp.Key))
	}
	del := make([]DeletedFileEntry, 0, len(e.DeletedFiles))
	for d, ok := range e.DeletedFiles {
		if ok {
			del = append(del, d)
		}
	}
	slices.SortFunc(del, compareDeleted)
	for _, d := range del {
		fmt.Fprintf(&sb, "  DeleteFile: L%d %06d\n", d.Level, d.Num)
	}
	for _, nf := range e.NewFiles {
		if nf.Meta == nil {
			fmt.Fprintf(&sb, "  AddFile: L%d <nil>\n", nf.Level)
			continue
		}
		fmt.Fprintf(&sb, "  AddFile: L%d %s\n", nf.Level, nf.Meta)
	}
	if e.HasMerger {
		fmt.Fprintf(&sb, "  Merger: %s\n", e.Merger)
	}
	sb.WriteString("}\n")
	return sb.String()
}
