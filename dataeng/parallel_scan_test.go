package dataeng

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata"
)

// deKey returns a random key for the data-engineering tests: short keys
// over a small alphabet that includes 0x00 and 0xFF (so that two random
// sets overlap, and keys are prefixes of each other), sometimes empty.
func deKey(rng *rand.Rand) []byte {
	alphabet := []byte{0x00, 0x01, 'a', 'b', 0xFF}
	k := make([]byte, rng.IntN(6))
	for i := range k {
		k[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return k
}

// fillRandom writes n random puts and some deletes to db, flushing now and
// then so the data lies in several levels and the memtable, and returns
// the model: the live keys and values.
func fillRandom(t *testing.T, db *strata.DB, rng *rand.Rand, n int) map[string]string {
	t.Helper()
	model := map[string]string{}
	b := db.NewBatch()
	for i := 0; i < n; i++ {
		k := deKey(rng)
		if rng.IntN(8) == 0 {
			b.Delete(k)
			delete(model, string(k))
		} else {
			v := fmt.Sprintf("v%d", i)
			b.Put(k, []byte(v))
			model[string(k)] = v
		}
		if b.Len() >= 50 {
			if err := db.Write(b, nil); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
		if i%(n/4+1) == n/8 {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	return model
}

// forSeeds runs fn for seeds 0..n-1 (short in -short mode), each with its
// own generator; a failure names its seed.
func forSeeds(t *testing.T, n, short int, fn func(t *testing.T, seed uint64, rng *rand.Rand)) {
	t.Helper()
	if testing.Short() {
		n = short
	}
	for seed := range uint64(n) {
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			fn(t, seed, rand.New(rand.NewPCG(seed, 7)))
		})
		if !ok {
			t.Fatalf("failed with seed %d", seed)
		}
	}
}

// mustOpen opens the database in dir or fails the test.
func mustOpen(t *testing.T, dir string, o *strata.Options) *strata.DB {
	t.Helper()
	db, err := strata.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// memDB opens a database on a fresh in-memory file system with small
// tables and blocks, so that small data sets still have many split points.
func memDB(t *testing.T) *strata.DB {
	t.Helper()
	db := mustOpen(t, "db", &strata.Options{FS: strata.NewMemFS(), BlockSize: 64, WriteBufferSize: 8 << 10})
	t.Cleanup(func() { db.Close() })
	return db
}

// TestParallelScanComplete: the parts cover the range exactly once, in key
// order, for many seeds, part counts and bounds, with keys holding 0x00 and
// the empty key, over data in memtables and tables.
func TestParallelScanComplete(t *testing.T) {
	forSeeds(t, 6, 2, func(t *testing.T, seed uint64, rng *rand.Rand) {
		db := memDB(t)
		model := fillRandom(t, db, rng, 3000)
		bounds := []struct{ lower, upper []byte }{
			{nil, nil}, {[]byte{}, nil}, {[]byte("a"), []byte("b\xff")}, {[]byte{0}, []byte{0, 0, 1}}, {[]byte("b"), []byte("a")},
		}
		for _, bd := range bounds {
			for _, parts := range []int{0, 1, 3, 16} {
				name := fmt.Sprintf("seed=%d lower=%q upper=%q parts=%d", seed, bd.lower, bd.upper, parts)
				var want []string
				for k := range model {
					if (bd.lower == nil || k >= string(bd.lower)) && (bd.upper == nil || k < string(bd.upper)) {
						want = append(want, k)
					}
				}
				slices.Sort(want)
				var mu sync.Mutex
				got := map[int][]string{}
				err := ParallelScan(context.Background(), db, ScanOptions{Lower: bd.lower, Upper: bd.upper, Parts: parts, Workers: 3},
					func(part int, it *strata.Iterator) error {
						var keys []string
						for k, v := range it.All() {
							if model[string(k)] != string(v) {
								return fmt.Errorf("key %q: value %q, want %q", k, v, model[string(k)])
							}
							keys = append(keys, string(k))
						}
						mu.Lock()
						got[part] = keys
						mu.Unlock()
						return it.Err()
					})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var all []string
				for p := 0; p < len(got); p++ {
					keys, ok := got[p]
					if !ok {
						t.Fatalf("%s: parts %v: part %d missing", name, len(got), p)
					}
					all = append(all, keys...)
				}
				if !slices.Equal(all, want) {
					t.Fatalf("%s: scanned %d keys %q\nwant %d %q", name, len(all), all, len(want), want)
				}
				if parts > 1 && bd.lower == nil && bd.upper == nil && len(got) < 2 {
					t.Fatalf("%s: only %d part(s)", name, len(got))
				}
			}
		}
	})
}

// TestParallelScanSnapshot: every part reads one snapshot: writes made
// during the scan are not seen, and a given snapshot is honoured.
func TestParallelScanSnapshot(t *testing.T) {
	db := memDB(t)
	for i := range 2000 {
		db.Put(fmt.Appendf(nil, "k%05d", i), []byte("old"), nil)
	}
	db.Flush()
	snap := db.NewSnapshot()
	defer snap.Close()
	db.Put([]byte("k00000x"), []byte("old"), nil) // after snap
	var mu sync.Mutex
	count := 0
	err := ParallelScan(context.Background(), db, ScanOptions{Parts: 8, Workers: 4}, func(part int, it *strata.Iterator) error {
		n := 0
		for k, v := range it.All() {
			if string(v) != "old" {
				return fmt.Errorf("%q=%q: written after the scan began", k, v)
			}
			if part == 0 && n == 0 {
				// The first part writes everywhere; no part may see it.
				for i := range 2000 {
					db.Put(fmt.Appendf(nil, "k%05d", i), []byte("new"), nil)
				}
			}
			n++
		}
		mu.Lock()
		count += n
		mu.Unlock()
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != 2001 {
		t.Fatalf("scanned %d keys, want 2001", count)
	}
	// With the older snapshot: neither the new key nor the new values.
	count = 0
	err = ParallelScan(context.Background(), db, ScanOptions{Parts: 4, Snapshot: snap}, func(part int, it *strata.Iterator) error {
		for range it.All() {
			mu.Lock()
			count++
			mu.Unlock()
		}
		return it.Err()
	})
	if err != nil || count != 2000 {
		t.Fatalf("snapshot scan: %d keys, %v", count, err)
	}
	other := memDB(t)
	osnap := other.NewSnapshot()
	defer osnap.Close()
	err = ParallelScan(context.Background(), db, ScanOptions{Snapshot: osnap}, func(int, *strata.Iterator) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "another database") {
		t.Fatalf("snapshot of another database: %v", err)
	}
}

// TestParallelScanCancel: the first error stops the running parts (their
// iterators fail with context.Canceled) and skips the rest; cancelling the
// caller's context does the same.
func TestParallelScanCancel(t *testing.T) {
	db := memDB(t)
	for i := range 20000 {
		db.Put(fmt.Appendf(nil, "k%05d", i), []byte("v"), nil)
	}
	db.Flush()
	boom := errors.New("boom")
	started := make(chan struct{})
	var mu sync.Mutex
	var calls int
	var sawCancel bool
	err := ParallelScan(context.Background(), db, ScanOptions{Parts: 16, Workers: 2}, func(part int, it *strata.Iterator) error {
		mu.Lock()
		calls++
		mu.Unlock()
		if part == 0 {
			<-started
			return boom
		}
		close(started)
		// Keep scanning in circles until the iterator is stopped.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
			for range it.All() {
			}
			if err := it.Err(); err != nil {
				mu.Lock()
				sawCancel = errors.Is(err, context.Canceled)
				mu.Unlock()
				return err
			}
		}
		return errors.New("iterator was never stopped")
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "part 0") {
		t.Fatalf("err = %v, want boom from part 0", err)
	}
	if !sawCancel {
		t.Fatal("the running part's iterator did not report context.Canceled")
	}
	if calls != 2 {
		t.Fatalf("fn called %d times, want 2 (later parts skipped)", calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	err = ParallelScan(ctx, db, ScanOptions{Parts: 16, Workers: 1}, func(part int, it *strata.Iterator) error {
		cancel()
		for range it.All() {
		}
		return it.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}

	// An iterator error fn ignores is still reported (Close returns it):
	// here the cause the context is cancelled with.
	cctx, cancelCause := context.WithCancelCause(context.Background())
	err = ParallelScan(cctx, db, ScanOptions{Parts: 2, Workers: 1}, func(part int, it *strata.Iterator) error {
		cancelCause(boom)
		it.First()
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "part 0") {
		t.Fatalf("ignored iterator error: %v", err)
	}
}
