package strata

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/vfs"
)

// holdTablesFS holds every table creation (a flush's first step) until
// release is closed; held is closed when the first one arrives.
type holdTablesFS struct {
	vfs.FS
	once    sync.Once
	held    chan struct{}
	release chan struct{}
	fail    bool // set before release: the held creation then fails
}

func (h *holdTablesFS) Create(name string) (vfs.File, error) {
	if strings.HasSuffix(name, ".ldb") {
		h.once.Do(func() { close(h.held) })
		<-h.release
		if h.fail {
			return nil, errors.New("injected: table creation failed")
		}
	}
	return h.FS.Create(name)
}

// heldFlushFill opens a database on a holdTablesFS with 256 KiB write
// buffers and the given MaxMemTableBytes and MaxMemTableWait, and starts writing n keys
// (key(i), 100-byte values) in a goroutine whose result arrives on done.
// It returns once the first flush is held and a write has stalled behind
// it (by whichever rule). release lets the flush go; cleanup releases it
// before closing the database, which waits for the flush.
func heldFlushFill(t *testing.T, limit int, wait time.Duration, n int) (db *DB, fs *holdTablesFS, release func(), done <-chan error) {
	t.Helper()
	fs = &holdTablesFS{FS: vfs.Default, held: make(chan struct{}), release: make(chan struct{})}
	db, err := Open(filepath.Join(t.TempDir(), "db"), &Options{FS: fs,
		WriteBufferSize: 256 << 10, MaxMemTableBytes: limit, MaxMemTableWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	var releaseOnce sync.Once
	release = func() { releaseOnce.Do(func() { close(fs.release) }) }
	t.Cleanup(func() { release(); db.Close() })
	ch := make(chan error, 1)
	go func() {
		val := make([]byte, 100)
		for i := range n {
			if err := db.Put(budgetKey(i), val, nil); err != nil {
				ch <- err
				return
			}
		}
		ch <- nil
	}()
	<-fs.held // the first memtable is frozen and its flush held
	deadline := time.Now().Add(10 * time.Second)
	for db.Metrics().Stalls == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no write stalled while the flush was held")
		}
		time.Sleep(time.Millisecond)
	}
	return db, fs, release, ch
}

func budgetKey(i int) []byte { return fmt.Appendf(nil, "key%08d", i) }

// TestMaxMemTableBytesFlushFails: a write waiting at MaxMemTableBytes for
// a flush that then fails returns the flush's error instead of waiting on.
func TestMaxMemTableBytesFlushFails(t *testing.T) {
	const wbs = 256 << 10
	_, fs, release, done := heldFlushFill(t, wbs+32<<10, -1, 6000)
	fs.fail = true
	release()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("the stalled write returned %v, want the flush's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled write still waits after its flush failed")
	}
}

// TestMaxMemTableBytes holds a flush and checks that writes go on until the
// memtables would pass MaxMemTableBytes, then wait (a stall) rather than
// fill the next memtable to WriteBufferSize, and that they complete, every
// one readable, once the flush is let go. With the bound off (negative),
// the same writes fill the next memtable past it while the flush is held;
// so do they once a write has waited MaxMemTableWait at the bound.
func TestMaxMemTableBytes(t *testing.T) {
	const wbs, overlap = 256 << 10, 32 << 10
	for _, c := range []struct {
		name    string
		bounded bool
		wait    time.Duration
	}{{"bounded", true, -1}, {"unbounded", false, -1}, {"waited", true, time.Millisecond}} {
		t.Run(c.name, func(t *testing.T) {
			bounded := c.bounded && c.wait < 0
			limit := wbs + overlap
			if !c.bounded {
				limit = -1
			}
			const n = 6000 // ~800 KiB of memtable: three write buffers' worth
			// Returns once a write stalls: on the bound, or (unbounded) on
			// the second memtable filling up.
			db, _, release, done := heldFlushFill(t, limit, c.wait, n)
			if c.wait > 0 {
				// The write waits out MaxMemTableWait, then fills the
				// next memtable while the flush is still held.
				deadline := time.Now().Add(10 * time.Second)
				for {
					db.mu.Lock()
					mem := db.mem.ApproximateMemoryUsage()
					db.mu.Unlock()
					if mem >= wbs {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the next memtable holds %d bytes 10 s after the stall: the write still waits at the bound", mem)
					}
					time.Sleep(time.Millisecond)
				}
			}
			db.mu.Lock()
			total := db.mem.ApproximateMemoryUsage()
			for _, m := range db.imms {
				total += m.ApproximateMemoryUsage()
			}
			imms, mem := len(db.imms), db.mem.ApproximateMemoryUsage()
			db.mu.Unlock()
			if imms != 1 {
				t.Fatalf("%d memtables waiting for the held flush, want 1", imms)
			}
			if bounded && total > uint64(limit) {
				t.Fatalf("memtables hold %d bytes while writes wait, past MaxMemTableBytes %d", total, limit)
			}
			if bounded && mem < overlap/2 {
				t.Fatalf("the next memtable holds %d bytes: writes stalled before using the %d-byte overlap", mem, overlap)
			}
			if !bounded && mem < wbs {
				t.Fatalf("unbounded: the next memtable holds %d bytes when writes stall, want a full write buffer (%d)", mem, wbs)
			}
			release()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if v, err := db.Get(budgetKey(i)); err != nil || len(v) != 100 {
					t.Fatalf("key %d after the stall: %q, %v", i, v, err)
				}
			}
		})
	}
}

// TestMaxMemTableBytesDefault pins the default bound.
func TestMaxMemTableBytesDefault(t *testing.T) {
	for _, c := range []struct{ wbs, number, want int }{
		{0, 0, 4<<20 + 2<<20},           // defaults: 4 MiB buffers, overlap 2 MiB
		{64 << 20, 2, 64<<20 + 2<<20},   // overlap WriteBufferSize/32
		{256 << 20, 2, 256<<20 + 8<<20}, //
		{64 << 20, 4, 3*64<<20 + 2<<20}, // MaxWriteBufferNumber - 1 full buffers
		{2 << 20, 2, -1},                // overlap would be a whole buffer: no bound
		{1 << 20, 3, -1},                //
	} {
		o := (&Options{WriteBufferSize: c.wbs, MaxWriteBufferNumber: c.number}).withDefaults()
		if o.MaxMemTableBytes != c.want {
			t.Errorf("WriteBufferSize %d, MaxWriteBufferNumber %d: MaxMemTableBytes %d, want %d", c.wbs, c.number, o.MaxMemTableBytes, c.want)
		}
	}
	if o := (&Options{MaxMemTableBytes: -1}).withDefaults(); o.MaxMemTableBytes != -1 {
		t.Errorf("an explicit -1 became %d", o.MaxMemTableBytes)
	}
}
