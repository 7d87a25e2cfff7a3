package strata

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/memtable"
	"github.com/strata-db/strata/internal/sstable"
	"github.com/strata-db/strata/internal/vfs"
)

// Comparer defines the order of keys; see Options.Comparator. Its Name is
// recorded in the MANIFEST and checked on every open.
type Comparer = base.Comparer

// DefaultComparer orders keys bytewise, as LevelDB's BytewiseComparator.
var DefaultComparer = base.DefaultComparer

// Compression selects how table blocks are compressed.
type Compression int

const (
	// DefaultCompression is snappy.
	DefaultCompression Compression = iota
	// NoCompression stores blocks raw.
	NoCompression
	// SnappyCompression compresses blocks with snappy (LevelDB's default).
	SnappyCompression
	// ZstdCompression compresses blocks with zstd (block type 2, as in
	// current LevelDB sources; older LevelDB builds cannot read it).
	ZstdCompression
)

// String returns "snappy", "none" or "zstd".
func (c Compression) String() string {
	switch c {
	case NoCompression:
		return "none"
	case ZstdCompression:
		return "zstd"
	}
	return "snappy"
}

// Options configure a database. A nil *Options and the zero value both mean
// the defaults given on each field; a field left at its zero value takes its
// default. Options are read at Open and not retained for mutation: changing
// them afterwards has no effect.
type Options struct {
	// ErrorIfNotExists makes Open fail when the database does not exist.
	// Otherwise a missing database is created (unless ReadOnly).
	ErrorIfNotExists bool
	// ErrorIfExists makes Open fail when the database already exists.
	ErrorIfExists bool
	// ReadOnly opens the database without writing anything and without
	// taking its lock exclusively, so several processes may read at once.
	// Writes return ErrReadOnly.
	ReadOnly bool
	// ParanoidChecks makes Open refuse a database with any detected damage
	// (for instance a corrupt record in the middle of a log, or a torn last
	// MANIFEST record) instead of recovering what WALRecoveryMode allows and
	// reporting it (DB.RecoveryReport, LOG). Open then also checks every
	// table's size and its footer, index and filter blocks; data blocks are
	// verified whenever they are read, either way.
	ParanoidChecks bool
	// WALRecoveryMode says what Open does with a damaged write-ahead log.
	// Default: WALPointInTime (stop at the first damaged record).
	WALRecoveryMode WALRecoveryMode

	// Comparator orders keys. Default: DefaultComparer (bytewise).
	Comparator *Comparer
	// Merger is the merge operator DB.Merge and Batch.Merge need (nil:
	// merges are refused with ErrNoMerger). Its name is recorded in the
	// database at the first merge; from then on, opening it with another
	// operator, or none, is refused. Built in: AddMerger, MaxMerger,
	// MinMerger, AppendMerger.
	Merger *Merger
	// CompactionFilter, if set, decides per value what compactions keep,
	// change or delete (see CompactionFilter; TTLFilter is built in). It
	// is never applied to an entry a live snapshot can see: while a
	// compaction that changed something installs its result, NewSnapshot
	// waits, and a compaction during which a snapshot was taken starts
	// over.
	CompactionFilter *CompactionFilter
	// MaxSuccessiveMerges bounds the merge operands in a row a key may
	// gather in the memtable (RocksDB's max_successive_merges): a Merge
	// that would exceed it is folded when written — the key is read and
	// the operand applied, and the result stored as a value — so a read
	// never folds more than this many operands from the memtable. Default
	// 8; negative: no bound (every operand is stored as written).
	MaxSuccessiveMerges int
	// FS is the file system. Default: the operating system's (OSFS);
	// NewMemFS for a database in memory; or your own (see FS).
	FS FS
	// Logger receives the engine's informational messages, among them
	// every event of EventListener as one line (its String, with the
	// attributes event= and job=). Default: a LevelDB-style "LOG" text file
	// in the database directory (nothing for a read-only open).
	Logger *slog.Logger
	// EventListener, if set, is told of flushes, compactions, write
	// stalls, table and log files created and deleted, and background
	// errors, as they happen. See EventListener for which goroutine calls
	// it and what it may do. Default: none.
	EventListener *EventListener

	// WriteBufferSize is how many bytes of writes a memtable holds before it
	// is frozen and flushed to a table. Default 4 MiB. The first memtables
	// after Open are smaller (InitialMemTableSize).
	WriteBufferSize int
	// InitialMemTableSize is how many bytes of writes the first memtable
	// after Open holds; each next one holds twice its predecessor's, up to
	// WriteBufferSize (Pebble's ramp). Frozen memtables smaller than
	// WriteBufferSize wait until together they hold half of it (or a
	// flush is asked for: Flush, a full-size memtable, WaitForCompactions,
	// MaxMemTableBytes) and are then flushed together, into one table. A
	// write searches a smaller skiplist meanwhile: measured with 64 MiB
	// memtables, 1M inserts cost 0.66x the CPU per insert of one memtable
	// of all 1M (docs/performance.md). Default 256 KiB; a negative value
	// (or one of WriteBufferSize or more) turns the ramp off: every
	// memtable holds WriteBufferSize.
	InitialMemTableSize int
	// MaxWriteBufferNumber is how many memtables (the mutable one and those
	// waiting to be flushed) may exist before writes wait for a flush.
	// Default 2.
	MaxWriteBufferNumber int
	// MaxMemTableBytes bounds the memory of all memtables together (the
	// mutable one and those waiting to be flushed): while a flush is
	// pending, a write that would take them past it waits for the flush to
	// finish. Without it (LevelDB's behaviour) the next memtable grows for
	// as long as the flush runs, which with fast writers and large
	// memtables is a good part of a second memtable: a 64 MiB flush takes
	// ~150 ms on two cores, in which one writer inserts ~20 MiB. Default:
	// WriteBufferSize × (MaxWriteBufferNumber − 1) plus an overlap of
	// WriteBufferSize/32, at least 2 MiB; when that overlap is a whole
	// WriteBufferSize or more (write buffers of 2 MiB and less), no bound
	// beyond MaxWriteBufferNumber. Measured on two cores with 64 MiB
	// memtables, the default lowered the peak RSS of 1M-entry fills of
	// 100-byte values by 10-15 MiB at no measurable cost in write rate;
	// with 4 KiB values, written ~2 MiB every 8 ms, writers wait about a
	// third of the time (46-49k writes/s at a 78-80 MB peak, against
	// 72-82k at 119-127 MB without the bound). A negative value turns the
	// bound off: for bulk writes of large values where memory is plentiful.
	MaxMemTableBytes int
	// MaxMemTableWait bounds how long a write waits at MaxMemTableBytes for
	// the pending flush: past it the write goes on into the rest of the
	// memtable, and writes wait only when MaxWriteBufferNumber full
	// memtables are waiting (as LevelDB's, RocksDB's and Pebble's do). The
	// bound saves memory when flushes are quick; when they are slow (a
	// loaded machine: 0.5-3 s for a 64 MiB flush, measured), waiting out
	// every flush stopped the writer for most of each (a 10M-key overwrite
	// stalled 21 times, 25 s in all, up to 3 s each; docs/performance.md,
	// "Write stalls"). Default 250 ms, longer than a 64 MiB flush on two
	// quiet cores (110-230 ms); a negative value waits as long as the flush
	// takes.
	MaxMemTableWait time.Duration
	// MaxOpenFiles bounds the number of open table files. An open table
	// keeps its index and filter blocks in memory (about 3% of the table's
	// size with 10-bit filters and 4 KiB blocks: 57 KiB of a 2 MiB table); a
	// read of a table that is not open reads them from the disk first, which
	// doubles the cost of a read that misses the page cache. Default: a
	// quarter of the process's file-descriptor limit (RLIMIT_NOFILE; Go
	// raises the soft limit to the hard one), so that four databases fit in
	// one process, and at least 1000 (LevelDB's default; 1000 where the
	// limit is unknown): RocksDB's default keeps every table open. Never
	// more than the limit allows, less a margin for logs and the caller's
	// own files: past it, reads and compactions would fail with "too many
	// open files". Set it to bound the memory of a large database's index
	// and filter blocks.
	MaxOpenFiles int
	// MaxKeySize bounds the size of a key: a write (or a TableWriter.Add)
	// with a longer one fails with ErrKeyTooLarge. Keys are kept whole in
	// tables' indexes and in the MANIFEST's table bounds, so huge keys make
	// every MANIFEST record and every open costly. Default 64 KiB.
	MaxKeySize int
	// MaxValueSize bounds the size of a value: a write with a larger one
	// fails with ErrValueTooLarge. A value is held whole in a memtable, the
	// log and a table block, several times over while it is written.
	// Default 64 MiB.
	MaxValueSize int
	// BlockSize is the target uncompressed size of a table data block.
	// Default 4 KiB.
	BlockSize int
	// BlockRestartInterval is the number of keys between restart points in
	// a data block. Default 16.
	BlockRestartInterval int
	// BlockCacheSize is the capacity in bytes of the cache of uncompressed
	// blocks. Default 8 MiB. A negative value disables the cache.
	BlockCacheSize int64
	// BloomBitsPerKey sets the bloom filter size. Default 10. A negative
	// value writes tables without filters.
	BloomBitsPerKey int
	// Compression of table blocks. Default snappy.
	Compression Compression
	// BytesPerSync makes the writing of a table (by a flush, a compaction,
	// ingest or a TableWriter) ask the operating system, every this many
	// bytes, to start writing the new bytes to disk, without waiting
	// (sync_file_range on Linux; RocksDB's and Pebble's bytes_per_sync).
	// The fsync that completes each table then finds little left to
	// write, so a flush ends sooner and its memtable is freed sooner.
	// Durability is the same either way: a table is fsynced before it is
	// used. Default 512 KiB (Pebble's). A negative value turns it off.
	BytesPerSync int

	// L0CompactionTrigger is the number of level-0 files that starts a
	// compaction. With DynamicLevelSizes level 0 is also compacted once
	// its tables hold more than BaseLevelSize (RocksDB's size score for
	// level 0; manifest.LevelTargets.L0TargetBytes): with large memtables
	// that is at two tables, so a settled database keeps at most about
	// one memtable's table in level 0. Default 4.
	L0CompactionTrigger int
	// L0SlowdownTrigger is the number of level-0 files at which each write
	// is delayed by 1 ms. Default 8.
	L0SlowdownTrigger int
	// L0StopTrigger is the number of level-0 files at which writes wait for
	// compaction. Default 12.
	L0StopTrigger int
	// TargetFileSize is the size at which compaction starts a new output
	// table. Default 2 MiB.
	TargetFileSize int64
	// LevelSizeMultiplier is the size ratio between adjacent levels.
	// Default 10.
	LevelSizeMultiplier int
	// LevelSizing chooses how the byte budgets of levels 1 and up are set:
	// LevelDB's fixed budgets (FixedLevelSizes) or budgets computed from
	// the last level up (DynamicLevelSizes). Either way the files on disk
	// are LevelDB's, and a database may be opened with the other setting,
	// or by LevelDB. Default: DynamicLevelSizes.
	LevelSizing LevelSizing
	// BaseLevelSize is the byte budget of level 1 with FixedLevelSizes
	// (level l holding BaseLevelSize × LevelSizeMultiplier^(l-1)), and of
	// the base level, the one level 0 compacts into, with
	// DynamicLevelSizes. Default: 10 MiB (LevelDB's); with
	// DynamicLevelSizes, a quarter of what level 0 holds uncompressed at
	// L0CompactionTrigger (WriteBufferSize × L0CompactionTrigger / 4) if
	// that is more: 64 MiB with 64 MiB memtables, where it wrote 13% less
	// than 10 MiB did (docs/performance.md, "Level sizes").
	BaseLevelSize int64
	// DisableAutoCompactions stops background compactions; flushes still
	// happen, and CompactRange still works. Level-0 write stalls are off
	// too, since nothing would end them.
	DisableAutoCompactions bool

	// TxnConflictWindow bounds the memory of the transactions' conflict
	// history (the write ranges of recent commits, checked against a
	// committing transaction's reads; see Txn). Once exceeded, the oldest
	// writes are forgotten, and a transaction that began before them gets
	// ErrTxnTooOld at commit (retryable). History older than every open
	// read-write transaction is forgotten for free. Default 64 MiB.
	TxnConflictWindow int64

	// DebugLeaks records where each iterator and snapshot was created, so
	// that Close can say where a leaked one came from. It costs a stack
	// trace per iterator.
	DebugLeaks bool

	// maxManifestSize, when positive, replaces the MANIFEST size past
	// which a version edit starts a new MANIFEST (tests: 1 makes every
	// edit switch MANIFEST and CURRENT).
	maxManifestSize int64
}

// withDefaults returns a copy of o (which may be nil) with every unset field
// given its default.
func (o *Options) withDefaults() *Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Comparator == nil {
		c.Comparator = DefaultComparer
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.MaxSuccessiveMerges == 0 {
		c.MaxSuccessiveMerges = 8
	}
	if c.WriteBufferSize <= 0 {
		c.WriteBufferSize = 4 << 20
	}
	if c.MaxWriteBufferNumber <= 1 {
		c.MaxWriteBufferNumber = 2
	}
	switch {
	case c.InitialMemTableSize == 0:
		c.InitialMemTableSize = min(256<<10, c.WriteBufferSize)
	case c.InitialMemTableSize < 0 || c.InitialMemTableSize > c.WriteBufferSize:
		c.InitialMemTableSize = c.WriteBufferSize
	}
	if c.MaxMemTableBytes == 0 {
		overlap := max(c.WriteBufferSize/32, 2<<20)
		c.MaxMemTableBytes = -1
		if overlap < c.WriteBufferSize {
			c.MaxMemTableBytes = c.WriteBufferSize*(c.MaxWriteBufferNumber-1) + overlap
		}
	}
	if c.MaxMemTableWait == 0 {
		c.MaxMemTableWait = 250 * time.Millisecond
	}
	if c.MaxOpenFiles <= 0 {
		c.MaxOpenFiles = defaultMaxOpenFiles(vfs.OpenFileLimit())
	}
	if c.MaxOpenFiles < 20 {
		c.MaxOpenFiles = 20
	}
	if limit := vfs.OpenFileLimit(); limit > 0 && c.MaxOpenFiles > limit-fileLimitMargin {
		c.MaxOpenFiles = max(limit-fileLimitMargin, 20)
	}
	if c.MaxKeySize <= 0 {
		c.MaxKeySize = 64 << 10
	}
	if c.MaxValueSize <= 0 {
		c.MaxValueSize = 64 << 20
	}
	if c.BlockSize <= 0 {
		c.BlockSize = 4 << 10
	}
	if c.BlockRestartInterval <= 0 {
		c.BlockRestartInterval = 16
	}
	if c.BlockCacheSize == 0 {
		c.BlockCacheSize = 8 << 20
	}
	if c.BloomBitsPerKey == 0 {
		c.BloomBitsPerKey = 10
	}
	if c.BytesPerSync == 0 {
		c.BytesPerSync = vfs.DefaultBytesPerSync
	}
	if c.Compression == DefaultCompression {
		c.Compression = SnappyCompression
	}
	if c.L0CompactionTrigger <= 0 {
		c.L0CompactionTrigger = 4
	}
	if c.L0SlowdownTrigger <= 0 {
		c.L0SlowdownTrigger = 8
	}
	if c.L0StopTrigger <= 0 {
		c.L0StopTrigger = 12
	}
	if c.L0SlowdownTrigger < c.L0CompactionTrigger {
		c.L0SlowdownTrigger = c.L0CompactionTrigger
	}
	if c.L0StopTrigger < c.L0SlowdownTrigger {
		c.L0StopTrigger = c.L0SlowdownTrigger
	}
	if c.TxnConflictWindow <= 0 {
		c.TxnConflictWindow = 64 << 20
	}
	if c.TargetFileSize <= 0 {
		c.TargetFileSize = 2 << 20
	}
	if c.LevelSizeMultiplier <= 1 {
		c.LevelSizeMultiplier = 10
	}
	if c.LevelSizing == DefaultLevelSizing {
		c.LevelSizing = DynamicLevelSizes
	}
	if c.BaseLevelSize <= 0 {
		c.BaseLevelSize = 10 << 20
		if c.LevelSizing == DynamicLevelSizes {
			c.BaseLevelSize = max(c.BaseLevelSize, int64(c.WriteBufferSize)*int64(c.L0CompactionTrigger)/4)
		}
	}
	return &c
}

// LevelSizing is how the byte budgets of the levels below level 0 are set
// (Options.LevelSizing).
type LevelSizing int

const (
	// DefaultLevelSizing is DynamicLevelSizes.
	DefaultLevelSizing LevelSizing = iota
	// DynamicLevelSizes sizes the levels from the data in the last level up
	// (RocksDB's level_compaction_dynamic_level_bytes; Pebble always does
	// it): each level is meant to hold about 1/LevelSizeMultiplier of the
	// next, the last one holding what it holds. Level 0 compacts into the
	// base level, the shallowest level that size leaves room for (its
	// budget BaseLevelSize), and the levels above the base level stay
	// empty: a small database has its tables in level 6 only, or 5 and 6,
	// and the base level moves up one level at a time as it grows. Once
	// the last level holds more than BaseLevelSize × LevelSizeMultiplier,
	// about 90% of the data sits in it (space amplification about 1.11),
	// and fewer levels rewrite it on its way down. Flushes are placed below
	// level 0 only in the base level.
	DynamicLevelSizes
	// FixedLevelSizes is LevelDB's sizing: level 1 holds BaseLevelSize,
	// each next level LevelSizeMultiplier times more, level 0 compacts into
	// level 1, and a flush may be placed as deep as level 2 when nothing
	// overlaps it.
	FixedLevelSizes
)

// String returns "default", "dynamic" or "fixed".
func (s LevelSizing) String() string {
	switch s {
	case DefaultLevelSizing:
		return "default"
	case DynamicLevelSizes:
		return "dynamic"
	case FixedLevelSizes:
		return "fixed"
	}
	return fmt.Sprintf("LevelSizing(%d)", int(s))
}

// WriteOptions control one write. A nil *WriteOptions means no sync, WAL on.
type WriteOptions struct {
	// Sync makes the write durable (the WAL is fsynced) before it returns.
	// Without Sync a write survives a process crash but not a machine crash.
	Sync bool
	// DisableWAL skips the write-ahead log: the write is lost on any crash
	// until its memtable is flushed (see DB.Flush). For bulk loads.
	DisableWAL bool
}

// IterOptions configure an iterator. A nil *IterOptions means unbounded, on
// the latest state. NewIterator copies the bounds and the prefix: the
// caller may reuse its slices once it returns.
type IterOptions struct {
	// LowerBound, if set, is the inclusive smallest key the iterator shows.
	LowerBound []byte
	// UpperBound, if set, is the exclusive upper limit of keys shown.
	UpperBound []byte
	// Prefix, if not empty, limits the iterator to the keys that start
	// with it. It is a pair of bounds, [Prefix, PrefixUpperBound(Prefix)),
	// intersected with LowerBound and UpperBound: the iterator shows the
	// keys within all of them, First, Last, Seek and SeekLT included, and
	// Bounds returns the intersection (when it is empty, no key). Prefix
	// needs the bytewise order: with another Options.Comparator the
	// iterator fails with an error (Err); set the bounds instead.
	Prefix []byte
	// Snapshot, if set, makes the iterator read that snapshot's state.
	Snapshot *Snapshot
	// Context, if set, stops the iterator once it is done: the iterator
	// checks it on its first positioning call and then every 1024 calls,
	// and when it is done the iterator becomes invalid and Err returns
	// context.Cause(Context). For long scans that a caller must be able to
	// cancel (the data-engineering helpers pass their context).
	Context context.Context
}

// WALRecoveryMode says what recovery does when a write-ahead log is damaged
// (RocksDB's modes, under its names). Whatever the mode, a torn last record
// — a write a crash cut short, which was never acknowledged as durable — is
// dropped, except under WALAbsoluteConsistency; docs/reliability.md says
// what each mode can lose.
type WALRecoveryMode int

const (
	// WALPointInTime (the default) replays the logs up to the first
	// damaged record and stops there: the database holds exactly the
	// writes before it, a prefix of what was written, and nothing after it
	// (not the intact records that follow in that log, nor later logs).
	// The log and the later ones are moved to lost/ with a note of what
	// they hold; DB.RecoveryReport says what was not replayed.
	WALPointInTime WALRecoveryMode = iota
	// WALTolerateCorruptedTailRecords drops torn tails (the traces of a
	// crash) and refuses to open on any other damage.
	WALTolerateCorruptedTailRecords
	// WALAbsoluteConsistency refuses to open on any damage, a torn tail
	// included: for databases that are always closed cleanly.
	WALAbsoluteConsistency
	// WALSkipAnyCorruptedRecords skips each damaged record and replays the
	// intact ones after it (C++ LevelDB's behaviour): the most data, but
	// the recovered state may not be a prefix of the writes (a later write
	// survives while an earlier one is lost).
	WALSkipAnyCorruptedRecords
)

// String returns the mode's RocksDB name.
func (m WALRecoveryMode) String() string {
	switch m {
	case WALPointInTime:
		return "point-in-time"
	case WALTolerateCorruptedTailRecords:
		return "tolerate-corrupted-tail-records"
	case WALAbsoluteConsistency:
		return "absolute-consistency"
	case WALSkipAnyCorruptedRecords:
		return "skip-any-corrupted-records"
	}
	return fmt.Sprintf("WALRecoveryMode(%d)", int(m))
}

// Range is a key range [Start, Limit) for ApproximateSizes. A nil Limit is
// the end of the key space.
type Range struct {
	Start, Limit []byte
}

// defaultMaxOpenFiles is MaxOpenFiles' default for a process whose
// file-descriptor limit is limit (0: unknown): a quarter of it, at least
// 1000. Issue 28's 50M-key database in a 1 GiB memory cgroup has 1,795
// tables: with 1000 of them open, 43% of random reads read an index and a
// filter from the disk before the data block (two disk reads, not one).
func defaultMaxOpenFiles(limit int) int {
	return max(1000, limit/4)
}

// fileLimitMargin is how many file descriptors MaxOpenFiles leaves to
// everything but table files: logs, the MANIFEST, directories being synced,
// and the process's own files.
const fileLimitMargin = 64

// writerOptions are the table writer's options for tables of a database
// with these options (defaults applied).
func (o *Options) writerOptions() sstable.WriterOptions {
	return sstable.WriterOptions{
		BlockSize:            o.BlockSize,
		BlockRestartInterval: o.BlockRestartInterval,
		Comparer:             o.Comparator,
		BloomBitsPerKey:      max(o.BloomBitsPerKey, 0),
		Compression:          sstableCompression(o.Compression),
	}
}

// sstableCompression maps a Compression to the table format's.
func sstableCompression(c Compression) sstable.Compression {
	switch c {
	case NoCompression:
		return sstable.NoCompression
	case ZstdCompression:
		return sstable.ZstdCompression
	}
	return sstable.SnappyCompression
}

// newMemTable returns a memtable of WriteBufferSize for the writes of log
// logNum, holding one reference, its owner's; need is the size of the batch
// it must take.
func (o *Options) newMemTable(logNum uint64, need int) *memTable {
	return o.newMemTableSized(logNum, need, o.WriteBufferSize)
}

// newMemTableSized is newMemTable for a memtable frozen once it holds size
// bytes (see Options.InitialMemTableSize).
func (o *Options) newMemTableSized(logNum uint64, need, size int) *memTable {
	m := &memTable{MemTable: memtable.New(o.Comparator, arenaSize(size, need)), logNum: logNum, size: size}
	m.refs.Store(1)
	return m
}

// arenaSize is the arena of a new memtable of size bytes: those plus room
// for the largest commit group, or more when one batch needs it.
func arenaSize(size, need int) int {
	n := size + maxGroupBytes + 128<<10
	if need+64<<10 > n {
		n = need + 64<<10
	}
	return n
}
