//go:build !bench_single || bench_bbolt

package engines

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/strata-db/strata/tools/dbbench"
)

// Bbolt is etcd's bbolt: a copy-on-write B+tree in one memory-mapped file,
// one read-write transaction at a time (serializable by one writer), each
// commit writing its dirty pages and then the meta page. It is a peer of
// the transaction benchmarks only (no LSM settings apply: no block cache,
// bloom filter, compression or memtable). Settings are etcd's: the
// hash-map freelist, not written at commit (NoFreelistSync). Sync is the
// open-time NoSync (set unless --sync): without it every commit fdatasyncs
// the file twice (pages, then meta).
func init() { All[Bbolt.Name] = Bbolt }

var Bbolt = dbbench.Engine{Name: "bbolt", Open: openBbolt, Destroy: removeDir}

// bboltBucket holds every key.
var bboltBucket = []byte("bench")

// BboltFile is the database file inside the benchmark directory.
const BboltFile = "bbolt.db"

func openBbolt(dir string, o dbbench.Options) (dbbench.DB, error) {
	path := filepath.Join(dir, BboltFile)
	if o.MustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("bbolt: no database in %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d, err := bolt.Open(path, 0o644, &bolt.Options{
		Timeout:        10 * time.Second,
		NoSync:         !o.Sync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, err
	}
	if err := d.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bboltBucket)
		return err
	}); err != nil {
		d.Close()
		return nil, err
	}
	return &bboltDB{d: d}, nil
}

type bboltDB struct{ d *bolt.DB }

// Every write is a read-write transaction; sync is the open-time NoSync.
func (b *bboltDB) Put(k, v []byte, _ dbbench.WriteOptions) error {
	return b.d.Update(func(tx *bolt.Tx) error { return tx.Bucket(bboltBucket).Put(k, v) })
}

func (b *bboltDB) Delete(k []byte, _ dbbench.WriteOptions) error {
	return b.d.Update(func(tx *bolt.Tx) error { return tx.Bucket(bboltBucket).Delete(k) })
}

// bboltBatch copies keys and values (the caller reuses its buffers) and
// writes them in one transaction.
type bboltBatch struct {
	arena []byte
	ops   []bboltOp
}

// bboltOp locates one write in the arena by offset.
type bboltOp struct {
	delete          bool
	off, klen, vlen int
}

func (b *bboltBatch) add(k, v []byte, del bool) {
	start := len(b.arena)
	b.arena = append(append(b.arena, k...), v...)
	b.ops = append(b.ops, bboltOp{delete: del, off: start, klen: len(k), vlen: len(v)})
}

func (b *bboltBatch) Put(k, v []byte) { b.add(k, v, false) }
func (b *bboltBatch) Delete(k []byte) { b.add(k, nil, true) }
func (b *bboltBatch) Reset()          { b.arena, b.ops = b.arena[:0], b.ops[:0] }

func (b *bboltDB) NewBatch() dbbench.Batch { return new(bboltBatch) }

func (b *bboltDB) Apply(batch dbbench.Batch, _ dbbench.WriteOptions) error {
	bb := batch.(*bboltBatch)
	return b.d.Update(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(bboltBucket)
		for _, op := range bb.ops {
			k := bb.arena[op.off : op.off+op.klen : op.off+op.klen]
			var err error
			if op.delete {
				err = bucket.Delete(k)
			} else {
				err = bucket.Put(k, bb.arena[op.off+op.klen:op.off+op.klen+op.vlen:op.off+op.klen+op.vlen])
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *bboltDB) Get(k []byte) (found bool, n int, err error) {
	err = b.d.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bboltBucket).Get(k)
		found, n = v != nil, len(v)
		return nil
	})
	return found, n, err
}

func (b *bboltDB) NewIter(reverse bool) (dbbench.Iter, error) {
	tx, err := b.d.Begin(false)
	if err != nil {
		return nil, err
	}
	return &bboltIter{tx: tx, c: tx.Bucket(bboltBucket).Cursor(), reverse: reverse}, nil
}

type bboltIter struct {
	tx      *bolt.Tx
	c       *bolt.Cursor
	reverse bool
	k, v    []byte
}

func (i *bboltIter) set(k, v []byte) bool { i.k, i.v = k, v; return k != nil }
func (i *bboltIter) First() bool {
	if i.reverse {
		return i.set(i.c.Last())
	}
	return i.set(i.c.First())
}
func (i *bboltIter) Seek(k []byte) bool { return i.set(i.c.Seek(k)) }
func (i *bboltIter) Next() bool {
	if i.reverse {
		return i.set(i.c.Prev())
	}
	return i.set(i.c.Next())
}
func (i *bboltIter) Valid() bool   { return i.k != nil }
func (i *bboltIter) Key() []byte   { return i.k }
func (i *bboltIter) Value() []byte { return i.v }
func (i *bboltIter) Close() error  { return i.tx.Rollback() }

// Flush syncs the file (there is no memtable).
func (b *bboltDB) Flush() error { return b.d.Sync() }

// WaitForCompactions and Compact do nothing: a B+tree has no compactions.
func (b *bboltDB) WaitForCompactions() error { return nil }
func (b *bboltDB) Compact() error            { return nil }

func (b *bboltDB) Stats() string {
	s := b.d.Stats()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "free pages %d, pending %d, read transactions %d, write transactions %d (%v writing)\n",
		s.FreePageN, s.PendingPageN, s.TxN, s.TxStats.GetWrite(), s.TxStats.GetWriteTime())
	return buf.String()
}

func (b *bboltDB) Close() error { return b.d.Close() }

// Update runs fn in one bbolt read-write transaction: never a conflict.
func (b *bboltDB) Update(o dbbench.TxnOptions, fn func(tx dbbench.Txn) error) error {
	if o.Pessimistic {
		return dbbench.ErrNoPessimistic("bbolt")
	}
	return b.d.Update(func(tx *bolt.Tx) error { return fn(bboltTxn{tx.Bucket(bboltBucket)}) })
}

// Retryable is false: one writer at a time, no conflicts.
func (b *bboltDB) Retryable(error) bool { return false }

type bboltTxn struct{ b *bolt.Bucket }

func (t bboltTxn) Get(k []byte, _ bool) ([]byte, bool, error) {
	v := t.b.Get(k)
	return v, v != nil, nil
}

func (t bboltTxn) Put(k, v []byte) error { return t.b.Put(k, v) }
