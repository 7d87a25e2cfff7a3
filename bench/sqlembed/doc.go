// Package sqlembed holds the embedded SQL benchmarks (embed_test.go): the
// same four statements through database/sql with prepared statements, on one
// connection, against Strata's driver (package sql/driver, commits synced)
// and SQLite (modernc.org/sqlite, pure Go, WAL mode, synchronous=FULL, so
// each commit is synced too).
//
//	go test -run '^$' -bench BenchmarkSQLEmbedded -rounds 5 ./sqlembed
//
// Each round runs every statement on both engines (the first engine
// alternating between rounds), so the engines take turns through a run
// instead of one running all its repetitions before the other: -count would
// repeat each sub-benchmark back to back. Sub-benchmarks are named
// round=N/op=NAME/engine=NAME (benchstat -ignore round groups the rounds).
// The databases live in $STRATA_SQLBENCH_DIR (default: a temporary
// directory), on a real disk for the syncs to mean anything.
package sqlembed
