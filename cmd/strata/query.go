package main

// The commands that ask the engine about a database (approxsize, property)
// and the files about a key (idump).

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/inspect"
)

func newApproxSizeCmd(e *env) *cobra.Command {
	var dir string
	var from, to []string
	var hexKeys bool
	c := &cobra.Command{
		Use:   "approxsize --db DIR [--from K] [--to K]... [--hex]",
		Short: "The approximate bytes of table files that key ranges occupy",
		Long: `Print, for each key range [--from, --to), the approximate number of bytes of
table files its keys occupy (DB.ApproximateSizes; writes still in the
memtable, that is in the live logs, are not counted, as in LevelDB), one line
each, then the total:

  from=K<TAB>to=K<TAB>bytes=N
  total<TAB>bytes=N

Give --from and --to once each for one range (either may be left out: open),
or several times to ask about several ranges at once: the i-th --from pairs
with the i-th --to. Keys are in the text form ("-" is printed for an open
bound), or hex with --hex. The database is opened read-only.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) (err error) {
			n := max(len(from), len(to), 1)
			if len(from) != n && len(from) > 0 || len(to) != n && len(to) > 0 {
				return usageError{fmt.Errorf("%d --from and %d --to: give as many of each, or one side not at all", len(from), len(to))}
			}
			ranges := make([]strata.Range, n)
			bound := func(list []string, i int, flag string) ([]byte, error) {
				if len(list) == 0 {
					return nil, nil
				}
				return parseKey(list[i], hexKeys, flag)
			}
			for i := range ranges {
				if ranges[i].Start, err = bound(from, i, "--from"); err != nil {
					return err
				}
				if ranges[i].Limit, err = bound(to, i, "--to"); err != nil {
					return err
				}
			}
			db, err := e.openRead(dir)
			if err != nil {
				return err
			}
			defer closeDB(db, &err)
			sizes, err := db.ApproximateSizes(ranges)
			if err != nil {
				return err
			}
			show := func(k []byte) string {
				if k == nil {
					return "-"
				}
				return keyFormat(hexKeys)(k)
			}
			var b strings.Builder
			var total uint64
			for i, r := range ranges {
				fmt.Fprintf(&b, "from=%s\tto=%s\tbytes=%d\n", show(r.Start), show(r.Limit), sizes[i])
				total += sizes[i]
			}
			fmt.Fprintf(&b, "total\tbytes=%d\n", total)
			_, err = fmt.Fprint(e.stdout, b.String())
			return err
		},
	}
	addDBFlag(c, &dir)
	c.Flags().StringArrayVar(&from, "from", nil, "first key of a range (inclusive; repeat for several ranges)")
	c.Flags().StringArrayVar(&to, "to", nil, "end key of a range (exclusive; repeat for several ranges)")
	c.Flags().BoolVar(&hexKeys, "hex", false, "keys are hex, in the flags and the output")
	return c
}

// properties are the names DB.Property knows, for `strata property`
// without a name (TestPropertyNames checks each against the engine).
var properties = []struct{ name, what string }{
	{"strata.stats", "a table per level: files, size, score, compaction time, bytes read and written; then counters"},
	{"strata.sstables", "every table, level by level"},
	{"strata.num-files-at-level<N>", "number of tables at level N (0 to 6)"},
	{"strata.total-table-size", "bytes of all live tables"},
	{"strata.approximate-memory-usage", "bytes used by memtables and the block cache"},
	{"strata.block-cache", "block cache hits, misses, size, capacity"},
	{"strata.last-sequence", "the newest visible sequence number"},
}

func newPropertyCmd(e *env) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "property --db DIR [NAME]",
		Short: "A named property of the database (DB.Property); without NAME, the names",
		Long: `Print the value of the property NAME of the database (DB.Property), as
LevelDB's GetProperty: every strata. name also answers as leveldb.NAME.
Without NAME, list the names. The database is opened read-only, so what a
process that has it open holds in memory (its memtable, its cache) is not
what this shows.`,
		Args: args(0, 1, "at most one NAME"),
		RunE: func(_ *cobra.Command, a []string) (err error) {
			if len(a) == 0 {
				var b strings.Builder
				for _, p := range properties {
					fmt.Fprintf(&b, "%-33s %s\n", p.name, p.what)
				}
				_, err := fmt.Fprint(e.stdout, b.String())
				return err
			}
			db, err := e.openRead(dir)
			if err != nil {
				return err
			}
			defer closeDB(db, &err)
			v, ok := db.Property(a[0])
			if !ok {
				return usageError{fmt.Errorf("unknown property %q (strata property --db DIR lists the names)", a[0])}
			}
			if !strings.HasSuffix(v, "\n") {
				v += "\n"
			}
			_, err = fmt.Fprint(e.stdout, v)
			return err
		},
	}
	addDBFlag(c, &dir)
	return c
}

func newIdumpCmd(e *env) *cobra.Command {
	var dir string
	var hexKeys bool
	c := &cobra.Command{
		Use:   "idump --db DIR [--hex] KEY",
		Short: "Every version of KEY in the database's files: sequence, kind, file, level, value",
		Long: `Print every version of KEY that the database's live files hold, newest first,
as RocksDB's ldb idump: the tables the MANIFEST lists and the write-ahead
logs not yet flushed (the memtable of a process that has the database open
holds what those logs hold; writes made without the WAL are in no file until
flushed). One line per version:

  SEQ<TAB>SET|MERGE|DEL|RANGEDEL<TAB>FILE<TAB>LEVEL<TAB>VALUE

LEVEL is L0..L6 for a table and "log" for a log; VALUE is in the text form
(hex with --hex, which also takes KEY in hex): the value, or a merge
operand; empty for DEL; for a range deletion covering KEY its range
[START, END) (in a table, the fragment of it that holds KEY). A version may
show twice, in a log and in the table it was flushed to, while the log is
kept. A summary line follows on stderr. Damage met on the way is reported
(exit 1) after the versions read. The files are read without opening the
database or taking its lock.`,
		Args: args(1, 1, "KEY"),
		RunE: func(_ *cobra.Command, a []string) error {
			key, err := parseKey(a[0], hexKeys, "key")
			if err != nil {
				return err
			}
			versions, findings, err := inspect.KeyHistory(dir, key)
			if err != nil {
				return err
			}
			kf := keyFormat(hexKeys)
			var b strings.Builder
			for _, v := range versions {
				level := "log"
				if v.Level >= 0 {
					level = fmt.Sprintf("L%d", v.Level)
				}
				value := kf(v.Value)
				if v.RangeEnd != nil {
					value = fmt.Sprintf("[%s, %s)", kf(v.RangeStart), kf(v.RangeEnd))
				}
				fmt.Fprintf(&b, "%d\t%s\t%s\t%s\t%s\n", v.Seq, v.Kind, v.File, level, value)
			}
			if _, err := fmt.Fprint(e.stdout, b.String()); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "%d version(s) of %s\n", len(versions), kf(key))
			return e.findingsError("idump", findings)
		},
	}
	addDBFlag(c, &dir)
	c.Flags().BoolVar(&hexKeys, "hex", false, "KEY is hex, and values are printed in hex")
	return c
}
