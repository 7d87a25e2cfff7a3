package strata

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/vfs"
)

func writeTable(t *testing.T, path string, keys []string, value func(string) string) {
	t.Helper()
	w, err := NewTableWriter(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := w.Add([]byte(k), []byte(value(k))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func rangeKeys(prefix string, from, to int) []string {
	var ks []string
	for i := from; i < to; i++ {
		ks = append(ks, fmt.Sprintf("%s%05d", prefix, i))
	}
	return ks
}

func TestTableWriterOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.ldb")
	w, err := NewTableWriter(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Add([]byte("b"), nil)
	if err := w.Add([]byte("a"), nil); err == nil || !strings.Contains(err.Error(), "strictly increasing") {
		t.Fatalf("out-of-order Add: %v", err)
	}
	if err := w.Add([]byte("c"), nil); err == nil {
		t.Fatal("Add after an error succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after an Add error returned nil")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a failed table was left behind")
	}
}

func TestIngest(t *testing.T) {
	dir := t.TempDir()
	ext := t.TempDir()
	db := mustOpen(t, filepath.Join(dir, "db"), nil)
	defer db.Close()

	// Into an empty database: linked in as they are, at the last level.
	t1, t2 := filepath.Join(ext, "1.ldb"), filepath.Join(ext, "2.ldb")
	writeTable(t, t1, rangeKeys("a", 0, 1000), func(k string) string { return "v1-" + k })
	writeTable(t, t2, rangeKeys("b", 0, 1000), func(k string) string { return "v1-" + k })
	if err := db.Ingest([]string{t2, t1}, &IngestOptions{Move: true}); err != nil {
		t.Fatal(err)
	}
	if n := mustProp(db, "strata.num-files-at-level6"); n != "2" {
		t.Fatalf("level 6 holds %s tables:\n%s", n, mustProp(db, "strata.sstables"))
	}
	if _, err := os.Stat(t1); !os.IsNotExist(err) {
		t.Fatal("Move left the source file")
	}
	for _, k := range []string{"a00000", "a00999", "b00500"} {
		if v, err := db.Get([]byte(k)); err != nil || string(v) != "v1-"+k {
			t.Fatalf("%s: %q %v", k, v, err)
		}
	}

	// Overlapping existing data, some of it still in the memtable, with a
	// snapshot open: the ingested values shadow older ones, the snapshot
	// does not see them.
	db.Put([]byte("a00010"), []byte("memtable"), nil)
	db.Put([]byte("zzz"), []byte("unrelated"), nil)
	snap := db.NewSnapshot()
	t3 := filepath.Join(ext, "3.ldb")
	writeTable(t, t3, rangeKeys("a", 5, 20), func(k string) string { return "v2-" + k })
	if err := db.Ingest([]string{t3}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(t3); err != nil {
		t.Fatal("copying ingestion removed the source")
	}
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("a%05d", i)
		want := "v1-" + k
		if i >= 5 && i < 20 {
			want = "v2-" + k
		}
		if v, err := db.Get([]byte(k)); err != nil || string(v) != want {
			t.Fatalf("after overlapping ingest %s: %q %v, want %q", k, v, err, want)
		}
		wantSnap := "v1-" + k
		if i == 10 {
			wantSnap = "memtable"
		}
		if v, err := snap.Get([]byte(k)); err != nil || string(v) != wantSnap {
			t.Fatalf("snapshot %s: %q %v, want %q", k, v, err, wantSnap)
		}
	}
	snap.Close()
	// Later writes still win over the ingested ones.
	db.Put([]byte("a00007"), []byte("later"), nil)
	if v, _ := db.Get([]byte("a00007")); string(v) != "later" {
		t.Fatalf("a write after the ingest lost to it: %q", v)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, filepath.Join(dir, "db"), nil)
	if v, _ := db.Get([]byte("a00008")); string(v) != "v2-a00008" {
		t.Fatalf("after reopen: %q", v)
	}

	// Overlapping tables are refused.
	t4, t5 := filepath.Join(ext, "4.ldb"), filepath.Join(ext, "5.ldb")
	writeTable(t, t4, rangeKeys("c", 0, 10), func(string) string { return "" })
	writeTable(t, t5, rangeKeys("c", 5, 15), func(string) string { return "" })
	if err := db.Ingest([]string{t4, t5}, nil); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("overlapping ingest: %v", err)
	}
	if _, err := db.Get([]byte("c00001")); err != ErrNotFound {
		t.Fatal("a refused ingest left data behind")
	}
}

// TestIngestAtomic: readers see all the ingested tables or none.
func TestIngestAtomic(t *testing.T) {
	db := mustOpen(t, t.TempDir(), nil)
	defer db.Close()
	ext := t.TempDir()
	var done atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				it := db.NewIterator(nil)
				seen := map[byte]int{}
				for ok := it.First(); ok; ok = it.Next() {
					seen[it.Key()[0]]++
				}
				it.Close()
				for round := 0; round < 20; round++ {
					a, b := seen[byte('a'+2*round)], seen[byte('b'+2*round)]
					if a != b {
						errc <- fmt.Errorf("round %d: saw %d and %d keys of the two tables", round, a, b)
						return
					}
				}
			}
		}()
	}
	for round := 0; round < 10; round++ {
		p1 := filepath.Join(ext, fmt.Sprintf("%d-1.ldb", round))
		p2 := filepath.Join(ext, fmt.Sprintf("%d-2.ldb", round))
		writeTable(t, p1, rangeKeys(string(rune('a'+2*round)), 0, 500), func(string) string { return "x" })
		writeTable(t, p2, rangeKeys(string(rune('b'+2*round)), 0, 500), func(string) string { return "y" })
		if err := db.Ingest([]string{p1, p2}, nil); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// TestIngestMoveIsDurable: a table ingested with Move is hard-linked in;
// the link shares data nobody may have synced, so Ingest syncs it before
// the MANIFEST names it. After a power cut right after Ingest returns, the
// database opens with the table's keys.
func TestIngestMoveIsDurable(t *testing.T) {
	src := filepath.Join(t.TempDir(), "t.ldb")
	writeTable(t, src, rangeKeys("k", 0, 100), func(string) string { return "v" })
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fs := vfs.NewMem()
	db := mustOpen(t, "/db", &Options{FS: fs})
	fs.MkdirAll("/ext", 0o755)
	f, _ := fs.Create("/ext/t.ldb") // written, never synced
	f.Write(data)
	f.Close()
	if err := db.Ingest([]string{"/ext/t.ldb"}, &IngestOptions{Move: true}); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone()
	db.Close()
	db = mustOpen(t, "/db", &Options{FS: crashed})
	defer db.Close()
	if v, err := db.Get([]byte("k00050")); err != nil || string(v) != "v" {
		t.Fatalf("after a power cut: %q, %v", v, err)
	}
}

// TestIngestMoveLinkReportedFailed: a hard link that is made but reported
// failed (a lost reply on a network file system) must not lead Ingest to
// copy over it: that truncated the user's table through the link.
func TestIngestMoveLinkReportedFailed(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "t.ldb")
	writeTable(t, src, rangeKeys("k", 0, 100), func(string) string { return "v" })
	before, _ := os.ReadFile(src)
	db := mustOpen(t, dir, &Options{FS: linkThenFailFS{OSFS()}})
	defer db.Close()
	if err := db.Ingest([]string{src}, &IngestOptions{Move: true}); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get([]byte("k00050")); err != nil || string(v) != "v" {
		t.Fatalf("after ingest: %q, %v", v, err)
	}
	for _, p := range filesOfType(t, dir, base.FileTypeTable) {
		if data, _ := os.ReadFile(p); len(data) != len(before) {
			t.Fatalf("%s is %d bytes, the table %d", p, len(data), len(before))
		}
	}
}
