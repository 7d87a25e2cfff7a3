package sqllogictest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/sqllogictest"
)

// embedded runs records through an embedded SQL session.
type embedded struct{ s *session.Session }

func (e *embedded) Exec(sql string) error {
	_, err := e.s.Exec(context.Background(), sql)
	return err
}

func (e *embedded) Query(sql string) ([][]*string, error) {
	if os.Getenv("STRATA_SLT_SLOW") != "" {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > time.Second {
				fmt.Fprintf(os.Stderr, "slow (%v): %s\n", d, sql)
			}
		}()
	}
	res, err := e.s.Exec(context.Background(), sql)
	if err != nil {
		return nil, err
	}
	var out [][]*string
	if len(res) == 0 {
		return nil, nil
	}
	for _, row := range res[len(res)-1].Rows {
		cells := make([]*string, len(row))
		for i, v := range row {
			if !v.IsNull() {
				s := v.String()
				cells[i] = &s
			}
		}
		out = append(out, cells)
	}
	return out, nil
}

func newEmbedded(t testing.TB) *embedded {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := session.NewEngine(local.New(db))
	e.SyncCommits = false
	s := e.NewSession("root")
	if _, err := s.Exec(context.Background(), "CREATE DATABASE slt; USE slt"); err != nil {
		t.Fatal(err)
	}
	return &embedded{s: s}
}

// TestCorpusEmbedded runs the corpus through the embedded session and
// reports the pass rate per file. STRATA_SLT_FILES selects files (comma
// separated, relative to testdata); -short runs the evidence files and
// select1.
func TestCorpusEmbedded(t *testing.T) {
	files, _ := filepath.Glob("../testdata/sqllogictest/*.test")
	ev, _ := filepath.Glob("../testdata/sqllogictest/evidence/*.test")
	files = append(files, ev...)
	if sel := os.Getenv("STRATA_SLT_FILES"); sel != "" {
		files = nil
		for _, f := range strings.Split(sel, ",") {
			files = append(files, filepath.Join("../testdata/sqllogictest", f))
		}
	} else if testing.Short() {
		files = append([]string{"../testdata/sqllogictest/select1.test"}, ev...)
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, "../testdata/sqllogictest/"), func(t *testing.T) {
			res, err := sqllogictest.RunFile(newEmbedded(t), f, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d of %d records passed (%.2f%%), %d skipped for mysql", f, res.Passed, res.Records,
				100*float64(res.Passed)/float64(max(res.Records, 1)), res.Skipped)
			for i, fl := range res.Failures {
				if i == 10 {
					t.Logf("... %d more failures", len(res.Failures)-10)
					break
				}
				t.Logf("line %d: %s\n  %s", fl.Line, fl.Reason, strings.ReplaceAll(fl.SQL, "\n", " "))
			}
			if len(res.Failures) > 0 {
				t.Errorf("%d failures", len(res.Failures))
			}
		})
	}
}
