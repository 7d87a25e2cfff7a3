package dbbench

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata"
)

// TestValuesMatchDBBench checks the value generator against values written
// by RocksDB's db_bench 7.8.3 (fillseq --num=3 --value_size=100
// --compression_ratio=0.5, dumped with `ldb scan --hex`): both ports of
// RandomGenerator must produce the same bytes.
func TestValuesMatchDBBench(t *testing.T) {
	data, err := os.ReadFile("testdata/rocksdb_fillseq3_values.txt")
	if err != nil {
		t.Fatal(err)
	}
	gen := NewValueGenerator(0.5, 100)
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		_, hexValue, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("testdata line %d: no value", i+1)
		}
		want, err := hex.DecodeString(strings.TrimPrefix(hexValue, "0x"))
		if err != nil {
			t.Fatalf("testdata line %d: %v", i+1, err)
		}
		if got := gen.Generate(100); !bytes.Equal(got, want) {
			t.Fatalf("value %d:\n got %q\nwant %q", i, got, want)
		}
	}
}

func TestValueGenerator(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		size  int
	}{{0.5, 100}, {1, 100}, {0.25, 4096}, {0.5, 2 << 20}} {
		gen := NewValueGenerator(tc.ratio, tc.size)
		if len(gen.data) < max(1<<20, tc.size) {
			t.Fatalf("ratio %g size %d: pool of %d bytes", tc.ratio, tc.size, len(gen.data))
		}
		for i := 0; i < 3; i++ {
			if v := gen.Generate(tc.size); len(v) != tc.size {
				t.Fatalf("ratio %g: value of %d bytes, want %d", tc.ratio, len(v), tc.size)
			}
		}
		// Each 100-byte piece repeats its first ratio*100 bytes.
		raw := int(100 * tc.ratio)
		piece := gen.data[:100]
		for j := raw; j < 100; j++ {
			if piece[j] != piece[j%raw] {
				t.Fatalf("ratio %g: piece byte %d = %q, want a repeat of byte %d", tc.ratio, j, piece[j], j%raw)
			}
		}
	}
}

// TestSharedValuePool: generators over one shared pool hand out exactly the
// values a generator with its own pool does, each from its own position,
// and the pool is built once, on the first value asked for.
func TestSharedValuePool(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		size  int
	}{{0.5, 100}, {0.25, 4096}, {0.5, 2 << 20}} {
		p := &valuePool{compressionRatio: tc.ratio, maxLen: tc.size}
		a, b := p.generator(), p.generator()
		if p.data != nil {
			t.Fatal("pool built before any value was asked for")
		}
		own := NewValueGenerator(tc.ratio, tc.size)
		for i := 0; i < 40; i++ {
			want := own.Generate(tc.size)
			if got := a.Generate(tc.size); !bytes.Equal(got, want) {
				t.Fatalf("ratio %g size %d: shared value %d differs", tc.ratio, tc.size, i)
			}
			if i%2 == 0 {
				b.Generate(tc.size) // b's position must not move a's
			}
		}
		if &a.data[0] != &b.data[0] {
			t.Fatal("generators of one pool hold different pools")
		}
	}
}

func TestRandomMatchesLevelDB(t *testing.T) {
	// Park-Miller with seed 1: the sequence 16807, 282475249, 1622650073, ...
	r := NewRandom(1)
	for i, want := range []uint32{16807, 282475249, 1622650073, 984943658, 1144108930} {
		if got := r.Next(); got != want {
			t.Fatalf("Next #%d = %d, want %d", i, got, want)
		}
	}
	for _, s := range []uint32{0, 2147483647, 1 << 31} {
		if NewRandom(s).seed != 1 {
			t.Errorf("NewRandom(%d) seed %d, want 1", s, NewRandom(s).seed)
		}
	}
}

func TestKeyFormat(t *testing.T) {
	for _, tc := range []struct {
		size, k int
		want    string
	}{
		{16, 0, "0000000000000000"},
		{16, 12345, "0000000000012345"},
		{16, 999999, "0000000000999999"},
		{8, 42, "00000042"},
		{20, 7, "00000000000000000007"},
		{3, 123, "123"},
	} {
		if got := string(KeyFormat{Size: tc.size}.Append(nil, tc.k)); got != tc.want {
			t.Errorf("size %d key %d = %q, want %q", tc.size, tc.k, got, tc.want)
		}
	}
	if err := (KeyFormat{Size: 3}).check(1001); err == nil {
		t.Error("key_size 3 accepted for num 1001")
	}
	if err := (KeyFormat{Size: 3}).check(1000); err != nil {
		t.Errorf("key_size 3, num 1000: %v", err)
	}
}

// TestHistogramPercentiles compares percentiles against the sorted samples:
// within one bucket's width (1.6% above 128 ns).
func TestHistogramPercentiles(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var h, a, b Histogram
	var samples []float64
	for i := 0; i < 20000; i++ {
		d := time.Duration(rng.ExpFloat64() * float64(time.Microsecond) * 5)
		if rng.IntN(100) == 0 {
			d *= 1000
		}
		h.Add(d)
		if i%2 == 0 {
			a.Add(d)
		} else {
			b.Add(d)
		}
		samples = append(samples, float64(d))
	}
	slices.Sort(samples)
	for _, p := range []float64{50, 75, 99, 99.9} {
		want := samples[int(p/100*float64(len(samples)))-1]
		got := float64(h.Percentile(p))
		if got < want*0.97-2 || got > want*1.03+2 {
			t.Errorf("P%g = %.0f ns, sorted samples say %.0f", p, got, want)
		}
	}
	a.Merge(&b)
	if a.String() != h.String() {
		t.Errorf("merged halves differ from the whole:\n%s\n%s", a.String(), h.String())
	}
	for i := 0; i < histBuckets-1; i++ {
		lo := histLower(i)
		if histIndex(lo) != i || histIndex(histLower(i+1)-1) != i {
			t.Fatalf("bucket %d [%d, %d) maps back to %d and %d", i, lo, histLower(i+1), histIndex(lo), histIndex(histLower(i+1)-1))
		}
	}
	if !strings.Contains(h.String(), "Percentiles: P50: ") {
		t.Errorf("no Percentiles line in\n%s", h.String())
	}
	if got := rocksBucketLimits[:14]; !slices.Equal(got, []float64{1, 2, 3, 4, 6, 10, 15, 22, 34, 51, 76, 110, 170, 250}) {
		t.Errorf("RocksDB bucket limits start %v", got)
	}
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		want Result
	}{
		{"fillrandom   :       3.012 micros/op 332005 ops/sec 3.012 seconds 1000000 operations;   36.7 MB/s", true,
			Result{Name: "fillrandom", MicrosPerOp: 3.012, OpsPerSec: 332005, Seconds: 3.012, Ops: 1000000, MBPerSec: 36.7, Reads: -1}},
		{"readrandom   :       1.096 micros/op 908100 ops/sec 0.022 seconds 20000 operations;   63.0 MB/s (12537 of 20000 found)", true,
			Result{Name: "readrandom", MicrosPerOp: 1.096, OpsPerSec: 908100, Seconds: 0.022, Ops: 20000, MBPerSec: 63, Found: 12537, Reads: 20000}},
		{"readmissing  :       1.268 micros/op 786101 ops/sec 0.025 seconds 20000 operations; (0 of 20000 found)", true,
			Result{Name: "readmissing", MicrosPerOp: 1.268, OpsPerSec: 786101, Seconds: 0.025, Ops: 20000, Found: 0, Reads: 20000}},
		{"fillsync     :     482.356 micros/op 2073 ops/sec 4.824 seconds 10000 operations;    0.2 MB/s (10 ops)", true,
			Result{Name: "fillsync", MicrosPerOp: 482.356, OpsPerSec: 2073, Seconds: 4.824, Ops: 10000, MBPerSec: 0.2, Reads: -1, Message: "(10 ops)"}},
		{"deleterandom :      17.104 micros/op 58441 ops/sec 0.171 seconds 10000 operations;", true,
			Result{Name: "deleterandom", MicrosPerOp: 17.104, OpsPerSec: 58441, Seconds: 0.171, Ops: 10000, Reads: -1}},
		{"filluniquerandom :       9.839 micros/op 99990 ops/sec 0.100 seconds 10000 operations;   11.1 MB/s", true,
			Result{Name: "filluniquerandom", MicrosPerOp: 9.839, OpsPerSec: 99990, Seconds: 0.1, Ops: 10000, MBPerSec: 11.1, Reads: -1}},
		// LevelDB's db_bench prints no ops/sec.
		{"fillseq      :       2.000 micros/op;   62.7 MB/s", true,
			Result{Name: "fillseq", MicrosPerOp: 2, OpsPerSec: 500000, MBPerSec: 62.7, Reads: -1}},
		{"readrandom   :      16.677 micros/op; (1000000 of 1000000 found)", true,
			Result{Name: "readrandom", MicrosPerOp: 16.677, OpsPerSec: 1e6 / 16.677, Found: 1000000, Reads: 1000000}},
		{"fillseq      : skipped (--use_existing_db is true)", false, Result{}},
		{"Keys:       16 bytes each", false, Result{}},
		{"Percentiles: P50: 3.55 P75: 3.84 P99: 15.11 P99.9: 60.26 P99.99: 93.00", false, Result{}},
	} {
		got, ok, err := ParseLine(tc.line)
		if err != nil || ok != tc.ok {
			t.Errorf("ParseLine(%q) ok=%v err=%v, want ok=%v", tc.line, ok, err, tc.ok)
			continue
		}
		if ok && fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseLine(%q)\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
	if _, ok, err := ParseLine("x : 1.5.5 micros/op 10 ops/sec 1 seconds 10 operations;"); !ok || err == nil {
		t.Errorf("a malformed number: ok=%v err=%v, want an error", ok, err)
	}
}

// TestParseRocksDB parses real db_bench output (RocksDB 7.8.3 from Debian's
// rocksdb-tools, captured into testdata) and checks the numbers of every line.
func TestParseRocksDB(t *testing.T) {
	results := parseFile(t, "testdata/rocksdb_7.8.3_db_bench.txt")
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
		if r.OpsPerSec <= 0 || r.MicrosPerOp <= 0 || r.Ops <= 0 || r.Seconds < 0 {
			t.Errorf("%s: implausible %+v", r.Name, r)
		}
		if r.Name != "compact" && (r.Percentiles["P99"] < r.Percentiles["P50"] || r.Percentiles["P99.9"] == 0) {
			t.Errorf("%s: percentiles %v", r.Name, r.Percentiles)
		}
	}
	want := []string{"fillseq", "fillrandom", "filluniquerandom", "overwrite", "fillsync", "readrandom", "readmissing",
		"readseq", "readreverse", "seekrandom", "deleterandom", "readwhilewriting", "compact"}
	if !slices.Equal(names, want) {
		t.Fatalf("parsed %v, want %v", names, want)
	}
	rr := results[5]
	if rr.Found != 8 || rr.Reads != 10000 || rr.OpsPerSec != 536049 || rr.Percentiles["P50"] != 0.51 {
		t.Errorf("readrandom parsed as %+v", rr)
	}
	if results[4].Message != "(10 ops)" {
		t.Errorf("fillsync message %q", results[4].Message)
	}
}

// TestParseOwnGolden parses a checked-in sample of `strata bench` output.
func TestParseOwnGolden(t *testing.T) {
	results := parseFile(t, "testdata/strata_bench.txt")
	if len(results) != 2 || results[0].Name != "fillrandom" || results[1].Name != "readrandom" ||
		results[1].Reads != 100000 || results[1].Percentiles["P99.9"] == 0 {
		t.Fatalf("parsed %+v", results)
	}
}

func parseFile(t *testing.T, path string) []Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	results, err := Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return results
}

func runBench(t *testing.T, cfg Config) (string, []Result) {
	t.Helper()
	var out bytes.Buffer
	results, err := Run(cfg, Strata, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	parsed, err := Parse(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// What Run returns is what its output says.
	if len(parsed) != len(results) {
		t.Fatalf("Run returned %d results, its output has %d:\n%s", len(results), len(parsed), out.String())
	}
	for i := range parsed {
		if parsed[i].Name != results[i].Name || parsed[i].Ops != results[i].Ops || parsed[i].Found != results[i].Found {
			t.Errorf("result %d: returned %+v, printed %+v", i, results[i], parsed[i])
		}
	}
	return out.String(), results
}

func testConfig(t *testing.T, num int, benchmarks ...string) Config {
	cfg := DefaultConfig()
	cfg.DB = t.TempDir()
	cfg.Num = num
	cfg.Benchmarks = benchmarks
	cfg.WriteBufferSize = 64 << 10 // several flushes even at small sizes
	return cfg
}

// TestRunWorkloads runs every benchmark and checks what each one did to the
// database against what db_bench's definition says it does.
func TestRunWorkloads(t *testing.T) {
	const num = 3000
	cfg := testConfig(t, num, "fillseq", "readrandom", "readmissing", "readseq", "readreverse", "seekrandom",
		"waitforcompaction", "flush", "compact", "stats")
	cfg.SeekNexts = 10
	cfg.Histogram = true
	out, results := runBench(t, cfg)
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	for _, tc := range []struct {
		name         string
		ops          int64
		found, reads int64
	}{
		{"fillseq", num, 0, -1},
		{"readrandom", num, num, num}, // every key exists after fillseq
		{"readmissing", num, 0, num},
		{"readseq", num, 0, -1},
		{"readreverse", num, 0, -1},
		{"seekrandom", num, num, num},
		{"compact", 1, 0, -1},
	} {
		r, ok := byName[tc.name]
		if !ok {
			t.Fatalf("no %s line in\n%s", tc.name, out)
		}
		if r.Ops != tc.ops || r.Found != tc.found || r.Reads != tc.reads {
			t.Errorf("%s: ops %d found %d of %d, want ops %d found %d of %d", tc.name, r.Ops, r.Found, r.Reads, tc.ops, tc.found, tc.reads)
		}
		if r.Percentiles["P99.9"] < r.Percentiles["P50"] {
			t.Errorf("%s: percentiles %v", tc.name, r.Percentiles)
		}
	}
	// readseq moves (key+value) bytes for every entry.
	if r := byName["readseq"]; r.MBPerSec <= 0 {
		t.Errorf("readseq MB/s %v", r.MBPerSec)
	}
	for _, want := range []string{"Microseconds per write:", "Microseconds per read:", "Microseconds per seek:", "Compactions"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	checkContents(t, cfg.DB, func(k int) bool { return k < num })
}

// checkContents opens the database and checks that it holds exactly the
// keys present() names, each with a db_bench value of the right size.
func checkContents(t *testing.T, dir string, present func(k int) bool) {
	t.Helper()
	d, err := strata.Open(dir, &strata.Options{ErrorIfNotExists: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	keys := KeyFormat{Size: 16}
	it := d.NewIterator(nil)
	defer it.Close()
	k := 0
	for ok := it.First(); ok; ok = it.Next() {
		for !present(k) {
			k++
		}
		if want := keys.Append(nil, k); !bytes.Equal(it.Key(), want) {
			t.Fatalf("key %q, want %q", it.Key(), want)
		}
		if len(it.Value()) != 100 {
			t.Fatalf("key %q: value of %d bytes", it.Key(), len(it.Value()))
		}
		k++
	}
	for ; k < 1<<20 && k < 100000; k++ {
		if present(k) {
			t.Fatalf("key %d missing", k)
		}
	}
}

func TestRunWrites(t *testing.T) {
	const num = 2000
	t.Run("filluniquerandom", func(t *testing.T) {
		cfg := testConfig(t, num, "filluniquerandom")
		cfg.Threads = 4 // forced to one, as in RocksDB
		_, results := runBench(t, cfg)
		if results[0].Ops != num {
			t.Errorf("ops %d", results[0].Ops)
		}
		checkContents(t, cfg.DB, func(k int) bool { return k < num })
	})
	t.Run("fillrandom+deleterandom", func(t *testing.T) {
		cfg := testConfig(t, num, "fillrandom", "deleterandom", "readrandom")
		_, results := runBench(t, cfg)
		// Model: replay the generators. Thread seeds are Seed+1, +2, +3.
		live := map[int]bool{}
		r := NewRandom(uint32(cfg.Seed + 1))
		for i := 0; i < num; i++ {
			live[r.Uniform(num)] = true
		}
		r = NewRandom(uint32(cfg.Seed + 2))
		for i := 0; i < num; i++ {
			delete(live, r.Uniform(num))
		}
		r = NewRandom(uint32(cfg.Seed + 3))
		var found int64
		for i := 0; i < num; i++ {
			if live[r.Uniform(num)] {
				found++
			}
		}
		if results[2].Found != found {
			t.Errorf("readrandom found %d, the model says %d", results[2].Found, found)
		}
		checkContents(t, cfg.DB, func(k int) bool { return live[k] })
	})
	t.Run("fillsync", func(t *testing.T) {
		cfg := testConfig(t, 5000, "fillsync")
		cfg.Threads = 2
		_, results := runBench(t, cfg)
		if results[0].Ops != 10 || results[0].Message != "(5 ops)" {
			t.Errorf("fillsync: %+v, want 2 threads x 5 ops", results[0])
		}
	})
	t.Run("batches without WAL", func(t *testing.T) {
		cfg := testConfig(t, num, "fillbatch", "flush")
		cfg.DisableWAL = true
		_, results := runBench(t, cfg)
		if results[0].Ops != num {
			t.Errorf("ops %d", results[0].Ops)
		}
		checkContents(t, cfg.DB, func(k int) bool { return k < num })
	})
	t.Run("threads", func(t *testing.T) {
		cfg := testConfig(t, num, "fillseq", "readrandom", "readseq", "readwhilewriting")
		cfg.Threads = 3
		_, results := runBench(t, cfg)
		want := []int64{3 * num, 3 * num, 3 * num, 3 * num}
		for i, r := range results {
			if r.Ops != want[i] {
				t.Errorf("%s: %d ops, want %d", r.Name, r.Ops, want[i])
			}
		}
		if results[1].Found != 3*num || results[1].Reads != 3*num {
			t.Errorf("readrandom found %d of %d", results[1].Found, results[1].Reads)
		}
	})
	t.Run("use_existing_db", func(t *testing.T) {
		cfg := testConfig(t, num, "fillseq")
		runBench(t, cfg)
		cfg.UseExistingDB = true
		cfg.Benchmarks = []string{"fillrandom", "readrandom"}
		out, results := runBench(t, cfg)
		if !strings.Contains(out, "fillrandom   : skipped (--use_existing_db is true)") {
			t.Errorf("no skip line in\n%s", out)
		}
		if len(results) != 1 || results[0].Found != num {
			t.Errorf("results %+v", results)
		}
		cfg.DB = t.TempDir() + "/absent"
		if _, err := Run(cfg, Strata, new(bytes.Buffer)); err == nil {
			t.Error("--use_existing_db on a missing database succeeded")
		}
	})
}

func TestFlagsAndValidate(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	err := fs.Parse([]string{"--benchmarks=fillrandom,readrandom", "--num=100000", "--value_size=64",
		"--histogram=1", "--sync=0", "--use_existing_db=true", "--compression_type=zstd", "--cache_size=67108864"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Benchmarks, []string{"fillrandom", "readrandom"}) || cfg.Num != 100000 || cfg.ValueSize != 64 ||
		!cfg.Histogram || cfg.Sync || !cfg.UseExistingDB || cfg.CompressionType != "zstd" || cfg.CacheSize != 64<<20 {
		t.Fatalf("parsed %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Num = 0 }, "--num"},
		{func(c *Config) { c.Benchmarks = []string{"fillseq", "bogus"} }, `unknown benchmark "bogus"`},
		{func(c *Config) { c.CompressionType = "lz4" }, "--compression_type"},
		{func(c *Config) { c.KeySize = 4 }, "--key_size=4 is too small"},
		{func(c *Config) { c.Threads = 0 }, "--threads"},
		{func(c *Config) { c.CompressionRatio = 0 }, "--compression_ratio"},
		{func(c *Config) { c.BatchSize = 0 }, "--batch_size"},
	} {
		c := DefaultConfig()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want an error mentioning %q", err, tc.want)
		}
	}
}

// TestHeader checks the header lines db_bench readers look for.
func TestHeader(t *testing.T) {
	cfg := testConfig(t, 10, "fillseq")
	out, _ := runBench(t, cfg)
	sc := bufio.NewScanner(strings.NewReader(out))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for _, want := range []string{"Keys:       16 bytes each", "Values:     100 bytes each (50 bytes after compression)", "Entries:    10"} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %q in header:\n%s", want, out)
		}
	}
}

// TestDurationRateLimitAndReport checks --duration (reads stop on time and
// report what they did), --benchmark_write_rate_limit (readwhilewriting's
// writer held to a rate, reported on the line) and --report_interval_seconds
// (RocksDB's report file: a header, then one line per interval).
func TestDurationRateLimitAndReport(t *testing.T) {
	const num = 5000
	cfg := testConfig(t, num, "fillseq")
	runBench(t, cfg)
	cfg.UseExistingDB = true
	cfg.Benchmarks = []string{"readrandom", "readwhilewriting", "waitforcompaction"}
	cfg.Reads = 1 << 40
	cfg.Duration = 2
	const writesPerSec = 2000
	cfg.WriteRateLimit = writesPerSec * int64(cfg.KeySize+cfg.ValueSize)
	cfg.ReportInterval = 1
	cfg.ReportFile = filepath.Join(t.TempDir(), "report.csv")
	_, results := runBench(t, cfg)
	results = results[:2] // waitforcompaction leaves the report file to readwhilewriting
	for _, r := range results {
		if r.Seconds < 1.9 || r.Seconds > 4 {
			t.Errorf("%s ran %.2f s with --duration=2", r.Name, r.Seconds)
		}
		if r.Reads != r.Ops || r.Found != r.Reads {
			t.Errorf("%s: %d operations, found %d of %d: want every read counted and found", r.Name, r.Ops, r.Found, r.Reads)
		}
	}
	var writes int64
	var rate float64
	if _, err := fmt.Sscanf(results[1].Message, "(writer: %d writes, %f/s)", &writes, &rate); err != nil {
		t.Fatalf("readwhilewriting message %q: %v", results[1].Message, err)
	}
	if rate < 0.8*writesPerSec || rate > 1.1*writesPerSec {
		t.Errorf("writer held to %d writes/s wrote %.0f/s (%d writes)", writesPerSec, rate, writes)
	}
	data, err := os.ReadFile(cfg.ReportFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "secs_elapsed,interval_qps" || len(lines) < 2 || len(lines) > 4 {
		t.Fatalf("report file of a 2 s benchmark:\n%s", data)
	}
	for i, l := range lines[1:] {
		var secs, qps int64
		if _, err := fmt.Sscanf(l, "%d,%d", &secs, &qps); err != nil || secs != int64(i+1) || qps < writesPerSec/2 {
			t.Errorf("report line %q: secs %d qps %d (%v)", l, secs, qps, err)
		}
	}
}
