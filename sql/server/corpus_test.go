package server_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/sql/sqllogictest"
)

// wireDB runs sqllogictest records over the MySQL protocol: one connection
// (so USE holds), the text protocol, values as the server sent them.
type wireDB struct{ c *sql.Conn }

func (w *wireDB) Exec(q string) error {
	_, err := w.c.ExecContext(context.Background(), q)
	return err
}

func (w *wireDB) Query(q string) ([][]*string, error) {
	rows, err := w.c.QueryContext(context.Background(), q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]*string
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]*string, len(cols))
		for i, b := range raw {
			if b != nil {
				s := string(b)
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// TestCorpusOverTheWire runs the sqllogictest corpus (sql/testdata) through
// the server with go-sql-driver/mysql, each file on a new database, and
// reports the pass rate per file: every record MySQL runs must pass.
// -short runs select1 and the evidence files; STRATA_SLT_FILES selects.
func TestCorpusOverTheWire(t *testing.T) {
	dir := "../testdata/sqllogictest"
	files, _ := filepath.Glob(filepath.Join(dir, "*.test"))
	ev, _ := filepath.Glob(filepath.Join(dir, "evidence", "*.test"))
	files = append(files, ev...)
	if sel := os.Getenv("STRATA_SLT_FILES"); sel != "" {
		files = nil
		for _, f := range strings.Split(sel, ",") {
			files = append(files, filepath.Join(dir, f))
		}
	} else if testing.Short() {
		files = append([]string{filepath.Join(dir, "select1.test")}, ev...)
	}
	if len(files) == 0 {
		t.Fatal("no corpus files in " + dir)
	}
	for _, f := range files {
		name := strings.TrimPrefix(f, dir+"/")
		t.Run(name, func(t *testing.T) {
			addr, _ := startServer(t)
			db := openDB(t, addr, "")
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			w := &wireDB{c: conn}
			if err := w.Exec("CREATE DATABASE slt"); err != nil {
				t.Fatal(err)
			}
			if err := w.Exec("USE slt"); err != nil {
				t.Fatal(err)
			}
			res, err := sqllogictest.RunFile(w, f, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d of %d records passed (%.2f%%), %d skipped for mysql", name, res.Passed, res.Records,
				100*float64(res.Passed)/float64(max(res.Records, 1)), res.Skipped)
			for i, fl := range res.Failures {
				if i == 10 {
					t.Errorf("... %d more failures", len(res.Failures)-10)
					break
				}
				t.Errorf("line %d: %s\n  %s", fl.Line, fl.Reason, strings.ReplaceAll(fl.SQL, "\n", " "))
			}
		})
	}
}
