package server_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/server"
	"github.com/strata-db/strata/sql/session"
)

func TestAuth(t *testing.T) {
	addr, _ := startServer(t)
	root := openDB(t, addr, "")
	mustExec(t, root, "CREATE USER 'app'@'%' IDENTIFIED BY 's3cret'")
	mustExec(t, root, "CREATE USER 'local'@'localhost' IDENTIFIED BY 'pw'")
	mustExec(t, root, "CREATE USER 'far'@'10.1.2.3' IDENTIFIED BY 'pw'")
	mustExec(t, root, "CREATE USER 'nopw'@'%'")
	try := func(user, pw, plugin string) error {
		dsn := user
		if pw != "" {
			dsn += ":" + pw
		}
		dsn += "@tcp(" + addr + ")/"
		if plugin == "mysql_native_password" {
			dsn += "?allowNativePasswords=true"
		}
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		var who string
		if err := db.QueryRow("SELECT USER()").Scan(&who); err != nil {
			return err
		}
		if !strings.HasPrefix(who, user+"@") {
			t.Errorf("USER() = %q, want %s@...", who, user)
		}
		return nil
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"root", "", true},
		{"root", "x", false},
		{"app", "s3cret", true},
		{"app", "wrong", false},
		{"app", "", false},
		{"local", "pw", true}, // 127.0.0.1 is localhost
		{"far", "pw", false},  // not from 10.1.2.3
		{"nopw", "", true},    // no password, from loopback
		{"ghost", "", false},
	} {
		err := try(c.user, c.pw, "mysql_native_password")
		if (err == nil) != c.ok {
			t.Errorf("login %s/%q: %v, want ok=%v", c.user, c.pw, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "1045") {
			t.Errorf("login %s/%q: %v, want error 1045", c.user, c.pw, err)
		}
	}
	// ALTER USER changes the password.
	mustExec(t, root, "ALTER USER 'app'@'%' IDENTIFIED BY 'new'")
	if err := try("app", "s3cret", ""); err == nil {
		t.Error("old password still accepted")
	}
	if err := try("app", "new", ""); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestAuthCachingSha2(t *testing.T) {
	addr, _ := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DefaultAuth: "caching_sha2_password"})
	root := openDB(t, addr, "")
	mustExec(t, root, "CREATE USER 'app'@'%' IDENTIFIED BY 's3cret'")
	// go-sql-driver answers with the plugin the handshake names.
	for _, c := range []struct {
		pw string
		ok bool
	}{{"s3cret", true}, {"nope", false}, {"", false}} {
		cfg := mysqlConfig(addr, "app", c.pw)
		cfg.AllowNativePasswords = false // only caching_sha2_password
		err := pingWith(cfg)
		if (err == nil) != c.ok {
			t.Errorf("caching_sha2_password with %q: %v, want ok=%v", c.pw, err, c.ok)
		}
	}
}

func TestBootstrapAndLoopback(t *testing.T) {
	db, err := strata.Open("db", &strata.Options{FS: strata.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng := session.NewEngine(local.New(db))
	ctx := context.Background()
	if err := server.Bootstrap(ctx, eng.Store, ""); err != nil {
		t.Fatal(err)
	}
	// root has no password: a listener on every interface is refused.
	if _, err := server.Listen(eng, server.Config{Addr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "root has no password") {
		t.Fatalf("Listen on 0.0.0.0 with a passwordless root: %v", err)
	}
	if err := server.Bootstrap(ctx, eng.Store, "rootpw"); err != nil {
		t.Fatal(err)
	}
	// Listening on every interface is now allowed, but the test only
	// talks to loopback.
	srv, err := server.Listen(eng, server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer func() { srv.Close(); srv.Wait() }()
	addr := srv.Addr().String()
	if err := pingWith(mysqlConfig(addr, "root", "")); err == nil {
		t.Error("root without the password was accepted")
	}
	if err := pingWith(mysqlConfig(addr, "root", "rootpw")); err != nil {
		t.Errorf("root with --root-password's password: %v", err)
	}
	all, err := server.Listen(eng, server.Config{Addr: "0.0.0.0:0"})
	if err != nil {
		t.Fatalf("Listen on 0.0.0.0 once root has a password: %v", err)
	}
	all.Close()
}
