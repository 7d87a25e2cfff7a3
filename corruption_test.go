package strata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// Corruption tests (LevelDB's corruption_test in spirit): flip bytes in
// each kind of file and check the damage is reported with the file and the
// offset, and never returned as data.

func corruptionKey(i int) []byte { return []byte(fmt.Sprintf("key%06d", i)) }
func corruptionValue(i int) []byte {
	return []byte(fmt.Sprintf("value%06d-%s", i, strings.Repeat("x", 50)))
}

// buildCorruptionDB writes n keys; with flush they end up in tables and the
// log is empty.
func buildCorruptionDB(t *testing.T, dir string, n int, flush bool) {
	t.Helper()
	db, err := Open(dir, &Options{Compression: NoCompression, BlockSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	for i := 0; i < n; i++ {
		b.Put(corruptionKey(i), corruptionValue(i))
		if b.Len() == 10 {
			if err := db.Write(b, nil); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	if err := db.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	if flush {
		if err := db.CompactRange(nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func filesOfType(t *testing.T, dir string, ft base.FileType) []string {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range names {
		if typ, _, ok := base.ParseFilename(e.Name()); ok && typ == ft {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	xorByte(t, path, off, 0x55)
}

// xorByte XORs the byte at off (from the end if negative) with mask.
func xorByte(t *testing.T, path string, off int64, mask byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(data))
	}
	data[off] ^= mask
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantCorruption checks err is a corruption error naming file (base name)
// with a known offset.
func wantCorruption(t *testing.T, err error, file string) {
	t.Helper()
	var ce *CorruptionError
	if !errors.Is(err, ErrCorruption) || !errors.As(err, &ce) {
		t.Fatalf("got %v, want a corruption error", err)
	}
	if !strings.Contains(ce.File, filepath.Base(file)) || ce.Offset < 0 {
		t.Fatalf("corruption error %q does not name %s with an offset", err, filepath.Base(file))
	}
}

func TestCorruptTableBlock(t *testing.T) {
	dir := t.TempDir()
	const n = 2000
	buildCorruptionDB(t, dir, n, true)
	tables := filesOfType(t, dir, base.FileTypeTable)
	if len(tables) == 0 {
		t.Fatal("no tables")
	}
	flipByte(t, tables[0], 100) // inside the first data block
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The first keys live in the damaged block.
	_, err = db.Get(corruptionKey(0))
	wantCorruption(t, err, tables[0])
	// Every read either fails with corruption or returns the right value.
	bad := 0
	for i := 0; i < n; i++ {
		v, err := db.Get(corruptionKey(i))
		switch {
		case err == nil && string(v) != string(corruptionValue(i)):
			t.Fatalf("key %d: wrong value %q", i, v)
		case err != nil:
			wantCorruption(t, err, tables[0])
			bad++
		}
	}
	if bad == 0 || bad > n/2 {
		t.Fatalf("%d of %d keys unreadable; want the damaged block's keys only", bad, n)
	}
	it := db.NewIterator(nil)
	for ok := it.First(); ok; ok = it.Next() {
	}
	wantCorruption(t, it.Close(), tables[0])
}

func TestCorruptLogRecord(t *testing.T) {
	dir := t.TempDir()
	buildCorruptionDB(t, dir, 500, false)
	logs := filesOfType(t, dir, base.FileTypeLog)
	if len(logs) != 1 {
		t.Fatalf("logs: %v", logs)
	}
	flipByte(t, logs[0], 20) // inside the first record
	_, err := Open(dir, &Options{ParanoidChecks: true})
	wantCorruption(t, err, logs[0])

	// Without ParanoidChecks the damage is skipped (and logged), and what
	// survives is correct.
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	found := 0
	for i := 0; i < 500; i++ {
		v, err := db.Get(corruptionKey(i))
		if err == nil {
			found++
			if string(v) != string(corruptionValue(i)) {
				t.Fatalf("key %d: wrong value", i)
			}
		} else if err != ErrNotFound {
			t.Fatal(err)
		}
	}
	if found == 0 || found == 500 {
		t.Fatalf("found %d of 500 keys after skipping a damaged record", found)
	}
	logText, _ := os.ReadFile(filepath.Join(dir, "LOG"))
	if !strings.Contains(string(logText), "WAL damaged") {
		t.Fatalf("the info log does not report the skipped damage:\n%s", logText)
	}
}

func TestCorruptManifest(t *testing.T) {
	dir := t.TempDir()
	buildCorruptionDB(t, dir, 500, true)
	manifests := filesOfType(t, dir, base.FileTypeManifest)
	if len(manifests) != 1 {
		t.Fatalf("manifests: %v", manifests)
	}
	flipByte(t, manifests[0], 10)
	_, err := Open(dir, nil)
	wantCorruption(t, err, manifests[0])
}

func TestCorruptCurrent(t *testing.T) {
	dir := t.TempDir()
	buildCorruptionDB(t, dir, 10, false)
	current := filepath.Join(dir, "CURRENT")
	if err := os.WriteFile(current, []byte("MANIFEST-000999"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, nil)
	wantCorruption(t, err, current)
	if err := os.WriteFile(current, []byte("MANIFEST-000999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, nil)
	wantCorruption(t, err, current)
}

func TestMissingTable(t *testing.T) {
	dir := t.TempDir()
	buildCorruptionDB(t, dir, 500, true)
	tables := filesOfType(t, dir, base.FileTypeTable)
	os.Remove(tables[0])
	_, err := Open(dir, nil)
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("got %v, want a corruption error about a missing table", err)
	}
}

// TestRepair: after a table block is damaged and the MANIFEST is lost,
// Repair keeps every intact entry (from tables and from the log), drops the
// damaged block's entries, and never returns wrong data.
func TestRepair(t *testing.T) {
	dir := t.TempDir()
	const n = 3000
	buildCorruptionDB(t, dir, n, true)
	// More writes that stay in the log.
	db := mustOpen(t, dir, nil)
	for i := n; i < n+100; i++ {
		db.Put(corruptionKey(i), corruptionValue(i), nil)
	}
	db.Close()
	tables := filesOfType(t, dir, base.FileTypeTable)
	flipByte(t, tables[0], 100)
	for _, m := range filesOfType(t, dir, base.FileTypeManifest) {
		os.Remove(m)
	}
	if _, err := Open(dir, nil); err == nil {
		t.Fatal("opened without a MANIFEST")
	}
	report, err := Repair(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if report.DamagedTables != 1 || report.LogsConverted == 0 || len(report.Problems) == 0 {
		t.Fatalf("report: %+v", report)
	}
	if !strings.Contains(report.Problems[0], filepath.Base(tables[0])) {
		t.Fatalf("problem does not name the table: %v", report.Problems)
	}
	db = mustOpen(t, dir, &Options{ErrorIfNotExists: true})
	defer db.Close()
	missing := 0
	for i := 0; i < n+100; i++ {
		v, err := db.Get(corruptionKey(i))
		switch {
		case err == ErrNotFound:
			missing++
		case err != nil:
			t.Fatalf("key %d after repair: %v", i, err)
		case string(v) != string(corruptionValue(i)):
			t.Fatalf("key %d after repair: wrong value", i)
		}
	}
	if missing == 0 || missing > 100 {
		t.Fatalf("%d keys missing after repair; want only the damaged block's", missing)
	}
	for i := n; i < n+100; i++ {
		if _, err := db.Get(corruptionKey(i)); err != nil {
			t.Fatalf("logged key %d lost by repair: %v", i, err)
		}
	}
	if l0 := mustProp(db, "strata.num-files-at-level0"); l0 != "0" {
		t.Fatalf("repair left %s files in level 0", l0)
	}
	lost, _ := os.ReadDir(filepath.Join(dir, "lost"))
	if len(lost) == 0 {
		t.Fatal("nothing archived in lost/")
	}
}

// TestTornManifestKeepsTables: when recovery drops a torn last MANIFEST
// record, the tables only that record named are moved to lost/, not
// deleted: if the tear was damage rather than a crash, they hold data no
// log has any more.
func TestTornManifestKeepsTables(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, dir, nil)
	db.Put([]byte("k1"), []byte("v1"), nil)
	db.Flush()
	db.Put([]byte("k2"), []byte("v2"), nil)
	db.Flush() // the last edit names k2's table and retires its log
	db.Close()
	tablesBefore := filesOfType(t, dir, base.FileTypeTable)
	m := filesOfType(t, dir, base.FileTypeManifest)[0]
	fi, _ := os.Stat(m)
	if err := os.Truncate(m, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, dir, nil)
	db.Close()
	lost, _ := os.ReadDir(filepath.Join(dir, "lost"))
	if len(lost) == 0 {
		t.Fatalf("no table moved to lost/ (tables before: %v, after: %v)", tablesBefore, filesOfType(t, dir, base.FileTypeTable))
	}
}
