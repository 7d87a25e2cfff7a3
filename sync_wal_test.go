package strata

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/vfs"
)

// openMemDB opens /db on fs with quietOptions (and the write buffer, if
// not 0), closed when the test ends.
func openMemDB(t *testing.T, fs vfs.FS, writeBuffer int) *DB {
	t.Helper()
	opts := quietOptions()
	opts.FS = fs
	if writeBuffer > 0 {
		opts.WriteBufferSize = writeBuffer
	}
	db, err := Open("/db", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestEmptySyncedWriteMakesEarlierWritesDurable pins the two ways of
// making earlier unsynced writes durable: Write's contract for an empty
// batch with Sync (nil or with no operations) and SyncWAL. Every earlier
// write survives a power cut after it returns. (An empty synced batch
// alone in the write queue once synced nothing.)
func TestEmptySyncedWriteMakesEarlierWritesDurable(t *testing.T) {
	for _, tc := range []struct {
		name string
		sync func(*DB) error
	}{
		{"nil batch", func(db *DB) error { return db.Write(nil, &WriteOptions{Sync: true}) }},
		{"batch without operations", func(db *DB) error { return db.Write(&Batch{}, &WriteOptions{Sync: true}) }},
		{"SyncWAL", (*DB).SyncWAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			db := openMemDB(t, mem, 0)
			for i := range 10 {
				k := fmt.Sprintf("k%02d", i)
				if err := db.Put([]byte(k), []byte(k), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.sync(db); err != nil {
				t.Fatal(err)
			}
			db2 := openMemDB(t, mem.CrashClone(), 0)
			for i := range 10 {
				k := fmt.Sprintf("k%02d", i)
				if _, err := db2.Get([]byte(k)); err != nil {
					t.Errorf("%s after the power cut: %v", k, err)
				}
			}
		})
	}
}

// TestSyncWAL: writes that returned before SyncWAL was called survive a
// power cut after it returns, while other goroutines keep writing and the
// memtable rotates (small write buffer: several logs, retired ones
// included). Each round: 4 writers write unsynced keys; the checker notes
// how many each had finished, calls SyncWAL, cuts the power, and checks
// every noted key in the crashed copy.
func TestSyncWAL(t *testing.T) {
	mem := vfs.NewMem()
	db := openMemDB(t, mem, 64<<10)
	const writers = 4
	var done [writers]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3000; i++ { // bounded: each round reads them all back
				select {
				case <-stop:
					return
				default:
				}
				if i%20 == 0 {
					time.Sleep(100 * time.Microsecond)
				}
				k := fmt.Sprintf("w%d-%06d", w, i)
				if err := db.Put([]byte(k), bytes.Repeat([]byte{'v'}, 100), nil); err != nil {
					t.Error(err)
					return
				}
				done[w].Store(int64(i + 1))
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	rounds := 10
	if testing.Short() {
		rounds = 4
	}
	for r := range rounds {
		time.Sleep(20 * time.Millisecond)
		var n [writers]int64
		for w := range writers {
			n[w] = done[w].Load()
		}
		if err := db.SyncWAL(); err != nil {
			t.Fatal(err)
		}
		opts := quietOptions()
		opts.FS = mem.CrashClone()
		db2, err := Open("/db", opts)
		if err != nil {
			t.Fatalf("round %d: reopening after the power cut: %v", r, err)
		}
		for w := range writers {
			for i := range n[w] {
				k := fmt.Sprintf("w%d-%06d", w, i)
				if _, err := db2.Get([]byte(k)); err != nil {
					t.Fatalf("round %d: %s (written before SyncWAL) after the power cut: %v", r, k, err)
				}
			}
		}
		db2.Close()
	}
}

// TestSyncWALClosed: SyncWAL on a closed database is ErrClosed; on a
// database that has only been opened it succeeds.
func TestSyncWALClosed(t *testing.T) {
	db := openMemDB(t, vfs.NewMem(), 0)
	if err := db.SyncWAL(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.SyncWAL(); !errors.Is(err, ErrClosed) {
		t.Fatalf("SyncWAL after Close: %v, want ErrClosed", err)
	}
}
