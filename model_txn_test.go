package strata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Transactions in the model test (issue 25, test 4). Up to three
// transactions are open at once, interleaved with each other and with the
// plain writes, reads, flushes and compactions of the model run. The model
// keeps, for each, the committed state at its read version and its own
// writes; its reads are checked against that state with its writes applied
// (or, for a key a pessimistic transaction has locked, against the latest
// state), and it records what each read covered as the implementation
// documents it: a key for Get, and for an iterator each span from where a
// positioning call started to where the iterator stopped. Every committed
// write, transactional or not, is numbered (a version) and, while a
// read-write transaction is open, kept with the range it wrote. Since the
// run is single-threaded, the outcome of each Commit is then exact: a
// serializable transaction conflicts if and only if a write numbered after
// one of its reads overlaps it; under snapshot isolation, if one numbered
// after its read version overlaps a range it writes; a read-only one, or
// one that wrote nothing, never. A commit applies the transaction's writes
// to the model at once. A pessimistic write or GetForUpdate of a key
// another open transaction has locked must time out.

// mBound is a position between keys, as the model sees it: before key, or
// after it, or before every key (neg), or past every key (inf).
type mBound struct {
	key             string
	after, neg, inf bool
}

// mRange is [lo, hi).
type mRange struct{ lo, hi mBound }

func mBefore(k []byte) mBound { return mBound{key: string(k)} }

func mPoint(k []byte) mRange { return mRange{mBefore(k), mBound{key: string(k), after: true}} }

// cmpBound orders bounds under the model's comparator. It restates
// compareBounds (txn_conflict.go) on purpose: the model does not borrow the
// code it checks.
func (r *modelRun) cmpBound(a, b mBound) int {
	switch {
	case a.neg || b.neg:
		if a.neg && b.neg {
			return 0
		}
		if a.neg {
			return -1
		}
		return 1
	case a.inf || b.inf:
		if a.inf && b.inf {
			return 0
		}
		if a.inf {
			return 1
		}
		return -1
	}
	if c := r.m.cmp([]byte(a.key), []byte(b.key)); c != 0 {
		return c
	}
	switch {
	case a.after == b.after:
		return 0
	case a.after:
		return 1
	}
	return -1
}

func (r *modelRun) overlap(a, b mRange) bool {
	return r.cmpBound(a.lo, a.hi) < 0 && r.cmpBound(b.lo, b.hi) < 0 &&
		r.cmpBound(a.lo, b.hi) < 0 && r.cmpBound(b.lo, a.hi) < 0
}

// mWrite is a committed write's range and version.
type mWrite struct {
	ver int
	r   mRange
}

// mRead is a read conflict range and the version it was read at.
type mRead struct {
	ver int
	r   mRange
}

// mTxnOp is one of a transaction's writes.
type mTxnOp struct {
	apply func(map[string]string)
	r     mRange
}

type modelTxn struct {
	id      int
	tx      *Txn
	o       TxnOptions
	readVer int
	base    map[string]string // the committed state at the read version
	ops     []mTxnOp
	writes  []mRange // explicit write conflict ranges
	reads   []mRead
	locked  map[string]bool
	saves   [][2]int // len(ops), len(writes)
	iters   []*Iterator
}

// txnStats counts what the transactions did, over a run.
type txnStats struct {
	begun, committed, conflicts, empty, rolledBack, lockTimeouts int
}

func (t *modelTxn) tracksReads() bool { return !t.o.ReadOnly && t.o.Isolation == Serializable }

// view is the transaction's view over base: its writes applied to it.
func (t *modelTxn) view(base map[string]string) map[string]string {
	v := maps.Clone(base)
	for _, op := range t.ops {
		op.apply(v)
	}
	return v
}

func (r *modelRun) read(t *modelTxn, rg mRange, ver int) {
	if t.tracksReads() {
		t.reads = append(t.reads, mRead{ver, rg})
	}
}

// recordWrite numbers a committed write and, while a read-write
// transaction is open, keeps its ranges.
func (r *modelRun) recordWrite(rs ...mRange) {
	r.ver++
	for _, t := range r.txns {
		if !t.o.ReadOnly {
			for _, rg := range rs {
				r.hist = append(r.hist, mWrite{r.ver, rg})
			}
			return
		}
	}
	r.hist = r.hist[:0]
}

func (r *modelRun) lockedByOther(t *modelTxn, k []byte) bool {
	for _, u := range r.txns {
		if u != t && u.locked[string(k)] {
			return true
		}
	}
	return false
}

// txnKey returns a random key for t: one time in four (one in two for a
// pessimistic t) one that another open transaction locked, and one in four
// among a few hot ones, so that transactions meet on keys: conflicts and
// lock waits.
func (r *modelRun) txnKey(t *modelTxn) []byte {
	x := r.rng.IntN(4)
	if t.o.Pessimistic && x == 2 {
		x = 0
	}
	switch x {
	case 0:
		var locked []string
		for _, u := range r.txns {
			if u == t {
				continue
			}
			for k := range u.locked {
				locked = append(locked, k)
			}
		}
		if len(locked) > 0 {
			slices.Sort(locked) // the seed decides, not the map's order
			return []byte(locked[r.rng.IntN(len(locked))])
		}
	case 1:
		return []byte(r.keys[r.rng.IntN(min(6, len(r.keys)))])
	}
	return r.randKey()
}

// txnStep runs one random transactional operation.
func (r *modelRun) txnStep() {
	if len(r.txns) == 0 || (len(r.txns) < 3 && r.rng.IntN(5) == 0) {
		switch r.rng.IntN(12) {
		case 0:
			r.txnUpdate()
		case 1:
			r.txnView()
		default:
			r.txnBegin()
		}
		return
	}
	t := r.txns[r.rng.IntN(len(r.txns))]
	switch x := r.rng.IntN(100); {
	case x < 20:
		k, v := r.txnKey(t), r.randValue()
		r.trace("txn %d put %q", t.id, k)
		r.txnWrite(t, "put", t.tx.Put(k, v), k, mPoint(k), func(st map[string]string) { st[string(k)] = string(v) })
	case x < 26:
		k := r.txnKey(t)
		r.trace("txn %d delete %q", t.id, k)
		r.txnWrite(t, "delete", t.tx.Delete(k), k, mPoint(k), func(st map[string]string) { delete(st, string(k)) })
	case x < 31:
		k, v := r.txnKey(t), r.randOperand()
		r.trace("txn %d merge %q %q", t.id, k, v)
		r.txnWrite(t, "merge", t.tx.Merge(k, v), k, mPoint(k), func(st map[string]string) { mergeInto(st, k, v) })
	case x < 34:
		a, b := r.txnKey(t), r.txnKey(t)
		if r.rng.IntN(4) != 0 && r.m.cmp(a, b) > 0 {
			a, b = b, a
		}
		r.trace("txn %d delete range %q %q", t.id, a, b)
		r.txnWrite(t, "delete range", t.tx.DeleteRange(a, b), nil, mRange{mBefore(a), mBefore(b)},
			func(st map[string]string) { deleteRangeIn(r.m.cmp, st, a, b) })
	case x < 47:
		r.txnGet(t, r.txnKey(t), "get")
	case x < 52:
		r.txnGet(t, r.txnKey(t), "get for update")
	case x < 55:
		r.txnGet(t, r.txnKey(t), "snapshot get")
	case x < 63:
		r.txnIterate(t, true)
	case x < 65:
		r.txnIterate(t, false)
	case x < 67:
		a := r.txnKey(t)
		var b []byte
		rg := mRange{mBefore(a), mBound{inf: true}}
		if r.rng.IntN(4) != 0 {
			b = r.txnKey(t)
			rg.hi = mBefore(b)
		}
		r.trace("txn %d read conflict range %q %q", t.id, a, b)
		if err := t.tx.AddReadConflictRange(a, b); err != nil {
			r.fatalf("txn %d: add read conflict range: %v", t.id, err)
		}
		r.read(t, rg, t.readVer)
	case x < 69:
		a := r.txnKey(t)
		var b []byte
		rg := mPoint(a)
		if r.rng.IntN(2) == 0 {
			b = r.txnKey(t)
			rg = mRange{mBefore(a), mBefore(b)}
		}
		r.trace("txn %d write conflict range %q %q", t.id, a, b)
		err := t.tx.AddWriteConflictRange(a, b)
		if t.o.ReadOnly {
			if !errors.Is(err, ErrTxnReadOnly) {
				r.fatalf("txn %d (read-only): add write conflict range = %v", t.id, err)
			}
			return
		}
		if err != nil {
			r.fatalf("txn %d: add write conflict range: %v", t.id, err)
		}
		t.writes = append(t.writes, rg)
	case x < 73:
		r.trace("txn %d save point", t.id)
		t.tx.SetSavePoint()
		t.saves = append(t.saves, [2]int{len(t.ops), len(t.writes)})
	case x < 77:
		r.trace("txn %d rollback to save point", t.id)
		err := t.tx.RollbackToSavePoint()
		if len(t.saves) == 0 {
			if !errors.Is(err, ErrNoSavePoint) {
				r.fatalf("txn %d: rollback to a save point with none set = %v", t.id, err)
			}
			return
		}
		if err != nil {
			r.fatalf("txn %d: rollback to save point: %v", t.id, err)
		}
		sp := t.saves[len(t.saves)-1]
		t.saves = t.saves[:len(t.saves)-1]
		t.ops, t.writes = t.ops[:sp[0]], t.writes[:sp[1]]
		if t.tx.Len() != len(t.ops) {
			r.fatalf("txn %d: %d writes after rolling back to a save point, model %d", t.id, t.tx.Len(), len(t.ops))
		}
	case x < 93:
		r.txnCommit(t)
		if len(r.txns) < 3 && r.rng.IntN(3) == 0 {
			r.txnBegin() // back to back: no write between the two
		}
	default:
		r.trace("txn %d rollback", t.id)
		if err := t.tx.Rollback(); err != nil {
			r.fatalf("txn %d: rollback: %v", t.id, err)
		}
		r.txnEnd(t)
		r.txnStats.rolledBack++
	}
}

// txnOptions draws a transaction's options.
func (r *modelRun) txnOptions() TxnOptions {
	o := TxnOptions{LockTimeout: time.Millisecond}
	switch x := r.rng.IntN(20); {
	case x < 7:
	case x < 10:
		o.Isolation = SnapshotIsolation
	case x < 17:
		o.Pessimistic, o.DeadlockDetect = true, r.rng.IntN(2) == 0
		if r.rng.IntN(4) == 0 {
			o.Isolation = SnapshotIsolation
		}
	default:
		o.ReadOnly = true
	}
	return o
}

func (r *modelRun) newModelTxn(tx *Txn, o TxnOptions) *modelTxn {
	r.txnID++
	if rv := tx.ReadVersion(); rv < r.lastCommitSeq {
		r.fatalf("txn %d reads at version %d, below the commit that returned before it began (%d)", r.txnID, rv, r.lastCommitSeq)
	}
	return &modelTxn{id: r.txnID, tx: tx, o: o, readVer: r.ver, base: r.m.clone(), locked: map[string]bool{}}
}

func (r *modelRun) txnBegin() {
	o := r.txnOptions()
	tx, err := r.db.BeginTxn(context.Background(), &o)
	if err != nil {
		r.fatalf("begin: %v", err)
	}
	t := r.newModelTxn(tx, o)
	r.trace("txn %d begin %+v", t.id, o)
	r.txns = append(r.txns, t)
	r.txnStats.begun++
}

// txnWrite checks a write's result (err) and, if the model says it
// happened, adds it to the transaction. key is the key a pessimistic
// transaction locks (nil: none).
func (r *modelRun) txnWrite(t *modelTxn, what string, err error, key []byte, rg mRange, apply func(map[string]string)) {
	r.t.Helper()
	switch {
	case t.o.ReadOnly:
		if !errors.Is(err, ErrTxnReadOnly) {
			r.fatalf("txn %d (read-only): %s = %v", t.id, what, err)
		}
		return
	case t.o.Pessimistic && key != nil && r.lockedByOther(t, key):
		if !errors.Is(err, ErrLockTimeout) {
			r.fatalf("txn %d: %s of %q, locked by another transaction: %v, want a lock timeout", t.id, what, key, err)
		}
		r.txnStats.lockTimeouts++
		return
	case err != nil:
		r.fatalf("txn %d: %s: %v", t.id, what, err)
	}
	if t.o.Pessimistic && key != nil {
		t.locked[string(key)] = true
	}
	t.ops = append(t.ops, mTxnOp{apply, rg})
}

// txnGet reads key with Get, GetForUpdate or the snapshot reader.
func (r *modelRun) txnGet(t *modelTxn, k []byte, how string) {
	r.trace("txn %d %s %q", t.id, how, k)
	latest := func() {
		r.checkGet(func(k []byte) ([]byte, error) {
			if how == "get" {
				return t.tx.Get(k)
			}
			return t.tx.GetForUpdate(k)
		}, t.view(r.m.live), k)
		r.read(t, mPoint(k), r.ver)
	}
	switch {
	case how == "snapshot get":
		r.checkGet(t.tx.Snapshot().Get, t.view(t.base), k)
	case how == "get" && t.locked[string(k)] && t.o.Isolation == Serializable:
		latest() // a key it holds the lock of: the latest committed state
	case how == "get":
		r.checkGet(t.tx.Get, t.view(t.base), k)
		r.read(t, mPoint(k), t.readVer)
	case t.o.ReadOnly:
		if _, err := t.tx.GetForUpdate(k); !errors.Is(err, ErrTxnReadOnly) {
			r.fatalf("txn %d (read-only): get for update = %v", t.id, err)
		}
	case t.o.Pessimistic && r.lockedByOther(t, k):
		if _, err := t.tx.GetForUpdate(k); !errors.Is(err, ErrLockTimeout) {
			r.fatalf("txn %d: get for update of %q, locked by another transaction: %v, want a lock timeout", t.id, k, err)
		}
		r.txnStats.lockTimeouts++
	case t.o.Pessimistic && t.o.Isolation == SnapshotIsolation:
		// The lock, then one snapshot throughout: a key written since
		// the read version fails (the lock stays held).
		t.locked[string(k)] = true
		written := false
		for _, w := range r.hist {
			written = written || (w.ver > t.readVer && r.overlap(w.r, mPoint(k)))
		}
		if written {
			if _, err := t.tx.GetForUpdate(k); !errors.Is(err, ErrConflict) {
				r.fatalf("txn %d: get for update (pessimistic, snapshot) of %q, written since its read version: %v, want a conflict",
					t.id, k, err)
			}
			return
		}
		r.checkGet(t.tx.GetForUpdate, t.view(t.base), k)
	case t.o.Pessimistic:
		t.locked[string(k)] = true
		latest()
	default: // optimistic: a write conflict, and a read (none under snapshot isolation)
		r.checkGet(t.tx.GetForUpdate, t.view(t.base), k)
		t.writes = append(t.writes, mPoint(k))
		r.read(t, mPoint(k), t.readVer)
	}
}

// txnIterate moves an iterator over the transaction's view at random,
// checking it; a tracked one (tx.NewIterator) makes a few moves (so that
// what it read is not all of its bounds), adds the spans it covered to the
// reads, and is now and then left open until the transaction ends.
func (r *modelRun) txnIterate(t *modelTxn, tracked bool) {
	r.trace("txn %d iterate (tracked %v)", t.id, tracked)
	view := t.view(t.base)
	if !tracked {
		r.checkIteratorWith(view, func(o *IterOptions) *Iterator { return t.tx.Snapshot().NewIterator(o) })
		return
	}
	sp := &mSpans{r: r}
	it := r.checkIteratorTracked(view, func(o *IterOptions) *Iterator {
		sp.lower, sp.upper = o.LowerBound, o.UpperBound
		return t.tx.NewIterator(o)
	}, 1+r.rng.IntN(8), sp, r.rng.IntN(4) == 0)
	sp.flush()
	for _, rg := range sp.out {
		r.read(t, rg, t.readVer)
	}
	if it != nil {
		t.iters = append(t.iters, it)
	}
}

// txnCommit commits t and checks the outcome the model predicts.
func (r *modelRun) txnCommit(t *modelTxn) {
	var conflict string
	wrote := len(t.ops) > 0 || len(t.writes) > 0
	var ranges []mRange
	for _, op := range t.ops {
		ranges = append(ranges, op.r)
	}
	ranges = append(ranges, t.writes...)
	// A transaction that wrote nothing is serializable at its read
	// version, unless it read (locked keys) at later versions: then its
	// reads are checked as a writer's.
	later := slices.ContainsFunc(t.reads, func(rd mRead) bool { return rd.ver != t.readVer })
	switch {
	case t.o.ReadOnly || (!wrote && !later):
	case t.o.Isolation == Serializable:
		for _, rd := range t.reads {
			for _, w := range r.hist {
				if w.ver > rd.ver && r.overlap(rd.r, w.r) {
					conflict = fmt.Sprintf("read %v at version %d, written at %d", rd.r, rd.ver, w.ver)
				}
			}
		}
	default:
		for _, rg := range ranges {
			for _, w := range r.hist {
				if w.ver > t.readVer && r.overlap(rg, w.r) {
					conflict = fmt.Sprintf("wrote %v, written at %d after the read version %d", rg, w.ver, t.readVer)
				}
			}
		}
	}
	n := t.tx.Len()
	err := t.tx.Commit()
	r.trace("txn %d commit: %v (model: %q)", t.id, err, conflict)
	switch {
	case conflict != "" && !errors.Is(err, ErrConflict):
		r.fatalf("txn %d (%+v): commit = %v, but the model has a conflict: %s", t.id, t.o, err, conflict)
	case conflict == "" && err != nil:
		r.fatalf("txn %d (%+v): commit = %v, but the model has no conflict", t.id, t.o, err)
	case err != nil:
		r.txnStats.conflicts++
		if t.tx.CommittedVersion() != 0 {
			r.fatalf("txn %d: refused, with a committed version %d", t.id, t.tx.CommittedVersion())
		}
	case !wrote || t.o.ReadOnly:
		r.txnStats.empty++
	default:
		r.txnStats.committed++
		for _, op := range t.ops {
			op.apply(r.m.live)
		}
		if cv := t.tx.CommittedVersion(); n > 0 {
			if cv <= t.tx.ReadVersion() {
				r.fatalf("txn %d: committed at version %d, read at %d", t.id, cv, t.tx.ReadVersion())
			}
			r.lastCommitSeq = cv + uint64(n) - 1
		}
	}
	r.txnEnd(t)
	if err == nil && !t.o.ReadOnly && wrote {
		r.recordWrite(ranges...)
	}
	// A finished transaction refuses everything but Rollback.
	if _, err := t.tx.Get(r.txnKey(t)); !errors.Is(err, ErrTxnDone) {
		r.fatalf("txn %d: get after commit = %v", t.id, err)
	}
	if err := t.tx.Commit(); !errors.Is(err, ErrTxnDone) {
		r.fatalf("txn %d: second commit = %v", t.id, err)
	}
	if err := t.tx.Rollback(); err != nil {
		r.fatalf("txn %d: rollback after commit = %v", t.id, err)
	}
}

// txnEnd forgets t (its locks go with it) and closes the iterators it left
// open.
func (r *modelRun) txnEnd(t *modelTxn) {
	for _, it := range t.iters {
		if err := it.Close(); err != nil {
			r.fatalf("txn %d: close an iterator left open: %v", t.id, err)
		}
	}
	r.txns = slices.DeleteFunc(r.txns, func(u *modelTxn) bool { return u == t })
	if !slices.ContainsFunc(r.txns, func(u *modelTxn) bool { return !u.o.ReadOnly }) {
		r.hist = r.hist[:0]
	}
}

// txnEndAll commits or rolls back, at random, every open transaction
// (before a reopen).
func (r *modelRun) txnEndAll() {
	for len(r.txns) > 0 {
		t := r.txns[0]
		if r.rng.IntN(2) == 0 {
			r.txnCommit(t)
			continue
		}
		if err := t.tx.Rollback(); err != nil {
			r.fatalf("txn %d: rollback: %v", t.id, err)
		}
		r.txnEnd(t)
		r.txnStats.rolledBack++
	}
}

// txnUpdate runs DB.Update with a few random writes and reads, and now and
// then an error of fn's own (nothing committed). Nothing can conflict with
// it: fn runs once.
func (r *modelRun) txnUpdate() {
	calls := 0
	var t *modelTxn
	errOwn := errors.New("fn's own error")
	fail := r.rng.IntN(5) == 0
	err := r.db.Update(context.Background(), func(tx *Txn) error {
		calls++
		t = r.newModelTxn(tx, TxnOptions{})
		r.trace("update (txn %d)", t.id)
		for n := 1 + r.rng.IntN(5); n > 0; n-- {
			switch r.rng.IntN(4) {
			case 0:
				k := r.txnKey(t)
				r.txnWrite(t, "delete", tx.Delete(k), k, mPoint(k), func(st map[string]string) { delete(st, string(k)) })
			case 1:
				r.txnGet(t, r.txnKey(t), "get")
			default:
				k, v := r.txnKey(t), r.randValue()
				r.txnWrite(t, "put", tx.Put(k, v), k, mPoint(k), func(st map[string]string) { st[string(k)] = string(v) })
			}
		}
		if fail {
			return errOwn
		}
		return nil
	})
	if calls != 1 {
		r.fatalf("update ran fn %d times", calls)
	}
	if fail {
		if !errors.Is(err, errOwn) {
			r.fatalf("update whose fn failed = %v", err)
		}
		return
	}
	if err != nil {
		r.fatalf("update: %v", err)
	}
	var ranges []mRange
	for _, op := range t.ops {
		op.apply(r.m.live)
		ranges = append(ranges, op.r)
	}
	r.recordWrite(ranges...)
	r.txnStats.committed++
}

// txnView reads in DB.View: a Get and an iterator over the latest state.
func (r *modelRun) txnView() {
	r.trace("view")
	err := r.db.View(context.Background(), func(tx *Txn) error {
		r.checkGet(tx.Get, r.m.live, r.randKey())
		r.checkIteratorWith(r.m.live, func(o *IterOptions) *Iterator { return tx.NewIterator(o) })
		if err := tx.Put([]byte("k"), nil); !errors.Is(err, ErrTxnReadOnly) {
			r.fatalf("put in a view = %v", err)
		}
		return nil
	})
	if err != nil {
		r.fatalf("view: %v", err)
	}
}

// mSpans follows a transaction iterator's read spans as txn_iter.go
// documents them: each positioning call starts a span, from where it was
// asked to start (clamped to the iterator's bounds) to where it landed (or
// the bound it ran out at); Next and Prev extend it.
type mSpans struct {
	r            *modelRun
	lower, upper []byte
	on           bool
	lo, hi       mBound
	out          []mRange
}

func (s *mSpans) lowerB() mBound {
	if s.lower == nil {
		return mBound{neg: true}
	}
	return mBefore(s.lower)
}

func (s *mSpans) upperB() mBound {
	if s.upper == nil {
		return mBound{inf: true}
	}
	return mBefore(s.upper)
}

func (s *mSpans) flush() {
	if s.on {
		s.out = append(s.out, mRange{s.lo, s.hi})
		s.on = false
	}
}

// position records a positioning call (op, with its seek key) that left
// the iterator at key (valid) or nowhere.
func (s *mSpans) position(op string, seek []byte, valid bool, key string) {
	s.flush()
	s.on = true
	cmp := s.r.m.cmp
	var from mBound
	forward := true
	switch op {
	case "First":
		from = s.lowerB()
	case "Last":
		from, forward = s.upperB(), false
	case "Seek":
		from = mBefore(seek)
		if s.lower != nil && cmp(seek, s.lower) < 0 {
			from = s.lowerB()
		}
	case "SeekLT":
		from, forward = mBefore(seek), false
		if s.upper != nil && cmp(seek, s.upper) > 0 {
			from = s.upperB()
		}
	}
	switch {
	case forward && valid:
		s.lo, s.hi = from, mBound{key: key, after: true}
	case forward:
		s.lo, s.hi = from, s.upperB()
	case valid:
		s.lo, s.hi = mBound{key: key}, from
	default:
		s.lo, s.hi = s.lowerB(), from
	}
}

// step records a Next (forward) or Prev from a valid position.
func (s *mSpans) step(forward, valid bool, key string) {
	if !s.on {
		return
	}
	switch {
	case forward && valid:
		if b := (mBound{key: key, after: true}); s.r.cmpBound(b, s.hi) > 0 {
			s.hi = b
		}
	case forward:
		s.hi = s.upperB()
	case valid:
		if b := (mBound{key: key}); s.r.cmpBound(b, s.lo) < 0 {
			s.lo = b
		}
	default:
		s.lo = s.lowerB()
	}
}
