package strata

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Transactions in the metamorphic test (issue 25, test 4): up to
// mmTxnSlots transactions open at once, begun with one of four option sets
// (serializable, snapshot isolation, pessimistic, read-only), their writes,
// reads, scans, conflict ranges and save points interleaved with the rest
// of the sequence, and committed or rolled back. What a transaction reads
// and whether its commit conflicts (or a pessimistic write times out on a
// lock another one holds) follow from the order of the operations alone,
// never from the options, so every configuration must give the same
// history. A reopen rolls back the transactions open.

const mmTxnSlots = 3

// Transaction kinds (mmOp.txnKind of mmTxnBegin).
const (
	mmTxnSerializable = iota
	mmTxnSnapshotIso
	mmTxnPessimistic
	mmTxnReadOnly
	mmTxnKinds
)

func mmTxnOptions(kind int) *TxnOptions {
	o := &TxnOptions{LockTimeout: time.Millisecond}
	switch kind {
	case mmTxnSnapshotIso:
		o.Isolation = SnapshotIsolation
	case mmTxnPessimistic:
		o.Pessimistic, o.DeadlockDetect = true, true
	case mmTxnReadOnly:
		o.ReadOnly = true
	}
	return o
}

// mmTxnString describes a transactional operation.
func mmTxnString(op mmOp) string {
	switch op.kind {
	case mmTxnBegin:
		return fmt.Sprintf("txn %d = begin %+v", op.slot, *mmTxnOptions(op.txnKind))
	case mmTxnWrite:
		var parts []string
		for _, o := range op.batch {
			parts = append(parts, o.String())
		}
		return fmt.Sprintf("txn %d: %s", op.slot, strings.Join(parts, "; "))
	case mmTxnGet:
		return fmt.Sprintf("txn %d %s %q", op.slot, op.iterOp, op.key)
	case mmTxnScan:
		return fmt.Sprintf("txn %d scan [%q, %q) from %q (snapshot reader %v)", op.slot, op.lower, op.upper, op.key, op.syncOpt)
	case mmTxnConflictRange:
		return fmt.Sprintf("txn %d %s conflict range [%q, %q)", op.slot, op.iterOp, op.key, op.upper)
	case mmTxnSavePoint:
		return fmt.Sprintf("txn %d save point", op.slot)
	case mmTxnRollbackTo:
		return fmt.Sprintf("txn %d rollback to save point", op.slot)
	case mmTxnCommit:
		return fmt.Sprintf("txn %d commit", op.slot)
	case mmTxnRollback:
		return fmt.Sprintf("txn %d rollback", op.slot)
	}
	return "?"
}

// mmGenTxn returns a random transactional operation valid for the slots
// open (and updates them).
// One key in three is one of a few hot ones, so that transactions meet on
// keys: conflicts and lock waits.
func mmGenTxn(rng *rand.Rand, open []bool, anyKey func() []byte, anyWrite func() mmOp) mmOp {
	hot := func() []byte { return fmt.Appendf(nil, "key%03d", rng.IntN(4)) }
	randKey := func() []byte {
		if rng.IntN(3) == 0 {
			return hot()
		}
		return anyKey()
	}
	randWrite := func() mmOp {
		op := anyWrite()
		if rng.IntN(3) == 0 {
			op.key = hot()
		}
		return op
	}
	var free, busy []int
	for i, o := range open {
		if o {
			busy = append(busy, i)
		} else {
			free = append(free, i)
		}
	}
	if len(busy) == 0 || (len(free) > 0 && rng.IntN(5) == 0) {
		s := free[rng.IntN(len(free))]
		open[s] = true
		return mmOp{kind: mmTxnBegin, slot: s, txnKind: rng.IntN(mmTxnKinds)}
	}
	s := busy[rng.IntN(len(busy))]
	switch x := rng.IntN(100); {
	case x < 30:
		op := mmOp{kind: mmTxnWrite, slot: s}
		for n := 1 + rng.IntN(3); n > 0; n-- {
			op.batch = append(op.batch, randWrite())
		}
		return op
	case x < 50:
		how := []string{"Get", "Get", "Get", "GetForUpdate", "GetForUpdate", "Snapshot.Get"}
		return mmOp{kind: mmTxnGet, slot: s, key: randKey(), iterOp: how[rng.IntN(len(how))]}
	case x < 62:
		op := mmOp{kind: mmTxnScan, slot: s, key: randKey(), syncOpt: rng.IntN(5) == 0}
		if rng.IntN(2) == 0 {
			op.lower = randKey()
		}
		if rng.IntN(2) == 0 {
			op.upper = randKey()
		}
		return op
	case x < 66:
		op := mmOp{kind: mmTxnConflictRange, slot: s, key: randKey(), iterOp: "read"}
		if rng.IntN(2) == 0 {
			op.iterOp = "write"
		}
		if rng.IntN(3) != 0 {
			op.upper = randKey()
		}
		return op
	case x < 71:
		return mmOp{kind: mmTxnSavePoint, slot: s}
	case x < 76:
		return mmOp{kind: mmTxnRollbackTo, slot: s}
	case x < 94:
		open[s] = false
		return mmOp{kind: mmTxnCommit, slot: s}
	default:
		open[s] = false
		return mmOp{kind: mmTxnRollback, slot: s}
	}
}

// mmTxnErr names the transaction errors an operation may meet by design;
// any other error is "error: ...", which fails the test.
func mmTxnErr(err error) string {
	var ce *ConflictError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ce):
		// Not the versions: sequence numbers may differ after a reopen
		// (one taken by a commit of write conflict ranges alone is not
		// logged).
		what := fmt.Sprintf("key %q", ce.Key)
		if ce.Key == nil {
			what = fmt.Sprintf("range [%q, %q) unbounded %v", ce.Start, ce.End, ce.Unbounded)
		}
		return fmt.Sprintf("conflict (write %v) on %s", ce.Write, what)
	case errors.Is(err, ErrLockTimeout):
		return "lock timeout"
	case errors.Is(err, ErrTxnReadOnly):
		return "read-only"
	case errors.Is(err, ErrNoSavePoint):
		return "no save point"
	case errors.Is(err, ErrNotFound):
		return "not found"
	}
	return "error: " + err.Error()
}

// runTxn applies a transactional operation and returns its result.
func (r *mmRunner) runTxn(op mmOp) string {
	tx := r.txns[op.slot]
	switch op.kind {
	case mmTxnBegin:
		t, err := r.db.BeginTxn(context.Background(), mmTxnOptions(op.txnKind))
		r.txns[op.slot] = t
		return mmTxnErr(err)
	case mmTxnWrite:
		var res []string
		for _, o := range op.batch {
			var err error
			switch o.kind {
			case mmDelete:
				err = tx.Delete(o.key)
			case mmDeleteRange:
				err = tx.DeleteRange(o.key, o.upper)
			case mmMerge:
				err = tx.Merge(o.key, o.value)
			default:
				err = tx.Put(o.key, o.value)
			}
			res = append(res, mmTxnErr(err))
		}
		return fmt.Sprintf("%s; %d writes", strings.Join(res, ", "), tx.Len())
	case mmTxnGet:
		var v []byte
		var err error
		switch op.iterOp {
		case "Get":
			v, err = tx.Get(op.key)
		case "GetForUpdate":
			v, err = tx.GetForUpdate(op.key)
		default:
			v, err = tx.Snapshot().Get(op.key)
		}
		if err != nil {
			return mmTxnErr(err)
		}
		return fmt.Sprintf("%q", v)
	case mmTxnScan:
		o := &IterOptions{LowerBound: op.lower, UpperBound: op.upper}
		var it *Iterator
		if op.syncOpt {
			it = tx.Snapshot().NewIterator(o)
		} else {
			it = tx.NewIterator(o)
		}
		res := "scan:"
		for ok, n := it.Seek(op.key), 0; ok && n < 5; ok, n = it.Next(), n+1 {
			res += fmt.Sprintf(" %q=%q", it.Key(), it.Value())
		}
		if err := it.Close(); err != nil {
			res += " error: " + err.Error()
		}
		return res
	case mmTxnConflictRange:
		if op.iterOp == "read" {
			return mmTxnErr(tx.AddReadConflictRange(op.key, op.upper))
		}
		return mmTxnErr(tx.AddWriteConflictRange(op.key, op.upper))
	case mmTxnSavePoint:
		tx.SetSavePoint()
		return "ok"
	case mmTxnRollbackTo:
		err := tx.RollbackToSavePoint()
		return fmt.Sprintf("%s; %d writes", mmTxnErr(err), tx.Len())
	case mmTxnCommit:
		n := tx.Len()
		err := tx.Commit()
		r.txns[op.slot] = nil
		return fmt.Sprintf("%s (%d writes)", mmTxnErr(err), n)
	case mmTxnRollback:
		err := tx.Rollback()
		r.txns[op.slot] = nil
		return mmTxnErr(err)
	}
	return "unknown op"
}
