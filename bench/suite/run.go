package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-db/strata/tools/dbbench"
)

// Header is the first JSON line of a results file: what was run, where,
// and with which settings.
type Header struct {
	Type    string    `json:"type"` // "run"
	Started time.Time `json:"started"`
	Command string    `json:"command"`
	Plan    Plan      `json:"plan"`
	Machine Machine   `json:"machine"`
	Engines []*Engine `json:"engines"`
	// Launcher says whether steps ran under the launcher, whose peak RSS
	// figures are the steps' own (false: each is at least the runner's).
	Launcher bool `json:"launcher,omitempty"`
	// Skipped lists engines that could not run here, with the reason.
	Skipped map[string]string `json:"skipped,omitempty"`
}

// Record is one JSON line per measured benchmark of one repetition of one
// workload on one engine, or per failed step.
type Record struct {
	Type      string `json:"type"` // "result" or "failure"
	Set       string `json:"set"`
	Workload  string `json:"workload"`
	Engine    string `json:"engine"`
	Rep       int    `json:"rep"`
	Step      int    `json:"step"`
	Num       int    `json:"num"`
	ValueSize int    `json:"value_size"`
	Threads   int    `json:"threads"`
	dbbench.Result
	// PeakRSS is the step process's maximum resident set size: getrusage
	// ru_maxrss of the step, as the launcher reports it (Header.Launcher),
	// or of the runner's child, which is at least the runner's own peak.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// WorkloadPeakRSS is the largest over all steps of the workload.
	WorkloadPeakRSS int64 `json:"workload_peak_rss_bytes"`
	// DiskBytes is the database directory's size after the workload's last
	// step (the process has closed the database).
	DiskBytes   int64   `json:"disk_bytes"`
	StepSeconds float64 `json:"step_wall_seconds"`
	Error       string  `json:"error,omitempty"`
}

// Runner runs a plan.
type Runner struct {
	Plan    Plan
	Engines []*Engine
	WorkDir string        // databases and logs go under it
	Timeout time.Duration // per step
	Out     io.Writer     // JSON lines
	Log     io.Writer     // progress
	// Launcher is the launcher binary (BuildLauncher) that starts each step
	// and reports its peak RSS. Empty: the runner starts steps itself, and
	// each step's peak RSS is at least the runner's own (see ../launcher).
	Launcher string
}

// Run runs every repetition: for each workload, every engine in turn (the
// first engine rotating from one repetition to the next), each workload in
// a fresh directory that is deleted afterwards.
func (r *Runner) Run(ctx context.Context) error {
	enc := json.NewEncoder(r.Out)
	logDir := filepath.Join(r.WorkDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	total := 0
	for _, w := range r.Plan.Workloads {
		for _, e := range r.Engines {
			if !e.runs(w.Set) {
				continue
			}
			if why := e.Cannot(&w); why != "" {
				fmt.Fprintf(r.Log, "skipping %s on %s: %s\n", w.Name, e.Name, why)
				continue
			}
			total += r.Plan.Reps
		}
	}
	done := 0
	start := time.Now()
	for rep := 1; rep <= r.Plan.Reps; rep++ {
		for wi := range r.Plan.Workloads {
			w := &r.Plan.Workloads[wi]
			for ei := range r.Engines {
				e := r.Engines[(ei+rep-1)%len(r.Engines)]
				if !e.runs(w.Set) || e.Cannot(w) != "" {
					continue
				}
				done++
				fmt.Fprintf(r.Log, "[%d/%d %s] rep %d %s %s\n", done, total,
					time.Since(start).Round(time.Second), rep, w.Name, e.Name)
				records := r.runWorkload(ctx, w, e, rep, logDir)
				for _, rec := range records {
					if err := enc.Encode(rec); err != nil {
						return err
					}
					if rec.Type == "failure" {
						fmt.Fprintf(r.Log, "  FAILED step %d: %s\n", rec.Step, rec.Error)
					}
				}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// runWorkload runs w's steps for e in a fresh directory.
func (r *Runner) runWorkload(ctx context.Context, w *Workload, e *Engine, rep int, logDir string) []Record {
	dir := filepath.Join(r.WorkDir, "db", fmt.Sprintf("%s-%s-%d", e.Name, w.Name, rep))
	os.RemoveAll(dir)
	defer os.RemoveAll(dir)
	// The engines create only the database directory itself, as mkdir does.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return []Record{{Type: "failure", Set: w.Set, Workload: w.Name, Engine: e.Name, Rep: rep, Num: w.Num, ValueSize: w.ValueSize, Error: err.Error()}}
	}
	var records []Record
	var peak int64
	for si := range w.Steps {
		flags := r.Plan.Flags(w, si, dir)
		threads, _ := strconv.Atoi(flags["threads"])
		base := Record{Set: w.Set, Workload: w.Name, Engine: e.Name, Rep: rep, Step: si,
			Num: w.Num, ValueSize: w.ValueSize, Threads: threads}
		logPath := filepath.Join(logDir, fmt.Sprintf("%d-%s-%s-%d.log", rep, w.Name, e.Name, si))
		results, rss, secs, err := r.runStep(ctx, e, flags, logPath)
		peak = max(peak, rss)
		if err == nil {
			err = checkMeasured(results, w.Steps[si].Measure)
		}
		if err != nil {
			base.Type, base.Error, base.PeakRSS, base.StepSeconds = "failure", err.Error()+" (log: "+logPath+")", rss, secs
			records = append(records, base)
			break
		}
		for _, res := range results {
			if !contains(w.Steps[si].Measure, res.Name) {
				continue
			}
			rec := base
			rec.Type, rec.Result, rec.PeakRSS, rec.StepSeconds = "result", res, rss, secs
			records = append(records, rec)
		}
	}
	size := dirSize(dir)
	for i := range records {
		records[i].WorkloadPeakRSS = peak
		records[i].DiskBytes = size
	}
	return records
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkMeasured reports a measured benchmark that printed no line.
func checkMeasured(results []dbbench.Result, measure []string) error {
	for _, m := range measure {
		found := false
		for _, r := range results {
			found = found || r.Name == m
		}
		// RocksDB's db_bench prints nothing for flush: not an error.
		if !found && m != "flush" {
			return fmt.Errorf("no %q line in the output", m)
		}
	}
	return nil
}

// runStep runs one process, saving its output to logPath, and returns its
// report lines, peak RSS in bytes and wall time.
func (r *Runner) runStep(ctx context.Context, e *Engine, flags map[string]string, logPath string) ([]dbbench.Result, int64, float64, error) {
	s := launch(ctx, e, flags, logPath, r.Launcher, "", r.Timeout)
	return s.results, s.rss, s.secs, s.err
}

// stepRun is what one step's process did.
type stepRun struct {
	results []dbbench.Result
	stdout  []byte
	// usage is the launcher's report ("maxrss_kib", "write_bytes", ...);
	// nil without the launcher.
	usage map[string]int64
	rss   int64 // peak RSS in bytes
	secs  float64
	err   error
}

// launch runs one step's process with a timeout, through the launcher if
// there is one (inside cgroup, if set), saving its output to logPath.
func launch(ctx context.Context, e *Engine, flags map[string]string, logPath, launcher, cgroup string, timeout time.Duration) stepRun {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := e.Command(flags)
	var stdout bytes.Buffer
	logFile, err := os.Create(logPath)
	if err != nil {
		return stepRun{err: err}
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "$ %s\n", cmd.String())
	rusagePath := ""
	if launcher != "" {
		rusagePath = logPath + ".rusage"
		os.Remove(rusagePath)
		step := cmd
		var args []string
		if cgroup != "" {
			args = append(args, "--cgroup", cgroup)
		}
		args = append(append(args, rusagePath, step.Path), step.Args[1:]...)
		cmd = exec.Command(launcher, args...)
		cmd.Dir, cmd.Env = step.Dir, step.Env
	}
	cmd.Stdout = io.MultiWriter(&stdout, logFile)
	cmd.Stderr = logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return stepRun{err: fmt.Errorf("starting %s: %w", cmd.Path, err)}
	}
	waitDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
		case <-waitDone:
		}
	}()
	err = cmd.Wait()
	close(waitDone)
	s := stepRun{secs: time.Since(start).Seconds(), stdout: stdout.Bytes()}
	if rusagePath != "" {
		if data, rerr := os.ReadFile(rusagePath); rerr == nil {
			usage, perr := parseUsage(data)
			if perr == nil && usage["maxrss_kib"] <= 0 {
				perr = fmt.Errorf("no maxrss_kib")
			}
			if perr != nil && err == nil && ctx.Err() == nil {
				err = fmt.Errorf("%s: %q: %v", rusagePath, data, perr)
			}
			s.usage, s.rss = usage, usage["maxrss_kib"]*1024
		} else if err == nil && ctx.Err() == nil {
			err = fmt.Errorf("launcher wrote no peak RSS: %v", rerr)
		}
	} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rss = ru.Maxrss * 1024 // kilobytes on Linux
	}
	if ctx.Err() != nil {
		s.err = fmt.Errorf("%s: stopped after %.0f s: %w", e.Name, s.secs, ctx.Err())
		return s
	}
	if err != nil {
		s.err = fmt.Errorf("%s exited: %w", e.Name, err)
		return s
	}
	s.results, s.err = dbbench.Parse(bytes.NewReader(s.stdout))
	return s
}

// parseUsage reads the launcher's report: "name value" lines.
func parseUsage(data []byte) (map[string]int64, error) {
	m := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			return m, fmt.Errorf("line %q", line)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return m, fmt.Errorf("line %q: %v", line, err)
		}
		m[name] = v
	}
	return m, nil
}

// dirSize sums the sizes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// runs reports whether the engine takes part in workload set set.
func (e *Engine) runs(set string) bool {
	return len(e.OnlySets) == 0 || contains(e.OnlySets, set)
}

// Cannot says why the engine cannot run w (a need it lacks), or "".
func (e *Engine) Cannot(w *Workload) string {
	for _, n := range w.Needs {
		if why, ok := e.Lacks[n]; ok {
			return why
		}
	}
	return ""
}
