package render

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-db/strata/bench/suite"
	"github.com/strata-db/strata/tools/dbbench"
)

// The "Transactions" section (issue 25): rendered from a transaction
// results file (go run . txn), the output of BenchmarkTxnVsBatch and a
// hand-written analysis, and spliced into benchmarks.md between markers, so
// that the rest of the page (go run . render) and this section can be
// regenerated apart.

const (
	txnBegin = "<!-- txn:begin -->"
	txnEnd   = "<!-- txn:end -->"
)

// TxnData is a loaded transaction results file.
type TxnData struct {
	Header  suite.TxnHeader
	Records []suite.TxnRecord
}

// LoadTxn reads a transaction results file: a txn-run header, then records.
func LoadTxn(r io.Reader) (*TxnData, error) {
	d := &TxnData{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		if line == 1 {
			if err := json.Unmarshal(sc.Bytes(), &d.Header); err != nil || d.Header.Type != "txn-run" {
				return nil, fmt.Errorf("line 1: not a txn-run header (%v)", err)
			}
			continue
		}
		var rec suite.TxnRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		d.Records = append(d.Records, rec)
	}
	return d, sc.Err()
}

// GoBench is `go test -bench` output: the command it came from and each
// benchmark's runs.
type GoBench struct {
	Command string
	Runs    map[string][]GoBenchRun // by name, without the -GOMAXPROCS suffix
	Order   []string
}

// GoBenchRun is one line of go test -bench output.
type GoBenchRun struct {
	NsPerOp, BytesPerOp, AllocsPerOp float64
	// CPUNsPerOp is the benchmark's cpu-ns/op metric, the process's CPU
	// time per operation (NaN without it).
	CPUNsPerOp float64
}

var goBenchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(\S+) ns/op(.*)$`)

// LoadGoBench reads go test -bench output; a line "$ command" names the
// command that produced it.
func LoadGoBench(r io.Reader) (*GoBench, error) {
	g := &GoBench{Runs: map[string][]GoBenchRun{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "$ "); ok {
			g.Command = c
			continue
		}
		m := goBenchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		run := GoBenchRun{CPUNsPerOp: math.NaN()}
		var err error
		if run.NsPerOp, err = strconv.ParseFloat(m[3], 64); err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		f := strings.Fields(m[4])
		for i := 1; i < len(f); i++ {
			v, _ := strconv.ParseFloat(f[i-1], 64)
			switch f[i] {
			case "B/op":
				run.BytesPerOp = v
			case "allocs/op":
				run.AllocsPerOp = v
			case "cpu-ns/op":
				run.CPUNsPerOp = v
			}
		}
		if _, ok := g.Runs[m[1]]; !ok {
			g.Order = append(g.Order, m[1])
		}
		g.Runs[m[1]] = append(g.Runs[m[1]], run)
	}
	return g, sc.Err()
}

// median of one field over a benchmark's runs.
func (g *GoBench) median(name string, f func(GoBenchRun) float64) float64 {
	var v []float64
	for _, r := range g.Runs[name] {
		v = append(v, f(r))
	}
	return median(v)
}

// TxnSources are the files the section is rendered from, as the page
// names them.
type TxnSources struct {
	Results, GoBench, Notes string
}

// SpliceTxn renders the Transactions section and puts it into
// dir/benchmarks.md: in place of the one there, or before "## Every
// repetition", or at the end. gobench and notes may be nil/empty.
func SpliceTxn(dir string, d *TxnData, gobench *GoBench, notes string, src TxnSources) error {
	path := filepath.Join(dir, "benchmarks.md")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	section := txnBegin + "\n" + renderTxn(d, gobench, notes, src) + txnEnd + "\n"
	page := string(old)
	if i, j := strings.Index(page, txnBegin), strings.Index(page, txnEnd); i >= 0 && j > i {
		page = page[:i] + section + strings.TrimPrefix(page[j+len(txnEnd):], "\n")
	} else if i := strings.Index(page, "## Every repetition"); i >= 0 {
		page = page[:i] + section + "\n" + page[i:]
	} else {
		page += "\n" + section
	}
	return os.WriteFile(path, []byte(page), 0o644)
}

// txnCell is one workload × engine: its repetitions' results.
type txnCell []suite.TxnRecord

func (c txnCell) median(f func(suite.TxnRecord) float64) float64 {
	var v []float64
	for _, r := range c {
		if r.Type == "result" {
			v = append(v, f(r))
		}
	}
	return median(v)
}

// Peers of the transaction comparison, in column order after Strata's.
var txnStrata = []string{"strata", "strata-pessimistic"}

func renderTxn(d *TxnData, g *GoBench, notes string, src TxnSources) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	h := &d.Header
	cells := map[[2]string]txnCell{}
	for _, r := range d.Records {
		k := [2]string{r.Workload, r.Engine}
		cells[k] = append(cells[k], r)
	}
	var engines []string
	for _, e := range h.Engines {
		engines = append(engines, e.Name)
	}
	ops := func(w, e string) float64 {
		return cells[[2]string{w, e}].median(func(r suite.TxnRecord) float64 { return r.OpsPerSec })
	}
	bestPeer := func(w string) (string, float64) {
		name, best := "", 0.0
		for _, e := range engines {
			if !slices.Contains(txnStrata, e) {
				if v := ops(w, e); v > best {
					name, best = e, v
				}
			}
		}
		return name, best
	}

	p("## Transactions\n\n")
	p("<!-- Generated by `cd bench && go run . txn` (or `go run . txn --render-only`) from %s", filepath.ToSlash(src.Results))
	if g != nil {
		p(", %s", filepath.ToSlash(src.GoBench))
	}
	if notes != "" {
		p(" and %s", filepath.ToSlash(src.Notes))
	}
	p("; edit bench/render/txn.go or those files, not this section. -->\n\n")
	if h.Plan.Mode == "quick" {
		p("> **Quick mode** (`go run . txn --quick`): small sizes and short runs; they show that every engine runs every workload, not how they rank.\n\n")
	}
	p("Issue 25's transaction workloads, on Strata (optimistic, and pessimistic as a column of its own) and the Go engines with\n")
	p("interactive transactions: Badger v4, bbolt and goleveldb. They are `strata bench`'s `txnrmw`, `txnbatch` and `txncontended`\n")
	p("(see `tools/dbbench/txn.go`), run on every engine by the same driver: each transaction runs through the engine's own\n")
	p("update call, one attempt at a time; a refused one (a conflict, a lock timeout, a deadlock) runs again, the same keys read\n")
	p("again, after the backoff `DB.Update` uses (a random sleep in [b/2, b], b from 100 µs doubling to 50 ms), the same for every\n")
	p("engine, so retries are counted alike. A read-modify-write reads two distinct keys and writes both back with a counter in\n")
	p("their first 8 bytes incremented; `txncontended` sums the counters of its keys before and after, and fails on a lost update.\n\n")
	p("Each workload and engine runs in a fresh database of %s entries (16-byte keys, 100-byte values; a `fillbatch` process first,\n", commas(h.Plan.Num))
	p("not measured), then the benchmark in a process of its own for %d s. Engines take turns within each repetition (the first\n", h.Plan.Seconds)
	p("rotating); each cell is the **median of %d repetitions**. Run `%s`, started %s.\n\n", h.Plan.Reps, h.Command, h.Started.Format("2006-01-02 15:04 MST"))
	m := h.Machine
	p("Machine: %s, %d cores, %s MiB, Linux %s, %s; work directory on %s; %s. It is shared with other work and noisy:\n", m.CPU, m.Cores, commas(int(m.MemoryMiB)), m.Kernel, m.OS, m.Filesystem, m.Go)
	p("read differences under about 15%% as noise (the every-repetition table below shows the spread).\n\n")

	writeTxnTargets(p, d, g, engines, ops, bestPeer)

	p("### Throughput\n\n")
	p("Committed transactions per second (`batch-64-sync`: writes per second, 10 per transaction), median, and the ratio to\n")
	p("Strata's optimistic column:\n\n")
	p("| workload |%s\n|---|%s\n", headerCells(engines), strings.Repeat("---|", len(engines)))
	for _, w := range h.Plan.Workloads {
		p("| %s |", txnLabel(w))
		s := ops(w.Name, "strata")
		for _, e := range engines {
			v := ops(w.Name, e)
			if e != "strata" && v/s < 0.01 { // goleveldb: keep two digits
				p(" %s (%.2g×) |", fmtOps(v), v/s)
				continue
			}
			p(" %s |", withRatio(v, s, e == "strata", fmtOps))
		}
		p("\n")
	}
	p("\nRetries per committed transaction, p50 / p99 / max (median over repetitions), and the share of transactions retried at least once:\n\n")
	p("| workload |%s\n|---|%s\n", headerCells(engines), strings.Repeat("---|", len(engines)))
	for _, w := range h.Plan.Workloads {
		p("| %s |", txnLabel(w))
		for _, e := range engines {
			c := cells[[2]string{w.Name, e}]
			if len(c) == 0 || c.median(func(r suite.TxnRecord) float64 { return float64(r.Txn.Committed) }) == 0 {
				p(" — |")
				continue
			}
			pc := func(f func(s dbbench.TxnStats) int) string {
				return fmtCount(c.median(func(r suite.TxnRecord) float64 { return float64(f(r.Txn)) }))
			}
			share := c.median(func(r suite.TxnRecord) float64 {
				return 100 * float64(r.Txn.Retried) / max(float64(r.Txn.Committed), 1)
			})
			p(" %s / %s / %s; %.1f%% |", pc(func(s dbbench.TxnStats) int { return s.P50 }),
				pc(func(s dbbench.TxnStats) int { return s.P99 }), pc(func(s dbbench.TxnStats) int { return s.MaxRetries }), share)
		}
		p("\n")
	}
	p("\nLatency of a committed transaction, retries and backoff included (µs, P50 / P99, median over repetitions):\n\n")
	p("| workload |%s\n|---|%s\n", headerCells(engines), strings.Repeat("---|", len(engines)))
	for _, w := range h.Plan.Workloads {
		p("| %s |", txnLabel(w))
		for _, e := range engines {
			c := cells[[2]string{w.Name, e}]
			pct := func(name string) float64 {
				return c.median(func(r suite.TxnRecord) float64 { return r.Percentiles[name] })
			}
			p(" %s / %s |", fmtMicros(pct("P50")), fmtMicros(pct("P99")))
		}
		p("\n")
	}
	p("\n")
	writeGoBench(p, g, src)
	p("### Engines\n\n")
	for _, e := range h.Engines {
		p("- **%s** (%s): %s\n", e.Name, e.Version, strings.Join(e.Notes, " "))
	}
	for name, why := range h.Skipped {
		p("- **%s**: skipped: %s\n", name, why)
	}
	p("\n")
	var failures []string
	for _, r := range d.Records {
		if r.Type == "failure" {
			failures = append(failures, fmt.Sprintf("- rep %d, %s, %s: %s", r.Rep, r.Workload, r.Engine, r.Error))
		}
	}
	if len(failures) > 0 {
		p("Failed steps (left out of the medians):\n\n%s\n\n", strings.Join(failures, "\n"))
	}
	if notes != "" {
		p("%s\n\n", strings.TrimSpace(notes))
	}
	p("<details><summary>Every repetition (ops/s, in run order)</summary>\n\n")
	p("| workload | engine | ops/s by repetition |\n|---|---|---|\n")
	for _, w := range h.Plan.Workloads {
		for _, e := range engines {
			var vals []string
			for _, r := range cells[[2]string{w.Name, e}] {
				if r.Type == "result" {
					vals = append(vals, fmtOps(r.OpsPerSec))
				} else {
					vals = append(vals, "failed")
				}
			}
			p("| %s | %s | %s |\n", w.Name, e, strings.Join(vals, ", "))
		}
	}
	p("\n</details>\n\n")
	return b.String()
}

func fmtCount(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func txnLabel(w suite.TxnWorkload) string {
	s := fmt.Sprintf("%s (`%s`, %d thread", w.Name, w.Benchmark, w.Threads)
	if w.Threads > 1 {
		s += "s"
	}
	if w.Sync {
		s += ", synced"
	}
	return s + ")"
}

// writeTxnTargets writes issue 25's targets, each met or missed.
func writeTxnTargets(p func(string, ...any), d *TxnData, g *GoBench, engines []string,
	ops func(w, e string) float64, bestPeer func(w string) (string, float64)) {
	p("### Targets\n\n| target (issue 25) | Strata | against | |\n|---|---|---|---|\n")
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**missed**"
	}
	for _, w := range []string{"rmw-1", "rmw-2"} {
		s := ops(w, "strata")
		peer, best := bestPeer(w)
		if best == 0 || math.IsNaN(s) {
			continue
		}
		p("| uncontended read-modify-write of 2 keys, %s goroutine(s), unsynced: ≥ 2× the best peer | %s txn/s (pessimistic %s) | %s: %s txn/s; Strata is %.2f× | %s |\n",
			strings.TrimPrefix(w, "rmw-"), fmtOps(s), fmtOps(ops(w, "strata-pessimistic")), peer, fmtOps(best), s/best, verdict(s >= 2*best))
	}
	if s := ops("batch-64-sync", "strata"); !math.IsNaN(s) {
		p("| synced, 64 clients × 10-write transactions: ≥ 46,000 writes/s | %s writes/s (pessimistic %s) | FoundationDB's published 46,000 (one core, SATA SSD); best peer here %s | %s |\n",
			fmtOps(s), fmtOps(ops("batch-64-sync", "strata-pessimistic")), peerText(bestPeer("batch-64-sync")), verdict(s >= 46000))
	}
	if g != nil {
		for _, n := range []string{"2", "10"} {
			med := func(mode string, f func(GoBenchRun) float64) float64 {
				return g.median("BenchmarkTxnVsBatch/writes="+n+"/"+mode, f)
			}
			wall := func(r GoBenchRun) float64 { return r.NsPerOp }
			cpu := func(r GoBenchRun) float64 { return r.CPUNsPerOp }
			batch, txn := med("batch", wall), med("txn", wall)
			if math.IsNaN(batch) || math.IsNaN(txn) {
				continue
			}
			cb, ct := med("batch", cpu), med("txn", cpu)
			if math.IsNaN(cb) || math.IsNaN(ct) { // no CPU time: judge by wall time
				p("| cost of conflict checking: a serializable transaction writing the same %s keys as a plain Batch is at most 25%% slower | %s ns/op | Batch: %s ns/op; the transaction is %+.0f%% | %s |\n",
					n, commas(int(txn)), commas(int(batch)), 100*(txn/batch-1), verdict(txn <= 1.25*batch))
				continue
			}
			p("| cost of conflict checking: a serializable transaction writing the same %s keys as a plain Batch is at most 25%% slower (judged by CPU time) | %s CPU ns/op (wall %s ns/op) | Batch: %s CPU ns/op (wall %s); the transaction costs %+.0f%% CPU (%+.0f%% wall) | %s |\n",
				n, commas(int(ct)), commas(int(txn)), commas(int(cb)), commas(int(batch)), 100*(ct/cb-1), 100*(txn/batch-1), verdict(ct <= 1.25*cb))
		}
	}
	if s := ops("contended-8", "strata"); !math.IsNaN(s) {
		bad := ops("contended-8", "badger")
		maxRetries := 0
		for _, r := range d.Records {
			if r.Workload == "contended-8" && r.Engine == "strata" && r.Type == "result" {
				maxRetries = max(maxRetries, r.Txn.MaxRetries)
			}
		}
		p("| contended (Zipfian 0.99 over 1,000 keys, 8 goroutines): committed transactions/s ≥ Badger's, no livelock, retries reported | %s txn/s (pessimistic %s); at most %d retries of one transaction in any repetition | Badger: %s txn/s; Strata is %.2f× | %s |\n",
			fmtOps(s), fmtOps(ops("contended-8", "strata-pessimistic")), maxRetries, fmtOps(bad), s/bad, verdict(s >= bad))
	}
	p("| pessimistic mode on the same workloads, beside the optimistic numbers | the strata-pessimistic column below | | reported |\n\n")
}

func peerText(name string, v float64) string {
	if name == "" {
		return "—"
	}
	return fmt.Sprintf("%s, %s writes/s", name, fmtOps(v))
}

// writeGoBench writes BenchmarkTxnVsBatch's medians.
func writeGoBench(p func(string, ...any), g *GoBench, src TxnSources) {
	if g == nil {
		return
	}
	p("### Cost of conflict checking\n\n")
	p("`BenchmarkTxnVsBatch` (`txn_bench_test.go`, root package): one goroutine writes 2 or 10 random keys (of 1M, 100-byte values,\n")
	p("unsynced) per operation, as a plain `Batch` through `DB.Write`, as a serializable transaction through `DB.Update`, and as a\n")
	p("pessimistic one (which also locks each key). The sub-benchmarks run one after the other within each `-count`, so they\n")
	p("interleave. Each reports wall time (ns/op) and the process's CPU time per operation (cpu-ns/op, user and system, background\n")
	p("flushes and compactions included): on this shared machine wall time swings with other work (a run's repetitions differ by up\n")
	p("to 2×, and the batch is sometimes the slower), CPU time far less, so the target is judged by it. From `%s`:\n\n", filepath.ToSlash(src.GoBench))
	if g.Command != "" {
		p("```sh\n%s\n```\n\n", g.Command)
	}
	p("| sub-benchmark | CPU ns/op (median of %d) | ratio to the batch | wall ns/op | ratio to the batch | B/op | allocs/op |\n|---|---|---|---|---|---|---|\n", len(g.Runs[firstOr(g.Order)]))
	for _, name := range g.Order {
		if !strings.HasPrefix(name, "BenchmarkTxnVsBatch/") {
			continue
		}
		batchName := name[:strings.LastIndex(name, "/")] + "/batch"
		value := func(f func(GoBenchRun) float64) (string, string) {
			v := g.median(name, f)
			if math.IsNaN(v) {
				return "—", "—"
			}
			return commas(int(v)), fmt.Sprintf("%.2f", v/g.median(batchName, f))
		}
		cpu, cpuRatio := value(func(r GoBenchRun) float64 { return r.CPUNsPerOp })
		wall, wallRatio := value(func(r GoBenchRun) float64 { return r.NsPerOp })
		p("| %s | %s | %s | %s | %s | %s | %s |\n", strings.TrimPrefix(name, "BenchmarkTxnVsBatch/"), cpu, cpuRatio, wall, wallRatio,
			commas(int(g.median(name, func(r GoBenchRun) float64 { return r.BytesPerOp }))),
			commas(int(g.median(name, func(r GoBenchRun) float64 { return r.AllocsPerOp }))))
	}
	p("\n")
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
