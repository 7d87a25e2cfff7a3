package strata

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/cache"
	"github.com/strata-db/strata/internal/iterator"
	"github.com/strata-db/strata/internal/manifest"
	"github.com/strata-db/strata/internal/memtable"
	"github.com/strata-db/strata/internal/record"
	"github.com/strata-db/strata/internal/sstable"
	"github.com/strata-db/strata/internal/vfs"
)

// DB is an open database. All methods are safe for concurrent use.
type DB struct {
	dirname string
	opts    *Options // with defaults applied
	cmp     *base.Comparer
	fs      vfs.FS
	logger  *slog.Logger
	infoLog io.Closer // the LOG file when we own it
	lock    io.Closer // nil when read-only
	// events delivers events to the info log and Options.EventListener
	// (events.go).
	events *eventSink

	blockCache *cache.Cache
	tables     *tableCache
	// icmp and openTableIter are method values bound once, so iterators do
	// not allocate closures.
	icmp          func(a, b []byte) int
	openTableIter func(f *manifest.FileMetadata) (base.InternalIterator, error)
	mergeFn       iterator.MergeFunc // fullMerge, for iterators

	// closedFlag is set when Close begins: iterators still open then stop
	// with ErrClosed (checked on every positioning call, so an atomic
	// rather than the closing channel).
	closedFlag atomic.Bool
	// extendedFlag: the database is marked as holding range deletions or
	// merge operands (versionSet.extended), so tables may hold tombstones;
	// mergerRecorded: the MANIFEST records the merge operator's name.
	// Set once, under markMu (see ensureExtended).
	extendedFlag   atomic.Bool
	mergerRecorded atomic.Bool
	markMu         sync.Mutex

	// visibleSeq is the sequence number of the newest write readers may
	// see: every write at or below it is fully in a memtable. It is
	// published by the commit leader after the memtable insert.
	visibleSeq atomic.Uint64

	// readState is the current read state. It is replaced (with d.mu held)
	// before the old one's owning reference is dropped; readers reference it
	// with loadReadState.
	readState atomic.Pointer[readState]
	// testHookReadView, when set by a test before any read, runs inside
	// acquireReadView between taking the read state and reading the
	// sequence: where a concurrent write, flush or compaction can fall.
	testHookReadView func()
	// testHookCatchUp, when set by a test, runs inside catchUpOnce between
	// the MANIFEST's replay and the listing of the logs: where the writer's
	// flush and log deletion can fall.
	testHookCatchUp func()
	// testHookStandIn, when set by a test, runs on the flush goroutine
	// once a flush has put its stand-in in place (see memTable), before
	// the table is synced and installed.
	testHookStandIn func()
	// testHookCheckpoint, when set by a test, runs inside Checkpoint after
	// each flush, before the version is taken: where an ingestion can land
	// (see checkpoint.go).
	testHookCheckpoint func()

	// standInTables holds the tables of memtable stand-ins that some read
	// state may still use (see memTable): the obsolete-file sweep keeps
	// them. Guarded by standInMu, which is taken without d.mu (a stand-in's
	// last reference may be dropped with or without d.mu held) and after
	// it when both are held.
	standInMu     sync.Mutex
	standInTables map[uint64]struct{}

	// mu guards everything below and the versionSet's mutable fields.
	mu sync.Mutex
	// bgCond is broadcast (with mu) whenever background work finishes,
	// fails, or the writer stall conditions may have changed.
	bgCond sync.Cond

	closed bool
	// cleanupHolds counts jobs between the install of their edit and
	// their end event, during which the obsolete-file sweep deletes
	// nothing (holdCleanupLocked).
	cleanupHolds int
	// transientFailures counts consecutive background failures for a
	// passing reason (backgroundFailedLocked); a success resets it.
	transientFailures int
	// bgErr is the first error of a background flush or compaction, or a
	// failed WAL write or sync. Once set, every write returns it until the
	// database is reopened: we never continue after losing track of what
	// is durable.
	bgErr error

	// The commit queue: the writer at writers[0] is the leader.
	writers []*writer
	// lastSeq is the last sequence number handed out (under mu).
	lastSeq uint64
	// commitBuf holds a commit group's merged WAL record (leader only).
	commitBuf []byte
	// syncGather helps concurrent sync writers share fsyncs (commit.go).
	syncGather syncGather

	mem  *memTable   // the mutable memtable
	imms []*memTable // frozen memtables, oldest first, waiting to be flushed
	// budgetWaivedFor is the frozen memtable whose pending flush a write
	// waited MaxMemTableWait for at MaxMemTableBytes: until that flush is
	// done, writes go on past the bound (see makeRoomForWriteLocked).
	budgetWaivedFor *memTable
	// nextMemSize is the size of the next memtable a rotation makes (mu):
	// InitialMemTableSize after Open, doubled at each rotation up to
	// WriteBufferSize.
	nextMemSize int
	// flushQueued asks the flush loop to flush every frozen memtable,
	// however little the small ones hold together (see flushSetLocked):
	// set by a write over MaxMemTableBytes, by Flush and by
	// WaitForCompactions (mu).
	flushQueued bool

	// The WAL being written to (nil when read-only).
	log *walFile
	// retired holds the WALs rotated out whose memtables are not yet
	// flushed, oldest first: still open, and synced only when a Sync write
	// needs them durable (syncWAL) or at Close. A flush closes the ones it
	// made obsolete, unsynced, as LevelDB does; recovery's check of each
	// log's header record (walHeader) keeps the recovered state a prefix
	// of the writes when one of them lost its tail in a power cut.
	retired []*walFile
	// lastLoggedSeq is the last sequence number written to a WAL (under
	// mu): writes without the WAL take sequence numbers too. A new log's
	// header record says which number its predecessor reached.
	lastLoggedSeq uint64

	versions *versionSet
	// pendingOutputs holds numbers of files being written by flushes and
	// compactions: not yet in any version, and not to be deleted.
	pendingOutputs map[uint64]struct{}
	snapshots      snapshotList
	// snapshotEpoch counts the snapshots taken; filterInstalling is set
	// while a compaction that filtered values installs (NewSnapshot waits).
	// See installCompaction.
	snapshotEpoch    uint64
	filterInstalling bool

	flushing bool // the flush goroutine is writing a table
	// flushAssist is the Assist of the flush's table Writer (one flush runs
	// at a time); assisting points at it while a flush writes its table, and
	// committed writes then help compress the table's blocks (commit).
	flushAssist *sstable.Assist
	assisting   atomic.Pointer[sstable.Assist]
	// assistGen counts the flushes that have set assisting: a write helping
	// one flush (HelpWhile) stops when it ends, not at the end of the next.
	assistGen atomic.Uint64
	// flushPlacing is set while a flush installs a table below level 0;
	// compactions wait for it (see pickFlushLevelLocked).
	flushPlacing     bool
	compacting       bool // an automatic compaction is running
	manualCompacting int  // CompactRange calls in progress
	// manualWaiting counts CompactRange calls waiting for the automatic
	// compaction to stop; the compaction loop yields to them.
	manualWaiting int
	// ingests counts the ingestions installed: Checkpoint flushes again
	// when one lands during its flush (see checkpoint.go).
	ingests uint64

	flushCh   chan struct{} // wakes the flush goroutine (capacity 1)
	compactCh chan struct{} // wakes the compaction goroutine (capacity 1)
	cleanCh   chan struct{} // asks for obsolete file deletion (capacity 1)
	closing   chan struct{} // closed by Close
	bgWG      sync.WaitGroup

	// Read-only handles keep every table of their version open (see
	// catchup.go); CatchUp calls are serialized by catchUpMu.
	pinned    []*tableEntry
	catchUpMu sync.Mutex

	// iterSeed varies the read-sampling sequence between iterators.
	iterSeed atomic.Uint64

	stats dbStats

	// txns is the transactions' state: the conflict set and the count of
	// open read-write transactions (under mu), the lock table (its own
	// mutex). watches are the keys DB.Watch waits on.
	txns    txnState
	watches watchSet
	leaks   leakTracker
	// recovery is what Open's recovery found and did; fixed after Open.
	recovery *RecoveryReport
	// holes are the key ranges Repair could not recover (holes.go): reads
	// that touch one fail. nil when there are none (the usual case).
	holes atomic.Pointer[holeSet]
}

// memTable is a memtable plus the WAL that holds its writes. It is
// reference counted: its owner (the DB while it is the mutable memtable or
// waiting to be flushed, or recovery) holds one reference and every
// readState that lists it one more; the last unref releases its arena for
// reuse. Nothing may touch a memtable, or a slice it handed out, without a
// reference.
//
// A memtable whose table a flush has written, but not yet made durable and
// recorded in the MANIFEST, is replaced in DB.imms by a stand-in: a
// memTable with a nil MemTable whose table field names that table (one
// stand-in for all the memtables a flush wrote together). Reads
// then find its entries in the table, and the memtable's arena is released
// once older read states let go of it, so writers waiting for memtable
// room (MaxMemTableBytes) go on while the flush syncs the table and writes
// the MANIFEST. Until then the table is in no version: compactions, and
// the MANIFEST snapshots a new MANIFEST starts with, never see it, and the
// memtable's WAL is kept. See DB.flushOne.
type memTable struct {
	*memtable.MemTable
	logNum uint64 // the log file that holds this memtable's writes
	refs   atomic.Int32
	// size is how many bytes of writes the memtable takes before it is
	// frozen (WriteBufferSize, or less early after Open: see
	// Options.InitialMemTableSize); in a stand-in, the sum of its
	// memtables'.
	size int

	// table is set only in a stand-in (MemTable nil): the written table.
	table *manifest.FileMetadata
	// of are the memtables a stand-in replaced, for identity only (Flush
	// waits for them): their MemTables may be released.
	of []*memTable
	// db is set in a stand-in: its last unref unpins the table.
	db *DB
	// flushReason is why the memtable was frozen (FlushInfo.Reason).
	flushReason string
}

func (m *memTable) ref() { m.refs.Add(1) }

func (m *memTable) unref() {
	if m.refs.Add(-1) != 0 {
		return
	}
	if m.MemTable != nil {
		m.MemTable.Release()
	}
	if m.table != nil {
		// No read state lists the stand-in any more: a table the
		// version no longer holds may now be deleted.
		m.db.standInMu.Lock()
		delete(m.db.standInTables, m.table.Num)
		m.db.standInMu.Unlock()
	}
}

// apply inserts one operation of a batch: a range tombstone beside the
// entries, any other kind as an entry.
func (m *memTable) apply(seq uint64, kind base.Kind, key, value []byte) error {
	if kind == base.KindRangeDelete {
		return m.AddRangeDel(seq, key, value)
	}
	return m.Add(seq, kind, key, value)
}

// memoryUsage is the memtable's arena usage; a stand-in's is 0.
func (m *memTable) memoryUsage() uint64 {
	if m.MemTable == nil {
		return 0
	}
	return m.MemTable.ApproximateMemoryUsage()
}

// is reports whether m is target or the stand-in that replaced it.
func (m *memTable) is(target *memTable) bool {
	return m == target || slices.Contains(m.of, target)
}

// walFile is an open write-ahead log: the one being written (DB.log) or a
// retired one (DB.retired).
type walFile struct {
	num  uint64
	file vfs.Appender // memory-mapped where the FS allows (vfs.NewAppender)
	w    *record.Writer
	// dirSynced: the directory entry of this log is durable (set by the
	// commit leader or SyncWAL).
	dirSynced atomic.Bool
	// unsynced: records were written since the last sync. Written by the
	// commit leader while the log is current; once retired, read and
	// cleared under mu.
	unsynced bool
	// hasRecords: a record follows the header (leader only).
	hasRecords bool

	// raw is the file under file, for syncing the header record while
	// the leader appends (the Appender's own Sync is the leader's).
	raw vfs.File

	// mu orders a retired log's Sync (by a Sync write's leader, or Close)
	// against its Close (by the flush that made it obsolete), and guards
	// headerSynced.
	mu     sync.Mutex
	closed bool // under mu
	// headerSynced: the header record is durable (see createWALLocked).
	headerSynced bool
	// headerDurable is headerSynced, readable without mu: a write that
	// finds it false does not rotate a small memtable of the ramp yet
	// (makeRoomForWriteLocked).
	headerDurable atomic.Bool
}

// readState is what a read needs: the memtables and the version, taken as
// one consistent unit. It is reference counted; the DB holds one reference
// to the current readState.
type readState struct {
	db      *DB
	refs    atomic.Int32
	mem     *memTable
	imms    []*memTable // newest first, as reads visit them; the last may be a stand-in
	version *manifest.Version
}

func (rs *readState) unref() {
	if rs.refs.Add(-1) == 0 {
		rs.db.versions.release(rs.version)
		rs.mem.unref()
		for _, m := range rs.imms {
			m.unref()
		}
	}
}

// loadReadState returns the current readState with a reference the caller
// must drop with unref.
//
// It is lock-free: a reference is added only while the count is above zero.
// A count of zero means the state was already replaced (the swap in
// updateReadStateLocked comes before the old state's owning reference is
// dropped) and is being released, so the current pointer is loaded again.
// A state loaded just before a swap may still be referenced if other
// readers hold it: it was current when loaded, after the caller read its
// sequence number, which is all a read needs (see get).
func (d *DB) loadReadState() *readState {
	for {
		rs := d.readState.Load()
		for n := rs.refs.Load(); n > 0; n = rs.refs.Load() {
			if rs.refs.CompareAndSwap(n, n+1) {
				return rs
			}
		}
	}
}

// updateReadStateLocked installs a readState built from the current
// memtables and version. d.mu must be held.
func (d *DB) updateReadStateLocked() {
	rs := &readState{db: d, mem: d.mem, version: d.versions.current}
	d.tables.setTableBytes(rs.version.TotalBytes())
	rs.refs.Store(1)
	rs.version.Ref()
	rs.mem.ref()
	for i := len(d.imms) - 1; i >= 0; i-- {
		d.imms[i].ref()
		rs.imms = append(rs.imms, d.imms[i])
	}
	old := d.readState.Swap(rs)
	if old != nil {
		old.unref()
	}
}

func (d *DB) scheduleCleanup() {
	select {
	case d.cleanCh <- struct{}{}:
	default:
	}
}

func (d *DB) scheduleFlush() {
	select {
	case d.flushCh <- struct{}{}:
	default:
	}
}

func (d *DB) scheduleCompaction() {
	select {
	case d.compactCh <- struct{}{}:
	default:
	}
}

// Get returns a copy of the latest value of key, the caller's to keep. For
// an absent key it returns ErrNotFound: test for it with errors.Is(err,
// ErrNotFound), since any other error is a failed read (an I/O error,
// ErrCorruption, ErrClosed), not an absent key.
func (d *DB) Get(key []byte) ([]byte, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	return d.get(nil, key, seqLatest)
}

// AppendGet is Get that appends the value to dst and returns the extended
// slice, so that a caller reading many values can reuse one buffer
// (`buf, err = db.AppendGet(buf[:0], key)`) instead of receiving a fresh
// copy each time. On ErrNotFound or another error it returns nil. A nil
// dst behaves as Get.
func (d *DB) AppendGet(dst, key []byte) ([]byte, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	return d.get(dst, key, seqLatest)
}

// Comparer returns the comparator that orders the database's keys
// (Options.Comparator, or DefaultComparer).
func (d *DB) Comparer() *Comparer { return d.cmp }

// isClosed reports whether Close has begun: reads then return ErrClosed
// (the table cache is closing, and a table opened now would never be
// closed).
func (d *DB) isClosed() bool {
	select {
	case <-d.closing:
		return true
	default:
		return false
	}
}

// Close stops background work, closes every file and releases the lock.
// Writes acknowledged before Close are durable as their WriteOptions said
// (unsynced writes are in the operating system's hands). Close reports
// iterators and snapshots that are still open (they are invalid
// afterwards). Calling Close twice returns ErrClosed.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.closed = true
	d.closedFlag.Store(true)
	d.watches.pokeAll() // their reads now fail with ErrClosed
	close(d.closing)
	d.bgCond.Broadcast()
	// Writers in flight finish (later ones fail with ErrClosed); manual
	// compactions notice the closing and stop.
	for len(d.writers) > 0 || d.manualCompacting > 0 {
		d.bgCond.Wait()
	}
	d.mu.Unlock()
	d.bgWG.Wait()
	// Leave no obsolete logs or tables behind (the cleanup goroutine may
	// not have got to them).
	d.deleteObsoleteFiles(false)

	var errs []error
	d.mu.Lock()
	var snapSeqs []uint64
	for s := d.snapshots.oldest(); s != nil; s = s.next {
		snapSeqs = append(snapSeqs, s.seq)
	}
	d.mu.Unlock()
	if err := d.leaks.check(snapSeqs); err != nil {
		errs = append(errs, err)
	}
	d.mu.Lock()
	retired := d.retired
	d.retired = nil
	for _, l := range retired {
		// As for the current log below: a clean shutdown syncs.
		if err := l.syncRetired(); err != nil {
			errs = append(errs, err)
		}
		if err := l.closeRetired(); err != nil {
			errs = append(errs, err)
		}
	}
	if d.log != nil {
		// Under the log's mu: a SyncWAL running now finishes first, or
		// finds the log closed.
		d.log.mu.Lock()
		d.log.closed = true
		if d.log.unsynced {
			// Not required for the durability contract, but a clean
			// shutdown should leave nothing to chance.
			if err := d.log.file.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("strata: sync WAL on close: %w", err))
			}
		}
		if err := d.log.file.Close(); err != nil {
			errs = append(errs, err)
		}
		d.log.mu.Unlock()
		d.log = nil
	}
	if err := d.versions.close(); err != nil {
		errs = append(errs, err)
	}
	unpin(d.pinned)
	d.pinned = nil
	// The DB's own references to its memtables (readers keep theirs).
	if d.mem != nil {
		d.mem.unref()
	}
	for _, m := range d.imms {
		m.unref()
	}
	d.imms = nil
	d.mu.Unlock()
	d.tables.close()
	// Blocks still held by iterators left open stay valid until released.
	d.blockCache.Close()
	if d.lock != nil {
		if err := d.lock.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	d.logger.Info("database closed")
	if d.infoLog != nil {
		d.infoLog.Close()
	}
	return errors.Join(errs...)
}
