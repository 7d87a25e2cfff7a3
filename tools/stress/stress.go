// Package stress is Strata's process crash test, RocksDB's db_crashtest
// in spirit (a black-box kill test): a child process writes random batches
// with Sync from several goroutines and acknowledges each one on a pipe;
// the parent kills it with SIGKILL at random moments — while it writes,
// flushes, compacts, or is still recovering — and, after each kill,
// opens the database read-only and verifies it against the expected state
// built from the acknowledgements:
//
//   - durability: for each writer, the last batch the database holds is
//     the last acknowledged one, or the one after it (written but killed
//     before its acknowledgement reached the pipe), never an earlier one;
//   - atomicity and no invention: each writer's keys hold exactly the
//     state after that many of its batches, so a batch is all or nothing,
//     and no key or value appears that was not written;
//   - the database opens after every kill, including kills during the
//     recovery of the previous one.
//
// Then it starts the child again, which recovers and goes on from where
// the database is. The child checks what it reads as it goes (see
// child.go). The workload is deterministic (see gen.go), so a failure is
// reproducible in what was written, if not in when the kills fell.
//
// With Config.Bank the child runs bank transfers as transactions instead
// (see bank.go): the total never changes, and every transfer committed
// with Sync and reported survives the kill.
//
// Run is used by the tests in this package (short runs) and by the
// `strata stress` command (long runs); both are programs that call
// MaybeChild first, since the parent re-runs its own command as the child.
package stress

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-db/strata"
)

// Config configures a crash test.
type Config struct {
	// Dir is the database directory (created if missing; an existing
	// database from another run is refused).
	Dir string
	// Seed determines the workload. Kill times are random regardless.
	Seed uint64
	// Kills is how many times the child is killed.
	Kills int
	// Writers is the number of writing goroutines in the child; Keys the
	// keys each owns; ValueSize the largest value filler. Defaults 4, 500,
	// 200.
	Writers, Keys, ValueSize int
	// MaxLife is the longest a child runs before it is killed; each life
	// is drawn uniformly from (0, MaxLife], except that one in four ends
	// within 5 ms of the start of Open, to kill recoveries too. Default
	// 500 ms.
	MaxLife time.Duration
	// Command returns the command that runs the child: this program again
	// (it must call MaybeChild first). Default: os.Executable() with
	// os.Args[1:].
	Command func() *exec.Cmd
	// Progress, if set, receives a line per kill.
	Progress io.Writer
	// Bank runs the bank instead (see bank.go): Writers goroutines run
	// transfers between Accounts accounts (default 50); Keys and
	// ValueSize do not apply.
	Bank     bool
	Accounts int
}

// Result is what a run did and found.
type Result struct {
	// Kills counts the children killed; KilledInRecovery those killed
	// inside Open (recovering from the previous kill), KilledStarting
	// those killed before they reached it.
	Kills, KilledInRecovery, KilledStarting int
	// Acked counts acknowledged batches; InFlight the batches found in
	// the database after a kill although their acknowledgement was lost.
	Acked, InFlight uint64
	// Flushes and Compactions count the background work the children
	// reported (a lower bound: work after a child's last report is not
	// counted).
	Flushes, Compactions uint64
	// Verifications counts read-only opens that checked the whole state;
	// KeysChecked the keys they read. UnfinishedTables counts
	// verifications that found table files no version lists (the output of
	// a flush, compaction or recovery the kill interrupted).
	Verifications, KeysChecked, UnfinishedTables int
	// Lost and Wrong count acknowledged batches missing and wrong values
	// found: a run with either fails, so they are zero in any Result
	// returned without an error.
	Lost, Wrong int
	Elapsed     time.Duration
	// Bank: Acked counts the transfers reported as committed,
	// UnsyncedAcked those of them committed without Sync, and
	// UnsyncedLost those of these that a kill lost (allowed).
	Bank                        bool
	UnsyncedAcked, UnsyncedLost uint64
}

// String summarizes the result in one line.
func (r *Result) String() string {
	if r.Bank {
		return fmt.Sprintf("bank: %d kills (%d during recovery, %d during start-up), %d transfers reported committed "+
			"(%d without Sync, %d of which lost to a kill; +%d in flight found), %d flushes and %d compactions "+
			"reported, %d verifications (%d keys), %d reported transfers lost, %d wrong states, in %v",
			r.Kills, r.KilledInRecovery, r.KilledStarting, r.Acked, r.UnsyncedAcked, r.UnsyncedLost, r.InFlight,
			r.Flushes, r.Compactions, r.Verifications, r.KeysChecked, r.Lost, r.Wrong, r.Elapsed.Round(time.Second))
	}
	return fmt.Sprintf("%d kills (%d during recovery, %d during start-up), %d batches acknowledged "+
		"(+%d in flight found), %d flushes and %d compactions reported, %d verifications (%d keys; "+
		"%d found tables of an interrupted flush, compaction or recovery), %d acknowledged batches lost, "+
		"%d wrong values, in %v",
		r.Kills, r.KilledInRecovery, r.KilledStarting, r.Acked, r.InFlight, r.Flushes, r.Compactions,
		r.Verifications, r.KeysChecked, r.UnfinishedTables, r.Lost, r.Wrong, r.Elapsed.Round(time.Second))
}

func (c *Config) defaults() {
	if c.Writers <= 0 {
		c.Writers = 4
	}
	if c.Keys <= 0 {
		c.Keys = 500
	}
	if c.ValueSize <= 0 {
		c.ValueSize = 200
	}
	if c.Accounts <= 1 {
		c.Accounts = 50
	}
	if c.MaxLife <= 0 {
		c.MaxLife = 500 * time.Millisecond
	}
	if c.Command == nil {
		c.Command = func() *exec.Cmd {
			exe, err := os.Executable()
			if err != nil {
				exe = os.Args[0]
			}
			return exec.Command(exe, os.Args[1:]...)
		}
	}
}

// parent is the state of a run.
type parent struct {
	cfg   Config
	w     Workload
	rng   *rand.Rand
	acked []uint64            // per writer: the last batch the database must hold
	state []map[string]string // per writer: its keys after acked[g] batches
	res   Result
	// work: background work reported by the children before the current
	// one, and by the current one (its counters start at zero).
	workBefore, workNow [2]uint64
	lives               int // children started
	bank                bankParent
}

// Run runs the crash test. It returns an error describing the first
// violation found (or a failure of the harness), with the result so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	p := &parent{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), cfg.Seed)),
		w: Workload{Seed: cfg.Seed, Writers: cfg.Writers, Keys: cfg.Keys, ValueSize: cfg.ValueSize}}
	p.acked = make([]uint64, cfg.Writers)
	p.res.Bank = cfg.Bank
	p.bank = newBankParent()
	for g := 0; g < cfg.Writers; g++ {
		p.state = append(p.state, map[string]string{})
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "CURRENT")); err == nil {
		return &p.res, fmt.Errorf("stress: %s already holds a database; the test needs a fresh directory", cfg.Dir)
	}
	start := time.Now()
	defer func() { p.res.Elapsed = time.Since(start) }()
	for p.res.Kills < cfg.Kills {
		if err := ctx.Err(); err != nil {
			return &p.res, err
		}
		if err := p.life(); err != nil {
			return &p.res, err
		}
		verify, what := p.verify, "batches acknowledged"
		if cfg.Bank {
			verify, what = p.verifyBank, "transfers reported"
		}
		if err := verify(); err != nil {
			return &p.res, err
		}
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "kill %d/%d: %d %s\n", p.res.Kills, cfg.Kills, p.res.Acked, what)
		}
	}
	p.res.Elapsed = time.Since(start)
	return &p.res, nil
}

// life runs one child until it is killed, recording its acknowledgements.
func (p *parent) life() error {
	p.lives++
	cfg, err := json.Marshal(childConfig{Dir: p.cfg.Dir, Workload: p.w, Bank: p.cfg.Bank, Accounts: p.cfg.Accounts, Life: p.lives})
	if err != nil {
		return err
	}
	p.workBefore[0] += p.workNow[0]
	p.workBefore[1] += p.workNow[1]
	p.workNow = [2]uint64{}
	cmd := p.cfg.Command()
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(cfg))
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("stress: start child: %w", err)
	}
	// One life in four is cut short soon after Open begins: a kill
	// during recovery (of the previous kill's state).
	life := time.Duration(p.rng.Int64N(int64(p.cfg.MaxLife))) + 1
	inRecovery := p.rng.IntN(4) == 0
	if inRecovery {
		life = time.Duration(p.rng.Int64N(int64(5 * time.Millisecond)))
	}
	openingCh := make(chan struct{})
	var (
		mu      sync.Mutex
		opening bool
		ready   bool
		readErr error
		bad     []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			err := p.event(line, openingCh, &opening, &ready, &bad)
			if err != nil && readErr == nil {
				readErr = err
			}
			mu.Unlock()
		}
	}()
	exited := make(chan error, 1)
	go func() { <-done; exited <- cmd.Wait() }()
	if inRecovery {
		select {
		case <-openingCh:
		case err := <-exited:
			return fmt.Errorf("stress: the child exited by itself (%v): %s", err, strings.TrimSpace(stderr.String()))
		}
	}
	timer := time.NewTimer(life)
	select {
	case <-timer.C:
		cmd.Process.Kill() // SIGKILL
		<-exited
	case err := <-exited:
		timer.Stop()
		return fmt.Errorf("stress: the child exited by itself (%v): %s", err, strings.TrimSpace(stderr.String()))
	}
	mu.Lock()
	defer mu.Unlock()
	p.res.Kills++
	switch {
	case !opening:
		p.res.KilledStarting++
	case !ready:
		p.res.KilledInRecovery++
	}
	if len(bad) > 0 {
		p.res.Wrong += len(bad)
		return fmt.Errorf("stress: the child read wrong data: %s", bad[0])
	}
	return readErr
}

// event handles one line from the child (with the reader's lock held).
func (p *parent) event(line string, openingCh chan struct{}, opening, ready *bool, bad *[]string) error {
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == "opening":
		*opening = true
		close(openingCh)
	case len(f) == 1 && f[0] == "ready":
		*ready = true
	case len(f) == 3 && f[0] == "ack":
		g, err1 := strconv.Atoi(f[1])
		n, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || g < 0 || g >= len(p.acked) {
			return fmt.Errorf("stress: bad line from the child: %q", line)
		}
		// Acknowledgements of one writer come in order, one batch at a
		// time; the batch after the last acknowledged one may have been
		// found in the database after a kill (InFlight) already.
		for p.acked[g] < n {
			p.acked[g]++
			p.w.Apply(p.state[g], g, p.acked[g])
			p.res.Acked++
		}
	case len(f) == 3 && f[0] == "work":
		fl, _ := strconv.ParseUint(f[1], 10, 64)
		co, _ := strconv.ParseUint(f[2], 10, 64)
		p.workNow = [2]uint64{fl, co}
		p.res.Flushes, p.res.Compactions = p.workBefore[0]+fl, p.workBefore[1]+co
	case len(f) >= 1 && f[0] == "txn" && p.cfg.Bank:
		return p.bankEvent(f, line)
	case len(f) >= 1 && f[0] == "bad":
		*bad = append(*bad, line)
	default:
		return fmt.Errorf("stress: bad line from the child: %q", line)
	}
	return nil
}

// verify opens the database read-only and checks it against the expected
// state; it then adopts the batch in flight, if the database holds it.
func (p *parent) verify() error {
	db, err := p.openReadOnly(ChildOptions())
	if db == nil {
		return err
	}
	defer db.Close()
	for g := 0; g < p.cfg.Writers; g++ {
		var n uint64
		v, err := db.Get([]byte(ProgressKey(g)))
		switch {
		case err == nil:
			if n, err = strconv.ParseUint(string(v), 10, 64); err != nil {
				p.res.Wrong++
				return fmt.Errorf("stress: after kill %d: progress of writer %d is %q", p.res.Kills, g, v)
			}
		case !errors.Is(err, strata.ErrNotFound):
			return fmt.Errorf("stress: after kill %d: %w", p.res.Kills, err)
		}
		switch {
		case n < p.acked[g]:
			p.res.Lost += int(p.acked[g] - n)
			return fmt.Errorf("stress: after kill %d: writer %d's last batch is %d, but %d was acknowledged",
				p.res.Kills, g, n, p.acked[g])
		case n > p.acked[g]+1:
			p.res.Wrong++
			return fmt.Errorf("stress: after kill %d: writer %d's last batch is %d, but only %d was acknowledged (one may be in flight)",
				p.res.Kills, g, n, p.acked[g])
		case n == p.acked[g]+1:
			p.acked[g] = n
			p.w.Apply(p.state[g], g, n)
			p.res.InFlight++
		}
	}
	// Every key, by a full scan: exactly the expected state.
	it := db.NewIterator(nil)
	seen := 0
	for ok := it.First(); ok; ok = it.Next() {
		k, v := string(it.Key()), string(it.Value())
		seen++
		var g int
		if _, err := fmt.Sscanf(k, "m/%d", &g); err == nil && g >= 0 && g < p.cfg.Writers {
			if want := p.state[g][k]; want != v {
				p.res.Wrong++
				it.Close()
				return fmt.Errorf("stress: after kill %d: %s = %q, want %q", p.res.Kills, k, v, want)
			}
			continue
		}
		if _, err := fmt.Sscanf(k, "w%02d/", &g); err != nil || g < 0 || g >= p.cfg.Writers {
			p.res.Wrong++
			it.Close()
			return fmt.Errorf("stress: after kill %d: unexpected key %q", p.res.Kills, k)
		}
		if want, ok := p.state[g][k]; !ok || want != v {
			p.res.Wrong++
			it.Close()
			return fmt.Errorf("stress: after kill %d: %s = %q, want %q (present %v): writer %d at batch %d",
				p.res.Kills, k, v, want, ok, g, p.acked[g])
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("stress: after kill %d: scan: %w", p.res.Kills, err)
	}
	want := 0
	for _, s := range p.state {
		want += len(s) // with the progress key
	}
	if seen != want {
		p.res.Lost++
		var missing []string
		for g, st := range p.state {
			for k, v := range st {
				if _, err := db.Get([]byte(k)); err != nil && len(missing) < 5 {
					missing = append(missing, fmt.Sprintf("%s=%.30q (writer %d at batch %d: %v)", k, v, g, p.acked[g], err))
				}
			}
		}
		return fmt.Errorf("stress: after kill %d: %d keys, want %d; missing %s", p.res.Kills, seen, want,
			strings.Join(missing, ", "))
	}
	p.res.KeysChecked += seen
	// Tables no version lists: the output of interrupted background work.
	files := 0
	for _, l := range db.Metrics().Levels {
		files += l.Files
	}
	if names, err := os.ReadDir(p.cfg.Dir); err == nil {
		tables := 0
		for _, e := range names {
			if strings.HasSuffix(e.Name(), ".ldb") {
				tables++
			}
		}
		if tables > files {
			p.res.UnfinishedTables++
		}
	}
	return nil
}

// openReadOnly opens the database read-only with opts to verify it,
// counting the verification; a nil database without an error: the child
// was killed before it created the database.
func (p *parent) openReadOnly(opts *strata.Options) (*strata.DB, error) {
	opts.ReadOnly = true
	db, err := strata.Open(p.cfg.Dir, opts)
	if errors.Is(err, os.ErrNotExist) && p.res.Acked == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stress: open after kill %d: %w", p.res.Kills, err)
	}
	p.res.Verifications++
	return db, nil
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
