// Package dbbench is a db_bench-compatible benchmark driver: the workloads,
// flags, key and value generation and output lines of LevelDB's and
// RocksDB's db_bench, run against any engine that implements DB. The
// `strata bench` command runs it against Strata; the separate bench module
// runs the same code against Pebble, goleveldb and Badger, so every Go
// engine executes byte-for-byte the same workload.
//
// What is db_bench's and what is not:
//
//   - Keys are db_bench's (LevelDB's KeyBuffer): the key number written as
//     zero-padded decimal, "%016d" for the default --key_size=16. RocksDB's
//     db_bench writes the number as 8 big-endian bytes padded with '0'
//     instead; the two encodings order the same numbers the same way, so the
//     workloads are equivalent, but the key bytes differ.
//   - Values come from a port of db_bench's RandomGenerator: a 1 MiB pool
//     built from LevelDB's Park-Miller generator seeded with 301, each 100
//     byte piece made of a random fraction (--compression_ratio) repeated,
//     handed out in consecutive slices. The bytes are exactly db_bench's.
//   - Random key choice uses the same generator (Random.Uniform), seeded as
//     LevelDB does: each thread of each benchmark gets --seed plus a running
//     thread count, so a rerun with the same flags draws the same keys.
//     waitforcompaction and flush, which run without a thread in RocksDB's
//     db_bench (LevelDB's has neither), take no seed: in both tools, a
//     process running "waitforcompaction,readrandom" reads the keys that
//     the first benchmark of an earlier process ("mergerandom") drew.
//   - Each benchmark prints one line in RocksDB's format
//     ("name : X micros/op Y ops/sec Z seconds N operations; W MB/s"),
//     read benchmarks ending in "(F of N found)"; with --histogram a
//     RocksDB-style latency block follows (P50, P75, P99, P99.9, P99.99).
//     Parse reads these lines back, and also RocksDB's and LevelDB's own.
//
// Semantics follow LevelDB's db_bench where the two tools differ: fillsync
// writes num/1000 entries per thread (RocksDB writes --writes entries),
// every thread of a multi-threaded fill or read does the whole count
// (so --threads=2 doubles the work, as in db_bench), filluniquerandom runs in
// one thread (as RocksDB), seekrandom opens a fresh iterator per seek and
// then takes --seek_nexts steps (as RocksDB), and readwhilewriting runs
// --threads readers against one extra writer and reports the readers.
//
// Three of RocksDB's db_bench flags for longer runs are here too:
// --duration ends read benchmarks after that many seconds (each thread
// stops at --reads or on time), --benchmark_write_rate_limit holds writes to
// a rate in bytes per second (readwhilewriting's writer reports the rate it
// kept: "(writer: N writes, R/s)"), and --report_interval_seconds writes
// each benchmark's throughput per interval to --report_file in RocksDB's
// "secs_elapsed,interval_qps" format (waitforcompaction, flush and compact
// leave the file alone).
//
// Merges and range deletions follow RocksDB's db_bench. --merge_operator
// opens the database with a merge operator; only uint64add (8-byte
// little-endian addition: Strata's AddMerger) is known. mergerandom merges
// into random keys (below --merge_keys, default --num) and
// readrandommergerandom mixes merges and Gets, --mergereadpercent (default
// 70) of its operations being merges, as RocksDB counts it despite the
// flag's name; its line ends in RocksDB's "(reads:R merges:M total:T
// hits:H maxlength:L)". Both refuse to run without --merge_operator, as
// RocksDB's db_bench does. Their operand is 1 as 8 little-endian bytes
// (RocksDB's is --value_size bytes of its value generator, the same size
// with --value_size=8). RocksDB has no range-deletion benchmark: its write
// benchmarks write range deletions, and so do this package's (fills,
// overwrite and readwhilewriting's writer), with its flags
// --writes_per_range_tombstone, --range_tombstone_width,
// --max_num_range_tombstones, --writes_before_delete_range and
// --expand_range_tombstones, drawing each deletion's start as the
// benchmark draws its keys, from --num plus --max_num_range_tombstones
// numbers, and printing RocksDB's "Number of range deletions: N" line
// before the report line.
package dbbench
