package strata

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"slices"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/cache"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/record"
	"github.com/strata-db/strata/internal/sstable"
)

// Open opens the database in dirname, creating it if it does not exist
// (unless opts.ErrorIfNotExists or opts.ReadOnly). nil opts means defaults.
//
// Recovery: the MANIFEST named by CURRENT gives the tables; the logs at or
// after its log number are replayed (a torn last record, the trace of a
// crash, is dropped and logged). The replayed writes are written to level-0
// tables and a fresh MANIFEST and WAL are started, so the old logs can go.
// A read-only open replays the logs into memory and writes nothing.
func Open(dirname string, opts *Options) (db *DB, err error) {
	o := opts.withDefaults()
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
	}
	d.bgCond.L = &d.mu
	defer func() {
		if err != nil {
			d.abandonOpen()
		}
	}()

	currentPath := base.MakeFilepath(dirname, base.FileTypeCurrent, 0)
	if o.ErrorIfNotExists || o.ReadOnly {
		// Refuse before creating anything (directory, LOCK, LOG).
		if _, err := d.fs.Stat(currentPath); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("strata: open %s: database does not exist: %w", dirname, fs.ErrNotExist)
		}
	}
	if !o.ReadOnly {
		if err := d.fs.MkdirAll(dirname, 0o755); err != nil {
			return nil, fmt.Errorf("strata: create directory: %w", err)
		}
		lock, err := d.fs.Lock(base.MakeFilepath(dirname, base.FileTypeLock, 0))
		if err != nil {
			return nil, fmt.Errorf("strata: open %s: database is in use: %w", dirname, err)
		}
		d.lock = lock
	}
	if d.logger, d.infoLog, err = openInfoLog(o, dirname); err != nil {
		return nil, err
	}
	if o.BlockCacheSize > 0 {
		d.blockCache = cache.New(o.BlockCacheSize)
	}
	tableCapacity := max(o.MaxOpenFiles-10, 10)
	if o.ReadOnly {
		// A read-only handle pins every table it may read (catchup.go).
		tableCapacity = math.MaxInt32
	}
	d.tables = newTableCache(dirname, d.fs, d.cmp, d.blockCache, tableCapacity)
	d.icmp = d.internalCompare
	if d.cmp == DefaultComparer {
		d.icmp = base.InternalCompareBytewise
	}
	d.openTableIter = d.tables.newIter
	d.versions = newVersionSet(versionSetConfig{
		fs: d.fs, dir: dirname, cmp: d.cmp, logger: d.logger, mu: &d.mu,
		maxManifestSize: o.maxManifestSize,
		lastSeq:         func() uint64 { return d.lastSeq },
		installed:       d.updateReadStateLocked,
		obsolete:        d.scheduleCleanup,
	})

	// Checked again now that the lock is held.
	if _, err := d.fs.Stat(currentPath); errors.Is(err, fs.ErrNotExist) {
		if o.ErrorIfNotExists || o.ReadOnly {
			return nil, fmt.Errorf("strata: open %s: database does not exist: %w", dirname, fs.ErrNotExist)
		}
		if err := d.createDB(); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("strata: open %s: %w", dirname, err)
	} else if o.ErrorIfExists {
		return nil, fmt.Errorf("strata: open %s: database already exists: %w", dirname, fs.ErrExist)
	}

	lastSeq, err := d.versions.recover()
	if err != nil {
		return nil, err
	}
	d.lastSeq = lastSeq
	if err := d.recoverLogsAndStart(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.logger.Info("database opened", "dir", dirname, "read-only", o.ReadOnly,
		"last-seq", d.lastSeq, "files", d.versions.current.String())
	d.mu.Unlock()
	return d, nil
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
	for _, num := range logs {
		d.versions.markFileNumUsed(num)
	}
	chain := walChain{d: d}
	for _, num := range logs {
		gap, err := chain.stop(num)
		if err != nil {
			return err
		}
		if gap {
			// The logs from num on are left out; unless read-only, the new
			// MANIFEST below makes them obsolete.
			break
		}
		var st replayStats
		if mem, st, err = d.replayLog(num, mem, edit); err != nil {
			return err
		}
		chain.replayed(num, st)
	}
	d.visibleSeq.Store(d.lastSeq)

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
		if err := d.flushRecovered(mem, edit); err != nil {
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
	d.mem = d.opts.newMemTable(logNum, 0)
	d.mu.Lock()
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
// d.imms). It returns the memtable to continue with and what it replayed.
func (d *DB) replayLog(num uint64, mem *memTable, edit *manifest.VersionEdit) (*memTable, replayStats, error) {
	path := base.MakeFilepath(d.dirname, base.FileTypeLog, num)
	full := func(m *memTable) error {
		if d.opts.ReadOnly {
			d.imms = append(d.imms, m)
			return nil
		}
		return d.flushRecovered(m, edit)
	}
	onDamage := func(err error) error {
		if d.opts.ParanoidChecks {
			return err
		}
		// LevelDB's default: skip the damage, keep what follows, and say
		// so loudly. ParanoidChecks refuses instead.
		d.logger.Error("WAL damaged: skipping to the next intact record (ParanoidChecks refuses instead)",
			"file", path, "err", err)
		return nil
	}
	mem, st, err := replayLogFile(d.opts, path, mem, full, onDamage)
	if err != nil {
		return nil, st, err
	}
	// LevelDB may have logged batches at or below the MANIFEST's last
	// sequence; the right last sequence is the maximum of both.
	d.lastSeq = max(d.lastSeq, st.maxSeq)
	if st.tornChecksum && d.opts.ParanoidChecks {
		return nil, st, base.CorruptionErrorf(path, st.tornOffset, "WAL ends in a record whose checksum does not match")
	}
	if st.torn {
		d.logger.Warn("WAL ends in a torn record (a crash cut the last write); dropped it",
			"file", path, "offset", st.tornOffset, "bytes", st.tornBytes)
	}
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
}

// replayLogFile reads the batches of the log at path into mem. When mem
// cannot take the next batch it is handed to full and a new memtable, big
// enough for the batch, takes its place; the last one is returned. A damaged
// record goes to onDamage: a non-nil result stops the replay with that
// error, nil skips to the next intact record. Used by recovery, CatchUp
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
	err = r.Each(onDamage, func(rec []byte, off int64) error {
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
			if err := mem.Add(seq, kind, k, v); err != nil {
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
// It consumes the caller's reference to mem.
func (d *DB) flushRecovered(mem *memTable, edit *manifest.VersionEdit) error {
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
	lock, err := o.FS.Lock(lockPath)
	if err != nil {
		return fmt.Errorf("strata: destroy %s: database is in use: %w", dirname, err)
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
