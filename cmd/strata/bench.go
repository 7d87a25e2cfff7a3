package main

import (
	"flag"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/tools/dbbench"
)

// newBenchCmd returns `strata bench`: LevelDB/RocksDB db_bench-compatible
// benchmarks against a Strata database, printing db_bench's report lines.
func newBenchCmd() *cobra.Command {
	cfg := dbbench.DefaultConfig()
	var cpuProfile, memProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run db_bench-compatible benchmarks against a Strata database",
		Long: `Run db_bench-compatible benchmarks (db_bench's names, flags, keys and values)
against a Strata database in --db, printing one line per benchmark in RocksDB's
db_bench format:

  fillrandom   :       3.012 micros/op 332005 ops/sec 3.012 seconds 1000000 operations;   36.7 MB/s

Read benchmarks end in "(F of N found)"; --histogram adds latency percentiles
(P50, P75, P99, P99.9, P99.99). The database in --db is deleted first unless
--use_existing_db is set.

Merges and range deletions take RocksDB's db_bench flags: mergerandom and
readrandommergerandom need --merge_operator=uint64add (8-byte little-endian
addition), and the write benchmarks write range deletions with
--writes_per_range_tombstone, --range_tombstone_width and
--max_num_range_tombstones.

Benchmarks: ` + joinNames(dbbench.Benchmarks),
		Example: `  strata bench --benchmarks=fillrandom,readrandom --num=100000
  strata bench --benchmarks=filluniquerandom,waitforcompaction,readrandom,seekrandom --seek_nexts=10 --histogram
  strata bench --benchmarks=readrandom --use_existing_db --db=/tmp/strata-dbbench
  strata bench --benchmarks=mergerandom,readrandommergerandom --merge_operator=uint64add --value_size=8
  strata bench --benchmarks=filluniquerandom,readrandom --writes_per_range_tombstone=100 --max_num_range_tombstones=10000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			if memProfile != "" {
				// Sample every 64 KiB allocated rather than every 512 KiB:
				// a fill allocates only a few megabytes in all.
				runtime.MemProfileRate = 64 << 10
			}
			_, err = dbbench.Run(cfg, dbbench.Strata, cmd.OutOrStdout())
			if err == nil && memProfile != "" {
				err = writeMemProfile(memProfile)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write an allocation profile of the whole run to this file (go tool pprof -sample_index=alloc_space)")
	gofs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg.RegisterFlags(gofs)
	cmd.Flags().AddGoFlagSet(gofs)
	return cmd
}

// startCPUProfile starts a CPU profile into path (none if path is empty);
// stop ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeMemProfile writes the heap profile (allocations since the start,
// and what is still in use) to path.
func writeMemProfile(path string) error {
	runtime.GC() // the profile is as of the last collection: include everything
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}
