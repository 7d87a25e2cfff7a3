package local

import (
	"context"
	"testing"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv"
)

// TestWatch: a commit that writes under a watched prefix moves its epoch
// (through any Store of the database), other commits and read-only or
// rolled-back transactions do not.
func TestWatch(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s1, s2 := New(db), &Store{DB: db}
	w := s1.Watch([]byte("p/"))
	if s2.Watch([]byte("p/")) != w {
		t.Fatal("two Stores of one database have different watches of a prefix")
	}
	for _, c := range []struct {
		name  string
		write func(tx kv.Txn) error
		moves bool
	}{
		{"put under the prefix", func(tx kv.Txn) error { return tx.Put([]byte("p/a"), []byte("1")) }, true},
		{"put elsewhere", func(tx kv.Txn) error { return tx.Put([]byte("q/a"), []byte("1")) }, false},
		{"put at a key before the prefix", func(tx kv.Txn) error { return tx.Put([]byte("p"), []byte("1")) }, false},
		{"delete under the prefix", func(tx kv.Txn) error { return tx.Delete([]byte("p/a")) }, true},
		{"range over the prefix", func(tx kv.Txn) error { return tx.DeleteRange([]byte("a"), []byte("z")) }, true},
		{"range inside the prefix", func(tx kv.Txn) error { return tx.DeleteRange([]byte("p/b"), []byte("p/c")) }, true},
		{"range ending at the prefix", func(tx kv.Txn) error { return tx.DeleteRange([]byte("a"), []byte("p/")) }, false},
		{"range after the prefix", func(tx kv.Txn) error { return tx.DeleteRange([]byte("p0"), nil) }, false},
		{"unbounded range from before", func(tx kv.Txn) error { return tx.DeleteRange([]byte("p"), nil) }, true},
		{"lock under the prefix", func(tx kv.Txn) error { return tx.Lock([]byte("p/a")) }, false},
	} {
		for _, s := range []*Store{s1, s2} {
			before := w.Epoch()
			tx, err := s.Begin(context.Background(), kv.TxnOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.write(tx); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatalf("%s: commit: %v", c.name, err)
			}
			if e, ok := w.Stable(); !ok || (e != before) != c.moves {
				t.Errorf("%s: epoch %d -> %d (stable %v), want moved=%v", c.name, before, e, ok, c.moves)
			}
		}
	}
	before := w.Epoch()
	tx, _ := s1.Begin(context.Background(), kv.TxnOptions{})
	tx.Put([]byte("p/x"), []byte("1"))
	tx.Rollback()
	if w.Epoch() != before {
		t.Error("a rolled-back transaction moved the epoch")
	}
}
