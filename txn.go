package strata

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
)

// Transactions (FoundationDB's model in an embedded engine).
//
// A transaction reads at a read version — a snapshot taken when it begins,
// at or after every commit that had returned by then — and buffers its
// writes in an indexed batch, so its reads see its own writes. It records
// what it read as read conflict ranges: a key for Get, and for an iterator
// the whole span it covered, from where it was positioned to where it
// stopped (so a phantom inserted anywhere in that span is noticed, not only
// a change to a key it returned). At commit the batch joins the ordinary
// commit queue; the group's leader checks each transaction's read ranges
// against the conflict set (txn_conflict.go), the write ranges of every
// commit since the read version, refuses a transaction any of whose reads
// was written since (ErrConflict), records the write ranges of those it
// accepts at their commit version, and writes them all as one WAL record
// with one fsync. A transaction is thus serializable at its commit
// version, and since its read version follows every earlier commit, the
// order is strict: it respects real time.
//
// Invariants:
//   - Writes are recorded in the conflict set only while a read-write
//     transaction is open (txnState.active > 0). When the first one opens,
//     history restarts with the floor at the last sequence handed out. A
//     commit group in flight whose writes were not recorded (no open
//     transaction needed them) is recorded by a transaction that begins
//     meanwhile, which then reads below it (recordInFlightLocked) rather
//     than waiting for it to become visible.
//   - Every write, transactional or not (Put, Write, ingestion), is
//     recorded while transactions are open, so a plain Put conflicts with a
//     transaction that read the key.
//   - A transaction whose read version is below the floor (its history was
//     forgotten to keep the window's memory bounded) fails with
//     ErrTxnTooOld: never a false "no conflict".

// Isolation is a transaction's isolation level.
type Isolation int

const (
	// Serializable (the default) is strict serializability: every
	// committed transaction appears to run at one instant between its
	// begin and its commit, in an order that respects real time. A
	// transaction whose reads were overwritten before it committed fails
	// with ErrConflict.
	Serializable Isolation = iota
	// SnapshotIsolation reads one snapshot and checks only writes: a
	// transaction fails with ErrConflict if a key it writes was written
	// since its read version (first committer wins). It allows write skew
	// (two transactions each read what the other writes, and both commit)
	// and read-only anomalies; it is offered for SQL's weaker levels.
	SnapshotIsolation
)

// String names the level.
func (i Isolation) String() string {
	switch i {
	case Serializable:
		return "serializable"
	case SnapshotIsolation:
		return "snapshot"
	}
	return fmt.Sprintf("Isolation(%d)", int(i))
}

// TxnOptions configure a transaction. A nil *TxnOptions gives the defaults:
// read-write, optimistic, serializable.
type TxnOptions struct {
	// ReadOnly refuses writes; the transaction reads one snapshot and
	// never conflicts (DB.View).
	ReadOnly bool
	// Pessimistic takes an exclusive lock on every key the transaction
	// writes (Put, Delete, Merge) or reads with GetForUpdate, held until
	// Commit or Rollback, so that transactions contending for a key wait
	// for one another instead of failing at commit. GetForUpdate, once it
	// holds the lock, reads the key's latest committed value. Commit still
	// checks the transaction's other reads. Range deletions take no lock.
	Pessimistic bool
	// LockTimeout bounds a pessimistic transaction's wait for one lock
	// (ErrLockTimeout). Default 1 s; negative: wait as long as the
	// transaction's context allows.
	LockTimeout time.Duration
	// DeadlockDetect checks, before a pessimistic transaction waits for a
	// lock, whether the wait would close a cycle of transactions waiting
	// for one another; if so that transaction fails with ErrDeadlock
	// instead of waiting for the timeout.
	DeadlockDetect bool
	// Isolation is Serializable (default) or SnapshotIsolation.
	Isolation Isolation
	// MaxRetries bounds how many times DB.Update runs fn again after a
	// retryable error (see IsRetryable). Default 100; negative: no retry.
	MaxRetries int
	// SizeLimit bounds a transaction's affected bytes: its writes' keys
	// and values plus its read and write conflict ranges' keys, as
	// FoundationDB counts them. Default 10 MB (FoundationDB's limit).
	SizeLimit int64
	// Sync makes Commit durable (the WAL is fsynced) before it returns.
	Sync bool
}

// DefaultTxnSizeLimit is TxnOptions.SizeLimit's default (FoundationDB's).
const DefaultTxnSizeLimit = 10_000_000

// Transaction errors. ErrConflict arrives wrapped in a *ConflictError that
// says which key or range, and when it was written.
var (
	// ErrConflict: something the transaction read (or, under snapshot
	// isolation, wrote) was written by another commit after the
	// transaction's read version. Retryable.
	ErrConflict = errors.New("strata: transaction conflict")
	// ErrTxnTooOld: the transaction began before the oldest write the
	// conflict window still holds (Options.TxnConflictWindow), so its
	// reads cannot be checked. Retryable.
	ErrTxnTooOld = errors.New("strata: transaction too old: its read version fell out of the conflict window (Options.TxnConflictWindow)")
	// ErrTxnTooLarge: the transaction's affected bytes passed
	// TxnOptions.SizeLimit. Not retryable.
	ErrTxnTooLarge = errors.New("strata: transaction too large (TxnOptions.SizeLimit)")
	// ErrLockTimeout: a pessimistic transaction waited for a lock longer
	// than TxnOptions.LockTimeout. Retryable.
	ErrLockTimeout = errors.New("strata: lock wait timed out (TxnOptions.LockTimeout)")
	// ErrDeadlock: a pessimistic transaction's lock wait would have closed
	// a cycle of waiting transactions; it was chosen to fail. Retryable.
	ErrDeadlock = errors.New("strata: deadlock: the lock wait would close a cycle of waiting transactions")
	// ErrTxnDone: the transaction has committed or rolled back.
	ErrTxnDone = errors.New("strata: transaction already committed or rolled back")
	// ErrTxnReadOnly: a write in a read-only transaction.
	ErrTxnReadOnly = errors.New("strata: write in a read-only transaction")
	// ErrNoSavePoint: RollbackToSavePoint without a save point.
	ErrNoSavePoint = errors.New("strata: no save point to roll back to")
)

// ConflictError says why a commit was refused: the key or range the
// transaction read (or wrote, under snapshot isolation) and the version at
// which another commit wrote it. It wraps ErrConflict.
type ConflictError struct {
	// Start and End bound the conflicting range, [Start, End); for a
	// single key End is nil and Key is set. End is nil too for a range
	// open at the top (Unbounded); Start is nil for one open at the
	// bottom (an iterator without a lower bound).
	Key        []byte
	Start, End []byte
	Unbounded  bool
	// ReadVersion is the version the transaction read the range at;
	// WriteVersion the newer commit that wrote it.
	ReadVersion, WriteVersion uint64
	// Write reports a write-write conflict (snapshot isolation).
	Write bool
	what  string
}

// Error describes the conflict.
func (e *ConflictError) Error() string {
	kind := "read"
	if e.Write {
		kind = "write"
	}
	return fmt.Sprintf("strata: transaction conflict: %s of %s at version %d, written at version %d by another commit",
		kind, e.what, e.ReadVersion, e.WriteVersion)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// IsRetryable reports whether err means that running the transaction again
// may succeed: a conflict, a read version too old, a lock timeout or a
// deadlock. DB.Update retries these.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, ErrTxnTooOld) ||
		errors.Is(err, ErrLockTimeout) || errors.Is(err, ErrDeadlock)
}

// readRange is a read conflict range and the version it was read at.
type readRange struct {
	r       keyRange
	version uint64
}

// txnCommit is what the commit leader needs of a transaction.
type txnCommit struct {
	readVersion uint64
	reads       []readRange // checked (Serializable)
	// writes are the explicit write conflict ranges (AddWriteConflictRange,
	// an optimistic GetForUpdate); the batch's operations are the others
	// (eachWrite). All are recorded, and checked under SnapshotIsolation
	// (merges too: SI's first committer wins).
	writes    []keyRange
	isolation Isolation
}

// Txn is a transaction: see DB.BeginTxn. Not safe for concurrent use.
type Txn struct {
	db   *DB
	ctx  context.Context
	opts TxnOptions
	snap *Snapshot
	// snapStore is snap's storage: one allocation less per transaction.
	snapStore Snapshot
	// b holds the transaction's writes. It is indexed (b.ix = &tx.ix, its
	// reads see its writes over snap) only once a read follows a write
	// (view): most transactions read and then write, or only write, and
	// never pay for the index.
	b     *Batch
	batch Batch      // b's storage
	buf   *[]byte    // b's buffer, from txnBufs, returned by finish
	ix    batchIndex // b's read side, over snap
	empty Batch      // reads before the first write: indexed, no writes

	readVersion uint64
	committed   uint64
	reads       []readRange
	writes      []keyRange // explicit write conflict ranges
	arena       []byte     // copies of the conflict ranges' keys
	iters       []*Iterator
	locked      map[string]struct{}
	lockOrder   []string
	saves       []savePoint
	watches     []*watchArm
	size        int64
	err         error // sticky: ErrTxnTooLarge
	done        bool
	active      bool // counted in txnState.active

	// waitingFor is the transaction whose lock this one waits for (under
	// lockTable.mu), for deadlock detection.
	waitingFor *Txn
}

type savePoint struct {
	size             int
	count            uint32
	maxKey, maxValue int
	rangeDels        bool
	merges           bool
	writes           int
	reads            int // len(tx.reads) at the save point
	txnSize          int64
}

// txnState is the DB's side of transactions (under DB.mu).
type txnState struct {
	set        *conflictSet
	active     int // open read-write transactions
	seqWaiters int // BeginTxn calls waiting for visibleSeq to reach the floor
	locks      lockTable
	// unrecorded is the commit group in flight (resolved, not yet
	// visible) whose writes the conflict set does not hold, because no
	// open transaction could check against them: the set's floor is past
	// the group. A transaction that begins meanwhile records them itself
	// (recordInFlightLocked) instead of waiting for the group. Empty when no
	// such group is in flight (writers nil). Held by value: a plain write
	// sets it with no allocation.
	unrecorded unrecordedGroup
}

// unrecordedGroup is a commit group in flight whose writes are not in the
// conflict set: its writers (numbered, refused ones marked skip) and the
// sequence before its first (the visible sequence while it is in flight).
type unrecordedGroup struct {
	writers []*writer
	start   uint64
}

// BeginTxn starts a transaction (see Txn): its read version is the latest
// committed state. ctx bounds its lock waits. Commit or Rollback it; a
// deferred Rollback after Commit is harmless.
func (d *DB) BeginTxn(ctx context.Context, o *TxnOptions) (*Txn, error) {
	return d.beginTxn(ctx, o, nil)
}

// beginTxn is BeginTxn into reuse, a finished transaction's struct (nil: a
// new one).
func (d *DB) beginTxn(ctx context.Context, o *TxnOptions, reuse *Txn) (*Txn, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var opts TxnOptions
	if o != nil {
		opts = *o
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if opts.SizeLimit <= 0 {
		opts.SizeLimit = DefaultTxnSizeLimit
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 100
	}
	if opts.Isolation != Serializable && opts.Isolation != SnapshotIsolation {
		return nil, fmt.Errorf("strata: unknown isolation level %d", int(opts.Isolation))
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	if d.opts.ReadOnly && !opts.ReadOnly {
		return nil, ErrReadOnly
	}
	tx := reuse
	if tx == nil {
		tx = &Txn{}
	} else {
		tx.reset()
	}
	tx.db, tx.ctx, tx.opts = d, ctx, opts
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if !opts.ReadOnly {
		if d.bgErr != nil {
			return nil, d.bgErr
		}
		t := &d.txns
		if t.set == nil {
			t.set = newConflictSet(d.cmp)
		}
		if t.active == 0 {
			// Nothing was recorded while no transaction was open:
			// history starts at the last sequence handed out.
			t.set.reset(d.lastSeq)
		}
		t.active++
		tx.active = true
		if d.visibleSeq.Load() < t.set.floor {
			d.recordInFlightLocked()
		}
		for d.visibleSeq.Load() < t.set.floor {
			if d.closed || d.bgErr != nil {
				err := d.bgErr
				if d.closed {
					err = ErrClosed
				}
				tx.releaseActiveLocked()
				return nil, err
			}
			t.seqWaiters++
			d.bgCond.Wait()
			t.seqWaiters--
		}
	}
	tx.snap = &tx.snapStore
	d.addSnapshotLocked(tx.snap)
	tx.readVersion = tx.snap.seq
	tx.ix = batchIndex{db: d, snap: tx.snap}
	tx.b, tx.empty.ix = &tx.batch, &tx.ix
	tx.buf = txnBufs.Get().(*[]byte)
	tx.batch.data = (*tx.buf)[:0]
	return tx, nil
}

// releaseActiveLocked takes tx out of the open read-write transactions.
func (tx *Txn) releaseActiveLocked() {
	if !tx.active {
		return
	}
	tx.active = false
	d := tx.db
	t := &d.txns
	t.active--
	if t.active == 0 {
		t.set.reset(d.lastSeq) // free the history: nobody needs it
	}
}

// Update runs fn in a read-write transaction and commits it. If fn or the
// commit fails with a retryable error (IsRetryable), it runs fn again in a
// new transaction, after a randomized backoff, up to 100 times: fn must
// read what it needs again (its earlier writes are not replayed) and have
// no effects outside the transaction that a retry would repeat. fn's own
// error rolls back and is returned. A panic in fn rolls back and panics on.
// fn must not keep tx, or an iterator it made, after it returns: Update
// reuses the transaction's memory (as bbolt's Update does).
func (d *DB) Update(ctx context.Context, fn func(tx *Txn) error) error {
	return d.UpdateWith(ctx, nil, fn)
}

// UpdateWith is Update with transaction options (MaxRetries bounds the
// retries).
func (d *DB) UpdateWith(ctx context.Context, o *TxnOptions, fn func(tx *Txn) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o != nil && o.ReadOnly {
		return d.ViewWith(ctx, o, fn)
	}
	backoff := 100 * time.Microsecond
	// One Txn serves every attempt, and goes back to a pool after: fn must
	// not keep tx (or iterators it made) once it returns. Not for
	// pessimistic transactions: other transactions' deadlock detection
	// may still follow a pointer to one that finished (the lock table's
	// wait chains), which must not become another transaction.
	var spare *Txn
	if o == nil || !o.Pessimistic {
		spare = txnPool.Get().(*Txn)
		defer txnPool.Put(spare)
	}
	for attempt := 0; ; attempt++ {
		tx, err := d.beginTxn(ctx, o, spare)
		if err != nil {
			return err
		}
		err = tx.run(fn)
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err == nil || !IsRetryable(err) || tx.opts.MaxRetries < 0 || attempt >= tx.opts.MaxRetries {
			if attempt > 0 {
				d.stats.txnRetried.Add(uint64(attempt))
			}
			return err
		}
		sleep := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, 50*time.Millisecond)
		select {
		case <-time.After(sleep):
		case <-ctx.Done():
			return errors.Join(err, context.Cause(ctx))
		}
	}
}

// txnPool holds finished transactions' structs for UpdateWith.
var txnPool = sync.Pool{New: func() any { return new(Txn) }}

// reset empties a finished transaction for reuse, keeping its slices'
// storage.
func (tx *Txn) reset() {
	reads, writes, arena, iters := tx.reads[:0], tx.writes[:0], tx.arena[:0], tx.iters[:0]
	clear(tx.iters[:cap(tx.iters)])
	lockOrder, saves := tx.lockOrder[:0], tx.saves[:0]
	*tx = Txn{}
	tx.reads, tx.writes, tx.arena, tx.iters = reads, writes, arena, iters
	tx.lockOrder, tx.saves = lockOrder, saves
}

// View runs fn in a read-only transaction (one snapshot; it never
// conflicts).
func (d *DB) View(ctx context.Context, fn func(tx *Txn) error) error {
	return d.ViewWith(ctx, nil, fn)
}

// ViewWith is View with transaction options (ReadOnly is implied).
func (d *DB) ViewWith(ctx context.Context, o *TxnOptions, fn func(tx *Txn) error) error {
	var opts TxnOptions
	if o != nil {
		opts = *o
	}
	opts.ReadOnly = true
	tx, err := d.BeginTxn(ctx, &opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.run(fn); err != nil {
		return err
	}
	return tx.Commit()
}

// run calls fn, rolling tx back (and panicking on) if fn panics.
func (tx *Txn) run(fn func(tx *Txn) error) error {
	ok := false
	defer func() {
		if !ok {
			tx.Rollback()
		}
	}()
	err := fn(tx)
	ok = true
	return err
}

// ReadVersion returns the version (sequence number) the transaction reads
// at.
func (tx *Txn) ReadVersion() uint64 { return tx.readVersion }

// CommittedVersion returns the version at which the transaction's writes
// were committed (its first write's sequence number), or 0 before Commit
// and for a transaction that wrote nothing.
func (tx *Txn) CommittedVersion() uint64 { return tx.committed }

// Options returns the transaction's options, defaults filled in.
func (tx *Txn) Options() TxnOptions { return tx.opts }

// checkOpen returns why tx cannot be used, if it cannot.
func (tx *Txn) checkOpen() error {
	switch {
	case tx.done:
		return ErrTxnDone
	case tx.err != nil:
		return tx.err
	}
	return nil
}

// checkWrite returns why tx cannot write, if it cannot.
func (tx *Txn) checkWrite() error {
	if err := tx.checkOpen(); err != nil {
		return err
	}
	if tx.opts.ReadOnly {
		return ErrTxnReadOnly
	}
	return nil
}

// grow counts n affected bytes against the size limit.
func (tx *Txn) grow(n int) error {
	tx.size += int64(n)
	if tx.size > tx.opts.SizeLimit {
		tx.err = fmt.Errorf("%w: %d bytes affected, over %d", ErrTxnTooLarge, tx.size, tx.opts.SizeLimit)
		return tx.err
	}
	return nil
}

// keep copies key into the transaction's arena.
func (tx *Txn) keep(key []byte) []byte {
	n := len(tx.arena)
	tx.arena = append(tx.arena, key...)
	return tx.arena[n:len(tx.arena):len(tx.arena)]
}

func (tx *Txn) keepBound(b bound) bound {
	return b.withKey(tx.keep(b.key))
}

// tracksReads reports whether reads add read conflict ranges.
func (tx *Txn) tracksReads() bool {
	return !tx.opts.ReadOnly && tx.opts.Isolation == Serializable
}

// addRead records r as read at version v.
func (tx *Txn) addRead(r keyRange, v uint64) error {
	if !tx.tracksReads() {
		return nil
	}
	if err := tx.grow(len(r.start.key) + len(r.end.key)); err != nil {
		return err
	}
	tx.reads = append(tx.reads, readRange{keyRange{tx.keepBound(r.start), tx.keepBound(r.end)}, v})
	return nil
}

// Get returns key's value as the transaction sees it (its own writes over
// its read version), or ErrNotFound, and adds a read conflict on key.
// Under Pessimistic, a key the transaction has locked is read at the
// latest committed state.
func (tx *Txn) Get(key []byte) ([]byte, error) {
	if err := tx.checkOpen(); err != nil {
		return nil, err
	}
	if _, ok := tx.locked[string(key)]; ok && tx.opts.Isolation == Serializable {
		return tx.getLatest(key)
	}
	if err := tx.addRead(pointRange(key), tx.readVersion); err != nil {
		return nil, err
	}
	return tx.view().Get(key)
}

// getLatest reads key through the batch over the latest committed state,
// recording the read at the version it saw.
func (tx *Txn) getLatest(key []byte) ([]byte, error) {
	v, seq, err := tx.db.getLatestThrough(key, tx.view())
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if rerr := tx.addRead(pointRange(key), seq); rerr != nil {
		return nil, rerr
	}
	return v, err
}

// GetForUpdate is Get for a key the transaction means to write. Under
// Pessimistic it first takes the key's lock (waiting up to LockTimeout;
// ErrLockTimeout, ErrDeadlock) and reads the latest committed value, so
// that a read-modify-write does not fail at commit. Otherwise it also adds
// a write conflict on key, so that concurrent transactions that read the
// key conflict with this one even if it does not write it.
func (tx *Txn) GetForUpdate(key []byte) ([]byte, error) {
	if err := tx.checkWrite(); err != nil {
		return nil, err
	}
	if tx.opts.Pessimistic {
		if err := tx.lock(key); err != nil {
			return nil, err
		}
		if tx.opts.Isolation == SnapshotIsolation {
			// One snapshot throughout: a key written since it was taken
			// fails now (as RocksDB's GetForUpdate with a snapshot does).
			if err := tx.db.writtenSince(key, tx.readVersion); err != nil {
				return nil, err
			}
			return tx.view().Get(key)
		}
		return tx.getLatest(key)
	}
	if err := tx.AddWriteConflictRange(key, nil); err != nil {
		return nil, err
	}
	if tx.opts.Isolation == SnapshotIsolation {
		return tx.view().Get(key)
	}
	return tx.Get(key)
}

// Snapshot returns a reader of the transaction's view whose reads add no
// read conflict (FoundationDB's snapshot reads): what it reads may change
// before the commit without failing it.
func (tx *Txn) Snapshot() *TxnSnapshot { return &TxnSnapshot{tx: tx} }

// TxnSnapshot reads a transaction's view (its writes over its read
// version) without adding read conflicts. See Txn.Snapshot.
type TxnSnapshot struct{ tx *Txn }

// Get returns key's value in the transaction's view, or ErrNotFound.
func (s *TxnSnapshot) Get(key []byte) ([]byte, error) {
	if err := s.tx.checkOpen(); err != nil {
		return nil, err
	}
	return s.tx.view().Get(key)
}

// NewIterator returns an iterator over the transaction's view that adds no
// read conflict. IterOptions.Snapshot is ignored.
func (s *TxnSnapshot) NewIterator(o *IterOptions) *Iterator {
	if err := s.tx.checkOpen(); err != nil {
		return &Iterator{db: s.tx.db, err: err}
	}
	return s.tx.view().NewIterator(txnIterOptions(o))
}

func txnIterOptions(o *IterOptions) *IterOptions {
	var opts IterOptions
	if o != nil {
		opts = *o
	}
	opts.Snapshot = nil // the batch's own snapshot
	return &opts
}

// NewIterator returns an iterator over the transaction's view: its own
// writes over its read version, within o's bounds (IterOptions.Snapshot is
// ignored). The span the iterator covers — from each position it is moved
// to (First, Last, Seek, SeekLT) to where it stops — is a read conflict
// range, added when it is closed or at Commit, whichever comes first: a
// key written by another commit anywhere in that span, even one the
// iterator did not return (a phantom), fails the commit. Writes made after
// the iterator was created are not seen by it.
func (tx *Txn) NewIterator(o *IterOptions) *Iterator {
	if err := tx.checkOpen(); err != nil {
		return &Iterator{db: tx.db, err: err}
	}
	it := tx.view().NewIterator(txnIterOptions(o))
	if it.err == nil && tx.tracksReads() {
		it.track = &iterTrack{tx: tx, idx: len(tx.iters)}
		tx.iters = append(tx.iters, it)
	}
	return it
}

// Refresh moves a serializable transaction's read version up to the latest
// committed state, if nothing it has read was written since it read it
// (CockroachDB's read refresh, in FoundationDB's model): its earlier reads
// are then the same at the new version, so the transaction reads on from
// there and its commit checks those reads only against the writes after
// it. A transaction that reads, then reads again later (a SQL session's
// statements, each a network round trip apart), so stays serializable at
// its commit version while each read is exposed to conflicts only from the
// last refresh before it, not from the transaction's beginning.
//
// If something it read was written since, Refresh returns that conflict
// (a *ConflictError, retryable; ErrTxnTooOld if the history is gone): the
// commit would fail the same way, and the caller can stop early. The
// transaction stays open and unchanged (Rollback it, or run on to the
// failing Commit).
//
// Refresh does nothing (and returns nil) for a read-only transaction or
// one under snapshot isolation (they read one snapshot throughout and
// track no reads), and while an iterator made by NewIterator is open (it
// reads at the old version, and the span it covers is recorded when it
// closes). Its cost grows with the reads recorded so far (one search of
// the conflict set per read range): a long transaction that refreshes
// before each of many reads pays for all its reads each time.
func (tx *Txn) Refresh() error {
	if err := tx.checkOpen(); err != nil {
		return err
	}
	if !tx.tracksReads() {
		return nil
	}
	for _, it := range tx.iters {
		if it != nil && it.track != nil {
			return nil
		}
	}
	d := tx.db
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	for d.filterInstalling {
		d.bgCond.Wait() // as addSnapshotLocked: no snapshot slips into a filtered compaction's install
	}
	v := d.visibleSeq.Load()
	if v <= tx.readVersion {
		return nil
	}
	// Every write at or below v was resolved, and, tx being open, recorded
	// in the set (unless forgotten below the floor, which check reports).
	set := d.txns.set
	tc := txnCommit{readVersion: tx.readVersion, reads: tx.reads}
	if err := set.check(&tc, nil); err != nil {
		d.stats.txnRefreshConflicts.Add(1)
		return err
	}
	for i := range tx.reads {
		tx.reads[i].version = max(tx.reads[i].version, v)
	}
	// Move the snapshot (batchIndex reads tx.snap's sequence at each read).
	s := tx.snap
	d.snapshots.remove(s)
	d.leaks.remove("snapshot", s.leakID)
	*s = Snapshot{db: d, seq: v}
	d.snapshots.pushBack(s)
	d.snapshotEpoch++
	s.leakID = d.leaks.add("snapshot", d.opts.DebugLeaks)
	tx.readVersion = v
	d.stats.txnRefreshes.Add(1)
	return nil
}

// ReadRanges returns the number of read conflict ranges the transaction
// has recorded (an open iterator's span is recorded when it closes): what
// a Refresh would check.
func (tx *Txn) ReadRanges() int { return len(tx.reads) }

// Put sets key to value in the transaction. Under Pessimistic it takes the
// key's lock first.
func (tx *Txn) Put(key, value []byte) error {
	if err := tx.beginWrite(key, len(key)+len(value)); err != nil {
		return err
	}
	tx.b.Put(key, value)
	return nil
}

// Delete removes key in the transaction. Under Pessimistic it takes the
// key's lock first.
func (tx *Txn) Delete(key []byte) error {
	if err := tx.beginWrite(key, len(key)); err != nil {
		return err
	}
	tx.b.Delete(key)
	return nil
}

// DeleteRange removes every key in [start, end) in the transaction (one
// range tombstone; see DB.DeleteRange). It takes no lock.
func (tx *Txn) DeleteRange(start, end []byte) error {
	if err := tx.checkWrite(); err != nil {
		return err
	}
	if err := tx.grow(len(start) + len(end)); err != nil {
		return err
	}
	tx.b.DeleteRange(start, end)
	return nil
}

// Merge records operand for key (see DB.Merge). It adds no read conflict:
// concurrent merges of the same key (say, FoundationDB-style atomic adds)
// do not conflict with one another. Under Pessimistic it takes the key's
// lock.
func (tx *Txn) Merge(key, operand []byte) error {
	if tx.db.opts.Merger == nil {
		return ErrNoMerger
	}
	if err := tx.beginWrite(key, len(key)+len(operand)); err != nil {
		return err
	}
	tx.b.Merge(key, operand)
	return nil
}

// beginWrite checks and counts a write of key affecting n bytes.
func (tx *Txn) beginWrite(key []byte, n int) error {
	if err := tx.checkWrite(); err != nil {
		return err
	}
	if err := tx.grow(n); err != nil {
		return err
	}
	if tx.opts.Pessimistic {
		return tx.lock(key)
	}
	return nil
}

// AddReadConflictRange adds [start, end) as read at the read version, as if
// the transaction had read it all (end nil: to the end of the key space).
func (tx *Txn) AddReadConflictRange(start, end []byte) error {
	if err := tx.checkOpen(); err != nil {
		return err
	}
	return tx.addRead(makeRange(start, end), tx.readVersion)
}

// AddWriteConflictRange adds [start, end) as written by the transaction
// (end nil: the single key start), without writing anything: transactions
// that read any of it conflict with this one once it commits.
func (tx *Txn) AddWriteConflictRange(start, end []byte) error {
	if err := tx.checkWrite(); err != nil {
		return err
	}
	r := pointRange(start)
	if end != nil {
		r = makeRange(start, end)
	}
	if err := tx.grow(len(start) + len(end)); err != nil {
		return err
	}
	tx.writes = append(tx.writes, keyRange{tx.keepBound(r.start), tx.keepBound(r.end)})
	return nil
}

// makeRange is [start, end) (end nil: unbounded).
func makeRange(start, end []byte) keyRange {
	r := keyRange{start: bound{key: start}, end: bound{inf: true}}
	if end != nil {
		r.end = bound{key: end}
	}
	return r
}

// SetSavePoint marks the transaction's writes so far; RollbackToSavePoint
// undoes the writes made after it. Save points nest.
func (tx *Txn) SetSavePoint() {
	b := tx.b
	b.init()
	tx.saves = append(tx.saves, savePoint{
		size: len(b.data), count: b.count, maxKey: b.maxKey, maxValue: b.maxValue,
		rangeDels: b.rangeDels, merges: b.merges, writes: len(tx.writes), reads: len(tx.reads), txnSize: tx.size,
	})
}

// RollbackToSavePoint undoes the writes (and write conflict ranges) made
// since the last SetSavePoint and removes that save point. What the
// transaction read since stays in its read set (its decisions may depend
// on it), and locks taken since stay held until Commit or Rollback.
func (tx *Txn) RollbackToSavePoint() error {
	if err := tx.checkOpen(); err != nil {
		return err
	}
	if len(tx.saves) == 0 {
		return ErrNoSavePoint
	}
	sp := tx.saves[len(tx.saves)-1]
	tx.saves = tx.saves[:len(tx.saves)-1]
	b := tx.b
	b.data = b.data[:sp.size]
	b.count = sp.count
	batch.SetCount(b.data, b.count)
	b.maxKey, b.maxValue, b.rangeDels, b.merges = sp.maxKey, sp.maxValue, sp.rangeDels, sp.merges
	if b.ix != nil {
		b.reindex(2 * len(b.data))
	}
	tx.writes = tx.writes[:sp.writes]
	tx.size = sp.txnSize + tx.readBytes(sp.reads)
	return nil
}

// readBytes is what the reads from the i-th on count against the size
// limit.
func (tx *Txn) readBytes(i int) int64 {
	var n int64
	for _, r := range tx.reads[i:] {
		n += int64(len(r.r.start.key) + len(r.r.end.key))
	}
	return n
}

// Len returns the number of writes the transaction holds.
func (tx *Txn) Len() int { return tx.b.Len() }

// view returns the indexed batch the transaction reads through: before its
// first write, an empty one over its snapshot; after, its own batch, whose
// index is built on the first read (and kept up by later writes).
func (tx *Txn) view() *Batch {
	b := tx.b
	switch {
	case b.ix != nil:
		return b
	case b.count == 0:
		return &tx.empty
	}
	b.ix = &tx.ix
	b.reindex(2 * len(b.data))
	return b
}

// Commit writes the transaction's writes atomically, as one batch, if
// nothing it read was written since its read version (ErrConflict
// otherwise; see IsRetryable). A transaction that wrote nothing commits
// without a check, being serializable at its read version, unless it read
// locked keys at later versions (Pessimistic): then its reads are checked
// as a writer's are. Commit ends the transaction either way.
func (tx *Txn) Commit() error {
	if tx.done {
		return ErrTxnDone
	}
	err := tx.commit()
	tx.finish(err)
	return err
}

func (tx *Txn) commit() error {
	if tx.err != nil {
		return tx.err
	}
	for _, it := range tx.iters {
		if it != nil && it.track != nil {
			it.track.flush(it)
		}
	}
	if tx.err != nil { // the iterators' ranges passed the size limit
		return tx.err
	}
	if tx.opts.ReadOnly {
		return nil
	}
	tc := &txnCommit{readVersion: tx.readVersion, isolation: tx.opts.Isolation, reads: tx.reads, writes: tx.writes}
	if tx.b.count == 0 && len(tx.writes) == 0 {
		// Reads all at the read version are serializable there. A
		// pessimistic transaction's reads of locked keys are at the
		// latest state, later ones: those hold only if nothing it read
		// changed since, as a writer's are checked.
		for _, rr := range tx.reads {
			if rr.version != tx.readVersion {
				return tx.db.checkTxnReads(tc)
			}
		}
		return nil
	}
	seq, err := tx.db.writeTxn(tx.b, &WriteOptions{Sync: tx.opts.Sync}, tc)
	if err != nil {
		return err
	}
	if tx.b.count > 0 {
		tx.committed = seq
	}
	return nil
}

// eachWrite calls fn with the range each operation of the batch data
// writes, then with each of extra, while fn returns true.
func eachWrite(data []byte, extra []keyRange, fn func(keyRange) bool) {
	if r, err := batch.NewReader(data); err == nil {
		for {
			kind, k, v, ok, err := r.Next()
			if err != nil || !ok {
				break
			}
			if !fn(opRange(kind, k, v)) {
				return
			}
		}
	}
	for _, r := range extra {
		if !fn(r) {
			return
		}
	}
}

// opRange is the range a batch operation writes.
func opRange(kind base.Kind, k, v []byte) keyRange {
	if kind == base.KindRangeDelete {
		return keyRange{bound{key: k}, bound{key: v}}
	}
	return pointRange(k)
}

// Rollback discards the transaction. It is a no-op after Commit or
// Rollback, so `defer tx.Rollback()` is always safe.
func (tx *Txn) Rollback() error {
	if tx.done {
		return nil
	}
	tx.finish(ErrTxnDone)
	return nil
}

// finish ends the transaction: its iterators stop tracking, its locks and
// snapshot are released, and its watches are armed (err nil) or failed.
func (tx *Txn) finish(err error) {
	tx.done = true
	for _, it := range tx.iters {
		if it != nil && it.track != nil {
			it.track = nil
		}
	}
	tx.iters = nil
	d := tx.db
	if tx.lockOrder != nil {
		d.txns.locks.unlockAll(tx)
	}
	tx.armWatches(err) // reads through the snapshot
	d.mu.Lock()
	tx.releaseActiveLocked()
	if s := tx.snap; !s.closed { // tx.snap.Close, in the same critical section
		s.closed = true
		d.snapshots.remove(s)
		d.leaks.remove("snapshot", s.leakID)
	}
	d.mu.Unlock()
	if tx.buf != nil { // nothing reads the batch's bytes any more
		if cap(tx.batch.data) <= maxPooledTxnBuf {
			*tx.buf = tx.batch.data[:0]
			txnBufs.Put(tx.buf)
		}
		tx.buf, tx.batch.data = nil, nil
	}
	if err == nil && !tx.opts.ReadOnly && tx.committed > 0 {
		d.stats.txnCommits.Add(1)
	} else if errors.Is(err, ErrConflict) {
		d.stats.txnConflicts.Add(1)
	}
}

// txnBufs holds the buffers of finished transactions' batches, so that a
// transaction does not grow a new one from nothing.
var txnBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledTxnBuf bounds the buffers kept in txnBufs.
const maxPooledTxnBuf = 64 << 10

// writeTxn commits b for a transaction: Write's checks, then the commit
// queue, where the leader checks tc. It returns b's first sequence number.
func (d *DB) writeTxn(b *Batch, wo *WriteOptions, tc *txnCommit) (uint64, error) {
	b.init()
	if err := b.checkSizes(d.opts); err != nil {
		return 0, err
	}
	if b.merges || b.rangeDels {
		if b.merges && d.opts.Merger == nil {
			return 0, ErrNoMerger
		}
		if err := d.ensureExtended(b.merges); err != nil {
			return 0, err
		}
	}
	w := writerPool.Get().(*writer)
	*w = writer{batch: b, txn: tc}
	w.cond.L = &d.mu
	w.sync = wo.Sync
	err := d.runWriter(w)
	seq := w.seq
	w.batch, w.txn = nil, nil
	writerPool.Put(w)
	return seq, err
}

// checkTxnReads checks the reads of a transaction that writes nothing
// against every write recorded so far: if none was overwritten, they are
// the state at the newest version read, which is visible now.
func (d *DB) checkTxnReads(tc *txnCommit) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.txns.set.check(tc, nil)
}

// getLatestThrough reads key through the indexed batch b over the latest
// committed state, returning the sequence it read at.
func (d *DB) getLatestThrough(key []byte, b *Batch) ([]byte, uint64, error) {
	if err := d.holeAt(key); err != nil {
		return nil, 0, err
	}
	if d.isClosed() {
		return nil, 0, ErrClosed
	}
	rs, seq := d.acquireReadView(seqLatest)
	defer rs.unref()
	ixSeq := batchSeqBase + uint64(b.count) - 1
	v, err := d.getIn(nil, rs, key, seq, b.ix.mem, ixSeq)
	if err == errMergeOperand {
		v, err = d.getMerged(nil, rs, key, seq, b.ix.mem, ixSeq)
	}
	return v, seq, err
}

// resolveGroupLocked numbers the group's writers from d.lastSeq+1 and,
// while transactions are open, checks each transaction against the
// conflict set (refusing it: skip) and records the writes of the writers
// it accepts, in order, so that a transaction later in the group sees the
// writes of those before it. It returns the operations to commit, and the
// sequence numbers the group takes (span): one more than the operations
// when it accepted a transaction that writes only write conflict ranges
// (GetForUpdate, AddWriteConflictRange, no operation). Such a transaction
// is recorded at a version no operation uses; the extra number makes that
// version visible once the group is, so that a transaction that begins
// after its commit returned reads at or above it and does not conflict
// with it.
func (d *DB) resolveGroupLocked(group []*writer) (count uint32, span uint64) {
	seq := d.lastSeq + 1
	t := &d.txns
	if t.active == 0 {
		for _, g := range group {
			g.seq = seq
			seq += uint64(g.batch.count)
			count += g.batch.count
		}
		t.unrecorded = unrecordedGroup{writers: group, start: d.lastSeq}
		return count, uint64(count)
	}
	set := t.set
	var extra uint64
	// unresolved counts the open transactions whose commit is not resolved
	// yet (this group's later ones included): only they can check against
	// a write. Once none is left, the rest of the group is not recorded and
	// the history is dropped, its floor raised past the group, and the
	// group kept as unrecorded: a transaction that begins before the group
	// is visible records it then (recordInFlightLocked) rather than read
	// under writes the set does not hold. A lone transaction thus records
	// nothing.
	unresolved := t.active
	for _, g := range group {
		g.seq = seq
		if g.txn != nil {
			unresolved--
			if err := set.check(g.txn, g.batch.data); err != nil {
				g.skip, g.err = true, err
				continue
			}
			if g.batch.count == 0 && len(g.txn.writes) > 0 {
				extra = 1 // recorded at seq, which no operation may take
			}
		}
		if unresolved > 0 {
			set.recordWriter(g)
		}
		seq += uint64(g.batch.count)
		count += g.batch.count
	}
	if unresolved <= 0 {
		set.reset(seq - 1 + extra) // the group's last sequence, the extra one included
		t.unrecorded = unrecordedGroup{writers: group, start: d.lastSeq}
	} else if set.bytes > set.trimAt || set.bytes > d.opts.TxnConflictWindow {
		d.trimConflictWindowLocked()
	}
	return count, uint64(count) + extra
}

// recordInFlightLocked records the writes of the commit group in flight
// that the conflict set does not hold (txnState.unrecorded) and lowers the
// set's floor to the sequence before the group, so that a transaction
// beginning now reads at the visible sequence, below the group, without
// waiting for the group's fsync: its commit is checked against the group's
// writes like any other. Lowering the floor is sound because the set holds
// nothing else: it was emptied when the group was resolved (no open
// transaction needed the history), only one group is in flight at a time,
// and the transactions open now began at or after the group's start.
// Called by BeginTxn while the visible sequence is below the floor.
func (d *DB) recordInFlightLocked() {
	t := &d.txns
	u := t.unrecorded
	if u.writers == nil || d.visibleSeq.Load() != u.start {
		return
	}
	set := t.set
	set.reset(0) // emptied when the group was resolved (or by BeginTxn since): nothing is lost
	for _, g := range u.writers {
		if !g.skip {
			set.recordWriter(g)
		}
	}
	set.floor = u.start
	t.unrecorded = unrecordedGroup{}
}

// recordWriter records the writes of g, a writer its group numbered
// (g.seq), at g.seq: its batch's operations and, for a transaction, its
// explicit write conflict ranges.
func (s *conflictSet) recordWriter(g *writer) {
	var explicit []keyRange
	if g.txn != nil {
		explicit = g.txn.writes
	}
	var grew int64
	eachWrite(g.batch.data, explicit, func(r keyRange) bool {
		grew += s.record(r, g.seq)
		return true
	})
	s.log = append(s.log, windowEntry{version: g.seq, bytes: grew})
}

// writtenSince returns a write conflict if key was written after version
// (ErrTxnTooOld if that cannot be known).
func (d *DB) writtenSince(key []byte, version uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	set := d.txns.set
	if version < set.floor {
		return fmt.Errorf("%w (read version %d, oldest kept %d)", ErrTxnTooOld, version, set.floor)
	}
	if v := set.maxVersion(pointRange(key)); v > version {
		return conflictError(pointRange(key), version, v, true)
	}
	return nil
}

// recordWriteLocked records r as written at seq, while transactions are
// open (ingestion's tables).
func (d *DB) recordWriteLocked(r keyRange, seq uint64) {
	if t := &d.txns; t.active > 0 {
		t.set.log = append(t.set.log, windowEntry{version: seq, bytes: t.set.record(r, seq)})
	}
}

// trimConflictWindowLocked forgets history: first what is older than every
// open snapshot (no transaction can need it); then, if the set is over its
// window and still over half of it, the oldest commits, raising the floor
// past them (their transactions' successors get ErrTxnTooOld). Called when
// the set passes its trimAt (the first step only, in effect) or its window.
func (d *DB) trimConflictWindowLocked() {
	set := d.txns.set
	over := set.bytes > d.opts.TxnConflictWindow
	if s := d.snapshots.oldest(); s != nil {
		set.raiseFloor(s.seq)
	} else {
		set.raiseFloor(d.lastSeq)
	}
	if target := d.opts.TxnConflictWindow / 2; over && set.bytes > target {
		excess := set.bytes - target
		floor := set.floor
		for _, e := range set.log {
			if excess <= 0 {
				break
			}
			excess -= e.bytes
			floor = e.version
		}
		set.raiseFloor(floor)
	}
	set.trimAt = max(2*set.bytes, conflictTrimMin)
}

// check refuses tc, whose batch is data, if something it read (or, under
// snapshot isolation, wrote) was written after it read it.
func (s *conflictSet) check(tc *txnCommit, data []byte) error {
	if tc.isolation == SnapshotIsolation {
		if tc.readVersion < s.floor { // it writes: it is committing
			return ErrTxnTooOld
		}
		var err error
		eachWrite(data, tc.writes, func(r keyRange) bool {
			if v := s.maxVersion(r); v > tc.readVersion {
				err = conflictError(r, tc.readVersion, v, true)
			}
			return err == nil
		})
		return err
	}
	for _, rr := range tc.reads {
		if rr.version < s.floor {
			return fmt.Errorf("%w (read version %d, oldest kept %d)", ErrTxnTooOld, rr.version, s.floor)
		}
		if v := s.maxVersion(rr.r); v > rr.version {
			return conflictError(rr.r, rr.version, v, false)
		}
	}
	return nil
}

func conflictError(r keyRange, read, written uint64, write bool) error {
	e := &ConflictError{ReadVersion: read, WriteVersion: written, Write: write, what: r.String()}
	if r.isPoint() {
		e.Key = append([]byte(nil), r.start.key...)
	} else {
		e.Start = append([]byte(nil), r.start.key...)
		if r.end.inf {
			e.Unbounded = true
		} else {
			e.End = append([]byte(nil), r.end.key...)
		}
	}
	return e
}
