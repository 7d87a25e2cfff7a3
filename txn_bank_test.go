package strata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/vfs"
)

// The bank (issue 25, test 3): accounts holding 8-byte little-endian
// balances, concurrent transfers that each read two accounts and move a
// random amount if the source has it, and concurrent audits that scan every
// account in one transaction. Whatever the interleaving, an audit sees the
// total unchanged and no balance below zero, and at the end each account
// holds exactly its initial balance plus the transfers that committed (Update
// returned nil) into it, less those out of it: a committed transfer is
// never lost nor applied twice, a refused one leaves nothing.
//
// Under each mode: optimistic (serializable, and snapshot isolation, where
// a transfer writes both keys it reads, so first-committer-wins keeps the
// total); pessimistic, locking the two accounts in random order so that
// deadlocks happen, resolved by LockTimeout alone or by DeadlockDetect;
// with a conflict window so small that history is forgotten all the time;
// and
// with the credit side a blind Merge (AddMerger) while the debit stays a
// read-modify-write, the merge made first half the time and undone with a
// save point when the source is short.

const (
	bankAccounts = 50
	bankInitial  = 1000
)

func bankKey(i int) []byte { return fmt.Appendf(nil, "acct/%03d", i) }

func bankValue(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// bankBalance decodes a balance; a missing account is an error.
func bankBalance(v []byte, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("balance of %d bytes: %x", len(v), v)
	}
	return binary.LittleEndian.Uint64(v), nil
}

type bankMode struct {
	name string
	opts TxnOptions
	// merge: the credit is a Merge of the amount (AddMerger).
	merge bool
	// window, if set, is Options.TxnConflictWindow: small, so that the
	// conflict set forgets history all the time and slow transactions
	// fail with ErrTxnTooOld (retried) rather than miss a conflict.
	window int64
}

func bankModes() []bankMode {
	return []bankMode{
		{name: "optimistic"},
		{name: "optimistic-merge", merge: true},
		{name: "optimistic-small-window", window: 2 << 10},
		{name: "snapshot-isolation", opts: TxnOptions{Isolation: SnapshotIsolation}},
		{name: "pessimistic-timeout", opts: TxnOptions{Pessimistic: true, LockTimeout: 10 * time.Millisecond}},
		{name: "pessimistic-deadlock-detect", opts: TxnOptions{Pessimistic: true, DeadlockDetect: true, LockTimeout: 5 * time.Second}},
		{name: "pessimistic-merge", opts: TxnOptions{Pessimistic: true, DeadlockDetect: true, LockTimeout: 5 * time.Second}, merge: true},
	}
}

func TestTxnBank(t *testing.T) {
	life := time.Second
	if testing.Short() {
		life = 250 * time.Millisecond
	}
	for _, mode := range bankModes() {
		t.Run(mode.name, func(t *testing.T) { runBank(t, mode, life) })
	}
}

// bankStats counts what a run did.
type bankStats struct {
	transfers, skipped, audits atomic.Int64
	starved                    atomic.Int64 // audits that ran out of retries
	attempts                   atomic.Int64 // fn calls of the transfers
	deadlocks, lockTimeouts    atomic.Int64
}

// bankAudit sums the accounts an iterator over the transaction's view
// returns, checking that they are all there and none is below zero.
func bankAudit(it *Iterator) error {
	var total uint64
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if string(it.Key()) != string(bankKey(n)) {
			return fmt.Errorf("audit: account %d is %q", n, it.Key())
		}
		b, err := bankBalance(it.Value(), nil)
		if err != nil {
			return fmt.Errorf("audit: %s: %w", it.Key(), err)
		}
		if int64(b) < 0 {
			return fmt.Errorf("audit: %s is negative: %d", it.Key(), int64(b))
		}
		total += b
		n++
	}
	if err := it.Close(); err != nil {
		return err
	}
	if n != bankAccounts || total != bankAccounts*bankInitial {
		return fmt.Errorf("audit: %d accounts hold %d, want %d holding %d", n, total, bankAccounts, bankAccounts*bankInitial)
	}
	return nil
}

func bankIterOptions() *IterOptions {
	return &IterOptions{LowerBound: []byte("acct/"), UpperBound: []byte("acct0")}
}

func runBank(t *testing.T, mode bankMode, life time.Duration) {
	fs := vfs.NewMem()
	opts := &Options{FS: fs, WriteBufferSize: 4 << 10, BlockSize: 256, TargetFileSize: 8 << 10,
		L0CompactionTrigger: 2, LevelSizeMultiplier: 2, Merger: AddMerger, TxnConflictWindow: mode.window}
	d, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { d.Close() }()
	b := d.NewBatch()
	for i := 0; i < bankAccounts; i++ {
		b.Put(bankKey(i), bankValue(bankInitial))
	}
	if err := d.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const transferers, auditors = 6, 2
	var (
		st     bankStats
		stop   atomic.Bool
		wg     sync.WaitGroup
		deltas [transferers][bankAccounts]int64
		errc   = make(chan error, transferers+auditors)
	)
	for w := 0; w < transferers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for !stop.Load() {
				from := rng.IntN(bankAccounts)
				to := (from + 1 + rng.IntN(bankAccounts-1)) % bankAccounts
				if rng.IntN(3) == 0 { // a few hot accounts: contention, deadlocks
					from, to = rng.IntN(4), 4+rng.IntN(4)
					if rng.IntN(2) == 0 {
						from, to = to, from
					}
				}
				amount := uint64(1 + rng.IntN(150))
				var moved bool
				var calls int64
				o := mode.opts
				err := d.UpdateWith(ctx, &o, func(tx *Txn) error {
					calls++
					moved = false
					var err error
					if mode.merge {
						moved, err = bankTransferMerge(tx, rng, from, to, amount)
					} else {
						moved, err = bankTransfer(tx, rng, from, to, amount)
					}
					switch {
					case errors.Is(err, ErrDeadlock):
						st.deadlocks.Add(1)
					case errors.Is(err, ErrLockTimeout):
						st.lockTimeouts.Add(1)
					}
					return err
				})
				st.attempts.Add(calls)
				if err != nil {
					errc <- fmt.Errorf("transfer %d -> %d of %d: %w", from, to, amount, err)
					return
				}
				if moved {
					st.transfers.Add(1)
					deltas[w][from] -= int64(amount)
					deltas[w][to] += int64(amount)
				} else {
					st.skipped.Add(1)
				}
			}
		}(w)
	}
	for a := 0; a < auditors; a++ {
		wg.Add(1)
		go func(a int) {
			defer wg.Done()
			o := mode.opts
			for n := 0; !stop.Load(); n++ {
				var err error
				switch n % 3 {
				case 0: // read-only: one snapshot
					err = d.View(ctx, func(tx *Txn) error { return bankAudit(tx.NewIterator(bankIterOptions())) })
				case 1: // read-write: the scan is a read conflict range checked at commit
					err = d.UpdateWith(ctx, &o, func(tx *Txn) error {
						if err := bankAudit(tx.NewIterator(bankIterOptions())); err != nil {
							return err
						}
						return tx.Put(fmt.Appendf(nil, "audit/%d", a), bankValue(uint64(n)))
					})
				default: // through the transaction's snapshot reader, after a write of its own
					err = d.UpdateWith(ctx, &o, func(tx *Txn) error {
						if err := tx.Put(fmt.Appendf(nil, "audit/%d", a), bankValue(uint64(n))); err != nil {
							return err
						}
						return bankAudit(tx.Snapshot().NewIterator(bankIterOptions()))
					})
				}
				switch {
				case IsRetryable(err):
					// A read-write scan of every account, against
					// transfers committing all the time, may fail
					// every try: optimistic concurrency starves it
					// (as FoundationDB's would), which is no error.
					st.starved.Add(1)
					continue
				case err != nil:
					errc <- fmt.Errorf("auditor %d: %w", a, err)
					return
				}
				st.audits.Add(1)
			}
		}(a)
	}
	timer := time.NewTimer(life)
	select {
	case <-timer.C:
	case err := <-errc:
		stop.Store(true)
		wg.Wait()
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	m := d.Metrics()
	retries := st.attempts.Load() - st.transfers.Load() - st.skipped.Load()
	t.Logf("%s: %d transfers (%d skipped: source short), %d audits (%d out of retries); %d transfer retries (%d deadlocks, %d lock timeouts); "+
		"metrics: %d commits, %d conflicts, %d retries; %d flushes, %d compactions",
		mode.name, st.transfers.Load(), st.skipped.Load(), st.audits.Load(), st.starved.Load(), retries, st.deadlocks.Load(),
		st.lockTimeouts.Load(), m.TxnCommits, m.TxnConflicts, m.TxnRetries, m.Flushes, m.Compactions)
	if st.transfers.Load() == 0 || st.audits.Load() == 0 {
		t.Fatalf("the run did nothing: %d transfers, %d audits", st.transfers.Load(), st.audits.Load())
	}
	if mode.opts.Pessimistic {
		// A pessimistic transfer reads only what it has locked: it never
		// fails at commit, only in its lock waits.
		if c := retries - st.deadlocks.Load() - st.lockTimeouts.Load(); c != 0 {
			t.Errorf("%d pessimistic transfers failed at commit", c)
		}
	}
	if mode.opts.DeadlockDetect && st.lockTimeouts.Load() > 0 {
		// With detection every cycle is broken at once: a wait of
		// LockTimeout (5 s) means one went unnoticed.
		t.Errorf("%d lock waits timed out although deadlocks are detected", st.lockTimeouts.Load())
	}
	var want [bankAccounts]int64
	for i := range want {
		want[i] = bankInitial
		for w := range deltas {
			want[i] += deltas[w][i]
		}
	}
	check := func(what string) {
		t.Helper()
		for i := range want {
			got, err := bankBalance(d.Get(bankKey(i)))
			if err != nil || int64(got) != want[i] {
				t.Fatalf("%s: account %d holds %d (%v), want %d from the committed transfers", what, i, int64(got), err, want[i])
			}
		}
		if err := d.View(ctx, func(tx *Txn) error { return bankAudit(tx.NewIterator(bankIterOptions())) }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	check("at the end")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if d, err = Open("db", opts); err != nil {
		t.Fatal(err)
	}
	check("after a reopen")
}

// bankTransfer reads both accounts, in random order (under Pessimistic
// with GetForUpdate, so the locks are taken in that order; otherwise with
// Get or GetForUpdate at random), and moves amount if from holds it.
func bankTransfer(tx *Txn, rng *rand.Rand, from, to int, amount uint64) (bool, error) {
	read := tx.Get
	if tx.Options().Pessimistic || rng.IntN(4) == 0 {
		read = tx.GetForUpdate
	}
	first, second := from, to
	if rng.IntN(2) == 0 {
		first, second = to, from
	}
	var bal [bankAccounts]uint64
	for _, i := range []int{first, second} {
		b, err := bankBalance(read(bankKey(i)))
		if err != nil {
			return false, err
		}
		bal[i] = b
	}
	if bal[from] < amount {
		return false, nil
	}
	if err := tx.Put(bankKey(from), bankValue(bal[from]-amount)); err != nil {
		return false, err
	}
	return true, tx.Put(bankKey(to), bankValue(bal[to]+amount))
}

// bankTransferMerge credits to with a Merge (no read; under Pessimistic it
// takes to's lock) and debits from by read-modify-write, in random order:
// when the credit comes first and from is short, a save point undoes it.
func bankTransferMerge(tx *Txn, rng *rand.Rand, from, to int, amount uint64) (bool, error) {
	read := tx.Get
	if tx.Options().Pessimistic || rng.IntN(4) == 0 {
		read = tx.GetForUpdate
	}
	if rng.IntN(2) == 0 {
		tx.SetSavePoint()
		if err := tx.Merge(bankKey(to), bankValue(amount)); err != nil {
			return false, err
		}
		b, err := bankBalance(read(bankKey(from)))
		if err != nil {
			return false, err
		}
		if b < amount {
			return false, tx.RollbackToSavePoint()
		}
		return true, tx.Put(bankKey(from), bankValue(b-amount))
	}
	b, err := bankBalance(read(bankKey(from)))
	if err != nil {
		return false, err
	}
	if b < amount {
		return false, nil
	}
	if err := tx.Put(bankKey(from), bankValue(b-amount)); err != nil {
		return false, err
	}
	return true, tx.Merge(bankKey(to), bankValue(amount))
}
