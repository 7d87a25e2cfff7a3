package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/inspect"
)

func newCheckpointCmd(e *env) *cobra.Command {
	var dir, to string
	c := &cobra.Command{
		Use:   "checkpoint --db DIR --to DIR",
		Short: "Write a consistent copy of the database, openable on its own (a backup)",
		Long: `Write a copy of the database to --to, which must not exist (its parent must)
or must be an empty directory: the memtable is flushed, and every table is
hard-linked into --to where the file system allows (no space is used until
the database's compactions delete the original) or copied otherwise, with a
new MANIFEST and CURRENT. The copy holds every write made before the command,
and opens as a database (in Strata or C++ LevelDB). A process that has the
database open can take one while it writes with DB.Checkpoint; this command
needs the database closed, as every command that writes. On failure nothing
is left in --to.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			start := time.Now()
			err := e.withDB(dir, false, func(db *strata.DB) error { return db.Checkpoint(to) })
			if err != nil {
				return err
			}
			n, links, bytes := checkpointTables(dir, to)
			fmt.Fprintf(e.stdout, "checkpoint of %s written to %s in %.2f s: %d table(s), %s; %d hard-linked to the database's, %d copied\n",
				dir, to, time.Since(start).Seconds(), n, inspect.HumanBytes(bytes), links, n-links)
			return nil
		},
	}
	addDBFlag(c, &dir)
	c.Flags().StringVar(&to, "to", "", "directory to write the checkpoint to (required)")
	c.MarkFlagRequired("to")
	return c
}

// checkpointTables counts the tables in the checkpoint to, their bytes, and
// those that are hard links to the file of the same name in the database db.
func checkpointTables(db, to string) (n, links int, bytes uint64) {
	entries, _ := os.ReadDir(to)
	for _, ent := range entries {
		name := ent.Name()
		if !strings.HasSuffix(name, ".ldb") && !strings.HasSuffix(name, ".sst") {
			continue
		}
		fi, err := os.Stat(filepath.Join(to, name))
		if err != nil {
			continue
		}
		n++
		bytes += uint64(fi.Size())
		if src, err := os.Stat(filepath.Join(db, name)); err == nil && os.SameFile(fi, src) {
			links++
		}
	}
	return n, links, bytes
}
