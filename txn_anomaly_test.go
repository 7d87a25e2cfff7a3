package strata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The transaction anomalies, one deterministic history each, in the manner
// of CockroachDB's txncorrectnesstest (issue 25, "Tests" point 1).
//
// A history is a string of steps run one after another on real
// transactions of one database:
//
//	B1      begin T1 (B1(ro): read-only); otherwise T1 begins at its first step
//	R1(A)   T1 gets A                 G1(A)  T1 gets A with GetForUpdate
//	W1(A)   T1 puts A                 I1(A)  T1 inserts A (a put of a new key)
//	D1(A)   T1 deletes A              X1(A-C) T1 deletes the range [A, C)
//	N1(A)   T1 gets A through its Snapshot (a read without a conflict)
//	S1(A-C) T1 scans [A, C) forward with an iterator (A- or -C: open at that
//	        end; A-C:1 stops after 1 key); V1(A-C) scans it backward
//	C1      T1 commits                A1     T1 rolls back
//
// A write's value records where it comes from: T2 writing A after it read
// "0.1" of A writes "0.1.2"; a key it did not see gets "2". So the final
// state shows a lost update, and what each transaction read shows which
// writes it saw.
//
// Every step runs in its transaction's own goroutine. A step that has not
// returned within histBlockWait is blocked (a pessimistic lock wait): the
// history goes on, and that transaction's later steps queue behind it.
//
// Each run checks, besides the outcome of each transaction (ok, conflict,
// deadlock, timeout, aborted), that the committed transactions are
// serializable in an order that respects real time: some order of them, in
// which a transaction whose commit returned before another began comes
// first, run one after another from the initial state, reads what each
// read and ends in the database's final state (serialOrder). Under
// Serializable that order must exist; under SnapshotIsolation it must
// exist exactly when the table says the level prevents the anomaly (where
// it allows it, the history does show the anomaly).

// anomalyCase is one history with its outcomes (one word per transaction,
// T1 first) under each level.
type anomalyCase struct {
	name    string
	init    string // "A=0 B=0"
	history string
	ser     string // outcomes under Serializable
	si      string // outcomes under SnapshotIsolation
	// siAllows: snapshot isolation commits a set of transactions that is
	// not serializable (the anomaly happens).
	siAllows bool
	// serAllows: so does Serializable, because the history opts out
	// (snapshot reads add no read conflict).
	serAllows bool
}

// anomalyCases is the table: what each level does with each anomaly.
//
//	anomaly                              Serializable   SnapshotIsolation
//	dirty write (G0, P0)                 prevented      prevented (first committer wins)
//	dirty read (G1a, G1b)                prevented      prevented (snapshot reads)
//	circular information flow (G1c)      prevented      prevented as G1c; shows as write skew
//	lost update (P4)                     prevented      prevented (first committer wins)
//	read skew, fuzzy read (G-single)     prevented      prevented (snapshot reads)
//	write skew (G2-item, A5B)            prevented      ALLOWED
//	write skew with GetForUpdate         prevented      prevented (a write conflict on what was read)
//	write skew through snapshot reads    ALLOWED        ALLOWED (Txn.Snapshot opts out of checking)
//	phantom through an iterator (P3),    prevented      a lone phantom serializes; the cycle is ALLOWED
//	  by an insert, delete or range deletion
//	anti-dependency cycles (G2)          prevented      ALLOWED with disjoint writes
//	read-only anomaly (Fekete et al.)    prevented      ALLOWED
//	real-time order (strict)             kept           kept (a snapshot taken at begin)
var anomalyCases = []anomalyCase{
	// Dirty write: T2 overwrites T1's uncommitted A, and the two
	// transactions' writes interleave over A and B. Writes are buffered
	// until commit, so each transaction's writes land together: the final
	// state is T1's (serial order T2, T1). Under SI T1 wrote keys T2 wrote
	// since T1 began: the first committer wins.
	{name: "dirty write G0", init: "A=0 B=0",
		history: "W1(A) W2(A) W2(B) C2 W1(B) C1",
		ser:     "ok ok", si: "conflict ok"},
	{name: "dirty write, writer aborts", init: "A=0",
		history: "W1(A) W2(A) A1 C2",
		ser:     "aborted ok", si: "aborted ok"},

	// Dirty read: T2 never sees T1's uncommitted write, whether T1 then
	// aborts (G1a), writes again (G1b) or commits.
	{name: "dirty read G1a aborted read", init: "A=0",
		history: "W1(A) R2(A) A1 W2(B) C2",
		ser:     "aborted ok", si: "aborted ok"},
	{name: "dirty read G1b intermediate read", init: "A=0",
		history: "R1(A) W1(A) R2(A) W1(A) C1 R2(A) W2(B) C2",
		ser:     "ok conflict", si: "ok ok"},
	{name: "aborted write leaves nothing", init: "A=0",
		history: "W1(A) D1(B) A1 R2(A) R2(B) W2(C) C2",
		ser:     "aborted ok", si: "aborted ok"},
	// Circular information flow: each reads what the other writes, before
	// it commits. Neither sees the other's write, so there is no G1c; what
	// remains is write skew, which SI allows.
	{name: "circular information flow G1c", init: "A=0 B=0",
		history: "W1(A) W2(B) R1(B) R2(A) C1 C2",
		ser:     "ok conflict", si: "ok ok", siAllows: true},

	// Lost update: both read A and write it from what they read.
	{name: "lost update P4", init: "A=0",
		history: "R1(A) R2(A) W1(A) W2(A) C1 C2",
		ser:     "ok conflict", si: "ok conflict"},
	{name: "lost update, GetForUpdate", init: "A=0",
		history: "G1(A) G2(A) W1(A) W2(A) C1 C2",
		ser:     "ok conflict", si: "ok conflict"},
	// GetForUpdate alone is a write conflict: T1 writes nothing, yet T2,
	// which read and wrote A, commits after it and must fail.
	{name: "GetForUpdate without a write", init: "A=0",
		history: "G1(A) G2(A) W2(A) C1 C2",
		ser:     "ok conflict", si: "ok conflict"},
	// ...but once T1's commit has returned, a transaction begun after it
	// does not conflict with it (T3 keeps the conflict history open).
	{name: "GetForUpdate without a write, then a reader", init: "A=0",
		history: "R3(Z) G1(A) C1 R2(A) W2(B) C2 C3",
		ser:     "ok ok ok", si: "ok ok ok"},

	// Read skew (fuzzy read): T2 changes A and B between T1's reads. T1
	// reads its snapshot, so it sees neither; if it writes, its read of A
	// (and B) was overwritten before it committed.
	{name: "read skew G-single, reader only", init: "A=0 B=0",
		history: "R1(A) W2(A) W2(B) C2 R1(B) C1",
		ser:     "ok ok", si: "ok ok"},
	{name: "read skew G-single, reader writes", init: "A=0 B=0",
		history: "R1(A) W2(A) W2(B) C2 R1(B) W1(C) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "fuzzy read, read twice", init: "A=0",
		history: "R1(A) W2(A) C2 R1(A) W1(B) C1",
		ser:     "conflict ok", si: "ok ok"},

	// Write skew: each reads both, writes one.
	{name: "write skew G2-item", init: "A=0 B=0",
		history: "R1(A) R1(B) R2(A) R2(B) W1(A) W2(B) C1 C2",
		ser:     "ok conflict", si: "ok ok", siAllows: true},
	// Snapshot reads opt out of conflict checking (FoundationDB's snapshot
	// reads): write skew through them commits even under Serializable.
	{name: "write skew through snapshot reads", init: "A=0 B=0",
		history: "N1(A) N1(B) N2(A) N2(B) W1(A) W2(B) C1 C2",
		ser:     "ok ok", si: "ok ok", siAllows: true, serAllows: true},
	// Reading with GetForUpdate (SELECT FOR UPDATE) turns the reads into
	// write conflicts, which SI checks.
	{name: "write skew, GetForUpdate", init: "A=0 B=0",
		history: "G1(A) G1(B) G2(A) G2(B) W1(A) W2(B) C1 C2",
		ser:     "ok conflict", si: "ok conflict"},
	{name: "write skew with a delete", init: "A=0 B=0",
		history: "R1(A) R1(B) R2(A) R2(B) D1(A) D2(B) C1 C2",
		ser:     "ok conflict", si: "ok ok", siAllows: true},

	// Phantoms: T1 scans [A, E) (A, C there), T2 changes what the scan
	// would return, T1 then writes and commits. The read conflict is the
	// span the iterator covered, so a key it never returned counts.
	{name: "phantom between returned keys", init: "A=0 C=0 E=0",
		history: "S1(A-E) I2(B) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "phantom at the end of a bounded scan", init: "A=0 C=0 E=0",
		history: "S1(A-E) I2(D) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "phantom before the first key returned", init: "C=0 E=0",
		history: "S1(A-E) I2(B) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "phantom in an empty scan", init: "E=0",
		history: "S1(A-E) I2(B) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "phantom, unbounded scan", init: "A=0 C=0",
		history: "S1(A-) I2(Z) C2 W1(B) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "phantom, backward scan", init: "A=0 C=0 E=0",
		history: "V1(A-E) I2(B) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "phantom delete", init: "A=0 C=0 E=0",
		history: "S1(A-E) D2(C) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "phantom by a range deletion", init: "A=0 C=0 E=0",
		history: "S1(A-E) X2(B-D) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok"},
	{name: "range deletion over a key read", init: "A=0 C=0",
		history: "R1(C) X2(B-D) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok"},
	// A blind range deletion and an insert into its range: the later
	// commit decides, as in some serial order.
	{name: "range deletion and an insert", init: "A=0 C=0",
		history: "X1(A-D) I2(B) C2 C1",
		ser:     "ok ok", si: "conflict ok"},
	// What the scan did not cover is not read: a write at its exclusive
	// upper bound, or past the key a stopped scan returned last.
	{name: "write at the scan's upper bound", init: "A=0 C=0 E=0",
		history: "S1(A-E) W2(E) I2(F) C2 W1(X) C1",
		ser:     "ok ok", si: "ok ok"},
	{name: "insert past a stopped scan", init: "A=0 C=0 E=0",
		history: "S1(A-E:1) I2(B) C2 W1(X) C1",
		ser:     "ok ok", si: "ok ok"},
	// The phantom that makes a cycle (predicate write skew): each scans
	// the range, sees no row the other inserts, and inserts one.
	{name: "phantom write skew", init: "A=0 E=0",
		history: "S1(A-E) S2(A-E) I1(B) I2(D) C1 C2",
		ser:     "ok conflict", si: "ok ok", siAllows: true},
	// A phantom and an anti-dependency on a key: T2 read X before T1
	// wrote it, T1 scanned before T2 inserted B.
	{name: "phantom and a read of a key", init: "A=0 C=0 X=0",
		history: "S1(A-E) R2(X) I2(B) C2 W1(X) C1",
		ser:     "conflict ok", si: "ok ok", siAllows: true},

	// Anti-dependency cycles (Adya's G2): three transactions, each reads
	// what the next writes. With disjoint writes SI commits them all.
	{name: "G2 three-way anti-dependency cycle", init: "A=0 B=0 C=0",
		history: "R1(A) R2(B) R3(C) W1(B) W2(C) W3(A) C1 C2 C3",
		ser:     "ok conflict ok", si: "ok ok ok", siAllows: true},
	{name: "G2 with a common write", init: "A=0 B=0",
		history: "R1(A) R2(B) W1(B) W2(A) W1(C) W2(C) C1 C2",
		ser:     "ok conflict", si: "ok conflict"},

	// Fekete, O'Neil and O'Neil's read-only anomaly: T2 reads X and Y
	// and will write Y from them; T3 writes X and commits; T1, read-only,
	// sees T3's X but not T2's Y; T2 then commits. Under SI the writers
	// alone serialize (T2, T3), but T1 saw T3 without T2.
	{name: "read-only anomaly", init: "X=0 Y=0",
		history: "R2(X) R2(Y) R3(X) W3(X) C3 R1(X) R1(Y) C1 W2(Y) C2",
		ser:     "ok conflict ok", si: "ok ok ok", siAllows: true},
	{name: "read-only anomaly, read-only reader", init: "X=0 Y=0",
		history: "R2(X) R2(Y) R3(X) W3(X) C3 B1(ro) R1(X) R1(Y) C1 W2(Y) C2",
		ser:     "ok conflict ok", si: "ok ok ok", siAllows: true},

	// Strict serializability: a transaction begun after another's commit
	// returned sees its writes (serialOrder puts T1 first, so a read of
	// the old A would not serialize).
	{name: "real-time order", init: "A=0",
		history: "W1(A) C1 R2(A) W2(B) C2",
		ser:     "ok ok", si: "ok ok"},
	{name: "real-time order, read-only", init: "A=0",
		history: "W1(A) C1 B2(ro) R2(A) C2",
		ser:     "ok ok", si: "ok ok"},
	{name: "real-time order, chain", init: "A=0 B=0",
		history: "R1(A) W1(A) C1 R2(A) W2(B) C2 R3(B) R3(A) W3(C) C3",
		ser:     "ok ok ok", si: "ok ok ok"},
	{name: "real-time order, scan", init: "A=0",
		history: "I1(B) C1 S2(A-Z) W2(X) C2",
		ser:     "ok ok", si: "ok ok"},
	// A transaction begun before the commit may read either way; it reads
	// its snapshot.
	{name: "concurrent reader keeps its snapshot", init: "A=0",
		history: "B2(ro) W1(A) C1 R2(A) C2",
		ser:     "ok ok", si: "ok ok"},
}

func TestAnomaly(t *testing.T) {
	for _, c := range anomalyCases {
		for _, iso := range []Isolation{Serializable, SnapshotIsolation} {
			t.Run(strings.ReplaceAll(c.name, " ", "_")+"/"+iso.String(), func(t *testing.T) {
				want, allows := c.ser, c.serAllows
				if iso == SnapshotIsolation {
					want, allows = c.si, c.siAllows
				}
				r := runHistory(t, c.init, c.history, TxnOptions{Isolation: iso})
				r.expectOutcomes(want)
				order, ok := r.serialOrder()
				switch {
				case !ok && !allows:
					t.Fatalf("%s: the committed transactions are not serializable in real-time order\n%s", c.history, r.describe())
				case ok && allows:
					t.Fatalf("%s: the table says %v allows the anomaly, but the run serializes as %v\n%s", c.history, iso, order, r.describe())
				}
			})
		}
	}
}

// pessimisticCases run under TxnOptions{Pessimistic: true, DeadlockDetect:
// true}: blocked lists steps that must wait for a lock.
var pessimisticCases = []struct {
	name, init, history, want string
	blocked                   []string
}{
	// The lost-update history with locks: T2's GetForUpdate waits for T1's
	// commit and then reads T1's write, so both commit and A ends "0.1.2".
	{name: "lost update", init: "A=0",
		history: "G1(A) G2(A) W1(A) C1 W2(A) C2",
		want:    "ok ok", blocked: []string{"G2(A)"}},
	// A Put locks too: T2's read-modify-write waits for T1's.
	{name: "lost update, Put locks", init: "A=0",
		history: "W1(A) G2(A) C1 W2(A) C2",
		want:    "ok ok", blocked: []string{"G2(A)"}},
	// Crossing locks: T1 waits for B (held by T2); T2's wait for A would
	// close the cycle, so T2 fails at once, and T1 goes on once T2 rolls
	// back.
	{name: "deadlock", init: "A=0 B=0",
		history: "G1(A) G2(B) G1(B) G2(A) A2 W1(A) W1(B) C1",
		want:    "ok deadlock", blocked: []string{"G1(B)"}},
	// A read of a locked key is at the latest state, the others at the
	// read version: T1 sees T3's A but not T2's B, which committed before
	// T3 began. Though T1 writes nothing, its reads are checked.
	{name: "reads at two versions", init: "A=0 B=0",
		history: "B1 W2(B) C2 W3(A) C3 R1(B) G1(A) C1",
		want:    "conflict ok ok"},
	// Plain reads are not locked; Commit still checks them.
	{name: "write skew with plain reads", init: "A=0 B=0",
		history: "R1(A) R1(B) R2(A) R2(B) W1(A) W2(B) C1 C2",
		want:    "ok conflict"},
}

func TestAnomalyPessimistic(t *testing.T) {
	for _, c := range pessimisticCases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			o := TxnOptions{Pessimistic: true, DeadlockDetect: true, LockTimeout: 30 * time.Second}
			r := runHistory(t, c.init, c.history, o)
			r.expectOutcomes(c.want)
			// A step that returned within histBlockWait did not wait for a
			// lock; one that did not may only have been slow.
			for _, st := range c.blocked {
				if !slices.Contains(r.blocked, st) {
					t.Errorf("%s did not wait for its lock (blocked steps %q)", st, r.blocked)
				}
			}
			if _, ok := r.serialOrder(); !ok {
				t.Fatalf("not serializable\n%s", r.describe())
			}
		})
	}
	t.Run("lock_timeout", func(t *testing.T) {
		o := TxnOptions{Pessimistic: true, LockTimeout: 20 * time.Millisecond}
		r := runHistory(t, "A=0", "G1(A) G2(A) A2 W1(A) C1", o)
		r.expectOutcomes("ok timeout")
	})
}

// TestAnomalyPessimisticSnapshotReads: under SnapshotIsolation a
// transaction reads one snapshot, Pessimistic or not: GetForUpdate of a key
// written since the snapshot (T3's A) fails with a conflict rather than
// reading a newer state than T1's other reads (T2's B is not seen).
func TestAnomalyPessimisticSnapshotReads(t *testing.T) {
	o := TxnOptions{Pessimistic: true, Isolation: SnapshotIsolation, LockTimeout: 30 * time.Second}
	r := runHistory(t, "A=0 B=0", "B1 W2(B) C2 W3(A) C3 R1(B) G1(A) W1(C) C1", o)
	if _, ok := r.serialOrder(); !ok {
		t.Fatalf("not serializable, and T1 read no snapshot\n%s", r.describe())
	}
}

// TestAnomalyPessimisticCrossing runs the crossing pair for real: T1 holds
// A, T2 holds B, and both then ask for the other's key at once. With
// DeadlockDetect exactly one of them fails with ErrDeadlock, whatever the
// timing, and the other commits once the victim rolls back.
func TestAnomalyPessimisticCrossing(t *testing.T) {
	d := openTxnDB(t, nil)
	o := &TxnOptions{Pessimistic: true, DeadlockDetect: true, LockTimeout: 30 * time.Second}
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	for round := 0; round < rounds; round++ {
		keys := [2][]byte{fmt.Appendf(nil, "a%d", round), fmt.Appendf(nil, "b%d", round)}
		var txns [2]*Txn
		for i := range txns {
			txns[i] = mustBegin(t, d, o)
			if _, err := txns[i].GetForUpdate(keys[i]); !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		}
		var start sync.WaitGroup
		start.Add(1)
		errs := make(chan error, 2)
		for i := range txns {
			go func() {
				tx := txns[i]
				start.Wait()
				_, err := tx.GetForUpdate(keys[1-i])
				if err != nil && !errors.Is(err, ErrNotFound) {
					tx.Rollback()
					errs <- err
					return
				}
				tx.Put(keys[0], []byte{byte(i)})
				tx.Put(keys[1], []byte{byte(i)})
				errs <- tx.Commit()
			}()
		}
		start.Done()
		var deadlocks, ok int
		for range txns {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, ErrDeadlock):
				deadlocks++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if deadlocks != 1 || ok != 1 {
			t.Fatalf("round %d: %d deadlocks and %d commits, want exactly one of each", round, deadlocks, ok)
		}
	}
}

// histBlockWait is how long a step may take before it counts as blocked.
const histBlockWait = 100 * time.Millisecond

// hstep is a parsed history step.
type hstep struct {
	text     string
	op       byte
	txn      int
	key, end string // a scan's bounds ("" open)
	limit    int    // a scan's key limit (0: none)
	ro       bool   // B(ro)
}

var hstepRE = regexp.MustCompile(`^([BRGNWIDXSVCA])(\d+)(?:\(([^)]*)\))?$`)

func parseHistory(t testing.TB, s string) []hstep {
	t.Helper()
	var steps []hstep
	for _, f := range strings.Fields(s) {
		m := hstepRE.FindStringSubmatch(f)
		if m == nil {
			t.Fatalf("history step %q", f)
		}
		st := hstep{text: f, op: m[1][0]}
		st.txn, _ = strconv.Atoi(m[2])
		arg := m[3]
		switch st.op {
		case 'B':
			st.ro = arg == "ro"
		case 'R', 'G', 'N', 'W', 'I', 'D':
			if arg == "" {
				t.Fatalf("history step %q needs a key", f)
			}
			st.key = arg
		case 'S', 'V', 'X':
			if a, n, ok := strings.Cut(arg, ":"); ok {
				arg = a
				st.limit, _ = strconv.Atoi(n)
			}
			var ok bool
			if st.key, st.end, ok = strings.Cut(arg, "-"); !ok {
				t.Fatalf("history step %q: a scan is S1(A-C)", f)
			}
		}
		steps = append(steps, st)
	}
	return steps
}

// hobs is what a step did, as a serial replay checks it.
type hobs struct {
	step  hstep
	val   string // read: the value (found); write: the value written
	found bool
	scan  []string // "K=V", in the order returned
}

// htxn is one transaction of a history. Its fields past done are written
// by its goroutine only, and read once it has finished every step.
type htxn struct {
	id      int
	work    chan func()
	done    chan struct{}
	pending int // steps sent and not done (the interpreter's count)

	tx       *Txn
	err      error // the first error: of a step, or of Commit
	finished bool  // committed or rolled back
	began    int64 // clock before BeginTxn
	ended    int64 // clock after Commit or Rollback returned
	obs      []hobs
	seen     map[string]*string // what it last saw or wrote of a key (nil: absent)
}

var errHistAborted = errors.New("aborted by the history")

type histRun struct {
	t       *testing.T
	d       *DB
	opts    TxnOptions
	init    map[string]string
	history string
	txns    map[int]*htxn
	clock   atomic.Int64
	blocked []string
	final   map[string]string
}

// runHistory runs history on a new database holding init, under opts.
func runHistory(t *testing.T, init, history string, opts TxnOptions) *histRun {
	t.Helper()
	r := &histRun{t: t, d: openTxnDB(t, nil), opts: opts, init: map[string]string{}, history: history, txns: map[int]*htxn{}}
	for _, kv := range strings.Fields(init) {
		k, v, _ := strings.Cut(kv, "=")
		r.init[k] = v
		if err := r.d.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range parseHistory(t, history) {
		r.step(st)
	}
	// Wait for every step, then end what the history left open.
	for _, id := range slices.Sorted(maps.Keys(r.txns)) {
		x := r.txns[id]
		for x.pending > 0 {
			if !x.wait(30 * time.Second) {
				t.Fatalf("%s: T%d still blocked at the end", history, id)
			}
		}
		x.work <- func() {
			if x.tx != nil && !x.finished {
				x.tx.Rollback()
			}
		}
		close(x.work)
		<-x.done
	}
	r.final = map[string]string{}
	it := r.d.NewIterator(nil)
	for it.First(); it.Valid(); it.Next() {
		r.final[string(it.Key())] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return r
}

// step hands st to its transaction's goroutine and waits for it, unless
// the transaction is blocked (then st queues behind the blocked step).
func (r *histRun) step(st hstep) {
	x := r.txns[st.txn]
	if x == nil {
		x = &htxn{id: st.txn, work: make(chan func(), 64), done: make(chan struct{}, 64), seen: map[string]*string{}}
		r.txns[st.txn] = x
		go func() {
			for f := range x.work {
				f()
				x.done <- struct{}{}
			}
		}()
	}
	r.drain(0)
	x.pending++
	x.work <- func() { r.exec(x, st) }
	if x.pending == 1 && !x.wait(histBlockWait) {
		r.blocked = append(r.blocked, st.text)
	}
	if st.op == 'C' || st.op == 'A' {
		r.drain(histBlockWait) // the locks it let go may wake a waiter
	}
}

// drain collects the steps that finished, giving each blocked
// transaction up to wait to finish its steps.
func (r *histRun) drain(wait time.Duration) {
	for _, x := range r.txns {
		for x.pending > 0 && x.wait(wait) {
		}
	}
}

// wait waits up to d for one of x's steps to finish, and reports whether
// one did.
func (x *htxn) wait(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-x.done:
			x.pending--
			return true
		default:
			return false
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-x.done:
		x.pending--
		return true
	case <-timer.C:
		return false
	}
}

// exec runs st in x's goroutine.
func (r *histRun) exec(x *htxn, st hstep) {
	if x.finished {
		r.t.Errorf("%s: T%d has ended", st.text, x.id)
		return
	}
	if x.tx == nil {
		o := r.opts
		o.ReadOnly = st.op == 'B' && st.ro
		x.began = r.clock.Add(1)
		tx, err := r.d.BeginTxn(context.Background(), &o)
		if err != nil {
			r.t.Errorf("%s: begin: %v", st.text, err)
			return
		}
		x.tx = tx
	}
	if x.err != nil && st.op != 'C' && st.op != 'A' {
		return // a failed step ended what the transaction can do
	}
	tx := x.tx
	key := []byte(st.key)
	fail := func(err error) {
		if err != nil && !errors.Is(err, ErrNotFound) && x.err == nil {
			x.err = err
		}
	}
	switch st.op {
	case 'R', 'G', 'N':
		var v []byte
		var err error
		switch st.op {
		case 'R':
			v, err = tx.Get(key)
		case 'G':
			v, err = tx.GetForUpdate(key)
		default:
			v, err = tx.Snapshot().Get(key)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			fail(err)
			return
		}
		o := hobs{step: st, found: err == nil, val: string(v)}
		x.obs = append(x.obs, o)
		x.see(st.key, o.found, o.val)
	case 'W', 'I':
		v := strconv.Itoa(x.id)
		if p := x.seen[st.key]; p != nil {
			v = *p + "." + v
		}
		if err := tx.Put(key, []byte(v)); err != nil {
			fail(err)
			return
		}
		x.obs = append(x.obs, hobs{step: st, val: v})
		x.see(st.key, true, v)
	case 'D':
		if err := tx.Delete(key); err != nil {
			fail(err)
			return
		}
		x.obs = append(x.obs, hobs{step: st})
		x.see(st.key, false, "")
	case 'X':
		if err := tx.DeleteRange(key, []byte(st.end)); err != nil {
			fail(err)
			return
		}
		x.obs = append(x.obs, hobs{step: st})
		for k := range x.seen {
			if inScan(st, k) {
				x.seen[k] = nil
			}
		}
	case 'S', 'V':
		o := &IterOptions{}
		if st.key != "" {
			o.LowerBound = []byte(st.key)
		}
		if st.end != "" {
			o.UpperBound = []byte(st.end)
		}
		it := tx.NewIterator(o)
		first, next := it.First, it.Next
		if st.op == 'V' {
			first, next = it.Last, it.Prev
		}
		ob := hobs{step: st}
		for ok := first(); ok; ok = next() {
			k, v := string(it.Key()), string(it.Value())
			ob.scan = append(ob.scan, k+"="+v)
			x.see(k, true, v)
			if st.limit > 0 && len(ob.scan) == st.limit {
				break
			}
		}
		if err := it.Close(); err != nil {
			fail(err)
			return
		}
		x.obs = append(x.obs, ob)
	case 'C':
		if x.err == nil {
			x.err = tx.Commit()
		} else {
			tx.Rollback()
		}
		x.finished, x.ended = true, r.clock.Add(1)
	case 'A':
		tx.Rollback()
		if x.err == nil {
			x.err = errHistAborted
		}
		x.finished, x.ended = true, r.clock.Add(1)
	}
}

func (x *htxn) see(key string, found bool, v string) {
	if !found {
		x.seen[key] = nil
		return
	}
	x.seen[key] = &v
}

// outcome names how x ended.
func (x *htxn) outcome() string {
	switch err := x.err; {
	case !x.finished && err == nil:
		return "open"
	case err == nil:
		return "ok"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrDeadlock):
		return "deadlock"
	case errors.Is(err, ErrLockTimeout):
		return "timeout"
	case errors.Is(err, errHistAborted):
		return "aborted"
	default:
		return "error: " + err.Error()
	}
}

func (r *histRun) outcomes() string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(r.txns)) {
		out = append(out, r.txns[id].outcome())
	}
	return strings.Join(out, " ")
}

func (r *histRun) expectOutcomes(want string) {
	r.t.Helper()
	if got := r.outcomes(); got != want {
		r.t.Fatalf("%s under %+v: outcomes %q, want %q\n%s", r.history, r.opts, got, want, r.describe())
	}
}

// describe shows what each transaction observed, and the final state.
func (r *histRun) describe() string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(r.txns)) {
		x := r.txns[id]
		fmt.Fprintf(&b, "  T%d %s [%d, %d]:", id, x.outcome(), x.began, x.ended)
		for _, o := range x.obs {
			switch o.step.op {
			case 'R', 'G', 'N':
				if o.found {
					fmt.Fprintf(&b, " %s=%q", o.step.text, o.val)
				} else {
					fmt.Fprintf(&b, " %s=absent", o.step.text)
				}
			case 'W', 'I':
				fmt.Fprintf(&b, " %s:=%q", o.step.text, o.val)
			case 'S', 'V':
				fmt.Fprintf(&b, " %s=%v", o.step.text, o.scan)
			default:
				fmt.Fprintf(&b, " %s", o.step.text)
			}
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "  final %v", r.final)
	return b.String()
}

// serialOrder looks for an order of the committed transactions, in which a
// transaction whose commit returned before another began comes first, that
// run one after another from the initial state reads what each read and
// leaves the final state. It returns the order (transaction ids) and
// whether one exists.
func (r *histRun) serialOrder() ([]int, bool) {
	var committed []*htxn
	for _, id := range slices.Sorted(maps.Keys(r.txns)) {
		if x := r.txns[id]; x.finished && x.err == nil {
			committed = append(committed, x)
		}
	}
	var order []*htxn
	used := make([]bool, len(committed))
	var try func() bool
	try = func() bool {
		if len(order) == len(committed) {
			return replaySerial(r.init, order, r.final)
		}
	next:
		for i, x := range committed {
			if used[i] {
				continue
			}
			for j, y := range committed {
				if !used[j] && j != i && y.ended < x.began {
					continue next // y must come before x
				}
			}
			used[i] = true
			order = append(order, x)
			if try() {
				return true
			}
			order = order[:len(order)-1]
			used[i] = false
		}
		return false
	}
	if !try() {
		return nil, false
	}
	ids := make([]int, len(order))
	for i, x := range order {
		ids[i] = x.id
	}
	return ids, true
}

// replaySerial runs txns one after another on a map from init and reports
// whether each read what it read and the end state is final.
func replaySerial(init map[string]string, txns []*htxn, final map[string]string) bool {
	state := maps.Clone(init)
	for _, x := range txns {
		for _, o := range x.obs {
			st := o.step
			switch st.op {
			case 'R', 'G', 'N':
				v, ok := state[st.key]
				if ok != o.found || v != o.val {
					return false
				}
			case 'W', 'I':
				state[st.key] = o.val
			case 'D':
				delete(state, st.key)
			case 'X':
				maps.DeleteFunc(state, func(k, _ string) bool { return inScan(st, k) })
			case 'S', 'V':
				var keys []string
				for k := range state {
					if inScan(st, k) {
						keys = append(keys, k)
					}
				}
				slices.Sort(keys)
				if st.op == 'V' {
					slices.Reverse(keys)
				}
				if st.limit > 0 && len(keys) > st.limit {
					keys = keys[:st.limit]
				}
				if len(keys) != len(o.scan) {
					return false
				}
				for i, k := range keys {
					if k+"="+state[k] != o.scan[i] {
						return false
					}
				}
			}
		}
	}
	return maps.Equal(state, final)
}

// inScan reports whether key k is in the range of st (a scan or a range
// deletion).
func inScan(st hstep, k string) bool {
	return (st.key == "" || k >= st.key) && (st.end == "" || k < st.end)
}

// TestAnomalyChecker checks the interpreter's serializability check on runs
// it must reject: a history whose reads no serial order explains is
// refused, and so is one that needs an order against real time.
func TestAnomalyChecker(t *testing.T) {
	r := runHistory(t, "A=0 B=0", "R1(A) R1(B) R2(A) R2(B) W1(A) W2(B) C1 C2",
		TxnOptions{Isolation: SnapshotIsolation})
	if order, ok := r.serialOrder(); ok {
		t.Fatalf("write skew accepted as serial %v", order)
	}
	// T2's read of A as it was before T1 serializes only before T1, which
	// real time forbids: T1's commit returned before T2 began.
	x1 := &htxn{id: 1, finished: true, began: 1, ended: 2,
		obs: []hobs{{step: hstep{op: 'W', key: "A"}, val: "1"}}}
	x2 := &htxn{id: 2, finished: true, began: 3, ended: 4,
		obs: []hobs{{step: hstep{op: 'R', key: "A"}, val: "0", found: true}}}
	stale := &histRun{init: map[string]string{"A": "0"}, final: map[string]string{"A": "1"},
		txns: map[int]*htxn{1: x1, 2: x2}}
	if order, ok := stale.serialOrder(); ok {
		t.Fatalf("stale read accepted as serial %v", order)
	}
	x2.began = 1 // concurrent: T2 first explains it
	if order, ok := stale.serialOrder(); !ok || !slices.Equal(order, []int{2, 1}) {
		t.Fatalf("concurrent read: %v %v", order, ok)
	}
	// A lost update: the final state no order gives.
	x2.obs = []hobs{{step: hstep{op: 'R', key: "A"}, val: "0", found: true}, {step: hstep{op: 'W', key: "A"}, val: "0.2"}}
	lost := &histRun{init: map[string]string{"A": "0"}, final: map[string]string{"A": "0.2"},
		txns: map[int]*htxn{1: {id: 1, finished: true, began: 1, ended: 4,
			obs: []hobs{{step: hstep{op: 'R', key: "A"}, val: "0", found: true}, {step: hstep{op: 'W', key: "A"}, val: "0.1"}}}, 2: x2}}
	if order, ok := lost.serialOrder(); ok {
		t.Fatalf("lost update accepted as serial %v", order)
	}
}
