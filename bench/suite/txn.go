package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/strata-db/strata/tools/dbbench"
)

// The transaction comparison (issue 25): dbbench's txnrmw, txnbatch and
// txncontended on Strata (optimistic, and pessimistic as a column of its
// own) and the peers with transactions: Badger v4, bbolt and goleveldb.
// Each workload and engine runs in a fresh directory, in two processes: a
// fill (fillbatch of TxnNum entries, not measured), then the transaction
// benchmark for a fixed time (--duration). Engines take turns within each
// repetition, the first one rotating.

// TxnNum is the entries the transaction workloads' databases hold.
const TxnNum = 100000

// TxnWorkload is one transaction benchmark with its threads and sync.
type TxnWorkload struct {
	Name      string `json:"name"` // unique: "rmw-1", "batch-64-sync", ...
	Benchmark string `json:"benchmark"`
	Threads   int    `json:"threads"`
	Sync      bool   `json:"sync"`
	// Unit is what an operation of the report line is: "txn" or "write".
	Unit string `json:"unit"`
}

// TxnWorkloads are issue 25's workloads.
var TxnWorkloads = []TxnWorkload{
	{Name: "rmw-1", Benchmark: "txnrmw", Threads: 1, Unit: "txn"},
	{Name: "rmw-2", Benchmark: "txnrmw", Threads: 2, Unit: "txn"},
	{Name: "batch-64-sync", Benchmark: "txnbatch", Threads: 64, Sync: true, Unit: "write"},
	{Name: "contended-8", Benchmark: "txncontended", Threads: 8, Unit: "txn"},
}

// TxnPlan is one transaction run.
type TxnPlan struct {
	Mode      string            `json:"mode"` // "quick" or "full"
	Reps      int               `json:"reps"`
	Seconds   int               `json:"seconds"` // each measured benchmark's --duration
	Num       int               `json:"num"`
	Common    map[string]string `json:"common"`
	Workloads []TxnWorkload     `json:"workloads"`
}

// NewTxnPlan returns the plan: TxnNum entries and seconds per benchmark
// (quick: 10,000 entries).
func NewTxnPlan(quick bool, reps, seconds int) TxnPlan {
	p := TxnPlan{Mode: "full", Reps: reps, Seconds: seconds, Num: TxnNum, Workloads: TxnWorkloads}
	if quick {
		p.Mode, p.Num = "quick", 10000
	}
	p.Common = map[string]string{
		"key_size":          "16",
		"value_size":        "100",
		"compression_ratio": "0.5",
		"cache_size":        strconv.Itoa(CacheSize),
		"bloom_bits":        strconv.Itoa(BloomBits),
		"compression_type":  Compression,
		"write_buffer_size": strconv.Itoa(WriteBufferSize),
		"block_size":        "4096",
		"seed":              "1000",
		"num":               strconv.Itoa(p.Num),
		"histogram":         "1",
	}
	return p
}

// TxnHeader is the first JSON line of a transaction results file.
type TxnHeader struct {
	Type    string            `json:"type"` // "txn-run"
	Started time.Time         `json:"started"`
	Command string            `json:"command"`
	Plan    TxnPlan           `json:"plan"`
	Machine Machine           `json:"machine"`
	Engines []*Engine         `json:"engines"`
	Skipped map[string]string `json:"skipped,omitempty"`
}

// TxnRecord is one measured benchmark of one repetition (Type "result"),
// or a failed step ("failure").
type TxnRecord struct {
	Type     string `json:"type"`
	Workload string `json:"workload"`
	Engine   string `json:"engine"`
	Rep      int    `json:"rep"`
	dbbench.Result
	Txn         dbbench.TxnStats `json:"txn"`
	PeakRSS     int64            `json:"peak_rss_bytes"`
	StepSeconds float64          `json:"step_wall_seconds"`
	Error       string           `json:"error,omitempty"`
}

// TxnEngines returns the engines of the transaction comparison, each in a
// worker binary of its own built into workDir: strata, strata-pessimistic
// (the same worker with --txn_pessimistic), badger, bbolt, goleveldb.
func TxnEngines(benchDir, workDir string) []*Engine {
	if abs, err := filepath.Abs(workDir); err == nil {
		workDir = abs
	}
	repo := filepath.Dir(benchDir)
	type spec struct {
		name, worker, version string
		flags                 map[string]string
		notes                 []string
	}
	specs := []spec{
		{name: "strata", worker: "strata", version: strataVersion(repo), notes: []string{
			"`DB.UpdateWith` with `MaxRetries: -1` (one attempt; the driver retries), optimistic, serializable: reads are `Txn.Get`; commit checks them against the conflict set. Unsynced commits go to the memory-mapped WAL; `--sync` commits with `TxnOptions.Sync` (group commit: one fsync for the transactions queued together)."}},
		{name: "strata-pessimistic", worker: "strata", version: strataVersion(repo), flags: map[string]string{"txn_pessimistic": "1"}, notes: []string{
			"The same with `TxnOptions{Pessimistic: true, DeadlockDetect: true}`: the reads of keys the transaction writes are `GetForUpdate` (lock, then read the latest value), `Put` locks; a deadlock fails one transaction with `ErrDeadlock` (retried)."}},
		{name: "badger", worker: "badger", version: moduleVersion("github.com/dgraph-io/badger/v4"), notes: []string{
			"`DB.Update` (managed by Badger, conflict detection on: a commit fails with `ErrConflict` if a key it read was committed since it began; retried by the driver). Sync is the open-time `SyncWrites`. Same LSM settings as in the main comparison. No pessimistic mode."}},
		{name: "bbolt", worker: "bbolt", version: moduleVersion("go.etcd.io/bbolt"), notes: []string{
			"`DB.Update`: one read-write transaction at a time (serializable by one writer; never a conflict). etcd's settings: hash-map freelist, `NoFreelistSync`. Unsynced: `NoSync`; synced: each commit fdatasyncs the file twice (pages, then meta), with no group commit. A B+tree: no cache, filter, compression or memtable settings apply."}},
		{name: "goleveldb", worker: "goleveldb", version: moduleVersion("github.com/syndtr/goleveldb"), notes: []string{
			"`DB.OpenTransaction`: holds the write lock until commit (serializable by one writer). Commit writes the transaction's memtable as a level-0 table and a MANIFEST record, both fsynced whatever `--sync` says (goleveldb has no unsynced transaction commit short of the database-wide `NoSync`, and warns that small transactions are expensive), and then waits for compaction when level 0 is full."}},
	}
	var engs []*Engine
	bins := map[string]string{}
	errs := map[string]error{}
	for _, s := range specs {
		if _, ok := bins[s.worker]; !ok {
			bins[s.worker], errs[s.worker] = buildWorker(benchDir, workDir, s.worker)
		}
		bin, flags, name := bins[s.worker], s.flags, s.worker
		engs = append(engs, &Engine{Name: s.name, Version: s.version, Notes: s.notes, GoWorker: true, Err: errs[s.worker],
			command: func(f map[string]string) *exec.Cmd {
				args := []string{"--engine=" + name}
				all := map[string]string{}
				for k, v := range f {
					all[k] = v
				}
				for k, v := range flags {
					all[k] = v
				}
				return exec.Command(bin, append(args, flagArgs(all)...)...)
			}})
	}
	return engs
}

// buildWorker builds the worker binary of engine name (bench/worker with
// the tags that leave the other engines out) into workDir.
func buildWorker(benchDir, workDir, name string) (string, error) {
	tags := "bench_single"
	if name != "strata" {
		tags += ",bench_" + name
	}
	bin := filepath.Join(workDir, "worker-"+name)
	cmd := exec.Command("go", "build", "-tags", tags, "-o", bin, "./worker")
	cmd.Dir = benchDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return bin, fmt.Errorf("building the %s worker: %v\n%s", name, err, out)
	}
	return bin, nil
}

// TxnRunner runs a transaction plan.
type TxnRunner struct {
	Plan     TxnPlan
	Engines  []*Engine
	WorkDir  string
	Timeout  time.Duration
	Out      io.Writer // JSON lines
	Log      io.Writer // progress
	Launcher string    // see Runner.Launcher
	// Profiles makes each measured step write a CPU profile beside its log.
	Profiles bool
}

// Run runs every repetition: each workload on every engine in turn, the
// first engine rotating from one repetition to the next.
func (r *TxnRunner) Run(ctx context.Context) error {
	enc := json.NewEncoder(r.Out)
	logDir := filepath.Join(r.WorkDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	total := r.Plan.Reps * len(r.Plan.Workloads) * len(r.Engines)
	done, start := 0, time.Now()
	for rep := 1; rep <= r.Plan.Reps; rep++ {
		for _, w := range r.Plan.Workloads {
			for ei := range r.Engines {
				e := r.Engines[(ei+rep-1)%len(r.Engines)]
				done++
				fmt.Fprintf(r.Log, "[%d/%d %s] rep %d %s %s\n", done, total, time.Since(start).Round(time.Second), rep, w.Name, e.Name)
				rec := r.runOne(ctx, w, e, rep, logDir)
				if err := enc.Encode(rec); err != nil {
					return err
				}
				if rec.Type == "failure" {
					fmt.Fprintf(r.Log, "  FAILED: %s\n", rec.Error)
				} else {
					fmt.Fprintf(r.Log, "  %.0f %s/s, retries p50 %d p99 %d max %d\n", rec.OpsPerSec, w.Unit, rec.Txn.P50, rec.Txn.P99, rec.Txn.MaxRetries)
				}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// runOne fills a fresh database for e, then runs w on it.
func (r *TxnRunner) runOne(ctx context.Context, w TxnWorkload, e *Engine, rep int, logDir string) TxnRecord {
	rec := TxnRecord{Workload: w.Name, Engine: e.Name, Rep: rep}
	dir := filepath.Join(r.WorkDir, "db", fmt.Sprintf("txn-%s-%s-%d", e.Name, w.Name, rep))
	os.RemoveAll(dir)
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		rec.Type, rec.Error = "failure", err.Error()
		return rec
	}
	flags := func(extra map[string]string) map[string]string {
		f := map[string]string{"db": dir}
		for k, v := range r.Plan.Common {
			f[k] = v
		}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	base := fmt.Sprintf("%d-txn-%s-%s", rep, w.Name, e.Name)
	fill := launch(ctx, e, flags(map[string]string{"benchmarks": "fillbatch", "threads": "1", "sync": "0"}),
		filepath.Join(logDir, base+"-fill.log"), r.Launcher, "", r.Timeout)
	if fill.err != nil {
		rec.Type, rec.Error = "failure", "fill: "+fill.err.Error()
		return rec
	}
	sync := "0"
	if w.Sync {
		sync = "1"
	}
	m := map[string]string{"benchmarks": w.Benchmark, "use_existing_db": "1", "threads": strconv.Itoa(w.Threads),
		"sync": sync, "duration": strconv.Itoa(r.Plan.Seconds), "writes": "1000000000"}
	logPath := filepath.Join(logDir, base+".log")
	if r.Profiles {
		m["cpuprofile"] = filepath.Join(logDir, base+".cpu.prof")
	}
	s := launch(ctx, e, flags(m), logPath, r.Launcher, "", r.Timeout)
	rec.PeakRSS, rec.StepSeconds = s.rss, s.secs
	if s.err == nil && (len(s.results) != 1 || s.results[0].Name != w.Benchmark) {
		s.err = fmt.Errorf("want one %s line, got %d results", w.Benchmark, len(s.results))
	}
	if s.err != nil {
		rec.Type, rec.Error = "failure", s.err.Error()+" (log: "+logPath+")"
		return rec
	}
	rec.Type, rec.Result = "result", s.results[0]
	var ok bool
	if rec.Txn, ok = dbbench.ParseTxnMessage(rec.Message); !ok {
		rec.Type, rec.Error = "failure", fmt.Sprintf("no retry counts in %q (log: %s)", rec.Message, logPath)
	}
	return rec
}
