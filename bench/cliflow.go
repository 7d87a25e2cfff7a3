package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/dataio"
	"github.com/strata-db/strata/tools/dbbench"
)

// newCLIFlowCmd returns the hidden "cliflow" command: the bulk-load flow
// done with the strata command line instead of the library, for the
// "strata-cli" column (issue 7: `strata load --parallel 2 --no-wal`, then
// `strata compact`, then `strata scan --parallel 2 --count`). It reads the
// same db_bench flags as the workers and prints db_bench report lines named
// like the library steps, so the runner and the renderer treat it as one
// more engine:
//
//   - step "filluniquerandom,flush,compact": writes the workload's entries
//     (db_bench's keys in filluniquerandom's shuffled order, db_bench's
//     values) to a TSV file — not timed — then times `strata load
//     --parallel 2 --no-wal` (reported as filluniquerandom; it flushes at
//     the end) and `strata compact` (reported as compact);
//   - step "readseq": times `strata scan --parallel 2 --count` (readseq).
//
// The peak RSS the runner records is the largest of the strata processes
// (wait4 reports a child's own and its children's).
func newCLIFlowCmd() *cobra.Command {
	cfg := dbbench.DefaultConfig()
	var strataBin string
	cmd := &cobra.Command{
		Use:    "cliflow",
		Short:  "The bulk-load flow through the strata command (one engine column)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCLIFlow(cfg, strataBin, cmd.OutOrStdout())
		},
	}
	gofs := flag.NewFlagSet("cliflow", flag.ContinueOnError)
	cfg.RegisterFlags(gofs)
	cmd.Flags().AddGoFlagSet(gofs)
	cmd.Flags().StringVar(&strataBin, "strata", "", "the strata binary")
	return cmd
}

func runCLIFlow(cfg dbbench.Config, bin string, out io.Writer) error {
	run := func(name string, n int, args ...string) error {
		c := exec.Command(bin, args...)
		c.Stderr = os.Stderr
		var stdout strings.Builder
		c.Stdout = &stdout
		start := time.Now()
		if err := c.Run(); err != nil {
			return fmt.Errorf("strata %s: %w\n%s", strings.Join(args, " "), err, stdout.String())
		}
		secs := time.Since(start).Seconds()
		fmt.Fprintf(os.Stderr, "%s", stdout.String())
		fmt.Fprintf(out, "%-12s : %11.3f micros/op %d ops/sec %.3f seconds %d operations;\n",
			name, secs*1e6/float64(n), int64(float64(n)/secs), secs, n)
		return nil
	}
	switch strings.Join(cfg.Benchmarks, ",") {
	case "filluniquerandom,flush,compact":
		input := filepath.Join(filepath.Dir(cfg.DB), filepath.Base(cfg.DB)+"-input.tsv")
		defer os.Remove(input)
		if err := writeBulkInput(input, cfg); err != nil {
			return err
		}
		if err := run("filluniquerandom", cfg.Num, "load", "--db", cfg.DB, "--format", "tsv",
			"--parallel", "2", "--no-wal", input); err != nil {
			return err
		}
		return run("compact", 1, "compact", "--db", cfg.DB)
	case "readseq":
		return run("readseq", cfg.Num, "scan", "--db", cfg.DB, "--parallel", "2", "--count")
	}
	return fmt.Errorf("cliflow: no command-line flow for --benchmarks=%s", strings.Join(cfg.Benchmarks, ","))
}

// writeBulkInput writes cfg.Num entries as TSV: db_bench's keys in
// filluniquerandom's shuffled order, db_bench's values.
func writeBulkInput(path string, cfg dbbench.Config) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := dataio.NewWriter(bw, dataio.TSV, false, false)
	rng := dbbench.NewRandom(uint32(cfg.Seed + 1))
	perm := make([]int32, cfg.Num)
	for i := range perm {
		perm[i] = int32(i)
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := rng.Uniform(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	keys := dbbench.KeyFormat{Size: cfg.KeySize}
	gen := dbbench.NewValueGenerator(cfg.CompressionRatio, cfg.ValueSize)
	var key []byte
	for _, k := range perm {
		key = keys.Append(key[:0], int(k))
		if err := w.Write(key, gen.Generate(cfg.ValueSize)); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Sync()
}
