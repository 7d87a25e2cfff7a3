package dbbench

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Transaction benchmarks (issue 25). Not db_bench's: RocksDB's db_bench
// has randomtransaction, whose work is its own; these are the workloads the
// issue names, run on every engine with interactive transactions (TxnDB):
//
//   - txnrmw: each transaction reads two distinct keys drawn uniformly from
//     --num and writes both back, each value's first 8 bytes a counter
//     incremented (a read-modify-write, as a transfer between two
//     accounts). An operation is a committed transaction.
//   - txnbatch: each transaction writes --txn_writes (10) keys drawn
//     uniformly from --num, blind (no reads). An operation is one write, as
//     in fillbatch, so ops/sec are writes per second.
//   - txncontended: txnrmw over --txn_keys (1,000) keys drawn from a
//     Zipfian distribution (--zipf_theta, 0.99: YCSB's), so that the hot
//     keys conflict. Before and after, the counters of the --txn_keys keys
//     are summed: they must have grown by exactly two per committed
//     transaction (no lost update), or the benchmark fails.
//
// A transaction runs through TxnDB.Update, one attempt at a time: when the
// engine refuses it with a retryable error (a conflict, a lock timeout, a
// deadlock) the driver runs it again — the same keys, read again — after
// the randomized backoff strata.DB.Update uses (a sleep in [b/2, b], b
// from 100 µs doubling to 50 ms), the same for every engine, up to
// maxTxnAttempts attempts (more fails the benchmark: a livelock). Each
// thread does --writes transactions (txnbatch: --writes writes) or stops at
// --duration seconds. The report line ends in the retry counts per
// committed transaction: "(txn: C committed, R retried, retries p50 A p99
// B max M)" (ParseTxnMessage). --sync commits durably; --txn_pessimistic
// runs Strata's pessimistic mode (locks taken by Put and by the reads,
// which are GetForUpdate; deadlock detection on), which engines without
// one refuse.

// TxnDB is a DB with interactive read-write transactions.
type TxnDB interface {
	DB
	// Update runs fn in one read-write transaction and commits it: one
	// attempt, no retry. An error for which Retryable reports true means
	// the transaction was refused and left nothing behind.
	Update(o TxnOptions, fn func(tx Txn) error) error
	// Retryable reports whether running a refused transaction again may
	// succeed (a conflict, a lock timeout, a deadlock).
	Retryable(err error) bool
}

// TxnOptions are the settings of one transaction.
type TxnOptions struct {
	// Sync makes the commit durable before Update returns.
	Sync bool
	// Pessimistic asks for locks instead of commit-time conflict checks
	// (Strata's TxnOptions.Pessimistic); an engine without such a mode
	// returns an error.
	Pessimistic bool
}

// Txn is a transaction inside TxnDB.Update. The driver keeps every key and
// value it passes unchanged until Update returns.
type Txn interface {
	// Get returns key's value in the transaction, valid until the next
	// call on the transaction. forUpdate says the transaction will write
	// key (Strata's pessimistic mode then locks it: GetForUpdate).
	Get(key []byte, forUpdate bool) (value []byte, found bool, err error)
	// Put writes key in the transaction.
	Put(key, value []byte) error
}

// TxnConfig holds the transaction benchmarks' flags (a part of Config).
type TxnConfig struct {
	// TxnPessimistic runs the transactions in pessimistic mode
	// (--txn_pessimistic).
	TxnPessimistic bool
	// TxnWrites is the writes per txnbatch transaction (--txn_writes);
	// 0 means 10.
	TxnWrites int
	// TxnKeys is how many keys txncontended draws from (--txn_keys);
	// 0 means 1000.
	TxnKeys int
	// ZipfTheta is txncontended's Zipfian constant, in (0, 1)
	// (--zipf_theta); 0 means 0.99.
	ZipfTheta float64
}

// Defaults of TxnConfig's zero fields.
const (
	DefaultTxnWrites = 10
	DefaultTxnKeys   = 1000
	DefaultZipfTheta = 0.99
	// maxTxnAttempts bounds the attempts at one transaction: past it the
	// benchmark fails (a livelock).
	maxTxnAttempts = 1000
)

// TxnBenchmarks are the transaction benchmarks' names.
var TxnBenchmarks = []string{"txnrmw", "txnbatch", "txncontended"}

func (c *TxnConfig) writes() int {
	if c.TxnWrites == 0 {
		return DefaultTxnWrites
	}
	return c.TxnWrites
}

func (c *TxnConfig) keys() int {
	if c.TxnKeys == 0 {
		return DefaultTxnKeys
	}
	return c.TxnKeys
}

func (c *TxnConfig) theta() float64 {
	if c.ZipfTheta == 0 {
		return DefaultZipfTheta
	}
	return c.ZipfTheta
}

// registerFlags defines the transaction benchmarks' flags on fs.
func (c *TxnConfig) registerFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.TxnPessimistic, "txn_pessimistic", c.TxnPessimistic,
		"txn benchmarks: pessimistic transactions (locks, GetForUpdate, deadlock detection) instead of optimistic ones (Strata only)")
	fs.IntVar(&c.TxnWrites, "txn_writes", c.writes(), "txnbatch: writes per transaction")
	fs.IntVar(&c.TxnKeys, "txn_keys", c.keys(), "txncontended: keys the transactions draw from (Zipfian)")
	fs.Float64Var(&c.ZipfTheta, "zipf_theta", c.theta(), "txncontended: Zipfian constant, in (0, 1)")
}

// validate reports the first transaction flag Run cannot use.
func (c *TxnConfig) validate() error {
	switch {
	case c.TxnWrites < 0:
		return fmt.Errorf("--txn_writes must be at least 1, not %d", c.TxnWrites)
	case c.TxnKeys < 0 || c.TxnKeys == 1:
		return fmt.Errorf("--txn_keys must be at least 2, not %d", c.TxnKeys)
	case c.ZipfTheta < 0 || c.ZipfTheta >= 1:
		return fmt.Errorf("--zipf_theta must be in (0, 1), not %g", c.ZipfTheta)
	}
	return nil
}

// txnBench is one transaction benchmark's state.
type txnBench struct {
	db     TxnDB
	opts   TxnOptions
	kind   string // txnrmw, txnbatch, txncontended
	keys   int    // key numbers drawn from
	writes int    // writes per transaction
	zipf   *zipfian
	// attempts[tid][n] counts the thread's transactions committed at
	// their n+1'th attempt.
	attempts [][]int64
	// before is the counters' sum before txncontended (checkCounters).
	before uint64
}

// setupTxn prepares b, a transaction benchmark, on r's database.
func (r *runner) setupTxn(b *bench) error {
	db, ok := r.db.(TxnDB)
	if !ok {
		return fmt.Errorf("the %s engine has no transactions", r.eng.Name)
	}
	c := &r.cfg.TxnConfig
	tb := &txnBench{db: db, kind: b.name, keys: r.cfg.Num, writes: 2,
		opts:     TxnOptions{Sync: r.cfg.Sync, Pessimistic: c.TxnPessimistic},
		attempts: make([][]int64, b.threads)}
	switch b.name {
	case "txnbatch":
		tb.writes = c.writes()
	case "txncontended":
		tb.keys = c.keys()
		tb.zipf = newZipfian(tb.keys, c.theta())
	}
	if b.name != "txnbatch" && tb.keys < 2 {
		return fmt.Errorf("needs at least 2 keys to draw two distinct ones")
	}
	if err := r.keys.check(tb.keys); err != nil {
		return err
	}
	if b.name == "txncontended" && r.cfg.ValueSize >= 8 {
		sum, err := r.sumCounters(tb)
		if err != nil {
			return fmt.Errorf("reading the counters: %w", err)
		}
		tb.before = sum
	}
	b.txn, b.method, b.opKind = tb, (*runner).runTxns, "transaction"
	return nil
}

// runTxns is a transaction benchmark's thread.
func (r *runner) runTxns(t *thread, b *bench) error {
	tb := b.txn
	attempts := make([]int64, maxTxnAttempts)
	tb.attempts[t.tid] = attempts
	keys := make([][]byte, tb.writes)
	vals := make([][]byte, tb.writes)
	nums := make([]int, tb.writes)
	for j := range keys {
		keys[j] = make([]byte, 0, r.cfg.KeySize)
		vals[j] = make([]byte, 0, r.cfg.ValueSize)
	}
	rmw := func(tx Txn) error {
		for j, k := range keys {
			v, found, err := tx.Get(k, true)
			if err != nil {
				return err
			}
			vals[j] = bumpCounter(vals[j][:0], v, found, t.gen, r.cfg.ValueSize)
		}
		for j, k := range keys {
			if err := tx.Put(k, vals[j]); err != nil {
				return err
			}
		}
		return nil
	}
	blind := func(tx Txn) error {
		for j, k := range keys {
			if err := tx.Put(k, vals[j]); err != nil {
				return err
			}
		}
		return nil
	}
	fn, opsPerTxn, txns := rmw, 1, b.writes
	if tb.kind == "txnbatch" {
		fn, opsPerTxn, txns = blind, tb.writes, b.writes/tb.writes
	}
	var bytes int64
	for i := 0; i < txns && !b.expired(i); i++ {
		for j := range keys {
			k := r.drawTxnKey(t, tb)
			for tb.kind != "txnbatch" && slices.Contains(nums[:j], k) {
				k = r.drawTxnKey(t, tb) // two distinct keys
			}
			nums[j] = k
			keys[j] = r.keys.Append(keys[j][:0], k)
			if tb.kind == "txnbatch" {
				vals[j] = t.gen.Generate(r.cfg.ValueSize)
			}
		}
		n, err := r.commitTxn(tb, fn)
		if err != nil {
			return err
		}
		attempts[n-1]++
		bytes += int64(tb.writes * (r.cfg.KeySize + r.cfg.ValueSize))
		t.stats.finishedOps(opsPerTxn)
	}
	t.stats.bytes += bytes
	return nil
}

// commitTxn runs fn in a transaction until it commits, backing off between
// attempts as strata.DB.Update does, and returns the attempts it took.
func (r *runner) commitTxn(tb *txnBench, fn func(Txn) error) (int, error) {
	backoff := 100 * time.Microsecond
	for attempt := 1; ; attempt++ {
		err := tb.db.Update(tb.opts, fn)
		if err == nil {
			return attempt, nil
		}
		if !tb.db.Retryable(err) {
			return attempt, fmt.Errorf("transaction: %w", err)
		}
		if attempt >= maxTxnAttempts {
			return attempt, fmt.Errorf("transaction refused %d times in a row (livelock?): %w", attempt, err)
		}
		time.Sleep(backoff/2 + rand.N(backoff/2+1))
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// drawTxnKey draws a key number for tb.
func (r *runner) drawTxnKey(t *thread, tb *txnBench) int {
	if tb.zipf != nil {
		// A uniform draw in (0, 1) from the thread's generator.
		return tb.zipf.rank(float64(t.rand.Next()) / 2147483647)
	}
	return t.rand.Uniform(tb.keys)
}

// bumpCounter returns, in dst, the value a read-modify-write writes: the
// value read (or, if the key was absent, a generated one with a counter of
// 0) with its first 8 bytes, a little-endian counter, incremented. Values
// shorter than 8 bytes are written back unchanged.
func bumpCounter(dst, v []byte, found bool, gen *ValueGenerator, size int) []byte {
	if !found {
		dst = append(dst, gen.Generate(size)...)
		if len(dst) >= 8 {
			binary.LittleEndian.PutUint64(dst, 0)
		}
	} else {
		dst = append(dst, v...)
	}
	if len(dst) >= 8 {
		binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(dst)+1)
	}
	return dst
}

// sumCounters adds up the counters of tb's keys (absent keys count 0), in
// one transaction.
func (r *runner) sumCounters(tb *txnBench) (uint64, error) {
	var sum uint64
	key := make([]byte, 0, r.cfg.KeySize)
	err := tb.db.Update(TxnOptions{}, func(tx Txn) error {
		sum = 0
		for k := 0; k < tb.keys; k++ {
			key = r.keys.Append(key[:0], k)
			v, found, err := tx.Get(key, false)
			if err != nil {
				return err
			}
			if found && len(v) >= 8 {
				sum += binary.LittleEndian.Uint64(v)
			}
		}
		return nil
	})
	return sum, err
}

// finishTxn checks txncontended's counters and adds the retry counts to
// the report line.
func (r *runner) finishTxn(b *bench, merged *threadStats) error {
	tb := b.txn
	counts := make([]int64, maxTxnAttempts)
	for _, a := range tb.attempts {
		for i, n := range a {
			counts[i] += n
		}
	}
	var txns, retried int64
	for i, n := range counts {
		txns += n
		if i > 0 {
			retried += n
		}
	}
	msg := fmt.Sprintf("(txn: %d committed, %d retried, retries p50 %d p99 %d max %d)",
		txns, retried, retriesAt(counts, txns, 0.50), retriesAt(counts, txns, 0.99), retriesAt(counts, txns, 1))
	merged.message = appendWithSpace(merged.message, msg)
	if tb.kind == "txncontended" && r.cfg.ValueSize >= 8 {
		after, err := r.sumCounters(tb)
		if err != nil {
			return fmt.Errorf("reading the counters: %w", err)
		}
		if got, want := after-tb.before, uint64(2*txns); got != want {
			return fmt.Errorf("the counters of the %d keys grew by %d, but %d transactions committed (each adds 2): lost updates",
				tb.keys, got, txns)
		}
	}
	return nil
}

// retriesAt returns the retries of the transaction at quantile q (1: the
// most) of the total committed.
func retriesAt(counts []int64, total int64, q float64) int {
	if total == 0 {
		return 0
	}
	need := int64(math.Ceil(q * float64(total)))
	var seen int64
	last := 0
	for i, n := range counts {
		if n == 0 {
			continue
		}
		seen += n
		last = i
		if seen >= need {
			return i
		}
	}
	return last
}

// TxnStats is the tail of a transaction benchmark's report line.
type TxnStats struct {
	Committed, Retried   int64
	P50, P99, MaxRetries int
}

var txnMsg = regexp.MustCompile(`\(txn: (\d+) committed, (\d+) retried, retries p50 (\d+) p99 (\d+) max (\d+)\)`)

// ParseTxnMessage reads the retry counts from a transaction benchmark's
// Result.Message; ok is false if it has none.
func ParseTxnMessage(msg string) (s TxnStats, ok bool) {
	m := txnMsg.FindStringSubmatch(msg)
	if m == nil {
		return s, false
	}
	n := make([]int64, 5)
	for i := range n {
		v, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil {
			return s, false
		}
		n[i] = v
	}
	return TxnStats{Committed: n[0], Retried: n[1], P50: int(n[2]), P99: int(n[3]), MaxRetries: int(n[4])}, true
}

// zipfian draws ranks in [0, n) with probability proportional to
// 1/(rank+1)^theta, by the method of Gray et al. ("Quickly generating
// billion-record synthetic databases", 1994) that YCSB's
// ZipfianGenerator uses; rank 0 is the hottest.
type zipfian struct {
	n                   int
	theta, alpha, zetan float64
	eta                 float64
	thresholds          [2]float64 // u × zetan below these: ranks 0 and 1
}

func newZipfian(n int, theta float64) *zipfian {
	z := &zipfian{n: n, theta: theta, alpha: 1 / (1 - theta)}
	for i := 1; i <= n; i++ {
		z.zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + 1/math.Pow(2, theta)
	z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/z.zetan)
	z.thresholds = [2]float64{1, 1 + math.Pow(0.5, theta)}
	return z
}

// rank maps u, uniform in (0, 1), to a rank.
func (z *zipfian) rank(u float64) int {
	uz := u * z.zetan
	switch {
	case uz < z.thresholds[0]:
		return 0
	case uz < z.thresholds[1]:
		return 1
	}
	r := int(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(max(r, 0), z.n-1)
}

// errNoPessimistic is what engines without a pessimistic mode return.
var errNoPessimistic = errors.New("no pessimistic transactions (--txn_pessimistic)")

// ErrNoPessimistic returns the error of an engine named name that has no
// pessimistic mode.
func ErrNoPessimistic(name string) error { return fmt.Errorf("%s: %w", name, errNoPessimistic) }
