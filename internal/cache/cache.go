// Package cache is the block cache shared by every open table: a byte-bounded
// map from (cache id, block offset) to a block's uncompressed contents.
//
// The cache is split into shards chosen by a hash of the key, each under its
// own mutex, so concurrent readers rarely contend. Each shard evicts with the
// CLOCK algorithm, an approximation of LRU: a hit only sets the entry's
// referenced bit (no list surgery, so hits on hot blocks write nothing shared
// beyond the shard's mutex), and eviction sweeps a hand around the shard's
// frames, clearing referenced bits and evicting the first entry found
// unreferenced. New entries start unreferenced and take the frame the sweep
// just freed, behind the hand, so a block read once by a scan is evicted
// before blocks that were hit again.
// Each shard holds at most capacity/numShards bytes; an entry's charge is
// len(value) plus a fixed per-entry overhead.
//
// A shard keeps its entries in a slice of frames (no per-entry heap object,
// no pointers between entries) indexed by an open-addressing hash table of
// 64-bit slots, so that a lookup touches one slot and one frame, and an
// eviction moves the hand over adjacent frames instead of chasing links: on a
// read-heavy workload with a cache smaller than the data, every miss evicts,
// and the cost of a miss is mostly cache-line misses.
//
// Invariants:
//   - Values are immutable once Set: neither the cache nor its callers may
//     modify them. The cache never copies a value.
//   - Values are reference counted (see Value): Get hands the caller a
//     reference it must Release; eviction drops the cache's own reference,
//     so memory in use can exceed the capacity by what readers still hold,
//     and a block is freed only when its last holder lets go.
//   - Ids come from NewID, one per open table file, so the same file number
//     reused by another database sharing the cache never collides.
//   - A nil *Cache and a Cache of capacity 0 cache nothing: Get always misses
//     and Set does nothing; Alloc still works (from the Go heap).
//
// All methods are safe for concurrent use.
package cache

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// numShards is the number of independent CLOCK shards (a power of two).
const numShards = 16

// EntryOverhead is the bytes charged per entry on top of len(value): its
// frame, its share of the hash table and its Value header, approximately.
const EntryOverhead = 96

// key identifies a cached block.
type key struct {
	id, off uint64
}

// frame holds one cached entry (value != nil) or is free.
type frame struct {
	key
	value      *Value
	charge     uint32
	referenced bool
}

// Slots of a shard's hash table: 0 is empty; otherwise the low 32 bits are
// the frame index plus one and the high 32 bits the low 32 bits of the
// key's hash, whose low bits are also the slot's home position. The table is
// probed linearly and kept at most half full; deletion shifts later slots
// back (no tombstones).
const (
	slotEmpty    = 0
	minTableSize = 64
)

// shard is one CLOCK cache. hand is the index of the next frame the
// eviction sweep looks at.
type shard struct {
	_        [64]byte // keep shards on separate cache lines
	mu       sync.Mutex
	capacity int64
	size     int64
	frames   []frame
	free     []int32 // indices of free frames; the last is reused first
	table    []uint64
	hand     int
	hits     int64
	misses   int64
}

// Cache is a sharded, byte-bounded CLOCK (approximate LRU) block cache. See the package comment.
type Cache struct {
	capacity int64
	nextID   atomic.Uint64
	alloc    *slabAllocator
	shards   [numShards]shard
}

// New returns a cache holding up to capacity bytes (values plus
// EntryOverhead per entry). A capacity <= 0 caches nothing.
func New(capacity int64) *Cache {
	if capacity < 0 {
		capacity = 0
	}
	c := &Cache{capacity: capacity}
	if capacity >= slabMinCapacity {
		c.alloc = newSlabAllocator()
		// A cache dropped without Close still returns its memory.
		runtime.AddCleanup(c, func(a *slabAllocator) { a.close() }, c.alloc)
	}
	per := capacity / numShards
	if capacity > 0 && per == 0 {
		per = 1
	}
	for i := range c.shards {
		c.shards[i].capacity = per
	}
	return c
}

// NewID returns an id never returned before by this cache (ids start at 1).
// Give each open table its own id. A nil cache returns 0.
func (c *Cache) NewID() uint64 {
	if c == nil {
		return 0
	}
	return c.nextID.Add(1)
}

// hash mixes both halves of a key. Its top bits pick the shard, its low
// bits the home slot in the shard's table.
func hash(id, off uint64) uint64 {
	h := id*0x9e3779b97f4a7c15 ^ off*0xc2b2ae3d27d4eb4f
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// shardFor returns the shard of a key and the key's hash.
func (c *Cache) shardFor(id, off uint64) (*shard, uint64) {
	h := hash(id, off)
	return &c.shards[h>>60&(numShards-1)], h
}

// Alloc returns a Value of n bytes (contents undefined) holding one
// reference, the caller's. Blocks are decoded straight into it and then
// Set. Alloc works on a nil Cache too (from the Go heap).
func (c *Cache) Alloc(n int) *Value {
	if c != nil && c.alloc != nil {
		if v := c.alloc.newValue(n); v != nil {
			return v
		}
	}
	v := &Value{buf: make([]byte, n)}
	v.refs.Store(1)
	return v
}

// Get returns the value cached for (id, off), with a reference for the
// caller to Release, and marks it referenced; nil on a miss. Get does not
// allocate.
func (c *Cache) Get(id, off uint64) *Value {
	if c == nil {
		return nil
	}
	s, h := c.shardFor(id, off)
	s.mu.Lock()
	_, fi := s.find(id, off, h)
	if fi < 0 {
		s.misses++
		s.mu.Unlock()
		return nil
	}
	s.hits++
	f := &s.frames[fi]
	if !f.referenced {
		f.referenced = true
	}
	v := f.value
	v.ref()
	s.mu.Unlock()
	return v
}

// Set caches v under (id, off), replacing any previous value, and evicts
// entries of the shard (by CLOCK) until it fits. The cache takes its own
// reference; the caller keeps (and must still Release) theirs. A value
// larger than a shard's capacity is not cached.
func (c *Cache) Set(id, off uint64, v *Value) {
	if c == nil || c.capacity == 0 {
		return
	}
	s, h := c.shardFor(id, off)
	charge := int64(len(v.buf)) + EntryOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot, fi := s.find(id, off, h); fi >= 0 {
		s.remove(slot, fi)
	}
	if charge > s.capacity || charge > math.MaxUint32 {
		return
	}
	for s.size+charge > s.capacity && s.live() > 0 {
		s.evictOne()
	}
	v.ref()
	var fi int
	if n := len(s.free); n > 0 {
		fi = int(s.free[n-1])
		s.free = s.free[:n-1]
	} else {
		fi = len(s.frames)
		s.frames = append(s.frames, frame{})
	}
	s.frames[fi] = frame{key: key{id, off}, value: v, charge: uint32(charge)}
	s.size += charge
	if 2*s.live() > len(s.table) {
		s.grow()
	}
	s.insertSlot(h, fi)
}

// EvictID drops every entry of id, e.g. when its table is closed or
// deleted. It scans the frames of every shard: about 0.2 ms per GiB of
// capacity (BenchmarkEvictID), paid once per deleted table, in exchange for entries that carry
// no per-id links to maintain on every insert and eviction.
func (c *Cache) EvictID(id uint64) {
	if c == nil || c.capacity == 0 {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for fi := range s.frames {
			if f := &s.frames[fi]; f.value != nil && f.id == id {
				slot, _ := s.find(id, f.off, hash(id, f.off))
				s.remove(slot, fi)
			}
		}
		s.mu.Unlock()
	}
}

// EvictIDs drops every entry of every id in ids, in one pass over the
// frames of each shard (EvictID once per id would scan them once per id:
// closing a database of 628 tables took ~70 ms that way with a 128 MiB
// cache). ids may be in any order and is sorted in place.
func (c *Cache) EvictIDs(ids []uint64) {
	if c == nil || c.capacity == 0 || len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	lo, hi := ids[0], ids[len(ids)-1]
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for fi := range s.frames {
			f := &s.frames[fi]
			if f.value == nil || f.id < lo || f.id > hi {
				continue
			}
			if _, ok := slices.BinarySearch(ids, f.id); ok {
				slot, _ := s.find(f.id, f.off, hash(f.id, f.off))
				s.remove(slot, fi)
			}
		}
		s.mu.Unlock()
	}
}

// Stats reports the cache's counters: lookups that hit and missed, bytes
// charged now, the capacity, and the number of entries.
func (c *Cache) Stats() (hits, misses, size, capacity, count int64) {
	if c == nil {
		return 0, 0, 0, 0, 0
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		hits += s.hits
		misses += s.misses
		size += s.size
		count += int64(s.live())
		s.mu.Unlock()
	}
	return hits, misses, size, c.capacity, count
}

// live returns the number of frames in use. s.mu must be held.
func (s *shard) live() int { return len(s.frames) - len(s.free) }

// find returns the table slot and frame index of (id, off), or -1, -1.
// s.mu must be held.
func (s *shard) find(id, off, h uint64) (slot, fi int) {
	if len(s.table) == 0 {
		return -1, -1
	}
	mask := len(s.table) - 1
	tag := uint64(uint32(h))
	for i := int(h) & mask; ; i = (i + 1) & mask {
		e := s.table[i]
		if e == slotEmpty {
			return -1, -1
		}
		if e>>32 == tag {
			fi := int(uint32(e)) - 1
			if f := &s.frames[fi]; f.off == off && f.id == id {
				return i, fi
			}
		}
	}
}

// insertSlot puts frame fi, whose key hashes to h, into the table (which
// has room). s.mu must be held.
func (s *shard) insertSlot(h uint64, fi int) {
	mask := len(s.table) - 1
	i := int(h) & mask
	for s.table[i] != slotEmpty {
		i = (i + 1) & mask
	}
	s.table[i] = uint64(uint32(h))<<32 | uint64(fi+1)
}

// grow doubles the table (or makes the first one) and reinserts every
// entry. s.mu must be held.
func (s *shard) grow() {
	old := s.table
	s.table = make([]uint64, max(minTableSize, 2*len(old)))
	mask := len(s.table) - 1
	for _, e := range old {
		if e == slotEmpty {
			continue
		}
		i := int(e>>32) & mask
		for s.table[i] != slotEmpty {
			i = (i + 1) & mask
		}
		s.table[i] = e
	}
}

// evictOne advances the clock hand to the first unreferenced entry, clearing
// the referenced bits it passes, and removes that entry. s.mu must be held and
// the shard must not be empty.
func (s *shard) evictOne() {
	for {
		if s.hand >= len(s.frames) {
			s.hand = 0
		}
		f := &s.frames[s.hand]
		if f.value != nil {
			if !f.referenced {
				break
			}
			f.referenced = false
		}
		s.hand++
	}
	fi := s.hand
	s.hand++
	f := &s.frames[fi]
	slot, _ := s.find(f.id, f.off, hash(f.id, f.off))
	s.remove(slot, fi)
}

// remove drops the entry in frame fi, found at table slot slot. s.mu must
// be held.
func (s *shard) remove(slot, fi int) {
	f := &s.frames[fi]
	s.size -= int64(f.charge)
	f.value.Release()
	*f = frame{}
	s.free = append(s.free, int32(fi))
	// Backward-shift deletion: move later slots of the probe run into the
	// hole when their home position allows it.
	mask := len(s.table) - 1
	hole := slot
	for i := (slot + 1) & mask; ; i = (i + 1) & mask {
		e := s.table[i]
		if e == slotEmpty {
			break
		}
		home := int(e>>32) & mask
		// e may move to hole if home is not in the cyclic range (hole, i].
		if (i-home)&mask >= (i-hole)&mask {
			s.table[hole] = e
			hole = i
		}
	}
	s.table[hole] = slotEmpty
}

// Close drops every entry. Block memory goes back to the system once the
// last outstanding Value is released. The cache must not be used after.
func (c *Cache) Close() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for fi := range s.frames {
			if f := &s.frames[fi]; f.value != nil {
				f.value.Release()
			}
		}
		s.frames, s.free, s.table = nil, nil, nil
		s.size, s.hand = 0, 0
		s.mu.Unlock()
	}
	if c.alloc != nil {
		c.alloc.close()
	}
}
