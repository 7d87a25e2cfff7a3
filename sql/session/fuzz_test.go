package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/session"
)

// FuzzExec runs arbitrary statements against a small database: no input
// may panic (a recovered panic is reported as error 1105 "internal
// error", which fails the target) or take more than a few seconds.
func FuzzExec(f *testing.F) {
	for _, s := range []string{
		"SELECT a, b FROM t WHERE a = 1",
		"SELECT * FROM t JOIN u ON t.a = u.x WHERE u.y LIKE 'a%' ORDER BY 1 DESC LIMIT 2",
		"SELECT a, COUNT(*), SUM(b) FROM t GROUP BY a HAVING COUNT(*) > 0",
		"INSERT INTO t VALUES (9, 'x', 1.5) ON DUPLICATE KEY UPDATE c = VALUES(c) + 1",
		"UPDATE t SET b = CONCAT(b, 'z') WHERE a BETWEEN 1 AND 3",
		"DELETE FROM u WHERE x IN (SELECT a FROM t)",
		"SELECT CASE WHEN a > 1 THEN b END, (SELECT MAX(x) FROM u WHERE u.x = t.a) FROM t",
		"SELECT CAST(c AS DECIMAL(5,2)) / 0, -9223372036854775808 - 1",
		"ALTER TABLE t ADD INDEX (c); SELECT * FROM t WHERE c > 1",
		"WITH w AS (SELECT a FROM t) SELECT * FROM w UNION ALL SELECT x FROM u",
		"SELECT a FROM t INTERSECT SELECT x FROM u EXCEPT SELECT 2",
		"SELECT t1.a, t2.b FROM t t1 JOIN t t2 ON t1.a = t2.a AND t1.c < t2.c",
		"CREATE INDEX ix ON u (x); SELECT x, COUNT(*) FROM u WHERE x > 0 GROUP BY x",
		"SELECT a, COUNT(*), MAX(b) FROM t WHERE a >= 2 GROUP BY a LIMIT 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		e := session.NewEngine(local.New(db))
		e.SyncCommits = false
		s := e.NewSession("root")
		ctx := context.Background()
		setup := "CREATE DATABASE d; USE d; CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR(10), c DOUBLE); " +
			"CREATE TABLE u (x INT, y VARCHAR(5) UNIQUE); INSERT INTO t VALUES (1,'a',1),(2,'b',NULL),(3,NULL,2.5); " +
			"INSERT INTO u VALUES (1,'ab'),(2,NULL),(NULL,'c')"
		if _, err := s.Exec(ctx, setup); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.Exec(ctx, sql)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%q: %v", sql, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: still running after 10 s", sql)
		}
	})
}
