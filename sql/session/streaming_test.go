package session_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestStreamingAggregate checks that GROUP BY over a scan whose index
// brings each group's rows together aggregates as a stream (EXPLAIN says
// "streaming"), with the same groups and values as hashing gives (the same
// query grouping by an expression, which the index does not order), and
// that other shapes keep hashing.
func TestStreamingAggregate(t *testing.T) {
	seed := uint64(11)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := newSession(t)
	run(t, s, "CREATE DATABASE g; USE g")
	run(t, s, `CREATE TABLE t (id INT PRIMARY KEY, a INT, u INT, d INT, s VARCHAR(8), v INT,
		KEY ia (a), KEY iud (u, d), KEY is_ (s))`)
	var rows []string
	for id := 1; id <= 600; id++ {
		a := fmt.Sprint(rng.IntN(30))
		if rng.IntN(10) == 0 {
			a = "NULL"
		}
		str := fmt.Sprintf("'%c%d'", "aAbB"[rng.IntN(4)], rng.IntN(3))
		rows = append(rows, fmt.Sprintf("(%d, %s, %d, %d, %s, %d)", id, a, rng.IntN(5), rng.IntN(8), str, rng.IntN(1000)))
	}
	run(t, s, "INSERT INTO t VALUES "+strings.Join(rows, ", "))
	cases := []struct {
		stream, hash string // the query, and the same grouping by expressions
		streaming    bool
	}{
		{"SELECT a, COUNT(*), SUM(v), MIN(id) FROM t WHERE a > 3 GROUP BY a",
			"SELECT a+0, COUNT(*), SUM(v), MIN(id) FROM t WHERE a > 3 GROUP BY a+0", true},
		{"SELECT a, COUNT(*) FROM t WHERE a IS NULL OR a < 5 GROUP BY a",
			"SELECT a+0, COUNT(*) FROM t WHERE a IS NULL OR a < 5 GROUP BY a+0", false},
		{"SELECT id, SUM(v) FROM t WHERE id > 100 GROUP BY id",
			"SELECT id+0, SUM(v) FROM t WHERE id > 100 GROUP BY id+0", true},
		{"SELECT d, u, COUNT(*), MAX(v) FROM t WHERE u >= 1 GROUP BY d, u",
			"SELECT d+0, u+0, COUNT(*), MAX(v) FROM t WHERE u >= 1 GROUP BY d+0, u+0", true},
		{"SELECT d, COUNT(*), AVG(v) FROM t WHERE u = 2 GROUP BY d",
			"SELECT d+0, COUNT(*), AVG(v) FROM t WHERE u = 2 GROUP BY d+0", true},
		{"SELECT d, COUNT(*) FROM t WHERE u > 2 GROUP BY d",
			"SELECT d+0, COUNT(*) FROM t WHERE u > 2 GROUP BY d+0", false},
		{"SELECT COUNT(*), GROUP_CONCAT(id ORDER BY id) FROM t WHERE s >= 'a' GROUP BY s",
			"SELECT COUNT(*), GROUP_CONCAT(id ORDER BY id) FROM t WHERE s >= 'a' GROUP BY CONCAT(s, '')", true},
		{"SELECT a, COUNT(*) FROM t WHERE a > 3 GROUP BY a HAVING COUNT(*) > 20",
			"SELECT a+0, COUNT(*) FROM t WHERE a > 3 GROUP BY a+0 HAVING COUNT(*) > 20", true},
		{"SELECT a, COUNT(DISTINCT u) FROM t WHERE a BETWEEN 2 AND 9 GROUP BY a ORDER BY a DESC",
			"SELECT a+0, COUNT(DISTINCT u) FROM t WHERE a BETWEEN 2 AND 9 GROUP BY a+0 ORDER BY a+0 DESC", true},
	}
	for _, c := range cases {
		plan := join(run(t, s, "EXPLAIN "+c.stream))
		if strings.Contains(plan, "streaming aggregate") != c.streaming {
			t.Fatalf("%s: streaming should be %v; plan:\n%s", c.stream, c.streaming, plan)
		}
		if plan := join(run(t, s, "EXPLAIN "+c.hash)); strings.Contains(plan, "streaming") {
			t.Fatalf("%s: grouping by expressions, yet streaming:\n%s", c.hash, plan)
		}
		got, want := rowStrings(run(t, s, c.stream)), rowStrings(run(t, s, c.hash))
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("%s\n got %q\nwant %q", c.stream, got, want)
		}
	}
	// Random shapes: whatever the plan, the groups equal the hashed ones.
	ops := []string{">", "<", ">=", "<=", "="}
	aggs := []string{"COUNT(*)", "SUM(v)", "MIN(id)", "MAX(v)", "AVG(v)", "COUNT(DISTINCT d)"}
	streamed := 0
	for i := 0; i < 60; i++ {
		agg := aggs[rng.IntN(len(aggs))] + ", " + aggs[rng.IntN(len(aggs))]
		var q, h string
		switch rng.IntN(3) {
		case 0:
			w := fmt.Sprintf("a %s %d", ops[rng.IntN(len(ops))], rng.IntN(30))
			q = fmt.Sprintf("SELECT a, %s FROM t WHERE %s GROUP BY a", agg, w)
			h = fmt.Sprintf("SELECT a+0, %s FROM t WHERE %s GROUP BY a+0", agg, w)
		case 1:
			w := fmt.Sprintf("u %s %d", ops[rng.IntN(len(ops))], rng.IntN(5))
			if rng.IntN(2) == 0 {
				w += fmt.Sprintf(" AND d %s %d", ops[rng.IntN(len(ops))], rng.IntN(8))
			}
			g, gh := "u, d", "u+0, d+0"
			if rng.IntN(2) == 0 {
				g, gh = "d, u", "d+0, u+0"
			}
			q = fmt.Sprintf("SELECT %s, %s FROM t WHERE %s GROUP BY %s", g, agg, w, g)
			h = fmt.Sprintf("SELECT %s, %s FROM t WHERE %s GROUP BY %s", gh, agg, w, gh)
		default:
			w := fmt.Sprintf("u = %d", rng.IntN(5))
			q = fmt.Sprintf("SELECT d, %s FROM t WHERE %s GROUP BY d", agg, w)
			h = fmt.Sprintf("SELECT d+0, %s FROM t WHERE %s GROUP BY d+0", agg, w)
		}
		if got, want := rowStrings(run(t, s, q)), rowStrings(run(t, s, h)); !slices.Equal(got, want) {
			t.Fatalf("%s\n got %q\nwant %q (%s)", q, got, want, h)
		}
		if strings.Contains(join(run(t, s, "EXPLAIN "+q)), "streaming") {
			streamed++
		}
	}
	if streamed < 3 {
		t.Fatalf("only %d of the 60 random groupings streamed", streamed)
	}
	t.Logf("%d of the 60 random groupings streamed", streamed)
	// A LIMIT above takes the first groups, in the index's order.
	got := join(run(t, s, "SELECT a, COUNT(*) FROM t WHERE a > 3 GROUP BY a LIMIT 2"))
	want := join(run(t, s, "SELECT a, COUNT(*) FROM t WHERE a > 3 GROUP BY a+0 ORDER BY a LIMIT 2"))
	if got != want {
		t.Fatalf("LIMIT over a streaming aggregate: %q, want %q", got, want)
	}
}
