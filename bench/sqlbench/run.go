// Package sqlbench runs sysbench 1.0's OLTP workloads against `strata sql
// serve` and MariaDB on the same machine, interleaved (engine A, engine B,
// then again, the first engine rotating), and writes the results as JSON
// lines that package render turns into the docs' SQL section.
package sqlbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata/bench/suite"
)

// Workloads are the sysbench workloads, in the order each
// repetition runs them (oltp_insert last: it grows the tables).
var Workloads = []string{"oltp_point_select", "oltp_read_only", "oltp_read_write", "oltp_update_index", "oltp_insert"}

// Plan is what a run measures.
type Plan struct {
	// Mode is "full" (the shape: 10 tables, 1 and 8 threads) or
	// "quick" (the quick measurement: 1 table, 2 threads).
	Mode      string   `json:"mode"`
	Tables    int      `json:"tables"`
	TableSize int      `json:"table_size"`
	Threads   []int    `json:"threads"`
	Workloads []string `json:"workloads"`
	Reps      int      `json:"reps"`
	// Seconds is each measured run's length (sysbench --time).
	Seconds int `json:"seconds"`
	// WarmupSeconds is an unmeasured oltp_read_only run per engine after
	// the load (sysbench 1.0 has no --warmup-time).
	WarmupSeconds int `json:"warmup_seconds"`
	// PrepareThreads loads the tables (sysbench prepare --threads).
	PrepareThreads int `json:"prepare_threads"`
}

// NewPlan returns the full plan, or the quick one.
func NewPlan(quick bool) Plan {
	if quick {
		return Plan{Mode: "quick", Tables: 1, TableSize: 100000, Threads: []int{2}, Workloads: Workloads,
			Reps: 3, Seconds: 30, WarmupSeconds: 10, PrepareThreads: 1}
	}
	return Plan{Mode: "full", Tables: 10, TableSize: 100000, Threads: []int{1, 8}, Workloads: Workloads,
		Reps: 3, Seconds: 30, WarmupSeconds: 20, PrepareThreads: 2}
}

// Header is the results file's first line.
type Header struct {
	Type     string        `json:"type"` // "sql-run"
	Started  time.Time     `json:"started"`
	Command  string        `json:"command"`
	Plan     Plan          `json:"plan"`
	Machine  suite.Machine `json:"machine"`
	Sysbench string        `json:"sysbench"`
	Engines  []*Engine     `json:"engines"`
	// SysbenchArgs are the flags every run shares (host, port and user
	// left out).
	SysbenchArgs []string `json:"sysbench_args"`
	// Work is the directory the servers' data and logs were under.
	Work string `json:"work"`
}

// Record is one measured run, one load, or one failure.
type Record struct {
	Type     string `json:"type"` // "sql-result", "sql-prepare" or "sql-failure"
	Engine   string `json:"engine"`
	Workload string `json:"workload,omitempty"`
	Threads  int    `json:"threads,omitempty"`
	Rep      int    `json:"rep"`
	Stats
	// Load1 is the one-minute load average when the run started (the
	// machine is shared: a high one says the run was disturbed).
	Load1 float64 `json:"load1"`
	// ServerCPU is the CPU time (seconds, user and system) the server
	// process used during the run, CPUPerTxnUs that per transaction in
	// microseconds: steadier than transactions/s on a loaded machine
	// (0: not measured).
	ServerCPU   float64 `json:"server_cpu_s,omitempty"`
	CPUPerTxnUs float64 `json:"cpu_us_per_txn,omitempty"`
	Command     string  `json:"command,omitempty"`
	Profile     string  `json:"profile,omitempty"`
	Error       string  `json:"error,omitempty"`
	Log         string  `json:"log,omitempty"`
}

// Runner runs a plan.
type Runner struct {
	Plan    Plan
	Engines []*Engine
	Work    string
	Out     io.Writer // JSON lines
	Log     io.Writer // progress
	Timeout time.Duration
	// Profile restarts each Strata server before each run with
	// --cpuprofile, a profile per run under Work/profiles.
	Profile bool
}

// commonArgs are the sysbench flags every run shares.
func (p Plan) commonArgs() []string {
	return []string{"--db-driver=mysql", "--mysql-db=sbtest", "--mysql-ignore-errors=1213,1020,1205",
		"--tables=" + strconv.Itoa(p.Tables), "--table-size=" + strconv.Itoa(p.TableSize), "--percentile=95"}
}

// sysbenchArgs are the flags of a run with threads.
func (p Plan) sysbenchArgs(threads int) []string {
	return append(p.commonArgs(), "--threads="+strconv.Itoa(threads))
}

// Run loads every engine, then runs the repetitions.
func (r *Runner) Run(ctx context.Context, h *Header) error {
	enc := json.NewEncoder(r.Out)
	ver, err := exec.Command("sysbench", "--version").Output()
	if err != nil {
		return fmt.Errorf("sysbench is not installed (apt-get install -y sysbench): %w", err)
	}
	h.Sysbench = strings.TrimSpace(string(ver))
	h.SysbenchArgs = r.Plan.commonArgs()
	h.Work = r.Work
	servers := map[string]*server{}
	defer func() {
		for _, s := range servers {
			if err := s.stop(); err != nil {
				fmt.Fprintf(r.Log, "stopping %s: %v\n", s.e.Name, err)
			}
		}
	}()
	for _, e := range r.Engines {
		dir := filepath.Join(r.Work, "engines", e.Name)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		s, err := start(ctx, e, dir, nil)
		if err != nil {
			return err
		}
		servers[e.Name] = s
		v, err := s.version(ctx)
		if err != nil {
			return err
		}
		e.Version = strings.TrimSpace(v + " " + e.Version)
		if e.Kind == "mariadb" {
			e.Settings = MariaDBSettings + " " + s.variables(ctx)
		}
	}
	if err := enc.Encode(h); err != nil {
		return err
	}
	// Load: one engine after the other (the load is not a comparison).
	for _, e := range r.Engines {
		s := servers[e.Name]
		if err := s.exec(ctx, "CREATE DATABASE sbtest"); err != nil {
			return err
		}
		fmt.Fprintf(r.Log, "%s: loading %d × %d rows\n", e.Name, r.Plan.Tables, r.Plan.TableSize)
		args := append(r.Plan.sysbenchArgs(r.Plan.PrepareThreads), "oltp_read_write", "prepare")
		rec := r.sysbench(ctx, s, args, "prepare")
		rec.Type = "sql-prepare"
		if err := enc.Encode(rec); err != nil {
			return err
		}
		if rec.Error != "" {
			return fmt.Errorf("%s: prepare: %s (log %s)", e.Name, rec.Error, rec.Log)
		}
		fmt.Fprintf(r.Log, "%s: loaded in %.1f s\n", e.Name, rec.Seconds)
	}
	if r.Plan.WarmupSeconds > 0 {
		for _, e := range r.Engines {
			fmt.Fprintf(r.Log, "%s: warming up (oltp_read_only, %d s)\n", e.Name, r.Plan.WarmupSeconds)
			args := append(r.Plan.sysbenchArgs(r.Plan.Threads[0]), "--time="+strconv.Itoa(r.Plan.WarmupSeconds), "oltp_read_only", "run")
			if rec := r.sysbench(ctx, servers[e.Name], args, "warmup"); rec.Error != "" {
				fmt.Fprintf(r.Log, "%s: warm-up failed: %s\n", e.Name, rec.Error)
			}
		}
	}
	cell := 0
	for rep := 1; rep <= r.Plan.Reps; rep++ {
		for _, w := range r.Plan.Workloads {
			for _, th := range r.Plan.Threads {
				order := make([]*Engine, len(r.Engines))
				for i := range r.Engines {
					order[i] = r.Engines[(i+cell)%len(r.Engines)]
				}
				cell++
				for _, e := range order {
					if err := ctx.Err(); err != nil {
						return err
					}
					s := servers[e.Name]
					var profile string
					if r.Profile && e.Kind == "strata" {
						profile = filepath.Join(r.Work, "profiles", fmt.Sprintf("%s-%s-%dt-rep%d.cpu.prof", e.Name, w, th, rep))
						if s, err = r.restart(ctx, s, profile); err != nil {
							return err
						}
						servers[e.Name] = s
					}
					args := append(r.Plan.sysbenchArgs(th), "--time="+strconv.Itoa(r.Plan.Seconds), w, "run")
					rec := r.sysbench(ctx, s, args, fmt.Sprintf("%s-%dt-rep%d", w, th, rep))
					rec.Workload, rec.Threads, rec.Rep = w, th, rep
					if profile != "" {
						if s, err = r.restart(ctx, s, ""); err != nil {
							return err
						}
						servers[e.Name] = s
						rec.Profile = profile
					}
					if rec.Error != "" {
						rec.Type = "sql-failure"
						fmt.Fprintf(r.Log, "rep %d %s %d threads %s: FAILED: %s (log %s)\n", rep, w, th, e.Name, rec.Error, rec.Log)
					} else {
						fmt.Fprintf(r.Log, "rep %d %-18s %d threads %-8s %9.1f tps  p95 %7.2f ms  server cpu %7.1f µs/txn  ignored %d  load %.1f\n",
							rep, w, th, e.Name, rec.TPS, rec.LatP95Ms, rec.CPUPerTxnUs, rec.Ignored, rec.Load1)
					}
					if err := enc.Encode(rec); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// restart stops s and starts its engine again on the same data, with a
// CPU profile to profile when not empty.
func (r *Runner) restart(ctx context.Context, s *server, profile string) (*server, error) {
	if err := s.stop(); err != nil {
		return nil, err
	}
	var extra []string
	if profile != "" {
		if err := os.MkdirAll(filepath.Dir(profile), 0o755); err != nil {
			return nil, err
		}
		extra = []string{"--cpuprofile", profile}
	}
	return start(ctx, s.e, s.dir, extra)
}

// sysbench runs sysbench with args against s, its output in a log named
// after tag.
func (r *Runner) sysbench(ctx context.Context, s *server, args []string, tag string) Record {
	rec := Record{Type: "sql-result", Engine: s.e.Name, Load1: load1()}
	full := append([]string{"--mysql-host=127.0.0.1", "--mysql-port=" + strconv.Itoa(s.port), "--mysql-user=root"}, args...)
	rec.Command = "sysbench " + strings.Join(full, " ")
	logDir := filepath.Join(r.Work, "logs")
	_ = os.MkdirAll(logDir, 0o755)
	rec.Log = filepath.Join(logDir, s.e.Name+"-"+tag+".log")
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(cctx, "sysbench", full...)
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	cpu0, cpuOK := processCPU(s.cmd.Process.Pid)
	err := cmd.Run()
	cpu1, cpuOK1 := processCPU(s.cmd.Process.Pid)
	_ = os.WriteFile(rec.Log, out.Bytes(), 0o644)
	if err != nil {
		rec.Error = fmt.Sprintf("%v: %s", err, lastLines(out.String(), 5))
		return rec
	}
	if tag == "prepare" {
		rec.Seconds = time.Since(began).Seconds()
		return rec
	}
	st, err := ParseRun(out.String())
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	rec.Stats = st
	if cpuOK && cpuOK1 {
		rec.ServerCPU = cpu1 - cpu0
		if st.Transactions > 0 {
			rec.CPUPerTxnUs = rec.ServerCPU * 1e6 / float64(st.Transactions)
		}
	}
	if errs := strings.Count(out.String(), "FATAL"); errs > 0 {
		rec.Error = lastLines(out.String(), 5)
	}
	return rec
}

// variables reads the MariaDB settings that decide durability and caching.
func (s *server) variables(ctx context.Context) string {
	db, err := s.open("")
	if err != nil {
		return ""
	}
	defer db.Close()
	var parts []string
	for _, v := range []string{"innodb_flush_log_at_trx_commit", "log_bin", "sync_binlog", "innodb_buffer_pool_size",
		"innodb_doublewrite", "innodb_flush_method", "innodb_log_file_size", "transaction_isolation"} {
		var val string
		if err := db.QueryRowContext(ctx, "SELECT @@"+v).Scan(&val); err == nil {
			parts = append(parts, v+"="+val)
		}
	}
	return "As read back from the server: " + strings.Join(parts, ", ") + "."
}

func load1() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// BuildStrata builds the strata command from repo into dir.
func BuildStrata(ctx context.Context, repo, dir string) (string, error) {
	bin := filepath.Join(dir, "bin", "strata")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/strata")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/strata: %v\n%s", err, out)
	}
	return bin, nil
}

// NewEngines returns the engines named in names, in order: "strata" (built
// from repo), "mariadb", or a name given a strata binary in extra (to
// compare builds: name=path).
func NewEngines(ctx context.Context, names []string, repo, work string, extra map[string]string) ([]*Engine, error) {
	var out []*Engine
	built := ""
	for _, n := range names {
		switch {
		case n == "strata" || n == "strata-rr":
			if built == "" {
				bin, err := BuildStrata(ctx, repo, work)
				if err != nil {
					return nil, err
				}
				built = bin
			}
			e := &Engine{Name: n, Kind: "strata", Binary: built, Version: "(git " + GitCommit(repo) + ")", Settings: StrataSettings, Extra: strataArgs()}
			if n == "strata-rr" {
				e.Extra = append(e.Extra, "--transaction-isolation=REPEATABLE-READ")
				e.Settings = StrataRRSettings
			}
			out = append(out, e)
		case n == "mariadb":
			srv, _, err := findMariaDB()
			if err != nil {
				return nil, err
			}
			out = append(out, &Engine{Name: n, Kind: "mariadb", Binary: srv})
		case extra[n] != "":
			out = append(out, &Engine{Name: n, Kind: "strata", Binary: extra[n], Version: "(" + extra[n] + ")", Settings: StrataSettings, Extra: strataArgs()})
		default:
			return nil, fmt.Errorf("unknown engine %q (strata, strata-rr, mariadb, or one named with --strata-bin NAME=PATH)", n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no engine")
	}
	return out, nil
}
