package cache

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// checkInvariants walks every shard and verifies that the frames, the free
// list, the hash table and the size agree, and that no shard is over capacity.
func checkInvariants(t *testing.T, c *Cache) {
	t.Helper()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n := 0
		var size int64
		for fi := range s.frames {
			f := &s.frames[fi]
			if f.value == nil {
				continue
			}
			n++
			size += int64(f.charge)
			if _, got := s.find(f.id, f.off, hash(f.id, f.off)); got != fi {
				t.Fatalf("shard %d: frame %d (%v) found at %d", i, fi, f.key, got)
			}
		}
		if n != s.live() {
			t.Fatalf("shard %d: %d live frames, %d free of %d", i, n, len(s.free), len(s.frames))
		}
		for _, fi := range s.free {
			if s.frames[fi].value != nil {
				t.Fatalf("shard %d: free frame %d in use", i, fi)
			}
		}
		slots := 0
		for _, e := range s.table {
			if e != slotEmpty {
				slots++
			}
		}
		if slots != n || (len(s.table) > 0 && 2*n > len(s.table)) {
			t.Fatalf("shard %d: %d table slots for %d entries (table %d)", i, slots, n, len(s.table))
		}
		if size != s.size {
			t.Fatalf("shard %d: size %d, sum of charges %d", i, s.size, size)
		}
		if s.size > s.capacity {
			t.Fatalf("shard %d: size %d over capacity %d", i, s.size, s.capacity)
		}
		s.mu.Unlock()
	}
}

func TestBasic(t *testing.T) {
	c := New(1 << 20)
	id := c.NewID()
	if _, ok := getCopy(c, id, 0); ok {
		t.Fatal("hit on empty cache")
	}
	setCopy(c, id, 0, []byte("zero"))
	setCopy(c, id, 4096, []byte("one"))
	setCopy(c, id+1, 0, []byte("other"))
	for _, tc := range []struct {
		id, off uint64
		want    string
	}{{id, 0, "zero"}, {id, 4096, "one"}, {id + 1, 0, "other"}} {
		v, ok := getCopy(c, tc.id, tc.off)
		if !ok || string(v) != tc.want {
			t.Fatalf("Get(%d,%d) = %q,%v want %q", tc.id, tc.off, v, ok, tc.want)
		}
	}
	setCopy(c, id, 0, []byte("replaced"))
	if v, _ := getCopy(c, id, 0); string(v) != "replaced" {
		t.Fatalf("after replace got %q", v)
	}
	hits, misses, size, capacity, count := c.Stats()
	if hits != 4 || misses != 1 || count != 3 || capacity != 1<<20 ||
		size != int64(len("replaced")+len("one")+len("other"))+3*EntryOverhead {
		t.Fatalf("Stats = %d %d %d %d %d", hits, misses, size, capacity, count)
	}
	c.EvictID(id)
	if _, ok := getCopy(c, id, 0); ok {
		t.Fatal("entry survived EvictID")
	}
	if _, ok := getCopy(c, id, 4096); ok {
		t.Fatal("entry survived EvictID")
	}
	if v, ok := getCopy(c, id+1, 0); !ok || string(v) != "other" {
		t.Fatal("EvictID dropped another id")
	}
	checkInvariants(t, c)
}

func TestNewIDDistinct(t *testing.T) {
	c := New(0)
	seen := map[uint64]bool{}
	for range 1000 {
		id := c.NewID()
		if id == 0 || seen[id] {
			t.Fatalf("NewID returned %d twice or zero", id)
		}
		seen[id] = true
	}
}

func TestZeroCapacityAndNil(t *testing.T) {
	for _, c := range []*Cache{New(0), New(-5), nil} {
		setCopy(c, 1, 1, []byte("x"))
		if _, ok := getCopy(c, 1, 1); ok {
			t.Fatal("cache with no capacity returned a value")
		}
		c.EvictID(1)
		_, _, size, _, count := c.Stats()
		if size != 0 || count != 0 {
			t.Fatal("cache with no capacity holds entries")
		}
	}
}

// sameShardOffsets returns n offsets of id that all hash to one shard.
func sameShardOffsets(c *Cache, id uint64, n int) []uint64 {
	want, _ := c.shardFor(id, 0)
	var offs []uint64
	for off := uint64(0); len(offs) < n; off++ {
		if s, _ := c.shardFor(id, off); s == want {
			offs = append(offs, off)
		}
	}
	return offs
}

func TestLRUOrder(t *testing.T) {
	const valLen = 100
	const perEntry = valLen + EntryOverhead
	c := New(numShards * 3 * perEntry) // three entries per shard
	id := c.NewID()
	offs := sameShardOffsets(c, id, 4)
	val := bytes.Repeat([]byte{'v'}, valLen)
	setCopy(c, id, offs[0], val)
	setCopy(c, id, offs[1], val)
	setCopy(c, id, offs[2], val)
	getCopy(c, id, offs[0]) // referenced: the sweep spares it and evicts offs[1]
	setCopy(c, id, offs[3], val)
	for i, want := range []bool{true, false, true, true} {
		if _, ok := getCopy(c, id, offs[i]); ok != want {
			t.Fatalf("entry %d present=%v, want %v", i, ok, want)
		}
	}
	// A value larger than a shard is never cached and evicts nothing.
	setCopy(c, id, offs[1], make([]byte, 4*perEntry))
	if _, ok := getCopy(c, id, offs[1]); ok {
		t.Fatal("oversized value cached")
	}
	if _, ok := getCopy(c, id, offs[0]); !ok {
		t.Fatal("oversized value evicted others")
	}
	checkInvariants(t, c)
}

// TestRandomModel runs random operations and checks that a hit always returns
// the last value set for the key and never one that was evicted by EvictID.
func TestRandomModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	c := New(64 << 10)
	model := map[key][]byte{}
	ids := []uint64{c.NewID(), c.NewID(), c.NewID(), c.NewID()}
	for i := range 50000 {
		id := ids[rng.IntN(len(ids))]
		off := uint64(rng.IntN(200)) * 4096
		switch r := rng.IntN(100); {
		case r < 45:
			v := make([]byte, rng.IntN(3000))
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			setCopy(c, id, off, v)
			model[key{id, off}] = v
		case r < 99:
			v, ok := getCopy(c, id, off)
			if ok && !bytes.Equal(v, model[key{id, off}]) {
				t.Fatalf("seed %d op %d: Get(%d,%d) returned a stale value", seed, i, id, off)
			}
			if ok {
				if _, inModel := model[key{id, off}]; !inModel {
					t.Fatalf("seed %d op %d: Get(%d,%d) hit an evicted id", seed, i, id, off)
				}
			}
		default:
			c.EvictID(id)
			for k := range model {
				if k.id == id {
					delete(model, k)
				}
			}
		}
		if i%5000 == 0 {
			checkInvariants(t, c)
		}
	}
	checkInvariants(t, c)
}

func TestConcurrent(t *testing.T) {
	c := New(256 << 10)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			id := c.NewID()
			for i := range 20000 {
				off := uint64(rng.IntN(500))
				switch rng.IntN(10) {
				case 0, 1, 2:
					setCopy(c, id, off, fmt.Appendf(nil, "%d/%d", id, off))
				case 3:
					if i%100 == 0 {
						c.EvictID(id)
					}
				case 4:
					c.Stats()
				default:
					if v, ok := getCopy(c, id, off); ok && string(v) != fmt.Sprintf("%d/%d", id, off) {
						t.Errorf("Get(%d,%d) = %q", id, off, v)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, c)
}

func TestGetHitAllocs(t *testing.T) {
	c := New(1 << 20)
	id := c.NewID()
	setCopy(c, id, 7, []byte("block"))
	if n := testing.AllocsPerRun(1000, func() { c.Get(id, 7).Release() }); n != 0 {
		t.Fatalf("Get hit allocates %v times", n)
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := New(64 << 20)
	id := c.NewID()
	const n = 1024
	for i := range n {
		setCopy(c, id, uint64(i)*4096, make([]byte, 4096))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := getCopy(c, id, uint64(i%n)*4096); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkGetHitParallel(b *testing.B) {
	c := New(64 << 20)
	id := c.NewID()
	const n = 1024
	for i := range n {
		setCopy(c, id, uint64(i)*4096, make([]byte, 4096))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(n)
		for pb.Next() {
			getCopy(c, id, uint64(i%n)*4096)
			i++
		}
	})
}

func BenchmarkSet(b *testing.B) {
	c := New(4 << 20)
	id := c.NewID()
	v := make([]byte, 4096)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		setCopy(c, id, uint64(i)*4096, v)
	}
}

// setCopy caches a copy of b (test helper over Alloc/Set/Release).
func setCopy(c *Cache, id, off uint64, b []byte) {
	v := c.Alloc(len(b))
	copy(v.Buf(), b)
	c.Set(id, off, v)
	v.Release()
}

// getCopy returns a copy of the cached value (test helper over Get/Release).
func getCopy(c *Cache, id, off uint64) ([]byte, bool) {
	v := c.Get(id, off)
	if v == nil {
		return nil, false
	}
	b := append([]byte(nil), v.Buf()...)
	v.Release()
	return b, true
}

// TestValueLifetime: a Value evicted while held stays intact until its
// holder releases it, then its memory is reused (and poisoned in tests);
// slab memory is recycled within a size class.
func TestValueLifetime(t *testing.T) {
	c := New(slabMinCapacity)
	if c.alloc == nil {
		t.Fatal("a cache of slabMinCapacity should use the slab allocator")
	}
	v := c.Alloc(4000)
	for i := range v.Buf() {
		v.Buf()[i] = 7
	}
	c.Set(1, 0, v)
	held := c.Get(1, 0)
	v.Release()
	c.EvictID(1) // the cache drops its reference; held keeps the memory
	if c.Get(1, 0) != nil {
		t.Fatal("evicted value still cached")
	}
	for _, b := range held.Buf() {
		if b != 7 {
			t.Fatal("a held value changed after eviction")
		}
	}
	buf := held.Buf()
	held.Release()
	for _, b := range buf {
		if b != poisonByte {
			t.Fatal("released memory was not poisoned")
		}
	}
	// The slot is reused by the next allocation of the same class.
	w := c.Alloc(3990)
	if &w.Buf()[0] != &buf[0] {
		t.Fatal("freed slot not reused")
	}
	w.Release()
	if got := c.alloc.live; got != 0 {
		t.Fatalf("%d buffers outstanding", got)
	}
	big := c.Alloc(maxSlabSize + 1) // from the heap
	if big.alloc != nil {
		t.Fatal("oversized value from a slab")
	}
	big.Release()
	c.Close()
}

func TestConcurrentValues(t *testing.T) {
	c := New(slabMinCapacity)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				off := uint64(i % 300)
				if v := c.Get(uint64(g%2), off); v != nil {
					if v.Buf()[0] != byte(off) {
						t.Errorf("value of %d corrupted", off)
					}
					v.Release()
					continue
				}
				v := c.Alloc(4096 + int(off))
				v.Buf()[0] = byte(off)
				c.Set(uint64(g%2), off, v)
				v.Release()
			}
		}(g)
	}
	wg.Wait()
	c.Close()
}

// TestManySmallEntries fills shards with thousands of small entries, so
// that the hash tables grow and long probe runs form, then evicts, replaces
// and drops ids at random, checking every lookup against a model and the
// table invariants as it goes.
func TestManySmallEntries(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	c := New(numShards * 2000 * (8 + EntryOverhead)) // ~2000 entries per shard
	ids := []uint64{c.NewID(), c.NewID(), c.NewID()}
	model := map[key]string{}
	for i := range 200000 {
		id := ids[rng.IntN(len(ids))]
		off := uint64(rng.IntN(30000))
		switch r := rng.IntN(100); {
		case r < 50:
			v := fmt.Sprintf("%08d", i)
			setCopy(c, id, off, []byte(v))
			model[key{id, off}] = v
		case r < 99:
			if v, ok := getCopy(c, id, off); ok && string(v) != model[key{id, off}] {
				t.Fatalf("seed %d op %d: Get(%d,%d) = %q, want %q", seed, i, id, off, v, model[key{id, off}])
			}
		default:
			// Drops come in four windows, each followed by 25000 ops that
			// refill the cache before the count is checked at the end (a
			// window at the very end could empty it just before).
			if i%50000 > 24000 && i%50000 <= 25000 && rng.IntN(20) == 0 {
				c.EvictID(id)
				for k := range model {
					if k.id == id {
						delete(model, k)
					}
				}
			}
		}
		if i%20000 == 0 {
			checkInvariants(t, c)
		}
	}
	checkInvariants(t, c)
	if _, _, _, _, count := c.Stats(); count < numShards*500 {
		t.Fatalf("only %d entries cached", count)
	}
}

// BenchmarkEvictID measures dropping one table's blocks from a full 1 GiB
// cache of 4 KiB blocks (what deleting a table costs): one op is one
// EvictID of a table with 512 cached blocks, then caching them again.
func BenchmarkEvictID(b *testing.B) {
	const capacity, blockLen, perTable = 1 << 30, 4096, 512
	c := New(capacity)
	v := &Value{buf: make([]byte, blockLen)} // shared by every entry: only the frames matter
	v.refs.Store(1)
	n := capacity / (blockLen + EntryOverhead)
	ids := make([]uint64, n/perTable)
	for i := range ids {
		ids[i] = c.NewID()
		for j := range perTable {
			c.Set(ids[i], uint64(j)*blockLen, v)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := ids[i%len(ids)]
		c.EvictID(id)
		b.StopTimer()
		for j := range perTable {
			c.Set(id, uint64(j)*blockLen, v)
		}
		b.StartTimer()
	}
}

// TestValueReuse runs with reuse on (as outside test binaries): a released
// Value is handed out again by the next Alloc, so a cache miss allocates
// nothing, and under concurrent churn no holder ever sees another block's
// bytes.
func TestValueReuse(t *testing.T) {
	c := New(slabMinCapacity)
	c.alloc.poison = false
	v := c.Alloc(4096)
	v.Release()
	w := c.Alloc(100)
	if w != v || len(w.Buf()) != 100 || w.refs.Load() != 1 {
		t.Fatalf("released Value not reused as a fresh one: same %v, len %d, refs %d", w == v, len(w.Buf()), w.refs.Load())
	}
	w.Release()
	if n := testing.AllocsPerRun(1000, func() { c.Alloc(4096).Release() }); n != 0 {
		t.Fatalf("Alloc+Release allocates %v times with reuse on", n)
	}

	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 4000; i++ {
				id, off := uint64(g%2), uint64(i%500)
				if v := c.Get(id, off); v != nil {
					for _, b := range v.Buf() {
						if b != byte(off) {
							t.Errorf("block %d holds a byte %d of another block", off, b)
							break
						}
					}
					v.Release()
					continue
				}
				v := c.Alloc(4096 + int(off))
				for j := range v.Buf() {
					v.Buf()[j] = byte(off)
				}
				c.Set(id, off, v)
				v.Release()
				if i%997 == 0 {
					c.EvictID(id)
				}
			}
		}(g)
	}
	wg.Wait()
	c.Close()
}

// TestPopulateStopsAtLastSlot: a chunk is made resident only as far as the
// last buffer of its class that fits, not through the tail no buffer uses.
func TestPopulateStopsAtLastSlot(t *testing.T) {
	for _, n := range []int{4100, 16420, 40000, 64 << 10} {
		a := newSlabAllocator()
		cls := (n - 1) / classStep
		size := (cls + 1) * classStep
		fit := slabChunkSize / size
		a.mu.Lock()
		for i := 0; i < fit; i++ {
			a.allocLocked(n)
		}
		got := a.populated[cls]
		a.mu.Unlock()
		lo := fit * size
		hi := (lo + pageSize - 1) / pageSize * pageSize
		if got < lo || got > hi {
			t.Fatalf("%d-byte buffers (%d per chunk): populated %d bytes of the chunk, want %d..%d", n, fit, got, lo, hi)
		}
	}
}

// TestEvictIDs checks that EvictIDs drops exactly the entries of the ids it
// is given, in any order, and keeps the invariants.
func TestEvictIDs(t *testing.T) {
	c := New(64 << 20)
	v := &Value{buf: make([]byte, 512)}
	v.refs.Store(1)
	var ids []uint64
	for range 40 {
		ids = append(ids, c.NewID())
	}
	for _, id := range ids {
		for off := range uint64(50) {
			c.Set(id, off*4096, v)
		}
	}
	drop := []uint64{ids[30], ids[3], ids[17], ids[39], ids[0]}
	dropped := map[uint64]bool{}
	for _, id := range drop {
		dropped[id] = true
	}
	c.EvictIDs(drop)
	checkInvariants(t, c)
	for _, id := range ids {
		for off := range uint64(50) {
			got := c.Get(id, off*4096)
			if (got != nil) == dropped[id] {
				t.Fatalf("id %d off %d: cached %v after EvictIDs, want %v", id, off*4096, got != nil, !dropped[id])
			}
			if got != nil {
				got.Release()
			}
		}
	}
	c.EvictIDs(nil)
	var nilCache *Cache
	nilCache.EvictIDs(ids)
}
