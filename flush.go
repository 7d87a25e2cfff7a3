package strata

import (
	"context"
	"fmt"
	"slices"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/iterator"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/rangedel"
)

// Flushes: a background goroutine writes frozen memtables, oldest first, to
// level-0 tables (or deeper, see pickFlushLevelLocked), then records the
// table and the new oldest needed WAL in one version edit. The small
// memtables of the ramp after Open (Options.InitialMemTableSize) wait until
// they are worth a flush and are then written together, into one table
// (flushSetLocked). Writes wait for a flush only when the frozen memtables
// fill MaxWriteBufferNumber's queue (queuedFullLocked), or when the
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

// flushSetLocked returns how many of the oldest frozen memtables the next
// flush writes together, 0 when none is due. The frozen memtables are due
// once one of them holds WriteBufferSize, or was frozen by a call that
// forces a flush (Flush, CompactRange, ...), or flushQueued is set, or the
// small ones of the ramp (Options.InitialMemTableSize) hold half a
// WriteBufferSize together, as Pebble's flushes of its growing memtables
// wait. A flush then takes the oldest memtables up to WriteBufferSize
// together (at least one), so that memtables of WriteBufferSize are
// flushed one by one as before the ramp.
func (d *DB) flushSetLocked() int {
	wbs := d.opts.WriteBufferSize
	due := d.flushQueued
	queued := 0
	for _, m := range d.imms {
		queued += m.size
		if m.size >= wbs || m.flushReason != flushReasonFull {
			due = true
		}
	}
	if len(d.imms) == 0 || !due && queued < wbs/2 {
		return 0
	}
	n, sum := 0, 0
	for _, m := range d.imms {
		if n > 0 && sum+m.size > wbs {
			break
		}
		sum += m.size
		n++
	}
	return n
}

// flushOne flushes the oldest frozen memtables that are due
// (flushSetLocked) into one table; it reports whether it did. When none is
// due it makes the headers of the logs rotated since the last flush durable
// instead, which a flush would have done (see createWALLocked), so that the
// rotations that freeze the small memtables do not wait for those fsyncs.
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
	if m := d.imms[0]; m.table != nil {
		// Only a failed flush leaves a stand-in behind, and it sets bgErr.
		notify := d.setBGErrLocked("flush", fmt.Errorf("strata: internal error: flush found table %s not installed", tableName(m.table.Num)))
		d.mu.Unlock()
		notify()
		return false
	}
	n := d.flushSetLocked()
	if n == 0 {
		d.mu.Unlock()
		if err := d.syncLogHeaders(); err != nil {
			// The next rotation syncs it again, and fails the write then.
			d.logger.Warn("cannot sync WAL headers", "err", err)
		}
		return false
	}
	ms := slices.Clone(d.imms[:n])
	num := d.newOutputNumLocked()
	d.flushing = true
	d.mu.Unlock()

	ev := d.flushBegin(ms)
	helped := d.flushAssist.Helped()
	it, rangeDels, entries, dataBytes := d.flushInput(ms)
	tw, meta, err := d.writeFlushTable(num, it, rangeDels, entries, dataBytes)
	standIn := err == nil && meta != nil
	if standIn {
		d.replaceWithStandIn(ms, meta)
		ms = nil // the DB's references are dropped: their arenas may be reused
		if d.testHookStandIn != nil {
			d.testHookStandIn()
		}
	}
	if err == nil && tw != nil {
		err = tw.sync(standIn)
	}
	if err == nil {
		// The new log's header, which the rotation left unsynced: after
		// the table's fsync, which has committed the journal, this one
		// has little left to commit.
		err = d.syncLogHeaders()
	}
	if err == nil {
		d.tableCreated(ev.job(), tableFlushing, meta)
	}
	helped = d.flushAssist.Helped() - helped

	d.mu.Lock()
	level := 0
	if err == nil && meta != nil {
		level = d.pickFlushLevelLocked(meta)
	}
	// The flushed memtables are the first n of d.imms, or the stand-in
	// that replaced them.
	out := n
	if standIn {
		out = 1
	}
	nextLog := d.mem.logNum
	if len(d.imms) > out {
		nextLog = d.imms[out].logNum
	}
	if err == nil {
		ev.holdLocked(d) // the logs the install makes obsolete stay until FlushEnd
	}
	d.mu.Unlock()

	if err == nil {
		edit := &manifest.VersionEdit{HasLogNumber: true, LogNumber: nextLog,
			HasPrevLogNumber: true, PrevLogNumber: 0}
		if meta != nil {
			edit.NewFiles = []manifest.NewFileEntry{{Level: level, Meta: meta}}
		}
		var flushed []*memTable // what leaves d.imms: the stand-in, or ms
		err = d.versions.logAndApply(edit, func() {
			flushed = d.imms[:out:out]
			d.imms = d.imms[out:]
			if len(d.imms) == 0 {
				d.flushQueued = false
			}
			if meta != nil {
				d.stats.levels[level].recordWrite(meta.Size)
				d.stats.flushes.Add(1)
				d.stats.flushBytes.Add(meta.Size)
			}
		})
		if err == nil {
			if meta != nil {
				d.logger.Debug("flush: blocks compressed by writers", "table", tableName(meta.Num), "blocks", helped)
			}
			for _, m := range flushed {
				m.unref() // the DB's reference: it left d.imms
			}
		}
	}

	d.flushEnd(ev, level, meta, err)
	d.mu.Lock()
	// A stand-in (even one a failed flush leaves in d.imms) keeps its table
	// from the obsolete-file sweep itself (standInTables).
	delete(d.pendingOutputs, num)
	d.flushing = false
	d.flushPlacing = false
	notify := func() {}
	switch {
	case err == nil:
		d.transientFailures = 0
	case !standIn:
		// Nothing was installed: the memtables are still first in d.imms.
		notify = d.backgroundFailedLocked("flush", err, d.scheduleFlush)
	default:
		// The stand-in is in place: the flush cannot be taken up again.
		notify = d.setBGErrLocked("flush", fmt.Errorf("strata: flush: %w", err))
	}
	d.bgCond.Broadcast()
	d.mu.Unlock()
	notify()
	if err == nil {
		d.closeObsoleteLogs(nextLog)
	}
	// A table whose MANIFEST write failed is left in place: the record may
	// have reached the disk anyway. The next open deletes it if unused.
	d.scheduleCompaction()
	d.scheduleCleanup()
	return err == nil
}

// replaceWithStandIn puts a stand-in reading table meta in place of ms, the
// oldest memtables, in d.imms and the read state, and drops the DB's
// references to ms (see memTable). Writers waiting for memtable room are
// woken.
func (d *DB) replaceWithStandIn(ms []*memTable, meta *manifest.FileMetadata) {
	s := &memTable{logNum: ms[len(ms)-1].logNum, table: meta, of: ms, db: d}
	for _, m := range ms {
		s.size += m.size
	}
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
	d.imms = append([]*memTable{s}, d.imms[len(ms):]...)
	d.budgetWaivedFor = nil // MaxMemTableBytes holds again for the next flush
	d.updateReadStateLocked()
	d.bgCond.Broadcast()
	d.mu.Unlock()
	for _, m := range ms {
		m.unref()
	}
}

// pickFlushLevelLocked places a flushed table as LevelDB does: below level
// 0 (up to level 2; with DynamicLevelSizes only in the base level) when
// nothing there overlaps it, which spares a compaction. Only when no compaction runs: one could be writing into that
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

// flushInput returns what a flush of the memtables ms writes: their
// entries, merged in order, without those their range tombstones hide from
// every reader (coveredDropper), their range tombstones, how many entries
// (at most), and at most how many bytes they take.
func (d *DB) flushInput(ms []*memTable) (it base.InternalIterator, rangeDels *rangedel.Set, entries int, dataBytes int64) {
	for _, m := range ms {
		entries += m.Len()
		dataBytes += int64(m.ApproximateMemoryUsage())
	}
	if len(ms) == 1 {
		it, rangeDels = ms[0].NewScanIter(), ms[0].RangeDels()
	} else {
		iters := make([]base.InternalIterator, len(ms))
		sets := make([]*rangedel.Set, len(ms))
		for i, m := range ms {
			iters[i], sets[i] = m.NewScanIter(), m.RangeDels()
		}
		it, rangeDels = iterator.NewMerging(d.internalCompare, iters...), rangedel.Union(d.cmp.Compare, sets...)
	}
	if len(rangeDels.Fragments()) > 0 {
		it = &coveredDropper{InternalIterator: it, dels: rangeDels, below: d.smallestSnapshot(), cmp: d.cmp.Compare}
	}
	return it, rangeDels, entries, dataBytes
}

// coveredDropper passes on the entries of a flush's input except those its
// range tombstones hide from every reader: an entry is dropped when a
// tombstone covering its key has a sequence above the entry's and at or
// below below, the oldest sequence any reader may read at
// (smallestSnapshot, taken before the flush writes its table). So entries
// deleted by a range deletion in the memtables they were written to (a Raft
// log's truncated entries, a table dropped soon after it was filled) never
// reach a table, to be compacted away later; the tombstones themselves are
// written as before, since deeper levels may hold keys they delete.
//
// Why no reader misses a dropped entry: a read takes its read state before
// its sequence (acquireReadView), so a read that finds the flushed table
// (or its stand-in) in its read state reads at a sequence taken after
// below was, at or above it, and sees the tombstone; a read that started
// earlier keeps the memtables it took; a snapshot older than below is
// below's bound itself. This is compaction's rule (runCompactionJob) with
// the tombstones of the same memtables.
type coveredDropper struct {
	base.InternalIterator
	dels  *rangedel.Set
	below uint64
	cmp   func(a, b []byte) int
	// The answer of dels for the keys of [lo, hi) (nil: open), once
	// cached: tombstones at or below below cover them at seq (0: none).
	seq    uint64
	lo, hi []byte
	cached bool
}

// covered reports whether the current entry is hidden from every reader.
func (c *coveredDropper) covered() bool {
	ukey, seq, _, ok := base.ParseInternalKey(c.Key())
	if !ok {
		return false // passed on: the table writer reports it
	}
	if !c.cached || c.lo != nil && c.cmp(ukey, c.lo) < 0 || c.hi != nil && c.cmp(ukey, c.hi) >= 0 {
		c.seq, c.lo, c.hi = c.dels.Span(ukey, c.below)
		c.cached = true
	}
	return c.seq > seq
}

// settle steps past covered entries with step, from where ok says the
// iterator is.
func (c *coveredDropper) settle(ok bool, step func() bool) bool {
	for ok && c.covered() {
		ok = step()
	}
	return ok
}

func (c *coveredDropper) First() bool {
	return c.settle(c.InternalIterator.First(), c.InternalIterator.Next)
}

func (c *coveredDropper) Next() bool {
	return c.settle(c.InternalIterator.Next(), c.InternalIterator.Next)
}

func (c *coveredDropper) SeekGE(key []byte) bool {
	return c.settle(c.InternalIterator.SeekGE(key), c.InternalIterator.Next)
}

func (c *coveredDropper) Last() bool {
	return c.settle(c.InternalIterator.Last(), c.InternalIterator.Prev)
}

func (c *coveredDropper) Prev() bool {
	return c.settle(c.InternalIterator.Prev(), c.InternalIterator.Prev)
}

func (c *coveredDropper) SeekLT(key []byte) bool {
	return c.settle(c.InternalIterator.SeekLT(key), c.InternalIterator.Prev)
}

// writeFlushTable writes the entries of it (memtables', of which there
// are entries taking at most dataBytes: see flushInput) and the range
// tombstones of rangeDels to table num, completed but not yet
// synced (tableFile.sync does that). While it runs, writes stalled for
// memtable room help compress the table's blocks (see sstable.Assist). An
// empty memtable leaves no table, and nils are returned.
func (d *DB) writeFlushTable(num uint64, it base.InternalIterator, rangeDels *rangedel.Set, entries int, dataBytes int64) (*tableFile, *manifest.FileMetadata, error) {
	t, err := d.createTable(num, d.opts.writerOptions())
	if err != nil {
		it.Close()
		return nil, nil, err
	}
	a := d.flushAssist
	t.w.SetAssist(a)
	d.assistGen.Add(1)
	d.assisting.Store(a)
	// A writer stalled on MaxMemTableBytes before this flush began now has
	// its blocks to compress (makeRoomForWriteLocked).
	d.mu.Lock()
	d.bgCond.Broadcast()
	d.mu.Unlock()
	defer func() {
		d.assisting.Store(nil)
		a.Wake() // a stalled writer in HelpWhile: the table is done
	}()
	if err := t.addAll(it, entries, dataBytes); err != nil {
		return nil, nil, err
	}
	t.addRangeDels(rangeDels)
	meta, err := t.writeOut()
	if err != nil || meta == nil {
		return nil, nil, err
	}
	return t, meta, nil
}

// Flush writes the memtable to a table and waits until it (and every
// memtable frozen before it) is durable in the tree.
func (d *DB) Flush() error { return d.flush(context.Background(), flushReasonFlush) }

// flush is Flush that stops waiting once ctx is done and returns
// context.Cause(ctx); the flush goes on in the background. reason is the
// caller (FlushInfo.Reason).
func (d *DB) flush(ctx context.Context, reason string) error {
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err := d.forceRotate(reason); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.imms) == 0 {
		return d.bgErr
	}
	target := d.imms[len(d.imms)-1]
	// Every frozen memtable, however little the small ones of the ramp
	// hold together: with nothing to rotate (an empty memtable), target
	// may be one that flushSetLocked alone would leave waiting.
	d.flushQueued = true
	d.scheduleFlush()
	stop := d.wakeOnDone(ctx)
	defer stop()
	for {
		if d.bgErr != nil {
			return d.bgErr
		}
		if d.closed {
			return ErrClosed
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
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
