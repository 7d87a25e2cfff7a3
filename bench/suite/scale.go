package suite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-db/strata/tools/dbbench"
)

// The scale runs (issue 28): larger data than the default suite, each step
// in a memory control group whose limit charges the page cache too, the page
// cache dropped before every read phase, and the figures the default suite
// does not take: throughput over time, the longest write, bytes written to
// the disk (write amplification), size after settling against size after a
// full compaction (space amplification), and readwhilewriting against a
// writer held to a fixed rate.

// ScaleSet is one data size and memory setting.
type ScaleSet struct {
	// ID names the set in results and docs ("10M-nolimit", "50M-1GiB").
	ID        string `json:"id"`
	Num       int    `json:"num"`
	MemLimit  int64  `json:"mem_limit_bytes"` // 0: no control group
	CacheSize int64  `json:"cache_size"`
}

// ScalePhase is one step (process) that every engine runs on its database
// of the set, in turn, before the next phase starts.
type ScalePhase struct {
	Name       string            `json:"name"`
	Benchmarks []string          `json:"benchmarks"`
	Flags      map[string]string `json:"flags,omitempty"`
	Measure    []string          `json:"measure"`
	// DropCaches: sync and drop the page cache before the step, so that
	// it starts cold.
	DropCaches bool `json:"drop_caches"`
	// Series: the step writes its measured benchmark's ops/s per interval
	// (--report_interval_seconds).
	Series bool `json:"series"`
}

// ScalePlan is everything one scale run does.
type ScalePlan struct {
	Mode   string            `json:"mode"` // "quick" or "full"
	Reps   int               `json:"reps"`
	Common map[string]string `json:"common"` // db_bench flags for every step
	// ReadSeconds and RWWSeconds are --duration of the read phases and of
	// readwhilewriting (0: reads by count, --reads).
	ReadSeconds int `json:"read_seconds"`
	RWWSeconds  int `json:"rww_seconds"`
	// Reads is --reads: each read thread's count, or cap with a duration.
	Reads int `json:"reads"`
	// RWWWritesPerSec is readwhilewriting's writer's rate.
	RWWWritesPerSec int          `json:"rww_writes_per_sec"`
	ReportInterval  int          `json:"report_interval_seconds"`
	Sets            []ScaleSet   `json:"sets"`
	Phases          []ScalePhase `json:"phases"`
}

// ScaleOptions choose the sets of a scale plan.
type ScaleOptions struct {
	Quick bool
	Reps  int
	// Sets: "nolimit" (MemoryNum entries, 64 MiB cache, no memory limit:
	// the continuity set) and "limited" (Num entries in a MemLimit group,
	// CacheSize cache).
	Sets      []string
	MemoryNum int
	Num       int
	MemLimit  int64
	CacheSize int64 // 0: min(128 MiB, MemLimit/4)
	// ReadSeconds, RWWSeconds: durations of the read phases (0: defaults).
	ReadSeconds, RWWSeconds int
}

// ScaleSets are the set kinds, in order.
var ScaleSets = []string{"nolimit", "limited"}

// Defaults of the scale plan.
const (
	ScaleMemoryNum   = 10000000
	ScaleNum         = 50000000
	ScaleMemLimit    = 1 << 30
	ScaleReadSeconds = 30
	ScaleRWWSeconds  = 60
	ScaleRWWRate     = 20000 // writes per second
)

// NewScalePlan builds the scale plan. Quick mode runs tiny sizes with
// 4 MiB memtables and reads by count, so every engine goes through every
// phase in a few seconds (the test's plan).
func NewScalePlan(o ScaleOptions) (ScalePlan, error) {
	p := ScalePlan{Mode: "full", Reps: o.Reps, ReadSeconds: o.ReadSeconds, RWWSeconds: o.RWWSeconds,
		RWWWritesPerSec: ScaleRWWRate, ReportInterval: 1, Reads: 1 << 30}
	if p.Reps < 1 {
		return p, fmt.Errorf("repetitions must be at least 1, not %d", o.Reps)
	}
	if p.ReadSeconds == 0 {
		p.ReadSeconds = ScaleReadSeconds
	}
	if p.RWWSeconds == 0 {
		p.RWWSeconds = ScaleRWWSeconds
	}
	writeBuffer := WriteBufferSize
	if o.Quick {
		p.Mode, p.ReadSeconds, p.RWWSeconds, p.Reads = "quick", 0, 0, 3000
		writeBuffer = 4 << 20
	}
	p.Common = map[string]string{
		"key_size":          "16",
		"value_size":        "100",
		"compression_ratio": "0.5",
		"bloom_bits":        strconv.Itoa(BloomBits),
		"compression_type":  Compression,
		"write_buffer_size": strconv.Itoa(writeBuffer),
		"block_size":        "4096",
		"seek_nexts":        strconv.Itoa(SeekNexts),
		"histogram":         "1",
		"sync":              "0",
		"disable_wal":       "0",
		"threads":           "1",
		"seed":              "1000",
	}
	for _, kind := range o.Sets {
		var s ScaleSet
		switch kind {
		case "nolimit":
			s = ScaleSet{Num: o.MemoryNum, CacheSize: CacheSize}
			if o.Quick {
				s.CacheSize = 8 << 20
			}
			s.ID = countLabel(s.Num) + "-nolimit"
		case "limited":
			if o.MemLimit <= 0 {
				return p, fmt.Errorf("the limited set needs a memory limit (--mem)")
			}
			s = ScaleSet{Num: o.Num, MemLimit: o.MemLimit, CacheSize: o.CacheSize}
			if s.CacheSize == 0 {
				s.CacheSize = min(128<<20, o.MemLimit/4)
			}
			s.ID = countLabel(s.Num) + "-" + sizeLabel(s.MemLimit)
		default:
			return p, fmt.Errorf("unknown scale set %q (known: %s)", kind, strings.Join(ScaleSets, ", "))
		}
		if s.Num < 1 {
			return p, fmt.Errorf("set %s: --num must be at least 1", kind)
		}
		p.Sets = append(p.Sets, s)
	}
	read := func(name, bench string, threads int) ScalePhase {
		f := map[string]string{"threads": strconv.Itoa(threads), "reads": strconv.Itoa(p.Reads)}
		if p.ReadSeconds > 0 {
			f["duration"] = strconv.Itoa(p.ReadSeconds)
		}
		benchmarks := []string{"waitforcompaction", bench}
		if o.Quick {
			// Tiny databases are settled: skip RocksDB's 5 s and the
			// polling engines' 1 s of waiting, so the test plan stays short.
			benchmarks = benchmarks[1:]
		}
		return ScalePhase{Name: name, Benchmarks: benchmarks, Flags: f, Measure: []string{bench}, DropCaches: true}
	}
	rww := read("readwhilewriting", "readwhilewriting", 1)
	delete(rww.Flags, "duration")
	if p.RWWSeconds > 0 {
		rww.Flags["duration"] = strconv.Itoa(p.RWWSeconds)
	}
	rww.Flags["benchmark_write_rate_limit"] = strconv.Itoa(p.RWWWritesPerSec * (16 + 100))
	p.Phases = []ScalePhase{
		{Name: "fill", Benchmarks: []string{"filluniquerandom"}, Measure: []string{"filluniquerandom"}, DropCaches: true, Series: true},
		// Straight after the fill, on the compaction debt it left; then
		// settle (waitforcompaction: RocksDB's db_bench prints no line for it).
		{Name: "overwrite", Benchmarks: []string{"overwrite", "waitforcompaction"}, Measure: []string{"overwrite"}, Series: true},
		// Reopen and settle again: an engine that replays its log into a
		// memtable and flushes it on open, and then compacts, does that
		// here, not in the first read phase, whose cold page cache it
		// would warm with the pages it writes.
		{Name: "settle", Benchmarks: []string{"waitforcompaction"}},
		read("readrandom-1", "readrandom", 1),
		read("readrandom-2", "readrandom", 2),
		read("seekrandom-1", "seekrandom", 1),
		read("seekrandom-2", "seekrandom", 2),
		rww,
		// A full compaction: the live data's size in the engine's own format,
		// the denominator of space amplification.
		{Name: "compact", Benchmarks: []string{"compact"}, Measure: []string{"compact"}},
	}
	return p, nil
}

// countLabel writes an entry count as 10M, 500k or 20000.
func countLabel(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// sizeLabel writes a byte count as 768MiB or 2GiB.
func sizeLabel(b int64) string {
	if b >= 1<<30 && b%(1<<30) == 0 {
		return fmt.Sprintf("%dGiB", b>>30)
	}
	return fmt.Sprintf("%dMiB", b>>20)
}

// Flags returns the db_bench flags of phase ph of set s in dir.
func (p *ScalePlan) Flags(s *ScaleSet, ph *ScalePhase, first bool, dir string) map[string]string {
	f := make(map[string]string)
	for k, v := range p.Common {
		f[k] = v
	}
	f["num"] = strconv.Itoa(s.Num)
	f["cache_size"] = strconv.FormatInt(s.CacheSize, 10)
	for k, v := range ph.Flags {
		f[k] = v
	}
	f["benchmarks"] = strings.Join(ph.Benchmarks, ",")
	f["db"] = dir
	f["use_existing_db"] = "1"
	if first {
		f["use_existing_db"] = "0"
	}
	return f
}

// DiskInfo describes the block device under the work directory.
type DiskInfo struct {
	Device      string `json:"device"`
	Rotational  bool   `json:"rotational"`
	ReadAheadKB int    `json:"read_ahead_kb"`
	Scheduler   string `json:"scheduler,omitempty"`
	SizeGB      int64  `json:"size_gb,omitempty"`
}

// DescribeDisk finds the device holding dir in /proc/mounts and reads its
// queue settings from /sys/class/block.
func DescribeDisk(dir string) DiskInfo {
	var d DiskInfo
	abs, _ := filepath.Abs(dir)
	if data, err := os.ReadFile("/proc/mounts"); err == nil {
		best := ""
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && (abs == f[1] || strings.HasPrefix(abs, strings.TrimSuffix(f[1], "/")+"/")) && len(f[1]) > len(best) {
				best, d.Device = f[1], f[0]
			}
		}
	}
	name := filepath.Base(d.Device)
	sys, err := filepath.EvalSymlinks("/sys/class/block/" + name)
	if err != nil {
		return d
	}
	queue := filepath.Join(sys, "queue")
	if _, err := os.Stat(queue); err != nil {
		queue = filepath.Join(filepath.Dir(sys), "queue") // a partition: its disk's queue
	}
	read := func(path string) string {
		data, _ := os.ReadFile(path)
		return strings.TrimSpace(string(data))
	}
	d.Rotational = read(filepath.Join(queue, "rotational")) == "1"
	d.ReadAheadKB, _ = strconv.Atoi(read(filepath.Join(queue, "read_ahead_kb")))
	d.Scheduler = read(filepath.Join(queue, "scheduler"))
	if sectors, err := strconv.ParseInt(read(filepath.Join(sys, "size")), 10, 64); err == nil {
		d.SizeGB = sectors * 512 / 1e9
	}
	return d
}

// ScaleHeader is the first line of a scale run in a results file (a file
// may hold several runs, each from its header on).
type ScaleHeader struct {
	Type     string            `json:"type"` // "scale-run"
	Started  time.Time         `json:"started"`
	Command  string            `json:"command"`
	Plan     ScalePlan         `json:"plan"`
	Machine  Machine           `json:"machine"`
	Disk     DiskInfo          `json:"disk"`
	Cgroup   string            `json:"cgroup"` // how limits were set
	Engines  []*Engine         `json:"engines"`
	Skipped  map[string]string `json:"skipped,omitempty"`
	Profiles bool              `json:"profiles,omitempty"`
}

// ScaleEnd is the last line of a completed scale run.
type ScaleEnd struct {
	Type     string    `json:"type"` // "scale-end"
	Finished time.Time `json:"finished"`
}

// Bucket is one line of a latency histogram's table: Count operations took
// more than Lower and at most Upper microseconds.
type Bucket struct {
	Lower float64 `json:"l"`
	Upper float64 `json:"u"`
	Count int64   `json:"n"`
}

// StepStats are one step process's figures.
type StepStats struct {
	Seconds float64 `json:"wall_seconds"`
	PeakRSS int64   `json:"peak_rss_bytes"`
	UserCPU float64 `json:"user_cpu_seconds"`
	SysCPU  float64 `json:"sys_cpu_seconds"`
	// OtherCPU is the CPU time the rest of the machine used during the step
	// (/proc/stat's busy time less the step's own): other work disturbing it.
	OtherCPU float64 `json:"other_cpu_seconds"`
	// The step's /proc/PID/io (see ../launcher). WriteBytes counts pages as
	// they are dirtied; CancelledWriteBytes counts dirty pages the process
	// dropped before writeback by deleting or truncating their file
	// (NetWriteBytes).
	WriteBytes          int64 `json:"write_bytes"`
	ReadBytes           int64 `json:"read_bytes"`
	CancelledWriteBytes int64 `json:"cancelled_write_bytes"`
	RChar               int64 `json:"rchar"`
	WChar               int64 `json:"wchar"`
	// Cgroup is the control group's counters (nil: no limit).
	Cgroup *CgroupStats `json:"cgroup,omitempty"`
	// DiskBytes and DiskAllocBytes are the database directory's size after
	// the step: the files' sizes, and the blocks they take.
	DiskBytes      int64  `json:"disk_bytes"`
	DiskAllocBytes int64  `json:"disk_alloc_bytes"`
	DroppedCaches  bool   `json:"dropped_caches,omitempty"`
	Log            string `json:"log"`
	CPUProfile     string `json:"cpu_profile,omitempty"`
}

// NetWriteBytes is WriteBytes less CancelledWriteBytes: by the kernel's
// definition of the two (Documentation/filesystems/proc.rst, /proc/PID/io),
// the bytes the step caused to reach storage. A log deleted before
// writeback (Strata's with sync off: a memtable's log lives only until its
// flush) is counted by the first and taken back by the second; a recycled
// log (Pebble's) is not deleted, and its rewritten pages count as written.
// The kernel charges a cancellation to the process that deletes the file,
// so one step's figure can be off by pages an earlier step dirtied (even
// negative); summed over the steps of a set, as the docs do, it is exact.
func (s *StepStats) NetWriteBytes() int64 { return s.WriteBytes - s.CancelledWriteBytes }

// ScaleRecord is one measured benchmark of one phase on one engine, or a
// failed step.
type ScaleRecord struct {
	Type    string `json:"type"` // "result" or "failure"
	Set     string `json:"set"`
	Phase   string `json:"phase"`
	Engine  string `json:"engine"`
	Rep     int    `json:"rep"`
	Num     int    `json:"num"`
	Threads int    `json:"threads"`
	dbbench.Result
	// MaxMicros is the histogram's Max: the slowest operation.
	MaxMicros float64  `json:"max_micros,omitempty"`
	Buckets   []Bucket `json:"buckets,omitempty"`
	// Series is the benchmark's operations per second in each
	// ReportInterval (series phases).
	Series []int64    `json:"series,omitempty"`
	Step   *StepStats `json:"step"`
	Error  string     `json:"error,omitempty"`
}

// ScaleRunner runs a scale plan: for each set and repetition, each phase on
// every engine in turn (the first engine rotating from one repetition to
// the next), every engine's database kept until the set's last phase.
type ScaleRunner struct {
	Plan     ScalePlan
	Engines  []*Engine
	WorkDir  string
	Timeout  time.Duration // per step
	Out      io.Writer     // JSON lines
	Log      io.Writer     // progress
	Launcher string        // required: it joins the cgroup and reads /proc/PID/io
	// Profiles makes the Go engines' steps write CPU profiles beside their logs.
	Profiles bool
	// Keep leaves the last repetition's databases in WorkDir/db (each
	// repetition starts from empty ones): for reading them again by hand.
	Keep   bool
	groups int
}

// Run runs every set.
func (r *ScaleRunner) Run(ctx context.Context) error {
	if r.Launcher == "" {
		return fmt.Errorf("the scale runs need the launcher (Linux)")
	}
	enc := json.NewEncoder(r.Out)
	logDir := filepath.Join(r.WorkDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	total := len(r.Plan.Sets) * r.Plan.Reps * len(r.Plan.Phases) * len(r.Engines)
	done := 0
	start := time.Now()
	for si := range r.Plan.Sets {
		set := &r.Plan.Sets[si]
		for rep := 1; rep <= r.Plan.Reps; rep++ {
			dirs := map[string]string{}
			failed := map[string]bool{}
			for _, e := range r.Engines {
				dirs[e.Name] = filepath.Join(r.WorkDir, "db", fmt.Sprintf("scale-%s-%s-%d", set.ID, e.Name, rep))
				os.RemoveAll(dirs[e.Name])
			}
			if err := os.MkdirAll(filepath.Join(r.WorkDir, "db"), 0o755); err != nil {
				return err
			}
			for pi := range r.Plan.Phases {
				ph := &r.Plan.Phases[pi]
				for ei := range r.Engines {
					e := r.Engines[(ei+rep-1)%len(r.Engines)]
					done++
					if failed[e.Name] {
						continue
					}
					fmt.Fprintf(r.Log, "[%d/%d %s] %s rep %d %s %s\n", done, total,
						time.Since(start).Round(time.Second), set.ID, rep, ph.Name, e.Name)
					recs := r.runPhase(ctx, set, ph, pi == 0, e, rep, dirs[e.Name], logDir)
					for _, rec := range recs {
						if err := enc.Encode(rec); err != nil {
							return err
						}
						if rec.Type == "failure" {
							failed[e.Name] = true
							fmt.Fprintf(r.Log, "  FAILED: %s\n", rec.Error)
						} else {
							fmt.Fprintf(r.Log, "  %s: %.0f ops/s in %.1f s (step %.1f s, wrote %d MiB, %d MiB of it cancelled)\n", rec.Name, rec.OpsPerSec,
								rec.Seconds, rec.Step.Seconds, rec.Step.WriteBytes>>20, rec.Step.CancelledWriteBytes>>20)
						}
					}
					if err := ctx.Err(); err != nil {
						return err
					}
				}
			}
			if !r.Keep || rep < r.Plan.Reps {
				for _, d := range dirs {
					os.RemoveAll(d)
				}
			}
		}
	}
	return enc.Encode(ScaleEnd{Type: "scale-end", Finished: time.Now().UTC()})
}

// runPhase runs one phase's step for e and returns its records.
func (r *ScaleRunner) runPhase(ctx context.Context, set *ScaleSet, ph *ScalePhase, first bool, e *Engine, rep int, dir, logDir string) []ScaleRecord {
	flags := r.Plan.Flags(set, ph, first, dir)
	threads, _ := strconv.Atoi(flags["threads"])
	base := ScaleRecord{Set: set.ID, Phase: ph.Name, Engine: e.Name, Rep: rep, Num: set.Num, Threads: threads}
	stem := filepath.Join(logDir, fmt.Sprintf("%s-%d-%s-%s", set.ID, rep, e.Name, ph.Name))
	st := &StepStats{Log: stem + ".log"}
	base.Step = st
	fail := func(err error) []ScaleRecord {
		base.Type, base.Error = "failure", err.Error()+" (log: "+st.Log+")"
		return []ScaleRecord{base}
	}
	reportFile := ""
	if ph.Series && r.Plan.ReportInterval > 0 {
		reportFile = stem + ".csv"
		os.Remove(reportFile)
		flags["report_interval_seconds"] = strconv.Itoa(r.Plan.ReportInterval)
		flags["report_file"] = reportFile
	}
	if r.Profiles && e.GoWorker {
		st.CPUProfile = stem + ".cpu.prof"
		flags["cpuprofile"] = st.CPUProfile
	}
	if ph.DropCaches {
		if err := DropCaches(); err != nil {
			return fail(err)
		}
		st.DroppedCaches = true
	}
	var group *Cgroup
	if set.MemLimit > 0 {
		r.groups++
		var err error
		group, err = NewCgroup(fmt.Sprintf("strata-bench-%d-%d", os.Getpid(), r.groups), set.MemLimit)
		if err != nil {
			return fail(err)
		}
		defer group.Remove()
	}
	cgPath := ""
	if group != nil {
		cgPath = group.Path
	}
	busy0 := busyCPUSeconds()
	run := launch(ctx, e, flags, st.Log, r.Launcher, cgPath, r.Timeout)
	busy1 := busyCPUSeconds()
	st.Seconds, st.PeakRSS = run.secs, run.rss
	u := run.usage
	st.UserCPU, st.SysCPU = float64(u["utime_us"])/1e6, float64(u["stime_us"])/1e6
	st.OtherCPU = math.Max(0, busy1-busy0-st.UserCPU-st.SysCPU)
	st.WriteBytes, st.ReadBytes, st.CancelledWriteBytes = u["write_bytes"], u["read_bytes"], u["cancelled_write_bytes"]
	st.RChar, st.WChar = u["rchar"], u["wchar"]
	if _, ok := u["write_bytes"]; !ok && run.err == nil && u != nil {
		run.err = fmt.Errorf("the launcher could not read the step's /proc/PID/io")
	}
	if group != nil {
		cs := group.Stats()
		st.Cgroup = &cs
		if run.err != nil && cs.OOMKills > 0 {
			run.err = fmt.Errorf("killed by the OOM killer in its %s control group (%d kill(s)): %w", sizeLabel(set.MemLimit), cs.OOMKills, run.err)
		}
	}
	st.DiskBytes, st.DiskAllocBytes = dirUsage(dir)
	if run.err != nil {
		return fail(run.err)
	}
	if err := checkMeasured(run.results, ph.Measure); err != nil {
		return fail(err)
	}
	hists := parseHistograms(run.stdout)
	var series []int64
	if reportFile != "" {
		var err error
		if series, err = readSeries(reportFile); err != nil {
			return fail(err)
		}
	}
	if len(ph.Measure) == 0 {
		// Nothing measured but the step itself (RocksDB prints no line for
		// waitforcompaction): one record, named after the phase.
		rec := base
		rec.Type, rec.Result = "result", dbbench.Result{Name: ph.Name, Seconds: st.Seconds, Reads: -1}
		return []ScaleRecord{rec}
	}
	var recs []ScaleRecord
	for i, res := range run.results {
		if !contains(ph.Measure, res.Name) {
			continue
		}
		rec := base
		rec.Type, rec.Result = "result", res
		if i < len(hists) {
			rec.MaxMicros, rec.Buckets = hists[i].max, hists[i].buckets
		}
		if ph.Series {
			rec.Series = series
		}
		recs = append(recs, rec)
	}
	return recs
}

// busyCPUSeconds returns the machine's busy CPU time so far from
// /proc/stat (user, nice, system, irq, softirq, steal), or NaN.
func busyCPUSeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return math.NaN()
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return math.NaN()
	}
	var busy float64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseFloat(f[i], 64)
		busy += v
	}
	return busy / 100 // USER_HZ
}

// dirUsage returns the apparent size of the files under dir and the bytes
// of disk they take (st_blocks).
func dirUsage(dir string) (apparent, alloc int64) {
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			apparent += info.Size()
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				alloc += st.Blocks * 512
			}
		}
		return nil
	})
	return apparent, alloc
}

// hist is one report line's latency histogram: its maximum and its table.
type hist struct {
	max     float64
	buckets []Bucket
}

var (
	histMax    = regexp.MustCompile(`^Min: \S+\s+Median: \S+\s+Max: (\S+)`)
	histBucket = regexp.MustCompile(`^[\[(]\s*([\d.]+),\s*([\d.]+)\s*[\])]\s+(\d+)\s`)
)

// parseHistograms returns, for each report line of db_bench output (in the
// order dbbench.Parse returns them), the histogram block after it: every
// engine's driver prints RocksDB's layout ("Min: .. Median: .. Max: .."
// and the bucket table on RocksDB's limits).
func parseHistograms(out []byte) []hist {
	var hs []hist
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if _, ok, _ := dbbench.ParseLine(line); ok {
			hs = append(hs, hist{})
			continue
		}
		if len(hs) == 0 {
			continue
		}
		h := &hs[len(hs)-1]
		t := strings.TrimSpace(line)
		if m := histMax.FindStringSubmatch(t); m != nil {
			h.max, _ = strconv.ParseFloat(m[1], 64)
		} else if m := histBucket.FindStringSubmatch(t); m != nil {
			l, _ := strconv.ParseFloat(m[1], 64)
			u, _ := strconv.ParseFloat(m[2], 64)
			n, _ := strconv.ParseInt(m[3], 10, 64)
			h.buckets = append(h.buckets, Bucket{Lower: l, Upper: u, Count: n})
		}
	}
	return hs
}

// readSeries reads a --report_file: "secs_elapsed,interval_qps" lines.
func readSeries(path string) ([]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report file: %w", err)
	}
	var s []int64
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if i == 0 {
			if line != "secs_elapsed,interval_qps" {
				return nil, fmt.Errorf("%s: header %q", path, line)
			}
			continue
		}
		_, v, ok := strings.Cut(line, ",")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s: line %q", path, line)
		}
		s = append(s, n)
	}
	return s, nil
}
