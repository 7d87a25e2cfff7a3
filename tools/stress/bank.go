package stress

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata"
)

// The bank across SIGKILLs (Config.Bank; issue 25): the child's goroutines
// run transfers between accounts as transactions (DB.UpdateWith), some
// optimistic and some pessimistic, a third of them crediting with a Merge
// (AddMerger), three in four with TxnOptions.Sync. A transfer that moves
// money also writes its log key, "log/<life>/<g>/<n>" = "<from> <to>
// <amount>", in the same transaction, and once Commit has returned the
// child reports it:
//
//	txn <life> <g> <n> <sync 0|1> <from> <to> <amount>
//
// After each kill the parent opens the database read-only and checks:
//
//   - the accounts all exist, none is below zero and they hold the total
//     they started with;
//   - each account holds exactly its initial balance plus the logged
//     transfers into it, less those out of it: a transaction's writes are
//     all there or none (a log without its balances, or the reverse, shows);
//   - every transfer reported with Sync is there, with the logged value;
//   - for each goroutine of each life, the transfers present are a prefix of
//     those it committed, in order, plus at most one committed but killed
//     before its report (in flight): a transfer is never there without
//     the ones its goroutine committed before it, synced or not;
//   - no key other than the accounts, the logs and the initialization
//     marker exists.
//
// Reported transfers without Sync that a kill lost are allowed (a SIGKILL
// keeps what reached the kernel, so they are rare) and counted.

// BankOptions are the options of the bank's database: ChildOptions with
// the add merge operator.
func BankOptions() *strata.Options {
	o := ChildOptions()
	o.Merger = strata.AddMerger
	return o
}

const (
	bankInitKey = "bank/init"
	bankInitial = 1000
)

func bankAccount(i int) string { return fmt.Sprintf("acct/%04d", i) }

func bankLogKey(life, g int, n uint64) string { return fmt.Sprintf("log/%06d/%02d/%08d", life, g, n) }

func bankAmount(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("balance of %d bytes: %x", len(v), v)
	}
	return binary.LittleEndian.Uint64(v), nil
}

func bankIter() *strata.IterOptions {
	return &strata.IterOptions{LowerBound: []byte("acct/"), UpperBound: []byte("acct0")}
}

// runBankChild opens the database, creates the accounts if the database
// has none (one synced transaction), and runs the transfers and an auditor
// until it is killed.
func runBankChild(c childConfig, lw *lineWriter) error {
	db, err := strata.Open(c.Dir, BankOptions())
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if err := lw.printf("ready"); err != nil {
		return err
	}
	ctx := context.Background()
	err = db.UpdateWith(ctx, &strata.TxnOptions{Sync: true}, func(tx *strata.Txn) error {
		if _, err := tx.Get([]byte(bankInitKey)); !errors.Is(err, strata.ErrNotFound) {
			return err
		}
		for i := 0; i < c.Accounts; i++ {
			if err := tx.Put([]byte(bankAccount(i)), binary.LittleEndian.AppendUint64(nil, bankInitial)); err != nil {
				return err
			}
		}
		return tx.Put([]byte(bankInitKey), []byte(strconv.Itoa(c.Accounts)))
	})
	if err != nil {
		return fmt.Errorf("create the accounts: %w", err)
	}
	errc := make(chan error, c.Workload.Writers+1)
	for g := 0; g < c.Workload.Writers; g++ {
		go func(g int) { errc <- bankTransferer(db, c, g, lw) }(g)
	}
	go func() { errc <- bankAuditor(db, c, lw) }()
	return <-errc
}

// bankTransferer runs transfers until the process is killed. Odd
// goroutines are pessimistic (deadlock detection on; locks taken in random
// order), even ones optimistic.
func bankTransferer(db *strata.DB, c childConfig, g int, lw *lineWriter) error {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
	for n := uint64(1); ; n++ {
		from := rng.IntN(c.Accounts)
		to := (from + 1 + rng.IntN(c.Accounts-1)) % c.Accounts
		amount := uint64(1 + rng.IntN(100))
		merge := rng.IntN(3) == 0
		o := &strata.TxnOptions{Sync: rng.IntN(4) != 0}
		if g%2 == 1 {
			o.Pessimistic, o.DeadlockDetect, o.LockTimeout = true, true, 200*time.Millisecond
		}
		log := fmt.Sprintf("%d %d %d", from, to, amount)
		var moved bool
		err := db.UpdateWith(context.Background(), o, func(tx *strata.Txn) error {
			moved = false
			read := tx.Get
			if o.Pessimistic {
				read = tx.GetForUpdate
			}
			first, second := from, to
			if rng.IntN(2) == 0 {
				first, second = to, from
			}
			var bal [2]uint64 // from, to
			for _, i := range []int{first, second} {
				if merge && i == to {
					continue // the credit is blind
				}
				v, err := read([]byte(bankAccount(i)))
				if err != nil {
					return fmt.Errorf("read %s: %w", bankAccount(i), err)
				}
				b, err := bankAmount(v)
				if err != nil {
					return err
				}
				if i == from {
					bal[0] = b
				} else {
					bal[1] = b
				}
			}
			if bal[0] < amount {
				return nil
			}
			if err := tx.Put([]byte(bankAccount(from)), binary.LittleEndian.AppendUint64(nil, bal[0]-amount)); err != nil {
				return err
			}
			var err error
			if merge {
				err = tx.Merge([]byte(bankAccount(to)), binary.LittleEndian.AppendUint64(nil, amount))
			} else {
				err = tx.Put([]byte(bankAccount(to)), binary.LittleEndian.AppendUint64(nil, bal[1]+amount))
			}
			if err != nil {
				return err
			}
			moved = true
			return tx.Put([]byte(bankLogKey(c.Life, g, n)), []byte(log))
		})
		if err != nil {
			return fmt.Errorf("transferer %d: transfer %d: %w", g, n, err)
		}
		if !moved {
			continue
		}
		sync := 0
		if o.Sync {
			sync = 1
		}
		if err := lw.printf("txn %d %d %d %d %s", c.Life, g, n, sync, log); err != nil {
			return err
		}
	}
}

// bankAuditor scans the accounts in read-only transactions (the total and
// no negative balance) and now and then compacts a range; it reports the
// background work done.
func bankAuditor(db *strata.DB, c childConfig, lw *lineWriter) error {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 99))
	for {
		err := db.View(context.Background(), func(tx *strata.Txn) error {
			it := tx.NewIterator(bankIter())
			var total uint64
			n := 0
			for ok := it.First(); ok; ok = it.Next() {
				b, err := bankAmount(it.Value())
				if err != nil || int64(b) < 0 || string(it.Key()) != bankAccount(n) {
					lw.printf("bad audit: %s = %x (account %d expected): %v", it.Key(), it.Value(), n, err)
					it.Close()
					return fmt.Errorf("audit: %s", it.Key())
				}
				total += b
				n++
			}
			if err := it.Close(); err != nil {
				return err
			}
			if n != c.Accounts || total != uint64(c.Accounts)*bankInitial {
				lw.printf("bad audit: %d accounts hold %d", n, total)
				return fmt.Errorf("audit: %d accounts hold %d", n, total)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if rng.IntN(4) == 0 {
			a, b := rng.IntN(c.Accounts), rng.IntN(c.Accounts)
			if err := db.CompactRange([]byte(bankAccount(min(a, b))), []byte(bankAccount(max(a, b)))); err != nil {
				return fmt.Errorf("compact range: %w", err)
			}
		}
		m := db.Metrics()
		if err := lw.printf("work %d %d", m.Flushes, m.Compactions+m.TrivialMoves); err != nil {
			return err
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond) // pacing, not waiting for a condition
	}
}

// bankAck is a transfer the child reported as committed.
type bankAck struct {
	n    uint64
	sync bool
	log  string // "<from> <to> <amount>"
}

// bankWriter is one goroutine of one life.
type bankWriter struct{ life, g int }

// bankParent is the parent's record of the transfers reported.
type bankParent struct {
	acked map[string]bankAck // by log key
	// order lists each goroutine's reported transfers, in order.
	order map[bankWriter][]string
	// inFlight: transfers found although never reported; unsyncedLost:
	// reported without Sync and not found after the kill.
	inFlight, unsyncedLost map[string]bool
}

func newBankParent() bankParent {
	return bankParent{acked: map[string]bankAck{}, order: map[bankWriter][]string{},
		inFlight: map[string]bool{}, unsyncedLost: map[string]bool{}}
}

// bankEvent handles a "txn" line.
func (p *parent) bankEvent(f []string, line string) error {
	if len(f) != 8 {
		return fmt.Errorf("stress: bad line from the child: %q", line)
	}
	var v [7]uint64
	for i := range v {
		x, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return fmt.Errorf("stress: bad line from the child: %q", line)
		}
		v[i] = x
	}
	w := bankWriter{int(v[0]), int(v[1])}
	key := bankLogKey(w.life, w.g, v[2])
	if w.life != p.lives || w.g >= p.cfg.Writers || v[3] > 1 {
		return fmt.Errorf("stress: bad line from the child: %q", line)
	}
	if _, dup := p.bank.acked[key]; dup {
		return fmt.Errorf("stress: transfer %s reported twice", key)
	}
	p.bank.acked[key] = bankAck{n: v[2], sync: v[3] == 1, log: strings.Join(f[5:], " ")}
	p.bank.order[w] = append(p.bank.order[w], key)
	p.res.Acked++
	if v[3] == 0 {
		p.res.UnsyncedAcked++
	}
	return nil
}

// verifyBank opens the database read-only and checks it (see the top of
// this file).
func (p *parent) verifyBank() error {
	db, err := p.openReadOnly(BankOptions())
	if db == nil {
		return err
	}
	defer db.Close()
	fail := func(format string, args ...any) error {
		p.res.Wrong++
		return fmt.Errorf("stress: after kill %d: %s", p.res.Kills, fmt.Sprintf(format, args...))
	}
	balances := make([]int64, p.cfg.Accounts)
	for i := range balances {
		balances[i] = bankInitial
	}
	var (
		accounts, seen int
		total          uint64
		initialized    bool
		present        = map[string]bool{}
		lastPresent    = map[bankWriter]uint64{} // the highest n present
		unreported     = map[bankWriter][]uint64{}
	)
	it := db.NewIterator(nil)
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k, v := string(it.Key()), it.Value()
		seen++
		switch {
		case k == bankInitKey:
			initialized = true
		case strings.HasPrefix(k, "acct/"):
			if k != bankAccount(accounts) {
				return fail("account %d is %q", accounts, k)
			}
			b, err := bankAmount(v)
			if err != nil || int64(b) < 0 {
				return fail("%s = %x (%v)", k, v, err)
			}
			accounts++
			total += b
		case strings.HasPrefix(k, "log/"):
			var w bankWriter
			var n uint64
			if _, err := fmt.Sscanf(k, "log/%d/%d/%d", &w.life, &w.g, &n); err != nil || bankLogKey(w.life, w.g, n) != k {
				return fail("unexpected key %q", k)
			}
			var from, to int
			var amount int64
			if _, err := fmt.Sscanf(string(v), "%d %d %d", &from, &to, &amount); err != nil ||
				from < 0 || from >= p.cfg.Accounts || to < 0 || to >= p.cfg.Accounts {
				return fail("%s = %q", k, v)
			}
			balances[from] -= amount
			balances[to] += amount
			present[k] = true
			lastPresent[w] = max(lastPresent[w], n)
			if a, ok := p.bank.acked[k]; !ok {
				unreported[w] = append(unreported[w], n)
				if w.life == p.lives && !p.bank.inFlight[k] {
					p.bank.inFlight[k] = true
					p.res.InFlight++
				}
			} else if a.log != string(v) {
				return fail("%s = %q, reported as %q", k, v, a.log)
			}
		default:
			return fail("unexpected key %q", k)
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("stress: after kill %d: scan: %w", p.res.Kills, err)
	}
	p.res.KeysChecked += seen
	if !initialized {
		if seen > 0 || p.res.Acked > 0 {
			return fail("the accounts were never created, but %d keys and %d reported transfers", seen, p.res.Acked)
		}
		return nil
	}
	if accounts != p.cfg.Accounts || total != uint64(p.cfg.Accounts)*bankInitial {
		return fail("%d accounts hold %d, want %d holding %d", accounts, total, p.cfg.Accounts, p.cfg.Accounts*bankInitial)
	}
	for i, want := range balances {
		v, err := db.Get([]byte(bankAccount(i)))
		if err != nil {
			return fail("%s: %v", bankAccount(i), err)
		}
		if b, _ := bankAmount(v); int64(b) != want {
			return fail("%s holds %d, but the logged transfers make it %d", bankAccount(i), int64(b), want)
		}
	}
	for w, keys := range p.bank.order {
		for _, k := range keys {
			a := p.bank.acked[k]
			switch {
			case present[k]:
			case a.sync:
				p.res.Lost++
				return fmt.Errorf("stress: after kill %d: transfer %s (%s) was committed with Sync and reported, and is lost",
					p.res.Kills, k, a.log)
			case a.n < lastPresent[w]:
				p.res.Lost++
				return fmt.Errorf("stress: after kill %d: transfer %s (%s) is lost, but a later one of its goroutine is there",
					p.res.Kills, k, a.log)
			case w.life == p.lives && !p.bank.unsyncedLost[k]:
				p.bank.unsyncedLost[k] = true
				p.res.UnsyncedLost++
			}
		}
	}
	// A transfer present but not reported was committed when the kill
	// came, before its report: its goroutine's last, after every one it
	// reported.
	for w, ns := range unreported {
		if len(ns) > 1 {
			return fail("goroutine %d of life %d has %d unreported transfers: %v", w.g, w.life, len(ns), ns)
		}
		if keys := p.bank.order[w]; len(keys) > 0 && p.bank.acked[keys[len(keys)-1]].n > ns[0] {
			return fail("goroutine %d of life %d: transfer %d is there unreported, before its reported %s",
				w.g, w.life, ns[0], keys[len(keys)-1])
		}
	}
	return nil
}
