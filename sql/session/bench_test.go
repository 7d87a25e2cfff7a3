package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/types"
)

// benchSession is a session over an in-memory database with sysbench's
// table (10,000 rows, all in the memtable: the SQL layer's cost, not the
// LSM's shape, decides these benchmarks).
func benchSession(b *testing.B) *session.Session {
	s := newSession(b)
	ctx := context.Background()
	must := func(q string) {
		if _, err := s.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	must("CREATE DATABASE d; USE d")
	must("CREATE TABLE sbtest (id INTEGER NOT NULL PRIMARY KEY, k INTEGER NOT NULL DEFAULT 0, " +
		"c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k))")
	for lo := 1; lo <= 10000; lo += 500 {
		var vals []string
		for id := lo; id < lo+500; id++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, '%s', '%s')", id, id*7%10000, strings.Repeat(fmt.Sprintf("%011d-", id*7919), 10), strings.Repeat("x", 59)))
		}
		must("INSERT INTO sbtest VALUES " + strings.Join(vals, ","))
	}
	return s
}

// BenchmarkReadPath runs oltp_read_only's statements, prepared, on a
// 10,000-row table.
func BenchmarkReadPath(b *testing.B) {
	s := benchSession(b)
	ctx := context.Background()
	for _, q := range []struct{ name, sql string }{
		{"point", "SELECT c FROM sbtest WHERE id = ?"},
		{"range", "SELECT c FROM sbtest WHERE id BETWEEN ? AND ?"},
		{"sum", "SELECT SUM(k) FROM sbtest WHERE id BETWEEN ? AND ?"},
		{"order", "SELECT c FROM sbtest WHERE id BETWEEN ? AND ? ORDER BY c"},
		{"distinct", "SELECT DISTINCT c FROM sbtest WHERE id BETWEEN ? AND ? ORDER BY c"},
	} {
		b.Run(q.name, func(b *testing.B) {
			ps, err := s.Prepare(ctx, q.sql)
			if err != nil {
				b.Fatal(err)
			}
			params := make([]types.Value, ps.Params)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				lo := i*37%9800 + 1
				i++
				params[0] = types.NewInt(int64(lo))
				if len(params) > 1 {
					params[1] = types.NewInt(int64(lo + 99))
				}
				if _, err := s.Execute(ctx, ps, params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSecondaryIndexRange reads 100 rows by a range of sysbench's
// secondary index k_1, prepared: "covering" reads only k and id, which the
// index holds (no lookup of the rows); "lookup" also reads pad, so each
// entry's row is read as well. Each op reads 100 rows (k is id*7 mod
// 10,000: every value once).
func BenchmarkSecondaryIndexRange(b *testing.B) {
	s := benchSession(b)
	ctx := context.Background()
	for _, q := range []struct{ name, sql string }{
		{"covering", "SELECT id, k FROM sbtest WHERE k BETWEEN ? AND ?"},
		{"lookup", "SELECT id, k, LENGTH(pad) FROM sbtest WHERE k BETWEEN ? AND ?"},
	} {
		b.Run(q.name, func(b *testing.B) {
			ps, err := s.Prepare(ctx, q.sql)
			if err != nil {
				b.Fatal(err)
			}
			params := make([]types.Value, 2)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				lo := i*37%9000 + 1
				i++
				params[0], params[1] = types.NewInt(int64(lo)), types.NewInt(int64(lo+99))
				res, err := s.Execute(ctx, ps, params)
				if err != nil {
					b.Fatal(err)
				}
				if n := len(res.Rows); n != 100 {
					b.Fatalf("%d rows", n)
				}
			}
		})
	}
}

// BenchmarkInsertText runs sysbench oltp_insert's statement, sent as text
// with new values each time (id 0: AUTO_INCREMENT), into a table like
// sysbench's: "shaped" as a client sends it (the plan cache of its shape
// runs it), "parsed" with a comment in front (parsed and planned each
// time, as every such statement was before the shapes).
func BenchmarkInsertText(b *testing.B) {
	s := benchSession(b)
	ctx := context.Background()
	if _, err := s.Exec(ctx, "CREATE TABLE sbins (id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, k INTEGER NOT NULL DEFAULT 0, "+
		"c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k))"); err != nil {
		b.Fatal(err)
	}
	stmts := make([]string, 1024)
	for i := range stmts {
		stmts[i] = fmt.Sprintf("INSERT INTO sbins (id, k, c, pad) VALUES (0, %d, '%s', '%s')", i*7919%100000,
			strings.Repeat(fmt.Sprintf("%011d-", i*104729), 10)[:119], strings.Repeat(fmt.Sprintf("%011d-", i*7), 5)[:59])
	}
	for _, mode := range []struct{ name, prefix string }{{"shaped", ""}, {"parsed", "/* parsed */ "}} {
		b.Run(mode.name, func(b *testing.B) {
			texts := make([]string, len(stmts))
			for i, st := range stmts {
				texts[i] = mode.prefix + st
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Exec(ctx, texts[i%len(texts)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
