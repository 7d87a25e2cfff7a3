package strata

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/cache"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/record"
	"github.com/strata-db/strata/internal/sstable"
	"github.com/strata-db/strata/internal/vfs"
)

// Open opens the database in dirname, creating it if it does not exist
// (unless opts.ErrorIfNotExists or opts.ReadOnly). nil opts means defaults.
//
// Recovery: the MANIFEST named by CURRENT gives the tables; the logs at or
// after its log number are replayed (a torn last record, the trace of a
// crash, is dropped and logged; damage is handled as
// Options.WALRecoveryMode says). The replayed writes are written to level-0
// tables and a fresh MANIFEST and WAL are started, so the old logs can go;
// a log not replayed whole goes to lost/. DB.RecoveryReport says what was
// found. A read-only open replays the logs into memory and writes nothing.
//
// Open refuses (with a corruption error that names Repair) a directory
// without CURRENT that holds tables or logs, and a MANIFEST whose torn last
// edit was acted on; it never deletes a table no MANIFEST edit names.
func Open(dirname string, opts *Options) (db *DB, err error) {
	o := opts.withDefaults()
	if o.WALRecoveryMode < WALPointInTime || o.WALRecoveryMode > WALSkipAnyCorruptedRecords {
		return nil, fmt.Errorf("strata: open %s: unknown WALRecoveryMode %d", dirname, int(o.WALRecoveryMode))
	}
	d := &DB{
		dirname:        dirname,
		opts:           o,
		cmp:            o.Comparator,
		fs:             o.FS,
		pendingOutputs: map[uint64]struct{}{},
		flushCh:        make(chan struct{}, 1),
		compactCh:      make(chan struct{}, 1),
		cleanCh:        make(chan struct{}, 1),
		closing:        make(chan struct{}),
		flushAssist:    sstable.NewAssist(),
		recovery:       &RecoveryReport{Mode: o.WALRecoveryMode},
	}
	d.bgCond.L = &d.mu
	defer func() {
		if err != nil {
			d.abandonOpen()
		}
	}()

	if o.ErrorIfNotExists || o.ReadOnly {
		// Refuse before creating anything (directory, LOCK, LOG).
		if exists, err := databaseExists(d.fs, dirname); err != nil {
			return nil, err
		} else if !exists {
			return nil, fmt.Errorf("strata: open %s: database does not exist: %w", dirname, fs.ErrNotExist)
		}
	}
	if !o.ReadOnly {
		if err := createDir(d.fs, dirname); err != nil {
			return nil, err
		}
		lock, err := lockDB(d.fs, dirname, "open")
		if err != nil {
			return nil, err
		}
		d.lock = lock
	}
	// Checked again now that the lock is held, before the LOG is rotated.
	exists, err := databaseExists(d.fs, dirname)
	switch {
	case err != nil:
		return nil, err
	case !exists && (o.ErrorIfNotExists || o.ReadOnly):
		return nil, fmt.Errorf("strata: open %s: database does not exist: %w", dirname, fs.ErrNotExist)
	case exists && o.ErrorIfExists:
		return nil, fmt.Errorf("strata: open %s: database already exists: %w", dirname, fs.ErrExist)
	}
	if d.logger, d.infoLog, err = openInfoLog(o, dirname); err != nil {
		return nil, err
	}
	d.events = newEventSink(o.EventListener, d.logger)
	if o.BlockCacheSize > 0 {
		d.blockCache = cache.New(o.BlockCacheSize)
	}
	tableCapacity := max(o.MaxOpenFiles-10, 10)
	if o.ReadOnly {
		// A read-only handle pins every table it may read (catchup.go).
		tableCapacity = math.MaxInt32
	}
	d.tables = newTableCache(dirname, d.fs, d.cmp, d.blockCache, tableCapacity)
	d.tables.memLimit = memoryLimit()
	d.icmp = d.internalCompare
	if d.cmp == DefaultComparer {
		d.icmp = base.InternalCompareBytewise
	}
	d.openTableIter = d.tables.newIter
	d.mergeFn = d.fullMerge
	d.versions = newVersionSet(versionSetConfig{
		fs: d.fs, dir: dirname, cmp: d.cmp, logger: d.logger, mu: &d.mu,
		maxManifestSize: o.maxManifestSize,
		lastSeq:         func() uint64 { return d.lastSeq },
		installed:       d.updateReadStateLocked,
		obsolete:        d.scheduleCleanup,
		paranoid:        o.ParanoidChecks,
	})

	if !exists {
		if err := d.createDB(); err != nil {
			return nil, err
		}
	}

	lastSeq, err := d.versions.recover()
	if err != nil {
		return nil, err
	}
	// Before any table is opened: the recovered tables' size decides how
	// they are read (tableCache.setTableBytes).
	d.tables.setTableBytes(d.versions.current.TotalBytes())
	if err := d.checkMerger(); err != nil {
		return nil, err
	}
	if err := d.loadHoles(); err != nil {
		return nil, err
	}
	d.lastSeq = lastSeq
	if err := d.recoverLogsAndStart(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.logger.Info("database opened", "dir", dirname, "read-only", o.ReadOnly,
		"last-seq", d.lastSeq, "tables", levelSummary(d.versions.current))
	d.mu.Unlock()
	return d, nil
}

// checkMerger publishes the MANIFEST's marks (see ensureExtended) and
// refuses Options.Merger unless it is the operator the database recorded.
func (d *DB) checkMerger() error {
	d.mu.Lock()
	extended, merger := d.versions.extended, d.versions.merger
	d.mu.Unlock()
	d.extendedFlag.Store(extended)
	d.mergerRecorded.Store(merger != "")
	if merger == "" {
		return nil
	}
	switch {
	case d.opts.Merger == nil:
		return fmt.Errorf("strata: %s holds merge operands of operator %q: set Options.Merger to it (strata.BuiltinMerger(%q) if built in)",
			d.dirname, merger, merger)
	case d.opts.Merger.Name != merger:
		return fmt.Errorf("strata: %s holds merge operands of operator %q, but Options.Merger is %q",
			d.dirname, merger, d.opts.Merger.Name)
	}
	return nil
}

// levelSummary describes v's tables for the info log without their keys
// (a key can be large): "L0:2/1.2MiB L1:5/9.8MiB".
func levelSummary(v *manifest.Version) string {
	var b strings.Builder
	for level, files := range v.Levels {
		if len(files) == 0 {
			continue
		}
		var n uint64
		for _, f := range files {
			n += f.Size
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "L%d:%d/%.1fMiB", level, len(files), float64(n)/(1<<20))
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// createDir creates the database directory if it is missing, as mkdir
// does (and LevelDB's Open): only its last component. A missing parent is
// an error naming it, so that a mistyped path does not silently become a
// tree of new directories.
func createDir(fsys vfs.FS, dir string) error {
	_, err := fsys.Stat(dir)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("strata: open %s: %w", dir, err)
	}
	if parent := filepath.Dir(filepath.Clean(dir)); parent != dir {
		if _, err := fsys.Stat(parent); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("strata: create %s: its parent directory %s does not exist: %w", dir, parent, err)
		} else if err != nil {
			return fmt.Errorf("strata: create %s: %w", dir, err)
		}
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("strata: create directory: %w", err)
	}
	return nil
}

// lockDB takes the LOCK file of the database in dir for the operation what
// ("open", "repair", ...). A lock held elsewhere is "database is in use"
// (errors.Is(err, ErrLocked)); any other failure (a read-only file system,
// permissions, a path that is not a directory) says what it is.
func lockDB(fsys vfs.FS, dir, what string) (io.Closer, error) {
	path := base.MakeFilepath(dir, base.FileTypeLock, 0)
	lock, err := fsys.Lock(path)
	switch {
	case errors.Is(err, ErrLocked):
		return nil, fmt.Errorf("strata: %s %s: database is in use: %w", what, dir, err)
	case err != nil:
		return nil, fmt.Errorf("strata: %s %s: cannot take the lock file: %w", what, dir, err)
	}
	return lock, nil
}

// databaseExists reports whether dir holds a database: whether CURRENT
// exists. A directory without CURRENT that holds tables or logs is a
// damaged database, not an empty directory: creating a new database there
// would make every one of those files obsolete, and they would be deleted.
// That is refused with a corruption error naming what was found; Repair
// rebuilds the database from them. MANIFESTs alone hold no data (what
// creating a database leaves when it fails before CURRENT is written), so
// they do not stop a new database.
func databaseExists(fsys vfs.FS, dir string) (bool, error) {
	current := base.MakeFilepath(dir, base.FileTypeCurrent, 0)
	_, err := fsys.Stat(current)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("strata: open %s: %w", dir, err)
	}
	names, err := fsys.List(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("strata: open %s: %w", dir, err)
	}
	counts := map[base.FileType]int{}
	var example string
	for _, name := range names {
		t, _, ok := base.ParseFilename(name)
		if !ok || (t != base.FileTypeTable && t != base.FileTypeLog && t != base.FileTypeManifest) {
			continue
		}
		if counts[t]++; example == "" && t != base.FileTypeManifest {
			example = name
		}
	}
	if counts[base.FileTypeTable]+counts[base.FileTypeLog] == 0 {
		return false, nil
	}
	return false, &base.CorruptionError{File: current, Offset: -1, Msg: fmt.Sprintf(
		"missing, but the directory holds a database's files (%d tables, %d logs, %d MANIFESTs; e.g. %s): "+
			"refusing to create a new database over them; Repair (strata repair --db %s) rebuilds the database from them",
		counts[base.FileTypeTable], counts[base.FileTypeLog], counts[base.FileTypeManifest], example, dir)}
}

// createDB writes the MANIFEST and CURRENT of an empty database.
func (d *DB) createDB() error {
	const manifestNum = 1
	edit := &manifest.VersionEdit{
		HasComparator: true, Comparator: d.cmp.Name,
		HasLogNumber: true, LogNumber: 0,
		HasNextFileNumber: true, NextFileNumber: 2,
		HasLastSequence: true, LastSequence: 0,
	}
	if err := manifest.CreateCurrent(d.fs, d.dirname, manifestNum, edit); err != nil {
		return fmt.Errorf("strata: create database: %w", err)
	}
	d.logger.Info("created database", "dir", d.dirname)
	return nil
}

// openInfoLog returns the logger of a database in dir: Options.Logger if
// set; else, unless read-only, a new LOG file in dir (the previous one
// renamed LOG.old), returned as the closer too; else a logger that discards.
func openInfoLog(o *Options, dir string) (*slog.Logger, io.Closer, error) {
	switch {
	case o.Logger != nil:
		return o.Logger, nil, nil
	case o.ReadOnly:
		return slog.New(slog.DiscardHandler), nil, nil
	}
	path := base.MakeFilepath(dir, base.FileTypeInfoLog, 0)
	o.FS.Rename(path, o.FS.PathJoin(dir, "LOG.old")) // no LOG yet is fine
	f, err := o.FS.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("strata: create info log: %w", err)
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo})), f, nil
}

// abandonOpen releases what a failed Open acquired.
func (d *DB) abandonOpen() {
	if d.log != nil {
		d.log.file.Close()
	}
	if d.versions != nil {
		d.versions.close()
	}
	if d.tables != nil {
		d.tables.close()
	}
	if d.lock != nil {
		d.lock.Close()
	}
	if d.infoLog != nil {
		d.infoLog.Close()
	}
}

// recoverLogsAndStart checks the tables exist, replays the logs, and
// (unless read-only) writes their contents to tables under a new MANIFEST,
// opens a new WAL and starts the background goroutines.
func (d *DB) recoverLogsAndStart() error {
	names, err := d.fs.List(d.dirname)
	if err != nil {
		return fmt.Errorf("strata: list %s: %w", d.dirname, err)
	}
	present := map[uint64]bool{}
	var logs []uint64
	for _, name := range names {
		t, num, ok := base.ParseFilename(name)
		if !ok {
			continue
		}
		// A number in use is never handed out again, whatever the MANIFEST
		// says: a new file must not overwrite one that exists (a table
		// the MANIFEST does not name may be all that holds some data).
		d.versions.markFileNumUsed(num)
		switch t {
		case base.FileTypeTable:
			present[num] = true
		case base.FileTypeLog:
			if num >= d.versions.logNum || num == d.versions.prevLogNum {
				logs = append(logs, num)
			}
		}
	}
	var missing []uint64
	for _, files := range d.versions.current.Levels {
		for _, f := range files {
			if !present[f.Num] {
				missing = append(missing, f.Num)
			}
		}
	}
	if len(missing) > 0 {
		return base.CorruptionErrorf(d.dirname, -1, "%d table file(s) listed in the MANIFEST are missing, e.g. %s",
			len(missing), tableName(missing[0]))
	}
	if d.opts.ParanoidChecks {
		if err := d.verifyTables(); err != nil {
			return err
		}
	}
	slices.Sort(logs)

	edit := &manifest.VersionEdit{}
	mem := d.opts.newMemTable(0, 0)
	chain := d.newWALChain()
	var unreplayed []unreplayedLog // the logs not replayed whole, in order

	job := d.events.newJob() // Open's, for the tables and the log it writes
	for i, num := range logs {
		gap, err := chain.stop(num)
		if err != nil {
			return err
		}
		if gap {
			// The logs from num on are left out (see walGap).
			d.recovery.Stopped = true
			d.recovery.StopReason = fmt.Sprintf("%s follows a log that ends early (a power cut took its unsynced tail, or damage)",
				base.MakeFilename(base.FileTypeLog, num))
			if unreplayed, err = d.countUnreplayed(logs[i:], "the log before it ends early (a power cut took its unsynced tail, or damage)"); err != nil {
				return err
			}
			break
		}
		var st replayStats
		if mem, st, err = d.replayLog(num, mem, edit, job); err != nil {
			return err
		}
		chain.replayed(num, st)
		if st.stopped {
			d.recovery.Stopped = true
			d.recovery.StopReason = fmt.Sprintf("damage in %s at offset %d", base.MakeFilename(base.FileTypeLog, num), st.stopOffset)
			d.recovery.NotReplayed += st.notReplayed
			d.recovery.NotReplayedBytes += st.notReplayedBytes
			why := "a damaged record there (" + st.damage[0].Err + ")"
			later, err := d.countUnreplayed(logs[i+1:], fmt.Sprintf("an earlier log, %s, is damaged", base.MakeFilename(base.FileTypeLog, num)))
			if err != nil {
				return err
			}
			unreplayed = append([]unreplayedLog{{num: num, from: st.stopOffset, why: why,
				records: st.notReplayed, bytes: st.notReplayedBytes}}, later...)
			break
		}
	}
	d.visibleSeq.Store(d.lastSeq)
	if d.recovery.DataLost() {
		d.logger.Error("recovery left writes out", "report", d.recovery.String())
	}

	if d.opts.ReadOnly {
		pins, err := d.pinTables(d.versions.current)
		if err != nil {
			return err
		}
		d.pinned = pins
		d.mem = mem
		d.mu.Lock()
		d.updateReadStateLocked()
		d.mu.Unlock()
		return nil
	}

	if !mem.Empty() {
		if err := d.flushRecovered(mem, edit, job); err != nil {
			return err
		}
	} else {
		mem.unref()
	}
	d.mu.Lock()
	logNum := d.versions.newFileNum()
	d.lastLoggedSeq = d.lastSeq
	d.log, err = d.createWALLocked(logNum, true)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if d.events.on {
		d.walCreated(job, logNum)
	}
	d.mu.Lock()
	d.nextMemSize = d.opts.InitialMemTableSize
	d.mem = d.newMemTableLocked(logNum, 0)
	d.updateReadStateLocked()
	d.mu.Unlock()
	edit.HasLogNumber, edit.LogNumber = true, logNum
	edit.HasPrevLogNumber, edit.PrevLogNumber = true, 0
	if err := d.versions.logAndApply(edit, nil); err != nil {
		return err
	}
	d.mu.Lock()
	for _, nf := range edit.NewFiles {
		delete(d.pendingOutputs, nf.Meta.Num)
	}
	d.mu.Unlock()
	if err := d.moveUnreplayedLogs(unreplayed); err != nil {
		return err
	}
	d.deleteObsoleteFiles(true)

	d.bgWG.Add(3)
	go d.flushLoop()
	go d.compactionLoop()
	go d.cleanupLoop()
	d.scheduleCompaction()
	return nil
}

// verifyTables checks, for ParanoidChecks, that every table of the current
// version has the size the MANIFEST records and intact footer, index,
// metaindex and filter blocks (opening it verifies their checksums). Data
// blocks are not read here: every read verifies the blocks it uses.
func (d *DB) verifyTables() error {
	for _, files := range d.versions.current.Levels {
		for _, f := range files {
			path := base.MakeFilepath(d.dirname, base.FileTypeTable, f.Num)
			fi, err := d.fs.Stat(path)
			if errors.Is(err, fs.ErrNotExist) {
				path = d.fs.PathJoin(d.dirname, base.LegacyTableFilename(f.Num))
				fi, err = d.fs.Stat(path)
			}
			if err != nil {
				return fmt.Errorf("strata: check table: %w", err)
			}
			if uint64(fi.Size()) != f.Size {
				return base.CorruptionErrorf(path, fi.Size(), "table is %d bytes, but the MANIFEST says %d",
					fi.Size(), f.Size)
			}
			e, err := d.tables.acquire(f)
			if err != nil {
				return err
			}
			e.release()
		}
	}
	return nil
}

// replayLog applies the batches of log num to mem, writing full memtables
// to level-0 tables recorded in edit (or, read-only, keeping them in
// d.imms), reported as created by job. It returns the memtable to continue
// with and what it replayed.
func (d *DB) replayLog(num uint64, mem *memTable, edit *manifest.VersionEdit, job int) (*memTable, replayStats, error) {
	path := base.MakeFilepath(d.dirname, base.FileTypeLog, num)
	mode := d.opts.WALRecoveryMode
	refuse := func(err error) error {
		if d.opts.ParanoidChecks {
			return fmt.Errorf("strata: recovery refuses a damaged log (ParanoidChecks; run Repair, or open without ParanoidChecks to recover up to the damage): %w", err)
		}
		return fmt.Errorf("strata: recovery (%s) refuses a damaged log (run Repair, or open with WALRecoveryMode WALPointInTime to recover up to the damage): %w", mode, err)
	}
	full := func(m *memTable) error {
		if d.opts.ReadOnly {
			d.imms = append(d.imms, m)
			return nil
		}
		return d.flushRecovered(m, edit, job)
	}
	onDamage := func(err error) error {
		switch {
		case d.opts.ParanoidChecks || mode == WALTolerateCorruptedTailRecords || mode == WALAbsoluteConsistency:
			return refuse(err)
		case mode == WALSkipAnyCorruptedRecords:
			d.logger.Error("WAL damaged: skipping to the next intact record (WALSkipAnyCorruptedRecords)", "file", path, "err", err)
			return nil
		}
		d.logger.Error("WAL damaged: recovery stops here (WALPointInTime); the writes after it are not replayed",
			"file", path, "err", err)
		return errStopReplay
	}
	mem, st, err := replayLogFile(d.opts, path, mem, full, onDamage)
	if err != nil {
		return nil, st, err
	}
	if (st.rangeDels || st.merges) && !d.extendedFlag.Load() {
		// A log with records LevelDB cannot read in a database not marked
		// for them (a log brought from elsewhere): the recovery's edit
		// marks it, before tables holding them are installed.
		edit.SetComparator(manifest.ExtendedComparatorName(d.cmp.Name))
		d.extendedFlag.Store(true)
	}
	if st.merges && !d.mergerRecorded.Load() && d.opts.Merger != nil {
		edit.Merger, edit.HasMerger = d.opts.Merger.Name, true
		d.mergerRecorded.Store(true)
	}
	// LevelDB may have logged batches at or below the MANIFEST's last
	// sequence; the right last sequence is the maximum of both.
	d.lastSeq = max(d.lastSeq, st.maxSeq)
	switch {
	case st.torn && st.tornChecksum:
		// A complete last record whose checksum fails: damage, not a
		// crash's trace.
		err := base.CorruptionErrorf(path, st.tornOffset, "WAL ends in a record whose checksum does not match")
		if st.stopped {
			break // already past the stop: only counted
		}
		if err := onDamage(err); errors.Is(err, errStopReplay) {
			st.stopped, st.stopOffset = true, st.tornOffset
		} else if err != nil {
			return nil, st, err
		}
		st.damage = append(st.damage, LogDamage{File: path, Offset: st.tornOffset, Err: err.Error()})
	case st.torn && mode == WALAbsoluteConsistency:
		return nil, st, refuse(base.CorruptionErrorf(path, st.tornOffset,
			"WAL ends in a torn record of %d bytes (WALAbsoluteConsistency refuses even a crash's trace)", st.tornBytes))
	case st.torn:
		d.recovery.TornTails = append(d.recovery.TornTails, LogDamage{File: path, Offset: st.tornOffset, Bytes: st.tornBytes,
			Err: "torn last record (a write a crash cut short)"})
		d.logger.Warn("WAL ends in a torn record (a crash cut the last write); dropped it",
			"file", path, "offset", st.tornOffset, "bytes", st.tornBytes)
	}
	d.recovery.LogsReplayed++
	d.recovery.Batches += st.batches
	d.recovery.Damage = append(d.recovery.Damage, st.damage...)
	d.logger.Info("replayed WAL", "file", path, "batches", st.batches, "ops", st.ops)
	return mem, st, nil
}

// replayStats describes one replayed log.
type replayStats struct {
	batches, ops int
	maxSeq       uint64 // the largest sequence applied (0 if none)
	// logged: the largest sequence the records reached, counting an empty
	// batch at s as reaching s-1 (a header record, see walGap).
	logged     uint64
	dropped    int64 // bytes skipped as damaged
	torn       bool  // the log ended in a torn record...
	tornOffset int64 // ...at this offset
	tornBytes  int64 // ...of this many bytes
	// tornChecksum: the torn tail starts with a complete record whose
	// checksum fails, which a crash does not leave (record.TornByChecksum).
	tornChecksum bool
	// damage lists the damaged records met (skipped, or the one replay
	// stopped at).
	damage []LogDamage
	// stopped: onDamage stopped the replay at stopOffset; the records after
	// it were only counted: notReplayed of them, notReplayedBytes long.
	stopped          bool
	stopOffset       int64
	notReplayed      int
	notReplayedBytes int64
	// rangeDels, merges: the log holds range deletions, merge operands.
	rangeDels, merges bool
}

// replayLogFile reads the batches of the log at path into mem. When mem
// cannot take the next batch it is handed to full and a new memtable, big
// enough for the batch, takes its place; the last one is returned. A damaged
// record goes to onDamage: nil skips to the next intact record;
// errStopReplay stops applying records there (the rest of the log is only
// counted, see replayStats); another error stops the replay with it. Used by recovery, CatchUp
// and Repair.
func replayLogFile(o *Options, path string, mem *memTable, full func(*memTable) error,
	onDamage func(error) error) (*memTable, replayStats, error) {
	var st replayStats
	f, err := o.FS.Open(path)
	if err != nil {
		return nil, st, fmt.Errorf("strata: open WAL: %w", err)
	}
	defer f.Close()
	r := record.NewReader(f, path)
	damaged := func(err error) error {
		at := damageAt(err)
		st.damage = append(st.damage, LogDamage{File: path, Offset: at, Err: err.Error()})
		if st.stopped {
			return nil // past the stop: only counting
		}
		if err := onDamage(err); !errors.Is(err, errStopReplay) {
			return err
		}
		st.stopped, st.stopOffset = true, at
		return nil
	}
	err = r.Each(damaged, func(rec []byte, off int64) error {
		if st.stopped {
			if isWrite(rec) {
				st.notReplayed++
				st.notReplayedBytes += int64(len(rec))
			}
			return nil
		}
		if err := batch.Validate(rec); err != nil {
			return base.WithFileOffset(err, path, off)
		}
		if seq, n := batch.Seq(rec), uint64(batch.Count(rec)); seq > base.MaxSeq+1 || n > base.MaxSeq+1-seq {
			return base.CorruptionErrorf(path, off, "batch of %d operations at sequence %d runs past the largest sequence number %d",
				n, seq, uint64(base.MaxSeq))
		}
		need := memtableNeed(&Batch{data: rec, count: batch.Count(rec)})
		if !mem.Empty() && (mem.ApproximateMemoryUsage() >= uint64(o.WriteBufferSize) || !memHasRoom(mem, need)) {
			if err := full(mem); err != nil {
				return err
			}
			mem = o.newMemTable(0, need)
		} else if !memHasRoom(mem, need) {
			mem.unref() // empty, and too small for this batch
			mem = o.newMemTable(0, need)
		}
		seq := batch.Seq(rec)
		br, _ := batch.NewReader(rec) // validated above
		for {
			kind, k, v, ok, _ := br.Next()
			if !ok {
				break
			}
			switch kind {
			case base.KindRangeDelete:
				st.rangeDels = true
			case base.KindMerge:
				st.merges = true
			}
			if err := mem.apply(seq, kind, k, v); err != nil {
				return fmt.Errorf("strata: replay %s at offset %d: %w", path, r.Offset(), err)
			}
			st.maxSeq = max(st.maxSeq, seq)
			seq++
			st.ops++
		}
		if seq > 0 {
			st.logged = max(st.logged, seq-1) // seq is now past the batch
		}
		st.batches++
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	st.tornOffset, st.tornBytes, st.torn = r.TornTail()
	st.tornChecksum = r.TornByChecksum()
	st.dropped = r.Dropped()
	if st.torn {
		st.dropped += st.tornBytes
	}
	return mem, st, nil
}

func memHasRoom(m *memTable, need int) bool {
	return m.ApproximateMemoryUsage()+uint64(need) <= uint64(m.ArenaSize())
}

// flushRecovered writes a recovered memtable to a level-0 table and adds it
// to edit.
//
// It consumes the caller's reference to mem. The table is reported as
// created by job.
func (d *DB) flushRecovered(mem *memTable, edit *manifest.VersionEdit, job int) error {
	defer mem.unref()
	d.mu.Lock()
	num := d.newOutputNumLocked()
	d.mu.Unlock()
	meta, err := writeMemTable(d.opts, d.dirname, num, mem.MemTable)
	if err != nil {
		return err
	}
	if meta != nil {
		edit.NewFiles = append(edit.NewFiles, manifest.NewFileEntry{Level: 0, Meta: meta})
		d.tableCreated(job, tableRecovery, meta)
	}
	return nil
}

// Destroy deletes the database in dirname: every file Strata or LevelDB
// would have written there, then the directory if it is empty. Other files
// are left alone. It fails if the database is open.
func Destroy(dirname string, opts *Options) error {
	o := opts.withDefaults()
	names, err := o.FS.List(dirname)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("strata: destroy %s: %w", dirname, err)
	}
	lockPath := base.MakeFilepath(dirname, base.FileTypeLock, 0)
	lock, err := lockDB(o.FS, dirname, "destroy")
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		t, _, ok := base.ParseFilename(name)
		if !ok || t == base.FileTypeLock {
			continue
		}
		if err := o.FS.Remove(o.FS.PathJoin(dirname, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	lock.Close()
	o.FS.Remove(lockPath)
	o.FS.Remove(dirname) // only succeeds when empty, as intended
	return errors.Join(errs...)
}
