package strata

import (
	"context"

	"github.com/strata-db/strata/internal/manifest"
)

// WaitForCompactions is WaitForCompactionsContext without cancellation.
func (d *DB) WaitForCompactions() error {
	return d.WaitForCompactionsContext(context.Background())
}

// WaitForCompactionsContext waits until the database has settled: no
// frozen memtable waits for a flush, no flush or compaction is running, and
// no automatic compaction is due (every level's score is below 1 and no
// table has used up its seek allowance). With DisableAutoCompactions it
// waits for flushes only. It is what db_bench's "waitforcompaction" does: a
// read benchmark taken after it measures the steady-state tree, not one
// that is still being rewritten under it.
//
// It returns nil once settled (at once on a read-only handle), the
// background error that stopped work, if any, ErrClosed when the database
// is closed while waiting, and context.Cause(ctx) when ctx is done first:
// it stops waiting, while the background work goes on. Writes that continue
// while it waits may keep it waiting. Any number of goroutines may wait at
// once.
func (d *DB) WaitForCompactionsContext(ctx context.Context) error {
	if d.opts.ReadOnly {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	stop := d.wakeOnDone(ctx)
	defer stop()
	for {
		if d.bgErr != nil {
			return d.bgErr
		}
		if d.closed {
			return ErrClosed
		}
		busy := len(d.imms) > 0 || d.flushing || d.compacting || d.manualCompacting > 0
		if !busy && !d.opts.DisableAutoCompactions {
			// A nil compact-pointer array keeps this query free of side
			// effects: the picker only records pointers when given them.
			busy = manifest.PickCompaction(d.versions.current, d.pickerOptions(), nil) != nil
		}
		if !busy {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if len(d.imms) > 0 {
			d.flushQueued = true // the small memtables of the ramp too
		}
		d.scheduleFlush()
		d.scheduleCompaction()
		d.bgCond.Wait()
	}
}

// wakeOnDone makes waiters on bgCond see ctx's end: once ctx is done it
// broadcasts bgCond (under d.mu), so a loop that checks ctx.Err() before
// each Wait stops. Call the returned stop when the wait is over. A ctx that
// is never done (context.Background) costs a small allocation.
func (d *DB) wakeOnDone(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.bgCond.Broadcast()
		d.mu.Unlock()
	})
}
