package parser

import (
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"vitess.io/vitess/go/vt/sqlparser"
)

func name(id sqlparser.IdentifierCI) ast.Name   { return ast.NewName(id.String()) }
func nameCS(id sqlparser.IdentifierCS) ast.Name { return ast.NewName(id.String()) }

func tableName(t sqlparser.TableName) ast.TableName {
	return ast.TableName{DB: nameCS(t.Qualifier), Name: nameCS(t.Name)}
}

func tableNames(ts sqlparser.TableNames) []ast.TableName {
	out := make([]ast.TableName, len(ts))
	for i, t := range ts {
		out[i] = tableName(t)
	}
	return out
}

func names(cols sqlparser.Columns) []ast.Name {
	if len(cols) == 0 {
		return nil
	}
	out := make([]ast.Name, len(cols))
	for i, c := range cols {
		out[i] = name(c)
	}
	return out
}

// kw reports whether the significant tokens from i are the keywords words.
func (c *converter) kw(i int, words ...string) bool {
	for j, w := range words {
		if i+j >= len(c.toks) || !c.toks[i+j].is(c.text, w) {
			return false
		}
	}
	return true
}

// stmt converts a statement.
func (c *converter) stmt(st sqlparser.Statement) ast.Stmt {
	switch s := st.(type) {
	case *sqlparser.Select, *sqlparser.Union:
		return c.query(s.(sqlparser.TableStatement))
	case *sqlparser.Insert:
		return c.insert(s)
	case *sqlparser.Update:
		return c.update(s)
	case *sqlparser.Delete:
		return c.delete(s)
	case *sqlparser.Set:
		return c.set(s)
	case *sqlparser.Use:
		return &ast.Use{DB: nameCS(s.DBName)}
	case *sqlparser.CreateDatabase:
		for _, o := range s.CreateOptions {
			if o.Type == sqlparser.EncryptionType {
				failUnsupported("CREATE DATABASE ... ENCRYPTION")
			}
		}
		return &ast.CreateDatabase{Name: nameCS(s.DBName), IfNotExists: s.IfNotExists}
	case *sqlparser.DropDatabase:
		return &ast.DropDatabase{Name: nameCS(s.DBName), IfExists: s.IfExists}
	case *sqlparser.CreateTable:
		return c.createTable(s)
	case *sqlparser.AlterTable:
		return c.alterTable(s)
	case *sqlparser.DropTable:
		if s.Temp {
			failUnsupported("DROP TEMPORARY TABLE")
		}
		return &ast.DropTable{Tables: tableNames(s.FromTables), IfExists: s.IfExists}
	case *sqlparser.TruncateTable:
		return &ast.TruncateTable{Table: tableName(s.Table)}
	case *sqlparser.RenameTable:
		r := &ast.RenameTable{}
		for _, p := range s.TablePairs {
			r.From = append(r.From, tableName(p.FromTable))
			r.To = append(r.To, tableName(p.ToTable))
		}
		return r
	case *sqlparser.CreateView:
		return c.createView(s)
	case *sqlparser.DropView:
		return &ast.DropView{Names: tableNames(s.FromTables), IfExists: s.IfExists}
	case *sqlparser.Begin:
		b := &ast.Begin{}
		for _, m := range s.TxAccessModes {
			if m == sqlparser.ReadOnly {
				b.ReadOnly = true
			}
		}
		return b
	case *sqlparser.Commit:
		return &ast.Commit{}
	case *sqlparser.Rollback:
		return &ast.Rollback{}
	case *sqlparser.SRollback:
		return &ast.RollbackTo{Name: name(s.Name)}
	case *sqlparser.Savepoint:
		return &ast.Savepoint{Name: name(s.Name)}
	case *sqlparser.Release:
		return &ast.ReleaseSavepoint{Name: name(s.Name)}
	case *sqlparser.Show:
		return c.show(s)
	case *sqlparser.ExplainStmt:
		e := &ast.Explain{Analyze: s.Type == sqlparser.AnalyzeType, Format: explainFormats[s.Type]}
		switch s.Statement.(type) {
		case *sqlparser.Select, *sqlparser.Union, *sqlparser.Insert, *sqlparser.Update, *sqlparser.Delete:
		default:
			failUnsupported("EXPLAIN of this statement")
		}
		e.Stmt = c.stmt(s.Statement)
		return e
	case *sqlparser.ExplainTab:
		if s.Wild != "" {
			failUnsupported("DESCRIBE with a column")
		}
		t := tableName(s.Table)
		return &ast.Explain{Table: &t}
	case *sqlparser.Analyze:
		return &ast.Analyze{Tables: []ast.TableName{tableName(s.Table)}}
	case *sqlparser.LockTables:
		return &ast.Lock{}
	case *sqlparser.UnlockTables:
		return &ast.Lock{Unlock: true}
	}
	failUnsupported("%s", c.leadingWords())
	return nil
}

var explainFormats = map[sqlparser.ExplainType]string{sqlparser.TreeType: "tree", sqlparser.JSONType: "json",
	sqlparser.TraditionalType: "traditional"}

// leadingWords names an unsupported statement by its first keywords.
func (c *converter) leadingWords() string {
	var w []string
	for _, t := range c.toks {
		if t.typ == sqlparser.ID || t.typ == sqlparser.STRING || t.typ < 256 || len(w) == 2 {
			break
		}
		w = append(w, strings.ToUpper(c.tokText(t)))
	}
	if len(w) == 0 {
		return "this statement"
	}
	return strings.Join(w, " ")
}

// query converts a SELECT or a set operation.
func (c *converter) query(s sqlparser.TableStatement) ast.Stmt {
	switch s := s.(type) {
	case *sqlparser.Select:
		return c.selectStmt(s)
	case *sqlparser.Union:
		return c.union(s)
	case nil:
		return nil
	}
	failUnsupported("VALUES statement")
	return nil
}

func (c *converter) with(w *sqlparser.With) []ast.CTE {
	if w == nil {
		return nil
	}
	out := make([]ast.CTE, len(w.CTEs))
	for i, cte := range w.CTEs {
		out[i] = ast.CTE{Name: nameCS(cte.ID), Columns: names(cte.Columns), Query: c.query(cte.Subquery)}
	}
	return out
}

func lockString(l sqlparser.Lock) string {
	switch l {
	case sqlparser.NoLock:
		return ""
	case sqlparser.ForUpdateLock:
		return "FOR UPDATE"
	case sqlparser.ShareModeLock, sqlparser.ForShareLock:
		return "LOCK IN SHARE MODE"
	}
	failUnsupported("NOWAIT and SKIP LOCKED")
	return ""
}

func (c *converter) selectStmt(s *sqlparser.Select) *ast.Select {
	if s.Into != nil {
		failUnsupported("SELECT ... INTO")
	}
	if len(s.Windows) > 0 {
		failUnsupported("WINDOW")
	}
	if s.SQLCalcFoundRows {
		failUnsupported("SQL_CALC_FOUND_ROWS")
	}
	out := &ast.Select{With: c.with(s.With), Distinct: s.Distinct}
	items := c.nextSelect()
	var exprs []sqlparser.SelectExpr
	if s.SelectExprs != nil {
		exprs = s.SelectExprs.Exprs
	}
	if len(items) != len(exprs) {
		items = nil
	}
	for i, e := range exprs {
		switch e := e.(type) {
		case *sqlparser.StarExpr:
			if !e.TableName.Qualifier.IsEmpty() {
				failUnsupported("db.table.* in a select list")
			}
			out.Exprs = append(out.Exprs, ast.SelectExpr{Star: true, Table: nameCS(e.TableName.Name)})
		case *sqlparser.AliasedExpr:
			se := ast.SelectExpr{Expr: c.expr(e.Expr), As: name(e.As)}
			if items != nil {
				se.Text = c.itemText(items[i], !e.As.IsEmpty())
			}
			if se.Text == "" {
				se.Text = sqlparser.String(e.Expr)
			}
			out.Exprs = append(out.Exprs, se)
		default:
			failUnsupported("NEXT VALUE")
		}
	}
	out.From = c.from(s.From)
	if s.Where != nil {
		out.Where = c.expr(s.Where.Expr)
	}
	if s.GroupBy != nil {
		if s.GroupBy.WithRollup {
			failUnsupported("WITH ROLLUP")
		}
		for _, g := range s.GroupBy.Exprs {
			out.GroupBy = append(out.GroupBy, c.expr(g))
		}
	}
	if s.Having != nil {
		out.Having = c.expr(s.Having.Expr)
	}
	out.OrderBy = c.orderBy(s.OrderBy)
	out.Limit = c.limit(s.Limit)
	out.Lock = lockString(s.Lock)
	return out
}

// itemText is the text of a select item as written, without its alias.
func (c *converter) itemText(r [2]int, aliased bool) string {
	from, to := r[0], r[1]
	if aliased && to-from >= 2 {
		to--
		if to-from >= 2 && c.toks[to-1].typ == sqlparser.AS {
			to--
		}
	}
	if to <= from {
		return ""
	}
	return c.origSlice(c.toks[from].start, c.toks[to-1].end)
}

// origSlice is orig's text for text[a:b].
func (c *converter) origSlice(a, b int) string {
	if a >= c.deltaFrom {
		a += c.delta
	}
	if b >= c.deltaFrom {
		b += c.delta
	}
	if a < 0 || b > len(c.orig) || a > b {
		return ""
	}
	return c.orig[a:b]
}

func (c *converter) from(from []sqlparser.TableExpr) []ast.TableExpr {
	if len(from) == 1 {
		if a, ok := from[0].(*sqlparser.AliasedTableExpr); ok {
			if t, ok := a.Expr.(sqlparser.TableName); ok && t.Qualifier.IsEmpty() && t.Name.String() == "dual" && a.As.IsEmpty() {
				return nil
			}
		}
	}
	var out []ast.TableExpr
	for _, te := range from {
		out = append(out, c.tableExpr(te))
	}
	return out
}

func (c *converter) tableExpr(te sqlparser.TableExpr) ast.TableExpr {
	switch te := te.(type) {
	case *sqlparser.AliasedTableExpr:
		if len(te.Partitions) > 0 {
			failUnsupported("PARTITION")
		}
		out := &ast.AliasedTable{As: nameCS(te.As)}
		switch e := te.Expr.(type) {
		case sqlparser.TableName:
			out.Table = tableName(e)
		case *sqlparser.DerivedTable:
			if e.Lateral {
				failUnsupported("LATERAL")
			}
			if len(te.Columns) > 0 {
				failUnsupported("column names of a derived table")
			}
			out.Derived = c.query(e.Select)
		}
		for _, h := range te.Hints {
			out.IndexHints = append(out.IndexHints, indexHint(h))
		}
		return out
	case *sqlparser.JoinTableExpr:
		j := &ast.Join{Left: c.tableExpr(te.LeftExpr), Right: c.tableExpr(te.RightExpr)}
		if te.Condition != nil {
			if te.Condition.On != nil {
				j.On = c.expr(te.Condition.On)
			}
			j.Using = names(te.Condition.Using)
		}
		j.Kind = joinKinds[te.Join]
		if te.Join == sqlparser.NormalJoinType && j.On == nil && j.Using == nil {
			j.Kind = ast.CrossJoin
		}
		return j
	case *sqlparser.ParenTableExpr:
		p := &ast.ParenTable{}
		for _, e := range te.Exprs {
			p.Exprs = append(p.Exprs, c.tableExpr(e))
		}
		return p
	}
	failUnsupported("JSON_TABLE")
	return nil
}

var joinKinds = map[sqlparser.JoinType]ast.JoinKind{sqlparser.NormalJoinType: ast.InnerJoin,
	sqlparser.StraightJoinType: ast.StraightJoin, sqlparser.LeftJoinType: ast.LeftJoin, sqlparser.RightJoinType: ast.RightJoin,
	sqlparser.NaturalJoinType: ast.NaturalJoin, sqlparser.NaturalLeftJoinType: ast.NaturalLeftJoin,
	sqlparser.NaturalRightJoinType: ast.NaturalRightJoin}

func (c *converter) orderBy(ob sqlparser.OrderBy) []ast.OrderBy {
	var out []ast.OrderBy
	for _, o := range ob {
		out = append(out, ast.OrderBy{Expr: c.expr(o.Expr), Desc: o.Direction == sqlparser.DescOrder})
	}
	return out
}

func (c *converter) limit(l *sqlparser.Limit) *ast.Limit {
	if l == nil {
		return nil
	}
	return &ast.Limit{Offset: c.expr(l.Offset), Count: c.expr(l.Rowcount)}
}

// union converts a set operation (INTERSECT and EXCEPT were parsed as
// UNION: their operators come from c.setops, in order).
func (c *converter) union(u *sqlparser.Union) ast.Stmt {
	if u.Into != nil {
		failUnsupported("SELECT ... INTO")
	}
	if u.Lock != sqlparser.NoLock {
		failUnsupported("locking clauses on a set operation")
	}
	with := c.with(u.With)
	left := c.query(u.Left)
	op := c.nextSetop()
	right := c.query(u.Right)
	n := &ast.Union{With: with, Left: left, Right: right, All: !u.Distinct, Op: op.op}
	n.OrderBy = c.orderBy(u.OrderBy)
	n.Limit = c.limit(u.Limit)
	if c.opDepth == nil {
		c.opDepth = map[*ast.Union]int{}
	}
	c.opDepth[n] = op.depth
	return c.reassociate(n)
}

// reassociate gives INTERSECT its precedence over UNION and EXCEPT in the
// chain of set operations at n's level of parentheses (vitess, reading
// them all as UNION, associated them left to right).
func (c *converter) reassociate(n *ast.Union) ast.Stmt {
	d := c.opDepth[n]
	var operands []ast.Stmt
	var ops []*ast.Union
	var walk func(s ast.Stmt)
	walk = func(s ast.Stmt) {
		if u, ok := s.(*ast.Union); ok && c.opDepth[u] == d && (u == n || u.OrderBy == nil && u.Limit == nil && u.With == nil) {
			walk(u.Left)
			ops = append(ops, u)
			walk(u.Right)
			return
		}
		operands = append(operands, s)
	}
	walk(n)
	intersect := false
	for _, o := range ops {
		intersect = intersect || o.Op == "intersect"
	}
	if !intersect {
		return n
	}
	join := func(l, r ast.Stmt, op *ast.Union) ast.Stmt {
		u := &ast.Union{Left: l, Right: r, All: op.All, Op: op.Op}
		c.opDepth[u] = d
		return u
	}
	var terms []ast.Stmt
	var termOps []*ast.Union
	cur := operands[0]
	for i, op := range ops {
		if op.Op == "intersect" {
			cur = join(cur, operands[i+1], op)
		} else {
			terms = append(terms, cur)
			termOps = append(termOps, op)
			cur = operands[i+1]
		}
	}
	terms = append(terms, cur)
	res := terms[0]
	for i, op := range termOps {
		res = join(res, terms[i+1], op)
	}
	root := res.(*ast.Union)
	root.With, root.OrderBy, root.Limit = n.With, n.OrderBy, n.Limit
	return root
}

func (c *converter) insert(s *sqlparser.Insert) ast.Stmt {
	if len(s.Partitions) > 0 {
		failUnsupported("PARTITION")
	}
	if s.RowAlias != nil {
		failUnsupported("INSERT ... AS row alias")
	}
	out := &ast.Insert{Replace: s.Action == sqlparser.ReplaceAct, Ignore: bool(s.Ignore)}
	if s.Table != nil {
		t, ok := s.Table.Expr.(sqlparser.TableName)
		if !ok {
			failUnsupported("INSERT into a derived table")
		}
		out.Table = tableName(t)
	}
	out.Columns = names(s.Columns)
	switch r := s.Rows.(type) {
	case sqlparser.Values:
		out.Rows = make([][]ast.Expr, 0, len(r))
		for _, row := range r {
			exprs := make([]ast.Expr, 0, len(row))
			for _, e := range row {
				exprs = append(exprs, c.expr(e))
			}
			out.Rows = append(out.Rows, exprs)
		}
	case *sqlparser.Select, *sqlparser.Union:
		out.Select = c.query(r.(sqlparser.TableStatement))
	default:
		failUnsupported("INSERT ... VALUES ROW()")
	}
	for _, u := range s.OnDup {
		out.OnDup = append(out.OnDup, c.assignment(u))
	}
	return out
}

func (c *converter) assignment(u *sqlparser.UpdateExpr) ast.Assignment {
	col := c.expr(u.Name).(*ast.ColName)
	return ast.Assignment{Column: *col, Expr: c.expr(u.Expr)}
}

func (c *converter) update(s *sqlparser.Update) ast.Stmt {
	if s.With != nil {
		failUnsupported("WITH in UPDATE")
	}
	if s.Ignore {
		failUnsupported("UPDATE IGNORE")
	}
	out := &ast.Update{}
	for i, te := range s.TableExprs {
		t := c.tableExpr(te)
		if i == 0 {
			out.Table = t
		} else {
			out.Table = &ast.Join{Kind: ast.CrossJoin, Left: out.Table, Right: t}
		}
	}
	for _, u := range s.Exprs {
		out.Set = append(out.Set, c.assignment(u))
	}
	if s.Where != nil {
		out.Where = c.expr(s.Where.Expr)
	}
	out.OrderBy = c.orderBy(s.OrderBy)
	out.Limit = c.limit(s.Limit)
	return out
}

func (c *converter) delete(s *sqlparser.Delete) ast.Stmt {
	if s.With != nil {
		failUnsupported("WITH in DELETE")
	}
	if s.Ignore {
		failUnsupported("DELETE IGNORE")
	}
	if len(s.Targets) > 0 || len(s.TableExprs) != 1 {
		failUnsupported("multi-table DELETE")
	}
	if len(s.Partitions) > 0 {
		failUnsupported("PARTITION")
	}
	a, ok := s.TableExprs[0].(*sqlparser.AliasedTableExpr)
	if !ok {
		failUnsupported("multi-table DELETE")
	}
	t, ok := a.Expr.(sqlparser.TableName)
	if !ok || !a.As.IsEmpty() || len(a.Hints) > 0 {
		failUnsupported("DELETE with a table alias")
	}
	out := &ast.Delete{Table: tableName(t)}
	if s.Where != nil {
		out.Where = c.expr(s.Where.Expr)
	}
	out.OrderBy = c.orderBy(s.OrderBy)
	out.Limit = c.limit(s.Limit)
	return out
}

// indexHint is an index hint as canonical text: USE INDEX (a, b), FORCE
// INDEX FOR JOIN (a), ...
func indexHint(h *sqlparser.IndexHint) string {
	var b strings.Builder
	switch h.Type {
	case sqlparser.UseOp:
		b.WriteString("USE INDEX")
	case sqlparser.IgnoreOp:
		b.WriteString("IGNORE INDEX")
	case sqlparser.ForceOp:
		b.WriteString("FORCE INDEX")
	default:
		failUnsupported("vindex hints")
	}
	switch h.ForType {
	case sqlparser.JoinForType:
		b.WriteString(" FOR JOIN")
	case sqlparser.GroupByForType:
		b.WriteString(" FOR GROUP BY")
	case sqlparser.OrderByForType:
		b.WriteString(" FOR ORDER BY")
	}
	b.WriteString(" (")
	for i, ix := range h.Indexes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ident(ix.String()))
	}
	b.WriteString(")")
	return b.String()
}
