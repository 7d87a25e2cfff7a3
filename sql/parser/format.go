package parser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-db/strata/sql/ast"
)

// Format prints a statement as canonical SQL: keywords upper case,
// function names lower case, every nested operation in parentheses (so
// the text shows how the statement was grouped), literals in MySQL's
// syntax. It is for tests, EXPLAIN and messages; parsing its output gives
// the same tree again (a property the tests check).
func Format(st ast.Stmt) string {
	var p printer
	p.stmt(st)
	return p.String()
}

// FormatExpr prints an expression as Format does.
func FormatExpr(e ast.Expr) string {
	var p printer
	p.expr(e, false)
	return p.String()
}

type printer struct{ strings.Builder }

func (p *printer) f(format string, args ...any) { fmt.Fprintf(p, format, args...) }

// ident quotes a name when it is not a plain identifier.
func ident(s string) string {
	if isWord(s) && !(s[0] >= '0' && s[0] <= '9') && !reserved[strings.ToLower(s)] {
		return s
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// reserved are words the printer quotes as names (a few that tests meet;
// quoting more is always safe).
var reserved = map[string]bool{"select": true, "from": true, "where": true, "group": true, "order": true,
	"by": true, "limit": true, "union": true, "key": true, "index": true, "table": true, "values": true,
	"set": true, "and": true, "or": true, "not": true, "null": true, "true": true, "false": true,
	"intersect": true, "except": true, "all": true, "distinct": true, "as": true, "on": true, "using": true,
	"join": true, "left": true, "right": true, "inner": true, "cross": true, "natural": true, "in": true,
	"is": true, "like": true, "between": true, "case": true, "when": true, "then": true, "else": true,
	"end": true, "exists": true, "interval": true, "default": true, "into": true, "desc": true, "asc": true,
	"having": true, "for": true, "update": true, "delete": true, "insert": true, "replace": true,
	"create": true, "drop": true, "alter": true, "primary": true, "unique": true, "check": true,
	"div": true, "mod": true, "xor": true, "regexp": true, "rlike": true, "with": true, "to": true,
	"status": true, "column": true, "database": true, "schema": true, "dual": true, "escape": true}

func fname(n ast.Name) string { return ident(n.Orig) }

func tname(t ast.TableName) string {
	if t.DB.Empty() {
		return ident(t.Name.Orig)
	}
	return ident(t.DB.Orig) + "." + ident(t.Name.Orig)
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 26:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func (p *printer) list(n int, each func(i int)) {
	for i := 0; i < n; i++ {
		if i > 0 {
			p.WriteString(", ")
		}
		each(i)
	}
}

func (p *printer) names(ns []ast.Name) {
	p.list(len(ns), func(i int) { p.WriteString(fname(ns[i])) })
}

func (p *printer) stmt(st ast.Stmt) {
	switch s := st.(type) {
	case *ast.Select:
		p.selectStmt(s)
	case *ast.Union:
		p.union(s)
	case *ast.Insert:
		p.WriteString(map[bool]string{false: "INSERT", true: "REPLACE"}[s.Replace])
		if s.Ignore {
			p.WriteString(" IGNORE")
		}
		p.f(" INTO %s", tname(s.Table))
		if s.Columns != nil {
			p.WriteString(" (")
			p.names(s.Columns)
			p.WriteString(")")
		}
		if s.Select != nil {
			p.WriteString(" ")
			p.stmt(s.Select)
		} else {
			p.WriteString(" VALUES ")
			p.list(len(s.Rows), func(i int) {
				p.WriteString("(")
				p.exprs(s.Rows[i])
				p.WriteString(")")
			})
		}
		if len(s.OnDup) > 0 {
			p.WriteString(" ON DUPLICATE KEY UPDATE ")
			p.assignments(s.OnDup)
		}
	case *ast.Update:
		p.WriteString("UPDATE ")
		p.tableExpr(s.Table)
		p.WriteString(" SET ")
		p.assignments(s.Set)
		p.where(s.Where)
		p.orderLimit(s.OrderBy, s.Limit)
	case *ast.Delete:
		p.f("DELETE FROM %s", tname(s.Table))
		p.where(s.Where)
		p.orderLimit(s.OrderBy, s.Limit)
	case *ast.CreateDatabase:
		p.WriteString("CREATE DATABASE ")
		if s.IfNotExists {
			p.WriteString("IF NOT EXISTS ")
		}
		p.WriteString(fname(s.Name))
	case *ast.DropDatabase:
		p.WriteString("DROP DATABASE ")
		if s.IfExists {
			p.WriteString("IF EXISTS ")
		}
		p.WriteString(fname(s.Name))
	case *ast.Use:
		p.f("USE %s", fname(s.DB))
	case *ast.CreateTable:
		p.WriteString("CREATE TABLE ")
		if s.IfNotExists {
			p.WriteString("IF NOT EXISTS ")
		}
		p.WriteString(tname(s.Table))
		if s.Like != nil {
			p.f(" LIKE %s", tname(*s.Like))
			return
		}
		p.WriteString(" (")
		p.list(len(s.Columns)+len(s.Indexes), func(i int) {
			if i < len(s.Columns) {
				p.columnDef(s.Columns[i])
			} else {
				p.indexDef(s.Indexes[i-len(s.Columns)])
			}
		})
		p.WriteString(")")
	case *ast.DropTable:
		p.WriteString("DROP TABLE ")
		if s.IfExists {
			p.WriteString("IF EXISTS ")
		}
		p.tables(s.Tables)
	case *ast.TruncateTable:
		p.f("TRUNCATE TABLE %s", tname(s.Table))
	case *ast.RenameTable:
		p.WriteString("RENAME TABLE ")
		p.list(len(s.From), func(i int) { p.f("%s TO %s", tname(s.From[i]), tname(s.To[i])) })
	case *ast.CreateIndex:
		p.WriteString("CREATE ")
		if s.Index.Unique {
			p.WriteString("UNIQUE ")
		}
		p.f("INDEX %s ON %s (", fname(s.Index.Name), tname(s.Table))
		p.indexColumns(s.Index.Columns)
		p.WriteString(")")
	case *ast.DropIndex:
		p.f("DROP INDEX %s ON %s", fname(s.Name), tname(s.Table))
	case *ast.AlterTable:
		p.f("ALTER TABLE %s", tname(s.Table))
		if len(s.Actions) > 0 {
			p.WriteString(" ")
		}
		p.list(len(s.Actions), func(i int) { p.alterAction(s.Actions[i]) })
	case *ast.Begin:
		p.WriteString("START TRANSACTION")
		if s.ReadOnly {
			p.WriteString(" READ ONLY")
		}
	case *ast.Commit:
		p.WriteString("COMMIT")
	case *ast.Rollback:
		p.WriteString("ROLLBACK")
	case *ast.Savepoint:
		p.f("SAVEPOINT %s", fname(s.Name))
	case *ast.RollbackTo:
		p.f("ROLLBACK TO SAVEPOINT %s", fname(s.Name))
	case *ast.ReleaseSavepoint:
		p.f("RELEASE SAVEPOINT %s", fname(s.Name))
	case *ast.Set:
		p.WriteString("SET ")
		p.list(len(s.Vars), func(i int) {
			v := s.Vars[i]
			switch v.Scope {
			case "user":
				p.f("@%s", ident(v.Name))
			case "":
				if v.Name == "names" {
					p.WriteString("NAMES ")
					p.expr(v.Expr, false)
					return
				}
				p.f("@@%s", v.Name)
			default:
				p.f("@@%s.%s", v.Scope, v.Name)
			}
			p.WriteString(" = ")
			if v.Expr == nil {
				p.WriteString("DEFAULT")
			} else {
				p.expr(v.Expr, false)
			}
		})
	case *ast.SetTransaction:
		p.WriteString("SET ")
		if s.Scope != "" {
			p.f("%s ", strings.ToUpper(s.Scope))
		}
		p.WriteString("TRANSACTION")
		var parts []string
		if s.Isolation != "" {
			parts = append(parts, "ISOLATION LEVEL "+strings.ToUpper(strings.ReplaceAll(s.Isolation, "-", " ")))
		}
		if s.ReadOnly != nil {
			parts = append(parts, map[bool]string{false: "READ WRITE", true: "READ ONLY"}[*s.ReadOnly])
		}
		p.f(" %s", strings.Join(parts, ", "))
	case *ast.Show:
		p.show(s)
	case *ast.Explain:
		if s.Table != nil {
			p.f("DESCRIBE %s", tname(*s.Table))
			return
		}
		p.WriteString("EXPLAIN ")
		if s.Analyze {
			p.WriteString("ANALYZE ")
		}
		if s.Format != "" {
			p.f("FORMAT = %s ", strings.ToUpper(s.Format))
		}
		p.stmt(s.Stmt)
	case *ast.Analyze:
		p.WriteString("ANALYZE TABLE ")
		p.tables(s.Tables)
	case *ast.CheckTable:
		p.WriteString("CHECK TABLE ")
		p.tables(s.Tables)
	case *ast.CreateView:
		p.WriteString("CREATE ")
		if s.OrReplace {
			p.WriteString("OR REPLACE ")
		}
		p.f("VIEW %s ", tname(s.Name))
		if s.Columns != nil {
			p.WriteString("(")
			p.names(s.Columns)
			p.WriteString(") ")
		}
		p.WriteString("AS ")
		p.stmt(s.Query)
	case *ast.DropView:
		p.WriteString("DROP VIEW ")
		if s.IfExists {
			p.WriteString("IF EXISTS ")
		}
		p.tables(s.Names)
	case *ast.CreateUser:
		p.WriteString(map[bool]string{false: "CREATE", true: "ALTER"}[s.Alter] + " USER ")
		if s.IfNotExists {
			p.WriteString("IF NOT EXISTS ")
		}
		p.f("%s@%s", quote(s.User), quote(s.Host))
		if s.Password != nil {
			p.f(" IDENTIFIED BY %s", quote(*s.Password))
		}
	case *ast.DropUser:
		p.WriteString("DROP USER ")
		if s.IfExists {
			p.WriteString("IF EXISTS ")
		}
		p.f("%s@%s", quote(s.User), quote(s.Host))
	case *ast.Grant:
		p.WriteString(map[bool]string{false: "GRANT", true: "REVOKE"}[s.Revoke])
	case *ast.Lock:
		p.WriteString(map[bool]string{false: "LOCK TABLES", true: "UNLOCK TABLES"}[s.Unlock])
	case *ast.Do:
		p.WriteString("DO ")
		p.exprs(s.Exprs)
	case nil:
		p.WriteString("<nil>")
	default:
		p.f("<%T>", st)
	}
}

func (p *printer) tables(ts []ast.TableName) {
	p.list(len(ts), func(i int) { p.WriteString(tname(ts[i])) })
}

func (p *printer) with(ctes []ast.CTE) {
	if len(ctes) == 0 {
		return
	}
	p.WriteString("WITH ")
	p.list(len(ctes), func(i int) {
		c := ctes[i]
		p.WriteString(fname(c.Name))
		if c.Columns != nil {
			p.WriteString(" (")
			p.names(c.Columns)
			p.WriteString(")")
		}
		p.WriteString(" AS (")
		p.stmt(c.Query)
		p.WriteString(")")
	})
	p.WriteString(" ")
}

func (p *printer) selectStmt(s *ast.Select) {
	p.with(s.With)
	p.WriteString("SELECT ")
	if s.Distinct {
		p.WriteString("DISTINCT ")
	}
	p.list(len(s.Exprs), func(i int) {
		e := s.Exprs[i]
		if e.Star {
			if !e.Table.Empty() {
				p.f("%s.", fname(e.Table))
			}
			p.WriteString("*")
			return
		}
		p.expr(e.Expr, false)
		if !e.As.Empty() {
			p.f(" AS %s", fname(e.As))
		}
	})
	if s.From != nil {
		p.WriteString(" FROM ")
		p.list(len(s.From), func(i int) { p.tableExpr(s.From[i]) })
	}
	p.where(s.Where)
	if s.GroupBy != nil {
		p.WriteString(" GROUP BY ")
		p.exprs(s.GroupBy)
	}
	if s.Having != nil {
		p.WriteString(" HAVING ")
		p.expr(s.Having, false)
	}
	p.orderLimit(s.OrderBy, s.Limit)
	if s.Lock != "" {
		p.f(" %s", s.Lock)
	}
}

// operand prints a set operation's operand, in parentheses when it is a
// set operation itself or has its own ORDER BY or LIMIT.
func (p *printer) operand(s ast.Stmt) {
	if sel, ok := s.(*ast.Select); ok && sel.OrderBy == nil && sel.Limit == nil && sel.With == nil {
		p.stmt(s)
		return
	}
	p.WriteString("(")
	p.stmt(s)
	p.WriteString(")")
}

func (p *printer) union(u *ast.Union) {
	p.with(u.With)
	p.operand(u.Left)
	op := strings.ToUpper(u.Op)
	if op == "" {
		op = "UNION"
	}
	p.f(" %s ", op)
	if u.All {
		p.WriteString("ALL ")
	}
	p.operand(u.Right)
	p.orderLimit(u.OrderBy, u.Limit)
}

func (p *printer) where(e ast.Expr) {
	if e != nil {
		p.WriteString(" WHERE ")
		p.expr(e, false)
	}
}

func (p *printer) orderLimit(ob []ast.OrderBy, l *ast.Limit) {
	if len(ob) > 0 {
		p.WriteString(" ORDER BY ")
		p.orderBy(ob)
	}
	if l != nil {
		p.WriteString(" LIMIT ")
		if l.Offset != nil {
			p.expr(l.Count, false)
			p.WriteString(" OFFSET ")
			p.expr(l.Offset, false)
		} else {
			p.expr(l.Count, false)
		}
	}
}

func (p *printer) orderBy(ob []ast.OrderBy) {
	p.list(len(ob), func(i int) {
		p.expr(ob[i].Expr, false)
		if ob[i].Desc {
			p.WriteString(" DESC")
		}
	})
}

func (p *printer) assignments(as []ast.Assignment) {
	p.list(len(as), func(i int) {
		p.f("%s = ", p.colName(as[i].Column))
		p.expr(as[i].Expr, false)
	})
}

func (p *printer) colName(c ast.ColName) string {
	if c.Table.Name.Empty() {
		return fname(c.Name)
	}
	return tname(c.Table) + "." + fname(c.Name)
}

var joinWords = map[ast.JoinKind]string{ast.InnerJoin: "JOIN", ast.LeftJoin: "LEFT JOIN", ast.RightJoin: "RIGHT JOIN",
	ast.CrossJoin: "CROSS JOIN", ast.StraightJoin: "STRAIGHT_JOIN", ast.NaturalJoin: "NATURAL JOIN",
	ast.NaturalLeftJoin: "NATURAL LEFT JOIN", ast.NaturalRightJoin: "NATURAL RIGHT JOIN"}

func (p *printer) tableExpr(te ast.TableExpr) {
	switch t := te.(type) {
	case *ast.AliasedTable:
		if t.Derived != nil {
			p.WriteString("(")
			p.stmt(t.Derived)
			p.WriteString(")")
		} else {
			p.WriteString(tname(t.Table))
		}
		if !t.As.Empty() {
			p.f(" AS %s", fname(t.As))
		}
		for _, h := range t.IndexHints {
			p.f(" %s", h)
		}
	case *ast.Join:
		p.tableExpr(t.Left)
		p.f(" %s ", joinWords[t.Kind])
		if _, ok := t.Right.(*ast.Join); ok {
			p.WriteString("(")
			p.tableExpr(t.Right)
			p.WriteString(")")
		} else {
			p.tableExpr(t.Right)
		}
		if t.On != nil {
			p.WriteString(" ON ")
			p.expr(t.On, false)
		}
		if t.Using != nil {
			p.WriteString(" USING (")
			p.names(t.Using)
			p.WriteString(")")
		}
	case *ast.ParenTable:
		p.WriteString("(")
		p.list(len(t.Exprs), func(i int) { p.tableExpr(t.Exprs[i]) })
		p.WriteString(")")
	}
}

func (p *printer) typeSpec(t ast.TypeSpec) {
	p.WriteString(t.Name)
	if t.Values != nil {
		p.WriteString("(")
		p.list(len(t.Values), func(i int) { p.WriteString(quote(t.Values[i])) })
		p.WriteString(")")
	}
	switch {
	case t.Length >= 0 && t.Scale >= 0:
		p.f("(%d,%d)", t.Length, t.Scale)
	case t.Length >= 0:
		p.f("(%d)", t.Length)
	}
	if t.Unsigned {
		p.WriteString(" unsigned")
	}
	if t.Zerofill {
		p.WriteString(" zerofill")
	}
	if t.Charset != "" {
		p.f(" CHARACTER SET %s", t.Charset)
	}
	if t.Collate != "" {
		p.f(" COLLATE %s", t.Collate)
	}
}

func (p *printer) columnDef(c ast.ColumnDef) {
	p.f("%s ", fname(c.Name))
	p.typeSpec(c.Type)
	if c.NotNull {
		p.WriteString(" NOT NULL")
	}
	if c.Null {
		p.WriteString(" NULL")
	}
	if c.Default != nil {
		p.WriteString(" DEFAULT ")
		p.expr(c.Default, true)
	}
	if c.AutoIncrement {
		p.WriteString(" AUTO_INCREMENT")
	}
	if c.PrimaryKey {
		p.WriteString(" PRIMARY KEY")
	}
	if c.Unique {
		p.WriteString(" UNIQUE")
	}
	if c.Comment != "" {
		p.f(" COMMENT %s", quote(c.Comment))
	}
}

func (p *printer) indexDef(ix ast.IndexDef) {
	switch {
	case ix.Primary:
		p.WriteString("PRIMARY KEY")
	case ix.Unique:
		p.WriteString("UNIQUE KEY")
	default:
		p.WriteString("KEY")
	}
	if !ix.Name.Empty() {
		p.f(" %s", fname(ix.Name))
	}
	p.WriteString(" (")
	p.indexColumns(ix.Columns)
	p.WriteString(")")
}

func (p *printer) indexColumns(cols []ast.IndexColumn) {
	p.list(len(cols), func(i int) {
		c := cols[i]
		p.WriteString(fname(c.Column))
		if c.Length >= 0 {
			p.f("(%d)", c.Length)
		}
		if c.Desc {
			p.WriteString(" DESC")
		}
	})
}

func (p *printer) alterAction(a ast.AlterAction) {
	switch a := a.(type) {
	case *ast.AddColumn:
		p.WriteString("ADD COLUMN ")
		p.columnDef(a.Column)
		if a.First {
			p.WriteString(" FIRST")
		}
		if !a.After.Empty() {
			p.f(" AFTER %s", fname(a.After))
		}
	case *ast.DropColumn:
		p.f("DROP COLUMN %s", fname(a.Name))
	case *ast.RenameColumn:
		switch {
		case a.Def == nil:
			p.f("RENAME COLUMN %s TO %s", fname(a.From), fname(a.To))
		case a.From == a.To:
			p.WriteString("MODIFY COLUMN ")
			p.columnDef(*a.Def)
		default:
			p.f("CHANGE COLUMN %s ", fname(a.From))
			p.columnDef(*a.Def)
		}
	case *ast.AddIndex:
		p.WriteString("ADD ")
		p.indexDef(a.Index)
	case *ast.DropIndexAction:
		if a.Primary {
			p.WriteString("DROP PRIMARY KEY")
		} else {
			p.f("DROP INDEX %s", fname(a.Name))
		}
	case *ast.RenameTableAction:
		p.f("RENAME TO %s", tname(a.To))
	}
}

func (p *printer) show(s *ast.Show) {
	p.WriteString("SHOW ")
	if s.Full {
		p.WriteString("FULL ")
	}
	if s.Scope != "" {
		p.f("%s ", strings.ToUpper(s.Scope))
	}
	p.WriteString(strings.ToUpper(s.What))
	switch s.What {
	case "columns", "index":
		p.f(" FROM %s", tname(s.Table))
	case "create table", "create view":
		p.f(" %s", tname(s.Table))
	case "create database":
		p.f(" %s", fname(s.DB))
		return
	}
	if !s.DB.Empty() {
		p.f(" FROM %s", fname(s.DB))
	}
	if s.Like != "" {
		p.f(" LIKE %s", quote(s.Like))
	}
	if s.Where != nil {
		p.WriteString(" WHERE ")
		p.expr(s.Where, false)
	}
}

func (p *printer) exprs(es []ast.Expr) {
	p.list(len(es), func(i int) { p.expr(es[i], false) })
}

// expr prints e; nested operations are parenthesized (paren: e is an
// operand of an operator).
func (p *printer) expr(e ast.Expr, paren bool) {
	open := func() {
		if paren {
			p.WriteString("(")
		}
	}
	closeP := func() {
		if paren {
			p.WriteString(")")
		}
	}
	switch e := e.(type) {
	case nil:
		p.WriteString("<nil>")
	case *ast.Literal:
		p.literal(e)
	case *ast.ColName:
		p.WriteString(p.colName(*e))
	case *ast.Param:
		p.WriteString("?")
	case *ast.Variable:
		switch {
		case !e.System:
			p.f("@%s", ident(e.Name))
		case e.Scope != "":
			p.f("@@%s.%s", e.Scope, e.Name)
		default:
			p.f("@@%s", e.Name)
		}
	case *ast.Unary:
		op := strings.ToUpper(e.Op)
		if op == "BINARY" || op == "NOT" {
			op += " "
		}
		open()
		p.WriteString(op)
		p.expr(e.X, true)
		closeP()
	case *ast.Binary:
		p.infix(e.X, e.Op, e.Y, nil, paren)
	case *ast.Compare:
		p.infix(e.X, e.Op, e.Y, e.Escape, paren)
	case *ast.Logic:
		p.infix(e.X, e.Op, e.Y, nil, paren)
	case *ast.Not:
		open()
		p.WriteString("NOT ")
		p.expr(e.X, true)
		closeP()
	case *ast.IsExpr:
		open()
		p.expr(e.X, true)
		p.WriteString(" IS ")
		if e.Not {
			p.WriteString("NOT ")
		}
		p.WriteString(strings.ToUpper(e.What))
		closeP()
	case *ast.In:
		open()
		p.expr(e.X, true)
		if e.Not {
			p.WriteString(" NOT")
		}
		p.WriteString(" IN (")
		if e.Subquery != nil {
			p.stmt(e.Subquery.Query)
		} else {
			p.exprs(e.List)
		}
		p.WriteString(")")
		closeP()
	case *ast.Between:
		open()
		p.expr(e.X, true)
		if e.Not {
			p.WriteString(" NOT")
		}
		p.WriteString(" BETWEEN ")
		p.expr(e.Lo, true)
		p.WriteString(" AND ")
		p.expr(e.Hi, true)
		closeP()
	case *ast.Case:
		p.WriteString("CASE")
		if e.Operand != nil {
			p.WriteString(" ")
			p.expr(e.Operand, true)
		}
		for _, w := range e.Whens {
			p.WriteString(" WHEN ")
			p.expr(w.Cond, false)
			p.WriteString(" THEN ")
			p.expr(w.Result, false)
		}
		if e.Else != nil {
			p.WriteString(" ELSE ")
			p.expr(e.Else, false)
		}
		p.WriteString(" END")
	case *ast.Func:
		if p.specialFunc(e) {
			return
		}
		p.f("%s(", e.Name)
		if e.Distinct {
			p.WriteString("DISTINCT ")
		}
		if e.Star {
			p.WriteString("*")
		}
		p.exprs(e.Args)
		if len(e.OrderBy) > 0 {
			p.WriteString(" ORDER BY ")
			p.orderBy(e.OrderBy)
		}
		if e.Separator != nil {
			p.f(" SEPARATOR %s", quote(*e.Separator))
		}
		p.WriteString(")")
	case *ast.Cast:
		p.WriteString("CAST(")
		p.expr(e.X, false)
		p.WriteString(" AS ")
		p.typeSpec(e.Type)
		p.WriteString(")")
	case *ast.Collate:
		open()
		p.expr(e.X, true)
		p.f(" COLLATE %s", e.Name)
		closeP()
	case *ast.Subquery:
		p.WriteString("(")
		p.stmt(e.Query)
		p.WriteString(")")
	case *ast.Exists:
		p.WriteString("EXISTS (")
		p.stmt(e.Subquery.Query)
		p.WriteString(")")
	case *ast.Tuple:
		p.WriteString("(")
		p.exprs(e.Exprs)
		p.WriteString(")")
	case *ast.Interval:
		p.WriteString("INTERVAL ")
		p.expr(e.X, true)
		p.f(" %s", strings.ToUpper(e.Unit))
	case *ast.Default:
		p.WriteString("DEFAULT")
		if !e.Column.Empty() {
			p.f("(%s)", fname(e.Column))
		}
	case *ast.ValuesFunc:
		p.f("VALUES(%s)", fname(e.Column))
	default:
		p.f("<%T>", e)
	}
}

// infix prints x op y [ESCAPE escape].
func (p *printer) infix(x ast.Expr, op string, y, escape ast.Expr, paren bool) {
	if paren {
		p.WriteString("(")
	}
	p.expr(x, true)
	p.f(" %s ", strings.ToUpper(op))
	p.expr(y, true)
	if escape != nil {
		p.WriteString(" ESCAPE ")
		p.expr(escape, true)
	}
	if paren {
		p.WriteString(")")
	}
}

func (p *printer) literal(l *ast.Literal) {
	switch l.Kind {
	case ast.LitNull:
		p.WriteString("NULL")
	case ast.LitInt, ast.LitDecimal, ast.LitFloat:
		p.WriteString(l.Text)
	case ast.LitString:
		p.WriteString(quote(l.Text))
	case ast.LitHex:
		p.f("X'%X'", l.Text)
	case ast.LitBit:
		p.f("b'%s'", l.Text)
	case ast.LitBool:
		p.WriteString(map[bool]string{false: "FALSE", true: "TRUE"}[l.Text == "1"])
	case ast.LitDate:
		p.f("DATE %s", quote(l.Text))
	case ast.LitTime:
		p.f("TIME %s", quote(l.Text))
	case ast.LitTimestamp:
		p.f("TIMESTAMP %s", quote(l.Text))
	default:
		p.WriteString(strconv.Quote(l.Text))
	}
}

// specialFunc prints the functions whose MySQL syntax is not name(args):
// the unit keywords of EXTRACT, TIMESTAMPDIFF and TIMESTAMPADD, and TRIM
// with the characters to remove.
func (p *printer) specialFunc(e *ast.Func) bool {
	unit := func() (string, bool) {
		if len(e.Args) == 0 {
			return "", false
		}
		l, ok := e.Args[0].(*ast.Literal)
		if !ok || l.Kind != ast.LitString {
			return "", false
		}
		return strings.ToUpper(l.Text), true
	}
	switch e.Name {
	case "extract":
		if u, ok := unit(); ok && len(e.Args) == 2 {
			p.f("extract(%s FROM ", u)
			p.expr(e.Args[1], false)
			p.WriteString(")")
			return true
		}
	case "timestampdiff", "timestampadd":
		if u, ok := unit(); ok && len(e.Args) == 3 {
			p.f("%s(%s, ", e.Name, u)
			p.exprs(e.Args[1:])
			p.WriteString(")")
			return true
		}
	case "trim", "ltrim", "rtrim":
		if len(e.Args) == 2 {
			p.f("trim(%s ", map[string]string{"trim": "BOTH", "ltrim": "LEADING", "rtrim": "TRAILING"}[e.Name])
			p.expr(e.Args[1], false)
			p.WriteString(" FROM ")
			p.expr(e.Args[0], false)
			p.WriteString(")")
			return true
		}
	}
	return false
}
