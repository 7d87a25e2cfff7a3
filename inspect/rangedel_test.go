package inspect

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/vfs"
)

// writeExtendedDB writes a database that uses range deletions and merges
// (AddMerger), without compactions: a table of entries, a table of a
// tombstone alone that reaches past every entry, a table of operands and a
// tombstone, and a log of each kind of record.
func writeExtendedDB(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	db, err := strata.Open(dir, &strata.Options{Merger: strata.AddMerger, DisableAutoCompactions: true})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u64 := func(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
	for _, k := range []string{"a", "b", "c", "d"} {
		must(db.Put([]byte(k), []byte("v"+k), nil))
	}
	must(db.Flush())
	must(db.DeleteRange([]byte("b"), []byte("zz"), nil)) // reaches past every entry
	must(db.Flush())
	must(db.Merge([]byte("n"), u64(2), nil))
	must(db.Merge([]byte("n"), u64(3), nil))
	must(db.DeleteRange([]byte("c"), []byte("e"), nil))
	must(db.Flush())
	must(db.Put([]byte("c"), []byte("again"), nil))
	must(db.Merge([]byte("n"), u64(4), nil))
	must(db.DeleteRange([]byte("a"), []byte("b"), nil))
	must(db.Close())
	return dir
}

// TestCheckRangeDelsAndMerges: Check passes on a database that uses range
// deletions and merges, whose tables' bounds reach past their entries to
// their tombstones (or hold a tombstone alone), and counts them; it
// reports a damaged range-deletion block, and tables and logs holding
// what LevelDB cannot read in a database whose MANIFEST does not say so.
func TestCheckRangeDelsAndMerges(t *testing.T) {
	dir := writeExtendedDB(t)
	rep, err := Check(dir)
	if err != nil || !rep.OK() {
		t.Fatalf("Check: %v, %v", err, rep.Findings)
	}
	if !rep.Extended || rep.Merger != "strata.add" || rep.RangeDelTables != 2 || rep.RangeTombstones != 2 ||
		rep.LogRangeDels != 1 || rep.LogMerges != 1 {
		t.Errorf("Check: %+v", rep)
	}
	l, err := LoadLSM(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Extended || l.Merger != "strata.add" {
		t.Errorf("LoadLSM: extended %v, merger %q", l.Extended, l.Merger)
	}
	// The tombstone alone: its table's bounds are the tombstone's.
	var alone *TableInfo
	for _, tables := range l.Levels {
		for _, tm := range tables {
			info, err := DescribeTable(TablePath(dir, tm.Num))
			if err != nil {
				t.Fatal(err)
			}
			lo, hi, ok := info.Bounds()
			if !ok || lo.Format(nil) != tm.Smallest.Format(nil) || hi.Format(nil) != tm.Largest.Format(nil) {
				t.Errorf("table %d: bounds %s .. %s, the MANIFEST's %s .. %s", tm.Num, lo.Format(nil), hi.Format(nil),
					tm.Smallest.Format(nil), tm.Largest.Format(nil))
			}
			if info.Entries == 0 {
				alone = info
			}
		}
	}
	if alone == nil || len(alone.RangeDels) != 1 || alone.RangeDels[0].Format(nil) != "[b, zz)#5" {
		t.Fatalf("no table of the tombstone alone: %+v", alone)
	}
	if _, hi, _ := alone.Bounds(); !hi.IsRangeDelEnd() || hi.Format(nil) != "zz#max,RANGEDEL" {
		t.Errorf("largest of the tombstone's table: %s", hi.Format(nil))
	}

	// Damage in a range-deletion block is a finding at its table.
	damaged := filepath.Join(t.TempDir(), "damaged")
	copyDB(t, dir, damaged)
	rd := alone.RangeDel
	flip(t, filepath.Join(damaged, filepath.Base(alone.File)), int64(rd.Offset)+2)
	if rep, err := Check(damaged); err != nil || len(rep.Findings) != 1 || rep.Findings[0].File != filepath.Base(alone.File) {
		t.Errorf("Check of a damaged range-deletion block: %v, %v", err, rep.Findings)
	}

	// A MANIFEST without the mark: every table and log holding range
	// deletions or merges is a finding.
	unmarked := filepath.Join(t.TempDir(), "unmarked")
	copyDB(t, dir, unmarked)
	st, err := manifest.Replay(vfs.Default, unmarked, manifest.ReplayOptions{Comparer: base.DefaultComparer})
	if err != nil {
		t.Fatal(err)
	}
	e := &manifest.VersionEdit{HasComparator: true, Comparator: base.DefaultComparer.Name,
		HasLogNumber: true, LogNumber: st.LogNumber, HasNextFileNumber: true, NextFileNumber: st.NextFileNumber + 1,
		HasLastSequence: true, LastSequence: st.LastSequence}
	for level, files := range st.Version.Levels {
		for _, f := range files {
			e.NewFiles = append(e.NewFiles, manifest.NewFileEntry{Level: level, Meta: f})
		}
	}
	if err := manifest.CreateCurrent(vfs.Default, unmarked, st.NextFileNumber, e); err != nil {
		t.Fatal(err)
	}
	rep, err = Check(unmarked)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, f := range rep.Findings {
		msgs = append(msgs, f.String())
	}
	if len(msgs) != 3 || !strings.Contains(strings.Join(msgs, "\n"), "log holds 1 range deletions and 1 merge operands, but the MANIFEST does not mark") {
		t.Errorf("Check of an unmarked database: %s", strings.Join(msgs, "\n"))
	}
}

// TestKeyHistoryRangeDelsAndMerges: a key's versions include its merge
// operands and the range deletions covering it, from tables (the fragment
// holding the key) and logs.
func TestKeyHistoryRangeDelsAndMerges(t *testing.T) {
	dir := writeExtendedDB(t)
	show := func(key string) string {
		vs, findings, err := KeyHistory(dir, []byte(key))
		if err != nil || len(findings) > 0 {
			t.Fatalf("KeyHistory(%s): %v, %v", key, err, findings)
		}
		var s []string
		for _, v := range vs {
			x := fmt.Sprintf("%d %s %s", v.Seq, v.Kind, filepath.Ext(v.File))
			if v.RangeEnd != nil {
				x += fmt.Sprintf(" [%s, %s)", v.RangeStart, v.RangeEnd)
			} else if v.Value != nil {
				x += fmt.Sprintf(" %x", v.Value)
			}
			s = append(s, x)
		}
		return strings.Join(s, "; ")
	}
	for key, want := range map[string]string{
		"c": "9 SET .log 616761696e; 8 RANGEDEL .ldb [c, e); 5 RANGEDEL .ldb [b, zz); 3 SET .ldb 7663",
		"n": "10 MERGE .log 0400000000000000; 7 MERGE .ldb 0300000000000000; 6 MERGE .ldb 0200000000000000; 5 RANGEDEL .ldb [b, zz)",
		"a": "11 RANGEDEL .log [a, b); 1 SET .ldb 7661",
		"z": "5 RANGEDEL .ldb [b, zz)",
	} {
		if got := show(key); got != want {
			t.Errorf("history of %s:\n  %s\nwant\n  %s", key, got, want)
		}
	}
}

// copyDB copies the files of the database in src to dst.
func copyDB(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
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

// flip XORs the byte at off of the file at path.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0x55
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
