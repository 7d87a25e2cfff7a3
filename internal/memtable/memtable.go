package memtable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/rangedel"
)

// ErrArenaFull is returned by Add when the entry does not fit in the space
// left in the arena. Nothing was inserted and the MemTable is unchanged; the
// caller rotates to a new MemTable.
var ErrArenaFull = errors.New("memtable: arena full")

// ErrRecordExists is returned by Add when the MemTable already holds an entry
// with the same user key and sequence number. Nothing was inserted, but the
// arena space reserved for the entry may stay used (it is never reclaimed).
var ErrRecordExists = errors.New("memtable: entry with this user key and sequence already exists")

// ErrMergeLimit is returned by AddMerge when the key's entries older than
// the operand begin with the limit's count of merge operands in a row.
// Nothing was inserted, and no arena space was used.
var ErrMergeLimit = errors.New("memtable: too many successive merge operands")

const (
	// maxHeight bounds tower heights; with p = 1/e it serves e^20 (485M)
	// entries, more than a 4 GiB arena holds.
	maxHeight = 20

	// Word indexes of the node header fields from the node's offset (see
	// the package doc); the key follows the header.
	wKeyLen     = 0
	wValLen     = 1
	wHeight     = 2
	wPrev       = 3
	wSkip       = 4
	headerBytes = 20

	// headOff is the head node's offset, after the nil word at 0 and the
	// head's full tower; offset 0 is the nil node.
	headOff = 4 + 4*maxHeight
	// entriesOff is where entry nodes start: after the head's header.
	entriesOff = headOff + headerBytes

	// maxArenaSize keeps every node end offset representable in a uint32
	// (and the arena's byte length in an int on 32-bit platforms).
	maxArenaSize = min(math.MaxUint32, math.MaxInt) - entriesOff - 7
)

// MemTable is a concurrent skiplist of internal keys and values in a fixed
// arena. See the package doc for the layout, invariants and concurrency.
type MemTable struct {
	// Read-only after New, or read-mostly (height).
	words     []uint32 // the arena as words: headers and towers
	buf       []byte   // the same memory as bytes: keys and values
	limit     uint32   // end offset of the usable arena
	arenaSize int
	cmp       *base.Comparer
	ucmp      func(a, b []byte) int
	bytewise  bool         // ucmp is bytes.Compare: call it directly
	height    atomic.Int32 // tallest tower linked (or being linked), >= 1

	_ [64]byte // keep the write-hot counters off the read-mostly line

	end   atomic.Uint32 // end offset of allocated space
	count atomic.Int64  // entries linked

	touchSink atomic.Uint32 // see findSplice

	arena *arena // the arena's mapping, when it is not on the Go heap

	// Range tombstones live beside the skiplist, on the Go heap (copies):
	// rdTombs under rdMu; rdSet their fragments, nil when stale (rebuilt
	// by RangeDels); rdCount and rdBytes for the accounting.
	rdMu    sync.Mutex
	rdTombs []rangedel.Tombstone
	rdSet   atomic.Pointer[rangedel.Set]
	rdCount atomic.Int64
	rdBytes atomic.Int64
}

// Release gives the arena's memory back for reuse. After Release the
// MemTable, its iterators and every key or value slice it handed out must
// not be used: the caller (the DB, which reference-counts memtables) must
// be sure no reader is left. Without Release the memory is reclaimed when
// the MemTable is garbage collected.
func (m *MemTable) Release() {
	m.arena.release(int(m.end.Load()))
}

// New returns an empty MemTable ordering user keys by cmp, whose arena holds
// arenaSize bytes of entries (see EstimateEntrySize); the arena, plus a
// fixed ~100-byte head, is allocated up front. arenaSize is clamped to
// [0, ~4 GiB) since nodes are addressed by uint32 offsets.
func New(cmp *base.Comparer, arenaSize int) *MemTable {
	arenaSize = max(arenaSize, 0)
	if uint64(arenaSize) > maxArenaSize {
		arenaSize = maxArenaSize
	}
	limit := uint64(entriesOff) + uint64(arenaSize)
	m := &MemTable{
		limit:     uint32(limit),
		arenaSize: arenaSize,
		cmp:       cmp,
		ucmp:      cmp.Compare,
		bytewise:  cmp == base.DefaultComparer,
	}
	m.words = allocArena(m, int((limit+3)/4))
	m.buf = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(m.words))), len(m.words)*4)
	m.words[headOff/4+wHeight] = maxHeight
	m.words[headOff/4+wPrev] = headOff
	m.height.Store(1)
	m.end.Store(entriesOff)
	return m
}

// EstimateEntrySize returns an upper bound on the arena bytes Add uses for an
// entry with a user key of ukeyLen bytes and a value of valueLen bytes: if
// the estimates of a set of entries sum to at most ArenaSize() -
// ApproximateMemoryUsage(), they all fit (absent concurrent writers). It
// assumes the tallest tower, so it overstates a typical entry by ~75 bytes.
func EstimateEntrySize(ukeyLen, valueLen int) int {
	return int(nodeSize(maxHeight, uint64(max(ukeyLen, 0))+base.TrailerLen+uint64(max(valueLen, 0))))
}

// nodeSize is the arena footprint of a node of height h whose key and value
// together take kv bytes.
func nodeSize(h int, kv uint64) uint64 {
	return 4*uint64(h) + (headerBytes+kv+3)&^3
}

// ArenaSize returns the arena capacity for entries given to New (after
// clamping).
func (m *MemTable) ArenaSize() int { return m.arenaSize }

// ApproximateMemoryUsage returns the arena bytes taken by entries so far
// (excluding the fixed head; including space of Adds that failed with
// ErrRecordExists), plus the bytes of the range tombstones, which are held
// outside the arena. ArenaSize() minus the arena part is the space
// EstimateEntrySize is measured against.
func (m *MemTable) ApproximateMemoryUsage() uint64 {
	return uint64(m.end.Load()-entriesOff) + uint64(m.rdBytes.Load())
}

// Len returns the number of point entries inserted (range tombstones not
// counted: see RangeDelCount).
func (m *MemTable) Len() int { return int(m.count.Load()) }

// Empty reports whether nothing, no entry and no range tombstone, has been
// inserted.
func (m *MemTable) Empty() bool { return m.count.Load() == 0 && m.rdCount.Load() == 0 }

// RangeDelCount returns the number of range tombstones inserted.
func (m *MemTable) RangeDelCount() int { return int(m.rdCount.Load()) }

// rangeDelOverhead approximates the memory a range tombstone takes beside
// its keys (its slot, two slice headers, its share of the fragments).
const rangeDelOverhead = 96

// AddRangeDel inserts the range tombstone [start, end)#seq, copying the
// keys. It is safe for concurrent use with readers and other inserts. An
// empty range (start >= end) is kept, and deletes nothing.
func (m *MemTable) AddRangeDel(seq uint64, start, end []byte) error {
	if seq > base.MaxSeq {
		return fmt.Errorf("memtable: sequence %d exceeds the maximum %d", seq, base.MaxSeq)
	}
	t := rangedel.Tombstone{Start: bytes.Clone(start), End: bytes.Clone(end), Seq: seq}
	if t.Start == nil {
		t.Start = []byte{}
	}
	if t.End == nil {
		t.End = []byte{}
	}
	m.rdMu.Lock()
	m.rdTombs = append(m.rdTombs, t)
	m.rdSet.Store(nil)
	m.rdMu.Unlock()
	m.rdBytes.Add(int64(len(start) + len(end) + rangeDelOverhead))
	m.rdCount.Add(1)
	return nil
}

// RangeDels returns the range tombstones inserted so far, fragmented (nil
// when there are none). A reader filters them by sequence
// (rangedel.Set.Covering), as it does entries.
func (m *MemTable) RangeDels() *rangedel.Set {
	if m.rdCount.Load() == 0 {
		return nil
	}
	if s := m.rdSet.Load(); s != nil {
		return s
	}
	m.rdMu.Lock()
	defer m.rdMu.Unlock()
	if s := m.rdSet.Load(); s != nil {
		return s
	}
	s := rangedel.NewSet(m.ucmp, m.rdTombs)
	if s == nil {
		s = &rangedel.Set{} // only empty ranges: a set that covers nothing
	}
	m.rdSet.Store(s)
	return s
}

// Comparer returns the user-key comparer the MemTable orders by.
func (m *MemTable) Comparer() *base.Comparer { return m.cmp }

// heightP is the probability that a tower reaches one level more. Pebble's
// arenaskl uses 1/e too; against 1/4, a memtable of 1M random 16-byte keys
// takes 10-17% less CPU per insert (BenchmarkAddMergeRandom, 3 alternating
// runs under load: 2521 -> 2095 cpu-ns/op, medians).
const heightP = 1 / math.E

// heightThresholds[k-1] is P(h > k) = heightP^k scaled to 2^32: a tower of
// height k grows a level more when a uniform uint32 is below it.
var heightThresholds = func() (t [maxHeight]uint32) {
	p := 1.0
	for i := range t {
		p *= heightP
		t[i] = uint32(p * (1 << 32))
	}
	return t
}()

// randomHeight draws a tower height, 1..maxHeight, with P(h > k) =
// heightP^k.
func randomHeight() int {
	r := rand.Uint32()
	h := 1
	for h < maxHeight && r < heightThresholds[h-1] {
		h++
	}
	return h
}

// alloc reserves a node of height h (lowered, down to 1, when only a shorter
// tower fits) for kv bytes of key and value. It returns the node's offset
// (past its tower) and its final height.
func (m *MemTable) alloc(h int, kv uint64) (uint32, int, error) {
	for {
		cur := m.end.Load()
		avail := uint64(m.limit - cur)
		size := nodeSize(h, kv)
		if size > avail {
			bare := nodeSize(0, kv)
			if bare+4 > avail {
				return 0, 0, ErrArenaFull
			}
			h = int((avail - bare) / 4)
			size = nodeSize(h, kv)
		}
		if m.end.CompareAndSwap(cur, cur+uint32(size)) {
			return cur + 4*uint32(h), h, nil
		}
	}
}

// Node accessors. Header words are written before publication and never
// again, so plain reads are ordered by the atomic load that found the node.
// The tower grows down from the node's offset: next[level] is the word
// level+1 words before it.

func (m *MemTable) next(nd uint32, level int) uint32 {
	return atomic.LoadUint32(&m.words[nd/4-1-uint32(level)])
}

func (m *MemTable) setNext(nd uint32, level int, v uint32) {
	atomic.StoreUint32(&m.words[nd/4-1-uint32(level)], v)
}

func (m *MemTable) casNext(nd uint32, level int, old, v uint32) bool {
	return atomic.CompareAndSwapUint32(&m.words[nd/4-1-uint32(level)], old, v)
}

func (m *MemTable) prev(nd uint32) uint32 {
	return atomic.LoadUint32(&m.words[nd/4+wPrev])
}

// skip returns nd's version link: an older entry of nd's user key with
// only entries of that user key between them, or 0 (see the package doc).
func (m *MemTable) skip(nd uint32) uint32 {
	return m.words[nd/4+wSkip]
}

// versionLink is the skip word of a node linked just before next, whose
// comparison against the node's key is nc: next itself or the entry next
// links to when next holds the same user key (nc == -1: the new key sorts
// first, its user key equal), else 0.
func (m *MemTable) versionLink(next uint32, nc int) uint32 {
	if nc != -1 {
		return 0
	}
	if s := m.skip(next); s != 0 {
		return s
	}
	return next
}

// key returns the internal key of nd (never the head). Its address does
// not depend on anything loaded from the node, so the loads of the key and
// of its length go out together (one cache miss, not two in a row, when
// they sit on different lines).
func (m *MemTable) key(nd uint32) []byte {
	ko := nd + headerBytes
	ke := ko + m.words[nd/4+wKeyLen]
	return m.buf[ko:ke:ke]
}

// value returns the value of nd (never the head).
func (m *MemTable) value(nd uint32) []byte {
	w := nd / 4
	vo := nd + headerBytes + m.words[w+wKeyLen]
	ve := vo + m.words[w+wValLen]
	return m.buf[vo:ve:ve]
}

// compare orders the search key (ukey, trailer) against node nd (never the
// head). It returns -2 or +2 when the user keys differ, and -1, 0 or +1
// from the trailers when they are equal (a larger trailer sorts first). A
// negative result means the search key sorts before nd.
func (m *MemTable) compare(ukey []byte, trailer uint64, nd uint32) int {
	k := m.key(nd)
	n := len(k) - base.TrailerLen
	var c int
	if m.bytewise {
		c = bytes.Compare(ukey, k[:n])
	} else {
		c = m.ucmp(ukey, k[:n])
	}
	switch {
	case c < 0:
		return -2
	case c > 0:
		return 2
	}
	t := binary.LittleEndian.Uint64(k[n:])
	switch {
	case trailer > t:
		return -1
	case trailer < t:
		return 1
	}
	return 0
}

// seekLevel walks level from prev (which sorts before the search key; pc is
// the comparison of the key against it, 2 for the head) to the splice
// prev < key <= next. nc is the comparison against next (-2 if next is nil);
// nc == 0 means next is equal to the key.
func (m *MemTable) seekLevel(ukey []byte, trailer uint64, level int, prev uint32, pc int) (p uint32, pcOut int, next uint32, nc int) {
	for {
		next = m.next(prev, level)
		if next == 0 {
			return prev, pc, 0, -2
		}
		c := m.compare(ukey, trailer, next)
		if c <= 0 {
			return prev, pc, next, c
		}
		prev, pc = next, c
	}
}

// findSplice walks the levels below top from the head to the splice of
// (ukey, trailer), recording it in spl and nexts for the levels below h
// (which may be nil when h is 0).
// It returns the level-0 splice as seekLevel does; nc == 0 means an equal
// key was met (at any level), and spl and nexts are then incomplete.
//
// A node reached at a level is compared once, not again when it is also
// the successor one level down. And while it compares a successor, it
// loads the header of the predecessor's successor one level down, which
// the search compares first if it descends there: that miss overlaps with
// the comparison's instead of following it.
func (m *MemTable) findSplice(ukey []byte, trailer uint64, top, h int, spl, nexts *[maxHeight]uint32) (prev uint32, pc int, next uint32, nc int) {
	prev, pc = headOff, 2
	var lastNode uint32 // the node last compared, and its result
	lastC := 0
	var touched uint32
	for l := top - 1; l >= 0; l-- {
		for {
			next = m.next(prev, l)
			if next == 0 {
				nc = -2
				break
			}
			if l > 0 {
				if d := m.next(prev, l-1); d != next {
					touched += m.words[d/4+wKeyLen]
				}
			}
			c := lastC
			if next != lastNode {
				c = m.compare(ukey, trailer, next)
				lastNode, lastC = next, c
			}
			if c <= 0 {
				nc = c
				break
			}
			prev, pc = next, c
		}
		if nc == 0 {
			break
		}
		if l < h {
			spl[l], nexts[l] = prev, next
		}
	}
	if touched == 1 {
		// Never in practice (a key length is at least 8, and rarely
		// sums to 1): it only keeps the loads above from being dropped.
		m.touchSink.Add(1)
	}
	return prev, pc, next, nc
}

// sameSeq reports whether neighbour nd, whose user key equals the search
// key's (|comparison| == 1), also has sequence seq.
func (m *MemTable) sameSeq(nd uint32, c int, seq uint64) bool {
	if c != 1 && c != -1 {
		return false
	}
	k := m.key(nd)
	return binary.LittleEndian.Uint64(k[len(k)-base.TrailerLen:])>>8 == seq
}

// Add inserts the entry (ukey, seq, kind) -> value, copying ukey and value
// into the arena. It is safe for concurrent use with Add, Get and iterators.
// It returns ErrArenaFull when the entry does not fit, ErrRecordExists when
// an entry with the same ukey and seq is present, and an error for seq >
// base.MaxSeq or a kind other than a point entry's (Set, Delete, Merge); in
// every error case nothing is inserted.
// Add does not allocate on the heap.
func (m *MemTable) Add(seq uint64, kind base.Kind, ukey, value []byte) error {
	return m.add(seq, kind, ukey, value, 0)
}

// AddMerge is Add of the merge operand (ukey, seq) -> value, unless ukey's
// entries older than seq begin with limit merge operands in a row (limit >
// 0; what SuccessiveMerges counts when seq is the newest): then it inserts
// nothing and returns ErrMergeLimit. The count costs no search of its own:
// it reads the entries after the place the operand's search finds.
func (m *MemTable) AddMerge(seq uint64, ukey, value []byte, limit int) error {
	return m.add(seq, base.KindMerge, ukey, value, limit)
}

// add is Add, and with limit > 0 AddMerge.
func (m *MemTable) add(seq uint64, kind base.Kind, ukey, value []byte, limit int) error {
	if seq > base.MaxSeq {
		return fmt.Errorf("memtable: sequence %d exceeds the maximum %d", seq, base.MaxSeq)
	}
	if kind != base.KindSet && kind != base.KindDelete && kind != base.KindMerge {
		return fmt.Errorf("memtable: kind %s is not a point entry's", kind)
	}
	trailer := base.MakeTrailer(seq, kind)
	kv := uint64(len(ukey)) + base.TrailerLen + uint64(len(value))
	// The node is allocated after the search, at this height or, when
	// only a shorter tower fits, lower (its upper splices then go unused).
	h := randomHeight()

	// Raise the list height first so that searches see every level that a
	// node may be linked at (higher levels unused by a search are harmless).
	top := int(m.height.Load())
	for top < h {
		if m.height.CompareAndSwap(int32(top), int32(h)) {
			top = h
			break
		}
		top = int(m.height.Load())
	}

	// Find the splice at every level, from the top down.
	var spl [maxHeight]uint32 // spl[l] = predecessor at level l
	var nexts [maxHeight]uint32
	prev, pc, next, nc := m.findSplice(ukey, trailer, top, h, &spl, &nexts)
	if nc == 0 {
		return ErrRecordExists
	}
	if limit > 0 && m.mergesFrom(ukey, next, nc, limit) >= limit {
		return ErrMergeLimit
	}

	nd, h, err := m.alloc(h, kv)
	if err != nil {
		return err
	}
	w := nd / 4
	m.words[w+wKeyLen] = uint32(len(ukey) + base.TrailerLen)
	m.words[w+wValLen] = uint32(len(value))
	m.words[w+wHeight] = uint32(h)
	ko := nd + headerBytes
	copy(m.buf[ko:], ukey)
	binary.LittleEndian.PutUint64(m.buf[ko+uint32(len(ukey)):], trailer)
	copy(m.buf[ko+uint32(len(ukey))+base.TrailerLen:], value)

	// Link level 0: this publishes the node.
	for {
		if nc == 0 || m.sameSeq(prev, pc, seq) || m.sameSeq(next, nc, seq) {
			return ErrRecordExists
		}
		m.setNext(nd, 0, next)
		atomic.StoreUint32(&m.words[w+wPrev], prev)
		m.words[w+wSkip] = m.versionLink(next, nc)
		if m.casNext(prev, 0, next, nd) {
			break
		}
		prev, pc, next, nc = m.seekLevel(ukey, trailer, 0, prev, pc)
	}
	m.count.Add(1)
	if next != 0 {
		m.raisePrev(next, prev, nd, ukey, trailer)
	}

	// Link the upper levels. The node is already visible; these only speed
	// up searches.
	for l := 1; l < h; l++ {
		prev, next := spl[l], nexts[l]
		for {
			m.setNext(nd, l, next)
			if m.casNext(prev, l, next, nd) {
				break
			}
			prev, _, next, nc = m.seekLevel(ukey, trailer, l, prev, 2)
			if nc == 0 {
				// Unreachable: an equal key would have failed level 0. Leave
				// the tower shorter rather than link a duplicate.
				return nil
			}
		}
	}
	return nil
}

// raisePrev moves next's prev hint forward to nd, the node just linked
// between prev and next, unless a racing insert already set a hint that is
// closer to next than nd.
func (m *MemTable) raisePrev(next, prev, nd uint32, ukey []byte, trailer uint64) {
	p := &m.words[next/4+wPrev]
	if atomic.CompareAndSwapUint32(p, prev, nd) {
		return
	}
	for {
		cur := atomic.LoadUint32(p)
		if cur == nd || (cur != headOff && m.compare(ukey, trailer, cur) < 0) {
			return
		}
		if atomic.CompareAndSwapUint32(p, cur, nd) {
			return
		}
	}
}

// findGE returns the first node whose key is >= (ukey, trailer) (0 if none)
// and the comparison of the search key against it (-2 when nil): the
// level-0 successor of findSplice's search, or the equal node it met.
func (m *MemTable) findGE(ukey []byte, trailer uint64) (uint32, int) {
	_, _, next, nc := m.findSplice(ukey, trailer, int(m.height.Load()), 0, nil, nil)
	return next, nc
}

// findLT returns the last node whose key is < (ukey, trailer), or headOff.
func (m *MemTable) findLT(ukey []byte, trailer uint64) uint32 {
	prev := uint32(headOff)
	var lastNode uint32
	lastC := 0
	for l := int(m.height.Load()) - 1; l >= 0; l-- {
		for {
			next := m.next(prev, l)
			if next == 0 {
				break
			}
			c := lastC
			if next != lastNode {
				c = m.compare(ukey, trailer, next)
				lastNode, lastC = next, c
			}
			if c <= 0 {
				break
			}
			prev = next
		}
	}
	return prev
}

// findLast returns the last node, or headOff when the table is empty.
func (m *MemTable) findLast() uint32 {
	prev := uint32(headOff)
	for l := int(m.height.Load()) - 1; l >= 0; l-- {
		for {
			next := m.next(prev, l)
			if next == 0 {
				break
			}
			prev = next
		}
	}
	return prev
}

// findPrev returns the node before nd on level 0 (headOff if nd is first),
// starting from nd's prev hint and walking forward.
func (m *MemTable) findPrev(nd uint32) uint32 {
	p := m.prev(nd)
	for {
		n := m.next(p, 0)
		if n == nd {
			return p
		}
		if n == 0 {
			// Unreachable while the hint invariant holds; fall back to a
			// search rather than loop or return a wrong node.
			k := m.key(nd)
			n := len(k) - base.TrailerLen
			return m.findLT(k[:n], binary.LittleEndian.Uint64(k[n:]))
		}
		p = n
	}
}

// Get returns the newest entry for ukey with sequence <= seq (seq above
// base.MaxSeq means MaxSeq). ok is false when there is none; otherwise kind
// tells a value (base.KindSet) from a tombstone (base.KindDelete) and value
// is the value given to Add. value aliases the arena. Get does not allocate and is safe
// for concurrent use.
func (m *MemTable) Get(ukey []byte, seq uint64) (value []byte, kind base.Kind, ok bool) {
	value, _, kind, ok = m.GetEntry(ukey, seq)
	return value, kind, ok
}

// SuccessiveMerges returns how many merge operands ukey's newest entries
// are, in a row, counting at most limit: the operands a read of ukey would
// fold here before reaching a value, a deletion, or older data.
func (m *MemTable) SuccessiveMerges(ukey []byte, limit int) int {
	nd, c := m.findGE(ukey, base.MakeTrailer(base.MaxSeq, base.KindMax))
	return m.mergesFrom(ukey, nd, c, limit)
}

// mergesFrom counts, up to limit, the merge operands of ukey in a row on
// level 0 from nd, whose comparison against ukey is c (from a search:
// |c| <= 1 when nd holds ukey; nd 0 for none).
func (m *MemTable) mergesFrom(ukey []byte, nd uint32, c int, limit int) int {
	n := 0
	for nd != 0 && c >= -1 && c <= 1 && n < limit {
		k := m.key(nd)
		if base.Kind(binary.LittleEndian.Uint64(k[len(k)-base.TrailerLen:])&0xff) != base.KindMerge {
			break
		}
		n++
		nd = m.next(nd, 0)
		if nd != 0 {
			c = m.compare(ukey, 0, nd)
		}
	}
	return n
}

// GetEntry is Get that also returns the entry's sequence number.
func (m *MemTable) GetEntry(ukey []byte, seq uint64) (value []byte, entrySeq uint64, kind base.Kind, ok bool) {
	seq = min(seq, base.MaxSeq)
	nd, c := m.findGE(ukey, base.MakeTrailer(seq, base.KindMax))
	if nd == 0 || c < -1 {
		return nil, 0, 0, false
	}
	k := m.key(nd)
	t := binary.LittleEndian.Uint64(k[len(k)-base.TrailerLen:])
	return m.value(nd), t >> 8, base.Kind(t & 0xff), true
}
