package inspect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/record"
	"github.com/strata-db/strata/internal/vfs"
)

// FileRef names a table in a level.
type FileRef struct {
	Level int
	Num   uint64
}

// TableMeta is a table as the MANIFEST records it.
type TableMeta struct {
	Level             int
	Num, Size         uint64
	Smallest, Largest InternalKey
}

// CompactPointer is where the next size compaction of Level starts.
type CompactPointer struct {
	Level int
	Key   InternalKey
}

// Edit is one decoded MANIFEST record (a LevelDB VersionEdit). Optional
// scalar fields are nil when the record does not set them.
type Edit struct {
	// Offset is the file offset of the record's first chunk.
	Offset int64
	// Comparator is the comparator name recorded, marked (Extended) in a
	// database that has used range deletions or merges.
	Comparator *string
	// Extended: Comparator carries the mark that makes LevelDB refuse the
	// database (it holds range deletions or merge operands).
	Extended bool
	// Merger is the merge operator's name, a Strata-only record (tag
	// 0x5301) written at the database's first merge.
	Merger          *string
	LogNumber       *uint64
	PrevLogNumber   *uint64
	NextFileNumber  *uint64
	LastSequence    *uint64
	CompactPointers []CompactPointer
	Deleted         []FileRef
	Added           []TableMeta
}

func newEdit(e *manifest.VersionEdit, off int64) *Edit {
	out := &Edit{Offset: off}
	opt := func(has bool, v uint64) *uint64 {
		if !has {
			return nil
		}
		return &v
	}
	if e.HasComparator {
		c := e.Comparator
		out.Comparator = &c
		_, out.Extended = manifest.SplitComparatorName(c)
	}
	if e.HasMerger {
		m := e.Merger
		out.Merger = &m
	}
	out.LogNumber = opt(e.HasLogNumber, e.LogNumber)
	out.PrevLogNumber = opt(e.HasPrevLogNumber, e.PrevLogNumber)
	out.NextFileNumber = opt(e.HasNextFileNumber, e.NextFileNumber)
	out.LastSequence = opt(e.HasLastSequence, e.LastSequence)
	for _, cp := range e.CompactPointers {
		out.CompactPointers = append(out.CompactPointers, CompactPointer{Level: cp.Level, Key: ParseInternalKey(cp.Key)})
	}
	for d := range e.DeletedFiles {
		out.Deleted = append(out.Deleted, FileRef{Level: d.Level, Num: d.Num})
	}
	slices.SortFunc(out.Deleted, func(a, b FileRef) int {
		if a.Level != b.Level {
			return a.Level - b.Level
		}
		return int(min(max(int64(a.Num)-int64(b.Num), -1), 1))
	})
	for _, nf := range e.NewFiles {
		out.Added = append(out.Added, TableMeta{Level: nf.Level, Num: nf.Meta.Num, Size: nf.Meta.Size,
			Smallest: ParseInternalKey(nf.Meta.Smallest), Largest: ParseInternalKey(nf.Meta.Largest)})
	}
	return out
}

// WriteText writes the edit for people, one field per line.
func (e *Edit) WriteText(w io.Writer, kf KeyFormat) error {
	var b strings.Builder
	fmt.Fprintf(&b, "edit at offset %d\n", e.Offset)
	if e.Comparator != nil {
		fmt.Fprintf(&b, "  comparator      %s\n", *e.Comparator)
	}
	if e.Merger != nil {
		fmt.Fprintf(&b, "  merger          %s\n", *e.Merger)
	}
	for _, f := range []struct {
		name string
		v    *uint64
	}{{"log-number", e.LogNumber}, {"prev-log-number", e.PrevLogNumber}, {"next-file", e.NextFileNumber}, {"last-sequence", e.LastSequence}} {
		if f.v != nil {
			fmt.Fprintf(&b, "  %-15s %d\n", f.name, *f.v)
		}
	}
	for _, cp := range e.CompactPointers {
		fmt.Fprintf(&b, "  compact-pointer L%d %s\n", cp.Level, cp.Key.Format(kf))
	}
	for _, d := range e.Deleted {
		fmt.Fprintf(&b, "  delete          L%d %06d\n", d.Level, d.Num)
	}
	for _, a := range e.Added {
		fmt.Fprintf(&b, "  add             L%d %06d %d bytes [%s .. %s]\n", a.Level, a.Num, a.Size,
			a.Smallest.Format(kf), a.Largest.Format(kf))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ReadManifest decodes every record of the MANIFEST at path and calls fn
// with each edit in order. Damage does not stop it: each damaged or
// undecodable record, and a torn end, becomes a Finding, and reading goes
// on after it. The error is for failing to read the file at all, or one
// returned by fn.
func ReadManifest(path string, fn func(*Edit) error) ([]Finding, error) {
	name := filepath.Base(path)
	var st manifest.State // what the edits set, for the entries a MANIFEST must have
	findings, err := readLog(path, tornManifest, false,
		func(rec []byte, off int64) (*Finding, error) {
			var e manifest.VersionEdit
			if err := e.DecodeAt(rec, off); err != nil {
				f := findingFrom(base.WithFile(err, name), name)
				return &f, nil
			}
			st.HasNextFileNumber = st.HasNextFileNumber || e.HasNextFileNumber
			st.HasLogNumber = st.HasLogNumber || e.HasLogNumber
			st.HasLastSequence = st.HasLastSequence || e.HasLastSequence
			return nil, fn(newEdit(&e, off))
		})
	if err != nil {
		return findings, err
	}
	return append(findings, missingEntries(name, &st)...), nil
}

// tornManifest formats the finding of a MANIFEST's torn end.
const tornManifest = "MANIFEST ends with %d unreadable bytes (a torn or damaged last record)"

// missingEntries are the findings for the entries every MANIFEST must set
// and st lacks.
func missingEntries(name string, st *manifest.State) []Finding {
	var findings []Finding
	for _, m := range st.Missing() {
		findings = append(findings, Finding{File: name, Offset: -1, Msg: "no " + m + " entry"})
	}
	return findings
}

// readLog reads the records of a log-format file (a WAL or a MANIFEST) and
// passes each with its offset to fn. Damaged records and a torn end become
// Findings (tornMsg formats the torn byte count), except, with zeroTailOK,
// a tail of zeros only; so does a Finding fn returns, and reading goes on.
// An error from fn, or from reading the file, stops it.
func readLog(path, tornMsg string, zeroTailOK bool, fn func(rec []byte, off int64) (*Finding, error)) ([]Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	var findings []Finding
	r := record.NewReader(f, name)
	err = r.Each(func(err error) error {
		findings = append(findings, findingFrom(err, name))
		return nil
	}, func(rec []byte, off int64) error {
		bad, err := fn(rec, off)
		if bad != nil {
			findings = append(findings, *bad)
		}
		return err
	})
	if err != nil {
		return findings, err
	}
	if off, n, torn := r.TornTail(); torn {
		zeros := false
		if zeroTailOK {
			if zeros, err = allZeros(f, off, n); err != nil {
				return findings, err
			}
		}
		if !zeros {
			findings = append(findings, Finding{File: name, Offset: off, Msg: fmt.Sprintf(tornMsg, n)})
		}
	}
	return findings, nil
}

// allZeros reports whether the n bytes of f at off are all zero.
func allZeros(f *os.File, off, n int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for n > 0 {
		m, err := f.ReadAt(buf[:min(n, int64(len(buf)))], off)
		for _, c := range buf[:m] {
			if c != 0 {
				return false, nil
			}
		}
		if err != nil && m == 0 {
			return false, err
		}
		off, n = off+int64(m), n-int64(m)
	}
	return true, nil
}

// ReadCurrent reads the CURRENT file of the database in dir and returns
// the MANIFEST name it holds. Anything wrong with it is a Finding at the
// offending byte.
func ReadCurrent(dir string) (string, *Finding, error) {
	name, err := manifest.ReadCurrent(vfs.Default, dir)
	if errors.Is(err, base.ErrCorruption) {
		f := findingFrom(err, "CURRENT")
		return "", &f, nil
	}
	return name, nil, err
}

// History is what the MANIFEST's edits after its first record tell about
// the work done since it was started (a new MANIFEST is begun on every open
// that writes): tables written by flushes and by compactions.
type History struct {
	// Edits counts the records after the first (the first is a snapshot of
	// the tree when the MANIFEST was started).
	Edits int `json:"edits"`
	// Flushes counts edits that add tables and delete none (flushes, and
	// log recovery at open); FlushBytes is the size of those tables.
	Flushes    int    `json:"flushes"`
	FlushBytes uint64 `json:"flush_bytes"`
	// Compactions counts edits that delete tables; CompactionReadBytes and
	// CompactionWriteBytes sum their input and output tables, trivial
	// moves (a table moved to the next level without being rewritten)
	// excluded and counted in TrivialMoves.
	Compactions          int    `json:"compactions"`
	CompactionReadBytes  uint64 `json:"compaction_read_bytes"`
	CompactionWriteBytes uint64 `json:"compaction_write_bytes"`
	TrivialMoves         int    `json:"trivial_moves"`
}

// WriteAmp is the write amplification of the tree since the MANIFEST was
// started: table bytes written by flushes and compactions per byte flushed
// (the WAL not counted). 0 when nothing was flushed.
func (h History) WriteAmp() float64 {
	if h.FlushBytes == 0 {
		return 0
	}
	return float64(h.FlushBytes+h.CompactionWriteBytes) / float64(h.FlushBytes)
}

// LogFile is a write-ahead log the MANIFEST still needs.
type LogFile struct {
	Num uint64 `json:"num"`
	// Size is how many bytes of records the log holds: its length without
	// the zeros a writer reserves ahead of its writes (a log that is open,
	// or was when its process stopped). Allocated is the file's length.
	Size      int64 `json:"size"`
	Allocated int64 `json:"allocated_size"`
}

// LSM is the shape of a database's tree as its MANIFEST describes it.
type LSM struct {
	Dir, Manifest string
	// Comparator is the comparator name the MANIFEST records, with its
	// mark when Extended: the database has used range deletions or merges
	// (C++ LevelDB refuses it). Merger is the merge operator's name it
	// records ("" if none).
	Comparator     string
	Extended       bool
	Merger         string
	Levels         [manifest.NumLevels][]TableMeta
	LogNumber      uint64
	PrevLogNumber  uint64
	NextFileNumber uint64
	LastSequence   uint64
	// Logs are the live write-ahead logs, whose writes are not in tables.
	Logs    []LogFile
	History History
	// ManifestEdits counts the MANIFEST's records that decoded as edits
	// (the first, a snapshot of the tree, included).
	ManifestEdits int
}

// NumLevels is the number of levels of the tree.
const NumLevels = manifest.NumLevels

// LevelBytes returns the total size of level's tables.
func (l *LSM) LevelBytes(level int) uint64 {
	var n uint64
	for _, t := range l.Levels[level] {
		n += t.Size
	}
	return n
}

// NumTables returns the number of tables in the tree.
func (l *LSM) NumTables() int {
	n := 0
	for _, lv := range l.Levels {
		n += len(lv)
	}
	return n
}

// TotalBytes returns the size of all tables.
func (l *LSM) TotalBytes() uint64 {
	var n uint64
	for level := range l.Levels {
		n += l.LevelBytes(level)
	}
	return n
}

// ReadAmp is the number of sorted runs a point read may consult in the
// worst case: every level-0 table plus one per non-empty deeper level.
func (l *LSM) ReadAmp() int {
	n := len(l.Levels[0])
	for _, lv := range l.Levels[1:] {
		if len(lv) > 0 {
			n++
		}
	}
	return n
}

// LoadLSM reads CURRENT and the MANIFEST of the database in dir and
// rebuilds its tree. Damage in either is an error (use Check to list
// every problem).
func LoadLSM(dir string) (*LSM, error) {
	l, findings, err := loadLSM(dir)
	if err != nil {
		return nil, err
	}
	if len(findings) > 0 {
		f := findings[0]
		return nil, &base.CorruptionError{File: filepath.Join(dir, f.File), Offset: f.Offset, Msg: f.Msg}
	}
	return l, nil
}

// loadLSM is LoadLSM returning every finding; l is nil when no tree could
// be built. It replays the MANIFEST as the engine does (manifest.Replay),
// but goes on past damage, making each problem a Finding.
func loadLSM(dir string) (*LSM, []Finding, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("no database in %s: %w", dir, err)
	}
	l := &LSM{Dir: dir}
	var findings []Finding
	sizes := map[uint64]uint64{}
	first := true
	cmp := base.DefaultComparer
	st, err := manifest.Replay(vfs.Default, dir, manifest.ReplayOptions{
		Comparer: cmp,
		OnEdit: func(e *manifest.VersionEdit, off int64) error {
			l.ManifestEdits++
			l.History.account(newEdit(e, off), sizes, first)
			first = false
			return nil
		},
		OnDamage: func(err error) { findings = append(findings, findingFrom(err, "MANIFEST")) },
	})
	var ce *manifest.ComparatorError
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, serr := os.Stat(filepath.Join(dir, "CURRENT")); errors.Is(serr, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("no database in %s: no CURRENT file", dir)
		}
		return nil, findings, err
	case errors.As(err, &ce):
		return nil, nil, fmt.Errorf("%s: the database uses comparator %q; only %q is supported",
			filepath.Base(ce.File), ce.Database, ce.Configured)
	case errors.Is(err, base.ErrCorruption):
		return nil, append(findings, findingFrom(err, "MANIFEST")), nil
	case err != nil:
		return nil, findings, err
	}
	name := filepath.Base(st.Path)
	l.Manifest, l.Comparator = name, st.Comparator
	l.Extended, l.Merger = st.Extended, st.Merger
	l.LogNumber, l.PrevLogNumber = st.LogNumber, st.PrevLogNumber
	l.NextFileNumber, l.LastSequence = st.NextFileNumber, st.LastSequence
	if st.Torn {
		findings = append(findings, Finding{File: name, Offset: st.End, Msg: fmt.Sprintf(tornManifest, st.TornBytes)})
	}
	findings = append(findings, missingEntries(name, st)...)
	for level, files := range st.Version.Levels {
		for _, f := range files {
			l.Levels[level] = append(l.Levels[level], TableMeta{Level: level, Num: f.Num, Size: f.Size,
				Smallest: ParseInternalKey(f.Smallest), Largest: ParseInternalKey(f.Largest)})
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, findings, err
	}
	for _, de := range entries {
		t, num, ok := base.ParseFilename(de.Name())
		if !ok || t != base.FileTypeLog || (num < l.LogNumber && num != l.PrevLogNumber) {
			continue
		}
		lf := LogFile{Num: num}
		if fi, err := de.Info(); err == nil {
			lf.Allocated = fi.Size()
		}
		if lf.Size, err = logDataSize(filepath.Join(dir, de.Name()), lf.Allocated); err != nil {
			return nil, findings, err
		}
		l.Logs = append(l.Logs, lf)
	}
	return l, findings, nil
}

func (h *History) account(e *Edit, sizes map[uint64]uint64, first bool) {
	deleted := map[uint64]bool{}
	for _, d := range e.Deleted {
		deleted[d.Num] = true
	}
	var added, moved int
	var addedBytes uint64
	for _, a := range e.Added {
		if deleted[a.Num] {
			moved++
			delete(deleted, a.Num)
		} else {
			added++
			addedBytes += a.Size
		}
		sizes[a.Num] = a.Size
	}
	if first {
		return
	}
	h.Edits++
	switch {
	case len(e.Deleted) == 0 && added > 0:
		h.Flushes++
		h.FlushBytes += addedBytes
	case len(deleted) > 0:
		h.Compactions++
		h.CompactionWriteBytes += addedBytes
		for num := range deleted {
			h.CompactionReadBytes += sizes[num]
		}
	}
	h.TrivialMoves += moved
}

// encode rebuilds the internal key's bytes.
func (k InternalKey) encode() []byte {
	if !k.Valid {
		return k.UserKey
	}
	kind := base.KindSet
	for _, kd := range []base.Kind{base.KindDelete, base.KindSet, base.KindMerge, base.KindRangeDelete} {
		if k.Kind == kd.String() {
			kind = kd
		}
	}
	return base.AppendInternalKey(nil, k.UserKey, k.Seq, kind)
}
