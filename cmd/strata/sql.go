package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/sqlerror"
	"vitess.io/vitess/go/sqltypes"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/parser"
	"github.com/strata-db/strata/sql/server"
	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/types"
)

// newSQLCmd is `strata sql` (the shell) and `strata sql serve`.
func newSQLCmd(e *env) *cobra.Command {
	var dir, connect, user, password, database, execute string
	var batch, noSync bool
	cmd := &cobra.Command{
		Use:   "sql (--dir DIR | --connect HOST:PORT) [-u USER] [-p PASSWORD] [-D DB] [-e STATEMENTS]",
		Short: "A SQL shell on a database (embedded, or a server over the MySQL protocol)",
		Long: `sql runs SQL statements, MySQL's dialect, on the database in --dir (opened
here, no server), or on a server (strata sql serve, or any MySQL server) at
--connect HOST:PORT.

Statements end with ';' (or \G, which prints the rows vertically) and may
span lines. Results are tables as the mysql client prints them, with the
time each statement took. With -e, the statements given are run and the
shell exits (status 1 after an error); input that is not a terminal is read
as a script. Interactive input has line editing and a history (up and down
arrows), kept in ~/.strata_sql_history. quit, exit or \q (or Ctrl-D) ends
the shell.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (dir == "") == (connect == "") {
				return usageError{errors.New("give one of --dir or --connect")}
			}
			var c shellConn
			var err error
			if dir != "" {
				c, err = openEmbedded(dir, user, !noSync)
			} else {
				c, err = dialShell(connect, user, password, database)
			}
			if err != nil {
				return err
			}
			defer c.Close()
			if dir != "" && database != "" {
				if _, err := c.Exec(context.Background(), "USE `"+strings.ReplaceAll(database, "`", "``")+"`"); err != nil {
					return sqlErrorText(err)
				}
			}
			sh := &shell{conn: c, out: e.stdout, errOut: e.stderr, batch: batch}
			if cmd.Flags().Changed("execute") {
				return sh.runScript(strings.NewReader(execute), true)
			}
			if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return sh.interactive(f)
			}
			return sh.runScript(e.stdin, true)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "database directory (opened embedded; created if missing)")
	cmd.Flags().StringVar(&connect, "connect", "", "server address HOST:PORT (MySQL protocol)")
	cmd.Flags().StringVarP(&user, "user", "u", "root", "user name")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (--connect)")
	cmd.Flags().StringVarP(&database, "database", "D", "", "the database to use first")
	cmd.Flags().StringVarP(&execute, "execute", "e", "", "run these statements and exit")
	cmd.Flags().BoolVarP(&batch, "batch", "B", false, "print results tab-separated, without borders or timing")
	cmd.Flags().BoolVar(&noSync, "no-sync", false, "with --dir: do not sync each commit to disk (faster; a crash may lose the last commits)")
	cmd.AddCommand(newSQLServeCmd(e))
	return cmd
}

// newSQLServeCmd is `strata sql serve`.
func newSQLServeCmd(e *env) *cobra.Command {
	var dir, addr, rootPassword, defaultAuth, cpuProfile, memProfile, isolation string
	var noSync bool
	gcFloorMiB := defaultGCFloorMiB
	mem := sqlMemory{WriteBufferMiB: defaultSQLWriteBufferMiB, CacheMiB: defaultSQLCacheMiB}
	cmd := &cobra.Command{
		Use:   "serve --dir DIR [--addr 127.0.0.1:3306] [--root-password PW]",
		Short: "Serve a database over the MySQL protocol",
		Long: `serve serves the database in --dir (created if missing) to MySQL clients,
drivers and ORMs at --addr, until interrupted (SIGINT or SIGTERM).

A new database has one account, root@localhost, without a password: it is
accepted only from loopback addresses, as mysqld --initialize-insecure leaves
it. --root-password sets root's password (on every start it is given). The
server refuses to listen on an address that is not a loopback one while root
has no password. CREATE USER and ALTER USER ... IDENTIFIED BY manage accounts
(mysql_native_password and caching_sha2_password).

Every commit is synced to disk before the client hears of it, unless
--no-sync. Transactions are serializable unless --transaction-isolation (or
a session's SET TRANSACTION ISOLATION LEVEL) says otherwise.

The database keeps up to --write-buffer-mib MiB of writes in a memtable
before it writes them to a table file (64; the library's default is 4), and
caches --cache-mib MiB of table blocks (128, InnoDB's default buffer pool;
the library's is 8): a server's memory, so that a stream of small
transactions is not compacted 4 MiB at a time.

The Go heap of a server is small (its block cache and memtables are outside
it), so with Go's default the collector ran about 50 times a second under
load; the server lets its heap grow --gc-floor-mib MiB (64) more before it
collects (GOGC still applies on top of that).

--cpuprofile and --memprofile write profiles of the server's whole run, from
the start until it is stopped (go tool pprof).`,
		Args: args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			if memProfile != "" {
				defer func() {
					if perr := writeMemProfile(memProfile); err == nil {
						err = perr
					}
				}()
			}
			iso, err := session.ParseIsolation(isolation)
			if err != nil {
				return usageError{fmt.Errorf("--transaction-isolation: %w", err)}
			}
			if gcFloorMiB < 0 {
				return usageError{fmt.Errorf("--gc-floor-mib %d: want at least 0", gcFloorMiB)}
			}
			setGCFloor(gcFloorMiB)
			db, err := openSQLDB(dir, mem)
			if err != nil {
				return err
			}
			defer db.Close()
			eng := session.NewEngine(local.New(db))
			eng.SyncCommits = !noSync
			eng.Isolation = iso
			if err := server.Bootstrap(cmd.Context(), eng.Store, rootPassword); err != nil {
				return err
			}
			srv, err := server.Listen(eng, server.Config{Addr: addr, DefaultAuth: defaultAuth, Log: e.stderr})
			if err != nil {
				return err
			}
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			defer signal.Stop(sig)
			go func() {
				<-sig
				srv.Close()
			}()
			fmt.Fprintf(e.stdout, "strata sql: serving %s on %s (MySQL protocol, server version %s)\n", dir, srv.Addr(), versionString())
			return srv.Serve()
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "database directory (required; created if missing)")
	cmd.MarkFlagRequired("dir")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:3306", "address to listen on")
	cmd.Flags().StringVar(&rootPassword, "root-password", "", "set root's password")
	cmd.Flags().StringVar(&defaultAuth, "default-auth", "mysql_native_password", "the authentication plugin the handshake proposes (mysql_native_password or caching_sha2_password)")
	cmd.Flags().BoolVar(&noSync, "no-sync", false, "do not sync each commit to disk (faster; a crash may lose acknowledged commits)")
	cmd.Flags().StringVar(&isolation, "transaction-isolation", "SERIALIZABLE", "the isolation level sessions start with, as mysqld's option: SERIALIZABLE, or REPEATABLE-READ, READ-COMMITTED or READ-UNCOMMITTED (all three snapshot isolation)")
	cmd.Flags().IntVar(&mem.WriteBufferMiB, "write-buffer-mib", defaultSQLWriteBufferMiB, "MiB of writes a memtable holds before it is flushed to a table file")
	cmd.Flags().IntVar(&mem.CacheMiB, "cache-mib", defaultSQLCacheMiB, "MiB of the block cache")
	cmd.Flags().IntVar(&gcFloorMiB, "gc-floor-mib", defaultGCFloorMiB, "MiB the Go heap may grow beyond what is live before the collector runs (0: Go's default)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the server's run to this file when it stops (go tool pprof)")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write an allocation profile of the server's run to this file when it stops (go tool pprof -sample_index=alloc_space)")
	return cmd
}

func versionString() string { return server.Version() }

// The memory of a database opened for SQL (strata sql serve, and the
// shell on a directory), larger than the library's defaults (a 4 MiB
// memtable, an 8 MiB block cache): with 4 MiB memtables, sysbench
// oltp_update_index spent a third of the server's CPU compacting.
const (
	defaultSQLWriteBufferMiB = 64
	defaultSQLCacheMiB       = 128
)

// defaultGCFloorMiB is strata sql serve's --gc-floor-mib.
const defaultGCFloorMiB = 64

// gcBallast holds the server's GC floor (see setGCFloor).
var gcBallast []byte

// setGCFloor lets the Go heap grow about mib MiB more before each
// collection. The collector's goal is twice the live heap (GOGC=100), and
// a server's live heap is a few MiB (its block cache and memtables are
// outside the Go heap): sysbench oltp_read_only collected about 50 times a
// second, between 3 and 6 MiB, its write barriers, assists and preemptions
// a large part of the server's CPU. A pointer-free allocation that is
// never touched counts as live for the collector's goal but costs no
// marking and no resident memory (its pages are never written); the heap
// then collects every ~mib MiB of garbage, so its resident size may grow
// by up to about that much.
func setGCFloor(mib int) {
	if mib > 0 {
		gcBallast = make([]byte, mib<<20)
	}
}

// sqlMemory is the memory settings of a database opened for SQL.
type sqlMemory struct {
	WriteBufferMiB, CacheMiB int
}

// openSQLDB opens (creating) the database in dir for SQL.
func openSQLDB(dir string, mem sqlMemory) (*strata.DB, error) {
	if dir == "" {
		return nil, usageError{errors.New("--dir is required")}
	}
	if mem.WriteBufferMiB < 1 || mem.CacheMiB < 0 {
		return nil, usageError{fmt.Errorf("--write-buffer-mib %d, --cache-mib %d: want at least 1 and 0", mem.WriteBufferMiB, mem.CacheMiB)}
	}
	o := &strata.Options{WriteBufferSize: mem.WriteBufferMiB << 20, BlockCacheSize: int64(mem.CacheMiB) << 20}
	if mem.CacheMiB == 0 {
		o.BlockCacheSize = -1
	}
	return strata.Open(dir, o)
}

// A shellConn runs one statement at a time.
type shellConn interface {
	Exec(ctx context.Context, stmt string) (*shellResult, error)
	Close()
}

// shellResult is a statement's outcome as the shell prints it.
type shellResult struct {
	columns  []string
	numeric  []bool // right-aligned columns
	rows     [][]*string
	isSet    bool // a result set (even empty)
	affected uint64
	info     string
	warnings int
}

// embeddedConn runs statements on a session over a database opened here.
type embeddedConn struct {
	db *strata.DB
	s  *session.Session
}

func openEmbedded(dir, user string, sync bool) (*embeddedConn, error) {
	db, err := openSQLDB(dir, sqlMemory{WriteBufferMiB: defaultSQLWriteBufferMiB, CacheMiB: defaultSQLCacheMiB})
	if err != nil {
		return nil, err
	}
	eng := session.NewEngine(local.New(db))
	eng.SyncCommits = sync
	return &embeddedConn{db: db, s: eng.NewSession(user)}, nil
}

func (c *embeddedConn) Close() {
	c.s.Close()
	c.db.Close()
}

func (c *embeddedConn) Exec(ctx context.Context, stmt string) (*shellResult, error) {
	rs, err := c.s.Exec(ctx, stmt)
	if err != nil {
		return nil, err
	}
	out := &shellResult{warnings: len(c.s.Warnings())}
	for _, r := range rs { // one statement: one result
		out.affected, out.info = r.RowsAffected, r.Info
		if r.Columns == nil {
			continue
		}
		out.isSet = true
		out.columns = make([]string, len(r.Columns))
		out.numeric = make([]bool, len(r.Columns))
		for i, col := range r.Columns {
			out.columns[i] = col.Name
			out.numeric[i] = col.Type != nil && (col.Type.Kind == types.KindInt || col.Type.Kind == types.KindUint ||
				col.Type.Kind == types.KindFloat || col.Type.Kind == types.KindDecimal)
		}
		out.rows = make([][]*string, len(r.Rows))
		for j, row := range r.Rows {
			cells := make([]*string, len(row))
			for i, v := range row {
				if v.IsNull() {
					continue
				}
				if col := r.Columns[i]; col.Type == nil && v.IsNumeric() {
					out.numeric[i] = true
				}
				s := v.String()
				cells[i] = &s
			}
			out.rows[j] = cells
		}
	}
	return out, nil
}

// remoteConn runs statements on a MySQL server (vitess's client).
type remoteConn struct{ c *mysql.Conn }

func dialShell(addr, user, password, database string) (*remoteConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usageError{fmt.Errorf("--connect %q: %v", addr, err)}
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, usageError{fmt.Errorf("--connect %q: bad port", addr)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mysql.Connect(ctx, &mysql.ConnParams{Host: host, Port: p, Uname: user, Pass: password, DbName: database,
		EnableQueryInfo: true})
	if err != nil {
		return nil, sqlErrorText(err)
	}
	return &remoteConn{c: c}, nil
}

func (c *remoteConn) Close() { c.c.Close() }

func (c *remoteConn) Exec(_ context.Context, stmt string) (*shellResult, error) {
	r, warnings, err := c.c.ExecuteFetchWithWarningCount(stmt, 1<<31-1, true)
	if err != nil {
		return nil, err
	}
	out := &shellResult{affected: r.RowsAffected, info: r.Info, warnings: int(warnings), isSet: len(r.Fields) > 0}
	for _, f := range r.Fields {
		out.columns = append(out.columns, f.Name)
		out.numeric = append(out.numeric, sqltypes.IsNumber(f.Type))
	}
	for _, row := range r.Rows {
		cells := make([]*string, len(row))
		for i, v := range row {
			if !v.IsNull() {
				s := v.ToString()
				cells[i] = &s
			}
		}
		out.rows = append(out.rows, cells)
	}
	return out, nil
}

// sqlErrorText is err as the mysql client prints it: ERROR 1146 (42S02):
// Table 'x.t' doesn't exist.
func sqlErrorText(err error) error {
	var te *types.Error
	var pe *parser.ParseError
	var se *sqlerror.SQLError
	code, state, msg := 1105, "HY000", err.Error()
	switch {
	case errors.As(err, &te):
		code, state, msg = te.Code, te.State, te.Message
	case errors.As(err, &pe):
		code, state = pe.Code, pe.SQLState()
	case errors.As(err, &se):
		code, state, msg = int(se.Num), se.State, se.Message
	}
	return &exitError{code: 1, msg: fmt.Sprintf("ERROR %d (%s): %s", code, state, msg)}
}

// shell reads statements and prints their results.
type shell struct {
	conn   shellConn
	out    io.Writer
	errOut io.Writer
	batch  bool
	failed bool
}

// runScript runs the statements in r; stopOnError ends at the first
// failure (exit status 1), as mysql does for a script.
func (sh *shell) runScript(r io.Reader, stopOnError bool) error {
	var sp splitter
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" || err == nil {
			for _, st := range sp.feed(line + "\n") {
				if quit := sh.run(st); quit {
					return nil
				}
				if sh.failed && stopOnError {
					return &exitError{code: 1}
				}
			}
		}
		if err != nil {
			break
		}
	}
	if rest := strings.TrimSpace(sp.buf.String()); rest != "" {
		sh.run(stmt{text: rest})
	}
	if sh.failed {
		return &exitError{code: 1}
	}
	return nil
}

// interactive runs the shell on a terminal: line editing, history,
// prompts.
func (sh *shell) interactive(f *os.File) error {
	fmt.Fprintf(sh.out, "Welcome to the Strata SQL shell (server version %s). End statements with ; or \\G; quit with \\q.\n\n", versionString())
	hist := loadHistory()
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{f, sh.out}, "strata> ")
	t.History = hist
	var sp splitter
	for {
		old, err := term.MakeRaw(int(f.Fd()))
		if err != nil {
			return err
		}
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			t.SetSize(w, h)
		}
		line, err := t.ReadLine()
		term.Restore(int(f.Fd()), old)
		if err != nil { // Ctrl-D
			fmt.Fprintln(sh.out, "Bye")
			hist.save()
			return nil
		}
		for _, st := range sp.feed(line + "\n") {
			if sh.run(st) {
				hist.save()
				fmt.Fprintln(sh.out, "Bye")
				return nil
			}
		}
		if sp.buf.Len() > 0 && strings.TrimSpace(sp.buf.String()) != "" {
			t.SetPrompt("     -> ")
		} else {
			sp.buf.Reset()
			t.SetPrompt("strata> ")
		}
	}
}

// run runs one statement and prints its outcome; it reports whether the
// shell should end.
func (sh *shell) run(st stmt) (quit bool) {
	text := strings.TrimSpace(st.text)
	switch strings.ToLower(strings.TrimRight(text, "; \t")) {
	case "":
		return false
	case "quit", "exit", `\q`:
		return true
	}
	start := time.Now()
	r, err := sh.conn.Exec(context.Background(), text)
	took := time.Since(start)
	if err != nil {
		sh.failed = true
		fmt.Fprintln(sh.errOut, sqlErrorText(err).Error())
		return false
	}
	printResult(sh.out, r, took, st.vertical, sh.batch)
	return false
}

// printResult prints r as the mysql client does.
func printResult(w io.Writer, r *shellResult, took time.Duration, vertical, batch bool) {
	timing := fmt.Sprintf("(%.2f sec)", took.Seconds())
	warn := ""
	if r.warnings > 0 {
		warn = fmt.Sprintf(", %d warning%s", r.warnings, plural(r.warnings))
	}
	if !r.isSet {
		if batch {
			return
		}
		fmt.Fprintf(w, "Query OK, %d row%s affected%s %s\n", r.affected, plural(int(r.affected)), warn, timing)
		if r.info != "" {
			fmt.Fprintln(w, r.info)
		}
		fmt.Fprintln(w)
		return
	}
	switch {
	case batch:
		fmt.Fprintln(w, strings.Join(r.columns, "\t"))
		for _, row := range r.rows {
			cells := make([]string, len(row))
			for i, c := range row {
				cells[i] = "NULL"
				if c != nil {
					cells[i] = *c
				}
			}
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
		return
	case vertical:
		width := 0
		for _, c := range r.columns {
			width = max(width, utf8.RuneCountInString(c))
		}
		for j, row := range r.rows {
			fmt.Fprintf(w, "*************************** %d. row ***************************\n", j+1)
			for i, c := range row {
				v := "NULL"
				if c != nil {
					v = *c
				}
				fmt.Fprintf(w, "%*s: %s\n", width, r.columns[i], v)
			}
		}
	case len(r.rows) > 0:
		fmt.Fprint(w, formatTable(r))
	}
	if len(r.rows) == 0 {
		fmt.Fprintf(w, "Empty set%s %s\n\n", warn, timing)
		return
	}
	fmt.Fprintf(w, "%d row%s in set%s %s\n\n", len(r.rows), plural(len(r.rows)), warn, timing)
}

// formatTable draws r's rows in a +---+ bordered table, numbers
// right-aligned.
func formatTable(r *shellResult) string {
	widths := make([]int, len(r.columns))
	for i, c := range r.columns {
		widths[i] = utf8.RuneCountInString(c)
	}
	for _, row := range r.rows {
		for i, c := range row {
			n := 4 // NULL
			if c != nil {
				n = utf8.RuneCountInString(*c)
			}
			widths[i] = max(widths[i], n)
		}
	}
	var b strings.Builder
	line := func() {
		b.WriteByte('+')
		for _, n := range widths {
			b.WriteString(strings.Repeat("-", n+2))
			b.WriteByte('+')
		}
		b.WriteByte('\n')
	}
	cell := func(s string, i int, right bool) {
		pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
		if right {
			b.WriteString(" " + pad + s + " |")
		} else {
			b.WriteString(" " + s + pad + " |")
		}
	}
	line()
	b.WriteByte('|')
	for i, c := range r.columns {
		cell(c, i, false)
	}
	b.WriteByte('\n')
	line()
	for _, row := range r.rows {
		b.WriteByte('|')
		for i, c := range row {
			if c == nil {
				cell("NULL", i, r.numeric[i])
			} else {
				cell(*c, i, r.numeric[i])
			}
		}
		b.WriteByte('\n')
	}
	line()
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// stmt is one statement of the input; vertical when it ended with \G.
type stmt struct {
	text     string
	vertical bool
}

// splitter cuts input into statements at ';' (or \G) outside quotes and
// comments, as the mysql client does.
type splitter struct {
	buf   strings.Builder
	quote byte // ', ", ` while inside one
	block bool // inside /* */
}

// feed adds text and returns the statements it completed.
func (sp *splitter) feed(text string) []stmt {
	var out []stmt
	line := false // inside a -- or # comment
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case line:
			if c == '\n' {
				line = false
			}
		case sp.block:
			if c == '*' && i+1 < len(text) && text[i+1] == '/' {
				sp.block = false
				sp.buf.WriteByte(c)
				i++
				c = '/'
			}
		case sp.quote != 0:
			if c == '\\' && sp.quote != '`' && i+1 < len(text) {
				sp.buf.WriteByte(c)
				i++
				c = text[i]
			} else if c == sp.quote {
				sp.quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			sp.quote = c
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			sp.block = true
		case c == '#' || (c == '-' && strings.HasPrefix(text[i:], "-- ")) || (c == '-' && strings.HasPrefix(text[i:], "--\n")):
			line = true
			continue
		case c == ';':
			out = append(out, stmt{text: sp.buf.String()})
			sp.buf.Reset()
			continue
		case c == '\\' && i+1 < len(text) && (text[i+1] == 'G' || text[i+1] == 'g'):
			out = append(out, stmt{text: sp.buf.String(), vertical: text[i+1] == 'G'})
			sp.buf.Reset()
			i++
			continue
		case c == '\\' && i+1 < len(text) && text[i+1] == 'q' && strings.TrimSpace(sp.buf.String()) == "":
			out = append(out, stmt{text: `\q`})
			i++
			continue
		}
		if !line {
			sp.buf.WriteByte(c)
		}
	}
	// quit and exit need no ';'.
	if s := strings.ToLower(strings.TrimSpace(sp.buf.String())); (s == "quit" || s == "exit") && sp.quote == 0 {
		out = append(out, stmt{text: s})
		sp.buf.Reset()
	}
	return out
}

// history is the shell's line history, kept in ~/.strata_sql_history.
type history struct {
	path    string
	entries []string // oldest first
}

const historyMax = 1000

func loadHistory() *history {
	h := &history{}
	home, err := os.UserHomeDir()
	if err != nil {
		return h
	}
	h.path = filepath.Join(home, ".strata_sql_history")
	if b, err := os.ReadFile(h.path); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" {
				h.entries = append(h.entries, strings.ReplaceAll(l, `\n`, "\n"))
			}
		}
	}
	return h
}

func (h *history) Add(entry string) {
	if strings.TrimSpace(entry) == "" || (len(h.entries) > 0 && h.entries[len(h.entries)-1] == entry) {
		return
	}
	h.entries = append(h.entries, entry)
	if len(h.entries) > historyMax {
		h.entries = h.entries[len(h.entries)-historyMax:]
	}
}

func (h *history) Len() int { return len(h.entries) }

func (h *history) At(i int) string { return h.entries[len(h.entries)-1-i] }

func (h *history) save() {
	if h.path == "" {
		return
	}
	var b strings.Builder
	for _, e := range h.entries {
		b.WriteString(strings.ReplaceAll(e, "\n", `\n`) + "\n")
	}
	_ = os.WriteFile(h.path, []byte(b.String()), 0o600)
}
