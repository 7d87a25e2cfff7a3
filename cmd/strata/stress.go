package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/tools/stress"
)

// newStressCmd returns `strata stress`: the process crash test (see package
// tools/stress). The command runs itself again as the child it kills:
// a process started with stress.ChildEnv set is the child.
func newStressCmd() *cobra.Command {
	var (
		cfg          stress.Config
		keep, failed bool
	)
	cmd := &cobra.Command{
		Use:   "stress",
		Short: "Crash test: kill a writing child process with SIGKILL, again and again, and verify",
		Long: `Run the process crash test (RocksDB's db_crashtest in spirit). A child process
(this command, run again) writes random batches with Sync from several
goroutines, with tiny memtables so that flushes and compactions never stop,
and acknowledges each batch on a pipe. The parent kills it with SIGKILL at
random moments (one in five soon after start, during recovery), opens the
database read-only, checks that every acknowledged batch is there, that
every batch is all-or-nothing and that no value was invented, and starts
the child again. It prints a line per kill and a summary, and exits 1 on
the first violation.

With --bank the child runs bank transfers as transactions instead
(optimistic and pessimistic, credits as merges, most with Sync, each logging
itself in the same transaction and reported once committed); after each kill
the total must be unchanged, the balances must match the logged transfers,
and every transfer reported with Sync must be there.`,
		Example: `  strata stress --kills 1000
  strata stress --kills 30 --max-life 200ms --dir /tmp/strata-stress --keep
  strata stress --bank --kills 300 --writers 8`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			stress.MaybeChild() // never returns in the child
			if cfg.Dir == "" {
				tmp, err := os.MkdirTemp("", "strata-stress-")
				if err != nil {
					return err
				}
				cfg.Dir = filepath.Join(tmp, "db")
				defer func() {
					if !keep && !failed {
						os.RemoveAll(tmp)
					}
				}()
			}
			if cfg.Seed == 0 {
				cfg.Seed = uint64(time.Now().UnixNano())
			}
			out := c.OutOrStdout()
			cfg.Progress = out
			what := "crash test"
			if cfg.Bank {
				what = "bank crash test"
			}
			fmt.Fprintf(out, "%s in %s, seed %d, %d kills\n", what, cfg.Dir, cfg.Seed, cfg.Kills)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			res, err := stress.Run(ctx, cfg)
			fmt.Fprintf(out, "%s\n", res)
			if err != nil {
				failed = true
				return fmt.Errorf("stress (seed %d, database kept in %s): %w", cfg.Seed, cfg.Dir, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "", "database directory, which must not hold a database (default: a temporary one)")
	f.BoolVar(&keep, "keep", false, "keep the temporary database directory")
	f.Uint64Var(&cfg.Seed, "seed", 0, "workload seed (default: from the clock)")
	f.IntVar(&cfg.Kills, "kills", 100, "number of kills")
	f.IntVar(&cfg.Writers, "writers", 4, "writing goroutines in the child")
	f.IntVar(&cfg.Keys, "keys", 500, "keys per writer")
	f.IntVar(&cfg.ValueSize, "value-size", 200, "largest value filler in bytes")
	f.BoolVar(&cfg.Bank, "bank", false, "run bank transfers as transactions instead of batches")
	f.IntVar(&cfg.Accounts, "accounts", 50, "bank accounts (with --bank)")
	f.DurationVar(&cfg.MaxLife, "max-life", 500*time.Millisecond, "longest a child runs before it is killed")
	return cmd
}
