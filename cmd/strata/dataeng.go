package main

// The data-engineering commands: setops and groupby, and the helpers of
// scan --parallel --count and load --parallel.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/dataeng"
	"github.com/strata-db/strata/dataio"
)

func newSetopsCmd(e *env) *cobra.Command {
	var left, right, emit string
	var parallel int
	var rf rangeFlags
	c := &cobra.Command{
		Use:   "setops --left DIR --right DIR [--parallel N] [--emit left|right|both] [--from K] [--to K] [--prefix P] [--hex]",
		Short: "Count the keys of two databases and those in both; optionally list one set",
		Long: `Walk the keys of two databases together, in key order, and print one line

  left=L right=R both=B

where L is the number of keys in the left database, R in the right one and B
in both (so L-B are only in the left, R-B only in the right). Values are not
compared. With --emit left, right or both, the keys only in the left, only in
the right, or in both follow, one per line in key order, in the text form of
scan (lowercase hex with --hex).

--parallel N splits the key space at split points of both databases and walks
N parts at once (the result is the same). --from, --to and --prefix limit the
keys compared (text form, or hex with --hex). The databases are opened
read-only, so they may be in use. A progress spinner (keys read) shows on a
terminal.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			var set dataeng.KeySet
			switch emit {
			case "":
			case "left":
				set = dataeng.OnlyLeft
			case "right":
				set = dataeng.OnlyRight
			case "both":
				set = dataeng.InBoth
			default:
				return usageError{fmt.Errorf("--emit %q: want left, right or both", emit)}
			}
			if parallel < 1 {
				return usageError{fmt.Errorf("--parallel %d: must be >= 1", parallel)}
			}
			kr, err := rf.keyRange(c)
			if err != nil {
				return err
			}
			lower, upper, empty := kr.Bounds()
			l, err := e.openRead(left)
			if err != nil {
				return err
			}
			defer closeDB(l, &err)
			r, err := e.openRead(right)
			if err != nil {
				return err
			}
			defer closeDB(r, &err)

			// Keys are spooled per part and printed after the counts.
			spool := &partSpool{}
			defer spool.close()
			bar := e.newProgress("comparing (keys read)", -1, false)
			var read int64
			o := dataeng.KeySetOptions{Lower: lower, Upper: upper, Emit: set, Workers: parallel, Parts: parallel,
				Progress: func(n int64) { read += n; bar.set(read) }}
			if set != 0 {
				appendKey := dataio.AppendEscaped
				if rf.hex {
					appendKey = hex.AppendEncode
				}
				o.OnKey = func(part int, _ dataeng.KeySet, key []byte) error { return spool.writeKey(part, appendKey, key) }
			}
			var counts dataeng.SetCounts
			switch {
			case empty:
			case parallel > 1:
				counts, err = dataeng.ParallelCompareKeySets(context.Background(), l, r, o)
			default:
				counts, err = dataeng.CompareKeySets(context.Background(), l, r, o)
			}
			bar.finish()
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(e.stdout, counts); err != nil {
				return err
			}
			return spool.copyTo(e.stdout)
		},
	}
	c.Flags().StringVar(&left, "left", "", "left database directory (required)")
	c.Flags().StringVar(&right, "right", "", "right database directory (required)")
	c.MarkFlagRequired("left")
	c.MarkFlagRequired("right")
	c.Flags().IntVar(&parallel, "parallel", 1, "parts walked at once")
	c.Flags().StringVar(&emit, "emit", "", "also print the keys of one set: left (only left), right (only right) or both")
	rf.add(c)
	c.Flags().Lookup("hex").Usage = "--from, --to and --prefix are hex, and so are the keys --emit prints"
	return c
}

// partSpool keeps lines per part in temporary files, to print them in part
// order once every part is done. Safe for concurrent use by different
// parts.
type partSpool struct {
	mu    sync.Mutex
	parts map[int]*spoolFile
}

type spoolFile struct {
	f *os.File
	w *bufio.Writer
}

// writeKey spools key, as appendKey writes it, on a line of part's.
func (s *partSpool) writeKey(part int, appendKey func(dst, key []byte) []byte, key []byte) error {
	s.mu.Lock()
	if s.parts == nil {
		s.parts = map[int]*spoolFile{}
	}
	sf := s.parts[part]
	if sf == nil {
		f, err := os.CreateTemp("", "strata-setops-*")
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("spool keys: %w", err)
		}
		os.Remove(f.Name()) // the descriptor keeps it until close
		sf = &spoolFile{f: f, w: bufio.NewWriterSize(f, 256<<10)}
		s.parts[part] = sf
	}
	s.mu.Unlock()
	line := append(appendKey(make([]byte, 0, 2*len(key)+1), key), '\n')
	if _, err := sf.w.Write(line); err != nil {
		return fmt.Errorf("spool keys to %s: %w", sf.f.Name(), err)
	}
	return nil
}

// copyTo writes the spooled lines to w, parts in order.
func (s *partSpool) copyTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	for part := range maxPart(s.parts) + 1 {
		sf := s.parts[part]
		if sf == nil {
			continue
		}
		if err := sf.w.Flush(); err != nil {
			return fmt.Errorf("spool keys to %s: %w", sf.f.Name(), err)
		}
		if _, err := sf.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(bw, sf.f); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func maxPart(m map[int]*spoolFile) int {
	n := -1
	for p := range m {
		n = max(n, p)
	}
	return n
}

func (s *partSpool) close() {
	for _, sf := range s.parts {
		sf.f.Close()
	}
}

// loadPhases describe the phases of a load's progress bars: through
// tables (dataio.Input.LoadParallel) or, with batches, through the
// memtable (LoadInto).
var loadPhases = map[bool]map[string]phase{
	false: {"validate": {desc: "validating", bytes: true, count: true}, "load": {desc: "sorting", bytes: true, count: true},
		"merge": {desc: "writing tables", bytes: true, count: true}, "ingest": {desc: "ingesting"}},
	true: {"validate": {desc: "validating", bytes: true, count: true}, "load": {desc: "writing", bytes: true, count: true}},
}

// loadInto is load's work: with batches, through the memtable; else
// loaders writing tables staged in the database directory, then ingested
// at once.
func loadInto(inp *dataio.Input, db *strata.DB, dir string, batches bool, loaders int) (dataio.LoadResult, error) {
	if batches {
		return inp.LoadInto(db)
	}
	return inp.LoadParallel(db, dataio.ParallelLoadOptions{Loaders: loaders, TempDir: dir})
}

// scanCount is scan --count [--parallel N]: it prints, for each part of
// the range, its bounds and the number of entries and their bytes (keys
// plus values), then the totals:
//
//	part=0<TAB>from=-<TAB>to=KEY<TAB>entries=N<TAB>bytes=B
//	...
//	total<TAB>parts=P<TAB>entries=N<TAB>bytes=B
//
// A part covers [from, to); bounds are in the text form (hex with --hex),
// "-" is open.
func (e *env) scanCount(db *strata.DB, kr dataio.KeyRange, parallel int, hex bool) error {
	lower, upper, empty := kr.Bounds()
	type partCount struct {
		lo, hi         []byte
		entries, bytes int64
	}
	var mu sync.Mutex
	counts := map[int]partCount{}
	var entries int64
	bar := e.newProgress("scanning (entries)", -1, false)
	var err error
	if !empty {
		err = dataeng.ParallelScan(context.Background(), db, dataeng.ScanOptions{Lower: lower, Upper: upper, Parts: parallel, Workers: parallel},
			func(part int, it *strata.Iterator) error {
				var pc partCount
				lo, hi := it.Bounds() // valid until the iterator closes
				pc.lo, pc.hi = cloneBound(lo), cloneBound(hi)
				for k, v := range it.All() {
					pc.entries++
					pc.bytes += int64(len(k) + len(v))
					if pc.entries%(1<<16) == 0 {
						mu.Lock()
						entries += 1 << 16
						bar.set(entries)
						mu.Unlock()
					}
				}
				mu.Lock()
				entries += pc.entries % (1 << 16)
				bar.set(entries)
				counts[part] = pc
				mu.Unlock()
				return it.Err()
			})
	}
	bar.finish()
	if err != nil {
		return err
	}
	show := func(k []byte) string {
		switch {
		case k == nil:
			return "-"
		case hex:
			return fmt.Sprintf("%x", k)
		}
		return dataio.Escape(k)
	}
	w := bufio.NewWriter(e.stdout)
	var total partCount
	for part := range len(counts) {
		pc := counts[part]
		fmt.Fprintf(w, "part=%d\tfrom=%s\tto=%s\tentries=%d\tbytes=%d\n", part, show(pc.lo), show(pc.hi), pc.entries, pc.bytes)
		total.entries += pc.entries
		total.bytes += pc.bytes
	}
	fmt.Fprintf(w, "total\tparts=%d\tentries=%d\tbytes=%d\n", len(counts), total.entries, total.bytes)
	return w.Flush()
}

func newGroupbyCmd(e *env) *cobra.Command {
	var in, out, format, scratch string
	var keyField, sumField, parallel int
	c := &cobra.Command{
		Use:   "groupby --db DIR --out DIR --key-field N [--sum-field M] [--format tsv] [--parallel N] [--scratch DIR]",
		Short: "Group the rows of a database by a field; write per-group counts (and sums) to another",
		Long: `Read every entry of --db as a row of tab-separated fields, group the rows by
field N, and write one entry per group to --out (created if missing).

The row of an entry is KEY<TAB>VALUE split at every tab: field 1 is the key,
fields 2, 3, ... are the value's tab-separated parts. A TSV file whose first
column is unique loads into such a database with strata load --key-column 1,
and field N is then what cut -f N gives on the original line.

The output entry of a group is

  key    the group: field N's bytes
  value  COUNT                 the number of rows in the group, or, with
         COUNT<TAB>SUM          --sum-field M, also the sum of field M

COUNT is a decimal integer. SUM is the sum of field M: exact when every
value of the group is a decimal integer (of any size: no float rounding, no
overflow), else the float64 sum of the values parsed as decimal numbers (Go's
strconv.ParseFloat), printed in the shortest form that reads back the same
('f' format) (dataeng.Sum). A row with fewer than N (or M) fields, or whose
field M is not a number, stops the command with an error naming its key;
nothing more is written then, and an output database the command created is
removed.

This is a map-shuffle-reduce (dataeng.GroupBy): the rows' (group, value)
records go to a scratch database (in a new directory under --scratch,
default $TMPDIR, removed at the end) without the WAL, one compaction sorts
them, and --parallel goroutines reduce groups in parallel parts. A summary
line ends the command; progress bars show on a terminal.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if format != "tsv" {
				return usageError{fmt.Errorf("--format %q: only tsv is supported", format)}
			}
			if keyField < 1 {
				return usageError{fmt.Errorf("--key-field %d: fields are numbered from 1", keyField)}
			}
			if c.Flags().Changed("sum-field") && sumField < 1 {
				return usageError{fmt.Errorf("--sum-field %d: fields are numbered from 1", sumField)}
			}
			if parallel < 1 {
				return usageError{fmt.Errorf("--parallel %d: must be >= 1", parallel)}
			}
			if sameFile(in, out) {
				return usageError{fmt.Errorf("--out %s is the input database", out)}
			}
			src, err := e.openRead(in)
			if err != nil {
				return err
			}
			defer closeDB(src, &err)
			_, statErr := os.Stat(out)
			created := errors.Is(statErr, fs.ErrNotExist)
			dst, err := e.openWrite(out, true)
			if err != nil {
				return err
			}
			err = e.groupBy(src, dst, groupSpec{keyField: keyField, sumField: sumField, parallel: parallel, scratch: scratch})
			closeDB(dst, &err)
			if err != nil && created {
				// Leave no half-written (or empty) output behind.
				if rerr := os.RemoveAll(out); rerr != nil {
					return fmt.Errorf("%w (and removing the output database %s failed: %v)", err, out, rerr)
				}
				return fmt.Errorf("%w (the output database %s was removed)", err, out)
			}
			return err
		},
	}
	c.Flags().StringVar(&in, "db", "", "input database directory (required)")
	c.MarkFlagRequired("db")
	c.Flags().StringVar(&out, "out", "", "output database directory (required; created if missing)")
	c.MarkFlagRequired("out")
	c.Flags().IntVar(&keyField, "key-field", 0, "group by this field (1 is the key; required)")
	c.MarkFlagRequired("key-field")
	c.Flags().IntVar(&sumField, "sum-field", 0, "also sum this numeric field per group")
	c.Flags().StringVar(&format, "format", "tsv", "how a row is split into fields: tsv")
	c.Flags().IntVar(&parallel, "parallel", runtime.GOMAXPROCS(0), "groups reduced at once")
	c.Flags().StringVar(&scratch, "scratch", "", "directory for the scratch database (default $TMPDIR)")
	return c
}

// groupSpec is what groupby computes.
type groupSpec struct {
	keyField, sumField int // 1-based; sumField 0: none
	parallel           int
	scratch            string
}

// rowField returns field n (1-based) of the row KEY<TAB>VALUE.
func rowField(key, value []byte, n int) ([]byte, bool) {
	if n == 1 {
		return key, true
	}
	for i := 2; ; i++ {
		tab := bytes.IndexByte(value, '\t')
		if i == n {
			if tab < 0 {
				return value, true
			}
			return value[:tab], true
		}
		if tab < 0 {
			return nil, false
		}
		value = value[tab+1:]
	}
}

func (e *env) groupBy(src, dst *strata.DB, g groupSpec) error {
	start := time.Now()
	bar := e.newPhasedProgress(map[string]phase{"map": {desc: "map (rows)", count: true},
		"compact": {desc: "sorting"}, "reduce": {desc: "reduce (rows)", count: true}})
	o := dataeng.GroupByOptions{ScratchDir: g.scratch, Out: dst, Workers: g.parallel, Progress: bar.update}
	stats, err := dataeng.GroupBy(context.Background(), o,
		func(emit func(group, value []byte) error) error {
			it := src.NewIterator(nil)
			defer it.Close()
			for k, v := range it.All() {
				group, ok := rowField(k, v, g.keyField)
				if !ok {
					return fmt.Errorf("row %s has no field %d", dataio.Escape(k), g.keyField)
				}
				var val []byte
				if g.sumField > 0 {
					f, ok := rowField(k, v, g.sumField)
					if !ok {
						return fmt.Errorf("row %s has no field %d", dataio.Escape(k), g.sumField)
					}
					if dataeng.ParseNumber(f) != nil {
						return fmt.Errorf("row %s: field %d %q is not a number", dataio.Escape(k), g.sumField, f)
					}
					val = f
				}
				if err := emit(group, val); err != nil {
					return err
				}
			}
			return it.Err()
		},
		func(group []byte, values *dataeng.ValueIter) ([]byte, error) {
			var count int64
			var sum dataeng.Sum
			for v := range values.All() {
				count++
				if g.sumField > 0 {
					if err := sum.Add(v); err != nil {
						return nil, fmt.Errorf("group %s: %w", dataio.Escape(group), err)
					}
				}
			}
			out := strconv.AppendInt(nil, count, 10)
			if g.sumField > 0 {
				out = sum.AppendText(append(out, '\t'))
			}
			return out, nil
		})
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "grouped %d rows into %d groups in %.2f s\n", stats.Records, stats.Groups, time.Since(start).Seconds())
	return nil
}

// cloneBound copies a bound, keeping nil (open) apart from empty.
func cloneBound(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
