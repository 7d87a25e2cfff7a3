package dbbench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata"
)

// readCounters opens the database with the add operator and returns every
// key's value as a number (each must be an 8-byte little-endian integer).
func readCounters(t *testing.T, dir string) map[int]uint64 {
	t.Helper()
	d, err := strata.Open(dir, &strata.Options{ErrorIfNotExists: true, Merger: strata.AddMerger})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	keys := KeyFormat{Size: 16}
	got := map[int]uint64{}
	it := d.NewIterator(nil)
	for ok := it.First(); ok; ok = it.Next() {
		var k int
		if _, err := fmt.Sscanf(string(it.Key()), "%d", &k); err != nil || !bytes.Equal(keys.Append(nil, k), it.Key()) {
			t.Fatalf("key %q is not a db_bench key", it.Key())
		}
		if len(it.Value()) != 8 {
			t.Fatalf("key %q: value of %d bytes, want 8", it.Key(), len(it.Value()))
		}
		got[k] = binary.LittleEndian.Uint64(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return got
}

// checkCounters checks that the database holds exactly the keys of want
// with their counts, summing to merges (every merge adds 1).
func checkCounters(t *testing.T, dir string, want map[int]uint64, merges int) {
	t.Helper()
	got := readCounters(t, dir)
	var sum, wantSum uint64
	for k, v := range got {
		sum += v
		if want[k] != v {
			t.Errorf("key %d = %d, the model says %d", k, v, want[k])
		}
	}
	for _, v := range want {
		wantSum += v
	}
	if len(got) != len(want) || sum != uint64(merges) || wantSum != uint64(merges) {
		t.Errorf("%d keys summing to %d, the model has %d summing to %d; %d merges", len(got), sum, len(want), wantSum, merges)
	}
}

// TestMergeRandom checks mergerandom against a model (a replay of the
// thread's generator): the keys it merged into, each key's count, the sum
// of all values (the operand is 1, so it equals the operations), the
// operations reported, and RocksDB's message.
func TestMergeRandom(t *testing.T) {
	const num, ops = 3000, 5000
	for _, tc := range []struct {
		name    string
		threads int
		keys    int // --merge_keys; -1: --num
	}{
		{"num keys", 1, -1},
		{"merge_keys", 1, 50}, // 100 operands per key: folded at write, in flushes and compactions
		{"threads", 2, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, num, "mergerandom", "compact")
			cfg.MergeOperator = "uint64add"
			cfg.Writes = ops
			cfg.MergeKeys = tc.keys
			cfg.Threads = tc.threads
			cfg.Histogram = true
			out, results := runBench(t, cfg)
			r := results[0]
			if r.Name != "mergerandom" || r.Ops != int64(tc.threads*ops) || r.Message != fmt.Sprintf("( updates:%d)", ops) {
				t.Errorf("mergerandom reported %+v, want %d operations and ( updates:%d)", r, tc.threads*ops, ops)
			}
			if !strings.Contains(out, "Microseconds per merge:") || r.MBPerSec <= 0 {
				t.Errorf("no merge histogram or no MB/s in\n%s", out)
			}
			keys := cfg.mergeKeys()
			want := map[int]uint64{}
			for th := 1; th <= tc.threads; th++ {
				rnd := NewRandom(uint32(cfg.Seed + int64(th)))
				for range ops {
					want[rnd.Uniform(keys)]++
				}
			}
			checkCounters(t, cfg.DB, want, tc.threads*ops)
		})
	}
}

// TestReadRandomMergeRandom checks readrandommergerandom's mix (a merge
// with probability --mergereadpercent, as RocksDB's db_bench counts it,
// else a Get) and its message against a model, after mergerandom, and that
// the values sum to every merge of both benchmarks.
func TestReadRandomMergeRandom(t *testing.T) {
	const num = 2000
	for _, pct := range []int{70, 0, 100} {
		t.Run(fmt.Sprintf("mergereadpercent=%d", pct), func(t *testing.T) {
			cfg := testConfig(t, num, "mergerandom", "readrandommergerandom")
			cfg.MergeOperator = "uint64add"
			cfg.MergeReadPercent = pct
			_, results := runBench(t, cfg)
			// Model: mergerandom's thread has seed Seed+1; the mix's, Seed+2.
			count := map[int]uint64{}
			rnd := NewRandom(uint32(cfg.Seed + 1))
			for range num {
				count[rnd.Uniform(num)]++
			}
			rnd = NewRandom(uint32(cfg.Seed + 2))
			var reads, merges, hits, maxLen int
			for range num {
				k := rnd.Uniform(num)
				if rnd.Uniform(100) < pct {
					count[k]++
					merges++
				} else {
					reads++
					if count[k] > 0 {
						hits++
						maxLen = 8
					}
				}
			}
			r := results[1]
			want := fmt.Sprintf("(reads:%d merges:%d total:%d hits:%d maxlength:%d)", reads, merges, num, hits, maxLen)
			if r.Name != "readrandommergerandom" || r.Ops != num || r.Message != want {
				t.Errorf("reported %+v, want %d operations and %s", r, num, want)
			}
			if pct == 70 && (merges < num*6/10 || merges > num*8/10) {
				t.Errorf("%d merges of %d operations with --mergereadpercent=70", merges, num)
			}
			checkCounters(t, cfg.DB, count, num+merges)
		})
	}
}

// noExtras is an engine with neither merges nor range deletions.
type noExtras struct{ DB }

func (n noExtras) NewBatch() Batch { return plainBatch{n.DB.NewBatch()} }
func (n noExtras) Apply(b Batch, wo WriteOptions) error {
	return n.DB.Apply(b.(plainBatch).Batch, wo)
}

type plainBatch struct{ Batch }

// TestMergeAndRangeDeleteRefusals: the merge benchmarks refuse to run
// without --merge_operator (as RocksDB's db_bench: "skipped
// (--merge_operator is unknown)", and it exits), and on an engine without
// merges; range deletions on an engine without them fail, and
// --expand_range_tombstones writes point deletions there instead.
func TestMergeAndRangeDeleteRefusals(t *testing.T) {
	for _, b := range []string{"mergerandom", "readrandommergerandom"} {
		cfg := testConfig(t, 100, b)
		if _, err := Run(cfg, Strata, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "needs --merge_operator=uint64add") {
			t.Errorf("%s without --merge_operator: %v", b, err)
		}
	}
	cfg := testConfig(t, 100, "mergerandom")
	cfg.MergeOperator = "uint64max"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--merge_operator") {
		t.Errorf("--merge_operator=uint64max: %v", err)
	}
	plain := Engine{Name: "plain", Destroy: Strata.Destroy, Open: func(dir string, o Options) (DB, error) {
		db, err := Strata.Open(dir, o)
		if err != nil {
			return nil, err
		}
		return noExtras{db}, nil
	}}
	cfg.MergeOperator = "uint64add"
	if _, err := Run(cfg, plain, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "the plain engine has no merge operator") {
		t.Errorf("mergerandom on an engine without merges: %v", err)
	}
	cfg = testConfig(t, 100, "fillrandom")
	cfg.WritesPerRangeTombstone, cfg.MaxNumRangeTombstones = 10, 5
	if _, err := Run(cfg, plain, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "the plain engine has no range deletion") {
		t.Errorf("range deletions on an engine without them: %v", err)
	}
	cfg.ExpandRangeTombstones = true
	if _, err := Run(cfg, plain, new(bytes.Buffer)); err != nil {
		t.Errorf("expanded range deletions on an engine without range deletions: %v", err)
	}
}

// TestRangeTombstones checks the write benchmarks' range deletions against
// a model of RocksDB's db_bench: keys and the deletions' starts drawn from
// one generator over --num + --max_num_range_tombstones numbers, a
// deletion after --writes_before_delete_range entries and then every
// --writes_per_range_tombstone, at most --max_num_range_tombstones, each
// --range_tombstone_width numbers wide; the count is reported as RocksDB
// prints it; --expand_range_tombstones leaves the same keys.
func TestRangeTombstones(t *testing.T) {
	const num, every, most, width = 3000, 25, 40, 30
	for _, tc := range []struct {
		bench  string
		before int
		batch  int
		expand bool
	}{
		{"fillrandom", 0, 1, false},
		{"fillrandom", 500, 1, false},
		{"fillrandom", 0, 7, false},
		{"fillrandom", 0, 1, true},
		{"filluniquerandom", 0, 1, false},
		{"fillseq", 0, 1, false},
	} {
		t.Run(fmt.Sprintf("%s/before=%d/batch=%d/expand=%v", tc.bench, tc.before, tc.batch, tc.expand), func(t *testing.T) {
			cfg := testConfig(t, num, tc.bench)
			cfg.WritesPerRangeTombstone, cfg.MaxNumRangeTombstones, cfg.RangeTombstoneWidth = every, most, width
			cfg.WritesBeforeDeleteRange, cfg.BatchSize, cfg.ExpandRangeTombstones = tc.before, tc.batch, tc.expand
			out, results := runBench(t, cfg)
			// Model: the thread's generator (seed Seed+1), one draw per key
			// and one per deletion, in write order.
			n := num + most
			var next func() int
			switch tc.bench {
			case "fillrandom":
				rnd := NewRandom(uint32(cfg.Seed + 1))
				next = func() int { return rnd.Uniform(n) }
			case "filluniquerandom":
				rnd := NewRandom(uint32(cfg.Seed + 1))
				perm := make([]int, n)
				for i := range perm {
					perm[i] = i
				}
				for i := n - 1; i > 0; i-- {
					j := rnd.Uniform(i + 1)
					perm[i], perm[j] = perm[j], perm[i]
				}
				i := 0
				next = func() int { i++; return perm[i-1] }
			case "fillseq":
				i := 0
				next = func() int { i++; return i - 1 }
			}
			live := map[int]bool{}
			dels := 0
			for w := 1; w <= num; w++ {
				live[next()] = true
				if d := w - tc.before; d > 0 && d%every == 0 && d/every <= most {
					dels++
					begin := next()
					for k := begin; k < begin+width; k++ {
						delete(live, k)
					}
				}
			}
			wantDels := min(most, (num-tc.before)/every)
			if dels != wantDels {
				t.Fatalf("model: %d range deletions, want %d", dels, wantDels)
			}
			r := results[0]
			if r.Ops != num || r.RangeDeletions != dels || !strings.Contains(out, fmt.Sprintf("Number of range deletions: %d\n%s", dels, tc.bench)) {
				t.Errorf("reported %+v (%d range deletions), want %d operations, %d range deletions on the line before\n%s", r, r.RangeDeletions, num, dels, out)
			}
			if tc.bench != "fillseq" && len(live) > num-dels {
				t.Errorf("model: deletions deleted nothing (%d live)", len(live))
			}
			checkContents(t, cfg.DB, func(k int) bool { return live[k] })
		})
	}
	t.Run("readwhilewriting", func(t *testing.T) {
		cfg := testConfig(t, num, "fillseq")
		runBench(t, cfg)
		cfg.UseExistingDB = true
		cfg.Benchmarks = []string{"readwhilewriting"}
		cfg.WritesPerRangeTombstone, cfg.MaxNumRangeTombstones = 1, 5
		// The writer writes while the reader reads (as db_bench's, it
		// checks first, so a reader done before it starts leaves it
		// nothing to do): enough reads that it surely writes.
		cfg.Reads = 200000
		_, results := runBench(t, cfg)
		// Each of the writer's first five entries is followed by a
		// deletion.
		if d := results[0].RangeDeletions; d < 1 || d > 5 {
			t.Errorf("readwhilewriting's writer wrote %d range deletions, want 1 to 5", d)
		}
	})
}

// TestParseRangeDeletions reads RocksDB's "Number of range deletions"
// lines (db_bench 7.8.3's output, one per writing thread) into the next
// report line.
func TestParseRangeDeletions(t *testing.T) {
	out := `DB path: [/tmp/rdbt]
Number of range deletions: 200
Number of range deletions: 50
filluniquerandom :       5.455 micros/op 183203 ops/sec 0.109 seconds 20000 operations;   20.3 MB/s
readrandom   :       1.731 micros/op 577233 ops/sec 0.035 seconds 20000 operations;   40.0 MB/s (12523 of 20000 found)
readrandommergerandom :       4.676 micros/op 213723 ops/sec 0.094 seconds 20000 operations; (reads:5990 merges:14010 total:20000 hits:4400 maxlength:8)
`
	results, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || results[0].RangeDeletions != 250 || results[1].RangeDeletions != 0 ||
		results[2].Name != "readrandommergerandom" || results[2].Message != "(reads:5990 merges:14010 total:20000 hits:4400 maxlength:8)" {
		t.Fatalf("parsed %+v", results)
	}
}

// TestSeedsAsRocksDB: waitforcompaction and flush take no thread seed, as
// in RocksDB's db_bench, so a process running them and then readrandom
// reads the keys the first benchmark of the process before drew: after
// mergerandom, every read finds its key (RocksDB's db_bench does the same
// with the suite's steps).
func TestSeedsAsRocksDB(t *testing.T) {
	const num = 2000
	cfg := testConfig(t, num, "mergerandom", "waitforcompaction")
	cfg.MergeOperator = "uint64add"
	runBench(t, cfg)
	cfg.UseExistingDB = true
	cfg.Benchmarks = []string{"waitforcompaction", "flush", "readrandom"}
	_, results := runBench(t, cfg)
	if r := results[2]; r.Found != num || r.Reads != num {
		t.Errorf("readrandom after mergerandom found %d of %d, want every key", r.Found, r.Reads)
	}
	cfg.Benchmarks = []string{"compact", "readrandom"} // compact takes a seed, as in RocksDB
	_, results = runBench(t, cfg)
	if r := results[1]; r.Found == num {
		t.Errorf("readrandom after compact found every key: it drew mergerandom's keys")
	}
}
