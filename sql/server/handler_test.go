package server

import (
	"errors"
	"strings"
	"testing"

	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/sqlerror"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/session"
)

// A panic while a statement runs or its result is converted becomes error
// 1105 for the client, and the connection goes on.
func TestRunRecoversPanics(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng := session.NewEngine(local.New(db))
	h := newHandler(eng, nil, t.Logf)
	st := &connState{s: eng.NewSession("root")}
	c := &mysql.Conn{}
	qr, err := h.run(c, st, func() (*session.Result, error) { panic("boom") })
	var se *sqlerror.SQLError
	if qr != nil || !errors.As(err, &se) || se.Num != sqlerror.ERUnknownError || !strings.Contains(se.Message, "boom") {
		t.Fatalf("got %v, %v; want error 1105", qr, err)
	}
	if c.StatusFlags&mysql.ServerStatusAutocommit == 0 {
		t.Error("status flags not kept up after the panic")
	}
	qr, err = h.run(c, st, func() (*session.Result, error) {
		rs, err := st.s.Exec(t.Context(), "SELECT 1 + 1")
		if err != nil {
			return nil, err
		}
		return rs[0], nil
	})
	if err != nil || len(qr.Rows) != 1 || qr.Rows[0][0].ToString() != "2" {
		t.Fatalf("the session after the panic: %v, %v", qr, err)
	}
}
