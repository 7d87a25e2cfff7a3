// Package local implements the SQL layer's storage interface (package
// sql/kv) over an embedded Strata database's transactions.
package local

import (
	"context"
	"errors"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv"
)

// Store is a kv.Store over a *strata.DB.
type Store struct{ DB *strata.DB }

// New returns a store over db.
func New(db *strata.DB) *Store { return &Store{DB: db} }

// Begin starts a strata transaction.
func (s *Store) Begin(ctx context.Context, o kv.TxnOptions) (kv.Txn, error) {
	iso := strata.Serializable
	if o.Isolation == kv.SnapshotIsolation {
		iso = strata.SnapshotIsolation
	}
	tx, err := s.DB.BeginTxn(ctx, &strata.TxnOptions{ReadOnly: o.ReadOnly, Isolation: iso, Sync: o.Sync})
	if err != nil {
		return nil, err
	}
	return &txn{tx: tx}, nil
}

// IsRetryable is strata.IsRetryable.
func (s *Store) IsRetryable(err error) bool { return strata.IsRetryable(err) }

type txn struct{ tx *strata.Txn }

func (t *txn) Get(key []byte) ([]byte, error) {
	v, err := t.tx.Get(key)
	if errors.Is(err, strata.ErrNotFound) {
		return nil, kv.ErrNotFound
	}
	return v, err
}

func (t *txn) Scan(start, end []byte, reverse bool) kv.Iterator {
	it := t.tx.NewIterator(&strata.IterOptions{LowerBound: start, UpperBound: end})
	return &iter{it: it, reverse: reverse}
}

func (t *txn) Put(key, value []byte) error         { return t.tx.Put(key, value) }
func (t *txn) Delete(key []byte) error             { return t.tx.Delete(key) }
func (t *txn) DeleteRange(start, end []byte) error { return t.tx.DeleteRange(start, end) }
func (t *txn) Lock(key []byte) error {
	if t.tx.Options().ReadOnly {
		return nil
	}
	return t.tx.AddWriteConflictRange(key, nil)
}
func (t *txn) SetSavePoint()              { t.tx.SetSavePoint() }
func (t *txn) RollbackToSavePoint() error { return t.tx.RollbackToSavePoint() }
func (t *txn) Commit() error              { return t.tx.Commit() }
func (t *txn) Rollback() error            { return t.tx.Rollback() }

type iter struct {
	it      *strata.Iterator
	reverse bool
	started bool
}

func (i *iter) Next() bool {
	if !i.started {
		i.started = true
		if i.reverse {
			return i.it.Last()
		}
		return i.it.First()
	}
	if i.reverse {
		return i.it.Prev()
	}
	return i.it.Next()
}

func (i *iter) Key() []byte   { return i.it.Key() }
func (i *iter) Value() []byte { return i.it.Value() }
func (i *iter) Err() error    { return i.it.Err() }
func (i *iter) Close() error  { return i.it.Close() }
