package strata

import (
	"time"

	"github.com/strata-db/strata/internal/manifest"
)

// NumLevels is the number of levels of the tree (0 through 6), as in LevelDB.
const NumLevels = manifest.NumLevels

// LevelMetrics describes one level of the tree.
type LevelMetrics struct {
	// Files and Bytes count the level's tables now.
	Files int
	Bytes uint64
	// Score is how urgently the level needs a compaction (>= 1: due). For
	// level 0 it counts files against L0CompactionTrigger; for the others
	// bytes against the level's budget.
	Score float64
	// Compactions counts the compactions into the level since Open (for
	// level 0, and for levels that flushes were pushed down to, flushes
	// count too); ReadBytes and WriteBytes are their input and output
	// bytes, Duration their time.
	Compactions int
	ReadBytes   uint64
	WriteBytes  uint64
	Duration    time.Duration
}

// CacheMetrics describes the block cache. Capacity is 0 when it is disabled.
type CacheMetrics struct {
	Hits, Misses, Size, Capacity, Entries int64
}

// Metrics is a snapshot of the database's shape and of its counters since
// Open (counters are not persisted: a fresh Open starts them at zero).
type Metrics struct {
	Levels [NumLevels]LevelMetrics
	// BaseLevel is the level level 0 compacts into: 1 with
	// FixedLevelSizes; with DynamicLevelSizes the shallowest level the
	// tree's size leaves room for (the levels between 0 and it are empty).
	BaseLevel int
	// MemTableBytes is the memory used by the mutable and the immutable
	// memtables; ImmutableMemTables counts the latter (waiting for a flush
	// to finish: one whose table is written but not yet recorded in the
	// MANIFEST counts, though its memory is released).
	MemTableBytes      uint64
	ImmutableMemTables int
	BlockCache         CacheMetrics
	// Writes counts committed operations (puts and deletes); WALBytes and
	// WALSyncs the write-ahead log's bytes and fsyncs.
	Writes, WALBytes, WALSyncs uint64
	// Flushes and FlushBytes count memtable flushes and the table bytes
	// they wrote.
	Flushes, FlushBytes uint64
	// Compactions counts compactions that rewrote tables; TrivialMoves
	// those that only moved a table to the next level.
	Compactions, TrivialMoves uint64
	// Slowdowns counts writes delayed by 1 ms, Stalls writes that waited
	// for a flush or compaction.
	Slowdowns, Stalls uint64
	// LastSequence is the newest visible sequence number.
	LastSequence uint64
	// TxnCommits counts transactions committed with writes, TxnConflicts
	// commits refused with ErrConflict, TxnRetries the times DB.Update ran
	// a transaction again after a retryable error. TxnRefreshes counts the
	// Txn.Refresh calls that moved a read version up, TxnRefreshConflicts
	// those that found a conflict (the transaction's commit would have
	// failed; not counted in TxnConflicts unless it then commits).
	// TxnConflictBytes is the conflict window's size (see
	// Options.TxnConflictWindow).
	TxnCommits, TxnConflicts, TxnRetries uint64
	TxnRefreshes, TxnRefreshConflicts    uint64
	TxnConflictBytes                     int64
}

// Metrics returns the database's current shape and counters. It is cheap
// (no I/O) and safe to call concurrently with anything.
func (d *DB) Metrics() *Metrics {
	rs := d.loadReadState()
	defer rs.unref()
	v := rs.version
	scores := v.ComputeScores(d.pickerOptions())
	m := &Metrics{
		BaseLevel:           scores.Targets.BaseLevel,
		Writes:              d.stats.writes.Load(),
		WALBytes:            d.stats.walBytes.Load(),
		WALSyncs:            d.stats.walSyncs.Load(),
		Flushes:             d.stats.flushes.Load(),
		FlushBytes:          d.stats.flushBytes.Load(),
		Compactions:         d.stats.compactions.Load(),
		TrivialMoves:        d.stats.trivialMoves.Load(),
		Slowdowns:           d.stats.slowdowns.Load(),
		Stalls:              d.stats.stalls.Load(),
		LastSequence:        d.visibleSeq.Load(),
		TxnCommits:          d.stats.txnCommits.Load(),
		TxnConflicts:        d.stats.txnConflicts.Load(),
		TxnRetries:          d.stats.txnRetried.Load(),
		TxnRefreshes:        d.stats.txnRefreshes.Load(),
		TxnRefreshConflicts: d.stats.txnRefreshConflicts.Load(),
	}
	m.MemTableBytes = rs.mem.ApproximateMemoryUsage()
	for _, im := range rs.imms {
		m.MemTableBytes += im.memoryUsage()
	}
	d.mu.Lock()
	levels := d.stats.levels
	m.ImmutableMemTables = len(d.imms)
	if d.txns.set != nil {
		m.TxnConflictBytes = d.txns.set.bytes
	}
	d.mu.Unlock()
	for level := range m.Levels {
		ls := levels[level]
		m.Levels[level] = LevelMetrics{
			Files: len(v.Levels[level]), Bytes: v.LevelBytes(level), Score: scores.Level[level],
			Compactions: ls.count, ReadBytes: ls.readBytes, WriteBytes: ls.writeBytes, Duration: ls.duration,
		}
	}
	if d.blockCache != nil {
		c := &m.BlockCache
		c.Hits, c.Misses, c.Size, c.Capacity, c.Entries = d.blockCache.Stats()
	}
	return m
}

// ReadAmp is the number of sorted runs of tables a point read may consult
// in the worst case: every level-0 table, plus one per non-empty deeper
// level (memtables not counted).
func (m *Metrics) ReadAmp() int {
	n := m.Levels[0].Files
	for _, l := range m.Levels[1:] {
		if l.Files > 0 {
			n++
		}
	}
	return n
}

// WriteAmp is the write amplification of the tree since Open: table bytes
// written by flushes and compactions per byte flushed (the WAL not
// counted). 0 when nothing was flushed yet.
func (m *Metrics) WriteAmp() float64 {
	if m.FlushBytes == 0 {
		return 0
	}
	var written uint64
	for _, l := range m.Levels {
		written += l.WriteBytes
	}
	return float64(written) / float64(m.FlushBytes)
}
