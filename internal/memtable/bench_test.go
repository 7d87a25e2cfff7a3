package memtable

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/testenv"
)

const (
	benchKeyLen   = 16
	benchValueLen = 100
	benchArena    = 64 << 20
)

// benchKeys returns n random 16-byte user keys packed in one slice.
func benchKeys(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, n*benchKeyLen)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = buf[i*benchKeyLen : (i+1)*benchKeyLen]
	}
	return keys
}

// BenchmarkAdd inserts random 16-byte keys with 100-byte values from one
// goroutine, starting a new memtable (outside the timer) when one fills.
func BenchmarkAdd(b *testing.B) {
	keys := benchKeys(1 << 16)
	value := make([]byte, benchValueLen)
	m := New(base.DefaultComparer, benchArena)
	b.ReportAllocs()
	b.SetBytes(benchKeyLen + benchValueLen)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := m.Add(uint64(i)+1, base.KindSet, keys[i&(len(keys)-1)], value)
		if errors.Is(err, ErrArenaFull) {
			b.StopTimer()
			m = New(base.DefaultComparer, benchArena)
			b.StartTimer()
			err = m.Add(uint64(i)+1, base.KindSet, keys[i&(len(keys)-1)], value)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddParallel inserts from GOMAXPROCS goroutines into one shared
// memtable, swapping in a new one when it fills (the swap's allocation is
// amortized over ~500k inserts).
func BenchmarkAddParallel(b *testing.B) {
	keys := benchKeys(1 << 16)
	value := make([]byte, benchValueLen)
	var mp atomic.Pointer[MemTable]
	mp.Store(New(base.DefaultComparer, benchArena))
	var worker atomic.Uint64
	b.ReportAllocs()
	b.SetBytes(benchKeyLen + benchValueLen)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := worker.Add(1)
		rng := rand.New(rand.NewPCG(id, 7))
		seq := id << 40 // disjoint sequence ranges per goroutine
		for pb.Next() {
			seq++
			key := keys[rng.IntN(len(keys))]
			for {
				m := mp.Load()
				err := m.Add(seq, base.KindSet, key, value)
				if err == nil {
					break
				}
				if !errors.Is(err, ErrArenaFull) {
					b.Error(err)
					return
				}
				mp.CompareAndSwap(m, New(base.DefaultComparer, benchArena))
			}
		}
	})
}

// fillBench returns a memtable holding n random keys (16 B) with 100 B values.
func fillBench(b *testing.B, n int) (*MemTable, [][]byte) {
	keys := benchKeys(n)
	value := make([]byte, benchValueLen)
	m := New(base.DefaultComparer, n*(EstimateEntrySize(benchKeyLen, benchValueLen)))
	for i, k := range keys {
		if err := m.Add(uint64(i)+1, base.KindSet, k, value); err != nil {
			b.Fatal(err)
		}
	}
	return m, keys
}

// benchSizes are the table sizes read benchmarks run at: one whose arena
// (~9 MiB) mostly fits in cache, and a LevelDB-default-sized one (~150 MiB)
// where every hop is a cache (and on VMs a TLB) miss.
var benchSizes = []struct {
	name string
	n    int
}{{"64K", 1 << 16}, {"1M", 1 << 20}}

// BenchmarkGet looks up present keys.
func BenchmarkGet(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			m, keys := fillBench(b, sz.n)
			rng := rand.New(rand.NewPCG(3, 4))
			b.ReportAllocs()
			cpu := testenv.StartCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, ok := m.Get(keys[rng.IntN(len(keys))], base.MaxSeq); !ok {
					b.Fatal("miss")
				}
			}
			cpu.Report(b)
		})
	}
}

// BenchmarkSeekGE seeks to present keys.
func BenchmarkSeekGE(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			m, keys := fillBench(b, sz.n)
			rng := rand.New(rand.NewPCG(3, 4))
			search := make([][]byte, 1<<16)
			for i := range search {
				search[i] = base.MakeSearchKey(nil, keys[rng.IntN(len(keys))], base.MaxSeq)
			}
			var it Iter
			it.Init(m)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !it.SeekGE(search[i&(len(search)-1)]) {
					b.Fatal("miss")
				}
			}
		})
	}
}

// sink keeps scanned bytes observable.
var sink int

// BenchmarkIterNext scans forward (keys inserted in random order, so each
// step is a random memory access), copying every entry into a 4 KiB
// buffer as a flush does building blocks, with a plain Iter and with
// NewScanIter's readahead; one op is one entry.
func BenchmarkIterNext(b *testing.B) {
	for _, sz := range benchSizes {
		for _, mode := range []string{"plain", "readahead"} {
			b.Run(sz.name+"/"+mode, func(b *testing.B) {
				m, _ := fillBench(b, sz.n)
				it := m.NewIter()
				if mode == "readahead" {
					it = m.NewScanIter()
				}
				buf := make([]byte, 0, 4096)
				b.ReportAllocs()
				b.SetBytes(benchKeyLen + base.TrailerLen + benchValueLen)
				b.ResetTimer()
				ok := it.First()
				for i := 0; i < b.N; i++ {
					if !ok {
						ok = it.First()
					}
					if len(buf)+len(it.Key())+len(it.Value()) > cap(buf) {
						sink += int(buf[len(buf)-1])
						buf = buf[:0]
					}
					buf = append(buf, it.Key()...)
					buf = append(buf, it.Value()...)
					ok = it.Next()
				}
			})
		}
	}
}

// BenchmarkIterPrev scans backward; one op is one entry.
func BenchmarkIterPrev(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			m, _ := fillBench(b, sz.n)
			var it Iter
			it.Init(m)
			b.ReportAllocs()
			b.SetBytes(benchKeyLen + base.TrailerLen + benchValueLen)
			b.ResetTimer()
			ok := it.Last()
			for i := 0; i < b.N; i++ {
				if !ok {
					ok = it.Last()
				}
				sink += len(it.Key()) + len(it.Value())
				ok = it.Prev()
			}
		})
	}
}

// dbbenchKey writes k as db_bench writes keys: zero-padded decimal in
// len(dst) bytes.
func dbbenchKey(dst []byte, k uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + k%10)
		k /= 10
	}
}

// BenchmarkAddMergeRandom is db_bench's mergerandom at the memtable: merges
// of 8-byte operands into 16-byte keys drawn uniformly below 1M (db_bench's
// zero-padded decimal keys, which share a 10-byte prefix), through AddMerge
// with the database's default limit of 8, into one memtable that takes
// 1M entries (all of mergerandom's, with a 64 MiB write buffer); a fresh
// memtable is started (outside the timer) after every 1M. Run it with
// -benchtime 1000000x so that each run is one whole fill. It reports
// cpu-ns/op, the process's CPU time per insert, beside wall time.
func BenchmarkAddMergeRandom(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(5, 6))
	key := make([]byte, benchKeyLen)
	value := make([]byte, 8)
	value[0] = 1
	m := New(base.DefaultComparer, benchArena)
	b.ReportAllocs()
	cpu := testenv.StartCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%n == 0 {
			b.StopTimer()
			m = New(base.DefaultComparer, benchArena)
			b.StartTimer()
		}
		dbbenchKey(key, rng.Uint64N(1_000_000))
		if err := m.AddMerge(uint64(i)+1, key, value, 8); err != nil && !errors.Is(err, ErrMergeLimit) {
			b.Fatal(err)
		}
	}
	cpu.Report(b)
}
