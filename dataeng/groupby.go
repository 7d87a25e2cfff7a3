package dataeng

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/keys"
)

// Group-by, map-shuffle-reduce style, out of core: the map function emits
// (group, value) records into a private scratch database written without
// the WAL; one CompactRangeWith sorts them (the shuffle); reduce walks the
// groups in key order, in parallel parts cut at group boundaries, and
// writes one result per group to the output database.
//
// Scratch keys. A record is stored under the tuple (group, seq) encoded with
// package keys:
//
//	keys.AppendBytes(group) || keys.AppendUint(seq)
//	= 0x01, group with each 0x00 written 0x00 0xFF, 0x00 0x01,
//	  then 0x14+n and seq's n big-endian bytes (0x14 alone for 0)
//
// where seq is the emission number (unique, so that equal records are all
// kept, and in emission order within a group). Group "a\x00b" with seq 5 is
// 01 61 00 FF 62 00 01 15 05. The encoding preserves order and its elements
// are self-delimiting (see package keys), so records sort by group, then by
// seq, and all records of a group are contiguous: they are exactly the keys
// that start with the group's encoding. A separator character could not do
// this: any byte may occur in a group.

// GroupByOptions configure GroupBy.
type GroupByOptions struct {
	// ScratchDir is the directory in which the scratch database is
	// created, in a new subdirectory "strata-groupby-*" that is removed
	// at the end, on failure too. Default: os.TempDir(). It needs room
	// for about twice the emitted records.
	ScratchDir string
	// Out receives one entry per group: key the group, value what reduce
	// returned. Required.
	Out *strata.DB
	// OutWrite are the write options of the writes to Out (nil: default).
	OutWrite *strata.WriteOptions
	// Workers is how many groups are reduced at once (on parts of the
	// group space). Default: GOMAXPROCS.
	Workers int
	// Progress, if set, is called one call at a time now and then, and at
	// the end of each phase: "map" with the records emitted (total -1),
	// "compact" with 0 and then 1 of 1, "reduce" with the records passed
	// to reduce out of all records.
	Progress func(phase string, done, total int64)
}

// GroupByStats summarize a GroupBy.
type GroupByStats struct {
	Records int64 // records emitted by map
	Groups  int64 // groups reduced, entries written to Out
}

// ValueIter walks the values of one group, in emission order. Not safe for
// concurrent use; valid only during the reduce call it is passed to.
type ValueIter struct {
	it      *strata.Iterator
	prefix  []byte // enc(group)
	started bool
	done    bool
	n       int64 // values passed
	err     error
}

// Next moves to the group's next value and reports whether there is one.
// A read error ends the walk; GroupBy reports it after reduce returns.
func (v *ValueIter) Next() bool {
	if v.done {
		return false
	}
	if v.started {
		v.it.Next()
	}
	v.started = true
	if !v.it.Valid() || !bytes.HasPrefix(v.it.Key(), v.prefix) {
		v.done = true
		return false
	}
	if !isEmissionNumber(v.it.Key()[len(v.prefix):]) {
		v.err = fmt.Errorf("dataeng: GroupBy: scratch key %x is not a group and an emission number: %w", v.it.Key(), strata.ErrCorruption)
		v.done = true
		return false
	}
	v.n++
	return true
}

// Value returns the current value, valid until the next call to Next.
func (v *ValueIter) Value() []byte { return v.it.Value() }

// All returns the remaining values for range-over-func:
//
//	for value := range values.All() { ... }
func (v *ValueIter) All() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for v.Next() {
			if !yield(v.Value()) {
				return
			}
		}
	}
}

// GroupBy runs a map-shuffle-reduce over data too large for memory.
//
// mapFn is called once and emits records with emit(group, value), which
// copies both and is safe for concurrent use (mapFn may fan out to
// goroutines, but must wait for them: emit fails after mapFn returns).
// Groups and values are any bytes, including 0x00 and empty. An error
// from mapFn, or from emit (which it should return), ends GroupBy.
//
// The records are written into a scratch database (see
// GroupByOptions.ScratchDir) without the WAL, sorted by one CompactRangeWith,
// and then reduceFn is called once per group, in group order within a part
// and concurrently across parts (up to o.Workers at once), with the group
// and its values in emission order (each emit holds a lock, so emissions
// from several goroutines are ordered as they got it). reduceFn need not
// read every value. Its result is written to o.Out under the group as key,
// in batches; a group with no result must still return one (say nil).
//
// The first error, or ctx's cancellation, stops the work and is returned;
// the scratch database is removed in every case. Results already written
// to Out stay there: GroupBy is not atomic on Out.
func GroupBy(ctx context.Context, o GroupByOptions,
	mapFn func(emit func(group, value []byte) error) error,
	reduceFn func(group []byte, values *ValueIter) ([]byte, error)) (stats GroupByStats, err error) {
	if o.Out == nil {
		return stats, errors.New("dataeng: GroupBy: GroupByOptions.Out is nil")
	}
	if err := ctx.Err(); err != nil {
		return stats, err
	}
	_, workers := partsAndWorkers(0, o.Workers)
	progress := o.Progress
	var progressMu sync.Mutex
	report := func(phase string, done, total int64) {
		if progress != nil {
			progressMu.Lock()
			progress(phase, done, total)
			progressMu.Unlock()
		}
	}

	dir, err := os.MkdirTemp(o.ScratchDir, "strata-groupby-*")
	if err != nil {
		return stats, fmt.Errorf("dataeng: GroupBy: scratch directory: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("dataeng: GroupBy: remove scratch directory: %w", rerr)
		}
	}()
	scratch, err := strata.Open(dir, (&strata.Options{ErrorIfExists: true, BloomBitsPerKey: -1}).PrepareForBulkLoad())
	if err != nil {
		return stats, fmt.Errorf("dataeng: GroupBy: scratch database: %w", err)
	}
	defer func() {
		if cerr := scratch.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("dataeng: GroupBy: close scratch database: %w", cerr)
		}
	}()

	// Map.
	e := &emitter{ctx: ctx, db: scratch, report: report, batch: scratch.NewBatch()}
	if err := mapFn(e.emit); err != nil {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		return stats, err
	}
	if err := e.finish(); err != nil {
		return stats, err
	}
	stats.Records = int64(e.seq)
	report("map", stats.Records, -1)
	if stats.Records == 0 {
		return stats, nil
	}

	// Shuffle.
	report("compact", 0, 1)
	if err := scratch.CompactRangeWith(nil, nil, strata.CompactOptions{}); err != nil {
		return stats, fmt.Errorf("dataeng: GroupBy: sort the scratch database: %w", err)
	}
	report("compact", 1, 1)

	// Reduce.
	bounds, err := groupBounds(scratch, 4*workers)
	if err != nil {
		return stats, err
	}
	var groups, passed, unreported atomic.Int64
	err = runParts(ctx, len(bounds)-1, workers, func(ctx context.Context, part int) error {
		r := &reducer{db: scratch, out: o.Out, wo: o.OutWrite, fn: reduceFn}
		r.progress = func(n int64) {
			total := passed.Add(n)
			if unreported.Add(n) >= 1<<16 {
				unreported.Store(0)
				report("reduce", total, stats.Records)
			}
		}
		n, err := r.run(ctx, bounds[part], bounds[part+1])
		groups.Add(n)
		return err
	})
	stats.Groups = groups.Load()
	if err != nil {
		return stats, err
	}
	report("reduce", passed.Load(), stats.Records)
	return stats, nil
}

// emitter is the emit function of a GroupBy's map phase.
type emitter struct {
	ctx    context.Context
	db     *strata.DB
	report func(phase string, done, total int64)
	mu     sync.Mutex
	batch  *strata.Batch
	spare  []*strata.Batch
	key    []byte
	seq    uint64
	closed bool
	err    error
}

// emitBatchSize is the size at which an emitter writes its batch.
const emitBatchSize = 1 << 20

func (e *emitter) emit(group, value []byte) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errors.New("dataeng: GroupBy: emit called after the map function returned")
	}
	if e.err == nil && e.seq&1023 == 0 {
		e.err = e.ctx.Err()
	}
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return err
	}
	e.key = appendScratchKey(e.key[:0], group, e.seq)
	e.seq++
	e.batch.Put(e.key, value)
	if e.seq&(1<<16-1) == 0 {
		e.report("map", int64(e.seq), -1)
	}
	if e.batch.Size() < emitBatchSize {
		e.mu.Unlock()
		return nil
	}
	full := e.batch
	if n := len(e.spare); n > 0 {
		e.batch, e.spare = e.spare[n-1], e.spare[:n-1]
	} else {
		e.batch = e.db.NewBatch()
	}
	e.mu.Unlock()
	return e.write(full)
}

// write writes a full batch (outside the lock: writes from several
// goroutines group-commit) and recycles it.
func (e *emitter) write(b *strata.Batch) error {
	err := e.db.Write(b, &strata.WriteOptions{DisableWAL: true})
	b.Reset()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.spare = append(e.spare, b)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("dataeng: GroupBy: write to the scratch database: %w", err)
	}
	return e.err
}

// finish closes the emitter and writes what is left.
func (e *emitter) finish() error {
	e.mu.Lock()
	e.closed = true
	b := e.batch
	e.mu.Unlock()
	if b.Len() > 0 {
		return e.write(b)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// groupBounds splits the sorted scratch database into up to n parts of
// about equal bytes whose bounds fall on group boundaries: each split key
// from SplitKeys is moved to the start, enc(g), of the group g of the first
// record at or after it. Part i is [b[i], b[i+1]).
func groupBounds(scratch *strata.DB, n int) ([][]byte, error) {
	splits, err := scratch.SplitKeys(nil, nil, n)
	if err != nil {
		return nil, fmt.Errorf("dataeng: GroupBy: split the scratch database: %w", err)
	}
	it := scratch.NewIterator(nil)
	defer it.Close()
	bounds := [][]byte{nil}
	var last []byte // enc of the group the previous part starts with
	if it.First() {
		_, n, err := decodeGroupKey(it.Key())
		if err != nil {
			return nil, err
		}
		last = bytes.Clone(it.Key()[:n])
	}
	for _, s := range splits {
		if !it.Seek(s) {
			break
		}
		_, n, err := decodeGroupKey(it.Key())
		if err != nil {
			return nil, err
		}
		if b := it.Key()[:n]; bytes.Compare(b, last) > 0 {
			last = bytes.Clone(b)
			bounds = append(bounds, last)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("dataeng: GroupBy: split the scratch database: %w", err)
	}
	return append(bounds, nil), nil
}

// reducer reduces the groups of one part.
type reducer struct {
	db       *strata.DB
	out      *strata.DB
	wo       *strata.WriteOptions
	fn       func(group []byte, values *ValueIter) ([]byte, error)
	progress func(records int64)
}

// run reduces the groups in [lo, hi) and returns how many there were.
func (r *reducer) run(ctx context.Context, lo, hi []byte) (groups int64, err error) {
	it := r.db.NewIterator(&strata.IterOptions{LowerBound: lo, UpperBound: hi, Context: ctx})
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("dataeng: GroupBy: read the scratch database: %w", cerr)
		}
	}()
	b := r.out.NewBatch()
	write := func() error {
		if b.Len() == 0 {
			return nil
		}
		if err := r.out.Write(b, r.wo); err != nil {
			return fmt.Errorf("dataeng: GroupBy: write results: %w", err)
		}
		b.Reset()
		return nil
	}
	for it.First(); it.Valid(); {
		group, n, err := decodeGroupKey(it.Key())
		if err != nil {
			return groups, err
		}
		v := &ValueIter{it: it, prefix: bytes.Clone(it.Key()[:n])}
		res, err := r.fn(group, v)
		if err != nil {
			return groups, fmt.Errorf("dataeng: GroupBy: reduce group %q: %w", group, err)
		}
		for v.Next() { // skip what reduce left
		}
		if v.err != nil {
			return groups, v.err
		}
		r.progress(v.n)
		groups++
		b.Put(group, res)
		if b.Size() >= emitBatchSize {
			if err := write(); err != nil {
				return groups, err
			}
		}
	}
	if err := it.Err(); err != nil {
		return groups, fmt.Errorf("dataeng: GroupBy: read the scratch database: %w", err)
	}
	return groups, write()
}

// appendScratchKey appends the scratch key of a record (see the layout
// above) to dst.
func appendScratchKey(dst, group []byte, seq uint64) []byte {
	return keys.AppendUint(keys.AppendBytes(dst, group), seq)
}

// decodeGroupKey decodes the group that scratch key b starts with: the
// group (a new slice) and the length of its encoding.
func decodeGroupKey(b []byte) (group []byte, n int, err error) {
	d := keys.NewDecoder(b)
	v, err := d.Next()
	if err != nil {
		return nil, 0, fmt.Errorf("dataeng: GroupBy: scratch key %x: %w: %w", b, err, strata.ErrCorruption)
	}
	group, ok := v.([]byte)
	if !ok {
		return nil, 0, fmt.Errorf("dataeng: GroupBy: scratch key %x starts with a %T, not a group: %w", b, v, strata.ErrCorruption)
	}
	return group, d.Offset(), nil
}

// isEmissionNumber reports whether b is exactly one encoded non-negative
// integer (the rest of a scratch key after its group).
func isEmissionNumber(b []byte) bool {
	if len(b) == 0 || b[0] < 0x14 || b[0] > 0x1c {
		return false
	}
	d := keys.NewDecoder(b)
	return d.Skip() == nil && !d.More()
}
