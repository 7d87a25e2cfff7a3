package render

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-db/strata/bench/suite"
)

// Merges is what the "Merges and range deletions" section is rendered
// from: the merge set's results (from the main results file when it ran
// the set, else from a file of its own) and the root package's Go
// benchmarks of issue 23 (go test -bench output).
type Merges struct {
	Data   *Data  // results with the "merge" set; nil: the main file's, if any
	Source string // Data's file, for the page
	// GoBench is `go test -bench` output, each run preceded by a "$ command"
	// line; GoBenchSource its file.
	GoBench       []MergeGoBenchRun
	GoBenchSource string
}

// MergeGoBenchRun is one `go test -bench` command and its results.
type MergeGoBenchRun struct {
	Command string
	NsPerOp map[string][]float64 // by benchmark name without the -GOMAXPROCS suffix
	// CPUNsPerOp is the benchmarks' "cpu-ns/op" metric (the process's CPU
	// time per operation), where they report it.
	CPUNsPerOp map[string][]float64
	Order      []string // names in first-seen order
}

var (
	mergeGoBenchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)
	mergeGoBenchCPU  = regexp.MustCompile(`\s([\d.]+) cpu-ns/op`)
)

// LoadMergeGoBench reads `go test -bench` output in which each command's output
// follows a line "$ COMMAND".
func LoadMergeGoBench(r io.Reader) ([]MergeGoBenchRun, error) {
	var runs []MergeGoBenchRun
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if cmd, ok := strings.CutPrefix(text, "$ "); ok {
			runs = append(runs, MergeGoBenchRun{Command: cmd, NsPerOp: map[string][]float64{}, CPUNsPerOp: map[string][]float64{}})
			continue
		}
		m := mergeGoBenchLine.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		if len(runs) == 0 {
			return nil, fmt.Errorf("line %d: a result before any \"$ command\" line", line)
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		run := &runs[len(runs)-1]
		if _, ok := run.NsPerOp[m[1]]; !ok {
			run.Order = append(run.Order, m[1])
		}
		run.NsPerOp[m[1]] = append(run.NsPerOp[m[1]], v)
		if c := mergeGoBenchCPU.FindStringSubmatch(text); c != nil {
			cpu, err := strconv.ParseFloat(c[1], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			run.CPUNsPerOp[m[1]] = append(run.CPUNsPerOp[m[1]], cpu)
		}
	}
	return runs, sc.Err()
}

// hasMergeSet reports whether d ran the merge set.
func hasMergeSet(d *Data) bool {
	if d == nil {
		return false
	}
	for _, w := range d.Header.Plan.Workloads {
		if w.Set == "merge" {
			return true
		}
	}
	return false
}

// writeMerges renders the section from m, or from main if it ran the set.
func writeMerges(p func(string, ...any), main *Data, mainSource string, m *Merges) {
	d, source := main, mainSource
	if !hasMergeSet(d) && m != nil {
		d, source = m.Data, m.Source
	}
	if !hasMergeSet(d) && (m == nil || len(m.GoBench) == 0) {
		return
	}
	p("## Merges and range deletions\n\n")
	p("Issue 23's merge operator and range deletions, with RocksDB's db_bench names and flags, on the engines that have\n")
	p("them, then the root package's Go benchmarks of the two read paths.\n\n")
	if hasMergeSet(d) {
		writeMergeSet(p, d, source, source != mainSource)
	}
	if m != nil && len(m.GoBench) > 0 {
		writeMergeGoBench(p, m)
	}
}

func writeMergeSet(p func(string, ...any), d *Data, source string, own bool) {
	h := &d.Header
	t := index(d)
	if own {
		shown := filepath.ToSlash(source)
		if !filepath.IsAbs(source) {
			shown = "bench/" + shown
		}
		p("<!-- Generated from `%s`; edit bench/render, not this section. -->\n\n", shown)
		p("From a run of its own, `%s`, started %s (results in `%s`): engines interleaved within each\n", h.Command, h.Started.Format("2006-01-02 15:04 MST"), shown)
		p("repetition (the first rotating), each step a process, each cell the **median of %d repetition(s)**; the machine,\n", h.Plan.Reps)
		p("settings and engine notes are those above. The same again, then this page:\n\n")
		p("```sh\ncd bench && %s && go run . render\n```\n\n", h.Command)
		p("How each engine of that run does merges and range deletions:\n\n")
		for _, e := range h.Engines {
			var notes []string
			for _, n := range e.Notes {
				if rest, ok := strings.CutPrefix(n, "Merges:"); ok {
					notes = append([]string{strings.TrimSpace(rest)}, notes...)
				} else if strings.Contains(strings.ToLower(n), "assertion") {
					notes = append(notes, n) // what the numbers of a debug build mean
				}
			}
			if len(notes) > 0 {
				p("- **%s** (%s): %s\n", e.Name, e.Version, strings.Join(notes, " "))
			}
		}
		p("\n")
	} else {
		p("From the run above (`--sets merge`), each cell the median of %d repetition(s).\n\n", h.Plan.Reps)
	}
	if h.Plan.Mode == "quick" {
		p("> **Quick mode**: small sizes; these figures do not rank the engines.\n\n")
	}
	var ran []string
	for _, e := range h.Engines {
		var skipped []string
		for _, w := range h.Plan.Workloads {
			if w.Set == "merge" {
				if why := e.Cannot(&w); why != "" && !slices.Contains(skipped, why) {
					skipped = append(skipped, why)
				}
			}
		}
		if len(skipped) > 0 {
			p("- **%s**: not run: %s.\n", e.Name, strings.Join(skipped, "; "))
			continue
		}
		if e.Name != "strata-cli" {
			ran = append(ran, e.Name)
		}
	}
	if len(ran) < len(h.Engines) {
		p("\n")
	}
	w := findWorkload(h.Plan, "mergerandom")
	if w != nil {
		p("### Merges\n\n")
		p("`mergerandom`: %s merges of the integer 1 (8 bytes, little-endian) into random keys below %s, with\n", commas(w.Num), commas(w.Num))
		p("`--merge_operator=uint64add --value_size=%d` (RocksDB merges `--value_size` bytes of its value generator: the same size).\n", w.ValueSize)
		p("Then, each in a new process after waitforcompaction: `readrandom`, Gets of the merged keys (waitforcompaction takes no\n")
		p("seed, so both drivers read the very keys mergerandom drew: every read finds a value), and `readrandommergerandom`\n")
		p("(`--mergereadpercent=70`: as RocksDB counts it, 70%% of the operations are merges, 30%% Gets).\n\n")
		rows := []row{
			{"mergerandom", "mergerandom", "mergerandom"},
			{"readrandom (merged keys)", "mergerandom", "readrandom"},
			{"readrandommergerandom (70% merges)", "mergerandom", "readrandommergerandom"},
		}
		writeOpsRows(p, t, ran, rows)
		p("Latency (µs, P50 / P99 / P99.9, medians):\n\n")
		p("| benchmark |%s\n|---|%s\n", headerCells(ran), strings.Repeat("---|", len(ran)))
		for _, r := range rows[:2] {
			p("| %s |", r.label)
			for _, e := range ran {
				p(" %s |", latencies(t.get(r.workload, r.bench, e)))
			}
			p("\n")
		}
		p("\n")
		p("What each engine's runs did (first repetition): readrandom's reads found, readrandommergerandom's message:\n\n")
		p("| engine | readrandom found | readrandommergerandom |\n|---|---|---|\n")
		for _, e := range ran {
			rr, rm := first(t.get("mergerandom", "readrandom", e)), first(t.get("mergerandom", "readrandommergerandom", e))
			found, msg := "—", "—"
			if rr != nil {
				found = fmt.Sprintf("%s of %s", commas(int(rr.Found)), commas(int(rr.Reads)))
			}
			if rm != nil {
				msg = "`" + rm.Message + "`"
			}
			p("| %s | %s | %s |\n", e, found, msg)
		}
		p("\n")
		s := t.get("mergerandom", "mergerandom", "strata").median(opsPerSec)
		name, v := bestPeer(t, ran, "mergerandom", "mergerandom")
		if !math.IsNaN(s) && name != "" {
			verdict := "✅ met"
			if s < v {
				verdict = "❌ not met"
			}
			p("**Target: Strata's mergerandom ≥ the best peer's**: %s against %s (%s), %.2f× (medians): %s.", fmtOps(s), fmtOps(v), name, s/v, verdict)
			if rr := repRatios(t, "mergerandom", "mergerandom", "strata", name); len(rr) > 0 {
				var parts []string
				for _, x := range rr {
					parts = append(parts, fmt.Sprintf("%.2f", x))
				}
				p(" Strata ÷ %s within each repetition: %s (median %.2f×).", name, strings.Join(parts, ", "), median(rr))
			}
			p("\n\n")
		}
	}
	if w := findWorkload(h.Plan, "deleterange"); w != nil {
		p("### Range deletions\n\n")
		f := w.Steps[0].Flags
		p("RocksDB's db_bench has no range-deletion benchmark: its write benchmarks write range deletions when\n")
		p("`--writes_per_range_tombstone` is set, and so does the Go driver (`tools/dbbench`, the same rule). `deleterange` is\n")
		p("`filluniquerandom` of %s entries with `--writes_per_range_tombstone=%s --range_tombstone_width=%s\n", commas(w.Num), f["writes_per_range_tombstone"], f["range_tombstone_width"])
		p("--max_num_range_tombstones=%s` (a range deletion of %s keys after every %s writes, its start drawn like the keys),\n", f["max_num_range_tombstones"], f["range_tombstone_width"], f["writes_per_range_tombstone"])
		p("then, each in a new process after waitforcompaction, `readrandom` and `seekrandom` (+%s nexts) across them;\n", h.Plan.Common["seek_nexts"])
		p("`deleterange-none` is the same without range deletions. Operations per second (median), ratio to Strata:\n\n")
		var rows []row
		for _, b := range []struct{ label, bench string }{
			{"filluniquerandom", "filluniquerandom"}, {"readrandom", "readrandom"}, {"seekrandom (+10 nexts)", "seekrandom"},
		} {
			rows = append(rows, row{b.label + ", with range deletions", "deleterange", b.bench},
				row{b.label + ", without", "deleterange-none", b.bench})
		}
		writeOpsRows(p, t, ran, rows)
		p("The cost of the range deletions: each engine's throughput with them ÷ without (1.00: no cost), and what the\n")
		p("reads found (first repetition; RocksDB draws its keys and deletions with another generator):\n\n")
		p("| |%s\n|---|%s\n", headerCells(ran), strings.Repeat("---|", len(ran)))
		for _, b := range []string{"filluniquerandom", "readrandom", "seekrandom"} {
			p("| %s with ÷ without |", b)
			for _, e := range ran {
				with := t.get("deleterange", b, e).median(opsPerSec)
				without := t.get("deleterange-none", b, e).median(opsPerSec)
				if math.IsNaN(with) || math.IsNaN(without) || without == 0 {
					p(" — |")
					continue
				}
				p(" %.2f |", with/without)
			}
			p("\n")
		}
		p("| range deletions written |")
		for _, e := range ran {
			if r := first(t.get("deleterange", "filluniquerandom", e)); r != nil {
				p(" %s |", commas(r.RangeDeletions))
			} else {
				p(" — |")
			}
		}
		p("\n")
		for _, b := range []string{"readrandom", "seekrandom"} {
			p("| %s found |", b)
			for _, e := range ran {
				if r := first(t.get("deleterange", b, e)); r != nil && r.Reads > 0 {
					p(" %.1f%% |", 100*float64(r.Found)/float64(r.Reads))
				} else {
					p(" — |")
				}
			}
			p("\n")
		}
		p("\n")
	}
	if own {
		writeFailures(p, t, h)
		p("<details><summary>ops/s of each repetition, in run order</summary>\n\n")
		writeRawTable(p, t, d)
		p("\n</details>\n\n")
	}
}

// writeOpsRows writes a table of median ops/s with the ratio to Strata,
// then how far apart the repetitions of its cells are: on a shared machine
// the spread says how much a median can be trusted.
func writeOpsRows(p func(string, ...any), t *table, engines []string, rows []row) {
	p("| benchmark |%s\n|---|%s\n", headerCells(engines), strings.Repeat("---|", len(engines)))
	worst, where := 0.0, ""
	var spreads []float64
	for _, r := range rows {
		p("| %s |", r.label)
		strata := t.get(r.workload, r.bench, "strata").median(opsPerSec)
		for _, e := range engines {
			c := t.get(r.workload, r.bench, e)
			p(" %s |", withRatio(c.median(opsPerSec), strata, e == "strata", fmtOps))
			if c == nil || len(c.recs) < 2 {
				continue
			}
			lo, hi := math.Inf(1), 0.0
			for _, rec := range c.recs {
				lo, hi = min(lo, rec.OpsPerSec), max(hi, rec.OpsPerSec)
			}
			if lo > 0 {
				spreads = append(spreads, hi/lo)
				if hi/lo > worst {
					worst, where = hi/lo, fmt.Sprintf("%s, %s", e, r.label)
				}
			}
		}
		p("\n")
	}
	p("\n")
	if len(spreads) > 0 {
		p("Spread of the repetitions (fastest ÷ slowest of one cell): median %.2f×, at most %.2f× (%s).\n\n", median(spreads), worst, where)
	}
}

// repRatios returns, repetition by repetition, engine a's ops/s ÷ engine
// b's on one benchmark: engines of one repetition ran minutes apart, so
// these ratios resist the machine's load better than a ratio of medians.
func repRatios(t *table, workload, bench, a, b string) []float64 {
	ca, cb := t.get(workload, bench, a), t.get(workload, bench, b)
	if ca == nil || cb == nil {
		return nil
	}
	byRep := map[int]float64{}
	for _, r := range cb.recs {
		byRep[r.Rep] = r.OpsPerSec
	}
	var out []float64
	for _, r := range ca.recs {
		if v, ok := byRep[r.Rep]; ok && v > 0 {
			out = append(out, r.OpsPerSec/v)
		}
	}
	return out
}

// bestPeer returns the fastest engine other than Strata on a benchmark.
func bestPeer(t *table, engines []string, workload, bench string) (string, float64) {
	name, v := "", math.NaN()
	for _, e := range engines {
		if e == "strata" || e == "strata-cli" {
			continue
		}
		x := t.get(workload, bench, e).median(opsPerSec)
		if !math.IsNaN(x) && (math.IsNaN(v) || x > v) {
			name, v = e, x
		}
	}
	return name, v
}

// first returns a cell's first repetition, or nil.
func first(c *cell) *suite.Record {
	if c == nil || len(c.recs) == 0 {
		return nil
	}
	return &c.recs[0]
}

// goBenchRatio is one line of the Go benchmarks' table: a case, its
// baseline and the target ratio.
type goBenchRatio struct {
	label, name, base string
	target            float64
}

func writeMergeGoBench(p func(string, ...any), m *Merges) {
	p("### Go benchmarks of the read paths\n\n")
	shown := filepath.ToSlash(m.GoBenchSource)
	if !filepath.IsAbs(m.GoBenchSource) {
		shown = "bench/" + shown
	}
	p("From the repository's root on the same machine (output in `%s`), medians of each benchmark's runs over\n", shown)
	p("these commands:\n\n```sh\n")
	for _, r := range m.GoBench {
		p("%s\n", r.Command)
	}
	p("```\n\n")
	p("`-bench 'BenchmarkScanDeletedRange/keys=1000000/'` also runs the keys=10000000 cases (go test matches each part of\n")
	p("the pattern unanchored); they are in the list below. Besides ns/op (wall time), the benchmarks report\n")
	p("`cpu-ns/op`, the process's CPU time per operation: on this shared machine wall time also counts waiting for a\n")
	p("core, so the verdicts use the CPU ratio (the wall ratio is beside it).\n\n")
	all, cpu := map[string][]float64{}, map[string][]float64{}
	var order []string
	for _, r := range m.GoBench {
		for _, n := range r.Order {
			if _, ok := all[n]; !ok {
				order = append(order, n)
			}
			all[n] = append(all[n], r.NsPerOp[n]...)
			cpu[n] = append(cpu[n], r.CPUNsPerOp[n]...)
		}
	}
	var lines []goBenchRatio
	for _, succ := range []string{"8", "off"} {
		for _, where := range []string{"memtable", "flushed"} {
			pre := "BenchmarkGetMerged/successive=" + succ + "/" + where + "/"
			place := "all in the memtable"
			if where == "flushed" {
				place = "flushed to a table"
			}
			label := fmt.Sprintf("Get of a key merged 100 times, %s, `MaxSuccessiveMerges` %s, ÷ a plain Get", place, succ)
			lines = append(lines, goBenchRatio{label, pre + "merged", pre + "plain05000", 2})
		}
	}
	for _, where := range []string{"memtable", "flushed"} {
		lines = append(lines, goBenchRatio{
			fmt.Sprintf("First() over 1M deleted keys (tombstone %s) ÷ over an empty range", map[string]string{"memtable": "in the memtable", "flushed": "flushed"}[where]),
			"BenchmarkScanDeletedRange/keys=1000000/tombstone=" + where, "BenchmarkScanDeletedRange/keys=1000000/empty", 1.10})
	}
	p("| case | CPU ns/op | baseline | CPU ratio | wall ns/op | baseline | wall ratio | target | met (CPU) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range lines {
		v, b := median(all[l.name]), median(all[l.base])
		cv, cb := median(cpu[l.name]), median(cpu[l.base])
		if math.IsNaN(v) || math.IsNaN(b) {
			continue
		}
		ratio := v / b
		cr := "—"
		if !math.IsNaN(cv) && !math.IsNaN(cb) {
			ratio = cv / cb
			cr = fmt.Sprintf("%.2f×", ratio)
		}
		ok := "✅"
		if ratio > l.target {
			ok = "❌"
		}
		p("| %s | %s | %s | %s | %s | %s | %.2f× | ≤ %.2f× | %s |\n", l.label, fmtNs(cv), fmtNs(cb), cr, fmtNs(v), fmtNs(b), v/b, l.target, ok)
	}
	p("\n<details><summary>every Go benchmark (median, and each run: wall ns/op / CPU ns/op)</summary>\n\n| benchmark | median | runs |\n|---|---|---|\n")
	for _, n := range order {
		var runs []string
		for i, v := range all[n] {
			s := fmtNs(v)
			if i < len(cpu[n]) {
				s += " / " + fmtNs(cpu[n][i])
			}
			runs = append(runs, s)
		}
		med := fmtNs(median(all[n]))
		if len(cpu[n]) > 0 {
			med += " / " + fmtNs(median(cpu[n]))
		}
		p("| %s | %s | %s |\n", n, med, strings.Join(runs, ", "))
	}
	p("\n</details>\n\n")
}

func fmtNs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v >= 100:
		return commas(int(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// writeRawTable lists every repetition's ops/s of d's records.
func writeRawTable(p func(string, ...any), t *table, d *Data) {
	p("| workload | benchmark | engine | ops/s by repetition |\n|---|---|---|---|\n")
	type rk struct{ w, b, e string }
	var order []rk
	seen := map[rk]bool{}
	for _, r := range d.Records {
		k := rk{r.Workload, r.Name, r.Engine}
		if r.Type == "result" && !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	slices.SortStableFunc(order, func(a, b rk) int {
		if c := strings.Compare(a.w, b.w); c != 0 {
			return c
		}
		return strings.Compare(a.b, b.b)
	})
	for _, k := range order {
		var vals []string
		for _, r := range t.get(k.w, k.b, k.e).recs {
			vals = append(vals, fmtOps(r.OpsPerSec))
		}
		p("| %s | %s | %s | %s |\n", k.w, k.b, k.e, strings.Join(vals, ", "))
	}
}
