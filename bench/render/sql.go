package render

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-db/strata/bench/sqlbench"
)

// SQL is what the docs' SQL sections are rendered from: a sysbench results
// file (go run . sql) and the embedded benchmarks' output, either may be nil.
type SQL struct {
	Sysbench       *SQLData
	SysbenchSource string
	Embedded       *EmbeddedData
	EmbeddedSource string
}

// SQLData is a loaded sysbench results file.
type SQLData struct {
	Header  sqlbench.Header
	Records []sqlbench.Record
}

// LoadSQL reads a sysbench results file: a "sql-run" header, then records.
func LoadSQL(r io.Reader) (*SQLData, error) {
	d := &SQLData{}
	if err := loadRecords(r, "sql-run", &d.Header, []string{"sql-result", "sql-prepare", "sql-failure"}, &d.Records); err != nil {
		return nil, err
	}
	if d.Header.Type != "sql-run" {
		return nil, fmt.Errorf("no sql-run header")
	}
	return d, nil
}

// results returns the measured runs of engine on workload with threads,
// in repetition order.
func (d *SQLData) results(engine, workload string, threads int) []sqlbench.Record {
	var out []sqlbench.Record
	for _, r := range d.Records {
		if r.Type == "sql-result" && r.Engine == engine && r.Workload == workload && r.Threads == threads {
			out = append(out, r)
		}
	}
	return out
}

func (d *SQLData) med(engine, workload string, threads int, f func(sqlbench.Record) float64) float64 {
	var v []float64
	for _, r := range d.results(engine, workload, threads) {
		v = append(v, f(r))
	}
	return median(v)
}

func tps(r sqlbench.Record) float64 { return r.TPS }
func p95(r sqlbench.Record) float64 { return r.LatP95Ms }
func restartsPerSec(r sqlbench.Record) float64 {
	if r.Seconds == 0 {
		return math.NaN()
	}
	return float64(r.Ignored) / r.Seconds
}

// sqlTargets are the sysbench targets: Strata's transactions/s
// at least this share of MariaDB's.
var sqlTargets = map[string]float64{
	"oltp_point_select": 1, "oltp_insert": 1, "oltp_update_index": 1,
	"oltp_read_only": 0.8, "oltp_read_write": 0.8,
}

// embeddedRefs are the SQLite figures (µs, measured on this kind
// of machine), per statement.
var embeddedRefs = map[string]string{
	"point": "8.4–9.7", "range100": "50–59", "insert": "152–174", "update": "144–218",
}

var embeddedLabels = map[string]string{
	"point": "point select", "range100": "range select, 100 rows", "insert": "insert (autocommit, synced)",
	"update": "update by primary key (autocommit, synced)",
}

func mark(ok bool) string {
	if ok {
		return "✅ met"
	}
	return "❌ missed"
}

// writeSQL renders the sysbench and embedded sections.
func writeSQL(p func(string, ...any), s *SQL) {
	if s.Sysbench != nil {
		writeSysbench(p, s.Sysbench, s.SysbenchSource)
	}
	if s.Embedded != nil {
		writeEmbedded(p, s.Embedded, s.EmbeddedSource)
	}
}

func writeSysbench(p func(string, ...any), d *SQLData, source string) {
	h := &d.Header
	pl := h.Plan
	var engines []string
	for _, e := range h.Engines {
		engines = append(engines, e.Name)
	}
	p("## SQL: sysbench against MariaDB\n\n")
	p("<!-- From %s. -->\n\n", source)
	p("Issue 27's server benchmark: sysbench's OLTP workloads against `strata sql serve` and MariaDB on the same machine,\n")
	p("in the same run. Rerun with `cd bench && %s` (needs `apt-get install -y sysbench mariadb-server`;\n", h.Command)
	p("MariaDB runs from a data directory of its own, never as the system service). Run started %s.\n\n", h.Started.Format("2006-01-02 15:04 MST"))
	shape := fmt.Sprintf("%d table(s) × %s rows", pl.Tables, commas(pl.TableSize))
	if pl.Mode == "quick" {
		p("> **Quick shape.** This run used the issue's quick measurement, %s, not the full 10 tables × 100,000 rows with 1 and 8 threads (`go run . sql`).\n\n", shape)
	}
	var threads []string
	for _, t := range pl.Threads {
		threads = append(threads, strconv.Itoa(t))
	}
	p("%s (`sysbench oltp_read_write prepare`, %d thread(s)), then %d repetition(s) of each workload for %d s with %s thread(s).\n",
		shape, pl.PrepareThreads, pl.Reps, pl.Seconds, strings.Join(threads, " and "))
	p("Within a repetition the servers take turns on each workload and thread count (A B, then B A: the first rotates), both\n")
	p("running throughout; each cell is the **median of %d repetition(s)**. Before the first repetition each server ran\n", pl.Reps)
	p("oltp_read_only unmeasured for %d s (sysbench 1.0 has no `--warmup-time`). Workloads run in the order %s.\n\n",
		pl.WarmupSeconds, strings.Join(pl.Workloads, ", "))
	m := h.Machine
	var loads []float64
	for _, r := range d.Records {
		if r.Type == "sql-result" {
			loads = append(loads, r.Load1)
		}
	}
	lo, hi := math.NaN(), math.NaN()
	if len(loads) > 0 {
		lo, hi = slices.Min(loads), slices.Max(loads)
	}
	p("**Machine:** %d × %s, %s MiB, %s (kernel %s), data on %s. The %d cores are shared by sysbench (the client), the server\n",
		m.Cores, m.CPU, commas(int(m.MemoryMiB)), m.OS, m.Kernel, m.Filesystem, m.Cores)
	p("under test and the idle other server — and by other work on this machine: the one-minute load average when runs\n")
	p("started was %.1f to %.1f (%.1f would be one busy thread per core). Read the ratios, which interleaving keeps fair, more than the absolute numbers. %s.\n\n",
		lo, hi, float64(m.Cores), h.Sysbench)
	p("| engine | version | settings |\n|---|---|---|\n")
	for _, e := range h.Engines {
		p("| %s | %s | %s |\n", e.Name, e.Version, e.Settings)
	}
	p("\n")

	// Targets.
	if slices.Contains(engines, "strata") && slices.Contains(engines, "mariadb") {
		p("### Targets\n\n")
		p("Issue 27: Strata's transactions/s ≥ MariaDB's on point_select, insert and update_index, ≥ 0.8× on read_only and\n")
		p("read_write. Strata here is `strata sql serve` with its defaults (serializable transactions, every commit synced).\n")
		p("[sql.md](sql.md#performance) explains the misses from CPU profiles of the server.\n\n")
		p("| workload | threads | target | Strata tps | MariaDB tps | Strata ÷ MariaDB | met |\n|---|---|---|---|---|---|---|\n")
		for _, w := range pl.Workloads {
			for _, th := range pl.Threads {
				s, mdb := d.med("strata", w, th, tps), d.med("mariadb", w, th, tps)
				if math.IsNaN(s) || math.IsNaN(mdb) {
					continue
				}
				want := sqlTargets[w]
				p("| %s | %d | ≥ %.1f× | %s | %s | %.2f× | %s |\n", w, th, want, fmtTPS(s), fmtTPS(mdb), s/mdb, mark(s >= want*mdb))
			}
		}
		p("\n")
	}

	// Results.
	p("### Results\n\n")
	p("Transactions per second (median; in brackets the ratio to MariaDB's) and the 95th percentile of a transaction's latency\n")
	p("(ms, median over repetitions). A sysbench transaction is one statement for point_select, insert and update_index;\n")
	p("BEGIN, 10 point selects, 4 range queries of 100 rows (plain, SUM, ORDER BY, DISTINCT) and COMMIT for read_only;\n")
	p("read_only's statements plus 2 updates, a delete and an insert for read_write. Restarts/s counts transactions that failed\n")
	p("with error 1213 (a conflict under optimistic concurrency) and that sysbench ran again (`--mysql-ignore-errors`): work\n")
	p("done and thrown away, not counted in tps.\n\n")
	p("| workload | threads |")
	for _, e := range engines {
		p(" %s tps | %s p95 ms |", e, e)
	}
	p(" restarts/s |\n|---|---|%s---|\n", strings.Repeat("---|---|", len(engines)))
	for _, w := range pl.Workloads {
		for _, th := range pl.Threads {
			p("| %s | %d |", w, th)
			mdb := d.med("mariadb", w, th, tps)
			var restarts []string
			for _, e := range engines {
				v := d.med(e, w, th, tps)
				if e == "mariadb" || math.IsNaN(mdb) || math.IsNaN(v) {
					p(" %s |", fmtTPS(v))
				} else {
					p(" %s (%.2f×) |", fmtTPS(v), v/mdb)
				}
				p(" %s |", fmtMs(d.med(e, w, th, p95)))
				if rs := d.med(e, w, th, restartsPerSec); !math.IsNaN(rs) && rs > 0 {
					restarts = append(restarts, fmt.Sprintf("%s %.0f", e, rs))
				}
			}
			if len(restarts) == 0 {
				restarts = []string{"0"}
			}
			p(" %s |\n", strings.Join(restarts, ", "))
		}
	}
	p("\n")
	var loads2 []string
	for _, r := range d.Records {
		if r.Type == "sql-prepare" {
			loads2 = append(loads2, fmt.Sprintf("%s %.1f s", r.Engine, r.Seconds))
		}
	}
	if len(loads2) > 0 {
		p("Loading the tables (`sysbench ... prepare`: sysbench's multi-row INSERTs, then CREATE INDEX on k; one server after the other): %s.\n\n", strings.Join(loads2, ", "))
	}
	var fails []sqlbench.Record
	for _, r := range d.Records {
		if r.Type == "sql-failure" {
			fails = append(fails, r)
		}
	}
	if len(fails) > 0 {
		p("Failed runs (not in the medians):\n\n| engine | workload | threads | rep | error |\n|---|---|---|---|---|\n")
		for _, r := range fails {
			p("| %s | %s | %d | %d | %s |\n", r.Engine, r.Workload, r.Threads, r.Rep, strings.ReplaceAll(r.Error, "|", "\\|"))
		}
		p("\n")
	}

	// Commands.
	p("The exact commands (the harness picks free ports; both servers are checked with `SELECT @@version` first):\n\n```sh\n")
	for _, e := range h.Engines {
		args := slices.Clone(e.Args)
		for i, a := range args {
			if strings.HasPrefix(a, "--cpuprofile") {
				args = args[:i]
				break
			}
		}
		p("%s %s\n", baseName(e.Binary), generic(h.Work, strings.Join(args, " ")))
	}
	p("sysbench %s --mysql-host=127.0.0.1 --mysql-port=PORT --mysql-user=root --threads=%d oltp_read_write prepare\n",
		strings.Join(h.SysbenchArgs, " "), pl.PrepareThreads)
	p("sysbench %s --mysql-host=127.0.0.1 --mysql-port=PORT --mysql-user=root --threads=N --time=%d WORKLOAD run\n```\n\n",
		strings.Join(h.SysbenchArgs, " "), pl.Seconds)

	// Every repetition.
	p("<details><summary>Every repetition: tps (p95 ms, restarts), in run order</summary>\n\n")
	p("| workload | threads | engine | repetitions |\n|---|---|---|---|\n")
	for _, w := range pl.Workloads {
		for _, th := range pl.Threads {
			for _, e := range engines {
				var vals []string
				for _, r := range d.results(e, w, th) {
					vals = append(vals, fmt.Sprintf("%s (%s, %d)", fmtTPS(r.TPS), fmtMs(r.LatP95Ms), r.Ignored))
				}
				p("| %s | %d | %s | %s |\n", w, th, e, strings.Join(vals, "; "))
			}
		}
	}
	p("\n</details>\n\n")
}

var rePort = regexp.MustCompile(`(127\.0\.0\.1:|--port=)\d+`)

// generic replaces the run's work directory and ports in a command line.
func generic(work, cmd string) string {
	if work != "" {
		cmd = strings.ReplaceAll(cmd, work, "$WORK")
	}
	return rePort.ReplaceAllString(cmd, "${1}PORT")
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func fmtTPS(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// fmtMs formats milliseconds with fmtMicros's precision.
var fmtMs = fmtMicros

// EmbeddedData is the embedded benchmarks' go test output.
type EmbeddedData struct {
	Command, Started string
	CPU              string
	// Results are op → engine → one per round.
	Results map[string]map[string][]EmbeddedResult
	Ops     []string // in output order
	Engines []string
}

// EmbeddedResult is one benchmark line.
type EmbeddedResult struct {
	Round       int
	NsPerOp     float64
	BytesPerOp  float64
	AllocsPerOp float64
	N           int64
	engine, op  string
}

var reEmbedded = regexp.MustCompile(`^BenchmarkSQLEmbedded/round=(\d+)/op=([^/]+)/engine=([^\s/]+?)(-\d+)?\s+(\d+)\s+([\d.]+) ns/op(?:\s+[\d.]+ cpu-ns/op)?(?:\s+([\d.]+) B/op\s+([\d.]+) allocs/op)?`)

// LoadEmbedded reads the embedded benchmarks' output (go test -bench
// BenchmarkSQLEmbedded, with the runner's "# command:" and "# started:"
// lines).
func LoadEmbedded(r io.Reader) (*EmbeddedData, error) {
	d := &EmbeddedData{Results: map[string]map[string][]EmbeddedResult{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "# command: "); ok {
			d.Command = v
		}
		if v, ok := strings.CutPrefix(line, "# started: "); ok {
			d.Started = v
		}
		if v, ok := strings.CutPrefix(line, "cpu: "); ok {
			d.CPU = v
		}
		m := reEmbedded.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var res EmbeddedResult
		res.Round, _ = strconv.Atoi(m[1])
		res.op, res.engine = m[2], m[3]
		res.N, _ = strconv.ParseInt(m[5], 10, 64)
		res.NsPerOp, _ = strconv.ParseFloat(m[6], 64)
		if m[7] != "" {
			res.BytesPerOp, _ = strconv.ParseFloat(m[7], 64)
			res.AllocsPerOp, _ = strconv.ParseFloat(m[8], 64)
		}
		if d.Results[res.op] == nil {
			d.Results[res.op] = map[string][]EmbeddedResult{}
			d.Ops = append(d.Ops, res.op)
		}
		if !slices.Contains(d.Engines, res.engine) {
			d.Engines = append(d.Engines, res.engine)
		}
		d.Results[res.op][res.engine] = append(d.Results[res.op][res.engine], res)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(d.Ops) == 0 {
		return nil, fmt.Errorf("no BenchmarkSQLEmbedded results")
	}
	// Strata first, as in the other tables.
	slices.SortStableFunc(d.Engines, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "strata":
			return -1
		case b == "strata":
			return 1
		}
		return 0
	})
	return d, nil
}

func (d *EmbeddedData) med(op, engine string, f func(EmbeddedResult) float64) float64 {
	var v []float64
	for _, r := range d.Results[op][engine] {
		v = append(v, f(r))
	}
	return median(v)
}

func writeEmbedded(p func(string, ...any), d *EmbeddedData, source string) {
	rounds := 0
	for _, byEngine := range d.Results {
		for _, rs := range byEngine {
			rounds = max(rounds, len(rs))
		}
	}
	p("## SQL embedded: database/sql against SQLite\n\n")
	p("<!-- From %s. -->\n\n", source)
	p("The same four statements through `database/sql` with prepared statements on one connection, one goroutine, against\n")
	p("Strata's driver (`sql.Open(\"strata\", dir)`: commits synced) and SQLite (`modernc.org/sqlite` v1.62.0, pure Go, WAL mode,\n")
	p("`synchronous=FULL`: each commit syncs the WAL), each over sysbench's table (`id` primary key, `k` with an index, `c`\n")
	p("120 and `pad` 60 characters) loaded with 100,000 rows. `bench/sqlembed`'s `BenchmarkSQLEmbedded` runs every statement\n")
	p("on both engines in each of %d round(s), the first engine alternating (go test's `-count` would repeat one sub-benchmark\n", rounds)
	p("back to back, so rounds interleave them instead); each cell is the **median over rounds**. Command (run %s, CPU %s):\n\n", d.Started, d.CPU)
	p("```sh\n%s\n```\n\n", d.Command)
	p("The issue's targets: Strata ≥ SQLite on each statement, i.e. no slower; its reference figures for SQLite were measured on\n")
	p("this kind of machine when it was quiet. Time per statement (µs, median; ratio Strata ÷ SQLite, below 1: Strata faster):\n\n")
	p("| statement | Strata µs | SQLite µs | Strata ÷ SQLite | issue's SQLite µs | target (≤ SQLite here) | Strata allocs, B | SQLite allocs, B |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, op := range d.Ops {
		ns := func(r EmbeddedResult) float64 { return r.NsPerOp / 1e3 }
		s, q := d.med(op, "strata", ns), d.med(op, "sqlite", ns)
		label := embeddedLabels[op]
		if label == "" {
			label = op
		}
		allocs := func(e string) string {
			a := d.med(op, e, func(r EmbeddedResult) float64 { return r.AllocsPerOp })
			b := d.med(op, e, func(r EmbeddedResult) float64 { return r.BytesPerOp })
			if math.IsNaN(a) {
				return "—"
			}
			return fmt.Sprintf("%.0f, %s", a, commas(int(b)))
		}
		p("| %s | %s | %s | %.2f× | %s | %s | %s | %s |\n", label, fmtMicros(s), fmtMicros(q), s/q, embeddedRefs[op], mark(s <= q), allocs("strata"), allocs("sqlite"))
	}
	p("\n<details><summary>Every round: µs per statement, in run order</summary>\n\n| statement | engine | rounds |\n|---|---|---|\n")
	for _, op := range d.Ops {
		for _, e := range d.Engines {
			var vals []string
			for _, r := range d.Results[op][e] {
				vals = append(vals, fmtMicros(r.NsPerOp/1e3))
			}
			p("| %s | %s | %s |\n", op, e, strings.Join(vals, ", "))
		}
	}
	p("\n</details>\n\n")
}
