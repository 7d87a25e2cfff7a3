//go:build !bench_single || bench_goleveldb

package engines

import (
	"errors"
	"fmt"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/strata-db/strata/tools/dbbench"
)

// GoLevelDB is syndtr/goleveldb.
func init() { All[GoLevelDB.Name] = GoLevelDB }

var GoLevelDB = dbbench.Engine{Name: "goleveldb", Open: openGoLevelDB, Destroy: removeDir}

// GoLevelDBOptions maps benchmark options onto goleveldb's. goleveldb
// cannot write without its journal (WAL), so DisableWAL has no effect.
func GoLevelDBOptions(o dbbench.Options) (*opt.Options, error) {
	if o.MergeOperator != "" {
		return nil, fmt.Errorf("goleveldb: no merge operator")
	}
	lo := &opt.Options{
		ErrorIfMissing:         o.MustExist,
		BlockCacheCapacity:     int(o.CacheSize),
		WriteBuffer:            o.WriteBufferSize,
		BlockSize:              o.BlockSize,
		OpenFilesCacheCapacity: o.OpenFiles,
	}
	if o.CacheSize <= 0 {
		lo.BlockCacher = opt.NoCacher
	}
	if o.BloomBits > 0 {
		lo.Filter = filter.NewBloomFilter(o.BloomBits)
	}
	switch o.Compression {
	case "", "snappy":
		lo.Compression = opt.SnappyCompression
	case "none":
		lo.Compression = opt.NoCompression
	default:
		return nil, fmt.Errorf("goleveldb: compression %q not supported (none or snappy)", o.Compression)
	}
	return lo, nil
}

func openGoLevelDB(dir string, o dbbench.Options) (dbbench.DB, error) {
	lo, err := GoLevelDBOptions(o)
	if err != nil {
		return nil, err
	}
	d, err := leveldb.OpenFile(dir, lo)
	if err != nil {
		return nil, err
	}
	return &golevelDB{d: d, dir: dir}, nil
}

type golevelDB struct {
	d   *leveldb.DB
	dir string
}

var (
	gldbSync   = &opt.WriteOptions{Sync: true}
	gldbNoSync = &opt.WriteOptions{}
)

func gldbWO(wo dbbench.WriteOptions) *opt.WriteOptions {
	if wo.Sync {
		return gldbSync
	}
	return gldbNoSync
}

func (g *golevelDB) Put(k, v []byte, wo dbbench.WriteOptions) error { return g.d.Put(k, v, gldbWO(wo)) }
func (g *golevelDB) Delete(k []byte, wo dbbench.WriteOptions) error { return g.d.Delete(k, gldbWO(wo)) }
func (g *golevelDB) NewBatch() dbbench.Batch                        { return new(leveldb.Batch) }
func (g *golevelDB) Apply(b dbbench.Batch, wo dbbench.WriteOptions) error {
	return g.d.Write(b.(*leveldb.Batch), gldbWO(wo))
}

func (g *golevelDB) Get(k []byte) (bool, int, error) {
	v, err := g.d.Get(k, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return false, 0, nil
	}
	return err == nil, len(v), err
}

func (g *golevelDB) NewIter(reverse bool) (dbbench.Iter, error) {
	return &gldbIter{it: g.d.NewIterator(nil, nil), reverse: reverse}, nil
}

type gldbIter struct {
	it      iterator.Iterator
	reverse bool
}

func (i *gldbIter) First() bool {
	if i.reverse {
		return i.it.Last()
	}
	return i.it.First()
}
func (i *gldbIter) Seek(k []byte) bool { return i.it.Seek(k) }
func (i *gldbIter) Next() bool {
	if i.reverse {
		return i.it.Prev()
	}
	return i.it.Next()
}
func (i *gldbIter) Valid() bool   { return i.it.Valid() }
func (i *gldbIter) Key() []byte   { return i.it.Key() }
func (i *gldbIter) Value() []byte { return i.it.Value() }
func (i *gldbIter) Close() error {
	i.it.Release()
	return i.it.Error()
}

// Flush does nothing: goleveldb has no memtable flush call; its
// CompactRange (Compact) writes the memtable out first.
func (g *golevelDB) Flush() error { return nil }

// WaitForCompactions waits for the directory and the level statistics to
// stay unchanged for a second: goleveldb exposes no "compaction pending".
func (g *golevelDB) WaitForCompactions() error {
	return settleDir(g.dir, func() string {
		s, _ := g.d.GetProperty("leveldb.stats")
		return s
	})
}

func (g *golevelDB) Compact() error { return g.d.CompactRange(util.Range{}) }
func (g *golevelDB) Stats() string {
	s, _ := g.d.GetProperty("leveldb.stats")
	return s
}
func (g *golevelDB) Close() error { return g.d.Close() }
