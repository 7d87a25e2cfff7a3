package strata

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/vfs"
	"github.com/strata-db/strata/internal/vfs/errorfs"
)

// standInModel writes the workload the stand-in tests flush: keys k000..k199
// flushed to a table, then a memtable that overwrites the even ones and
// deletes every fifth one. It returns what the database must hold.
func standInModel(t *testing.T, db *DB) map[string]string {
	t.Helper()
	model := map[string]string{}
	for i := range 200 {
		k, v := fmt.Sprintf("k%03d", i), fmt.Sprintf("old%d", i)
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
		model[k] = v
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		k := fmt.Sprintf("k%03d", i)
		switch {
		case i%5 == 0:
			if err := db.Delete([]byte(k), nil); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
		case i%2 == 0:
			v := fmt.Sprintf("new%d", i)
			if err := db.Put([]byte(k), []byte(v), nil); err != nil {
				t.Fatal(err)
			}
			model[k] = v
		}
	}
	return model
}

// checkModel compares point reads (absent keys too) and both iterator
// directions (checkDBEquals) with model.
func checkModel(t *testing.T, db *DB, model map[string]string, where string) {
	t.Helper()
	for i := range 220 {
		k := fmt.Sprintf("k%03d", i)
		v, err := db.Get([]byte(k))
		want, ok := model[k]
		switch {
		case !ok && !errors.Is(err, ErrNotFound):
			t.Fatalf("%s: Get(%s) = %q, %v; want not found", where, k, v, err)
		case ok && (err != nil || string(v) != want):
			t.Fatalf("%s: Get(%s) = %q, %v; want %q", where, k, v, err, want)
		}
	}
	want := make([]kvPair, 0, len(model))
	for _, k := range sortedKeys(bytes.Compare, model, nil, nil) {
		want = append(want, kvPair{k: []byte(k), v: []byte(model[k])})
	}
	t.Logf("%s: checking scans", where)
	checkDBEquals(t, db, want)
}

// TestFlushStandIn pins the flush's two steps (see memTable): once the
// table is written, reads find the memtable's entries (values and
// deletions) in it, its memory no longer counts, and writes go on; the
// table is in no version yet, and Flush does not return until it is.
func TestFlushStandIn(t *testing.T) {
	db := mustOpen(t, "db", &Options{FS: vfs.NewMem()})
	defer db.Close()
	model := standInModel(t, db)

	var ran, done atomic.Bool
	var num uint64
	db.testHookStandIn = func() {
		if ran.Swap(true) {
			return
		}
		defer done.Store(true)
		db.mu.Lock()
		s := db.imms[0]
		inVersion := s.table != nil && fileLevel(db.versions.current, s.table.Num) >= 0
		db.mu.Unlock()
		if s.table == nil || s.MemTable != nil {
			t.Error("no stand-in in place of the flushed memtable")
			return
		}
		num = s.table.Num
		if inVersion {
			t.Errorf("table %d is in the version before its edit is durable", s.table.Num)
		}
		if m := db.Metrics(); m.ImmutableMemTables != 1 || m.MemTableBytes != db.mem.ApproximateMemoryUsage() {
			t.Errorf("metrics during the flush: %d immutable memtables, %d bytes (the mutable memtable has %d)",
				m.ImmutableMemTables, m.MemTableBytes, db.mem.ApproximateMemoryUsage())
		}
		checkModel(t, db, model, "stand-in")
		// A write while the table is synced lands in the new memtable.
		if err := db.Put([]byte("k210"), []byte("during"), nil); err != nil {
			t.Error(err)
		}
		model["k210"] = "during"
		checkModel(t, db, model, "stand-in, after a write")
		time.Sleep(10 * time.Millisecond) // Flush must wait for the install
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if !ran.Load() {
		t.Fatal("the flush put no stand-in in place")
	}
	if !done.Load() {
		t.Fatal("Flush returned before the flushed table was installed")
	}
	db.mu.Lock()
	imms, level := len(db.imms), fileLevel(db.versions.current, num)
	db.mu.Unlock()
	if imms != 0 || level < 0 {
		t.Fatalf("after Flush: %d memtables left, table %d at level %d", imms, num, level)
	}
	checkModel(t, db, model, "installed")
}

// TestFlushStandInSyncFails: when the flushed table's fsync fails after the
// stand-in took the memtable's place, the error stops writes, reads still
// find everything (the table stays), and reopening recovers every write
// from the WAL.
func TestFlushStandInSyncFails(t *testing.T) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem)
	db := mustOpen(t, "db", &Options{FS: fs})
	model := standInModel(t, db)
	fs.AddRule(errorfs.OnIndex(0).On(errorfs.OpSync).Path("*.ldb"))
	err := db.Flush()
	if !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Flush with the table's fsync failing: %v", err)
	}
	if err := db.Put([]byte("k210"), []byte("v"), nil); err == nil {
		t.Fatal("a write after the failed flush succeeded")
	}
	checkModel(t, db, model, "after the failed flush")
	// The obsolete-file sweep must leave the stand-in's table alone.
	db.deleteObsoleteFiles(false)
	db.mu.Lock()
	num := db.imms[0].table.Num
	db.mu.Unlock()
	if _, err := mem.Stat(fmt.Sprintf("db/%06d.ldb", num)); err != nil {
		t.Fatalf("the stand-in's table is gone: %v", err)
	}
	checkModel(t, db, model, "after the sweep")
	db.Close()

	db = mustOpen(t, "db", &Options{FS: mem})
	defer db.Close()
	checkModel(t, db, model, "reopened")
}

// fileLevel returns the level of table num in v, or -1.
func fileLevel(v *manifest.Version, num uint64) int {
	for level, files := range v.Levels {
		for _, f := range files {
			if f.Num == num {
				return level
			}
		}
	}
	return -1
}

// TestStandInOutlivesInstall: a read that took its read state while a
// stand-in was in place reads the stand-in's table even after the flush
// installed it and a compaction took it out of every version (the table
// stays pinned, standInTables, until the stand-in's last reference goes).
func TestStandInOutlivesInstall(t *testing.T) {
	db := mustOpen(t, "db", &Options{FS: vfs.NewMem()})
	defer db.Close()
	model := standInModel(t, db)

	reached, release := make(chan struct{}), make(chan struct{})
	db.testHookStandIn = func() {
		close(reached)
		<-release
	}
	flushed := make(chan error, 1)
	go func() { flushed <- db.Flush() }()
	<-reached

	var num uint64
	ran := false
	db.testHookReadView = func() {
		if ran {
			return
		}
		ran = true
		db.mu.Lock()
		num = db.imms[0].table.Num
		db.mu.Unlock()
		close(release)
		if err := <-flushed; err != nil {
			t.Error(err)
		}
		if err := db.CompactRange(nil, nil); err != nil {
			t.Error(err)
		}
		db.mu.Lock()
		level := fileLevel(db.versions.current, num)
		db.mu.Unlock()
		if level >= 0 {
			t.Errorf("table %d still at level %d after the compaction", num, level)
		}
		db.deleteObsoleteFiles(false)
	}
	// k002 was overwritten in the memtable the stand-in replaced.
	v, err := db.Get([]byte("k002"))
	if !ran {
		t.Fatal("the read-view hook did not run")
	}
	if err != nil || string(v) != model["k002"] {
		t.Fatalf("read through a stand-in after its table was compacted away: %q, %v; want %q", v, err, model["k002"])
	}
	// Once that read state is gone, the sweep deletes the table.
	db.deleteObsoleteFiles(false)
	if _, err := db.fs.Stat(fmt.Sprintf("db/%06d.ldb", num)); err == nil {
		t.Fatalf("table %d was not deleted once unused", num)
	}
	checkModel(t, db, model, "after the compaction")
}

// TestMemTableRamp pins the memtable ramp (Options.InitialMemTableSize):
// the memtables after Open double from the initial size up to
// WriteBufferSize; the small ones are flushed only once they hold half a
// WriteBufferSize together, then together, into one table; Flush and
// WaitForCompactions flush them whatever they hold; every write is found,
// before and after a reopen, which starts the ramp again.
func TestMemTableRamp(t *testing.T) {
	const wbs, initial = 64 << 10, 4 << 10
	var mu sync.Mutex
	var inputs []int // FlushInfo.Input of each flush, in order
	fs := vfs.NewMem()
	opts := &Options{FS: fs, WriteBufferSize: wbs, InitialMemTableSize: initial,
		EventListener: &EventListener{FlushBegin: func(i FlushInfo) {
			mu.Lock()
			inputs = append(inputs, i.Input)
			mu.Unlock()
		}}}
	flushes := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(inputs)
	}
	db := mustOpen(t, "db", opts)
	model := map[string]string{}
	var sizes []int // the sizes of the mutable memtables, in order
	var last *memTable
	put := func(i int) {
		t.Helper()
		k, v := fmt.Sprintf("k%06d", i*7919%100000), fmt.Sprintf("v%d-%s", i, bytes.Repeat([]byte("x"), 90))
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
		model[k] = v
		db.mu.Lock()
		if db.mem != last {
			last = db.mem
			sizes = append(sizes, last.size)
		}
		db.mu.Unlock()
	}
	i := 0
	// Up to the fourth rotation the frozen memtables hold 4+8+16 KiB < 32.
	for ; len(sizes) < 4; i++ {
		put(i)
	}
	if err := db.WaitForCompactions(); err != nil {
		t.Fatal(err)
	}
	// WaitForCompactions flushed the three small ones together.
	if got := flushes(); !slices.Equal(got, []int{3}) {
		t.Fatalf("flushes after WaitForCompactions: memtables per flush %v, want [3]", got)
	}
	for ; len(sizes) < 9; i++ {
		put(i)
	}
	if want := []int{4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10}; !slices.Equal(sizes, want) {
		t.Fatalf("memtable sizes %v, want %v", sizes, want)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	// The 32 KiB memtable was due on its own (half a WriteBufferSize); the
	// full ones went one by one.
	if got := flushes(); !slices.Equal(got, []int{3, 1, 1, 1, 1, 1, 1}) {
		t.Fatalf("memtables per flush %v, want [3 1 1 1 1 1 1]", got)
	}
	checkRampModel(t, db, model, "before reopen")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// After a reopen: the ramp again; small memtables wait, then go
	// together; a Flush takes what is queued.
	inputs, sizes = nil, nil
	db = mustOpen(t, "db", opts)
	defer db.Close()
	for ; len(sizes) < 4; i++ {
		put(i)
	}
	if got := flushes(); len(got) != 0 {
		t.Fatalf("small memtables flushed before they were due: memtables per flush %v", got)
	}
	for ; len(sizes) < 5; i++ {
		put(i)
	}
	if err := db.WaitForCompactions(); err != nil {
		t.Fatal(err)
	}
	if got := flushes(); !slices.Equal(got, []int{4}) {
		// 4+8+16+32 KiB, due at the fourth rotation.
		t.Fatalf("memtables per flush after reopen %v, want [4]", got)
	}
	checkRampModel(t, db, model, "ramp after reopen")
	for ; len(sizes) < 6; i++ {
		put(i)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	db.mu.Lock()
	imms := len(db.imms)
	db.mu.Unlock()
	if imms != 0 {
		t.Fatalf("%d memtables left after Flush", imms)
	}
	checkRampModel(t, db, model, "after Flush")
}

// checkRampModel compares Gets and a forward scan with model.
func checkRampModel(t *testing.T, db *DB, model map[string]string, where string) {
	t.Helper()
	for k, want := range model {
		v, err := db.Get([]byte(k))
		if err != nil || string(v) != want {
			t.Fatalf("%s: Get(%s) = %q, %v; want %q", where, k, v, err, want)
		}
	}
	it := db.NewIterator(nil)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if want, ok := model[string(it.Key())]; !ok || want != string(it.Value()) {
			t.Fatalf("%s: scan found %s = %q; want %q (present: %v)", where, it.Key(), it.Value(), want, ok)
		}
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n != len(model) {
		t.Fatalf("%s: scan found %d keys, want %d", where, n, len(model))
	}
}

// TestFlushDropsRangeDeleted: a flush does not write the entries a range
// deletion in the same memtables hides from every reader, and keeps those a
// snapshot can still read.
func TestFlushDropsRangeDeleted(t *testing.T) {
	key := func(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }
	for _, withSnap := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", withSnap), func(t *testing.T) {
			db, err := Open("db", &Options{FS: NewMemFS(), DisableAutoCompactions: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := range 100 {
				db.Put(key(i), []byte("v"), nil)
			}
			var snap *Snapshot
			if withSnap {
				snap = db.NewSnapshot()
				defer snap.Close()
			}
			if err := db.DeleteRange(key(10), key(90), nil); err != nil {
				t.Fatal(err)
			}
			db.Put(key(50), []byte("new"), nil) // above the tombstone: kept
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			// The points the tables hold.
			rs, _ := db.acquireReadView(seqLatest)
			points := 0
			for _, files := range rs.version.Levels {
				for _, f := range files {
					it, err := db.tables.newIter(f)
					if err != nil {
						t.Fatal(err)
					}
					for ok := it.First(); ok; ok = it.Next() {
						points++
					}
					if err := it.Close(); err != nil {
						t.Fatal(err)
					}
				}
			}
			rs.unref()
			want := 21 // k000-k009, k090-k099, the new k050
			if withSnap {
				want = 101
			}
			if points != want {
				t.Fatalf("the flushed tables hold %d points, want %d", points, want)
			}
			got := scanKeys(t, db, nil, false)
			if len(got) != 21 || got[10] != "k050" {
				t.Fatalf("scan after the flush: %q", got)
			}
			if withSnap {
				it := db.NewIterator(&IterOptions{Snapshot: snap})
				n := 0
				for ok := it.First(); ok; ok = it.Next() {
					n++
				}
				it.Close()
				if n != 100 {
					t.Fatalf("the snapshot sees %d keys after the flush, want 100", n)
				}
			}
		})
	}
}
