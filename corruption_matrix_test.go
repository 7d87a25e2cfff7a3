package strata

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/sstable"
)

// The corruption matrix (LevelDB's corruption_test and log_test, as a
// table): for each kind of file and structure in it — a table's data
// block, index block, metaindex, filter block and footer, a log record,
// a MANIFEST record, CURRENT — flip bits and truncate, then check:
//
//   - a default Open either fails with a corruption error naming the file
//     and an offset, or succeeds; every read then returns the right value
//     or such an error, never wrong data, and only keys the damage can
//     explain are unreadable;
//   - an Open with ParanoidChecks refuses the damage the row says it must;
//   - Repair keeps every intact table (and every intact block of a damaged
//     table's, and every intact log record), and the repaired database
//     returns no wrong data.
//
// The database has unique keys, each written once, so a value is either
// the one written or absent: no stale value can pass for a right one.
// Keys 0-2999 are compacted into level 1 tables; 3000-3999 are flushed
// into one more table; 4000-4499 are only in the log.

const (
	cmTableKeys = 3000
	cmFlushKeys = 1000
	cmLogKeys   = 500
	cmKeys      = cmTableKeys + cmFlushKeys + cmLogKeys
)

func cmOptions() *Options {
	return &Options{BlockSize: 1024, TargetFileSize: 64 << 10, Compression: SnappyCompression,
		Logger: slog.New(slog.DiscardHandler)}
}

// cmGolden builds the database in the test's temporary directory, removed
// once every row (the parallel subtests) has finished with it.
func cmGolden(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "db")
	if err := cmBuild(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func cmBuild(dir string) error {
	db, err := Open(dir, cmOptions())
	if err != nil {
		return err
	}
	write := func(from, to int) error {
		b := db.NewBatch()
		for i := from; i < to; i++ {
			b.Put(corruptionKey(i), corruptionValue(i))
			if b.Len() == 10 || i == to-1 {
				if err := db.Write(b, nil); err != nil {
					return err
				}
				b.Reset()
			}
		}
		return nil
	}
	if err := write(0, cmTableKeys); err != nil {
		return err
	}
	if err := db.CompactRange(nil, nil); err != nil {
		return err
	}
	if err := write(cmTableKeys, cmTableKeys+cmFlushKeys); err != nil {
		return err
	}
	if err := db.Flush(); err != nil {
		return err
	}
	if err := write(cmTableKeys+cmFlushKeys, cmKeys); err != nil {
		return err
	}
	return db.Close()
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "LOCK" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cmTable is a table of the golden database and its structure.
type cmTable struct {
	path   string
	layout *sstable.Layout
	first  int // the table's key range, as key numbers
	last   int
}

func keyNum(ukey []byte) int {
	var n int
	fmt.Sscanf(string(ukey), "key%06d", &n)
	return n
}

// cmTables describes the tables of dir, in key order.
func cmTables(t *testing.T, dir string) []cmTable {
	t.Helper()
	var out []cmTable
	for _, path := range filesOfType(t, dir, base.FileTypeTable) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		r, err := sstable.NewReader(f, fi.Size(), sstable.ReaderOptions{FileName: path, VerifyChecksums: true})
		if err != nil {
			t.Fatal(err)
		}
		l, err := r.Layout()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		f.Close()
		out = append(out, cmTable{path: path, layout: l,
			first: keyNum(base.UserKey(l.DataBlocks[0].FirstKey)),
			last:  keyNum(base.UserKey(l.DataBlocks[len(l.DataBlocks)-1].LastKey))})
	}
	slices.SortFunc(out, func(a, b cmTable) int { return a.first - b.first })
	return out
}

// cmDamage is what a row does to the golden database's copy.
type cmDamage struct {
	file string // the damaged file's path
	// loss is the range of key numbers the damage may make unreadable
	// (or, after Repair, lose); [0, 0) for none.
	lossFrom, lossTo int
	// repairLoss is the range Repair may lose, when it differs from
	// loss: a whole table when its metadata is damaged; nothing when only
	// the MANIFEST is.
	repairLoss *[2]int
}

// cmRow is one row of the matrix.
type cmRow struct {
	name string
	// damage damages the database in dir and says what it did.
	damage func(t *testing.T, dir string) cmDamage
	// openFails says a default Open must refuse with a corruption error;
	// otherwise it must succeed.
	openFails bool
	// paranoidFails says an Open with ParanoidChecks must refuse.
	paranoidFails bool
	// mayLoseOnOpen says a default Open may drop the damaged keys
	// (skipping a damaged log record) rather than report them on read.
	mayLoseOnOpen bool
}

// flipBit flips one bit of the byte at off (from the end if negative).
func flipBit(t *testing.T, path string, off int64, bit uint) {
	t.Helper()
	xorByte(t, path, off, 1<<bit)
}

func truncateFile(t *testing.T, path string, size int64) {
	t.Helper()
	if size < 0 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// repairLoses says what Repair may lose of a damaged table.
type repairLoses int

const (
	repairLosesBlock repairLoses = iota // the damaged block's keys (the read loss range)
	repairLosesTable                    // the whole table: no index to find its blocks
	repairLosesNone                     // nothing: only the filter was lost
)

// tableRow damages a structure of the first level-1 table.
func tableRow(name string, paranoid bool, hit func(t *testing.T, tb cmTable) (lossFrom, lossTo int, repair repairLoses)) cmRow {
	return cmRow{name: name, paranoidFails: paranoid, damage: func(t *testing.T, dir string) cmDamage {
		tb := cmTables(t, dir)[0]
		tb.path = filepath.Join(dir, filepath.Base(tb.path))
		from, to, repair := hit(t, tb)
		d := cmDamage{file: tb.path, lossFrom: from, lossTo: to}
		switch repair {
		case repairLosesTable:
			d.repairLoss = &[2]int{tb.first, tb.last + 1}
		case repairLosesNone:
			d.repairLoss = &[2]int{}
		}
		return d
	}}
}

func blockKeys(b sstable.BlockInfo) (int, int) {
	return keyNum(base.UserKey(b.FirstKey)), keyNum(base.UserKey(b.LastKey)) + 1
}

func cmRows() []cmRow {
	whole := func(tb cmTable) (int, int) { return tb.first, tb.last + 1 }
	rows := []cmRow{
		tableRow("table/data-block/flip", false, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			b := tb.layout.DataBlocks[1]
			flipBit(t, tb.path, int64(b.Handle.Offset)+int64(b.Handle.Size)/2, 3)
			from, to := blockKeys(b)
			return from, to, repairLosesBlock
		}),
		tableRow("table/data-block/flip-first-byte", false, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			b := tb.layout.DataBlocks[0]
			flipBit(t, tb.path, int64(b.Handle.Offset), 0)
			from, to := blockKeys(b)
			return from, to, repairLosesBlock
		}),
		tableRow("table/data-block/trailer-compression-type", false, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			b := tb.layout.DataBlocks[2]
			flipBit(t, tb.path, int64(b.Handle.Offset+b.Handle.Size), 1)
			from, to := blockKeys(b)
			return from, to, repairLosesBlock
		}),
		tableRow("table/data-block/trailer-crc", false, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			b := tb.layout.DataBlocks[len(tb.layout.DataBlocks)-1]
			flipBit(t, tb.path, int64(b.Handle.Offset+b.Handle.Size)+3, 7)
			from, to := blockKeys(b)
			return from, to, repairLosesBlock
		}),
		tableRow("table/index-block/flip", true, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			h := tb.layout.Index.Handle
			flipBit(t, tb.path, int64(h.Offset)+int64(h.Size)/3, 5)
			from, to := whole(tb)
			return from, to, repairLosesTable
		}),
		tableRow("table/metaindex/flip", true, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			h := tb.layout.Metaindex.Handle
			flipBit(t, tb.path, int64(h.Offset)+1, 2)
			from, to := whole(tb)
			return from, to, repairLosesNone
		}),
		tableRow("table/filter-block/flip", true, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			if !tb.layout.HasFilter {
				t.Fatal("no filter block")
			}
			h := tb.layout.Filter
			flipBit(t, tb.path, int64(h.Offset)+int64(h.Size)/2, 4)
			from, to := whole(tb)
			return from, to, repairLosesNone
		}),
		tableRow("table/footer/magic", true, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			flipBit(t, tb.path, -1, 0)
			from, to := whole(tb)
			return from, to, repairLosesTable
		}),
		tableRow("table/footer/index-handle", true, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			flipBit(t, tb.path, -48+4, 6)
			from, to := whole(tb)
			return from, to, repairLosesTable
		}),
		tableRow("table/truncate/last-byte", true, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			truncateFile(t, tb.path, -1)
			from, to := whole(tb)
			return from, to, repairLosesTable
		}),
		tableRow("table/truncate/mid-data", true, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			b := tb.layout.DataBlocks[len(tb.layout.DataBlocks)/2]
			truncateFile(t, tb.path, int64(b.Handle.Offset)+10)
			from, to := whole(tb)
			return from, to, repairLosesTable
		}),
		tableRow("table/truncate/empty", true, func(t *testing.T, tb cmTable) (int, int, repairLoses) {
			truncateFile(t, tb.path, 0)
			from, to := whole(tb)
			return from, to, repairLosesTable
		}),
		{name: "log/record/flip", paranoidFails: true, mayLoseOnOpen: true, damage: func(t *testing.T, dir string) cmDamage {
			log := filesOfType(t, dir, base.FileTypeLog)[0]
			flipBit(t, log, 20, 2)
			return cmDamage{file: log, lossFrom: cmTableKeys + cmFlushKeys, lossTo: cmKeys}
		}},
		{name: "log/record/flip-middle", paranoidFails: true, mayLoseOnOpen: true, damage: func(t *testing.T, dir string) cmDamage {
			log := filesOfType(t, dir, base.FileTypeLog)[0]
			fi, _ := os.Stat(log)
			flipBit(t, log, fi.Size()/2, 6)
			return cmDamage{file: log, lossFrom: cmTableKeys + cmFlushKeys, lossTo: cmKeys}
		}},
		{name: "log/record/header-length", paranoidFails: true, mayLoseOnOpen: true, damage: func(t *testing.T, dir string) cmDamage {
			log := filesOfType(t, dir, base.FileTypeLog)[0]
			flipBit(t, log, 5, 7) // the high byte of the first record's length
			return cmDamage{file: log, lossFrom: cmTableKeys + cmFlushKeys, lossTo: cmKeys}
		}},
		{name: "log/record/flip-last", paranoidFails: true, mayLoseOnOpen: true, damage: func(t *testing.T, dir string) cmDamage {
			// Damage in the last record looks like a torn tail; only a
			// complete record with a bad checksum tells it from one, and
			// ParanoidChecks refuses that.
			log := filesOfType(t, dir, base.FileTypeLog)[0]
			flipBit(t, log, -3, 4)
			return cmDamage{file: log, lossFrom: cmKeys - 10, lossTo: cmKeys}
		}},
		{name: "log/truncate/mid-record", mayLoseOnOpen: true, damage: func(t *testing.T, dir string) cmDamage {
			// A torn tail is what a crash leaves: not damage.
			log := filesOfType(t, dir, base.FileTypeLog)[0]
			fi, _ := os.Stat(log)
			truncateFile(t, log, fi.Size()/2+3)
			return cmDamage{file: log, lossFrom: cmTableKeys + cmFlushKeys, lossTo: cmKeys}
		}},
		{name: "manifest/record/flip", openFails: true, paranoidFails: true, damage: func(t *testing.T, dir string) cmDamage {
			m := filesOfType(t, dir, base.FileTypeManifest)[0]
			flipBit(t, m, 10, 1)
			return cmDamage{file: m}
		}},
		{name: "manifest/record/flip-last", openFails: true, paranoidFails: true, damage: func(t *testing.T, dir string) cmDamage {
			// A complete last edit with a bad checksum is damage, not a
			// torn tail: dropping it would lose the flush of keys
			// 3000-3999 (whose log is gone), so every Open refuses, as C++
			// LevelDB does. Repair loses nothing.
			m := filesOfType(t, dir, base.FileTypeManifest)[0]
			flipBit(t, m, -5, 1)
			return cmDamage{file: m, lossFrom: cmTableKeys, lossTo: cmTableKeys + cmFlushKeys, repairLoss: &[2]int{}}
		}},
		{name: "manifest/truncate/last-record", openFails: true, paranoidFails: true, damage: func(t *testing.T, dir string) cmDamage {
			// A truncated last edit is what a crash before its sync
			// leaves, but here the edit was acted on: the log of keys
			// 3000-3999 it retired is gone, so dropping it would lose them
			// (C++ LevelDB opens without them). Every Open refuses; Repair
			// loses nothing. (A torn edit whose logs are still there is a
			// crash's: TestTornManifestAfterCrash.)
			m := filesOfType(t, dir, base.FileTypeManifest)[0]
			truncateFile(t, m, -3)
			return cmDamage{file: m, lossFrom: cmTableKeys, lossTo: cmTableKeys + cmFlushKeys, repairLoss: &[2]int{}}
		}},
		{name: "manifest/truncate/first-record", openFails: true, paranoidFails: true, damage: func(t *testing.T, dir string) cmDamage {
			m := filesOfType(t, dir, base.FileTypeManifest)[0]
			truncateFile(t, m, 12)
			return cmDamage{file: m}
		}},
		{name: "current/flip-digit", openFails: true, paranoidFails: true, damage: func(t *testing.T, dir string) cmDamage {
			c := filepath.Join(dir, "CURRENT")
			flipBit(t, c, -2, 2)
			return cmDamage{file: c}
		}},
		{name: "current/flip-prefix", openFails: true, paranoidFails: true, damage: func(t *testing.T, dir string) cmDamage {
			c := filepath.Join(dir, "CURRENT")
			flipBit(t, c, 0, 5)
			return cmDamage{file: c}
		}},
		{name: "current/truncate/no-newline", openFails: true, paranoidFails: true, damage: func(t *testing.T, dir string) cmDamage {
			c := filepath.Join(dir, "CURRENT")
			truncateFile(t, c, -1)
			return cmDamage{file: c}
		}},
		{name: "current/truncate/empty", openFails: true, paranoidFails: true, damage: func(t *testing.T, dir string) cmDamage {
			c := filepath.Join(dir, "CURRENT")
			truncateFile(t, c, 0)
			return cmDamage{file: c}
		}},
	}
	return rows
}

// cmStats counts what the matrix did, for docs/reliability.md.
type cmStats struct {
	mu                              sync.Mutex
	rows, bytesDamaged, reads, errs int
}

// TestCorruptionMatrix runs every row of the matrix.
func TestCorruptionMatrix(t *testing.T) {
	golden := cmGolden(t)
	stats := &cmStats{}
	for _, row := range cmRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			runCMRow(t, golden, row, stats)
		})
	}
	t.Cleanup(func() {
		t.Logf("corruption matrix: %d rows (3 copies each), %d bytes damaged, %d reads checked (%d reported corruption), 0 wrong values",
			stats.rows, stats.bytesDamaged, stats.reads, stats.errs)
	})
}

func runCMRow(t *testing.T, golden string, row cmRow, stats *cmStats) {
	// Three copies: default open, paranoid open, repair.
	base := t.TempDir()
	dirs := [3]string{}
	var dmg cmDamage
	for i := range dirs {
		dirs[i] = filepath.Join(base, fmt.Sprint(i))
		copyDir(t, golden, dirs[i])
		dmg = row.damage(t, dirs[i])
	}
	// A flip damages one byte per copy; a truncation what it cut.
	damaged := int64(1)
	if before, err := os.Stat(filepath.Join(golden, filepath.Base(dmg.file))); err == nil {
		if after, err := os.Stat(dmg.file); err == nil && after.Size() < before.Size() {
			damaged = before.Size() - after.Size()
		}
	}
	stats.mu.Lock()
	stats.rows++
	stats.bytesDamaged += 3 * int(damaged)
	stats.mu.Unlock()

	// Default open.
	db, err := Open(dirs[0], cmOptions())
	switch {
	case row.openFails:
		if err == nil {
			db.Close()
			t.Fatal("Open succeeded on a damaged database")
		}
		wantCorruption(t, err, dmg.file)
	case err != nil:
		t.Fatalf("Open: %v", err)
	default:
		cmCheckReads(t, db, dmg, row.mayLoseOnOpen, stats)
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}

	// Paranoid open.
	o := cmOptions()
	o.ParanoidChecks = true
	db, err = Open(dirs[1], o)
	switch {
	case row.paranoidFails:
		if err == nil {
			db.Close()
			t.Fatal("Open with ParanoidChecks succeeded on a damaged database")
		}
		wantCorruption(t, err, dmg.file)
	case err != nil:
		t.Fatalf("Open with ParanoidChecks: %v", err)
	default:
		db.Close()
	}

	// Repair keeps everything but what the damage destroyed.
	report, err := Repair(dirs[2], cmOptions())
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	db, err = Open(dirs[2], cmOptions())
	if err != nil {
		t.Fatalf("Open after Repair: %v (report %+v)", err, report)
	}
	defer db.Close()
	repaired := dmg
	if r := repaired.repairLoss; r != nil {
		repaired.lossFrom, repaired.lossTo = r[0], r[1]
	}
	lost := cmCheckReads(t, db, repaired, true, stats)
	if lost > 0 && len(report.Problems) == 0 && report.DroppedBytes == 0 {
		t.Fatalf("Repair lost %d keys but reported no problem and no dropped bytes: %+v", lost, report)
	}
	if len(report.Holes) == 0 {
		return
	}
	// Accepting the loss: reads in the holes work again, and show no
	// wrong value (the keys there are absent, or intact).
	db.Close()
	if err := ClearHoles(dirs[2], cmOptions()); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dirs[2], cmOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Holes()) != 0 {
		t.Fatalf("holes after ClearHoles: %v", db.Holes())
	}
	cmCheckReads(t, db, repaired, true, stats)
}

// wantDamage checks a read error caused by the damage to file: a
// corruption error naming it, or (after Repair) a hole whose source names
// it.
func wantDamage(t *testing.T, err error, file string) {
	t.Helper()
	var he *HoleError
	if errors.As(err, &he) {
		if !strings.Contains(he.Hole.Source, filepath.Base(file)) {
			t.Fatalf("hole %v does not name %s", he.Hole, filepath.Base(file))
		}
		return
	}
	wantCorruption(t, err, file)
}

// cmCheckReads reads every key and scans the database. A key outside the
// damage's loss range must read right. One inside it may read right, or
// fail with a corruption error naming the damaged file, or (mayLose) be
// absent. It returns how many keys were absent.
func cmCheckReads(t *testing.T, db *DB, dmg cmDamage, mayLose bool, stats *cmStats) (absent int) {
	t.Helper()
	inLoss := func(i int) bool { return i >= dmg.lossFrom && i < dmg.lossTo }
	reads, errs := 0, 0
	step := 1
	if testing.Short() && raceEnabled {
		step = 7 // the scan below still visits every key
	}
	for i := 0; i < cmKeys; i += step {
		v, err := db.Get(corruptionKey(i))
		reads++
		switch {
		case err == nil:
			if !bytes.Equal(v, corruptionValue(i)) {
				t.Fatalf("key %d: wrong value %q", i, v)
			}
		case !inLoss(i):
			t.Fatalf("key %d, outside the damaged range [%d, %d): %v", i, dmg.lossFrom, dmg.lossTo, err)
		case err == ErrNotFound:
			if !mayLose {
				t.Fatalf("key %d: not found, where the damage must be reported as corruption", i)
			}
			absent++
		default:
			errs++
			wantDamage(t, err, dmg.file)
		}
	}
	// A forward scan: right entries in order, then at most a corruption
	// error.
	it := db.NewIterator(nil)
	next := 0
	for ok := it.First(); ok; ok = it.Next() {
		i := keyNum(it.Key())
		reads++
		if !bytes.Equal(it.Key(), corruptionKey(i)) || !bytes.Equal(it.Value(), corruptionValue(i)) {
			t.Fatalf("scan: wrong entry %q=%q", it.Key(), it.Value())
		}
		for ; next < i; next++ {
			if !inLoss(next) {
				t.Fatalf("scan skipped key %d, outside the damaged range", next)
			}
		}
		next = i + 1
	}
	if err := it.Close(); err != nil {
		errs++
		wantDamage(t, err, dmg.file)
		if !inLoss(next) {
			t.Fatalf("scan stopped at key %d, outside the damaged range: %v", next, err)
		}
	} else {
		for ; next < cmKeys; next++ {
			if !inLoss(next) {
				t.Fatalf("scan ended before key %d, outside the damaged range", next)
			}
		}
	}
	stats.mu.Lock()
	stats.reads += reads
	stats.errs += errs
	stats.mu.Unlock()
	return absent
}
