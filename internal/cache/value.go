package cache

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// Value holds a block's contents in memory the cache manages. It is
// reference counted: Alloc returns a Value holding one reference (the
// caller's), Get returns one with a reference added for the caller, the
// cache holds one while the Value is cached, and the last Release gives
// the memory back to the allocator. Neither Buf nor the Value may be used
// after the caller's Release: the cache reuses released Values (outside
// test binaries) so that a cache miss does not allocate.
//
// Keeping block memory out of the Go heap is what lets a 64 MiB cache cost
// 64 MiB: the garbage collector neither scans it nor lets the heap grow by
// as much again before collecting, and a released block's memory is reused
// at once instead of being freed, scavenged and faulted in again.
type Value struct {
	buf   []byte
	refs  atomic.Int32
	alloc *slabAllocator // nil: buf is on the Go heap
}

// Buf returns the value's bytes (valid while the holder's reference is).
func (v *Value) Buf() []byte { return v.buf }

// Release drops a reference. It is safe on a nil Value.
func (v *Value) Release() {
	if v == nil {
		return
	}
	switch n := v.refs.Add(-1); {
	case n == 0:
		if v.alloc != nil {
			v.alloc.freeValue(v)
			return
		}
		if poisonFreed {
			poison(v.buf)
		}
		v.buf = nil
	case n < 0:
		panic("cache: Value released more times than referenced") // a bug, not bad data
	}
}

func (v *Value) ref() { v.refs.Add(1) }

// slabAllocator hands out buffers in size classes of classStep bytes, carved
// from chunks of slabChunkSize bytes (memory-mapped where supported, see
// allocChunk) and recycled through per-class free lists. Buffers larger
// than maxSlabSize come from the Go heap. Memory is returned to the system
// only when the allocator is closed with nothing outstanding. Classes are
// fine (64 bytes) because data blocks are cut just past the block size:
// with 512-byte classes, most 4 KiB blocks (4097-4300 bytes) took a
// 4608-byte slot, 12% of the cache's memory unused.
type slabAllocator struct {
	mu       sync.Mutex
	freeList [numClasses][][]byte
	carve    [numClasses][]byte // unused tail of each class's current chunk
	// The current chunk of each class and how much of it is populated: a
	// chunk is faulted in populateStep bytes at a time, ahead of carving, so
	// that a class using little of its chunk does not make the rest resident.
	carveChunk [numClasses][]byte
	populated  [numClasses]int
	chunks     []chunk
	live       int64 // buffers handed out and not freed
	// values are released Value headers for reuse (not in test binaries,
	// where a use after Release must find the Value emptied): a cache miss
	// would otherwise allocate one, 20 MB of garbage per 1M random reads
	// with a 64 MiB cache.
	values []*Value
	poison bool // fill freed buffers with poisonByte (test binaries)
	closed bool
}

// chunk is a slab of memory the allocator carves buffers from.
type chunk struct {
	buf    []byte
	mapped bool // from mmap (to be unmapped), not the Go heap
}

const (
	maxSpareValues = 1024
	classStep      = 64
	maxSlabSize    = 64 << 10
	numClasses     = maxSlabSize / classStep
	slabChunkSize  = 1 << 20
	populateStep   = 64 << 10 // a multiple of the page size
	// slabMinCapacity is the capacity from which a cache manages its own
	// block memory; smaller caches use the Go heap, where the collector's
	// overhead is small and a chunk per size class would be too much.
	slabMinCapacity = 16 << 20
	poisonByte      = 0xdb
)

// pageSize is the system's memory page size: populate works on whole pages.
var pageSize = os.Getpagesize()

// poisonFreed makes test binaries overwrite released block memory, so a
// use after Release shows up as garbage in tests instead of going unseen.
var poisonFreed = testing.Testing()

func poison(b []byte) {
	for i := range b {
		b[i] = poisonByte
	}
}

func newSlabAllocator() *slabAllocator {
	return &slabAllocator{poison: poisonFreed}
}

// newValue returns a Value of n bytes (contents undefined) holding one
// reference, or nil when n is too large for a slab (the caller uses the
// heap).
func (a *slabAllocator) newValue(n int) *Value {
	if n <= 0 || n > maxSlabSize {
		return nil
	}
	var v *Value
	a.mu.Lock()
	b := a.allocLocked(n)
	if k := len(a.values); k > 0 {
		v = a.values[k-1]
		a.values[k-1] = nil
		a.values = a.values[:k-1]
	}
	a.mu.Unlock()
	if v == nil {
		v = &Value{}
	}
	v.buf, v.alloc = b, a
	v.refs.Store(1)
	return v
}

// freeValue frees v's buffer and keeps v for reuse.
func (a *slabAllocator) freeValue(v *Value) {
	b := v.buf[:cap(v.buf)]
	v.buf = nil
	if a.poison {
		poison(b)
	}
	a.mu.Lock()
	a.freeLocked(b)
	if !a.poison && len(a.values) < maxSpareValues {
		a.values = append(a.values, v)
	}
	a.mu.Unlock()
}

// allocLocked returns a buffer of len n (contents undefined), 0 < n <=
// maxSlabSize.
func (a *slabAllocator) allocLocked(n int) []byte {
	cls := (n - 1) / classStep
	size := (cls + 1) * classStep
	a.live++
	if l := a.freeList[cls]; len(l) > 0 {
		b := l[len(l)-1]
		a.freeList[cls] = l[:len(l)-1]
		return b[:n]
	}
	if len(a.carve[cls]) < size {
		c := allocChunk(slabChunkSize)
		a.chunks = append(a.chunks, c)
		a.carve[cls] = c.buf[:len(c.buf)-len(c.buf)%size]
		a.carveChunk[cls], a.populated[cls] = c.buf, 0
	}
	b := a.carve[cls][:size:size]
	a.carve[cls] = a.carve[cls][size:]
	chunk := a.carveChunk[cls]
	if end := len(chunk) - cap(a.carve[cls]); end > a.populated[cls] {
		// Populate ahead, but not the chunk's tail that no buffer of this
		// class fits in (up to 12 KiB of each 1 MiB chunk for ~16 KiB
		// blocks, which would be resident for nothing).
		usable := len(chunk) - len(chunk)%size
		usable = (usable + pageSize - 1) / pageSize * pageSize
		next := min(usable, (end+populateStep-1)/populateStep*populateStep)
		populate(chunk[a.populated[cls]:next])
		a.populated[cls] = next
	}
	return b[:n]
}

// freeLocked returns b (at its full capacity) to its class's free list.
func (a *slabAllocator) freeLocked(b []byte) {
	cls := len(b)/classStep - 1
	a.freeList[cls] = append(a.freeList[cls], b)
	a.live--
	a.releaseIfDoneLocked()
}

// close marks the allocator closed; its chunks go back to the system as
// soon as no buffer is outstanding.
func (a *slabAllocator) close() {
	a.mu.Lock()
	a.closed = true
	a.releaseIfDoneLocked()
	a.mu.Unlock()
}

func (a *slabAllocator) releaseIfDoneLocked() {
	if !a.closed || a.live != 0 {
		return
	}
	for _, c := range a.chunks {
		freeChunk(c)
	}
	a.chunks = nil
	a.freeList = [numClasses][][]byte{}
	a.carve = [numClasses][]byte{}
	a.values = nil
}
