package strata

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
)

// Watches (FoundationDB's watches): a watch remembers a key's value and
// reports once it differs. The commit leader pokes the watches of the keys
// a group wrote (only when there are watches: n > 0); the watch's goroutine
// then reads the key again and compares, so a write of the same value does
// not fire it, while a change and its undoing between two looks may go
// unnoticed (as in FoundationDB: a watch reports "changed since", not every
// change).

type watchSet struct {
	n  atomic.Int64
	mu sync.Mutex
	m  map[string][]*watcher
}

type watcher struct {
	key  string
	poke chan struct{} // buffered: a poke is never lost, never blocks
}

func (w *watcher) wake() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// Watch returns a channel that receives nil once key's value differs from
// its value now (set, changed or deleted), ctx's cause if ctx ends first,
// or ErrClosed if the database closes first. It receives exactly once.
func (d *DB) Watch(ctx context.Context, key []byte) <-chan error {
	ch := make(chan error, 1)
	v, err := d.Get(key)
	has := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		ch <- err
		return ch
	}
	d.watchFrom(ctx, key, v, has, ch)
	return ch
}

// watchFrom fires ch once key's value differs from (v, has).
func (d *DB) watchFrom(ctx context.Context, key, v []byte, has bool, ch chan error) {
	if ctx == nil {
		ctx = context.Background()
	}
	w := &watcher{key: string(key), poke: make(chan struct{}, 1)}
	ws := &d.watches
	ws.mu.Lock()
	if ws.m == nil {
		ws.m = make(map[string][]*watcher)
	}
	ws.m[w.key] = append(ws.m[w.key], w)
	ws.n.Add(1)
	ws.mu.Unlock()
	go func() {
		defer ws.remove(w)
		for {
			// Look after registering: a change made before it is seen here.
			cur, err := d.Get(key)
			switch {
			case errors.Is(err, ErrNotFound):
				if has {
					ch <- nil
					return
				}
			case err != nil:
				ch <- err
				return
			case !has || !bytes.Equal(cur, v):
				ch <- nil
				return
			}
			select {
			case <-w.poke:
			case <-ctx.Done():
				ch <- context.Cause(ctx)
				return
			}
		}
	}()
}

func (ws *watchSet) remove(w *watcher) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	list := ws.m[w.key]
	for i, x := range list {
		if x == w {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(ws.m, w.key)
	} else {
		ws.m[w.key] = list
	}
	ws.n.Add(-1)
}

// pokeAll wakes every watch (an ingestion, Close).
func (ws *watchSet) pokeAll() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, list := range ws.m {
		for _, w := range list {
			w.wake()
		}
	}
}

// pokeWatchesLocked wakes the watches of the keys the group wrote.
func (d *DB) pokeWatchesLocked(group []*writer) {
	ws := &d.watches
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, g := range group {
		if g.skip || g.batch == nil {
			continue
		}
		r, err := batch.NewReader(g.batch.data)
		if err != nil {
			continue
		}
		for {
			kind, k, v, ok, err := r.Next()
			if err != nil || !ok {
				break
			}
			if kind != base.KindRangeDelete {
				for _, w := range ws.m[string(k)] {
					w.wake()
				}
				continue
			}
			for key, list := range ws.m {
				if d.cmp.Compare([]byte(key), k) >= 0 && d.cmp.Compare([]byte(key), v) < 0 {
					for _, w := range list {
						w.wake()
					}
				}
			}
		}
	}
}

// watchArm is a Txn.Watch waiting for its transaction to end.
type watchArm struct {
	ctx context.Context
	key []byte
	ch  chan error
}

// Watch returns a channel that, once the transaction commits, receives nil
// when key's value differs from the value the transaction left it with
// (see DB.Watch). If the transaction does not commit, the channel receives
// the commit's error, or ErrTxnDone after a rollback. The watch adds no
// read conflict.
func (tx *Txn) Watch(ctx context.Context, key []byte) <-chan error {
	ch := make(chan error, 1)
	if err := tx.checkOpen(); err != nil {
		ch <- err
		return ch
	}
	tx.watches = append(tx.watches, &watchArm{ctx: ctx, key: bytes.Clone(key), ch: ch})
	return ch
}

// armWatches starts the transaction's watches after a commit (err nil),
// from the values its view holds, or fails them with err.
func (tx *Txn) armWatches(err error) {
	for _, w := range tx.watches {
		if err != nil {
			w.ch <- err
			continue
		}
		v, gerr := tx.view().Get(w.key)
		if gerr != nil && !errors.Is(gerr, ErrNotFound) {
			w.ch <- gerr
			continue
		}
		tx.db.watchFrom(w.ctx, w.key, v, gerr == nil, w.ch)
	}
	tx.watches = nil
}
