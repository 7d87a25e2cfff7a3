package strata

import (
	"errors"
	"testing"
)

// TestTxnLazyIndex: a transaction's writes are indexed only when a read
// follows them; whatever the order of reads, writes, save points, range
// deletions and merges, reads see exactly the transaction's writes over its
// snapshot, and an iterator sees the writes made before it was created.
func TestTxnLazyIndex(t *testing.T) {
	d := openTxnDB(t, &Options{Merger: AddMerger})
	for _, k := range []string{"a", "b", "c", "n"} {
		if err := d.Put([]byte(k), []byte("db-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	counter := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	if err := d.Put([]byte("n"), counter, nil); err != nil {
		t.Fatal(err)
	}
	tx := mustBegin(t, d, nil)
	defer tx.Rollback()
	want := func(key, value string) {
		t.Helper()
		v, err := tx.Get([]byte(key))
		if value == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get %s = %q, %v; want not found", key, v, err)
			}
			return
		}
		if err != nil || string(v) != value {
			t.Fatalf("Get %s = %q, %v; want %q", key, v, err, value)
		}
	}
	scan := func(it *Iterator) string {
		t.Helper()
		var s string
		for ok := it.First(); ok; ok = it.Next() {
			s += string(it.Key()) + "=" + string(it.Value()) + " "
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	want("a", "db-a") // before any write: the snapshot
	before := tx.NewIterator(&IterOptions{UpperBound: []byte("c")})
	tx.SetSavePoint()
	tx.Put([]byte("a"), []byte("tx-a")) // not indexed yet
	tx.Delete([]byte("b"))
	if tx.b.ix != nil {
		t.Fatal("writes indexed before any read followed them")
	}
	if err := tx.RollbackToSavePoint(); err != nil { // unindexed rollback
		t.Fatal(err)
	}
	want("a", "db-a")
	tx.Put([]byte("a"), []byte("tx-a"))
	tx.Delete([]byte("b"))
	tx.DeleteRange([]byte("c"), []byte("d"))
	tx.Merge([]byte("n"), counter)
	want("a", "tx-a") // builds the index from the batch
	want("b", "")
	want("c", "")
	if v, err := tx.Get([]byte("n")); err != nil || v[0] != 2 {
		t.Fatalf("merged counter = %v, %v", v, err)
	}
	tx.Put([]byte("z"), []byte("tx-z")) // indexed as it is written
	want("z", "tx-z")
	if got := scan(before); got != "a=db-a b=db-b " {
		t.Fatalf("iterator from before the writes saw %q", got)
	}
	if got := scan(tx.NewIterator(&IterOptions{UpperBound: []byte("m")})); got != "a=tx-a " {
		t.Fatalf("iterator after the writes saw %q", got)
	}
	if got := scan(tx.Snapshot().NewIterator(nil)); got != "a=tx-a n=\x02\x00\x00\x00\x00\x00\x00\x00 z=tx-z " {
		t.Fatalf("snapshot iterator saw %q", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Get([]byte("z")); err != nil || string(v) != "tx-z" {
		t.Fatalf("committed z = %q, %v", v, err)
	}
}
