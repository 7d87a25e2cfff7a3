package strata

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/testenv"
)

// Compatibility with C++ LevelDB (and RocksDB) of databases that used range
// deletions or merges: the first use marks the MANIFEST (a comparator name
// with a strata.v2 note), so that both refuse the database with a clear
// error instead of misreading records they do not know; Repair of a
// database in which none is left drops the mark. That a database that
// never used them stays LevelDB's, both ways, is TestCompatReadLevelDB's
// and TestCompatWrittenByStrata's.

// levelDBOpen opens dir with C++ LevelDB (plyvel) and returns its error
// message ("" when it opened and read every entry).
func levelDBOpen(t *testing.T, dir string) string {
	t.Helper()
	const script = `
import sys, plyvel
try:
    db = plyvel.DB(sys.argv[1])
    n = sum(1 for _ in db.iterator())
    db.close()
except plyvel.Error as e:
    print(e)
`
	out, err := exec.Command(python, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("plyvel on %s: %v\n%s", dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// rocksDBOpen scans dir with RocksDB's ldb and returns its error output
// ("" when it read the database).
func rocksDBOpen(t *testing.T, dir string) string {
	t.Helper()
	ldb, err := exec.LookPath("ldb")
	testenv.Require(t, "RocksDB's ldb (rocksdb-tools)", err)
	var out bytes.Buffer
	cmd := exec.Command(ldb, "--db="+dir, "scan")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.Contains(out.String(), "Failed") {
		return strings.TrimSpace(out.String())
	}
	return ""
}

func TestCompatExtensionsRefused(t *testing.T) {
	requireLevelDB(t)
	for _, tc := range []struct {
		name  string
		write func(db *DB) error
	}{
		{"DeleteRange", func(db *DB) error { return db.DeleteRange([]byte("k1"), []byte("k3"), nil) }},
		{"Merge", func(db *DB) error { return db.Merge([]byte("n"), u64(1), nil) }},
		{"Batch.DeleteRange flushed", func(db *DB) error {
			b := db.NewBatch()
			b.DeleteRange([]byte("k0"), []byte("k2"))
			if err := db.Write(b, nil); err != nil {
				return err
			}
			return db.Flush()
		}},
		{"Batch.Merge flushed", func(db *DB) error {
			b := db.NewBatch()
			b.Merge([]byte("n"), u64(2))
			if err := db.Write(b, nil); err != nil {
				return err
			}
			return db.Flush()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(fastTempDir(t), "db")
			db, err := Open(dir, &Options{Merger: AddMerger})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"k0", "k1", "k2", "k3"} {
				if err := db.Put([]byte(k), []byte("v"), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if msg := levelDBOpen(t, dir); msg != "" {
				t.Fatalf("LevelDB refuses the database before any range deletion or merge: %s", msg)
			}
			if db, err = Open(dir, &Options{Merger: AddMerger}); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(db); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			msg := levelDBOpen(t, dir)
			if !strings.Contains(msg, "strata.v2") || !strings.Contains(msg, "does not match existing comparator") {
				t.Errorf("LevelDB on a database that used %s: %q, want a refusal naming strata.v2 and the comparator", tc.name, msg)
			}
			msg = rocksDBOpen(t, dir)
			if !strings.Contains(msg, "strata.v2") || !strings.Contains(msg, "does not match existing comparator") {
				t.Errorf("RocksDB on a database that used %s: %q, want a refusal naming strata.v2 and the comparator", tc.name, msg)
			}
			// Strata still opens it, as it was.
			if db, err = Open(dir, &Options{Merger: AddMerger}); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCompatRepairDropsMark: once compactions have dropped every range
// tombstone and folded every merge operand, Repair rebuilds a database
// that is LevelDB's again, and LevelDB reads what Strata reads. (The first
// Repair finds them still in the table that CompactRange left alone at its
// level, keeps the mark, and its own final compaction drops and folds
// them; the second finds none.)
func TestCompatRepairDropsMark(t *testing.T) {
	requireLevelDB(t)
	dir := filepath.Join(fastTempDir(t), "db")
	db, err := Open(dir, &Options{Merger: AddMerger})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := db.Put([]byte(k), []byte("v"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteRange([]byte("b"), []byte("d"), nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint64{5, 6} {
		if err := db.Merge([]byte("n"), u64(n), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if msg := levelDBOpen(t, dir); !strings.Contains(msg, "strata.v2") {
		t.Fatalf("LevelDB before Repair: %q, want the refusal (the mark stays until Repair)", msg)
	}
	for i, want := range []bool{true, false} {
		rep, err := Repair(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Extended != want || (rep.Merger != "") != want {
			t.Fatalf("Repair %d: extended %v, merger %q; want extended %v", i+1, rep.Extended, rep.Merger, want)
		}
	}
	if msg := levelDBOpen(t, dir); msg != "" {
		t.Fatalf("LevelDB after Repair: %s", msg)
	}
	got := parseDump(t, func() string { out, _ := oracle(t, "dump", dir); return out }())
	want := []string{"a=v", "d=v", "n=" + string(u64(11))}
	var s []string
	for _, kv := range got {
		s = append(s, string(kv.k)+"="+string(kv.v))
	}
	if strings.Join(s, ",") != strings.Join(want, ",") {
		t.Errorf("LevelDB reads %q, want %q", s, want)
	}
}
