package strata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/manifest"
)

// EventListener holds functions the database calls when something
// significant happens in it: a flush or a compaction begins or ends, writes
// stall and resume, a table or a write-ahead log is created or deleted, a
// background operation fails. Set only the fields you need: a nil field
// costs nothing, and with a nil Options.EventListener and a Logger that
// discards everything the engine builds no event at all. Pebble's
// EventListener and RocksDB's are the models.
//
// Every event is also one line of the info log (Options.Logger, by default
// the LOG file): its String, with the attributes event=KIND (flush-begin,
// flush-end, compaction-begin, compaction-end, write-stall-begin,
// write-stall-end, table-created, table-deleted, wal-created, wal-deleted,
// background-error) and, for a job's events, job=N. `strata stats --events`
// reads them back.
//
// Threading. A function is called synchronously on the goroutine that does
// the work, never with the database's internal mutex held: flushes on the
// flush goroutine; automatic compactions on the compaction goroutine and
// manual ones (CompactRange, CompactRangeWith) on their caller's; write
// stalls on the writing goroutine that stalled (the one leading its commit
// group, Flush's caller for a forced flush); deletions of obsolete files on
// the cleanup goroutine, or on Open's or Close's; WAL creation on the writer
// that rotated the memtable; an ingestion's tables on Ingest's caller's;
// what Open does on Open's caller's goroutine, before Open returns the *DB
// (so a function cannot reach the database then). The events of one job (one JobID) come in order, from
// one goroutine; those of different jobs may interleave, and functions may
// run concurrently with each other, so they must be safe for concurrent
// use.
//
// Ordering. A job's begin event comes first and its end event last; a
// table's TableCreated comes before the FlushEnd or CompactionEnd that lists
// it, and a file made obsolete by a job is deleted, and TableDeleted or
// WALDeleted called, only after that job's end event. BackgroundError comes
// after the end event of the job that failed, on the same goroutine;
// WriteStallEnd follows its WriteStallBegin on the same goroutine.
//
// Blocking. A function holds up the work that called it: while FlushEnd
// runs, the next flush waits (and writers may stall for it); while
// WriteStallBegin runs, the stalled writer and the writers queued behind it
// wait. Keep functions short, and hand long work to a goroutine of your own.
//
// Calling back into the database. A function may read (Get, NewIterator,
// NewSnapshot) and ask for Metrics, Property and the like: none of them
// waits for background work. It must not write, Flush, CompactRange,
// Ingest, Checkpoint or Close: those may wait for the very work that is
// calling the function, which would never finish.
//
// Panics. A function must not panic. The database does not recover a panic
// from a listener (Pebble does not either, and RocksDB forbids exceptions
// from its listeners): on a background goroutine it ends the process, and
// the files are then as a crash leaves them, which Open recovers like any
// crash (every acknowledged write is kept, as after a kill). On a caller's
// goroutine (a stalled write, a manual compaction, Open, Close) the panic
// reaches the caller, and the handle may be left unusable (writes and
// closes that wait for the interrupted work may hang); the files are safe
// as after a crash, and reopening the database in a new process recovers
// it.
type EventListener struct {
	// FlushBegin is called when a flush has picked its memtable, before it
	// writes anything.
	FlushBegin func(FlushInfo)
	// FlushEnd is called when a flush has ended: its table installed in
	// the tree, or failed (Err).
	FlushEnd func(FlushInfo)
	// CompactionBegin is called when a compaction has picked its input
	// tables, before it writes anything.
	CompactionBegin func(CompactionInfo)
	// CompactionEnd is called when a compaction has ended: its output
	// installed in the tree, or failed or stopped (Err).
	CompactionEnd func(CompactionInfo)
	// WriteStallBegin is called when a write starts waiting for a flush or
	// a compaction. The 1 ms slowdowns of L0SlowdownTrigger are not stalls
	// (Metrics.Slowdowns counts them).
	WriteStallBegin func(WriteStallBeginInfo)
	// WriteStallEnd is called when the stalled write goes on (or fails).
	WriteStallEnd func(WriteStallEndInfo)
	// TableCreated is called when a table file is complete and synced,
	// before the job that wrote it installs it.
	TableCreated func(TableCreateInfo)
	// TableDeleted is called after a table file was deleted, or its
	// deletion failed (Err).
	TableDeleted func(TableDeleteInfo)
	// WALCreated is called after a write-ahead log was created.
	WALCreated func(WALCreateInfo)
	// WALDeleted is called after a write-ahead log was deleted, or its
	// deletion failed (Err).
	WALDeleted func(WALDeleteInfo)
	// BackgroundError is called when a flush, a compaction, a write to the
	// log or an ingestion fails in a way that stops writes (Fatal), and
	// when background work fails for a passing reason and will be retried.
	BackgroundError func(BackgroundErrorInfo)
}

// TableInfo describes a table file. Smallest and Largest are its smallest
// and largest user keys; they belong to the database: read them during the
// call only, and do not modify them.
type TableInfo struct {
	FileNum           uint64
	Size              uint64
	Smallest, Largest []byte
}

// LevelInfo lists tables of one level of the tree.
type LevelInfo struct {
	Level  int
	Tables []TableInfo
}

// FlushInfo describes a flush: the begin event (Done false) and the end
// event (Done true) of one job.
type FlushInfo struct {
	// JobID identifies the flush among the database's jobs (flushes,
	// compactions, deletion sweeps, memtable rotations, Open), numbered
	// from 1 at each Open.
	JobID int
	// Reason is why the memtable was frozen: "memtable full" (it reached
	// WriteBufferSize, or a write did not fit), or the call that forced it:
	// "Flush", "CompactRange", "Checkpoint", "Ingest".
	Reason string
	// Input is the number of memtables flushed (more than 1 for the small
	// memtables after Open: Options.InitialMemTableSize); InputBytes their
	// memory, InputEntries their entries (range tombstones not counted).
	Input        int
	InputBytes   uint64
	InputEntries int
	// OutputLevel is the level the table went to (a flush places its table
	// below level 0 when nothing there overlaps it), and Output the table
	// (none for an empty memtable, or before the end).
	OutputLevel int
	Output      []TableInfo
	// Duration is the time from the begin event to the end, the install
	// included.
	Duration time.Duration
	// Done is set in the end event; Err is the failure, if the flush
	// failed.
	Done bool
	Err  error
}

// String returns one line, as the info log shows it: "[JOB 7] flushing 1
// memtable (4.1 MiB, 38211 entries; memtable full)" at the beginning, and
// "[JOB 7] flushed 1 memtable (4.1 MiB, 38211 entries; memtable full) to L0:
// 000012 (1.3 MiB) in 52.3ms" at the end.
func (i FlushInfo) String() string {
	var b strings.Builder
	verb := "flushing"
	if i.Done {
		verb = "flushed"
	}
	fmt.Fprintf(&b, "[JOB %d] %s %d memtable%s (%s, %d entries; %s)", i.JobID, verb, i.Input, plural(i.Input),
		base.HumanBytes(i.InputBytes), i.InputEntries, i.Reason)
	switch {
	case !i.Done:
	case i.Err != nil:
		fmt.Fprintf(&b, " failed after %s: %v", roundDuration(i.Duration), i.Err)
	default:
		if len(i.Output) == 0 {
			b.WriteString(": no table (nothing to write)")
		} else {
			fmt.Fprintf(&b, " to L%d: %s", i.OutputLevel, tablesString(i.Output))
		}
		fmt.Fprintf(&b, " in %s", roundDuration(i.Duration))
	}
	return b.String()
}

// CompactionInfo describes a compaction: the begin event (Done false) and
// the end event (Done true) of one job.
type CompactionInfo struct {
	// JobID identifies the compaction among the database's jobs.
	JobID int
	// Reason is why it runs: "L0 file count" (level 0 reached
	// L0CompactionTrigger), "level size" (a level outgrew its budget),
	// "seek" (a table was read through too often: LevelDB's seek
	// compaction), "manual" (CompactRange, CompactRangeWith).
	Reason string
	// Score is the level's compaction score for the first two reasons
	// (>= 1), else 0.
	Score float64
	// TrivialMove is set when the compaction only moves a table to the
	// next level, reading and writing nothing.
	TrivialMove bool
	// Input lists the input tables by level, shallowest first.
	Input []LevelInfo
	// Output is the output level, and in the end event its new tables
	// (for a trivial move, the moved table).
	Output LevelInfo
	// ReadBytes and WriteBytes are the input and output table bytes (0 for
	// a trivial move), set in the end event.
	ReadBytes, WriteBytes uint64
	// Duration is the time from the begin event to the end, the install
	// included.
	Duration time.Duration
	// Done is set in the end event. Err is the failure, or for a manual
	// compaction the cause of its context or ErrClosed when it was stopped;
	// a compaction the database's Close interrupts ends with ErrClosed. A
	// compaction whose CompactionFilter changed values while a snapshot was
	// taken ends with an error saying so, and runs again as a new job.
	Done bool
	Err  error
}

// String returns one line, as the info log shows it: "[JOB 9] compacting
// (L0 file count, score 1.00) L0 [000012 000014] (2.5 MiB) + L1 [000009]
// (1.9 MiB) to L1" at the beginning, and "[JOB 9] compacted (L0 file count)
// L0 [...] + L1 [...] to L1: 000016 (2.0 MiB), 000017 (1.7 MiB); read 4.4
// MiB, wrote 3.7 MiB in 210.4ms" at the end.
func (i CompactionInfo) String() string {
	var b strings.Builder
	verb := "compacting"
	switch {
	case i.TrivialMove && i.Done:
		verb = "moved"
	case i.TrivialMove:
		verb = "moving"
	case i.Done:
		verb = "compacted"
	}
	fmt.Fprintf(&b, "[JOB %d] %s (%s", i.JobID, verb, i.Reason)
	if i.Score > 0 && !i.Done {
		fmt.Fprintf(&b, ", score %.2f", i.Score)
	}
	b.WriteString(")")
	for n, l := range i.Input {
		if n > 0 {
			b.WriteString(" +")
		}
		fmt.Fprintf(&b, " L%d [", l.Level)
		var size uint64
		for k, t := range l.Tables {
			if k > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%06d", t.FileNum)
			size += t.Size
		}
		fmt.Fprintf(&b, "] (%s)", base.HumanBytes(size))
	}
	fmt.Fprintf(&b, " to L%d", i.Output.Level)
	switch {
	case !i.Done:
	case i.Err != nil:
		fmt.Fprintf(&b, " failed after %s: %v", roundDuration(i.Duration), i.Err)
	case i.TrivialMove:
		fmt.Fprintf(&b, " in %s", roundDuration(i.Duration))
	default:
		if len(i.Output.Tables) == 0 {
			b.WriteString(": no table (every entry dropped)")
		} else {
			b.WriteString(": " + tablesString(i.Output.Tables))
		}
		fmt.Fprintf(&b, "; read %s, wrote %s in %s", base.HumanBytes(i.ReadBytes), base.HumanBytes(i.WriteBytes),
			roundDuration(i.Duration))
	}
	return b.String()
}

// The reasons a memtable is frozen and flushed (FlushInfo.Reason): full, or
// forced by one of these calls.
const (
	flushReasonFull         = "memtable full"
	flushReasonFlush        = "Flush"
	flushReasonCompactRange = "CompactRange"
	flushReasonCheckpoint   = "Checkpoint"
	flushReasonIngest       = "Ingest"
)

// The reasons a write stalls (WriteStallBeginInfo.Reason).
const (
	stallMemTableCount = "memtable count limit reached"
	stallMemTableBytes = "memtable memory limit reached"
	stallL0Files       = "L0 file count limit reached"
)

// WriteStallBeginInfo describes a write stall as it begins.
type WriteStallBeginInfo struct {
	// Reason is "memtable count limit reached" (MaxWriteBufferNumber
	// memtables are full: the write waits for a flush), "memtable memory
	// limit reached" (MaxMemTableBytes: likewise) or "L0 file count limit
	// reached" (L0StopTrigger: the write waits for a compaction).
	Reason string
}

// String returns one line: "write stall: memtable count limit reached".
func (i WriteStallBeginInfo) String() string { return "write stall: " + i.Reason }

// WriteStallEndInfo describes the end of a write stall.
type WriteStallEndInfo struct {
	// Reason is the WriteStallBeginInfo's Reason (the first one, if the
	// write then waited for something else too); Duration the time the
	// write waited.
	Reason   string
	Duration time.Duration
}

// String returns one line: "write stall ended after 120.5ms (memtable
// count limit reached)".
func (i WriteStallEndInfo) String() string {
	return fmt.Sprintf("write stall ended after %s (%s)", roundDuration(i.Duration), i.Reason)
}

// The reasons a table is created (TableCreateInfo.Reason).
const (
	tableFlushing   = "flushing"
	tableCompacting = "compacting"
	tableRecovery   = "recovery"
	tableIngesting  = "ingesting"
)

// TableCreateInfo describes a table file just completed.
type TableCreateInfo struct {
	// JobID is the job that wrote the table.
	JobID int
	// Reason is "flushing", "compacting", "recovery" (Open wrote the
	// writes its logs held) or "ingesting" (Ingest placed a table).
	Reason  string
	Path    string
	FileNum uint64
	Size    uint64
}

// String returns one line: "[JOB 7] table 000012.ldb created (flushing,
// 1.3 MiB)".
func (i TableCreateInfo) String() string {
	return fmt.Sprintf("[JOB %d] table %s created (%s, %s)", i.JobID, tableName(i.FileNum), i.Reason,
		base.HumanBytes(i.Size))
}

// TableDeleteInfo describes the deletion of a table file that no version
// of the tree needs any more (or a compaction's output it abandoned).
type TableDeleteInfo struct {
	// JobID is the deletion sweep's job (or the abandoning compaction's).
	JobID   int
	Path    string
	FileNum uint64
	// Err is set when the file could not be deleted (it is tried again at
	// the next sweep or Open).
	Err error
}

// String returns one line: "[JOB 12] table 000012.ldb deleted".
func (i TableDeleteInfo) String() string {
	if i.Err != nil {
		return fmt.Sprintf("[JOB %d] table %s not deleted: %v", i.JobID, tableName(i.FileNum), i.Err)
	}
	return fmt.Sprintf("[JOB %d] table %s deleted", i.JobID, tableName(i.FileNum))
}

// WALCreateInfo describes a write-ahead log just created.
type WALCreateInfo struct {
	// JobID is the memtable rotation's job (or Open's).
	JobID   int
	Path    string
	FileNum uint64
}

// String returns one line: "[JOB 8] WAL 000013.log created".
func (i WALCreateInfo) String() string {
	return fmt.Sprintf("[JOB %d] WAL %s created", i.JobID, base.MakeFilename(base.FileTypeLog, i.FileNum))
}

// WALDeleteInfo describes the deletion of a write-ahead log whose writes
// are all in tables.
type WALDeleteInfo struct {
	// JobID is the deletion sweep's job.
	JobID   int
	Path    string
	FileNum uint64
	// Err is set when the file could not be deleted.
	Err error
}

// String returns one line: "[JOB 12] WAL 000011.log deleted".
func (i WALDeleteInfo) String() string {
	name := base.MakeFilename(base.FileTypeLog, i.FileNum)
	if i.Err != nil {
		return fmt.Sprintf("[JOB %d] WAL %s not deleted: %v", i.JobID, name, i.Err)
	}
	return fmt.Sprintf("[JOB %d] WAL %s deleted", i.JobID, name)
}

// BackgroundErrorInfo describes a failure of work the database does on its
// own.
type BackgroundErrorInfo struct {
	// Operation is "flush", "compaction", "write" (a write to the log or
	// the memtable, or the MANIFEST record a write's first range deletion
	// or merge needs) or "ingest".
	Operation string
	Err       error
	// Fatal is set when the error stops writes: every write, Flush and
	// compaction returns it until the database is reopened. Otherwise the
	// failure had a passing cause (out of file descriptors) and the work
	// is retried after RetryIn.
	Fatal   bool
	RetryIn time.Duration
}

// String returns one line: "background error in flush: ...; writes fail
// until the database is reopened", or "flush failed for a passing reason,
// retrying in 20ms: ...".
func (i BackgroundErrorInfo) String() string {
	if i.Fatal {
		return fmt.Sprintf("background error in %s: %v; writes fail until the database is reopened", i.Operation, i.Err)
	}
	return fmt.Sprintf("%s failed for a passing reason, retrying in %v: %v", i.Operation, i.RetryIn, i.Err)
}

// roundDuration rounds d for an event's line: "4.2ms", "1.23s".
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// tablesString lists tables as "000012 (1.3 MiB), 000013 (2.0 MiB)".
func tablesString(tables []TableInfo) string {
	var b strings.Builder
	for n, t := range tables {
		if n > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%06d (%s)", t.FileNum, base.HumanBytes(t.Size))
	}
	return b.String()
}

func tableInfo(f *manifest.FileMetadata) TableInfo {
	return TableInfo{FileNum: f.Num, Size: f.Size, Smallest: f.SmallestUserKey(), Largest: f.LargestUserKey()}
}

func tableInfos(files []*manifest.FileMetadata) []TableInfo {
	infos := make([]TableInfo, len(files))
	for n, f := range files {
		infos[n] = tableInfo(f)
	}
	return infos
}

// eventSink delivers the database's events: each to the info log, as one
// line, and to the user's EventListener. When neither listens (a nil
// listener and a logger that discards everything), on is false and the
// engine builds no event at all.
type eventSink struct {
	on     bool
	user   EventListener // the user's functions; zero when none
	logger *slog.Logger  // nil when it discards everything
	jobs   atomic.Int64
}

func newEventSink(user *EventListener, logger *slog.Logger) *eventSink {
	s := &eventSink{}
	if user != nil {
		s.user = *user
		s.on = true
	}
	if logger != nil && logger.Enabled(context.Background(), slog.LevelError) {
		s.logger = logger
		s.on = true
	}
	return s
}

// newJob returns a new job number (from 1 at each Open).
func (s *eventSink) newJob() int { return int(s.jobs.Add(1)) }

// The event kinds, the info log's event= attribute.
const (
	evFlushBegin      = "flush-begin"
	evFlushEnd        = "flush-end"
	evCompactionBegin = "compaction-begin"
	evCompactionEnd   = "compaction-end"
	evStallBegin      = "write-stall-begin"
	evStallEnd        = "write-stall-end"
	evTableCreated    = "table-created"
	evTableDeleted    = "table-deleted"
	evWALCreated      = "wal-created"
	evWALDeleted      = "wal-deleted"
	evBackgroundError = "background-error"
)

// emit writes info to the info log at level, as its String with the
// attributes event=kind and (when job > 0) job=N, then calls fn (the
// user's function, may be nil). It is never called with DB.mu held.
func emit[T fmt.Stringer](s *eventSink, kind string, level slog.Level, job int, info T, fn func(T)) {
	if s.logger != nil && s.logger.Enabled(context.Background(), level) {
		attrs := []slog.Attr{slog.String("event", kind)}
		if job > 0 {
			attrs = append(attrs, slog.Int("job", job))
		}
		s.logger.LogAttrs(context.Background(), level, info.String(), attrs...)
	}
	if fn != nil {
		fn(info)
	}
}

// endLevel is the level of a job's end event: a warning when it failed, but
// not when it was only stopped (a closing database, a canceled context) or
// is run again (errFilterRaced).
func endLevel(err error) slog.Level {
	if err != nil && !stopped(err) && !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, errFilterRaced) {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// holdCleanupLocked keeps the obsolete-file sweep from deleting anything
// until releaseCleanup: a job takes it before installing its edit, so that
// the files the edit makes obsolete are deleted only after its end event.
func (d *DB) holdCleanupLocked() { d.cleanupHolds++ }

// releaseCleanup ends a holdCleanupLocked and lets the sweep run.
func (d *DB) releaseCleanup() {
	d.mu.Lock()
	d.cleanupHolds--
	d.mu.Unlock()
	d.scheduleCleanup()
}

// flushEvent is a flush's event, from its begin to its end; nil when
// nothing listens.
type flushEvent struct {
	info  FlushInfo
	start time.Time
	held  bool // holdCleanupLocked was taken
}

// flushBegin reports the beginning of a flush of ms, for the reason the
// newest of them was frozen.
func (d *DB) flushBegin(ms []*memTable) *flushEvent {
	s := d.events
	if !s.on {
		return nil
	}
	e := &flushEvent{start: time.Now(), info: FlushInfo{JobID: s.newJob(), Reason: ms[len(ms)-1].flushReason, Input: len(ms)}}
	for _, m := range ms {
		e.info.InputBytes += m.ApproximateMemoryUsage()
		e.info.InputEntries += m.Len()
	}
	emit(s, evFlushBegin, slog.LevelInfo, e.info.JobID, e.info, s.user.FlushBegin)
	return e
}

// job is the flush's job number (0 when nothing listens).
func (e *flushEvent) job() int {
	if e == nil {
		return 0
	}
	return e.info.JobID
}

// holdLocked takes the cleanup hold for the flush's install.
func (e *flushEvent) holdLocked(d *DB) {
	if e != nil {
		d.holdCleanupLocked()
		e.held = true
	}
}

// flushEnd reports the end of a flush that wrote meta (nil: none) to level,
// or failed with err, and releases the cleanup hold.
func (d *DB) flushEnd(e *flushEvent, level int, meta *manifest.FileMetadata, err error) {
	if e == nil {
		return
	}
	e.info.Done, e.info.Err, e.info.Duration = true, err, time.Since(e.start)
	if meta != nil && err == nil {
		e.info.OutputLevel, e.info.Output = level, []TableInfo{tableInfo(meta)}
	}
	emit(d.events, evFlushEnd, endLevel(err), e.info.JobID, e.info, d.events.user.FlushEnd)
	if e.held {
		d.releaseCleanup()
	}
}

// compactionEvent is a compaction's event, from its begin to its end; nil
// when nothing listens.
type compactionEvent struct {
	info  CompactionInfo
	start time.Time
	held  bool   // holdCleanupLocked was taken
	after func() // a background error to report after the end
}

// compactionReason is CompactionInfo.Reason for a picked compaction.
func compactionReason(c *manifest.Compaction) string {
	switch {
	case c.Reason == manifest.ReasonManual:
		return "manual"
	case c.Reason == manifest.ReasonSeek:
		return "seek"
	case c.Level == 0:
		return "L0 file count"
	}
	return "level size"
}

// compactionBegin reports the beginning of compaction c.
func (d *DB) compactionBegin(c *manifest.Compaction, trivialMove bool) *compactionEvent {
	if !d.events.on {
		return nil
	}
	var inputs [manifest.NumLevels][]*manifest.FileMetadata
	inputs[c.Level], inputs[c.OutputLevel()] = c.Inputs[0], c.Inputs[1]
	e := d.compactionBeginLevels(compactionReason(c), inputs, c.OutputLevel())
	if e != nil {
		e.info.TrivialMove = trivialMove
		if c.Reason == manifest.ReasonSize {
			e.info.Score = c.Score
		}
	}
	d.emitCompactionBegin(e)
	return e
}

// compactionBeginLevels builds the begin event of a compaction of inputs
// (by level) into level out; the caller emits it (emitCompactionBegin).
func (d *DB) compactionBeginLevels(reason string, inputs [manifest.NumLevels][]*manifest.FileMetadata, out int) *compactionEvent {
	if !d.events.on {
		return nil
	}
	e := &compactionEvent{start: time.Now(), info: CompactionInfo{JobID: d.events.newJob(), Reason: reason,
		Output: LevelInfo{Level: out}}}
	for level, files := range inputs {
		if len(files) > 0 {
			e.info.Input = append(e.info.Input, LevelInfo{Level: level, Tables: tableInfos(files)})
		}
	}
	return e
}

func (d *DB) emitCompactionBegin(e *compactionEvent) {
	if e != nil {
		emit(d.events, evCompactionBegin, slog.LevelInfo, e.info.JobID, e.info, d.events.user.CompactionBegin)
	}
}

// job is the compaction's job number (0 when nothing listens).
func (e *compactionEvent) job() int {
	if e == nil {
		return 0
	}
	return e.info.JobID
}

// holdLocked takes the cleanup hold for the compaction's install.
func (e *compactionEvent) holdLocked(d *DB) {
	if e != nil {
		d.holdCleanupLocked()
		e.held = true
	}
}

// setOutput records the compaction's output tables and bytes.
func (e *compactionEvent) setOutput(outputs []*manifest.FileMetadata, read, written uint64) {
	if e != nil {
		e.info.Output.Tables = tableInfos(outputs)
		e.info.ReadBytes, e.info.WriteBytes = read, written
	}
}

// compactionEnd reports the end of a compaction, failed with err or not,
// and releases the cleanup hold.
func (d *DB) compactionEnd(e *compactionEvent, err error) {
	if e == nil {
		return
	}
	e.info.Done, e.info.Err, e.info.Duration = true, manualErr(err), time.Since(e.start)
	if err != nil {
		e.info.Output.Tables = nil
		e.info.ReadBytes, e.info.WriteBytes = 0, 0
	}
	emit(d.events, evCompactionEnd, endLevel(err), e.info.JobID, e.info, d.events.user.CompactionEnd)
	if e.after != nil {
		e.after()
	}
	if e.held {
		d.releaseCleanup()
	}
}

// reportAfterEnd has the background error that notify reports (see
// backgroundErrorLocked) delivered after the compaction's end event.
func (e *compactionEvent) reportAfterEnd(notify func()) {
	if e != nil {
		e.after = notify
	}
}

// tableCreated reports table meta, complete and synced, written by job.
func (d *DB) tableCreated(job int, reason string, meta *manifest.FileMetadata) {
	if !d.events.on || meta == nil {
		return
	}
	info := TableCreateInfo{JobID: job, Reason: reason, FileNum: meta.Num, Size: meta.Size,
		Path: base.MakeFilepath(d.dirname, base.FileTypeTable, meta.Num)}
	emit(d.events, evTableCreated, slog.LevelInfo, job, info, d.events.user.TableCreated)
}

// removeTables removes tables a failed job wrote and reported created,
// reporting each deletion.
func (d *DB) removeTables(job int, tables []*manifest.FileMetadata) {
	for _, t := range tables {
		path := base.MakeFilepath(d.dirname, base.FileTypeTable, t.Num)
		d.fileDeleted(job, base.FileTypeTable, path, t.Num, d.fs.Remove(path))
	}
}

// fileDeleted reports the deletion of a table or a log (err: it failed).
func (d *DB) fileDeleted(job int, t base.FileType, path string, num uint64, err error) {
	if !d.events.on {
		return
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	if t == base.FileTypeLog {
		emit(d.events, evWALDeleted, level, job, WALDeleteInfo{JobID: job, Path: path, FileNum: num, Err: err},
			d.events.user.WALDeleted)
		return
	}
	emit(d.events, evTableDeleted, level, job, TableDeleteInfo{JobID: job, Path: path, FileNum: num, Err: err},
		d.events.user.TableDeleted)
}

// walCreated reports log num, created by job.
func (d *DB) walCreated(job int, num uint64) {
	info := WALCreateInfo{JobID: job, FileNum: num, Path: base.MakeFilepath(d.dirname, base.FileTypeLog, num)}
	emit(d.events, evWALCreated, slog.LevelInfo, job, info, d.events.user.WALCreated)
}

// backgroundErrorLocked returns the function that reports a background
// failure; the caller calls it once d.mu is released (never nil).
func (d *DB) backgroundErrorLocked(info BackgroundErrorInfo) func() {
	if !d.events.on {
		return func() {}
	}
	level := slog.LevelWarn
	if info.Fatal {
		level = slog.LevelError
	}
	return func() { emit(d.events, evBackgroundError, level, 0, info, d.events.user.BackgroundError) }
}

// writeStall follows one write's stall, from the first wait to the write
// going on (see makeRoomForWriteLocked).
type writeStall struct {
	reason string // "" until the write stalls
	start  time.Time
}

// beginLocked records that the write stalls for reason, the first time,
// and reports it. It reports whether it released d.mu to do so: the caller
// must then check again whether it still has to wait.
func (w *writeStall) beginLocked(d *DB, reason string) bool {
	if w.reason != "" {
		return false
	}
	w.reason, w.start = reason, time.Now()
	if !d.events.on {
		return false
	}
	d.mu.Unlock()
	emit(d.events, evStallBegin, slog.LevelInfo, 0, WriteStallBeginInfo{Reason: reason}, d.events.user.WriteStallBegin)
	d.mu.Lock()
	return true
}

// endLocked reports the end of the stall, if the write stalled.
func (w *writeStall) endLocked(d *DB) {
	if w.reason == "" || !d.events.on {
		return
	}
	d.mu.Unlock()
	emit(d.events, evStallEnd, slog.LevelInfo, 0, WriteStallEndInfo{Reason: w.reason, Duration: time.Since(w.start)},
		d.events.user.WriteStallEnd)
	d.mu.Lock()
}
