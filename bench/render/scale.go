package render

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/strata-db/strata/bench/suite"
)

// ScaleRun is one scale run of a results file: its header, records and end.
type ScaleRun struct {
	Header  suite.ScaleHeader
	Records []suite.ScaleRecord
	End     *suite.ScaleEnd
}

// ScaleData is a loaded scale results file: one or more runs (`go run .
// scale --append` adds a run). A set's figures come from the last run that
// has any for it.
type ScaleData struct {
	Runs []*ScaleRun
}

// LoadScale reads a scale results file.
func LoadScale(r io.Reader) (*ScaleData, error) {
	d := &ScaleData{}
	err := readJSONLines(r, func(typ string, text []byte) error {
		if typ == "scale-run" {
			run := &ScaleRun{}
			d.Runs = append(d.Runs, run)
			return json.Unmarshal(text, &run.Header)
		}
		if len(d.Runs) == 0 {
			return fmt.Errorf("%q before any scale-run header", typ)
		}
		run := d.Runs[len(d.Runs)-1]
		switch typ {
		case "result", "failure":
			var rec suite.ScaleRecord
			if err := json.Unmarshal(text, &rec); err != nil {
				return err
			}
			if rec.Step == nil {
				rec.Step = &suite.StepStats{}
			}
			run.Records = append(run.Records, rec)
		case "scale-end":
			run.End = &suite.ScaleEnd{}
			return json.Unmarshal(text, run.End)
		default:
			return fmt.Errorf("unknown record type %q", typ)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(d.Runs) == 0 {
		return nil, fmt.Errorf("no scale-run header line")
	}
	return d, nil
}

// scaleSet is one set's records. Each engine's come from the last run
// that has records of that engine in the set, so a later `--append` run of
// some engines replaces theirs and keeps the others' (the docs list every
// run a set draws on, and which engines it gave).
type scaleSet struct {
	set     suite.ScaleSet
	run     *ScaleRun            // the last run the set draws on (its plan's phases and repetitions)
	runs    []*ScaleRun          // every run the set draws on, in file order
	from    map[string]*ScaleRun // engine → the run its records come from
	engines []string
	recs    map[[2]string][]suite.ScaleRecord // (phase, engine) → one per repetition
	fails   []suite.ScaleRecord
}

// sameSet reports whether two runs' sets of one ID measured the same thing
// (an ID names the entries and the memory limit; the block cache and the
// phases' durations must match too for their engines to share a table).
func sameSet(a, b suite.ScaleSet, pa, pb suite.ScalePlan) bool {
	return a.Num == b.Num && a.MemLimit == b.MemLimit && a.CacheSize == b.CacheSize &&
		pa.ReadSeconds == pb.ReadSeconds && pa.RWWSeconds == pb.RWWSeconds && pa.Mode == pb.Mode
}

func (d *ScaleData) sets() []*scaleSet {
	var order []string
	byID := map[string]*scaleSet{}
	for _, run := range d.Runs {
		has := map[[2]string]bool{} // (set, engine)
		for _, r := range run.Records {
			has[[2]string{r.Set, r.Engine}] = true
		}
		for _, s := range run.Header.Plan.Sets {
			var engines []string
			for _, e := range run.Header.Engines {
				if has[[2]string{s.ID, e.Name}] {
					engines = append(engines, e.Name)
				}
			}
			if len(engines) == 0 {
				continue
			}
			ss := byID[s.ID]
			if ss == nil || !sameSet(ss.set, s, ss.run.Header.Plan, run.Header.Plan) {
				// A new set, or one measured differently: this run's figures
				// replace the earlier run's whole.
				if ss == nil {
					order = append(order, s.ID)
				}
				ss = &scaleSet{set: s, from: map[string]*ScaleRun{}, recs: map[[2]string][]suite.ScaleRecord{}}
				byID[s.ID] = ss
			}
			ss.run = run
			for _, e := range engines {
				if ss.from[e] == nil {
					ss.engines = append(ss.engines, e)
				}
				ss.from[e] = run
				for k := range ss.recs {
					if k[1] == e {
						delete(ss.recs, k)
					}
				}
				kept := ss.fails[:0]
				for _, f := range ss.fails {
					if f.Engine != e {
						kept = append(kept, f)
					}
				}
				ss.fails = kept
			}
			for _, r := range run.Records {
				if r.Set != s.ID {
					continue
				}
				if r.Type == "failure" {
					ss.fails = append(ss.fails, r)
					continue
				}
				k := [2]string{r.Phase, r.Engine}
				ss.recs[k] = append(ss.recs[k], r)
			}
		}
	}
	var out []*scaleSet
	for _, id := range order {
		ss := byID[id]
		for _, run := range d.Runs {
			for _, e := range ss.engines {
				if ss.from[e] == run {
					ss.runs = append(ss.runs, run)
					break
				}
			}
		}
		// Strata first, then the peers in the order their runs listed them.
		sort.SliceStable(ss.engines, func(i, j int) bool { return ss.engines[i] == "strata" && ss.engines[j] != "strata" })
		out = append(out, ss)
	}
	return out
}

// med returns the median over repetitions of f on (phase, engine)'s records.
func (s *scaleSet) med(phase, engine string, f func(r suite.ScaleRecord) float64) float64 {
	var v []float64
	for _, r := range s.recs[[2]string{phase, engine}] {
		if x := f(r); !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	return median(v)
}

func (s *scaleSet) ops(phase, engine string) float64 {
	return s.med(phase, engine, func(r suite.ScaleRecord) float64 { return r.OpsPerSec })
}

// perRep returns f over the repetitions where both phases ran, as the
// median of f(a, b).
func (s *scaleSet) perRep(pa, pb, engine string, f func(a, b suite.ScaleRecord) float64) float64 {
	var v []float64
	for _, a := range s.recs[[2]string{pa, engine}] {
		for _, b := range s.recs[[2]string{pb, engine}] {
			if a.Rep == b.Rep {
				if x := f(a, b); !math.IsNaN(x) {
					v = append(v, x)
				}
			}
		}
	}
	return median(v)
}

// stallMicros estimates the time spent in operations slower than
// threshold µs from a histogram table: each bucket's count times its
// midpoint (the top bucket's upper end is the maximum).
func stallMicros(r suite.ScaleRecord, threshold float64) float64 {
	if len(r.Buckets) == 0 {
		return math.NaN()
	}
	var t float64
	for _, b := range r.Buckets {
		if b.Lower < threshold {
			continue
		}
		u := b.Upper
		if r.MaxMicros > 0 && r.MaxMicros < u {
			u = math.Max(r.MaxMicros, b.Lower)
		}
		t += float64(b.Count) * (b.Lower + u) / 2
	}
	return t
}

// Thresholds of the stall figures: bucket boundaries of RocksDB's
// histogram, on which every engine's driver prints its table.
const (
	stallSlow = 870.0  // µs: LevelDB's 1 ms slowdown sleeps and RocksDB's delays land above it
	stallStop = 9900.0 // µs: waits for a flush or a compaction
)

// written sums f of the fill, overwrite and settle steps of each
// repetition (the median over repetitions): with suite.StepStats's
// WriteBytes, the bytes those processes dirtied; with NetWriteBytes, those
// that reached storage (write amplification's numerator).
func (s *scaleSet) written(e string, f func(st *suite.StepStats) int64) float64 {
	return s.perRep("fill", "overwrite", e, func(a, b suite.ScaleRecord) float64 {
		w := float64(f(a.Step) + f(b.Step))
		for _, c := range s.recs[[2]string{"settle", e}] {
			if c.Rep == a.Rep {
				w += float64(f(c.Step))
			}
		}
		return w
	})
}

func writeBytes(st *suite.StepStats) int64     { return st.WriteBytes }
func cancelledBytes(st *suite.StepStats) int64 { return st.CancelledWriteBytes }
func netWriteBytes(st *suite.StepStats) int64  { return st.NetWriteBytes() }

// writeAmp is the bytes the fill, overwrite and settle steps caused to
// reach storage (f: netWriteBytes; writeBytes for the kernel's gross
// count) ÷ the user bytes of the fill and the overwrite (ops × (key +
// value)).
func (s *scaleSet) writeAmp(e string, f func(st *suite.StepStats) int64) float64 {
	w := s.written(e, f)
	user := s.perRep("fill", "overwrite", e, func(a, b suite.ScaleRecord) float64 {
		return float64(a.Ops+b.Ops) * (16 + 100)
	})
	return w / user
}

// settledPhase is the phase after which the database has settled: the
// settle step's, or the overwrite's in results from before it existed.
func (s *scaleSet) settledPhase(e string) string {
	if len(s.recs[[2]string{"settle", e}]) > 0 {
		return "settle"
	}
	return "overwrite"
}

// spaceAmp is the size on disk after settling ÷ after the full compaction.
func (s *scaleSet) spaceAmp(e string) float64 {
	return s.perRep(s.settledPhase(e), "compact", e, func(a, b suite.ScaleRecord) float64 {
		if b.Step.DiskAllocBytes == 0 {
			return math.NaN()
		}
		return float64(a.Step.DiskAllocBytes) / float64(b.Step.DiskAllocBytes)
	})
}

// longestWrite is the slowest single write of the fill and the overwrite (µs).
func (s *scaleSet) longestWrite(e string) float64 {
	return s.perRep("fill", "overwrite", e, func(a, b suite.ScaleRecord) float64 {
		return math.Max(a.MaxMicros, b.MaxMicros)
	})
}

func (s *scaleSet) stall(e string, threshold float64) float64 {
	return s.perRep("fill", "overwrite", e, func(a, b suite.ScaleRecord) float64 {
		return stallMicros(a, threshold) + stallMicros(b, threshold)
	})
}

// writerRate parses readwhilewriting's "(writer: N writes, R/s)".
func writerRate(r suite.ScaleRecord) float64 {
	var n int64
	var rate float64
	if i := strings.Index(r.Message, "(writer:"); i >= 0 {
		if _, err := fmt.Sscanf(r.Message[i:], "(writer: %d writes, %f/s)", &n, &rate); err == nil {
			return rate
		}
	}
	return math.NaN()
}

var scaleRows = []struct{ label, phase string }{
	{"fillrandom (each key once)", "fill"},
	{"overwrite (on the fill's debt)", "overwrite"},
	{"readrandom, 1 thread", "readrandom-1"},
	{"readrandom, 2 threads", "readrandom-2"},
	{"seekrandom (+10 nexts), 1 thread", "seekrandom-1"},
	{"seekrandom (+10 nexts), 2 threads", "seekrandom-2"},
	{"readwhilewriting (the reader)", "readwhilewriting"},
}

// writeScale renders the "At scale" section.
func writeScale(p func(string, ...any), sd *ScaleData, chartDir, source string) error {
	sets := sd.sets()
	if len(sets) == 0 {
		return nil
	}
	last := sd.Runs[len(sd.Runs)-1]
	h := &last.Header
	p("## 4. At scale\n\n")
	shown := filepath.ToSlash(source)
	if !filepath.IsAbs(source) {
		shown = "bench/" + shown
	}
	p("<!-- Generated from `%s` (`go run . render --scale %s`); edit bench/render, not this section. -->\n\n", shown, filepath.ToSlash(source))
	if h.Plan.Mode == "quick" {
		p("> **Quick mode.** These figures come from `go run . scale --quick`: tiny sizes, 4 MiB memtables, reads by count.\n")
		p("> They show that every engine goes through every phase; they do not rank the engines.\n\n")
	}
	p("Issue 28: data larger than memory, sustained writes, both cores. Regenerated by `cd bench && go run . scale`\n")
	p("(see [bench/README.md](../bench/README.md#at-scale)); the runs on this page:\n\n")
	for _, run := range sd.Runs {
		var ids []string
		var gave []string // engines this run gives figures for, across its sets
		seen := map[string]bool{}
		for _, s := range sets {
			for _, e := range s.engines {
				if s.from[e] != run {
					continue
				}
				if len(ids) == 0 || ids[len(ids)-1] != s.set.ID {
					ids = append(ids, s.set.ID)
				}
				if !seen[e] {
					seen[e] = true
					gave = append(gave, e)
				}
			}
		}
		if len(ids) == 0 {
			continue
		}
		took := ""
		if run.End != nil {
			took = fmt.Sprintf(", took %s", run.End.Finished.Sub(run.Header.Started).Round(60e9))
		}
		var strata string
		for _, e := range run.Header.Engines {
			if e.Name == "strata" {
				strata = "; Strata " + e.Version
			}
		}
		p("- `%s` (sets %s; figures of %s): started %s%s, %d repetition(s)%s.\n", run.Header.Command, strings.Join(ids, ", "),
			strings.Join(gave, ", "), run.Header.Started.Format("2006-01-02 15:04 MST"), took, run.Header.Plan.Reps, strata)
	}
	p("\n")
	m, d := h.Machine, h.Disk
	p("**How.** Every phase below is one process per engine (`bench/launcher` starts it and reports its peak RSS and\n")
	p("its `/proc/PID/io`), and all engines run a phase in turn before the next phase starts, each on its own database,\n")
	p("which stays on disk between phases. With a memory limit, each step runs in a memory control group of its own\n")
	p("(%s) whose limit also charges the step's page cache: the launcher joins the group before it starts the\n", h.Cgroup)
	p("engine, so every page the engine touches, its files' pages included, counts; the data does not fit, so reads miss\n")
	p("the page cache and go to the disk. Before the fill and before every read phase the runner syncs and drops the\n")
	p("page cache (`echo 3 > /proc/sys/vm/drop_caches`), so reads start cold. The machine: %d × %s, %s MiB of memory,\n",
		m.Cores, m.CPU, commas(int(m.MemoryMiB)))
	rot := "`rotational` 0"
	if d.Rotational {
		rot = "`rotational` 1 (as the kernel reports it: a virtual disk says 1 whatever backs it)"
	}
	p("%s; the disk: %s, %s, `read_ahead_kb` %d, scheduler `%s`; kernel %s, %s.\n\n", m.OS, m.Filesystem, rot, d.ReadAheadKB, d.Scheduler, m.Kernel, m.Go)
	pl := h.Plan
	p("**Settings** (every engine, as in the sections above unless stated): 16-byte keys, 100-byte values (half\n")
	p("compressible), bloom filters of 10 bits per key, snappy, 64 MiB memtable (`--write_buffer_size`), 4 KiB blocks,\n")
	p("WAL on and not synced, seed 1000; the block cache as each set says. Phases, in order, on one database per engine:\n\n")
	p("1. **fill**: `filluniquerandom`, N keys each once into an empty database.\n")
	p("2. **overwrite**: `overwrite` (N random keys, so about 63%% of them once or more) straight on the debt the fill left, then\n")
	p("   `waitforcompaction` in the same process (settling: the step's wall time less the overwrite's).\n")
	p("   **settle**: the database reopened and `waitforcompaction` again, so that what an engine does on opening (replaying\n")
	p("   its log into a memtable, flushing it, compacting) happens here and not in the first read phase, whose cold page\n")
	p("   cache it would warm.\n")
	readHow := fmt.Sprintf("for %d s", pl.ReadSeconds)
	if pl.ReadSeconds == 0 {
		readHow = fmt.Sprintf("of %s reads per thread", commas(pl.Reads))
	}
	waitFirst := " after `waitforcompaction`"
	if len(pl.Phases) > 2 && pl.Phases[2].Benchmarks[0] != "waitforcompaction" {
		waitFirst = ""
	}
	p("3. **readrandom** and **seekrandom** (`--seek_nexts=10`), each with 1 and then 2 threads, each a process %s%s,\n", readHow, waitFirst)
	p("   the page cache dropped before it. (A step's bytes read from the disk include loading the program itself after\n")
	p("   the drop: 10 to 30 MiB.)\n")
	rwwHow := fmt.Sprintf("for %d s", pl.RWWSeconds)
	if pl.RWWSeconds == 0 {
		rwwHow = fmt.Sprintf("for %s reads", commas(pl.Reads))
	}
	p("4. **readwhilewriting**: one reader %s against one writer held to %s writes/s\n", rwwHow, commas(pl.RWWWritesPerSec))
	p("   (`--benchmark_write_rate_limit=%d`, bytes of key and value per second: RocksDB's flag, implemented the same way in\n", pl.RWWWritesPerSec*116)
	p("   the Go and C++ drivers); the reader's latency percentiles. The writer's kept rate is checked below where the\n")
	p("   driver reports it (Go engines, C++ LevelDB; RocksDB's db_bench does not).\n")
	p("5. **compact**: a full compaction, whose size on disk is the live data's in the engine's own format.\n\n")
	p("**Figures.** *Write amplification*: bytes the fill, overwrite and settle processes caused to\n")
	p("be written to storage ÷ the user bytes written (operations × 116). The bytes are the kernel's meter of\n")
	p("`/proc/PID/io`, the same for every engine whether it writes with `write` or through a mapping: `write_bytes`\n")
	p("(pages as they are dirtied) less `cancelled_write_bytes` (dirty pages dropped unwritten because their file was\n")
	p("deleted or truncated first), which the kernel's documentation (`Documentation/filesystems/proc.rst`) defines as\n")
	p("what the process caused to reach storage. The difference is mostly the write-ahead log: with `sync` off an engine\n")
	p("that deletes a log after its memtable's flush (Strata, LevelDB, RocksDB) may delete it before writeback, while one\n")
	p("that recycles its logs (Pebble) rewrites pages that were written. Both figures are in the table, and the gross\n")
	p("ratio beside the net one.\n")
	p("*Space amplification*: the database's size on disk (allocated blocks) after the settle phase closed it ÷ its size\n")
	p("after the full compaction. *Stalls*: from each write's latency (every\n")
	p("driver's histogram, on RocksDB's bucket limits): the longest single write, and the time spent in writes slower\n")
	p("than %.2f ms (where LevelDB's 1 ms slowdown sleeps and RocksDB's write delays land) and than %.1f ms (waits for a\n", stallSlow/1000, stallStop/1000)
	p("flush or a compaction), estimated as bucket count × bucket midpoint. *Other CPU*: CPU time the rest of the machine\n")
	p("used during a step (`/proc/stat` less the step's own): another job disturbing the step.\n\n")
	p("Engines (versions and every setting difference: [Engines and settings](#engines-and-settings)):")
	shownEngine := map[string]bool{}
	for _, s := range sets {
		for _, e := range s.engines {
			if shownEngine[e] {
				continue
			}
			shownEngine[e] = true
			for _, he := range s.from[e].Header.Engines {
				if he.Name == e {
					p(" %s %s;", he.Name, he.Version)
				}
			}
		}
	}
	p(" RocksDB is Debian's `db_bench` built with assertions on (it prints \"Assertions are enabled\"), which understates\n")
	p("it; its other options are db_bench 7.8.3's defaults (2 background jobs, `max_open_files` -1: every table's index\n")
	p("and filter held in memory outside the block cache).\n\n")
	skipped := map[string]string{}
	for _, run := range sd.Runs {
		for n, why := range run.Header.Skipped {
			if !shownEngine[n] {
				skipped[n] = why
			}
		}
	}
	if len(skipped) > 0 {
		var names []string
		for n := range skipped {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p("Not run: %s (%s).\n", n, skipped[n])
		}
		p("\n")
	}
	for i, s := range sets {
		if err := writeScaleSet(p, s, i+1, chartDir); err != nil {
			return err
		}
	}
	return nil
}

func (s *scaleSet) title() string {
	t := fmt.Sprintf("%s entries", commas(s.set.Num))
	if s.set.MemLimit > 0 {
		return t + fmt.Sprintf(" in a %s MiB memory cgroup (page cache included), %s MiB block cache",
			commas(int(s.set.MemLimit>>20)), commas(int(s.set.CacheSize>>20)))
	}
	return t + fmt.Sprintf(", no memory limit, %s MiB block cache", commas(int(s.set.CacheSize>>20)))
}

func writeScaleSet(p func(string, ...any), s *scaleSet, n int, chartDir string) error {
	id := s.set.ID
	p("### 4.%d %s\n\n", n, s.title())
	user := float64(s.set.Num) * 116
	p("Set `%s`: %s of user data (%s × 116 B); %d repetition(s), medians.\n\n", id, fmtBytes(user), commas(s.set.Num), s.run.Header.Plan.Reps)
	if len(s.runs) > 1 {
		p("This set's figures come from %d runs (listed above): engines of different runs ran at different times, not\n", len(s.runs))
		p("by turns, so compare their throughput and latency with that in mind (bytes depend on timing much less).\n\n")
	}
	engines := s.engines
	p("Operations per second, and the ratio to Strata:\n\n")
	p("| phase |%s\n|---|%s\n", headerCells(engines), strings.Repeat("---|", len(engines)))
	for _, row := range scaleRows {
		p("| %s |", row.label)
		strata := s.ops(row.phase, "strata")
		for _, e := range engines {
			p(" %s |", withRatio(s.ops(row.phase, e), strata, e == "strata", fmtOps))
		}
		p("\n")
	}
	p("\n")
	p("| figure |%s\n|---|%s\n", headerCells(engines), strings.Repeat("---|", len(engines)))
	row := func(label string, f func(e string) string) {
		p("| %s |", label)
		for _, e := range engines {
			p(" %s |", f(e))
		}
		p("\n")
	}
	ratio := func(a, b string) func(e string) string {
		return func(e string) string {
			x, y := s.ops(a, e), s.ops(b, e)
			if math.IsNaN(x) || math.IsNaN(y) || y == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f×", x/y)
		}
	}
	row("readrandom 2 threads ÷ 1 thread", ratio("readrandom-2", "readrandom-1"))
	row("seekrandom 2 threads ÷ 1 thread", ratio("seekrandom-2", "seekrandom-1"))
	row("readwhilewriting reader P50 / P99 / P99.9 (µs)", func(e string) string {
		pc := func(name string) float64 {
			return s.med("readwhilewriting", e, func(r suite.ScaleRecord) float64 { return pct2(r.Percentiles, name) })
		}
		return fmt.Sprintf("%s / %s / %s", fmtMicros(pc("P50")), fmtMicros(pc("P99")), fmtMicros(pc("P99.9")))
	})
	row("readwhilewriting writer's kept rate (writes/s)", func(e string) string {
		v := s.med("readwhilewriting", e, writerRate)
		if math.IsNaN(v) {
			return "not reported"
		}
		return commas(int(v + 0.5))
	})
	row("longest write, fill and overwrite (ms)", func(e string) string { return fmtMillis(s.longestWrite(e)) })
	row(fmt.Sprintf("time in writes > %.2f ms (s)", stallSlow/1000), func(e string) string { return fmtSeconds(s.stall(e, stallSlow) / 1e6) })
	row(fmt.Sprintf("time in writes > %.1f ms (s)", stallStop/1000), func(e string) string { return fmtSeconds(s.stall(e, stallStop) / 1e6) })
	row("settling: after the overwrite / on reopening (s)", func(e string) string {
		a := s.med("overwrite", e, func(r suite.ScaleRecord) float64 { return r.Step.Seconds - r.Seconds })
		b := s.med("settle", e, func(r suite.ScaleRecord) float64 { return r.Step.Seconds })
		return fmtSeconds(a) + " / " + fmtSeconds(b)
	})
	row("write amplification (fill + overwrite + settle): net (gross)", func(e string) string {
		return fmtRatio(s.writeAmp(e, netWriteBytes)) + " (" + fmtRatio(s.writeAmp(e, writeBytes)) + ")"
	})
	row("bytes written: `write_bytes` − `cancelled_write_bytes` = net (GiB)", func(e string) string {
		return fmtGiB(s.written(e, writeBytes)) + " − " + fmtGiB(s.written(e, cancelledBytes)) + " = " + fmtGiB(s.written(e, netWriteBytes))
	})
	row("space amplification (settled ÷ compacted)", func(e string) string { return fmtRatio(s.spaceAmp(e)) })
	row("on disk: settled / compacted (MiB)", func(e string) string {
		a := s.med(s.settledPhase(e), e, func(r suite.ScaleRecord) float64 { return float64(r.Step.DiskAllocBytes) })
		b := s.med("compact", e, func(r suite.ScaleRecord) float64 { return float64(r.Step.DiskAllocBytes) })
		return fmtMiB(a) + " / " + fmtMiB(b)
	})
	row("compacted ÷ user data", func(e string) string {
		return fmtRatio(s.med("compact", e, func(r suite.ScaleRecord) float64 { return float64(r.Step.DiskAllocBytes) / user }))
	})
	row("full compaction (s)", func(e string) string {
		return fmtSeconds(s.med("compact", e, func(r suite.ScaleRecord) float64 { return r.Seconds }))
	})
	row("read from disk per readrandom, 1 thread (KiB)", func(e string) string {
		return fmtKiB(s.med("readrandom-1", e, func(r suite.ScaleRecord) float64 {
			if r.Ops == 0 {
				return math.NaN()
			}
			return float64(r.Step.ReadBytes) / float64(r.Ops)
		}))
	})
	row("read from disk per seekrandom, 1 thread (KiB)", func(e string) string {
		return fmtKiB(s.med("seekrandom-1", e, func(r suite.ScaleRecord) float64 {
			if r.Ops == 0 {
				return math.NaN()
			}
			return float64(r.Step.ReadBytes) / float64(r.Ops)
		}))
	})
	if s.set.MemLimit > 0 {
		row("peak memory charged to the cgroup, largest phase (MiB)", func(e string) string {
			return fmtMiB(s.maxOver(e, func(r suite.ScaleRecord) float64 {
				if r.Step.Cgroup == nil {
					return math.NaN()
				}
				return float64(r.Step.Cgroup.Peak)
			}))
		})
	}
	row("peak RSS, largest phase (MiB)", func(e string) string {
		return fmtMiB(s.maxOver(e, func(r suite.ScaleRecord) float64 { return float64(r.Step.PeakRSS) }))
	})
	row("other CPU during the steps, largest (s)", func(e string) string {
		return fmtSeconds(s.maxOver(e, func(r suite.ScaleRecord) float64 { return r.Step.OtherCPU }))
	})
	p("\n")

	// Charts: throughput over time, one panel per engine; ratios to Strata.
	file := "scale-" + id + "-series.png"
	if err := seriesChart(filepath.Join(chartDir, file),
		fmt.Sprintf("%s: fill, then overwrite: ops/s per second", id), engines,
		func(e string) (fill, over []float64) {
			first := func(phase string) []float64 {
				rs := s.recs[[2]string{phase, e}]
				if len(rs) == 0 {
					return nil
				}
				var out []float64
				for _, v := range rs[0].Series {
					out = append(out, float64(v))
				}
				return out
			}
			return first("fill"), first("overwrite")
		}); err != nil {
		return err
	}
	p("Throughput over time (repetition 1; each point one second of `--report_interval_seconds=1`; the dashed line is\n")
	p("where the fill's process ended and the overwrite's began; a stall shows as a drop to the axis):\n\n")
	p("![%s throughput over time](benchmarks/%s)\n\n", id, file)
	var labels []string
	for _, r := range scaleRows {
		labels = append(labels, strings.SplitN(strings.SplitN(r.label, " (", 2)[0], ",", 2)[0]+phaseSuffix(r.phase))
	}
	rfile := "scale-" + id + "-ratios.png"
	if err := ratioChart(filepath.Join(chartDir, rfile), id+": throughput relative to Strata", labels, engines,
		func(i int, e string) float64 {
			return s.ops(scaleRows[i].phase, e) / s.ops(scaleRows[i].phase, "strata")
		}); err != nil {
		return err
	}
	p("![%s throughput relative to Strata](benchmarks/%s)\n\n", id, rfile)
	writeScaleTargets(p, s)
	writeScaleSteps(p, s)
	return nil
}

func phaseSuffix(phase string) string {
	switch {
	case strings.HasSuffix(phase, "-1"):
		return " 1t"
	case strings.HasSuffix(phase, "-2"):
		return " 2t"
	}
	return ""
}

// maxOver is the largest f over every phase's records of e.
func (s *scaleSet) maxOver(e string, f func(r suite.ScaleRecord) float64) float64 {
	v := math.NaN()
	for k, rs := range s.recs {
		if k[1] != e {
			continue
		}
		for _, r := range rs {
			if x := f(r); !math.IsNaN(x) && (math.IsNaN(v) || x > v) {
				v = x
			}
		}
	}
	return v
}

// writeScaleTargets checks issue 28's targets against the set's medians.
func writeScaleTargets(p func(string, ...any), s *scaleSet) {
	var peers []string
	for _, e := range s.engines {
		if e != "strata" {
			peers = append(peers, e)
		}
	}
	if len(peers) == 0 || len(s.recs) == 0 {
		return
	}
	mark := func(ok bool) string {
		if ok {
			return "✅"
		}
		return "❌"
	}
	p("Issue 28's targets on this set (✅ met, ❌ missed; the issue states them for 50M entries):\n\n")
	p("| target | Strata | best peer | met |\n|---|---|---|---|\n")
	best := func(f func(e string) float64, higher bool) (string, float64) {
		name, v := "", math.NaN()
		for _, e := range peers {
			x := f(e)
			if !math.IsNaN(x) && (math.IsNaN(v) || (higher && x > v) || (!higher && x < v)) {
				name, v = e, x
			}
		}
		return name, v
	}
	for _, r := range scaleRows {
		st := s.ops(r.phase, "strata")
		name, v := best(func(e string) float64 { return s.ops(r.phase, e) }, true)
		if math.IsNaN(st) || name == "" {
			continue
		}
		p("| %s ≥ best peer | %s | %s (%s) | %s |\n", r.label, fmtOps(st), fmtOps(v), name, mark(st >= v))
	}
	if one, two := s.ops("readrandom-1", "strata"), s.ops("readrandom-2", "strata"); !math.IsNaN(one) && !math.IsNaN(two) {
		name, v := best(func(e string) float64 { return s.ops("readrandom-2", e) / s.ops("readrandom-1", e) }, true)
		p("| readrandom 2 threads ≥ 1.8 × 1 thread | %.2f× | %.2f× (%s) | %s |\n", two/one, v, name, mark(two >= 1.8*one))
	}
	if w := s.writeAmp("strata", netWriteBytes); !math.IsNaN(w) {
		pw := s.writeAmp("pebble", netWriteBytes)
		p("| write amplification (net) ≤ Pebble's | %s | %s (pebble) | %s |\n", fmtRatio(w), fmtRatio(pw), mark(!math.IsNaN(pw) && w <= pw))
	}
	if sa := s.spaceAmp("strata"); !math.IsNaN(sa) {
		name, v := best(s.spaceAmp, false)
		p("| space amplification ≤ 1.15 | %s | %s (%s) | %s |\n", fmtRatio(sa), fmtRatio(v), name, mark(sa <= 1.15))
	}
	if lw := s.longestWrite("strata"); !math.IsNaN(lw) {
		name, v := best(s.longestWrite, false)
		p("| no write stall > 1 s (longest write) | %s ms | %s ms (%s) | %s |\n", fmtMillis(lw), fmtMillis(v), name, mark(lw <= 1e6))
	}
	p99 := func(e string) float64 {
		return s.med("readwhilewriting", e, func(r suite.ScaleRecord) float64 { return pct2(r.Percentiles, "P99") })
	}
	if sp := p99("strata"); !math.IsNaN(sp) {
		name, v := best(p99, false)
		p("| readwhilewriting P99 ≤ best peer's | %s µs | %s µs (%s) | %s |\n", fmtMicros(sp), fmtMicros(v), name, mark(!math.IsNaN(v) && sp <= v))
	}
	p("\n")
}

// writeScaleSteps lists every step, collapsed, and the set's failures.
func writeScaleSteps(p func(string, ...any), s *scaleSet) {
	if len(s.fails) > 0 {
		p("Failures:\n\n| engine | phase | rep | error |\n|---|---|---|---|\n")
		for _, f := range s.fails {
			p("| %s | %s | %d | %s |\n", f.Engine, f.Phase, f.Rep, strings.ReplaceAll(f.Error, "|", "\\|"))
		}
		p("\n")
	}
	p("<details><summary>Every step of set %s</summary>\n\n", s.set.ID)
	p("| engine | phase | rep | ops/s | seconds (benchmark / process) | written / cancelled (MiB) | read (MiB) | cgroup peak (MiB) | peak RSS (MiB) | CPU (s, user + sys) | other CPU (s) | disk after (MiB) |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var phases []string
	for _, ph := range s.run.Header.Plan.Phases {
		phases = append(phases, ph.Name)
	}
	for _, e := range s.engines {
		for _, ph := range phases {
			for _, r := range s.recs[[2]string{ph, e}] {
				cg := "—"
				if r.Step.Cgroup != nil {
					cg = fmtMiB(float64(r.Step.Cgroup.Peak))
				}
				p("| %s | %s | %d | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s |\n", e, ph, r.Rep, fmtOps(r.OpsPerSec),
					fmtSeconds(r.Seconds), fmtSeconds(r.Step.Seconds), fmtMiB(float64(r.Step.WriteBytes))+" / "+fmtMiB(float64(r.Step.CancelledWriteBytes)), fmtMiB(float64(r.Step.ReadBytes)),
					cg, fmtMiB(float64(r.Step.PeakRSS)), fmtSeconds(r.Step.UserCPU+r.Step.SysCPU), fmtSeconds(r.Step.OtherCPU),
					fmtMiB(float64(r.Step.DiskAllocBytes)))
			}
		}
	}
	p("\n</details>\n\n")
}

func pct2(m map[string]float64, name string) float64 {
	if v, ok := m[name]; ok {
		return v
	}
	return math.NaN()
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtMillis(us float64) string {
	if math.IsNaN(us) {
		return "—"
	}
	ms := us / 1000
	switch {
	case ms >= 100:
		return commas(int(ms + 0.5))
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.2f", ms)
}

func fmtGiB(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.2f", v/(1<<30))
}

func fmtKiB(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	if v >= 100*1024 {
		return commas(int(v/1024 + 0.5))
	}
	return fmt.Sprintf("%.1f", v/1024)
}

func fmtBytes(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f GB", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1f MB", v/1e6)
	}
	return fmt.Sprintf("%.0f kB", v/1e3)
}
