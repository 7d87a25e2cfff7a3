package server_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/testenv"
)

// TestMySQLClient runs a script through the mysql command-line client
// (Debian's mariadb-client; required in CI).
func TestMySQLClient(t *testing.T) {
	mysqlBin, err := exec.LookPath("mysql")
	testenv.Require(t, "the mysql client (apt-get install mariadb-client)", err)
	addr, _ := startServer(t)
	host, port, _ := strings.Cut(addr, ":")
	client := func(script string, args ...string) (string, error) {
		cmd := exec.Command(mysqlBin, append([]string{"--host=" + host, "--port=" + port, "--user=root",
			"--protocol=tcp", "--skip-ssl", "--batch"}, args...)...)
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// --skip-ssl is MariaDB's; an older client may not know it.
	if out, err := client("SELECT 1;"); err != nil && strings.Contains(out, "unknown option") {
		t.Fatalf("mysql client: %v\n%s", err, out)
	}
	out, err := client(`
CREATE DATABASE shop;
USE shop;
CREATE TABLE items (
  id INT PRIMARY KEY AUTO_INCREMENT,
  name VARCHAR(40) NOT NULL,
  price DECIMAL(8,2),
  added DATE,
  UNIQUE KEY by_name (name)
);
INSERT INTO items (name, price, added) VALUES ('apple', 1.25, '2024-03-01'), ('pear', NULL, '2024-03-02');
INSERT INTO items (name, price) VALUES ('plum', 0.5);
SELECT LAST_INSERT_ID();
SELECT id, name, price, added FROM items ORDER BY id;
UPDATE items SET price = price * 2 WHERE price IS NOT NULL;
SELECT name, price FROM items WHERE price > 1 ORDER BY name;
BEGIN;
DELETE FROM items WHERE name = 'plum';
ROLLBACK;
SELECT COUNT(*) AS n FROM items;
SHOW TABLES;
SHOW COLUMNS FROM items;
SELECT @@version_comment, DATABASE(), 'multi
line' AS s, NULL;
`)
	if err != nil {
		t.Fatalf("mysql: %v\n%s", err, out)
	}
	want := `LAST_INSERT_ID()
3
id	name	price	added
1	apple	1.25	2024-03-01
2	pear	NULL	2024-03-02
3	plum	0.50	NULL
name	price
apple	2.50
n
3
Tables_in_shop
items
Field	Type	Null	Key	Default	Extra
id	int	NO	PRI	NULL	auto_increment
name	varchar(40)	NO	UNI	NULL	
price	decimal(8,2)	YES		NULL	
added	date	YES		NULL	
@@version_comment	DATABASE()	s	NULL
Strata	shop	multi\nline	NULL
`
	if out != want {
		t.Errorf("mysql output:\n%s\nwant:\n%s", out, want)
	}
	// Errors: the client prints MySQL's number and SQLSTATE and exits 1.
	for _, c := range []struct{ sql, want string }{
		{"INSERT INTO shop.items (name) VALUES ('apple');", "ERROR 1062 (23000)"},
		{"SELECT * FROM shop.nope;", "ERROR 1146 (42S02)"},
		{"SELEKT 1;", "ERROR 1064 (42000)"},
	} {
		out, err := client(c.sql)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s: %v, output %q; want %s", c.sql, err, out, c.want)
		}
	}
	// The table format, and -e.
	out, err = client("", "--table", "-e", "SELECT id, name FROM shop.items WHERE id = 1")
	if err != nil {
		t.Fatal(err)
	}
	// (The client keeps room for NULL in a column not flagged NOT NULL:
	// result columns carry no nullability yet.)
	if want := "+------+-------+\n| id   | name  |\n+------+-------+\n|    1 | apple |\n+------+-------+\n"; out != want {
		t.Errorf("--table output:\n%s\nwant:\n%s", out, want)
	}
}
