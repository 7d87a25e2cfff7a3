package strata

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTableReadsUnmapped checks how the table cache opens tables against
// the memory the process may use (tableCache.setTableBytes): mapped while
// the tables fit in half of it or it is unknown, read with pread past that,
// and that point reads and scans return the same data either way.
func TestTableReadsUnmapped(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	dir := t.TempDir()
	o := &Options{WriteBufferSize: 64 << 10, BlockCacheSize: 64 << 10}
	db := mustOpen(t, dir, o)
	want := map[string]string{}
	for i := range 3000 {
		k := fmt.Sprintf("key%06d", rng.IntN(100000))
		v := fmt.Sprintf("value-%d-%s", i, bytes.Repeat([]byte{'v'}, rng.IntN(200)))
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	defer func(f func() int64) { memoryLimit = f }(memoryLimit)
	for _, tc := range []struct {
		name     string
		limit    int64
		unmapped bool
	}{
		{"unknown", 0, false},
		{"fits", 1 << 40, false},
		{"larger than half", 4 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			memoryLimit = func() int64 { return tc.limit }
			db := mustOpen(t, dir, o)
			defer db.Close()
			checkTableReads(t, db, want)
			// A compaction reads its inputs through a handle of its own
			// when the cache's is advised for random reads.
			if err := db.CompactRange(nil, nil); err != nil {
				t.Fatal(err)
			}
			checkTableReads(t, db, want)
			tcache := db.tables
			tcache.mu.Lock()
			defer tcache.mu.Unlock()
			if len(tcache.m) == 0 {
				t.Fatal("no table open")
			}
			for num, e := range tcache.m {
				if mapped := e.unmap != nil; mapped == tc.unmapped || e.random != tc.unmapped {
					t.Errorf("table %d: mapped %v, random %v; want %v, %v (limit %d)", num, mapped, e.random, !tc.unmapped, tc.unmapped, tc.limit)
				}
			}
		})
	}
}

// checkTableReads reads every key of want from db, and scans it whole.
func checkTableReads(t *testing.T, db *DB, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, err := db.Get([]byte(k))
		if err != nil || string(got) != v {
			t.Fatalf("Get(%q) = %q, %v; want %q", k, got, err, v)
		}
	}
	it := db.NewIterator(nil)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if want[string(it.Key())] != string(it.Value()) {
			t.Fatalf("scan: %q = %q, want %q", it.Key(), it.Value(), want[string(it.Key())])
		}
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("scan found %d keys, want %d", n, len(want))
	}
}
