package strata

import (
	"errors"
	"testing"
)

// TestTxnRefresh pins Txn.Refresh: it moves the read version up when
// nothing read was written since (later reads see newer commits, and a
// write between the old and the new version no longer fails the commit),
// reports the conflict when something read was, and does nothing where it
// cannot move (an open iterator, snapshot isolation, read-only).
func TestTxnRefresh(t *testing.T) {
	put := func(d *DB, k, v string) {
		t.Helper()
		if err := d.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	get := func(tx *Txn, k string) string {
		t.Helper()
		v, err := tx.Get([]byte(k))
		if errors.Is(err, ErrNotFound) {
			return "<none>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}

	t.Run("moves", func(t *testing.T) {
		d := openTxnDB(t, nil)
		put(d, "a", "1")
		put(d, "b", "1")
		tx := mustBegin(t, d, nil)
		defer tx.Rollback()
		if got := get(tx, "a"); got != "1" {
			t.Fatalf("a = %s", got)
		}
		rv := tx.ReadVersion()
		if err := tx.Refresh(); err != nil || tx.ReadVersion() != rv {
			t.Fatalf("refresh with nothing new: %v, version %d -> %d", err, rv, tx.ReadVersion())
		}
		put(d, "b", "2") // not read by tx
		if err := tx.Refresh(); err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tx.ReadVersion() <= rv {
			t.Fatalf("read version stayed at %d", tx.ReadVersion())
		}
		if got := get(tx, "b"); got != "2" {
			t.Fatalf("after refresh b = %s, want the newer 2", got)
		}
		if err := tx.Put([]byte("c"), []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("commit after refresh: %v", err)
		}
		if m := d.Metrics(); m.TxnRefreshes != 1 || m.TxnRefreshConflicts != 0 {
			t.Fatalf("metrics: %d refreshes, %d refresh conflicts", m.TxnRefreshes, m.TxnRefreshConflicts)
		}
	})

	t.Run("without refresh the same write conflicts", func(t *testing.T) {
		// The control: b read at the old version, written, then committed.
		d := openTxnDB(t, nil)
		put(d, "b", "1")
		tx := mustBegin(t, d, nil)
		defer tx.Rollback()
		get(tx, "a")
		put(d, "b", "2")
		get(tx, "b") // the old b
		tx.Put([]byte("c"), []byte("x"))
		if err := tx.Commit(); !errors.Is(err, ErrConflict) {
			t.Fatalf("commit: %v, want a conflict", err)
		}
	})

	t.Run("conflict", func(t *testing.T) {
		d := openTxnDB(t, nil)
		put(d, "a", "1")
		tx := mustBegin(t, d, nil)
		defer tx.Rollback()
		get(tx, "a")
		rv := tx.ReadVersion()
		put(d, "a", "2")
		err := tx.Refresh()
		var ce *ConflictError
		if !errors.As(err, &ce) || string(ce.Key) != "a" || !IsRetryable(err) {
			t.Fatalf("refresh after a read key was written: %v", err)
		}
		if tx.ReadVersion() != rv || get(tx, "a") != "1" {
			t.Fatalf("a failed refresh moved the transaction: version %d -> %d", rv, tx.ReadVersion())
		}
		tx.Put([]byte("c"), []byte("x"))
		if err := tx.Commit(); !errors.Is(err, ErrConflict) {
			t.Fatalf("commit: %v, want the conflict Refresh reported", err)
		}
		if m := d.Metrics(); m.TxnRefreshConflicts != 1 {
			t.Fatalf("%d refresh conflicts counted", m.TxnRefreshConflicts)
		}
	})

	t.Run("a range read then written", func(t *testing.T) {
		d := openTxnDB(t, nil)
		put(d, "a", "1")
		put(d, "c", "1")
		tx := mustBegin(t, d, nil)
		defer tx.Rollback()
		it := tx.NewIterator(&IterOptions{LowerBound: []byte("a"), UpperBound: []byte("d")})
		n := 0
		for it.First(); it.Valid(); it.Next() {
			n++
		}
		put(d, "z", "1")
		rv := tx.ReadVersion()
		if err := tx.Refresh(); err != nil || tx.ReadVersion() != rv {
			t.Fatalf("refresh with an iterator open: %v, version %d -> %d", err, rv, tx.ReadVersion())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tx.Refresh(); err != nil || tx.ReadVersion() == rv {
			t.Fatalf("refresh after the iterator closed: %v, version %d", err, tx.ReadVersion())
		}
		put(d, "b", "1") // a phantom in the span read
		if err := tx.Refresh(); !errors.Is(err, ErrConflict) {
			t.Fatalf("refresh after a phantom: %v", err)
		}
	})

	t.Run("no-ops", func(t *testing.T) {
		d := openTxnDB(t, nil)
		for _, o := range []*TxnOptions{{ReadOnly: true}, {Isolation: SnapshotIsolation}} {
			put(d, "a", "old")
			tx := mustBegin(t, d, o)
			get(tx, "a")
			rv := tx.ReadVersion()
			put(d, "a", "new")
			if err := tx.Refresh(); err != nil || tx.ReadVersion() != rv {
				t.Fatalf("%+v: refresh %v, version %d -> %d", o, err, rv, tx.ReadVersion())
			}
			if got := get(tx, "a"); got == "new" {
				t.Fatalf("%+v: one snapshot throughout, yet a = new", o)
			}
			tx.Rollback()
			if err := tx.Refresh(); !errors.Is(err, ErrTxnDone) {
				t.Fatalf("refresh after rollback: %v", err)
			}
		}
	})

	t.Run("too old", func(t *testing.T) {
		d := openTxnDB(t, &Options{TxnConflictWindow: 1 << 10})
		tx := mustBegin(t, d, nil)
		defer tx.Rollback()
		get(tx, "a")
		other := mustBegin(t, d, nil) // keeps writes recorded after tx's snapshot
		defer other.Rollback()
		for i := range 200 {
			put(d, string(rune('b'+i%20))+"key-with-some-length", "v")
		}
		if err := tx.Refresh(); !errors.Is(err, ErrTxnTooOld) {
			t.Fatalf("refresh past the window: %v", err)
		}
	})
}
