package strata

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/strata-db/strata/internal/vfs"
)

// The model test (LevelDB's db_test "ChangeOptions" harness in spirit): a
// random sequence of writes, batches, snapshots, reads, iterations in both
// directions with bounds, flushes, compactions and reopens, checked step by
// step against a plain map, under several option sets. A failure names the
// option set, the seed and the step.

// reverseComparer orders keys by descending bytes: a custom comparator
// whose order differs from the default everywhere.
var reverseComparer = &Comparer{
	Name:      "strata.test.ReverseBytewise",
	Compare:   func(a, b []byte) int { return bytes.Compare(b, a) },
	Separator: func(dst, a, b []byte) []byte { return append(dst, a...) },
	Successor: func(dst, a []byte) []byte { return append(dst, a...) },
}

type optionSet struct {
	name string
	opts func(fs FS) *Options
}

func modelOptionSets() []optionSet {
	return []optionSet{
		{"defaults", func(fs FS) *Options { return &Options{FS: fs} }},
		{"tiny", func(fs FS) *Options {
			return &Options{FS: fs, WriteBufferSize: 2 << 10, BlockSize: 64, BlockRestartInterval: 2,
				TargetFileSize: 4 << 10, L0CompactionTrigger: 2, L0SlowdownTrigger: 3, L0StopTrigger: 6,
				BloomBitsPerKey: -1, Compression: NoCompression, MaxOpenFiles: 20, BlockCacheSize: -1,
				BaseLevelSize: 8 << 10}
		}},
		{"tiny-fixed-levels", func(fs FS) *Options {
			return &Options{FS: fs, WriteBufferSize: 2 << 10, BlockSize: 64, BlockRestartInterval: 2,
				TargetFileSize: 4 << 10, L0CompactionTrigger: 2, L0SlowdownTrigger: 3, L0StopTrigger: 6,
				BloomBitsPerKey: -1, Compression: NoCompression, MaxOpenFiles: 20, BlockCacheSize: -1,
				BaseLevelSize: 8 << 10, LevelSizing: FixedLevelSizes}
		}},
		{"zstd-reverse", func(fs FS) *Options {
			return &Options{FS: fs, Comparator: reverseComparer, WriteBufferSize: 8 << 10,
				InitialMemTableSize: 512, BlockSize: 256, Compression: ZstdCompression, TargetFileSize: 16 << 10,
				LevelSizeMultiplier: 2, BlockCacheSize: 32 << 10}
		}},
		{"slab-cache", func(fs FS) *Options {
			// A cache large enough to manage its own block memory (the
			// slab allocator; freed blocks are poisoned in tests).
			return &Options{FS: fs, WriteBufferSize: 16 << 10, InitialMemTableSize: 1 << 10, BlockSize: 512,
				BlockCacheSize: 32 << 20}
		}},
		{"no-auto-compaction", func(fs FS) *Options {
			return &Options{FS: fs, WriteBufferSize: 4 << 10, DisableAutoCompactions: true,
				BlockSize: 128, BloomBitsPerKey: 3}
		}},
	}
}

// model is the expected state: the latest map plus one frozen copy per
// open snapshot.
type model struct {
	cmp  func(a, b []byte) int
	live map[string]string
}

// modelMerger is the merge operator of the model test's databases: append
// with a separator.
var modelMerger = AppendMerger([]byte("+"))

// merge applies modelMerger's fold of operand to k.
func (m *model) merge(k, operand []byte) { mergeInto(m.live, k, operand) }

// mergeInto applies modelMerger's fold of operand to k in state.
func mergeInto(state map[string]string, k, operand []byte) {
	if v, ok := state[string(k)]; ok {
		state[string(k)] = v + "+" + string(operand)
	} else {
		state[string(k)] = string(operand)
	}
}

// deleteRange removes the keys of [a, b).
func (m *model) deleteRange(a, b []byte) { deleteRangeIn(m.cmp, m.live, a, b) }

// deleteRangeIn removes the keys of [a, b) from state.
func deleteRangeIn(cmp func(a, b []byte) int, state map[string]string, a, b []byte) {
	for k := range state {
		if cmp([]byte(k), a) >= 0 && cmp([]byte(k), b) < 0 {
			delete(state, k)
		}
	}
}

func (m *model) clone() map[string]string {
	c := make(map[string]string, len(m.live))
	for k, v := range m.live {
		c[k] = v
	}
	return c
}

// sortedKeys returns the keys of state within [lower, upper) in comparator
// order.
func sortedKeys(cmp func(a, b []byte) int, state map[string]string, lower, upper []byte) []string {
	var keys []string
	for k := range state {
		if lower != nil && cmp([]byte(k), lower) < 0 {
			continue
		}
		if upper != nil && cmp([]byte(k), upper) >= 0 {
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp([]byte(a), []byte(b)) })
	return keys
}

type modelRun struct {
	t     *testing.T
	rng   *rand.Rand
	fs    *vfs.MemFS
	set   optionSet
	seed  uint64
	step  int
	db    *DB
	m     model
	snaps []*modelSnap
	keys  []string // key universe

	// Transactions (model_txn_test.go): the open ones; the committed
	// writes' ranges, numbered by ver, kept while a read-write one is
	// open; the last sequence number a commit returned.
	txns          []*modelTxn
	hist          []mWrite
	ver, txnID    int
	txnPhase      int // steps left in a phase of transactions alone
	lastCommitSeq uint64
	txnStats      txnStats
}

type modelSnap struct {
	s     *Snapshot
	state map[string]string
}

func (r *modelRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("[options %s, seed %d, step %d] %s", r.set.name, r.seed, r.step, fmt.Sprintf(format, args...))
}

var traceModel = os.Getenv("STRATA_MODEL_TRACE") != ""

func (r *modelRun) trace(format string, args ...any) {
	if traceModel {
		r.t.Logf("step %d: %s", r.step, fmt.Sprintf(format, args...))
	}
}

func (r *modelRun) randKey() []byte {
	if r.rng.IntN(10) == 0 {
		// Occasionally a fresh key, to grow the universe.
		n := r.rng.IntN(20)
		k := make([]byte, n)
		for i := range k {
			k[i] = byte(r.rng.IntN(256))
		}
		r.keys = append(r.keys, string(k))
		return k
	}
	return []byte(r.keys[r.rng.IntN(len(r.keys))])
}

func (r *modelRun) randValue() []byte {
	n := r.rng.IntN(100)
	if r.rng.IntN(20) == 0 {
		n = r.rng.IntN(5000)
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = byte('a' + r.rng.IntN(4)) // compressible
	}
	return v
}

func (r *modelRun) options(fs FS) *Options {
	o := r.set.opts(fs)
	o.Merger = modelMerger
	return o
}

// randOperand returns a short merge operand (possibly empty).
func (r *modelRun) randOperand() []byte {
	v := make([]byte, r.rng.IntN(8))
	for i := range v {
		v[i] = byte('a' + r.rng.IntN(26))
	}
	return v
}

func (r *modelRun) open() {
	db, err := Open("db", r.options(r.fs))
	if err != nil {
		r.fatalf("open: %v", err)
	}
	r.db = db
}

func (r *modelRun) closeDB() {
	r.txnEndAll()
	for _, s := range r.snaps {
		s.s.Close()
	}
	r.snaps = nil
	if err := r.db.Close(); err != nil {
		r.fatalf("close: %v", err)
	}
}

func (r *modelRun) checkGet(get func([]byte) ([]byte, error), state map[string]string, key []byte) {
	r.t.Helper()
	v, err := get(key)
	want, ok := state[string(key)]
	switch {
	case !ok && err != ErrNotFound:
		r.fatalf("get %q: got %q, %v; want not found", key, v, err)
	case ok && err != nil:
		r.fatalf("get %q: %v; want %q", key, err, want)
	case ok && string(v) != want:
		r.fatalf("get %q: got %q; want %q", key, v, want)
	}
}

func (r *modelRun) checkIterator(state map[string]string, snap *Snapshot) {
	r.t.Helper()
	r.checkIteratorWith(state, func(o *IterOptions) *Iterator {
		o.Snapshot = snap
		return r.db.NewIterator(o)
	})
}

// checkIteratorWith moves an iterator newIter makes (given random bounds)
// at random, checking each position against state.
func (r *modelRun) checkIteratorWith(state map[string]string, newIter func(*IterOptions) *Iterator) {
	r.t.Helper()
	r.checkIteratorTracked(state, newIter, 30, nil, false)
}

// checkIteratorTracked is checkIteratorWith with the number of moves, that
// also tells sp (if not nil) where each move started and landed, and, with
// keepOpen, returns the iterator open instead of closing it.
func (r *modelRun) checkIteratorTracked(state map[string]string, newIter func(*IterOptions) *Iterator,
	moves int, sp *mSpans, keepOpen bool) *Iterator {
	r.t.Helper()
	var lower, upper []byte
	if r.rng.IntN(3) == 0 {
		lower = r.randKey()
	}
	if r.rng.IntN(3) == 0 {
		upper = r.randKey()
	}
	keys := sortedKeys(r.m.cmp, state, lower, upper)
	it := newIter(&IterOptions{LowerBound: lower, UpperBound: upper})
	defer func() {
		if keepOpen {
			return
		}
		if err := it.Close(); err != nil {
			r.fatalf("iterator close: %v", err)
		}
	}()
	pos := -1 // model position; -1 or len(keys) = invalid
	valid := func() bool { return pos >= 0 && pos < len(keys) }
	for i := 0; i < moves; i++ {
		var op string
		var seek []byte
		switch x := r.rng.IntN(10); {
		case x == 0:
			op = "First"
			it.First()
			pos = 0
		case x == 1:
			op = "Last"
			it.Last()
			pos = len(keys) - 1
		case x == 2:
			seek = r.randKey()
			op = "Seek"
			it.Seek(seek)
			pos, _ = slices.BinarySearchFunc(keys, seek, func(e string, t []byte) int { return r.m.cmp([]byte(e), t) })
		case x == 3:
			seek = r.randKey()
			op = "SeekLT"
			it.SeekLT(seek)
			p, _ := slices.BinarySearchFunc(keys, seek, func(e string, t []byte) int { return r.m.cmp([]byte(e), t) })
			pos = p - 1
		case x < 7:
			if !valid() {
				continue
			}
			op = "Next"
			it.Next()
			pos++
		default:
			if !valid() {
				continue
			}
			op = "Prev"
			it.Prev()
			pos--
		}
		if sp != nil {
			if op == "Next" || op == "Prev" {
				sp.step(op == "Next", valid(), modelKey(keys, pos))
			} else {
				sp.position(op, seek, valid(), modelKey(keys, pos))
			}
		}
		if seek != nil {
			op = fmt.Sprintf("%s(%q)", op, seek)
		}
		if valid() != it.Valid() {
			r.fatalf("iterator [%q,%q) after %s: valid=%v, model valid=%v (model key %q, err %v)",
				lower, upper, op, it.Valid(), valid(), modelKey(keys, pos), it.Err())
		}
		if !valid() {
			pos = -1
			continue
		}
		if string(it.Key()) != keys[pos] || string(it.Value()) != state[keys[pos]] {
			r.fatalf("iterator [%q,%q) after %s: at %q=%q, model %q=%q",
				lower, upper, op, it.Key(), it.Value(), keys[pos], state[keys[pos]])
		}
	}
	if err := it.Err(); err != nil {
		r.fatalf("iterator error: %v", err)
	}
	if keepOpen {
		return it
	}
	return nil
}

func modelKey(keys []string, pos int) string {
	if pos >= 0 && pos < len(keys) {
		return keys[pos]
	}
	return "<none>"
}

func (r *modelRun) run(steps int) {
	r.open()
	for r.step = 0; r.step < steps; r.step++ {
		if r.txnPhase == 0 && r.rng.IntN(100) == 0 {
			// Now and then a phase of transactions alone: no plain
			// write moves the version between their steps.
			r.txnPhase = 20 + r.rng.IntN(60)
		}
		if r.txnPhase > 0 || r.rng.IntN(100) < 30 {
			r.txnPhase = max(r.txnPhase-1, 0)
			r.txnStep()
			continue
		}
		switch x := r.rng.IntN(100); {
		case x < 5:
			k, v := r.randKey(), r.randOperand()
			r.trace("merge %q %q", k, v)
			if err := r.db.Merge(k, v, nil); err != nil {
				r.fatalf("merge: %v", err)
			}
			r.m.merge(k, v)
			r.recordWrite(mPoint(k))
		case x < 35:
			k, v := r.randKey(), r.randValue()
			r.trace("put %q", k)
			if err := r.db.Put(k, v, nil); err != nil {
				r.fatalf("put: %v", err)
			}
			r.m.live[string(k)] = string(v)
			r.recordWrite(mPoint(k))
		case x < 41:
			k := r.randKey()
			r.trace("delete %q", k)
			if err := r.db.Delete(k, nil); err != nil {
				r.fatalf("delete: %v", err)
			}
			delete(r.m.live, string(k))
			r.recordWrite(mPoint(k))
		case x < 45:
			a, b := r.randKey(), r.randKey()
			if r.rng.IntN(4) != 0 && r.m.cmp(a, b) > 0 {
				a, b = b, a // mostly non-empty ranges
			}
			r.trace("delete range %q %q", a, b)
			if err := r.db.DeleteRange(a, b, nil); err != nil {
				r.fatalf("delete range: %v", err)
			}
			r.m.deleteRange(a, b)
			r.recordWrite(mRange{mBefore(a), mBefore(b)})
		case x < 55:
			// Now and then an indexed batch, over the latest state or over
			// a snapshot, read (Get and an iterator) before it is written.
			b := r.db.NewBatch()
			var baseState map[string]string // an indexed batch's reads see it beneath
			if r.rng.IntN(3) == 0 {
				b, baseState = r.db.NewIndexedBatch(), r.m.live
				if len(r.snaps) > 0 && r.rng.IntN(2) == 0 {
					s := r.snaps[r.rng.IntN(len(r.snaps))]
					b, baseState = s.s.NewIndexedBatch(), s.state
				}
			}
			// The batch's effect: its operations applied in order.
			var ops []string
			var ranges []mRange // what it writes, for the transactions' conflicts
			apply := []func(map[string]string){}
			for n := r.rng.IntN(20); n >= 0; n-- {
				k := r.randKey()
				switch y := r.rng.IntN(20); {
				case y < 2:
					k2 := r.randKey()
					if r.m.cmp(k, k2) > 0 {
						k, k2 = k2, k
					}
					b.DeleteRange(k, k2)
					ranges = append(ranges, mRange{mBefore(k), mBefore(k2)})
					ops = append(ops, fmt.Sprintf("delrange %q %q", k, k2))
					apply = append(apply, func(st map[string]string) { deleteRangeIn(r.m.cmp, st, k, k2) })
				case y < 4:
					v := r.randOperand()
					b.Merge(k, v)
					ranges = append(ranges, mPoint(k))
					ops = append(ops, fmt.Sprintf("merge %q", k))
					apply = append(apply, func(st map[string]string) { mergeInto(st, k, v) })
				case y < 8:
					b.Delete(k)
					ranges = append(ranges, mPoint(k))
					ops = append(ops, fmt.Sprintf("delete %q", k))
					apply = append(apply, func(st map[string]string) { delete(st, string(k)) })
				default:
					v := r.randValue()
					b.Put(k, v)
					ranges = append(ranges, mPoint(k))
					ops = append(ops, fmt.Sprintf("put %q", k))
					apply = append(apply, func(st map[string]string) { st[string(k)] = string(v) })
				}
			}
			r.trace("batch %v (indexed %v)", ops, b.Indexed())
			if b.Indexed() {
				want := maps.Clone(baseState)
				for _, f := range apply {
					f(want)
				}
				for range 3 {
					r.checkGet(b.Get, want, r.randKey())
				}
				r.checkIteratorWith(want, func(o *IterOptions) *Iterator { return b.NewIterator(o) })
			}
			if err := r.db.Write(b, &WriteOptions{Sync: r.rng.IntN(4) == 0}); err != nil {
				r.fatalf("write batch: %v", err)
			}
			for _, f := range apply {
				f(r.m.live)
			}
			r.recordWrite(ranges...)
		case x < 70:
			r.checkGet(r.db.Get, r.m.live, r.randKey())
		case x < 74:
			if len(r.snaps) < 5 {
				r.snaps = append(r.snaps, &modelSnap{s: r.db.NewSnapshot(), state: r.m.clone()})
			}
		case x < 77:
			if len(r.snaps) > 0 {
				i := r.rng.IntN(len(r.snaps))
				r.snaps[i].s.Close()
				r.snaps = slices.Delete(r.snaps, i, i+1)
			}
		case x < 82:
			if len(r.snaps) > 0 {
				s := r.snaps[r.rng.IntN(len(r.snaps))]
				r.checkGet(s.s.Get, s.state, r.randKey())
			}
		case x < 90:
			if len(r.snaps) > 0 && r.rng.IntN(2) == 0 {
				s := r.snaps[r.rng.IntN(len(r.snaps))]
				r.checkIterator(s.state, s.s)
			} else {
				r.checkIterator(r.m.live, nil)
			}
		case x < 93:
			r.trace("flush")
			if err := r.db.Flush(); err != nil {
				r.fatalf("flush: %v", err)
			}
		case x < 96:
			var a, b []byte
			if r.rng.IntN(2) == 0 {
				a, b = r.randKey(), r.randKey()
				if r.m.cmp(a, b) > 0 {
					a, b = b, a
				}
			}
			if r.rng.IntN(2) == 0 {
				r.trace("compact %q %q", a, b)
				if err := r.db.CompactRange(a, b); err != nil {
					r.fatalf("compact range: %v", err)
				}
			} else {
				o := CompactOptions{TargetLevel: r.rng.IntN(7), Parallelism: 1 + r.rng.IntN(3)}
				r.trace("compact-with %q %q %+v", a, b, o)
				if err := r.db.CompactRangeWith(a, b, o); err != nil {
					r.fatalf("compact range with %+v: %v", o, err)
				}
			}
		default:
			r.trace("checkpoint, reopen")
			r.checkCheckpoint()
			r.closeDB()
			r.open()
		}
	}
	// Final full check, after a reopen.
	r.closeDB()
	r.open()
	for k := range r.m.live {
		r.checkGet(r.db.Get, r.m.live, []byte(k))
	}
	keys := sortedKeys(r.m.cmp, r.m.live, nil, nil)
	it := r.db.NewIterator(nil)
	i := 0
	for ok := it.First(); ok; ok = it.Next() {
		if i >= len(keys) || string(it.Key()) != keys[i] {
			r.fatalf("final scan: entry %d is %q, want %q", i, it.Key(), modelKey(keys, i))
		}
		i++
	}
	if i != len(keys) || it.Err() != nil {
		r.fatalf("final scan: %d entries, want %d (err %v)", i, len(keys), it.Err())
	}
	i = len(keys) - 1
	for ok := it.Last(); ok; ok = it.Prev() {
		if i < 0 || string(it.Key()) != keys[i] {
			r.fatalf("final reverse scan: got %q, want %q", it.Key(), modelKey(keys, i))
		}
		i--
	}
	if i != -1 {
		r.fatalf("final reverse scan stopped with %d entries left", i+1)
	}
	it.Close()
	r.closeDB()
	r.t.Logf("transactions: %+v", r.txnStats)
}

// checkCheckpoint takes a checkpoint (with the snapshots open and the
// background work of the moment) and checks that it opens, with the same
// options, to the model's state: every key by Get, and a full scan.
func (r *modelRun) checkCheckpoint() {
	if err := r.db.Checkpoint("ckpt"); err != nil {
		r.fatalf("checkpoint: %v", err)
	}
	db, err := Open("ckpt", r.options(r.fs))
	if err != nil {
		r.fatalf("open the checkpoint: %v", err)
	}
	for k := range r.m.live {
		r.checkGet(db.Get, r.m.live, []byte(k))
	}
	keys := sortedKeys(r.m.cmp, r.m.live, nil, nil)
	got := make([]string, 0, len(keys))
	it := db.NewIterator(nil)
	for k := range it.All() {
		got = append(got, string(k))
	}
	if err := it.Close(); err != nil || !slices.Equal(got, keys) {
		r.fatalf("the checkpoint scans to %d keys, want %d (err %v)", len(got), len(keys), err)
	}
	if err := db.Close(); err != nil {
		r.fatalf("close the checkpoint: %v", err)
	}
	if err := Destroy("ckpt", r.options(r.fs)); err != nil {
		r.fatalf("destroy the checkpoint: %v", err)
	}
}

func TestModel(t *testing.T) {
	seeds, steps := 6, 1500
	if testing.Short() {
		seeds, steps = 2, 600
	}
	if n, err := strconv.Atoi(os.Getenv("STRATA_MODEL_SEEDS")); err == nil {
		seeds = n // a longer hunt: STRATA_MODEL_SEEDS=100 go test -run TestModel
	}
	for _, set := range modelOptionSets() {
		for s := 0; s < seeds; s++ {
			seed := uint64(s + 1)
			t.Run(fmt.Sprintf("%s/seed=%d", set.name, seed), func(t *testing.T) {
				t.Parallel()
				cmp := bytes.Compare
				if c := set.opts(nil).Comparator; c != nil {
					cmp = c.Compare
				}
				r := &modelRun{t: t, rng: rand.New(rand.NewPCG(seed, 0x5eed)), fs: vfs.NewMem(), set: set,
					seed: seed, m: model{cmp: cmp, live: map[string]string{}}}
				for i := 0; i < 50; i++ {
					r.keys = append(r.keys, fmt.Sprintf("key%03d", r.rng.IntN(400)))
				}
				r.keys = append(r.keys, "")
				r.run(steps)
			})
		}
	}
}
