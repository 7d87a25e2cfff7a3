package strata

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Pessimistic transactions' locks: one exclusive lock per key, held until
// the owner commits or rolls back.
//
// Invariants (under lockTable.mu):
//   - m[k].holder is the one transaction holding k's lock; a waiter waits
//     on m[k].released, closed (and the entry deleted) when the holder
//     lets go, and then tries again (another waiter may win).
//   - tx.waitingFor is the holder tx waits for, set only while it waits.
//     Each transaction waits for at most one lock, so the wait-for graph
//     is a set of chains, some ending in a cycle (of transactions that do
//     not detect deadlocks): a wait closes a cycle exactly when following
//     the chain from the holder comes back to the waiter. The transaction
//     whose wait would close it is the one that fails (ErrDeadlock).

type lockTable struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	holder   *Txn
	released chan struct{} // made by the first waiter
}

// lock takes key's lock for tx, waiting for its holder as the options
// allow.
func (tx *Txn) lock(key []byte) error {
	if _, ok := tx.locked[string(key)]; ok {
		return nil
	}
	lt := &tx.db.txns.locks
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	lt.mu.Lock()
	if lt.m == nil {
		lt.m = make(map[string]*keyLock)
	}
	for {
		kl := lt.m[string(key)]
		if kl == nil {
			k := string(key)
			lt.m[k] = &keyLock{holder: tx}
			lt.mu.Unlock()
			if tx.locked == nil {
				tx.locked = make(map[string]struct{})
			}
			tx.locked[k] = struct{}{}
			tx.lockOrder = append(tx.lockOrder, k)
			return nil
		}
		if tx.opts.DeadlockDetect {
			// The chain may end in a cycle without tx (transactions
			// that do not detect deadlocks wait in it for their
			// timeouts): it has at most len(lt.m) distinct holders.
			for h, n := kl.holder, 0; h != nil && n <= len(lt.m); h, n = h.waitingFor, n+1 {
				if h == tx {
					lt.mu.Unlock()
					return fmt.Errorf("%w (waiting for key %q)", ErrDeadlock, key)
				}
			}
		}
		if kl.released == nil {
			kl.released = make(chan struct{})
		}
		released := kl.released
		tx.waitingFor = kl.holder
		lt.mu.Unlock()
		var expired <-chan time.Time
		if tx.opts.LockTimeout > 0 {
			if timer == nil {
				timer = time.NewTimer(tx.opts.LockTimeout)
			}
			expired = timer.C
		}
		var err error
		select {
		case <-released:
		case <-expired:
			err = fmt.Errorf("%w: key %q, after %v", ErrLockTimeout, key, tx.opts.LockTimeout)
		case <-tx.ctx.Done():
			err = fmt.Errorf("strata: waiting for the lock of key %q: %w", key, context.Cause(tx.ctx))
		}
		lt.mu.Lock()
		tx.waitingFor = nil
		if err != nil {
			lt.mu.Unlock()
			return err
		}
	}
}

// unlockAll releases every lock tx holds, waking their waiters.
func (lt *lockTable) unlockAll(tx *Txn) {
	lt.mu.Lock()
	for _, k := range tx.lockOrder {
		if kl := lt.m[k]; kl != nil && kl.holder == tx {
			delete(lt.m, k)
			if kl.released != nil {
				close(kl.released)
			}
		}
	}
	lt.mu.Unlock()
	tx.lockOrder, tx.locked = nil, nil
}
