package strata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func u64(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// TestBuiltinMergers pins the built-in operators' semantics
// (FoundationDB's add, max and min on little-endian strings; append with a
// separator), and that PartialMerge, when it combines, agrees with
// FullMerge.
func TestBuiltinMergers(t *testing.T) {
	b := func(bs ...byte) []byte { return bs }
	for _, tc := range []struct {
		m        *Merger
		existing []byte
		has      bool
		ops      [][]byte
		want     []byte
	}{
		{AddMerger, nil, false, [][]byte{u64(5), u64(7)}, u64(12)},
		{AddMerger, u64(10), true, [][]byte{u64(1<<64 - 1)}, u64(9)},    // wraps: -1
		{AddMerger, b(0xff, 0xff, 1), true, [][]byte{b(1, 0)}, b(0, 0)}, // existing cut to 2 bytes, carry dropped
		{AddMerger, b(1), true, [][]byte{b(1, 0, 0)}, b(2, 0, 0)},       // existing padded
		{MaxMerger, nil, false, [][]byte{b(3, 0)}, b(3, 0)},
		{MaxMerger, b(0, 1), true, [][]byte{b(0xff, 0)}, b(0, 1)}, // little-endian: 256 > 255
		{MaxMerger, b(9, 9, 9), true, [][]byte{b(1)}, b(9)},       // existing cut to 1 byte
		{MinMerger, nil, false, [][]byte{b(7)}, b(7)},             // missing gives way to the operand
		{MinMerger, b(5, 0), true, [][]byte{b(7, 0), b(6, 0)}, b(5, 0)},
		{MinMerger, b(5), true, [][]byte{b(7, 0)}, b(5, 0)}, // existing padded
		{AppendMerger([]byte(",")), nil, false, [][]byte{b('a'), b('b')}, []byte("a,b")},
		{AppendMerger([]byte(", ")), []byte("x"), true, [][]byte{b('a')}, []byte("x, a")},
		{AppendMerger(nil), []byte("x"), true, [][]byte{b('a'), b('b')}, []byte("xab")},
	} {
		got, err := tc.m.FullMerge([]byte("k"), tc.existing, tc.has, tc.ops)
		if err != nil || string(got) != string(tc.want) {
			t.Errorf("%s.FullMerge(%x, %v, %x) = %x, %v; want %x", tc.m.Name, tc.existing, tc.has, tc.ops, got, err, tc.want)
		}
		if p, ok := tc.m.PartialMerge([]byte("k"), tc.ops); ok {
			got2, _ := tc.m.FullMerge([]byte("k"), tc.existing, tc.has, [][]byte{p})
			if string(got2) != string(got) {
				t.Errorf("%s: partial merge of %x is %x, which folds to %x, not %x", tc.m.Name, tc.ops, p, got2, got)
			}
		}
		if BuiltinMerger(tc.m.Name) == nil || BuiltinMerger(tc.m.Name).Name != tc.m.Name {
			t.Errorf("BuiltinMerger(%q) does not find it", tc.m.Name)
		}
	}
}

// TestMergeReads: operands are folded onto the value beneath them, or onto
// nothing after a deletion or a range deletion, by Get and by iterators in
// both directions, wherever the entries live (memtable, tables, after
// compaction), and snapshots see the fold of the operands they see.
func TestMergeReads(t *testing.T) {
	for _, stage := range []string{"memtable", "flushed", "split", "compacted", "reopened"} {
		t.Run(stage, func(t *testing.T) {
			fs := NewMemFS()
			opts := &Options{FS: fs, Merger: AppendMerger([]byte(","))}
			db, err := Open("db", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { db.Close() }()
			db.Put([]byte("a"), []byte("a0"), nil)
			db.Merge([]byte("a"), []byte("a1"), nil)
			if stage == "split" {
				db.Flush() // operands on both sides of a table
			}
			db.Merge([]byte("a"), []byte("a2"), nil)
			db.Merge([]byte("b"), []byte("b1"), nil) // nothing beneath
			db.Put([]byte("c"), []byte("c0"), nil)
			db.Delete([]byte("c"), nil)
			db.Merge([]byte("c"), []byte("c1"), nil) // a deletion beneath
			db.Put([]byte("d"), []byte("d0"), nil)
			db.DeleteRange([]byte("d"), []byte("e"), nil)
			snap := db.NewSnapshot()
			defer snap.Close()
			db.Merge([]byte("d"), []byte("d1"), nil) // a range deletion beneath
			db.Merge([]byte("b"), []byte("b2"), nil)
			switch stage {
			case "flushed", "split":
				db.Flush()
			case "compacted":
				if err := db.CompactRange(nil, nil); err != nil {
					t.Fatal(err)
				}
			case "reopened":
				snap.Close()
				db.Close()
				if db, err = Open("db", opts); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"a=a0,a1,a2", "b=b1,b2", "c=c1", "d=d1"}
			for _, kv := range want {
				k, v, _ := strings.Cut(kv, "=")
				if got, err := db.Get([]byte(k)); err != nil || string(got) != v {
					t.Errorf("Get(%s) = %q, %v; want %q", k, got, err, v)
				}
			}
			var fwd, rev []string
			it := db.NewIterator(nil)
			for k, v := range it.All() {
				fwd = append(fwd, string(k)+"="+string(v))
			}
			for k, v := range it.Backward() {
				rev = append(rev, string(k)+"="+string(v))
			}
			// Turns in the middle of merged keys.
			it.Seek([]byte("b"))
			it.Prev()
			if string(it.Key()) != "a" || string(it.Value()) != "a0,a1,a2" {
				t.Errorf("Seek(b), Prev: %q=%q", it.Key(), it.Value())
			}
			it.Next()
			it.Next()
			if string(it.Key()) != "c" || string(it.Value()) != "c1" {
				t.Errorf("Seek(b), Prev, Next, Next: %q=%q", it.Key(), it.Value())
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			slices.Reverse(rev)
			if !slices.Equal(fwd, want) || !slices.Equal(rev, want) {
				t.Errorf("scans %v and %v, want %v", fwd, rev, want)
			}
			if stage != "reopened" && stage != "compacted" {
				if got, err := snap.Get([]byte("b")); err != nil || string(got) != "b1" {
					t.Errorf("snapshot Get(b) = %q, %v", got, err)
				}
				if _, err := snap.Get([]byte("d")); !errors.Is(err, ErrNotFound) {
					t.Errorf("snapshot Get(d): %v, want not found", err)
				}
			}
		})
	}
}

// TestMergerRecorded: merges need an operator; the first merge records its
// name, and the database then refuses to open with another or none.
func TestMergerRecorded(t *testing.T) {
	fs := NewMemFS()
	db, err := Open("db", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Merge([]byte("k"), u64(1), nil); !errors.Is(err, ErrNoMerger) {
		t.Fatalf("Merge without a Merger: %v", err)
	}
	db.Close()
	if db, err = Open("db", &Options{FS: fs, Merger: AddMerger}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := db.Merge([]byte("k"), u64(2), nil); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	for _, m := range []*Merger{nil, MaxMerger} {
		if _, err := Open("db", &Options{FS: fs, Merger: m}); err == nil || !strings.Contains(err.Error(), `"strata.add"`) {
			t.Fatalf("open with %v: %v, want a refusal naming strata.add", m, err)
		}
	}
	db, err = Open("db", &Options{FS: fs, Merger: BuiltinMerger("strata.add")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Get([]byte("k")); err != nil || binary.LittleEndian.Uint64(v) != 6 {
		t.Fatalf("Get = %x, %v", v, err)
	}
}

// TestMergeOperatorError: an operator's error fails the read that needed
// it, with the key and the operator named.
func TestMergeOperatorError(t *testing.T) {
	bad := &Merger{Name: "test.bad", FullMerge: func(key, existing []byte, has bool, ops [][]byte) ([]byte, error) {
		return nil, fmt.Errorf("operand %q is not a number", ops[0])
	}}
	db, err := Open("db", &Options{FS: NewMemFS(), Merger: bad})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Merge([]byte("k"), []byte("x"), nil)
	if _, err := db.Get([]byte("k")); err == nil || !strings.Contains(err.Error(), "not a number") || !strings.Contains(err.Error(), "test.bad") {
		t.Fatalf("Get: %v", err)
	}
	it := db.NewIterator(nil)
	if it.First() || it.Err() == nil || !strings.Contains(it.Err().Error(), "not a number") {
		t.Fatalf("iterator: valid %v, err %v", it.Valid(), it.Err())
	}
	it.Close()
}
