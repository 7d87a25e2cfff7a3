package session_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestCoveringIndexScan checks that a scan of a secondary index that holds
// every column a query reads answers from the index entries alone (EXPLAIN
// says "covering") and gives the same rows as the same query made to read
// a column outside the index (a row lookup per entry), over random rows
// with NULLs, unique entries (the primary key in the value), and after
// updates and deletes; and that columns whose keys do not give their value
// back (strings, floats, descending) are read from the row.
func TestCoveringIndexScan(t *testing.T) {
	seed := uint64(7)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := newSession(t)
	run(t, s, "CREATE DATABASE c; USE c")
	run(t, s, `CREATE TABLE cov (id BIGINT PRIMARY KEY, a INT, u INT UNSIGNED, d DATE, dt DATETIME(3),
		b VARBINARY(8), s VARCHAR(10), f DOUBLE, pad INT,
		KEY ia (a), KEY iud (u, d), UNIQUE KEY ub (b), KEY idt (dt DESC), KEY is_ (s), KEY iff (f))`)
	val := func(p float64, v string) string {
		if rng.Float64() < p {
			return "NULL"
		}
		return v
	}
	insert := func(lo, hi int) {
		var rows []string
		for id := lo; id < hi; id++ {
			rows = append(rows, fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s, %s, %d)", id,
				val(0.1, fmt.Sprint(rng.IntN(200)-100)),
				val(0.1, fmt.Sprint(rng.Uint32())),
				val(0.1, fmt.Sprintf("'2026-%02d-%02d'", 1+rng.IntN(12), 1+rng.IntN(28))),
				val(0.1, fmt.Sprintf("'2026-01-02 03:04:%02d.%03d'", rng.IntN(60), rng.IntN(1000))),
				val(0.2, fmt.Sprintf("X'%04x%02x'", id, rng.IntN(256))),
				val(0.1, fmt.Sprintf("'%c%d'", 'a'+rng.IntN(26), rng.IntN(10))),
				val(0.1, fmt.Sprint(-rng.Float64())),
				id))
		}
		run(t, s, "INSERT INTO cov VALUES "+strings.Join(rows, ", "))
	}
	insert(1, 400)
	queries := []struct {
		sql      string
		index    string // the index the plan reads
		covering bool
	}{
		{"SELECT a, id FROM cov WHERE a > %d", "ia", true},
		{"SELECT id FROM cov WHERE a BETWEEN %d AND 50", "ia", true},
		{"SELECT COUNT(*), SUM(a), MAX(id) FROM cov WHERE a < %d", "ia", true},
		{"SELECT u, d, id FROM cov WHERE u > %d * 10000000", "iud", true},
		{"SELECT d FROM cov WHERE u >= %d + 100", "iud", true},
		{"SELECT b, id FROM cov WHERE b >= X'0100' AND %d IS NOT NULL", "ub", true},
		{"SELECT b FROM cov WHERE b IS NULL AND %d IS NOT NULL", "ub", true},
		{"SELECT a FROM cov WHERE a IS NULL AND %d IS NOT NULL", "ia", true},
		{"SELECT dt, id FROM cov WHERE dt > '2026-01-02 03:04:30' AND %d IS NOT NULL", "idt", false},
		{"SELECT s, id FROM cov WHERE s > 'm' AND %d IS NOT NULL", "is_", false},
		{"SELECT f FROM cov WHERE f < -0.5 AND %d IS NOT NULL", "iff", false},
	}
	check := func(round string) {
		for _, q := range queries {
			arg := rng.IntN(100) - 50
			sql := fmt.Sprintf(q.sql, arg)
			plan := join(run(t, s, "EXPLAIN "+sql))
			if !strings.Contains(plan, "using "+q.index) || strings.Contains(plan, "covering") != q.covering {
				t.Fatalf("%s: %s: want %s, covering %v; plan:\n%s", round, sql, q.index, q.covering, plan)
			}
			// The same query reading pad, a column outside every index.
			lookup := strings.Replace(sql, "WHERE ", "WHERE (pad IS NULL OR pad IS NOT NULL) AND (", 1) + ")"
			if plan := join(run(t, s, "EXPLAIN "+lookup)); strings.Contains(plan, "covering") {
				t.Fatalf("%s: %s reads pad, yet the plan is covering:\n%s", round, lookup, plan)
			}
			got, want := run(t, s, sql), run(t, s, lookup)
			if len(got) == 0 && q.covering && !strings.HasPrefix(sql, "SELECT COUNT") {
				t.Logf("%s: %s: no rows", round, sql)
			}
			g, w := rowStrings(got), rowStrings(want)
			if !slices.Equal(g, w) {
				t.Fatalf("%s: %s\n got %q\nwant %q", round, sql, g, w)
			}
		}
	}
	check("after insert")
	run(t, s, "UPDATE cov SET a = a + 7, u = u DIV 3 WHERE id % 3 = 0")
	run(t, s, "UPDATE cov SET b = NULL WHERE id % 5 = 0")
	run(t, s, "DELETE FROM cov WHERE id % 7 = 0")
	insert(400, 500)
	check("after updates and deletes")
	// In an open transaction, its own writes are read through the index.
	run(t, s, "BEGIN")
	run(t, s, "UPDATE cov SET a = -1000 WHERE id = 2")
	if got := join(run(t, s, "SELECT id FROM cov WHERE a = -1000")); got != "2" {
		t.Fatalf("own write through a covering scan: %q", got)
	}
	run(t, s, "ROLLBACK")
}

// rowStrings renders rows as sorted lines.
func rowStrings(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "|")
	}
	slices.Sort(out)
	return out
}
