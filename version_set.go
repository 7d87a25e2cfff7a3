package strata

import (
	"bytes"
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"sync"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/vfs"
)

// defaultMaxManifestSize is the size past which the next version edit
// starts a new MANIFEST (holding a snapshot of the current version) instead
// of growing the old one.
const defaultMaxManifestSize = 64 << 20

// versionSet owns the MANIFEST and the sequence of versions: the current
// one and the older ones that reads still reference.
//
// It knows nothing of the DB: what it needs from its owner comes in
// versionSetConfig (the owner's mutex, the last sequence number, callbacks).
// Version edits are serialized by editMu: logAndApply builds the new version
// from the current one, makes the edit durable in the MANIFEST, and only
// then installs the version. Fields marked (mu) are read and written with
// the owner's mutex held.
type versionSet struct {
	versionSetConfig

	editMu sync.Mutex

	current *manifest.Version // (mu) holds one reference of the set's

	nextFileNum     uint64                     // (mu)
	logNum          uint64                     // (mu) logs older than this are obsolete
	prevLogNum      uint64                     // (mu) 0, or a log still needed (old LevelDB)
	compactPointers [manifest.NumLevels][]byte // (mu)

	manifestNum uint64 // (mu)
	// extended: the MANIFEST marks the database as holding range
	// deletions or merge operands (manifest.ExtendedComparatorName);
	// merger is the merge operator's name it records. Both only change
	// from false and "" by an edit, and are also published in the DB's
	// extendedFlag for lock-free readers.
	extended bool   // (mu)
	merger   string // (mu)
	// named holds the tables the MANIFEST read at open names (see
	// manifest.State.Named): the open's obsolete-file sweep deletes only
	// those; any other table it finds goes to lost/. nil after that sweep.
	named map[uint64]struct{}
	// manifest is the MANIFEST edits are appended to (editMu); nil until
	// the first edit, and after a failed write.
	manifest *manifest.Writer

	// live holds every version with a reference, for the obsolete-file
	// scan: a table is live while any of them lists it.
	liveMu sync.Mutex
	live   map[*manifest.Version]struct{}
}

// versionSetConfig is what a versionSet receives from its owner.
type versionSetConfig struct {
	fs     vfs.FS
	dir    string
	cmp    *base.Comparer
	logger *slog.Logger
	// mu is the owner's mutex; it guards the fields marked (mu).
	mu *sync.Mutex
	// maxManifestSize is the size past which the next edit starts a new
	// MANIFEST (0: the default, defaultMaxManifestSize).
	maxManifestSize int64
	// lastSeq returns the last sequence number handed out (mu held): every
	// edit records it.
	lastSeq func() uint64
	// installed runs with mu held right after a new current version is
	// installed (the DB publishes a new read state).
	installed func()
	// obsolete runs when a version loses its last reference: tables only it
	// listed are now obsolete (the DB schedules its cleanup).
	obsolete func()
	// paranoid refuses a MANIFEST with a torn last record (ParanoidChecks).
	paranoid bool
}

func newVersionSet(c versionSetConfig) *versionSet {
	if c.maxManifestSize <= 0 {
		c.maxManifestSize = defaultMaxManifestSize
	}
	vs := &versionSet{versionSetConfig: c, live: map[*manifest.Version]struct{}{}, nextFileNum: 2}
	vs.install(manifest.NewVersion(c.cmp))
	return vs
}

// install makes v current (mu held, or during open) and returns the
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

// release drops a reference to v; when it was the last, the tables only v
// listed become obsolete.
func (vs *versionSet) release(v *manifest.Version) {
	if v.Unref() {
		vs.liveMu.Lock()
		delete(vs.live, v)
		vs.liveMu.Unlock()
		vs.obsolete()
	}
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

// newFileNum hands out a file number (mu held).
func (vs *versionSet) newFileNum() uint64 {
	n := vs.nextFileNum
	vs.nextFileNum++
	return n
}

// markFileNumUsed makes sure n is never handed out (mu held).
func (vs *versionSet) markFileNumUsed(n uint64) {
	if vs.nextFileNum <= n {
		vs.nextFileNum = n + 1
	}
}

// logAndApply makes edit durable in the MANIFEST and installs the version
// it produces. onInstall, if not nil, runs with mu held just before the
// version is installed and the installed callback runs (a flush uses it to
// drop the memtable it wrote). It must be called without mu.
func (vs *versionSet) logAndApply(edit *manifest.VersionEdit, onInstall func()) error {
	vs.editMu.Lock()
	defer vs.editMu.Unlock()

	vs.mu.Lock()
	if edit.HasLogNumber {
		if edit.LogNumber < vs.logNum || edit.LogNumber >= vs.nextFileNum {
			vs.mu.Unlock()
			return fmt.Errorf("strata: internal error: edit log number %d outside [%d, %d)",
				edit.LogNumber, vs.logNum, vs.nextFileNum)
		}
	} else {
		edit.HasLogNumber, edit.LogNumber = true, vs.logNum
	}
	if !edit.HasPrevLogNumber {
		edit.HasPrevLogNumber, edit.PrevLogNumber = true, vs.prevLogNum
	}
	newManifest := vs.manifest == nil || vs.manifest.Size() > vs.maxManifestSize
	var manifestNum uint64
	if newManifest {
		manifestNum = vs.newFileNum()
	}
	edit.HasNextFileNumber, edit.NextFileNumber = true, vs.nextFileNum
	edit.HasLastSequence, edit.LastSequence = true, vs.lastSeq()
	baseVersion := vs.current
	var snapshot *manifest.VersionEdit
	if newManifest {
		snapshot = vs.snapshotEditLocked(baseVersion)
	}
	vs.mu.Unlock()

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
		if err := vfs.SyncDir(vs.fs, vs.dir); err != nil {
			return fmt.Errorf("strata: %w", err)
		}
	}
	if newManifest {
		if vs.manifest != nil {
			vs.manifest.Close()
			vs.manifest = nil
		}
		if vs.manifest, err = manifest.Create(vs.fs, vs.dir, manifestNum, snapshot); err != nil {
			return fmt.Errorf("strata: %w", err)
		}
	}
	if err := vs.manifest.Append(edit); err != nil {
		return vs.manifestFailed(err)
	}
	if err := vs.manifest.Sync(); err != nil {
		return vs.manifestFailed(err)
	}
	if newManifest {
		if err := manifest.SetCurrent(vs.fs, vs.dir, manifestNum); err != nil {
			return vs.manifestFailed(err)
		}
	}

	vs.mu.Lock()
	old := vs.install(v)
	if newManifest {
		vs.manifestNum = manifestNum
	}
	vs.logNum = edit.LogNumber
	vs.prevLogNum = edit.PrevLogNumber
	for _, cp := range edit.CompactPointers {
		vs.compactPointers[cp.Level] = bytes.Clone(cp.Key)
	}
	if edit.HasComparator {
		_, ext := manifest.SplitComparatorName(edit.Comparator)
		vs.extended = vs.extended || ext
	}
	if edit.HasMerger {
		vs.merger = edit.Merger
	}
	if onInstall != nil {
		onInstall()
	}
	vs.installed()
	vs.mu.Unlock()
	vs.release(old)
	return nil
}

// manifestFailed handles a failed MANIFEST write or sync: the MANIFEST's
// tail is now unknown, so no further edit may be appended to it. The next
// edit starts a new MANIFEST; until then the DB refuses writes.
func (vs *versionSet) manifestFailed(err error) error {
	if vs.manifest != nil {
		vs.manifest.Close()
		vs.manifest = nil
	}
	return fmt.Errorf("strata: %w", err)
}

// snapshotEditLocked describes v and the set's state as one edit: the first
// record of a new MANIFEST.
func (vs *versionSet) snapshotEditLocked(v *manifest.Version) *manifest.VersionEdit {
	e := &manifest.VersionEdit{HasComparator: true, Comparator: vs.comparatorNameLocked()}
	if vs.merger != "" {
		e.Merger, e.HasMerger = vs.merger, true
	}
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

// comparatorNameLocked is the comparator name the MANIFEST records: the
// comparator's, marked once the database is extended.
func (vs *versionSet) comparatorNameLocked() string {
	if vs.extended {
		return manifest.ExtendedComparatorName(vs.cmp.Name)
	}
	return vs.cmp.Name
}

func (vs *versionSet) close() error {
	if vs.manifest == nil {
		return nil
	}
	err := vs.manifest.Close()
	vs.manifest = nil
	return err
}

// recover loads the state the MANIFEST named by CURRENT describes and
// returns its last sequence number.
//
// A torn last record is what a crash during an edit leaves, and that edit
// was never acknowledged: it is dropped, and the tables only it named are
// moved to lost/ at open (see deleteObsoleteFiles). But the same tail is
// also what damage to a MANIFEST leaves, and then the edit may have been
// acted on: the logs it made obsolete deleted, their writes only in its
// tables. Dropping it would then silently bring back older values. So a
// torn tail is accepted only when the log the recovered state replays from
// still exists (a crash before the edit was durable leaves it, since logs
// are deleted only after the edit that retires them is durable); otherwise,
// and always with ParanoidChecks, it is corruption, and Repair recovers
// from the tables and logs.
func (vs *versionSet) recover() (lastSeq uint64, err error) {
	st, err := replayManifest(vs.fs, vs.dir, vs.cmp)
	if err != nil {
		return 0, err
	}
	if st.Torn {
		if vs.paranoid {
			return 0, base.CorruptionErrorf(st.Path, st.End,
				"MANIFEST ends in a torn record of %d bytes (ParanoidChecks refuses; run Repair)", st.TornBytes)
		}
		if st.LogNumber > 0 {
			log := base.MakeFilepath(vs.dir, base.FileTypeLog, st.LogNumber)
			if _, err := vs.fs.Stat(log); errors.Is(err, iofs.ErrNotExist) {
				return 0, base.CorruptionErrorf(st.Path, st.End,
					"MANIFEST ends in a torn record of %d bytes, and %s, the log the state before it replays from, is gone: the lost edit was acted on (damage, not a crash); run Repair",
					st.TornBytes, base.MakeFilename(base.FileTypeLog, st.LogNumber))
			} else if err != nil {
				return 0, fmt.Errorf("strata: %w", err)
			}
		}
		vs.logger.Warn("MANIFEST ends in a torn record (a crash during an edit); ignoring it",
			"file", st.Path, "offset", st.End, "bytes", st.TornBytes)
	}
	vs.nextFileNum = st.NextFileNumber
	vs.markFileNumUsed(st.LogNumber)
	vs.markFileNumUsed(st.PrevLogNumber)
	vs.markFileNumUsed(st.Num)
	vs.logNum, vs.prevLogNum = st.LogNumber, st.PrevLogNumber
	vs.manifestNum = st.Num
	vs.compactPointers = st.CompactPointers
	vs.extended, vs.merger = st.Extended, st.Merger
	vs.named = st.Named
	if old := vs.install(st.Version); old != nil {
		vs.release(old)
	}
	return st.LastSequence, nil
}

// replayManifest replays the MANIFEST CURRENT names, with the engine's
// rules: damage refuses (Repair recovers); a torn last record, what a crash
// during an edit leaves, is dropped (that edit was never acknowledged), but
// a complete last record whose checksum fails is damage, since dropping it
// could lose a flush or compaction, whatever ParanoidChecks says (as C++
// LevelDB does).
func replayManifest(fs vfs.FS, dir string, cmp *base.Comparer) (*manifest.State, error) {
	st, err := manifest.Replay(fs, dir, manifest.ReplayOptions{Comparer: cmp})
	var ce *manifest.ComparatorError
	if errors.As(err, &ce) {
		return nil, fmt.Errorf("strata: %s: database uses comparator %q, but Options.Comparator is %q",
			ce.File, ce.Database, ce.Configured)
	}
	if err != nil {
		return nil, err
	}
	if st.Torn && st.TornByChecksum {
		return nil, base.CorruptionErrorf(st.Path, st.End, "MANIFEST ends in a record whose checksum does not match (run Repair)")
	}
	if m := st.Missing(); len(m) > 0 {
		return nil, base.CorruptionErrorf(st.Path, st.End, "no %s entry in MANIFEST", m[0])
	}
	return st, nil
}
