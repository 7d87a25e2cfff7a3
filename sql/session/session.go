// Package session runs SQL statements for one connection: it parses them,
// keeps the connection's state (current database, open transaction,
// variables, warnings), runs DDL, plans and executes queries and writes,
// each statement in a transaction of the storage interface (autocommit
// statements in their own, retried on a conflict; explicit transactions
// failing with MySQL's 1213 to be retried by the client).
package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/exec"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/parser"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// Engine is the SQL layer over one store, shared by every session.
type Engine struct {
	Store  kv.Store
	connID atomic.Uint64
	// autoinc caches AUTO_INCREMENT ranges per table id.
	aiMu    sync.Mutex
	autoinc map[uint32]*aiRange
	// SyncCommits makes every commit durable before it returns.
	SyncCommits bool
	// Isolation is the level new sessions' transactions run at
	// (Serializable unless set; mysqld's --transaction-isolation).
	Isolation kv.Isolation
	globals   sync.Map // global system variables set at run time
	// descs counts the commits that change table descriptors, when the
	// store offers it (kv.Watcher): a read-only statement's cached plan
	// then holds without reading its tables' descriptors (see
	// Session.plan).
	descs *kv.Watch
}

// aiRange is a table's reserved AUTO_INCREMENT values, [next, limit)
// (limit 0: none reserved yet). mu is held while a range is reserved, so
// a reservation (a synced commit) stalls only the inserts into its table.
type aiRange struct {
	mu          sync.Mutex
	next, limit uint64
	size        uint64    // values the last reservation took
	at          time.Time // when it was made
}

// The sizes of AUTO_INCREMENT reservations: aiMinRange, doubled (up to
// aiMaxRange) each time a range runs out within aiHotRange of being
// reserved, back to aiMinRange when one lasts longer. A table inserted
// into thousands of times a second (sysbench oltp_insert) then pays a
// synced reservation once per 1000 inserts, not 100, while a restart
// skips at most the rest of one range, as before for slow tables.
const (
	aiMinRange = 100
	aiMaxRange = 1000
	aiHotRange = time.Second
)

// NewEngine returns an engine over store.
func NewEngine(store kv.Store) *Engine {
	e := &Engine{Store: store, autoinc: map[uint32]*aiRange{}, SyncCommits: true}
	if w, ok := store.(kv.Watcher); ok {
		e.descs = w.Watch(catalog.TableKeysPrefix())
	}
	return e
}

// Column describes a result column.
type Column struct {
	Name  string
	Table string
	DB    string
	// Type is the column's type when it is a table column (nil: a
	// computed value; the wire layer infers one from the values).
	Type *types.Type
}

// Result is one statement's outcome: a result set (Columns non-nil) or a
// count of affected rows.
type Result struct {
	Columns      []Column
	Rows         [][]types.Value
	RowsAffected uint64
	LastInsertID uint64
	Info         string
	Warnings     uint16
}

// Session is one connection's state. Not safe for concurrent use.
type Session struct {
	e            *Engine
	db           string
	user         string
	txn          kv.Txn
	txnReadOnly  bool
	autocommit   bool
	isolation    kv.Isolation
	userVars     map[string]types.Value
	sysVars      map[string]types.Value
	warnings     []expr.Warning
	lastInsertID uint64
	foundRows    uint64
	rowCount     int64
	connID       uint64
	savepoints   []string
	now          types.Value
	// prepared is the prepared statement being executed (its plan cache).
	prepared *Stmt
	// nextIsolation, set by SET TRANSACTION without a scope, is the
	// isolation level of the next transaction only.
	nextIsolation *kv.Isolation
	// tables are the table names resolved lately (see resolvedTable),
	// by lower-case database and name.
	tables map[string]resolvedTable
	// txnSeq numbers the session's explicit transactions (from 1): a
	// prepared statement's plan checked in one holds for the rest of it.
	txnSeq uint64
	// read describes the transaction of the statement running outside an
	// explicit one (see withRead, withWrite), txnSnap the explicit one's
	// (see begin), for the plan cache.
	read, txnSnap readSnapshot
	// shapes are the prepared statements of the shapes of statements
	// sent as text (see execShape), by shape, shapesBytes the length of
	// their texts; shapeBuf is the buffer a shape is built in.
	shapes      map[string]*Stmt
	shapesBytes int
	shapeBuf    []byte
}

// readSnapshot is what Engine.descs said around the start of a
// transaction (a statement's, outside an explicit one; an explicit one's,
// at BEGIN): its epoch before the snapshot was taken (before), and after
// it (after, when stable). A cached plan whose table descriptors were read
// in a snapshot taken after the epoch was e holds, unread, in a later
// snapshot after which the epoch is stably e (see kv.Watch). A transaction
// that may write (write) then marks them read (kv.Txn.MarkRead), so that
// a concurrent change to one of its tables still conflicts with it.
type readSnapshot struct {
	tx            kv.Txn // the transaction (nil: none)
	write         bool   // tx may write (it is not read-only)
	stable        bool
	before, after uint64
}

// NewSession opens a session as user.
func (e *Engine) NewSession(user string) *Session {
	return &Session{e: e, user: user, autocommit: true, userVars: map[string]types.Value{},
		sysVars: map[string]types.Value{}, connID: e.connID.Add(1), isolation: e.Isolation}
}

// Database returns the current database.
func (s *Session) Database() string { return s.db }

// SetDatabase changes the current database (USE), checking it exists.
func (s *Session) SetDatabase(ctx context.Context, name string) error {
	if name == "" {
		s.db = ""
		return nil
	}
	_, err := s.Exec(ctx, "USE `"+strings.ReplaceAll(name, "`", "``")+"`")
	return err
}

// ConnectionID is the session's id (CONNECTION_ID()).
func (s *Session) ConnectionID() uint64 { return s.connID }

// InTransaction reports whether an explicit transaction is open.
func (s *Session) InTransaction() bool { return s.txn != nil }

// Close rolls back an open transaction.
func (s *Session) Close() {
	if s.txn != nil {
		s.txn.Rollback()
		s.txn = nil
	}
}

// Exec runs the statements of sql (separated by ';') and returns their
// results; it stops at the first failure, returning the results so far.
func (s *Session) Exec(ctx context.Context, sql string) ([]*Result, error) {
	if r, ok, err := s.execShape(ctx, sql); ok {
		if err != nil {
			return nil, err
		}
		return []*Result{r}, nil
	}
	stmts, err := parser.Parse(sql)
	if err != nil {
		return nil, err
	}
	var out []*Result
	for _, st := range stmts {
		r, err := s.ExecStmt(ctx, st, nil)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Stmt is a prepared statement.
type Stmt struct {
	SQL    string
	AST    ast.Stmt
	Params int
	// cache is the plan of the last execution and the tables it was
	// planned against: reused while the database and every table's
	// descriptor version are the same.
	cache *cachedPlan
	// Columns are the result columns, when the statement is a query
	// (planned once at prepare time: nil if that failed).
	Columns []Column
	// lastRows is how many rows the query returned last time: the next
	// result's first capacity (at most maxRowsHint).
	lastRows int
	// lastStrings is how many bytes of strings its scans decoded last
	// time: their first string arena's size (at most maxStringsHint).
	lastStrings int
}

// maxRowsHint bounds the rows a prepared query's result is first made
// room for; maxStringsHint the bytes of its first string arena.
const (
	maxRowsHint    = 4096
	maxStringsHint = 1 << 20
)

// Prepare parses one statement for repeated execution.
func (s *Session) Prepare(ctx context.Context, sql string) (*Stmt, error) {
	st, n, err := parser.ParsePrepared(sql)
	if err != nil {
		return nil, err
	}
	ps := &Stmt{SQL: sql, AST: st, Params: n}
	switch st.(type) {
	case *ast.Select, *ast.Union:
		_ = s.withRead(ctx, func(tx kv.Txn) error {
			cat := s.catalog(tx)
			cat.virtual = true
			p, _, err := plan.Query(cat, s.parseView, st)
			if err == nil {
				ps.Columns = columnsOf(p.Columns())
			}
			return nil
		})
	}
	return ps, nil
}

// Execute runs a prepared statement with its parameters.
func (s *Session) Execute(ctx context.Context, ps *Stmt, params []types.Value) (*Result, error) {
	if len(params) != ps.Params {
		return nil, types.Errorf(1210, "HY000", "Incorrect arguments to EXECUTE")
	}
	s.prepared = ps
	defer func() { s.prepared = nil }()
	return s.ExecStmt(ctx, ps.AST, params)
}

// cachedPlan is a prepared statement's plan and what it depends on.
type cachedPlan struct {
	db   string
	deps []tableDep
	plan any
	used map[uint32]bool // information_schema's tables it reads
	// checkedIn is the explicit transaction (Session.txnSeq, 0 none) in
	// which deps were last read and found the same: its snapshot reads
	// them the same until it ends (DDL commits it first), and the reads
	// are in its read set already.
	checkedIn uint64
	// epoch, when hasEpoch, is Engine.descs's epoch before a snapshot in
	// which deps were read (see readSnapshot): a read-only statement
	// whose snapshot is stably at it uses the plan without reading them.
	// (A statement that writes marks them read, kv.Txn.MarkRead: they
	// are then in its read set, so that a concurrent change to a table
	// conflicts with it.)
	epoch    uint64
	hasEpoch bool
}

// tableDep is a table a plan was built on: its descriptor's key and value.
// The descriptor changes with every change to the table (its version goes
// up), a rename included, and goes when the table is dropped; a name that
// comes to mean another table meant this one before a rename or a drop.
// So while each descriptor reads the same, the plan holds — checked by
// reading only the descriptors, in the statement's transaction (a
// concurrent change to one conflicts with the statement).
type tableDep struct {
	key, desc []byte
}

// planFor returns the prepared statement's cached plan if it still holds
// (same database, same table descriptors, read in tx), or builds one
// with build, recording the tables it reads.
func (s *Session) planFor(tx kv.Txn, build func(cat *txnCatalog) (any, error)) (any, error) {
	p, _, err := s.plan(tx, false, build)
	return p, err
}

// planForQuery is planFor for a query, which may read information_schema's
// virtual tables: the catalog it returns gives the transaction to run the
// plan in (cat.txn()).
func (s *Session) planForQuery(tx kv.Txn, build func(cat *txnCatalog) (any, error)) (any, *txnCatalog, error) {
	return s.plan(tx, true, build)
}

func (s *Session) plan(tx kv.Txn, virtual bool, build func(cat *txnCatalog) (any, error)) (any, *txnCatalog, error) {
	ps := s.prepared
	inTxn := s.txn != nil && tx == s.txn
	rs := s.read // withRead's or withWrite's own transaction
	if inTxn {
		rs = s.txnSnap
	}
	snap := rs.tx != nil && tx == rs.tx // the descriptors' epochs around tx's snapshot are known
	if ps != nil && ps.cache != nil && ps.cache.db == s.db {
		cat := s.catalog(tx)
		cat.virtual = virtual
		valid := inTxn && ps.cache.checkedIn == s.txnSeq
		if !valid && snap && rs.stable && ps.cache.hasEpoch && ps.cache.epoch == rs.after {
			valid = true // no table descriptor changed since they were read
			if rs.write {
				for _, d := range ps.cache.deps {
					if err := tx.MarkRead(d.key); err != nil {
						return nil, nil, err
					}
				}
			}
		} else if !valid {
			valid = true
			for _, d := range ps.cache.deps {
				v, err := tx.Get(d.key)
				if err != nil || !bytes.Equal(v, d.desc) {
					valid = false
					break
				}
			}
			if valid && snap {
				ps.cache.epoch, ps.cache.hasEpoch = rs.before, true
			}
		}
		if valid {
			ps.cache.checkedIn = 0
			if inTxn {
				ps.cache.checkedIn = s.txnSeq
			}
			cat.used = ps.cache.used
			return ps.cache.plan, cat, nil
		}
	}
	cat := s.catalog(tx)
	cat.virtual = virtual
	cat.deps = []tableDep{}
	p, err := build(cat)
	if err != nil || ps == nil {
		return p, cat, err
	}
	ps.cache = &cachedPlan{db: s.db, deps: cat.deps, plan: p, used: cat.used}
	if inTxn {
		ps.cache.checkedIn = s.txnSeq
	}
	if snap {
		ps.cache.epoch, ps.cache.hasEpoch = rs.before, true
	}
	return p, cat, nil
}

func columnsOf(cols []plan.Column) []Column {
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.Name, Table: c.Table, DB: c.DB, Type: c.Type}
	}
	return out
}

// ExecStmt runs one parsed statement.
func (s *Session) ExecStmt(ctx context.Context, st ast.Stmt, params []types.Value) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = types.Errorf(1105, "HY000", "internal error: %v", r)
		}
	}()
	if _, ok := st.(*ast.Show); !ok {
		s.warnings = s.warnings[:0]
	}
	s.now = nowValue()
	switch st.(type) {
	case *ast.Select, *ast.Union, *ast.Insert, *ast.Update, *ast.Delete:
		if !s.autocommit && s.txn == nil {
			// With autocommit off, a statement starts a transaction that
			// stays open until COMMIT or ROLLBACK.
			if _, err := s.begin(ctx, false); err != nil {
				return nil, err
			}
		} else if s.txn != nil {
			if err := s.refreshTxn(); err != nil {
				return nil, err
			}
		}
	}
	switch st := st.(type) {
	case *ast.Select, *ast.Union:
		return s.query(ctx, st, params)
	case *ast.Insert, *ast.Update, *ast.Delete:
		return s.write(ctx, st, params)
	case *ast.Begin:
		if err := s.commitImplicit(); err != nil {
			return nil, err
		}
		return s.begin(ctx, st.ReadOnly)
	case *ast.Commit:
		return &Result{}, s.commit()
	case *ast.Rollback:
		if s.txn != nil {
			s.txn.Rollback()
			s.txn, s.savepoints = nil, nil
		}
		return &Result{}, nil
	case *ast.Savepoint:
		if s.txn == nil {
			return &Result{}, nil
		}
		s.txn.SetSavePoint()
		s.savepoints = append(s.savepoints, st.Name.Lower)
		return &Result{}, nil
	case *ast.RollbackTo:
		return &Result{}, s.rollbackTo(st.Name.Lower, true)
	case *ast.ReleaseSavepoint:
		return &Result{}, s.rollbackTo(st.Name.Lower, false)
	case *ast.Use:
		if isInfoSchema(st.DB.Orig) {
			s.db = infoSchemaName
			return &Result{}, nil
		}
		err := s.withRead(ctx, func(tx kv.Txn) error {
			_, err := catalog.GetDatabase(tx, st.DB.Orig)
			return err
		})
		if err != nil {
			return nil, err
		}
		s.db = st.DB.Orig
		return &Result{}, nil
	case *ast.Set:
		return &Result{}, s.set(ctx, st, params)
	case *ast.SetTransaction:
		return &Result{}, s.setTransaction(st)
	case *ast.Show:
		return s.show(ctx, st)
	case *ast.Explain:
		return s.explain(ctx, st, params)
	case *ast.Do:
		_, err := s.query(ctx, &ast.Select{Exprs: doItems(st.Exprs)}, params)
		return &Result{}, err
	case *ast.Lock, *ast.Grant:
		return &Result{}, nil
	}
	// Everything else is DDL or administration: it commits the open
	// transaction first, as MySQL does, and runs in a transaction of its
	// own.
	if err := s.commitImplicit(); err != nil {
		return nil, err
	}
	return s.ddl(ctx, st)
}

func doItems(es []ast.Expr) []ast.SelectExpr {
	out := make([]ast.SelectExpr, len(es))
	for i, e := range es {
		out[i] = ast.SelectExpr{Expr: e}
	}
	return out
}

func nowValue() types.Value {
	t := time.Now()
	return types.NewDatetime(types.Parts{Year: t.Year(), Month: int(t.Month()), Day: t.Day(),
		Hour: t.Hour(), Minute: t.Minute(), Second: t.Second()})
}

// ---- transactions ----

func (s *Session) begin(ctx context.Context, readOnly bool) (*Result, error) {
	var rs readSnapshot
	if s.e.descs != nil {
		rs.before = s.e.descs.Epoch()
	}
	tx, err := s.e.Store.Begin(ctx, kv.TxnOptions{ReadOnly: readOnly, Isolation: s.takeIsolation(), Sync: s.e.SyncCommits})
	if err != nil {
		return nil, err
	}
	if s.e.descs != nil {
		rs.tx, rs.write = tx, !readOnly
		rs.after, rs.stable = s.e.descs.Stable()
	}
	s.txnSnap = rs
	s.txn, s.txnReadOnly, s.savepoints = tx, readOnly, nil
	s.txnSeq++
	return &Result{}, nil
}

// refreshTxn moves the explicit transaction's snapshot up to the latest
// committed state before a statement, if nothing it read has changed
// (kv.Txn.Refresh): its earlier statements' reads are then exposed to
// conflicts only from now on, not from BEGIN, which under serializable
// isolation spares most of the restarts of transactions that read ranges
// written meanwhile (sysbench's oltp_read_write). A refresh that finds a
// read overwritten ends the transaction with MySQL's 1213 at once (its
// COMMIT would fail the same way), as InnoDB rolls back a deadlock's
// victim. The descriptors' epochs are taken around the new snapshot, as
// begin takes them, for the plan cache.
func (s *Session) refreshTxn() error {
	var before uint64
	if s.e.descs != nil {
		before = s.e.descs.Epoch()
	}
	moved, err := s.txn.Refresh()
	if err != nil {
		s.txn.Rollback()
		s.txn, s.savepoints = nil, nil
		return s.txnError(err)
	}
	if moved && s.e.descs != nil {
		rs := &s.txnSnap
		rs.before = before
		rs.after, rs.stable = s.e.descs.Stable()
	}
	return nil
}

// commit ends the explicit transaction; a conflict is MySQL's 1213.
func (s *Session) commit() error {
	if s.txn == nil {
		return nil
	}
	tx := s.txn
	s.txn, s.savepoints = nil, nil
	if err := tx.Commit(); err != nil {
		return s.txnError(err)
	}
	return nil
}

func (s *Session) commitImplicit() error { return s.commit() }

func (s *Session) txnError(err error) error {
	if s.e.Store.IsRetryable(err) {
		return types.Errorf(1213, "40001", "Deadlock found when trying to get lock; try restarting transaction (%v)", err)
	}
	return err
}

func (s *Session) rollbackTo(name string, rollback bool) error {
	for i := len(s.savepoints) - 1; i >= 0; i-- {
		if s.savepoints[i] != name {
			continue
		}
		if rollback {
			// Undo the save points above it, then its own writes.
			for j := len(s.savepoints) - 1; j >= i; j-- {
				if err := s.txn.RollbackToSavePoint(); err != nil {
					return err
				}
			}
			s.txn.SetSavePoint() // the save point stays after ROLLBACK TO
			s.savepoints = s.savepoints[:i+1]
		} else {
			// RELEASE: the names go; the store's save points stay, as
			// anonymous ones (it has no release).
			for j := i; j < len(s.savepoints); j++ {
				s.savepoints[j] = ""
			}
		}
		return nil
	}
	return types.Errorf(1305, "42000", "SAVEPOINT %s does not exist", name)
}

// withRead runs fn in the explicit transaction, or in a read-only one.
func (s *Session) withRead(ctx context.Context, fn func(tx kv.Txn) error) error {
	if s.txn != nil {
		return fn(s.txn)
	}
	var rs readSnapshot
	if s.e.descs != nil {
		rs.before = s.e.descs.Epoch()
	}
	tx, err := s.e.Store.Begin(ctx, kv.TxnOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.e.descs != nil {
		rs.tx = tx
		rs.after, rs.stable = s.e.descs.Stable()
	}
	defer func(saved readSnapshot) { s.read = saved }(s.read)
	s.read = rs
	return fn(tx)
}

// withWrite runs fn as a statement: inside the explicit transaction (its
// writes undone if it fails), or in a transaction of its own, committed,
// and retried on a conflict.
func (s *Session) withWrite(ctx context.Context, fn func(tx kv.Txn) error) error {
	if s.txn != nil {
		if s.txnReadOnly {
			return types.Errorf(1792, "25006", "Cannot execute statement in a READ ONLY transaction.")
		}
		s.txn.SetSavePoint()
		if err := fn(s.txn); err != nil {
			s.txn.RollbackToSavePoint()
			return err
		}
		// Keep the save point stack as it was: drop this one by
		// nesting (a later ROLLBACK TO unwinds through it).
		s.savepoints = append(s.savepoints, "")
		return nil
	}
	iso := s.takeIsolation()
	defer func(saved readSnapshot) { s.read = saved }(s.read)
	for attempt := 0; ; attempt++ {
		var rs readSnapshot
		if s.e.descs != nil {
			rs.before = s.e.descs.Epoch()
		}
		tx, err := s.e.Store.Begin(ctx, kv.TxnOptions{Isolation: iso, Sync: s.e.SyncCommits})
		if err != nil {
			return err
		}
		if s.e.descs != nil {
			rs.tx, rs.write = tx, true
			rs.after, rs.stable = s.e.descs.Stable()
		}
		s.read = rs
		if err := fn(tx); err != nil {
			tx.Rollback()
			if s.e.Store.IsRetryable(err) && attempt < 100 {
				continue
			}
			return err
		}
		err = tx.Commit()
		if err == nil {
			return nil
		}
		if !s.e.Store.IsRetryable(err) || attempt >= 100 {
			return s.txnError(err)
		}
		backoff(ctx, attempt)
	}
}

func backoff(ctx context.Context, attempt int) {
	d := time.Duration(50<<min(attempt, 10)) * time.Microsecond
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// ---- queries and writes ----

func (s *Session) ctx(params []types.Value) *expr.Ctx {
	return &expr.Ctx{Params: params, Session: s, Warnings: &s.warnings}
}

func (s *Session) query(ctx context.Context, st ast.Stmt, params []types.Value) (*Result, error) {
	var res *Result
	run := func(tx kv.Txn) error {
		pa, cat, err := s.planForQuery(tx, func(cat *txnCatalog) (any, error) {
			p, _, err := plan.Query(cat, s.parseView, st)
			return p, err
		})
		if err != nil {
			return err
		}
		p := pa.(plan.Node)
		x := exec.New(cat.txn(), s.ctx(params))
		var dst [][]types.Value
		if ps := s.prepared; ps != nil && ps.lastRows > 0 {
			// A prepared statement's results are sized by its last one
			// (oltp_read_only's ranges: 100 rows each time).
			x.RowsHint = min(ps.lastRows, maxRowsHint)
			dst = make([][]types.Value, 0, x.RowsHint)
			x.StringsHint = min(ps.lastStrings, maxStringsHint)
		}
		rows, err := x.AllValues(p, dst)
		if err != nil {
			return err
		}
		if ps := s.prepared; ps != nil {
			ps.lastRows, ps.lastStrings = len(rows), x.StringBytes
		}
		res = &Result{Columns: columnsOf(p.Columns()), Rows: rows}
		s.foundRows = uint64(len(rows))
		s.rowCount = -1
		return nil
	}
	if sel, ok := st.(*ast.Select); ok && sel.Lock != "" {
		return res, s.withWrite(ctx, run)
	}
	return res, s.withRead(ctx, run)
}

func (s *Session) write(ctx context.Context, st ast.Stmt, params []types.Value) (*Result, error) {
	res := &Result{}
	err := s.withWrite(ctx, func(tx kv.Txn) error {
		*res = Result{}
		x := exec.New(tx, s.ctx(params))
		x.AutoInc = s.e.allocAutoInc
		x.AutoIncSeen = s.e.sawAutoInc
		x.Fire = s.firer(tx, params, 0)
		switch st := st.(type) {
		case *ast.Insert:
			pa, err := s.planFor(tx, func(cat *txnCatalog) (any, error) {
				p, _, err := plan.PlanInsert(cat, s.parseView, parseDefault, st)
				return p, err
			})
			if err != nil {
				return err
			}
			p := pa.(*plan.Insert)
			n, err := x.Insert(p)
			if err != nil {
				return err
			}
			res.RowsAffected = uint64(n)
			res.LastInsertID = x.LastInsertID
			if len(p.Rows) > 1 || p.Source != nil {
				res.Info = fmt.Sprintf("Records: %d  Duplicates: 0  Warnings: 0", max(len(p.Rows), int(n)))
			}
		case *ast.Update:
			pa, err := s.planFor(tx, func(cat *txnCatalog) (any, error) {
				p, _, err := plan.PlanUpdate(cat, s.parseView, parseDefault, st)
				return p, err
			})
			if err != nil {
				return err
			}
			p := pa.(*plan.Update)
			matched, changed, err := x.Update(p)
			if err != nil {
				return err
			}
			res.RowsAffected = uint64(changed)
			res.Info = fmt.Sprintf("Rows matched: %d  Changed: %d  Warnings: 0", matched, changed)
		case *ast.Delete:
			pa, err := s.planFor(tx, func(cat *txnCatalog) (any, error) {
				p, _, err := plan.PlanDelete(cat, s.parseView, st)
				return p, err
			})
			if err != nil {
				return err
			}
			p := pa.(*plan.Delete)
			n, err := x.Delete(p)
			if err != nil {
				return err
			}
			res.RowsAffected = uint64(n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.LastInsertID != 0 {
		s.lastInsertID = res.LastInsertID
	}
	s.rowCount = int64(res.RowsAffected)
	return res, nil
}

func parseDefault(text string) (ast.Expr, error) {
	st, err := parser.ParseOne("SELECT " + text)
	if err != nil {
		return nil, err
	}
	sel, ok := st.(*ast.Select)
	if !ok || len(sel.Exprs) != 1 {
		return nil, fmt.Errorf("sql: bad default %q", text)
	}
	return sel.Exprs[0].Expr, nil
}

func (s *Session) parseView(q string) (ast.Stmt, error) { return parser.ParseOne(q) }

// ---- AUTO_INCREMENT ----

// allocAutoInc hands out AUTO_INCREMENT values from a cached range,
// reserving ranges (of aiMinRange to aiMaxRange values) in transactions of
// their own (so that concurrent inserts never conflict on the counter;
// values are not reused after a rollback or a crash, as InnoDB's are not).
func (e *Engine) allocAutoInc(t *catalog.Table, n uint64) (uint64, error) {
	r := e.aiRangeOf(t.ID)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.limit == 0 || r.next+n > r.limit {
		if err := e.refill(r, t.ID, n, 0); err != nil {
			return 0, err
		}
	}
	v := r.next
	r.next += n
	return v, nil
}

// sawAutoInc moves the counter past an explicit value v: nothing to do
// when v is below the next value handed out, nor (but skipping the values
// up to v) when v is in the range reserved; otherwise a range from v+1 is
// reserved in a transaction of its own. So explicit values below the
// counter (sysbench's delete and insert of an existing id) and rising ones
// (ids the client makes) need a transaction once per range at most, not
// each.
func (e *Engine) sawAutoInc(t *catalog.Table, v uint64) error {
	r := e.aiRangeOf(t.ID)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.limit != 0 && v < r.next:
		return nil
	case r.limit != 0 && v < r.limit:
		r.next = v + 1
		return nil
	}
	return e.refill(r, t.ID, 1, v+1)
}

// aiRangeOf returns table id's range, empty if none was reserved.
func (e *Engine) aiRangeOf(id uint32) *aiRange {
	e.aiMu.Lock()
	defer e.aiMu.Unlock()
	r := e.autoinc[id]
	if r == nil {
		r = &aiRange{}
		e.autoinc[id] = r
	}
	return r
}

// refill reserves r's next range (under r.mu), its current one having run
// out: at least n values, from at least floor, sized as aiMinRange says.
func (e *Engine) refill(r *aiRange, id uint32, n, floor uint64) error {
	size := uint64(aiMinRange)
	if r.limit != 0 && time.Since(r.at) < aiHotRange { // the last range ended fast
		size = min(2*r.size, aiMaxRange)
	}
	size = max(size, n)
	first, err := e.reserve(id, size, floor)
	if err != nil {
		return err
	}
	r.next, r.limit, r.size, r.at = first, first+size, size, time.Now()
	return nil
}

// reserve advances table id's counter by n (or to at least floor) in a
// transaction of its own, returning the first value reserved.
func (e *Engine) reserve(id uint32, n, floor uint64) (uint64, error) {
	for attempt := 0; ; attempt++ {
		tx, err := e.Store.Begin(context.Background(), kv.TxnOptions{Sync: e.SyncCommits})
		if err != nil {
			return 0, err
		}
		k := catalog.AutoIncrementKey(id)
		next := uint64(1)
		v, err := tx.Get(k)
		switch {
		case err == nil && len(v) == 8:
			next = be64(v)
		case err != nil && !errors.Is(err, kv.ErrNotFound):
			tx.Rollback()
			return 0, err
		}
		first := max(next, floor)
		if err := tx.Put(k, put64(first+n)); err != nil {
			tx.Rollback()
			return 0, err
		}
		if err := tx.Commit(); err != nil {
			if e.Store.IsRetryable(err) && attempt < 100 {
				continue
			}
			return 0, err
		}
		return first, nil
	}
}

func be64(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}

func put64(n uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(n)
		n >>= 8
	}
	return b
}

// ---- expr.Session ----

// User is the session's user (USER()).
func (s *Session) User() string { return s.user + "@localhost" }

// LastInsertID is LAST_INSERT_ID().
func (s *Session) LastInsertID() uint64 { return s.lastInsertID }

// FoundRows is FOUND_ROWS().
func (s *Session) FoundRows() uint64 { return s.foundRows }

// RowCount is ROW_COUNT().
func (s *Session) RowCount() int64 { return s.rowCount }

// Now is the statement's NOW().
func (s *Session) Now() types.Value { return s.now }

// Warnings returns the last statement's warnings.
func (s *Session) Warnings() []expr.Warning { return s.warnings }
