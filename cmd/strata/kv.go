package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/dataio"
)

func newPutCmd(e *env) *cobra.Command {
	var dir, valueFile string
	var sync, hex bool
	c := &cobra.Command{
		Use:   "put --db DIR [--sync] [--hex] KEY VALUE | put --db DIR [--sync] [--hex] --value-file PATH|- KEY",
		Short: "Set KEY to VALUE, or to the bytes of a file (creates the database if missing)",
		Long: `Set KEY to VALUE (the text form, or hex with --hex), or with --value-file to
the bytes of the file PATH as they are (- for stdin): binary or large values.
A missing database is created.`,
		Args: func(c *cobra.Command, a []string) error {
			if c.Flags().Changed("value-file") {
				return args(1, 1, "KEY with --value-file")(c, a)
			}
			return args(2, 2, "KEY VALUE")(c, a)
		},
		RunE: func(c *cobra.Command, a []string) (err error) {
			key, err := parseKey(a[0], hex, "key")
			if err != nil {
				return err
			}
			var value []byte
			switch {
			case !c.Flags().Changed("value-file"):
				value, err = parseKey(a[1], hex, "value")
			case valueFile == "-":
				value, err = io.ReadAll(e.stdin)
			default:
				value, err = os.ReadFile(valueFile)
			}
			if err != nil {
				return err
			}
			return e.withDB(dir, true, func(db *strata.DB) error { return db.Put(key, value, &strata.WriteOptions{Sync: sync}) })
		},
	}
	addDBFlag(c, &dir)
	c.Flags().BoolVar(&sync, "sync", false, "fsync the write-ahead log before returning")
	c.Flags().BoolVar(&hex, "hex", false, "KEY and VALUE are hex")
	c.Flags().StringVar(&valueFile, "value-file", "", "the value is this file's bytes as they are (- for stdin)")
	return c
}

func newGetCmd(e *env) *cobra.Command {
	var dir string
	var hex, raw bool
	c := &cobra.Command{
		Use:   "get --db DIR [--hex] [--raw] KEY",
		Short: "Print the value of KEY (exit 1 and \"not found\" on stderr when absent)",
		Long: `Print the value of KEY in the text form and a newline (hex with --hex), or
with --raw its bytes as they are, without a newline (binary values, say
strata get --raw --db DIR KEY > file; --hex then applies to KEY only). Exit 1 with "not found" on stderr when
KEY is absent.`,
		Args: args(1, 1, "KEY"),
		RunE: func(_ *cobra.Command, a []string) (err error) {
			key, err := parseKey(a[0], hex, "key")
			if err != nil {
				return err
			}
			db, err := e.openRead(dir)
			if err != nil {
				return err
			}
			defer closeDB(db, &err)
			v, err := db.Get(key)
			if is(err, strata.ErrNotFound) {
				return errNotFound
			}
			if err != nil {
				return err
			}
			switch {
			case raw:
				_, err = e.stdout.Write(v)
			case hex:
				_, err = fmt.Fprintf(e.stdout, "%x\n", v)
			default:
				_, err = fmt.Fprintln(e.stdout, dataio.Escape(v))
			}
			return err
		},
	}
	addDBFlag(c, &dir)
	c.Flags().BoolVar(&hex, "hex", false, "KEY is hex, and the value is printed in hex")
	c.Flags().BoolVar(&raw, "raw", false, "print the value's bytes as they are, without a newline")
	return c
}

func newDeleteCmd(e *env) *cobra.Command {
	var dir string
	var sync, hex bool
	c := &cobra.Command{
		Use:   "delete --db DIR [--sync] [--hex] KEY",
		Short: "Delete KEY (creates the database if missing; deleting an absent key is not an error)",
		Args:  args(1, 1, "KEY"),
		RunE: func(_ *cobra.Command, a []string) (err error) {
			key, err := parseKey(a[0], hex, "key")
			if err != nil {
				return err
			}
			return e.withDB(dir, true, func(db *strata.DB) error { return db.Delete(key, &strata.WriteOptions{Sync: sync}) })
		},
	}
	addDBFlag(c, &dir)
	c.Flags().BoolVar(&sync, "sync", false, "fsync the write-ahead log before returning")
	c.Flags().BoolVar(&hex, "hex", false, "KEY is hex")
	return c
}

// rangeFlags are the key-range flags of scan and export.
type rangeFlags struct {
	from, to, prefix string
	hex              bool
}

func (r *rangeFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&r.from, "from", "", "first key (inclusive)")
	c.Flags().StringVar(&r.to, "to", "", "end key (exclusive)")
	c.Flags().StringVar(&r.prefix, "prefix", "", "only keys starting with this prefix")
	c.Flags().BoolVar(&r.hex, "hex", false, "keys and values (and --from, --to, --prefix) are hex")
}

func (r *rangeFlags) keyRange(c *cobra.Command) (kr dataio.KeyRange, err error) {
	if kr.From, err = optKey(c, "from", r.from, r.hex); err != nil {
		return kr, err
	}
	if kr.To, err = optKey(c, "to", r.to, r.hex); err != nil {
		return kr, err
	}
	if kr.From != nil && kr.To != nil && bytes.Compare(kr.From, kr.To) > 0 {
		return kr, usageError{fmt.Errorf("--from %s comes after --to %s: no key is in the range", r.from, r.to)}
	}
	kr.Prefix, err = optKey(c, "prefix", r.prefix, r.hex)
	return kr, err
}

// limitFlag adds --limit N (0: no limit).
func limitFlag(c *cobra.Command, limit *int64) {
	c.Flags().Int64Var(limit, "limit", 0, "stop after N entries (0: all)")
}

// checkLimit refuses a negative --limit.
func checkLimit(limit int64) error {
	if limit < 0 {
		return usageError{fmt.Errorf("--limit %d: must be >= 0", limit)}
	}
	return nil
}

func newScanCmd(e *env) *cobra.Command {
	var dir, format string
	var rf rangeFlags
	var reverse, keysOnly, count bool
	var limit int64
	var parallel int
	c := &cobra.Command{
		Use:   "scan --db DIR [--from K] [--to K] [--prefix P] [--reverse] [--limit N] [--keys-only] [--format text|hex|json] [--count [--parallel N]]",
		Short: "Print entries in key order, one KEY<TAB>VALUE line each",
		Long: `Print entries in key order, one KEY<TAB>VALUE line each.

--format text (the default) writes the text form: printable characters as they
are, \\ \t \n for backslash, tab and newline, \xNN for any other byte. hex
writes both in lowercase hex (as does --hex). json writes one object per line,
{"key":"...","value":"..."}, with base64 strings (hex with --hex).

--count prints counts instead of entries: for each part of the range,
part=I<TAB>from=K<TAB>to=K<TAB>entries=N<TAB>bytes=B (keys plus values; a part
is [from, to), "-" is open), then total<TAB>parts=P<TAB>entries=N<TAB>bytes=B.
--parallel N splits the range into N parts of about equal bytes, scanned at
once on one snapshot (dataeng.ParallelScan).`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if parallel < 1 || parallel > 1 && !count {
				return usageError{fmt.Errorf("--parallel %d: must be >= 1, and needs --count", parallel)}
			}
			o := dataio.DumpOptions{Reverse: reverse, Limit: limit, KeysOnly: keysOnly, Hex: rf.hex}
			switch format {
			case "text":
				o.Format = dataio.TSV
			case "hex":
				o.Format, o.Hex = dataio.TSV, true
			case "json":
				o.Format = dataio.JSONL
			default:
				return usageError{fmt.Errorf("--format %q: want text, hex or json", format)}
			}
			if err := checkLimit(limit); err != nil {
				return err
			}
			if o.Range, err = rf.keyRange(c); err != nil {
				return err
			}
			db, err := e.openRead(dir)
			if err != nil {
				return err
			}
			defer closeDB(db, &err)
			if count {
				return e.scanCount(db, o.Range, parallel, rf.hex)
			}
			_, err = dataio.Dump(db, e.stdout, o)
			return err
		},
	}
	addDBFlag(c, &dir)
	rf.add(c)
	c.Flags().BoolVar(&reverse, "reverse", false, "descending key order")
	limitFlag(c, &limit)
	c.Flags().BoolVar(&keysOnly, "keys-only", false, "print keys only")
	c.Flags().StringVar(&format, "format", "text", "output format: text, hex or json")
	c.Flags().BoolVar(&count, "count", false, "print entry and byte counts per part and in total")
	c.Flags().IntVar(&parallel, "parallel", 1, "with --count: scan N parts at once")
	return c
}

func newExportCmd(e *env) *cobra.Command {
	var dir, format string
	var rf rangeFlags
	var limit int64
	c := &cobra.Command{
		Use:   "export --db DIR [--format tsv|csv|jsonl] [--hex] [--from K] [--to K] [--prefix P] [--limit N] [FILE|-]",
		Short: "Write entries to FILE (or stdout) in a format load reads back",
		Long: `Write entries in key order to FILE (default: stdout), in a format load reads.

tsv: KEY<TAB>VALUE lines in the text form (see scan). csv: two-field RFC 4180
records of the text form. jsonl: {"key":"...","value":"..."} with base64
strings. --hex writes hex instead of the text form (and of base64). --limit N
stops after the first N entries.`,
		Args: args(0, 1, "at most one FILE"),
		RunE: func(c *cobra.Command, a []string) (err error) {
			f, err := dataio.ParseFormat(format)
			if err != nil {
				return usageError{err}
			}
			if err := checkLimit(limit); err != nil {
				return err
			}
			o := dataio.DumpOptions{Format: f, Hex: rf.hex, Limit: limit}
			if o.Range, err = rf.keyRange(c); err != nil {
				return err
			}
			db, err := e.openRead(dir)
			if err != nil {
				return err
			}
			defer closeDB(db, &err)
			var w io.Writer = e.stdout
			var out *os.File
			if len(a) == 1 && a[0] != "-" {
				if out, err = os.Create(a[0]); err != nil {
					return err
				}
				w = out
			}
			n, err := dataio.Dump(db, w, o)
			if out != nil {
				if cerr := out.Close(); err == nil {
					err = cerr
				}
				if err == nil {
					fmt.Fprintf(e.stderr, "exported %d entries to %s\n", n, a[0])
				}
			}
			return err
		},
	}
	addDBFlag(c, &dir)
	rf.add(c)
	c.Flags().StringVar(&format, "format", "tsv", "tsv, csv or jsonl")
	limitFlag(c, &limit)
	return c
}

func newLoadCmd(e *env) *cobra.Command {
	var dir, format string
	var hex, noWAL, batches bool
	var batch, parallel int
	var sel dataio.Selection
	c := &cobra.Command{
		Use: "load --db DIR [--format tsv|csv|jsonl] [--hex] [--header] [--key-column N | --key-field NAME] " +
			"[--value-columns LIST | --value-fields LIST] [--parallel N] [--batches [--batch N] [--no-wal]] FILE|-",
		Short: "Bulk-import entries from FILE (or - for stdin); all or nothing",
		Long: `Bulk-import entries from FILE, or from stdin with -, in the formats export
writes (see strata help export). The whole input is checked first: a malformed
line anywhere stops the load with its line number before anything is written
(stdin is spooled to a temporary file meanwhile), and a missing database is
created only after that. A UTF-8 byte order mark at the start is skipped.

Files written by other programs: --key-column N (numbered from 1) and
--value-columns LIST (say 2,4) pick the key and the value out of tsv or csv
rows with more columns; with --header the first row names the columns, and
--key-field NAME and --value-fields NAMES pick them by name. For jsonl,
--key-field NAME names the key's field and --value-fields NAMES the value's
(default: the whole object, the line as it is); a string field gives its
UTF-8 text, any other JSON value its JSON text. Fields picked this way are
taken as they are (not the text form or base64; hex with --hex). A value of
several columns or fields is their contents joined by tabs (the rows
strata groupby reads); every row must have as many columns as the first.

The load is all or nothing: loaders (--parallel N, default 1) sort the input
in chunks and merge them into tables, staged in a strata-load-NNN directory in
the database directory, and the tables are ingested in one step at the end
(dataio.Input.LoadParallel). Until then the database does not change, so a
failed, interrupted or killed load leaves it as it was. A key given twice ends
with its last value. Tables bypass the write-ahead log and are durable when
the load returns. On an empty database the tables land in the last level:
nothing is left to compact. A killed load leaves its staging directory
behind; the next command that opens the database for writing (put, delete,
load, compact, flush) removes it and says so.

--batches writes through the memtable instead, in batches of --batch entries
in input order (dataio.Input.LoadInto), with --no-wal without the write-ahead
log and a flush at the end. That is NOT all or nothing: each batch is atomic,
but a load killed or failing midway leaves the batches written before (with
--no-wal, those already flushed to tables). Without --batches, --no-wal
changes nothing: tables never go through the write-ahead log.

Progress bars (validating, then sorting and writing tables, or writing) are
shown when stderr is a terminal; a summary line ends the load.`,
		Args: args(1, 1, "FILE or -"),
		RunE: func(c *cobra.Command, a []string) (err error) {
			f, err := dataio.ParseFormat(format)
			if err != nil {
				return usageError{err}
			}
			switch {
			case parallel < 1:
				return usageError{fmt.Errorf("--parallel %d: must be >= 1", parallel)}
			case batches && c.Flags().Changed("parallel"):
				return usageError{fmt.Errorf("--parallel and --batches exclude each other")}
			case !batches && c.Flags().Changed("batch"):
				return usageError{fmt.Errorf("--batch applies only with --batches")}
			case batch <= 0:
				return usageError{fmt.Errorf("--batch %d: must be > 0", batch)}
			}
			if !c.Flags().Changed("value-columns") {
				sel.ValueColumns = nil
			}
			if !c.Flags().Changed("value-fields") && !c.Flags().Changed("value-field") {
				sel.ValueFields = nil
			}
			if err := sel.Check(f); err != nil {
				return usageError{err}
			}
			var in io.Reader = e.stdin
			if a[0] != "-" {
				file, err := os.Open(a[0])
				if err != nil {
					return err
				}
				defer file.Close()
				in = file
			}
			bar := e.newPhasedProgress(loadPhases[batches])
			defer bar.finish()
			o := dataio.LoadOptions{Format: f, Hex: hex, Select: sel, BatchSize: batch, DisableWAL: noWAL, Progress: bar.update}
			inp, err := dataio.Prepare(in, o)
			if err != nil {
				name := a[0]
				if name == "-" {
					name = "stdin"
				}
				return fmt.Errorf("load %s: %w (nothing was written)", name, err)
			}
			defer inp.Close()
			db, err := e.openWrite(dir, true)
			if err != nil {
				return err
			}
			defer closeDB(db, &err)
			res, err := loadInto(inp, db, dir, batches, parallel)
			bar.finish()
			if err != nil && batches {
				return fmt.Errorf("load: %w (after %d entries)", err, res.Entries)
			}
			if err != nil {
				return fmt.Errorf("load: %w (the database is as it was)", err)
			}
			fmt.Fprintf(e.stdout, "loaded %d entries, %d bytes in %.2f s: %.0f entries/s\n",
				res.Entries, res.Bytes, res.Duration.Seconds(), res.EntriesPerSecond())
			return nil
		},
	}
	addDBFlag(c, &dir)
	c.Flags().StringVar(&format, "format", "tsv", "tsv, csv or jsonl")
	c.Flags().BoolVar(&hex, "hex", false, "keys and values are hex")
	c.Flags().BoolVar(&sel.Header, "header", false, "tsv, csv: the first row names the columns")
	c.Flags().IntVar(&sel.KeyColumn, "key-column", 0, "tsv, csv: the key's column, from 1")
	c.Flags().IntSliceVar(&sel.ValueColumns, "value-columns", nil, "tsv, csv: the value's columns (default: all but the key's)")
	c.Flags().StringVar(&sel.KeyField, "key-field", "", "the key's column (tsv, csv with --header) or field (jsonl) by name")
	c.Flags().StringSliceVar(&sel.ValueFields, "value-fields", nil, "the value's columns or fields by name (--value-field for one)")
	c.Flags().StringSliceVar(&sel.ValueFields, "value-field", nil, "the same as --value-fields")
	c.Flags().MarkHidden("value-field")
	c.Flags().IntVar(&parallel, "parallel", 1, "loaders sorting the input and writing tables")
	c.Flags().BoolVar(&batches, "batches", false, "write through the memtable in batches instead (not all or nothing)")
	c.Flags().IntVar(&batch, "batch", 1000, "with --batches: entries per write batch")
	c.Flags().BoolVar(&noWAL, "no-wal", false, "with --batches: write without the write-ahead log, then flush (tables never use it)")
	return c
}
