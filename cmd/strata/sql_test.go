package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/server"
	"github.com/strata-db/strata/sql/session"
)

// runSQL runs `strata sql ARGS` with stdin and returns its status and
// outputs, the timings blanked.
func runSQL(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"sql"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, blankTimes(out.String()), errOut.String()
}

func blankTimes(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if i := strings.LastIndex(l, " ("); i >= 0 && strings.HasSuffix(strings.TrimSpace(l), " sec)") {
			l = l[:i] + " (X sec)\n"
		}
		b.WriteString(l)
	}
	return b.String()
}

func TestSQLShellEmbedded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	code, out, errOut := runSQL(t, "", "--dir", dir, "--no-sync", "-e", `
		CREATE DATABASE shop; USE shop;
		CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20), city VARCHAR(20), KEY (city));
		INSERT INTO users VALUES (1, 'ada', 'Oslo'), (2, 'bob', NULL), (3, 'cy; "quoted"', 'Lima');
		-- a comment; with a semicolon
		SELECT * FROM users ORDER BY id;
		SELECT name FROM users WHERE id = 2\G
		SELECT * FROM users WHERE id > 10;
		UPDATE users SET city = 'Rome' WHERE id = 2;
		EXPLAIN SELECT name FROM users WHERE city = 'Oslo';`)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	want := `Query OK, 0 rows affected (X sec)

Query OK, 0 rows affected (X sec)

Query OK, 0 rows affected (X sec)

Query OK, 3 rows affected (X sec)
Records: 3  Duplicates: 0  Warnings: 0

+----+--------------+------+
| id | name         | city |
+----+--------------+------+
|  1 | ada          | Oslo |
|  2 | bob          | NULL |
|  3 | cy; "quoted" | Lima |
+----+--------------+------+
3 rows in set (X sec)

*************************** 1. row ***************************
name: bob
1 row in set (X sec)

Empty set (X sec)

Query OK, 1 row affected (X sec)
Rows matched: 1  Changed: 1  Warnings: 0

`
	if !strings.HasPrefix(out, want) {
		t.Fatalf("got\n%s\nwant a start of\n%s", out, want)
	}
	if !strings.Contains(out, "| -> project users.name") || !strings.Contains(out, "index range scan of users using city") {
		t.Errorf("EXPLAIN output:\n%s", out[len(want):])
	}
	// A script on standard input; an error stops it with status 1, in
	// the mysql client's format.
	code, out, errOut = runSQL(t, "USE shop;\nSELECT COUNT(*)\n  FROM users;\nSELECT * FROM nope;\nSELECT 1;\n", "--dir", dir, "-B")
	if code != 1 || out != "COUNT(*)\n3\n" || errOut != "ERROR 1146 (42S02): Table 'shop.nope' doesn't exist\n" {
		t.Errorf("script: status %d, out %q, err %q", code, out, errOut)
	}
	code, _, errOut = runSQL(t, "", "--dir", dir, "-e", "SELEKT 1")
	if code != 1 || !strings.HasPrefix(errOut, "ERROR 1064 (42000): You have an error in your SQL syntax") {
		t.Errorf("syntax error: status %d, err %q", code, errOut)
	}
}

func TestSQLShellConnect(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng := session.NewEngine(local.New(db))
	if err := server.Bootstrap(context.Background(), eng.Store, "pw"); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Listen(eng, server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer func() { srv.Close(); srv.Wait() }()
	addr := srv.Addr().String()
	code, out, errOut := runSQL(t, "", "--connect", addr, "-u", "root", "-p", "pw", "-e",
		"CREATE DATABASE d; USE d; CREATE TABLE t (a INT, b DECIMAL(5,2)); INSERT INTO t VALUES (1, 2.5), (NULL, -1); SELECT * FROM t ORDER BY a")
	if code != 0 {
		t.Fatalf("status %d: %s", code, errOut)
	}
	want := `+------+-------+
| a    | b     |
+------+-------+
| NULL | -1.00 |
|    1 |  2.50 |
+------+-------+
2 rows in set (X sec)
`
	if !strings.Contains(out, want) {
		t.Errorf("got\n%s\nwant it to hold\n%s", out, want)
	}
	code, _, errOut = runSQL(t, "", "--connect", addr, "-u", "root", "-p", "wrong", "-e", "SELECT 1")
	if code != 1 || !strings.Contains(errOut, "ERROR 1045 (28000)") {
		t.Errorf("wrong password: status %d, err %q", code, errOut)
	}
}

func TestSQLSplitter(t *testing.T) {
	var sp splitter
	var got []string
	for _, chunk := range []string{"SELECT 'a;b', \"c;d\", `e;f` -- x;y\n", "FROM t /* ; */ ;SELECT 2\\G", " quit"} {
		for _, st := range sp.feed(chunk) {
			got = append(got, strings.TrimSpace(st.text)+map[bool]string{true: " [G]"}[st.vertical])
		}
	}
	want := []string{"SELECT 'a;b', \"c;d\", `e;f` \nFROM t /* ; */", "SELECT 2 [G]", "quit"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}
