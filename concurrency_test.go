package strata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-db/strata/internal/vfs"
)

// TestConcurrentReadersWriters runs 8 writer goroutines and 8 reader
// goroutines against one database with tiny buffers, so flushes and
// compactions run throughout. Each writer owns a pair of keys and writes
// both in one batch with the same, increasing counter. Readers check:
// counters never go backwards (no lost or reordered write); a snapshot
// sees both keys of a pair equal (batches are atomic); iterators see keys in
// order. Run under -race.
func TestConcurrentReadersWriters(t *testing.T) {
	const writers, readers = 8, 8
	rounds := 400
	if testing.Short() {
		rounds = 150
	}
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, WriteBufferSize: 16 << 10, BlockSize: 512,
		TargetFileSize: 16 << 10, L0CompactionTrigger: 2, LevelSizeMultiplier: 3})
	if err != nil {
		t.Fatal(err)
	}
	key := func(w, half int) []byte { return []byte(fmt.Sprintf("w%02d-%d", w, half)) }
	val := func(n uint64) []byte {
		v := make([]byte, 64)
		binary.BigEndian.PutUint64(v, n)
		return v
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, writers+readers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			b := db.NewBatch()
			for n := uint64(1); n <= uint64(rounds); n++ {
				b.Reset()
				b.Put(key(w, 0), val(n))
				b.Put(key(w, 1), val(n))
				// Filler so the memtable turns over.
				b.Put([]byte(fmt.Sprintf("fill-%02d-%05d", w, n)), make([]byte, 200))
				if err := db.Write(b, &WriteOptions{Sync: n%50 == 0}); err != nil {
					errc <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}(w)
	}
	var readerWG sync.WaitGroup
	for r := 0; r < readers; r++ {
		readerWG.Add(1)
		go func(r int) {
			defer readerWG.Done()
			last := make([]uint64, writers)
			for i := 0; !done.Load(); i++ {
				w := i % writers
				switch r % 3 {
				case 0: // point reads: monotonic
					v, err := db.Get(key(w, i%2))
					if errors.Is(err, ErrNotFound) {
						if last[w] > 0 {
							errc <- fmt.Errorf("reader %d: key %s vanished", r, key(w, i%2))
							return
						}
						continue
					}
					if err != nil {
						errc <- fmt.Errorf("reader %d: %w", r, err)
						return
					}
					n := binary.BigEndian.Uint64(v)
					if n < last[w] {
						errc <- fmt.Errorf("reader %d: %s went back from %d to %d", r, key(w, i%2), last[w], n)
						return
					}
					last[w] = n
				case 1: // snapshots: pairs equal
					s := db.NewSnapshot()
					a, errA := s.Get(key(w, 0))
					b, errB := s.Get(key(w, 1))
					s.Close()
					if (errA == nil) != (errB == nil) || (errA == nil && string(a) != string(b)) {
						errc <- fmt.Errorf("reader %d: snapshot sees a torn batch for writer %d: %v/%v", r, w, errA, errB)
						return
					}
				case 2: // iterators: ordered, pairs equal
					it := db.NewIterator(&IterOptions{LowerBound: []byte("w"), UpperBound: []byte("x")})
					var prev []byte
					vals := map[string][]byte{}
					for ok := it.First(); ok; ok = it.Next() {
						if prev != nil && string(prev) >= string(it.Key()) {
							errc <- fmt.Errorf("reader %d: iterator order %q then %q", r, prev, it.Key())
							it.Close()
							return
						}
						prev = append(prev[:0], it.Key()...)
						vals[string(it.Key())] = append([]byte(nil), it.Value()...)
					}
					if err := it.Close(); err != nil {
						errc <- fmt.Errorf("reader %d: iterator: %w", r, err)
						return
					}
					for w := 0; w < writers; w++ {
						if string(vals[string(key(w, 0))]) != string(vals[string(key(w, 1))]) {
							errc <- fmt.Errorf("reader %d: iterator sees a torn batch for writer %d", r, w)
							return
						}
					}
				}
			}
		}(r)
	}
	wg.Wait()
	// What the readers raced: flushes, and compactions that rewrote tables
	// into the levels below 0, finished while they read (they stop below).
	m := db.Metrics()
	var below int
	for _, l := range m.Levels[1:] {
		below += l.Compactions
	}
	done.Store(true)
	readerWG.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for w := 0; w < writers; w++ {
		for half := 0; half < 2; half++ {
			v, err := db.Get(key(w, half))
			if err != nil || binary.BigEndian.Uint64(v) != uint64(rounds) {
				t.Errorf("final %s: %v %v", key(w, half), v, err)
			}
		}
	}
	if m.Flushes == 0 || m.Compactions == 0 || below == 0 {
		t.Errorf("the readers raced %d flushes and %d compactions (%d rewriting tables below level 0), want some of each: %s",
			m.Flushes, m.Compactions, below, mustProp(db, "strata.stats"))
	}
	t.Logf("the readers raced %d flushes and %d compactions (%d rewriting tables below level 0)", m.Flushes, m.Compactions, below)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustProp(db *DB, name string) string {
	v, _ := db.Property(name)
	return v
}
