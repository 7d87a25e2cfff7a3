// Package suite defines the benchmark workloads of the side-by-side
// comparison and runs them: every engine in a fresh directory and in
// separate processes (one per step), engines interleaved within each
// repetition, each result written as a JSON line.
package suite

import (
	"fmt"
	"strconv"
	"strings"
)

// Step is one process: db_bench benchmarks run in order on the workload's
// database. Measure names the report lines that are results; the others
// are setup.
type Step struct {
	Benchmarks []string          `json:"benchmarks"`
	Flags      map[string]string `json:"flags,omitempty"` // on top of the plan's and workload's
	Measure    []string          `json:"measure"`
}

// Workload is a sequence of steps on one fresh database.
type Workload struct {
	Set       string `json:"set"`  // "default", "values", "bulk", "merge"
	Name      string `json:"name"` // unique within the plan
	Num       int    `json:"num"`
	ValueSize int    `json:"value_size"`
	// Flags are db_bench flags for every step, on top of the plan's.
	Flags map[string]string `json:"flags,omitempty"`
	// Needs lists what an engine must have to run the workload ("merge",
	// "deleterange"); engines that lack one (Engine.Lacks) skip it.
	Needs []string `json:"needs,omitempty"`
	Steps []Step   `json:"steps"`
}

// Plan is everything one run does.
type Plan struct {
	Mode      string            `json:"mode"` // "quick" or "full"
	Reps      int               `json:"reps"`
	Common    map[string]string `json:"common"` // db_bench flags for every step
	Workloads []Workload        `json:"workloads"`
}

// Sets are the workload sets, in order.
var Sets = []string{"default", "values", "bulk", "merge"}

// ValueSizes is the value-size sweep.
var ValueSizes = []int{64, 256, 1024, 4096, 16384}

// Settings shared by every engine (see the README for how each maps them).
const (
	CacheSize       = 64 << 20
	BloomBits       = 10
	Compression     = "snappy"
	WriteBufferSize = 64 << 20
	SeekNexts       = 10
	// SyncWritesFactor scales --writes for the fillsync workloads: each
	// thread writes SyncWritesFactor × num / 1000 synced entries.
	SyncWritesFactor = 10
	// Range deletions of the deleterange workload, RocksDB's db_bench
	// flags as its developers run them (e.g. facebook/rocksdb#4449: one
	// range deletion of 100 keys every 100 writes): up to num/100 of them,
	// so that together they span about as many key numbers as the fill
	// writes.
	RangeTombstoneWidth     = 100
	WritesPerRangeTombstone = 100
)

// NewPlan builds the plan. Full sizes are the issue's: 1,000,000 entries of
// 16-byte keys and 100-byte values; the sweep writes min(1M, 256 MiB /
// value size) entries per size; the bulk load 10,000,000. Quick mode divides
// them so that every set with every engine finishes in a few minutes.
func NewPlan(quick bool, reps int, sets []string) (Plan, error) {
	p := Plan{Mode: "full", Reps: reps}
	num, sweepBytes, bulkNum := 1000000, 256<<20, 10000000
	if quick {
		p.Mode = "quick"
		num, sweepBytes, bulkNum = 50000, 8<<20, 200000
	}
	if p.Reps < 1 {
		return p, fmt.Errorf("repetitions must be at least 1, not %d", reps)
	}
	p.Common = map[string]string{
		"key_size":          "16",
		"compression_ratio": "0.5",
		"cache_size":        strconv.Itoa(CacheSize),
		"bloom_bits":        strconv.Itoa(BloomBits),
		"compression_type":  Compression,
		"write_buffer_size": strconv.Itoa(WriteBufferSize),
		"block_size":        "4096",
		"seek_nexts":        strconv.Itoa(SeekNexts),
		"histogram":         "1",
		"sync":              "0",
		"disable_wal":       "0",
		"threads":           "1",
		"seed":              "1000",
	}
	for _, set := range sets {
		switch set {
		case "default":
			p.Workloads = append(p.Workloads, defaultSet(num)...)
		case "values":
			for _, vs := range ValueSizes {
				n := min(num, sweepBytes/vs)
				p.Workloads = append(p.Workloads, Workload{
					Set: "values", Name: "values-" + strconv.Itoa(vs), Num: n, ValueSize: vs,
					Steps: []Step{
						{Benchmarks: []string{"filluniquerandom", "waitforcompaction"}, Measure: []string{"filluniquerandom"}},
						{Benchmarks: []string{"waitforcompaction", "readrandom"}, Measure: []string{"readrandom"}},
					},
				})
			}
		case "merge":
			p.Workloads = append(p.Workloads, mergeSet(num)...)
		case "bulk":
			p.Workloads = append(p.Workloads, Workload{
				Set: "bulk", Name: "bulk", Num: bulkNum, ValueSize: 100,
				Steps: []Step{
					{
						Benchmarks: []string{"filluniquerandom", "flush", "compact"},
						Flags:      map[string]string{"batch_size": "1000", "disable_wal": "1", "bulk_load": "1"},
						Measure:    []string{"filluniquerandom", "flush", "compact"},
					},
					{Benchmarks: []string{"readseq"}, Flags: map[string]string{"threads": "2"}, Measure: []string{"readseq"}},
				},
			})
		default:
			return p, fmt.Errorf("unknown workload set %q (known: %s)", set, strings.Join(Sets, ", "))
		}
	}
	return p, nil
}

// defaultSet is db_bench's default workload: 16-byte keys, 100-byte values.
func defaultSet(num int) []Workload {
	w := func(name string, steps ...Step) Workload {
		return Workload{Set: "default", Name: name, Num: num, ValueSize: 100, Steps: steps}
	}
	// fillsync does --writes/1000 synced writes per thread. With the
	// default --writes (= num) that is 1,000, about 0.3 s on this machine's
	// disk, short enough that one slow moment of fsync latency decides a
	// repetition; every engine gets SyncWritesFactor × num instead.
	syncWrites := strconv.Itoa(SyncWritesFactor * num)
	read := func(name string) Step {
		return Step{Benchmarks: []string{"waitforcompaction", name}, Measure: []string{name}}
	}
	return []Workload{
		w("fillseq", Step{Benchmarks: []string{"fillseq"}, Measure: []string{"fillseq"}}),
		w("fillrandom", Step{Benchmarks: []string{"filluniquerandom"}, Measure: []string{"filluniquerandom"}}),
		w("overwrite", Step{Benchmarks: []string{"filluniquerandom", "waitforcompaction", "overwrite"}, Measure: []string{"overwrite"}}),
		// One fill, then each read benchmark in a process of its own on the
		// settled database.
		w("reads",
			Step{Benchmarks: []string{"filluniquerandom", "waitforcompaction"}},
			read("readrandom"), read("readseq"), read("readreverse"), read("seekrandom")),
		w("fillsync", Step{Benchmarks: []string{"fillsync"}, Flags: map[string]string{"writes": syncWrites}, Measure: []string{"fillsync"}}),
		w("fillsync8", Step{Benchmarks: []string{"fillsync"}, Flags: map[string]string{"threads": "8", "writes": syncWrites}, Measure: []string{"fillsync"}}),
	}
}

// mergeSet is the merge operator and range deletions (issue 23), on the
// engines that have them: RocksDB's db_bench names and flags.
//
//   - mergerandom: num merges of an 8-byte little-endian integer into
//     random keys below num (--merge_operator=uint64add, --value_size=8:
//     RocksDB merges value_size bytes), then, each in a new process after
//     waitforcompaction, readrandom (Gets that fold the operands) and
//     readrandommergerandom (70% merges, 30% Gets).
//   - deleterange: RocksDB has no such benchmark; its write benchmarks
//     write range deletions with --writes_per_range_tombstone,
//     --range_tombstone_width and --max_num_range_tombstones. A unique fill
//     with one range deletion of 100 keys every 100 writes, then readrandom
//     and seekrandom (+10 nexts) across them, each in a new process after
//     waitforcompaction; deleterange-none is the same without range
//     deletions, on the same engines, for the ratio.
func mergeSet(num int) []Workload {
	read := func(name string) Step {
		return Step{Benchmarks: []string{"waitforcompaction", name}, Measure: []string{name}}
	}
	rangeDels := map[string]string{
		"writes_per_range_tombstone": strconv.Itoa(WritesPerRangeTombstone),
		"range_tombstone_width":      strconv.Itoa(RangeTombstoneWidth),
		"max_num_range_tombstones":   strconv.Itoa(max(num/WritesPerRangeTombstone, 1)),
	}
	fill := func(flags map[string]string) Step {
		return Step{Benchmarks: []string{"filluniquerandom", "waitforcompaction"}, Flags: flags, Measure: []string{"filluniquerandom"}}
	}
	return []Workload{
		{Set: "merge", Name: "mergerandom", Num: num, ValueSize: 8, Needs: []string{"merge"},
			Flags: map[string]string{"merge_operator": "uint64add"},
			Steps: []Step{
				{Benchmarks: []string{"mergerandom", "waitforcompaction"}, Measure: []string{"mergerandom"}},
				read("readrandom"), read("readrandommergerandom"),
			}},
		{Set: "merge", Name: "deleterange", Num: num, ValueSize: 100, Needs: []string{"deleterange"},
			Steps: []Step{fill(rangeDels), read("readrandom"), read("seekrandom")}},
		{Set: "merge", Name: "deleterange-none", Num: num, ValueSize: 100, Needs: []string{"deleterange"},
			Steps: []Step{fill(nil), read("readrandom"), read("seekrandom")}},
	}
}

// Flags returns the db_bench flags of step s of workload w in dir: the
// plan's, the workload's sizes, the step's, the database, and
// --use_existing_db for every step after the first.
func (p *Plan) Flags(w *Workload, stepIndex int, dir string) map[string]string {
	f := make(map[string]string)
	for k, v := range p.Common {
		f[k] = v
	}
	f["num"] = strconv.Itoa(w.Num)
	f["value_size"] = strconv.Itoa(w.ValueSize)
	for k, v := range w.Flags {
		f[k] = v
	}
	for k, v := range w.Steps[stepIndex].Flags {
		f[k] = v
	}
	f["benchmarks"] = strings.Join(w.Steps[stepIndex].Benchmarks, ",")
	f["db"] = dir
	f["use_existing_db"] = "0"
	if stepIndex > 0 {
		f["use_existing_db"] = "1"
	}
	return f
}
