package strata

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/vfs"
)

// TestCrashRecovery simulates power loss at random moments of a workload —
// while flushes and compactions run in the background — by cloning the
// in-memory file system as a crash would leave it (only synced data and
// synced directory entries survive; with torn tails of unsynced data kept at
// random), with range deletions and merges among the writes. The database
// must open on every clone, hold every write that
// was acknowledged as synced, and show a state that is exactly the state
// after some prefix of the batches: batches are all-or-nothing and never
// reordered. The same holds after a second crash during recovery.
func TestCrashRecovery(t *testing.T) {
	seeds, ops := 8, 1500
	if testing.Short() {
		seeds, ops = 3, 600
	}
	for s := 1; s <= seeds; s++ {
		seed := uint64(s)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			crashWorkload(t, seed, ops)
		})
	}
}

func crashOptions(fs FS) *Options {
	return &Options{FS: fs, WriteBufferSize: 8 << 10, InitialMemTableSize: 512, BlockSize: 256, TargetFileSize: 8 << 10,
		L0CompactionTrigger: 2, LevelSizeMultiplier: 2, Merger: modelMerger}
}

type crashOp struct {
	key   string
	value *string // nil = delete
	// end: a range deletion of [key, end); merge: value is a merge operand
	end   string
	merge bool
}

func crashWorkload(t *testing.T, seed uint64, ops int) {
	rng := rand.New(rand.NewPCG(seed, 0xc4a5))
	fs := vfs.NewMem()
	db, err := Open("db", crashOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var history [][]crashOp
	lastSynced := 0
	crashes := 0
	for i := 0; i < ops; i++ {
		b := db.NewBatch()
		var batchOps []crashOp
		for n := 1 + rng.IntN(5); n > 0; n-- {
			k := fmt.Sprintf("k%03d", rng.IntN(150))
			switch x := rng.IntN(20); {
			case x < 1:
				end := fmt.Sprintf("k%03d", rng.IntN(150))
				b.DeleteRange([]byte(k), []byte(end))
				batchOps = append(batchOps, crashOp{key: k, end: end})
			case x < 3:
				v := fmt.Sprintf("m%d", i)
				b.Merge([]byte(k), []byte(v))
				batchOps = append(batchOps, crashOp{key: k, value: &v, merge: true})
			case x < 7:
				b.Delete([]byte(k))
				batchOps = append(batchOps, crashOp{key: k})
			default:
				v := fmt.Sprintf("v%d-%d-%s", i, n, make([]byte, rng.IntN(200)))
				b.Put([]byte(k), []byte(v))
				batchOps = append(batchOps, crashOp{key: k, value: &v})
			}
		}
		sync := rng.IntN(6) == 0
		if err := db.Write(b, &WriteOptions{Sync: sync}); err != nil {
			t.Fatalf("seed %d: write %d: %v", seed, i, err)
		}
		history = append(history, batchOps)
		if sync {
			lastSynced = len(history)
		}
		if rng.IntN(60) == 0 {
			var crashed *vfs.MemFS
			if rng.IntN(2) == 0 {
				crashed = fs.CrashClone()
			} else {
				crashed = fs.CrashCloneWith(rng)
			}
			crashes++
			checkCrashState(t, fmt.Sprintf("seed %d, crash after batch %d", seed, i), crashed, history, lastSynced, rng)
		}
	}
	if crashes == 0 {
		checkCrashState(t, fmt.Sprintf("seed %d, final crash", seed), fs.CrashClone(), history, lastSynced, rng)
	}
}

// checkCrashState opens the crashed file system and checks its contents
// are the state after k batches for some k >= lastSynced. Then it crashes
// again right after recovery and checks the same state survives.
func checkCrashState(t *testing.T, what string, fs *vfs.MemFS, history [][]crashOp, lastSynced int, rng *rand.Rand) {
	t.Helper()
	db, err := Open("db", crashOptions(fs))
	if err != nil {
		t.Fatalf("%s: open after crash: %v", what, err)
	}
	got := dumpDB(t, db)
	k := matchPrefix(got, history, lastSynced)
	if k < 0 {
		t.Fatalf("%s: recovered state (%d keys) is not the state after any prefix of batches >= %d synced ones",
			what, len(got), lastSynced)
	}
	// A crash during or right after recovery must lose nothing recovery saw.
	fs2 := fs.CrashCloneWith(rng)
	db.Close()
	db2, err := Open("db", crashOptions(fs2))
	if err != nil {
		t.Fatalf("%s: open after a crash during recovery: %v", what, err)
	}
	got2 := dumpDB(t, db2)
	db2.Close()
	if !maps.Equal(got, got2) {
		t.Fatalf("%s: state changed after a crash right after recovery (%d keys, then %d)", what, len(got), len(got2))
	}
}

func dumpDB(t *testing.T, db *DB) map[string]string {
	t.Helper()
	m := map[string]string{}
	it := db.NewIterator(nil)
	for ok := it.First(); ok; ok = it.Next() {
		m[string(it.Key())] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return m
}

// applyCrashOp applies one operation to the model m.
func applyCrashOp(m map[string]string, op crashOp) {
	switch {
	case op.end != "":
		deleteRangeIn(bytes.Compare, m, []byte(op.key), []byte(op.end))
	case op.merge:
		mergeInto(m, []byte(op.key), []byte(*op.value))
	case op.value == nil:
		delete(m, op.key)
	default:
		m[op.key] = *op.value
	}
}

// matchPrefix returns the smallest k >= min such that applying history[:k]
// to an empty map gives state, or -1.
func matchPrefix(state map[string]string, history [][]crashOp, min int) int {
	m := map[string]string{}
	apply := func(ops []crashOp) {
		for _, op := range ops {
			applyCrashOp(m, op)
		}
	}
	for _, ops := range history[:min] {
		apply(ops)
	}
	for k := min; ; k++ {
		if maps.Equal(m, state) {
			return k
		}
		if k == len(history) {
			return -1
		}
		apply(history[k])
	}
}
