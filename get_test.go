package strata

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/strata-db/strata/internal/vfs"
)

// TestAppendGet checks that AppendGet returns what Get returns, appended to
// the caller's buffer, from the memtable and from tables, through
// snapshots, and nothing for missing and deleted keys.
func TestAppendGet(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(k, v string) {
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	put("table", "in-a-table")
	put("empty", "")
	put("gone", "x")
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	snap := db.NewSnapshot()
	defer snap.Close()
	put("mem", "in-the-memtable")
	if err := db.Delete([]byte("gone"), nil); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		key     string
		snap    bool
		want    string
		missing bool
	}{
		{key: "table", want: "in-a-table"},
		{key: "mem", want: "in-the-memtable"},
		{key: "empty", want: ""},
		{key: "gone", missing: true},
		{key: "absent", missing: true},
		{key: "gone", snap: true, want: "x"},
		{key: "mem", snap: true, missing: true},
	} {
		t.Run(fmt.Sprintf("%s/snap=%v", tc.key, tc.snap), func(t *testing.T) {
			dst := append(make([]byte, 0, 64), "prefix:"...)
			var got []byte
			var err error
			if tc.snap {
				got, err = snap.AppendGet(dst, []byte(tc.key))
			} else {
				got, err = db.AppendGet(dst, []byte(tc.key))
			}
			if tc.missing {
				if !errors.Is(err, ErrNotFound) || got != nil {
					t.Fatalf("AppendGet(%q) = %q, %v; want nil, ErrNotFound", tc.key, got, err)
				}
				return
			}
			if err != nil || string(got) != "prefix:"+tc.want {
				t.Fatalf("AppendGet(%q) = %q, %v; want %q", tc.key, got, err, "prefix:"+tc.want)
			}
			if &got[0] != &dst[:1][0] {
				t.Fatalf("AppendGet(%q) did not reuse the buffer's capacity", tc.key)
			}
			// A nil dst behaves as Get.
			var plain []byte
			if tc.snap {
				plain, err = snap.Get([]byte(tc.key))
			} else {
				plain, err = db.Get([]byte(tc.key))
			}
			viaNil, err2 := db.AppendGet(nil, []byte(tc.key))
			if !tc.snap && (err != nil || err2 != nil || !bytes.Equal(plain, viaNil) || (plain == nil) != (viaNil == nil)) {
				t.Fatalf("Get = %q, %v; AppendGet(nil) = %q, %v", plain, err, viaNil, err2)
			}
		})
	}
}

// TestReadViewBeforeCompaction pins the order in acquireReadView. Between
// a read taking its view and reading the visible sequence, the key gets a
// newer value and a full compaction drops the older one (no snapshot holds
// it). A read must still find the key: the old order (sequence first, then
// the read state) looked for it at the old sequence in the compacted
// tables, where only the newer entry was left, and returned NotFound. The
// test runs the hook once for a point read and once for an iterator.
func TestReadViewBeforeCompaction(t *testing.T) {
	for _, kind := range []string{"get", "iterator"} {
		t.Run(kind, func(t *testing.T) {
			db, err := Open("db", &Options{FS: vfs.NewMem()})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			key := []byte("k")
			if err := db.Put(key, []byte("v1"), nil); err != nil {
				t.Fatal(err)
			}
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			ran := false
			db.testHookReadView = func() {
				if ran {
					return
				}
				ran = true
				if err := db.Put(key, []byte("v2"), nil); err != nil {
					t.Error(err)
				}
				if err := db.CompactRange(nil, nil); err != nil {
					t.Error(err)
				}
			}

			var v []byte
			switch kind {
			case "get":
				v, err = db.Get(key)
			case "iterator":
				it := db.NewIterator(nil)
				if it.First() {
					v = bytes.Clone(it.Value())
				} else {
					err = ErrNotFound
				}
				if cerr := it.Close(); err == nil {
					err = cerr
				}
			}
			if !ran {
				t.Fatal("the hook did not run")
			}
			if err != nil {
				t.Fatalf("read during a compaction: %v (want v1 or v2)", err)
			}
			if string(v) != "v1" && string(v) != "v2" {
				t.Fatalf("read during a compaction: %q, want v1 or v2", v)
			}
			if n, _ := db.Property("strata.num-files-at-level0"); n != "0" {
				t.Fatalf("the compaction left level 0 with %s tables", n)
			}
		})
	}
}

// TestSeekCompactionChargesDataReads pins when a point read charges a seek to
// a table (LevelDB's allowed_seeks). A table of level 1 or deeper with a
// filter is not charged, whether the filter rules the key out or passes it
// in vain (a weak filter of 1 bit per key does so for most reads here), so
// random reads over a deep tree with bloom filters do not compact the upper
// levels over and over; without filters, the reads that go through an
// overlapping upper table wear its budget down (at least 100 seeks) and
// trigger its compaction; a level-0 table is charged even when its filter
// answers (every read pays it until it is compacted).
func TestSeekCompactionChargesDataReads(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bloomBits  int
		level0     bool // the odd keys' table stays in level 0
		compaction bool
	}{
		{"with filters", 10, false, false},
		{"with a weak filter", 1, false, false},
		{"without filters", -1, false, true},
		{"level 0, with filters", 10, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := mustOpen(t, t.TempDir(), &Options{BloomBitsPerKey: tc.bloomBits})
			defer db.Close()
			put := func(i int) {
				if err := db.Put([]byte(fmt.Sprintf("k%05d", i)), []byte("v"), nil); err != nil {
					t.Fatal(err)
				}
			}
			// Even keys at the bottom, odd keys in level 3 above them: the
			// level-3 table's range covers every even key without holding it.
			for i := 0; i < 2000; i += 2 {
				put(i)
			}
			if err := db.CompactRangeWith(nil, nil, CompactOptions{TargetLevel: 6}); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < 2000; i += 2 {
				put(i)
			}
			if tc.level0 {
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
				if n := db.Metrics().Levels[0].Files; n != 1 {
					t.Fatalf("%d level-0 tables, want the flush's one", n)
				}
			} else if err := db.CompactRangeWith(nil, nil, CompactOptions{TargetLevel: 3}); err != nil {
				t.Fatal(err)
			}
			moves := func() uint64 { m := db.Metrics(); return m.Compactions + m.TrivialMoves }
			before := moves()
			for round := 0; round < 3; round++ {
				for i := 0; i < 2000; i += 2 {
					if _, err := db.Get([]byte(fmt.Sprintf("k%05d", i))); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := db.WaitForCompactions(); err != nil {
				t.Fatal(err)
			}
			ran := moves() > before // a trivial move to level 4 counts
			if ran != tc.compaction {
				t.Fatalf("seek-triggered compaction ran: %v, want %v", ran, tc.compaction)
			}
		})
	}
}
