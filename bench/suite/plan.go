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
	Set       string `json:"set"`  // "default", "values", "bulk"
	Name      string `json:"name"` // unique within the plan
	Num       int    `json:"num"`
	ValueSize int    `json:"value_size"`
	Steps     []Step `json:"steps"`
}

// Plan is everything one run does.
type Plan struct {
	Mode      string            `json:"mode"` // "quick" or "full"
	Reps      int               `json:"reps"`
	Common    map[string]string `json:"common"` // db_bench flags for every step
	Workloads []Workload        `json:"workloads"`
}

// Sets are the workload sets, in order.
var Sets = []string{"default", "values", "bulk"}

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
