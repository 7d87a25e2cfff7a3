package strata

import (
	"sync/atomic"
	"time"
)

// dbStats holds the counters behind the strata.stats property. The atomics
// are updated without locks; levels is guarded by DB.mu.
type dbStats struct {
	writes              atomic.Uint64 // operations committed
	walBytes            atomic.Uint64
	walSyncs            atomic.Uint64
	slowdowns           atomic.Uint64 // writes delayed 1 ms by level-0 slowdown
	stalls              atomic.Uint64 // times a writer waited for a flush or compaction
	flushes             atomic.Uint64
	flushBytes          atomic.Uint64 // bytes of tables written by flushes
	compactions         atomic.Uint64
	trivialMoves        atomic.Uint64
	txnCommits          atomic.Uint64 // read-write transactions committed with writes
	txnConflicts        atomic.Uint64 // commits refused with ErrConflict
	txnRetried          atomic.Uint64 // transactions DB.Update ran again
	txnRefreshes        atomic.Uint64 // Txn.Refresh calls that moved the read version
	txnRefreshConflicts atomic.Uint64 // Txn.Refresh calls that found a conflict
	levels              [7]levelStats
}

// levelStats is the compaction work that produced a level's tables.
type levelStats struct {
	count      int // compactions (or flushes, for level 0) into the level
	readBytes  uint64
	writeBytes uint64
	duration   time.Duration
}

func (l *levelStats) recordWrite(n uint64) {
	l.count++
	l.writeBytes += n
}

func (l *levelStats) recordCompaction(read, written uint64, dur time.Duration) {
	l.count++
	l.readBytes += read
	l.writeBytes += written
	l.duration += dur
}
