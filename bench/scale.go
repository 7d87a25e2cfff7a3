package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/bench/suite"
)

type scaleOptions struct {
	quick       bool
	reps        int
	sets        string
	engines     string
	num         int
	memoryNum   int
	mem         string
	cache       string
	readSeconds int
	rwwSeconds  int
	out         string
	appendOut   bool
	work        string
	timeout     time.Duration
	require     bool
	profiles    bool
	keep        bool
	render      bool
	docs        string
}

// newScaleCmd returns "scale": issue 28's runs, larger than memory.
func newScaleCmd() *cobra.Command {
	o := scaleOptions{}
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "Larger-than-memory runs: each step in a memory cgroup, cold reads, write and space amplification (root)",
		Long: `Runs issue 28's workloads on every engine: fillrandom then overwrite (throughput over
time, stalls, write amplification from /proc/PID/io, space amplification against a
full compaction), readrandom and seekrandom with 1 and 2 threads, and readwhilewriting
with the writer held to 20,000 writes/s. Each step is a process; with a memory limit it
runs in a memory control group whose limit charges its page cache too (cgroup v1 or v2),
and the page cache is dropped before the fill and every read phase. Needs root.

Sets: "nolimit" (--memory-num entries, default 10M, 64 MiB block cache, no limit: the
continuity set) and "limited" (--num entries, default 50M (issue 28: 5.8 GB of user data), in a --mem group,
default 1GiB, with a --cache block cache, default min(128 MiB, mem/4)).`,
		Example: `  go run . scale                                   # both sets, 1 repetition: hours
  go run . scale --sets limited --num 10000000 --mem 256MiB --append
  go run . scale --quick --render                  # tiny sizes, a minute`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runScale(cmd, &o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "tiny sizes, 4 MiB memtables, reads by count: every phase on every engine in about a minute")
	f.IntVar(&o.reps, "reps", 1, "repetitions")
	f.StringVar(&o.sets, "sets", strings.Join(suite.ScaleSets, ","), "sets to run: nolimit, limited")
	f.StringVar(&o.engines, "engines", "strata,pebble,goleveldb,badger,rocksdb,leveldb", "engines to run, in order")
	f.IntVar(&o.num, "num", 0, "entries of the limited set (default 50000000; 20000 with --quick)")
	f.IntVar(&o.memoryNum, "memory-num", 0, "entries of the nolimit set (default 10000000; 20000 with --quick)")
	f.StringVar(&o.mem, "mem", "", "memory limit of the limited set, page cache included (default 1GiB; 128MiB with --quick)")
	f.StringVar(&o.cache, "cache", "", "block cache of the limited set (default min(128MiB, mem/4))")
	f.IntVar(&o.readSeconds, "read-seconds", suite.ScaleReadSeconds, "duration of each readrandom and seekrandom phase")
	f.IntVar(&o.rwwSeconds, "rww-seconds", suite.ScaleRWWSeconds, "duration of readwhilewriting")
	f.StringVar(&o.out, "out", "", "results file (default results/scale.jsonl, or results/scale-quick.jsonl with --quick)")
	f.BoolVar(&o.appendOut, "append", false, "add this run to --out instead of replacing it (the docs take each engine of a set from the last run that has that engine in it)")
	f.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "strata-scale-work"), "directory for databases and logs (a real disk; every engine's database of a set at once)")
	f.DurationVar(&o.timeout, "timeout", 3*time.Hour, "limit for one step (process)")
	f.BoolVar(&o.require, "require-all", os.Getenv("CI") == "true", "fail when RocksDB's db_bench or C++ LevelDB is not installed (default true when CI=true)")
	f.BoolVar(&o.keep, "keep", false, "leave the last repetition's databases in WORK/db (the next run removes them)")
	f.BoolVar(&o.profiles, "profiles", false, "the Go engines' steps write CPU profiles beside their logs (WORK/logs/*.cpu.prof)")
	f.BoolVar(&o.render, "render", true, "render ../docs/benchmarks.md afterwards from results/full.jsonl and --out (default false with --quick)")
	f.StringVar(&o.docs, "docs", "../docs", "directory for benchmarks.md and its charts")
	return cmd
}

// parseSize reads 768MiB, 1GiB, 256M, 2G or a byte count.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes or one ending in KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

func runScale(cmd *cobra.Command, o *scaleOptions) error {
	if _, err := os.Stat("engines/engines.go"); err != nil {
		return errors.New("run from the bench/ directory of the Strata repository")
	}
	if os.Geteuid() != 0 {
		return errors.New("scale needs root: it drops the page cache and creates memory control groups")
	}
	if !cmd.Flags().Changed("render") {
		o.render = !o.quick
	}
	benchDir, _ := os.Getwd()
	repo := filepath.Dir(benchDir)
	opts := suite.ScaleOptions{Quick: o.quick, Reps: o.reps, Sets: strings.Split(o.sets, ","),
		MemoryNum: o.memoryNum, Num: o.num, ReadSeconds: o.readSeconds, RWWSeconds: o.rwwSeconds}
	if opts.MemoryNum == 0 {
		opts.MemoryNum = suite.ScaleMemoryNum
	}
	if opts.Num == 0 {
		opts.Num = suite.ScaleNum
	}
	mem := o.mem
	if mem == "" {
		mem = strconv.Itoa(suite.ScaleMemLimit)
	}
	if o.quick {
		if o.memoryNum == 0 {
			opts.MemoryNum = 20000
		}
		if o.num == 0 {
			opts.Num = 20000
		}
		if o.mem == "" {
			mem = "128MiB"
		}
	}
	var err error
	if opts.MemLimit, err = parseSize(mem); err != nil {
		return fmt.Errorf("--mem: %w", err)
	}
	if o.cache != "" {
		if opts.CacheSize, err = parseSize(o.cache); err != nil {
			return fmt.Errorf("--cache: %w", err)
		}
	}
	plan, err := suite.NewScalePlan(opts)
	if err != nil {
		return err
	}
	cgv := 0
	for _, s := range plan.Sets {
		if s.MemLimit > 0 {
			if cgv, err = suite.CgroupVersion(); err != nil {
				return err
			}
		}
	}
	if o.out == "" {
		o.out = defaultScaleResults
		if o.quick {
			o.out = "results/scale-quick.jsonl"
		}
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	header := suite.ScaleHeader{Type: "scale-run", Started: time.Now().UTC(), Plan: plan,
		Command: "go run . " + strings.Join(os.Args[1:], " "), Machine: suite.DescribeMachine(o.work),
		Disk: suite.DescribeDisk(o.work), Skipped: map[string]string{}, Profiles: o.profiles}
	switch cgv {
	case 1:
		header.Cgroup = "cgroup v1: a child of `/sys/fs/cgroup/memory` with `memory.limit_in_bytes`"
	case 2:
		header.Cgroup = "cgroup v2: a child of `/sys/fs/cgroup` with `memory.max` (and `memory.swap.max` 0)"
	default:
		header.Cgroup = "no control group: this run has no limited set"
	}
	engines, err := pickEngines(cmd, benchDir, repo, o.work, self, strings.Split(o.engines, ","), o.require, header.Skipped)
	if err != nil {
		return err
	}
	header.Engines = engines
	launcher, err := suite.BuildLauncher(benchDir, o.work)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if o.appendOut {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	out, err := os.OpenFile(o.out, flags, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := writeJSONLine(out, header); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r := &suite.ScaleRunner{Plan: plan, Engines: engines, WorkDir: o.work, Timeout: o.timeout, Out: out,
		Log: cmd.ErrOrStderr(), Launcher: launcher, Profiles: o.profiles, Keep: o.keep}
	if err := r.Run(ctx); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "results in %s\n", o.out)
	if o.render {
		return renderDocs("results/full.jsonl", o.docs, o.out, defaultMergeResults, defaultGoBench)
	}
	return nil
}
