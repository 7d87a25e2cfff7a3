package strata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/vfs"
	"github.com/strata-db/strata/internal/vfs/errorfs"
)

// event is one event an eventRecorder saw.
type event struct {
	kind string // evFlushBegin, ...
	job  int
	info any // FlushInfo, CompactionInfo, ...
	line string
}

// eventRecorder is an EventListener that keeps every event in order. Each
// callback also reads from the database (Metrics, Get, Property) when db is
// set: a callback run with the DB's mutex held would deadlock there. hook,
// if set, runs after the event is recorded.
type eventRecorder struct {
	mu     sync.Mutex
	events []event
	db     atomic.Pointer[DB]
	hook   func(e event)
}

func recordEvent[T fmt.Stringer](r *eventRecorder, kind string, job func(T) int) func(T) {
	return func(info T) {
		e := event{kind: kind, job: job(info), info: info, line: info.String()}
		if db := r.db.Load(); db != nil {
			db.Metrics()
			if _, err := db.Get([]byte("probe")); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrClosed) {
				panic(fmt.Sprintf("Get from a %s callback: %v", kind, err))
			}
			db.Property("strata.stats")
		}
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
		if r.hook != nil {
			r.hook(e)
		}
	}
}

func noJob[T any](T) int { return 0 }

func (r *eventRecorder) listener() *EventListener {
	return &EventListener{
		FlushBegin:      recordEvent(r, evFlushBegin, func(i FlushInfo) int { return i.JobID }),
		FlushEnd:        recordEvent(r, evFlushEnd, func(i FlushInfo) int { return i.JobID }),
		CompactionBegin: recordEvent(r, evCompactionBegin, func(i CompactionInfo) int { return i.JobID }),
		CompactionEnd:   recordEvent(r, evCompactionEnd, func(i CompactionInfo) int { return i.JobID }),
		WriteStallBegin: recordEvent(r, evStallBegin, noJob[WriteStallBeginInfo]),
		WriteStallEnd:   recordEvent(r, evStallEnd, noJob[WriteStallEndInfo]),
		TableCreated:    recordEvent(r, evTableCreated, func(i TableCreateInfo) int { return i.JobID }),
		TableDeleted:    recordEvent(r, evTableDeleted, func(i TableDeleteInfo) int { return i.JobID }),
		WALCreated:      recordEvent(r, evWALCreated, func(i WALCreateInfo) int { return i.JobID }),
		WALDeleted:      recordEvent(r, evWALDeleted, func(i WALDeleteInfo) int { return i.JobID }),
		BackgroundError: recordEvent(r, evBackgroundError, noJob[BackgroundErrorInfo]),
	}
}

// all returns a copy of the events so far.
func (r *eventRecorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// openRecorded opens a database on fs (a new MemFS if nil) with a recorder
// that probes the database from every callback once Open has returned.
func openRecorded(t *testing.T, fs FS, o Options) (*DB, *eventRecorder) {
	t.Helper()
	r := &eventRecorder{}
	if fs == nil {
		fs = NewMemFS()
	}
	o.FS, o.EventListener = fs, r.listener()
	db := mustOpen(t, "db", &o)
	r.db.Store(db)
	return db, r
}

// closeRecorded closes db, stops the recorder's probes and returns the
// events.
func closeRecorded(t *testing.T, db *DB, r *eventRecorder) []event {
	t.Helper()
	r.db.Store(nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return r.all()
}

// pos returns the index of the first event of kind for which match holds
// (nil: any), or -1.
func pos(events []event, kind string, match func(e event) bool) int {
	for i, e := range events {
		if e.kind == kind && (match == nil || match(e)) {
			return i
		}
	}
	return -1
}

func dumpEvents(events []event) string {
	var b strings.Builder
	for i, e := range events {
		fmt.Fprintf(&b, "  %3d %-18s %s\n", i, e.kind, e.line)
	}
	return b.String()
}

// checkTableLifecycles checks, for every table an event names, that it was
// created before any job's end event lists it as output, that a job's
// end comes after its begin, and that a table is deleted only after the
// end of the job that made it obsolete (an input of a compaction that
// rewrote it) and never before it was created (tables created before the
// recording began excepted).
func checkTableLifecycles(t *testing.T, events []event) {
	t.Helper()
	created := map[uint64]int{} // table -> index of its TableCreated
	obsoleted := map[uint64]int{}
	begun := map[int]int{}
	for i, e := range events {
		switch info := e.info.(type) {
		case TableCreateInfo:
			if _, ok := created[info.FileNum]; ok {
				t.Errorf("table %d created twice\n%s", info.FileNum, dumpEvents(events))
			}
			created[info.FileNum] = i
		case FlushInfo:
			if !info.Done {
				begun[info.JobID] = i
				continue
			}
			if b, ok := begun[info.JobID]; !ok || b > i {
				t.Errorf("flush job %d ended without beginning first\n%s", info.JobID, dumpEvents(events))
			}
			for _, out := range info.Output {
				c, ok := created[out.FileNum]
				if !ok || events[c].job != info.JobID {
					t.Errorf("flush job %d lists table %d, which it did not create before\n%s", info.JobID, out.FileNum, dumpEvents(events))
				}
			}
		case CompactionInfo:
			if !info.Done {
				begun[info.JobID] = i
				continue
			}
			if b, ok := begun[info.JobID]; !ok || b > i {
				t.Errorf("compaction job %d ended without beginning first\n%s", info.JobID, dumpEvents(events))
			}
			if info.Err != nil {
				continue
			}
			var read, written uint64
			for _, l := range info.Input {
				for _, in := range l.Tables {
					read += in.Size
					if !info.TrivialMove {
						obsoleted[in.FileNum] = i
					}
				}
			}
			for _, out := range info.Output.Tables {
				written += out.Size
				if info.TrivialMove {
					continue
				}
				if c, ok := created[out.FileNum]; !ok || events[c].job != info.JobID {
					t.Errorf("compaction job %d lists table %d, which it did not create before\n%s", info.JobID, out.FileNum, dumpEvents(events))
				}
			}
			if info.TrivialMove {
				read, written = 0, 0
			}
			if info.ReadBytes != read || info.WriteBytes != written {
				t.Errorf("compaction job %d: read %d, wrote %d; its tables have %d and %d bytes", info.JobID,
					info.ReadBytes, info.WriteBytes, read, written)
			}
		case TableDeleteInfo:
			if info.Err != nil {
				t.Errorf("table %d not deleted: %v", info.FileNum, info.Err)
			}
			o, wasInput := obsoleted[info.FileNum]
			c, wasCreated := created[info.FileNum]
			switch {
			case wasCreated && c > i:
				t.Errorf("table %d deleted before it was created\n%s", info.FileNum, dumpEvents(events))
			case !wasInput && wasCreated && events[c].job != info.JobID: // a failed job removes its own outputs
				t.Errorf("table %d deleted, but no compaction took it as input\n%s", info.FileNum, dumpEvents(events))
			case wasInput && o > i:
				t.Errorf("table %d deleted before the compaction that obsoleted it ended\n%s", info.FileNum, dumpEvents(events))
			}
		}
	}
	for job, b := range begun {
		ended := false
		for _, e := range events[b:] {
			if e.job == job && (e.kind == evFlushEnd || e.kind == evCompactionEnd) {
				ended = true
			}
		}
		if !ended {
			t.Errorf("job %d began and never ended\n%s", job, dumpEvents(events))
		}
	}
}

func putKeys(t *testing.T, db *DB, from, to int, value string) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := db.Put(fmt.Appendf(nil, "key%06d", i), []byte(value), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEventsFlush: a flush reports its begin, the table it created, its
// end, the WAL its rotation created and the one it made obsolete, with the
// right fields, in that order.
func TestEventsFlush(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		run    func(t *testing.T, db *DB)
	}{
		{"Flush", "Flush", func(t *testing.T, db *DB) {
			putKeys(t, db, 0, 500, "value")
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}},
		{"memtable full", "memtable full", func(t *testing.T, db *DB) {
			// 64 KiB write buffers: 2000 entries of 100 bytes fill one.
			putKeys(t, db, 0, 2000, strings.Repeat("v", 100))
			waitFor(t, func() bool { return db.Metrics().Flushes > 0 })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, r := openRecorded(t, nil, Options{WriteBufferSize: 64 << 10, DisableAutoCompactions: true})
			tc.run(t, db)
			m := db.Metrics()
			events := closeRecorded(t, db, r)
			checkTableLifecycles(t, events)

			begin := pos(events, evFlushBegin, nil)
			if begin < 0 {
				t.Fatalf("no flush began\n%s", dumpEvents(events))
			}
			bi := events[begin].info.(FlushInfo)
			if bi.Reason != tc.reason || bi.Input != 1 || bi.InputBytes == 0 || bi.InputEntries == 0 || bi.Done || bi.JobID == 0 {
				t.Errorf("FlushBegin: %+v", bi)
			}
			job := bi.JobID
			end := pos(events, evFlushEnd, func(e event) bool { return e.job == job })
			created := pos(events, evTableCreated, func(e event) bool { return e.job == job })
			if !(begin < created && created < end) {
				t.Fatalf("flush job %d: begin at %d, table created at %d, end at %d\n%s", job, begin, created, end, dumpEvents(events))
			}
			ci := events[created].info.(TableCreateInfo)
			ei := events[end].info.(FlushInfo)
			if ci.Reason != "flushing" || ci.Size == 0 || ci.Path != fmt.Sprintf("db/%06d.ldb", ci.FileNum) {
				t.Errorf("TableCreated: %+v", ci)
			}
			if !ei.Done || ei.Err != nil || len(ei.Output) != 1 || ei.Output[0].FileNum != ci.FileNum ||
				ei.Output[0].Size != ci.Size || ei.Reason != tc.reason || ei.InputEntries != bi.InputEntries ||
				ei.Duration <= 0 || len(ei.Output[0].Smallest) == 0 || len(ei.Output[0].Largest) == 0 {
				t.Errorf("FlushEnd: %+v (table created: %+v)", ei, ci)
			}
			if m.Levels[ei.OutputLevel].Files == 0 {
				t.Errorf("FlushEnd says level %d, which is empty: %+v", ei.OutputLevel, m.Levels)
			}
			if !strings.Contains(ei.String(), fmt.Sprintf("%06d", ci.FileNum)) || strings.Contains(ei.String(), "\n") {
				t.Errorf("FlushEnd's line: %q", ei.String())
			}

			// The rotation created a log before the flush began; the flush
			// made the previous one obsolete, deleted after its end.
			// Open created a log, and the rotation a second one; the flush
			// made the first obsolete, deleted after the flush's end.
			first := pos(events, evWALCreated, nil)
			second := pos(events, evWALCreated, func(e event) bool { return e.job != events[first].job })
			if first < 0 || second < 0 {
				t.Fatalf("WALs created at %d and %d\n%s", first, second, dumpEvents(events))
			}
			wc := events[first].info.(WALCreateInfo)
			if wc.Path != fmt.Sprintf("db/%06d.log", wc.FileNum) || events[second].info.(WALCreateInfo).FileNum <= wc.FileNum {
				t.Errorf("WALs created: %s, %s", events[first].line, events[second].line)
			}
			deleted := pos(events, evWALDeleted, func(e event) bool { return e.info.(WALDeleteInfo).FileNum == wc.FileNum })
			if deleted < end {
				t.Errorf("WAL %d deleted at %d, the flush that made it obsolete ended at %d\n%s", wc.FileNum, deleted, end, dumpEvents(events))
			} else if wd := events[deleted].info.(WALDeleteInfo); wd.Err != nil || wd.Path != wc.Path {
				t.Errorf("WAL deleted: %+v", wd)
			}
		})
	}
}

// waitFor polls cond until it holds; a minute without is a failure (a
// deadlock, not slowness).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in a minute")
		}
	}
}

// TestEventsCompaction: automatic and manual compactions report their
// inputs, outputs and bytes; tables are created before the end that lists
// them and deleted after the end of the compaction that obsoleted them.
func TestEventsCompaction(t *testing.T) {
	small := Options{WriteBufferSize: 32 << 10, TargetFileSize: 16 << 10, L0CompactionTrigger: 2}
	for _, tc := range []struct {
		name    string
		opts    Options
		reasons []string // the non-trivial compactions' reasons
		run     func(t *testing.T, db *DB)
	}{
		{"automatic", small, []string{"L0 file count"}, func(t *testing.T, db *DB) {
			for round := range 6 {
				putKeys(t, db, 0, 300, fmt.Sprintf("round %d", round))
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, func() bool { return db.Metrics().Compactions > 0 })
		}},
		{"CompactRange", Options{DisableAutoCompactions: true}, []string{"manual"}, func(t *testing.T, db *DB) {
			for round := range 3 {
				putKeys(t, db, 0, 300, fmt.Sprintf("round %d", round))
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.CompactRange(nil, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"CompactRangeWith", Options{DisableAutoCompactions: true}, []string{"manual"}, func(t *testing.T, db *DB) {
			for round := range 3 {
				putKeys(t, db, 0, 300, fmt.Sprintf("round %d", round))
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.CompactRangeWith(nil, nil, CompactOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, r := openRecorded(t, nil, tc.opts)
			tc.run(t, db)
			events := closeRecorded(t, db, r)
			checkTableLifecycles(t, events)
			var reasons []string
			deleted := 0
			for _, e := range events {
				switch info := e.info.(type) {
				case CompactionInfo:
					if info.Done && errors.Is(info.Err, ErrClosed) {
						continue // Close stopped a compaction that was running
					}
					if info.Done && !info.TrivialMove {
						reasons = append(reasons, info.Reason)
						if info.Err != nil || len(info.Input) == 0 || len(info.Output.Tables) == 0 ||
							info.Output.Level <= info.Input[0].Level || info.ReadBytes == 0 || info.Duration <= 0 {
							t.Errorf("CompactionEnd: %+v", info)
						}
						if info.Reason == "L0 file count" && info.Input[0].Level != 0 ||
							info.Reason == "level size" && info.Input[0].Level == 0 {
							t.Errorf("CompactionEnd: reason %q for inputs from L%d", info.Reason, info.Input[0].Level)
						}
					}
					if !info.Done && info.Reason == "L0 file count" && info.Score < 1 {
						t.Errorf("CompactionBegin: score %.2f", info.Score)
					}
				case TableDeleteInfo:
					deleted++
				}
			}
			if len(reasons) == 0 || !slices.Contains(tc.reasons, reasons[0]) {
				t.Errorf("compaction reasons %q, want %q first\n%s", reasons, tc.reasons, dumpEvents(events))
			}
			if deleted == 0 {
				t.Errorf("no table deleted\n%s", dumpEvents(events))
			}
		})
	}
}

// TestEventsWriteStall: a write that waits for a flush (memtables full)
// or a compaction (level 0 at L0StopTrigger) reports the stall's begin,
// with the reason, and its end, on the stalled goroutine.
func TestEventsWriteStall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		reason string
		block  string // the event whose callback is held while the write stalls
		// stall writes until stalled says a write stalled.
		stall func(db *DB, stalled func() bool) error
	}{
		{"memtable count", Options{WriteBufferSize: 64 << 10, MaxWriteBufferNumber: 2}, "memtable count limit reached",
			evFlushBegin, func(db *DB, stalled func() bool) error {
				val := strings.Repeat("v", 100)
				for i := 0; ; i++ {
					if err := db.Put(fmt.Appendf(nil, "key%06d", i), []byte(val), nil); err != nil {
						return err
					}
					if stalled() {
						return nil
					}
					if i > 100000 {
						return errors.New("no write stalled")
					}
				}
			}},
		{"L0 file count", Options{L0CompactionTrigger: 2, L0SlowdownTrigger: 2, L0StopTrigger: 2}, "L0 file count limit reached",
			evCompactionBegin, func(db *DB, stalled func() bool) error {
				for round := 0; round < 50; round++ {
					for i := range 50 {
						if err := db.Put(fmt.Appendf(nil, "key%06d", i), fmt.Appendf(nil, "round %d", round), nil); err != nil {
							return err
						}
					}
					if err := db.Flush(); err != nil {
						return err
					}
					if stalled() {
						return nil
					}
				}
				return errors.New("no write stalled")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &eventRecorder{}
			held := make(chan struct{})
			release := make(chan struct{})
			stalled := make(chan struct{}, 1)
			var stalledFlag atomic.Bool
			var once sync.Once
			r.hook = func(e event) {
				switch e.kind {
				case tc.block:
					once.Do(func() {
						close(held)
						<-release
					})
				case evStallBegin:
					stalledFlag.Store(true)
					select {
					case stalled <- struct{}{}:
					default:
					}
				}
			}
			o := tc.opts
			o.FS, o.EventListener = NewMemFS(), r.listener()
			db := mustOpen(t, "db", &o)
			r.db.Store(db)
			var releaseOnce sync.Once
			releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
			defer func() { releaseAll(); db.Close() }()
			writer := make(chan error, 1)
			go func() { writer <- tc.stall(db, stalledFlag.Load) }()
			select {
			case <-stalled:
			case err := <-writer:
				t.Fatalf("the writer returned without stalling: %v\n%s", err, dumpEvents(r.all()))
			}
			<-held
			releaseAll() // the flush or compaction goes on, and the write with it
			if err := <-writer; err != nil {
				t.Fatal(err)
			}
			events := closeRecorded(t, db, r)
			begin := pos(events, evStallBegin, nil)
			end := pos(events, evStallEnd, nil)
			if begin < 0 || end < begin {
				t.Fatalf("stall began at %d, ended at %d\n%s", begin, end, dumpEvents(events))
			}
			bi, ei := events[begin].info.(WriteStallBeginInfo), events[end].info.(WriteStallEndInfo)
			if bi.Reason != tc.reason || ei.Reason != tc.reason || ei.Duration <= 0 {
				t.Errorf("stall begin %+v, end %+v; want reason %q", bi, ei, tc.reason)
			}
			checkTableLifecycles(t, events)
		})
	}
}

// TestEventsBackgroundError: a failed flush, compaction or log write
// reports a background error, fatal, after the end of the failed job
// (which carries the error); a failure for a passing reason (out of file
// descriptors) is reported as not fatal, with the delay of the retry.
func TestEventsBackgroundError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rule  func() *errorfs.Rule
		run   func(db *DB) error
		op    string
		fatal bool
		end   string // the end event carrying the error ("" for none)
	}{
		{"flush", func() *errorfs.Rule { return errorfs.OnIndex(0).On(errorfs.OpSync).Path("*.ldb") },
			func(db *DB) error { return db.Flush() }, "flush", true, evFlushEnd},
		{"compaction", func() *errorfs.Rule { return errorfs.OnIndex(0).On(errorfs.OpCreate).Path("*.ldb") },
			func(db *DB) error { return db.CompactRange(nil, nil) }, "compaction", true, evCompactionEnd},
		{"write", func() *errorfs.Rule { return errorfs.OnIndex(0).On(errorfs.OpWrite).Path("*.log") },
			func(db *DB) error { return db.Put([]byte("k"), []byte("v"), &WriteOptions{Sync: true}) }, "write", true, ""},
		{"out of file descriptors", func() *errorfs.Rule {
			return errorfs.OnIndex(0).On(errorfs.OpCreate).Path("*.ldb").WithErr(syscall.EMFILE)
		}, func(db *DB) error { return db.Flush() }, "flush", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := errorfs.Wrap(vfs.NewMem())
			db, r := openRecorded(t, fs, Options{DisableAutoCompactions: true})
			putKeys(t, db, 0, 100, "a")
			if tc.op == "compaction" {
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
				putKeys(t, db, 0, 100, "b")
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			fs.AddRule(tc.rule())
			err := tc.run(db)
			if tc.fatal != (err != nil) {
				t.Fatalf("%s: %v", tc.name, err)
			}
			events := closeRecorded(t, db, r)
			bg := pos(events, evBackgroundError, nil)
			if bg < 0 {
				t.Fatalf("no background error\n%s", dumpEvents(events))
			}
			info := events[bg].info.(BackgroundErrorInfo)
			if info.Operation != tc.op || info.Fatal != tc.fatal || !errors.Is(info.Err, errorfs.ErrInjected) ||
				(info.RetryIn > 0) == tc.fatal {
				t.Errorf("BackgroundError: %+v", info)
			}
			if tc.end != "" {
				end := pos(events, tc.end, func(e event) bool {
					fi, ok := e.info.(FlushInfo)
					ci, _ := e.info.(CompactionInfo)
					return ok && fi.Err != nil || ci.Err != nil
				})
				if end < 0 || end > bg {
					t.Errorf("background error at %d; the failed job's end at %d\n%s", bg, end, dumpEvents(events))
				}
				if fi, ok := events[end].info.(FlushInfo); ok && !errors.Is(fi.Err, errorfs.ErrInjected) {
					t.Errorf("FlushEnd: %+v", fi)
				}
				if ci, ok := events[end].info.(CompactionInfo); ok && !errors.Is(ci.Err, errorfs.ErrInjected) {
					t.Errorf("CompactionEnd: %+v", ci)
				}
			}
			checkTableLifecycles(t, events)
		})
	}
}

// TestEventsOpen: the tables and the log Open writes are reported, as one
// job, before Open returns; and the logs it replayed are deleted.
func TestEventsOpen(t *testing.T) {
	fs := NewMemFS()
	db := mustOpen(t, "db", &Options{FS: fs})
	putKeys(t, db, 0, 100, "v")
	db.Close()
	r := &eventRecorder{}
	db = mustOpen(t, "db", &Options{FS: fs, EventListener: r.listener()})
	events := r.all()
	created := pos(events, evTableCreated, nil)
	wal := pos(events, evWALCreated, nil)
	if created < 0 || wal < 0 {
		t.Fatalf("Open's events:\n%s", dumpEvents(events))
	}
	if ti := events[created].info.(TableCreateInfo); ti.Reason != "recovery" || events[wal].job != ti.JobID {
		t.Errorf("Open's table %+v and log %+v", ti, events[wal].info)
	}
	if pos(events, evWALDeleted, nil) < 0 {
		t.Errorf("the replayed log was not deleted\n%s", dumpEvents(events))
	}
	db.Close()
}

// TestEventsLogLines: the info log's lines for events are the events'
// String, with the event= and job= attributes: one path for both.
func TestEventsLogLines(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	db, r := openRecorded(t, nil, Options{Logger: logger, DisableAutoCompactions: true})
	putKeys(t, db, 0, 100, "v")
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.CompactRange(nil, nil); err != nil {
		t.Fatal(err)
	}
	events := closeRecorded(t, db, r)
	log := buf.String()
	for _, e := range events {
		want := fmt.Sprintf("msg=%q event=%s", e.line, e.kind)
		if e.job > 0 {
			want += fmt.Sprintf(" job=%d", e.job)
		}
		if !strings.Contains(log, want+"\n") {
			t.Errorf("the log lacks %s\nlog:\n%s", want, log)
		}
	}
	if n := strings.Count(log, " event="); n != len(events) {
		t.Errorf("%d event lines in the log, %d events", n, len(events))
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEventsNilListener: with no listener and a logger that discards
// everything, the engine builds no event (eventSink.on is false), and
// neither the write path nor a flush allocates for events.
func TestEventsNilListener(t *testing.T) {
	db := mustOpen(t, "db", &Options{FS: NewMemFS(), Logger: slog.New(slog.DiscardHandler)})
	defer db.Close()
	if db.events.on {
		t.Fatal("events on with no listener and a discarding logger")
	}
	putKeys(t, db, 0, 100, "v")
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	key, val := []byte("key"), []byte("value")
	if n := testing.AllocsPerRun(1000, func() { db.Put(key, val, nil) }); n != 0 && !raceEnabled {
		t.Errorf("Put allocates %.1f times with no listener", n)
	}

	// The default LOG still gets the events: the sink is on.
	db2 := mustOpen(t, "db2", &Options{FS: NewMemFS()})
	defer db2.Close()
	if !db2.events.on {
		t.Error("events off with the default LOG")
	}
}

// TestEventsStrings: every event's String is one line that says what
// happened.
func TestEventsStrings(t *testing.T) {
	table := TableInfo{FileNum: 12, Size: 3 << 20}
	for _, tc := range []struct {
		s    fmt.Stringer
		want string
	}{
		{FlushInfo{JobID: 7, Reason: "memtable full", Input: 1, InputBytes: 4 << 20, InputEntries: 100},
			"[JOB 7] flushing 1 memtable (4.0 MiB, 100 entries; memtable full)"},
		{FlushInfo{JobID: 7, Reason: "Flush", Input: 1, InputBytes: 4 << 20, InputEntries: 100, Done: true,
			OutputLevel: 0, Output: []TableInfo{table}, Duration: 50 * time.Millisecond},
			"[JOB 7] flushed 1 memtable (4.0 MiB, 100 entries; Flush) to L0: 000012 (3.0 MiB) in 50ms"},
		{FlushInfo{JobID: 7, Reason: "Flush", Input: 1, Done: true, Err: errors.New("disk on fire"), Duration: time.Second},
			"[JOB 7] flushed 1 memtable (0 B, 0 entries; Flush) failed after 1s: disk on fire"},
		{CompactionInfo{JobID: 9, Reason: "L0 file count", Score: 1.5, Input: []LevelInfo{{0, []TableInfo{table, {FileNum: 13, Size: 1 << 20}}},
			{1, []TableInfo{{FileNum: 5, Size: 1 << 20}}}}, Output: LevelInfo{Level: 1}},
			"[JOB 9] compacting (L0 file count, score 1.50) L0 [000012 000013] (4.0 MiB) + L1 [000005] (1.0 MiB) to L1"},
		{CompactionInfo{JobID: 9, Reason: "manual", Input: []LevelInfo{{1, []TableInfo{table}}},
			Output: LevelInfo{Level: 2, Tables: []TableInfo{{FileNum: 20, Size: 2 << 20}}}, ReadBytes: 3 << 20,
			WriteBytes: 2 << 20, Duration: 210 * time.Millisecond, Done: true},
			"[JOB 9] compacted (manual) L1 [000012] (3.0 MiB) to L2: 000020 (2.0 MiB); read 3.0 MiB, wrote 2.0 MiB in 210ms"},
		{CompactionInfo{JobID: 3, Reason: "level size", TrivialMove: true, Input: []LevelInfo{{2, []TableInfo{table}}},
			Output: LevelInfo{Level: 3, Tables: []TableInfo{table}}, Done: true},
			"[JOB 3] moved (level size) L2 [000012] (3.0 MiB) to L3 in 0s"},
		{CompactionInfo{JobID: 3, Reason: "manual", Input: []LevelInfo{{2, []TableInfo{table}}},
			Output: LevelInfo{Level: 3}, Done: true, Err: context.Canceled},
			"[JOB 3] compacted (manual) L2 [000012] (3.0 MiB) to L3 failed after 0s: context canceled"},
		{WriteStallBeginInfo{Reason: "memtable count limit reached"}, "write stall: memtable count limit reached"},
		{WriteStallEndInfo{Reason: "memtable count limit reached", Duration: 120 * time.Millisecond},
			"write stall ended after 120ms (memtable count limit reached)"},
		{TableCreateInfo{JobID: 7, Reason: "flushing", FileNum: 12, Size: 3 << 20}, "[JOB 7] table 000012.ldb created (flushing, 3.0 MiB)"},
		{TableDeleteInfo{JobID: 8, FileNum: 12}, "[JOB 8] table 000012.ldb deleted"},
		{TableDeleteInfo{JobID: 8, FileNum: 12, Err: errors.New("EIO")}, "[JOB 8] table 000012.ldb not deleted: EIO"},
		{WALCreateInfo{JobID: 4, FileNum: 13}, "[JOB 4] WAL 000013.log created"},
		{WALDeleteInfo{JobID: 8, FileNum: 11}, "[JOB 8] WAL 000011.log deleted"},
		{BackgroundErrorInfo{Operation: "flush", Err: errors.New("EIO"), Fatal: true},
			"background error in flush: EIO; writes fail until the database is reopened"},
		{BackgroundErrorInfo{Operation: "compaction", Err: errors.New("EMFILE"), RetryIn: 20 * time.Millisecond},
			"compaction failed for a passing reason, retrying in 20ms: EMFILE"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%T.String() = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// TestEventListenerPanic: a listener that panics on the flush goroutine
// ends the process, as any unrecovered panic; the database then opens as
// after a crash, with every acknowledged write.
func TestEventListenerPanic(t *testing.T) {
	if dir := os.Getenv("STRATA_EVENTS_PANIC_CHILD"); dir != "" {
		db, err := Open(dir, &Options{EventListener: &EventListener{
			TableCreated: func(TableCreateInfo) { panic("listener panics") },
		}})
		if err != nil {
			fmt.Println("child:", err)
			os.Exit(3)
		}
		for i := range 1000 {
			if err := db.Put(fmt.Appendf(nil, "key%06d", i), []byte("value"), &WriteOptions{Sync: i%100 == 99}); err != nil {
				fmt.Println("child:", err)
				os.Exit(3)
			}
		}
		db.Flush() // the flush goroutine panics: the process ends here
		fmt.Println("child: Flush returned")
		os.Exit(4)
	}
	dir := filepath.Join(t.TempDir(), "db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestEventListenerPanic$")
	cmd.Env = append(os.Environ(), "STRATA_EVENTS_PANIC_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "panic: listener panics") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if r := db.RecoveryReport(); r.DataLost() {
		t.Errorf("recovery: %s", r)
	}
	for i := range 1000 {
		if v, err := db.Get(fmt.Appendf(nil, "key%06d", i)); err != nil || string(v) != "value" {
			t.Fatalf("key %d after the panic: %q, %v", i, v, err)
		}
	}
}
