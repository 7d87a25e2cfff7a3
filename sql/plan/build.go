package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/types"
)

// ViewParser parses a view's stored query (the session gives it the SQL
// parser, which this package does not import).
type ViewParser func(query string) (ast.Stmt, error)

// builder plans one statement.
type builder struct {
	cat        Catalog
	parseView  ViewParser
	params     int
	correlated bool
	ctes       []map[string]*ast.CTE
	viewDepth  int
	// root is the scope around the statement (nil: none): a trigger's
	// NEW and OLD rows, read as the innermost outer row.
	root *scope
}

// rootScope makes the scope of a statement run with an outer row of cols
// (nil: none).
func rootScope(cols []Column) *scope {
	if cols == nil {
		return nil
	}
	return &scope{cols: cols, clause: "field list"}
}

// Query plans a query (SELECT or UNION). It returns the plan and the
// number of parameters the statement takes. outer, if given, are the
// columns of an outer row the statement may read (a trigger's NEW and OLD
// rows): the executor is given that row as the innermost outer row.
func Query(cat Catalog, parseView ViewParser, q ast.Stmt, outer ...Column) (Node, int, error) {
	b := &builder{cat: cat, parseView: parseView, root: rootScope(outer)}
	n, err := b.buildQuery(q, b.root)
	if err != nil {
		return nil, 0, err
	}
	pruneScans(n)
	markStreaming(n)
	return n, b.params, nil
}

func (b *builder) buildQuery(q ast.Stmt, outer *scope) (Node, error) {
	switch q := q.(type) {
	case *ast.Select:
		if len(q.With) > 0 {
			b.pushCTEs(q.With)
			defer b.popCTEs()
		}
		return b.buildSelect(q, outer)
	case *ast.Union:
		if len(q.With) > 0 {
			b.pushCTEs(q.With)
			defer b.popCTEs()
		}
		return b.buildUnion(q, outer)
	}
	return nil, unsupported(fmt.Sprintf("query %T", q))
}

func (b *builder) pushCTEs(with []ast.CTE) {
	m := map[string]*ast.CTE{}
	for i := range with {
		m[with[i].Name.Lower] = &with[i]
	}
	b.ctes = append(b.ctes, m)
}

func (b *builder) popCTEs() { b.ctes = b.ctes[:len(b.ctes)-1] }

func (b *builder) buildUnion(u *ast.Union, outer *scope) (Node, error) {
	l, err := b.buildQuery(u.Left, outer)
	if err != nil {
		return nil, err
	}
	r, err := b.buildQuery(u.Right, outer)
	if err != nil {
		return nil, err
	}
	lc, rc := visible(l.Columns()), visible(r.Columns())
	if len(lc) != len(rc) {
		return nil, types.Errorf(1222, "21000", "The used SELECT statements have a different number of columns")
	}
	cols := make([]Column, len(lc))
	for i, c := range lc {
		cols[i] = Column{Name: c.Name}
	}
	var n Node = &Union{Left: trim(l), Right: trim(r), All: u.All, Op: u.Op, Cols: cols}
	if len(u.OrderBy) > 0 {
		sc := &scope{cols: cols, outer: outer, clause: "order clause"}
		var keys []SortKey
		for _, o := range u.OrderBy {
			e, err := b.orderExpr(o.Expr, sc, nil, len(cols))
			if err != nil {
				return nil, err
			}
			keys = append(keys, SortKey{Expr: e, Desc: o.Desc})
		}
		n = &Sort{Input: n, Keys: keys}
	}
	return b.applyLimit(n, u.Limit, outer)
}

// visible drops hidden columns.
func visible(cols []Column) []Column {
	out := make([]Column, 0, len(cols))
	for _, c := range cols {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// trim projects away hidden columns, if any.
func trim(n Node) Node {
	cols := n.Columns()
	if len(visible(cols)) == len(cols) {
		return n
	}
	var exprs []expr.Expr
	var out []Column
	for i, c := range cols {
		if !c.Hidden {
			exprs = append(exprs, &expr.Column{Index: i, Name: c.Name})
			out = append(out, c)
		}
	}
	return &Project{Input: n, Exprs: exprs, Cols: out}
}

// orderExpr compiles an ORDER BY (or GROUP BY) item: a position (1-based)
// in the select list, an alias, or an expression.
func (b *builder) orderExpr(e ast.Expr, sc *scope, selectExprs []ast.Expr, ncols int) (expr.Expr, error) {
	if l, ok := e.(*ast.Literal); ok && l.Kind == ast.LitInt {
		n, err := strconv.Atoi(l.Text)
		if err != nil || n < 1 || n > ncols {
			return nil, types.Errorf(1054, "42S22", "Unknown column '%s' in '%s'", l.Text, sc.clause)
		}
		return &expr.Column{Index: n - 1, Name: sc.cols[n-1].Name}, nil
	}
	return b.compile(e, sc)
}

func (b *builder) applyLimit(n Node, l *ast.Limit, outer *scope) (Node, error) {
	if l == nil {
		return n, nil
	}
	sc := &scope{outer: outer, clause: "limit"}
	lim := &Limit{Input: n}
	var err error
	if l.Count != nil {
		if lim.Count, err = b.compile(l.Count, sc); err != nil {
			return nil, err
		}
	}
	if l.Offset != nil {
		if lim.Offset, err = b.compile(l.Offset, sc); err != nil {
			return nil, err
		}
	}
	if s, ok := n.(*Sort); ok {
		if c, ok := lim.Count.(*expr.Const); ok {
			off := int64(0)
			if o, ok := lim.Offset.(*expr.Const); ok {
				off, _, _ = types.ToInt(o.V)
			} else if lim.Offset != nil {
				return lim, nil
			}
			cnt, _, _ := types.ToInt(c.V)
			if cnt >= 0 && off >= 0 {
				s.Limit = cnt + off
			}
		}
	}
	return lim, nil
}

// leaf is one FROM item after flattening inner joins: a node and its
// columns' place in the joined row.
type leaf struct {
	node  Node
	scan  *Scan // when the leaf is a base table
	cols  []Column
	start int // position of its first column in the joined row
}

// fromItem builds one FROM item (a table, a derived table, a join).
func (b *builder) fromItem(t ast.TableExpr, outer *scope) (Node, error) {
	switch t := t.(type) {
	case *ast.AliasedTable:
		if t.Derived != nil {
			n, err := b.buildQuery(t.Derived, outer)
			if err != nil {
				return nil, err
			}
			if t.As.Empty() {
				return nil, types.Errorf(1248, "42000", "Every derived table must have its own alias")
			}
			return rename(trim(n), t.As.Orig, nil), nil
		}
		return b.tableRef(t, outer)
	case *ast.ParenTable:
		if len(t.Exprs) == 1 {
			return b.fromItem(t.Exprs[0], outer)
		}
		return b.joinList(t.Exprs, nil, outer)
	case *ast.Join:
		return b.join(t, outer)
	}
	return nil, unsupported(fmt.Sprintf("FROM item %T", t))
}

// rename gives n's columns the table alias (and names, if given).
func rename(n Node, alias string, names []ast.Name) Node {
	cols := n.Columns()
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.Name, Table: alias, Type: c.Type}
		if i < len(names) {
			out[i].Name = names[i].Orig
		}
	}
	return &Rename{Input: n, Cols: out}
}

// tableRef resolves a table name: a CTE, a view, or a base table.
func (b *builder) tableRef(t *ast.AliasedTable, outer *scope) (Node, error) {
	alias := t.As.Orig
	if alias == "" {
		alias = t.Table.Name.Orig
	}
	if t.Table.DB.Empty() {
		for i := len(b.ctes) - 1; i >= 0; i-- {
			if c, ok := b.ctes[i][t.Table.Name.Lower]; ok {
				saved := b.ctes
				b.ctes = b.ctes[:i] // a CTE sees the CTEs before it, not itself
				n, err := b.buildQuery(c.Query, nil)
				b.ctes = saved
				if err != nil {
					return nil, err
				}
				return rename(trim(n), alias, c.Columns), nil
			}
		}
	}
	tbl, err := b.cat.Table(t.Table.DB.Orig, t.Table.Name.Orig)
	if err != nil {
		return nil, err
	}
	if tbl.View != nil {
		if b.viewDepth > 16 || b.parseView == nil {
			return nil, types.Errorf(1462, "HY000", "View '%s' references itself or nests too deep", tbl.Name)
		}
		q, err := b.parseView(tbl.View.Query)
		if err != nil {
			return nil, err
		}
		b.viewDepth++
		n, err := b.buildQuery(q, nil)
		b.viewDepth--
		if err != nil {
			return nil, err
		}
		var names []ast.Name
		for _, c := range tbl.View.Columns {
			names = append(names, ast.NewName(c))
		}
		return rename(trim(n), alias, names), nil
	}
	return b.newScan(tbl, alias, t.Table.DB.Orig), nil
}

func (b *builder) newScan(tbl *catalog.Table, alias, db string) *Scan {
	s := &Scan{Table: tbl, Alias: alias, Index: tbl.Primary()}
	for i := range tbl.Columns {
		c := &tbl.Columns[i]
		s.cols = append(s.cols, Column{Name: c.Name, Table: alias, DB: db, Type: &c.Type, Hidden: c.Hidden})
	}
	s.EstRows = b.estimateRows(tbl)
	return s
}

func (b *builder) estimateRows(tbl *catalog.Table) float64 {
	if st := b.cat.Stats(tbl, tbl.Primary()); st != nil {
		return float64(max(st.Rows, 1))
	}
	return 1000
}

// join builds an explicit JOIN.
func (b *builder) join(j *ast.Join, outer *scope) (Node, error) {
	switch j.Kind {
	case ast.InnerJoin, ast.CrossJoin, ast.StraightJoin:
		return b.joinList([]ast.TableExpr{j.Left, j.Right}, j, outer)
	case ast.LeftJoin, ast.RightJoin:
		left, right := j.Left, j.Right
		if j.Kind == ast.RightJoin {
			left, right = right, left
		}
		l, err := b.fromItem(left, outer)
		if err != nil {
			return nil, err
		}
		r, err := b.fromItem(right, outer)
		if err != nil {
			return nil, err
		}
		jn := &Join{Kind: LeftOuter, Left: l, Right: r, Method: "nested loop"}
		cols := jn.Columns()
		on := j.On
		if len(j.Using) > 0 {
			on = usingCond(j.Using, l.Columns(), r.Columns())
		}
		if on != nil {
			sc := &scope{cols: cols, outer: outer, clause: "on clause"}
			c, err := b.compile(on, sc)
			if err != nil {
				return nil, err
			}
			b.hashKeys(jn, c, len(l.Columns()))
		}
		if j.Kind == ast.RightJoin { // restore the written column order
			return swapColumns(jn, len(l.Columns()), len(r.Columns())), nil
		}
		return jn, nil
	case ast.NaturalJoin, ast.NaturalLeftJoin, ast.NaturalRightJoin:
		return nil, unsupported("NATURAL JOIN")
	}
	return nil, unsupported("join kind")
}

// swapColumns projects a left join of (r, l) back to l's columns then r's.
func swapColumns(n Node, nl, nr int) Node {
	cols := n.Columns()
	var exprs []expr.Expr
	var out []Column
	for i := nl; i < nl+nr; i++ {
		exprs = append(exprs, &expr.Column{Index: i, Name: cols[i].Name})
		out = append(out, cols[i])
	}
	for i := 0; i < nl; i++ {
		exprs = append(exprs, &expr.Column{Index: i, Name: cols[i].Name})
		out = append(out, cols[i])
	}
	return &Project{Input: n, Exprs: exprs, Cols: out}
}

func usingCond(names []ast.Name, l, r []Column) ast.Expr {
	var cond ast.Expr
	for _, n := range names {
		lt, rt := "", ""
		for _, c := range l {
			if strings.EqualFold(c.Name, n.Orig) {
				lt = c.Table
			}
		}
		for _, c := range r {
			if strings.EqualFold(c.Name, n.Orig) {
				rt = c.Table
			}
		}
		eq := &ast.Compare{Op: "=", X: &ast.ColName{Table: ast.TableName{Name: ast.NewName(lt)}, Name: n},
			Y: &ast.ColName{Table: ast.TableName{Name: ast.NewName(rt)}, Name: n}}
		if cond == nil {
			cond = eq
		} else {
			cond = &ast.Logic{Op: "and", X: cond, Y: eq}
		}
	}
	return cond
}

// hashKeys turns the equalities of cond between the join's sides into
// hash join keys; the rest stays On.
func (b *builder) hashKeys(j *Join, cond expr.Expr, nl int) {
	var rest []expr.Expr
	for _, c := range conjuncts(cond) {
		if cmp, ok := c.(*expr.Cmp); ok && cmp.Op == expr.EQ {
			lx, rx := side(cmp.X, nl), side(cmp.Y, nl)
			switch {
			case lx == 1 && rx == 2:
				j.LeftKeys = append(j.LeftKeys, cmp.X)
				j.RightKeys = append(j.RightKeys, shift(cmp.Y, -nl))
				continue
			case lx == 2 && rx == 1:
				j.LeftKeys = append(j.LeftKeys, cmp.Y)
				j.RightKeys = append(j.RightKeys, shift(cmp.X, -nl))
				continue
			}
		}
		rest = append(rest, c)
	}
	if len(j.LeftKeys) > 0 {
		j.Method = "hash"
	}
	j.On = andAll(rest)
}

// conjuncts splits an AND tree.
func conjuncts(e expr.Expr) []expr.Expr {
	if a, ok := e.(*expr.And); ok {
		return append(conjuncts(a.X), conjuncts(a.Y)...)
	}
	if e == nil {
		return nil
	}
	return []expr.Expr{e}
}

func andAll(es []expr.Expr) expr.Expr {
	var out expr.Expr
	for _, e := range es {
		if out == nil {
			out = e
		} else {
			out = &expr.And{X: out, Y: e}
		}
	}
	return out
}

// side reports which side of a join (columns below nl: 1, at or above:
// 2) a plain column reference reads; 0 for anything else.
func side(e expr.Expr, nl int) int {
	c, ok := e.(*expr.Column)
	if !ok || c.Depth != 0 {
		return 0
	}
	if c.Index < nl {
		return 1
	}
	return 2
}

// shift moves a column reference's position by d.
func shift(e expr.Expr, d int) expr.Expr {
	c := *e.(*expr.Column)
	c.Index += d
	return &c
}
