package strata

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/vfs"
)

// TestTxnLazyIndex: a transaction's writes are indexed only when a read
// follows them; whatever the order of reads, writes, save points, range
// deletions and merges, reads see exactly the transaction's writes over its
// snapshot, and an iterator sees the writes made before it was created.
func TestTxnLazyIndex(t *testing.T) {
	d := openTxnDB(t, &Options{Merger: AddMerger})
	for _, k := range []string{"a", "b", "c", "n"} {
		if err := d.Put([]byte(k), []byte("db-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	counter := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	if err := d.Put([]byte("n"), counter, nil); err != nil {
		t.Fatal(err)
	}
	tx := mustBegin(t, d, nil)
	defer tx.Rollback()
	want := func(key, value string) {
		t.Helper()
		v, err := tx.Get([]byte(key))
		if value == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get %s = %q, %v; want not found", key, v, err)
			}
			return
		}
		if err != nil || string(v) != value {
			t.Fatalf("Get %s = %q, %v; want %q", key, v, err, value)
		}
	}
	scan := func(it *Iterator) string {
		t.Helper()
		var s string
		for ok := it.First(); ok; ok = it.Next() {
			s += string(it.Key()) + "=" + string(it.Value()) + " "
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	want("a", "db-a") // before any write: the snapshot
	before := tx.NewIterator(&IterOptions{UpperBound: []byte("c")})
	tx.SetSavePoint()
	tx.Put([]byte("a"), []byte("tx-a")) // not indexed yet
	tx.Delete([]byte("b"))
	if tx.b.ix != nil {
		t.Fatal("writes indexed before any read followed them")
	}
	if err := tx.RollbackToSavePoint(); err != nil { // unindexed rollback
		t.Fatal(err)
	}
	want("a", "db-a")
	tx.Put([]byte("a"), []byte("tx-a"))
	tx.Delete([]byte("b"))
	tx.DeleteRange([]byte("c"), []byte("d"))
	tx.Merge([]byte("n"), counter)
	want("a", "tx-a") // builds the index from the batch
	want("b", "")
	want("c", "")
	if v, err := tx.Get([]byte("n")); err != nil || v[0] != 2 {
		t.Fatalf("merged counter = %v, %v", v, err)
	}
	tx.Put([]byte("z"), []byte("tx-z")) // indexed as it is written
	want("z", "tx-z")
	if got := scan(before); got != "a=db-a b=db-b " {
		t.Fatalf("iterator from before the writes saw %q", got)
	}
	if got := scan(tx.NewIterator(&IterOptions{UpperBound: []byte("m")})); got != "a=tx-a " {
		t.Fatalf("iterator after the writes saw %q", got)
	}
	if got := scan(tx.Snapshot().NewIterator(nil)); got != "a=tx-a n=\x02\x00\x00\x00\x00\x00\x00\x00 z=tx-z " {
		t.Fatalf("snapshot iterator saw %q", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Get([]byte("z")); err != nil || string(v) != "tx-z" {
		t.Fatalf("committed z = %q, %v", v, err)
	}
}

// TestTxnRecordOnlyWhenNeeded: the commit leader records a group's writes
// in the conflict set only while an open transaction is still to be
// checked; after the last one, it drops the history and raises the floor
// past the group, and a transaction begun later reads at or above it and
// still conflicts with what was written after it began.
func TestTxnRecordOnlyWhenNeeded(t *testing.T) {
	d := openTxnDB(t, nil)
	resolve := func(active int, writers ...*writer) *conflictSet {
		t.Helper()
		d.mu.Lock()
		defer d.mu.Unlock()
		// A set of its own, from the last sequence (the leader's numbering
		// is not applied: d.lastSeq stays).
		set, savedSet, savedActive := newConflictSet(d.cmp), d.txns.set, d.txns.active
		set.reset(d.lastSeq)
		d.txns.set, d.txns.active = set, active
		d.resolveGroupLocked(writers)
		d.txns.set, d.txns.active = savedSet, savedActive
		return set
	}
	txnWriter := func(key string) *writer {
		b := &Batch{}
		b.Put([]byte(key), []byte("v"))
		return &writer{batch: b, txn: &txnCommit{readVersion: d.lastSeq, writes: []keyRange{pointRange([]byte(key))}}}
	}
	plain := func(key string) *writer {
		b := &Batch{}
		b.Put([]byte(key), []byte("v"))
		return &writer{batch: b}
	}
	// A lone transaction, with a plain write after it: nothing recorded.
	set := resolve(1, txnWriter("a"), plain("b"))
	if set.nodes != 0 || set.floor != d.lastSeq+2 {
		t.Fatalf("lone transaction: %d nodes, floor %d (last seq %d)", set.nodes, set.floor, d.lastSeq)
	}
	// Another transaction open: everything recorded.
	set = resolve(2, plain("c"), txnWriter("a"), plain("b"))
	if set.nodes == 0 || set.maxVersion(pointRange([]byte("b"))) != d.lastSeq+3 {
		t.Fatalf("with another transaction open: %d nodes", set.nodes)
	}
	// Two transactions in one group, none other open: the first one's
	// writes are recorded for the second to check, then dropped.
	first, second := txnWriter("x"), txnWriter("x")
	second.txn.reads = []readRange{{pointRange([]byte("x")), d.lastSeq}}
	set = resolve(2, first, second)
	if !second.skip || !errors.Is(second.err, ErrConflict) || first.skip {
		t.Fatalf("second transaction of a group: skip %v, err %v", second.skip, second.err)
	}
	if set.nodes != 0 {
		t.Fatalf("history kept after the group's last transaction: %d nodes", set.nodes)
	}

	// End to end: a transaction that begins after a lone one committed
	// reads its writes, and conflicts with a later write.
	if err := d.Update(context.Background(), func(tx *Txn) error { return tx.Put([]byte("k"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	tx := mustBegin(t, d, nil)
	defer tx.Rollback()
	if v, err := tx.Get([]byte("k")); err != nil || string(v) != "1" {
		t.Fatalf("Get k = %q, %v", v, err)
	}
	if err := d.Update(context.Background(), func(tx *Txn) error { return tx.Put([]byte("k"), []byte("2")) }); err != nil {
		t.Fatal(err)
	}
	tx.Put([]byte("j"), []byte("x"))
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit after k changed: %v", err)
	}
}

// holdSyncFS holds the WAL's next fsync, once armed, until released: a
// commit group stays in flight (resolved, not yet visible) while the test
// acts.
type holdSyncFS struct {
	vfs.FS
	armed   atomic.Bool
	entered chan struct{} // a held sync has begun
	release chan struct{} // closed: held syncs go on
}

func newHoldSyncFS() *holdSyncFS {
	return &holdSyncFS{FS: vfs.NewMem(), entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (fs *holdSyncFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &holdSyncFile{File: f, fs: fs}, nil
}

type holdSyncFile struct {
	vfs.File
	fs *holdSyncFS
}

func (f *holdSyncFile) Sync() error {
	if f.fs.armed.CompareAndSwap(true, false) {
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
	return f.File.Sync()
}

// TestTxnBeginsWhileGroupInFlight: a transaction that begins while a
// synced commit group is in flight, its writes not recorded in the
// conflict set (no open transaction needed them), does not wait for the
// group's fsync: it records the group's writes itself and reads below the
// group, and its commit is checked against them like any other write — a
// read of a key the group writes conflicts, others do not. Both for a
// group whose transaction was the only one open and for a group of plain
// writes made while none was.
func TestTxnBeginsWhileGroupInFlight(t *testing.T) {
	for _, plain := range []bool{false, true} {
		name := "transaction"
		if plain {
			name = "plain write"
		}
		t.Run(name, func(t *testing.T) {
			fs := newHoldSyncFS()
			d := openTxnDB(t, &Options{FS: fs})
			fs.armed.Store(true)
			done := make(chan error, 1)
			go func() {
				if plain {
					done <- d.Put([]byte("k"), []byte("1"), &WriteOptions{Sync: true})
					return
				}
				done <- d.UpdateWith(context.Background(), &TxnOptions{Sync: true}, func(tx *Txn) error {
					return tx.Put([]byte("k"), []byte("1"))
				})
			}()
			<-fs.entered // the group is in flight, held in its fsync
			type begun struct {
				tx  *Txn
				err error
			}
			ch := make(chan begun, 2)
			for range 2 {
				go func() {
					tx, err := d.BeginTxn(context.Background(), nil)
					ch <- begun{tx, err}
				}()
			}
			var txs []*Txn
			for range 2 {
				select {
				case b := <-ch:
					if b.err != nil {
						t.Fatal(b.err)
					}
					txs = append(txs, b.tx)
				case <-time.After(10 * time.Second):
					close(fs.release)
					t.Fatal("BeginTxn waited for the commit group in flight")
				}
			}
			reader, other := txs[0], txs[1]
			// Neither sees the group's write: it is not visible yet.
			if _, err := reader.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get k during the group's fsync: %v", err)
			}
			if _, err := other.Get([]byte("j")); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get j: %v", err)
			}
			reader.Put([]byte("r"), []byte("x"))
			other.Put([]byte("o"), []byte("x"))
			close(fs.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := reader.Commit(); !errors.Is(err, ErrConflict) {
				t.Fatalf("commit of a transaction that read k below the group that wrote it: %v", err)
			}
			if err := other.Commit(); err != nil {
				t.Fatalf("commit of a transaction that read only j: %v", err)
			}
			if v, err := d.Get([]byte("k")); err != nil || string(v) != "1" {
				t.Fatalf("k after the group = %q, %v", v, err)
			}
		})
	}
}

// TestTxnConflictSetTrimmed: under a stream of overlapping short
// transactions the conflict set forgets what is older than every open
// transaction as it grows (conflictSet.trimAt), staying near what they
// need instead of growing to the window; and a transaction left open
// across those trims still conflicts with a write made after it began.
func TestTxnConflictSetTrimmed(t *testing.T) {
	d := openTxnDB(t, nil)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	setBytes := func() int64 {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.txns.set.bytes
	}
	// run commits n transactions, 4 open at a time, each writing three
	// random keys; it returns the largest size the set reached.
	run := func(n int) (largest int64) {
		t.Helper()
		ring := make([]*Txn, 4)
		for i := 0; i < n+len(ring); i++ {
			slot := i % len(ring)
			if tx := ring[slot]; tx != nil {
				if err := tx.Commit(); err != nil && !IsRetryable(err) {
					t.Fatal(err)
				}
				ring[slot] = nil
				largest = max(largest, setBytes())
			}
			if i >= n {
				continue
			}
			tx, err := d.BeginTxn(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 3; j++ {
				if err := tx.Put(fmt.Appendf(nil, "key%07d", rng.IntN(1_000_000)), []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			ring[slot] = tx
		}
		return largest
	}
	// 20,000 commits record about 60,000 keys (~9 MB of boundaries
	// untrimmed; 5,000, ~2 MB, in the short form).
	n := 20_000
	if testing.Short() {
		n = 5_000
	}
	if largest := run(n); largest > 4*conflictTrimMin {
		t.Fatalf("the conflict set reached %d bytes under short transactions (trimmed past %d)", largest, conflictTrimMin)
	}

	long, err := d.BeginTxn(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := long.Get([]byte("hot")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get hot: %v", err)
	}
	if err := d.Update(ctx, func(tx *Txn) error { return tx.Put([]byte("hot"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	run(n) // trims again, but not past the long transaction
	if err := long.Put([]byte("out"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := long.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("a transaction open across trims committed over a write it missed: %v", err)
	}
}
