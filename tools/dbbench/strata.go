package dbbench

import (
	"fmt"
	"sync"

	"github.com/strata-db/strata"
)

// Strata is the Engine for this module's own database.
var Strata = Engine{
	Name:    "strata",
	Open:    openStrata,
	Destroy: func(dir string) error { return strata.Destroy(dir, nil) },
}

// StrataOptions maps benchmark options onto strata.Options.
func StrataOptions(o Options) (*strata.Options, error) {
	so := &strata.Options{
		ErrorIfNotExists: o.MustExist,
		WriteBufferSize:  o.WriteBufferSize,
		BlockSize:        o.BlockSize,
		MaxOpenFiles:     o.OpenFiles,
		BlockCacheSize:   o.CacheSize,
		BloomBitsPerKey:  o.BloomBits,
	}
	if o.CacheSize == 0 {
		so.BlockCacheSize = -1
	}
	switch o.MergeOperator {
	case "":
	case "uint64add":
		so.Merger = strata.AddMerger
	default:
		return nil, fmt.Errorf("unknown merge operator %q (want uint64add)", o.MergeOperator)
	}
	if o.BulkLoad {
		// Automatic compactions off, several 64 MiB memtables; the write
		// buffer asked for still applies when larger.
		so.PrepareForBulkLoad()
		so.WriteBufferSize = max(so.WriteBufferSize, o.WriteBufferSize)
	}
	if o.BloomBits <= 0 {
		so.BloomBitsPerKey = -1
	}
	switch o.Compression {
	case "", "snappy":
		so.Compression = strata.SnappyCompression
	case "none":
		so.Compression = strata.NoCompression
	case "zstd":
		so.Compression = strata.ZstdCompression
	default:
		return nil, fmt.Errorf("unknown compression %q (want none, snappy or zstd)", o.Compression)
	}
	return so, nil
}

func openStrata(dir string, o Options) (DB, error) {
	so, err := StrataOptions(o)
	if err != nil {
		return nil, err
	}
	d, err := strata.Open(dir, so)
	if err != nil {
		return nil, err
	}
	return strataDB{d: d, bulk: o.BulkLoad}, nil
}

type strataDB struct {
	d    *strata.DB
	bulk bool // compact with CompactRangeWith
}

func strataWO(wo WriteOptions) *strata.WriteOptions {
	return &strata.WriteOptions{Sync: wo.Sync, DisableWAL: wo.DisableWAL}
}

func (s strataDB) Put(k, v []byte, wo WriteOptions) error { return s.d.Put(k, v, strataWO(wo)) }
func (s strataDB) Delete(k []byte, wo WriteOptions) error { return s.d.Delete(k, strataWO(wo)) }
func (s strataDB) Merge(k, v []byte, wo WriteOptions) error {
	return s.d.Merge(k, v, strataWO(wo))
}
func (s strataDB) DeleteRange(start, end []byte, wo WriteOptions) error {
	return s.d.DeleteRange(start, end, strataWO(wo))
}
func (s strataDB) NewBatch() Batch { return s.d.NewBatch() }
func (s strataDB) Apply(b Batch, wo WriteOptions) error {
	return s.d.Write(b.(*strata.Batch), strataWO(wo))
}

// Get reads into a pooled buffer with AppendGet, as db_bench reuses one
// std::string for every read (Pebble's adapter reads in place, too).
func (s strataDB) Get(k []byte) (bool, int, error) {
	bp := getBufPool.Get().(*[]byte)
	defer getBufPool.Put(bp)
	v, err := s.d.AppendGet((*bp)[:0], k)
	if err == strata.ErrNotFound {
		return false, 0, nil
	}
	if v != nil {
		*bp = v
	}
	return err == nil, len(v), err
}

// getBufPool holds the reusable value buffers of Get.
var getBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (s strataDB) NewIter(reverse bool) (Iter, error) {
	return &strataIter{it: s.d.NewIterator(nil), reverse: reverse}, nil
}

func (s strataDB) Flush() error              { return s.d.Flush() }
func (s strataDB) WaitForCompactions() error { return s.d.WaitForCompactions() }
func (s strataDB) Compact() error {
	if s.bulk {
		// The bulk-load path: every table, once, straight into the last
		// level, key ranges merged in parallel.
		return s.d.CompactRangeWith(nil, nil, strata.CompactOptions{})
	}
	return s.d.CompactRange(nil, nil)
}
func (s strataDB) Close() error { return s.d.Close() }
func (s strataDB) Stats() string {
	st, _ := s.d.Property("strata.stats")
	bc, _ := s.d.Property("strata.block-cache")
	return st + "block cache: " + bc + "\n"
}

type strataIter struct {
	it      *strata.Iterator
	reverse bool
}

func (i *strataIter) First() bool {
	if i.reverse {
		return i.it.Last()
	}
	return i.it.First()
}
func (i *strataIter) Seek(k []byte) bool { return i.it.Seek(k) }
func (i *strataIter) Next() bool {
	if i.reverse {
		return i.it.Prev()
	}
	return i.it.Next()
}
func (i *strataIter) Valid() bool   { return i.it.Valid() }
func (i *strataIter) Key() []byte   { return i.it.Key() }
func (i *strataIter) Value() []byte { return i.it.Value() }
func (i *strataIter) Close() error  { return i.it.Close() }
