package dbbench

import (
	"context"
	"errors"

	"github.com/strata-db/strata"
)

// Strata's transactions for the txn benchmarks: DB.UpdateWith with
// MaxRetries -1 (one attempt; the driver retries), serializable. Under
// Pessimistic, deadlock detection is on and the reads of keys the
// transaction writes are GetForUpdate (lock, then read the latest value).

// Update runs fn in one Strata transaction.
func (s strataDB) Update(o TxnOptions, fn func(tx Txn) error) error {
	to := strata.TxnOptions{Sync: o.Sync, MaxRetries: -1}
	if o.Pessimistic {
		to.Pessimistic, to.DeadlockDetect = true, true
	}
	return s.d.UpdateWith(context.Background(), &to, func(tx *strata.Txn) error {
		return fn(strataTxn{tx: tx, pessimistic: o.Pessimistic})
	})
}

// Retryable is strata.IsRetryable.
func (s strataDB) Retryable(err error) bool { return strata.IsRetryable(err) }

type strataTxn struct {
	tx          *strata.Txn
	pessimistic bool
}

func (t strataTxn) Get(key []byte, forUpdate bool) ([]byte, bool, error) {
	var v []byte
	var err error
	if forUpdate && t.pessimistic {
		v, err = t.tx.GetForUpdate(key)
	} else {
		v, err = t.tx.Get(key)
	}
	if errors.Is(err, strata.ErrNotFound) {
		return nil, false, nil
	}
	return v, err == nil, err
}

func (t strataTxn) Put(key, value []byte) error { return t.tx.Put(key, value) }
