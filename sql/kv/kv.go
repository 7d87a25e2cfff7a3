// Package kv is the storage interface of the SQL layer: the transaction
// operations the catalog, the executor and the session use, and nothing
// else. SQL reaches storage only through it, so the same SQL layer can run
// over the embedded engine (package sql/kv/local, over strata.Txn) or,
// later, over the cluster's client.
package kv

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrNotFound is returned by Get for an absent key.
var ErrNotFound = errors.New("kv: not found")

// Isolation is a transaction's isolation level.
type Isolation int

// The levels a store offers.
const (
	Serializable Isolation = iota
	SnapshotIsolation
)

// TxnOptions configure a transaction.
type TxnOptions struct {
	ReadOnly  bool
	Isolation Isolation
	// Sync makes Commit durable before it returns.
	Sync bool
}

// Store starts transactions.
type Store interface {
	// Begin starts a transaction reading the latest committed state.
	Begin(ctx context.Context, o TxnOptions) (Txn, error)
	// IsRetryable reports whether a transaction that failed with err may
	// succeed if run again (a conflict).
	IsRetryable(err error) bool
}

// Txn is a transaction: reads see its own writes; Commit applies every
// write atomically or fails (a conflict is retryable). Not safe for
// concurrent use.
type Txn interface {
	// Get returns key's value, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Scan returns an iterator over [start, end) (end nil: unbounded),
	// forward or in reverse. The range it covers is read by the
	// transaction (a phantom in it fails the commit).
	Scan(start, end []byte, reverse bool) Iterator
	// Put sets key to value.
	Put(key, value []byte) error
	// Delete removes key.
	Delete(key []byte) error
	// DeleteRange removes every key in [start, end).
	DeleteRange(start, end []byte) error
	// Lock marks key as written by the transaction without changing it,
	// so that concurrent readers of key conflict (SELECT ... FOR UPDATE).
	Lock(key []byte) error
	// MarkRead records key as read by the transaction at its snapshot,
	// as Get does, without reading it: for a caller that knows key's
	// value there (the plan cache, whose table descriptors a Watch shows
	// unchanged). A commit that writes key after the snapshot then fails
	// the transaction as it would after a Get (a no-op where Get records
	// nothing: read-only transactions, snapshot isolation).
	MarkRead(key []byte) error
	// Refresh moves the transaction's snapshot up to the latest committed
	// state if nothing it has read was written since (its reads so far
	// are then the same there), so that its later reads see newer data and
	// its earlier ones are exposed to conflicts only from now on; it
	// reports whether the snapshot moved. It fails with a retryable error
	// if something the transaction read was written since: its commit
	// would fail the same way. A store may decline (false, nil), always or
	// when checking the reads would cost more than it saves; a caller must
	// then assume the old snapshot.
	Refresh() (bool, error)
	// SetSavePoint and RollbackToSavePoint undo the writes since the
	// latest save point (a failed statement inside a transaction).
	SetSavePoint()
	RollbackToSavePoint() error
	// Commit and Rollback end the transaction; Rollback after Commit is a
	// no-op.
	Commit() error
	Rollback() error
}

// Iterator walks keys in order. Key and Value are valid until the next
// call to Next.
type Iterator interface {
	// Next moves to the next key; false at the end or on error.
	Next() bool
	Key() []byte
	Value() []byte
	// Err is the error that stopped the iterator, if any.
	Err() error
	Close() error
}

// Watcher is an optional capability of a Store: it counts the commits that
// write keys under a prefix, so that a reader can tell that nothing under
// it changed between two snapshots without reading it (the SQL layer's
// plan cache, for the table descriptors a read-only statement's plan
// depends on). A store implements it only if every write to its data goes
// through its transactions in this process.
type Watcher interface {
	// Watch returns the watch of prefix (the same one for the same
	// prefix, over every Store of the same data).
	Watch(prefix []byte) *Watch
}

// Watch counts the commits of transactions that wrote keys under a prefix.
// The store calls BeginCommit before such a commit and EndCommit after it
// (whether it failed or not). So, for a reader:
//
//   - if Epoch was e before snapshot A was taken, and Stable reports
//     (e, true) after snapshot B was taken, no commit writing under the
//     prefix is visible in B and not in A: one that committed after A
//     and before B either ended before Stable looked (the epoch moved past
//     e) or was still under way (not stable).
type Watch struct {
	inFlight atomic.Int64
	epoch    atomic.Uint64
}

// Epoch is the number of such commits that have ended.
func (w *Watch) Epoch() uint64 { return w.epoch.Load() }

// Stable returns Epoch, and false if such a commit is under way.
func (w *Watch) Stable() (uint64, bool) {
	if w.inFlight.Load() != 0 {
		return 0, false
	}
	return w.epoch.Load(), true
}

// BeginCommit is called by the store before committing a transaction that
// wrote under the prefix.
func (w *Watch) BeginCommit() { w.inFlight.Add(1) }

// EndCommit is called by the store after that commit returned.
func (w *Watch) EndCommit() {
	w.epoch.Add(1)
	w.inFlight.Add(-1)
}
