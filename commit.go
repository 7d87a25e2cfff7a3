package strata

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/memtable"
	"github.com/strata-db/strata/internal/vfs"
)

// The commit pipeline (LevelDB's DBImpl::Write, group commit).
//
// Every write joins a queue (d.writers) under d.mu. The writer at the front
// is the leader: it gathers the writers queued behind it into a group, makes
// room in the memtable (which may stall for a flush or compaction), takes
// sequence numbers for the whole group, and then — with d.mu released —
// writes one WAL record for the group, fsyncs it once if any member asked
// for Sync, and inserts every batch into the memtable. It then publishes the
// group's last sequence as visible, wakes the members with the common
// result, and hands leadership to the next writer.
//
// Invariants:
//   - Only the leader writes the WAL, inserts into d.mem, or replaces
//     d.mem/d.log; so while it works unlocked, nobody else touches them.
//   - visibleSeq only grows, and is published after the memtable insert,
//     so a reader that sees sequence s finds every write <= s.
//   - A failed WAL write or sync sets d.bgErr: later writes fail instead
//     of running ahead of what is known to be durable.

// maxGroupBytes bounds the size of a commit group (LevelDB: 1 MiB, or the
// leader's size + 128 KiB when the leader is small, so small writes are not
// delayed behind big ones).
const maxGroupBytes = 1 << 20

type writer struct {
	batch *Batch // nil asks the leader to rotate the memtable (Flush)...
	// ...unless exclusive is set: then the leader runs it, without d.mu,
	// while every other writer waits (ingestion uses this).
	exclusive func() error
	sync      bool
	noWAL     bool
	done      bool
	err       error
	cond      sync.Cond

	// flushReason, for a rotation request, says who asks (FlushInfo.Reason).
	flushReason string

	// txn, for a transaction's commit, is what the leader checks
	// (resolveGroupLocked); skip marks a writer it refused (err says why),
	// whose batch the group leaves out. seq is the writer's first
	// sequence number.
	txn  *txnCommit
	skip bool
	seq  uint64
}

var writerPool = sync.Pool{New: func() any { return new(writer) }}

var batchPool = sync.Pool{New: func() any { return new(Batch) }}

// Put sets key to value. The DB keeps its own copies of key and value.
func (d *DB) Put(key, value []byte, wo *WriteOptions) error {
	b := batchPool.Get().(*Batch)
	b.Put(key, value)
	err := d.Write(b, wo)
	b.Reset()
	batchPool.Put(b)
	return err
}

// Delete removes key. Deleting an absent key is not an error.
func (d *DB) Delete(key []byte, wo *WriteOptions) error {
	b := batchPool.Get().(*Batch)
	b.Delete(key)
	err := d.Write(b, wo)
	b.Reset()
	batchPool.Put(b)
	return err
}

// DeleteRange deletes every key in [start, end) (under the comparator's
// order) with one record, however many keys the range holds: a range
// tombstone, honoured by reads at once and by compactions, which drop the
// keys it covers. An empty range (start >= end) deletes nothing. The DB
// keeps its own copies of start and end. See Batch.DeleteRange.
func (d *DB) DeleteRange(start, end []byte, wo *WriteOptions) error {
	b := batchPool.Get().(*Batch)
	b.DeleteRange(start, end)
	err := d.Write(b, wo)
	b.Reset()
	batchPool.Put(b)
	return err
}

// Merge records operand for key, for Options.Merger to fold into key's
// value when it is read (see Merger): ErrNoMerger without one. The DB keeps
// its own copies of key and operand. See Batch.Merge.
func (d *DB) Merge(key, operand []byte, wo *WriteOptions) error {
	b := batchPool.Get().(*Batch)
	b.Merge(key, operand)
	err := d.Write(b, wo)
	b.Reset()
	batchPool.Put(b)
	return err
}

// Write applies every operation of b atomically, in order. b may be reused
// once Write returns. An empty batch is a no-op, except that with Sync it
// still makes every earlier write durable.
func (d *DB) Write(b *Batch, wo *WriteOptions) error {
	if b == nil || b.count == 0 {
		if d.opts.ReadOnly {
			return ErrReadOnly
		}
		if wo == nil || !wo.Sync || wo.DisableWAL {
			return nil
		}
		if b == nil {
			b = &Batch{}
		}
		b.init()
	}
	if err := b.checkSizes(d.opts); err != nil {
		return err
	}
	if b.merges || b.rangeDels {
		if b.merges && d.opts.Merger == nil {
			return ErrNoMerger
		}
		if d.opts.ReadOnly {
			return ErrReadOnly
		}
		if err := d.ensureExtended(b.merges); err != nil {
			return err
		}
	}
	return d.commit(b, wo)
}

func (d *DB) commit(b *Batch, wo *WriteOptions) error {
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	w := writerPool.Get().(*writer)
	*w = writer{batch: b}
	w.cond.L = &d.mu
	if wo != nil {
		w.sync, w.noWAL = wo.Sync, wo.DisableWAL
	}
	err := d.runWriter(w)
	w.batch = nil
	writerPool.Put(w)
	if a := d.assisting.Load(); a != nil && b != nil {
		// A flush is writing its table: help compress its blocks, about
		// one block per 4 KiB written (at least one). See sstable.Assist.
		a.Help(1 + b.Size()>>12)
	}
	return err
}

// forceRotate asks the commit leader to freeze the memtable, if it holds
// anything, and schedule its flush; reason is who asks (FlushInfo.Reason).
func (d *DB) forceRotate(reason string) error {
	w := &writer{flushReason: reason}
	w.cond.L = &d.mu
	return d.runWriter(w)
}

// leadExclusive runs fn as the commit leader: no write commits while it
// runs. fn is called without d.mu.
func (d *DB) leadExclusive(fn func() error) error {
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	w := &writer{exclusive: fn}
	w.cond.L = &d.mu
	return d.runWriter(w)
}

// runWriter queues w and, once it leads, commits its group.
func (d *DB) runWriter(w *writer) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.writers = append(d.writers, w)
	for !w.done && d.writers[0] != w {
		w.cond.Wait()
	}
	if w.done {
		d.mu.Unlock()
		return w.err
	}

	// w leads a group.
	if w.sync && !w.noWAL && w.batch != nil {
		d.gatherSyncWritersLocked()
	}
	group := d.buildGroupLocked()
	var err error
	var notify func() // a background error to report once d.mu is released
	switch {
	case w.exclusive != nil:
		if err = d.bgErr; err == nil {
			d.mu.Unlock()
			err = w.exclusive()
			d.mu.Lock()
		}
	case w.batch == nil:
		err = d.makeRoomForWriteLocked(w.flushReason, 0)
	default:
		need, count := 0, uint32(0)
		for _, g := range group {
			need += memtableNeed(g.batch)
			count += g.batch.count
		}
		err = d.makeRoomForWriteLocked("", need)
		if err == nil {
			seq := d.lastSeq + 1
			var span uint64
			count, span = d.resolveGroupLocked(group)
			d.lastSeq += span
			log, mem := d.log, d.mem
			d.mu.Unlock()
			// Only synced groups are timed (for gatherSyncWritersLocked):
			// reading the clock costs ~50 ns on a virtual machine, 5% of
			// an unsynced write.
			var began time.Time
			timed := w.sync && !w.noWAL
			if timed {
				began = time.Now()
			}
			switch {
			case count > 0:
				err = d.applyGroup(group, seq, log, mem)
			case timed:
				// Only empty batches, synced: no record to write, but
				// the earlier writes must become durable (Write's
				// contract; a cluster node's syncer relies on it).
				err = d.syncWAL(log)
			}
			d.mu.Lock()
			d.txns.unrecorded = unrecordedGroup{} // the group is done (visible, or failed)
			if timed {
				g := &d.syncGather
				g.prevSize, g.lastSize, g.lastDur = g.lastSize, len(group), time.Since(began)
			}
			if err != nil {
				notify = d.setBGErrLocked("write", err)
			} else if span > 0 {
				if count > 0 && !w.noWAL {
					d.lastLoggedSeq = seq + uint64(count) - 1
				}
				d.visibleSeq.Store(seq + span - 1)
				d.stats.writes.Add(uint64(count))
				if count > 0 && d.watches.n.Load() > 0 {
					d.pokeWatchesLocked(group)
				}
			}
		}
	}
	if d.txns.seqWaiters > 0 {
		d.bgCond.Broadcast() // BeginTxn waits for visibleSeq
	}
	for _, g := range group {
		if !g.skip {
			g.err = err
		}
		g.done = true
		if g != w {
			g.cond.Signal()
		}
	}
	n := copy(d.writers, d.writers[len(group):])
	clear(d.writers[n:])
	d.writers = d.writers[:n]
	if n > 0 {
		d.writers[0].cond.Signal()
	} else {
		d.bgCond.Broadcast() // Close waits for the queue to drain
	}
	d.mu.Unlock()
	if notify != nil {
		notify()
	}
	return w.err // err, unless the leader refused w's own transaction
}

// syncGather is the state behind gatherSyncWritersLocked (under d.mu).
type syncGather struct {
	lastSize, prevSize int           // writers in the last two synced groups
	lastDur            time.Duration // how long the last fsync took
	// shift halves the wait (wait >> shift) after each gather in which
	// no writer arrived, up to maxGatherShift; a gather that saw one
	// arrive resets it.
	shift uint
}

// maxGatherShift bounds syncGather.shift: the shortest wait is 1/16 of the
// longest.
const maxGatherShift = 4

// gatherSyncWritersLocked lets a leader about to fsync wait briefly for
// writers still on their way, so they share this fsync rather than the next.
//
// Without it, concurrent sync writers split into two alternating halves:
// those acknowledged by one fsync come back while the next one (started by
// the writers that queued meanwhile) is already running, so each fsync
// carries half of them. The leader waits until as many writers are queued
// as the last two groups held together (the writers active lately), but no
// longer than a tenth of the last fsync (at most 100 µs): a bounded
// latency cost for up to twice the throughput. The wait yields the
// processor rather than sleeping: timers are too coarse for microseconds.
//
// Writers that do more between their writes than the wait lasts (a SQL
// server's sessions: the answer to the client, the client's next
// statement, its execution) do not come back in time, and the wait only
// delays every group: sysbench oltp_insert with 8 threads spent 48 µs
// gathering before each fsync, for nothing. So a gather that sees no
// writer arrive halves the next one's wait (down to 1/16), and one that
// sees a writer arrive restores it.
func (d *DB) gatherSyncWritersLocked() {
	g := &d.syncGather
	expect := g.lastSize + g.prevSize
	if expect <= 2 || len(d.writers) >= expect || g.lastDur <= 0 {
		return
	}
	queued := len(d.writers)
	deadline := time.Now().Add(min(g.lastDur/10, 100*time.Microsecond) >> g.shift)
	for len(d.writers) < expect && !d.closed && time.Now().Before(deadline) {
		d.mu.Unlock()
		runtime.Gosched()
		d.mu.Lock()
	}
	if len(d.writers) > queued {
		g.shift = 0
	} else if g.shift < maxGatherShift {
		g.shift++
	}
}

// buildGroupLocked returns the writers, from the front of the queue, that
// the leader commits together: same WAL setting, no Sync writer behind a
// non-Sync leader, bounded bytes, and never a rotation request.
func (d *DB) buildGroupLocked() []*writer {
	leader := d.writers[0]
	if leader.batch == nil {
		return d.writers[:1]
	}
	size := leader.batch.Size()
	limit := maxGroupBytes
	if size <= 128<<10 {
		limit = size + 128<<10
	}
	n := 1
	for ; n < len(d.writers); n++ {
		w := d.writers[n]
		if w.batch == nil || w.noWAL != leader.noWAL || (w.sync && !leader.sync) {
			break
		}
		if size += w.batch.Size(); size > limit {
			break
		}
	}
	return d.writers[:n]
}

// memtableNeed bounds the arena bytes a batch takes in a memtable.
func memtableNeed(b *Batch) int {
	return len(b.data) + int(b.count)*memtable.EstimateEntrySize(0, 0)
}

// applyGroup writes the group's WAL record (one for the group), syncs it if
// asked, and inserts the batches into mem, numbering operations from seq.
// It runs without d.mu; only the leader calls it.
func (d *DB) applyGroup(group []*writer, seq uint64, log *walFile, mem *memTable) error {
	leader := group[0]
	if !leader.noWAL {
		var rec []byte
		if len(group) == 1 {
			rec = leader.batch.data
		} else {
			rec = append(d.commitBuf[:0], make([]byte, batch.HeaderLen)...)
			var count uint32
			for _, g := range group {
				if g.skip {
					continue
				}
				rec = append(rec, g.batch.data[batch.HeaderLen:]...)
				count += g.batch.count
			}
			batch.SetCount(rec, count)
			d.commitBuf = rec
		}
		batch.SetSeq(rec, seq)
		if _, err := log.w.WriteRecord(rec); err != nil {
			return fmt.Errorf("strata: write WAL %s: %w", base.MakeFilename(base.FileTypeLog, log.num), err)
		}
		log.unsynced, log.hasRecords = true, true
		d.stats.walBytes.Add(uint64(len(rec)))
		if leader.sync {
			if err := d.syncWAL(log); err != nil {
				return err
			}
		}
	}
	for _, g := range group {
		if g.skip {
			continue
		}
		r, err := batch.NewReader(g.batch.data)
		if err != nil {
			return err
		}
		for {
			kind, k, v, ok, err := r.Next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if kind == base.KindMerge && d.opts.MaxSuccessiveMerges > 0 {
				// One search inserts the operand or finds the key's
				// operands in a row at the limit: then the operand is
				// folded into a value, which is inserted instead.
				err = mem.AddMerge(seq, k, v, d.opts.MaxSuccessiveMerges)
				if errors.Is(err, memtable.ErrMergeLimit) {
					kind, v = d.foldAtWrite(k, v, seq)
					err = mem.apply(seq, kind, k, v)
				}
			} else {
				err = mem.apply(seq, kind, k, v)
			}
			if err != nil {
				return fmt.Errorf("strata: memtable insert at seq %d: %w", seq, err)
			}
			seq++
		}
	}
	return nil
}

// syncWAL makes everything written to log durable, including (the first
// time) the log's directory entry, after every retired log still open:
// a durable write implies durable older writes.
func (d *DB) syncWAL(log *walFile) error {
	d.mu.Lock()
	retired := slices.Clone(d.retired)
	d.mu.Unlock()
	for _, l := range retired {
		if err := l.syncRetired(); err != nil {
			return err
		}
	}
	if !log.dirSynced.Load() {
		if err := vfs.SyncDir(d.fs, d.dirname); err != nil {
			return fmt.Errorf("strata: %w", err)
		}
		log.dirSynced.Store(true)
	}
	if err := log.file.Sync(); err != nil {
		return fmt.Errorf("strata: sync WAL %s: %w", base.MakeFilename(base.FileTypeLog, log.num), err)
	}
	log.unsynced = false
	log.mu.Lock()
	log.headerSynced = true
	log.headerDurable.Store(true)
	log.mu.Unlock()
	d.stats.walSyncs.Add(1)
	return nil
}

// isTransient reports whether err is a failure that goes away by itself:
// the process or the system out of file descriptors. Background work that
// fails so is retried, not made fatal.
func isTransient(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// backgroundFailedLocked handles the error of a flush or compaction (what):
// a transient one (isTransient) is reported (BackgroundError, not Fatal)
// and the work retried after a delay that doubles with each consecutive
// failure (10 ms to 5 s), with no harm done (the work left nothing
// installed); any other stops writes (setBGErrLocked). d.mu is held; the
// caller calls the function returned once it is released, to report the
// error (BackgroundError).
func (d *DB) backgroundFailedLocked(what string, err error, retry func()) (notify func()) {
	if !isTransient(err) {
		return d.setBGErrLocked(what, fmt.Errorf("strata: %s: %w", what, err))
	}
	delay := min(10*time.Millisecond<<min(d.transientFailures, 10), 5*time.Second)
	d.transientFailures++
	time.AfterFunc(delay, retry)
	return d.backgroundErrorLocked(BackgroundErrorInfo{Operation: what, Err: err, RetryIn: delay})
}

// setBGErrLocked records the first fatal error, of operation op (see
// BackgroundErrorInfo); writes fail from now on. The caller calls the
// function returned once d.mu is released, to report the error
// (BackgroundError); a later error is not reported.
func (d *DB) setBGErrLocked(op string, err error) (notify func()) {
	if d.bgErr != nil || err == nil {
		return func() {}
	}
	d.bgErr = err
	d.bgCond.Broadcast()
	return d.backgroundErrorLocked(BackgroundErrorInfo{Operation: op, Err: err, Fatal: true})
}

// makeRoomForWriteLocked ensures the mutable memtable can take need more
// bytes, stalling as LevelDB does: a 1 ms delay per write once level 0 has
// L0SlowdownTrigger files, a wait when the memtables are all full or level
// 0 reaches L0StopTrigger; and a wait when the memtables would pass
// MaxMemTableBytes while a flush is pending, for at most MaxMemTableWait
// (then the write goes on past the bound). A forceReason (FlushInfo's
// Reason) rotates a non-empty memtable regardless. A stall is reported by
// WriteStallBegin and WriteStallEnd, and a new WAL by WALCreated. d.mu is
// held (and released while waiting, and while events are delivered).
func (d *DB) makeRoomForWriteLocked(forceReason string, need int) error {
	force := forceReason != ""
	allowDelay := !force
	budgetStalled := false
	// budgetDeadline ends this write's wait at MaxMemTableBytes
	// (MaxMemTableWait); budgetTimer wakes it then.
	var budgetDeadline time.Time
	var budgetTimer *time.Timer
	var stall writeStall
	// done ends the stall, if any (not deferred: a panicking listener
	// must not have it unlock d.mu, which is then not held).
	done := func(err error) error {
		if budgetTimer != nil {
			budgetTimer.Stop()
		}
		stall.endLocked(d)
		return err
	}
	for {
		if d.bgErr != nil {
			return done(d.bgErr)
		}
		if d.closed {
			return done(ErrClosed)
		}
		l0 := len(d.versions.current.Levels[0])
		l0Stalls := !d.opts.DisableAutoCompactions
		switch {
		case allowDelay && l0Stalls && l0 >= d.opts.L0SlowdownTrigger:
			// Spread the pain over many writes rather than stopping one
			// for seconds when level 0 hits the stop trigger.
			d.mu.Unlock()
			time.Sleep(time.Millisecond)
			d.mu.Lock()
			allowDelay = false
			d.stats.slowdowns.Add(1)
		case !force && d.overMemTableBudgetLocked(need):
			if stall.beginLocked(d, stallMemTableBytes) {
				continue // d.mu was released: look again
			}
			if !budgetStalled {
				budgetStalled = true
				d.stats.stalls.Add(1)
				if wait := d.opts.MaxMemTableWait; wait > 0 {
					budgetDeadline = time.Now().Add(wait)
					budgetTimer = time.AfterFunc(wait, d.wakeBudgetWaiters)
				}
			} else if !budgetDeadline.IsZero() && !time.Now().Before(budgetDeadline) {
				// Go on past the bound, and so do later writes until
				// this flush is done; the other rules still hold.
				d.budgetWaivedFor = d.imms[0]
				continue
			}
			inTime := func() bool { return budgetDeadline.IsZero() || time.Now().Before(budgetDeadline) }
			d.flushQueued = true // small memtables too (flushSetLocked)
			d.scheduleFlush()
			gen := d.assistGen.Load()
			if a := d.assisting.Load(); a != nil {
				// Spend the wait compressing the flush's blocks (see
				// sstable.Assist.HelpWhile): the flush, and so the wait,
				// ends sooner. Only this flush's: with more flushes queued
				// (MaxWriteBufferNumber > 2) the next one starts at once,
				// and its end may not be what the write waits for.
				d.mu.Unlock()
				a.HelpWhile(func() bool { return d.assisting.Load() == a && d.assistGen.Load() == gen && inTime() })
				d.mu.Lock()
				continue
			}
			d.bgCond.Wait()
		case !force && (d.mem.ApproximateMemoryUsage() < uint64(d.mem.size) || d.rampWaitsForHeaderLocked()) &&
			memHasRoom(d.mem, need):
			return done(nil)
		case force && d.mem.Empty():
			return done(nil)
		case d.queuedFullLocked():
			if stall.beginLocked(d, stallMemTableCount) {
				continue
			}
			d.stats.stalls.Add(1)
			d.scheduleFlush()
			d.bgCond.Wait()
		case l0Stalls && l0 >= d.opts.L0StopTrigger:
			if stall.beginLocked(d, stallL0Files) {
				continue
			}
			d.stats.stalls.Add(1)
			d.scheduleCompaction()
			d.bgCond.Wait()
		default:
			reason := forceReason
			if !force {
				reason = flushReasonFull
			}
			if err := d.rotateMemtableLocked(need, reason); err != nil {
				return done(err)
			}
			force = false
			if d.events.on {
				job, num := d.events.newJob(), d.log.num
				d.mu.Unlock()
				d.walCreated(job, num)
				d.mu.Lock()
			}
		}
	}
}

// wakeBudgetWaiters wakes the writes waiting at MaxMemTableBytes (on
// bgCond, or compressing a flush's blocks) so that one whose
// MaxMemTableWait is over goes on.
func (d *DB) wakeBudgetWaiters() {
	d.mu.Lock()
	d.bgCond.Broadcast()
	d.mu.Unlock()
	if a := d.assisting.Load(); a != nil {
		a.Wake()
	}
}

// overMemTableBudgetLocked reports whether need more bytes would take the
// memtables past MaxMemTableBytes while a flush is pending (see
// Options.MaxMemTableBytes). A write that finds no memtable waiting for a
// flush never waits here: it rotates (or stalls) by the other rules.
func (d *DB) overMemTableBudgetLocked(need int) bool {
	if len(d.imms) == 0 || d.opts.MaxMemTableBytes < 0 || d.budgetWaivedFor == d.imms[0] {
		return false
	}
	total := d.mem.ApproximateMemoryUsage() + uint64(need)
	for _, m := range d.imms {
		total += m.memoryUsage() // 0 for a stand-in (see memTable)
	}
	return total > uint64(d.opts.MaxMemTableBytes)
}

// rampWaitsForHeaderLocked reports whether a small memtable of the ramp
// (Options.InitialMemTableSize) that has reached its size should take more
// writes rather than be frozen now: its log's header record is not yet
// durable, and a rotation would sync it on the write path (see
// rotateMemtableLocked), which on ext4 takes tens of milliseconds, while
// the flush loop syncs it in the background (flushOne). The memtable grows
// into its arena's slack meanwhile (memHasRoom still decides), as LevelDB's
// memtables overrun their write buffer by a commit group.
func (d *DB) rampWaitsForHeaderLocked() bool {
	return d.mem.size < d.opts.WriteBufferSize && d.log != nil && d.log.hasRecords && !d.log.headerDurable.Load()
}

// queuedFullLocked reports whether the frozen memtables fill the queue
// MaxWriteBufferNumber allows, so that a write must wait for a flush
// rather than freeze another memtable. Memtables count by their sizes: the
// queue is full once they hold (MaxWriteBufferNumber − 1.5) ×
// WriteBufferSize, which for memtables of WriteBufferSize is LevelDB's
// count (MaxWriteBufferNumber − 1 of them), and which the small memtables
// of the ramp (Options.InitialMemTableSize) reach only once they are due
// for their flush (half a WriteBufferSize together): a write never waits
// for a flush that is not due.
func (d *DB) queuedFullLocked() bool {
	queued := 0
	for _, m := range d.imms {
		queued += m.size
	}
	return queued >= d.opts.WriteBufferSize*(d.opts.MaxWriteBufferNumber-1)-d.opts.WriteBufferSize/2
}

// newMemTableLocked returns the memtable that follows a rotation, for log
// logNum: of the next size of the ramp (Options.InitialMemTableSize), and
// room for a batch of need bytes.
func (d *DB) newMemTableLocked(logNum uint64, need int) *memTable {
	size := d.nextMemSize
	d.nextMemSize = min(2*size, d.opts.WriteBufferSize)
	return d.opts.newMemTableSized(logNum, need, size)
}

// rotateMemtableLocked freezes the memtable, starts a new WAL and a new
// memtable, and schedules a flush. The previous WAL joins d.retired, open
// and not synced: a Sync write syncs it first (syncWAL), so a durable
// write is always preceded by durable older logs; otherwise the flush of
// its memtable closes it, and it is deleted never synced, as LevelDB does.
//
// reason is why the memtable is frozen (FlushInfo.Reason).
func (d *DB) rotateMemtableLocked(need int, reason string) error {
	old := d.log
	if old != nil && old.hasRecords {
		// Normally done by the flush the last rotation scheduled; a flush
		// backlog (MaxWriteBufferNumber > 2) may not have got to it. A log
		// with no records (writes without the WAL) needs no durable
		// header: losing it loses nothing, and recovery compares the next
		// log with the last one that recovered records (walGap).
		if err := old.syncHeader(); err != nil {
			return err
		}
	}
	l, err := d.createWALLocked(d.versions.newFileNum(), false)
	if err != nil {
		return err
	}
	d.log = l
	d.mem.flushReason = reason
	d.imms = append(d.imms, d.mem)
	d.mem = d.newMemTableLocked(l.num, need)
	d.updateReadStateLocked()
	d.scheduleFlush()
	if old != nil {
		// Give back the mapped appender's chunks now, not at the flush's
		// end; the log stays open for a Sync write.
		if r, ok := old.file.(vfs.Retirer); ok {
			if err := r.Retire(); err != nil {
				// Its bytes are written; at worst it keeps a zero tail.
				d.logger.Warn("cannot release retired WAL", "file", base.MakeFilename(base.FileTypeLog, old.num), "err", err)
			}
		}
		d.retired = append(d.retired, old)
	}
	return nil
}
