package strata

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/memtable"
	"github.com/strata-db/strata/internal/sstable"
)

// gatedIter passes through an InternalIterator but, once gateAt entries
// have gone by, waits in Next until open is closed: a flush reading it
// stops mid-table with data blocks waiting for helpers.
type gatedIter struct {
	base.InternalIterator
	n, gateAt int
	reached   chan struct{}
	open      chan struct{}
}

func (g *gatedIter) Next() bool {
	if g.n++; g.n == g.gateAt {
		close(g.reached)
		<-g.open
	}
	return g.InternalIterator.Next()
}

// TestWritersAssistFlush checks that writes committed while a flush writes
// its table compress that table's waiting blocks (sstable.Assist), and that
// the table is still exactly the flushed entries. The flush is held
// mid-table (gatedIter) until a write has helped, so the test does not
// depend on how the scheduler interleaves the two.
func TestWritersAssistFlush(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db := mustOpen(t, dir, nil)
	defer db.Close()

	const entries = 20000
	m := memtable.New(db.cmp, 8<<20)
	val := func(i int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("v%06d.", i)), 12) }
	for i := range entries {
		if err := m.Add(uint64(i+1), base.KindSet, []byte(fmt.Sprintf("k%06d", i)), val(i)); err != nil {
			t.Fatal(err)
		}
	}
	// 2000 entries are ~200 KB of blocks: more than the Assist's slots.
	g := &gatedIter{InternalIterator: m.NewScanIter(), gateAt: 2000,
		reached: make(chan struct{}), open: make(chan struct{})}
	db.mu.Lock()
	num := db.newOutputNumLocked()
	db.mu.Unlock()
	type result struct {
		meta *manifest.FileMetadata
		err  error
	}
	done := make(chan result, 1)
	defer func() { // let a held flush go on if the test fails early
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	}()
	go func() {
		t, meta, err := db.writeFlushTable(num, g, nil, 0, 0)
		if err == nil && t != nil {
			err = t.sync(false)
		}
		done <- result{meta, err}
	}()

	select {
	case <-g.reached:
	case r := <-done:
		t.Fatalf("the flush ended before its gate: %v", r.err)
	}
	helped := db.flushAssist.Helped()
	for i := 0; db.flushAssist.Helped() == helped; i++ {
		if i == 1000 {
			t.Fatal("1000 writes committed during a flush and none compressed one of its waiting blocks")
		}
		if err := db.Put([]byte(fmt.Sprintf("w%04d", i)), []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	close(g.open)
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the flush did not finish within a minute of its gate opening")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := db.assisting.Load(); got != nil {
		t.Fatal("assisting still set after the flush's table was written")
	}

	// The table holds exactly the memtable's entries.
	path := base.MakeFilepath(dir, base.FileTypeTable, num)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	rd, err := sstable.NewReader(f, fi.Size(), sstable.ReaderOptions{FileName: path, VerifyChecksums: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	want := m.NewScanIter()
	defer want.Close()
	got := rd.NewIter()
	defer got.Close()
	n := 0
	for ok, wok := got.First(), want.First(); ok || wok; ok, wok = got.Next(), want.Next() {
		if ok != wok || !bytes.Equal(got.Key(), want.Key()) || !bytes.Equal(got.Value(), want.Value()) {
			t.Fatalf("table entry %d differs from the memtable's (table has one: %v, memtable: %v)", n, ok, wok)
		}
		n++
	}
	if err := got.Error(); err != nil {
		t.Fatal(err)
	}
	if n != entries {
		t.Fatalf("table has %d entries, want %d", n, entries)
	}
}

// TestWritesDuringFlushes writes from several goroutines with a small write
// buffer, so that flushes (and the writers' help with them) run while
// writes commit, and checks that every write reads back, before and after
// a reopen.
func TestWritesDuringFlushes(t *testing.T) {
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
		db.Close()
		t.Fatal(err)
	}
	t.Logf("blocks compressed by writers: %d", db.flushAssist.Helped())
	check := func(db *DB) {
		t.Helper()
		for w := range writers {
			for i := range perWriter {
				got, err := db.Get([]byte(fmt.Sprintf("k%d-%06d", w, i)))
				if err != nil || !bytes.Equal(got, val(w, i)) {
					db.Close()
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
