package strata

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/sstable"
	"github.com/strata-db/strata/internal/vfs"
)

// tableCache keeps up to capacity table readers open, least recently used
// first out. An entry is reference counted: the cache holds one reference,
// and each read or iterator one more, so a reader evicted while in use is
// closed only when its last user lets go (which matters when its blocks are
// memory-mapped).
type tableCache struct {
	dir      string
	fs       vfs.FS
	cmp      *base.Comparer
	cache    *cache.Cache
	verify   bool
	capacity int

	mu   sync.Mutex
	m    map[uint64]*tableEntry
	lru  tableEntry // sentinel: lru.next is the most recently used
	size int
	// closed: close was called; acquire fails, so that no table is
	// opened that nobody would close (a read on a closed DB).
	closed bool

	// memLimit is the memory the process may use, page cache included
	// (vfs.MemoryLimit at open; 0: unknown), and unmapped says tables are
	// now opened without a memory mapping: the database's tables together
	// are larger than half of it (see setTableBytes).
	memLimit int64
	unmapped atomic.Bool
}

type tableEntry struct {
	num    uint64
	size   uint64
	refs   atomic.Int32
	once   sync.Once
	reader *sstable.Reader
	file   vfs.File
	unmap  func() error
	// mapped is the table's mapping while it is open (nil: read with
	// pread), for setTableBytes to advise it for random access.
	mapped atomic.Pointer[[]byte]
	// random: file is advised for random reads (vfs.AdviseRandom), and
	// path is its name, for a compaction's handle of its own.
	random     bool
	path       string
	err        error
	prev, next *tableEntry
}

func newTableCache(dir string, fs vfs.FS, cmp *base.Comparer, c *cache.Cache, capacity int) *tableCache {
	tc := &tableCache{dir: dir, fs: fs, cmp: cmp, cache: c, verify: true, capacity: capacity,
		m: map[uint64]*tableEntry{}}
	tc.lru.next, tc.lru.prev = &tc.lru, &tc.lru
	return tc
}

// setTableBytes tells the cache how large the database's tables are
// together (the current version's), which decides how tables opened from
// now on are read.
//
// While they fit in half the memory the process may use, a table is
// memory-mapped: a block read costs no system call and no copy, and the
// index and filter blocks are read in place. Past that the tables cannot
// all stay in the page cache, and a mapping costs more than it saves: a
// read that misses the page cache faults in one page at a time (the
// mapping is advised for random access), so a block that straddles a page
// boundary, about half of 4 KiB blocks compressed to 2 KiB, costs two
// disk reads one after the other (1.2 major faults per read, 91% of them
// on data blocks, the rest on filter blocks and tables' opening, in issue
// 28's 20M-key run in a 768 MiB memory cgroup). An unmapped table is read
// with pread, exactly the block (one disk read), and its index and filter
// blocks are copied to the heap when it is opened, where they stay while
// it is open (as RocksDB's pinned index and filter blocks). That run:
// 5,498 -> 8,120 reads/s, 59 -> 47 µs of CPU per read (medians; see
// docs/performance.md).
//
// A mapped table is left to the kernel's read-around: a fault that misses
// the page cache reads the window around it (read_ahead_kb), so the
// tables of a database that fits in memory come into the page cache in
// large reads, as C++ LevelDB's do (issue 28's 10M-key set without a
// memory limit, cold: LevelDB read 210k keys/s in its first 30 s, Strata
// 127k with its mappings advised random). When the tables outgrow half the
// memory, the tables still mapped are advised for random access (a fault
// then reads its page only), as the next ones are read with pread.
func (tc *tableCache) setTableBytes(n uint64) {
	unmapped := tc.memLimit > 0 && n > uint64(tc.memLimit)/2
	if tc.unmapped.Swap(unmapped) || !unmapped {
		return
	}
	// Entries stay in tc.m, holding the cache's reference, while tc.mu is
	// held: their mappings are not unmapped meanwhile. A table mapped after
	// the Swap advises itself (load).
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, e := range tc.m {
		if p := e.mapped.Load(); p != nil {
			vfs.AdviseRandomMapping(*p)
		}
	}
}

// memoryLimit is vfs.MemoryLimit; tests replace it.
var memoryLimit = vfs.MemoryLimit

func tableName(num uint64) string { return base.MakeFilename(base.FileTypeTable, num) }

// acquire returns the open reader of table f with a reference the caller
// drops with release.
func (tc *tableCache) acquire(f *manifest.FileMetadata) (*tableEntry, error) {
	tc.mu.Lock()
	if tc.closed {
		tc.mu.Unlock()
		return nil, ErrClosed
	}
	e := tc.m[f.Num]
	if e == nil {
		e = &tableEntry{num: f.Num, size: f.Size}
		e.refs.Store(1)
		tc.m[f.Num] = e
		tc.size++
		tc.pushFront(e)
		for tc.size > tc.capacity && tc.lru.prev != e {
			tc.removeLocked(tc.lru.prev)
		}
	} else if tc.lru.next != e {
		tc.unlink(e)
		tc.pushFront(e)
	}
	e.refs.Add(1)
	tc.mu.Unlock()

	e.once.Do(func() { tc.load(e) })
	if e.err != nil {
		err := e.err
		tc.mu.Lock()
		if tc.m[e.num] == e {
			tc.removeLocked(e) // do not cache failures: the next read retries
		}
		tc.mu.Unlock()
		e.release()
		return nil, err
	}
	if f.Facts() == nil {
		f.SetFacts(&manifest.TableFacts{RangeDels: e.reader.RangeDels(), Empty: e.reader.Empty()})
	}
	return e, nil
}

func (tc *tableCache) load(e *tableEntry) {
	path := tc.fs.PathJoin(tc.dir, tableName(e.num))
	f, err := tc.fs.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Tables written by LevelDB before 1.13 end in .sst.
		legacy := tc.fs.PathJoin(tc.dir, base.LegacyTableFilename(e.num))
		if f2, err2 := tc.fs.Open(legacy); err2 == nil {
			f, err, path = f2, nil, legacy
		}
	}
	if err != nil {
		e.err = fmt.Errorf("strata: open table %s: %w", path, err)
		return
	}
	opts := sstable.ReaderOptions{Comparer: tc.cmp, Cache: tc.cache, FileName: path, VerifyChecksums: tc.verify}
	// Map the table when the file system allows (the OS on Linux) and the
	// tables fit in memory: block reads then cost no system call and no
	// copy, as in C++ LevelDB (see setTableBytes).
	if tc.unmapped.Load() {
		// Read with pread, each read exactly what it asks for (without the
		// advice, a read whose preceding pages are cached makes the kernel
		// read ahead: 7.3 KiB of disk reads per point read against 5.2
		// with it, issue 28's 20M-key run). Scans ask for what they will
		// read (FileWillNeed); a compaction reads through a handle of its
		// own (newCompactionIter).
		vfs.AdviseRandom(f)
		opts.FileWillNeed = func(off, n int64) { vfs.WillNeedFile(f, off, n) }
		e.path, e.random = path, true
	} else if data, unmap, err := vfs.MmapFile(f); err == nil {
		if uint64(len(data)) >= e.size {
			opts.Mmap, opts.WillNeed, e.unmap = data[:e.size], vfs.WillNeed, unmap
			e.mapped.Store(&data)
			if tc.unmapped.Load() {
				// The tables outgrew the memory since the check above.
				vfs.AdviseRandomMapping(data)
			}
		} else {
			unmap()
		}
	}
	r, err := sstable.NewReader(f, int64(e.size), opts)
	if err != nil {
		if e.unmap != nil {
			e.mapped.Store(nil)
			e.unmap()
		}
		f.Close()
		e.err = err
		return
	}
	e.reader, e.file = r, f
}

func (e *tableEntry) release() {
	if e.refs.Add(-1) == 0 && e.reader != nil {
		e.reader.Close()
		if e.unmap != nil {
			e.mapped.Store(nil)
			e.unmap()
		}
		e.file.Close()
	}
}

func (tc *tableCache) pushFront(e *tableEntry) {
	e.prev, e.next = &tc.lru, tc.lru.next
	e.prev.next, e.next.prev = e, e
}

func (tc *tableCache) unlink(e *tableEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (tc *tableCache) removeLocked(e *tableEntry) {
	tc.unlink(e)
	delete(tc.m, e.num)
	tc.size--
	e.release()
}

// evict drops table num (its file is being deleted) and its cached blocks.
func (tc *tableCache) evict(num uint64) {
	tc.mu.Lock()
	e := tc.m[num]
	evict := e != nil && e.reader != nil && tc.cache != nil
	if evict {
		// Evicted once, here, whether or not the release closes it (an
		// open iterator may still hold it).
		e.reader.DeferEviction()
	}
	if e != nil {
		tc.removeLocked(e)
	}
	tc.mu.Unlock()
	if evict {
		tc.cache.EvictID(e.reader.CacheID())
	}
}

// close drops every open table; their cached blocks go in one pass over the
// block cache, not one pass per table.
func (tc *tableCache) close() {
	tc.mu.Lock()
	tc.closed = true
	var ids []uint64
	for tc.lru.next != &tc.lru {
		e := tc.lru.next
		if e.reader != nil && tc.cache != nil {
			e.reader.DeferEviction()
			ids = append(ids, e.reader.CacheID())
		}
		tc.removeLocked(e)
	}
	tc.mu.Unlock()
	tc.cache.EvictIDs(ids)
}

// tableHit is what a point read finds in one table.
type tableHit struct {
	found bool      // the table holds an entry for the key
	kind  base.Kind // its kind, and
	seq   uint64    // its sequence number
	value []byte    // the value of a KindSet entry, appended to dst
	// tomb is the newest sequence (at or below the read's) of the table's
	// range tombstones covering the key, or 0.
	tomb uint64
	// read says the lookup read a data block (the filter, if any, did not
	// rule the key out), and filtered that the table has a filter: what a
	// seek charge looks at (getFromVersion).
	read, filtered bool
}

// get looks up the newest entry for ukey at or below readSeq (search is
// its internal search key) in table f, and the table's newest tombstone
// covering it. A found value is appended to dst (nil dst: a copy).
func (tc *tableCache) get(dst []byte, f *manifest.FileMetadata, search, ukey []byte, readSeq uint64, scratch *getScratch) (h tableHit, err error) {
	e, err := tc.acquire(f)
	if err != nil {
		return h, err
	}
	defer e.release()
	if rd := e.reader.RangeDels(); rd != nil {
		h.tomb, _ = rd.Covering(ukey, readSeq)
	}
	k, v, cv, read, err := e.reader.GetIntoRead(scratch.key[:0], search)
	h.read, h.filtered = read, e.reader.HasFilter()
	defer cv.Release() // after v is copied
	if k != nil {
		scratch.key = k[:0]
	}
	if err != nil || k == nil {
		return h, err
	}
	uk, seq, kind, valid := base.ParseInternalKey(k)
	if !valid {
		return h, base.CorruptionErrorf(tableName(f.Num), -1, "bad internal key %q", bytes.Clone(k))
	}
	if tc.cmp.Compare(uk, ukey) != 0 {
		return h, nil
	}
	h.found, h.kind, h.seq = true, kind, seq
	if kind == base.KindSet && seq >= h.tomb {
		h.value = appendValue(dst, v)
	}
	return h, nil
}

// newIter returns an iterator over table f that keeps the table open until
// it is closed.
func (tc *tableCache) newIter(f *manifest.FileMetadata) (base.InternalIterator, error) {
	e, err := tc.acquire(f)
	if err != nil {
		return nil, err
	}
	t := tableIterPool.Get().(*tableIter)
	t.Iter, t.entry, t.meta = e.reader.NewIter(), e, f
	return t, nil
}

// newCompactionIter is newIter for a compaction's input: the table read
// once, in order, with ReadAt and without the block cache (see
// sstable.Reader.NewCompactionIter).
//
// A table the cache opened for random reads (tableEntry.random) is read
// through a handle of its own, opened for the compaction, so that the
// kernel reads ahead of it; its index block is read again (its filter is
// not), about 1% of a 2 MiB table. Should that open fail, the compaction
// reads through the cache's handle, without readahead.
func (tc *tableCache) newCompactionIter(f *manifest.FileMetadata) (base.InternalIterator, error) {
	e, err := tc.acquire(f)
	if err != nil {
		return nil, err
	}
	if e.random {
		if own, err := tc.openSequential(e); err == nil {
			e.release()
			e = own
		}
	}
	t := tableIterPool.Get().(*tableIter)
	t.Iter, t.entry, t.meta = e.reader.NewCompactionIter(), e, f
	return t, nil
}

// openSequential opens table e's file again, with the kernel's readahead,
// and a Reader on it without a cache and without the filter, for reading
// the table once in order. The entry it returns is not in the cache: its
// one reference closes both.
func (tc *tableCache) openSequential(e *tableEntry) (*tableEntry, error) {
	f, err := tc.fs.Open(e.path)
	if err != nil {
		return nil, err
	}
	r, err := sstable.NewReader(f, int64(e.size), sstable.ReaderOptions{Comparer: tc.cmp, FileName: e.path,
		VerifyChecksums: tc.verify, IgnoreMeta: true})
	if err != nil {
		f.Close()
		return nil, err
	}
	own := &tableEntry{num: e.num, size: e.size, reader: r, file: f, path: e.path}
	own.refs.Store(1)
	return own, nil
}

// tableIter is a table's iterator holding the table open. Pooled: it must
// not be used after Close.
type tableIter struct {
	*sstable.Iter
	entry *tableEntry
	meta  *manifest.FileMetadata // the table's
}

// FirstHint implements iterator.Hinted: the table's smallest user key
// (the iterator has no bounds).
func (t *tableIter) FirstHint() []byte { return t.meta.SmallestUserKey() }

// LastHint implements iterator.Hinted: the table's largest user key.
func (t *tableIter) LastHint() []byte { return t.meta.LargestUserKey() }

var tableIterPool = sync.Pool{New: func() any { return new(tableIter) }}

func (t *tableIter) Close() error {
	err := t.Iter.Close()
	t.Iter, t.meta = nil, nil
	if t.entry != nil {
		t.entry.release()
		t.entry = nil
	}
	tableIterPool.Put(t)
	return err
}
