package session_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/types"
)

// TestRangeScansMatchFullScans runs random range conditions with
// parameters of every kind (integers in and out of the columns' ranges,
// NULL, numeric and non-numeric strings, decimals, doubles) on a table
// with a primary key, an index and a descending index on an unsigned
// column, and on a copy without indexes: the rows must be the same. A scan
// skips the conditions its key ranges are exactly (plan.Scan.Residual)
// only when the values convert exactly, which is what this checks.
func TestRangeScansMatchFullScans(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE t (a INT PRIMARY KEY, b INT, c TINYINT UNSIGNED, KEY kb (b), KEY kc (c DESC))")
	run(t, s, "CREATE TABLE r (a INT, b INT, c TINYINT UNSIGNED)")
	var vals []string
	for a := 1; a <= 150; a++ {
		b, c := "NULL", "NULL"
		if rng.IntN(5) > 0 {
			b = fmt.Sprint(rng.IntN(60) - 10)
		}
		if rng.IntN(5) > 0 {
			c = fmt.Sprint(rng.IntN(256))
		}
		vals = append(vals, fmt.Sprintf("(%d, %s, %s)", a*2, b, c))
	}
	run(t, s, "INSERT INTO t VALUES "+strings.Join(vals, ", "))
	run(t, s, "INSERT INTO r SELECT * FROM t")
	conds := []string{
		"a = ?", "a BETWEEN ? AND ?", "a > ? AND a <= ?", "a >= ?", "a < ?", "a IN (?, ?, ?)",
		"b = ?", "b BETWEEN ? AND ?", "b < ?", "b >= ? AND b < ?", "b IN (?, ?)",
		"c = ?", "c BETWEEN ? AND ?", "c > ?", "c <= ?", "c IN (?, ?)",
		"a BETWEEN ? AND ? AND b > ?", "b = ? AND a < ?", "a = ? OR b = ?",
	}
	param := func() types.Value {
		switch rng.IntN(9) {
		case 0:
			return types.Null
		case 1:
			return types.NewString(fmt.Sprint(rng.IntN(300) - 10))
		case 2:
			return types.NewString(fmt.Sprintf("%dabc", rng.IntN(300)))
		case 3:
			d, ok := types.ToDecimal(types.NewString(fmt.Sprintf("%d.5", rng.IntN(300)-10)))
			if !ok {
				t.Fatal("ToDecimal of a decimal's text failed")
			}
			return types.NewDecimal(d)
		case 4:
			return types.NewFloat(float64(rng.IntN(300)) - 0.25*float64(rng.IntN(3)))
		case 5:
			return types.NewUint(1<<63 + uint64(rng.IntN(10)))
		case 6:
			return types.NewInt(-1 << 40)
		}
		return types.NewInt(int64(rng.IntN(320) - 10))
	}
	ctx := context.Background()
	prepare := func(q string) *session.Stmt {
		ps, err := s.Prepare(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return ps
	}
	rows := func(ps *session.Stmt, params []types.Value) string {
		res, err := s.Execute(ctx, ps, params)
		if err != nil {
			t.Fatalf("%s %v: %v", ps.SQL, params, err)
		}
		var lines []string
		for _, row := range res.Rows {
			var cells []string
			for _, v := range row {
				cells = append(cells, v.String())
			}
			lines = append(lines, strings.Join(cells, " "))
		}
		return strings.Join(lines, "\n")
	}
	for _, c := range conds {
		indexed := prepare("SELECT a, b, c FROM t WHERE " + c + " ORDER BY a")
		plain := prepare("SELECT a, b, c FROM r WHERE " + c + " ORDER BY a")
		for range 60 {
			params := make([]types.Value, strings.Count(c, "?"))
			for i := range params {
				params[i] = param()
			}
			if got, want := rows(indexed, params), rows(plain, params); got != want {
				t.Fatalf("WHERE %s with %v:\nindexed table:\n%s\nwithout indexes:\n%s", c, params, got, want)
			}
		}
	}
}

// ORDER BY a character string column (which the sort compares by
// collation keys built once per row) orders as types.CompareStrings does,
// NULLs first, ties by the next key.
func TestOrderByStrings(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))")
	words := []string{"a", "A", "b", "B", "ab", "aB", "é", "E", "e", "ß", "ss", "z", "Zz", "", "-1", "10", "9", "über", "uber"}
	type row struct {
		id int
		s  *string
	}
	var rows []row
	var vals []string
	for id := 1; id <= 200; id++ {
		r := row{id: id}
		v := "NULL"
		if rng.IntN(8) > 0 {
			w := words[rng.IntN(len(words))] + words[rng.IntN(len(words))]
			r.s = &w
			v = "'" + w + "'"
		}
		rows = append(rows, r)
		vals = append(vals, fmt.Sprintf("(%d, %s)", id, v))
	}
	run(t, s, "INSERT INTO t VALUES "+strings.Join(vals, ", "))
	for _, desc := range []bool{false, true} {
		q := "SELECT id FROM t ORDER BY s, id"
		if desc {
			q = "SELECT id FROM t ORDER BY s DESC, id"
		}
		want := append([]row(nil), rows...)
		slices.SortStableFunc(want, func(a, b row) int {
			c := 0
			switch {
			case a.s == nil && b.s == nil:
			case a.s == nil:
				c = -1
			case b.s == nil:
				c = 1
			default:
				c = types.CompareStrings(*a.s, *b.s)
			}
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
			return a.id - b.id
		})
		var wantIDs []string
		for _, r := range want {
			wantIDs = append(wantIDs, fmt.Sprint(r.id))
		}
		if got := join(run(t, s, q)); got != strings.Join(wantIDs, "\n") {
			t.Fatalf("%s:\n%s\nwant\n%s", q, strings.ReplaceAll(got, "\n", " "), strings.Join(wantIDs, " "))
		}
	}
}

// A prepared statement's plan, checked once in a transaction, is not read
// again there; after DDL (which commits the transaction) it is, in the
// next transaction as outside one.
func TestPreparedPlanAcrossTransactions(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE t (a INT PRIMARY KEY)")
	run(t, s, "INSERT INTO t VALUES (1)")
	ps, err := s.Prepare(ctx, "SELECT * FROM t WHERE a = ?")
	if err != nil {
		t.Fatal(err)
	}
	cols := func() int {
		res, err := s.Execute(ctx, ps, []types.Value{types.NewInt(1)})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Columns)
	}
	for i, step := range []struct {
		sql  string
		cols int // 0: not executed
	}{
		{"BEGIN", 1}, {"", 1},
		{"ALTER TABLE t ADD COLUMN b INT", 0}, // commits the transaction
		{"BEGIN", 2},
		{"ALTER TABLE t ADD COLUMN c INT", 3},
		{"BEGIN", 3},
		{"COMMIT", 3},
	} {
		if step.sql != "" {
			run(t, s, step.sql)
		}
		if step.cols == 0 {
			continue
		}
		if got := cols(); got != step.cols {
			t.Fatalf("step %d (after %q): %d columns, want %d", i, step.sql, got, step.cols)
		}
	}
}

// SUM and AVG of integers are exact decimals, past int64's range too, and
// mixed with decimals and doubles as before.
func TestSumIntegers(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY, b BIGINT, g INT)")
	run(t, s, "INSERT INTO t VALUES (1, 9223372036854775807, 1), (2, 9223372036854775807, 1), (3, -5, 1), "+
		"(4, -9223372036854775808, 2), (5, -9223372036854775808, 2), (6, NULL, 3), (7, 0, 4), (8, 3, 5)")
	for _, tc := range []struct{ q, want string }{
		{"SELECT SUM(b) FROM t", "-4"},
		{"SELECT g, SUM(b), AVG(b) FROM t GROUP BY g ORDER BY g",
			"1 18446744073709551609 6148914691236517203.0000\n2 -18446744073709551616 -9223372036854775808.0000\n3 NULL NULL\n4 0 0.0000\n5 3 3.0000"},
		{"SELECT SUM(b) FROM t WHERE id BETWEEN 1 AND 3", "18446744073709551609"},
		{"SELECT SUM(b) FROM t WHERE id > 100", "NULL"},
		{"SELECT SUM(g), SUM(g + 0.5), SUM(g + 1e0) FROM t", "19 23.0 27"},
	} {
		if got := join(run(t, s, tc.q)); got != tc.want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.q, got, tc.want)
		}
	}
}

// A scan that reuses its row (under a Project or an aggregate) returns
// NULL, or the default, for a column a row's value does not hold (added
// after the row was written), not the column of the row before it: rows
// written before and after ADD COLUMN alternate in key order.
func TestReusedRowAddedColumn(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY, a INT)")
	run(t, s, "INSERT INTO t VALUES (1, 10), (3, 30), (5, 50)")
	run(t, s, "ALTER TABLE t ADD COLUMN b INT")
	run(t, s, "ALTER TABLE t ADD COLUMN c VARCHAR(10) DEFAULT 'dflt'")
	run(t, s, "INSERT INTO t VALUES (2, 20, 200, 'two'), (4, 40, 400, 'four'), (6, 60, NULL, NULL)")
	want := "1 10 NULL dflt\n2 20 200 two\n3 30 NULL dflt\n4 40 400 four\n5 50 NULL dflt\n6 60 NULL NULL"
	for _, q := range []string{
		"SELECT id, a, b, c FROM t",
		"SELECT id, a, b, c FROM t WHERE id BETWEEN 1 AND 6",
		"SELECT id, a, b, c FROM t WHERE id >= 1 AND a > 0",
	} {
		if got := join(run(t, s, q)); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", q, got, want)
		}
	}
	for _, tc := range []struct{ q, want string }{
		{"SELECT SUM(b), COUNT(b), COUNT(c) FROM t WHERE id BETWEEN 1 AND 6", "600 2 5"},
		{"SELECT GROUP_CONCAT(c ORDER BY id) FROM t", "dflt,two,dflt,four,dflt"},
	} {
		if got := join(run(t, s, tc.q)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.q, got, tc.want)
		}
	}
	// Prepared, so that the second run reuses the first's hints.
	ps, err := s.Prepare(context.Background(), "SELECT b, c FROM t WHERE id BETWEEN ? AND ?")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res, err := s.Execute(context.Background(), ps, []types.Value{types.NewInt(1), types.NewInt(6)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Rows {
			got = append(got, r[0].String()+" "+r[1].String())
		}
		if g, w := strings.Join(got, ","), "NULL dflt,200 two,NULL dflt,400 four,NULL dflt,NULL NULL"; g != w {
			t.Errorf("prepared: %s, want %s", g, w)
		}
	}
}

// The same past a row's 64th column, which DecodeInto's set does not
// cover.
func TestReusedRowAddedColumnWide(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	var cols []string
	for i := range 70 {
		cols = append(cols, fmt.Sprintf("c%d INT", i))
	}
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY, "+strings.Join(cols, ", ")+")")
	run(t, s, "INSERT INTO t (id, c69) VALUES (1, 1), (3, 3)")
	run(t, s, "ALTER TABLE t ADD COLUMN w INT")
	run(t, s, "INSERT INTO t (id, c69, w) VALUES (2, 2, 20), (4, 4, 40)")
	if got, want := join(run(t, s, "SELECT id, c69, w FROM t WHERE id BETWEEN 1 AND 4")), "1 1 NULL\n2 2 20\n3 3 NULL\n4 4 40"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got, want := join(run(t, s, "SELECT SUM(w), COUNT(w) FROM t")), "60 2"; got != want {
		t.Errorf("SUM, COUNT: %s, want %s", got, want)
	}
}
