package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/bench/sqlbench"
	"github.com/strata-db/strata/bench/suite"
)

// Default results files of `go run . sql`, which the docs' SQL section is
// rendered from.
const (
	defaultSQLResults      = "results/sql.jsonl"
	defaultEmbeddedResults = "results/sql-embedded.txt"
)

type sqlOptions struct {
	quick      bool
	reps       int
	seconds    int
	threads    string
	workloads  string
	engines    string
	strataBins []string
	work       string
	out        string
	embOut     string
	profile    bool
	sysbench   bool
	embedded   bool
	rounds     int
	benchtime  string
	render     bool
	docs       string
	timeout    time.Duration
}

// newSQLCmd is `go run . sql`: sysbench against strata sql serve and
// MariaDB, then the embedded benchmarks against SQLite, then the docs.
func newSQLCmd() *cobra.Command {
	o := sqlOptions{}
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "sysbench OLTP against strata sql serve and MariaDB, and database/sql against SQLite (issue 27)",
		Long: `sql runs sysbench 1.0's oltp_point_select, oltp_read_only, oltp_read_write,
oltp_update_index and oltp_insert against strata sql serve and MariaDB (each
its own server process on a free loopback port, data under --work), the
engines taking turns on each workload and thread count, the first rotating
(results/sql.jsonl); then the embedded benchmarks (package sqlembed: Strata's
database/sql driver against SQLite; results/sql-embedded.txt); then renders
../docs/benchmarks.md. Needs Debian's sysbench and mariadb-server
(apt-get install -y sysbench mariadb-server); MariaDB runs from its own data
directory, never as a system service.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSQL(cmd, &o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "the issue's quick shape: 1 table × 100,000 rows, 2 threads (default: 10 tables × 100,000 rows, 1 and 8 threads)")
	f.IntVar(&o.reps, "reps", 0, "repetitions (default 3)")
	f.IntVar(&o.seconds, "time", 0, "seconds per sysbench run (default 30)")
	f.StringVar(&o.threads, "threads", "", "thread counts, comma-separated (default 1,8; 2 with --quick)")
	f.StringVar(&o.workloads, "workloads", strings.Join(sqlbench.Workloads, ","), "sysbench workloads")
	f.StringVar(&o.engines, "engines", "strata,mariadb", "servers, in order: strata (built from this repository), strata-rr (the same at REPEATABLE-READ, snapshot isolation), mariadb, or names given --strata-bin")
	f.StringArrayVar(&o.strataBins, "strata-bin", nil, "NAME=PATH: another strata binary to run as engine NAME (to compare builds interleaved)")
	f.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "strata-sqlbench-work"), "directory for the servers' data and logs (a real disk)")
	f.StringVar(&o.out, "out", "", "sysbench results file (default "+defaultSQLResults+", or results/sql-quick.jsonl with --quick)")
	f.StringVar(&o.embOut, "embedded-out", defaultEmbeddedResults, "embedded benchmarks' output file")
	f.BoolVar(&o.profile, "profile", false, "restart each Strata server per run with --cpuprofile (profiles under --work/profiles)")
	f.BoolVar(&o.sysbench, "sysbench", true, "run the sysbench part")
	f.BoolVar(&o.embedded, "embedded", true, "run the embedded part (go test -bench BenchmarkSQLEmbedded ./sqlembed)")
	f.IntVar(&o.rounds, "rounds", 5, "embedded: rounds (each runs every statement on both engines)")
	f.StringVar(&o.benchtime, "benchtime", "2s", "embedded: go test -benchtime per statement and engine")
	f.BoolVar(&o.render, "render", true, "render ../docs/benchmarks.md afterwards (needs results/full.jsonl)")
	f.StringVar(&o.docs, "docs", "../docs", "directory for benchmarks.md")
	f.DurationVar(&o.timeout, "timeout", time.Hour, "limit for one sysbench run or load")
	return cmd
}

func runSQL(cmd *cobra.Command, o *sqlOptions) error {
	if _, err := os.Stat("sqlbench/run.go"); err != nil {
		return fmt.Errorf("run from the bench/ directory of the Strata repository")
	}
	benchDir, _ := os.Getwd()
	repo := filepath.Dir(benchDir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	sqlOut := o.out
	if sqlOut == "" {
		sqlOut = defaultSQLResults
		if o.quick {
			sqlOut = "results/sql-quick.jsonl"
		}
	}
	if o.sysbench {
		if err := runSysbench(ctx, cmd, o, repo, sqlOut); err != nil {
			return err
		}
	}
	if o.embedded {
		if err := runEmbedded(ctx, cmd, o); err != nil {
			return err
		}
	}
	if o.render {
		if o.sysbench {
			sqlResults = sqlOut
		}
		embeddedResults = o.embOut
		return renderDocs("results/full.jsonl", o.docs, defaultScaleResults, defaultMergeResults, defaultGoBench)
	}
	return nil
}

func runSysbench(ctx context.Context, cmd *cobra.Command, o *sqlOptions, repo, out string) error {
	plan := sqlbench.NewPlan(o.quick)
	if o.reps > 0 {
		plan.Reps = o.reps
	}
	if o.seconds > 0 {
		plan.Seconds = o.seconds
	}
	if o.threads != "" {
		plan.Threads = nil
		for _, t := range strings.Split(o.threads, ",") {
			n, err := strconv.Atoi(t)
			if err != nil || n < 1 {
				return fmt.Errorf("--threads: bad count %q", t)
			}
			plan.Threads = append(plan.Threads, n)
		}
	}
	plan.Workloads = strings.Split(o.workloads, ",")
	extra := map[string]string{}
	for _, b := range o.strataBins {
		name, path, ok := strings.Cut(b, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("--strata-bin %q: want NAME=PATH", b)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		extra[name] = abs
	}
	engines, err := sqlbench.NewEngines(ctx, strings.Split(o.engines, ","), repo, o.work, extra)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	h := &sqlbench.Header{Type: "sql-run", Started: time.Now().UTC(), Command: "go run . " + strings.Join(os.Args[1:], " "),
		Plan: plan, Machine: suite.DescribeMachine(o.work), Engines: engines}
	r := &sqlbench.Runner{Plan: plan, Engines: engines, Work: o.work, Out: f, Log: cmd.ErrOrStderr(), Timeout: o.timeout, Profile: o.profile}
	if err := r.Run(ctx, h); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "results in %s\n", out)
	return f.Close()
}

// runEmbedded runs the embedded benchmarks (a go test process) into
// o.embOut, with a header of comment lines.
func runEmbedded(ctx context.Context, cmd *cobra.Command, o *sqlOptions) error {
	dir := filepath.Join(o.work, "embedded")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := []string{"test", "-run", "^$", "-bench", "^BenchmarkSQLEmbedded$", "-benchmem", "-benchtime", o.benchtime,
		"-timeout", "0", "./sqlembed", "-args", "-rounds", strconv.Itoa(o.rounds)}
	if err := os.MkdirAll(filepath.Dir(o.embOut), 0o755); err != nil {
		return err
	}
	f, err := os.Create(o.embOut)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "# command: cd bench && STRATA_SQLBENCH_DIR=%s go %s\n", dir, strings.Join(args, " "))
	fmt.Fprintf(f, "# started: %s\n", time.Now().UTC().Format(time.RFC3339))
	c := exec.CommandContext(ctx, "go", args...)
	c.Env = append(os.Environ(), "STRATA_SQLBENCH_DIR="+dir)
	c.Stdout, c.Stderr = f, cmd.ErrOrStderr()
	fmt.Fprintf(cmd.ErrOrStderr(), "embedded: go %s\n", strings.Join(args, " "))
	if err := c.Run(); err != nil {
		return fmt.Errorf("embedded benchmarks: %w (output in %s)", err, o.embOut)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "results in %s\n", o.embOut)
	return f.Close()
}
