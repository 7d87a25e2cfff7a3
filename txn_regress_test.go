package strata

import (
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
