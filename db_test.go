package strata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/vfs"
	"github.com/strata-db/strata/internal/vfs/errorfs"
)

func mustOpen(t *testing.T, dir string, o *Options) *DB {
	t.Helper()
	db, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestOpenOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	if _, err := Open(dir, &Options{ErrorIfNotExists: true}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ErrorIfNotExists on a missing DB: %v", err)
	}
	if _, err := Open(dir, &Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing DB succeeded")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("refused opens created %s", dir)
	}
	db := mustOpen(t, dir, nil)
	if _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open in one process: %v, want a lock error", err)
	}
	db.Put([]byte("k"), []byte("v"), nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := Open(dir, &Options{ErrorIfExists: true}); err == nil || !errors.Is(err, os.ErrExist) {
		t.Fatalf("ErrorIfExists on an existing DB: %v", err)
	}
	if _, err := Open(dir, &Options{Comparator: reverseComparer}); err == nil || !strings.Contains(err.Error(), "comparator") {
		t.Fatalf("open with another comparator: %v", err)
	}
	// The comparator check must not have damaged anything.
	db = mustOpen(t, dir, nil)
	if v, err := db.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("get after failed opens: %q %v", v, err)
	}
	db.Close()
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, dir, nil)
	for i := 0; i < 100; i++ {
		db.Put([]byte(fmt.Sprintf("k%03d", i)), []byte("v"), nil)
	}
	db.Flush()
	db.Put([]byte("in-log"), []byte("only in the WAL"), nil)
	db.Close()
	before := dirListing(t, dir)

	// Several read-only opens at once, each seeing the logged write.
	r1 := mustOpen(t, dir, &Options{ReadOnly: true})
	r2 := mustOpen(t, dir, &Options{ReadOnly: true})
	for _, r := range []*DB{r1, r2} {
		if v, err := r.Get([]byte("in-log")); err != nil || string(v) != "only in the WAL" {
			t.Fatalf("read-only get: %q %v", v, err)
		}
		if err := r.Put([]byte("x"), nil, nil); err != ErrReadOnly {
			t.Fatalf("write to a read-only DB: %v", err)
		}
		if err := r.Flush(); err != ErrReadOnly {
			t.Fatalf("flush of a read-only DB: %v", err)
		}
		if err := r.CompactRange(nil, nil); err != ErrReadOnly {
			t.Fatalf("compaction of a read-only DB: %v", err)
		}
	}
	r1.Close()
	r2.Close()
	if after := dirListing(t, dir); after != before {
		t.Fatalf("read-only opens changed the directory:\n%s\nthen\n%s", before, after)
	}
}

// dirListing renders names, sizes and modification times of dir's files.
func dirListing(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %v\n", e.Name(), fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}

func TestCloseReportsLeaks(t *testing.T) {
	db := mustOpen(t, t.TempDir(), &Options{DebugLeaks: true})
	db.Put([]byte("a"), []byte("b"), nil)
	it := db.NewIterator(nil)
	s := db.NewSnapshot()
	err := db.Close()
	if err == nil || !strings.Contains(err.Error(), "1 iterator(s) and 1 snapshot(s)") ||
		!strings.Contains(err.Error(), "TestCloseReportsLeaks") {
		t.Fatalf("Close with leaks: %v", err)
	}
	it.Close()
	s.Close()

	db = mustOpen(t, t.TempDir(), nil)
	it = db.NewIterator(nil)
	it.Close()
	db.NewSnapshot().Close()
	if err := db.Close(); err != nil {
		t.Fatalf("Close without leaks: %v", err)
	}
}

func TestPropertiesAndSizes(t *testing.T) {
	db := mustOpen(t, t.TempDir(), &Options{WriteBufferSize: 64 << 10, Compression: NoCompression})
	defer db.Close()
	val := bytes.Repeat([]byte("v"), 1000)
	for i := 0; i < 2000; i++ {
		if err := db.Put([]byte(fmt.Sprintf("k%06d", i)), val, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CompactRange(nil, nil); err != nil {
		t.Fatal(err)
	}
	total := 0
	for level := 0; level < 7; level++ {
		for _, prefix := range []string{"strata.", "leveldb."} {
			v, ok := db.Property(prefix + "num-files-at-level" + strconv.Itoa(level))
			if !ok {
				t.Fatalf("no %snum-files-at-level%d", prefix, level)
			}
			n, _ := strconv.Atoi(v)
			if prefix == "strata." {
				total += n
			}
		}
	}
	if total == 0 {
		t.Fatal("no tables after compaction")
	}
	if l0, _ := db.Property("strata.num-files-at-level0"); l0 != "0" {
		t.Fatalf("level 0 not empty after a full compaction: %s", l0)
	}
	for _, name := range []string{"strata.stats", "leveldb.stats", "strata.sstables", "strata.approximate-memory-usage",
		"leveldb.approximate-memory-usage", "strata.block-cache", "strata.total-table-size"} {
		if v, ok := db.Property(name); !ok || v == "" {
			t.Fatalf("property %s missing", name)
		}
	}
	if _, ok := db.Property("strata.no-such-thing"); ok {
		t.Fatal("unknown property answered")
	}
	if _, ok := db.Property("strata.num-files-at-level9"); ok {
		t.Fatal("level 9 answered")
	}
	stats := mustProp(db, "strata.stats")
	if !strings.Contains(stats, "Level  Files Size(MB) Score") {
		t.Fatalf("stats:\n%s", stats)
	}

	sizes, err := db.ApproximateSizes([]Range{
		{Start: []byte("k000000"), Limit: []byte("k001000")},
		{Start: []byte("k001000"), Limit: []byte("k002000")},
		{Start: []byte("k000000"), Limit: nil},
		{Start: []byte("x"), Limit: []byte("z")},
	})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 entries of ~1 KB each ≈ 1 MB per half.
	for i := 0; i < 2; i++ {
		if sizes[i] < 800<<10 || sizes[i] > 1300<<10 {
			t.Fatalf("size of half %d = %d, want about 1 MB", i, sizes[i])
		}
	}
	if sizes[2] < sizes[0]+sizes[1]-10<<10 {
		t.Fatalf("whole range %d smaller than its halves %d+%d", sizes[2], sizes[0], sizes[1])
	}
	if sizes[3] != 0 {
		t.Fatalf("empty range has size %d", sizes[3])
	}
}

func TestObsoleteFilesDeleted(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, dir, &Options{WriteBufferSize: 32 << 10})
	for round := 0; round < 5; round++ {
		for i := 0; i < 1000; i++ {
			db.Put([]byte(fmt.Sprintf("k%05d", i)), []byte(fmt.Sprintf("round %d", round)), nil)
		}
		if err := db.CompactRange(nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	live := map[string]bool{}
	for _, line := range strings.Split(mustProp(db, "strata.sstables"), "\n") {
		for _, f := range strings.Fields(line) {
			if n, err := strconv.Atoi(strings.SplitN(f, ":", 2)[0]); err == nil && strings.Contains(f, ":") {
				live[base.MakeFilename(base.FileTypeTable, uint64(n))] = true
			}
		}
	}
	db.Close()
	var tables, logs, manifests int
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		typ, _, ok := base.ParseFilename(e.Name())
		switch {
		case !ok:
		case typ == base.FileTypeTable:
			tables++
			if len(live) > 0 && !live[e.Name()] {
				t.Errorf("obsolete table %s left behind", e.Name())
			}
		case typ == base.FileTypeLog:
			logs++
		case typ == base.FileTypeManifest:
			manifests++
		}
	}
	if logs != 1 || manifests != 1 || tables == 0 {
		t.Fatalf("after compactions: %d tables, %d logs, %d manifests", tables, logs, manifests)
	}
}

func TestDestroy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db := mustOpen(t, dir, nil)
	db.Put([]byte("a"), []byte("b"), nil)
	if err := Destroy(dir, nil); err == nil {
		t.Fatal("Destroy of an open database succeeded")
	}
	db.Close()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	if err := Destroy(dir, nil); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "notes.txt" {
		t.Fatalf("after Destroy: %v (want only the user's file)", entries)
	}
	os.Remove(filepath.Join(dir, "notes.txt"))
	if err := Destroy(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("empty directory not removed")
	}
}

// TestWriteErrorStopsWrites: a failed WAL write or sync is returned to the
// writer, and every later write fails until reopen; nothing acknowledged is
// lost.
func TestWriteErrorStopsWrites(t *testing.T) {
	for _, kind := range []errorfs.Kind{errorfs.OpWrite, errorfs.OpSync} {
		t.Run(kind.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			fs := errorfs.Wrap(mem)
			db := mustOpen(t, "db", &Options{FS: fs})
			for i := 0; i < 10; i++ {
				if err := db.Put([]byte(fmt.Sprintf("ok%d", i)), []byte("v"), &WriteOptions{Sync: true}); err != nil {
					t.Fatal(err)
				}
			}
			fs.AddRule(errorfs.OnIndex(0).On(kind).Path("*.log"))
			err := db.Put([]byte("failed"), []byte("v"), &WriteOptions{Sync: true})
			if !errors.Is(err, errorfs.ErrInjected) {
				t.Fatalf("write with an injected %s failure: %v", kind, err)
			}
			if err := db.Put([]byte("later"), []byte("v"), nil); err == nil {
				t.Fatal("a write after a failed write succeeded")
			}
			// Reads still work.
			if v, err := db.Get([]byte("ok3")); err != nil || string(v) != "v" {
				t.Fatalf("read after write failure: %q %v", v, err)
			}
			db.Close()
			fs.ClearRules()
			db = mustOpen(t, "db", &Options{FS: fs})
			defer db.Close()
			for i := 0; i < 10; i++ {
				if _, err := db.Get([]byte(fmt.Sprintf("ok%d", i))); err != nil {
					t.Fatalf("acknowledged write ok%d lost: %v", i, err)
				}
			}
			if _, err := db.Get([]byte("later")); err != ErrNotFound {
				t.Fatalf("a write that failed is present: %v", err)
			}
			if err := db.Put([]byte("after-reopen"), []byte("v"), nil); err != nil {
				t.Fatalf("write after reopen: %v", err)
			}
		})
	}
}

// TestOpenErrorsSayWhatFailed: a database held by another handle is "in
// use" (ErrLocked); a lock file that cannot be created says why (here: the
// path is not a directory, or the directory is read-only), not "in use".
func TestOpenErrorsSayWhatFailed(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, dir, nil)
	_, err := Open(dir, nil)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v", err)
	}
	if _, err := Repair(dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("repair of an open database: %v", err)
	}
	db.Close()

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	_, err = Open(filepath.Join(file, "db"), nil)
	if err == nil || errors.Is(err, ErrLocked) || strings.Contains(err.Error(), "in use") ||
		!strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("open under a file: %v", err)
	}
	// A directory entry the lock file cannot be created in, through a file
	// system that refuses writes (as a read-only mount does).
	ro := &readOnlyFS{FS: NewMemFS()}
	ro.FS.MkdirAll("/db", 0o755)
	_, err = Open("/db", &Options{FS: ro})
	if err == nil || errors.Is(err, ErrLocked) || strings.Contains(err.Error(), "in use") ||
		!strings.Contains(err.Error(), "read-only file system") {
		t.Fatalf("open on a read-only file system: %v", err)
	}
}

// readOnlyFS fails every call that would write, as a read-only mount does.
type readOnlyFS struct{ FS }

func (f *readOnlyFS) Create(name string) (File, error) {
	return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EROFS}
}
func (f *readOnlyFS) Lock(name string) (io.Closer, error) {
	return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EROFS}
}
func (f *readOnlyFS) MkdirAll(dir string, perm os.FileMode) error { return nil }

// TestIteratorAfterClose: an iterator left open when its DB is closed stops
// with ErrClosed at its next move, instead of going on reading.
func TestIteratorAfterClose(t *testing.T) {
	db := mustOpen(t, "db", &Options{FS: NewMemFS()})
	for i := range 100 {
		db.Put(fmt.Appendf(nil, "k%03d", i), []byte("v"), nil)
	}
	db.Flush()
	it := db.NewIterator(nil)
	if !it.First() {
		t.Fatal(it.Err())
	}
	if err := db.Close(); err == nil {
		t.Fatal("Close with an open iterator reported nothing")
	}
	for name, move := range map[string]func() bool{
		"Next": it.Next, "Seek": func() bool { return it.Seek([]byte("k050")) }, "First": it.First, "Last": it.Last, "Valid": it.Valid,
	} {
		if move() {
			t.Fatalf("%s after Close: valid", name)
		}
	}
	if err := it.Err(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Err after Close: %v", err)
	}
	if err := it.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("iterator Close after DB Close: %v", err)
	}
}

// TestSizeLimits: a key over MaxKeySize or a value over MaxValueSize is
// refused with a clear error (ErrKeyTooLarge, ErrValueTooLarge), by Write
// and by TableWriter; at the limits they are accepted; the info log never
// holds a whole key (a 16 MiB key made a 33 MB LOG line on every open).
func TestSizeLimits(t *testing.T) {
	fs := NewMemFS()
	o := &Options{FS: fs, MaxKeySize: 1 << 10, MaxValueSize: 4 << 10}
	db := mustOpen(t, "/db", o)
	if err := db.Put(make([]byte, 1<<10), make([]byte, 4<<10), nil); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	err := db.Put(make([]byte, 1<<10+1), nil, nil)
	if !errors.Is(err, ErrKeyTooLarge) || !strings.Contains(err.Error(), "MaxKeySize") {
		t.Fatalf("key over the limit: %v", err)
	}
	b := db.NewBatch()
	b.Put([]byte("k"), nil)
	b.Delete(make([]byte, 2<<10))
	if err := db.Write(b, nil); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("delete of a key over the limit: %v", err)
	}
	var big Batch
	big.Put([]byte("k"), make([]byte, 4<<10+1))
	var c Batch
	if err := c.SetRepr(big.Repr()); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(&c, nil); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("value over the limit through SetRepr: %v", err)
	}
	if _, err := db.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused batch wrote something: %v", err)
	}
	w, err := NewTableWriter("/t.ldb", o)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(make([]byte, 2<<10), nil); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("TableWriter: %v", err)
	}
	w.Close()
	db.Close()

	// The default limits: 64 KiB keys; and the LOG of an open shows no key.
	db = mustOpen(t, "/db2", &Options{FS: fs})
	long := bytes.Repeat([]byte("K"), 64<<10)
	if err := db.Put(long, []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(append(long, 'x'), []byte("v"), nil); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("default key limit: %v", err)
	}
	db.Flush()
	db.Close()
	db = mustOpen(t, "/db2", &Options{FS: fs})
	db.Close()
	f, err := fs.Open("/db2/LOG")
	if err != nil {
		t.Fatal(err)
	}
	logText, _ := io.ReadAll(f)
	f.Close()
	if bytes.Contains(logText, bytes.Repeat([]byte("K"), 100)) {
		t.Fatalf("the LOG holds the key (%d bytes of LOG)", len(logText))
	}
}

// TestMaxOpenFilesCappedByRlimit: MaxOpenFiles never exceeds what
// RLIMIT_NOFILE leaves.
func TestMaxOpenFilesCappedByRlimit(t *testing.T) {
	limit := vfs.OpenFileLimit()
	if limit == 0 {
		t.Skip("no file limit here")
	}
	o := (&Options{MaxOpenFiles: limit * 2}).withDefaults()
	if o.MaxOpenFiles > limit-fileLimitMargin && o.MaxOpenFiles != 20 {
		t.Fatalf("MaxOpenFiles %d with RLIMIT_NOFILE %d", o.MaxOpenFiles, limit)
	}
}

// TestMaxOpenFilesDefault: the default is a quarter of the descriptor
// limit, never below LevelDB's 1000 and never past what the limit leaves.
func TestMaxOpenFilesDefault(t *testing.T) {
	for _, c := range []struct{ limit, want int }{{0, 1000}, {1024, 1000}, {4000, 1000}, {20000, 5000}, {1 << 20, 1 << 18}} {
		if got := defaultMaxOpenFiles(c.limit); got != c.want {
			t.Errorf("defaultMaxOpenFiles(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
	limit := vfs.OpenFileLimit()
	o := (&Options{}).withDefaults()
	if limit > 0 && o.MaxOpenFiles > limit-fileLimitMargin && o.MaxOpenFiles != 20 {
		t.Fatalf("default MaxOpenFiles %d with RLIMIT_NOFILE %d", o.MaxOpenFiles, limit)
	}
	if limit >= 4*1000+fileLimitMargin && o.MaxOpenFiles != limit/4 {
		t.Errorf("default MaxOpenFiles %d with RLIMIT_NOFILE %d, want %d", o.MaxOpenFiles, limit, limit/4)
	}
}

// TestOpenCreatesOnlyTheLastComponent: Open creates a missing database
// directory as mkdir does, and refuses (naming it) a missing parent rather
// than creating a tree of directories for a mistyped path.
func TestOpenCreatesOnlyTheLastComponent(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "no", "such", "db")
	if _, err := Open(deep, nil); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "no", "such")+" does not exist") {
		t.Fatalf("Open under a missing parent: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); !os.IsNotExist(err) {
		t.Fatalf("Open created a parent: %v", err)
	}
	mustOpen(t, filepath.Join(dir, "db"), nil).Close()
}
