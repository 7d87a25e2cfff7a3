package strata

import "github.com/strata-db/strata/internal/manifest"

// WaitForCompactions waits until the database has settled: no frozen
// memtable waits for a flush, no flush or compaction is running, and no
// automatic compaction is due (every level's score is below 1 and no table
// has used up its seek allowance). With DisableAutoCompactions it waits for
// flushes only. It is what db_bench's "waitforcompaction" does: a read
// benchmark taken after it measures the steady-state tree, not one that
// is still being rewritten under it.
//
// It returns the background error that stopped work, if any, and ErrClosed
// when the database is closed while waiting. Writes that continue while it
// waits may keep it waiting.
func (d *DB) WaitForCompactions() error {
	if d.opts.ReadOnly {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
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
		d.scheduleFlush()
		d.scheduleCompaction()
		d.bgCond.Wait()
	}
}
