package strata

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"slices"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/rangedel"
	"github.com/strata-db/strata/internal/sstable"
)

// IngestOptions tune DB.Ingest.
type IngestOptions struct {
	// Move hard-links each table into the database and removes the
	// original path (falling back to a copy when a link is impossible,
	// e.g. across file systems). Otherwise tables are copied.
	Move bool
}

// externalTable is a table offered for ingestion, as inspected.
type externalTable struct {
	path              string
	size              uint64
	smallest, largest []byte // internal keys, the range tombstones' included
	allSeqZero        bool   // written by TableWriter (or equivalent)
	rangeDels         *rangedel.Set
}

// Ingest is IngestContext without cancellation.
func (d *DB) Ingest(paths []string, o *IngestOptions) error {
	return d.IngestContext(context.Background(), paths, o)
}

// IngestContext adds the tables at paths (built with NewTableWriter, or any
// LevelDB-format tables with the same comparator) to the database,
// atomically: a reader sees all of them or none, and none before Ingest
// returns. Their entries are newer than every write made before Ingest:
// they shadow older values of the same keys.
//
// The tables must not overlap each other. Each is checked whole first
// (every checksum, key order). Then, with writes held back: writes still
// in memtables that overlap the tables are flushed; a table whose keys
// overlap nothing in the database, while no snapshot is open, is linked or
// copied in as it is and placed in the last level; any other table is
// rewritten with a sequence number newer than every existing write and
// placed in the deepest level above every table it overlaps (level 0 if
// level 0 overlaps it). Automatic compactions wait meanwhile, and so do
// writes while the tables are placed.
//
// Once ctx is done it stops, at the next table or within 1024 entries of
// a table it is rewriting, removes what it put in the database directory,
// and returns context.Cause(ctx): the database and the files at paths are
// as before the call. After the MANIFEST records the tables,
// which is the last step, it no longer stops. The paths and o are only read
// during the call. It returns ErrReadOnly on a read-only handle and
// ErrClosed if the database is closed under it. It runs alone, as
// CompactRangeContext.
func (d *DB) IngestContext(ctx context.Context, paths []string, o *IngestOptions) error {
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	if o == nil {
		o = &IngestOptions{}
	}
	if len(paths) == 0 {
		return nil
	}
	exts := make([]*externalTable, 0, len(paths))
	for _, p := range paths {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		e, err := d.inspectExternalTable(ctx, p)
		if err != nil {
			return err
		}
		if e != nil {
			exts = append(exts, e)
		}
	}
	ucmp := d.cmp.Compare
	slices.SortFunc(exts, func(a, b *externalTable) int {
		return ucmp(base.UserKey(a.smallest), base.UserKey(b.smallest))
	})
	for i := 1; i < len(exts); i++ {
		if ucmp(base.UserKey(exts[i-1].largest), base.UserKey(exts[i].smallest)) >= 0 {
			return fmt.Errorf("strata: ingest: tables %s and %s overlap", exts[i-1].path, exts[i].path)
		}
	}
	if len(exts) == 0 {
		return nil
	}
	for _, e := range exts {
		if e.rangeDels != nil {
			if err := d.ensureExtended(false); err != nil {
				return err
			}
			break
		}
	}

	d.mu.Lock()
	err := d.acquireManualLocked(ctx)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		d.mu.Lock()
		d.releaseManualLocked()
		d.mu.Unlock()
		d.scheduleCompaction()
	}()
	return d.leadExclusive(func() error { return d.ingestLocked(ctx, exts, o) })
}

// inspectExternalTable reads a whole table, checking it, and returns its
// key range (nil for an empty table), or context.Cause(ctx) once ctx is
// done.
func (d *DB) inspectExternalTable(ctx context.Context, path string) (*externalTable, error) {
	return inspectTable(ctx, d.fs, d.cmp, path)
}

// inspectTable is DB.inspectExternalTable on a file system and comparator.
func inspectTable(ctx context.Context, fs FS, cmp *base.Comparer, path string) (*externalTable, error) {
	fi, err := fs.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("strata: ingest: %w", err)
	}
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("strata: ingest: %w", err)
	}
	defer f.Close()
	r, err := sstable.NewReader(f, fi.Size(), sstable.ReaderOptions{Comparer: cmp, FileName: path, VerifyChecksums: true})
	if err != nil {
		return nil, fmt.Errorf("strata: ingest: %w", err)
	}
	defer r.Close()
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("strata: ingest: %w", err)
	}
	e := &externalTable{path: path, size: uint64(fi.Size()), allSeqZero: true}
	it := r.NewIter()
	for n, ok := 0, it.First(); ok; ok = it.Next() {
		if n++; n&1023 == 0 && ctx.Err() != nil {
			it.Close()
			return nil, context.Cause(ctx)
		}
		if e.smallest == nil {
			e.smallest = slices.Clone(it.Key())
		}
		if base.Trailer(it.Key())>>8 != 0 {
			e.allSeqZero = false
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("strata: ingest: %w", err)
	}
	if e.smallest != nil {
		it = r.NewIter()
		it.Last()
		e.largest = slices.Clone(it.Key())
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("strata: ingest: %w", err)
		}
	}
	// Range tombstones (from TableWriter.DeleteRange, or RocksDB's
	// SstFileWriter) widen the table's range to theirs.
	if e.rangeDels = r.RangeDels(); e.rangeDels != nil {
		frags := e.rangeDels.Fragments()
		first, last := frags[0], frags[len(frags)-1]
		lo := base.AppendInternalKey(nil, first.Start, first.Seqs[0], base.KindRangeDelete)
		hi := base.AppendInternalKey(nil, last.End, base.MaxSeq, base.KindRangeDelete)
		if e.smallest == nil || base.InternalCompare(cmp.Compare, lo, e.smallest) < 0 {
			e.smallest = lo
		}
		if e.largest == nil || base.InternalCompare(cmp.Compare, hi, e.largest) > 0 {
			e.largest = hi
		}
		for _, f := range frags {
			if f.Seqs[0] != 0 {
				e.allSeqZero = false
			}
		}
	}
	if e.smallest == nil {
		return nil, nil
	}
	return e, nil
}

// ingestLocked runs as the exclusive commit leader, with the manual
// compaction slot held (so the version only changes by our own edits and by
// flushes of memtables we wait for). Until it writes the MANIFEST, it stops
// once ctx is done.
func (d *DB) ingestLocked(ctx context.Context, exts []*externalTable, o *IngestOptions) (err error) {
	d.mu.Lock()
	if d.memOverlapsLocked(exts) {
		if err := d.makeRoomForWriteLocked(flushReasonIngest, 0); err != nil {
			d.mu.Unlock()
			return err
		}
		stop := d.wakeOnDone(ctx)
		for len(d.imms) > 0 && d.bgErr == nil && !d.closed && ctx.Err() == nil {
			d.scheduleFlush()
			d.bgCond.Wait()
		}
		stop()
		if err := d.bgErr; err != nil || d.closed || ctx.Err() != nil {
			switch {
			case err != nil:
			case d.closed:
				err = ErrClosed
			default:
				err = context.Cause(ctx)
			}
			d.mu.Unlock()
			return err
		}
	}
	v := d.versions.current
	type placement struct {
		level   int
		rewrite bool
		num     uint64
	}
	places := make([]placement, len(exts))
	var newSeq uint64
	for i, e := range exts {
		lo, hi := base.UserKey(e.smallest), base.UserKey(e.largest)
		first := -1 // the shallowest level overlapping e
		for level := 0; level < manifest.NumLevels && first < 0; level++ {
			if v.OverlapInLevel(level, lo, hi) {
				first = level
			}
		}
		p := placement{level: manifest.NumLevels - 1}
		if first >= 0 {
			p.level = max(first-1, 0)
		}
		p.rewrite = first >= 0 || d.snapshots.n > 0 || !e.allSeqZero
		if p.rewrite && newSeq == 0 {
			d.lastSeq++
			newSeq = d.lastSeq
		}
		p.num = d.newOutputNumLocked()
		places[i] = p
	}
	if newSeq > 0 {
		for _, e := range exts {
			lo, hi := base.UserKey(e.smallest), base.UserKey(e.largest)
			d.recordWriteLocked(keyRange{bound{key: lo}, bound{key: hi, after: true}}, newSeq)
		}
	}
	d.mu.Unlock()
	manifestTried := false
	defer func() {
		d.mu.Lock()
		for _, p := range places {
			delete(d.pendingOutputs, p.num)
		}
		d.mu.Unlock()
		// After a failed MANIFEST write the tables stay: the record may
		// have reached the disk anyway (the next open deletes them if not).
		if err != nil && !manifestTried {
			for _, p := range places {
				d.fs.Remove(base.MakeFilepath(d.dirname, base.FileTypeTable, p.num))
			}
		}
	}()

	edit := &manifest.VersionEdit{}
	var metas []*manifest.FileMetadata
	for i, e := range exts {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		p := places[i]
		var meta *manifest.FileMetadata
		if p.rewrite {
			meta, err = d.rewriteWithSeq(ctx, e, p.num, newSeq)
		} else {
			meta, err = d.linkOrCopyTable(e, p.num, o.Move)
		}
		if err != nil {
			return err
		}
		edit.AddFile(p.level, meta)
		metas = append(metas, meta)
	}
	if ctx.Err() != nil { // the last point before the tables are in the database
		return context.Cause(ctx)
	}
	if d.events.on {
		job := d.events.newJob()
		for _, meta := range metas {
			d.tableCreated(job, tableIngesting, meta)
		}
	}
	manifestTried = true
	if err := d.versions.logAndApply(edit, func() { d.ingests++ }); err != nil {
		d.mu.Lock()
		notify := d.setBGErrLocked("ingest", fmt.Errorf("strata: ingest: %w", err))
		d.mu.Unlock()
		notify()
		return err
	}
	if newSeq > 0 {
		d.visibleSeq.Store(newSeq)
	}
	if d.watches.n.Load() > 0 {
		d.watches.pokeAll()
	}
	if o.Move {
		for _, e := range exts {
			d.fs.Remove(e.path)
		}
	}
	d.logger.Info("ingested tables", "count", len(exts), "seq", newSeq)
	return nil
}

// memOverlapsLocked reports whether any memtable holds a key in the range
// of one of the tables.
func (d *DB) memOverlapsLocked(exts []*externalTable) bool {
	mems := append([]*memTable{d.mem}, d.imms...)
	for _, m := range mems {
		if m.table != nil { // a stand-in: its table's key range
			for _, e := range exts {
				if m.table.Overlaps(d.cmp.Compare, base.UserKey(e.smallest), base.UserKey(e.largest)) {
					return true
				}
			}
			continue
		}
		if m.Empty() {
			continue
		}
		for _, f := range m.RangeDels().Fragments() {
			for _, e := range exts {
				if d.cmp.Compare(f.Start, base.UserKey(e.largest)) <= 0 && d.cmp.Compare(base.UserKey(e.smallest), f.End) < 0 {
					return true
				}
			}
		}
		it := m.NewIter()
		for _, e := range exts {
			if it.SeekGE(base.MakeSearchKey(nil, base.UserKey(e.smallest), base.MaxSeq)) &&
				d.cmp.Compare(base.UserKey(it.Key()), base.UserKey(e.largest)) <= 0 {
				it.Close()
				return true
			}
		}
		it.Close()
	}
	return false
}

// rewriteWithSeq copies a table into table num, giving every entry seq, or
// returns context.Cause(ctx) once ctx is done.
func (d *DB) rewriteWithSeq(ctx context.Context, e *externalTable, num, seq uint64) (*manifest.FileMetadata, error) {
	f, err := d.fs.Open(e.path)
	if err != nil {
		return nil, fmt.Errorf("strata: ingest: %w", err)
	}
	defer f.Close()
	r, err := sstable.NewReader(f, int64(e.size), sstable.ReaderOptions{Comparer: d.cmp, FileName: e.path, VerifyChecksums: true})
	if err != nil {
		return nil, fmt.Errorf("strata: ingest: %w", err)
	}
	defer r.Close()
	tw, err := d.createTable(num, d.opts.writerOptions())
	if err != nil {
		return nil, err
	}
	it := r.NewIter()
	var ikey []byte
	var canceled error
	for n, ok := 0, it.First(); ok; ok = it.Next() {
		if n++; n&1023 == 0 && ctx.Err() != nil {
			canceled = context.Cause(ctx)
			break
		}
		ukey, _, kind, _ := base.ParseInternalKey(it.Key())
		ikey = base.AppendInternalKey(ikey[:0], ukey, seq, kind)
		if err = tw.w.Add(ikey, it.Value()); err != nil {
			break
		}
	}
	if err == nil && canceled == nil {
		for _, f := range e.rangeDels.Fragments() {
			tw.w.AddRangeDel(f.Start, f.End, seq)
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil || canceled != nil {
		tw.abandon()
		if canceled != nil {
			return nil, canceled
		}
		return nil, fmt.Errorf("strata: ingest %s: %w", e.path, err)
	}
	return tw.finish()
}

// linkOrCopyTable puts the table into the database as table num, by a
// hard link when move is set (copying when linking fails), else by a copy.
func (d *DB) linkOrCopyTable(e *externalTable, num uint64, move bool) (*manifest.FileMetadata, error) {
	dst := base.MakeFilepath(d.dirname, base.FileTypeTable, num)
	linked := move && d.fs.Link(e.path, dst) == nil
	if linked {
		// The link shares the file's data, which nobody may have synced
		// (a table need not come from TableWriter): sync it before the
		// MANIFEST names it. (logAndApply syncs the directory entry.)
		if err := syncFile(d.fs, dst); err != nil {
			d.fs.Remove(dst)
			return nil, fmt.Errorf("strata: ingest %s: %w", e.path, err)
		}
	} else {
		if move {
			// A link that reported failure may still exist (a lost reply
			// on a network file system): copying over it would truncate
			// the user's file through it.
			if err := d.fs.Remove(dst); err != nil && !errors.Is(err, iofs.ErrNotExist) {
				return nil, fmt.Errorf("strata: ingest %s: %w", e.path, err)
			}
		}
		if err := copyFile(context.Background(), d.fs, e.path, dst); err != nil {
			return nil, fmt.Errorf("strata: ingest %s: %w", e.path, err)
		}
	}
	meta := &manifest.FileMetadata{Num: num, Size: e.size, Smallest: e.smallest, Largest: e.largest}
	meta.InitAllowedSeeks()
	return meta, nil
}

// syncFile makes the data of the file at path durable.
func syncFile(fs FS, path string) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyFile copies the file at src to a new file at dst, synced, or returns
// context.Cause(ctx) once ctx is done; on failure dst is removed.
func copyFile(ctx context.Context, fs FS, src, dst string) error {
	in, err := fs.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := fs.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, ctxReader{ctx, in})
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fs.Remove(dst)
		return err
	}
	return nil
}
