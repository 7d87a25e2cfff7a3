package server

import (
	"context"
	"errors"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/replication"
	"vitess.io/vitess/go/mysql/sqlerror"
	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"
	"vitess.io/vitess/go/vt/vtenv"

	"github.com/strata-db/strata/sql/parser"
	"github.com/strata-db/strata/sql/session"
	"github.com/strata-db/strata/sql/types"
)

// handler implements vitess's mysql.Handler: each connection gets a
// session.Session (made on its first command, once its user is known),
// and each command runs on it. vitess serializes a connection's calls.
type handler struct {
	eng    *session.Engine
	env    *vtenv.Environment
	logf   func(format string, args ...any)
	mu     sync.Mutex
	conns  map[*mysql.Conn]*connState
	closed bool
}

// connState is a connection's session, its prepared statements (by
// vitess's statement id) and the warning count of its last statement.
type connState struct {
	s        *session.Session
	stmts    map[uint32]*session.Stmt
	ctx      context.Context
	cancel   context.CancelFunc
	warnings uint16
}

func newHandler(eng *session.Engine, env *vtenv.Environment, logf func(string, ...any)) *handler {
	return &handler{eng: eng, env: env, logf: logf, conns: map[*mysql.Conn]*connState{}}
}

// Env implements mysql.Handler.
func (h *handler) Env() *vtenv.Environment { return h.env }

// NewConnection implements mysql.Handler.
func (h *handler) NewConnection(c *mysql.Conn) {
	c.StatusFlags |= mysql.ServerStatusAutocommit
	ctx, cancel := context.WithCancel(context.Background())
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		cancel()
		c.Close()
		return
	}
	h.conns[c] = &connState{ctx: ctx, cancel: cancel, stmts: map[uint32]*session.Stmt{}}
}

// ConnectionReady implements mysql.Handler.
func (h *handler) ConnectionReady(c *mysql.Conn) {}

// ConnectionClosed implements mysql.Handler: the session's open
// transaction is rolled back.
func (h *handler) ConnectionClosed(c *mysql.Conn) {
	h.mu.Lock()
	st := h.conns[c]
	delete(h.conns, c)
	h.mu.Unlock()
	if st != nil {
		st.cancel()
		if st.s != nil {
			st.s.Close()
		}
	}
}

// closeAll closes every connection (Server.Close).
func (h *handler) closeAll() {
	h.mu.Lock()
	h.closed = true
	var cs []*mysql.Conn
	for c, st := range h.conns {
		st.cancel()
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// state returns c's state, making its session on first use.
func (h *handler) state(c *mysql.Conn) (*connState, error) {
	h.mu.Lock()
	st := h.conns[c]
	h.mu.Unlock()
	if st == nil {
		return nil, sqlerror.NewSQLError(sqlerror.ERServerShutdown, "08S01", "Server shutdown in progress")
	}
	if st.s == nil {
		st.s = h.eng.NewSession(c.User)
	}
	return st, nil
}

// ComQuery implements mysql.Handler: one statement (vitess sends the
// initial USE of a connection's database this way).
func (h *handler) ComQuery(c *mysql.Conn, query string, callback func(*sqltypes.Result) error) error {
	st, err := h.state(c)
	if err != nil {
		return err
	}
	qr, err := h.run(c, st, func() (*session.Result, error) {
		rs, err := st.s.Exec(st.ctx, query)
		if err != nil {
			return nil, err
		}
		if len(rs) != 1 {
			return nil, types.Errorf(parser.ErParseError, "42000", "You have an error in your SQL syntax: one statement expected")
		}
		return rs[0], nil
	})
	if err != nil {
		return err
	}
	return callback(qr)
}

// ComQueryMulti implements mysql.Handler: the statements of a COM_QUERY,
// run one after the other until one fails (several only when the client
// set CLIENT_MULTI_STATEMENTS; else they are a syntax error, as in MySQL).
func (h *handler) ComQueryMulti(c *mysql.Conn, sql string, callback func(qr sqltypes.QueryResponse, more bool, firstPacket bool) error) error {
	st, err := h.state(c)
	if err != nil {
		return err
	}
	pieces, err := h.env.Parser().SplitStatementToPieces(sql)
	if err != nil || len(pieces) == 0 {
		pieces = []string{sql}
	}
	if len(pieces) > 1 && c.Capabilities&mysql.CapabilityClientMultiStatements == 0 {
		// MySQL reports the second statement as a syntax error, and runs
		// none.
		pe := &parser.ParseError{Code: parser.ErParseError, Near: pieces[1], Line: 1}
		return callback(sqltypes.QueryResponse{QueryError: sqlError(pe)}, false, true)
	}
	for i, piece := range pieces {
		more := i < len(pieces)-1
		qr, err := h.run(c, st, func() (*session.Result, error) {
			rs, err := st.s.Exec(st.ctx, piece)
			if err != nil {
				return nil, err
			}
			if len(rs) != 1 { // the splitter and the parser disagree
				return nil, types.Errorf(parser.ErParseError, "42000", "You have an error in your SQL syntax; one statement expected")
			}
			return rs[0], nil
		})
		if err != nil {
			return callback(sqltypes.QueryResponse{QueryError: err}, false, true)
		}
		if err := callback(sqltypes.QueryResponse{QueryResult: qr}, more, true); err != nil {
			return err
		}
		if more {
			// The client gets each result when it is ready, not at the
			// end of the last statement (the server has no flush timer:
			// see noFlushTimer).
			if err := c.FlushWriteBuffer(); err != nil {
				return err
			}
		}
	}
	return nil
}

// run runs one statement and converts its result and error for vitess; no
// panic gets past it (it becomes error 1105).
func (h *handler) run(c *mysql.Conn, st *connState, exec func() (*session.Result, error)) (qr *sqltypes.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			h.logf("sql server: panic in a statement: %v\n%s", r, debug.Stack())
			qr, err = nil, sqlerror.NewSQLErrorf(sqlerror.ERUnknownError, "HY000", "internal error: %v", r)
		}
		st.warnings = uint16(min(len(st.s.Warnings()), 65535))
		c.StatusFlags = statusFlags(c.StatusFlags, st.s)
	}()
	res, err := exec()
	if err != nil {
		return nil, sqlError(err)
	}
	return wireOf(res), nil
}

// wireOf converts a session result: a result set, or an OK.
func wireOf(res *session.Result) *sqltypes.Result {
	if res.Columns != nil {
		return wireResult(res.Columns, res.Rows)
	}
	return &sqltypes.Result{RowsAffected: res.RowsAffected, InsertID: res.LastInsertID, Info: res.Info}
}

// statusFlags updates the status flags an OK or EOF packet carries: in a
// transaction, autocommit.
func statusFlags(flags uint16, s *session.Session) uint16 {
	flags &^= mysql.ServerStatusInTrans | mysql.ServerStatusAutocommit
	if s.InTransaction() {
		flags |= mysql.ServerStatusInTrans
	}
	if v, err := s.Var(true, "", "autocommit"); err == nil {
		if on, null := types.Truth(v); on && !null {
			flags |= mysql.ServerStatusAutocommit
		}
	}
	return flags
}

// ComPrepare implements mysql.Handler: the statement is parsed (and a
// query planned, for its columns) once.
func (h *handler) ComPrepare(c *mysql.Conn, query string) (fields []*querypb.Field, params uint16, err error) {
	st, err := h.state(c)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if r := recover(); r != nil {
			h.logf("sql server: panic in prepare: %v\n%s", r, debug.Stack())
			fields, params, err = nil, 0, sqlerror.NewSQLErrorf(sqlerror.ERUnknownError, "HY000", "internal error: %v", r)
		}
	}()
	ps, err := st.s.Prepare(st.ctx, query)
	if err != nil {
		return nil, 0, sqlError(err)
	}
	if ps.Params > 65535 {
		return nil, 0, sqlerror.NewSQLError(1390, "HY000", "Prepared statement contains too many placeholders")
	}
	// vitess numbers the statement right after this call; forget the
	// statements the client closed (vitess drops them from PrepareData).
	for id := range st.stmts {
		if _, ok := c.PrepareData[id]; !ok {
			delete(st.stmts, id)
		}
	}
	st.stmts[c.StatementID+1] = ps
	return wireFields(ps.Columns), uint16(ps.Params), nil
}

// ComStmtExecute implements mysql.Handler: a prepared statement with its
// bound parameters, answered in the binary protocol.
func (h *handler) ComStmtExecute(c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	st, err := h.state(c)
	if err != nil {
		return err
	}
	qr, err := h.run(c, st, func() (*session.Result, error) {
		ps := st.stmts[prepare.StatementID]
		if ps == nil {
			var err error
			if ps, err = st.s.Prepare(st.ctx, prepare.PrepareStmt); err != nil {
				return nil, err
			}
			st.stmts[prepare.StatementID] = ps
		}
		params := make([]types.Value, prepare.ParamsCount)
		for i := range params {
			bv := prepare.BindVars[bindName(i)]
			if bv == nil {
				return nil, types.Errorf(1210, "HY000", "Incorrect arguments to mysqld_stmt_execute")
			}
			v, err := sqltypes.BindVariableToValue(bv)
			if err != nil {
				return nil, types.Errorf(1210, "HY000", "Incorrect arguments to mysqld_stmt_execute: %v", err)
			}
			if params[i], err = fromWire(v); err != nil {
				return nil, err
			}
		}
		return st.s.Execute(st.ctx, ps, params)
	})
	if err != nil {
		return err
	}
	return callback(qr)
}

// bindNames are vitess's names of a statement's first parameters.
var bindNames = func() (n [64]string) {
	for i := range n {
		n[i] = "v" + strconv.Itoa(i+1)
	}
	return n
}()

// bindName is vitess's name of parameter i (from 0): v1, v2, ...
func bindName(i int) string {
	if i < len(bindNames) {
		return bindNames[i]
	}
	return "v" + strconv.Itoa(i+1)
}

// WarningCount implements mysql.Handler.
func (h *handler) WarningCount(c *mysql.Conn) uint16 {
	h.mu.Lock()
	st := h.conns[c]
	h.mu.Unlock()
	if st == nil {
		return 0
	}
	return st.warnings
}

// ComResetConnection implements mysql.Handler (COM_RESET_CONNECTION): a
// fresh session (open transaction rolled back, variables reset).
func (h *handler) ComResetConnection(c *mysql.Conn) {
	st, err := h.state(c)
	if err != nil {
		return
	}
	db := st.s.Database()
	st.s.Close()
	st.s = h.eng.NewSession(c.User)
	st.stmts = map[uint32]*session.Stmt{}
	st.warnings = 0
	if db != "" {
		_ = st.s.SetDatabase(st.ctx, db)
	}
	c.StatusFlags = statusFlags(c.StatusFlags, st.s)
}

var errNoReplication = sqlerror.NewSQLError(sqlerror.ERNotSupportedYet, "42000", "Strata does not serve replication")

// ComRegisterReplica implements mysql.Handler: not supported.
func (h *handler) ComRegisterReplica(*mysql.Conn, string, uint16, string, string) error {
	return errNoReplication
}

// ComBinlogDump implements mysql.Handler: not supported.
func (h *handler) ComBinlogDump(*mysql.Conn, string, uint32) error { return errNoReplication }

// ComBinlogDumpGTID implements mysql.Handler: not supported.
func (h *handler) ComBinlogDumpGTID(*mysql.Conn, string, uint64, replication.GTIDSet, uint16) error {
	return errNoReplication
}

// sqlError converts an error of the SQL layer into vitess's, which the
// client receives with its number, SQLSTATE and message.
func sqlError(err error) error {
	var te *types.Error
	var pe *parser.ParseError
	switch {
	case errors.As(err, &te):
		return sqlerror.NewSQLError(sqlerror.ErrorCode(te.Code), sqlState(te.State), te.Message)
	case errors.As(err, &pe):
		return sqlerror.NewSQLError(sqlerror.ErrorCode(pe.Code), sqlState(pe.SQLState()), pe.Error())
	case errors.Is(err, context.Canceled):
		return sqlerror.NewSQLError(sqlerror.ERQueryInterrupted, "70100", "Query execution was interrupted")
	}
	var se *sqlerror.SQLError
	if errors.As(err, &se) {
		return se
	}
	return sqlerror.NewSQLError(sqlerror.ERUnknownError, "HY000", err.Error())
}

// sqlState is s when it is a SQLSTATE (five characters; vitess insists),
// else HY000.
func sqlState(s string) string {
	if len(s) != 5 || strings.ContainsAny(s, " \x00") {
		return "HY000"
	}
	return s
}
