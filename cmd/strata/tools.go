package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/inspect"
)

// keyFormat returns how keys are shown: the text form, or hex.
func keyFormat(hexKeys bool) inspect.KeyFormat {
	if hexKeys {
		return func(b []byte) string { return hex.EncodeToString(b) }
	}
	return inspect.TextKeys
}

// findingsError prints findings to stdout and returns the one-line error
// for them (nil when there are none).
func (e *env) findingsError(what string, findings []inspect.Finding) error {
	for _, f := range findings {
		fmt.Fprintln(e.stdout, "damage:", f.String())
	}
	if len(findings) == 0 {
		return nil
	}
	return damaged{fmt.Errorf("%s: %d problem(s); the first: %s", what, len(findings), findings[0])}
}

func newSSTCmd(e *env) *cobra.Command {
	var scan, check, hexKeys bool
	c := &cobra.Command{
		Use:   "sst FILE [--scan] [--check] [--hex]",
		Short: "A table file's layout: blocks, index, filter, sizes, key range, compression",
		Long: `Describe a table file (NNNNNN.ldb or .sst): its size, entries, compression,
key range and every block (offset, size, raw size, entries, first and last
key). A table with range deletions also shows its range-deletion block and
the bounds the tombstones give it (a largest key END#max,RANGEDEL is a
tombstone's end, which the table does not cover). A damaged data block is
marked DAMAGED in the list and reported after it (exit 1). --scan also prints
every entry as KEY#SEQ,KIND<TAB>VALUE (KIND is SET, DEL, or MERGE for a merge
operand), then every range tombstone as [START, END)#SEQ; --check verifies
every checksum, the key order and the range-deletion block, and exits 1 on
damage.`,
		Args: args(1, 1, "FILE"),
		RunE: func(_ *cobra.Command, a []string) error {
			kf := keyFormat(hexKeys)
			info, err := inspect.DescribeTable(a[0])
			if err != nil {
				return err
			}
			if err := info.WriteText(e.stdout, kf, true); err != nil {
				return err
			}
			if len(info.Findings) > 0 {
				return e.findingsError("sst", info.Findings)
			}
			if scan {
				fmt.Fprintln(e.stdout, "entries:")
				err := inspect.ScanTable(a[0], func(k inspect.InternalKey, v []byte) error {
					if k.Kind == "DEL" {
						_, err := fmt.Fprintf(e.stdout, "%s\n", k.Format(kf))
						return err
					}
					_, err := fmt.Fprintf(e.stdout, "%s\t%s\n", k.Format(kf), kf(v))
					return err
				})
				if err != nil {
					return err
				}
				if len(info.RangeDels) > 0 {
					fmt.Fprintln(e.stdout, "range deletions:")
					if err := info.WriteRangeDels(e.stdout, kf); err != nil {
						return err
					}
				}
			}
			if check {
				if err := inspect.CheckTable(a[0]); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, "check: OK")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&scan, "scan", false, "print every entry")
	c.Flags().BoolVar(&check, "check", false, "verify every checksum and the key order")
	c.Flags().BoolVar(&hexKeys, "hex", false, "show keys and values in hex")
	return c
}

func newManifestCmd(e *env) *cobra.Command {
	var dir, file string
	var hexKeys bool
	c := &cobra.Command{
		Use:   "manifest --db DIR [--file MANIFEST-NNNNNN] [--hex]",
		Short: "The MANIFEST's version edits, decoded",
		Long: `Print every version edit of the MANIFEST that CURRENT names (or of --file, a
MANIFEST path or a name in DIR): log and file numbers, last sequence, compact
pointers, tables deleted and added with their sizes and key ranges, then the
number of edits (as check counts them). A database that has used range
deletions or merges records a marked comparator name (the "strata.v2" note
that makes C++ LevelDB refuse it) and, after its first merge, the merge
operator's name (merger). Damaged records are reported with
their offset and skipped, and so is a MANIFEST that lacks an entry every
MANIFEST sets (exit 1).`,
		Args: args(0, 0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			path := file
			switch {
			case path == "":
				name, bad, err := inspect.ReadCurrent(dir)
				if err != nil {
					return fmt.Errorf("no database in %s: %w", dir, err)
				}
				if bad != nil {
					return damaged{fmt.Errorf("%s: %s", filepath.Join(dir, "CURRENT"), bad)}
				}
				path = filepath.Join(dir, name)
			case filepath.Base(path) == path && dir != "":
				path = filepath.Join(dir, path)
			}
			fmt.Fprintf(e.stdout, "%s\n", path)
			n := 0
			findings, err := inspect.ReadManifest(path, func(ed *inspect.Edit) error {
				n++
				return ed.WriteText(e.stdout, keyFormat(hexKeys))
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d edits\n", n)
			return e.findingsError("manifest", findings)
		},
	}
	c.Flags().StringVar(&dir, "db", "", "database directory")
	c.Flags().StringVar(&file, "file", "", "a MANIFEST file instead of the one CURRENT names")
	c.Flags().BoolVar(&hexKeys, "hex", false, "show keys in hex")
	c.PreRunE = func(*cobra.Command, []string) error {
		if dir == "" && file == "" {
			return usageError{fmt.Errorf("want --db DIR or --file MANIFEST")}
		}
		return nil
	}
	return c
}

func newWALCmd(e *env) *cobra.Command {
	var hexKeys, summary bool
	c := &cobra.Command{
		Use:   "wal FILE [--hex] [--summary]",
		Short: "A write-ahead log's batches: sequence, count and operations",
		Long: `Print every batch of a write-ahead log (NNNNNN.log): its offset, first
sequence number and operation count, then each operation (SET key = value,
DEL key, MERGE key <- operand, or RANGEDEL [start, end)) with its sequence
number; --summary leaves the operations out. Damaged
records are reported with their offset (exit 1) and skipped.`,
		Args: args(1, 1, "FILE"),
		RunE: func(_ *cobra.Command, a []string) error {
			if fi, err := os.Stat(a[0]); err != nil {
				return err
			} else if fi.IsDir() {
				return fmt.Errorf("%s is a directory; want a log file such as %s", a[0], filepath.Join(a[0], "000003.log"))
			}
			var batches, ops int64
			findings, err := inspect.ReadWAL(a[0], func(b *inspect.Batch) error {
				batches++
				ops += int64(b.Count)
				return b.WriteText(e.stdout, keyFormat(hexKeys), !summary)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d batches, %d ops\n", batches, ops)
			return e.findingsError("wal", findings)
		},
	}
	c.Flags().BoolVar(&hexKeys, "hex", false, "show keys and values in hex")
	c.Flags().BoolVar(&summary, "summary", false, "one line per batch, without the operations")
	return c
}

// minLSMWidth is the narrowest key axis lsm draws (inspect.LSM.WriteText
// widens anything narrower).
const minLSMWidth = 20

func newLSMCmd(e *env) *cobra.Command {
	var dir, svg, png string
	var width int
	var hexKeys bool
	c := &cobra.Command{
		Use:   "lsm --db DIR [--svg FILE] [--png FILE] [--width N] [--hex]",
		Short: "A picture of the tree: levels, tables as key ranges, sizes",
		Long: `Draw the tree as the MANIFEST describes it: a row per level (level 0 gets a
row per set of non-overlapping tables), each table [====] over its key range.
Key positions are ranks among the tables' boundary keys, so the picture shows
how tables line up whatever the keys look like. --svg and --png write the same
picture as an image (the SVG has each table's number, size and keys as a
tooltip). Nothing is written to the database, and no lock is taken.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			if width < minLSMWidth {
				return usageError{fmt.Errorf("--width %d: must be at least %d", width, minLSMWidth)}
			}
			l, err := inspect.LoadLSM(dir)
			if err != nil {
				return err
			}
			kf := keyFormat(hexKeys)
			if err := l.WriteText(e.stdout, width, kf); err != nil {
				return err
			}
			write := func(path string, draw func(f *os.File) error) error {
				f, err := os.Create(path)
				if err != nil {
					return err
				}
				if err := draw(f); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "wrote %s\n", path)
				return nil
			}
			if svg != "" {
				if err := write(svg, func(f *os.File) error { return l.WriteSVG(f, kf) }); err != nil {
					return err
				}
			}
			if png != "" {
				if err := write(png, func(f *os.File) error { return l.WritePNG(f, kf) }); err != nil {
					return err
				}
			}
			return nil
		},
	}
	addDBFlag(c, &dir)
	c.Flags().StringVar(&svg, "svg", "", "also write the picture as SVG to FILE")
	c.Flags().StringVar(&png, "png", "", "also write the picture as PNG to FILE")
	c.Flags().IntVar(&width, "width", 72, fmt.Sprintf("columns of the key axis in the terminal picture (at least %d)", minLSMWidth))
	c.Flags().BoolVar(&hexKeys, "hex", false, "show keys in hex")
	return c
}
