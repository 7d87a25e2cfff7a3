package strata

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReadOnlyCatchUp: a read-only handle keeps a consistent view while the
// writer writes, flushes and compacts (deleting the tables the reader
// uses), and CatchUp makes the writer's new writes visible.
func TestReadOnlyCatchUp(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, dir, &Options{WriteBufferSize: 64 << 10, TargetFileSize: 32 << 10})
	defer w.Close()
	write := func(round, n int) {
		b := w.NewBatch()
		for i := 0; i < n; i++ {
			b.Put([]byte(fmt.Sprintf("k%05d", i)), []byte(fmt.Sprintf("round%03d-%s", round, make([]byte, 40))))
			if b.Len() == 100 {
				if err := w.Write(b, nil); err != nil {
					t.Fatal(err)
				}
				b.Reset()
			}
		}
		if err := w.Write(b, nil); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 3000)
	w.Flush()
	r := mustOpen(t, dir, &Options{ReadOnly: true})
	defer r.Close()
	if err := r.CatchUp(); err != nil {
		t.Fatal(err)
	}
	checkRound := func(db *DB, want int) {
		t.Helper()
		it := db.NewIterator(nil)
		defer it.Close()
		n := 0
		wantPrefix := fmt.Sprintf("round%03d-", want)
		for ok := it.First(); ok; ok = it.Next() {
			if string(it.Value()[:len(wantPrefix)]) != wantPrefix {
				t.Fatalf("%s = %q..., want round %d everywhere (torn view)", it.Key(), it.Value()[:9], want)
			}
			n++
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if n != 3000 {
			t.Fatalf("saw %d keys, want 3000", n)
		}
	}
	checkRound(r, 0)

	// The writer rewrites everything several times, with compactions that
	// delete the tables the reader has open; the reader's view stays whole
	// (each round is written in batches, so a CatchUp in the middle of a
	// round may see part of it — checked only between rounds).
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			it := r.NewIterator(nil)
			for ok := it.First(); ok; ok = it.Next() {
			}
			if err := it.Close(); err != nil {
				t.Errorf("reader scan during compactions: %v", err)
				return
			}
		}
	}()
	for round := 1; round <= 5; round++ {
		write(round, 3000)
		if err := w.CompactRange(nil, nil); err != nil {
			t.Fatal(err)
		}
		checkRound(r, 0) // no CatchUp yet: still the old view
	}
	stop.Store(true)
	wg.Wait()
	if err := r.CatchUp(); err != nil {
		t.Fatal(err)
	}
	checkRound(r, 5)
	// Writes still only in the writer's log.
	if err := w.Put([]byte("k00001"), []byte("round006-in-the-log"), nil); err != nil {
		t.Fatal(err)
	}
	if err := r.CatchUp(); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Get([]byte("k00001")); err != nil || string(v) != "round006-in-the-log" {
		t.Fatalf("after CatchUp: %q %v", v, err)
	}
	if err := w.CatchUp(); err == nil {
		t.Fatal("CatchUp on a writable handle succeeded")
	}
}
