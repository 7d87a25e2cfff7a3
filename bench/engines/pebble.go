//go:build !bench_single || bench_pebble

package engines

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"

	"github.com/strata-db/strata/tools/dbbench"
)

// Pebble is CockroachDB's Pebble v2 with its default format major version.
func init() { All[Pebble.Name] = Pebble }

var Pebble = dbbench.Engine{Name: "pebble", Open: openPebble, Destroy: removeDir}

// PebbleOptions maps benchmark options onto Pebble's: the block cache, a
// bloom filter policy and the compression on every level, the memtable size,
// block size, open files, and DisableWAL (a database-wide option in Pebble).
func PebbleOptions(o dbbench.Options) (*pebble.Options, error) {
	po := &pebble.Options{
		ErrorIfNotExists: o.MustExist,
		MemTableSize:     uint64(o.WriteBufferSize),
		MaxOpenFiles:     o.OpenFiles,
		DisableWAL:       o.DisableWAL,
		Logger:           quietLogger{},
	}
	switch o.MergeOperator {
	case "":
	case "uint64add":
		po.Merger = Uint64AddMerger
	default:
		return nil, fmt.Errorf("pebble: unknown merge operator %q", o.MergeOperator)
	}
	if o.BulkLoad {
		po.CompactionConcurrencyRange = func() (lower, upper int) { return 1, 2 }
	}
	if o.CacheSize > 0 {
		po.Cache = pebble.NewCache(o.CacheSize)
	}
	var profile *sstable.CompressionProfile
	switch o.Compression {
	case "", "snappy":
		profile = sstable.SnappyCompression
	case "none":
		profile = sstable.NoCompression
	case "zstd":
		profile = sstable.ZstdCompression
	default:
		return nil, fmt.Errorf("pebble: unknown compression %q", o.Compression)
	}
	for i := range po.Levels {
		l := &po.Levels[i]
		if o.BloomBits > 0 {
			l.FilterPolicy = bloom.FilterPolicy(o.BloomBits)
		}
		l.Compression = func() *sstable.CompressionProfile { return profile }
		l.BlockSize = o.BlockSize
	}
	return po, nil
}

// quietLogger drops Pebble's informational messages; errors still surface
// through the API.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf(format, args...))
}

func openPebble(dir string, o dbbench.Options) (dbbench.DB, error) {
	po, err := PebbleOptions(o)
	if err != nil {
		return nil, err
	}
	d, err := pebble.Open(dir, po)
	if po.Cache != nil {
		po.Cache.Unref() // the DB holds its own reference
	}
	if err != nil {
		return nil, err
	}
	return pebbleDB{d}, nil
}

type pebbleDB struct{ d *pebble.DB }

func pebbleWO(wo dbbench.WriteOptions) *pebble.WriteOptions {
	if wo.Sync {
		return pebble.Sync
	}
	return pebble.NoSync
}

func (p pebbleDB) Put(k, v []byte, wo dbbench.WriteOptions) error { return p.d.Set(k, v, pebbleWO(wo)) }
func (p pebbleDB) Delete(k []byte, wo dbbench.WriteOptions) error { return p.d.Delete(k, pebbleWO(wo)) }
func (p pebbleDB) Merge(k, v []byte, wo dbbench.WriteOptions) error {
	return p.d.Merge(k, v, pebbleWO(wo))
}
func (p pebbleDB) DeleteRange(start, end []byte, wo dbbench.WriteOptions) error {
	return p.d.DeleteRange(start, end, pebbleWO(wo))
}
func (p pebbleDB) NewBatch() dbbench.Batch { return &pebbleBatch{p.d.NewBatch()} }
func (p pebbleDB) Apply(b dbbench.Batch, wo dbbench.WriteOptions) error {
	return b.(*pebbleBatch).b.Commit(pebbleWO(wo))
}

type pebbleBatch struct{ b *pebble.Batch }

func (b *pebbleBatch) Put(k, v []byte) { b.b.Set(k, v, nil) }
func (b *pebbleBatch) Delete(k []byte) { b.b.Delete(k, nil) }
func (b *pebbleBatch) DeleteRange(start, end []byte) {
	b.b.DeleteRange(start, end, nil)
}
func (b *pebbleBatch) Reset() { b.b.Reset() }

func (p pebbleDB) Get(k []byte) (bool, int, error) {
	v, closer, err := p.d.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	n := len(v)
	return true, n, closer.Close()
}

func (p pebbleDB) NewIter(reverse bool) (dbbench.Iter, error) {
	it, err := p.d.NewIter(nil)
	if err != nil {
		return nil, err
	}
	return &pebbleIter{it: it, reverse: reverse}, nil
}

type pebbleIter struct {
	it      *pebble.Iterator
	reverse bool
}

func (i *pebbleIter) First() bool {
	if i.reverse {
		return i.it.Last()
	}
	return i.it.First()
}
func (i *pebbleIter) Seek(k []byte) bool { return i.it.SeekGE(k) }
func (i *pebbleIter) Next() bool {
	if i.reverse {
		return i.it.Prev()
	}
	return i.it.Next()
}
func (i *pebbleIter) Valid() bool   { return i.it.Valid() }
func (i *pebbleIter) Key() []byte   { return i.it.Key() }
func (i *pebbleIter) Value() []byte { return i.it.Value() }
func (i *pebbleIter) Close() error  { return i.it.Close() }

func (p pebbleDB) Flush() error { return p.d.Flush() }

// WaitForCompactions polls Pebble's metrics until no flush or compaction
// has run for a second (or the estimated compaction debt is zero). The debt
// alone is not a signal: Pebble can leave some debt below its compaction
// threshold indefinitely, with nothing scheduled.
func (p pebbleDB) WaitForCompactions() error {
	deadline := time.Now().Add(SettleLimit)
	quiet := 0
	for {
		m := p.d.Metrics()
		idle := m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0
		if idle && m.Compact.EstimatedDebt == 0 {
			return nil
		}
		if idle {
			quiet++
		} else {
			quiet = 0
		}
		if quiet >= 20 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pebble: compactions still running after %v", SettleLimit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Compact compacts from the first key to just past the last one (Pebble
// flushes an overlapping memtable first).
func (p pebbleDB) Compact() error {
	if err := p.d.Flush(); err != nil {
		return err
	}
	it, err := p.d.NewIter(nil)
	if err != nil {
		return err
	}
	var first, last []byte
	if it.First() {
		first = append([]byte(nil), it.Key()...)
	}
	if it.Last() {
		last = append(append([]byte(nil), it.Key()...), 0)
	}
	if err := it.Close(); err != nil {
		return err
	}
	if first == nil {
		return nil
	}
	return p.d.Compact(context.Background(), first, last, true)
}

// Uint64AddMerger is RocksDB's uint64add for Pebble, which has no such
// operator built in: operands and values are 8-byte little-endian unsigned
// integers, added with wrap-around; one of another length counts as 0, as
// RocksDB's UInt64AddOperator counts it (RocksDB also logs an error).
// Addition commutes, so newer and older operands are added alike.
var Uint64AddMerger = &pebble.Merger{
	Name: "uint64add",
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		m := &uint64AddMerger{}
		m.add(value)
		return m, nil
	},
}

type uint64AddMerger struct {
	sum uint64
	buf [8]byte
}

func (m *uint64AddMerger) add(v []byte) {
	if len(v) == 8 {
		m.sum += binary.LittleEndian.Uint64(v)
	}
}

func (m *uint64AddMerger) MergeNewer(v []byte) error { m.add(v); return nil }
func (m *uint64AddMerger) MergeOlder(v []byte) error { m.add(v); return nil }
func (m *uint64AddMerger) Finish(bool) ([]byte, io.Closer, error) {
	binary.LittleEndian.PutUint64(m.buf[:], m.sum)
	return m.buf[:], nil, nil
}

func (p pebbleDB) Stats() string { return p.d.Metrics().String() }
func (p pebbleDB) Close() error  { return p.d.Close() }
