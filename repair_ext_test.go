package strata

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/sstable"
)

// Repair of databases that use range deletions and merges.

// buildExtendedDB writes a database in dir that uses range deletions and
// merges with AddMerger: tables of entries, of a tombstone alone, of
// tombstones with entries newer than them, counters merged over flushes,
// and a log with more of each.
func buildExtendedDB(t *testing.T, dir string) {
	t.Helper()
	// No compactions: the tables stay as flushed, one of them a tombstone
	// alone.
	db, err := Open(dir, &Options{Merger: AddMerger, DisableAutoCompactions: true})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 400 {
		must(db.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i), nil))
	}
	must(db.Flush())
	must(db.DeleteRange([]byte("k100"), []byte("k150"), nil))
	must(db.Flush()) // a table of one tombstone
	for round := range 3 {
		for c := range 10 {
			if c == 3 && round == 0 {
				must(db.Put([]byte("c3"), u64(1000), nil)) // a base value under the operands
			}
			must(db.Merge(fmt.Appendf(nil, "c%d", c), u64(uint64(c+round)), nil))
		}
		must(db.Flush())
	}
	must(db.DeleteRange([]byte("k300"), []byte("k320"), nil))
	must(db.Put([]byte("k310"), []byte("after"), nil))
	must(db.DeleteRange([]byte("c5"), []byte("c7"), nil))
	must(db.Merge([]byte("c6"), u64(42), nil)) // after its deletion
	must(db.Flush())
	// Left in the log.
	must(db.DeleteRange([]byte("k200"), []byte("k210"), nil))
	must(db.Merge([]byte("c1"), u64(100), nil))
	must(db.Merge([]byte("c8"), u64(7), nil))
	must(db.Close())
}

// extendedState is what reads of buildExtendedDB's keys answer: every key
// written and one never written, by Get, then both scans.
func extendedState(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	keys := []string{"absent"}
	for i := range 400 {
		keys = append(keys, fmt.Sprintf("k%03d", i))
	}
	for c := range 10 {
		keys = append(keys, fmt.Sprintf("c%d", c))
	}
	for _, k := range keys {
		v, err := db.Get([]byte(k))
		fmt.Fprintf(&b, "%s=%x/%v\n", k, v, err)
	}
	for _, reverse := range []bool{false, true} {
		it := db.NewIterator(nil)
		walk := it.All()
		if reverse {
			walk = it.Backward()
		}
		for k, v := range walk {
			fmt.Fprintf(&b, "scan %s=%x\n", k, v)
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// readExtended opens dir with AddMerger and returns extendedState. No
// compaction runs meanwhile: one that finished before Close would merge
// the tables down to the bottom, where the tombstones and operands the
// tests repair are dropped and folded (TestRepairRangeDelsAndMerges then
// found none, now and then, on a loaded machine).
func readExtended(t *testing.T, dir string) string {
	t.Helper()
	db, err := Open(dir, &Options{Merger: AddMerger, ErrorIfNotExists: true, DisableAutoCompactions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return extendedState(t, db)
}

// tableWithRangeDels returns the path of a table of dir that holds both
// entries and range tombstones, and its layout's filter and range-deletion
// block handles.
func tableWithRangeDels(t *testing.T, dir string) (path string, filter, rangeDel sstable.BlockHandle) {
	t.Helper()
	for _, p := range filesOfType(t, dir, base.FileTypeTable) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := sstable.NewReader(bytes.NewReader(data), int64(len(data)), sstable.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := r.Layout()
		if err != nil {
			t.Fatal(err)
		}
		_, h, found, err := r.RangeDelBlock()
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if found && l.NumEntries > 0 && l.HasFilter {
			return p, l.Filter, h
		}
	}
	t.Fatal("no table holds both entries and range tombstones")
	return
}

// TestRepairRangeDelsAndMerges: a database that used range deletions and
// merges, repaired, reads as it did (point reads and both scans, the
// deleted ranges still deleted), is marked as extended with its operator
// recorded, whatever Repair had to go on: the MANIFEST, or Options.Merger
// alone when the MANIFESTs are gone; without either Repair keeps the
// operands and says which option it needs. A damaged filter block costs no
// tombstone; a damaged range-deletion block is a hole.
func TestRepairRangeDelsAndMerges(t *testing.T) {
	template := filepath.Join(t.TempDir(), "db")
	buildExtendedDB(t, template)
	want := readExtended(t, template)
	if !strings.Contains(want, "k120=/strata: not found") || !strings.Contains(want, "k310=6166746572/<nil>") ||
		!strings.Contains(want, "c6=2a00000000000000/<nil>") {
		t.Fatalf("the database does not hold what the test means to repair:\n%s", want)
	}
	fresh := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "db")
		copyDir(t, template, dir)
		return dir
	}
	removeManifests := func(t *testing.T, dir string) {
		for _, p := range filesOfType(t, dir, base.FileTypeManifest) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	// repair repairs dir with opts and checks the report and the mark; with
	// no holes, the database must then read as it did.
	repair := func(t *testing.T, dir string, opts *Options, wantHoles int) *RepairReport {
		t.Helper()
		rep, err := Repair(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Extended || rep.Merger != AddMerger.Name || len(rep.Holes) != wantHoles {
			t.Errorf("report: extended %v, merger %q, holes %v", rep.Extended, rep.Merger, rep.Holes)
		}
		x, err := ReadExtensions(dir, nil)
		if err != nil || !x.Used || x.Merger != AddMerger.Name {
			t.Errorf("ReadExtensions: %+v, %v", x, err)
		}
		if wantHoles == 0 {
			if got := readExtended(t, dir); got != want {
				t.Errorf("after repair:\n%s\nwant:\n%s", got, want)
			}
		}
		return rep
	}

	t.Run("MANIFEST deleted, Options.Merger", func(t *testing.T) {
		dir := fresh(t)
		removeManifests(t, dir)
		repair(t, dir, &Options{Merger: AddMerger}, 0)
	})
	t.Run("MANIFEST deleted, no operator known", func(t *testing.T) {
		dir := fresh(t)
		removeManifests(t, dir)
		_, err := Repair(dir, nil)
		if !errors.Is(err, ErrNoMerger) || !strings.Contains(err.Error(), "Options.Merger") {
			t.Fatalf("Repair without an operator: %v, want ErrNoMerger saying what to set", err)
		}
		// Not compacted, the rebuilt tree reads right: every table's
		// bounds cover its tombstones (a table of a tombstone alone too).
		uncompacted := filepath.Join(t.TempDir(), "copy")
		copyDir(t, dir, uncompacted)
		if got := readExtended(t, uncompacted); got != want {
			t.Errorf("rebuilt, not compacted:\n%s\nwant:\n%s", got, want)
		}
		// The operands are kept: a second Repair with the operator records it.
		repair(t, dir, &Options{Merger: AddMerger}, 0)
	})
	t.Run("MANIFEST intact, operator from it", func(t *testing.T) {
		dir := fresh(t)
		repair(t, dir, nil, 0)
	})
	t.Run("old MANIFEST kept, current one damaged", func(t *testing.T) {
		dir := fresh(t)
		// CURRENT names a MANIFEST that is gone; a copy under an older
		// number still records the operator.
		m := filesOfType(t, dir, base.FileTypeManifest)[0]
		if err := os.Rename(m, filepath.Join(dir, "MANIFEST-000001")); err != nil {
			t.Fatal(err)
		}
		repair(t, dir, nil, 0)
	})
	t.Run("another operator refused", func(t *testing.T) {
		dir := fresh(t)
		// The database's files (Repair takes the LOCK and writes the LOG).
		files := func() []string {
			return slices.DeleteFunc(mustList(t, dir), func(n string) bool { return n == "LOCK" || strings.HasPrefix(n, "LOG") })
		}
		before := files()
		_, err := Repair(dir, &Options{Merger: MaxMerger})
		if err == nil || !strings.Contains(err.Error(), `"strata.add"`) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("Repair with MaxMerger: %v", err)
		}
		if after := files(); !slices.Equal(before, after) {
			t.Errorf("files changed: %v -> %v", before, after)
		}
	})
	t.Run("filter block damaged", func(t *testing.T) {
		dir := fresh(t)
		path, filter, _ := tableWithRangeDels(t, dir)
		flipByte(t, path, int64(filter.Offset)+1)
		if rep := repair(t, dir, nil, 0); rep.DamagedTables != 1 {
			t.Errorf("%d damaged tables, want 1", rep.DamagedTables)
		}
	})
	t.Run("range-deletion block damaged", func(t *testing.T) {
		dir := fresh(t)
		path, _, rangeDel := tableWithRangeDels(t, dir)
		flipByte(t, path, int64(rangeDel.Offset)+1)
		rep := repair(t, dir, nil, 1)
		if h := rep.Holes[0]; !strings.Contains(h.Source, "range deletions are unreadable") {
			t.Errorf("hole %v", h)
		}
		db, err := Open(dir, &Options{Merger: AddMerger})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		h := rep.Holes[0]
		if _, err := db.Get(h.Start); !errors.Is(err, ErrHole) {
			t.Errorf("Get(%q) in the hole: %v, want ErrHole", h.Start, err)
		}
	})
}
