package strata

import (
	"os"
	"testing"

	"github.com/strata-db/strata/internal/base"

	"github.com/strata-db/strata/internal/vfs"
	"github.com/strata-db/strata/internal/vfs/errorfs"
)

// Regression tests for bugs the reliability suite (fault injection,
// corruption matrix, crash tests) found; each names the bug it pins.

// afterRenameTo returns a predicate that is true for operations of kind
// that come after a rename onto db/target. (The rule must not filter by
// kind itself, or the predicate would never see the rename.)
func afterRenameTo(target string, kind errorfs.Kind) func(errorfs.Op) bool {
	renamed := false
	return func(op errorfs.Op) bool {
		if op.Kind == errorfs.OpRename && op.NewPath == "db/"+target {
			renamed = true
			return false
		}
		return renamed && op.Kind == kind
	}
}

// TestCreateDBDirSyncFails: creating a database renamed CURRENT over to
// MANIFEST-000001, failed to sync the directory, and then deleted
// MANIFEST-000001, leaving a CURRENT that named a missing MANIFEST: the
// database never opened again.
func TestCreateDBDirSyncFails(t *testing.T) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem)
	fs.AddRule(errorfs.OnIndex(0).Where(afterRenameTo("CURRENT", errorfs.OpSync)))
	if _, err := Open("db", &Options{FS: fs}); err == nil {
		t.Fatal("Open succeeded although syncing the directory failed")
	}
	for _, fs := range []*vfs.MemFS{mem, mem.CrashClone()} {
		db, err := Open("db", &Options{FS: fs})
		if err != nil {
			t.Fatalf("reopen after a failed directory sync: %v", err)
		}
		if err := db.Put([]byte("k"), []byte("v"), &WriteOptions{Sync: true}); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
}

// TestParanoidChecksVerifiesTables: ParanoidChecks refused damaged logs
// but opened a database whose tables were truncated or had a damaged
// footer, index or filter block; reads failed later. Open now checks every
// table's size and metadata blocks when ParanoidChecks is set.
func TestParanoidChecksVerifiesTables(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()-1); err != nil {
				t.Fatal(err)
			}
		}},
		{"footer", func(t *testing.T, path string) { flipByte(t, path, -1) }},
		{"index", func(t *testing.T, path string) { flipByte(t, path, -60) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			buildCorruptionDB(t, dir, 500, true)
			table := filesOfType(t, dir, base.FileTypeTable)[0]
			tc.damage(t, table)
			_, err := Open(dir, &Options{ParanoidChecks: true})
			wantCorruption(t, err, table)
			db, err := Open(dir, nil) // without ParanoidChecks, reads report it
			if err != nil {
				t.Fatal(err)
			}
			_, err = db.Get(corruptionKey(0))
			wantCorruption(t, err, table)
			db.Close()
		})
	}
}
