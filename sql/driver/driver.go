// Package driver is a database/sql driver named "strata" that runs SQL
// (MySQL's dialect) on a Strata database opened in the same process: no
// server, no network, each connection a session.Session.
//
//	import _ "github.com/strata-db/strata/sql/driver"
//
//	db, err := sql.Open("strata", "/path/to/db")            // created if missing
//	db, err := sql.Open("strata", "/path/to/db?sync=false&database=shop")
//
// DSN options: sync=false (commits are not synced to disk before they
// return: faster, and a crash may lose the last ones), database=NAME (the
// connections' current database), user=NAME (what USER() says; default
// root). The database directory is opened once per process and shared by
// every *sql.DB that names it; it is closed when the last of them is.
// To use a database or engine opened elsewhere, sql.OpenDB(NewConnector(eng,
// "")).
//
// Prepared statements are parsed once (session.Stmt). Transactions:
// BeginTx runs START TRANSACTION [READ ONLY] after setting the isolation
// level: SERIALIZABLE for sql.LevelDefault and LevelSerializable, snapshot
// isolation for LevelSnapshot, LevelRepeatableRead, LevelReadCommitted and
// LevelReadUncommitted (what SET TRANSACTION ISOLATION LEVEL maps them
// to); other levels are refused. A conflicting COMMIT fails with MySQL's
// error 1213 (SQLSTATE 40001): run the transaction again. An autocommit
// statement that conflicts is retried inside the session. Errors are
// *types.Error (Code, State, Message: MySQL's numbers) or the parser's
// *parser.ParseError. A statement's context is checked before it runs and
// passed to the session; a cancelled one returns context.Canceled.
//
// Values in: nil, int64, uint64 (and the other integer kinds, through
// database/sql's conversion), float64, bool (1 or 0), []byte (a binary
// string), string, time.Time (a DATETIME with microseconds, in its own
// location's wall time). Values out: NULL as nil; integers as int64
// (unsigned ones above int64's range as their decimal text); DOUBLE as
// float64; DECIMAL as its text ([]byte, as MySQL drivers do); strings as
// string; binary strings as []byte; DATE and DATETIME as time.Time in UTC;
// TIME as its text.
//
// Without database/sql, the session API is the Go API: session.NewEngine(
// local.New(db)).NewSession(user), then Session.Exec (statements' results,
// rows as types.Value) or Session.Prepare and Session.Execute.
package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-db/strata"
	"github.com/strata-db/strata/sql/kv/local"
	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/types"
)

func init() { sql.Register("strata", &Driver{}) }

// Driver is the "strata" driver.
type Driver struct{}

// Open implements driver.Driver (database/sql uses OpenConnector).
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector implements driver.DriverContext: it parses the DSN; the
// database is opened on the first connection.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	path, query, _ := strings.Cut(dsn, "?")
	if path == "" {
		return nil, errors.New("strata driver: the DSN names no database directory")
	}
	opts, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("strata driver: DSN options %q: %v", query, err)
	}
	c := &connector{driver: d, path: path, sync: true, user: "root"}
	for k, v := range opts {
		val := v[len(v)-1]
		switch k {
		case "sync":
			switch val {
			case "true", "1":
				c.sync = true
			case "false", "0":
				c.sync = false
			default:
				return nil, fmt.Errorf("strata driver: sync=%q: want true or false", val)
			}
		case "database":
			c.database = val
		case "user":
			c.user = val
		default:
			return nil, fmt.Errorf("strata driver: unknown DSN option %q (known: sync, database, user)", k)
		}
	}
	return c, nil
}

// NewConnector returns a connector over an engine the caller opened (and
// closes): sql.OpenDB(driver.NewConnector(eng, "shop")).
func NewConnector(eng *session.Engine, database string) driver.Connector {
	return &connector{driver: &Driver{}, eng: eng, database: database, user: "root"}
}

// connector makes connections to one database.
type connector struct {
	driver   *Driver
	path     string
	sync     bool
	database string
	user     string

	mu     sync.Mutex
	eng    *session.Engine
	shared *sharedDB // nil for NewConnector's
	closed bool
}

// sharedDB is a database directory opened by this package, shared by the
// connectors that name it.
type sharedDB struct {
	db   *strata.DB
	eng  *session.Engine
	refs int
}

var (
	openMu sync.Mutex
	opened = map[string]*sharedDB{}
)

func (c *connector) engine() (*session.Engine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("strata driver: the database is closed")
	}
	if c.eng != nil {
		return c.eng, nil
	}
	abs, err := filepath.Abs(c.path)
	if err != nil {
		return nil, err
	}
	openMu.Lock()
	defer openMu.Unlock()
	sh := opened[abs]
	if sh == nil {
		db, err := strata.Open(abs, nil)
		if err != nil {
			return nil, err
		}
		sh = &sharedDB{db: db, eng: session.NewEngine(local.New(db))}
		opened[abs] = sh
	}
	sh.refs++
	// The last connector to open the directory sets the sync mode.
	sh.eng.SyncCommits = c.sync
	c.shared, c.eng = sh, sh.eng
	return c.eng, nil
}

// Connect implements driver.Connector.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	eng, err := c.engine()
	if err != nil {
		return nil, err
	}
	s := eng.NewSession(c.user)
	if c.database != "" {
		if err := s.SetDatabase(ctx, c.database); err != nil {
			s.Close()
			return nil, err
		}
	}
	return &conn{s: s, database: c.database}, nil
}

// Driver implements driver.Connector.
func (c *connector) Driver() driver.Driver { return c.driver }

// Close implements io.Closer (sql.DB.Close calls it): the database is
// closed when no other connector uses it.
func (c *connector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.shared == nil {
		return nil
	}
	openMu.Lock()
	defer openMu.Unlock()
	c.shared.refs--
	if c.shared.refs > 0 {
		return nil
	}
	for k, v := range opened {
		if v == c.shared {
			delete(opened, k)
		}
	}
	return c.shared.db.Close()
}

var _ io.Closer = (*connector)(nil)

// conn is a connection: a session.
type conn struct {
	s        *session.Session
	database string
	bad      bool
}

var (
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ps, err := c.s.Prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return &stmt{c: c, ps: ps}, nil
}

func (c *conn) Close() error {
	c.s.Close()
	return nil
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a transaction at the isolation level asked (see the
// package documentation).
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	level := "SERIALIZABLE"
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault, sql.LevelSerializable:
	case sql.LevelSnapshot, sql.LevelRepeatableRead:
		level = "REPEATABLE READ"
	case sql.LevelReadCommitted:
		level = "READ COMMITTED"
	case sql.LevelReadUncommitted:
		level = "READ UNCOMMITTED"
	default:
		return nil, fmt.Errorf("strata driver: isolation level %v is not supported", sql.IsolationLevel(opts.Isolation))
	}
	if c.s.InTransaction() {
		return nil, errors.New("strata driver: a transaction is already open on this connection")
	}
	begin := "START TRANSACTION"
	if opts.ReadOnly {
		begin += " READ ONLY"
	}
	if _, err := c.exec(ctx, "SET TRANSACTION ISOLATION LEVEL "+level); err != nil {
		return nil, err
	}
	if _, err := c.exec(ctx, begin); err != nil {
		return nil, err
	}
	return &tx{c: c}, nil
}

// exec runs statements without parameters.
func (c *conn) exec(ctx context.Context, query string) (*session.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rs, err := c.s.Exec(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return &session.Result{}, nil
	}
	return rs[len(rs)-1], nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		return nil, driver.ErrSkip // prepared
	}
	r, err := c.exec(ctx, query)
	if err != nil {
		return nil, err
	}
	return result{r}, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		return nil, driver.ErrSkip
	}
	r, err := c.exec(ctx, query)
	if err != nil {
		return nil, err
	}
	return newRows(r), nil
}

// ResetSession implements driver.SessionResetter: a connection back in
// the pool has no open transaction.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.s.InTransaction() {
		if _, err := c.s.Exec(ctx, "ROLLBACK"); err != nil {
			c.bad = true
			return driver.ErrBadConn
		}
	}
	return nil
}

func (c *conn) IsValid() bool { return !c.bad }

// CheckNamedValue implements driver.NamedValueChecker: the driver takes
// uint64 (above int64's range too) besides database/sql's defaults.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case uint64:
		return nil
	case uint, uint32, uint16, uint8:
		nv.Value = toUint64(v)
		return nil
	}
	var err error
	nv.Value, err = driver.DefaultParameterConverter.ConvertValue(nv.Value)
	return err
}

func toUint64(v any) uint64 {
	switch v := v.(type) {
	case uint:
		return uint64(v)
	case uint32:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint8:
		return uint64(v)
	}
	return 0
}

// stmt is a prepared statement.
type stmt struct {
	c  *conn
	ps *session.Stmt
}

var (
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return s.ps.Params }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

func (s *stmt) run(ctx context.Context, args []driver.NamedValue) (*session.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	params := make([]types.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, fmt.Errorf("strata driver: named parameters (%s) are not supported", a.Name)
		}
		v, err := toValue(a.Value)
		if err != nil {
			return nil, err
		}
		params[i] = v
	}
	return s.c.s.Execute(ctx, s.ps, params)
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	r, err := s.run(ctx, args)
	if err != nil {
		return nil, err
	}
	return result{r}, nil
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	r, err := s.run(ctx, args)
	if err != nil {
		return nil, err
	}
	return newRows(r), nil
}

// toValue converts a parameter.
func toValue(v any) (types.Value, error) {
	switch v := v.(type) {
	case nil:
		return types.Null, nil
	case int64:
		return types.NewInt(v), nil
	case uint64:
		return types.NewUint(v), nil
	case float64:
		return types.NewFloat(v), nil
	case bool:
		return types.NewBool(v), nil
	case []byte:
		return types.NewBytes(append([]byte(nil), v...)), nil
	case string:
		return types.NewString(v), nil
	case time.Time:
		return types.NewDatetime(types.Parts{Year: v.Year(), Month: int(v.Month()), Day: v.Day(),
			Hour: v.Hour(), Minute: v.Minute(), Second: v.Second(), Micro: v.Nanosecond() / 1000}), nil
	}
	return types.Null, fmt.Errorf("strata driver: unsupported parameter type %T", v)
}

// result is an Exec's outcome.
type result struct{ r *session.Result }

func (r result) LastInsertId() (int64, error) { return int64(r.r.LastInsertID), nil }
func (r result) RowsAffected() (int64, error) { return int64(r.r.RowsAffected), nil }

// tx is a transaction.
type tx struct{ c *conn }

func (t *tx) Commit() error {
	_, err := t.c.exec(context.Background(), "COMMIT")
	return err
}

func (t *tx) Rollback() error {
	_, err := t.c.exec(context.Background(), "ROLLBACK")
	return err
}

// rows iterates a result set (the session returns it whole).
type rows struct {
	cols []session.Column
	data [][]types.Value
	i    int
}

var (
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
)

func newRows(r *session.Result) *rows { return &rows{cols: r.Columns, data: r.Rows} }

func (r *rows) Columns() []string {
	names := make([]string, len(r.cols))
	for i, c := range r.cols {
		names[i] = c.Name
	}
	return names
}

func (r *rows) Close() error { return nil }

func (r *rows) Next(dest []driver.Value) error {
	if r.i >= len(r.data) {
		return io.EOF
	}
	row := r.data[r.i]
	r.i++
	for i := range dest {
		dest[i] = nil
		if i < len(row) {
			dest[i] = fromValue(row[i])
		}
	}
	return nil
}

// ColumnTypeDatabaseTypeName is the column's SQL type (upper case), or ""
// for a computed column.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if t := r.cols[i].Type; t != nil {
		n := strings.ToUpper(t.Name)
		if t.Kind == types.KindUint {
			n = "UNSIGNED " + n
		}
		return n
	}
	return ""
}

// ColumnTypeNullable: not known (result columns carry no nullability).
func (r *rows) ColumnTypeNullable(int) (nullable, ok bool) { return true, false }

// fromValue converts a result value for database/sql.
func fromValue(v types.Value) driver.Value {
	switch v.Kind() {
	case types.KindNull:
		return nil
	case types.KindInt:
		return v.Int()
	case types.KindUint:
		if v.Uint() <= math.MaxInt64 {
			return int64(v.Uint())
		}
		return v.String()
	case types.KindFloat:
		return v.Float()
	case types.KindDecimal:
		return []byte(v.String())
	case types.KindString:
		return v.Str()
	case types.KindBytes:
		return []byte(v.Str())
	case types.KindDate, types.KindDatetime:
		p := types.DateParts(v)
		if p.Year == 0 && p.Month == 0 && p.Day == 0 {
			return v.String() // the zero date has no time.Time
		}
		return time.Date(p.Year, time.Month(p.Month), p.Day, p.Hour, p.Minute, p.Second, p.Micro*1000, time.UTC)
	}
	return v.String()
}
