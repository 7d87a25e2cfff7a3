package strata

import (
	"fmt"
	"sync"
	"time"

	"strata/internal/base"
	"strata/internal/manifest"
	"strata/internal/memtable"
	"strata/internal/sstable"
	"strata/internal/vfs"
)

// Flushes: a background goroutine writes frozen memtables, oldest first, to
// level-0 tables (or deeper, see pickFlushLevelLocked), then records the
// table and the new oldest needed WAL in one version edit. Writes wait for
// it only when MaxWriteBufferNumber memtables are full.

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
func (d *DB) flushOne() bool {
	d.mu.Lock()
	if d.closed || d.bgErr != nil || len(d.imms) == 0 {
		d.mu.Unlock()
		return false
	}
	m := d.imms[0]
	num := d.newOutputNumLocked()
	d.flushing = true
	d.mu.Unlock()

	start := time.Now()
	helped := d.flushAssist.Helped()
	meta, err := d.writeMemTable(num, m.MemTable)
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
		err = d.versions.logAndApply(edit, func() {
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
					"bytes", meta.Size, "entries", m.Len(), "took", time.Since(start).Round(time.Millisecond),
					"blocks_compressed_by_writers", helped)
			}
			m.unref() // the DB's reference: it left d.imms
		}
	}

	d.mu.Lock()
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
	return d.writeTableFromIter(num, m.NewScanIter(), m.Len(), int64(m.ApproximateMemoryUsage()))
}

// writeTableFromIter writes every entry of it to table num, syncs and
// closes it. It returns nil metadata (and no file) when it is empty.
// entries and dataBytes, when known (0 otherwise), size the Writer's
// buffers (sstable.Writer.Reserve).
func (d *DB) writeTableFromIter(num uint64, it base.InternalIterator, entries int, dataBytes int64) (*manifest.FileMetadata, error) {
	tw, err := d.newTableWriter(num)
	if err != nil {
		it.Close()
		return nil, err
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
		return nil, err
	}
	return tw.finish()
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
	if t.w.NumEntries() == 0 {
		t.abandon()
		return nil, nil
	}
	err := t.w.Close()
	if err == nil {
		err = t.file.Sync()
	}
	if cerr := t.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.release()
		t.d.fs.Remove(t.path)
		return nil, fmt.Errorf("strata: write table %s: %w", t.path, err)
	}
	md := t.w.Metadata()
	t.release()
	meta := &manifest.FileMetadata{Num: t.num, Size: md.Size, Smallest: md.Smallest, Largest: md.Largest}
	meta.InitAllowedSeeks()
	return meta, nil
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
			if m == target {
				pending = true
			}
		}
		if !pending {
			return nil
		}
		d.bgCond.Wait()
	}
}
