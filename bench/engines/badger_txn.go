//go:build !bench_single || bench_badger

package engines

import (
	"errors"

	"github.com/dgraph-io/badger/v4"

	"github.com/strata-db/strata/tools/dbbench"
)

// Badger's transactions for the txn benchmarks: DB.Update, one attempt,
// with Badger's default conflict detection (a commit fails with
// ErrConflict if a key the transaction read was committed since it
// began). Sync is the open-time SyncWrites (--sync); there is no
// pessimistic mode.

func (b *badgerDB) Update(o dbbench.TxnOptions, fn func(tx dbbench.Txn) error) error {
	if o.Pessimistic {
		return dbbench.ErrNoPessimistic("badger")
	}
	return b.d.Update(func(txn *badger.Txn) error { return fn(badgerTxn{txn}) })
}

func (b *badgerDB) Retryable(err error) bool { return errors.Is(err, badger.ErrConflict) }

type badgerTxn struct{ txn *badger.Txn }

// Get reads in place: the value is valid until the transaction ends.
func (t badgerTxn) Get(k []byte, _ bool) ([]byte, bool, error) {
	item, err := t.txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var v []byte
	err = item.Value(func(val []byte) error { v = val; return nil })
	return v, err == nil, err
}

func (t badgerTxn) Put(k, v []byte) error { return t.txn.Set(k, v) }
