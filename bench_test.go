package strata

import (
	"errors"
	"fmt"
	"github.com/strata-db/strata/internal/testenv"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/memtable"
)

// Benchmarks of the engine's hot paths, with db_bench's shapes: 16-byte
// keys ("%016d"), 100-byte values that compress to about half. The
// `strata bench` command (and the bench/ module) run the full workloads.

const benchValueSize = 100

// benchKey formats i as db_bench does: 16 decimal digits, zero padded.
func benchKey(buf []byte, i int) []byte {
	buf = append(buf[:0], "0000000000000000"...)
	for p := 15; i > 0 && p >= 0; p-- {
		buf[p] = byte('0' + i%10)
		i /= 10
	}
	return buf
}

// benchValues is a pool of half-compressible values, as db_bench's
// RandomGenerator makes them.
var benchValues = func() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1<<20)
	for i := 0; i < len(b); i += 2 * benchValueSize {
		for j := 0; j < benchValueSize/2 && i+j < len(b); j++ {
			b[i+j] = byte(' ' + rng.IntN(95))
		}
		for j := benchValueSize / 2; j < 2*benchValueSize && i+j < len(b); j++ {
			b[i+j] = b[i]
		}
	}
	return b
}()

func benchValue(i int) []byte {
	off := (i * 97) % (len(benchValues) - benchValueSize)
	return benchValues[off : off+benchValueSize]
}

func openBenchDB(b *testing.B, dir string) *DB {
	db, err := Open(dir, &Options{BlockCacheSize: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func BenchmarkFillSeq(b *testing.B) {
	db := openBenchDB(b, b.TempDir())
	defer db.Close()
	var kb [32]byte
	b.ReportAllocs()
	b.SetBytes(16 + benchValueSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := db.Put(benchKey(kb[:], i), benchValue(i), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFillRandom(b *testing.B) {
	db := openBenchDB(b, b.TempDir())
	defer db.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	var kb [32]byte
	b.ReportAllocs()
	b.SetBytes(16 + benchValueSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := db.Put(benchKey(kb[:], rng.IntN(1<<30)), benchValue(i), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFillRandomBatch1000(b *testing.B) {
	db := openBenchDB(b, b.TempDir())
	defer db.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	var kb [32]byte
	batch := db.NewBatch()
	b.ReportAllocs()
	b.SetBytes(16 + benchValueSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch.Put(benchKey(kb[:], rng.IntN(1<<30)), benchValue(i))
		if batch.Len() == 1000 {
			if err := db.Write(batch, &WriteOptions{DisableWAL: true}); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
}

// BenchmarkFillSyncParallel measures group commit: many goroutines each
// writing with Sync share fsyncs.
func BenchmarkFillSyncParallel(b *testing.B) {
	db := openBenchDB(b, b.TempDir())
	defer db.Close()
	var n sync.Mutex
	next := 0
	b.SetParallelism(4) // 4 × GOMAXPROCS writers
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var kb [32]byte
		for pb.Next() {
			n.Lock()
			i := next
			next++
			n.Unlock()
			if err := db.Put(benchKey(kb[:], i), benchValue(i), &WriteOptions{Sync: true}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// readDB is a compacted database of readDBKeys keys shared by the read
// benchmarks (built once per process).
const readDBKeys = 200000

var (
	readDBOnce sync.Once
	readDBDir  string
	readDBErr  error
)

func sharedReadDB(b *testing.B) *DB {
	readDBOnce.Do(func() {
		readDBDir, readDBErr = os.MkdirTemp("", "strata-bench-read-")
		if readDBErr != nil {
			return
		}
		db, err := Open(readDBDir, nil)
		if err != nil {
			readDBErr = err
			return
		}
		var kb [32]byte
		batch := db.NewBatch()
		perm := rand.New(rand.NewPCG(5, 6)).Perm(readDBKeys)
		for i, k := range perm {
			batch.Put(benchKey(kb[:], k*2), benchValue(i)) // even keys only: odd ones are missing
			if batch.Len() == 1000 {
				if readDBErr = db.Write(batch, nil); readDBErr != nil {
					return
				}
				batch.Reset()
			}
		}
		if readDBErr = db.Write(batch, nil); readDBErr != nil {
			return
		}
		if readDBErr = db.CompactRange(nil, nil); readDBErr != nil {
			return
		}
		readDBErr = db.Close()
	})
	if readDBErr != nil {
		b.Fatal(readDBErr)
	}
	return openBenchDB(b, readDBDir)
}

func BenchmarkReadRandom(b *testing.B) {
	db := sharedReadDB(b)
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	var kb [32]byte
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.StartCPU()
	defer cpu.Report(b)
	for i := 0; i < b.N; i++ {
		if _, err := db.Get(benchKey(kb[:], 2*rng.IntN(readDBKeys))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadRandomAppendGet reads into one reused buffer: the read path
// itself allocates nothing (Get's one allocation is the copy it returns).
func BenchmarkReadRandomAppendGet(b *testing.B) {
	db := sharedReadDB(b)
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	var kb [32]byte
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := db.AppendGet(buf[:0], benchKey(kb[:], 2*rng.IntN(readDBKeys)))
		if err != nil {
			b.Fatal(err)
		}
		buf = v
	}
}

func BenchmarkReadMissing(b *testing.B) {
	db := sharedReadDB(b)
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	var kb [32]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.Get(benchKey(kb[:], 2*rng.IntN(readDBKeys)+1)); err != ErrNotFound {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadSeq(b *testing.B) {
	db := sharedReadDB(b)
	defer db.Close()
	it := db.NewIterator(nil)
	defer it.Close()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.StartCPU()
	defer cpu.Report(b)
	ok := it.First()
	for i := 0; i < b.N; i++ {
		if !ok {
			ok = it.First()
		}
		ok = it.Next()
	}
}

func BenchmarkReadReverse(b *testing.B) {
	db := sharedReadDB(b)
	defer db.Close()
	it := db.NewIterator(nil)
	defer it.Close()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.StartCPU()
	defer cpu.Report(b)
	ok := it.Last()
	for i := 0; i < b.N; i++ {
		if !ok {
			ok = it.Last()
		}
		ok = it.Prev()
	}
}

func BenchmarkSeekRandom(b *testing.B) {
	db := sharedReadDB(b)
	defer db.Close()
	it := db.NewIterator(nil)
	defer it.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	var kb [32]byte
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.StartCPU()
	defer cpu.Report(b)
	for i := 0; i < b.N; i++ {
		ok := it.Seek(benchKey(kb[:], rng.IntN(2*readDBKeys)))
		for j := 0; ok && j < 10; j++ {
			ok = it.Next()
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if readDBDir != "" {
		os.RemoveAll(readDBDir)
	}
	os.Exit(code)
}

// BenchmarkSeekRandomNewIterator is db_bench's seekrandom: a new iterator
// per seek, then 10 nexts.
func BenchmarkSeekRandomNewIterator(b *testing.B) {
	db := sharedReadDB(b)
	defer db.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	var kb [32]byte
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.StartCPU()
	defer cpu.Report(b)
	for i := 0; i < b.N; i++ {
		it := db.NewIterator(nil)
		ok := it.Seek(benchKey(kb[:], rng.IntN(2*readDBKeys)))
		for j := 0; ok && j < 10; j++ {
			ok = it.Next()
		}
		it.Close()
	}
}

// BenchmarkFlush writes a full 64 MiB memtable of db_bench-shaped entries,
// inserted in key order (seq) or in random order (random), to a table as a
// flush does: one op is one flush; ns/entry is reported too. No writer
// helps, so the flush compresses every block itself (see sstable.Assist).
func BenchmarkFlush(b *testing.B) {
	for _, order := range []string{"seq", "random"} {
		b.Run(order, func(b *testing.B) {
			dir := b.TempDir()
			db := openBenchDB(b, dir)
			defer db.Close()
			m := memtable.New(db.cmp, 64<<20)
			rng := rand.New(rand.NewPCG(7, 7))
			var kb [32]byte
			n := 0
			for ; ; n++ {
				k := n
				if order == "random" {
					k = rng.IntN(1 << 30)
				}
				err := m.Add(uint64(n+1), base.KindSet, benchKey(kb[:], k), benchValue(n))
				if errors.Is(err, memtable.ErrArenaFull) {
					break
				} else if err != nil && !errors.Is(err, memtable.ErrRecordExists) {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				db.mu.Lock()
				num := db.newOutputNumLocked()
				db.mu.Unlock()
				if _, err := writeMemTable(db.opts, db.dirname, num, m); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.Remove(base.MakeFilepath(dir, base.FileTypeTable, num))
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
		})
	}
}

// BenchmarkScanUpdatedKeys is a short range scan (a seek and 100 Nexts, as
// the range selects of sysbench's oltp_read_write) over keys updated many
// times since the last flush: 20,000 keys in a table, then versions-1
// rounds of updates of every key, in random order, in the memtable. One op
// is one scan; with many versions the walk over each key's older entries
// in the memtable is what it costs.
func BenchmarkScanUpdatedKeys(b *testing.B) {
	for _, versions := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("versions=%d", versions), func(b *testing.B) {
			const keys = 20000
			db, err := Open(b.TempDir(), &Options{BlockCacheSize: 64 << 20, WriteBufferSize: 256 << 20, InitialMemTableSize: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var kb [32]byte
			for i := range keys {
				if err := db.Put(benchKey(kb[:], i), benchValue(i), nil); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Flush(); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(11, 12))
			for v := 1; v < versions; v++ {
				for _, i := range rng.Perm(keys) {
					if err := db.Put(benchKey(kb[:], i), benchValue(i+v), nil); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				it := db.NewIterator(nil)
				ok := it.Seek(benchKey(kb[:], rng.IntN(keys-100)))
				for j := 0; ok && j < 100; j++ {
					ok = it.Next()
				}
				if !ok {
					b.Fatal("scan ended early")
				}
				it.Close()
			}
		})
	}
}
