package session_test

import "testing"

func TestInformationSchema(t *testing.T) {
	s := newSession(t)
	run(t, s, "CREATE DATABASE app")
	run(t, s, "USE app")
	run(t, s, "CREATE TABLE users (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, age INT DEFAULT 3, UNIQUE KEY by_name (name), KEY (age))")
	run(t, s, "CREATE TABLE nopk (a INT)")
	for _, c := range []struct{ sql, want string }{
		{"SELECT SCHEMA_NAME FROM Information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'app%' ORDER BY SCHEMA_NAME = 'app' DESC, SCHEMA_NAME LIMIT 1", "app"},
		{"SELECT table_name, table_type, engine FROM information_schema.tables WHERE table_schema = 'app' ORDER BY table_name", "nopk BASE TABLE Strata\nusers BASE TABLE Strata"},
		{"SELECT column_name, column_default, is_nullable, data_type, character_maximum_length, column_type, column_key, extra, numeric_precision, numeric_scale FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'users' ORDER BY ordinal_position",
			"id NULL NO bigint NULL bigint unsigned PRI auto_increment 20 0\nname NULL NO varchar 64 varchar(64) UNI  NULL NULL\nage 3 YES int NULL int MUL  10 0"},
		{"SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'nopk'", "1"},
		{"SELECT index_name, non_unique, seq_in_index, column_name FROM information_schema.statistics WHERE table_schema = 'app' ORDER BY table_name, index_name", "age 1 1 age\nby_name 0 1 name\nPRIMARY 0 1 id"},
		{"SELECT constraint_name, column_name FROM information_schema.key_column_usage WHERE table_name = 'users' ORDER BY constraint_name", "by_name name\nPRIMARY id"},
		{"SELECT constraint_type FROM information_schema.table_constraints WHERE table_name = 'users' ORDER BY constraint_name", "UNIQUE\nPRIMARY KEY"},
	} {
		if got := join(run(t, s, c.sql)); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.sql, got, c.want)
		}
	}
	fails(t, s, "DELETE FROM information_schema.tables", 1044)
	fails(t, s, "DROP TABLE information_schema.columns", 1044)
	fails(t, s, "SELECT * FROM information_schema.nope", 1109)
	run(t, s, "USE information_schema")
	if got := join(run(t, s, "SELECT COUNT(*) FROM tables WHERE table_schema = 'app'")); got != "2" {
		t.Errorf("unqualified in USE information_schema: %q", got)
	}
}
