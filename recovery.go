package strata

import (
	"errors"
	"fmt"
	"strings"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/record"
)

// RecoveryReport says what Open's recovery found in the write-ahead logs
// and what it did about it. A database opened after a clean Close has an
// empty report.
type RecoveryReport struct {
	// Mode is the WALRecoveryMode recovery ran with.
	Mode WALRecoveryMode
	// LogsReplayed counts the logs replayed, wholly or in part; Batches
	// the write batches applied from them.
	LogsReplayed, Batches int
	// TornTails lists the logs that ended in a torn record: a write a crash
	// cut short, which was never acknowledged as durable. Dropping it loses
	// nothing that was promised.
	TornTails []LogDamage
	// Damage lists the damaged records found. Under WALPointInTime the
	// first one is where recovery stopped; under WALSkipAnyCorruptedRecords
	// each was skipped and the records after it replayed.
	Damage []LogDamage
	// Stopped says recovery stopped before the end of the logs: at damage
	// (WALPointInTime), or at a log whose predecessor ends early (a power
	// cut took its unsynced tail, or damage: replaying it would recover
	// later writes without earlier ones). StopReason says which.
	Stopped    bool
	StopReason string
	// NotReplayed counts the intact records after the stop, in the log
	// recovery stopped in and in the logs after it, and their bytes:
	// acknowledged writes the database does not hold.
	NotReplayed      int
	NotReplayedBytes int64
	// MovedToLost names the files recovery moved to lost/ (with a note
	// each), relative to the database directory: the logs it did not
	// replay whole, and tables no MANIFEST edit names. A read-only handle
	// moves nothing.
	MovedToLost []string
}

// LogDamage is a damaged or torn record of a write-ahead log.
type LogDamage struct {
	File   string // the log's path
	Offset int64  // where the damage starts
	Bytes  int64  // for a torn tail: its length
	Err    string // what is wrong
}

// DataLost reports whether recovery left out more than a crash's torn
// tails: damaged records, or intact records after a stop.
func (r *RecoveryReport) DataLost() bool {
	return len(r.Damage) > 0 || r.NotReplayed > 0 || r.Stopped
}

// String summarizes the report in one line ("" when nothing was lost).
func (r *RecoveryReport) String() string {
	if !r.DataLost() {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "recovery (%s) ", r.Mode)
	if len(r.Damage) > 0 {
		d := r.Damage[0]
		fmt.Fprintf(&b, "found %d damaged log record(s), the first in %s at offset %d (%s)", len(r.Damage), d.File, d.Offset, d.Err)
	}
	if r.Stopped {
		if len(r.Damage) > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "stopped: %s; %d intact record(s) (%d bytes) after it were not replayed", r.StopReason, r.NotReplayed, r.NotReplayedBytes)
	}
	if len(r.MovedToLost) > 0 {
		fmt.Fprintf(&b, "; moved to %s/: %s", lostDirName, strings.Join(r.MovedToLost, ", "))
	}
	return b.String()
}

// RecoveryReport returns what recovery at Open found and did (see
// RecoveryReport). The report is fixed at Open; CatchUp does not change it.
func (d *DB) RecoveryReport() *RecoveryReport {
	r := *d.recovery
	return &r
}

// errStopReplay, returned by a replay's onDamage, stops applying records at
// that damage (WALPointInTime): the rest of the log is only counted.
var errStopReplay = errors.New("strata: stop replay at damage")

// damageAt returns the offset a corruption error names (-1 if none).
func damageAt(err error) int64 {
	var ce *base.CorruptionError
	if errors.As(err, &ce) {
		return ce.Offset
	}
	return -1
}

// countLogRecords counts the intact records of the log at path and their
// bytes, skipping damage: what a log recovery did not replay held.
func countLogRecords(o *Options, path string) (records int, bytes int64, err error) {
	f, err := o.FS.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("strata: open WAL: %w", err)
	}
	defer f.Close()
	err = record.NewReader(f, path).Each(func(error) error { return nil }, func(rec []byte, _ int64) error {
		if isWrite(rec) {
			records++
			bytes += int64(len(rec))
		}
		return nil
	})
	return records, bytes, err
}

// isWrite reports whether a log record is a batch with operations (not a
// log's header record, see wal.go, nor an unreadable one).
func isWrite(rec []byte) bool {
	return batch.Validate(rec) == nil && batch.Count(rec) > 0
}

// unreplayedLog is a log recovery did not replay whole: from is the offset
// replay stopped at (0: not replayed at all), why the reason.
type unreplayedLog struct {
	num     uint64
	from    int64
	why     string
	records int
	bytes   int64
}

// moveUnreplayedLogs moves the logs recovery did not replay whole to lost/,
// each with a note of what it holds, and records them in the report. They
// are obsolete once the new MANIFEST is written: deleting them, as every
// obsolete log is, would lose the writes in them for good, so a log that
// cannot be moved fails the Open.
func (d *DB) moveUnreplayedLogs(logs []unreplayedLog) error {
	for _, l := range logs {
		name := base.MakeFilename(base.FileTypeLog, l.num)
		note := fmt.Sprintf("%s: write-ahead log that recovery (%s) did not replay whole.\n"+
			"It was not replayed from offset %d on: %s.\n"+
			"It holds %d intact record(s) (%d bytes of batches) from there on that are not in the database.\n"+
			"To recover them anyway (the database is then not a prefix of the writes), copy the database, put this\n"+
			"file back in the copy and open it with WALRecoveryMode WALSkipAnyCorruptedRecords.\n",
			name, d.opts.WALRecoveryMode, l.from, l.why, l.records, l.bytes)
		target, err := moveToLost(d.fs, d.dirname, name, note)
		if err != nil {
			return err
		}
		d.recovery.MovedToLost = append(d.recovery.MovedToLost, lostDirName+"/"+target)
		d.logger.Warn("moved a log recovery did not replay whole to lost/", "file", name, "moved-to", lostDirName+"/"+target)
	}
	return nil
}

// countUnreplayed describes logs recovery did not replay at all, for the
// report and lost/'s notes.
func (d *DB) countUnreplayed(nums []uint64, why string) ([]unreplayedLog, error) {
	var out []unreplayedLog
	for _, num := range nums {
		n, b, err := countLogRecords(d.opts, base.MakeFilepath(d.dirname, base.FileTypeLog, num))
		if err != nil {
			return nil, err
		}
		d.recovery.NotReplayed += n
		d.recovery.NotReplayedBytes += b
		out = append(out, unreplayedLog{num: num, why: why, records: n, bytes: b})
	}
	return out, nil
}
