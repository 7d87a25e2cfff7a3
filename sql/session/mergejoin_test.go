package session_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestMergeJoin checks that the first join of two tables that are both
// scanned in the order of the join's keys runs as a merge join (EXPLAIN
// says "merge"), with the same rows as another join method gives (the
// same query with a key made an expression), over keys with duplicates on
// both sides, NULLs, extra conditions and a key pair the order does not
// cover.
func TestMergeJoin(t *testing.T) {
	seed := uint64(5)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := newSession(t)
	run(t, s, "CREATE DATABASE m; USE m")
	run(t, s, "CREATE TABLE l (id INT PRIMARY KEY, k INT, v INT, d DATE, KEY ik (k), KEY ikv (k, v))")
	run(t, s, "CREATE TABLE r (id INT PRIMARY KEY, k INT, w INT, d DATE, s VARCHAR(4), KEY ik (k), KEY idt (d))")
	for _, tbl := range []string{"l", "r"} {
		var rows []string
		for id := 1; id <= 300; id++ {
			if rng.IntN(4) == 0 {
				continue // gaps in the ids
			}
			k := fmt.Sprint(rng.IntN(40))
			if rng.IntN(8) == 0 {
				k = "NULL"
			}
			extra := ""
			if tbl == "r" {
				extra = fmt.Sprintf(", '%c'", 'a'+rng.IntN(3))
			}
			rows = append(rows, fmt.Sprintf("(%d, %s, %d, '2026-01-%02d'%s)", id, k, rng.IntN(50), 1+rng.IntN(20), extra))
		}
		run(t, s, fmt.Sprintf("INSERT INTO %s VALUES %s", tbl, strings.Join(rows, ", ")))
	}
	cases := []struct {
		merge, other string
		isMerge      bool
	}{
		{"SELECT l.id, r.id, l.v, r.w FROM l JOIN r ON l.id = r.id",
			"SELECT l.id, r.id, l.v, r.w FROM l JOIN r ON l.id + 0 = r.id", true},
		{"SELECT l.id, r.id FROM l JOIN r ON l.k = r.k WHERE l.k > 5 AND r.k > 5",
			"SELECT l.id, r.id FROM l JOIN r ON l.k + 0 = r.k WHERE l.k > 5 AND r.k > 5", true},
		{"SELECT l.id, r.id FROM l JOIN r ON l.k = r.k AND l.v < r.w WHERE l.k >= 0 AND r.k >= 0",
			"SELECT l.id, r.id FROM l JOIN r ON l.k + 0 = r.k AND l.v < r.w WHERE l.k >= 0 AND r.k >= 0", true},
		{"SELECT l.id, r.id FROM l JOIN r ON l.k = r.k AND l.id = r.id WHERE l.k < 30 AND r.k < 30",
			"SELECT l.id, r.id FROM l JOIN r ON l.k + 0 = r.k AND l.id + 0 = r.id WHERE l.k < 30 AND r.k < 30", true},
		{"SELECT l.id, r.k FROM l JOIN r ON l.id = r.k WHERE r.k > 2",
			"SELECT l.id, r.k FROM l JOIN r ON l.id + 0 = r.k WHERE r.k > 2", true},
		// r (filtered by a condition no range stands for) comes first: a
		// lookup for each of its few rows beats reading all of l.
		{"SELECT l.id, r.id FROM l, r WHERE l.id = r.id AND r.s = 'a'",
			"SELECT l.id, r.id FROM l, r WHERE l.id + 0 = r.id AND r.s = 'a'", false},
		{"SELECT COUNT(*), SUM(l.v * r.w) FROM l JOIN r ON l.d = r.d WHERE l.k = 3 AND r.d > '2026-01-05'",
			"SELECT COUNT(*), SUM(l.v * r.w) FROM l JOIN r ON l.d + 0 = r.d WHERE l.k = 3 AND r.d > '2026-01-05'", false},
	}
	// Random shapes: whatever the plan, the rows equal another method's.
	keys := [][2]string{{"l.id", "r.id"}, {"l.k", "r.k"}, {"l.id", "r.k"}, {"l.k", "r.id"}, {"l.d", "r.d"}}
	ops := []string{">", "<", ">=", "<=", "="}
	merges := 0
	for i := 0; i < 60; i++ {
		k := keys[rng.IntN(len(keys))]
		on := fmt.Sprintf("%s = %s", k[0], k[1])
		other := fmt.Sprintf("%s + 0 = %s", k[0], k[1])
		if rng.IntN(3) == 0 {
			on += " AND l.v < r.w"
			other += " AND l.v < r.w"
		}
		var where []string
		for _, col := range []string{"l.k", "r.k", "l.id", "r.id"} {
			if rng.IntN(3) == 0 {
				where = append(where, fmt.Sprintf("%s %s %d", col, ops[rng.IntN(len(ops))], rng.IntN(60)))
			}
		}
		w := ""
		if len(where) > 0 {
			w = " WHERE " + strings.Join(where, " AND ")
		}
		c := cases[0]
		c.merge = "SELECT l.id, r.id, l.k, r.k FROM l JOIN r ON " + on + w
		c.other = "SELECT l.id, r.id, l.k, r.k FROM l JOIN r ON " + other + w
		if got, want := rowStrings(run(t, s, c.merge)), rowStrings(run(t, s, c.other)); !slices.Equal(got, want) {
			t.Fatalf("%s\n got %d rows\nwant %d rows (%s)\nplan:\n%s", c.merge, len(got), len(want), c.other,
				join(run(t, s, "EXPLAIN "+c.merge)))
		}
		if strings.Contains(join(run(t, s, "EXPLAIN "+c.merge)), "(merge)") {
			merges++
		}
	}
	if merges < 3 {
		t.Fatalf("only %d of the 60 random joins ran as merge joins", merges)
	}
	t.Logf("%d of the 60 random joins ran as merge joins", merges)
	for _, c := range cases {
		plan := join(run(t, s, "EXPLAIN "+c.merge))
		if strings.Contains(plan, "(merge)") != c.isMerge {
			t.Fatalf("%s: merge should be %v; plan:\n%s", c.merge, c.isMerge, plan)
		}
		if plan := join(run(t, s, "EXPLAIN "+c.other)); strings.Contains(plan, "(merge)") {
			t.Fatalf("%s: a key is an expression, yet merge:\n%s", c.other, plan)
		}
		got, want := rowStrings(run(t, s, c.merge)), rowStrings(run(t, s, c.other))
		if !slices.Equal(got, want) {
			t.Fatalf("%s\n got %d rows %q\nwant %d rows %q", c.merge, len(got), got, len(want), want)
		}
	}
}
