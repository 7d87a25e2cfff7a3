package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/inspect"
)

func newCompactCmd(e *env) *cobra.Command {
	var dir string
	var rf rangeFlags
	c := &cobra.Command{
		Use:   "compact --db DIR [--from K] [--to K] [--hex]",
		Short: "Compact a key range (default: everything) down the tree",
		Long: `Flush the memtable, then compact the tables holding keys in [--from, --to]
down to the deepest level that holds data there. Compaction works on whole
tables, so keys just outside the range may be rewritten too.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			kr, err := rf.keyRange(c)
			if err != nil {
				return err
			}
			db, err := e.openWrite(dir, false)
			if err != nil {
				return err
			}
			defer closeDB(db, &err)
			before := db.Metrics()
			written := func(m *strata.Metrics) (n uint64) {
				for _, l := range m.Levels {
					n += l.WriteBytes
				}
				return n
			}
			bar := e.newProgress("compacting (bytes written)", -1, true)
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- db.CompactRange(kr.From, kr.To) }()
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
		wait:
			for {
				select {
				case err = <-done:
					break wait
				case <-tick.C:
					bar.set(int64(written(db.Metrics()) - written(before)))
				}
			}
			bar.finish()
			if err != nil {
				return err
			}
			after := db.Metrics()
			var read uint64
			for i := range after.Levels {
				read += after.Levels[i].ReadBytes - before.Levels[i].ReadBytes
			}
			fmt.Fprintf(e.stdout, "compacted in %.2f s: %d compactions read %s and wrote %s; read amplification now %d\n",
				time.Since(start).Seconds(), after.Compactions-before.Compactions,
				inspect.HumanBytes(read), inspect.HumanBytes(written(after)-written(before)), after.ReadAmp())
			return nil
		},
	}
	addDBFlag(c, &dir)
	c.Flags().StringVar(&rf.from, "from", "", "first key of the range")
	c.Flags().StringVar(&rf.to, "to", "", "last key of the range")
	c.Flags().BoolVar(&rf.hex, "hex", false, "--from and --to are hex")
	return c
}

func newFlushCmd(e *env) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "flush --db DIR",
		Short: "Write the memtable (what the write-ahead log holds) to a table",
		Args:  args(0, 0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) (err error) {
			return e.withDB(dir, false, func(db *strata.DB) error { return db.Flush() })
		},
	}
	addDBFlag(c, &dir)
	return c
}

// statsJSON is the --json form of `strata stats`.
type statsJSON struct {
	Dir                string            `json:"dir"`
	Manifest           string            `json:"manifest"`
	LastSequence       uint64            `json:"last_sequence"`
	Levels             []levelJSON       `json:"levels"`
	TotalFiles         int               `json:"total_files"`
	TotalBytes         uint64            `json:"total_bytes"`
	MemTableBytes      uint64            `json:"memtable_bytes"`
	ImmutableMemTables int               `json:"immutable_memtables"`
	LiveLogs           []inspect.LogFile `json:"live_logs"`
	BlockCache         cacheJSON         `json:"block_cache"`
	ReadAmp            int               `json:"read_amplification"`
	WriteAmp           float64           `json:"write_amplification"`
	History            inspect.History   `json:"history"`
	// Events, with --events: the last events of the info log.
	Events []inspect.Event `json:"events,omitempty"`
}

type levelJSON struct {
	Level int     `json:"level"`
	Files int     `json:"files"`
	Bytes uint64  `json:"bytes"`
	Score float64 `json:"score"`
}

type cacheJSON struct {
	Capacity int64 `json:"capacity"`
	Size     int64 `json:"size"`
	Entries  int64 `json:"entries"`
	Hits     int64 `json:"hits"`
	Misses   int64 `json:"misses"`
}

func newStatsCmd(e *env) *cobra.Command {
	var dir string
	var asJSON, events bool
	var eventsLimit, writeBuffer int
	c := &cobra.Command{
		Use:   "stats --db DIR [--json] [--events [--events-limit N]] [--write-buffer-size BYTES]",
		Short: "The tree's shape per level, memtable, cache, read and write amplification",
		Long: `Print the tree's shape per level (tables, bytes, compaction score), the
memtable (the live logs' writes), the block cache, the read amplification (how
many sorted runs a point read may consult) and the write amplification since
the current MANIFEST was started (at the last open that wrote): table bytes
written by flushes and compactions per byte flushed. The database is opened
read-only, so it may be in use by another process.

A level's score is its size over its budget (level 0: its table count over
the compaction trigger, or its bytes over its target); a compaction is due at
1. The budgets follow the write buffer size (the base level's budget and level
0's target are at least the write buffer), which a database does not record:
the scores are computed for the default options unless --write-buffer-size
gives the one the database was written with (db_bench's runs in bench/ use
67108864).

With --events, also the most recent events: flushes and compactions (with
their inputs, outputs, bytes and time), write stalls, tables and logs created
and deleted, background errors. They are read back from the database's LOG
(and LOG.old), where the process that last opened it for writing recorded
them, one line each (the same lines a program's strata.EventListener gets as
String()); this command only reads, so it causes none. A database opened by a
program with its own Options.Logger keeps its events in that logger instead.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) (err error) {
			if writeBuffer < 0 {
				return usageError{fmt.Errorf("--write-buffer-size %d: must be 0 (the default) or more", writeBuffer)}
			}
			db, err := e.openReadWith(dir, func(o *strata.Options) { o.WriteBufferSize = writeBuffer })
			if err != nil {
				return err
			}
			defer closeDB(db, &err)
			m := db.Metrics()
			lsm, err := inspect.LoadLSM(dir)
			if err != nil {
				return err
			}
			s := statsJSON{Dir: dir, Manifest: lsm.Manifest, LastSequence: m.LastSequence,
				MemTableBytes: m.MemTableBytes, ImmutableMemTables: m.ImmutableMemTables,
				LiveLogs: lsm.Logs, ReadAmp: m.ReadAmp(), WriteAmp: lsm.History.WriteAmp(), History: lsm.History,
				BlockCache: cacheJSON{Capacity: m.BlockCache.Capacity, Size: m.BlockCache.Size,
					Entries: m.BlockCache.Entries, Hits: m.BlockCache.Hits, Misses: m.BlockCache.Misses}}
			for level, l := range m.Levels {
				s.Levels = append(s.Levels, levelJSON{Level: level, Files: l.Files, Bytes: l.Bytes, Score: l.Score})
				s.TotalFiles += l.Files
				s.TotalBytes += l.Bytes
			}
			if s.LiveLogs == nil {
				s.LiveLogs = []inspect.LogFile{}
			}
			var recorded []inspect.Event
			var found bool
			if events {
				if recorded, found, err = inspect.ReadEvents(dir); err != nil {
					return err
				}
				if eventsLimit > 0 && len(recorded) > eventsLimit {
					s.Events = recorded[len(recorded)-eventsLimit:]
				} else {
					s.Events = recorded
				}
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			_, err = fmt.Fprint(e.stdout, statsText(&s))
			if err == nil && events {
				_, err = fmt.Fprint(e.stdout, eventsText(dir, s.Events, len(recorded), found))
			}
			return err
		},
	}
	addDBFlag(c, &dir)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&events, "events", false, "also show the most recent events recorded in the database's LOG")
	c.Flags().IntVar(&writeBuffer, "write-buffer-size", 0, "compute the levels' scores for this write buffer size in bytes (0: the default), the one the database was written with")
	c.Flags().IntVar(&eventsLimit, "events-limit", 20, "with --events, how many events at most (0: all that LOG and LOG.old hold)")
	return c
}

// eventsText renders the events --events shows, the last of all recorded
// in dir's LOG and LOG.old (found: whether either exists).
func eventsText(dir string, events []inspect.Event, all int, found bool) string {
	var b strings.Builder
	switch {
	case !found:
		fmt.Fprintf(&b, "events: no LOG in %s (a database opened read-only only, or by a program with its own Options.Logger, which got the events)\n", dir)
		return b.String()
	case all == 0:
		b.WriteString("events: none in LOG or LOG.old\n")
		return b.String()
	}
	if len(events) == all {
		fmt.Fprintf(&b, "events: all %d in LOG.old and LOG\n", all)
	} else {
		fmt.Fprintf(&b, "events: the last %d of %d in LOG.old and LOG (--events-limit)\n", len(events), all)
	}
	file := ""
	for _, ev := range events {
		if ev.File != file {
			file = ev.File
			which := "the last open for writing"
			if file == "LOG.old" {
				which = "the open for writing before it"
			}
			fmt.Fprintf(&b, "  %s (%s):\n", file, which)
		}
		fmt.Fprintf(&b, "    %s\n", ev)
	}
	return b.String()
}

func statsText(s *statsJSON) string {
	var b strings.Builder
	fmt.Fprintf(&b, "database %s (%s), last sequence %d\n", s.Dir, s.Manifest, s.LastSequence)
	b.WriteString("level  tables       size  score\n")
	for _, l := range s.Levels {
		fmt.Fprintf(&b, "  L%d %8d %10s %6.2f\n", l.Level, l.Files, inspect.HumanBytes(l.Bytes), l.Score)
	}
	fmt.Fprintf(&b, "total %7d %10s\n", s.TotalFiles, inspect.HumanBytes(s.TotalBytes))
	var logBytes int64
	for _, l := range s.LiveLogs {
		logBytes += l.Size
	}
	fmt.Fprintf(&b, "memtable: %s from %d live log(s) of %s, %d immutable\n",
		inspect.HumanBytes(s.MemTableBytes), len(s.LiveLogs), inspect.HumanBytes(uint64(logBytes)), s.ImmutableMemTables)
	fmt.Fprintf(&b, "block cache: capacity %s, %s in %d blocks, %d hits, %d misses\n",
		inspect.HumanBytes(uint64(s.BlockCache.Capacity)), inspect.HumanBytes(uint64(s.BlockCache.Size)),
		s.BlockCache.Entries, s.BlockCache.Hits, s.BlockCache.Misses)
	fmt.Fprintf(&b, "read amplification: %d (sorted runs a point read may consult)\n", s.ReadAmp)
	h := s.History
	if h.FlushBytes == 0 {
		fmt.Fprintf(&b, "write amplification: n/a (nothing flushed since %s was started)\n", s.Manifest)
	} else {
		fmt.Fprintf(&b, "write amplification: %.2f since %s was started (%d flushes wrote %s; %d compactions read %s and wrote %s; %d trivial moves)\n",
			s.WriteAmp, s.Manifest, h.Flushes, inspect.HumanBytes(h.FlushBytes), h.Compactions,
			inspect.HumanBytes(h.CompactionReadBytes), inspect.HumanBytes(h.CompactionWriteBytes), h.TrivialMoves)
	}
	return b.String()
}

func newCheckCmd(e *env) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "check --db DIR",
		Short: "Verify every checksum and key order of the live files; exit 1 on damage",
		Long: `Read CURRENT, every MANIFEST record, every live table (every block's checksum,
the structure, strictly increasing keys, the key range the MANIFEST records)
and every live write-ahead log (record checksums, batch structure, increasing
sequence numbers). Range-deletion blocks must decode and hold ordered,
non-empty, non-overlapping fragments, the key range the MANIFEST records
must cover the tables' range tombstones, and range deletions or merge operands
need a MANIFEST marked as using them; a database that is gets a line saying
so, with the merge operator and the range deletions found. Print each problem
as "FILE at offset N: what", and exit 1 if there is any. Nothing is written,
and no lock is taken.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			rep, err := inspect.Check(dir)
			if err != nil {
				return err
			}
			for _, f := range rep.Findings {
				fmt.Fprintln(e.stdout, f.String())
			}
			if rep.Extended {
				fmt.Fprintf(e.stdout, "%s uses range deletions or merges (C++ LevelDB refuses it)%s: %d range tombstones in %d tables; %d range deletions and %d merge operands in the logs\n",
					dir, mergerNote(rep.Merger), rep.RangeTombstones, rep.RangeDelTables, rep.LogRangeDels, rep.LogMerges)
			}
			fmt.Fprintf(e.stdout, "checked %s: %s with %d edits, %d tables (%s), %d logs (%d batches, %d ops): ",
				dir, orNone(rep.Manifest), rep.ManifestEdits, rep.Tables, inspect.HumanBytes(rep.TableBytes),
				rep.Logs, rep.LogBatches, rep.LogOps)
			if rep.OK() {
				fmt.Fprintln(e.stdout, "OK")
				return nil
			}
			fmt.Fprintf(e.stdout, "%d problem(s)\n", len(rep.Findings))
			return damaged{fmt.Errorf("check: %d problem(s) in %s; the first: %s", len(rep.Findings), dir, rep.Findings[0])}
		},
	}
	addDBFlag(c, &dir)
	return c
}

// mergerNote is ", merge operator NAME" for a recorded operator, else "".
func mergerNote(name string) string {
	if name == "" {
		return ""
	}
	return ", merge operator " + name
}

func orNone(s string) string {
	if s == "" {
		return "no readable MANIFEST"
	}
	return s
}

func newRepairCmd(e *env) *cobra.Command {
	var dir string
	var clearHoles, hex bool
	var of opFlags
	c := &cobra.Command{
		Use:   "repair --db DIR [--clear-holes]",
		Short: "Rebuild a damaged database from whatever survives (as LevelDB's RepairDB)",
		Long: `Rebuild the database from its logs and tables when it no longer opens: logs
are replayed into tables (up to the first damaged record), damaged tables are
rewritten with their intact blocks, a new MANIFEST lists everything, and the
result is compacted. Files replaced because of damage are moved to DIR/lost.
Data in damaged blocks or records is lost.

Where a dropped table block held the newest versions of some keys, older
versions would show through; repair reports each such key range as a hole,
and reads in a hole fail until you accept the loss with --clear-holes (which
does nothing else).

Range deletions and merge operands are kept like everything else, and the
rebuilt database stays marked as using them. The merge operator is the one a
MANIFEST in DIR records; when none is left (say the MANIFESTs were deleted),
name it with --op (add, max, min or append with --sep, as for strata merge):
without it, repair keeps the operands, skips the final compaction and says
so (exit 1); run it again with --op.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := os.Stat(dir); err != nil {
				return fmt.Errorf("repair: no database in %s: %w", dir, err)
			}
			if clearHoles {
				if err := strata.ClearHoles(dir, nil); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "cleared the holes of %s: reads there show what survived\n", dir)
				return nil
			}
			m, err := of.merger(c, hex)
			if err != nil {
				return err
			}
			rep, err := strata.Repair(dir, &strata.Options{Merger: m})
			if is(err, strata.ErrNoMerger) {
				err = fmt.Errorf("%w (name the operator: strata repair --db %s --op add|max|min|append)", err, shellQuote(dir))
			}
			if rep != nil {
				for _, p := range rep.Problems {
					fmt.Fprintln(e.stdout, "damage:", p)
				}
				for _, h := range rep.Holes {
					fmt.Fprintln(e.stdout, "hole:", h)
				}
			}
			if err == nil {
				fmt.Fprintf(e.stdout, "repaired %s: %d tables, %d entries; %d logs converted; %d damaged tables; %d log bytes dropped\n",
					dir, rep.Tables, rep.Entries, rep.LogsConverted, rep.DamagedTables, rep.DroppedBytes)
				if rep.RecordsNotConverted > 0 {
					fmt.Fprintf(e.stdout, "stopped at damage in the logs: %d later log records not converted (their logs are in %s/lost)\n",
						rep.RecordsNotConverted, dir)
				}
				if len(rep.Holes) > 0 {
					fmt.Fprintf(e.stdout, "%d key range(s) lost their newest data: reads there fail until you accept the loss with: strata repair --db %s --clear-holes\n",
						len(rep.Holes), shellQuote(dir))
				}
				if rep.Extended {
					fmt.Fprintf(e.stdout, "the database holds range deletions or merge operands%s (C++ LevelDB refuses it)\n", mergerNote(rep.Merger))
				}
			}
			return err
		},
	}
	c.Flags().BoolVar(&clearHoles, "clear-holes", false, "accept the loss repair reported: reads in its holes work again (nothing is rebuilt)")
	of.add(c)
	c.Flags().BoolVar(&hex, "hex", false, "--sep is hex")
	addDBFlag(c, &dir)
	return c
}
