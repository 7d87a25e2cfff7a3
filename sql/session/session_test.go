package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/types"
)

func newSession(t testing.TB) *session.Session {
	t.Helper()
	return newEngine(t).NewSession("root")
}

// newEngine opens an engine over a database in memory.
func newEngine(t testing.TB) *session.Engine {
	t.Helper()
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := session.NewEngine(local.New(db))
	e.SyncCommits = false
	return e
}

func run(t *testing.T, s *session.Session, sql string) [][]string {
	t.Helper()
	res, err := s.Exec(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out [][]string
	for _, r := range res {
		for _, row := range r.Rows {
			var cells []string
			for _, v := range row {
				cells = append(cells, v.String())
			}
			out = append(out, cells)
		}
	}
	return out
}

func fails(t *testing.T, s *session.Session, sql string, code int) {
	t.Helper()
	_, err := s.Exec(context.Background(), sql)
	e, ok := err.(*types.Error)
	if !ok || e.Code != code {
		t.Fatalf("%s: got %v, want error %d", sql, err, code)
	}
}

func join(rows [][]string) string {
	var lines []string
	for _, r := range rows {
		lines = append(lines, strings.Join(r, " "))
	}
	return strings.Join(lines, "\n")
}

func TestQuickstart(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE shop; USE shop")
	run(t, s, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, age INT, KEY by_age (age))")
	run(t, s, "INSERT INTO users VALUES (1, 'ann', 30), (2, 'bob', 25), (3, 'cy', NULL)")
	if got := join(run(t, s, "SELECT name FROM users WHERE id = 2")); got != "bob" {
		t.Fatalf("point select: %q", got)
	}
	plan := join(run(t, s, "EXPLAIN SELECT name FROM users WHERE id = 2"))
	if !strings.Contains(plan, "point lookup of users using PRIMARY") {
		t.Fatalf("EXPLAIN: %s", plan)
	}
	plan = join(run(t, s, "EXPLAIN SELECT name FROM users WHERE age > 26"))
	if !strings.Contains(plan, "index range scan of users using by_age") {
		t.Fatalf("EXPLAIN: %s", plan)
	}
	if got := join(run(t, s, "SELECT name FROM users WHERE age > 26")); got != "ann" {
		t.Fatalf("index range: %q", got)
	}
	if got := join(run(t, s, "SELECT name FROM users WHERE name LIKE 'B%'")); got != "bob" {
		t.Fatalf("scan: %q", got)
	}
	if got := join(run(t, s, "SELECT COUNT(*), SUM(age), AVG(age), MIN(name) FROM users")); got != "3 55 27.5000 ann" {
		t.Fatalf("aggregates: %q", got)
	}
	fails(t, s, "INSERT INTO users VALUES (1, 'dup', 1)", 1062)
	fails(t, s, "INSERT INTO users (id) VALUES (9)", 1364)
	fails(t, s, "SELECT nope FROM users", 1054)
	fails(t, s, "SELECT * FROM nope", 1146)
	run(t, s, "UPDATE users SET age = age + 1 WHERE id <= 2")
	if got := join(run(t, s, "SELECT id, age FROM users ORDER BY id")); got != "1 31\n2 26\n3 NULL" {
		t.Fatalf("after update: %q", got)
	}
	run(t, s, "DELETE FROM users WHERE age IS NULL")
	if got := join(run(t, s, "SELECT COUNT(*) FROM users")); got != "2" {
		t.Fatalf("after delete: %q", got)
	}
	if got := join(run(t, s, "CHECK TABLE users")); !strings.HasSuffix(got, "OK") {
		t.Fatalf("check: %q", got)
	}
}

func TestJoinsAndSubqueries(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE a (id INT PRIMARY KEY, x INT)")
	run(t, s, "CREATE TABLE b (id INT PRIMARY KEY, a_id INT, y VARCHAR(5))")
	run(t, s, "INSERT INTO a VALUES (1, 10), (2, 20), (3, 30)")
	run(t, s, "INSERT INTO b VALUES (1, 1, 'p'), (2, 1, 'q'), (3, 2, 'r')")
	if got := join(run(t, s, "SELECT a.x, b.y FROM a JOIN b ON b.a_id = a.id ORDER BY b.y")); got != "10 p\n10 q\n20 r" {
		t.Fatalf("join: %q", got)
	}
	if got := join(run(t, s, "SELECT a.id, COUNT(b.id) FROM a LEFT JOIN b ON b.a_id = a.id GROUP BY a.id ORDER BY a.id")); got != "1 2\n2 1\n3 0" {
		t.Fatalf("left join: %q", got)
	}
	if got := join(run(t, s, "SELECT x FROM a WHERE id IN (SELECT a_id FROM b) ORDER BY x")); got != "10\n20" {
		t.Fatalf("IN subquery: %q", got)
	}
	if got := join(run(t, s, "SELECT x, (SELECT COUNT(*) FROM b WHERE b.a_id = a.id) FROM a ORDER BY x DESC")); got != "30 0\n20 1\n10 2" {
		t.Fatalf("correlated: %q", got)
	}
	if got := join(run(t, s, "SELECT x FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id AND y = 'r')")); got != "20" {
		t.Fatalf("exists: %q", got)
	}
	if got := join(run(t, s, "SELECT x FROM a UNION SELECT id FROM b ORDER BY 1 LIMIT 4")); got != "1\n2\n3\n10" {
		t.Fatalf("union: %q", got)
	}
	if got := join(run(t, s, "WITH c AS (SELECT a_id, COUNT(*) n FROM b GROUP BY a_id) SELECT a.x, c.n FROM a, c WHERE a.id = c.a_id ORDER BY 1")); got != "10 2\n20 1" {
		t.Fatalf("cte: %q", got)
	}
}

func TestTransactions(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d; CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
	run(t, s, "BEGIN; INSERT INTO t (v) VALUES (1), (2); ROLLBACK")
	if got := join(run(t, s, "SELECT COUNT(*) FROM t")); got != "0" {
		t.Fatalf("rolled back: %q", got)
	}
	run(t, s, "START TRANSACTION; INSERT INTO t (v) VALUES (5); SAVEPOINT a; INSERT INTO t (v) VALUES (6); ROLLBACK TO SAVEPOINT a; COMMIT")
	if got := join(run(t, s, "SELECT v FROM t")); got != "5" {
		t.Fatalf("savepoint: %q", got)
	}
	if got := join(run(t, s, "SELECT LAST_INSERT_ID() > 0")); got != "1" {
		t.Fatalf("last insert id: %q", got)
	}
	// A failed statement in a transaction leaves the rest.
	run(t, s, "BEGIN; INSERT INTO t VALUES (100, 1)")
	fails(t, s, "INSERT INTO t VALUES (101, 1), (100, 2)", 1062)
	run(t, s, "COMMIT")
	if got := join(run(t, s, "SELECT id FROM t WHERE id >= 100")); got != "100" {
		t.Fatalf("statement atomicity: %q", got)
	}
}

func TestAutoIncrementExplicitValues(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d; CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
	for _, step := range []struct {
		explicit int
		want     string // the id the next automatic insert gets
	}{
		{5, "6"},     // above the counter: the next value is past it
		{3, "7"},     // below the next value: nothing moves
		{50, "51"},   // inside the reserved range: the values up to it are skipped
		{500, "501"}, // past the reserved range
		{0, "503"},   // 0 is an automatic value (502)
	} {
		run(t, s, fmt.Sprintf("INSERT INTO t VALUES (%d, 1)", step.explicit))
		run(t, s, "INSERT INTO t (v) VALUES (2)")
		if got := join(run(t, s, "SELECT LAST_INSERT_ID()")); got != step.want {
			t.Fatalf("after an explicit %d: automatic id %s, want %s", step.explicit, got, step.want)
		}
	}
	if got := join(run(t, s, "SELECT COUNT(*), MAX(id) FROM t")); got != "10 503" {
		t.Fatalf("rows: %q", got)
	}
}

func TestPreparedPlanCache(t *testing.T) {
	s := newSession(t)
	ctx := context.Background()
	run(t, s, "CREATE DATABASE d; USE d; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 10), (2, 20)")
	ps, err := s.Prepare(ctx, "SELECT * FROM t WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 2, 1} {
		r, err := s.Execute(ctx, ps, []types.Value{types.NewInt(id)})
		if err != nil || len(r.Rows) != 1 || r.Rows[0][0].Int() != id {
			t.Fatalf("execute %d: %v %v", id, r, err)
		}
	}
	run(t, s, "ALTER TABLE t ADD COLUMN w INT DEFAULT 7")
	r, err := s.Execute(ctx, ps, []types.Value{types.NewInt(2)})
	if err != nil || len(r.Rows[0]) != 3 || r.Rows[0][2].String() != "7" {
		t.Fatalf("after ALTER: %v %v", r, err)
	}
	ins, err := s.Prepare(ctx, "INSERT INTO t (id, v) VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(3); i < 6; i++ {
		if _, err := s.Execute(ctx, ins, []types.Value{types.NewInt(i), types.NewInt(i * 10)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := join(run(t, s, "SELECT COUNT(*), SUM(w) FROM t")); got != "5 35" {
		t.Fatalf("after inserts: %q", got)
	}
	// The name comes to mean another table: after a rename, after a drop,
	// in another database.
	one := []types.Value{types.NewInt(1)}
	want := func(step string, want string) {
		t.Helper()
		if got := firstRow(t, s, ps, one); got != want {
			t.Fatalf("%s: got %q, want %q", step, got, want)
		}
	}
	run(t, s, "RENAME TABLE t TO t_old; CREATE TABLE t (id INT PRIMARY KEY, v INT, x INT, y INT); INSERT INTO t VALUES (1, 99, 5, 6)")
	want("after RENAME and CREATE", "1 99 5 6")
	run(t, s, "DROP TABLE t; CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(5)); INSERT INTO t VALUES (1, 'new')")
	want("after DROP and CREATE", "1 new")
	run(t, s, "CREATE DATABASE e; USE e; CREATE TABLE t (id INT PRIMARY KEY, other VARCHAR(5)); INSERT INTO t VALUES (1, 'e')")
	want("in another database", "1 e")
	run(t, s, "DROP TABLE t")
	if _, err := s.Execute(ctx, ps, one); err == nil {
		t.Fatal("a dropped table's plan ran")
	}
}

// Engine.Isolation is the level new sessions start with (strata sql serve
// --transaction-isolation, as mysqld's option).
func TestEngineIsolation(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := session.NewEngine(local.New(db))
	e.SyncCommits = false
	for _, level := range []string{"REPEATABLE-READ", "repeatable read", "SERIALIZABLE"} {
		iso, err := session.ParseIsolation(level)
		if err != nil {
			t.Fatal(err)
		}
		e.Isolation = iso
		want := strings.ToUpper(strings.ReplaceAll(level, " ", "-"))
		if got := join(run(t, e.NewSession("root"), "SELECT @@transaction_isolation")); got != want {
			t.Errorf("a new session under %q: @@transaction_isolation %s, want %s", level, got, want)
		}
	}
	if _, err := session.ParseIsolation("snapshot"); err == nil {
		t.Error("ParseIsolation accepted \"snapshot\"")
	}
}

func TestTriggers(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY, v INT, note VARCHAR(20))")
	run(t, s, "CREATE TABLE log (id INT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(40))")
	run(t, s, "CREATE TABLE counts (k VARCHAR(5) PRIMARY KEY, n INT)")
	run(t, s, "INSERT INTO counts VALUES ('rows', 0)")
	run(t, s, "CREATE TRIGGER bi BEFORE INSERT ON t FOR EACH ROW SET NEW.note = CONCAT('v=', NEW.v), NEW.v = NEW.v * 10")
	run(t, s, `CREATE TRIGGER ai AFTER INSERT ON t FOR EACH ROW BEGIN
		INSERT INTO log (what) VALUES (CONCAT('insert ', NEW.id));
		UPDATE counts SET n = n + 1 WHERE k = 'rows';
	END`)
	run(t, s, "CREATE TRIGGER ad AFTER DELETE ON t FOR EACH ROW UPDATE counts SET n = n - 1 WHERE k = 'rows'")
	run(t, s, "CREATE TRIGGER au AFTER UPDATE ON t FOR EACH ROW INSERT INTO log (what) VALUES (CONCAT(OLD.v, '->', NEW.v))")
	fails(t, s, "CREATE TRIGGER ai AFTER INSERT ON t FOR EACH ROW DO 1", 1359)
	fails(t, s, "CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW SET NEW.v = 1", 1362)
	run(t, s, "INSERT INTO t (id, v) VALUES (1, 2), (2, 3)")
	if got := join(run(t, s, "SELECT id, v, note FROM t ORDER BY id")); got != "1 20 v=2\n2 30 v=3" {
		t.Fatalf("BEFORE INSERT: %q", got)
	}
	run(t, s, "UPDATE t SET v = 7 WHERE id = 2")
	run(t, s, "DELETE FROM t WHERE id = 1")
	if got := join(run(t, s, "SELECT what FROM log ORDER BY id")); got != "insert 1\ninsert 2\n30->7" {
		t.Fatalf("log: %q", got)
	}
	if got := join(run(t, s, "SELECT n FROM counts")); got != "1" {
		t.Fatalf("counts: %q", got)
	}
	// A failing trigger fails its statement, which leaves nothing.
	run(t, s, "CREATE TRIGGER boom BEFORE DELETE ON t FOR EACH ROW INSERT INTO log VALUES (1, 'dup id')")
	fails(t, s, "DELETE FROM t", 1062)
	if got := join(run(t, s, "SELECT COUNT(*) FROM t")); got != "1" {
		t.Fatalf("after a failed trigger: %q", got)
	}
	run(t, s, "DROP TRIGGER boom; DROP TRIGGER IF EXISTS boom")
	fails(t, s, "DROP TRIGGER boom", 1360)
}

// TestInsertDefaults: an INSERT takes a column's default where it gives no
// value (a column left out, DEFAULT in VALUES, VALUES (), INSERT ...
// SELECT of fewer columns), and only there (the plan compiles no other
// column's default).
func TestInsertDefaults(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, a INT DEFAULT 7, b VARCHAR(5) DEFAULT 'x', c INT)")
	for _, tc := range []struct{ stmt, want string }{
		{"INSERT INTO t (id) VALUES (1)", "1 7 x NULL"},
		{"INSERT INTO t VALUES (2, DEFAULT, 'y', 3)", "2 7 y 3"},
		{"INSERT INTO t (b, id, a) VALUES (DEFAULT, 3, 1 + 1)", "3 2 x NULL"},
		{"INSERT INTO t VALUES (4, 5, 'z', 6)", "4 5 z 6"},
		{"INSERT INTO t VALUES ()", "5 7 x NULL"},
		{"INSERT INTO t (id, c) SELECT 6, 9", "6 7 x 9"},
		{"INSERT INTO t (id, a) VALUES (7, DEFAULT), (8, 8)", "7 7 x NULL\n8 8 x NULL"},
	} {
		run(t, s, tc.stmt)
		q := "SELECT * FROM t WHERE id >= " + strings.Fields(tc.want)[0] + " ORDER BY id"
		if got := join(run(t, s, q)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.stmt, got, tc.want)
		}
	}
}

// TestTableNameCache: a session that resolved a name reads only the
// table's descriptor the next time; another session's rename, drop, drop
// of the database or change makes the name mean what it means now.
func TestTableNameCache(t *testing.T) {
	e := newEngine(t)
	a, b := e.NewSession("root"), e.NewSession("root")
	run(t, a, "CREATE DATABASE d; USE d; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 10)")
	run(t, b, "USE d")
	for _, step := range []struct{ other, query, want string }{
		{"", "SELECT * FROM t", "1 10"},
		{"RENAME TABLE t TO t_old; CREATE TABLE t (id INT PRIMARY KEY, w VARCHAR(5)); INSERT INTO t VALUES (2, 'x')",
			"SELECT * FROM t", "2 x"},
		{"", "SELECT * FROM T", "2 x"},
		{"ALTER TABLE t ADD COLUMN z INT DEFAULT 3", "SELECT * FROM t", "2 x 3"},
		{"DROP TABLE t; CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (3)", "SELECT * FROM t", "3"},
		{"RENAME TABLE t TO t2, t_old TO t", "SELECT * FROM t", "1 10"},
		{"DROP DATABASE d; CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, q INT); INSERT INTO d.t VALUES (4, 4)",
			"SELECT * FROM t", "4 4"},
		{"CREATE DATABASE e; CREATE TABLE e.t (id INT PRIMARY KEY); INSERT INTO e.t VALUES (5)", "SELECT * FROM e.t", "5"},
		{"", "INSERT INTO t VALUES (6, 6)", ""},
		{"", "SELECT * FROM d.t", "4 4\n6 6"},
	} {
		if step.other != "" {
			run(t, b, step.other)
		}
		if got := join(run(t, a, step.query)); got != step.want {
			t.Fatalf("after %q: %s: got %q, want %q", step.other, step.query, got, step.want)
		}
	}
	run(t, b, "DROP TABLE d.t")
	fails(t, a, "SELECT * FROM t", 1146)
	run(t, b, "DROP DATABASE d")
	fails(t, a, "SELECT * FROM t", 1049)
}

// TestAutoIncrementRanges: sessions inserting concurrently into two tables
// get distinct, increasing ids; after a restart (a new engine over the
// same store) the counter goes on past every value handed out, skipping
// at most the rest of one reservation (aiMaxRange values).
func TestAutoIncrementRanges(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := session.NewEngine(local.New(db))
	e.SyncCommits = false
	run(t, e.NewSession("root"), "CREATE DATABASE d; USE d; CREATE TABLE a (id INT PRIMARY KEY AUTO_INCREMENT, v INT); CREATE TABLE b (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
	const sessions, inserts = 4, 300
	errs := make(chan error, sessions)
	for g := range sessions {
		go func() {
			s := e.NewSession("root")
			ctx := context.Background()
			if _, err := s.Exec(ctx, "USE d"); err != nil {
				errs <- err
				return
			}
			last := map[string]uint64{}
			for i := range inserts {
				tbl := []string{"a", "b"}[(g+i)%2]
				if _, err := s.Exec(ctx, "INSERT INTO "+tbl+" (v) VALUES (1)"); err != nil {
					errs <- err
					return
				}
				id := s.LastInsertID()
				if id <= last[tbl] {
					errs <- fmt.Errorf("session %d: id %d in %s after %d", g, id, tbl, last[tbl])
					return
				}
				last[tbl] = id
			}
			errs <- nil
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s := e.NewSession("root")
	run(t, s, "USE d")
	for _, tbl := range []string{"a", "b"} {
		if got := join(run(t, s, "SELECT COUNT(*), COUNT(DISTINCT id) FROM "+tbl)); got != "600 600" {
			t.Fatalf("%s: rows and distinct ids %q", tbl, got)
		}
	}
	highest := join(run(t, s, "SELECT MAX(id) FROM a"))
	// A restart: a new engine over the same store.
	r := session.NewEngine(local.New(db))
	r.SyncCommits = false
	s2 := r.NewSession("root")
	run(t, s2, "USE d; INSERT INTO a (v) VALUES (2)")
	var hi, next uint64
	fmt.Sscan(highest, &hi)
	next = s2.LastInsertID()
	if next <= hi || next > hi+1000+1 {
		t.Fatalf("after a restart: id %d, the highest before %d (want above it, by at most a range of 1000)", next, hi)
	}
}

// TestUpdateDefault: UPDATE ... SET col = DEFAULT sets the column's
// default (it set NULL, and failed with 1048 on a NOT NULL column);
// without a default, NULL, or 1364 for a NOT NULL column, as MySQL's
// strict mode.
func TestUpdateDefault(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d; USE d")
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 5, n INT DEFAULT 7, s VARCHAR(5) DEFAULT 'ab', z INT, r INT NOT NULL)")
	run(t, s, "INSERT INTO t VALUES (1, 1, 1, 'x', 1, 1)")
	for _, tc := range []struct{ set, want string }{
		{"k = DEFAULT", "1 5 1 x 1 1"},
		{"n = DEFAULT, s = DEFAULT", "1 5 7 ab 1 1"},
		{"k = 2, z = DEFAULT", "1 2 7 ab NULL 1"},
	} {
		run(t, s, "UPDATE t SET "+tc.set+" WHERE id = 1")
		if got := join(run(t, s, "SELECT * FROM t")); got != tc.want {
			t.Errorf("SET %s: got %q, want %q", tc.set, got, tc.want)
		}
	}
	fails(t, s, "UPDATE t SET r = DEFAULT", 1364)
}

// firstRow executes ps and returns its first row's values, space-separated.
func firstRow(t *testing.T, s *session.Session, ps *session.Stmt, params []types.Value) string {
	t.Helper()
	r, err := s.Execute(context.Background(), ps, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) == 0 {
		t.Fatal("no row")
	}
	var got []string
	for _, v := range r.Rows[0] {
		got = append(got, v.String())
	}
	return strings.Join(got, " ")
}

// TestPreparedPlanCacheAcrossEngines: a read-only statement's cached plan
// is used without reading its tables' descriptors while no commit changed
// one (kv.Watch); a change made through another engine over the same
// database (another local.Store) must still be seen.
func TestPreparedPlanCacheAcrossEngines(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ea, eb := session.NewEngine(local.New(db)), session.NewEngine(local.New(db))
	ea.SyncCommits, eb.SyncCommits = false, false
	a, b := ea.NewSession("root"), eb.NewSession("root")
	ctx := context.Background()
	run(t, a, "CREATE DATABASE d; USE d; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 10)")
	run(t, b, "USE d")
	ps, err := a.Prepare(ctx, "SELECT * FROM t WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	one := []types.Value{types.NewInt(1)}
	want := func(step, want string) {
		t.Helper()
		for range 3 { // planned or checked, then cached
			if got := firstRow(t, a, ps, one); got != want {
				t.Fatalf("%s: got %q, want %q", step, got, want)
			}
		}
	}
	want("first", "1 10")
	run(t, b, "ALTER TABLE t ADD COLUMN w INT DEFAULT 7")
	want("after ALTER through the other engine", "1 10 7")
	run(t, b, "DROP TABLE t; CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(5)); INSERT INTO t VALUES (1, 'new')")
	want("after DROP and CREATE through the other engine", "1 new")
	run(t, b, "UPDATE t SET name = 'upd'") // rows only: the plan holds
	want("after an UPDATE", "1 upd")
	run(t, b, "DROP DATABASE d")
	if _, err := a.Execute(ctx, ps, one); err == nil {
		t.Fatal("a dropped table's plan ran")
	}
}

// TestTransactionRefresh: an explicit serializable transaction moves its
// snapshot up before each statement while nothing it read has changed
// (kv.Txn.Refresh), so a later statement sees a row another session
// committed meanwhile, and a commit that changed what it read ends it with
// 1213 at its next statement, not only at COMMIT. Under REPEATABLE READ
// (snapshot isolation) it keeps one snapshot.
func TestTransactionRefresh(t *testing.T) {
	e := newEngine(t)
	a, b := e.NewSession("root"), e.NewSession("root")
	run(t, a, "CREATE DATABASE d; USE d; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 10), (2, 20)")
	run(t, b, "USE d")

	run(t, a, "BEGIN")
	if got := join(run(t, a, "SELECT v FROM t WHERE id = 1")); got != "10" {
		t.Fatalf("first read: %q", got)
	}
	run(t, b, "INSERT INTO t VALUES (3, 30)") // not read by a
	if got := join(run(t, a, "SELECT v FROM t WHERE id = 3")); got != "30" {
		t.Fatalf("after another session's insert, the refreshed transaction reads %q, want 30", got)
	}
	run(t, a, "UPDATE t SET v = 11 WHERE id = 1")
	run(t, a, "COMMIT")

	run(t, a, "BEGIN")
	run(t, a, "SELECT v FROM t WHERE id = 2")
	run(t, b, "UPDATE t SET v = 21 WHERE id = 2") // read by a
	fails(t, a, "SELECT v FROM t WHERE id = 1", 1213)
	if a.InTransaction() {
		t.Fatal("the transaction is still open after its 1213")
	}
	if got := join(run(t, a, "SELECT v FROM t WHERE id = 2")); got != "21" {
		t.Fatalf("after the 1213: %q", got)
	}

	run(t, a, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; BEGIN")
	run(t, a, "SELECT v FROM t WHERE id = 1")
	run(t, b, "INSERT INTO t VALUES (4, 40)")
	if got := join(run(t, a, "SELECT COUNT(*) FROM t WHERE id = 4")); got != "0" {
		t.Fatalf("repeatable read saw a row committed after its snapshot: %q", got)
	}
	run(t, a, "COMMIT")
}
