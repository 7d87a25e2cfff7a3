package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/bench/engines"
	"github.com/strata-db/strata/bench/render"
	"github.com/strata-db/strata/bench/suite"
	"github.com/strata-db/strata/tools/dbbench"
)

// agreeConfig is the small run the engines must agree on.
func agreeConfig(t *testing.T) dbbench.Config {
	cfg := dbbench.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "db")
	cfg.Num = 3000
	cfg.SeekNexts = 10
	cfg.CacheSize = 1 << 20
	return cfg
}

// TestEnginesAgree runs the same db_bench sequence on every Go engine in
// this process and checks that they report the same counts: the same keys
// were written, read, found and scanned everywhere.
func TestEnginesAgree(t *testing.T) {
	var want []dbbench.Result
	for _, name := range engines.Names {
		t.Run(name, func(t *testing.T) {
			cfg := agreeConfig(t)
			cfg.Benchmarks = []string{"fillrandom", "overwrite", "deleterandom", "flush", "waitforcompaction",
				"readrandom", "readmissing", "readseq", "readreverse", "seekrandom", "compact", "readseq"}
			var out bytes.Buffer
			got, err := dbbench.Run(cfg, engines.All[name], &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if want == nil {
				want = got
				return
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.Name != w.Name || g.Ops != w.Ops || g.Found != w.Found || g.Reads != w.Reads {
					t.Errorf("%s: ops %d found %d of %d; %s says ops %d found %d of %d",
						g.Name, g.Ops, g.Found, g.Reads, engines.Names[0], w.Ops, w.Found, w.Reads)
				}
			}
		})
	}
}

// TestEnginesAgreeOnMerges runs merges and range deletions on every Go
// engine that has them and checks that they report the same counts: the
// same keys merged, read, found and deleted. The others refuse the merge
// operator when they open.
func TestEnginesAgreeOnMerges(t *testing.T) {
	var want []dbbench.Result
	for _, name := range engines.Names {
		t.Run(name, func(t *testing.T) {
			cfg := agreeConfig(t)
			cfg.MergeOperator = "uint64add"
			cfg.Benchmarks = []string{"mergerandom", "flush", "readrandommergerandom", "waitforcompaction", "readrandom", "compact", "readrandom"}
			var out bytes.Buffer
			got, err := dbbench.Run(cfg, engines.All[name], &out)
			if name == "goleveldb" || name == "badger" {
				if err == nil || !strings.Contains(err.Error(), "no merge operator") {
					t.Errorf("opening with a merge operator: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			cfg.MergeOperator = ""
			cfg.WritesPerRangeTombstone, cfg.MaxNumRangeTombstones, cfg.RangeTombstoneWidth = 20, 100, 30
			cfg.Benchmarks = []string{"fillrandom", "filluniquerandom", "readrandom", "seekrandom", "compact", "readseq"}
			more, err := dbbench.Run(cfg, engines.All[name], &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			got = append(got, more...)
			if want == nil {
				want = got
				return
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.Name != w.Name || g.Ops != w.Ops || g.Found != w.Found || g.Reads != w.Reads || g.Message != w.Message || g.RangeDeletions != w.RangeDeletions {
					t.Errorf("%s: %+v; %s says %+v", g.Name, g, engines.Names[0], w)
				}
			}
		})
	}
}

// TestRunTiny runs a tiny plan end to end through worker processes (this
// test binary re-executed as "bench worker"), with RocksDB and C++ LevelDB
// when installed (required when CI=true), then renders the docs.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bench binary and starts a process per step")
	}
	work := t.TempDir()
	bin := filepath.Join(work, "bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	plan, err := suite.NewPlan(true, 1, suite.Sets)
	if err != nil {
		t.Fatal(err)
	}
	var keep []suite.Workload
	for _, w := range plan.Workloads {
		if w.Set != "values" || w.ValueSize == 64 || w.ValueSize == 16384 {
			w.Num = min(w.Num, 2000)
			keep = append(keep, w)
		}
	}
	plan.Workloads = keep
	wd, _ := os.Getwd()
	runners := suite.GoEngines(wd, work)
	for _, e := range []*suite.Engine{suite.RocksDB(), suite.LevelDB(wd, work)} {
		if e.Err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: %v", e.Name, e.Err)
			}
			t.Logf("skipping %s: %v", e.Name, e.Err)
			continue
		}
		runners = append(runners, e)
	}
	launcher, err := suite.BuildLauncher(wd, work)
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	header := suite.Header{Type: "run", Started: time.Now(), Plan: plan, Engines: runners, Machine: suite.DescribeMachine(work), Launcher: true}
	json.NewEncoder(&out).Encode(header)
	r := &suite.Runner{Plan: plan, Engines: runners, WorkDir: work, Timeout: 5 * time.Minute, Out: &out, Log: &log, Launcher: launcher}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := render.Load(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]int{}
	for _, rec := range data.Records {
		if rec.Type == "failure" {
			t.Errorf("%s %s step %d: %s", rec.Engine, rec.Workload, rec.Step, rec.Error)
			continue
		}
		results[rec.Engine]++
		if rec.OpsPerSec <= 0 || rec.PeakRSS <= 0 || rec.DiskBytes <= 0 {
			t.Errorf("%s %s %s: ops/s %v, peak RSS %d, disk %d", rec.Engine, rec.Workload, rec.Name, rec.OpsPerSec, rec.PeakRSS, rec.DiskBytes)
		}
		// Every read finds its key after a unique fill, and after
		// mergerandom (waitforcompaction takes no seed, in RocksDB's
		// db_bench too: the step reads the keys mergerandom drew).
		if (rec.Name == "readrandom" || rec.Name == "seekrandom") && rec.Workload != "deleterange" && rec.Found != rec.Reads {
			t.Errorf("%s %s %s: found %d of %d", rec.Engine, rec.Workload, rec.Name, rec.Found, rec.Reads)
		}
		if rec.Workload == "deleterange" && (rec.Name == "filluniquerandom" && rec.RangeDeletions != 20 || rec.Name != "filluniquerandom" && rec.Found >= rec.Reads) {
			t.Errorf("%s deleterange %s: found %d of %d, %d range deletions", rec.Engine, rec.Name, rec.Found, rec.Reads, rec.RangeDeletions)
		}
	}
	// Default set 9 lines, two value sizes 4, bulk 4 (3 without a flush
	// line); the merge set 9 on the engines with merges and range
	// deletions, none on the others.
	for _, e := range runners {
		want := 9 + 4 + 3
		if len(e.Lacks) == 0 {
			want += 9
		}
		if n := results[e.Name]; n < want || n > want+1 {
			t.Errorf("%s: %d results, want %d", e.Name, n, want)
		}
	}
	docs := filepath.Join(work, "docs")
	if err := render.Write(data, docs, "test", nil, "", nil, nil); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(docs, "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## 1. db_bench's default workload", "## 2. Value sizes", "## 3. Bulk load",
		"benchmarks/default.png", "benchmarks/values-reads.png", "benchmarks/bulk.png", "| fillseq |",
		"## Merges and range deletions", "| mergerandom |", "**goleveldb**: not run: no merge operator", "| readrandom with ÷ without |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("benchmarks.md lacks %q", want)
		}
	}
	for _, png := range []string{"default.png", "values-writes.png", "values-reads.png", "bulk.png"} {
		if fi, err := os.Stat(filepath.Join(docs, "benchmarks", png)); err != nil || fi.Size() < 1000 {
			t.Errorf("chart %s: %v", png, err)
		}
	}
}

// TestScaleQuick runs the scale plan's quick form end to end (as root: the
// limited set runs each step in a memory control group, and the page cache
// is dropped before read phases), then renders the "At scale" section.
func TestScaleQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per phase and engine")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the scale runs need root, and CI runs as root")
		}
		t.Skip("the scale runs need root (memory control groups, drop_caches)")
	}
	if _, err := suite.CgroupVersion(); err != nil {
		t.Skip(err)
	}
	work := t.TempDir()
	plan, err := suite.NewScalePlan(suite.ScaleOptions{Quick: true, Reps: 1, Sets: suite.ScaleSets,
		MemoryNum: 5000, Num: 5000, MemLimit: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	engs := suite.GoEngines(wd, work)
	for _, e := range []*suite.Engine{suite.RocksDB(), suite.LevelDB(wd, work)} {
		if e.Err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: %v", e.Name, e.Err)
			}
			t.Logf("skipping %s: %v", e.Name, e.Err)
			continue
		}
		engs = append(engs, e)
	}
	launcher, err := suite.BuildLauncher(wd, work)
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	header := suite.ScaleHeader{Type: "scale-run", Started: time.Now(), Plan: plan, Engines: engs,
		Machine: suite.DescribeMachine(work), Disk: suite.DescribeDisk(work), Cgroup: "test"}
	json.NewEncoder(&out).Encode(header)
	r := &suite.ScaleRunner{Plan: plan, Engines: engs, WorkDir: work, Timeout: 2 * time.Minute, Out: &out, Log: &log, Launcher: launcher}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sd, err := render.LoadScale(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Runs) != 1 || sd.Runs[0].End == nil {
		t.Fatalf("%d runs; want one, ended", len(sd.Runs))
	}
	seen := map[string]int{}
	for _, rec := range sd.Runs[0].Records {
		if rec.Type == "failure" {
			t.Errorf("%s %s %s: %s", rec.Set, rec.Engine, rec.Phase, rec.Error)
			continue
		}
		seen[rec.Engine]++
		st := rec.Step
		limited := rec.Set == plan.Sets[1].ID
		if (rec.OpsPerSec <= 0 && rec.Phase != "settle") || st.PeakRSS <= 0 || st.DiskAllocBytes <= 0 || (st.Cgroup != nil) != limited {
			t.Errorf("%s %s %s: ops/s %v, peak RSS %d, disk %d, cgroup %+v", rec.Set, rec.Engine, rec.Phase, rec.OpsPerSec, st.PeakRSS, st.DiskAllocBytes, st.Cgroup)
		}
		if limited && (st.Cgroup.Peak <= 0 || st.Cgroup.Peak > 128<<20) {
			t.Errorf("%s %s: cgroup peak %d with a 128 MiB limit", rec.Engine, rec.Phase, st.Cgroup.Peak)
		}
		switch rec.Phase {
		case "fill", "overwrite":
			// 5,000 entries of 116 bytes: the WAL alone is 580 kB.
			if st.WriteBytes < 500000 || rec.MaxMicros <= 0 || len(rec.Buckets) == 0 {
				t.Errorf("%s %s %s: wrote %d bytes, longest write %v µs, %d buckets", rec.Set, rec.Engine, rec.Phase, st.WriteBytes, rec.MaxMicros, len(rec.Buckets))
			}
		case "readrandom-1", "readrandom-2", "seekrandom-1", "seekrandom-2", "readwhilewriting":
			if rec.Found != rec.Reads || rec.Reads <= 0 || !st.DroppedCaches {
				t.Errorf("%s %s %s: found %d of %d (dropped caches: %v)", rec.Set, rec.Engine, rec.Phase, rec.Found, rec.Reads, st.DroppedCaches)
			}
		}
	}
	for _, e := range engs {
		if n := seen[e.Name]; n != 2*len(plan.Phases) {
			t.Errorf("%s: %d results, want %d", e.Name, n, 2*len(plan.Phases))
		}
	}
	docs := filepath.Join(work, "docs")
	full, err := os.Open("results/full.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	data, err := render.Load(full)
	if err != nil {
		t.Fatal(err)
	}
	if err := render.Write(data, docs, "results/full.jsonl", sd, "results/scale-test.jsonl", nil, nil); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(docs, "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## 4. At scale", "### 4.2 5,000 entries in a 128 MiB memory cgroup", "write amplification (net) ≤ Pebble's",
		"| readwhilewriting (the reader) |", "benchmarks/scale-5k-128MiB-series.png"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("benchmarks.md lacks %q", want)
		}
	}
	for _, id := range []string{"5k-nolimit", "5k-128MiB"} {
		for _, kind := range []string{"series", "ratios"} {
			png := filepath.Join(docs, "benchmarks", "scale-"+id+"-"+kind+".png")
			if fi, err := os.Stat(png); err != nil || fi.Size() < 1000 {
				t.Errorf("chart %s: %v", png, err)
			}
		}
	}
	if t.Failed() {
		t.Logf("runner's log:\n%s", log.String())
	}
}
