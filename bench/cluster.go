package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/bench/clusterbench"
	"github.com/strata-db/strata/bench/render"
	"github.com/strata-db/strata/bench/sqlbench"
)

// The results file the docs' Cluster section is rendered from, and the
// hand-written analysis beside it.
const (
	defaultClusterResults = "results/cluster.jsonl"
	defaultClusterNotes   = "results/cluster-notes.md"
	// defaultClusterCatchup holds catch-up runs made on their own
	// (go run . cluster --reps 0 --idle-regions 0 --out ...): their
	// catch-up records are shown beside the main file's.
	defaultClusterCatchup = "results/cluster-catchup.jsonl"
)

type clusterOptions struct {
	quick      bool
	plan       clusterbench.Plan
	workloads  string
	clients    string
	systems    string
	out        string
	work       string
	profiles   bool
	catchupMax time.Duration
	renderOnly bool
	docs       string
	catchupMiB int64
	baseBin    string
	strataArgs string
}

// newClusterCmd returns "cluster": issue 26's cluster benchmark against
// etcd, then the docs' Cluster section.
func newClusterCmd() *cobra.Command {
	o := clusterOptions{}
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "A three-node Strata cluster against a three-member etcd 3.4 (issue 26), then the docs' Cluster section",
		Long: `cluster starts a three-node Strata cluster (three strata server processes, the
strata command built from this repository) and a three-member etcd (Debian's
etcd-server 3.4: apt-get install -y etcd-server) on loopback ports under --work,
preloads --keys keys of --value-size bytes into each, then runs the same closed-loop
load generator (put, linearizable get, range of --range-size keys; --clients
concurrent clients sharing one client object) against each, the systems taking turns
on every workload and client count (the first rotating), --reps times. Beside each
run: the servers' CPU time (/proc/PID/stat), the load generator's, the machine's
and the load average. Then the idle cost (CPU % of the server processes over
--idle-seconds) of a fresh etcd, a fresh Strata cluster and the same split into
--idle-regions regions; then the catch-up (--catchup-mib of data, a fourth node
joins, node 3 is killed; the time until every region has a voter on node 4 and
none on node 3). Results go to --out as JSON lines; the Cluster section of
../docs/benchmarks.md is rendered from them and results/cluster-notes.md.`,
		Example: `  go run . cluster                         # about 25 minutes (plus the 1 GiB catch-up)
  go run . cluster --quick                 # a few minutes: every part at small sizes
  go run . cluster --render-only           # the section again from results/cluster.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.renderOnly {
				if err := runClusterBench(cmd, &o); err != nil {
					return err
				}
			}
			return spliceClusterDocs(o.docs, o.out, true)
		},
	}
	f := cmd.Flags()
	p := &o.plan
	f.BoolVar(&o.quick, "quick", false, "1 repetition of 3 s, 1,000 keys, 100 idle regions for 10 s, 64 MiB catch-up; results/cluster-quick.jsonl")
	f.StringVar(&o.workloads, "workloads", "put,get,range", "workloads: put (100 B values), get (linearizable), range (--range-size keys)")
	f.StringVar(&o.clients, "clients", "1,16,64", "concurrent clients, comma-separated")
	f.StringVar(&o.systems, "systems", "strata,etcd", "systems, in order: strata, etcd, strata-base (--strata-base)")
	f.StringVar(&o.strataArgs, "strata-args", "", "extra arguments of the system strata's servers (space-separated, e.g. \"--gogc 100\"), to compare settings against strata-base")
	f.StringVar(&o.baseBin, "strata-base", "", "a strata command built from another commit, run as the system strata-base (add it to --systems) to compare two versions interleaved")
	f.IntVar(&p.Reps, "reps", 3, "repetitions (0: no loads, only the idle cost and catch-up)")
	f.Float64Var(&p.Seconds, "seconds", 10, "measured seconds of each load")
	f.Float64Var(&p.Warmup, "warmup", 2, "unmeasured seconds before each load")
	f.IntVar(&p.Keys, "keys", 100_000, "keys preloaded (and the key space of puts and gets)")
	f.IntVar(&p.ValueSize, "value-size", 100, "value size in bytes")
	f.IntVar(&p.RangeSize, "range-size", 100, "keys per range read")
	f.IntVar(&p.Regions, "regions", 8, "regions the Strata cluster's user key space is split into before the loads and the catch-up")
	f.IntVar(&p.IdleRegions, "idle-regions", 1000, "regions for the idle cost (0: skip it)")
	f.Float64Var(&p.IdleSeconds, "idle-seconds", 30, "seconds the idle CPU is measured over")
	f.Int64Var(&o.catchupMiB, "catchup-mib", 1024, "MiB loaded before the catch-up (0: skip it)")
	f.IntVar(&p.CatchupValueSize, "catchup-value-size", 16<<10, "value size of the catch-up's data")
	f.DurationVar(&o.catchupMax, "catchup-timeout", 20*time.Minute, "limit of the catch-up's load and of the catch-up itself")
	f.StringVar(&o.out, "out", "", "results file (default "+defaultClusterResults+", or results/cluster-quick.jsonl with --quick)")
	f.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "strata-cluster-work"), "directory for the servers' data and logs (a real disk)")
	f.BoolVar(&o.profiles, "profiles", false, "the Strata servers write CPU profiles of their whole run (--work/profiles/nodeN.cpu.prof, strata-base's under base/), the load generator one of the loads (client.cpu.prof)")
	f.BoolVar(&o.renderOnly, "render-only", false, "do not run: render the section from --out")
	f.StringVar(&o.docs, "docs", "../docs", "directory of benchmarks.md")
	cmd.PreRun = func(cmd *cobra.Command, args []string) {
		if o.quick {
			for name, v := range map[string]string{"reps": "1", "seconds": "3", "warmup": "1", "keys": "1000",
				"idle-regions": "100", "idle-seconds": "10", "catchup-mib": "64"} {
				if !cmd.Flags().Changed(name) {
					cmd.Flags().Set(name, v)
				}
			}
		}
		if o.out == "" {
			o.out = defaultClusterResults
			if o.quick {
				o.out = "results/cluster-quick.jsonl"
			}
		}
	}
	return cmd
}

func runClusterBench(cmd *cobra.Command, o *clusterOptions) error {
	if _, err := os.Stat("clusterbench/run.go"); err != nil {
		return errors.New("run from the bench/ directory of the Strata repository")
	}
	benchDir, _ := os.Getwd()
	repo := filepath.Dir(benchDir)
	p := &o.plan
	p.Workloads = splitList(o.workloads)
	p.Systems = splitList(o.systems)
	for _, c := range splitList(o.clients) {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return fmt.Errorf("--clients: %q is not a positive number", c)
		}
		p.Clients = append(p.Clients, n)
	}
	p.CatchupBytes = o.catchupMiB << 20
	if strings.Contains(o.systems, "strata-base") && o.baseBin == "" {
		return errors.New("--systems strata-base needs --strata-base BIN")
	}
	etcd, err := exec.LookPath("etcd")
	if err != nil && strings.Contains(o.systems, "etcd") {
		return errors.New("no etcd: apt-get install -y etcd-server (Debian's etcd 3.4)")
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(o.work, "bin", "strata")
	build := exec.Command("go", "build", "-o", bin, "./cmd/strata")
	build.Dir, build.Stdout, build.Stderr = repo, cmd.ErrOrStderr(), cmd.ErrOrStderr()
	if err := build.Run(); err != nil {
		return fmt.Errorf("building strata: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	out, err := os.Create(o.out)
	if err != nil {
		return err
	}
	defer out.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err = clusterbench.Execute(ctx, clusterbench.Options{Plan: *p, StrataBin: bin, BaseBin: o.baseBin, StrataArgs: strings.Fields(o.strataArgs), EtcdBin: etcd, Work: o.work,
		Profiles: o.profiles, Command: "go run . " + strings.Join(os.Args[1:], " "), Commit: sqlbench.GitCommit(repo),
		Out: out, Log: cmd.ErrOrStderr(), CatchupMax: o.catchupMax})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "results in %s\n", o.out)
	return out.Close()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// spliceClusterDocs renders the Cluster section into docs/benchmarks.md
// from the results file in (and the notes, if present). A missing in is an
// error only if required.
func spliceClusterDocs(docs, in string, required bool) error {
	f, err := os.Open(in)
	if os.IsNotExist(err) && !required {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	d, err := render.LoadCluster(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if in != defaultClusterCatchup {
		if cf, err := os.Open(defaultClusterCatchup); err == nil {
			defer cf.Close()
			extra, err := render.LoadCluster(cf)
			if err != nil {
				return fmt.Errorf("%s: %w", defaultClusterCatchup, err)
			}
			for _, r := range extra.Records {
				if r.Type == "cluster-catchup" {
					d.Records = append(d.Records, r)
				}
			}
		}
	}
	notes, _ := os.ReadFile(defaultClusterNotes)
	if err := render.SpliceCluster(docs, d, string(notes), in, defaultClusterNotes); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote the Cluster section of %s\n", filepath.Join(docs, "benchmarks.md"))
	return nil
}
