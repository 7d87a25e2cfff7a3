package strata

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestTTLFilter: compactions remove expired values, keep the rest, and a
// removed value does not let an older value beneath it resurface.
func TestTTLFilter(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	db, err := Open("db", &Options{FS: NewMemFS(), CompactionFilter: TTLFilter(func() time.Time { return now })})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// An old, unexpiring version of k0 deep down.
	db.Put([]byte("k0"), []byte("old"), nil)
	db.CompactRangeWith(nil, nil, CompactOptions{TargetLevel: 6})
	for i := range 10 {
		exp := now.Add(time.Duration(i-5) * time.Hour) // k0..k5 expired (k5 exactly now)
		db.Put(fmt.Appendf(nil, "k%d", i), AppendExpiry(fmt.Appendf(nil, "v%d", i), exp), nil)
	}
	db.Put([]byte("short"), []byte("x"), nil) // too short to carry an expiry: kept
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.CompactRangeWith(nil, nil, CompactOptions{TargetLevel: 5}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		v, err := db.Get(fmt.Appendf(nil, "k%d", i))
		if i <= 5 {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("k%d: %q, %v; want expired", i, v, err)
			}
			continue
		}
		val, exp, err2 := SplitExpiry(v)
		if err != nil || err2 != nil || string(val) != fmt.Sprintf("v%d", i) || !exp.After(now) {
			t.Errorf("k%d: %q (%v, %v)", i, v, err, err2)
		}
	}
	if v, err := db.Get([]byte("short")); err != nil || string(v) != "x" {
		t.Errorf("short: %q, %v", v, err)
	}
}

// TestCompactionFilterSnapshots: a filter changes values (here, to upper
// case) only where no snapshot can see them; a snapshot taken while a
// filtering compaction runs makes it start over, and the snapshot keeps
// reading the old values.
func TestCompactionFilterSnapshots(t *testing.T) {
	var db *DB
	var midSnap atomic.Pointer[Snapshot]
	var takeMid atomic.Bool
	upper := &CompactionFilter{Name: "test.upper", Filter: func(_ int, _, v []byte) (FilterDecision, []byte) {
		if takeMid.CompareAndSwap(true, false) {
			midSnap.Store(db.NewSnapshot()) // in the middle of the compaction
		}
		return FilterChange, bytes.ToUpper(v)
	}}
	var err error
	db, err = Open("db", &Options{FS: NewMemFS(), CompactionFilter: upper})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Put([]byte("a"), []byte("a1"), nil)
	snap := db.NewSnapshot()
	db.Put([]byte("b"), []byte("b1"), nil)
	if err := db.CompactRangeWith(nil, nil, CompactOptions{TargetLevel: 6}); err != nil {
		t.Fatal(err)
	}
	get := func(g func([]byte) ([]byte, error), k string) string {
		v, err := g([]byte(k))
		if err != nil {
			return err.Error()
		}
		return string(v)
	}
	if a, b := get(db.Get, "a"), get(db.Get, "b"); a != "a1" || b != "B1" {
		t.Fatalf("with a snapshot between a and b: a=%s b=%s; want a1 (the snapshot sees it) and B1", a, b)
	}
	if a := get(snap.Get, "a"); a != "a1" {
		t.Fatalf("the snapshot reads a=%s", a)
	}
	snap.Close()

	db.Put([]byte("c"), []byte("c1"), nil)
	takeMid.Store(true)
	if err := db.CompactRangeWith(nil, nil, CompactOptions{TargetLevel: 6}); err != nil {
		t.Fatal(err)
	}
	mid := midSnap.Load()
	if mid == nil {
		t.Fatal("the filter did not run")
	}
	defer mid.Close()
	if a, c := get(mid.Get, "a"), get(mid.Get, "c"); a != "a1" || c != "c1" {
		t.Fatalf("the snapshot taken during the compaction reads a=%s c=%s; want a1 c1", a, c)
	}
	mid.Close()
	if err := db.CompactRangeWith(nil, nil, CompactOptions{TargetLevel: 6}); err != nil {
		t.Fatal(err)
	}
	if a, c := get(db.Get, "a"), get(db.Get, "c"); a != "A1" || c != "C1" {
		t.Fatalf("without snapshots: a=%s c=%s; want A1 C1", a, c)
	}
}
