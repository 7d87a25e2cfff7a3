package sqlbench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql" // the client both servers are checked with
)

// Engine is one server under test.
type Engine struct {
	Name string `json:"name"`
	// Kind is "strata" (strata sql serve) or "mariadb".
	Kind string `json:"kind"`
	// Binary is the strata command or mariadbd.
	Binary string `json:"binary"`
	// Version is what the server says (SELECT @@version), with the git
	// commit for Strata.
	Version string `json:"version"`
	// Settings are the server's non-default settings, in words.
	Settings string `json:"settings"`
	// Args are the server's command line (after the binary).
	Args []string `json:"args"`
	// Extra are flags added to a Strata server's command line.
	Extra []string `json:"extra,omitempty"`
}

// server is a running server process.
type server struct {
	e       *Engine
	dir     string // its data directory's parent (logs, socket)
	port    int
	cmd     *exec.Cmd
	done    chan error
	logPath string
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// mariaDBArgs are mariadbd's settings: durable commits (the redo log synced
// at each commit), no binary log, a buffer pool that holds the whole data
// set, everything else MariaDB's default.
func mariaDBArgs(dataDir, socket string, port int) []string {
	args := []string{
		"--no-defaults",
		"--datadir=" + dataDir,
		"--socket=" + socket,
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(filepath.Dir(dataDir), "mariadbd.pid"),
		"--log-error=" + filepath.Join(filepath.Dir(dataDir), "mariadbd.err"),
		"--innodb-flush-log-at-trx-commit=1",
		"--skip-log-bin",
		"--innodb-buffer-pool-size=1G",
		"--max-connections=500",
		"--max-prepared-stmt-count=100000",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

// MariaDBSettings describes mariaDBArgs for the docs.
const MariaDBSettings = "`innodb_flush_log_at_trx_commit=1` (the redo log synced at every commit), binary log off " +
	"(`--skip-log-bin`, so `sync_binlog` does not apply), `innodb_buffer_pool_size=1G` (the whole data set fits), " +
	"`max_connections=500`; everything else MariaDB's default (doublewrite on, `innodb_flush_method=O_DIRECT`, " +
	"96 MiB redo log). Own data directory (`mariadb-install-db`), own port and socket; no system service is touched."

// strataArgs are the flags every Strata server gets beyond its address
// and directory: a block cache of MariaDB's buffer pool's size
// (mariaDBArgs), so that both engines hold the data set in the same memory.
func strataArgs() []string { return []string{"--cache-mib", "1024"} }

// StrataSettings describes the strata server's settings for the docs.
const StrataSettings = "`strata sql serve --dir DIR --addr 127.0.0.1:PORT --cache-mib 1024`: a 1 GiB block cache, as MariaDB's " +
	"buffer pool (the whole data set fits in both), otherwise the server's default options (commits synced " +
	"before they are acknowledged, 64 MiB memtables), serializable transactions; an autocommit statement " +
	"that conflicts is retried inside the server, an explicit transaction's conflict is error 1213, which sysbench " +
	"restarts (its `--mysql-ignore-errors` default, 1213,1020,1205)."

// StrataRRSettings describes strata-rr, Strata at MariaDB's default
// isolation level.
const StrataRRSettings = "As strata, with `--transaction-isolation=REPEATABLE-READ`: MariaDB's default level, which " +
	"Strata runs as snapshot isolation (a transaction conflicts only with concurrent writes to keys it writes; " +
	"serializable also fails it when a key it read was written since it began)."

// findMariaDB returns mariadbd and mariadb-install-db.
func findMariaDB() (server, install string, err error) {
	for _, c := range []string{"mariadbd", "/usr/sbin/mariadbd", "mysqld", "/usr/sbin/mysqld"} {
		if p, err := exec.LookPath(c); err == nil {
			server = p
			break
		}
	}
	for _, c := range []string{"mariadb-install-db", "mysql_install_db"} {
		if p, err := exec.LookPath(c); err == nil {
			install = p
			break
		}
	}
	if server == "" || install == "" {
		return "", "", errors.New("MariaDB is not installed (apt-get install -y mariadb-server)")
	}
	return server, install, nil
}

// start starts e's server with a fresh (or, with reuse, the existing)
// data directory under dir, and waits until it accepts connections.
func start(ctx context.Context, e *Engine, dir string, extra []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &server{e: e, dir: dir, port: port, done: make(chan error, 1), logPath: filepath.Join(dir, "server.log")}
	var args []string
	switch e.Kind {
	case "strata":
		args = append([]string{"sql", "serve", "--dir", filepath.Join(dir, "db"), "--addr", "127.0.0.1:" + strconv.Itoa(port)}, e.Extra...)
	case "mariadb":
		data := filepath.Join(dir, "data")
		if _, err := os.Stat(data); os.IsNotExist(err) {
			_, install, err := findMariaDB()
			if err != nil {
				return nil, err
			}
			inst := exec.CommandContext(ctx, install, "--no-defaults", "--datadir="+data,
				"--auth-root-authentication-method=normal", "--skip-test-db")
			if os.Geteuid() == 0 {
				inst.Args = append(inst.Args, "--user=root")
			}
			if out, err := inst.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("%s: %v\n%s", install, err, out)
			}
		}
		args = mariaDBArgs(data, filepath.Join(dir, "mariadbd.sock"), port)
	default:
		return nil, fmt.Errorf("unknown engine kind %q", e.Kind)
	}
	args = append(args, extra...)
	e.Args = args
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(e.Binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		s.done <- s.cmd.Wait()
		logf.Close()
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		db, err := s.open("")
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return s, nil
		}
		select {
		case werr := <-s.done:
			return nil, fmt.Errorf("%s exited (%v) before accepting connections; see %s", e.Name, werr, s.logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s does not accept connections: %v; see %s", e.Name, err, s.logPath)
		}
	}
}

// open connects to the server as root (database db, or none).
func (s *server) open(db string) (*sql.DB, error) {
	return sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?timeout=5s", s.port, db))
}

// exec runs statements on the server.
func (s *server) exec(ctx context.Context, stmts ...string) error {
	db, err := s.open("")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, st := range stmts {
		if _, err := db.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("%s: %s: %w", s.e.Name, st, err)
		}
	}
	return nil
}

// version asks the server for @@version.
func (s *server) version(ctx context.Context) (string, error) {
	db, err := s.open("")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	err = db.QueryRowContext(ctx, "SELECT @@version").Scan(&v)
	return v, err
}

// stop ends the server (SIGTERM: both shut down cleanly) and waits for it.
func (s *server) stop() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
			return nil
		}
		return err
	case <-time.After(5 * time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("%s did not stop within 5 minutes of SIGTERM; killed", s.e.Name)
	}
}

// GitCommit is the repository's HEAD (short), with "+dirty" when the work
// tree has changes.
func GitCommit(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+dirty"
	}
	return c
}
