package strata

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-db/strata/internal/record"
	"github.com/strata-db/strata/internal/vfs"
)

// TestWALGapStopsReplay: when an older log lost its tail (unsynced, then a
// power cut) while the next log kept its records, recovery must not replay
// the next log, or the recovered state would hold writes without some that
// came before them. The next log's header record tells. The test holds the
// flush so two logs are live, copies the database twice (the older log
// whole, then cut before its last record), and opens each copy.
func TestWALGapStopsReplay(t *testing.T) {
	fs := &holdTablesFS{FS: vfs.Default, held: make(chan struct{}), release: make(chan struct{})}
	dir := filepath.Join(t.TempDir(), "db")
	db, err := Open(dir, &Options{FS: fs, WriteBufferSize: 64 << 10, MaxMemTableBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			close(fs.release)
		}
	}
	defer func() { release(); db.Close() }()
	val := make([]byte, 1000)
	n := 0
	for ; len(logFiles(t, dir)) < 2 || n%20 != 0; n++ {
		if err := db.Put(budgetKey(n), val, nil); err != nil {
			t.Fatal(err)
		}
		if n > 1000 {
			t.Fatal("no second log after 1000 writes")
		}
	}
	<-fs.held
	logs := logFiles(t, dir)
	if len(logs) != 2 {
		t.Fatalf("logs %v, want 2 (the flush is held)", logs)
	}
	older := logs[0]
	offs := recordOffsets(t, filepath.Join(dir, older))
	if len(offs) < 3 {
		t.Fatalf("%s holds %d records", older, len(offs))
	}
	kept := len(offs) - 2 // batches the cut log keeps: all but its header and last record

	for _, cut := range []bool{false, true} {
		t.Run(fmt.Sprint("cut=", cut), func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "db")
			copyDir(t, dir, cp)
			if cut {
				if err := os.Truncate(filepath.Join(cp, older), offs[len(offs)-1]); err != nil {
					t.Fatal(err)
				}
			}
			db2, err := Open(cp, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			want := n
			if cut {
				want = kept
			}
			for i := range n {
				_, err := db2.Get(budgetKey(i))
				if found := err == nil; found != (i < want) {
					t.Fatalf("key %d: found %v (err %v); want the first %d of %d writes", i, found, err, want, n)
				}
			}
		})
	}
}

func logFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	slices.Sort(m)
	return m
}

// recordOffsets returns the offset of each record of the log at path.
func recordOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := record.NewReader(f, path)
	var offs []int64
	for {
		if _, err := r.Next(); err == io.EOF {
			return offs
		} else if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, r.Offset())
	}
}

// TestWALGapBehindEmptyLog: a log with no records (its memtable took only
// writes without the WAL) may lose even its header in a power cut; the log
// after it must then be checked against the last log that recovered
// records, or the gap before the empty log would go unseen.
func TestWALGapBehindEmptyLog(t *testing.T) {
	fs := &holdTablesFS{FS: vfs.Default, held: make(chan struct{}), release: make(chan struct{})}
	dir := filepath.Join(t.TempDir(), "db")
	db, err := Open(dir, &Options{FS: fs, WriteBufferSize: 64 << 10, MaxWriteBufferNumber: 4, MaxMemTableBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			close(fs.release)
		}
		db.Close()
	}()
	val := make([]byte, 1000)
	n := 0
	put := func(wo *WriteOptions) {
		if err := db.Put(budgetKey(n), val, wo); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for range 40 { // log A: 40 records, its memtable not yet full
		put(nil)
	}
	noWAL := &WriteOptions{DisableWAL: true}
	for len(logFiles(t, dir)) < 3 { // on to log B (header only), then C
		put(noWAL)
		if n > 2000 {
			t.Fatal("no third log")
		}
	}
	for range 10 { // log C: records
		put(nil)
	}
	logs := logFiles(t, dir)
	if len(logs) != 3 {
		t.Fatalf("logs %v, want 3 (the flushes are held)", logs)
	}
	offsA := recordOffsets(t, filepath.Join(dir, logs[0]))
	if got := len(recordOffsets(t, filepath.Join(dir, logs[1]))); got != 1 {
		t.Fatalf("%s holds %d records, want only its header", logs[1], got)
	}
	keptA := len(offsA) - 2 // A's batches after cutting its last record

	cp := filepath.Join(t.TempDir(), "db")
	copyDir(t, dir, cp)
	if err := os.Truncate(filepath.Join(cp, logs[0]), offsA[len(offsA)-1]); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(cp, logs[1]), 0); err != nil { // B lost its header
		t.Fatal(err)
	}
	db2, err := Open(cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	for i := range n {
		_, err := db2.Get(budgetKey(i))
		if found := err == nil; found != (i < keptA) {
			t.Fatalf("key %d: found %v (err %v); want the first %d writes (log C holds the last 10 of %d)", i, found, err, keptA, n)
		}
	}
}
