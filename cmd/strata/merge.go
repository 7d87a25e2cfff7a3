package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata"
)

// Range deletions and merges on the command line (issue 23): delete-range
// and merge, and the --op and --sep flags that name a built-in merge
// operator (merge, repair).

// extensionNote is what delete-range and merge print on stderr when their
// write is a database's first use of range deletions or merges.
const extensionNote = "strata: %s now uses range deletions or merges: C++ LevelDB (and RocksDB) will refuse to open it\n"

// usedExtensions reports whether the database in dir is marked as using
// range deletions or merges (false when it cannot be read, or is missing).
func usedExtensions(dir string) bool {
	x, err := strata.ReadExtensions(dir, nil)
	return err == nil && x.Used
}

func newDeleteRangeCmd(e *env) *cobra.Command {
	var dir string
	var sync, hex bool
	c := &cobra.Command{
		Use:   "delete-range --db DIR [--sync] [--hex] START END",
		Short: "Delete every key in [START, END) (one range tombstone; the database must exist)",
		Long: `Delete every key from START (included) to END (excluded) with one range
deletion (DB.DeleteRange): a single write whatever the number of keys, which
reads skip at once and compactions drop. START and END are in the text form,
or hex with --hex; START must come before END. The database must exist.

The first range deletion or merge marks the database: from then on C++ LevelDB
and RocksDB refuse to open it ("... does not match existing comparator ...");
a note on stderr says so when this write is the first.`,
		Args: args(2, 2, "START END"),
		RunE: func(_ *cobra.Command, a []string) error {
			start, err := parseKey(a[0], hex, "start")
			if err != nil {
				return err
			}
			end, err := parseKey(a[1], hex, "end")
			if err != nil {
				return err
			}
			if bytes.Compare(start, end) >= 0 {
				return usageError{fmt.Errorf("start %s is not before end %s: the range is empty", a[0], a[1])}
			}
			before := usedExtensions(dir)
			err = e.withDB(dir, false, func(db *strata.DB) error { return db.DeleteRange(start, end, &strata.WriteOptions{Sync: sync}) })
			if err == nil && !before {
				fmt.Fprintf(e.stderr, extensionNote, dir)
			}
			return err
		},
	}
	addDBFlag(c, &dir)
	c.Flags().BoolVar(&sync, "sync", false, "fsync the write-ahead log before returning")
	c.Flags().BoolVar(&hex, "hex", false, "START and END are hex")
	return c
}

// opFlags are --op and --sep: a built-in merge operator by short name.
type opFlags struct {
	op, sep string
}

func (o *opFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&o.op, "op", "", "merge operator: add, max, min or append")
	c.Flags().StringVar(&o.sep, "sep", "", "with --op append: the separator between pieces (text form; hex with --hex)")
}

// merger returns the operator --op and --sep name, nil when --op is not
// given; hex says whether --sep is hex.
func (o *opFlags) merger(c *cobra.Command, hex bool) (*strata.Merger, error) {
	if c.Flags().Changed("sep") && o.op != "append" {
		return nil, usageError{fmt.Errorf("--sep applies only with --op append")}
	}
	switch o.op {
	case "":
		return nil, nil
	case "add":
		return strata.AddMerger, nil
	case "max":
		return strata.MaxMerger, nil
	case "min":
		return strata.MinMerger, nil
	case "append":
		sep, err := parseKey(o.sep, hex, "--sep")
		if err != nil {
			return nil, err
		}
		return strata.AppendMerger(sep), nil
	}
	return nil, usageError{fmt.Errorf("--op %q: want add, max, min or append", o.op)}
}

// isNumeric reports whether m takes numbers: add, max or min.
func isNumeric(m *strata.Merger) bool {
	return m == strata.AddMerger || m == strata.MaxMerger || m == strata.MinMerger
}

// parseOperand decodes OPERAND for operator m: for add, max and min a
// decimal integer as 8 bytes little-endian (add also takes a negative one,
// in two's complement), unless raw or hex, which give the bytes in the
// text form or hex, as put's VALUE.
func parseOperand(s string, m *strata.Merger, raw, hex bool) ([]byte, error) {
	if raw || hex || !isNumeric(m) {
		return parseKey(s, hex, "operand")
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return binary.LittleEndian.AppendUint64(nil, n), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err == nil && m == strata.AddMerger:
		return binary.LittleEndian.AppendUint64(nil, uint64(n)), nil
	case err == nil:
		return nil, usageError{fmt.Errorf("operand %s: %s compares unsigned integers; want 0 to %d", s, m.Name, uint64(1<<64-1))}
	}
	return nil, usageError{fmt.Errorf("operand %q: want a decimal integer (8 bytes little-endian), or bytes with --raw or --hex", s)}
}

func newMergeCmd(e *env) *cobra.Command {
	var dir string
	var sync, hex, raw bool
	var of opFlags
	c := &cobra.Command{
		Use:   "merge --db DIR [--op add|max|min|append [--sep S]] [--raw] [--hex] [--sync] KEY OPERAND",
		Short: "Merge OPERAND into KEY's value with a built-in operator (creates the database if missing)",
		Long: `Record OPERAND for KEY with DB.Merge: reads then see the operator's fold of the
value and the operands written since, as one write without reading the value.
The built-in operators (FoundationDB's atomic operations on little-endian
integers of any length: the value is cut or zero-padded to the operand's
length):

  add     adds (a missing value is 0)
  max     keeps the largest, as unsigned integers (a missing value is 0)
  min     keeps the smallest, as unsigned integers (a missing value gives way)
  append  appends OPERAND, with --sep between pieces (default: none)

For add, max and min OPERAND is a decimal integer, written as 8 bytes
little-endian (add also takes a negative one, in two's complement: adding -1
subtracts 1; put it after --, as in strata merge --db DIR n -- -1); with --raw it is bytes in the text form, as put's VALUE, and
with --hex KEY, OPERAND and --sep are hex. strata get shows the value in the
text form, or hex with --hex.

The first merge records the operator in the database, and --op may then be
left out; another operator is refused. A database that has recorded none
needs --op. A missing database is created. The first range deletion or merge
marks the database: from then on C++ LevelDB and RocksDB refuse to open it
("... does not match existing comparator ..."); a note on stderr says so
when this write is the first.`,
		Args: args(2, 2, "KEY OPERAND"),
		RunE: func(c *cobra.Command, a []string) error {
			m, err := of.merger(c, hex)
			if err != nil {
				return err
			}
			recorded, name := recordedMerger(dir)
			switch {
			case m == nil && name == "":
				return usageError{fmt.Errorf("want --op add, max, min or append: %s records no merge operator yet", dir)}
			case m == nil && recorded == nil:
				_, err := openWriteDB(dir, false) // the error naming the operator
				return err
			case m == nil:
				m = recorded
			case name != "" && m.Name != name:
				return fmt.Errorf("%s records merge operator %s; --op %s would be refused (leave --op out to use the recorded one)",
					dir, name, of.op)
			}
			key, err := parseKey(a[0], hex, "key")
			if err != nil {
				return err
			}
			operand, err := parseOperand(a[1], m, raw, hex)
			if err != nil {
				return err
			}
			before := usedExtensions(dir)
			db, err := e.openWriteMerger(dir, true, m)
			if err != nil {
				return err
			}
			err = db.Merge(key, operand, &strata.WriteOptions{Sync: sync})
			closeDB(db, &err)
			if err == nil && !before {
				fmt.Fprintf(e.stderr, extensionNote, dir)
			}
			return err
		},
	}
	addDBFlag(c, &dir)
	of.add(c)
	c.Flags().BoolVar(&sync, "sync", false, "fsync the write-ahead log before returning")
	c.Flags().BoolVar(&raw, "raw", false, "OPERAND is bytes in the text form, not a number")
	c.Flags().BoolVar(&hex, "hex", false, "KEY, OPERAND and --sep are hex")
	return c
}

// mergerHelp is the help text on how commands find a database's merge
// operator, for the root command's description.
var mergerHelp = strings.TrimSpace(`
A database that has used merges records its merge operator; every command
opens it with that operator when it is built in (add, max, min, append).
When it is not, commands that only read open it, and reading a merged key
fails with an error naming the operator; commands that write refuse it.`)
