package strata

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/record"
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

// logRecordOffsets returns the offset of each record of the log at path.
func logRecordOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var offs []int64
	if err := record.NewReader(f, path).Each(nil, func(_ []byte, off int64) error {
		offs = append(offs, off)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return offs
}

// TestWALRecoveryModes: a damaged record in the middle of a log (50
// batches of 10 keys, batch 25 damaged), under each WALRecoveryMode. The
// default, point-in-time, recovers exactly the batches before the damage (a
// prefix of the writes), says so in RecoveryReport and LOG, and keeps the
// log in lost/ with a note; it no longer skips the damage and replays the
// rest (the recovered state was then not a prefix), nor deletes the log.
func TestWALRecoveryModes(t *testing.T) {
	const batches, damaged = 50, 25
	// A damaged chunk costs the rest of its 32 KiB block (the log format
	// resynchronizes at the next block): intact[j] says whether batch j's
	// record survives the damage.
	var intact []bool
	build := func(t *testing.T) (dir, log string) {
		dir = t.TempDir()
		buildCorruptionDB(t, dir, batches*10, false)
		logs := filesOfType(t, dir, base.FileTypeLog)
		if len(logs) != 1 {
			t.Fatalf("logs: %v", logs)
		}
		offs := logRecordOffsets(t, logs[0])
		if len(offs) != batches+1 { // the header record, then one per batch
			t.Fatalf("%d records in the log, want %d", len(offs), batches+1)
		}
		flipByte(t, logs[0], offs[1+damaged]+20)
		blockEnd := (offs[1+damaged]/record.BlockSize + 1) * record.BlockSize
		intact = intact[:0]
		for j := range batches {
			intact = append(intact, j < damaged || offs[1+j] >= blockEnd)
		}
		return dir, logs[0]
	}
	after := func() int { // intact records after the damaged one
		n := 0
		for j := damaged + 1; j < batches; j++ {
			if intact[j] {
				n++
			}
		}
		return n
	}
	present := func(t *testing.T, db *DB) []bool {
		var got []bool
		for i := 0; i < batches*10; i++ {
			v, err := db.Get(corruptionKey(i))
			switch {
			case err == nil && string(v) == string(corruptionValue(i)):
				got = append(got, true)
			case errors.Is(err, ErrNotFound):
				got = append(got, false)
			default:
				t.Fatalf("key %d: %q, %v", i, v, err)
			}
		}
		return got
	}
	for _, mode := range []WALRecoveryMode{WALTolerateCorruptedTailRecords, WALAbsoluteConsistency} {
		dir, log := build(t)
		_, err := Open(dir, &Options{WALRecoveryMode: mode})
		wantCorruption(t, err, log)
		if !strings.Contains(err.Error(), mode.String()) {
			t.Fatalf("%s: the error does not name the mode: %v", mode, err)
		}
	}
	dir, log := build(t)
	_, err := Open(dir, &Options{ParanoidChecks: true, WALRecoveryMode: WALSkipAnyCorruptedRecords})
	wantCorruption(t, err, log)

	t.Run("point-in-time", func(t *testing.T) {
		dir, log := build(t)
		db := mustOpen(t, dir, nil)
		got := present(t, db)
		for i, ok := range got {
			if ok != (i < damaged*10) {
				t.Fatalf("key %d present=%v: want exactly the %d batches before the damage", i, ok, damaged)
			}
		}
		r := db.RecoveryReport()
		if !r.DataLost() || !r.Stopped || len(r.Damage) == 0 || r.NotReplayed != after() || after() == 0 ||
			r.Mode != WALPointInTime || len(r.MovedToLost) != 1 || !strings.Contains(r.String(), filepath.Base(log)) {
			t.Fatalf("report: %+v", r)
		}
		db.Close()
		note, err := os.ReadFile(filepath.Join(dir, r.MovedToLost[0]+".txt"))
		if err != nil || !strings.Contains(string(note), fmt.Sprintf("%d intact record(s)", after())) {
			t.Fatalf("note in lost/: %q, %v", note, err)
		}
		if kept, err := os.ReadFile(filepath.Join(dir, r.MovedToLost[0])); err != nil || len(kept) == 0 {
			t.Fatalf("the damaged log is not kept in lost/: %v", err)
		}
		logText, _ := os.ReadFile(filepath.Join(dir, "LOG"))
		if !strings.Contains(string(logText), "recovery stops here") {
			t.Fatalf("LOG does not report the damage:\n%s", logText)
		}
		// Reopened: the recovered state holds, and nothing more is lost.
		db = mustOpen(t, dir, nil)
		defer db.Close()
		if r := db.RecoveryReport(); r.DataLost() {
			t.Fatalf("second open reports loss: %+v", r)
		}
		if again := present(t, db); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatal("the state changed on reopen")
		}
	})
	t.Run("skip-any", func(t *testing.T) {
		dir, _ := build(t)
		db := mustOpen(t, dir, &Options{WALRecoveryMode: WALSkipAnyCorruptedRecords})
		defer db.Close()
		for i, ok := range present(t, db) {
			if ok != intact[i/10] {
				t.Fatalf("key %d present=%v: want every intact batch", i, ok)
			}
		}
		if r := db.RecoveryReport(); !r.DataLost() || r.Stopped || len(r.Damage) != 1 {
			t.Fatalf("report: %+v", r)
		}
	})
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
	if len(report.Holes) != 1 || !strings.Contains(report.Holes[0].Source, filepath.Base(tables[0])) {
		t.Fatalf("holes: %v", report.Holes)
	}
	// The damaged block's keys fail with ErrHole until the loss is
	// accepted; then they are absent. Every other key reads right.
	check := func(db *DB, wantErr error) {
		t.Helper()
		failed := 0
		for i := 0; i < n+100; i++ {
			v, err := db.Get(corruptionKey(i))
			switch {
			case errors.Is(err, wantErr):
				failed++
			case err != nil:
				t.Fatalf("key %d after repair: %v", i, err)
			case string(v) != string(corruptionValue(i)):
				t.Fatalf("key %d after repair: wrong value", i)
			}
		}
		if failed == 0 || failed > 100 {
			t.Fatalf("%d keys failed with %v after repair; want only the damaged block's", failed, wantErr)
		}
	}
	db = mustOpen(t, dir, &Options{ErrorIfNotExists: true})
	check(db, ErrHole)
	db.Close()
	if err := ClearHoles(dir, nil); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, dir, &Options{ErrorIfNotExists: true})
	defer db.Close()
	check(db, ErrNotFound)
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

// TestTornManifestAfterDamage: a MANIFEST cut inside its last record whose
// edit was acted on (the flush's log it retired is deleted) must not open:
// dropping the edit would bring back the state before the flush without
// its writes. Repair recovers everything; and the table the lost edit
// named is never overwritten by a new file of the same number.
func TestTornManifestAfterDamage(t *testing.T) {
	for _, paranoid := range []bool{false, true} {
		dir := t.TempDir()
		db := mustOpen(t, dir, nil)
		db.Put([]byte("k1"), []byte("v1"), nil)
		db.Flush()
		db.Put([]byte("k1"), []byte("v2"), nil)
		db.Put([]byte("k2"), []byte("v2"), nil)
		db.Flush() // the last edit names this table and retires its log
		db.Close()
		tables := filesOfType(t, dir, base.FileTypeTable)
		last := tables[len(tables)-1]
		before, _ := os.ReadFile(last)
		m := filesOfType(t, dir, base.FileTypeManifest)[0]
		fi, _ := os.Stat(m)
		if err := os.Truncate(m, fi.Size()-3); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, &Options{ParanoidChecks: paranoid})
		if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "torn") {
			t.Fatalf("paranoid=%v: open with a torn, acted-on last edit: %v", paranoid, err)
		}
		if after, _ := os.ReadFile(last); !bytes.Equal(before, after) {
			t.Fatalf("the refused open changed %s", last)
		}
		if _, err := Repair(dir, nil); err != nil {
			t.Fatal(err)
		}
		db = mustOpen(t, dir, nil)
		for k, want := range map[string]string{"k1": "v2", "k2": "v2"} {
			if v, err := db.Get([]byte(k)); err != nil || string(v) != want {
				t.Fatalf("after repair %s = %q, %v; want %q", k, v, err, want)
			}
		}
		db.Close()
	}
}

// TestTornManifestAfterCrash: a torn last edit whose logs are all still
// there is what a crash while the edit was written leaves: Open drops the
// edit and replays the log (nothing is lost), the table only that edit
// named goes to lost/ (no MANIFEST names it: not ours to delete), and the
// replay's new tables do not reuse its number. ParanoidChecks refuses.
func TestTornManifestAfterCrash(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, dir, nil)
	db.Put([]byte("k1"), []byte("v1"), nil)
	db.Flush()
	db.Put([]byte("k2"), []byte("v2"), nil)
	db.Close() // k2 only in the log
	m := filesOfType(t, dir, base.FileTypeManifest)[0]
	good, _ := os.ReadFile(m)
	// Flush k2 in a copy of the database, to get the table and the edit a
	// crash would have left half written: the copy's table and the first
	// bytes of its edit, grafted onto the original.
	cp := t.TempDir()
	copyDir(t, dir, cp)
	db = mustOpen(t, cp, nil)
	db.Flush()
	db.Close()
	cm := filesOfType(t, cp, base.FileTypeManifest)[0]
	full, _ := os.ReadFile(cm)
	// The copy's Open started a new MANIFEST; find the table its edits
	// added that the original does not have.
	var stray string
	for _, p := range filesOfType(t, cp, base.FileTypeTable) {
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(p))); errors.Is(err, os.ErrNotExist) {
			stray = p
		}
	}
	if stray == "" {
		t.Fatal("the copy's flush wrote no new table")
	}
	strayBytes, _ := os.ReadFile(stray)
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(stray)), strayBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	// A torn record: a chunk header promising more bytes than follow.
	torn := append(bytes.Clone(good), full[len(full)-40:len(full)-20]...)
	torn[len(good)+4], torn[len(good)+5] = 200, 0 // length 200, only 13 bytes of payload
	torn[len(good)+6] = 1                         // a FULL chunk
	if err := os.WriteFile(m, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, &Options{ParanoidChecks: true}); !errors.Is(err, ErrCorruption) {
		t.Fatalf("ParanoidChecks opened a torn MANIFEST: %v", err)
	}
	db = mustOpen(t, dir, nil)
	for k, want := range map[string]string{"k1": "v1", "k2": "v2"} {
		if v, err := db.Get([]byte(k)); err != nil || string(v) != want {
			t.Fatalf("%s = %q, %v; want %q", k, v, err, want)
		}
	}
	db.Close()
	moved, err := os.ReadFile(filepath.Join(dir, lostDirName, filepath.Base(stray)))
	if err != nil || !bytes.Equal(moved, strayBytes) {
		t.Fatalf("the unnamed table is not in lost/ intact: %v", err)
	}
}

// TestOpenRefusesDirectoryWithoutCurrent: with CURRENT gone, Open in any
// mode refuses a directory that holds tables or logs, naming what it found
// and Repair, and changes nothing there; Repair then recovers everything.
// (Creating a new database there made every table obsolete: all deleted.)
func TestOpenRefusesDirectoryWithoutCurrent(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, dir, nil)
	for i := range 1000 {
		db.Put(fmt.Appendf(nil, "k%04d", i), []byte("v"), nil)
		if i == 500 {
			db.Flush()
		}
	}
	db.Close()
	if err := os.Remove(filepath.Join(dir, "CURRENT")); err != nil {
		t.Fatal(err)
	}
	listing := func() string {
		var names []string
		for _, n := range mustList(t, dir) {
			if n != "LOCK" {
				names = append(names, n)
			}
		}
		return strings.Join(names, " ")
	}
	before := listing()
	for _, o := range []*Options{nil, {ErrorIfNotExists: true}, {ReadOnly: true}} {
		_, err := Open(dir, o)
		if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "CURRENT") ||
			!strings.Contains(err.Error(), "Repair") || !strings.Contains(err.Error(), "1 tables") {
			t.Fatalf("Open(%+v) without CURRENT: %v", o, err)
		}
		if after := listing(); after != before {
			t.Fatalf("Open(%+v) changed the directory:\n%s\n%s", o, before, after)
		}
	}
	if _, err := Repair(dir, nil); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, dir, nil)
	defer db.Close()
	n := 0
	it := db.NewIterator(nil)
	for range it.All() {
		n++
	}
	it.Close()
	if n != 1000 {
		t.Fatalf("after repair %d keys, want 1000", n)
	}
}

// mustList returns the sorted names in dir.
func mustList(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestOpenKeepsUnnamedTables: at open, a table no MANIFEST edit names is
// moved to lost/, never deleted, whatever its number.
func TestOpenKeepsUnnamedTables(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, dir, nil)
	db.Put([]byte("a"), []byte("1"), nil)
	db.Flush()
	db.Close()
	table := filesOfType(t, dir, base.FileTypeTable)[0]
	data, _ := os.ReadFile(table)
	for _, name := range []string{"000001.ldb", "999999.ldb"} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db = mustOpen(t, dir, nil)
	if r := db.RecoveryReport(); len(r.MovedToLost) != 2 || r.DataLost() {
		t.Fatalf("report: %+v", r)
	}
	db.Close()
	for _, name := range []string{"000001.ldb", "999999.ldb"} {
		if b, err := os.ReadFile(filepath.Join(dir, lostDirName, name)); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("%s not moved to lost/ intact: %v", name, err)
		}
	}
}

// TestDamagedTableSparesOtherReads: a truncated table fails only the reads
// that need it, with its name and an offset; reads of keys in other tables
// work, through a read-only handle (which opens every table up front) as
// through a writable one.
func TestDamagedTableSparesOtherReads(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, dir, &Options{DisableAutoCompactions: true})
	for _, prefix := range []string{"a", "b", "c"} {
		for i := range 100 {
			db.Put(fmt.Appendf(nil, "%s%03d", prefix, i), []byte("v"), nil)
		}
		db.Flush()
	}
	db.Close()
	tables := filesOfType(t, dir, base.FileTypeTable)
	if len(tables) != 3 {
		t.Fatalf("tables: %v", tables)
	}
	damaged := tables[1] // the b keys
	fi, _ := os.Stat(damaged)
	truncateFile(t, damaged, fi.Size()/2)
	for _, o := range []*Options{{ReadOnly: true}, {DisableAutoCompactions: true}} {
		db, err := Open(dir, o)
		if err != nil {
			t.Fatalf("Open(%+v) with a damaged table: %v", o, err)
		}
		for _, k := range []string{"a050", "c050"} {
			if v, err := db.Get([]byte(k)); err != nil || string(v) != "v" {
				t.Fatalf("Open(%+v): %s = %q, %v", o, k, v, err)
			}
		}
		_, err = db.Get([]byte("b050"))
		wantCorruption(t, err, damaged)
		db.Close()
	}
}

// TestRepairHealthyLeavesNothing: repairing a healthy database keeps every
// key and leaves nothing in lost/ (it grew on every repair: old MANIFESTs
// and converted logs were archived whatever their state), while a repair
// that finds damage keeps the damaged file there.
func TestRepairHealthyLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	buildCorruptionDB(t, dir, 500, true)
	db := mustOpen(t, dir, nil)
	db.Put([]byte("in-the-log"), []byte("v"), nil)
	db.Close()
	for range 3 {
		if _, err := Repair(dir, nil); err != nil {
			t.Fatal(err)
		}
	}
	if names, err := os.ReadDir(filepath.Join(dir, lostDirName)); err == nil && len(names) > 0 {
		t.Fatalf("repairs of a healthy database left %d files in lost/", len(names))
	}
	db = mustOpen(t, dir, nil)
	for i := range 500 {
		if v, err := db.Get(corruptionKey(i)); err != nil || string(v) != string(corruptionValue(i)) {
			t.Fatalf("key %d after repairs: %v", i, err)
		}
	}
	if _, err := db.Get([]byte("in-the-log")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	tables := filesOfType(t, dir, base.FileTypeTable)
	flipByte(t, tables[0], 100)
	if _, err := Repair(dir, nil); err != nil {
		t.Fatal(err)
	}
	if names, _ := os.ReadDir(filepath.Join(dir, lostDirName)); len(names) == 0 {
		t.Fatal("a repair that found damage kept nothing in lost/")
	}
}

// TestRepairNeverResurrects: a table of newer values and deletions above a
// table of older values; a data block of the newer one is damaged and
// Repair drops it. Its keys' newest versions are gone, and the older ones
// below would show through (overwritten values back, deleted keys back:
// 45 of 200 hostile trials did so). Now Repair reports the range as a hole,
// and until ClearHoles every read there fails with ErrHole; no read
// anywhere returns a stale or deleted value without an error.
func TestRepairNeverResurrects(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			dir := t.TempDir()
			o := &Options{DisableAutoCompactions: true, BlockSize: 512, Compression: NoCompression}
			db := mustOpen(t, dir, o)
			const n = 2000
			key := func(i int) []byte { return fmt.Appendf(nil, "k%05d", i) }
			for i := range n {
				db.Put(key(i), []byte("old"), nil)
			}
			if err := db.CompactRange(nil, nil); err != nil {
				t.Fatal(err)
			}
			model := map[string]string{} // the newest value of each key
			for i := range n {
				switch rng.IntN(3) {
				case 0:
					db.Put(key(i), []byte("new"), nil)
					model[string(key(i))] = "new"
				case 1:
					db.Delete(key(i), nil)
				default:
					model[string(key(i))] = "old"
				}
			}
			db.Flush()
			db.Close()
			tables := filesOfType(t, dir, base.FileTypeTable)
			newest := tables[len(tables)-1]
			fi, _ := os.Stat(newest)
			flipByte(t, newest, int64(rng.IntN(int(fi.Size())/2)))

			report, err := Repair(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(report.Holes) == 0 {
				t.Fatalf("Repair reported no hole: %+v", report)
			}
			db = mustOpen(t, dir, o)
			defer db.Close()
			if len(db.Holes()) != len(report.Holes) {
				t.Fatalf("DB.Holes %v, report %v", db.Holes(), report.Holes)
			}
			inHole := 0
			for i := range n {
				v, err := db.Get(key(i))
				want, live := model[string(key(i))]
				switch {
				case errors.Is(err, ErrHole):
					inHole++
				case err == nil && (!live || string(v) != want):
					t.Fatalf("key %d = %q after repair; newest is %q (live %v): a resurrection", i, v, want, live)
				case errors.Is(err, ErrNotFound) && live:
					t.Fatalf("key %d lost without an error", i)
				case err != nil && !errors.Is(err, ErrNotFound):
					t.Fatalf("key %d: %v", i, err)
				}
			}
			if inHole == 0 {
				t.Fatal("no read failed in the hole")
			}
			// Scans: forward and backward, right entries until a hole stops
			// them with ErrHole.
			for _, backward := range []bool{false, true} {
				it := db.NewIterator(nil)
				ok := it.First()
				if backward {
					ok = it.Last()
				}
				for ; ok; ok = map[bool]func() bool{false: it.Next, true: it.Prev}[backward]() {
					if want, live := model[string(it.Key())]; !live || string(it.Value()) != want {
						t.Fatalf("scan: %s = %q, newest %q (live %v)", it.Key(), it.Value(), want, live)
					}
				}
				if err := it.Close(); !errors.Is(err, ErrHole) {
					t.Fatalf("a scan across the hole ended with %v", err)
				}
			}
		})
	}
}
