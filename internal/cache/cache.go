// Package cache is the block cache shared by every open table: a byte-bounded
// map from (cache id, block offset) to a block's uncompressed contents.
//
// The cache is split into shards chosen by a hash of the key, each under its
// own mutex, so concurrent readers rarely contend. Each shard evicts with the
// CLOCK algorithm, an approximation of LRU: a hit only sets the entry's
// referenced bit (no list surgery, so hits on hot blocks write nothing shared
// beyond the shard's mutex), and eviction sweeps a hand around the circular
// list of entries, clearing referenced bits and evicting the first entry
// found unreferenced. New entries start unreferenced, so a block read once by
// a scan is evicted before blocks that were hit again.
// Each shard holds at most capacity/numShards bytes; an entry's charge is
// len(value) plus a fixed per-entry overhead.
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
	"runtime"
	"sync"
	"sync/atomic"
)

// numShards is the number of independent LRU shards (a power of two).
const numShards = 16

// EntryOverhead is the bytes charged per entry on top of len(value): the
// entry struct, its map slot and its id-index slot, approximately.
const EntryOverhead = 96

// key identifies a cached block.
type key struct {
	id, off uint64
}

// entry is a cached value, linked into its shard's clock ring and into the
// shard's list of entries with the same id.
type entry struct {
	key
	value      *Value
	charge     int64
	referenced bool
	// Clock ring (circular, doubly linked so removal is O(1)).
	prev, next *entry
	// Per-id list (nil-terminated, unordered).
	idPrev, idNext *entry
}

// shard is one CLOCK cache. hand is the next entry the eviction sweep looks
// at (nil when the shard is empty); new entries are inserted just behind it,
// so they are the last the sweep reaches.
type shard struct {
	_        [64]byte // keep shards on separate cache lines
	mu       sync.Mutex
	capacity int64
	size     int64
	entries  map[key]*entry
	byID     map[uint64]*entry // head of the per-id list
	hand     *entry
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
		s := &c.shards[i]
		s.capacity = per
		s.entries = make(map[key]*entry)
		s.byID = make(map[uint64]*entry)
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

// shardFor picks the shard of a key with a multiplicative hash of both halves.
func (c *Cache) shardFor(id, off uint64) *shard {
	h := id*0x9e3779b97f4a7c15 ^ off*0xc2b2ae3d27d4eb4f
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return &c.shards[h>>60&(numShards-1)]
}

// Alloc returns a Value of n bytes (contents undefined) holding one
// reference, the caller's. Blocks are decoded straight into it and then
// Set. Alloc works on a nil Cache too (from the Go heap).
func (c *Cache) Alloc(n int) *Value {
	v := &Value{}
	v.refs.Store(1)
	if c != nil && c.alloc != nil {
		if b := c.alloc.alloc(n); b != nil {
			v.buf, v.alloc = b, c.alloc
			return v
		}
	}
	v.buf = make([]byte, n)
	return v
}

// Get returns the value cached for (id, off), with a reference for the
// caller to Release, and marks it referenced; nil on a miss. Get does not
// allocate.
func (c *Cache) Get(id, off uint64) *Value {
	if c == nil {
		return nil
	}
	s := c.shardFor(id, off)
	s.mu.Lock()
	e, ok := s.entries[key{id, off}]
	if !ok {
		s.misses++
		s.mu.Unlock()
		return nil
	}
	s.hits++
	if !e.referenced {
		e.referenced = true
	}
	v := e.value
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
	s := c.shardFor(id, off)
	charge := int64(len(v.buf)) + EntryOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[key{id, off}]; ok {
		s.remove(old)
	}
	if charge > s.capacity {
		return
	}
	for s.size+charge > s.capacity && s.hand != nil {
		s.evictOne()
	}
	v.ref()
	e := &entry{key: key{id, off}, value: v, charge: charge}
	s.entries[e.key] = e
	s.insert(e)
	if h := s.byID[id]; h != nil {
		e.idNext = h
		h.idPrev = e
	}
	s.byID[id] = e
	s.size += charge
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
		for s.hand != nil {
			s.remove(s.hand)
		}
		s.mu.Unlock()
	}
	if c.alloc != nil {
		c.alloc.close()
	}
}

// EvictID drops every entry of id, e.g. when its table is closed or deleted.
func (c *Cache) EvictID(id uint64) {
	if c == nil || c.capacity == 0 {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for e := s.byID[id]; e != nil; e = s.byID[id] {
			s.remove(e)
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
		count += int64(len(s.entries))
		s.mu.Unlock()
	}
	return hits, misses, size, c.capacity, count
}

// evictOne advances the clock hand to the first unreferenced entry, clearing
// the referenced bits it passes, and removes that entry. s.mu must be held and
// the shard must not be empty.
func (s *shard) evictOne() {
	for s.hand.referenced {
		s.hand.referenced = false
		s.hand = s.hand.next
	}
	s.remove(s.hand)
}

// insert links e into the ring just behind the hand. s.mu must be held.
func (s *shard) insert(e *entry) {
	if s.hand == nil {
		e.prev, e.next = e, e
		s.hand = e
		return
	}
	e.next = s.hand
	e.prev = s.hand.prev
	e.prev.next = e
	s.hand.prev = e
}

// remove unlinks e from every structure of s. s.mu must be held.
func (s *shard) remove(e *entry) {
	if e.next == e {
		s.hand = nil
	} else {
		if s.hand == e {
			s.hand = e.next
		}
		e.prev.next = e.next
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
	if e.idPrev != nil {
		e.idPrev.idNext = e.idNext
	} else if e.idNext != nil {
		s.byID[e.id] = e.idNext
	} else {
		delete(s.byID, e.id)
	}
	if e.idNext != nil {
		e.idNext.idPrev = e.idPrev
	}
	e.idPrev, e.idNext = nil, nil
	delete(s.entries, e.key)
	s.size -= e.charge
	e.value.Release()
	e.value = nil
}
