package stress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/strata-db/strata"
)

// ChildEnv is the environment variable that makes a process a crash-test
// child: its value is the child's configuration, as JSON. The parent runs
// its own command again with it set (see Config.Command).
const ChildEnv = "STRATA_STRESS_CHILD"

// childConfig is what the parent passes to a child.
type childConfig struct {
	Dir      string
	Workload Workload
	// Bank runs the bank (bank.go) with Accounts accounts; Life numbers
	// the child's life from 1, for its transfers' log keys.
	Bank           bool
	Accounts, Life int
}

// The child's protocol, one line per event on its standard output (a pipe
// the parent reads; a line is one write, shorter than PIPE_BUF, so lines
// from several goroutines never interleave, and what was written before a
// SIGKILL is still read by the parent):
//
//	opening                Open (recovery) begins
//	ready                  the database is open (recovery is over)
//	ack <g> <n>            Write of batch n of writer g returned nil (Sync)
//	work <flushes> <compactions>   background work done since Open
//	bad <message>          a read returned wrong data: the test fails
//	txn <life> <g> ...     bank: a transfer committed (see bank.go)
//
// The child runs until it is killed; it exits by itself (status 1, the
// reason on standard error) only on an error.

// MaybeChild makes this process a crash-test child if ChildEnv is set: it
// runs the child and exits. Otherwise it returns at once. Call it first
// thing in main (or TestMain) of a program that runs Run.
func MaybeChild() {
	cfg := os.Getenv(ChildEnv)
	if cfg == "" {
		return
	}
	var c childConfig
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		fmt.Fprintf(os.Stderr, "stress child: bad %s: %v\n", ChildEnv, err)
		os.Exit(1)
	}
	err := runChild(c, os.Stdout)
	fmt.Fprintf(os.Stderr, "stress child: %v\n", err)
	os.Exit(1)
}

// ChildOptions are the options of the database under test: tiny memtables
// and tables, so that flushes and compactions run all the time and a kill
// lands in one of them as often as not.
func ChildOptions() *strata.Options {
	return &strata.Options{WriteBufferSize: 32 << 10, BlockSize: 1 << 10, TargetFileSize: 32 << 10,
		L0CompactionTrigger: 2, LevelSizeMultiplier: 4, BlockCacheSize: 256 << 10,
		Logger: slog.New(slog.DiscardHandler)}
}

// lineWriter writes whole lines to the parent.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) error {
	line := fmt.Appendf(nil, format+"\n", args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(line)
	return err
}

func runChild(c childConfig, out io.Writer) error {
	w := &c.Workload
	lw := &lineWriter{w: out}
	if err := lw.printf("opening"); err != nil {
		return err
	}
	if c.Bank {
		return runBankChild(c, lw)
	}
	db, err := strata.Open(c.Dir, ChildOptions())
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if err := lw.printf("ready"); err != nil {
		return err
	}
	errc := make(chan error, w.Writers+2)
	for g := 0; g < w.Writers; g++ {
		go func(g int) { errc <- childWriter(db, w, g, lw) }(g)
	}
	go func() { errc <- childChaos(db, w, lw) }()
	return <-errc
}

// childWriter writes batches of writer g, from the one after the last the
// database holds, with Sync, acknowledging each; every few batches it reads
// some of its keys back and compares them with what it wrote.
func childWriter(db *strata.DB, w *Workload, g int, lw *lineWriter) error {
	state := map[string]string{}
	for i := 0; i < w.Keys; i++ {
		k := DataKey(g, i)
		v, err := db.Get([]byte(k))
		switch {
		case err == nil:
			state[k] = string(v)
		case !errors.Is(err, strata.ErrNotFound):
			return fmt.Errorf("writer %d: get %s: %w", g, k, err)
		}
	}
	var n uint64
	if v, err := db.Get([]byte(ProgressKey(g))); err == nil {
		if n, err = strconv.ParseUint(string(v), 10, 64); err != nil {
			return fmt.Errorf("writer %d: progress %q", g, v)
		}
	} else if !errors.Is(err, strata.ErrNotFound) {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
	b := db.NewBatch()
	for {
		n++
		b.Reset()
		for _, op := range w.Batch(g, n) {
			if op.Delete {
				b.Delete([]byte(op.Key))
			} else {
				b.Put([]byte(op.Key), []byte(op.Value))
			}
		}
		if err := db.Write(b, &strata.WriteOptions{Sync: true}); err != nil {
			return fmt.Errorf("writer %d: write batch %d: %w", g, n, err)
		}
		if err := lw.printf("ack %d %d", g, n); err != nil {
			return err
		}
		w.Apply(state, g, n)
		if n%8 == 0 {
			for j := 0; j < 4; j++ {
				k := DataKey(g, rng.IntN(w.Keys))
				v, err := db.Get([]byte(k))
				want, ok := state[k]
				switch {
				case err != nil && !errors.Is(err, strata.ErrNotFound):
					return fmt.Errorf("writer %d: get %s: %w", g, k, err)
				case ok != (err == nil) || ok && string(v) != want:
					lw.printf("bad writer %d: get %s = %q (%v), want %q (present %v)", g, k, v, err, want, ok)
					return fmt.Errorf("writer %d: wrong value for %s", g, k)
				}
			}
		}
	}
}

// childChaos scans the database (checking every value with CheckValue and
// the order of keys) and now and then compacts a random range, and reports
// the background work done.
func childChaos(db *strata.DB, w *Workload, lw *lineWriter) error {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 99))
	for round := 0; ; round++ {
		snap := db.NewSnapshot()
		it := snap.NewIterator(nil)
		var prev []byte
		for ok := it.First(); ok; ok = it.Next() {
			if prev != nil && bytes.Compare(prev, it.Key()) >= 0 {
				lw.printf("bad scan: key %q after %q", it.Key(), prev)
				return fmt.Errorf("scan out of order")
			}
			prev = append(prev[:0], it.Key()...)
			if err := w.CheckValue(string(it.Key()), string(it.Value())); err != nil {
				lw.printf("bad scan: %v", err)
				return err
			}
		}
		err := it.Close()
		snap.Close()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if rng.IntN(4) == 0 {
			g := rng.IntN(w.Writers)
			a, b := rng.IntN(w.Keys), rng.IntN(w.Keys)
			if a > b {
				a, b = b, a
			}
			if err := db.CompactRange([]byte(DataKey(g, a)), []byte(DataKey(g, b))); err != nil {
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
