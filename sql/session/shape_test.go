package session_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/strata-db/strata/sql/session"
)

var shapeSeed = flag.Uint64("shape-seed", 0, "seed of TestValuesShapeMatchesParse (0: a new one)")

// outcome is what a statement did, as a client sees it.
func outcome(s *session.Session, sql string) string {
	rs, err := s.Exec(context.Background(), sql)
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "error %v", err)
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "affected %d, id %d, info %q, rows %v", r.RowsAffected, r.LastInsertID, r.Info, r.Rows)
	}
	for _, w := range s.Warnings() {
		fmt.Fprintf(&b, "; warning %v", w)
	}
	return b.String()
}

// TestValuesShapeMatchesParse runs random INSERT, REPLACE and INSERT ...
// ON DUPLICATE KEY UPDATE statements, with values of every kind (out of
// range, too long, duplicate keys, wrong counts), on two engines: one
// sees them as they are (the plan cache of their shapes runs them), the
// other with a comment in front (parsed and planned each time). Every
// statement's outcome (rows affected, insert id, warnings, error) and
// the tables must be the same, through DDL that changes the plans
// (-shape-seed repeats a run).
func TestValuesShapeMatchesParse(t *testing.T) {
	seed := *shapeSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (-shape-seed to repeat)", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	shaped, parsed := newSession(t), newSession(t)
	var ok, failed int
	both := func(sql string) {
		t.Helper()
		a, b := outcome(shaped, sql), outcome(parsed, "/* parsed */ "+sql)
		if a != b {
			t.Fatalf("seed %d: %s\nshape: %s\nparse: %s", seed, sql, a, b)
		}
		if strings.HasPrefix(a, "error") {
			failed++
		} else {
			ok++
		}
	}
	both("CREATE DATABASE d")
	both("USE d")
	both("CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, k INT NOT NULL DEFAULT 0, c CHAR(6) NOT NULL DEFAULT '', " +
		"d DECIMAL(6,2), f DOUBLE, u TINYINT UNSIGNED, UNIQUE KEY (c), KEY (k))")
	both("CREATE TABLE log (n INT)")
	both("CREATE TRIGGER tg AFTER INSERT ON t FOR EACH ROW INSERT INTO log VALUES (NEW.k)")
	values := []string{"0", "1", "2", "3", "17", "-1", "255", "256", "9223372036854775808", "18446744073709551616",
		"1.5", "2.345", ".5", "1e3", "1e999", "-2.5e-1", "''", "'a'", "'b'", "'abcdef'", "'abcdefg'", "'it''s'",
		"'12'", "'x1'", "'1e2'", "NULL", "DEFAULT", "'2020-01-02'", "X'41'", "1+1"}
	ddl := []string{
		"ALTER TABLE t ADD COLUMN e INT DEFAULT 7",
		"ALTER TABLE t DROP COLUMN e",
		"TRUNCATE TABLE t",
		"ALTER TABLE t ADD UNIQUE INDEX uk (k)",
		"ALTER TABLE t DROP INDEX uk",
		"USE d",
	}
	cols := []string{"id", "k", "c", "d", "f", "u"}
	for i := 0; i < 1500; i++ {
		if r.IntN(100) == 0 {
			both(ddl[r.IntN(len(ddl))])
			continue
		}
		var b strings.Builder
		verb := []string{"INSERT", "INSERT IGNORE", "REPLACE", "INSERT"}[r.IntN(4)]
		b.WriteString(verb + " INTO t ")
		n := len(cols)
		if r.IntN(3) > 0 {
			n = 1 + r.IntN(len(cols))
			perm := r.Perm(len(cols))[:n]
			var names []string
			for _, p := range perm {
				names = append(names, cols[p])
			}
			b.WriteString("(" + strings.Join(names, ", ") + ") ")
		}
		b.WriteString("VALUES ")
		for row := range 1 + r.IntN(3) {
			if row > 0 {
				b.WriteString(", ")
			}
			width := n
			if r.IntN(30) == 0 {
				width += 1 - 2*r.IntN(2) // a wrong count
			}
			var vs []string
			for range max(width, 0) {
				vs = append(vs, values[r.IntN(len(values))])
			}
			b.WriteString("(" + strings.Join(vs, ", ") + ")")
		}
		if verb == "INSERT" && r.IntN(3) == 0 {
			b.WriteString(" ON DUPLICATE KEY UPDATE k = k + 1")
		}
		both(b.String())
	}
	both("SELECT * FROM t ORDER BY id")
	both("SELECT COUNT(*), SUM(n) FROM log")
	t.Logf("%d statements succeeded, %d failed", ok, failed)
	if ok < 200 || failed < 200 {
		t.Fatalf("seed %d: %d statements succeeded and %d failed: the test no longer covers both", seed, ok, failed)
	}
}

// TestValuesShapeAcrossDatabases checks that a shape's plan is not used
// for a table of the same name in another database, nor for a table
// dropped and created again with other columns.
func TestValuesShapeAcrossDatabases(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE a; CREATE DATABASE b")
	run(t, s, "CREATE TABLE a.t (x INT, y VARCHAR(5)); CREATE TABLE b.t (y VARCHAR(5), x INT)")
	run(t, s, "USE a")
	run(t, s, "INSERT INTO t VALUES (1, 'one')")
	run(t, s, "USE b")
	run(t, s, "INSERT INTO t VALUES ('two', 2)")
	run(t, s, "USE a")
	run(t, s, "DROP TABLE t")
	run(t, s, "CREATE TABLE t (y VARCHAR(5), x INT)")
	run(t, s, "INSERT INTO t VALUES ('three', 3)")
	fails(t, s, "INSERT INTO t VALUES (4)", 1136)
	if got := join(run(t, s, "SELECT * FROM a.t UNION ALL SELECT * FROM b.t")); got != "three 3\ntwo 2" {
		t.Fatalf("rows: %q", got)
	}
}
