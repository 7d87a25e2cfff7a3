package strata

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestIndexedBatch: reads through an indexed batch see its puts, deletes,
// range deletions and merges over the database (or a snapshot); later
// writes to the database show through unless the batch reads a snapshot;
// an iterator does not see writes added to the batch after it was made;
// the batch grows past its first arena; written, it leaves the database
// as its reads showed.
func TestIndexedBatch(t *testing.T) {
	db, err := Open("db", &Options{FS: NewMemFS(), Merger: AppendMerger([]byte(","))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		db.Put([]byte(k), []byte(k+"0"), nil)
	}
	db.Flush()
	snap := db.NewSnapshot()
	defer snap.Close()

	b := db.NewIndexedBatch()
	sb := snap.NewIndexedBatch()
	if _, err := db.NewBatch().Get([]byte("a")); !errors.Is(err, ErrNotIndexed) {
		t.Fatalf("Get on a plain batch: %v", err)
	}
	for _, x := range []*Batch{b, sb} {
		x.Put([]byte("a"), []byte("a1"))
		x.Delete([]byte("b"))
		x.DeleteRange([]byte("c"), []byte("e"))
		x.Put([]byte("d"), []byte("d1")) // after the range: live
		x.Merge([]byte("e"), []byte("e1"))
		x.Merge([]byte("f"), []byte("f1"))
	}
	db.Put([]byte("e"), []byte("E"), nil) // after the snapshot

	read := func(x *Batch) (gets, scan, rev []string) {
		t.Helper()
		for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
			v, err := x.Get([]byte(k))
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				t.Fatal(err)
			default:
				gets = append(gets, k+"="+string(v))
			}
		}
		it := x.NewIterator(nil)
		defer it.Close()
		for k, v := range it.All() {
			scan = append(scan, string(k)+"="+string(v))
		}
		for k, v := range it.Backward() {
			rev = append(rev, string(k)+"="+string(v))
		}
		slices.Reverse(rev)
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return gets, scan, rev
	}
	for _, tc := range []struct {
		x    *Batch
		want []string
	}{
		{b, []string{"a=a1", "d=d1", "e=E,e1", "f=f1"}},
		{sb, []string{"a=a1", "d=d1", "e=e0,e1", "f=f1"}},
	} {
		gets, scan, rev := read(tc.x)
		if !slices.Equal(gets, tc.want) || !slices.Equal(scan, tc.want) || !slices.Equal(rev, tc.want) {
			t.Fatalf("reads %v, %v, %v; want %v", gets, scan, rev, tc.want)
		}
	}

	it := b.NewIterator(nil)
	b.Put([]byte("g"), []byte("g1"))
	for range it.All() {
	}
	if it.Last(); string(it.Key()) != "f" {
		t.Fatalf("an iterator sees a write added after it: last key %q", it.Key())
	}
	it.Close()
	for i := range 5000 { // past the first arena
		b.Put(fmt.Appendf(nil, "z%05d", i), make([]byte, 100))
	}
	if v, err := b.Get([]byte("z04999")); err != nil || len(v) != 100 {
		t.Fatalf("Get after growth: %d bytes, %v", len(v), err)
	}
	if v, _ := b.Get([]byte("a")); string(v) != "a1" {
		t.Fatalf("Get(a) after growth = %q", v)
	}
	_, want, _ := read(b)
	if err := db.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	dit := db.NewIterator(nil)
	for k, v := range dit.All() {
		got = append(got, string(k)+"="+string(v))
	}
	dit.Close()
	if !slices.Equal(got, want) {
		t.Fatalf("after Write the database reads %d entries, the batch read %d", len(got), len(want))
	}
}
