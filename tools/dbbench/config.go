package dbbench

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Benchmarks lists every benchmark name Run knows, in a sensible order.
var Benchmarks = []string{
	"fillseq", "fillrandom", "filluniquerandom", "overwrite", "fillsync",
	"fillbatch", "readrandom", "readmissing", "readseq", "readreverse",
	"seekrandom", "deleterandom", "deleteseq", "readwhilewriting",
	"txnrmw", "txnbatch", "txncontended",
	"mergerandom", "readrandommergerandom",
	"waitforcompaction", "flush", "compact", "stats",
}

// DefaultBenchmarks is the --benchmarks default: LevelDB's db_bench
// default list, less its non-database micro-benchmarks.
const DefaultBenchmarks = "fillseq,fillsync,fillrandom,overwrite,readrandom,readrandom,readseq,readreverse," +
	"compact,readrandom,readseq,readreverse"

// Config holds db_bench's flags. DefaultConfig gives db_bench's defaults.
type Config struct {
	Benchmarks       []string // names, run in order
	Num              int      // number of entries (--num)
	Reads            int      // reads per thread; < 0 means Num (--reads)
	Writes           int      // writes per thread for fills; < 0 means Num (--writes)
	KeySize          int      // bytes per key (--key_size)
	ValueSize        int      // bytes per value (--value_size)
	CompressionRatio float64  // how compressible values are (--compression_ratio)
	Threads          int      // concurrent threads per benchmark (--threads)
	BatchSize        int      // entries per write batch (--batch_size)
	SeekNexts        int      // Next calls after each seekrandom seek (--seek_nexts)
	Seed             int64    // base of the per-thread seeds (--seed)
	Histogram        bool     // print latency histograms (--histogram)
	Sync             bool     // sync every write (--sync)
	DisableWAL       bool     // write without the WAL (--disable_wal)
	BulkLoad         bool     // configure the engine for a bulk load (--bulk_load)
	UseExistingDB    bool     // keep the database; skip fresh-db benchmarks (--use_existing_db)
	DB               string   // database directory (--db)
	// Duration, if positive, ends each thread of a read benchmark
	// (readrandom, readmissing, seekrandom, readwhilewriting's readers)
	// after this many seconds, or at --reads, whichever comes first
	// (--duration, as RocksDB's).
	Duration int
	// WriteRateLimit, if positive, holds the writes of fills, overwrite,
	// deletes and readwhilewriting's writer to this many bytes (key plus
	// value) per second, shared by the benchmark's threads
	// (--benchmark_write_rate_limit, as RocksDB's).
	WriteRateLimit int64
	// ReportInterval, if positive, writes each benchmark's throughput
	// every this many seconds to ReportFile, as RocksDB's db_bench does:
	// a "secs_elapsed,interval_qps" header, then one line per interval;
	// each benchmark rewrites the file (--report_interval_seconds,
	// --report_file).
	ReportInterval int
	ReportFile     string

	// MergeOperator names the merge operator the database is opened with
	// (--merge_operator, RocksDB's name): "" for none, or "uint64add",
	// addition of 8-byte little-endian integers (Strata's AddMerger). As
	// in RocksDB's db_bench, mergerandom and readrandommergerandom refuse
	// to run without one.
	MergeOperator string
	// MergeKeys is how many distinct keys mergerandom and
	// readrandommergerandom draw from; negative means Num (--merge_keys).
	MergeKeys int
	// MergeReadPercent is the percentage of readrandommergerandom's
	// operations that are merges, the rest being reads (--mergereadpercent:
	// despite its name, RocksDB's db_bench counts merges with it).
	MergeReadPercent int

	// Range deletions written by the write benchmarks (fills, overwrite,
	// fillsync, fillbatch and readwhilewriting's writer), as RocksDB's
	// db_bench writes them: after WritesBeforeDeleteRange entries, one
	// range deletion every WritesPerRangeTombstone entries, at most
	// MaxNumRangeTombstones of them, each deleting RangeTombstoneWidth
	// consecutive key numbers from a key drawn as the benchmark draws its
	// keys. With ExpandRangeTombstones each is that many point deletions
	// instead. (--writes_before_delete_range, --writes_per_range_tombstone,
	// --max_num_range_tombstones, --range_tombstone_width,
	// --expand_range_tombstones.)
	WritesBeforeDeleteRange int
	WritesPerRangeTombstone int
	MaxNumRangeTombstones   int
	RangeTombstoneWidth     int
	ExpandRangeTombstones   bool

	// Engine settings.
	CacheSize       int64  // block cache bytes; negative disables (--cache_size)
	BloomBits       int    // bloom bits per key; <= 0 disables (--bloom_bits)
	CompressionType string // none, snappy or zstd (--compression_type)
	WriteBufferSize int    // memtable bytes (--write_buffer_size)
	BlockSize       int    // data block bytes (--block_size)
	OpenFiles       int    // max open table files; 0 = engine default (--open_files)

	TxnConfig // the transaction benchmarks' flags (txn.go)
}

// DefaultConfig returns db_bench's defaults (Strata's for the engine
// settings db_bench leaves to the engine).
func DefaultConfig() Config {
	return Config{
		Benchmarks:          strings.Split(DefaultBenchmarks, ","),
		Num:                 1000000,
		Reads:               -1,
		Writes:              -1,
		KeySize:             16,
		ValueSize:           100,
		CompressionRatio:    0.5,
		Threads:             1,
		BatchSize:           1,
		SeekNexts:           0,
		Seed:                1000,
		DB:                  filepath.Join(os.TempDir(), "strata-dbbench"),
		ReportFile:          "report.csv",
		MergeKeys:           -1,
		MergeReadPercent:    70,
		RangeTombstoneWidth: 100,
		CacheSize:           8 << 20,
		BloomBits:           10,
		CompressionType:     "snappy",
		WriteBufferSize:     4 << 20,
		BlockSize:           4 << 10,
	}
}

// benchmarkList is a flag.Value for the comma-separated --benchmarks.
type benchmarkList struct{ list *[]string }

func (b benchmarkList) String() string {
	if b.list == nil {
		return ""
	}
	return strings.Join(*b.list, ",")
}

func (b benchmarkList) Set(s string) error {
	*b.list = nil
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*b.list = append(*b.list, name)
		}
	}
	return nil
}

// RegisterFlags defines db_bench's flags on fs, bound to c's fields with
// c's current values as defaults. Flag names are db_bench's
// (--value_size, --use_existing_db, ...); booleans take 0/1 or true/false.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(benchmarkList{&c.Benchmarks}, "benchmarks",
		"comma-separated benchmarks to run in order: "+strings.Join(Benchmarks, ", "))
	fs.IntVar(&c.Num, "num", c.Num, "number of entries")
	fs.IntVar(&c.Reads, "reads", c.Reads, "reads per thread (negative: --num)")
	fs.IntVar(&c.Writes, "writes", c.Writes, "writes per thread for fills (negative: --num)")
	fs.IntVar(&c.KeySize, "key_size", c.KeySize, "key size in bytes (zero-padded decimal)")
	fs.IntVar(&c.ValueSize, "value_size", c.ValueSize, "value size in bytes")
	fs.Float64Var(&c.CompressionRatio, "compression_ratio", c.CompressionRatio,
		"fraction of its size a value compresses to")
	fs.IntVar(&c.Threads, "threads", c.Threads, "concurrent threads per benchmark")
	fs.IntVar(&c.BatchSize, "batch_size", c.BatchSize, "entries per write batch")
	fs.IntVar(&c.SeekNexts, "seek_nexts", c.SeekNexts, "Next calls after each seek in seekrandom")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "base seed of the per-thread random generators")
	fs.BoolVar(&c.Histogram, "histogram", c.Histogram, "print latency histograms (p50, p99, p99.9)")
	fs.BoolVar(&c.Sync, "sync", c.Sync, "sync every write")
	fs.BoolVar(&c.DisableWAL, "disable_wal", c.DisableWAL, "write without the write-ahead log")
	fs.BoolVar(&c.BulkLoad, "bulk_load", c.BulkLoad,
		"use the engine's bulk-load configuration (Strata: Options.PrepareForBulkLoad, and compact writes straight to the last level in parallel)")
	fs.BoolVar(&c.UseExistingDB, "use_existing_db", c.UseExistingDB,
		"use the existing database and skip benchmarks that need a fresh one")
	fs.StringVar(&c.DB, "db", c.DB, "database directory (deleted first unless --use_existing_db)")
	fs.IntVar(&c.Duration, "duration", c.Duration,
		"seconds after which each thread of a read benchmark stops, if it has not done --reads (0: no limit)")
	fs.Int64Var(&c.WriteRateLimit, "benchmark_write_rate_limit", c.WriteRateLimit,
		"bytes (key + value) per second that writes are held to, across threads (0: no limit)")
	fs.IntVar(&c.ReportInterval, "report_interval_seconds", c.ReportInterval,
		"write each benchmark's operations per second every this many seconds to --report_file (0: never)")
	fs.StringVar(&c.ReportFile, "report_file", c.ReportFile, "file for --report_interval_seconds (rewritten by each benchmark)")
	fs.StringVar(&c.MergeOperator, "merge_operator", c.MergeOperator,
		"merge operator to open the database with: uint64add (8-byte little-endian addition), or none; mergerandom and readrandommergerandom need it")
	fs.IntVar(&c.MergeKeys, "merge_keys", c.MergeKeys,
		"distinct keys for mergerandom and readrandommergerandom (negative: --num)")
	fs.IntVar(&c.MergeReadPercent, "mergereadpercent", c.MergeReadPercent,
		"percentage of readrandommergerandom's operations that are merges (the rest are reads), as RocksDB's db_bench counts it")
	fs.IntVar(&c.WritesBeforeDeleteRange, "writes_before_delete_range", c.WritesBeforeDeleteRange,
		"entries the write benchmarks write before their first range deletion")
	fs.IntVar(&c.WritesPerRangeTombstone, "writes_per_range_tombstone", c.WritesPerRangeTombstone,
		"the write benchmarks write a range deletion every this many entries (0: none)")
	fs.IntVar(&c.MaxNumRangeTombstones, "max_num_range_tombstones", c.MaxNumRangeTombstones,
		"most range deletions a write benchmark writes (per thread)")
	fs.IntVar(&c.RangeTombstoneWidth, "range_tombstone_width", c.RangeTombstoneWidth,
		"key numbers each range deletion deletes")
	fs.BoolVar(&c.ExpandRangeTombstones, "expand_range_tombstones", c.ExpandRangeTombstones,
		"write each range deletion as --range_tombstone_width point deletions")
	fs.Int64Var(&c.CacheSize, "cache_size", c.CacheSize, "block cache size in bytes (negative: no cache)")
	fs.IntVar(&c.BloomBits, "bloom_bits", c.BloomBits, "bloom filter bits per key (<= 0: no filter)")
	fs.StringVar(&c.CompressionType, "compression_type", c.CompressionType, "block compression: none, snappy or zstd")
	fs.IntVar(&c.WriteBufferSize, "write_buffer_size", c.WriteBufferSize, "memtable size in bytes")
	fs.IntVar(&c.BlockSize, "block_size", c.BlockSize, "data block size in bytes")
	fs.IntVar(&c.OpenFiles, "open_files", c.OpenFiles, "maximum open table files (0: engine default)")
	c.TxnConfig.registerFlags(fs)
}

// Validate reports the first flag value Run cannot use.
func (c *Config) Validate() error {
	if err := c.TxnConfig.validate(); err != nil {
		return err
	}
	switch {
	case c.Num < 1:
		return fmt.Errorf("--num must be at least 1, not %d", c.Num)
	case c.KeySize < 1 || c.KeySize > 1024:
		return fmt.Errorf("--key_size must be in [1, 1024], not %d", c.KeySize)
	case c.ValueSize < 0:
		return fmt.Errorf("--value_size must not be negative, not %d", c.ValueSize)
	case c.CompressionRatio <= 0 || c.CompressionRatio > 1:
		return fmt.Errorf("--compression_ratio must be in (0, 1], not %g", c.CompressionRatio)
	case c.Threads < 1:
		return fmt.Errorf("--threads must be at least 1, not %d", c.Threads)
	case c.BatchSize < 1:
		return fmt.Errorf("--batch_size must be at least 1, not %d", c.BatchSize)
	case c.SeekNexts < 0:
		return fmt.Errorf("--seek_nexts must not be negative, not %d", c.SeekNexts)
	case c.WriteBufferSize < 0:
		return fmt.Errorf("--write_buffer_size must not be negative, not %d", c.WriteBufferSize)
	case c.DB == "":
		return fmt.Errorf("--db must name a directory")
	case c.Duration < 0 || c.WriteRateLimit < 0 || c.ReportInterval < 0:
		return fmt.Errorf("--duration, --benchmark_write_rate_limit and --report_interval_seconds must not be negative")
	case c.ReportInterval > 0 && c.ReportFile == "":
		return fmt.Errorf("--report_interval_seconds needs a --report_file")
	case c.MergeOperator != "" && c.MergeOperator != "uint64add":
		return fmt.Errorf("--merge_operator must be uint64add or empty, not %q", c.MergeOperator)
	case c.MergeReadPercent < 0 || c.MergeReadPercent > 100:
		return fmt.Errorf("--mergereadpercent must be in [0, 100], not %d", c.MergeReadPercent)
	case c.MergeKeys == 0:
		return fmt.Errorf("--merge_keys must be positive, or negative for --num")
	case c.WritesBeforeDeleteRange < 0 || c.WritesPerRangeTombstone < 0 || c.MaxNumRangeTombstones < 0:
		return fmt.Errorf("--writes_before_delete_range, --writes_per_range_tombstone and --max_num_range_tombstones must not be negative")
	case c.RangeTombstoneWidth < 1:
		return fmt.Errorf("--range_tombstone_width must be at least 1, not %d", c.RangeTombstoneWidth)
	}
	switch c.CompressionType {
	case "none", "snappy", "zstd":
	default:
		return fmt.Errorf("--compression_type must be none, snappy or zstd, not %q", c.CompressionType)
	}
	known := make(map[string]bool, len(Benchmarks))
	for _, b := range Benchmarks {
		known[b] = true
	}
	for _, b := range c.Benchmarks {
		if !known[b] {
			return fmt.Errorf("unknown benchmark %q in --benchmarks (known: %s)", b, strings.Join(Benchmarks, ", "))
		}
	}
	for _, b := range c.Benchmarks {
		if (b == "mergerandom" || b == "readrandommergerandom") && c.MergeOperator == "" {
			// RocksDB's db_bench: "mergerandom : skipped (--merge_operator
			// is unknown)", and it exits.
			return fmt.Errorf("%s needs --merge_operator=uint64add", b)
		}
	}
	keys := KeyFormat{Size: c.KeySize}
	if err := keys.check(max(c.Num, c.mergeKeys())); err != nil {
		return err
	}
	if c.WritesPerRangeTombstone > 0 {
		// The write benchmarks draw from --num plus the tombstones'
		// count, and a tombstone ends --range_tombstone_width past its
		// start (RocksDB's db_bench does the same).
		if err := keys.check(c.Num + c.MaxNumRangeTombstones + c.RangeTombstoneWidth); err != nil {
			return fmt.Errorf("range deletions: %w", err)
		}
	}
	return nil
}

// mergeKeys is --merge_keys, or --num when negative.
func (c *Config) mergeKeys() int {
	if c.MergeKeys < 0 {
		return c.Num
	}
	return c.MergeKeys
}

// EngineOptions returns the engine settings c asks for.
func (c *Config) EngineOptions() Options {
	return Options{
		CacheSize:       c.CacheSize,
		BloomBits:       c.BloomBits,
		Compression:     c.CompressionType,
		WriteBufferSize: c.WriteBufferSize,
		BlockSize:       c.BlockSize,
		OpenFiles:       c.OpenFiles,
		DisableWAL:      c.DisableWAL,
		Sync:            c.Sync,
		MustExist:       c.UseExistingDB,
		BulkLoad:        c.BulkLoad,
		MergeOperator:   c.MergeOperator,
	}
}
