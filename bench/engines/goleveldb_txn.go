//go:build !bench_single || bench_goleveldb

package engines

import (
	"errors"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/strata-db/strata/tools/dbbench"
)

// goleveldb's transactions for the txn benchmarks: DB.OpenTransaction,
// which holds the database's write lock until Commit or Discard (one
// transaction at a time, blocking every other write: serializable by one
// writer, never a conflict). Its writes go to a memtable of the
// transaction's own, which Commit writes out as a level-0 table and
// records in the MANIFEST, both fsynced (there is no unsynced commit short
// of the database-wide NoSync); goleveldb's documentation warns that this
// is expensive for small transactions. No pessimistic mode.

func (g *golevelDB) Update(o dbbench.TxnOptions, fn func(tx dbbench.Txn) error) error {
	if o.Pessimistic {
		return dbbench.ErrNoPessimistic("goleveldb")
	}
	tr, err := g.d.OpenTransaction()
	if err != nil {
		return err
	}
	if err := fn(gldbTxn{tr}); err != nil {
		tr.Discard()
		return err
	}
	if err := tr.Commit(); err != nil {
		tr.Discard()
		return err
	}
	return nil
}

// Retryable is false: one writer at a time, no conflicts.
func (g *golevelDB) Retryable(error) bool { return false }

type gldbTxn struct{ tr *leveldb.Transaction }

func (t gldbTxn) Get(k []byte, _ bool) ([]byte, bool, error) {
	v, err := t.tr.Get(k, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, false, nil
	}
	return v, err == nil, err
}

func (t gldbTxn) Put(k, v []byte) error { return t.tr.Put(k, v, nil) }
