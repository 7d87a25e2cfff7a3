package strata

import (
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
