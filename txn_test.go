package strata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/vfs"
)

func openTxnDB(t testing.TB, o *Options) *DB {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.FS == nil {
		o.FS = vfs.NewMem()
	}
	d, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustBegin(t testing.TB, d *DB, o *TxnOptions) *Txn {
	t.Helper()
	tx, err := d.BeginTxn(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestTxnBasic(t *testing.T) {
	d := openTxnDB(t, nil)
	if err := d.Put([]byte("a"), []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	tx := mustBegin(t, d, nil)
	defer tx.Rollback()
	if v, err := tx.Get([]byte("a")); err != nil || string(v) != "1" {
		t.Fatalf("Get a = %q, %v", v, err)
	}
	tx.Put([]byte("b"), []byte("2"))
	if v, err := tx.Get([]byte("b")); err != nil || string(v) != "2" {
		t.Fatalf("read your write: %q, %v", v, err)
	}
	if _, err := d.Get([]byte("b")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted write visible outside: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if tx.CommittedVersion() <= tx.ReadVersion() {
		t.Fatalf("committed %d, read %d", tx.CommittedVersion(), tx.ReadVersion())
	}
	if v, err := d.Get([]byte("b")); err != nil || string(v) != "2" {
		t.Fatalf("after commit: %q, %v", v, err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrTxnDone) {
		t.Fatalf("second commit: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

func TestTxnConflictOnKey(t *testing.T) {
	d := openTxnDB(t, nil)
	t1 := mustBegin(t, d, nil)
	t2 := mustBegin(t, d, nil)
	t1.Get([]byte("a"))
	t2.Put([]byte("a"), []byte("x"))
	if err := t2.Commit(); err != nil {
		t.Fatal(err)
	}
	t1.Put([]byte("b"), []byte("y"))
	err := t1.Commit()
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || !IsRetryable(err) || string(ce.Key) != "a" {
		t.Fatalf("commit = %v, want a conflict on a", err)
	}
	if _, err := d.Get([]byte("b")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused transaction's write landed: %v", err)
	}
}

func TestTxnPlainWriteConflicts(t *testing.T) {
	d := openTxnDB(t, nil)
	t1 := mustBegin(t, d, nil)
	t1.Get([]byte("a"))
	d.Put([]byte("a"), []byte("plain"), nil)
	t1.Put([]byte("b"), []byte("y"))
	if err := t1.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit after a plain Put of a read key = %v", err)
	}
}

func TestTxnPhantom(t *testing.T) {
	d := openTxnDB(t, nil)
	d.Put([]byte("k1"), []byte("1"), nil)
	d.Put([]byte("k3"), []byte("3"), nil)
	t1 := mustBegin(t, d, nil)
	it := t1.NewIterator(&IterOptions{LowerBound: []byte("k"), UpperBound: []byte("l")})
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	it.Close()
	if n != 2 {
		t.Fatalf("saw %d keys", n)
	}
	d.Put([]byte("k2"), []byte("phantom"), nil) // between the keys returned
	t1.Put([]byte("count"), []byte("2"))
	if err := t1.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("phantom not noticed: %v", err)
	}
	// A write outside the span read does not conflict.
	t2 := mustBegin(t, d, nil)
	it = t2.NewIterator(nil)
	it.Seek([]byte("k2"))
	it.Next() // k3; the iterator stays open: Commit adds its span
	d.Put([]byte("a"), []byte("outside"), nil)
	t2.Put([]byte("z"), nil)
	if err := t2.Commit(); err != nil {
		t.Fatalf("write outside the read span: %v", err)
	}
	it.Close()
}

func TestTxnSnapshotReadsNoConflict(t *testing.T) {
	d := openTxnDB(t, nil)
	t1 := mustBegin(t, d, nil)
	t1.Snapshot().Get([]byte("a"))
	d.Put([]byte("a"), []byte("x"), nil)
	t1.Put([]byte("b"), nil)
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestTxnWriteSkewSnapshotIsolation(t *testing.T) {
	for _, iso := range []Isolation{Serializable, SnapshotIsolation} {
		t.Run(iso.String(), func(t *testing.T) {
			d := openTxnDB(t, nil)
			d.Put([]byte("x"), []byte("1"), nil)
			d.Put([]byte("y"), []byte("1"), nil)
			o := &TxnOptions{Isolation: iso}
			t1, t2 := mustBegin(t, d, o), mustBegin(t, d, o)
			t1.Get([]byte("x"))
			t1.Get([]byte("y"))
			t2.Get([]byte("x"))
			t2.Get([]byte("y"))
			t1.Put([]byte("x"), []byte("0"))
			t2.Put([]byte("y"), []byte("0"))
			e1, e2 := t1.Commit(), t2.Commit()
			if e1 != nil {
				t.Fatal(e1)
			}
			if iso == Serializable && !errors.Is(e2, ErrConflict) {
				t.Fatalf("write skew allowed under serializable: %v", e2)
			}
			if iso == SnapshotIsolation && e2 != nil {
				t.Fatalf("snapshot isolation refused disjoint writes: %v", e2)
			}
		})
	}
}

func TestTxnUpdateRetries(t *testing.T) {
	d := openTxnDB(t, &Options{Merger: AddMerger})
	const workers, per = 4, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				err := d.Update(context.Background(), func(tx *Txn) error {
					v, err := tx.Get([]byte("n"))
					var n uint64
					if err == nil {
						n = binary.LittleEndian.Uint64(v)
					} else if !errors.Is(err, ErrNotFound) {
						return err
					}
					return tx.Put([]byte("n"), binary.LittleEndian.AppendUint64(nil, n+1))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, err := d.Get([]byte("n"))
	if err != nil || binary.LittleEndian.Uint64(v) != workers*per {
		t.Fatalf("n = %v, %v; want %d", v, err, workers*per)
	}
}

func TestTxnPessimistic(t *testing.T) {
	d := openTxnDB(t, nil)
	o := &TxnOptions{Pessimistic: true, LockTimeout: 50 * time.Millisecond}
	t1 := mustBegin(t, d, o)
	if _, err := t1.GetForUpdate([]byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	t2 := mustBegin(t, d, o)
	if _, err := t2.GetForUpdate([]byte("a")); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second lock = %v, want timeout", err)
	}
	t2.Rollback()
	// A waiter gets the lock when the holder commits, and reads its write.
	t3 := mustBegin(t, d, &TxnOptions{Pessimistic: true, LockTimeout: 5 * time.Second})
	got := make(chan string)
	go func() {
		v, err := t3.GetForUpdate([]byte("a"))
		if err != nil {
			got <- err.Error()
			return
		}
		t3.Put([]byte("a"), append(v, '+'))
		if err := t3.Commit(); err != nil {
			got <- err.Error()
			return
		}
		got <- string(v)
	}()
	time.Sleep(10 * time.Millisecond)
	t1.Put([]byte("a"), []byte("one"))
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "one" {
		t.Fatalf("waiter read %q", v)
	}
	if v, _ := d.Get([]byte("a")); string(v) != "one+" {
		t.Fatalf("a = %q", v)
	}
}

func TestTxnDeadlock(t *testing.T) {
	d := openTxnDB(t, nil)
	o := &TxnOptions{Pessimistic: true, DeadlockDetect: true, LockTimeout: 5 * time.Second}
	t1, t2 := mustBegin(t, d, o), mustBegin(t, d, o)
	t1.Put([]byte("a"), nil)
	t2.Put([]byte("b"), nil)
	errc := make(chan error)
	go func() { errc <- t1.Put([]byte("b"), nil) }()
	time.Sleep(20 * time.Millisecond)
	err := t2.Put([]byte("a"), nil)
	if !errors.Is(err, ErrDeadlock) {
		t.Fatalf("t2 = %v, want deadlock", err)
	}
	t2.Rollback()
	if err := <-errc; err != nil {
		t.Fatalf("t1 after the victim rolled back: %v", err)
	}
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestTxnSavePoint(t *testing.T) {
	d := openTxnDB(t, nil)
	tx := mustBegin(t, d, nil)
	tx.Put([]byte("a"), []byte("1"))
	tx.SetSavePoint()
	tx.Put([]byte("a"), []byte("2"))
	tx.Put([]byte("b"), []byte("2"))
	if v, _ := tx.Get([]byte("a")); string(v) != "2" {
		t.Fatalf("a = %q", v)
	}
	if err := tx.RollbackToSavePoint(); err != nil {
		t.Fatal(err)
	}
	if v, _ := tx.Get([]byte("a")); string(v) != "1" {
		t.Fatalf("after rollback to save point a = %q", v)
	}
	if _, err := tx.Get([]byte("b")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b survived the save point: %v", err)
	}
	if err := tx.RollbackToSavePoint(); !errors.Is(err, ErrNoSavePoint) {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get([]byte("a")); string(v) != "1" {
		t.Fatalf("committed a = %q", v)
	}
}

func TestTxnTooLarge(t *testing.T) {
	d := openTxnDB(t, nil)
	tx := mustBegin(t, d, &TxnOptions{SizeLimit: 100})
	if err := tx.Put([]byte("a"), make([]byte, 200)); !errors.Is(err, ErrTxnTooLarge) {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrTxnTooLarge) || IsRetryable(err) {
		t.Fatal(err)
	}
}

func TestTxnTooOld(t *testing.T) {
	d := openTxnDB(t, &Options{TxnConflictWindow: 4 << 10})
	old := mustBegin(t, d, nil)
	old.Get([]byte("x"))
	for i := 0; i < 500; i++ {
		if err := d.Update(context.Background(), func(tx *Txn) error {
			return tx.Put(fmt.Appendf(nil, "key%05d", i), nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	old.Put([]byte("y"), nil)
	if err := old.Commit(); !errors.Is(err, ErrTxnTooOld) || !IsRetryable(err) {
		t.Fatalf("old transaction = %v", err)
	}
	if m := d.Metrics(); m.TxnConflictBytes > 4<<10 {
		t.Fatalf("conflict window holds %d bytes", m.TxnConflictBytes)
	}
}

func TestTxnWatch(t *testing.T) {
	d := openTxnDB(t, nil)
	d.Put([]byte("w"), []byte("1"), nil)
	ch := d.Watch(context.Background(), []byte("w"))
	d.Put([]byte("w"), []byte("1"), nil) // the same value: no change
	select {
	case err := <-ch:
		t.Fatalf("fired without a change: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	d.Put([]byte("w"), []byte("2"), nil)
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not fire")
	}
	// A transaction's watch is armed at commit, from the value it wrote.
	tx := mustBegin(t, d, nil)
	tx.Put([]byte("w"), []byte("3"))
	ch = tx.Watch(context.Background(), []byte("w"))
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	d.DeleteRange([]byte("a"), []byte("z"), nil)
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not fire on a range deletion")
	}
}

func TestTxnMergeNoReadConflict(t *testing.T) {
	d := openTxnDB(t, &Options{Merger: AddMerger})
	one := binary.LittleEndian.AppendUint64(nil, 1)
	t1, t2 := mustBegin(t, d, nil), mustBegin(t, d, nil)
	t1.Merge([]byte("c"), one)
	t2.Merge([]byte("c"), one)
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := t2.Commit(); err != nil {
		t.Fatalf("blind merges conflicted: %v", err)
	}
	v, _ := d.Get([]byte("c"))
	if binary.LittleEndian.Uint64(v) != 2 {
		t.Fatalf("c = %v", v)
	}
}

// TestConflictSetModel checks the conflict set against a brute-force model:
// a list of (range, version) writes, queried by overlap.
func TestConflictSetModel(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	key := func() []byte { return []byte{byte('a' + rng.IntN(12))} }
	randBound := func() bound {
		switch rng.IntN(10) {
		case 0:
			return bound{inf: true}
		case 1:
			return bound{}
		}
		return bound{key: key(), after: rng.IntN(2) == 0}
	}
	for round := 0; round < 50; round++ {
		s := newConflictSet(DefaultComparer)
		type w struct {
			r keyRange
			v uint64
		}
		var model []w
		var version uint64
		for op := 0; op < 200; op++ {
			r := keyRange{randBound(), randBound()}
			switch rng.IntN(3) {
			case 0:
				version++
				s.record(r, version)
				if compareBounds(DefaultComparer, r.start, r.end) < 0 {
					model = append(model, w{r, version})
				}
			case 1:
				if version > 0 && rng.IntN(10) == 0 {
					f := rng.Uint64N(version)
					s.raiseFloor(f)
				}
			default:
				got := s.maxVersion(r)
				var want uint64
				if compareBounds(DefaultComparer, r.start, r.end) < 0 {
					for _, m := range model {
						if compareBounds(DefaultComparer, m.r.start, r.end) < 0 && compareBounds(DefaultComparer, r.start, m.r.end) < 0 {
							want = max(want, m.v)
						}
					}
				}
				if want <= s.floor {
					want = 0
				}
				if got <= s.floor {
					got = 0
				}
				if got != want {
					t.Fatalf("round %d op %d: maxVersion(%v) = %d, want %d (floor %d)", round, op, r, got, want, s.floor)
				}
			}
		}
	}
}

// TestTxnWriteConflictOnlyCommit: a transaction whose only write is a write
// conflict range (GetForUpdate without a Put) conflicts with transactions
// that were concurrent with it, and not with those that begin after its
// commit returned. It used to be recorded at a sequence number no write
// took, above every later read version until some other write came, so a
// reader of its key conflicted on every retry.
func TestTxnWriteConflictOnlyCommit(t *testing.T) {
	d := openTxnDB(t, nil)
	d.Put([]byte("a"), []byte("0"), nil)
	open := mustBegin(t, d, nil) // keeps the conflict history
	defer open.Rollback()
	concurrent := mustBegin(t, d, nil)
	concurrent.Get([]byte("a"))
	concurrent.Put([]byte("b"), nil)
	t1 := mustBegin(t, d, nil)
	if _, err := t1.GetForUpdate([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := concurrent.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("concurrent reader of a = %v, want a conflict", err)
	}
	t2 := mustBegin(t, d, nil)
	t2.Get([]byte("a"))
	t2.Put([]byte("b"), nil)
	if err := t2.Commit(); err != nil {
		t.Fatalf("reader begun after the commit returned: %v", err)
	}
}

// TestTxnDeadlockDetectOtherCycle: a transaction that detects deadlocks
// asks for a lock whose holder is in a cycle of waits it is not part of
// (transactions that do not detect deadlocks, waiting for their timeouts).
// It must wait like any waiter, not follow the cycle forever.
func TestTxnDeadlockDetectOtherCycle(t *testing.T) {
	d := openTxnDB(t, nil)
	slow := &TxnOptions{Pessimistic: true, LockTimeout: 200 * time.Millisecond}
	t1, t2 := mustBegin(t, d, slow), mustBegin(t, d, slow)
	t1.Put([]byte("a"), nil)
	t2.Put([]byte("b"), nil)
	errs := make(chan error, 3)
	go func() { errs <- t1.Put([]byte("b"), nil) }()
	go func() { errs <- t2.Put([]byte("a"), nil) }()
	time.Sleep(50 * time.Millisecond) // both wait: a cycle nobody detects
	t3 := mustBegin(t, d, &TxnOptions{Pessimistic: true, DeadlockDetect: true, LockTimeout: 50 * time.Millisecond})
	go func() { errs <- t3.Put([]byte("a"), nil) }()
	for range 3 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrLockTimeout) {
				t.Errorf("lock = %v, want a timeout", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("lock waits hang")
		}
	}
	t1.Rollback()
	t2.Rollback()
	t3.Rollback()
}
