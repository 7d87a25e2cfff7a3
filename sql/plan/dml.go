package plan

import (
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/types"
)

// DefaultParser compiles a column's DEFAULT text (the session gives it the
// SQL parser).
type DefaultParser func(text string) (ast.Expr, error)

// Insert is INSERT or REPLACE: rows (Rows, or Source's) written to Table.
type Insert struct {
	Table *catalog.Table
	// Targets[i] is the table column (position) that the i-th value of a
	// row goes to.
	Targets []int
	Rows    [][]expr.Expr // VALUES, over no row
	Source  Node          // INSERT ... SELECT
	// Defaults[c] computes column c's value when no value is given (nil:
	// NULL, or an error for a NOT NULL column without a default).
	Defaults []expr.Expr
	Replace  bool
	Ignore   bool
	// OnDup assignments (column position → expression over the existing
	// row followed by the row that was to be inserted, for VALUES(col)).
	OnDup []Assign
}

// Assign is column = expression.
type Assign struct {
	Col  int
	Expr expr.Expr
}

// Columns is none.
func (i *Insert) Columns() []Column { return nil }

// Children is the source, if any.
func (i *Insert) Children() []Node {
	if i.Source != nil {
		return []Node{i.Source}
	}
	return nil
}

// Explain names the table.
func (i *Insert) Explain() string {
	verb := "insert into "
	if i.Replace {
		verb = "replace into "
	}
	return verb + i.Table.Name
}

// Update changes the rows Source (a scan of Table, possibly sorted and
// limited) produces.
type Update struct {
	Table  *catalog.Table
	Source Node
	Set    []Assign // over the old row
}

// Columns is none.
func (u *Update) Columns() []Column { return nil }

// Children is the source.
func (u *Update) Children() []Node { return []Node{u.Source} }

// Explain names the table.
func (u *Update) Explain() string { return "update " + u.Table.Name }

// Delete removes the rows Source produces.
type Delete struct {
	Table  *catalog.Table
	Source Node
}

// Columns is none.
func (d *Delete) Columns() []Column { return nil }

// Children is the source.
func (d *Delete) Children() []Node { return []Node{d.Source} }

// Explain names the table.
func (d *Delete) Explain() string { return "delete from " + d.Table.Name }

// PlanInsert plans an INSERT or REPLACE.
func PlanInsert(cat Catalog, parseView ViewParser, parseDefault DefaultParser, s *ast.Insert, outer ...Column) (*Insert, int, error) {
	b := &builder{cat: cat, parseView: parseView, root: rootScope(outer)}
	t, err := cat.Table(s.Table.DB.Orig, s.Table.Name.Orig)
	if err != nil {
		return nil, 0, err
	}
	if t.View != nil {
		return nil, 0, types.Errorf(1471, "HY000", "The target table %s of the INSERT is not insertable-into", t.Name)
	}
	ins := &Insert{Table: t, Replace: s.Replace, Ignore: s.Ignore}
	if s.Columns == nil {
		for i, c := range t.Columns {
			if !c.Hidden {
				ins.Targets = append(ins.Targets, i)
			}
		}
	} else {
		seen := map[int]bool{}
		for _, n := range s.Columns {
			i := t.ColumnByName(n.Orig)
			if i < 0 || t.Columns[i].Hidden {
				return nil, 0, errUnknownColumn(n.Orig, "field list")
			}
			if seen[i] {
				return nil, 0, types.Errorf(1110, "42000", "Column '%s' specified twice", n.Orig)
			}
			seen[i] = true
			ins.Targets = append(ins.Targets, i)
		}
	}
	// A default is compiled only where the executor may use it: a column
	// no value is given for, or one a DEFAULT in VALUES names (parsing
	// every column's default text cost an INSERT naming every column 7%
	// of the server's CPU).
	needed := make([]bool, len(t.Columns))
	for i := range needed {
		needed[i] = true
	}
	for _, i := range ins.Targets {
		needed[i] = false
	}
	for _, r := range s.Rows {
		if len(r) == 0 { // VALUES (): every column's default
			for i := range needed {
				needed[i] = true
			}
			break
		}
		for j, e := range r {
			if _, ok := e.(*ast.Default); ok && j < len(ins.Targets) {
				needed[ins.Targets[j]] = true
			}
		}
	}
	ins.Defaults = make([]expr.Expr, len(t.Columns))
	for i, c := range t.Columns {
		if !needed[i] || c.Default == nil || strings.EqualFold(*c.Default, "NULL") {
			continue
		}
		d, err := parseDefault(*c.Default)
		if err != nil {
			return nil, 0, err
		}
		if ins.Defaults[i], err = b.compile(d, &scope{clause: "field list"}); err != nil {
			return nil, 0, err
		}
	}
	rowScope := &scope{outer: b.root, clause: "field list"}
	for _, r := range s.Rows {
		if len(r) != len(ins.Targets) && !(len(r) == 0 && s.Columns == nil) {
			return nil, 0, types.Errorf(1136, "21S01", "Column count doesn't match value count at row %d", len(ins.Rows)+1)
		}
		var row []expr.Expr
		for i, e := range r {
			if _, ok := e.(*ast.Default); ok {
				row = append(row, defaultMarker(ins.Targets[i]))
				continue
			}
			ce, err := b.compile(e, rowScope)
			if err != nil {
				return nil, 0, err
			}
			row = append(row, ce)
		}
		if len(r) == 0 { // INSERT INTO t VALUES (): every column's default
			ins.Targets = nil
		}
		ins.Rows = append(ins.Rows, row)
	}
	if s.Select != nil {
		src, err := b.buildQuery(s.Select, b.root)
		if err != nil {
			return nil, 0, err
		}
		if len(src.Columns()) != len(ins.Targets) {
			return nil, 0, types.Errorf(1136, "21S01", "Column count doesn't match value count at row 1")
		}
		ins.Source = src
	}
	if len(s.OnDup) > 0 {
		// The existing row, then the row that was to be inserted (for
		// VALUES(col)).
		var cols []Column
		for _, c := range t.Columns {
			cols = append(cols, Column{Name: c.Name, Table: t.Name, Type: &c.Type})
		}
		sc := &scope{cols: cols, outer: b.root, clause: "field list"}
		for _, a := range s.OnDup {
			i := t.ColumnByName(a.Column.Name.Orig)
			if i < 0 {
				return nil, 0, errUnknownColumn(a.Column.Name.Orig, "field list")
			}
			e, err := b.compileOnDup(a.Expr, sc, t)
			if err != nil {
				return nil, 0, err
			}
			ins.OnDup = append(ins.OnDup, Assign{Col: i, Expr: e})
		}
	}
	return ins, b.params, nil
}

// DefaultValue marks a DEFAULT in VALUES: the executor uses the column's
// default.
type DefaultValue struct{ Col int }

// Eval is never called: the executor replaces the marker.
func (d *DefaultValue) Eval(*expr.Ctx, expr.Row) (types.Value, error) {
	return types.Null, types.Errorf(1064, "42000", "DEFAULT used outside a value list")
}

// String shows DEFAULT.
func (d *DefaultValue) String() string { return "DEFAULT" }

func defaultMarker(col int) expr.Expr { return &DefaultValue{Col: col} }

// compileOnDup compiles an ON DUPLICATE KEY UPDATE expression, where
// VALUES(col) reads the row that was to be inserted (positions after the
// existing row's).
func (b *builder) compileOnDup(e ast.Expr, sc *scope, t *catalog.Table) (expr.Expr, error) {
	s := *sc
	s.subst = func(x ast.Expr) (expr.Expr, bool, error) {
		f, ok := x.(*ast.Func)
		var name string
		switch {
		case ok && f.Name == "values" && len(f.Args) == 1:
			c, ok := f.Args[0].(*ast.ColName)
			if !ok {
				return nil, false, nil
			}
			name = c.Name.Orig
		default:
			if v, ok := x.(*ast.ValuesFunc); ok {
				name = v.Column.Orig
			} else {
				return nil, false, nil
			}
		}
		i := t.ColumnByName(name)
		if i < 0 {
			return nil, false, errUnknownColumn(name, "field list")
		}
		return &expr.Column{Index: len(t.Columns) + i, Name: "VALUES(" + name + ")"}, true, nil
	}
	return b.compile(e, &s)
}

// PlanUpdate plans an UPDATE of one table.
func PlanUpdate(cat Catalog, parseView ViewParser, parseDefault DefaultParser, s *ast.Update, outer ...Column) (*Update, int, error) {
	b := &builder{cat: cat, parseView: parseView, root: rootScope(outer)}
	at, ok := s.Table.(*ast.AliasedTable)
	if !ok || at.Derived != nil {
		return nil, 0, unsupported("multi-table UPDATE")
	}
	src, t, err := b.dmlSource(at, s.Where, s.OrderBy, s.Limit)
	if err != nil {
		return nil, 0, err
	}
	sc := &scope{cols: src.Columns(), outer: b.root, clause: "field list"}
	u := &Update{Table: t, Source: src}
	for _, a := range s.Set {
		i := t.ColumnByName(a.Column.Name.Orig)
		if i < 0 || t.Columns[i].Hidden {
			return nil, 0, errUnknownColumn(a.Column.String(), "field list")
		}
		if _, ok := a.Expr.(*ast.Default); ok {
			c := &t.Columns[i]
			if c.Default == nil || strings.EqualFold(*c.Default, "NULL") {
				// No default: NULL, or error 1364 for a NOT NULL column.
				u.Set = append(u.Set, Assign{Col: i, Expr: defaultMarker(i)})
				continue
			}
			d, err := parseDefault(*c.Default)
			if err != nil {
				return nil, 0, err
			}
			e, err := b.compile(d, &scope{clause: "field list"})
			if err != nil {
				return nil, 0, err
			}
			u.Set = append(u.Set, Assign{Col: i, Expr: e})
			continue
		}
		e, err := b.compile(a.Expr, sc)
		if err != nil {
			return nil, 0, err
		}
		u.Set = append(u.Set, Assign{Col: i, Expr: e})
	}
	return u, b.params, nil
}

// PlanDelete plans a DELETE from one table.
func PlanDelete(cat Catalog, parseView ViewParser, s *ast.Delete, outer ...Column) (*Delete, int, error) {
	b := &builder{cat: cat, parseView: parseView, root: rootScope(outer)}
	src, t, err := b.dmlSource(&ast.AliasedTable{Table: s.Table}, s.Where, s.OrderBy, s.Limit)
	if err != nil {
		return nil, 0, err
	}
	return &Delete{Table: t, Source: src}, b.params, nil
}

// dmlSource plans the rows an UPDATE or DELETE changes: a locking scan of
// the table with WHERE, ORDER BY and LIMIT.
func (b *builder) dmlSource(at *ast.AliasedTable, where ast.Expr, order []ast.OrderBy, limit *ast.Limit) (Node, *catalog.Table, error) {
	t, err := b.cat.Table(at.Table.DB.Orig, at.Table.Name.Orig)
	if err != nil {
		return nil, nil, err
	}
	if t.View != nil {
		return nil, nil, types.Errorf(1288, "HY000", "The target table %s of the UPDATE/DELETE is not updatable", t.Name)
	}
	alias := at.As.Orig
	if alias == "" {
		alias = t.Name
	}
	scan := b.newScan(t, alias, at.Table.DB.Orig)
	l := &leaf{node: scan, scan: scan, cols: scan.Columns()}
	sc := &scope{cols: l.cols, outer: b.root, clause: "where clause"}
	n, err := b.leafAccess(l, splitAnd(where), nil, sc)
	if err != nil {
		return nil, nil, err
	}
	// Subqueries in WHERE were compiled into the scan's filter: fine, the
	// filter runs per row.
	markLock(n)
	if len(order) > 0 {
		os := &scope{cols: l.cols, outer: b.root, clause: "order clause"}
		var keys []SortKey
		for _, o := range order {
			e, err := b.compile(o.Expr, os)
			if err != nil {
				return nil, nil, err
			}
			keys = append(keys, SortKey{Expr: e, Desc: o.Desc})
		}
		if s, ok := n.(*Scan); !ok || !orderedByIndex(s, keys, identity(len(l.cols))) {
			n = &Sort{Input: n, Keys: keys}
		}
	}
	if n, err = b.applyLimit(n, limit, b.root); err != nil {
		return nil, nil, err
	}
	return n, t, nil
}

func identity(n int) []expr.Expr {
	out := make([]expr.Expr, n)
	for i := range out {
		out[i] = &expr.Column{Index: i}
	}
	return out
}
