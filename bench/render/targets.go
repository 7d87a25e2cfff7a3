package render

import (
	"fmt"
	"math"
	"strings"

	"github.com/strata-db/strata/bench/suite"
)

// rocksDBReleaseBulkSeconds is the bulk-load time the performance issue
// quotes for a release build of RocksDB 11.8 on this kind of machine (the
// bench module can only drive Debian's assertion-enabled 7.8.3).
const rocksDBReleaseBulkSeconds = 26.5

// writeTargets renders the performance targets (issue 5) as checks
// computed from this run: Strata at least the best peer on every core row,
// the extra targets, and peak RSS against C++ LevelDB.
func writeTargets(p func(string, ...any), t *table) {
	var peers []string
	for _, e := range t.engines {
		if e != "strata" && e != "strata-cli" {
			peers = append(peers, e)
		}
	}
	if len(peers) == 0 || !t.hasWorkload("fillseq") && !t.hasWorkload("bulk") {
		return
	}
	mark := func(ok bool) string {
		if ok {
			return "✅"
		}
		return "❌"
	}
	p("## Targets\n\n")
	p("The performance issue's targets, checked against this run's medians (✅ met, ❌ not met; see\n")
	p("[performance.md](performance.md) for the profile-driven changes behind them and what the misses would need).\n\n")
	p("| target | Strata | best peer | met |\n|---|---|---|---|\n")
	best := func(workload, bench string) (string, float64) {
		name, v := "", math.NaN()
		for _, e := range peers {
			x := t.get(workload, bench, e).median(opsPerSec)
			if !math.IsNaN(x) && (math.IsNaN(v) || x > v) {
				name, v = e, x
			}
		}
		return name, v
	}
	for _, r := range defaultRows {
		if !t.hasRow(r.workload, r.bench) {
			continue
		}
		s := t.get(r.workload, r.bench, "strata").median(opsPerSec)
		name, v := best(r.workload, r.bench)
		if math.IsNaN(s) || name == "" {
			continue
		}
		p("| %s ≥ best peer | %s | %s (%s) | %s |\n", r.label, fmtOps(s), fmtOps(v), name, mark(s >= v))
	}
	if one, eight := t.get("fillsync", "fillsync", "strata").median(opsPerSec), t.get("fillsync8", "fillsync", "strata").median(opsPerSec); !math.IsNaN(one) && !math.IsNaN(eight) {
		p("| fillsync with 8 writers ≥ 4 × one writer | %.1f × | — | %s |\n", eight/one, mark(eight >= 4*one))
	}
	for _, w := range []string{"values-64", "values-256", "values-1024", "values-4096", "values-16384"} {
		for _, bench := range []string{"filluniquerandom", "readrandom"} {
			s := t.get(w, bench, "strata").median(opsPerSec)
			if math.IsNaN(s) {
				continue
			}
			ok, worst := true, ""
			for _, e := range []string{"pebble", "leveldb"} {
				v := t.get(w, bench, e).median(opsPerSec)
				if !math.IsNaN(v) && v > s {
					ok = false
					worst = fmt.Sprintf("%s (%s)", fmtOps(v), e)
				}
			}
			if worst == "" {
				worst = "—"
			}
			p("| %s %s ≥ Pebble and C++ LevelDB | %s | %s | %s |\n", strings.TrimPrefix(w, "values-")+" B", bench, fmtOps(s), worst, mark(ok))
		}
	}
	if t.hasWorkload("bulk") {
		total := t.bulkTotal
		s := total("strata")
		if !math.IsNaN(s) {
			p("| bulk load of the bulk set < %.1f s (RocksDB 11.8 release, the issue's figure) | %s s | — | %s |\n",
				rocksDBReleaseBulkSeconds, fmtSeconds(s), mark(s < rocksDBReleaseBulkSeconds))
			name, v := "", math.NaN()
			for _, e := range peers {
				x := total(e)
				if !math.IsNaN(x) && (math.IsNaN(v) || x < v) {
					name, v = e, x
				}
			}
			if name != "" {
				p("| bulk load faster than every peer here | %s s | %s s (%s) | %s |\n", fmtSeconds(s), fmtSeconds(v), name, mark(s <= v))
			}
		}
	}
	if contains(t.engines, "leveldb") {
		for _, w := range []string{"fillseq", "fillrandom", "overwrite", "reads", "values-64", "values-1024", "values-16384", "bulk"} {
			sc, lc := t.anyCell(w, "strata"), t.anyCell(w, "leveldb")
			rss := func(c *cell) float64 {
				return c.median(func(r suite.Record) float64 { return float64(r.WorkloadPeakRSS) })
			}
			s, l := rss(sc), rss(lc)
			if math.IsNaN(s) || math.IsNaN(l) {
				continue
			}
			p("| peak RSS ≤ C++ LevelDB's (%s) | %s MiB | %s MiB (leveldb) | %s |\n", w, fmtMiB(s), fmtMiB(l), mark(s <= l))
		}
	}
	p("\n")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
