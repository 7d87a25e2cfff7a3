package strata

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scanKeys returns the keys of a full scan in the given direction.
func scanKeys(t *testing.T, db *DB, o *IterOptions, reverse bool) []string {
	t.Helper()
	it := db.NewIterator(o)
	defer it.Close()
	var keys []string
	walk := it.All()
	if reverse {
		walk = it.Backward()
	}
	for k := range walk {
		keys = append(keys, string(k))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestDeleteRangeBasic(t *testing.T) {
	for _, stage := range []string{"memtable", "flushed", "compacted", "reopened"} {
		t.Run(stage, func(t *testing.T) {
			fs := NewMemFS()
			db, err := Open("db", &Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { db.Close() }()
			for i := range 10 {
				db.Put(fmt.Appendf(nil, "k%d", i), []byte("v"), nil)
			}
			if stage != "memtable" {
				db.Flush() // the keys in a table, the tombstone above them
			}
			snap := db.NewSnapshot()
			defer snap.Close()
			if err := db.DeleteRange([]byte("k3"), []byte("k7"), nil); err != nil {
				t.Fatal(err)
			}
			db.Put([]byte("k5"), []byte("new"), nil) // after the deletion: live
			switch stage {
			case "compacted":
				snap.Close()
				if err := db.CompactRange(nil, nil); err != nil {
					t.Fatal(err)
				}
			case "reopened":
				snap.Close()
				db.Flush()
				db.Close()
				if db, err = Open("db", &Options{FS: fs}); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"k0", "k1", "k2", "k5", "k7", "k8", "k9"}
			if got := scanKeys(t, db, nil, false); !slices.Equal(got, want) {
				t.Fatalf("forward scan %v, want %v", got, want)
			}
			rev := slices.Clone(want)
			slices.Reverse(rev)
			if got := scanKeys(t, db, nil, true); !slices.Equal(got, rev) {
				t.Fatalf("backward scan %v, want %v", got, rev)
			}
			for i := range 10 {
				k := fmt.Appendf(nil, "k%d", i)
				v, err := db.Get(k)
				live := slices.Contains(want, string(k))
				if live != (err == nil) || !live && !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get(%s) = %q, %v; live %v", k, v, err, live)
				}
			}
			if got, _ := db.Get([]byte("k5")); string(got) != "new" {
				t.Fatalf("k5 = %q", got)
			}
			if stage == "memtable" || stage == "flushed" {
				if got := scanKeys(t, db, &IterOptions{Snapshot: snap}, false); len(got) != 10 {
					t.Fatalf("the snapshot scans %v, want all 10 keys", got)
				}
				if v, err := snap.Get([]byte("k4")); err != nil || string(v) != "v" {
					t.Fatalf("snapshot Get(k4) = %q, %v", v, err)
				}
			}
		})
	}
}

// TestRangeDelSmallAlphabet: random puts, merges, deletes, range deletions,
// snapshots, flushes and compactions (one level at a time, and in one pass
// to a deeper level) over 12 keys, with tiny tables so that tombstones
// straddle table and output boundaries; after every step every key is read
// by Get and by scans in both directions, with random bounds, at the
// latest state and at each open snapshot. Failures print the seed and the
// operations so far.
func TestRangeDelSmallAlphabet(t *testing.T) {
	seeds := 1500
	if testing.Short() {
		seeds = 300
	}
	base := uint64(time.Now().UnixNano())
	t.Logf("seeds %d.. (replay one: STRATA_RD_SEED=n go test -run TestRangeDelSmallAlphabet)", base)
	if s, err := strconv.ParseUint(os.Getenv("STRATA_RD_SEED"), 10, 64); err == nil {
		base, seeds = s, 1
	}
	for i := range uint64(seeds) {
		if msg := rangeDelSmallRun(base + i); msg != "" {
			t.Fatalf("seed %d: %s", base+i, msg)
		}
	}
}

func rangeDelSmallRun(seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 7))
	fs := NewMemFS()
	opts := &Options{FS: fs, WriteBufferSize: 2 << 10, BlockSize: 64, TargetFileSize: 150, DisableAutoCompactions: true,
		Merger: AppendMerger([]byte(","))}
	db, err := Open("db", opts)
	if err != nil {
		return err.Error()
	}
	defer func() { db.Close() }()
	type snap struct {
		s     *Snapshot
		state map[string]string
	}
	var snaps []snap
	live := map[string]string{}
	var log []string
	key := func() string { return string(rune('a' + rng.IntN(12))) }
	check := func(state map[string]string, s *Snapshot) string {
		var lo, hi []byte
		if rng.IntN(3) == 0 {
			lo = []byte(key())
		}
		if rng.IntN(3) == 0 {
			hi = []byte(key())
		}
		var want []string
		for k := range state {
			if (lo == nil || k >= string(lo)) && (hi == nil || k < string(hi)) {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		it := db.NewIterator(&IterOptions{Snapshot: s, LowerBound: lo, UpperBound: hi})
		defer it.Close()
		var got, rev []string
		for ok := it.First(); ok; ok = it.Next() {
			got = append(got, string(it.Key()))
			if string(it.Value()) != state[string(it.Key())] {
				return fmt.Sprintf("value of %s: %q, want %q", it.Key(), it.Value(), state[string(it.Key())])
			}
		}
		for ok := it.Last(); ok; ok = it.Prev() {
			rev = append(rev, string(it.Key()))
		}
		slices.Reverse(rev)
		if !slices.Equal(got, want) || !slices.Equal(rev, want) {
			return fmt.Sprintf("scan [%s,%s): forward %v, backward %v, want %v", lo, hi, got, rev, want)
		}
		if len(want) > 0 { // a seek into the middle, then a turn
			k := key()
			i, _ := slices.BinarySearch(want, k)
			if it.Seek([]byte(k)) != (i < len(want)) || i < len(want) && string(it.Key()) != want[i] {
				return fmt.Sprintf("Seek(%s) at %q, want index %d of %v", k, it.Key(), i, want)
			}
			if i < len(want) && (it.Prev() != (i > 0) || i > 0 && string(it.Key()) != want[i-1]) {
				return fmt.Sprintf("Seek(%s), Prev at %q, want index %d of %v", k, it.Key(), i-1, want)
			}
			k = key()
			i, _ = slices.BinarySearch(want, k)
			if it.SeekLT([]byte(k)) != (i > 0) || i > 0 && string(it.Key()) != want[i-1] {
				return fmt.Sprintf("SeekLT(%s) at %q, want index %d of %v", k, it.Key(), i-1, want)
			}
		}
		if err := it.Err(); err != nil {
			return err.Error()
		}
		for c := 'a'; c < 'a'+12; c++ {
			get := db.Get
			if s != nil {
				get = s.Get
			}
			v, err := get([]byte(string(c)))
			w, ok := state[string(c)]
			if ok != (err == nil) || ok && string(v) != w || !ok && !errors.Is(err, ErrNotFound) {
				return fmt.Sprintf("Get(%c) = %q, %v; want %q, %v", c, v, err, w, ok)
			}
		}
		return ""
	}
	for step := 0; step < 40; step++ {
		var op string
		switch x := rng.IntN(20); {
		case x < 5:
			k, v := key(), fmt.Sprintf("v%d", step)
			db.Put([]byte(k), []byte(v), nil)
			live[k] = v
			op = "put " + k
		case x < 8:
			k, v := key(), fmt.Sprintf("m%d", step)
			db.Merge([]byte(k), []byte(v), nil)
			if old, ok := live[k]; ok {
				v = old + "," + v
			}
			live[k] = v
			op = "merge " + k
		case x < 10:
			k := key()
			db.Delete([]byte(k), nil)
			delete(live, k)
			op = "del " + k
		case x < 14:
			a, b := key(), key()
			if a > b {
				a, b = b, a
			}
			db.DeleteRange([]byte(a), []byte(b), nil)
			for k := range live {
				if k >= a && k < b {
					delete(live, k)
				}
			}
			op = "delrange " + a + " " + b
		case x < 15:
			snaps = append(snaps, snap{db.NewSnapshot(), maps.Clone(live)})
			op = "snapshot"
		case x < 16:
			if len(snaps) > 0 {
				snaps[0].s.Close()
				snaps = snaps[1:]
			}
			op = "release snapshot"
		case x < 17:
			db.Flush()
			op = "flush"
		case x < 18:
			db.CompactRange(nil, nil)
			op = "compact"
		case x < 19:
			a := []byte(key())
			db.CompactRangeWith(a, nil, CompactOptions{TargetLevel: 1 + rng.IntN(6), Parallelism: 1 + rng.IntN(2)})
			op = "compact-with " + string(a)
		default:
			for _, s := range snaps {
				s.s.Close()
			}
			snaps = nil
			db.Close()
			if db, err = Open("db", opts); err != nil {
				return err.Error()
			}
			op = "reopen"
		}
		log = append(log, op)
		if msg := check(live, nil); msg != "" {
			return fmt.Sprintf("after %s:\n%s\n%s", strings.Join(log, "; "), msg, db.versions.current)
		}
		for i, s := range snaps {
			if msg := check(s.state, s.s); msg != "" {
				return fmt.Sprintf("snapshot %d, after %s:\n%s\n%s", i, strings.Join(log, "; "), msg, db.versions.current)
			}
		}
	}
	for _, s := range snaps {
		s.s.Close()
	}
	return ""
}

// TestIngestRangeDeletions: an ingested table's tombstones delete what the
// database held in their range (in a table, and in the memtable, which the
// ingestion flushes first), not the table's own entries; a memtable
// tombstone over the table's range makes the ingestion flush it, so the
// table's newer entries are not hidden by it.
func TestIngestRangeDeletions(t *testing.T) {
	fs := NewMemFS()
	db, err := Open("db", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		db.Put([]byte(k), []byte("old"), nil)
	}
	db.Flush()
	db.Put([]byte("c2"), []byte("old"), nil) // in the memtable
	db.DeleteRange([]byte("x"), []byte("z"), nil)

	tw, err := NewTableWriter("ext1", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	tw.DeleteRange([]byte("b"), []byte("e"))
	tw.Add([]byte("c"), []byte("new"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tw, _ = NewTableWriter("ext2", &Options{FS: fs})
	tw.Add([]byte("y"), []byte("new")) // under the memtable's tombstone
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ingest([]string{"ext1", "ext2"}, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"a=old", "c=new", "e=old", "y=new"}
	check := func(when string) {
		t.Helper()
		var got []string
		it := db.NewIterator(nil)
		for k, v := range it.All() {
			got = append(got, string(k)+"="+string(v))
		}
		it.Close()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", when, got, want)
		}
		for _, k := range []string{"b", "c2", "d"} {
			if _, err := db.Get([]byte(k)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: Get(%s): %v, want not found", when, k, err)
			}
		}
	}
	check("after ingest")
	if err := db.CompactRange(nil, nil); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
}

// TestDeleteRangeSkipsCoveredTables: a tombstone (in the memtable, flushed
// into a level, or in level 0) covering the start or the end of a table
// beneath makes iterators seek that table straight past it (First, Last,
// Seek and SeekLT: see iterator.Merging.startPast and seekPast); a tombstone-only
// table is skipped without being opened once its facts are known. Checked
// both directions, with bounds, at the latest state (with a key rewritten
// after the deletion) and at a snapshot older than the tombstone, which
// must still see every key; each check runs twice, before and after the
// tables' facts are recorded.
func TestDeleteRangeSkipsCoveredTables(t *testing.T) {
	key := func(i int) string { return fmt.Sprintf("k%03d", i) }
	for _, where := range []string{"memtable", "level", "level0"} {
		for _, covered := range []string{"start", "end", "middle"} {
			t.Run(where+"/"+covered, func(t *testing.T) {
				fs := NewMemFS()
				db, err := Open("db", &Options{FS: fs, DisableAutoCompactions: true})
				if err != nil {
					t.Fatal(err)
				}
				defer func() { db.Close() }()
				tw, err := NewTableWriter("keys.ldb", &Options{FS: fs})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 100 {
					tw.Add([]byte(key(i)), []byte("old"))
				}
				if err := tw.Close(); err != nil {
					t.Fatal(err)
				}
				if err := db.Ingest([]string{"keys.ldb"}, nil); err != nil {
					t.Fatal(err)
				}
				snap := db.NewSnapshot()
				defer snap.Close()
				// The deleted keys: [lo, hi) (-1, 101: the range starts
				// before the table, ends after it).
				r := map[string][2]int{"start": {-1, 50}, "end": {50, 101}, "middle": {20, 80}}[covered]
				lo, hi := r[0], r[1]
				start, end := []byte("k"), []byte(key(hi))
				if lo >= 0 {
					start = []byte(key(lo))
				}
				if hi > 99 {
					end = []byte("l")
				}
				if where == "level0" {
					// Two overlapping flushes first, so that the tombstone's
					// lands in level 0 (a flush goes no deeper than the
					// first level it overlaps).
					for range 2 {
						db.Put([]byte("k"), []byte("x"), nil)
						db.Put([]byte("l"), []byte("x"), nil)
						db.Delete([]byte("k"), nil)
						db.Delete([]byte("l"), nil)
						db.Flush()
					}
				}
				if err := db.DeleteRange(start, end, nil); err != nil {
					t.Fatal(err)
				}
				if where != "memtable" {
					db.Flush()
				}
				rewritten := key((max(lo, 0) + min(hi, 100)) / 2) // inside the range, written after it
				db.Put([]byte(rewritten), []byte("new"), nil)
				if where == "level0" {
					rs, _ := db.acquireReadView(seqLatest)
					n := len(rs.version.Levels[0])
					rs.unref()
					if n == 0 {
						t.Fatal("no table in level 0")
					}
				}
				var want, all []string
				for i := range 100 {
					all = append(all, key(i))
					if i < lo || i >= hi || key(i) == rewritten {
						want = append(want, key(i))
					}
				}
				check := func(o *IterOptions, want []string) {
					t.Helper()
					var in []string
					for _, k := range want {
						if (o.LowerBound == nil || k >= string(o.LowerBound)) && (o.UpperBound == nil || k < string(o.UpperBound)) {
							in = append(in, k)
						}
					}
					if got := scanKeys(t, db, o, false); !slices.Equal(got, in) {
						t.Fatalf("forward scan %v, want %v", got, in)
					}
					rev := slices.Clone(in)
					slices.Reverse(rev)
					if got := scanKeys(t, db, o, true); !slices.Equal(got, rev) {
						t.Fatalf("backward scan %v, want %v", got, rev)
					}
					it := db.NewIterator(o)
					defer it.Close()
					for _, s := range []string{"k", key(0), key(lo + 1), key(hi - 1), key(hi), key(99), "l"} {
						i, _ := slices.BinarySearch(in, s)
						if it.Seek([]byte(s)) != (i < len(in)) || i < len(in) && string(it.Key()) != in[i] {
							t.Fatalf("Seek(%s) at %q, want index %d of %v", s, it.Key(), i, in)
						}
						if i < len(in) {
							v := "old"
							if in[i] == rewritten && o.Snapshot == nil {
								v = "new"
							}
							if string(it.Value()) != v {
								t.Fatalf("Seek(%s): %s = %q, want %q", s, it.Key(), it.Value(), v)
							}
						}
						if it.SeekLT([]byte(s)) != (i > 0) || i > 0 && string(it.Key()) != in[i-1] {
							t.Fatalf("SeekLT(%s) at %q, want index %d of %v", s, it.Key(), i-1, in)
						}
					}
					if err := it.Err(); err != nil {
						t.Fatal(err)
					}
				}
				for range 2 {
					for _, b := range [][2][]byte{{nil, nil}, {[]byte(key(10)), []byte(key(90))}, {[]byte("k"), nil}, {nil, []byte(key(60))}} {
						check(&IterOptions{LowerBound: b[0], UpperBound: b[1]}, want)
						check(&IterOptions{LowerBound: b[0], UpperBound: b[1], Snapshot: snap}, all)
					}
				}
			})
		}
	}
}

// TestScanDeletedRangeNoAlloc: an iterator kept local to its caller (the
// handle stays on the caller's stack: see NewIterator) allocates nothing
// to open, position and close, across a deleted range in the memtable or
// flushed, and over no tombstone at all. BenchmarkScanDeletedRange's cases
// then leave the collector out of their comparison.
func TestScanDeletedRangeNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, where := range []string{"memtable", "flushed", "none"} {
		t.Run(where, func(t *testing.T) {
			db, err := Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := range 1000 {
				if err := db.Put(fmt.Appendf(nil, "k%04d", i), []byte("value"), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			want := "k0000"
			if where != "none" {
				if err := db.DeleteRange([]byte("k"), []byte("k0900"), nil); err != nil {
					t.Fatal(err)
				}
				want = "k0900"
			}
			if where == "flushed" {
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			scan := func() {
				it := db.NewIterator(nil)
				if !it.First() || string(it.Key()) != want {
					t.Fatalf("First at %q (%v), want %q", it.Key(), it.Err(), want)
				}
				it.Close()
			}
			scan() // warm the pools and caches
			if n := testing.AllocsPerRun(200, scan); n != 0 {
				t.Errorf("%v allocations per scan, want 0", n)
			}
		})
	}
}
