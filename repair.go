package strata

import (
	"bytes"
	"cmp"
	"fmt"
	"log/slog"
	"slices"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/rangedel"
	"github.com/strata-db/strata/internal/sstable"
)

// RepairReport says what Repair kept and what it could not save.
type RepairReport struct {
	// Tables is the number of tables in the rebuilt database.
	Tables int
	// Entries is the number of entries in those tables.
	Entries uint64
	// LogsConverted counts write-ahead logs turned into tables.
	LogsConverted int
	// DamagedTables counts tables that were only partly readable (their
	// intact blocks were kept) or not readable at all.
	DamagedTables int
	// DroppedBytes is how much of the logs was unreadable.
	DroppedBytes int64
	// RecordsNotConverted counts the intact log records after the first
	// damaged one, in its log and the later logs, that were not converted:
	// as recovery's WALPointInTime, Repair stops at damage in the logs so
	// that what it keeps of them is a prefix of the writes. Their logs are
	// kept in lost/.
	RecordsNotConverted int
	// Holes are the key ranges whose newest data was in the damaged table
	// blocks (or unreadable tables) Repair had to drop: older versions of
	// those keys would show through, so reads there fail with ErrHole until
	// ClearHoles. Holes recorded by an earlier Repair are kept, not listed
	// here.
	Holes []Hole
	// Problems lists each damage found, with file and offset.
	Problems []string
	// Extended: the rebuilt database holds range deletions or merge
	// operands, so its MANIFEST carries the mark that makes C++ LevelDB
	// refuse it (see Extensions). Merger is the merge operator's name the
	// rebuilt MANIFEST records ("" if none).
	Extended bool
	Merger   string
}

// Repair rebuilds the database in dirname from whatever survives, when it
// no longer opens (a lost or damaged MANIFEST or CURRENT, damaged tables or
// logs), as LevelDB's RepairDB does:
//
//  1. every write-ahead log is replayed, skipping damaged records, into new
//     tables;
//  2. every table is scanned, verifying every checksum; a table with
//     damaged blocks is rewritten with its intact blocks' entries (and its
//     range tombstones);
//  3. a new MANIFEST lists every table, its bounds covering its range
//     tombstones, and CURRENT points at it;
//  4. the database is opened and fully compacted, which restores the level
//     invariants (the tables' key ranges overlap arbitrarily at first).
//
// Replaced files (old MANIFESTs, converted logs, damaged tables) are moved
// to dirname/lost, not deleted. Data in damaged blocks or records is lost;
// everything intact is kept, and nothing is invented. opts must name the
// database's comparator if it is not the default.
//
// Range deletions and merge operands are kept like the rest, from tables
// (their range-deletion blocks, also when the filter block is damaged) and
// logs alike. When any survives, the new MANIFEST is marked as using them
// (see Extensions), and records the merge operator when merge operands
// survive: opts.Merger, or else the operator a MANIFEST in dirname
// records (the built-in one of that name, see BuiltinMerger). opts.Merger
// of another name than a MANIFEST records is refused, and so is an
// operator recorded but not built in when opts.Merger is nil, before
// anything is changed. Merge operands whose operator is known nowhere
// (the MANIFESTs are gone, and opts.Merger is nil) are kept, but the
// rebuilt database is not compacted and the error wraps ErrNoMerger: run
// Repair again with opts.Merger. A table whose range tombstones are
// unreadable (a damaged metaindex or range-deletion block) in a database
// that uses range deletions is a hole (see RepairReport.Holes) over its
// key range as the old MANIFEST gives it, or over every key when none
// does: the deletions it held may have been undone.
func Repair(dirname string, opts *Options) (*RepairReport, error) {
	o := opts.withDefaults()
	if o.ReadOnly {
		return nil, ErrReadOnly
	}
	lock, err := lockDB(o.FS, dirname, "repair")
	if err != nil {
		return nil, err
	}
	r := &repairer{opts: o, fs: o.FS, dir: dirname, report: &RepairReport{}}
	logger, infoLog, err := openInfoLog(o, dirname)
	if err != nil {
		lock.Close()
		return nil, err
	}
	r.logger = logger
	r.chain = walChain{fs: r.fs, dir: r.dir, logger: logger}
	err = r.run()
	if infoLog != nil {
		infoLog.Close()
	}
	lock.Close()
	if err != nil {
		return r.report, err
	}
	if r.merges && r.merger == nil {
		return r.report, fmt.Errorf("strata: repair %s: the database holds merge operands, and no MANIFEST records their operator: "+
			"it was rebuilt but not compacted; run Repair again with Options.Merger set to the operator, which records it: %w", dirname, ErrNoMerger)
	}
	// Compact everything so the tree obeys the level invariants again.
	db, err := Open(dirname, &Options{
		Comparator: o.Comparator, Merger: r.merger, FS: o.FS, Logger: o.Logger, WriteBufferSize: o.WriteBufferSize,
		BlockSize: o.BlockSize, BlockRestartInterval: o.BlockRestartInterval, BlockCacheSize: o.BlockCacheSize,
		BloomBitsPerKey: o.BloomBitsPerKey, Compression: o.Compression, TargetFileSize: o.TargetFileSize,
		LevelSizeMultiplier: o.LevelSizeMultiplier, LevelSizing: o.LevelSizing, BaseLevelSize: o.BaseLevelSize,
		MaxOpenFiles: o.MaxOpenFiles, ErrorIfNotExists: true,
	})
	if err != nil {
		return r.report, fmt.Errorf("strata: repair %s: open the rebuilt database: %w", dirname, err)
	}
	if err := db.CompactRange(nil, nil); err != nil {
		db.Close()
		return r.report, fmt.Errorf("strata: repair %s: compact the rebuilt database: %w", dirname, err)
	}
	return r.report, db.Close()
}

type repairer struct {
	// replaced lists the files the rebuilt database no longer uses, to be
	// disposed of once its MANIFEST is written (see dispose).
	replaced []replacedFile
	// manifestHealthy: the MANIFEST CURRENT named replayed cleanly.
	manifestHealthy bool
	// old is the state that MANIFEST describes (nil if it did not replay):
	// the key ranges of unreadable tables, and which logs are obsolete.
	old *manifest.State
	// stopped: a damaged log record was met, or a log that ends before
	// the next one says it did; the records after it are not converted
	// (see RepairReport.RecordsNotConverted).
	stopped bool
	// chain checks the logs' headers (see walGap).
	chain walChain
	// merger is the merge operator of the rebuilt database: Options.Merger,
	// or the built-in one a MANIFEST records (nil: none known).
	merger *Merger
	// rangeDels and merges: a salvaged table or log holds range deletions,
	// merge operands. extended: a MANIFEST marks the database as using
	// them.
	rangeDels, merges, extended bool
	// tombsLost lists the tables whose range tombstones, if they had any,
	// could not be read: holes if the database uses range deletions.
	tombsLost []lostTombstones
	opts      *Options // with defaults applied
	fs        FS
	dir       string
	logger    *slog.Logger
	report    *RepairReport
	nextNum   uint64
	maxSeq    uint64
	tables    []*manifest.FileMetadata
}

func (r *repairer) problem(err error) {
	r.report.Problems = append(r.report.Problems, err.Error())
	r.logger.Warn("repair: damage found", "err", err)
}

func (r *repairer) run() error {
	names, err := r.fs.List(r.dir)
	if err != nil {
		return fmt.Errorf("strata: repair: %w", err)
	}
	var logs, tables []uint64
	var manifests []string
	tableNames := map[uint64]string{}
	for _, name := range names {
		t, num, ok := base.ParseFilename(name)
		if !ok {
			continue
		}
		r.nextNum = max(r.nextNum, num+1)
		switch t {
		case base.FileTypeLog:
			logs = append(logs, num)
		case base.FileTypeTable:
			tables = append(tables, num)
			tableNames[num] = name
		case base.FileTypeManifest:
			manifests = append(manifests, name)
		}
	}
	r.nextNum = max(r.nextNum, 2)
	st, err := manifest.Replay(r.fs, r.dir, manifest.ReplayOptions{Comparer: r.opts.Comparator})
	r.manifestHealthy = err == nil && !st.Torn
	if err == nil {
		r.old = st
	}
	if err := r.resolveMerger(manifests); err != nil {
		return err
	}
	slices.Sort(logs)
	slices.Sort(tables)

	for _, num := range logs {
		if err := r.convertLog(num); err != nil {
			return err
		}
	}
	if r.report.RecordsNotConverted > 0 {
		r.logger.Warn("repair: stopped at damage in the logs; later records were not converted",
			"records", r.report.RecordsNotConverted)
	}
	for _, num := range tables {
		if err := r.scanTable(num, tableNames[num]); err != nil {
			return err
		}
	}
	if r.extended || r.rangeDels || r.merges {
		for _, l := range r.tombsLost {
			r.hole(l.num, nil, nil, fmt.Sprintf("table %s: its range deletions are unreadable (%v), so what they deleted may show again", l.name, l.err))
		}
	}
	// The holes first: once the new MANIFEST is in place, reads must
	// already fail in them.
	old, err := readHoles(r.fs, r.dir)
	if err != nil {
		return fmt.Errorf("strata: repair: %w", err)
	}
	if len(r.report.Holes) > 0 {
		if err := writeHoles(r.fs, r.dir, append(old, r.report.Holes...)); err != nil {
			return fmt.Errorf("strata: repair: %w", err)
		}
		for _, h := range r.report.Holes {
			r.logger.Error("repair: lost the newest data of a key range; reads there fail until ClearHoles", "hole", h.String())
		}
	}
	if err := r.writeManifest(manifests); err != nil {
		return err
	}
	r.dispose()
	return nil
}

// replacedFile is a file the rebuilt database no longer uses; damaged says
// it held something the rebuild could not keep.
type replacedFile struct {
	name    string
	damaged bool
}

// replace notes a file the rebuilt database will not use.
func (r *repairer) replace(name string, damaged bool) {
	r.replaced = append(r.replaced, replacedFile{name, damaged})
}

// dispose gets rid of the replaced files once the new MANIFEST is durable
// (before, a crash leaves them in place for the next attempt): a file with
// damage, whose unreadable part may still be of use to someone, is moved
// to lost/; an intact one, everything of which is now in the rebuilt
// tables, is deleted — so repairing a healthy database leaves nothing
// behind.
func (r *repairer) dispose() {
	for _, f := range r.replaced {
		if f.damaged {
			if _, err := moveToLost(r.fs, r.dir, f.name, ""); err != nil {
				r.logger.Warn("repair: cannot move file to lost/", "file", f.name, "err", err)
			}
			continue
		}
		if err := r.fs.Remove(r.fs.PathJoin(r.dir, f.name)); err != nil {
			r.logger.Warn("repair: cannot delete a replaced file", "file", f.name, "err", err)
		}
	}
}

func (r *repairer) newNum() uint64 {
	n := r.nextNum
	r.nextNum++
	return n
}

// convertLog replays log num into new tables, up to its first damaged
// record, and notes it replaced. After damage (in it or an earlier log) the
// rest is only counted and the log kept in lost/. A log the old MANIFEST
// retired, whose writes are in its tables, is not converted again.
func (r *repairer) convertLog(num uint64) error {
	name := base.MakeFilename(base.FileTypeLog, num)
	path := r.fs.PathJoin(r.dir, name)
	if r.old != nil && num < r.old.LogNumber && num != r.old.PrevLogNumber {
		r.replace(name, false)
		return nil
	}
	if !r.stopped {
		gap, err := r.chain.stop(num)
		if err != nil {
			return err
		}
		if gap {
			r.problem(fmt.Errorf("strata: repair: %s follows a log that ends early (damage, or a power cut): converting it would keep later writes without earlier ones", name))
			r.stopped = true
		}
	}
	if r.stopped {
		n, _, err := countLogRecords(r.opts, path)
		if err != nil {
			return err
		}
		r.report.RecordsNotConverted += n
		r.replace(name, true)
		return nil
	}
	full := func(m *memTable) error {
		defer m.unref()
		meta, err := writeMemTable(r.opts, r.dir, r.newNum(), m.MemTable)
		if err != nil {
			return err
		}
		if meta != nil {
			r.tables = append(r.tables, meta)
			r.report.Entries += uint64(m.Len())
		}
		return nil
	}
	onDamage := func(err error) error { r.problem(err); return errStopReplay }
	mem, st, err := replayLogFile(r.opts, path, r.opts.newMemTable(0, 0), full, onDamage)
	if err != nil {
		return err
	}
	if !mem.Empty() {
		if err := full(mem); err != nil {
			return err
		}
	} else {
		mem.unref()
	}
	if st.torn && st.tornChecksum {
		r.problem(base.CorruptionErrorf(path, st.tornOffset, "log ends in a record whose checksum does not match"))
		st.stopped = true
	}
	r.stopped = r.stopped || st.stopped
	r.rangeDels = r.rangeDels || st.rangeDels
	r.merges = r.merges || st.merges
	r.chain.replayed(num, st)
	r.maxSeq = max(r.maxSeq, st.maxSeq)
	r.report.DroppedBytes += st.dropped
	r.report.RecordsNotConverted += st.notReplayed
	r.report.LogsConverted++
	r.replace(name, st.dropped > 0 || st.stopped)
	return nil
}

// scanTable reads every block of a table. An intact table is kept as is; a
// damaged one is rewritten with its intact entries and archived.
func (r *repairer) scanTable(num uint64, name string) error {
	path := r.fs.PathJoin(r.dir, name)
	fi, err := r.fs.Stat(path)
	if err != nil {
		return fmt.Errorf("strata: repair: %w", err)
	}
	f, err := r.fs.Open(path)
	if err != nil {
		return fmt.Errorf("strata: repair: %w", err)
	}
	defer f.Close()
	ro := sstable.ReaderOptions{Comparer: r.opts.Comparator, FileName: name, VerifyChecksums: true}
	rd, err := sstable.NewReader(f, fi.Size(), ro)
	metaErr := err
	if err != nil {
		// A damaged metaindex or filter block costs only the filter:
		// read the table without them and rewrite it (as LevelDB, which
		// ignores errors in the meta blocks).
		ro.IgnoreMeta = true
		if rd, err = sstable.NewReader(f, fi.Size(), ro); err != nil {
			r.problem(metaErr)
			r.report.DamagedTables++
			r.replace(name, true)
			r.hole(num, nil, nil, fmt.Sprintf("table %s is unreadable: %v", name, metaErr))
			return nil
		}
	}
	defer rd.Close()
	tombs := r.tableTombstones(num, name, rd, metaErr)

	meta := &manifest.FileMetadata{Num: num, Size: uint64(fi.Size())}
	note := func(ikey []byte) {
		if meta.Smallest == nil {
			meta.Smallest = append([]byte(nil), ikey...)
		}
		meta.Largest = append(meta.Largest[:0], ikey...)
		if _, seq, kind, ok := base.ParseInternalKey(ikey); ok {
			r.maxSeq = max(r.maxSeq, seq)
			r.merges = r.merges || kind == base.KindMerge
		}
	}
	res, err := rd.Salvage(func(ikey, _ []byte) error { note(ikey); return nil })
	if err != nil {
		return err
	}
	r.report.Entries += res.Entries
	if res.DamagedBlocks == 0 && metaErr == nil {
		// The table's bounds cover its tombstones, as when it was written.
		meta.Smallest, meta.Largest = sstable.WidenBounds(r.opts.Comparator, meta.Smallest, meta.Largest, tombs)
		if meta.Smallest != nil {
			r.tables = append(r.tables, meta)
		}
		return nil
	}
	if metaErr != nil {
		r.problem(metaErr)
	}
	if res.FirstError != nil {
		r.problem(res.FirstError)
	}
	for _, l := range res.Lost {
		start := l.After
		if start != nil && l.AfterIsEntry && r.opts.Comparator.Name == DefaultComparer.Name {
			// The user key of an intact entry is not at risk (the lost
			// entries after it hold only older versions of it): the hole
			// starts at the next key, that key followed by 0x00.
			start = base.AppendInternalKey(nil, append(bytes.Clone(base.UserKey(l.After)), 0), base.MaxSeq, base.KindSet)
		}
		r.hole(num, start, l.Through, fmt.Sprintf("table %s: %v", name, l.Err))
	}
	r.report.DamagedTables++
	// Rewrite the intact entries into a new table.
	out := r.newNum()
	tw, err := newTableFile(r.fs, base.MakeFilepath(r.dir, base.FileTypeTable, out), out, r.opts.writerOptions(), r.opts.BytesPerSync)
	if err != nil {
		return err
	}
	if _, err := rd.Salvage(func(ikey, value []byte) error { return tw.w.Add(ikey, value) }); err != nil {
		tw.abandon()
		return err
	}
	for _, t := range tombs {
		tw.w.AddRangeDel(t.Start, t.End, t.Seq)
	}
	newMeta, err := tw.finish()
	if err != nil {
		return err
	}
	if newMeta != nil {
		r.tables = append(r.tables, newMeta)
	}
	r.replace(name, true)
	return nil
}

// hole records that the entries of table num with internal keys from after
// to through are lost (nil: open on that side). In user keys, both ends
// included, within the table's bounds when the old MANIFEST gives them (an
// unreadable table's whole range then).
func (r *repairer) hole(num uint64, after, through []byte, source string) {
	h := Hole{Source: source}
	if after != nil {
		h.Start = bytes.Clone(base.UserKey(after))
	}
	if through != nil {
		h.End = bytes.Clone(base.UserKey(through))
	}
	// The table's bounds, when the old MANIFEST gives them, narrow the
	// range: the index's keys may reach past the table's last key (the
	// last block's index key is a short successor of it).
	if r.old != nil {
		ucmp := r.opts.Comparator.Compare
		for _, files := range r.old.Version.Levels {
			for _, f := range files {
				if f.Num != num {
					continue
				}
				if lo := f.SmallestUserKey(); h.Start == nil || ucmp(h.Start, lo) < 0 {
					h.Start = bytes.Clone(lo)
				}
				if hi := f.LargestUserKey(); h.End == nil || ucmp(h.End, hi) > 0 {
					h.End = bytes.Clone(hi)
				}
			}
		}
	}
	r.report.Holes = append(r.report.Holes, h)
}

// writeManifest writes a MANIFEST listing every kept table in level 0,
// points CURRENT at it, and archives the old MANIFESTs.
func (r *repairer) writeManifest(oldManifests []string) error {
	num := r.newNum()
	edit := &manifest.VersionEdit{
		HasComparator: true, Comparator: r.opts.Comparator.Name,
		HasLogNumber: true, LogNumber: 0,
		HasNextFileNumber: true, NextFileNumber: r.nextNum,
		HasLastSequence: true, LastSequence: r.maxSeq,
	}
	// What LevelDB cannot read marks the database (manifest.Create puts
	// the operator's name in a record after the marked comparator's).
	if r.rangeDels || r.merges {
		edit.Comparator = manifest.ExtendedComparatorName(r.opts.Comparator.Name)
		r.report.Extended = true
	}
	if r.merges && r.merger != nil {
		edit.Merger, edit.HasMerger = r.merger.Name, true
		r.report.Merger = r.merger.Name
	}
	for _, t := range r.tables {
		edit.NewFiles = append(edit.NewFiles, manifest.NewFileEntry{Level: 0, Meta: t})
	}
	if err := manifest.CreateCurrent(r.fs, r.dir, num, edit); err != nil {
		return fmt.Errorf("strata: repair: %w", err)
	}
	// The old MANIFESTs: kept in lost/ unless the database was healthy
	// (nothing damaged, and the MANIFEST CURRENT named replayed cleanly).
	healthy := r.manifestHealthy && len(r.report.Problems) == 0
	for _, name := range oldManifests {
		r.replace(name, !healthy)
	}
	r.report.Tables = len(r.tables)
	r.logger.Info("repair: wrote new MANIFEST", "file", base.MakeFilename(base.FileTypeManifest, num), "tables", len(r.tables), "last-seq", r.maxSeq)
	return nil
}

// lostTombstones is a table whose range tombstones could not be read.
type lostTombstones struct {
	num  uint64
	name string
	err  error
}

// tableTombstones returns the range tombstones of table num (name), read
// through rd, noting that the database uses range deletions when there are
// any. A Reader opened without its meta blocks (metaErr: why) reads the
// range-deletion block on its own; when that fails too, the tombstones,
// if any, are lost (see tombsLost).
func (r *repairer) tableTombstones(num uint64, name string, rd *sstable.Reader, metaErr error) []rangedel.Tombstone {
	var ts []rangedel.Tombstone
	if metaErr == nil {
		ts = rd.RangeDels().Tombstones()
	} else {
		entries, _, found, err := rd.RangeDelBlock()
		switch {
		case err != nil:
			r.tombsLost = append(r.tombsLost, lostTombstones{num, name, err})
			r.rangeDels = r.rangeDels || found
		default:
			for _, e := range entries {
				ts = append(ts, rangedel.Tombstone{Start: e.Start, End: e.End, Seq: e.Seq})
			}
		}
	}
	for _, t := range ts {
		r.maxSeq = max(r.maxSeq, t.Seq)
	}
	r.rangeDels = r.rangeDels || len(ts) > 0
	return ts
}

// resolveMerger settles the merge operator of the rebuilt database (see
// Repair) and whether a MANIFEST marks the database as using range
// deletions or merges: from the MANIFEST CURRENT names, or when it did not
// replay, from every MANIFEST in the directory (manifests), read past
// damage. It fails, before anything is changed, on an operator the
// database records that Options.Merger contradicts or, unset, that is not
// built in.
func (r *repairer) resolveMerger(manifests []string) error {
	recorded := ""
	if r.old != nil {
		recorded, r.extended = r.old.Merger, r.old.Extended
	} else {
		// The newest MANIFEST first: the name in the newest that has one.
		slices.SortFunc(manifests, func(a, b string) int {
			_, na, _ := base.ParseFilename(a)
			_, nb, _ := base.ParseFilename(b)
			return cmp.Compare(nb, na)
		})
		for _, name := range manifests {
			st, _ := manifest.ReplayFile(r.fs, r.fs.PathJoin(r.dir, name), manifest.ReplayOptions{
				Comparer: r.opts.Comparator,
				OnDamage: func(error) {},
			})
			if st == nil {
				continue
			}
			r.extended = r.extended || st.Extended
			if recorded == "" {
				recorded = st.Merger
			}
		}
	}
	r.merger = r.opts.Merger
	switch {
	case recorded == "":
	case r.merger != nil && r.merger.Name != recorded:
		return fmt.Errorf("strata: repair %s: the database records merge operator %q, but Options.Merger is %q (nothing was changed)",
			r.dir, recorded, r.merger.Name)
	case r.merger == nil:
		if r.merger = BuiltinMerger(recorded); r.merger == nil {
			return fmt.Errorf("strata: repair %s: the database records merge operator %q, which is not built in: set Options.Merger to it (nothing was changed): %w",
				r.dir, recorded, ErrNoMerger)
		}
	}
	return nil
}
