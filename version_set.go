package strata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/record"
	"github.com/strata-db/strata/internal/vfs"
)

// maxManifestSize is the size past which the next version edit starts a
// new MANIFEST (holding a snapshot of the current version) instead of
// growing the old one.
const maxManifestSize = 64 << 20

// versionSet owns the MANIFEST and the sequence of versions: the current
// one and the older ones that reads still reference.
//
// Version edits are serialized by editMu: logAndApply builds the new
// version from the current one, makes the edit durable in the MANIFEST,
// and only then installs the version. Fields marked (d.mu) are read and
// written with the DB mutex held.
type versionSet struct {
	d   *DB
	cmp *base.Comparer
	fs  vfs.FS
	dir string

	editMu sync.Mutex

	current *manifest.Version // (d.mu) holds one reference of the set's

	nextFileNum     uint64                     // (d.mu)
	logNum          uint64                     // (d.mu) logs older than this are obsolete
	prevLogNum      uint64                     // (d.mu) 0, or a log still needed (old LevelDB)
	compactPointers [manifest.NumLevels][]byte // (d.mu)

	manifestNum uint64 // (d.mu)
	// tornManifest: recovery dropped a torn last MANIFEST record, so tables
	// it does not name are moved to lost/ rather than deleted at open.
	tornManifest bool
	manifestFile vfs.File
	manifestW    *record.Writer

	// live holds every version with a reference, for the obsolete-file
	// scan: a table is live while any of them lists it.
	liveMu sync.Mutex
	live   map[*manifest.Version]struct{}
}

func newVersionSet(d *DB) *versionSet {
	vs := &versionSet{d: d, cmp: d.cmp, fs: d.fs, dir: d.dirname,
		live: map[*manifest.Version]struct{}{}, nextFileNum: 2}
	vs.install(manifest.NewVersion(d.cmp))
	return vs
}

// install makes v current (d.mu held, or during open) and returns the
// previous current version, whose reference the caller must release.
func (vs *versionSet) install(v *manifest.Version) *manifest.Version {
	v.Ref()
	vs.liveMu.Lock()
	vs.live[v] = struct{}{}
	vs.liveMu.Unlock()
	old := vs.current
	vs.current = v
	return old
}

func (vs *versionSet) forgetVersion(v *manifest.Version) {
	vs.liveMu.Lock()
	delete(vs.live, v)
	vs.liveMu.Unlock()
}

// addLiveFiles adds the numbers of the tables of every live version to m.
func (vs *versionSet) addLiveFiles(m map[uint64]struct{}) {
	vs.liveMu.Lock()
	defer vs.liveMu.Unlock()
	for v := range vs.live {
		for _, files := range v.Levels {
			for _, f := range files {
				m[f.Num] = struct{}{}
			}
		}
	}
}

// newFileNum hands out a file number (d.mu held).
func (vs *versionSet) newFileNum() uint64 {
	n := vs.nextFileNum
	vs.nextFileNum++
	return n
}

// markFileNumUsed makes sure n is never handed out (d.mu held).
func (vs *versionSet) markFileNumUsed(n uint64) {
	if vs.nextFileNum <= n {
		vs.nextFileNum = n + 1
	}
}

// logAndApply makes edit durable in the MANIFEST and installs the version
// it produces. onInstall, if not nil, runs with d.mu held just before the
// new read state is published (a flush uses it to drop the memtable it
// wrote). It must be called without d.mu.
func (vs *versionSet) logAndApply(edit *manifest.VersionEdit, onInstall func()) error {
	d := vs.d
	vs.editMu.Lock()
	defer vs.editMu.Unlock()

	d.mu.Lock()
	if edit.HasLogNumber {
		if edit.LogNumber < vs.logNum || edit.LogNumber >= vs.nextFileNum {
			d.mu.Unlock()
			return fmt.Errorf("strata: internal error: edit log number %d outside [%d, %d)",
				edit.LogNumber, vs.logNum, vs.nextFileNum)
		}
	} else {
		edit.HasLogNumber, edit.LogNumber = true, vs.logNum
	}
	if !edit.HasPrevLogNumber {
		edit.HasPrevLogNumber, edit.PrevLogNumber = true, vs.prevLogNum
	}
	limit := int64(maxManifestSize)
	if d.opts.maxManifestSize > 0 {
		limit = d.opts.maxManifestSize
	}
	newManifest := vs.manifestW == nil || vs.manifestW.Size() > limit
	var manifestNum uint64
	if newManifest {
		manifestNum = vs.newFileNum()
	}
	edit.HasNextFileNumber, edit.NextFileNumber = true, vs.nextFileNum
	edit.HasLastSequence, edit.LastSequence = true, d.lastSeq
	baseVersion := vs.current
	var snapshot *manifest.VersionEdit
	if newManifest {
		snapshot = vs.snapshotEditLocked(baseVersion)
	}
	d.mu.Unlock()

	b := manifest.NewBuilder(vs.cmp, baseVersion)
	if err := b.Apply(edit); err != nil {
		return fmt.Errorf("strata: apply version edit: %w", err)
	}
	v, err := b.Finish()
	if err != nil {
		return fmt.Errorf("strata: apply version edit: %w", err)
	}

	if len(edit.NewFiles) > 0 {
		// The new tables' directory entries must be durable before a
		// MANIFEST record refers to them: otherwise a crash could leave a
		// MANIFEST naming tables that are gone.
		if err := syncDir(vs.fs, vs.dir); err != nil {
			return fmt.Errorf("strata: sync directory %s: %w", vs.dir, err)
		}
	}
	if newManifest {
		if err := vs.createManifest(manifestNum, snapshot); err != nil {
			return err
		}
	}
	if _, err := vs.manifestW.WriteRecord(edit.Encode(nil)); err != nil {
		return vs.manifestFailed(err)
	}
	if err := vs.manifestFile.Sync(); err != nil {
		return vs.manifestFailed(err)
	}
	if newManifest {
		if err := setCurrentFile(vs.fs, vs.dir, manifestNum); err != nil {
			return vs.manifestFailed(err)
		}
	}

	d.mu.Lock()
	old := vs.install(v)
	if newManifest {
		vs.manifestNum = manifestNum
	}
	vs.logNum = edit.LogNumber
	vs.prevLogNum = edit.PrevLogNumber
	for _, cp := range edit.CompactPointers {
		vs.compactPointers[cp.Level] = bytes.Clone(cp.Key)
	}
	if onInstall != nil {
		onInstall()
	}
	d.updateReadStateLocked()
	d.mu.Unlock()
	d.releaseVersion(old)
	return nil
}

// manifestFailed handles a failed MANIFEST write or sync: the MANIFEST's
// tail is now unknown, so no further edit may be appended to it. The next
// edit starts a new MANIFEST; until then the DB refuses writes.
func (vs *versionSet) manifestFailed(err error) error {
	err = fmt.Errorf("strata: write MANIFEST: %w", err)
	if vs.manifestFile != nil {
		vs.manifestFile.Close()
	}
	vs.manifestFile, vs.manifestW = nil, nil
	return err
}

// createManifest starts MANIFEST-num with a snapshot of the current state.
func (vs *versionSet) createManifest(num uint64, snapshot *manifest.VersionEdit) error {
	if vs.manifestFile != nil {
		vs.manifestFile.Close()
		vs.manifestFile, vs.manifestW = nil, nil
	}
	name := base.MakeFilepath(vs.dir, base.FileTypeManifest, num)
	f, err := vs.fs.Create(name)
	if err != nil {
		return fmt.Errorf("strata: create MANIFEST: %w", err)
	}
	w := record.NewWriter(f)
	if _, err := w.WriteRecord(snapshot.Encode(nil)); err != nil {
		f.Close()
		vs.fs.Remove(name)
		return fmt.Errorf("strata: write MANIFEST %s: %w", name, err)
	}
	vs.manifestFile, vs.manifestW = f, w
	return nil
}

// snapshotEditLocked describes v and the set's state as one edit: the first
// record of a new MANIFEST.
func (vs *versionSet) snapshotEditLocked(v *manifest.Version) *manifest.VersionEdit {
	e := &manifest.VersionEdit{HasComparator: true, Comparator: vs.cmp.Name}
	for level, key := range vs.compactPointers {
		if key != nil {
			e.CompactPointers = append(e.CompactPointers, manifest.CompactPointer{Level: level, Key: key})
		}
	}
	for level, files := range v.Levels {
		for _, f := range files {
			e.NewFiles = append(e.NewFiles, manifest.NewFileEntry{Level: level, Meta: f})
		}
	}
	return e
}

func (vs *versionSet) close() error {
	if vs.manifestFile == nil {
		return nil
	}
	err := vs.manifestFile.Close()
	vs.manifestFile, vs.manifestW = nil, nil
	return err
}

// writeNewManifest writes MANIFEST-num holding the single edit, syncs it,
// and points CURRENT at it (creating a database, or after a repair).
func writeNewManifest(fs vfs.FS, dir string, num uint64, edit *manifest.VersionEdit) error {
	path := base.MakeFilepath(dir, base.FileTypeManifest, num)
	f, err := fs.Create(path)
	if err != nil {
		return err
	}
	_, err = record.NewWriter(f).WriteRecord(edit.Encode(nil))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fs.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Once setCurrentFile has begun, CURRENT may name the new MANIFEST
	// even if it fails (say, syncing the directory after the rename), so
	// the MANIFEST stays: unused, it is harmless and swept later.
	if err := setCurrentFile(fs, dir, num); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// setCurrentFile points CURRENT at MANIFEST-num: written to a temporary
// file, synced, renamed over CURRENT, and the directory synced.
//
// CURRENT's layout: the MANIFEST's file name followed by "\n".
func setCurrentFile(fs vfs.FS, dir string, num uint64) error {
	tmp := base.MakeFilepath(dir, base.FileTypeTemp, num)
	contents := base.MakeFilename(base.FileTypeManifest, num) + "\n"
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("strata: write CURRENT: %w", err)
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
		err = syncDir(fs, dir)
	}
	if err != nil {
		fs.Remove(tmp)
		return fmt.Errorf("strata: write CURRENT: %w", err)
	}
	return nil
}

func syncDir(fs vfs.FS, dir string) error {
	f, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readCurrentFile returns the MANIFEST name CURRENT points at.
func readCurrentFile(fs vfs.FS, dir string) (string, error) {
	name := base.MakeFilepath(dir, base.FileTypeCurrent, 0)
	f, err := fs.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("strata: read %s: %w", name, err)
	}
	s := string(b)
	if !strings.HasSuffix(s, "\n") {
		return "", base.CorruptionErrorf(name, int64(len(b)), "CURRENT file does not end with newline")
	}
	s = strings.TrimSuffix(s, "\n")
	if t, _, ok := base.ParseFilename(s); !ok || t != base.FileTypeManifest || strings.ContainsAny(s, "/\\") {
		return "", base.CorruptionErrorf(name, 0, "CURRENT names %q, which is not a MANIFEST", s)
	}
	return s, nil
}

// recover loads the state the MANIFEST named by CURRENT describes and
// returns its last sequence number.
func (vs *versionSet) recover() (lastSeq uint64, err error) {
	d := vs.d
	manifestName, err := readCurrentFile(vs.fs, vs.dir)
	if err != nil {
		return 0, err
	}
	path := vs.fs.PathJoin(vs.dir, manifestName)
	f, err := vs.fs.Open(path)
	if err != nil {
		if errors.Is(err, iofsNotExist) {
			return 0, base.CorruptionErrorf(base.MakeFilepath(vs.dir, base.FileTypeCurrent, 0), 0,
				"CURRENT points to %s, which does not exist", manifestName)
		}
		return 0, fmt.Errorf("strata: open %s: %w", path, err)
	}
	defer f.Close()

	var (
		haveLog, havePrevLog, haveNext, haveLastSeq bool
		logNum, prevLogNum, nextFile, manifestSeq   uint64
	)
	b := manifest.NewBuilder(vs.cmp, manifest.NewVersion(vs.cmp))
	r := record.NewReader(f, path)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		var e manifest.VersionEdit
		if err := e.Decode(rec); err != nil {
			return 0, withFileOffset(err, path, r.Offset())
		}
		if e.HasComparator && e.Comparator != vs.cmp.Name {
			return 0, fmt.Errorf("strata: %s: database uses comparator %q, but Options.Comparator is %q",
				path, e.Comparator, vs.cmp.Name)
		}
		if err := b.Apply(&e); err != nil {
			return 0, withFileOffset(err, path, r.Offset())
		}
		if e.HasLogNumber {
			haveLog, logNum = true, e.LogNumber
		}
		if e.HasPrevLogNumber {
			havePrevLog, prevLogNum = true, e.PrevLogNumber
		}
		if e.HasNextFileNumber {
			haveNext, nextFile = true, e.NextFileNumber
		}
		if e.HasLastSequence {
			haveLastSeq, manifestSeq = true, e.LastSequence
		}
		for _, cp := range e.CompactPointers {
			vs.compactPointers[cp.Level] = bytes.Clone(cp.Key)
		}
	}
	// end is where the intact records end: the torn tail, or the file end.
	end, tornN, torn := r.TornTail()
	// A crash leaves an incomplete last record (dropped below: that edit
	// was never acknowledged). A complete record whose checksum fails is
	// damage: dropping it could lose a flush or compaction, so refuse, as
	// C++ LevelDB does, whatever ParanoidChecks says. Repair recovers.
	if torn && r.TornByChecksum() {
		return 0, base.CorruptionErrorf(path, end, "MANIFEST ends in a record whose checksum does not match (run Repair)")
	}
	if torn {
		d.logger.Warn("MANIFEST ends in a torn record; ignoring it", "file", path, "offset", end, "bytes", tornN)
		vs.tornManifest = true
	} else if fi, err := f.Stat(); err == nil {
		end = fi.Size()
	} else {
		end = -1
	}
	switch {
	case !haveNext:
		return 0, base.CorruptionErrorf(path, end, "no next-file-number entry in MANIFEST")
	case !haveLog:
		return 0, base.CorruptionErrorf(path, end, "no log-number entry in MANIFEST")
	case !haveLastSeq:
		return 0, base.CorruptionErrorf(path, end, "no last-sequence entry in MANIFEST")
	}
	if !havePrevLog {
		prevLogNum = 0
	}
	v, err := b.Finish()
	if err != nil {
		return 0, withFileOffset(err, path, -1)
	}
	vs.nextFileNum = nextFile
	vs.markFileNumUsed(logNum)
	vs.markFileNumUsed(prevLogNum)
	vs.logNum, vs.prevLogNum = logNum, prevLogNum
	_, num, _ := base.ParseFilename(manifestName)
	vs.manifestNum = num
	vs.markFileNumUsed(num)
	if old := vs.install(v); old != nil {
		d.releaseVersion(old)
	}
	return manifestSeq, nil
}

// withFileOffset attaches a file (and offset, if the error has none) to a
// corruption error from a decoder.
func withFileOffset(err error, file string, off int64) error {
	var ce *base.CorruptionError
	if errors.As(err, &ce) {
		c := *ce
		if c.File == "" {
			c.File = file
		}
		if c.Offset < 0 {
			c.Offset = off
		}
		return &c
	}
	return fmt.Errorf("%s at offset %d: %w", file, off, err)
}
