// Package local implements the SQL layer's storage interface (package
// sql/kv) over an embedded Strata database's transactions.
package local

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv"
)

// Store is a kv.Store over a *strata.DB. It is a kv.Watcher: the SQL
// layer writes the database only through its transactions (the Stores of
// one *strata.DB share their watches).
type Store struct {
	DB *strata.DB
	w  *watches
}

// New returns a store over db.
func New(db *strata.DB) *Store { return &Store{DB: db, w: watchesOf(db)} }

// watches are the watched prefixes of one database.
type watches struct {
	mu   sync.Mutex                // held to add one
	list atomic.Pointer[[]watched] // replaced, never changed
}

type watched struct {
	prefix []byte
	w      *kv.Watch
}

// allWatches maps each database (weakly: a closed, unreachable database's
// entry goes) to its watches.
var allWatches sync.Map // weak.Pointer[strata.DB] -> *watches

func watchesOf(db *strata.DB) *watches {
	k := weak.Make(db)
	if w, ok := allWatches.Load(k); ok {
		return w.(*watches)
	}
	w, loaded := allWatches.LoadOrStore(k, &watches{})
	if !loaded {
		runtime.AddCleanup(db, func(k weak.Pointer[strata.DB]) { allWatches.Delete(k) }, k)
	}
	return w.(*watches)
}

// watches returns the database's watches (a Store made without New
// finds them each time).
func (s *Store) watches() *watches {
	if s.w != nil {
		return s.w
	}
	return watchesOf(s.DB)
}

// Watch implements kv.Watcher. Transactions that began before the first
// Watch of a prefix are not counted by it.
func (s *Store) Watch(prefix []byte) *kv.Watch {
	ws := s.watches()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	old := ws.current()
	for _, x := range old {
		if bytes.Equal(x.prefix, prefix) {
			return x.w
		}
	}
	w := &kv.Watch{}
	l := append(append([]watched(nil), old...), watched{prefix: bytes.Clone(prefix), w: w})
	ws.list.Store(&l)
	return w
}

// current returns the watched prefixes (a slice never changed after).
func (w *watches) current() []watched {
	if l := w.list.Load(); l != nil {
		return *l
	}
	return nil
}

// Begin starts a strata transaction.
func (s *Store) Begin(ctx context.Context, o kv.TxnOptions) (kv.Txn, error) {
	iso := strata.Serializable
	if o.Isolation == kv.SnapshotIsolation {
		iso = strata.SnapshotIsolation
	}
	tx, err := s.DB.BeginTxn(ctx, &strata.TxnOptions{ReadOnly: o.ReadOnly, Isolation: iso, Sync: o.Sync})
	if err != nil {
		return nil, err
	}
	t := &txn{tx: tx}
	if !o.ReadOnly {
		t.watched = s.watches().current()
	}
	return t, nil
}

// IsRetryable is strata.IsRetryable.
func (s *Store) IsRetryable(err error) bool { return strata.IsRetryable(err) }

type txn struct {
	tx *strata.Txn
	// watched are the watched prefixes when the transaction began;
	// touched[i] marks a write under watched[i].
	watched []watched
	touched []bool
	// refreshedAt is the number of read ranges at the last Refresh.
	refreshedAt int
}

// wroteKey marks the watches whose prefix key starts with.
func (t *txn) wroteKey(key []byte) {
	for i, x := range t.watched {
		if bytes.HasPrefix(key, x.prefix) {
			t.touch(i)
		}
	}
}

// wroteRange marks the watches whose prefix's keys [start, end) (end nil:
// unbounded) overlaps: it starts before the prefix's keys end and ends
// after the prefix.
func (t *txn) wroteRange(start, end []byte) {
	for i, x := range t.watched {
		if (bytes.Compare(start, x.prefix) < 0 || bytes.HasPrefix(start, x.prefix)) &&
			(end == nil || bytes.Compare(end, x.prefix) > 0) {
			t.touch(i)
		}
	}
}

func (t *txn) touch(i int) {
	if t.touched == nil {
		t.touched = make([]bool, len(t.watched))
	}
	t.touched[i] = true
}

func (t *txn) Get(key []byte) ([]byte, error) {
	v, err := t.tx.Get(key)
	if errors.Is(err, strata.ErrNotFound) {
		return nil, kv.ErrNotFound
	}
	return v, err
}

func (t *txn) Scan(start, end []byte, reverse bool) kv.Iterator {
	it := t.tx.NewIterator(&strata.IterOptions{LowerBound: start, UpperBound: end})
	return &iter{it: it, reverse: reverse}
}

func (t *txn) Put(key, value []byte) error {
	t.wroteKey(key)
	return t.tx.Put(key, value)
}

func (t *txn) Delete(key []byte) error {
	t.wroteKey(key)
	return t.tx.Delete(key)
}

func (t *txn) DeleteRange(start, end []byte) error {
	t.wroteRange(start, end)
	return t.tx.DeleteRange(start, end)
}

func (t *txn) Lock(key []byte) error {
	if t.tx.Options().ReadOnly {
		return nil
	}
	return t.tx.AddWriteConflictRange(key, nil)
}
func (t *txn) MarkRead(key []byte) error {
	end := append(key[:len(key):len(key)], 0) // the key right after key
	return t.tx.AddReadConflictRange(key, end)
}

// refreshFreeReads is the read set small enough to check at every Refresh.
const refreshFreeReads = 256

// Refresh refreshes the transaction (strata.Txn.Refresh) when that is
// cheap: while it has few reads, or once it has recorded since its last
// refresh at least as many reads as it had then. A refresh checks every
// read, so this bounds the checking to a constant per read recorded,
// however many statements a long transaction runs.
func (t *txn) Refresh() (bool, error) {
	n := t.tx.ReadRanges()
	if n > refreshFreeReads && n-t.refreshedAt < t.refreshedAt {
		return false, nil
	}
	v := t.tx.ReadVersion()
	if err := t.tx.Refresh(); err != nil {
		return false, err
	}
	t.refreshedAt = n
	return t.tx.ReadVersion() != v, nil
}

func (t *txn) SetSavePoint()              { t.tx.SetSavePoint() }
func (t *txn) RollbackToSavePoint() error { return t.tx.RollbackToSavePoint() }
func (t *txn) Commit() error {
	if t.touched == nil {
		return t.tx.Commit()
	}
	for i, x := range t.watched {
		if t.touched[i] {
			x.w.BeginCommit()
			defer x.w.EndCommit()
		}
	}
	return t.tx.Commit()
}

func (t *txn) Rollback() error { return t.tx.Rollback() }

type iter struct {
	it      *strata.Iterator
	reverse bool
	started bool
}

func (i *iter) Next() bool {
	if !i.started {
		i.started = true
		if i.reverse {
			return i.it.Last()
		}
		return i.it.First()
	}
	if i.reverse {
		return i.it.Prev()
	}
	return i.it.Next()
}

func (i *iter) Key() []byte   { return i.it.Key() }
func (i *iter) Value() []byte { return i.it.Value() }
func (i *iter) Err() error    { return i.it.Err() }
func (i *iter) Close() error  { return i.it.Close() }
