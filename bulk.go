package strata

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/iterator"
	"github.com/strata-db/strata/internal/manifest"
)

// Bulk loading: the pattern data engineers use with RocksDB. Load with
// Options.PrepareForBulkLoad and WriteOptions{DisableWAL: true} (from many
// goroutines if you like), then Flush, then CompactRangeWith to write the
// whole data set once, straight into the last level, in parallel.

// PrepareForBulkLoad sets o up for loading a large data set quickly:
// automatic compactions off (so level 0 just collects tables and writes
// never stall on it), 64 MiB memtables with up to 4 of them queued for
// flushing, and 8 MiB output tables. It returns o for chaining. Use it for
// the load only: reopen with normal options afterwards (or call
// CompactRangeWith at the end), since level 0 grows without limit.
func (o *Options) PrepareForBulkLoad() *Options {
	o.DisableAutoCompactions = true
	o.WriteBufferSize = 64 << 20
	o.MaxWriteBufferNumber = 4
	o.TargetFileSize = 8 << 20
	return o
}

// CompactOptions tune CompactRangeWith.
type CompactOptions struct {
	// TargetLevel is the level the result is written to, 1 to 6; 0 means
	// the last level (6). Levels deeper than it keep their tables (they
	// hold older data, which stays correctly shadowed).
	TargetLevel int
	// Exclusive makes the compaction wait for a running automatic
	// compaction and keeps new ones from starting until it is done.
	// (Manual compactions are currently always exclusive.)
	Exclusive bool
	// BottommostCompression, if not DefaultCompression, compresses the
	// output with it when no deeper level holds data in the range: cold,
	// compacted data can use zstd while the upper levels keep snappy.
	BottommostCompression Compression
	// Parallelism is how many key ranges are merged at once. Default:
	// GOMAXPROCS.
	Parallelism int
}

// CompactRangeWith is CompactRangeWithContext without cancellation.
func (d *DB) CompactRangeWith(start, end []byte, o CompactOptions) error {
	return d.CompactRangeWithContext(context.Background(), start, end, o)
}

// CompactRangeWithContext compacts every table that holds keys in [start,
// end] (nil: open on that side) in levels 0 to TargetLevel, in one pass,
// into TargetLevel: each entry is written once, however many levels it
// passes through. The work is split into key ranges of about equal bytes
// that are merged concurrently. It flushes the memtable first and returns
// when the result is installed. start and end are only read during the
// call.
//
// The result is installed atomically, or not at all. Once ctx is done, the
// merges stop within 1024 entries each, the tables they wrote are removed,
// nothing is installed, and it returns context.Cause(ctx); a ctx done
// before the call changes nothing. It returns ErrReadOnly on a read-only
// handle, ErrClosed if the database is closed under it, and the background
// error that stopped writes, if any. It runs alone, as CompactRangeContext.
func (d *DB) CompactRangeWithContext(ctx context.Context, start, end []byte, o CompactOptions) error {
	for {
		err := d.compactRangeWithOnce(ctx, start, end, o)
		if !errors.Is(err, errFilterRaced) {
			return err
		}
		// A snapshot taken while the compaction filter changed values: run
		// again, respecting it.
	}
}

// compactRangeWithOnce is one attempt of CompactRangeWithContext.
func (d *DB) compactRangeWithOnce(ctx context.Context, start, end []byte, o CompactOptions) (err error) {
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	if err := d.flush(ctx, flushReasonCompactRange); err != nil {
		return err
	}
	target := o.TargetLevel
	if target <= 0 || target >= manifest.NumLevels {
		target = manifest.NumLevels - 1
	}
	parallelism := o.Parallelism
	if parallelism <= 0 {
		parallelism = runtime.GOMAXPROCS(0)
	}

	d.mu.Lock()
	if err := d.acquireManualLocked(ctx); err != nil {
		d.mu.Unlock()
		return err
	}
	v := d.versions.current
	v.Ref()
	inputs, lo, hi := rangeInputs(v, d.cmp.Compare, start, end, target)
	var all []*manifest.FileMetadata
	for _, files := range inputs {
		all = append(all, files...)
	}
	for _, f := range all {
		f.Compacting.Store(true)
	}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		for _, f := range all {
			f.Compacting.Store(false)
		}
		d.releaseManualLocked()
		d.mu.Unlock()
		d.versions.release(v)
		d.scheduleCompaction()
	}()
	if len(all) == 0 {
		return nil
	}
	ev := d.compactionBeginLevels("manual", inputs, target)
	d.emitCompactionBegin(ev)
	defer func() { d.compactionEnd(ev, err) }()

	began := time.Now()
	wo := d.opts.writerOptions()
	bottommost := true
	for level := target + 1; level < manifest.NumLevels; level++ {
		if len(v.Overlaps(level, lo, hi)) > 0 {
			bottommost = false
		}
	}
	if bottommost && o.BottommostCompression != DefaultCompression {
		wo.Compression = sstableCompression(o.BottommostCompression)
	}
	splits, err := d.splitFiles(all, lo, hi, parallelism*4)
	if err != nil {
		return err
	}
	// Part i is [bounds[i], bounds[i+1]); the last runs to the end.
	bounds := append(append([][]byte{lo}, splits...), nil)
	smallestSnapshot, newestSnapshot, epoch := d.snapshotState()
	guard := &filterGuard{epoch: epoch}
	rangeDels, err := d.inputRangeDels(all)
	if err != nil {
		return err
	}

	var (
		mu      sync.Mutex
		outputs []*manifest.FileMetadata
		nums    []uint64
		errs    []error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, parallelism)
	)
	for i := 0; i+1 < len(bounds); i++ {
		partLo, partHi := bounds[i], bounds[i+1]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var iters []base.InternalIterator
			for level := 0; level <= target; level++ {
				its, err := d.levelInputIters(level, inputs[level])
				if err != nil {
					closeIters(iters)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				iters = append(iters, its...)
			}
			checker := newBaseLevelChecker(d.cmp.Compare, v, target+1)
			job := &compactionJob{
				ctx:                 ctx,
				input:               iterator.NewMerging(d.internalCompare, iters...),
				lower:               partLo,
				upper:               partHi,
				smallestSnapshot:    smallestSnapshot,
				isBaseLevelForKey:   checker.isBaseLevelForKey,
				maxOutputSize:       uint64(d.opts.TargetFileSize),
				writerOptions:       wo,
				what:                fmt.Sprintf("compaction into level %d", target),
				rangeDels:           rangeDels,
				isBaseLevelForRange: baseLevelForRange(d.cmp.Compare, v, target+1),
			}
			d.setFilter(job, guard, newestSnapshot, target)
			var partNums []uint64
			outs, err := d.runCompactionJob(job, &partNums)
			mu.Lock()
			outputs = append(outputs, outs...)
			nums = append(nums, partNums...)
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	defer d.releaseOutputs(nums)
	err = errors.Join(errs...)
	if err == nil && ctx.Err() != nil {
		err = canceledError{context.Cause(ctx)} // the last point before installing
	}
	if err != nil {
		for _, out := range outputs {
			d.fs.Remove(base.MakeFilepath(d.dirname, base.FileTypeTable, out.Num))
		}
		return manualErr(err)
	}
	for _, out := range outputs { // here, not in the merges' goroutines
		d.tableCreated(ev.job(), tableCompacting, out)
	}
	edit := &manifest.VersionEdit{}
	var read, written uint64
	for level, files := range inputs {
		for _, f := range files {
			edit.DeleteFile(level, f.Num)
			read += f.Size
		}
	}
	for _, out := range outputs {
		edit.AddFile(target, out)
		written += out.Size
	}
	ev.setOutput(outputs, read, written)
	return d.installCompaction(edit, target, read, written, began, guard, ev)
}

// rangeInputs returns the tables of levels 0..target overlapping [start,
// end], grown until no table of those levels straddles the range's edges
// (the result must not overlap the tables left in the target level), and
// the final user-key range.
func rangeInputs(v *manifest.Version, ucmp func(a, b []byte) int, start, end []byte, target int) (inputs [manifest.NumLevels][]*manifest.FileMetadata, lo, hi []byte) {
	lo, hi = start, end
	for changed := true; changed; {
		changed = false
		for level := 0; level <= target; level++ {
			files := v.Overlaps(level, lo, hi)
			if len(files) != len(inputs[level]) {
				changed = true
			}
			inputs[level] = files
			for _, f := range files {
				if lo != nil && ucmp(f.SmallestUserKey(), lo) < 0 {
					lo, changed = f.SmallestUserKey(), true
				}
				if hi != nil && ucmp(f.LargestUserKey(), hi) > 0 {
					hi, changed = f.LargestUserKey(), true
				}
			}
		}
	}
	return inputs, lo, hi
}

// baseLevelChecker answers IsBaseLevelForKey for keys fed in increasing
// order: whether no level from `from` down holds a table whose range
// contains the key.
type baseLevelChecker struct {
	ucmp   func(a, b []byte) int
	levels [][]*manifest.FileMetadata
	pos    []int
}

func newBaseLevelChecker(ucmp func(a, b []byte) int, v *manifest.Version, from int) *baseLevelChecker {
	c := &baseLevelChecker{ucmp: ucmp}
	for level := from; level < manifest.NumLevels; level++ {
		c.levels = append(c.levels, v.Levels[level])
		c.pos = append(c.pos, 0)
	}
	return c
}

func (c *baseLevelChecker) isBaseLevelForKey(ukey []byte) bool {
	for i, files := range c.levels {
		for c.pos[i] < len(files) {
			f := files[c.pos[i]]
			if c.ucmp(ukey, f.LargestUserKey()) <= 0 {
				if c.ucmp(ukey, f.SmallestUserKey()) >= 0 {
					return false
				}
				break
			}
			c.pos[i]++
		}
	}
	return true
}

// acquireManualLocked waits until no automatic compaction, manual
// compaction or deep flush placement runs, then claims the manual slot. It
// returns context.Cause(ctx) if ctx is done first.
func (d *DB) acquireManualLocked(ctx context.Context) error {
	stop := d.wakeOnDone(ctx)
	defer stop()
	d.manualWaiting++
	for (d.compacting || d.flushPlacing || d.manualCompacting > 0) && !d.closed && d.bgErr == nil && ctx.Err() == nil {
		d.bgCond.Wait()
	}
	d.manualWaiting--
	if d.closed {
		return ErrClosed
	}
	if d.bgErr != nil {
		return d.bgErr
	}
	if ctx.Err() != nil {
		d.scheduleCompaction() // one may have yielded to this wait (maybeCompact)
		return context.Cause(ctx)
	}
	d.manualCompacting++
	return nil
}

func (d *DB) releaseManualLocked() {
	d.manualCompacting--
	d.bgCond.Broadcast()
}
