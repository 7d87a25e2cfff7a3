package dbbench

// DB is what the workloads need from an engine. Implementations must be
// safe for concurrent use (benchmarks run --threads goroutines at once).
type DB interface {
	// Put writes one entry.
	Put(key, value []byte, wo WriteOptions) error
	// Delete removes one key.
	Delete(key []byte, wo WriteOptions) error
	// NewBatch returns an empty batch for Apply.
	NewBatch() Batch
	// Apply commits a batch from NewBatch atomically.
	Apply(b Batch, wo WriteOptions) error
	// Get looks key up and reports whether it was found and the length of
	// its value. The engine may copy the value or not, as its natural read
	// path does; the workloads never keep it.
	Get(key []byte) (found bool, valueLen int, err error)
	// NewIter returns an iterator over the latest state. A reverse iterator
	// starts at the last key (First) and moves backwards (Next); only forward
	// iterators are asked to Seek.
	NewIter(reverse bool) (Iter, error)
	// Flush writes the memtable out to tables.
	Flush() error
	// WaitForCompactions returns when background flushes and compactions
	// have settled (db_bench's waitforcompaction).
	WaitForCompactions() error
	// Compact compacts the whole key space (db_bench's compact).
	Compact() error
	// Stats returns the engine's statistics text (db_bench's stats).
	Stats() string
	// Close closes the database.
	Close() error
}

// WriteOptions are the per-write settings the workloads use.
type WriteOptions struct {
	// Sync makes the write durable before it returns.
	Sync bool
	// DisableWAL skips the write-ahead log, where the engine can.
	DisableWAL bool
}

// Batch collects writes for DB.Apply.
type Batch interface {
	Put(key, value []byte)
	Delete(key []byte)
	// Reset empties the batch for reuse.
	Reset()
}

// Iter is a positioned iterator. Key and Value are valid until the next
// move.
type Iter interface {
	// First moves to the first key (the last for a reverse iterator).
	First() bool
	// Seek moves to the first key >= key (forward iterators only).
	Seek(key []byte) bool
	// Next moves one step in the iterator's direction.
	Next() bool
	Valid() bool
	Key() []byte
	Value() []byte
	// Close releases the iterator and returns its error, if any.
	Close() error
}

// Options are the engine settings a benchmark run asks for; each engine
// maps them onto its own options as closely as it allows.
type Options struct {
	// CacheSize is the block cache capacity in bytes; negative disables it.
	CacheSize int64
	// BloomBits is the bloom filter size in bits per key; <= 0 means none.
	BloomBits int
	// Compression is "none", "snappy" or "zstd".
	Compression string
	// WriteBufferSize is the memtable size in bytes.
	WriteBufferSize int
	// BlockSize is the target uncompressed data block size in bytes.
	BlockSize int
	// OpenFiles bounds open table files; 0 means the engine's default.
	OpenFiles int
	// DisableWAL and Sync tell engines that fix these at open time how
	// writes will be issued (the per-write WriteOptions say the same).
	DisableWAL, Sync bool
	// MustExist makes Open fail when there is no database (--use_existing_db).
	MustExist bool
	// BulkLoad asks for the engine's bulk-load configuration, as a user
	// loading a large data set would choose it (--bulk_load).
	BulkLoad bool
	// MergeOperator is "" (none) or "uint64add": the engine's merge
	// operator adds 8-byte little-endian unsigned integers, wrapping
	// around (RocksDB's uint64add, Strata's AddMerger). An engine without
	// merges fails to open with it.
	MergeOperator string
}

// MergeDB is a DB with a merge operator (Options.MergeOperator), as
// mergerandom and readrandommergerandom need.
type MergeDB interface {
	DB
	// Merge records operand for key, for the merge operator to fold into
	// its value.
	Merge(key, operand []byte, wo WriteOptions) error
}

// RangeDeleteDB is a DB with range deletions, as the write benchmarks need
// with --writes_per_range_tombstone (unless --expand_range_tombstones).
// Its batches must implement RangeDeleteBatch.
type RangeDeleteDB interface {
	DB
	// DeleteRange deletes every key in [start, end).
	DeleteRange(start, end []byte, wo WriteOptions) error
}

// RangeDeleteBatch is the Batch of a RangeDeleteDB.
type RangeDeleteBatch interface {
	Batch
	DeleteRange(start, end []byte)
}

// Engine opens and destroys databases of one kind.
type Engine struct {
	// Name identifies the engine in output ("strata", "pebble", ...).
	Name string
	// Open opens (or creates) the database in dir.
	Open func(dir string, o Options) (DB, error)
	// Destroy deletes the database in dir, if there is one.
	Destroy func(dir string) error
}
