package strata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/iterator"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/rangedel"
	"github.com/strata-db/strata/internal/sstable"
)

// Compactions. One background goroutine runs automatic compactions, one at
// a time, picked by manifest.PickCompaction (level scores, level-0 file
// count, compact pointers, seek statistics). CompactRange runs manual
// compactions in the caller's goroutine; manual and automatic compactions
// exclude each other, while flushes to level 0 run alongside either.
//
// A compaction merges its inputs (level L and the overlapping tables of its
// output level: L+1, or for level 0 the base level, see
// Options.LevelSizing), drops what no reader can see any more, and writes
// tables to the output level, cut at the target file size and where the
// output would overlap too much of the level below it. Dropping rules (LevelDB's DoCompactionWork):
//   - an entry is shadowed when a newer entry for the same user key exists
//     at or below the oldest live snapshot: every reader sees the newer one;
//   - a deletion at or below the oldest snapshot is dropped when no deeper
//     level can hold the key (nothing left for it to hide).

var errCompactionAborted = errors.New("strata: compaction aborted: database closing")

// canceledError stops a manual compaction whose context is done. Like
// errCompactionAborted it is no failure of the database, never the
// background error: the compaction installs nothing and removes its
// tables, and its caller returns the cause (manualErr).
type canceledError struct{ cause error }

func (e canceledError) Error() string { return "strata: compaction canceled: " + e.cause.Error() }
func (e canceledError) Unwrap() error { return e.cause }

// stopCheck returns what stops a compaction now: errCompactionAborted once
// the database is closing, a canceledError once ctx is done, else nil.
func (d *DB) stopCheck(ctx context.Context) error {
	select {
	case <-d.closing:
		return errCompactionAborted
	case <-ctx.Done():
		return canceledError{context.Cause(ctx)}
	default:
		return nil
	}
}

// stopped reports whether a compaction's error only says it was stopped
// (stopCheck), not that something failed.
func stopped(err error) bool {
	return errors.Is(err, errCompactionAborted) || errors.As(err, new(canceledError))
}

// manualErr is what a manual compaction returns for its error: ErrClosed
// when the database closed under it, its context's cause when canceled.
func manualErr(err error) error {
	var c canceledError
	switch {
	case errors.Is(err, errCompactionAborted):
		return ErrClosed
	case errors.As(err, &c):
		return c.cause
	}
	return err
}

func (d *DB) pickerOptions() manifest.PickerOptions {
	return manifest.PickerOptions{
		L0CompactionTrigger:             d.opts.L0CompactionTrigger,
		LevelMultiplier:                 d.opts.LevelSizeMultiplier,
		BaseLevelBytes:                  uint64(d.opts.BaseLevelSize),
		DynamicLevelBytes:               d.opts.LevelSizing == DynamicLevelSizes,
		TargetFileSize:                  uint64(d.opts.TargetFileSize),
		MaxGrandparentOverlapBytes:      10 * uint64(d.opts.TargetFileSize),
		ExpandedCompactionByteSizeLimit: 25 * uint64(d.opts.TargetFileSize),
	}
}

func (d *DB) compactionLoop() {
	defer d.bgWG.Done()
	for {
		select {
		case <-d.compactCh:
		case <-d.closing:
			return
		}
		for d.maybeCompact() {
		}
	}
}

// maybeCompact runs one automatic compaction if one is due; it reports
// whether it did.
func (d *DB) maybeCompact() bool {
	d.mu.Lock()
	if d.closed || d.bgErr != nil || d.opts.DisableAutoCompactions ||
		d.manualCompacting > 0 || d.manualWaiting > 0 || d.flushPlacing {
		d.mu.Unlock()
		return false
	}
	c := manifest.PickCompaction(d.versions.current, d.pickerOptions(), &d.versions.compactPointers)
	if c == nil {
		d.mu.Unlock()
		return false
	}
	c.MarkCompacting(true)
	d.compacting = true
	d.mu.Unlock()

	err := d.runCompaction(context.Background(), c, false)

	d.mu.Lock()
	c.MarkCompacting(false)
	d.compacting = false
	notify := func() {}
	switch {
	case err == nil:
		d.transientFailures = 0
	case errors.Is(err, errFilterRaced):
		d.bgCond.Broadcast()
		d.mu.Unlock()
		return true // pick again: the new snapshot is respected now
	case !errors.Is(err, errCompactionAborted):
		notify = d.backgroundFailedLocked("compaction", err, d.scheduleCompaction)
	}
	d.bgCond.Broadcast()
	d.mu.Unlock()
	notify()
	return err == nil
}

// runCompaction carries out c and installs its result, unless ctx is done
// first (a canceledError). A manual compaction never moves a table without
// rewriting it (as in LevelDB): the caller wants the data rewritten,
// shadowed entries and tombstones dropped.
//
// Its events (CompactionBegin, TableCreated, CompactionEnd) are delivered on
// the calling goroutine.
func (d *DB) runCompaction(ctx context.Context, c *manifest.Compaction, manual bool) (err error) {
	start := time.Now()
	trivial := !manual && c.IsTrivialMove()
	ev := d.compactionBegin(c, trivial)
	defer func() { d.compactionEnd(ev, err) }()
	edit := &manifest.VersionEdit{}
	if cp := c.CompactPointer(); cp.Key != nil {
		edit.CompactPointers = []manifest.CompactPointer{cp}
	}
	if trivial {
		f := c.Inputs[0][0]
		c.AddInputDeletions(edit)
		edit.NewFiles = []manifest.NewFileEntry{{Level: c.OutputLevel(), Meta: f}}
		if err := d.versions.logAndApply(edit, nil); err != nil {
			return err
		}
		d.stats.trivialMoves.Add(1)
		ev.setOutput([]*manifest.FileMetadata{f}, 0, 0)
		return nil
	}

	var outNums []uint64
	var guard filterGuard
	outputs, readBytes, err := d.compactionOutputs(ctx, c, ev.job(), &outNums, &guard)
	defer d.releaseOutputs(outNums)
	if err == nil && ctx.Err() != nil {
		err = canceledError{context.Cause(ctx)} // the last point before installing
	}
	if err != nil {
		d.removeTables(ev.job(), outputs)
		return err
	}
	c.AddInputDeletions(edit)
	var written uint64
	for _, o := range outputs {
		edit.NewFiles = append(edit.NewFiles, manifest.NewFileEntry{Level: c.OutputLevel(), Meta: o})
		written += o.Size
	}
	ev.setOutput(outputs, readBytes, written)
	return d.installCompaction(edit, c.OutputLevel(), readBytes, written, start, &guard, ev)
}

// installCompaction makes a compaction's edit durable and installs it,
// counting read and written bytes (since start) for the output level. On
// failure it sets the background error: the record may have reached the
// MANIFEST anyway, and the error must be set before the caller's release of
// the outputs lets the cleanup delete them (it deletes nothing after one).
// The input tables it makes obsolete stay until ev's CompactionEnd.
//
// A compaction whose filter changed values (guard) installs only if no
// snapshot was taken since it started (one could see those values): else
// it removes its outputs and returns errFilterRaced. NewSnapshot waits
// while such a compaction installs, so none slips in between.
func (d *DB) installCompaction(edit *manifest.VersionEdit, level int, read, written uint64, start time.Time, guard *filterGuard, ev *compactionEvent) error {
	if guard != nil && guard.filtered.Load() > 0 {
		d.mu.Lock()
		if d.snapshotEpoch != guard.epoch {
			d.mu.Unlock()
			for _, nf := range edit.NewFiles {
				path := base.MakeFilepath(d.dirname, base.FileTypeTable, nf.Meta.Num)
				d.fileDeleted(ev.job(), base.FileTypeTable, path, nf.Meta.Num, d.fs.Remove(path))
			}
			return errFilterRaced
		}
		d.filterInstalling = true
		d.mu.Unlock()
		defer func() {
			d.mu.Lock()
			d.filterInstalling = false
			d.bgCond.Broadcast()
			d.mu.Unlock()
		}()
	}
	if ev != nil {
		d.mu.Lock()
		ev.holdLocked(d)
		d.mu.Unlock()
	}
	err := d.versions.logAndApply(edit, func() {
		d.stats.levels[level].recordCompaction(read, written, time.Since(start))
		d.stats.compactions.Add(1)
	})
	if err != nil {
		d.mu.Lock()
		notify := d.setBGErrLocked("compaction", fmt.Errorf("strata: compaction: %w", err))
		d.mu.Unlock()
		ev.reportAfterEnd(notify)
	}
	return err
}

// compactionOutputs merges c's inputs into new tables, stopping once ctx is
// done. It returns the tables written so far even on error, so the caller
// can remove them.
//
// Every file number it allocates is appended to nums (they sit in
// pendingOutputs until the caller releases them).
func (d *DB) compactionOutputs(ctx context.Context, c *manifest.Compaction, jobID int, nums *[]uint64, guard *filterGuard) (outputs []*manifest.FileMetadata, readBytes uint64, err error) {
	var iters []base.InternalIterator
	for which, level := range [2]int{c.Level, c.OutputLevel()} {
		for _, f := range c.Inputs[which] {
			readBytes += f.Size
		}
		its, err := d.levelInputIters(level, c.Inputs[which])
		if err != nil {
			closeIters(iters)
			return nil, readBytes, err
		}
		iters = append(iters, its...)
	}
	rangeDels, err := d.inputRangeDels(c.Inputs[0], c.Inputs[1])
	if err != nil {
		closeIters(iters)
		return nil, readBytes, err
	}
	smallest, newest, epoch := d.snapshotState()
	guard.epoch = epoch
	job := &compactionJob{
		ctx:                 ctx,
		input:               iterator.NewMerging(d.internalCompare, iters...),
		smallestSnapshot:    smallest,
		isBaseLevelForKey:   c.IsBaseLevelForKey,
		shouldStopBefore:    c.ShouldStopBefore,
		maxOutputSize:       c.MaxOutputFileSize,
		writerOptions:       d.opts.writerOptions(),
		what:                fmt.Sprintf("compaction of level %d", c.Level),
		rangeDels:           rangeDels,
		isBaseLevelForRange: baseLevelForRange(d.cmp.Compare, c.Version, c.OutputLevel()+1),
		jobID:               jobID,
	}
	d.setFilter(job, guard, newest, c.OutputLevel())
	outputs, err = d.runCompactionJob(job, nums)
	return outputs, readBytes, err
}

// inputRangeDels returns the range tombstones of a compaction's input
// tables (nil when they have none, or the database never had any).
func (d *DB) inputRangeDels(inputs ...[]*manifest.FileMetadata) (*rangedel.Set, error) {
	if !d.extendedFlag.Load() {
		return nil, nil
	}
	var sets []*rangedel.Set
	for _, files := range inputs {
		for _, f := range files {
			s, err := d.tables.rangeDels(f)
			if err != nil {
				return nil, err
			}
			sets = append(sets, s)
		}
	}
	return rangedel.Union(d.cmp.Compare, sets...), nil
}

// baseLevelForRange returns a function reporting whether no table of v in
// level from or deeper holds a key of [start, end).
func baseLevelForRange(ucmp func(a, b []byte) int, v *manifest.Version, from int) func(start, end []byte) bool {
	return func(start, end []byte) bool {
		for level := from; level < manifest.NumLevels; level++ {
			for _, f := range v.Levels[level] {
				if ucmp(f.LargestUserKey(), start) >= 0 && ucmp(f.SmallestUserKey(), end) < 0 {
					return false
				}
			}
		}
		return true
	}
}

func (d *DB) internalCompare(a, b []byte) int { return base.InternalCompare(d.cmp.Compare, a, b) }

// releaseOutputs removes file numbers from pendingOutputs once they are
// installed in a version or abandoned, and lets the cleanup run.
func (d *DB) releaseOutputs(nums []uint64) {
	d.mu.Lock()
	for _, n := range nums {
		delete(d.pendingOutputs, n)
	}
	d.mu.Unlock()
	d.scheduleCleanup()
}

// levelInputIters returns iterators over files of one level: one per table
// for level 0 (whose tables overlap), one concatenating iterator otherwise.
func (d *DB) levelInputIters(level int, files []*manifest.FileMetadata) ([]base.InternalIterator, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if level > 0 {
		return []base.InternalIterator{iterator.NewLevel(d.cmp, files, d.tables.newCompactionIter)}, nil
	}
	var iters []base.InternalIterator
	for _, f := range files {
		it, err := d.tables.newCompactionIter(f)
		if err != nil {
			closeIters(iters)
			return nil, err
		}
		iters = append(iters, it)
	}
	return iters, nil
}

func closeIters(iters []base.InternalIterator) {
	for _, it := range iters {
		it.Close()
	}
}

// smallestSnapshot is the oldest sequence any reader may still read at.
func (d *DB) smallestSnapshot() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.snapshots.oldest(); s != nil {
		return s.seq
	}
	return d.visibleSeq.Load()
}

// compactionJob describes one merge of input tables into output tables.
type compactionJob struct {
	ctx               context.Context       // stops the job once done (stopCheck)
	input             base.InternalIterator // merged inputs; closed by the job
	lower, upper      []byte                // optional user-key bounds [lower, upper)
	smallestSnapshot  uint64
	isBaseLevelForKey func(ukey []byte) bool // no deeper level can hold ukey (keys fed in order)
	shouldStopBefore  func(ikey []byte) bool // cut the output before ikey (nil: never)
	maxOutputSize     uint64
	writerOptions     sstable.WriterOptions
	what              string // for error messages

	// rangeDels are the inputs' range tombstones (nil: none), and
	// isBaseLevelForRange reports whether no deeper level can hold a key of
	// [start, end) (nil: deeper levels may hold anything).
	rangeDels           *rangedel.Set
	isBaseLevelForRange func(start, end []byte) bool

	// filter is Options.CompactionFilter (nil: none), applied to values
	// with a sequence above filterAbove (the newest snapshot's; 0: none),
	// written to outputLevel; filtered counts the values it changed or
	// removed (shared by a compaction's parallel jobs).
	filter      *CompactionFilter
	filterAbove uint64
	outputLevel int
	filtered    *atomic.Int64

	jobID int // reports each table as this job's (TableCreated); 0: the caller does
}

// filterGuard is what a compaction that ran a filter needs at install:
// the snapshot epoch at its start (see installCompaction).
type filterGuard struct {
	epoch    uint64
	filtered atomic.Int64
}

// errFilterRaced: a snapshot was taken while a compaction's filter changed
// values it can see; the compaction installs nothing and is run again.
var errFilterRaced = errors.New("strata: compaction filter raced a new snapshot; compaction retried")

// snapshotState returns, under one lock, the oldest sequence a reader may
// read at (smallestSnapshot), the newest snapshot's sequence (0: none) and
// the snapshot epoch (see filterGuard).
func (d *DB) snapshotState() (smallest, newest, epoch uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	smallest = d.visibleSeq.Load()
	if s := d.snapshots.oldest(); s != nil {
		smallest = s.seq
	}
	if s := d.snapshots.newest(); s != nil {
		newest = s.seq
	}
	return smallest, newest, d.snapshotEpoch
}

// setFilter arms job with Options.CompactionFilter (if any), guarded by g.
func (d *DB) setFilter(job *compactionJob, g *filterGuard, newest uint64, level int) {
	if d.opts.CompactionFilter == nil {
		return
	}
	job.filter, job.filterAbove, job.outputLevel, job.filtered = d.opts.CompactionFilter, newest, level, &g.filtered
}

// runCompactionJob writes the entries of job.input that some reader may
// still see into new tables, cut at maxOutputSize and where
// shouldStopBefore says. It returns the tables written (on error too, so
// the caller can remove them) and appends every file number it allocates to
// nums. It checks stopCheck at its first entry and every 1024th after.
//
// Range tombstones (job.rangeDels) delete: an entry older than a tombstone
// every reader sees (at or below smallestSnapshot) is dropped. They are
// also written out, each output table carrying the pieces that fall in its
// part of the key space: an output is cut only between user keys, and
// holds [the previous cut, the next cut). A tombstone is dropped when a
// newer one every reader sees covers the same keys, or when every reader
// sees it and no deeper level holds keys it covers (nothing left to
// delete).
func (d *DB) runCompactionJob(job *compactionJob, nums *[]uint64) (outputs []*manifest.FileMetadata, err error) {
	in := job.input
	defer func() {
		if cerr := in.Close(); err == nil {
			err = cerr
		}
	}()
	var (
		tw            *tableFile
		currentUkey   []byte
		hasCurrentKey bool
		lastSeqForKey = base.MaxSeq
		// cutPending: the output is full (or would overlap too much of
		// the grandparents) and is finished at the next user key.
		cutPending bool
		// tombLo is where the current output's part of the key space
		// starts (nil: open), for its tombstones.
		tombLo = job.lower
		// The tombstones' answer for the last key asked (see Span).
		tombSeq          uint64
		tombLoK, tombHiK []byte
		tombCached       bool
	)
	defer func() {
		if err != nil && tw != nil {
			tw.abandon()
		}
	}()
	newOutput := func() error {
		d.mu.Lock()
		num := d.newOutputNumLocked()
		d.mu.Unlock()
		*nums = append(*nums, num)
		var err error
		tw, err = d.createTable(num, job.writerOptions)
		return err
	}
	// finish completes the current output with its tombstones, those of
	// [tombLo, hi); with no output open, it opens one if they are needed.
	finish := func(hi []byte) error {
		ts := d.outputTombstones(job, tombLo, hi)
		tombLo = hi
		if tw == nil {
			if len(ts) == 0 {
				return nil
			}
			if err := newOutput(); err != nil {
				return err
			}
		}
		for _, t := range ts {
			tw.w.AddRangeDel(t.Start, t.End, t.Seq)
		}
		meta, err := tw.finish()
		tw = nil
		if meta != nil {
			outputs = append(outputs, meta)
			if job.jobID > 0 {
				d.tableCreated(job.jobID, tableCompacting, meta)
			}
		}
		return err
	}
	var ok bool
	if job.lower != nil {
		ok = in.SeekGE(base.MakeSearchKey(nil, job.lower, base.MaxSeq))
	} else {
		ok = in.First()
	}
	// emit writes one entry to the current output, opening one if needed.
	emit := func(ikey, value []byte) error {
		if tw == nil {
			if err := newOutput(); err != nil {
				return err
			}
		}
		if err := tw.w.Add(ikey, value); err != nil {
			return err
		}
		if tw.w.EstimatedSize() >= job.maxOutputSize {
			cutPending = true
		}
		return nil
	}
	// put is emit through the compaction filter, if any.
	var filterKey []byte
	put := func(ikey, value []byte) error {
		if job.filter == nil {
			return emit(ikey, value)
		}
		ukey, seq, kind, _ := base.ParseInternalKey(ikey)
		if kind != base.KindSet || seq <= job.filterAbove {
			return emit(ikey, value)
		}
		switch dec, nv := job.filter.Filter(job.outputLevel, ukey, value); dec {
		case FilterRemove:
			job.filtered.Add(1)
			if seq <= job.smallestSnapshot && job.isBaseLevelForKey(ukey) {
				return nil // nothing beneath for a deletion to hide
			}
			filterKey = base.AppendInternalKey(filterKey[:0], ukey, seq, base.KindDelete)
			return emit(filterKey, nil)
		case FilterChange:
			job.filtered.Add(1)
			return emit(ikey, nv)
		}
		return emit(ikey, value)
	}
	// run collects a key's merge operands that every reader sees, to fold
	// them (see compactionMerge).
	run := compactionMerge{d: d, job: job, emit: put}
	for n := 0; ok; ok = in.Next() {
		if n++; n&1023 == 1 {
			if err := d.stopCheck(job.ctx); err != nil {
				return outputs, err
			}
		}
		ikey := in.Key()
		ukey, seq, kind, valid := base.ParseInternalKey(ikey)
		if !valid {
			return outputs, base.CorruptionErrorf("", -1, "%s: bad internal key %q", job.what, ikey)
		}
		if job.upper != nil && d.cmp.Compare(ukey, job.upper) >= 0 {
			break
		}
		if job.shouldStopBefore != nil && job.shouldStopBefore(ikey) && tw != nil {
			cutPending = true
		}
		if !hasCurrentKey || d.cmp.Compare(ukey, currentUkey) != 0 {
			if err := run.endOfKey(currentUkey); err != nil {
				return outputs, err
			}
			if cutPending && tw != nil {
				// Cut between user keys, never inside one: a key's entries
				// and the tombstones covering it stay in one table.
				if err := finish(bytes.Clone(ukey)); err != nil {
					return outputs, err
				}
			}
			cutPending = false
			currentUkey = append(currentUkey[:0], ukey...)
			hasCurrentKey = true
			lastSeqForKey = base.MaxSeq
		}
		rangeDeleted := false // by a range tombstone every reader sees
		if job.rangeDels != nil {
			if !tombCached || tombLoK != nil && d.cmp.Compare(ukey, tombLoK) < 0 ||
				tombHiK != nil && d.cmp.Compare(ukey, tombHiK) >= 0 {
				tombSeq, tombLoK, tombHiK = job.rangeDels.Span(ukey, job.smallestSnapshot)
				tombCached = true
			}
			rangeDeleted = tombSeq > seq
		}
		if run.active() {
			// An entry beneath the operands every reader sees: another
			// operand, or what they fold onto.
			switch {
			case rangeDeleted || kind == base.KindDelete:
				err = run.fold(nil, false)
			case kind == base.KindMerge:
				run.add(ikey, in.Value())
			default:
				err = run.fold(in.Value(), true)
			}
			if err != nil {
				return outputs, err
			}
			continue // the rest of the key is shadowed (lastSeqForKey)
		}
		drop := false
		if lastSeqForKey <= job.smallestSnapshot {
			drop = true // shadowed by a newer entry every reader sees
		} else if kind == base.KindDelete && seq <= job.smallestSnapshot && job.isBaseLevelForKey(ukey) {
			drop = true // a tombstone with nothing beneath it to hide
		} else {
			drop = rangeDeleted
		}
		lastSeqForKey = seq
		if drop {
			continue
		}
		if kind == base.KindMerge && seq <= job.smallestSnapshot {
			run.add(ikey, in.Value()) // the newest entry every reader sees
			continue
		}
		if err := put(ikey, in.Value()); err != nil {
			return outputs, err
		}
	}
	if err := in.Error(); err != nil {
		return outputs, err
	}
	if err := run.endOfKey(currentUkey); err != nil {
		return outputs, err
	}
	if err := finish(job.upper); err != nil {
		return outputs, err
	}
	return outputs, nil
}

// outputTombstones returns the tombstones of job.rangeDels an output
// holding the keys of [lo, hi) must carry: clipped to that range, without
// those no reader needs (see runCompactionJob).
func (d *DB) outputTombstones(job *compactionJob, lo, hi []byte) []rangedel.Tombstone {
	if job.rangeDels == nil {
		return nil
	}
	clipped := job.rangeDels.Truncate(lo, hi)
	out := clipped[:0]
	for i := 0; i < len(clipped); {
		// clipped holds each fragment's sequences newest first.
		j := i
		for j < len(clipped) && d.cmp.Compare(clipped[j].Start, clipped[i].Start) == 0 {
			j++
		}
		frag := clipped[i:j]
		seenVisible := false
		for _, t := range frag {
			if t.Seq > job.smallestSnapshot {
				out = append(out, t) // a snapshot may read beneath it
				continue
			}
			if seenVisible {
				continue // a newer tombstone every reader sees covers the same keys
			}
			seenVisible = true
			if job.isBaseLevelForRange != nil && job.isBaseLevelForRange(t.Start, t.End) {
				continue // every reader sees it, and it has nothing left to delete
			}
			out = append(out, t)
		}
		i = j
	}
	return out
}

// CompactRange is CompactRangeContext without cancellation.
func (d *DB) CompactRange(start, end []byte) error {
	return d.CompactRangeContext(context.Background(), start, end)
}

// CompactRangeContext compacts the key range [start, end] (nil means
// unbounded on that side) down to the deepest level that holds data in it,
// after flushing the memtable. It returns when done. start and end are
// only read during the call.
//
// It runs one compaction after another, each installed atomically. Once
// ctx is done it stops within 1024 entries and returns context.Cause(ctx):
// the compaction it cuts short installs nothing and removes the tables it
// wrote, while those installed before stay (the data reads the same either
// way); a ctx done before the call changes nothing. It returns ErrReadOnly
// on a read-only handle, ErrClosed if the database is closed under it, and
// the background error that stopped writes, if any.
//
// Manual compactions and ingests run one at a time (calls from several
// goroutines wait their turn, which ctx also ends); reads and writes go on.
func (d *DB) CompactRangeContext(ctx context.Context, start, end []byte) error {
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	if err := d.flush(ctx, flushReasonCompactRange); err != nil {
		return err
	}
	d.mu.Lock()
	maxLevel := 1
	for level := 1; level < manifest.NumLevels; level++ {
		if d.versions.current.OverlapInLevel(level, start, end) {
			maxLevel = level
		}
	}
	d.mu.Unlock()
	var begin, limit []byte
	if start != nil {
		begin = base.MakeSearchKey(nil, start, base.MaxSeq)
	}
	if end != nil {
		limit = base.AppendInternalKey(nil, end, 0, base.KindDelete)
	}
	for level := 0; level < maxLevel; level++ {
		if err := d.compactLevelRange(ctx, level, begin, limit); err != nil {
			return err
		}
	}
	return nil
}

// compactLevelRange runs manual compactions of level until no table of it
// overlaps [begin, limit] (internal keys, nil = open), or ctx is done.
func (d *DB) compactLevelRange(ctx context.Context, level int, begin, limit []byte) error {
	for {
		d.mu.Lock()
		if err := d.acquireManualLocked(ctx); err != nil {
			d.mu.Unlock()
			return err
		}
		c, busy := manifest.PickManual(d.versions.current, d.pickerOptions(), level, begin, limit)
		if c == nil {
			d.releaseManualLocked()
			if busy {
				// Cannot happen while manual and automatic compactions
				// exclude each other; wait for the holder rather than fail.
				d.bgCond.Wait()
				d.mu.Unlock()
				continue
			}
			d.mu.Unlock()
			return nil
		}
		c.MarkCompacting(true)
		d.mu.Unlock()

		err := d.runCompaction(ctx, c, true)

		d.mu.Lock()
		c.MarkCompacting(false)
		d.releaseManualLocked()
		if errors.Is(err, errFilterRaced) {
			d.mu.Unlock()
			continue // again, respecting the new snapshot
		}
		notify := func() {}
		if err != nil && !stopped(err) && !isTransient(err) {
			// A transient failure is only returned: the caller may retry.
			notify = d.setBGErrLocked("compaction", fmt.Errorf("strata: compaction: %w", err))
		}
		d.mu.Unlock()
		notify()
		d.scheduleCompaction()
		if err != nil {
			return manualErr(err)
		}
		if level > 0 {
			// Continue after what this call compacted (LevelDB limits
			// one manual compaction's size for level > 0).
			last := c.CompactPointer().Key
			if limit != nil && base.InternalCompare(d.cmp.Compare, last, limit) >= 0 {
				return nil
			}
			begin = bytes.Clone(last)
		}
	}
}
