// Package server serves the SQL layer (package sql/session) over MySQL's
// wire protocol, with vitess's server side (vitess.io/vitess/go/mysql):
// the handshake, mysql_native_password and caching_sha2_password logins
// against the catalog's accounts, the text protocol (COM_QUERY, with
// multi-statements when the client asks for them), prepared statements in
// the binary protocol (COM_STMT_PREPARE/EXECUTE/CLOSE/RESET, long data),
// COM_INIT_DB, COM_PING and COM_RESET_CONNECTION. Each connection is a
// session.Session; result columns are sent with the MySQL type of their
// table column, or, for computed ones, a type inferred from the values
// (integers BIGINT, decimals DECIMAL, doubles DOUBLE, strings VARCHAR in
// utf8mb4, binary strings VARBINARY, dates and times theirs); errors with
// MySQL's number and SQLSTATE; no panic reaches a client (it is error
// 1105).
//
// Accounts: Bootstrap gives a new database its root account — root@localhost
// without a password, accepted only from a loopback address, as `mysqld
// --initialize-insecure` leaves it — and sets root's password when asked.
// Listen refuses an address that is not a loopback one while root has no
// password.
//
// Importing vitess's go/mysql redirects the standard log package into
// vitess's logger; this package puts it back (log.Default writes to
// standard error again) and sends vitess's own log lines to Config.Log.
// Vitess's dependency glog registers flags on the standard flag package's
// CommandLine; nothing of this module parses that flag set.
package server

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"vitess.io/vitess/go/mysql"
	vtlog "vitess.io/vitess/go/vt/log"
	"vitess.io/vitess/go/vt/vtenv"

	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/session"
)

func init() {
	// vitess's logutil sends the standard logger to its own; restore
	// Go's defaults.
	stdlog.SetOutput(os.Stderr)
	stdlog.SetFlags(stdlog.LstdFlags)
	stdlog.SetPrefix("")
	setVitessLog(nil)
}

// setVitessLog sends vitess's log lines (a client that went away, a
// malformed packet) to w as text, or nowhere when w is nil. Process-wide.
func setVitessLog(w io.Writer) {
	if w == nil {
		w = io.Discard
	}
	vtlog.SwapLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// noFlushTimer is the delay after which vitess flushes a response still
// being written. vitess restarts a timer of that delay at every packet it
// buffers and stops it when the command's response is complete; with its
// default, 100 ms, each restart put the timer first in the runtime's timer
// heap, which wakes the network poller or another thread (an eventfd write
// or a futex wake per statement: 12% of the server's CPU on sysbench
// oltp_point_select with one client, 7% on oltp_read_only). Every handler
// here writes a result whole, vitess flushes at the end of each command,
// and the handler flushes between the statements of a multi-statement, so
// the timer has nothing to do: a year keeps it from firing and, behind any
// other timer, from waking anything.
const noFlushTimer = 365 * 24 * time.Hour

// Config configures a server.
type Config struct {
	// Addr is the TCP address to listen on (host:port; port 0 picks one).
	Addr string
	// DefaultAuth is the plugin the handshake proposes:
	// "mysql_native_password" (the default) or "caching_sha2_password"
	// (MySQL 8's default). A client may answer with either.
	DefaultAuth string
	// Log receives the protocol layer's warnings and errors (nil: none).
	// Process-wide: the last server started sets it.
	Log io.Writer
}

// Version is the server version clients see (SELECT VERSION()).
func Version() string { return expr.ServerVersion }

// Server is a MySQL protocol server over an engine.
type Server struct {
	eng      *session.Engine
	listener *mysql.Listener
	handler  *handler
	log      io.Writer
	logMu    sync.Mutex
	once     sync.Once
	done     chan struct{}
}

// Listen starts listening on cfg.Addr for clients of eng. It refuses an
// address that is not a loopback one while a root account has no password
// (see Bootstrap). Serve accepts the connections.
func Listen(eng *session.Engine, cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:3306"
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sql server: address %q: %v", cfg.Addr, err)
	}
	if !loopbackHost(host) {
		open, err := rootWithoutPassword(eng.Store)
		if err != nil {
			return nil, err
		}
		if open {
			return nil, fmt.Errorf("sql server: refusing to listen on %s, not a loopback address, while root has no password (set one with --root-password, or ALTER USER root IDENTIFIED BY '...')", cfg.Addr)
		}
	}
	auth := newAuthServer(eng.Store)
	switch cfg.DefaultAuth {
	case "", string(mysql.MysqlNativePassword):
	case string(mysql.CachingSha2Password):
		auth.defaultMethod = mysql.CachingSha2Password
	default:
		return nil, fmt.Errorf("sql server: unknown authentication plugin %q", cfg.DefaultAuth)
	}
	env, err := vtenv.New(vtenv.Options{MySQLServerVersion: expr.ServerVersion})
	if err != nil {
		return nil, err
	}
	setVitessLog(cfg.Log)
	s := &Server{eng: eng, log: cfg.Log, done: make(chan struct{})}
	s.handler = newHandler(eng, env, s.logf)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sql server: %w", err)
	}
	s.listener, err = mysql.NewListenerWithConfig(mysql.ListenerConfig{
		Listener:           hybridListener{ln},
		AuthServer:         auth,
		Handler:            s.handler,
		ConnReadBufferSize: 16 << 10,
		MultiQuery:         true,
		FlushDelay:         noFlushTimer,
	})
	if err != nil {
		return nil, fmt.Errorf("sql server: %w", err)
	}
	s.listener.ServerVersion = expr.ServerVersion
	return s, nil
}

func (s *Server) logf(format string, args ...any) {
	if s.log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.log, format+"\n", args...)
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Serve accepts connections until Close; it returns nil then.
func (s *Server) Serve() error {
	defer close(s.done)
	s.listener.Accept()
	return nil
}

// Close stops listening, closes every connection (rolling back their
// open transactions) and waits for Serve to return if it runs.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.listener.Shutdown()
		s.handler.closeAll()
	})
	return nil
}

// Wait waits until Serve has returned (after Close).
func (s *Server) Wait() { <-s.done }

// loopbackHost reports whether a listening host is a loopback one (the
// empty host and 0.0.0.0/:: listen everywhere).
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// rootWithoutPassword reports whether an account named root has no
// password.
func rootWithoutPassword(store kv.Store) (bool, error) {
	users, err := accounts(store)
	if err != nil {
		return false, err
	}
	for _, u := range users {
		if u.Name == "root" && u.AuthString == "" && u.CachingSha2 == "" {
			return true, nil
		}
	}
	return false, nil
}

// Bootstrap prepares a database's accounts for serving: when it has no
// account named root it gets root@localhost, without a password (accepted
// from loopback addresses only); a non-empty rootPassword becomes the
// password of every root account.
func Bootstrap(ctx context.Context, store kv.Store, rootPassword string) error {
	for attempt := 0; ; attempt++ {
		err := bootstrap(ctx, store, rootPassword)
		if err == nil || !store.IsRetryable(err) || attempt >= 10 {
			return err
		}
	}
}

func bootstrap(ctx context.Context, store kv.Store, rootPassword string) error {
	tx, err := store.Begin(ctx, kv.TxnOptions{Sync: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	users, err := catalog.Users(tx)
	if err != nil {
		return err
	}
	var roots []catalog.User
	for _, u := range users {
		if u.Name == "root" {
			roots = append(roots, u)
		}
	}
	if len(roots) == 0 {
		roots = []catalog.User{{Name: "root", Host: "localhost"}}
	} else if rootPassword == "" {
		return nil
	}
	for _, u := range roots {
		if rootPassword != "" {
			u.AuthString = session.NativePasswordHash(rootPassword)
			u.CachingSha2 = session.CachingSha2Hash(rootPassword)
		}
		if err := catalog.PutUser(tx, &u); err != nil {
			return err
		}
	}
	return tx.Commit()
}
