package strata

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/record"
)

// TestLogBatchPastMaxSeq: a log record that is intact (its checksum
// matches) but holds a batch whose sequence numbers run past the largest
// there is (2^56-1) is damaged data, like a record whose checksum fails:
// recovery reports it as corruption naming the log and the offset, or
// treats it as damage as it treats any damaged record, and Repair salvages
// the writes before it. (FuzzOpenRecords found it: Open failed with a
// plain memtable error, which no caller could tell from an I/O error, and
// Repair stopped on it.)
func TestLogBatchPastMaxSeq(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seq   uint64
		count int
	}{
		{"last-op-past", base.MaxSeq, 2},
		{"first-op-past", base.MaxSeq + 1, 1},
		{"wraps", ^uint64(0), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 300
			buildCorruptionDB(t, dir, n, false)
			logs := filesOfType(t, dir, base.FileTypeLog)
			if len(logs) != 1 {
				t.Fatalf("logs: %v", logs)
			}
			appendBatch(t, logs[0], tc.seq, tc.count)

			_, err := Open(dir, &Options{ParanoidChecks: true})
			wantCorruption(t, err, logs[0])

			check := func(what string, db *DB) {
				t.Helper()
				for i := range n {
					if v, err := db.Get(corruptionKey(i)); err != nil || string(v) != string(corruptionValue(i)) {
						t.Fatalf("%s: key %d: %q, %v", what, i, v, err)
					}
				}
				if _, err := db.Get([]byte("past-max")); !errors.Is(err, ErrNotFound) {
					t.Fatalf("%s: the damaged batch's key reads %v", what, err)
				}
			}
			repaired := filepath.Join(t.TempDir(), "db")
			copyDir(t, dir, repaired)
			if db, err := Open(dir, nil); err != nil {
				wantCorruption(t, err, logs[0])
			} else {
				check("default open", db)
				db.Close()
			}
			if _, err := Repair(repaired, nil); err != nil {
				t.Fatalf("Repair: %v", err)
			}
			db, err := Open(repaired, nil)
			if err != nil {
				t.Fatalf("open after Repair: %v", err)
			}
			check("after Repair", db)
			db.Close()
		})
	}
}

// appendBatch appends to the log at path an intact record holding a batch
// of count puts of "past-max" starting at sequence seq.
func appendBatch(t *testing.T, path string, seq uint64, count int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, batch.HeaderLen)
	for range count {
		b = batch.AppendSet(b, []byte("past-max"), []byte("x"))
	}
	batch.SetSeq(b, seq)
	batch.SetCount(b, uint32(count))
	if _, err := record.NewWriterAt(f, fi.Size()).WriteRecord(b); err != nil {
		t.Fatal(err)
	}
}
