package strata

import (
	"context"
	"errors"
	"testing"
)

// Regression tests for bugs the bank, crash and model tests of issue 25
// found in the transactions' first cut.

// TestTxnSavePointSize: rolling back to a save point counted the reads made
// before it twice against the size limit, so a transaction that set and
// rolled back save points in a loop (a statement each, as a SQL layer does)
// failed with ErrTxnTooLarge while it held a few bytes.
func TestTxnSavePointSize(t *testing.T) {
	d := openTxnDB(t, nil)
	tx := mustBegin(t, d, &TxnOptions{SizeLimit: 1000})
	defer tx.Rollback()
	tx.Get(make([]byte, 100)) // 200 bytes: the key's range
	for i := 0; i < 20; i++ {
		tx.SetSavePoint()
		if err := tx.Put([]byte("a"), []byte("b")); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if err := tx.RollbackToSavePoint(); err != nil {
			t.Fatal(err)
		}
	}
	if tx.size != 200 {
		t.Fatalf("size %d after the save points rolled back, want 200", tx.size)
	}
}

// TestTxnIterUnboundedCustomComparator: an iterator without a lower bound
// recorded its span as starting at the empty key, the smallest key only
// under the bytewise order. Under a comparator where the empty key sorts
// last, a span from the start of the key space came out empty, and a
// phantom anywhere in it went unnoticed.
func TestTxnIterUnboundedCustomComparator(t *testing.T) {
	for _, dir := range []string{"forward", "backward"} {
		t.Run(dir, func(t *testing.T) {
			d := openTxnDB(t, &Options{Comparator: reverseComparer})
			d.Put([]byte("k5"), []byte("5"), nil)
			d.Put([]byte("k3"), []byte("3"), nil)
			tx := mustBegin(t, d, nil)
			defer tx.Rollback()
			it := tx.NewIterator(nil)
			if dir == "forward" {
				for ok := it.First(); ok; ok = it.Next() { // k5, k3: [start, end)
				}
			} else {
				for ok := it.Last(); ok; ok = it.Prev() { // k3, k5, past the start
				}
			}
			it.Close()
			d.Put([]byte("k9"), []byte("phantom"), nil) // before k5 in this order
			tx.Put([]byte("x"), nil)
			err := tx.Commit()
			var ce *ConflictError
			if !errors.As(err, &ce) || ce.Start != nil || !ce.Unbounded {
				t.Fatalf("commit after a phantom at the start of the scanned span = %v", err)
			}
		})
	}
}

// TestConflictSetNegBound checks ranges open at the bottom under a
// comparator whose smallest key is not the empty one.
func TestConflictSetNegBound(t *testing.T) {
	s := newConflictSet(reverseComparer)
	s.record(pointRange([]byte("b")), 5)
	s.record(pointRange([]byte("")), 7) // the largest key in this order
	for _, c := range []struct {
		r    keyRange
		want uint64
	}{
		{keyRange{bound{neg: true}, bound{key: []byte("a")}}, 5},                    // "b" comes before "a"
		{keyRange{bound{neg: true}, bound{key: []byte("b")}}, 0},                    // nothing before "b"
		{keyRange{bound{neg: true}, bound{inf: true}}, 7},                           // everything
		{keyRange{bound{key: []byte("a")}, bound{key: []byte(""), after: true}}, 7}, // "a" .. ""
	} {
		if got := s.maxVersion(c.r); got != c.want {
			t.Errorf("maxVersion(%v) = %d, want %d", c.r, got, c.want)
		}
	}
}

// TestTxnWriteConflictOnlyCommit: a transaction that commits write conflict
// ranges but no writes (AddWriteConflictRange, or an optimistic
// GetForUpdate of a key it then leaves alone) was recorded at the sequence
// number the next write would take, which no write had taken: a
// transaction that began after it had committed read below that version
// and conflicted with it, again on every retry (DB.Update gave up after
// MaxRetries) until some other write came.
func TestTxnWriteConflictOnlyCommit(t *testing.T) {
	for _, how := range []string{"AddWriteConflictRange", "GetForUpdate"} {
		t.Run(how, func(t *testing.T) {
			d := openTxnDB(t, nil)
			keep := mustBegin(t, d, nil) // an open transaction keeps the history
			defer keep.Rollback()
			reader := mustBegin(t, d, nil) // begins before the commit: must conflict
			reader.Get([]byte("k"))
			t1 := mustBegin(t, d, nil)
			if how == "GetForUpdate" {
				t1.GetForUpdate([]byte("k"))
			} else {
				t1.AddWriteConflictRange([]byte("k"), nil)
			}
			if err := t1.Commit(); err != nil {
				t.Fatal(err)
			}
			reader.Put([]byte("y"), nil)
			if err := reader.Commit(); !errors.Is(err, ErrConflict) {
				t.Fatalf("a transaction that read k before the commit that declared k written: %v", err)
			}
			t2 := mustBegin(t, d, nil) // began after t1 committed
			t2.Get([]byte("k"))
			t2.Put([]byte("x"), nil)
			if err := t2.Commit(); err != nil {
				t.Fatalf("a transaction begun after the commit (read version %d, the commit's %d): %v",
					t2.ReadVersion(), t1.ReadVersion(), err)
			}
			err := d.UpdateWith(context.Background(), &TxnOptions{MaxRetries: 3}, func(tx *Txn) error {
				if _, err := tx.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
					return err
				}
				return tx.Put([]byte("z"), nil)
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
