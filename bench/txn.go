package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/bench/render"
	"github.com/strata-db/strata/bench/suite"
)

// The files the "Transactions" section of the docs is rendered from.
const (
	defaultTxnResults = "results/txn.jsonl"
	defaultTxnGoBench = "results/txn-gobench.txt"
	defaultTxnNotes   = "results/txn-notes.md"
)

type txnOptions struct {
	quick      bool
	reps       int
	seconds    int
	engines    string
	out        string
	work       string
	timeout    time.Duration
	profiles   bool
	renderOnly bool
	docs       string
}

// newTxnCmd returns "txn": issue 25's transaction workloads on Strata and
// the peers with transactions, then the docs' Transactions section.
func newTxnCmd() *cobra.Command {
	o := txnOptions{}
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "Transaction workloads (issue 25) on Strata, Badger, bbolt and goleveldb, then the docs' Transactions section",
		Long: `Runs strata bench's transaction benchmarks on every engine with interactive transactions:
txnrmw with 1 and 2 threads (unsynced), txnbatch with 64 threads (synced, 10 writes per
transaction) and txncontended with 8 threads (Zipfian 0.99 over 1,000 keys), each in a fresh
database of 100,000 entries for --seconds, engines interleaved, --reps repetitions. Strata
runs twice, optimistic and pessimistic (the strata-pessimistic column). Then renders the
"Transactions" section of ../docs/benchmarks.md from --out, results/txn-gobench.txt (the
output of BenchmarkTxnVsBatch, after a "$ command" line) and results/txn-notes.md (the
analysis, by hand), each if present.`,
		Example: `  go run . txn                      # 5 repetitions of 5 s: about 15 minutes
  go run . txn --quick              # a minute: every engine through every workload
  go run . txn --render-only        # the section again from the files`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.renderOnly {
				if err := runTxn(cmd, &o); err != nil {
					return err
				}
			}
			return spliceTxnDocs(o.docs, o.out, true)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "10,000 entries, 1 s per benchmark, 1 repetition; results/txn-quick.jsonl")
	f.IntVar(&o.reps, "reps", 5, "repetitions")
	f.IntVar(&o.seconds, "seconds", 5, "duration of each measured benchmark")
	f.StringVar(&o.engines, "engines", "strata,strata-pessimistic,badger,bbolt,goleveldb", "engines, in order")
	f.StringVar(&o.out, "out", "", "results file (default "+defaultTxnResults+", or results/txn-quick.jsonl with --quick)")
	f.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "strata-txn-work"), "directory for databases and logs (a real disk)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit for one step (process)")
	f.BoolVar(&o.profiles, "profiles", false, "each measured step writes a CPU profile beside its log (WORK/logs/*.cpu.prof)")
	f.BoolVar(&o.renderOnly, "render-only", false, "do not run: render the section from --out")
	f.StringVar(&o.docs, "docs", "../docs", "directory of benchmarks.md")
	cmd.PreRun = func(cmd *cobra.Command, args []string) {
		if o.quick {
			if !cmd.Flags().Changed("reps") {
				o.reps = 1
			}
			if !cmd.Flags().Changed("seconds") {
				o.seconds = 1
			}
		}
		if o.out == "" {
			o.out = defaultTxnResults
			if o.quick {
				o.out = "results/txn-quick.jsonl"
			}
		}
	}
	return cmd
}

func runTxn(cmd *cobra.Command, o *txnOptions) error {
	if _, err := os.Stat("engines/engines.go"); err != nil {
		return errors.New("run from the bench/ directory of the Strata repository")
	}
	if o.reps < 1 || o.seconds < 1 {
		return errors.New("--reps and --seconds must be at least 1")
	}
	benchDir, _ := os.Getwd()
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	header := suite.TxnHeader{Type: "txn-run", Started: time.Now().UTC(), Plan: suite.NewTxnPlan(o.quick, o.reps, o.seconds),
		Command: "go run . " + strings.Join(os.Args[1:], " "), Machine: suite.DescribeMachine(o.work), Skipped: map[string]string{}}
	available := map[string]*suite.Engine{}
	for _, e := range suite.TxnEngines(benchDir, o.work) {
		available[e.Name] = e
	}
	for _, name := range strings.Split(o.engines, ",") {
		e, ok := available[name]
		switch {
		case !ok:
			return fmt.Errorf("unknown engine %q", name)
		case e.Err != nil:
			return fmt.Errorf("%s: %v", name, e.Err)
		}
		header.Engines = append(header.Engines, e)
	}
	launcher, err := suite.BuildLauncher(benchDir, o.work)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "no launcher (peak RSS includes the runner's): %v\n", err)
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	out, err := os.Create(o.out)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := writeJSONLine(out, header); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r := &suite.TxnRunner{Plan: header.Plan, Engines: header.Engines, WorkDir: o.work, Timeout: o.timeout,
		Out: out, Log: cmd.ErrOrStderr(), Launcher: launcher, Profiles: o.profiles}
	if err := r.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "results in %s\n", o.out)
	return out.Close()
}

// spliceTxnDocs renders the Transactions section into docs/benchmarks.md
// from the results file in (and the Go benchmark output and notes, if
// present). Without in, it does nothing unless required.
func spliceTxnDocs(docs, in string, required bool) error {
	f, err := os.Open(in)
	if os.IsNotExist(err) && !required {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	d, err := render.LoadTxn(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	var g *render.GoBench
	if gf, err := os.Open(defaultTxnGoBench); err == nil {
		defer gf.Close()
		if g, err = render.LoadGoBench(gf); err != nil {
			return fmt.Errorf("%s: %w", defaultTxnGoBench, err)
		}
	}
	notes, _ := os.ReadFile(defaultTxnNotes)
	src := render.TxnSources{Results: in, GoBench: defaultTxnGoBench, Notes: defaultTxnNotes}
	if err := render.SpliceTxn(docs, d, g, string(notes), src); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote the Transactions section of %s\n", filepath.Join(docs, "benchmarks.md"))
	return nil
}
