package driver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/driver"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/types"
)

func open(t *testing.T, dsnOpts string) (*sql.DB, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	db, err := sql.Open("strata", dir+dsnOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

func exec(t *testing.T, db interface {
	Exec(string, ...any) (sql.Result, error)
}, q string, args ...any) sql.Result {
	t.Helper()
	r, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func sqlCode(err error) int {
	var te *types.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func TestDriver(t *testing.T) {
	db, dir := open(t, "?sync=false")
	exec(t, db, "CREATE DATABASE shop")
	exec(t, db, "CREATE TABLE shop.items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20) UNIQUE, price DECIMAL(6,2), at DATETIME(6))")
	// A second pool on the same directory (with database=) shares the
	// open database.
	db2, err := sql.Open("strata", dir+"?database=shop&sync=false")
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	r := exec(t, db2, "INSERT INTO items (name, price, at) VALUES (?, ?, ?)", "apple", "1.50", at)
	if id, _ := r.LastInsertId(); id != 1 {
		t.Errorf("LastInsertId %d", id)
	}
	exec(t, db2, "INSERT INTO items (name, price) VALUES (?, ?), (?, ?)", "pear", 2.25, "fig", nil)
	_, err = db2.Exec("INSERT INTO items (name) VALUES (?)", "apple")
	if sqlCode(err) != 1062 {
		t.Errorf("duplicate: %v, want 1062", err)
	}
	rows, err := db2.Query("SELECT id, name, price, at FROM items WHERE id >= ? ORDER BY id", 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id int64
		var name string
		var price sql.NullString
		var when sql.NullTime
		if err := rows.Scan(&id, &name, &price, &when); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %v %v", id, name, price.String, when.Time.Format(time.RFC3339Nano)))
	}
	rows.Close()
	want := "1 apple 1.50 2024-05-06T07:08:09.123456Z|2 pear 2.25 0001-01-01T00:00:00Z|3 fig  0001-01-01T00:00:00Z"
	if strings.Join(got, "|") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
	// Prepared statements, reused.
	st, err := db2.Prepare("SELECT COUNT(*) FROM items WHERE price > ?")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    any
		want int
	}{{1, 2}, {2, 1}, {"2.5", 0}} {
		var n int
		if err := st.QueryRow(c.p).Scan(&n); err != nil || n != c.want {
			t.Errorf("price > %v: %d, %v; want %d", c.p, n, err, c.want)
		}
	}
	st.Close()
	// Unsigned values above int64's range, both ways.
	exec(t, db2, "CREATE TABLE u (v BIGINT UNSIGNED)")
	exec(t, db2, "INSERT INTO u VALUES (?)", uint64(math.MaxUint64))
	var u uint64
	if err := db2.QueryRow("SELECT v FROM u").Scan(&u); err != nil || u != math.MaxUint64 {
		t.Errorf("unsigned: %d, %v", u, err)
	}
	// Errors are types.Error with MySQL's numbers.
	if _, err := db2.Query("SELECT * FROM nope"); sqlCode(err) != 1146 {
		t.Errorf("unknown table: %v", err)
	}
	if _, err := db2.Exec("SELEKT"); err == nil || !strings.Contains(err.Error(), "syntax") {
		t.Errorf("syntax error: %v", err)
	}
	// Context cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db2.QueryContext(ctx, "SELECT 1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestDriverTransactions(t *testing.T) {
	db, _ := open(t, "?sync=false")
	exec(t, db, "CREATE DATABASE b")
	exec(t, db, "CREATE TABLE b.acct (id INT PRIMARY KEY, bal INT)")
	exec(t, db, "INSERT INTO b.acct VALUES (1, 100), (2, 0)")
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, tx, "UPDATE b.acct SET bal = bal - ? WHERE id = ?", 10, 1)
	exec(t, tx, "UPDATE b.acct SET bal = bal + ? WHERE id = ?", 10, 2)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx, _ = db.BeginTx(ctx, nil)
	exec(t, tx, "DELETE FROM b.acct")
	tx.Rollback()
	var sum, n int
	if err := db.QueryRow("SELECT SUM(bal), COUNT(*) FROM b.acct").Scan(&sum, &n); err != nil || sum != 100 || n != 2 {
		t.Fatalf("after commit and rollback: sum %d, n %d, %v", sum, n, err)
	}
	// A write conflict: the second commit gets 1213.
	for _, level := range []sql.IsolationLevel{sql.LevelDefault, sql.LevelSerializable, sql.LevelRepeatableRead, sql.LevelSnapshot} {
		t1, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: level})
		if err != nil {
			t.Fatal(err)
		}
		t2, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: level})
		if err != nil {
			t.Fatal(err)
		}
		exec(t, t1, "UPDATE b.acct SET bal = bal + 1 WHERE id = 1")
		exec(t, t2, "UPDATE b.acct SET bal = bal + 1 WHERE id = 1")
		if err := t1.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := t2.Commit(); sqlCode(err) != 1213 {
			t.Errorf("%v: second commit: %v, want 1213", level, err)
		}
	}
	if _, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelLinearizable}); err == nil {
		t.Error("LevelLinearizable accepted")
	}
	// Read-only transactions refuse writes.
	ro, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Exec("DELETE FROM b.acct"); sqlCode(err) != 1792 {
		t.Errorf("write in a read-only transaction: %v", err)
	}
	ro.Rollback()
}

func TestNewConnector(t *testing.T) {
	sdb, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	eng := session.NewEngine(local.New(sdb))
	s := eng.NewSession("root")
	if _, err := s.Exec(context.Background(), "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(driver.NewConnector(eng, "app"))
	defer db.Close()
	exec(t, db, "CREATE TABLE t (a INT)")
	exec(t, db, "INSERT INTO t VALUES (1), (2)")
	var n int
	if err := db.QueryRow("SELECT SUM(a) FROM t").Scan(&n); err != nil || n != 3 {
		t.Errorf("SUM %d, %v", n, err)
	}
}

// Example shows the driver: a database directory opened in the process,
// SQL through database/sql.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("strata", filepath.Join(dir, "db")+"?sync=false")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE DATABASE shop",
		"CREATE TABLE shop.users (id INT PRIMARY KEY, name VARCHAR(20))",
		"INSERT INTO shop.users VALUES (1, 'ada'), (2, 'linus')",
	} {
		if _, err := db.Exec(q); err != nil {
			panic(err)
		}
	}
	var name string
	if err := db.QueryRow("SELECT name FROM shop.users WHERE id = ?", 2).Scan(&name); err != nil {
		panic(err)
	}
	fmt.Println(name)
	// Output: linus
}
