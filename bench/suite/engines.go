package suite

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
)

// Engine is one column of the comparison: how to start a step's process
// and what its settings are.
type Engine struct {
	Name    string   `json:"name"`
	Label   string   `json:"label"` // for tables: name and version
	Version string   `json:"version"`
	Notes   []string `json:"notes"` // how the shared settings map, and every difference
	// OnlySets, if set, limits the engine to these workload sets.
	OnlySets []string `json:"only_sets,omitempty"`
	// Lacks names what the engine does not have that some workloads need
	// (Workload.Needs: "merge", "deleterange"), and why.
	Lacks map[string]string `json:"lacks,omitempty"`
	// GoWorker: the engine runs in a bench/worker binary (it takes
	// --cpuprofile).
	GoWorker bool `json:"-"`
	// Err says why the engine cannot run here (nil: it can).
	Err     error                                           `json:"-"`
	command func(flags map[string]string) *exec.Cmd         `json:"-"`
	extra   func(flags map[string]string) map[string]string `json:"-"`
}

// Command returns the process for one step.
func (e *Engine) Command(flags map[string]string) *exec.Cmd {
	if e.extra != nil {
		flags = e.extra(flags)
	}
	return e.command(flags)
}

// flagArgs renders flags as sorted --name=value arguments.
func flagArgs(flags map[string]string) []string {
	var args []string
	for k, v := range flags {
		args = append(args, "--"+k+"="+v)
	}
	sort.Strings(args)
	return args
}

// moduleVersion returns the version of a module this binary was built with.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				if m.Replace != nil && m.Replace.Version != "" {
					return m.Replace.Version
				}
				return m.Version
			}
		}
	}
	return "unknown"
}

// strataVersion names the commit of the repository the bench module sits in.
func strataVersion(repo string) string {
	out, err := exec.Command("git", "-C", repo, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "working tree"
	}
	return "git " + strings.TrimSpace(string(out))
}

// dpkgVersion returns an installed Debian package's version, or "".
func dpkgVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// BuildLauncher builds benchDir's launcher command (Linux only) into
// workDir and returns its path: the runner starts every step through it
// (Runner.Launcher) so that a step's peak RSS is its own.
func BuildLauncher(benchDir, workDir string) (string, error) {
	if abs, err := filepath.Abs(workDir); err == nil {
		workDir = abs
	}
	bin := filepath.Join(workDir, "launcher")
	cmd := exec.Command("go", "build", "-o", bin, "./launcher")
	cmd.Dir = benchDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the launcher: %v\n%s", err, out)
	}
	return bin, nil
}

// GoEngines returns the Go engines. Each runs in a worker binary of its
// own, built from benchDir's worker package into workDir with the tags that
// leave every other engine out (see ../worker), started as
// "worker-NAME --engine=NAME" plus the db_bench flags. An engine whose
// worker does not build carries the error.
func GoEngines(benchDir, workDir string) []*Engine {
	workers := map[string]string{}
	errs := map[string]error{}
	if abs, err := filepath.Abs(workDir); err == nil {
		workDir = abs
	}
	for _, name := range []string{"strata", "pebble", "goleveldb", "badger"} {
		workers[name], errs[name] = buildWorker(benchDir, workDir, name)
	}
	goCmd := func(name string) func(map[string]string) *exec.Cmd {
		return func(flags map[string]string) *exec.Cmd {
			return exec.Command(workers[name], append([]string{"--engine=" + name}, flagArgs(flags)...)...)
		}
	}
	repo := filepath.Dir(benchDir)
	shared := "Runs in a worker binary that links only this engine (bench/worker); 64 MiB block cache, bloom filter 10 bits/key, snappy, 64 MiB memtable, 4 KiB blocks"
	engs := []*Engine{
		{
			Name: "strata", Version: strataVersion(repo), command: goCmd("strata"),
			Notes: []string{shared + ".",
				"WAL on; unsynced writes go to a memory-mapped WAL (they survive a process crash); `disable_wal` is per write.",
				"waitforcompaction is `DB.WaitForCompactions`; compact is `CompactRange(nil, nil)`.",
				"Bulk load (`--bulk_load`): `Options.PrepareForBulkLoad()` (automatic compactions off, up to four 64 MiB memtables, 8 MiB tables), and compact is `CompactRangeWith(nil, nil, {})`: every table merged once, straight into the last level, key ranges in parallel.",
				"Merges: `--merge_operator=uint64add` is `Options.Merger = strata.AddMerger`, with Strata's default `MaxSuccessiveMerges` (8: a ninth operand in a row in the memtable is folded at write, as RocksDB's `max_successive_merges`, which db_bench leaves at 0, off); range deletions are `DB.DeleteRange` and `Batch.DeleteRange`."},
		},
		{
			Name: "pebble", Version: moduleVersion("github.com/cockroachdb/pebble/v2"), command: goCmd("pebble"),
			Notes: []string{shared + " (filter and compression set on every level); default format major version.",
				"Unsynced writes use `pebble.NoSync`; `disable_wal` sets the database-wide `Options.DisableWAL`.",
				"waitforcompaction polls `Metrics()` until no flush or compaction runs for a second (or the estimated debt is 0); compact flushes, then `Compact(first, last+1, parallelize=true)`.",
				"Bulk load (`--bulk_load`): two concurrent compactions (`CompactionConcurrencyRange` 1 to 2), the setting the issue names for Pebble's faster bulk load.",
				"Merges: Pebble has no uint64add; `--merge_operator=uint64add` sets `Options.Merger` to the bench module's (`engines.Uint64AddMerger`, named \"uint64add\": 8-byte little-endian addition, as RocksDB's); range deletions are `DB.DeleteRange` and `Batch.DeleteRange`."},
		},
		{
			Name: "goleveldb", Version: moduleVersion("github.com/syndtr/goleveldb"), command: goCmd("goleveldb"),
			Notes: []string{shared + ".",
				"Cannot disable its journal (WAL): the bulk load writes it.",
				"No flush call (compact writes the memtable first); no compaction-pending signal, so waitforcompaction waits until the directory and `leveldb.stats` are unchanged for 1 s."},
			Lacks: map[string]string{"merge": "no merge operator", "deleterange": "no range deletion"},
		},
		{
			Name: "badger", Version: moduleVersion("github.com/dgraph-io/badger/v4"), command: goCmd("badger"),
			Notes: []string{"Runs in a worker binary that links only this engine (bench/worker); 64 MiB block cache (indexes kept in memory outside it, Badger's default), bloom false-positive rate 0.01 (≈ 10 bits/key), snappy, 64 MiB memtable, 4 KiB blocks; values inside the LSM tree (default 1 MiB value threshold).",
				"Sync is an open-time setting (`SyncWrites`, on for fillsync); writes are transactions (`Update`, conflict detection on); the WAL cannot be disabled.",
				"No memtable flush call (flush is `Sync`); compact is `Flatten(2)`; waitforcompaction waits until the directory is unchanged for 1 s."},
			Lacks: map[string]string{"merge": "no merge operator (Badger's MergeOperator is a background read-modify-write of stored values, not a merge operand a write records)",
				"deleterange": "no range deletion (DropPrefix drops a prefix, with writes stopped)"},
		},
	}
	for _, e := range engs {
		e.Err, e.GoWorker = errs[e.Name], true
	}
	return engs
}

// StrataCLI returns the bulk-load flow through the strata command (built
// from repo into workDir), run by re-executing self as "cliflow". It takes
// part in the bulk set only.
func StrataCLI(self, repo, workDir string) *Engine {
	e := &Engine{Name: "strata-cli", OnlySets: []string{"bulk"},
		Notes: []string{"The bulk load through the strata command (issue 7): the entries are written to a TSV file first (not timed), then `strata load --parallel 2 --no-wal` (sorted runs on two loaders, tables ingested at once; reported as the fill and flush), `strata compact`, and `strata scan --parallel 2 --count` (reported as readseq: note it reads each entry once, split between two workers, where db_bench's readseq with 2 threads has each thread read every entry). Each is a process; peak RSS is theirs."}}
	bin := filepath.Join(workDir, "strata")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/strata")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		e.Err = fmt.Errorf("building the strata command: %v\n%s", err, out)
		return e
	}
	e.Version = strataVersion(repo)
	e.command = func(flags map[string]string) *exec.Cmd {
		return exec.Command(self, append([]string{"cliflow", "--strata=" + bin}, flagArgs(withoutFlag(flags, "bulk_load"))...)...)
	}
	return e
}

// RocksDB returns the engine driven through Debian's db_bench (rocksdb-tools).
func RocksDB() *Engine {
	e := &Engine{Name: "rocksdb",
		Notes: []string{"Debian's `rocksdb-tools` build of db_bench, which keeps assertions on (it prints \"Assertions are enabled\"): it understates RocksDB.",
			"Same flags: `--cache_size=64 MiB --bloom_bits=10 --compression_type=snappy --write_buffer_size=64 MiB --block_size=4096`; everything else is db_bench 7.8.3's default (LRU cache, 2 background jobs, leveled compaction).",
			"Keys are RocksDB's db_bench keys (the number as 8 big-endian bytes padded with '0' to 16 bytes), not decimal: same order and count, different bytes.",
			"fillsync gets `--writes` divided by 1000, since RocksDB's fillsync otherwise does `--writes` synced writes, not writes/1000 like LevelDB's.",
			"Merges: `--merge_operator=uint64add` (RocksDB's UInt64AddOperator); db_bench merges `--value_size` bytes of its value generator, 8 here, where the Go driver merges the integer 1: the same size. Range deletions are db_bench's own (`--writes_per_range_tombstone` and the rest)."},
	}
	path, err := exec.LookPath("db_bench")
	if err != nil {
		e.Err = fmt.Errorf("db_bench not found (apt-get install -y rocksdb-tools)")
		return e
	}
	e.Version = dpkgVersion("rocksdb-tools")
	if e.Version == "" {
		e.Version = "unknown"
	}
	e.command = func(flags map[string]string) *exec.Cmd { return exec.Command(path, flagArgs(flags)...) }
	e.extra = func(flags map[string]string) map[string]string {
		flags = withoutFlag(flags, "bulk_load") // not a db_bench flag
		if strings.Contains(","+flags["benchmarks"]+",", ",fillsync,") {
			f := make(map[string]string, len(flags)+1)
			for k, v := range flags {
				f[k] = v
			}
			n, _ := strconv.Atoi(flags["num"])
			if w, err := strconv.Atoi(flags["writes"]); err == nil && w >= 0 {
				n = w
			}
			f["writes"] = strconv.Itoa(max(n/1000, 1))
			return f
		}
		return flags
	}
	return e
}

// LevelDB returns C++ LevelDB (Debian's libleveldb-dev) driven by
// leveldb/leveldb_bench.cc, compiled into workDir.
func LevelDB(benchDir, workDir string) *Engine {
	e := &Engine{Name: "leveldb",
		Notes: []string{"C++ LevelDB through Debian's `libleveldb-dev` and `bench/leveldb/leveldb_bench.cc` (same keys, values, workloads and output as `strata bench`), built with g++ -O2.",
			"`NewLRUCache(64 MiB)`, `NewBloomFilterPolicy(10)`, snappy, 64 MiB write buffer, 4 KiB blocks, default max_open_files (1000).",
			"Cannot disable its WAL (the bulk load writes it); no flush call (compact writes the memtable first); waitforcompaction waits until the directory and `leveldb.stats` are unchanged for 1 s."},
		Lacks: map[string]string{"merge": "no merge operator", "deleterange": "no range deletion"},
	}
	if _, err := os.Stat("/usr/include/leveldb/db.h"); err != nil {
		e.Err = fmt.Errorf("libleveldb-dev not installed (apt-get install -y libleveldb-dev)")
		return e
	}
	gxx, err := exec.LookPath("g++")
	if err != nil {
		e.Err = fmt.Errorf("g++ not found (apt-get install -y g++)")
		return e
	}
	bin := filepath.Join(workDir, "leveldb_bench")
	src := filepath.Join(benchDir, "leveldb", "leveldb_bench.cc")
	out, err := exec.Command(gxx, "-O2", "-DNDEBUG", "-std=c++17", "-o", bin, src, "-lleveldb", "-lpthread").CombinedOutput()
	if err != nil {
		e.Err = fmt.Errorf("building %s: %v\n%s", src, err, out)
		return e
	}
	e.Version = dpkgVersion("libleveldb-dev")
	if e.Version == "" {
		e.Version = "unknown"
	}
	e.command = func(flags map[string]string) *exec.Cmd { return exec.Command(bin, flagArgs(flags)...) }
	e.extra = func(flags map[string]string) map[string]string { return withoutFlag(flags, "bulk_load") }
	return e
}

// withoutFlag returns flags without name (a copy when it was there).
func withoutFlag(flags map[string]string, name string) map[string]string {
	if _, ok := flags[name]; !ok {
		return flags
	}
	f := make(map[string]string, len(flags))
	for k, v := range flags {
		if k != name {
			f[k] = v
		}
	}
	return f
}
