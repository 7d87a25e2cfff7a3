//go:build !bench_single || bench_badger

package engines

import (
	"errors"
	"fmt"
	"os"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/strata-db/strata/tools/dbbench"
)

// Badger is dgraph-io/badger v4 with values stored in the LSM tree (its
// default value threshold, 1 MiB, is above every benchmark value size).
func init() { All[Badger.Name] = Badger }

var Badger = dbbench.Engine{Name: "badger", Open: openBadger, Destroy: removeDir}

// BadgerOptions maps benchmark options onto Badger's. Badger fixes sync at
// open (SyncWrites), keeps its WAL always (DisableWAL has no effect), sizes
// bloom filters by false-positive rate (0.01, about what 10 bits per key
// give), and keeps indexes in memory outside the block cache.
func BadgerOptions(dir string, o dbbench.Options) (badger.Options, error) {
	if o.MergeOperator != "" {
		// Badger's MergeOperator folds a key's values in the background
		// through transactions; there is no merge operand to write.
		return badger.Options{}, fmt.Errorf("badger: no merge operator")
	}
	bo := badger.DefaultOptions(dir).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(o.Sync).
		WithMemTableSize(int64(o.WriteBufferSize)).
		WithBlockCacheSize(max(o.CacheSize, 0)).
		WithBlockSize(o.BlockSize)
	// Badger refuses a value threshold above its largest batch (15% of
	// the memtable): keep values in the tree, but within that limit.
	if vt := int64(o.WriteBufferSize) * 15 / 100 / 2; vt < bo.ValueThreshold {
		bo = bo.WithValueThreshold(vt)
	}
	if o.BloomBits > 0 {
		bo = bo.WithBloomFalsePositive(0.01)
	} else {
		bo = bo.WithBloomFalsePositive(0)
	}
	switch o.Compression {
	case "", "snappy":
		bo = bo.WithCompression(options.Snappy)
	case "none":
		bo = bo.WithCompression(options.None)
	case "zstd":
		bo = bo.WithCompression(options.ZSTD)
	default:
		return bo, fmt.Errorf("badger: unknown compression %q", o.Compression)
	}
	return bo, nil
}

func openBadger(dir string, o dbbench.Options) (dbbench.DB, error) {
	bo, err := BadgerOptions(dir, o)
	if err != nil {
		return nil, err
	}
	if o.MustExist {
		if _, err := os.Stat(dir + "/MANIFEST"); err != nil {
			return nil, fmt.Errorf("badger: no database in %s: %w", dir, err)
		}
	}
	d, err := badger.Open(bo)
	if err != nil {
		return nil, err
	}
	return &badgerDB{d: d, dir: dir}, nil
}

type badgerDB struct {
	d   *badger.DB
	dir string
}

// Badger's sync is an open-time setting: per-write Sync has no extra effect.
func (b *badgerDB) Put(k, v []byte, _ dbbench.WriteOptions) error {
	return b.d.Update(func(txn *badger.Txn) error { return txn.Set(k, v) })
}

func (b *badgerDB) Delete(k []byte, _ dbbench.WriteOptions) error {
	return b.d.Update(func(txn *badger.Txn) error { return txn.Delete(k) })
}

// badgerBatch copies keys and values (the caller reuses its buffers) and
// commits them in one transaction.
type badgerBatch struct {
	arena []byte
	ops   []badgerOp
}

// badgerOp locates one write in the arena by offset (the arena may move
// while it grows, so slices are taken at Apply).
type badgerOp struct {
	delete          bool
	off, klen, vlen int
}

func (b *badgerBatch) add(k, v []byte, del bool) {
	start := len(b.arena)
	b.arena = append(b.arena, k...)
	b.arena = append(b.arena, v...)
	b.ops = append(b.ops, badgerOp{delete: del, off: start, klen: len(k), vlen: len(v)})
}

func (b *badgerBatch) Put(k, v []byte) { b.add(k, v, false) }
func (b *badgerBatch) Delete(k []byte) { b.add(k, nil, true) }
func (b *badgerBatch) Reset()          { b.arena, b.ops = b.arena[:0], b.ops[:0] }

func (b *badgerDB) NewBatch() dbbench.Batch { return new(badgerBatch) }

func (b *badgerDB) Apply(batch dbbench.Batch, _ dbbench.WriteOptions) error {
	bb := batch.(*badgerBatch)
	txn := b.d.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, op := range bb.ops {
		k := bb.arena[op.off : op.off+op.klen : op.off+op.klen]
		v := bb.arena[op.off+op.klen : op.off+op.klen+op.vlen : op.off+op.klen+op.vlen]
		for {
			var err error
			if op.delete {
				err = txn.Delete(k)
			} else {
				err = txn.Set(k, v)
			}
			if !errors.Is(err, badger.ErrTxnTooBig) {
				if err != nil {
					return err
				}
				break
			}
			// Larger than one Badger transaction may be: commit what fits.
			if err := txn.Commit(); err != nil {
				return err
			}
			txn = b.d.NewTransaction(true)
		}
	}
	return txn.Commit()
}

func (b *badgerDB) Get(k []byte) (found bool, n int, err error) {
	err = b.d.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { n = len(v); return nil })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, 0, nil
	}
	return err == nil, n, err
}

func (b *badgerDB) NewIter(reverse bool) (dbbench.Iter, error) {
	txn := b.d.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Reverse: reverse})
	return &badgerIter{txn: txn, it: it}, nil
}

type badgerIter struct {
	txn   *badger.Txn
	it    *badger.Iterator
	value []byte
	err   error
}

func (i *badgerIter) First() bool        { i.it.Rewind(); return i.load() }
func (i *badgerIter) Seek(k []byte) bool { i.it.Seek(k); return i.load() }
func (i *badgerIter) Next() bool         { i.it.Next(); return i.load() }
func (i *badgerIter) Valid() bool        { return i.it.Valid() }
func (i *badgerIter) Key() []byte        { return i.it.Item().Key() }
func (i *badgerIter) Value() []byte      { return i.value }

// load reads the current value (in the LSM tree: no copy, no extra I/O).
func (i *badgerIter) load() bool {
	if !i.it.Valid() {
		return false
	}
	if err := i.it.Item().Value(func(v []byte) error { i.value = v; return nil }); err != nil {
		i.err = err
		return false
	}
	return true
}

func (i *badgerIter) Close() error {
	i.it.Close()
	i.txn.Discard()
	return i.err
}

// Flush syncs: Badger has no memtable flush call (its memtable lives in a
// memory-mapped WAL file until it fills or the database closes).
func (b *badgerDB) Flush() error { return b.d.Sync() }

// WaitForCompactions waits for the directory to stay unchanged for a
// second: Badger exposes no "compaction pending".
func (b *badgerDB) WaitForCompactions() error { return settleDir(b.dir, nil) }

// Compact flattens the tree into one level (Badger's full compaction).
func (b *badgerDB) Compact() error { return b.d.Flatten(2) }
func (b *badgerDB) Stats() string  { return b.d.LevelsToString() }
func (b *badgerDB) Close() error   { return b.d.Close() }
