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

// TestMarkRead: a key marked read conflicts, as a key read with Get does,
// with a commit that writes it after the transaction's snapshot, and with
// nothing else (not the keys beside it); under snapshot isolation, and in
// a read-only transaction, it records nothing.
func TestMarkRead(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(db)
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		opts     kv.TxnOptions
		written  string
		conflict bool
	}{
		{"the key", kv.TxnOptions{}, "k", true},
		{"the key after it", kv.TxnOptions{}, "k\x00", false},
		{"a key before it", kv.TxnOptions{}, "j\xff", false},
		{"the key, snapshot isolation", kv.TxnOptions{Isolation: kv.SnapshotIsolation}, "k", false},
	} {
		tx, err := s.Begin(ctx, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.MarkRead([]byte("k")); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := tx.Put([]byte("other"), []byte("1")); err != nil {
			t.Fatal(err)
		}
		w, _ := s.Begin(ctx, kv.TxnOptions{})
		w.Put([]byte(c.written), []byte("2"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		err = tx.Commit()
		if got := err != nil && s.IsRetryable(err); got != c.conflict || (err != nil && !got) {
			t.Errorf("%s: commit: %v, want a conflict: %v", c.name, err, c.conflict)
		}
	}
	ro, _ := s.Begin(ctx, kv.TxnOptions{ReadOnly: true})
	if err := ro.MarkRead([]byte("k")); err != nil {
		t.Errorf("read-only: %v", err)
	}
	if err := ro.Commit(); err != nil {
		t.Errorf("read-only commit: %v", err)
	}
}
