// Command bench runs Strata and its peers side by side on db_bench's
// workloads and renders docs/benchmarks.md. Run it from this directory:
//
//	go run . all           # the full suite (tens of minutes), then the docs
//	go run . all --quick   # a small version, a few minutes
//
// See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/bench/engines"
	"github.com/strata-db/strata/bench/render"
	"github.com/strata-db/strata/bench/suite"
	"github.com/strata-db/strata/tools/dbbench"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "bench",
		Short:         "Strata side by side with Pebble, goleveldb, Badger, RocksDB and C++ LevelDB",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(false), newRunCmd(true), newRenderCmd(), newScaleCmd(), newSQLCmd(), newWorkerCmd(), newCLIFlowCmd())
	root.AddCommand(newTxnCmd(), newClusterCmd())
	return root
}

type runOptions struct {
	quick   bool
	reps    int
	sets    string
	engines string
	out     string
	work    string
	timeout time.Duration
	require bool
	docs    string
}

// newRunCmd returns "run" (results only) or "all" (results, then the docs).
func newRunCmd(all bool) *cobra.Command {
	o := runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the workloads on every engine and write JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runSuite(cmd, &o); err != nil {
				return err
			}
			if all {
				return renderDocs(o.out, o.docs, defaultScaleResults, defaultMergeResults, defaultGoBench)
			}
			return nil
		},
	}
	if all {
		cmd.Use, cmd.Short = "all", "Run everything, then render the docs (the one command to rerun the benchmarks)"
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "small sizes and one repetition: a few minutes in all")
	f.IntVar(&o.reps, "reps", 0, "repetitions (default 3, or 1 with --quick)")
	f.StringVar(&o.sets, "sets", strings.Join(suite.Sets, ","), "workload sets: default, values, bulk, merge (merges and range deletions: engines without them skip it)")
	f.StringVar(&o.engines, "engines", "strata,pebble,goleveldb,badger,rocksdb,leveldb,strata-cli",
		"engines to run, in order (strata-cli: the bulk load through the strata command, bulk set only)")
	f.StringVar(&o.out, "out", "", "results file (default results/full.jsonl, or results/quick.jsonl with --quick)")
	f.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "strata-bench-work"), "directory for databases and logs (a real disk, not tmpfs)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Minute, "limit for one step (process)")
	f.BoolVar(&o.require, "require-all", os.Getenv("CI") == "true", "fail when RocksDB's db_bench or C++ LevelDB is not installed (default true when CI=true)")
	if all {
		f.StringVar(&o.docs, "docs", "../docs", "directory for benchmarks.md and its charts")
	}
	return cmd
}

func runSuite(cmd *cobra.Command, o *runOptions) error {
	if _, err := os.Stat("engines/engines.go"); err != nil {
		return errors.New("run from the bench/ directory of the Strata repository")
	}
	benchDir, _ := os.Getwd()
	repo := filepath.Dir(benchDir)
	if o.reps == 0 {
		o.reps = 3
		if o.quick {
			o.reps = 1
		}
	}
	if o.out == "" {
		o.out = "results/full.jsonl"
		if o.quick {
			o.out = "results/quick.jsonl"
		}
	}
	plan, err := suite.NewPlan(o.quick, o.reps, strings.Split(o.sets, ","))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	header := suite.Header{Type: "run", Started: time.Now().UTC(), Plan: plan,
		Command: "go run . " + strings.Join(os.Args[1:], " "), Machine: suite.DescribeMachine(o.work),
		Skipped: map[string]string{}}
	run, err := pickEngines(cmd, benchDir, repo, o.work, self, strings.Split(o.engines, ","), o.require, header.Skipped)
	if err != nil {
		return err
	}
	launcher, err := suite.BuildLauncher(benchDir, o.work)
	if err != nil {
		// Off Linux there is none; peak RSS figures then include the runner's.
		fmt.Fprintf(cmd.ErrOrStderr(), "no launcher, so each step's peak RSS is at least this process's: %v\n", err)
	}
	header.Launcher = launcher != ""
	header.Engines = run
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
	r := &suite.Runner{Plan: plan, Engines: run, WorkDir: o.work, Timeout: o.timeout, Out: out, Log: cmd.ErrOrStderr(), Launcher: launcher}
	if err := r.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "results in %s\n", o.out)
	return out.Close()
}

// defaultScaleResults is the scale results file the docs' "At scale"
// section is rendered from (go run . scale writes it).
const defaultScaleResults = "results/scale.jsonl"

func newRenderCmd() *cobra.Command {
	var in, docs, scale, merge, gobench string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render a results file into docs/benchmarks.md and PNG charts",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return renderDocs(in, docs, scale, merge, gobench) },
	}
	cmd.Flags().StringVar(&in, "in", "results/full.jsonl", "results file")
	cmd.Flags().StringVar(&docs, "docs", "../docs", "directory for benchmarks.md and its charts")
	cmd.Flags().StringVar(&scale, "scale", defaultScaleResults, "scale results file for the \"At scale\" section (skipped if absent)")
	cmd.Flags().StringVar(&merge, "merge", defaultMergeResults,
		"results of the merge set for the \"Merges and range deletions\" section, when --in did not run it (skipped if absent)")
	cmd.Flags().StringVar(&gobench, "gobench", defaultGoBench,
		"go test -bench output of issue 23's benchmarks, each run after a \"$ command\" line, for the same section (skipped if absent)")
	cmd.Flags().StringVar(&sqlResults, "sql", sqlResults, "sysbench results file for the \"SQL: sysbench against MariaDB\" section (skipped if absent)")
	cmd.Flags().StringVar(&embeddedResults, "sql-embedded", embeddedResults, "embedded benchmarks' output for the \"SQL embedded\" section (skipped if absent)")
	return cmd
}

// The SQL sections' sources (go run . sql writes them; render --sql and
// --sql-embedded, or go run . sql --out, choose others).
var (
	sqlResults      = defaultSQLResults
	embeddedResults = defaultEmbeddedResults
)

// loadSQL loads the SQL sections' files that exist (nil if neither does).
func loadSQL() (*render.SQL, error) {
	s := &render.SQL{SysbenchSource: sqlResults, EmbeddedSource: embeddedResults}
	err := loadOptional(sqlResults, "sysbench", func(f io.Reader) (err error) {
		s.Sysbench, err = render.LoadSQL(f)
		return err
	})
	if err == nil {
		err = loadOptional(embeddedResults, "embedded SQL", func(f io.Reader) (err error) {
			s.Embedded, err = render.LoadEmbedded(f)
			return err
		})
	}
	if err != nil || s.Sysbench == nil && s.Embedded == nil {
		return nil, err
	}
	return s, nil
}

// loadOptional runs load on the file at path, if there is one.
func loadOptional(path, section string, load func(io.Reader) error) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		fmt.Fprintf(os.Stderr, "no %s: the page has no %s section\n", path, section)
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := load(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// defaultMergeResults and defaultGoBench are the files the "Merges and
// range deletions" section is rendered from when the main results did not
// run the merge set (go run . run --sets merge --out results/merge.jsonl),
// and the Go benchmarks' output.
const (
	defaultMergeResults = "results/merge.jsonl"
	defaultGoBench      = "results/gobench-merge.txt"
)

// renderDocs renders in (and scale, merge and gobench, if those files
// exist) into docs.
func renderDocs(in, docs, scale, merge, gobench string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := render.Load(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	var sd *render.ScaleData
	if scale != "" {
		sf, err := os.Open(scale)
		switch {
		case os.IsNotExist(err):
			fmt.Fprintf(os.Stderr, "no %s: the page has no \"At scale\" section\n", scale)
		case err != nil:
			return err
		default:
			defer sf.Close()
			if sd, err = render.LoadScale(sf); err != nil {
				return fmt.Errorf("%s: %w", scale, err)
			}
		}
	}
	m := &render.Merges{Source: merge, GoBenchSource: gobench}
	if merge != "" && merge != in {
		if mf, err := os.Open(merge); err == nil {
			defer mf.Close()
			if m.Data, err = render.Load(mf); err != nil {
				return fmt.Errorf("%s: %w", merge, err)
			}
		} else if !os.IsNotExist(err) {
			return err
		}
	}
	if gobench != "" {
		if gf, err := os.Open(gobench); err == nil {
			defer gf.Close()
			if m.GoBench, err = render.LoadMergeGoBench(gf); err != nil {
				return fmt.Errorf("%s: %w", gobench, err)
			}
		} else if !os.IsNotExist(err) {
			return err
		}
	}
	sql, err := loadSQL()
	if err != nil {
		return err
	}
	if err := render.Write(data, docs, in, sd, scale, m, sql); err != nil {
		return err
	}
	// The Transactions section comes from a run of its own (go run . txn).
	if err := spliceTxnDocs(docs, defaultTxnResults, false); err != nil {
		return err
	}
	if err := spliceClusterDocs(docs, defaultClusterResults, false); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", filepath.Join(docs, "benchmarks.md"))
	return nil
}

// newWorkerCmd runs db_bench benchmarks on one Go engine in this process:
// the runner starts one worker per step.
func newWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "worker --engine=NAME [db_bench flags]",
		Short:              "Run db_bench benchmarks on one Go engine (used by run)",
		DisableFlagParsing: true,
		Hidden:             true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := dbbench.DefaultConfig()
			fs := flag.NewFlagSet("worker", flag.ContinueOnError)
			engine := fs.String("engine", "strata", "engine: strata, pebble, goleveldb or badger")
			cfg.RegisterFlags(fs)
			if err := fs.Parse(args); err != nil {
				return err
			}
			eng, ok := engines.All[*engine]
			if !ok {
				return fmt.Errorf("unknown engine %q", *engine)
			}
			_, err := dbbench.Run(cfg, eng, os.Stdout)
			return err
		},
	}
}

func writeJSONLine(f *os.File, v any) error {
	return json.NewEncoder(f).Encode(v)
}

// pickEngines builds the engines wanted, in order: those that cannot run
// here are an error with require, else skipped (and noted in skipped).
func pickEngines(cmd *cobra.Command, benchDir, repo, work, self string, wanted []string, require bool, skipped map[string]string) ([]*suite.Engine, error) {
	available := map[string]*suite.Engine{}
	for _, e := range suite.GoEngines(benchDir, work) {
		available[e.Name] = e
	}
	if slices.Contains(wanted, "rocksdb") {
		available["rocksdb"] = suite.RocksDB()
	}
	if slices.Contains(wanted, "leveldb") {
		available["leveldb"] = suite.LevelDB(benchDir, work)
	}
	if slices.Contains(wanted, "strata-cli") {
		available["strata-cli"] = suite.StrataCLI(self, repo, work)
	}
	var run []*suite.Engine
	for _, name := range wanted {
		e, ok := available[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("unknown engine %q", name)
		case e.Err != nil && require:
			return nil, fmt.Errorf("%s: %v", name, e.Err)
		case e.Err != nil:
			fmt.Fprintf(cmd.ErrOrStderr(), "skipping %s: %v\n", name, e.Err)
			skipped[name] = e.Err.Error()
		default:
			run = append(run, e)
		}
	}
	if len(run) == 0 {
		return nil, errors.New("no engine to run")
	}
	return run, nil
}
