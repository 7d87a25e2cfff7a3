package strata

import (
	"fmt"
	"sync"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/memtable"
	"github.com/strata-db/strata/internal/sstable"
	"github.com/strata-db/strata/internal/vfs"
)

// Flushes: a background goroutine writes frozen memtables, oldest first, to
// level-0 tables (or deeper, see pickFlushLevelLocked), then records the
// table and the new oldest needed WAL in one version edit. Writes wait for
// it only when MaxWriteBufferNumber memtables are full, or when the
// memtables reach MaxMemTableBytes: then only until the table is written,
// not until it is synced and recorded (see memTable's stand-in).

func (d *DB) flushLoop() {
	defer d.bgWG.Done()
	for {
		select {
		case <-d.flushCh:
		case <-d.closing:
			return
		}
		for d.flushOne() {
		}
	}
}

// flushOne flushes the oldest frozen memtable; it reports whether it did.
//
// It runs in two steps. Once the table is written (to the page cache, not
// yet synced), a stand-in that reads the table replaces the memtable in
// d.imms and in the read state, and the DB drops its reference to the
// memtable, whose arena is then released as soon as older read states let
// go of it: writers waiting for memtable room go on. Then the table is
// synced, the new log's header too (syncLogHeaders), and the version edit
// is made durable and installed, which drops the stand-in. Until that
// install the table is in no version, so compactions never take it as an
// input and a new MANIFEST's snapshot never names it; the memtable's log
// stays until the edit is durable, so a crash before then replays it.
func (d *DB) flushOne() bool {
	d.mu.Lock()
	if d.closed || d.bgErr != nil || len(d.imms) == 0 {
		d.mu.Unlock()
		return false
	}
	m := d.imms[0]
	if m.table != nil {
		// Only a failed flush leaves a stand-in behind, and it sets bgErr.
		d.setBGErrLocked(fmt.Errorf("strata: internal error: flush found table %s not installed", tableName(m.table.Num)))
		d.mu.Unlock()
		return false
	}
	num := d.newOutputNumLocked()
	d.flushing = true
	d.mu.Unlock()

	start := time.Now()
	helped := d.flushAssist.Helped()
	entries := m.Len()
	tw, meta, err := d.buildMemTable(num, m.MemTable)
	standIn := err == nil && meta != nil
	if standIn {
		d.replaceWithStandIn(m, meta)
		m = nil // the DB's reference is dropped: m's arena may be reused
		if d.testHookStandIn != nil {
			d.testHookStandIn()
		}
	}
	if err == nil && tw != nil {
		err = tw.syncAndClose(standIn)
	}
	if err == nil {
		// The new log's header, which the rotation left unsynced: after
		// the table's fsync, which has committed the journal, this one
		// has little left to commit.
		err = d.syncLogHeaders()
	}
	helped = d.flushAssist.Helped() - helped

	d.mu.Lock()
	level := 0
	if err == nil && meta != nil {
		level = d.pickFlushLevelLocked(meta)
	}
	nextLog := d.mem.logNum
	if len(d.imms) > 1 {
		nextLog = d.imms[1].logNum
	}
	d.mu.Unlock()

	if err == nil {
		edit := &manifest.VersionEdit{HasLogNumber: true, LogNumber: nextLog,
			HasPrevLogNumber: true, PrevLogNumber: 0}
		if meta != nil {
			edit.NewFiles = []manifest.NewFileEntry{{Level: level, Meta: meta}}
		}
		var flushed *memTable // what leaves d.imms: the stand-in, or m
		err = d.versions.logAndApply(edit, func() {
			flushed = d.imms[0]
			d.imms = d.imms[1:]
			if meta != nil {
				d.stats.levels[level].recordWrite(meta.Size)
				d.stats.flushes.Add(1)
				d.stats.flushBytes.Add(meta.Size)
			}
		})
		if err == nil {
			if meta != nil {
				d.logger.Info("flushed memtable", "table", tableName(meta.Num), "level", level,
					"bytes", meta.Size, "entries", entries, "took", time.Since(start).Round(time.Millisecond),
					"blocks_compressed_by_writers", helped)
			}
			flushed.unref() // the DB's reference: it left d.imms
		}
	}

	d.mu.Lock()
	// A stand-in (even one a failed flush leaves in d.imms) keeps its table
	// from the obsolete-file sweep itself (standInTables).
	delete(d.pendingOutputs, num)
	d.flushing = false
	d.flushPlacing = false
	if err != nil {
		d.setBGErrLocked(fmt.Errorf("strata: flush: %w", err))
	}
	d.bgCond.Broadcast()
	d.mu.Unlock()
	if err == nil {
		d.closeObsoleteLogs(nextLog)
	}
	// A table whose MANIFEST write failed is left in place: the record may
	// have reached the disk anyway. The next open deletes it if unused.
	d.scheduleCompaction()
	d.scheduleCleanup()
	return err == nil
}

// replaceWithStandIn puts a stand-in reading table meta in place of m, the
// oldest memtable, in d.imms and the read state, and drops the DB's
// reference to m (see memTable). Writers waiting for memtable room are woken.
func (d *DB) replaceWithStandIn(m *memTable, meta *manifest.FileMetadata) {
	s := &memTable{logNum: m.logNum, table: meta, of: m, db: d}
	s.refs.Store(1)
	// Pinned until the stand-in's last reference goes: a reader holding a
	// read state from before the table's install may read it after a
	// compaction has taken it out of every version.
	d.standInMu.Lock()
	if d.standInTables == nil {
		d.standInTables = map[uint64]struct{}{}
	}
	d.standInTables[meta.Num] = struct{}{}
	d.standInMu.Unlock()
	d.mu.Lock()
	d.imms[0] = s
	d.updateReadStateLocked()
	d.bgCond.Broadcast()
	d.mu.Unlock()
	m.unref()
}

// pickFlushLevelLocked places a flushed table as LevelDB does: below level
// 0 (up to level 2) when nothing there overlaps it, which spares a
// compaction. Only when no compaction runs: one could be writing into that
// key range of the deeper level. While such a placement is pending,
// compactions wait (flushPlacing).
func (d *DB) pickFlushLevelLocked(meta *manifest.FileMetadata) int {
	if d.compacting || d.manualCompacting > 0 {
		return 0
	}
	level := d.versions.current.PickLevelForMemTableOutput(
		meta.SmallestUserKey(), meta.LargestUserKey(), maxMemCompactLevel, d.pickerOptions())
	if level > 0 {
		d.flushPlacing = true
	}
	return level
}

// maxMemCompactLevel is the deepest level a flush may place a table in
// (LevelDB's kMaxMemCompactLevel).
const maxMemCompactLevel = 2

// newOutputNumLocked allocates a file number for a new table and protects
// it from the obsolete-file sweep until released from pendingOutputs.
func (d *DB) newOutputNumLocked() uint64 {
	num := d.versions.newFileNum()
	d.pendingOutputs[num] = struct{}{}
	return num
}

func (d *DB) writerOptions() sstable.WriterOptions {
	o := sstable.WriterOptions{
		BlockSize:            d.opts.BlockSize,
		BlockRestartInterval: d.opts.BlockRestartInterval,
		Comparer:             d.cmp,
		BloomBitsPerKey:      max(d.opts.BloomBitsPerKey, 0),
	}
	o.Compression = sstableCompression(d.opts.Compression)
	return o
}

// writeMemTable writes every entry of m to table num (see
// writeTableFromIter), sizing the table's buffers from m: its length and its
// memory usage, an upper bound of its keys' and values' bytes.
func (d *DB) writeMemTable(num uint64, m *memtable.MemTable) (*manifest.FileMetadata, error) {
	return syncBuilt(d.buildMemTable(num, m))
}

// buildMemTable is buildTable for memtable m, sized as writeMemTable says.
func (d *DB) buildMemTable(num uint64, m *memtable.MemTable) (*tableWriter, *manifest.FileMetadata, error) {
	return d.buildTable(num, m.NewScanIter(), m.Len(), int64(m.ApproximateMemoryUsage()))
}

// writeTableFromIter writes every entry of it to table num, syncs and
// closes it. It returns nil metadata (and no file) when it is empty.
// entries and dataBytes, when known (0 otherwise), size the Writer's
// buffers (sstable.Writer.Reserve).
func (d *DB) writeTableFromIter(num uint64, it base.InternalIterator, entries int, dataBytes int64) (*manifest.FileMetadata, error) {
	return syncBuilt(d.buildTable(num, it, entries, dataBytes))
}

// syncBuilt syncs and closes the table buildTable returned, passing on its
// metadata, or its error.
func syncBuilt(tw *tableWriter, meta *manifest.FileMetadata, err error) (*manifest.FileMetadata, error) {
	if err != nil || tw == nil {
		return nil, err
	}
	if err := tw.syncAndClose(false); err != nil {
		return nil, err
	}
	return meta, nil
}

// buildTable writes every entry of it to table num, and returns the table
// written but neither synced nor closed (syncAndClose does both), and its
// metadata. An empty table is removed, and buildTable returns nils.
func (d *DB) buildTable(num uint64, it base.InternalIterator, entries int, dataBytes int64) (*tableWriter, *manifest.FileMetadata, error) {
	tw, err := d.newTableWriter(num)
	if err != nil {
		it.Close()
		return nil, nil, err
	}
	if a := d.flushAssist; a != nil { // nil in Repair, which has no writers
		tw.w.SetAssist(a)
		d.assistGen.Add(1)
		d.assisting.Store(a)
		// A writer stalled on MaxMemTableBytes before this flush began now
		// has its blocks to compress (makeRoomForWriteLocked).
		d.mu.Lock()
		d.bgCond.Broadcast()
		d.mu.Unlock()
		defer func() {
			d.assisting.Store(nil)
			a.Wake() // a stalled writer in HelpWhile: the table is done
		}()
	}
	tw.w.Reserve(entries, dataBytes)
	for ok := it.First(); ok; ok = it.Next() {
		if err = tw.w.Add(it.Key(), it.Value()); err != nil {
			break
		}
	}
	if ierr := it.Close(); err == nil {
		err = ierr
	}
	if err != nil {
		tw.abandon()
		return nil, nil, err
	}
	meta, err := tw.writeOut()
	if err != nil || meta == nil {
		return nil, nil, err
	}
	return tw, meta, nil
}

// tableWriter is a table being written to a new file.
type tableWriter struct {
	d    *DB
	num  uint64
	path string
	file File
	w    *sstable.Writer
}

func (d *DB) newTableWriter(num uint64) (*tableWriter, error) {
	return d.newTableWriterWith(num, d.writerOptions())
}

func (d *DB) newTableWriterWith(num uint64, o sstable.WriterOptions) (*tableWriter, error) {
	path := base.MakeFilepath(d.dirname, base.FileTypeTable, num)
	f, err := d.fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("strata: create table: %w", err)
	}
	dst := vfs.NewWritebackWriter(f, d.opts.BytesPerSync)
	w, _ := sstWriters.Get().(*sstable.Writer)
	if w == nil {
		w = sstable.NewWriter(dst, o)
	} else {
		w.Reset(dst, o)
	}
	return &tableWriter{d: d, num: num, path: path, file: f, w: w}, nil
}

// sstWriters holds sstable Writers between tables. A Writer's buffers grow
// to the size of the tables it writes (a flushed 64 MiB memtable has a
// ~1 MB index and filter block, and its output buffer is 64 KiB), so a
// new Writer per table made megabytes of garbage per flush, which raised
// the Go heap (and peak RSS) by as much while the garbage collector caught
// up. A sync.Pool lets idle Writers go after two collections.
var sstWriters sync.Pool

// release returns t's Writer to sstWriters; t is unusable afterwards.
func (t *tableWriter) release() {
	if t.w != nil {
		sstWriters.Put(t.w)
		t.w = nil
	}
}

// finish completes, syncs and closes the table. An empty table is removed
// and nil returned.
func (t *tableWriter) finish() (*manifest.FileMetadata, error) {
	meta, err := t.writeOut()
	if err != nil || meta == nil {
		return nil, err
	}
	if err := t.syncAndClose(false); err != nil {
		return nil, err
	}
	return meta, nil
}

// writeOut completes the table: every byte is written to the file (to the
// page cache: nothing is synced), and its metadata returned. An empty table
// is removed and nil returned. On error the file is removed.
func (t *tableWriter) writeOut() (*manifest.FileMetadata, error) {
	if t.w.NumEntries() == 0 {
		t.abandon()
		return nil, nil
	}
	if err := t.w.Close(); err != nil {
		t.release()
		t.file.Close()
		t.d.fs.Remove(t.path)
		return nil, fmt.Errorf("strata: write table %s: %w", t.path, err)
	}
	md := t.w.Metadata()
	t.release()
	meta := &manifest.FileMetadata{Num: t.num, Size: md.Size, Smallest: md.Smallest, Largest: md.Largest}
	meta.InitAllowedSeeks()
	return meta, nil
}

// syncAndClose syncs and closes a table writeOut completed. On error the
// file is removed, unless keep (a stand-in may be reading it).
func (t *tableWriter) syncAndClose(keep bool) error {
	err := t.file.Sync()
	if cerr := t.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if !keep {
			t.d.fs.Remove(t.path)
		}
		return fmt.Errorf("strata: write table %s: %w", t.path, err)
	}
	return nil
}

// abandon closes and removes the unfinished table.
func (t *tableWriter) abandon() {
	t.release()
	t.file.Close()
	t.d.fs.Remove(t.path)
}

// Flush writes the memtable to a table and waits until it (and every
// memtable frozen before it) is durable in the tree.
func (d *DB) Flush() error {
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	if err := d.commit(nil, nil); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.imms) == 0 {
		return d.bgErr
	}
	target := d.imms[len(d.imms)-1]
	d.scheduleFlush()
	for {
		if d.bgErr != nil {
			return d.bgErr
		}
		if d.closed {
			return ErrClosed
		}
		pending := false
		for _, m := range d.imms {
			if m.is(target) {
				pending = true
			}
		}
		if !pending {
			return nil
		}
		d.bgCond.Wait()
	}
}
