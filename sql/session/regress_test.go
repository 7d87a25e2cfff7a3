package session_test

import (
	"context"
	"testing"
)

// Regression tests for bugs the wire server's clients found (issue 27).

// MySQL names a string literal's column by its value: SELECT 'x' is a
// column named x (the mysql client, drivers and ORMs show that name).
func TestLiteralColumnName(t *testing.T) {
	s := newSession(t)
	rs, err := s.Exec(context.Background(), `SELECT 'x', "dq", 'a''b'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range rs[0].Columns {
		names = append(names, c.Name)
	}
	if got := join([][]string{names}); got != "x dq a'b" {
		t.Errorf("column names %q, want %q", got, "x dq a'b")
	}
}

// SET autocommit = 0 makes the following statements one transaction,
// ended by COMMIT or ROLLBACK.
func TestAutocommitOff(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE d")
	run(t, s, "CREATE TABLE d.t (a INT)")
	run(t, s, "SET autocommit = 0")
	run(t, s, "INSERT INTO d.t VALUES (1)")
	if !s.InTransaction() {
		t.Error("no transaction open after a write with autocommit off")
	}
	run(t, s, "ROLLBACK")
	if got := join(run(t, s, "SELECT COUNT(*) FROM d.t")); got != "0" {
		t.Errorf("after ROLLBACK with autocommit off: %s rows, want 0", got)
	}
}

// SET TRANSACTION ISOLATION LEVEL (without SESSION or GLOBAL) applies to
// the next transaction only.
func TestSetTransactionNextOnly(t *testing.T) {
	s := newSession(t)
	run(t, s, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
	run(t, s, "BEGIN")
	run(t, s, "COMMIT")
	if got := join(run(t, s, "SELECT @@transaction_isolation")); got != "SERIALIZABLE" {
		t.Errorf("@@transaction_isolation after the next transaction: %s, want SERIALIZABLE", got)
	}
}
