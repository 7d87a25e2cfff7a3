package strata

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/record"
	"github.com/strata-db/strata/internal/vfs"
)

// Write-ahead logs: one per memtable. A log rotated out is not synced: it
// stays open in d.retired until the flush of its memtable makes it obsolete
// (then it is closed and deleted unsynced, as LevelDB does), or until a
// Sync write needs it durable first. Not syncing it at rotation keeps a
// 64 MiB fsync, and the journal commit that drags the flush's new table
// along with it, out of the flush's way.
//
// A power cut may then leave an older log without its unsynced tail while
// a newer one kept some records. Replaying the newer one would recover
// writes without some that came before them, so each log starts with a
// header record that says how far the logs before it reached, and recovery
// stops at the first log whose predecessor falls short of that (walGap):
// the recovered state stays a prefix of the writes.
//
// The header record is a LevelDB WriteBatch with no operations, framed as
// every log record is (doc/log_format.md), the first record of the file:
//
//	offset 0   fixed64 (little-endian) sequence: H = L + 1, where L is the
//	           last sequence number written to any log before this one
//	           (or, for the first log after Open, the last sequence of
//	           the recovered database)
//	offset 8   fixed32 (little-endian) count: 0
//
// 12 bytes. LevelDB (and older Strata) replay it as an empty batch, which
// changes nothing; a batch of n operations at sequence s reaches s+n-1,
// and an empty one at s reaches s-1, so a log that kept every record
// reaches at least H-1 of its successor's header. The header of a log with
// records is synced before the next log is created, so such a log beside a
// later one holds at least its header, unless it was written by LevelDB (whose logs
// have none, or whose first record may be an empty batch: the same rule
// holds for those).

// createWALLocked creates log num and writes its header record (sequence
// d.lastLoggedSeq+1); with syncNow it also syncs it. Otherwise the flush
// that the rotation schedules syncs it after its table (syncLogHeaders), off
// the write path: on ext4 this small fsync commits the journal and took
// 40-45 ms at a fill's rotations. Either way, if the log has records, it
// is durable before the next log is created (rotateMemtableLocked calls
// syncHeader), which is what recovery needs: such a log next to a later
// one holds its header.
func (d *DB) createWALLocked(num uint64, syncNow bool) (*walFile, error) {
	name := base.MakeFilepath(d.dirname, base.FileTypeLog, num)
	f, err := d.fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("strata: create WAL: %w", err)
	}
	app := vfs.NewAppender(f)
	l := &walFile{num: num, file: app, w: record.NewWriter(app), raw: f, unsynced: true}
	var hdr [batch.HeaderLen]byte
	batch.SetSeq(hdr[:], d.lastLoggedSeq+1)
	_, err = l.w.WriteRecord(hdr[:])
	if err == nil && syncNow {
		if err = app.Sync(); err == nil {
			l.unsynced, l.headerSynced = false, true
			l.headerDurable.Store(true)
		}
	}
	if err != nil {
		app.Close()
		d.fs.Remove(name)
		return nil, fmt.Errorf("strata: write header of WAL %s: %w", base.MakeFilename(base.FileTypeLog, num), err)
	}
	return l, nil
}

// syncHeader makes the log's header record durable, if no sync has yet.
// It may run while the leader appends to the log: it syncs the file, not
// the Appender.
func (l *walFile) syncHeader() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.headerSynced || l.closed {
		return nil
	}
	if err := l.raw.Sync(); err != nil {
		return fmt.Errorf("strata: sync header of WAL %s: %w", base.MakeFilename(base.FileTypeLog, l.num), err)
	}
	l.headerSynced = true
	l.headerDurable.Store(true)
	return nil
}

// syncLogHeaders syncs the header records not yet durable: the flush's
// first step (see createWALLocked).
func (d *DB) syncLogHeaders() error {
	d.mu.Lock()
	logs := append(slices.Clone(d.retired), d.log)
	d.mu.Unlock()
	for _, l := range logs {
		if l == nil {
			continue
		}
		if err := l.syncHeader(); err != nil {
			return err
		}
	}
	return nil
}

// syncRetired makes a retired log durable, if it is still open and has
// records written since its last sync.
func (l *walFile) syncRetired() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !l.unsynced {
		return nil
	}
	if err := l.file.Sync(); err != nil {
		return fmt.Errorf("strata: sync WAL %s: %w", base.MakeFilename(base.FileTypeLog, l.num), err)
	}
	l.unsynced, l.headerSynced = false, true
	l.headerDurable.Store(true)
	return nil
}

// closeRetired closes a retired log.
func (l *walFile) closeRetired() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if err := l.file.Close(); err != nil {
		return fmt.Errorf("strata: close WAL %s: %w", base.MakeFilename(base.FileTypeLog, l.num), err)
	}
	return nil
}

// closeObsoleteLogs closes the retired logs numbered below logNum, the
// oldest log the MANIFEST now needs. Their memtables are in tables, so a
// failure to close one loses nothing: it is logged, not returned.
func (d *DB) closeObsoleteLogs(logNum uint64) {
	d.mu.Lock()
	var done []*walFile
	keep := d.retired[:0]
	for _, l := range d.retired {
		if l.num < logNum {
			done = append(done, l)
		} else {
			keep = append(keep, l)
		}
	}
	clear(d.retired[len(keep):])
	d.retired = keep
	d.mu.Unlock()
	for _, l := range done {
		if err := l.closeRetired(); err != nil {
			d.logger.Warn("cannot close obsolete WAL", "err", err)
		}
	}
}

// walHeader returns the sequence of the header record of the log at path,
// if its first record is one (a batch of no operations).
func walHeader(fs vfs.FS, path string) (seq uint64, ok bool, err error) {
	f, err := fs.Open(path)
	if err != nil {
		return 0, false, fmt.Errorf("strata: open WAL: %w", err)
	}
	defer f.Close()
	rec, err := record.NewReader(f, path).Next()
	if err == io.EOF || errors.Is(err, base.ErrCorruption) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if batch.Validate(rec) != nil || batch.Count(rec) != 0 {
		return 0, false, nil
	}
	return batch.Seq(rec), true, nil
}

// walChain applies walGap to a database's logs replayed in order: stop
// reports whether log num must not be replayed (nor any after it), replayed
// records what log num recovered. Recovery, CatchUp and Repair use it.
type walChain struct {
	fs      vfs.FS
	dir     string
	logger  *slog.Logger
	prev    replayStats // the last log that recovered records...
	prevNum uint64      // ...and its number
}

func (d *DB) newWALChain() walChain {
	return walChain{fs: d.fs, dir: d.dirname, logger: d.logger}
}

func (c *walChain) stop(num uint64) (bool, error) {
	if c.prev.batches == 0 { // no earlier log recovered records
		return false, nil
	}
	return c.walGap(base.MakeFilepath(c.dir, base.FileTypeLog, c.prevNum), base.MakeFilepath(c.dir, base.FileTypeLog, num))
}

func (c *walChain) replayed(num uint64, st replayStats) {
	if st.batches > 0 {
		c.prev, c.prevNum = st, num
	}
}

// walGap reports whether the log at path must not be replayed, nor any log
// after it: its header says the logs before it reached sequence H-1, but
// c.prev, the last earlier log that recovered records (at prevPath), fell
// short (a power cut took its unsynced tail, or damage). With no such log
// there is no evidence (a LevelDB log has no header). A Strata log with
// records beside a later log always keeps its header, synced before the
// later one was created; one without records (writes without the WAL) may
// lose it, and is passed over.
func (c *walChain) walGap(prevPath, path string) (bool, error) {
	h, ok, err := walHeader(c.fs, path)
	if err != nil || !ok || h == 0 || h-1 <= c.prev.logged {
		return false, err
	}
	c.logger.Warn("a log ends before the next one says it did (it lost its tail): the logs after it are not replayed, so the recovered state is a prefix of the writes",
		"file", prevPath, "reached-seq", c.prev.logged, "next-log", path, "next-log-says-reached", h-1)
	return true, nil
}

// SyncWAL makes every write that returned before it was called durable, as
// a synced Write would, without holding up the writes meanwhile (RocksDB's
// DB::SyncWAL). A synced Write syncs at the head of the write queue, so
// every write behind it waits for the fsync; SyncWAL syncs the logs beside
// the queue, and writes go on into the same log while it does (they may or
// may not be covered). A program that writes unsynced and calls SyncWAL
// from another goroutine before it relies on the writes (a replication
// loop that acknowledges what is durable, say) keeps writing during every
// fsync, and one SyncWAL covers all the writes made before it.
//
// The logs rotated out and not yet synced are synced first, oldest first,
// then the current one (recovery keeps only a prefix of the writes: see
// the header record above). A failed sync stops writes (as a failed synced
// Write does: the log's state on disk is unknown) and is returned. A
// database without a log (read-only, or written only with DisableWAL)
// has nothing to sync: nil.
func (d *DB) SyncWAL() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if d.bgErr != nil {
		err := d.bgErr
		d.mu.Unlock()
		return err
	}
	logs := append(slices.Clone(d.retired), d.log)
	d.mu.Unlock()
	var err error
	for _, l := range logs {
		if l == nil {
			continue
		}
		if err = l.syncBeside(d); err != nil {
			break
		}
	}
	if err == nil {
		d.stats.walSyncs.Add(1)
		return nil
	}
	d.mu.Lock()
	notify := d.setBGErrLocked("sync WAL", err)
	d.mu.Unlock()
	notify()
	return err
}

// syncBeside syncs l's file while the commit leader may append to it (it
// syncs the file under the Appender, as syncHeader does). A log closed
// meanwhile needs nothing: a retired log is closed once its memtable's
// table is durable, and the current one only by Close.
func (l *walFile) syncBeside(d *DB) error {
	if !l.dirSynced.Load() {
		if err := vfs.SyncDir(d.fs, d.dirname); err != nil {
			return fmt.Errorf("strata: %w", err)
		}
		l.dirSynced.Store(true)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if err := l.raw.Sync(); err != nil {
		return fmt.Errorf("strata: sync WAL %s: %w", base.MakeFilename(base.FileTypeLog, l.num), err)
	}
	if n, ok := l.file.(vfs.SyncNoter); ok {
		n.NoteSync()
	}
	l.headerSynced = true
	l.headerDurable.Store(true)
	return nil
}
