// Package engines adapts the peer engines (Pebble v2, goleveldb, Badger v4)
// to dbbench.DB, so they run exactly the workloads `strata bench` runs, and
// records how each maps the benchmark's settings (Settings).
package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/strata-db/strata/tools/dbbench"
)

// All lists the Go engines by name: Strata and its peers. Each peer's
// file adds it. A normal build holds every engine; a worker built with the
// tag bench_single holds Strata only, plus the peer its bench_<name> tag
// names (bench_pebble, bench_goleveldb, bench_badger), so that a peer's
// process carries no other engine's code or memory (see ../worker).
var All = map[string]dbbench.Engine{
	"strata": dbbench.Strata,
}

// SettleLimit bounds waitforcompaction where an engine has no "compactions
// done" call and the harness polls (Pebble, goleveldb, Badger): past it the
// benchmark fails. An hour, for the scale runs' compaction debt.
const SettleLimit = time.Hour

// Names is the Go engines' order in tables and runs.
var Names = []string{"strata", "pebble", "goleveldb", "badger"}

// removeDir deletes a benchmark database directory. It refuses paths that
// cannot be a benchmark's own directory (the root, the home directory).
func removeDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	home, _ := os.UserHomeDir()
	if abs == "/" || abs == home || filepath.Dir(abs) == "/" {
		return fmt.Errorf("refusing to delete %s: not a benchmark directory", abs)
	}
	return os.RemoveAll(abs)
}

// dirState renders the names and sizes of the files under dir.
func dirState(dir string) string {
	var b strings.Builder
	var names []string
	sizes := map[string]int64{}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			names = append(names, path)
			sizes[path] = info.Size()
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s %d\n", n, sizes[n])
	}
	return b.String()
}

// settleDir waits until the files in dir (names and sizes) and, if given,
// the engine's own state string have not changed for a full second: for
// engines with no "compactions done" signal, a running compaction shows as
// a growing or new table file. It gives up after SettleLimit.
func settleDir(dir string, state func() string) error {
	const quiet = time.Second
	snapshot := func() string {
		s := dirState(dir)
		if state != nil {
			s += state()
		}
		return s
	}
	last, since := snapshot(), time.Now()
	deadline := time.Now().Add(SettleLimit)
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still changing after %v", dir, SettleLimit)
		}
		time.Sleep(100 * time.Millisecond)
		if s := snapshot(); s != last {
			last, since = s, time.Now()
		}
	}
	return nil
}
