package dataeng

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata"
)

// Parallel scans: SplitKeys divides a key range into parts of about equal
// bytes, and each part is read by its own bounded iterator, all on one
// snapshot, by a pool of goroutines.

// ScanOptions configure ParallelScan.
type ScanOptions struct {
	// Lower and Upper bound the scan: [Lower, Upper). nil is open.
	Lower, Upper []byte
	// Parts is how many parts to split the range into (SplitKeys may
	// return fewer when the range holds few table blocks). Default: 4 ×
	// Workers, so that a slow part does not leave the others idle.
	Parts int
	// Workers is how many parts are scanned at once. Default: GOMAXPROCS.
	Workers int
	// Snapshot, if set, is the state scanned; it must belong to the
	// database scanned. Otherwise ParallelScan takes a snapshot and
	// releases it before returning.
	Snapshot *strata.Snapshot
}

// ParallelScan calls fn once for each part of [o.Lower, o.Upper), with an
// iterator bounded to that part, on up to o.Workers goroutines at once.
// Every iterator reads the same snapshot, so the parts together show each
// key of the range exactly once, as of one moment. The split points come
// from DB.SplitKeys (table data only: flush first if most of the data is
// still in memtables, or the parts will be unbalanced).
//
// The iterator is unpositioned: fn calls First (or ranges over it.All())
// and should check it.Err() at the end. fn must not keep the iterator or
// its slices; ParallelScan closes it when fn returns and reports its error
// (a read error fn missed is not lost). Parts are numbered 0, 1, ... in key
// order; fn is called concurrently for different parts.
//
// The first error, from fn or an iterator, cancels the scan: parts not yet
// started are skipped, and the iterators of running parts stop (their Err
// becomes context.Canceled) so fn returns soon. That first error is
// returned, wrapped with the part it came from. Cancelling ctx stops the
// scan the same way and returns ctx.Err().
func ParallelScan(ctx context.Context, db *strata.DB, o ScanOptions, fn func(part int, it *strata.Iterator) error) error {
	n, workers := partsAndWorkers(o.Parts, o.Workers)
	snap := o.Snapshot
	if snap == nil {
		snap = db.NewSnapshot()
		defer snap.Close()
	} else if snap.DB() != db {
		return errors.New("dataeng: ParallelScan: the snapshot belongs to another database")
	}
	splits, err := db.SplitKeys(o.Lower, o.Upper, n)
	if err != nil {
		return fmt.Errorf("dataeng: ParallelScan: split the range: %w", err)
	}
	bounds := partBounds(o.Lower, o.Upper, splits)
	return runParts(ctx, len(bounds)-1, workers, func(ctx context.Context, part int) error {
		lo, hi := bounds[part], bounds[part+1]
		it := snap.NewIterator(&strata.IterOptions{LowerBound: lo, UpperBound: hi, Context: ctx})
		err := fn(part, it)
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("dataeng: ParallelScan: part %d [%s, %s): %w", part, showBound(lo), showBound(hi), err)
		}
		return nil
	})
}

// partsAndWorkers applies the defaults of Parts and Workers: GOMAXPROCS
// workers, 4 parts per worker.
func partsAndWorkers(parts, workers int) (int, int) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if parts <= 0 {
		parts = 4 * workers
	}
	return parts, workers
}

// partBounds returns lower, the splits, upper: part i is [b[i], b[i+1]).
func partBounds(lower, upper []byte, splits [][]byte) [][]byte {
	bounds := make([][]byte, 0, len(splits)+2)
	bounds = append(bounds, lower)
	bounds = append(bounds, splits...)
	return append(bounds, upper)
}

// showBound renders a part bound for an error message (nil is open).
func showBound(b []byte) string {
	if b == nil {
		return "open"
	}
	return fmt.Sprintf("%q", b)
}

// runParts calls fn(ctx, i) for i in [0, n) on up to workers goroutines,
// each taking the next part when done with one. The first error cancels
// the ctx passed to the running calls, later parts are skipped, and that
// error is returned. If ctx is cancelled before every part has run,
// ctx's error is returned.
func runParts(ctx context.Context, n, workers int, fn func(ctx context.Context, part int) error) error {
	if n <= 0 {
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, done atomic.Int64
		once       sync.Once
		first      error
		wg         sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err })
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if done.Load() < int64(n) {
		return context.Cause(ctx)
	}
	return nil
}
