package strata

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestWritersAssistFlush writes from several goroutines with a small write
// buffer, so that flushes run while writes commit, and checks that the
// writers compressed some of the flushed tables' blocks (sstable.Assist)
// and that every write reads back, before and after a reopen.
func TestWritersAssistFlush(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	o := &Options{WriteBufferSize: 256 << 10}
	db := mustOpen(t, dir, o)
	const writers, perWriter = 4, 6000
	val := func(w, i int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("v%d-%d.", w, i)), 8) }
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := db.Put([]byte(fmt.Sprintf("k%d-%06d", w, i)), val(w, i), nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if db.flushAssist.Helped() == 0 {
		t.Fatal("no writer helped compress a flushed table's blocks")
	}
	check := func(db *DB) {
		t.Helper()
		for w := range writers {
			for i := range perWriter {
				got, err := db.Get([]byte(fmt.Sprintf("k%d-%06d", w, i)))
				if err != nil || !bytes.Equal(got, val(w, i)) {
					t.Fatalf("k%d-%06d: %q, %v", w, i, got, err)
				}
			}
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, dir, o)
	defer db.Close()
	check(db)
}
