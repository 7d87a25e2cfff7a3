package strata

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/strata-db/strata/internal/vfs"
	"github.com/strata-db/strata/internal/vfs/errorfs"
)

// Leak reports: Close names the iterators and snapshots still open, with
// where each was created when Options.DebugLeaks is set; the database
// still closes completely, and the leaked objects fail cleanly afterwards.

func leakDB(t *testing.T, fs FS, debug bool) *DB {
	t.Helper()
	db, err := Open("db", &Options{FS: fs, DebugLeaks: debug, WriteBufferSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if err := db.Put([]byte(fmt.Sprintf("k%04d", i)), []byte("value"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	return db
}

// leakIterHere and leakSnapHere create the leaks, so the creation sites
// have names to look for in the report.
func leakIterHere(db *DB) *Iterator          { return db.NewIterator(nil) }
func leakSnapHere(db *DB) *Snapshot          { return db.NewSnapshot() }
func leakSnapIterHere(s *Snapshot) *Iterator { return s.NewIterator(nil) }

func TestLeakReports(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		debug                 bool
		iters, snaps, viaSnap int
		want                  []string
	}{
		{"none", false, 0, 0, 0, nil},
		{"iterators", false, 2, 0, 0, []string{"2 iterator(s) still open", "set Options.DebugLeaks"}},
		{"snapshots", false, 0, 3, 0, []string{"3 snapshot(s) (taken at sequence 300, 300, 300) still open", "set Options.DebugLeaks"}},
		{"both-debug", true, 1, 1, 1, []string{"2 iterator(s) and 1 snapshot(s) (taken at sequence 300) still open",
			"leakIterHere", "leakSnapHere", "leakSnapIterHere", "leaks_test.go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			fs, openFiles := countOpenFiles(mem)
			db := leakDB(t, fs, tc.debug)
			var iters []*Iterator
			var snaps []*Snapshot
			for i := 0; i < tc.iters; i++ {
				it := leakIterHere(db)
				it.First()
				iters = append(iters, it)
			}
			for i := 0; i < tc.snaps; i++ {
				snaps = append(snaps, leakSnapHere(db))
			}
			for i := 0; i < tc.viaSnap; i++ {
				it := leakSnapIterHere(snaps[0])
				it.Last()
				iters = append(iters, it)
			}
			// Objects opened and closed properly are not reported.
			db.NewIterator(nil).Close()
			db.NewSnapshot().Close()
			err := db.Close()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Close without leaks: %v", err)
				}
				if n := openFiles.Load(); n != 0 {
					t.Fatalf("%d files still open after Close", n)
				}
				return
			}
			if err == nil {
				t.Fatal("Close with leaks returned nil")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("Close error does not mention %q:\n%v", w, err)
				}
			}
			if !tc.debug && strings.Contains(err.Error(), "created at") {
				t.Fatalf("creation sites reported without DebugLeaks:\n%v", err)
			}
			// After Close, reads fail with ErrClosed; a leaked iterator
			// may go on over the tables it pinned, but never returns wrong
			// data or panics.
			if _, err := db.Get([]byte("k0001")); err != ErrClosed {
				t.Fatalf("Get after Close: %v, want ErrClosed", err)
			}
			if it := db.NewIterator(nil); it.First() || it.Close() != ErrClosed {
				t.Fatalf("NewIterator after Close: not ErrClosed")
			}
			for _, it := range iters {
				for _, move := range []func() bool{it.First, it.Next, it.Last, it.Prev,
					func() bool { return it.Seek([]byte("k0150")) }} {
					if move() && (!strings.HasPrefix(string(it.Key()), "k0") || string(it.Value()) != "value") {
						t.Fatalf("a leaked iterator read %q=%q after Close", it.Key(), it.Value())
					}
				}
				it.Close()
				it.Close()
			}
			for _, s := range snaps {
				if _, err := s.Get([]byte("k0001")); err != ErrClosed {
					t.Fatalf("a leaked snapshot's Get after Close: %v, want ErrClosed", err)
				}
				s.Close()
			}
			// The database is closed for good: its lock is free again.
			db2, err := Open("db", &Options{FS: fs})
			if err != nil {
				t.Fatalf("reopen after a Close with leaks: %v", err)
			}
			db2.Close()
			if n := openFiles.Load(); n != 0 {
				t.Fatalf("%d files still open after Close and closing the leaked objects", n)
			}
			// The database closed completely: it opens again.
			db, err = Open("db", &Options{FS: mem})
			if err != nil {
				t.Fatalf("reopen after a Close that reported leaks: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close after reopen: %v", err)
			}
		})
	}
}

// countOpenFiles wraps fs so that the returned counter holds the number of
// files, directories and locks open.
func countOpenFiles(fs FS) (FS, *atomic.Int64) {
	var n atomic.Int64
	efs := errorfs.Wrap(fs)
	efs.AddRule(errorfs.OnIndex(-1).Where(func(op errorfs.Op) bool {
		switch op.Kind {
		case errorfs.OpCreate, errorfs.OpOpen, errorfs.OpOpenDir, errorfs.OpLock:
			n.Add(1)
		case errorfs.OpClose:
			n.Add(-1)
		}
		return true
	}))
	return efs, &n
}
