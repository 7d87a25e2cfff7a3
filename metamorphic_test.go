package strata

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/vfs"
)

// The metamorphic test (Pebble's metamorphic package in spirit): one random
// sequence of operations — writes, batches (some indexed, read before they
// are written), deletes, range deletions, merges, reads, snapshots and
// reads through them, iterators moved in both directions with bounds and
// kept open across writes, flushes, compactions and reopens — runs under
// several option configurations (block sizes, buffer sizes, compression,
// bloom filters on and off, cache, automatic compactions, a comparator with
// a different implementation of the same order). Each run records the
// result of every operation; the histories must be identical. Options
// change where data lives and when background work happens, never what a
// read returns, so any difference is a bug, and the first differing
// operation pinpoints it.

// mmCmp orders keys bytewise, like DefaultComparer, but its own way (a
// hand-written loop) and without shortening index keys: the table
// writer's separators and successors take their other path.
var mmCmp = &Comparer{
	Name: "strata.test.BytewiseNoShortening",
	Compare: func(a, b []byte) int {
		for i := 0; i < len(a) && i < len(b); i++ {
			if a[i] != b[i] {
				if a[i] < b[i] {
					return -1
				}
				return 1
			}
		}
		switch {
		case len(a) < len(b):
			return -1
		case len(a) > len(b):
			return 1
		}
		return 0
	},
	Separator: func(dst, a, b []byte) []byte { return append(dst, a...) },
	Successor: func(dst, a []byte) []byte { return append(dst, a...) },
}

func metamorphicConfigs() []optionSet {
	return []optionSet{
		{"defaults", func(fs FS) *Options { return &Options{FS: fs} }},
		{"tiny", func(fs FS) *Options {
			return &Options{FS: fs, WriteBufferSize: 2 << 10, BlockSize: 64, BlockRestartInterval: 2,
				TargetFileSize: 4 << 10, L0CompactionTrigger: 2, L0SlowdownTrigger: 3, L0StopTrigger: 6,
				BloomBitsPerKey: -1, Compression: NoCompression, MaxOpenFiles: 20, BlockCacheSize: -1,
				LevelSizeMultiplier: 2, BaseLevelSize: 8 << 10}
		}},
		{"tiny-fixed-levels", func(fs FS) *Options {
			return &Options{FS: fs, WriteBufferSize: 2 << 10, BlockSize: 64, BlockRestartInterval: 2,
				TargetFileSize: 4 << 10, L0CompactionTrigger: 2, L0SlowdownTrigger: 3, L0StopTrigger: 6,
				BloomBitsPerKey: -1, Compression: NoCompression, MaxOpenFiles: 20, BlockCacheSize: -1,
				LevelSizeMultiplier: 2, BaseLevelSize: 8 << 10, LevelSizing: FixedLevelSizes}
		}},
		{"zstd-bloom3", func(fs FS) *Options {
			return &Options{FS: fs, WriteBufferSize: 8 << 10, InitialMemTableSize: 512, BlockSize: 256, Compression: ZstdCompression,
				BloomBitsPerKey: 3, TargetFileSize: 16 << 10, BlockCacheSize: 16 << 10}
		}},
		{"no-shortening-comparator", func(fs FS) *Options {
			return &Options{FS: fs, Comparator: mmCmp, WriteBufferSize: 4 << 10, BlockSize: 128,
				BlockRestartInterval: 4, TargetFileSize: 8 << 10, L0CompactionTrigger: 3}
		}},
		{"no-auto-compaction", func(fs FS) *Options {
			return &Options{FS: fs, WriteBufferSize: 4 << 10, DisableAutoCompactions: true,
				BlockSize: 512, BloomBitsPerKey: 20, BlockCacheSize: -1, MaxWriteBufferNumber: 4,
				InitialMemTableSize: 256}
		}},
		{"big-blocks", func(fs FS) *Options {
			return &Options{FS: fs, WriteBufferSize: 64 << 10, InitialMemTableSize: 4 << 10, BlockSize: 64 << 10, BlockRestartInterval: 64,
				TargetFileSize: 256 << 10, Compression: SnappyCompression}
		}},
	}
}

// mmOpKind is the kind of a metamorphic operation.
type mmOpKind int

const (
	mmPut mmOpKind = iota
	mmDelete
	mmBatch
	mmGet
	mmNewSnapshot
	mmSnapGet
	mmCloseSnapshot
	mmNewIter
	mmIterOp
	mmCloseIter
	mmFlush
	mmCompact
	mmReopen
	mmDeleteRange
	mmMerge
	mmIndexedBatch
	mmCompactTo
	// Transactions (metamorphic_txn_test.go); slot names the transaction.
	mmTxnBegin
	mmTxnWrite
	mmTxnGet
	mmTxnScan
	mmTxnConflictRange
	mmTxnSavePoint
	mmTxnRollbackTo
	mmTxnCommit
	mmTxnRollback
)

// mmOp is one operation. Iterators and snapshots are named by slot.
type mmOp struct {
	kind    mmOpKind
	key     []byte
	value   []byte
	batch   []mmOp // mmBatch, mmIndexedBatch: puts, deletes, merges, range deletions
	slot    int    // snapshot or iterator slot
	snap    int    // mmNewIter: the snapshot slot to read, or -1
	lower   []byte // mmNewIter bounds; mmCompact range
	upper   []byte
	iterOp  string // mmIterOp: First, Last, Seek, SeekLT, Next, Prev
	syncOpt bool
	txnKind int // mmTxnBegin: the transaction's options (mmTxnOptions)
}

func (op mmOp) String() string {
	switch op.kind {
	case mmPut:
		return fmt.Sprintf("put %q (%d bytes)", op.key, len(op.value))
	case mmDelete:
		return fmt.Sprintf("delete %q", op.key)
	case mmBatch:
		return fmt.Sprintf("batch of %d", len(op.batch))
	case mmGet:
		return fmt.Sprintf("get %q", op.key)
	case mmNewSnapshot:
		return fmt.Sprintf("snapshot %d = new", op.slot)
	case mmSnapGet:
		return fmt.Sprintf("snapshot %d get %q", op.slot, op.key)
	case mmCloseSnapshot:
		return fmt.Sprintf("snapshot %d close", op.slot)
	case mmNewIter:
		return fmt.Sprintf("iter %d = new [%q, %q) snapshot %d", op.slot, op.lower, op.upper, op.snap)
	case mmIterOp:
		return fmt.Sprintf("iter %d %s %q", op.slot, op.iterOp, op.key)
	case mmCloseIter:
		return fmt.Sprintf("iter %d close", op.slot)
	case mmFlush:
		return "flush"
	case mmCompact:
		return fmt.Sprintf("compact [%q, %q]", op.lower, op.upper)
	case mmReopen:
		return "reopen"
	case mmDeleteRange:
		return fmt.Sprintf("delete range [%q, %q)", op.key, op.upper)
	case mmMerge:
		return fmt.Sprintf("merge %q %q", op.key, op.value)
	case mmIndexedBatch:
		return fmt.Sprintf("indexed batch of %d over snapshot %d, read and written", len(op.batch), op.snap)
	case mmCompactTo:
		return fmt.Sprintf("compact [%q, %q] to level %d", op.lower, op.upper, op.slot)
	}
	if op.kind >= mmTxnBegin {
		return mmTxnString(op)
	}
	return "?"
}

const mmSlots = 4

// mmGenerate returns n random operations. Slots track what is open so
// every operation is valid; a reopen closes everything first.
func mmGenerate(rng *rand.Rand, n int) []mmOp {
	keys := []string{""}
	for i := 0; i < 60; i++ {
		keys = append(keys, fmt.Sprintf("key%03d", rng.IntN(200)))
	}
	for i := 0; i < 10; i++ {
		b := make([]byte, 1+rng.IntN(12))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		keys = append(keys, string(b))
	}
	keys = append(keys, "key", "key0", "key00", "\xff\xff", "\xff\xff\xff")
	randKey := func() []byte { return []byte(keys[rng.IntN(len(keys))]) }
	randValue := func() []byte {
		n := rng.IntN(120)
		if rng.IntN(30) == 0 {
			n = rng.IntN(6000)
		}
		v := make([]byte, n)
		for i := range v {
			v[i] = byte('a' + rng.IntN(5))
		}
		return v
	}
	randOperand := func() []byte {
		v := randValue()
		return v[:min(len(v), rng.IntN(6))]
	}
	randRange := func() mmOp { // mostly short ranges, some wide, some empty
		a, b := randKey(), randKey()
		if rng.IntN(5) != 0 && bytes.Compare(a, b) > 0 {
			a, b = b, a
		}
		return mmOp{kind: mmDeleteRange, key: a, upper: b}
	}
	randWrite := func() mmOp { // a batch's or a transaction's write
		switch y := rng.IntN(12); {
		case y < 3:
			return mmOp{kind: mmDelete, key: randKey()}
		case y < 4:
			return randRange()
		case y < 6:
			return mmOp{kind: mmMerge, key: randKey(), value: randOperand()}
		default:
			return mmOp{kind: mmPut, key: randKey(), value: randValue()}
		}
	}
	snapOpen := make([]bool, mmSlots)
	iterOpen := make([]bool, mmSlots)
	txnOpen := make([]bool, mmTxnSlots)
	pick := func(open []bool, want bool) int {
		var c []int
		for i, o := range open {
			if o == want {
				c = append(c, i)
			}
		}
		if len(c) == 0 {
			return -1
		}
		return c[rng.IntN(len(c))]
	}
	var ops []mmOp
	for len(ops) < n {
		if rng.IntN(100) < 12 {
			ops = append(ops, mmGenTxn(rng, txnOpen, randKey, randWrite))
			continue
		}
		switch x := rng.IntN(100); {
		case x < 25:
			ops = append(ops, mmOp{kind: mmPut, key: randKey(), value: randValue(), syncOpt: rng.IntN(10) == 0})
		case x < 32:
			ops = append(ops, mmOp{kind: mmDelete, key: randKey()})
		case x < 38:
			kind := mmBatch
			snap := -1
			if rng.IntN(3) == 0 {
				kind = mmIndexedBatch
				if s := pick(snapOpen, true); s >= 0 && rng.IntN(2) == 0 {
					snap = s
				}
			}
			var b []mmOp
			for i := rng.IntN(12); i >= 0; i-- {
				b = append(b, randWrite())
			}
			ops = append(ops, mmOp{kind: kind, batch: b, snap: snap, key: randKey()})
		case x < 50:
			ops = append(ops, mmOp{kind: mmGet, key: randKey()})
		case x < 53:
			if s := pick(snapOpen, false); s >= 0 {
				snapOpen[s] = true
				ops = append(ops, mmOp{kind: mmNewSnapshot, slot: s})
			}
		case x < 57:
			if s := pick(snapOpen, true); s >= 0 {
				ops = append(ops, mmOp{kind: mmSnapGet, slot: s, key: randKey()})
			}
		case x < 59:
			if s := pick(snapOpen, true); s >= 0 {
				snapOpen[s] = false
				ops = append(ops, mmOp{kind: mmCloseSnapshot, slot: s})
			}
		case x < 63:
			if i := pick(iterOpen, false); i >= 0 {
				iterOpen[i] = true
				op := mmOp{kind: mmNewIter, slot: i, snap: -1}
				if rng.IntN(3) == 0 {
					op.lower = randKey()
				}
				if rng.IntN(3) == 0 {
					op.upper = randKey()
				}
				if s := pick(snapOpen, true); s >= 0 && rng.IntN(2) == 0 {
					op.snap = s
				}
				ops = append(ops, op)
			}
		case x < 85:
			if i := pick(iterOpen, true); i >= 0 {
				names := []string{"First", "Last", "Seek", "SeekLT", "Next", "Next", "Next", "Prev", "Prev"}
				op := mmOp{kind: mmIterOp, slot: i, iterOp: names[rng.IntN(len(names))]}
				if op.iterOp == "Seek" || op.iterOp == "SeekLT" {
					op.key = randKey()
				}
				ops = append(ops, op)
			}
		case x < 88:
			if i := pick(iterOpen, true); i >= 0 {
				iterOpen[i] = false
				ops = append(ops, mmOp{kind: mmCloseIter, slot: i})
			}
		case x < 90:
			ops = append(ops, mmOp{kind: mmFlush})
		case x < 91:
			ops = append(ops, randRange())
		case x < 93:
			ops = append(ops, mmOp{kind: mmMerge, key: randKey(), value: randOperand()})
		case x < 97:
			op := mmOp{kind: mmCompact}
			if rng.IntN(3) == 0 {
				op = mmOp{kind: mmCompactTo, slot: 1 + rng.IntN(6)}
			}
			if rng.IntN(2) == 0 {
				op.lower, op.upper = randKey(), randKey()
				if bytes.Compare(op.lower, op.upper) > 0 {
					op.lower, op.upper = op.upper, op.lower
				}
			}
			ops = append(ops, op)
		default:
			for i := range snapOpen {
				snapOpen[i], iterOpen[i] = false, false
			}
			clear(txnOpen)
			ops = append(ops, mmOp{kind: mmReopen})
		}
	}
	return ops
}

// mmRunner runs operations against one configuration.
type mmRunner struct {
	t     *testing.T
	set   optionSet
	fs    *vfs.MemFS
	db    *DB
	snaps [mmSlots]*Snapshot
	iters [mmSlots]*Iterator
	txns  [mmTxnSlots]*Txn
}

// opts are the configuration's options with the merge operator.
func (r *mmRunner) opts() *Options {
	o := r.set.opts(r.fs)
	o.Merger = modelMerger
	return o
}

func (r *mmRunner) open() {
	db, err := Open("db", r.opts())
	if err != nil {
		r.t.Fatalf("[%s] open: %v", r.set.name, err)
	}
	r.db = db
}

func (r *mmRunner) closeAll() {
	for i, tx := range r.txns {
		if tx != nil {
			tx.Rollback()
			r.txns[i] = nil
		}
	}
	for i := range r.iters {
		if r.iters[i] != nil {
			r.iters[i].Close()
			r.iters[i] = nil
		}
		if r.snaps[i] != nil {
			r.snaps[i].Close()
			r.snaps[i] = nil
		}
	}
	if err := r.db.Close(); err != nil {
		r.t.Fatalf("[%s] close: %v", r.set.name, err)
	}
}

func getResult(v []byte, err error) string {
	switch {
	case err == ErrNotFound:
		return "not found"
	case err != nil:
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%q", v)
}

func iterResult(it *Iterator, valid bool) string {
	if !valid {
		if err := it.Err(); err != nil {
			return "error: " + err.Error()
		}
		return "invalid"
	}
	return fmt.Sprintf("%q=%q", it.Key(), it.Value())
}

// run applies op and returns its result.
func (r *mmRunner) run(op mmOp) string {
	if op.kind >= mmTxnBegin {
		return r.runTxn(op)
	}
	d := r.db
	errResult := func(err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	}
	switch op.kind {
	case mmPut:
		return errResult(d.Put(op.key, op.value, &WriteOptions{Sync: op.syncOpt}))
	case mmDelete:
		return errResult(d.Delete(op.key, nil))
	case mmBatch, mmIndexedBatch:
		b := d.NewBatch()
		if op.kind == mmIndexedBatch {
			b = d.NewIndexedBatch()
			if op.snap >= 0 {
				b = r.snaps[op.snap].NewIndexedBatch()
			}
		}
		for _, o := range op.batch {
			switch o.kind {
			case mmDelete:
				b.Delete(o.key)
			case mmDeleteRange:
				b.DeleteRange(o.key, o.upper)
			case mmMerge:
				b.Merge(o.key, o.value)
			default:
				b.Put(o.key, o.value)
			}
		}
		res := ""
		if b.Indexed() {
			// Read through it first: a Get, and a short scan from a key.
			res = getResult(b.Get(op.key)) + "; scan:"
			it := b.NewIterator(nil)
			for ok, n := it.Seek(op.key), 0; ok && n < 5; ok, n = it.Next(), n+1 {
				res += fmt.Sprintf(" %q=%q", it.Key(), it.Value())
			}
			if err := it.Close(); err != nil {
				res += " error: " + err.Error()
			}
			res += "; "
		}
		return res + errResult(d.Write(b, nil))
	case mmDeleteRange:
		return errResult(d.DeleteRange(op.key, op.upper, nil))
	case mmMerge:
		return errResult(d.Merge(op.key, op.value, nil))
	case mmCompactTo:
		return errResult(d.CompactRangeWith(op.lower, op.upper, CompactOptions{TargetLevel: op.slot, Parallelism: 2}))
	case mmGet:
		return getResult(d.Get(op.key))
	case mmNewSnapshot:
		r.snaps[op.slot] = d.NewSnapshot()
		return "ok"
	case mmSnapGet:
		return getResult(r.snaps[op.slot].Get(op.key))
	case mmCloseSnapshot:
		err := r.snaps[op.slot].Close()
		r.snaps[op.slot] = nil
		return errResult(err)
	case mmNewIter:
		o := &IterOptions{LowerBound: op.lower, UpperBound: op.upper}
		if op.snap >= 0 {
			o.Snapshot = r.snaps[op.snap]
		}
		r.iters[op.slot] = d.NewIterator(o)
		return errResult(r.iters[op.slot].Err())
	case mmIterOp:
		it := r.iters[op.slot]
		var ok bool
		switch op.iterOp {
		case "First":
			ok = it.First()
		case "Last":
			ok = it.Last()
		case "Seek":
			ok = it.Seek(op.key)
		case "SeekLT":
			ok = it.SeekLT(op.key)
		case "Next":
			ok = it.Next()
		case "Prev":
			ok = it.Prev()
		}
		if ok != it.Valid() {
			return fmt.Sprintf("%s returned %v but Valid is %v", op.iterOp, ok, it.Valid())
		}
		return iterResult(it, ok)
	case mmCloseIter:
		err := r.iters[op.slot].Close()
		r.iters[op.slot] = nil
		return errResult(err)
	case mmFlush:
		return errResult(d.Flush())
	case mmCompact:
		return errResult(d.CompactRange(op.lower, op.upper))
	case mmReopen:
		// A checkpoint first: it must scan as the database does, in every
		// configuration.
		ckpt := r.checkpointScan()
		r.closeAll()
		r.open()
		return "ok; checkpoint: " + ckpt
	}
	return "unknown op"
}

// checkpointScan takes a checkpoint (with the iterators and snapshots
// open), opens it with the same options and returns its full scan.
func (r *mmRunner) checkpointScan() string {
	if err := r.db.Checkpoint("ckpt"); err != nil {
		return "error: " + err.Error()
	}
	db, err := Open("ckpt", r.opts())
	if err != nil {
		return "error: " + err.Error()
	}
	scan := strings.Join(mmScan(db), "\n")
	if err := db.Close(); err != nil {
		return "error: " + err.Error()
	}
	if err := Destroy("ckpt", r.opts()); err != nil {
		return "error: " + err.Error()
	}
	return scan
}

// TestMetamorphic runs random operation sequences under every
// configuration and compares the histories. STRATA_SEED fixes the seed.
func TestMetamorphic(t *testing.T) {
	seeds, n := 4, 3000
	if testing.Short() {
		seeds, n = 2, 1500
		if raceEnabled {
			seeds, n = 1, 1000
		}
	}
	base := uint64(rand.Int64())
	if s, err := strconv.ParseUint(os.Getenv("STRATA_SEED"), 10, 64); err == nil {
		base, seeds = s, 1
	}
	for i := 0; i < seeds; i++ {
		seed := base + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			ops := mmGenerate(rand.New(rand.NewPCG(seed, 0x6d6d)), n)
			configs := metamorphicConfigs()
			histories := make([][]string, len(configs))
			for c, set := range configs {
				r := &mmRunner{t: t, set: set, fs: vfs.NewMem()}
				r.open()
				h := make([]string, len(ops))
				for i, op := range ops {
					h[i] = r.run(op)
				}
				r.closeAll()
				// A last full scan after a final reopen.
				r.open()
				h = append(h, strings.Join(mmScan(r.db), "\n"))
				r.closeAll()
				histories[c] = h
			}
			found, valid := 0, 0
			for i, res := range histories[0] {
				switch {
				case strings.HasPrefix(res, "error: ") || strings.Contains(res, " returned "):
					t.Fatalf("seed %d: op %d (%s): %s", seed, i, ops[i], res)
				case i < len(ops) && (ops[i].kind == mmGet || ops[i].kind == mmSnapGet) && res != "not found":
					found++
				case i < len(ops) && ops[i].kind == mmIterOp && res != "invalid":
					valid++
				}
			}
			if found == 0 || valid == 0 {
				t.Fatalf("seed %d: the sequence found %d values and had %d valid iterator positions", seed, found, valid)
			}
			commits, conflicts, timeouts := 0, 0, 0
			for i, op := range ops {
				res := histories[0][i]
				switch {
				case op.kind == mmTxnCommit && strings.HasPrefix(res, "ok"):
					commits++
				case op.kind == mmTxnCommit && strings.HasPrefix(res, "conflict"):
					conflicts++
				case strings.Contains(res, "lock timeout"):
					timeouts++
				}
			}
			t.Logf("transactions: %d commits, %d conflicts, %d lock timeouts", commits, conflicts, timeouts)
			for c := 1; c < len(configs); c++ {
				for i := range histories[0] {
					if histories[c][i] != histories[0][i] {
						what := "the final scan"
						if i < len(ops) {
							what = fmt.Sprintf("op %d (%s)", i, ops[i])
						}
						t.Fatalf("seed %d: %s: %s gives %.300s, %s gives %.300s (STRATA_SEED=%d reproduces)",
							seed, what, configs[0].name, histories[0][i], configs[c].name, histories[c][i], seed)
					}
				}
			}
		})
	}
}

func mmScan(db *DB) []string {
	var out []string
	it := db.NewIterator(nil)
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, fmt.Sprintf("%q=%q", it.Key(), it.Value()))
	}
	if err := it.Close(); err != nil {
		out = append(out, "error: "+err.Error())
	}
	return out
}
