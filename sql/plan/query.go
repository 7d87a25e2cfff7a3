package plan

import (
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/types"
)

// buildSelect plans one SELECT: FROM and WHERE (planJoins), then GROUP BY
// and aggregates, HAVING, the select list, DISTINCT, ORDER BY and LIMIT.
func (b *builder) buildSelect(s *ast.Select, outer *scope) (Node, error) {
	var n Node
	if len(s.From) == 0 {
		n = &Values{Rows: [][]expr.Expr{{}}}
		if s.Where != nil {
			c, err := b.compile(s.Where, &scope{outer: outer, clause: "where clause"})
			if err != nil {
				return nil, err
			}
			n = &Filter{Input: n, Cond: c}
		}
	} else {
		leaves, conds := flatten(s.From)
		conds = append(conds, splitAnd(s.Where)...)
		var err error
		if n, err = b.planJoins(leaves, conds, outer, "where clause"); err != nil {
			return nil, err
		}
	}
	fromCols := n.Columns()
	fromScope := &scope{cols: fromCols, outer: outer, clause: "field list"}

	// The select list's expressions, * expanded.
	var items []ast.SelectExpr
	for _, se := range s.Exprs {
		if !se.Star {
			items = append(items, se)
			continue
		}
		found := false
		for _, c := range fromCols {
			if c.Hidden || (!se.Table.Empty() && !strings.EqualFold(c.Table, se.Table.Orig)) {
				continue
			}
			found = true
			items = append(items, ast.SelectExpr{
				Expr: &ast.ColName{Table: ast.TableName{Name: ast.NewName(c.Table)}, Name: ast.NewName(c.Name)},
				As:   ast.NewName(c.Name),
			})
		}
		if !found && !se.Table.Empty() {
			return nil, types.Errorf(1051, "42S02", "Unknown table '%s'", se.Table.Orig)
		}
		if !found && len(s.From) == 0 {
			return nil, types.Errorf(1096, "HY000", "No tables used")
		}
	}
	aliases := map[string]ast.Expr{}
	for _, it := range items {
		if !it.As.Empty() {
			if _, dup := aliases[it.As.Lower]; !dup {
				aliases[it.As.Lower] = it.Expr
			}
		}
	}

	aggregated := len(s.GroupBy) > 0
	for _, it := range items {
		aggregated = aggregated || hasAggregate(it.Expr)
	}
	aggregated = aggregated || (s.Having != nil && hasAggregate(s.Having))
	for _, o := range s.OrderBy {
		aggregated = aggregated || hasAggregate(o.Expr)
	}

	post := fromScope
	if aggregated {
		var err error
		n, post, err = b.buildAggregate(n, s, items, aliases, fromScope)
		if err != nil {
			return nil, err
		}
	}
	if s.Having != nil {
		hs := *post
		hs.clause, hs.aliases = "having clause", aliases
		c, err := b.compile(s.Having, &hs)
		if err != nil {
			return nil, err
		}
		n = &Filter{Input: n, Cond: c}
	}

	// Projection: the select list, then hidden ORDER BY keys.
	var exprs []expr.Expr
	var cols []Column
	ps := *post
	ps.clause = "field list"
	for _, it := range items {
		e, err := b.compile(it.Expr, &ps)
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
		cols = append(cols, selectColumn(it, e, n.Columns()))
	}
	nvis := len(exprs)
	var keys []SortKey
	os := *post
	os.clause, os.aliases = "order clause", aliases
	for _, o := range s.OrderBy {
		if l, ok := o.Expr.(*ast.Literal); ok && l.Kind == ast.LitInt {
			e, err := b.orderExpr(o.Expr, &scope{cols: cols, clause: "order clause"}, nil, nvis)
			if err != nil {
				return nil, err
			}
			keys = append(keys, SortKey{Expr: e, Desc: o.Desc})
			continue
		}
		if c, ok := o.Expr.(*ast.ColName); ok && c.Table.Name.Empty() {
			if i := aliasIndex(items, c.Name.Lower); i >= 0 {
				keys = append(keys, SortKey{Expr: &expr.Column{Index: i, Name: cols[i].Name}, Desc: o.Desc})
				continue
			}
		}
		if i := sameAsItem(items, o.Expr); i >= 0 {
			keys = append(keys, SortKey{Expr: &expr.Column{Index: i, Name: cols[i].Name}, Desc: o.Desc})
			continue
		}
		e, err := b.compile(o.Expr, &os)
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
		cols = append(cols, Column{Name: e.String(), Hidden: true})
		keys = append(keys, SortKey{Expr: &expr.Column{Index: len(exprs) - 1, Name: e.String()}, Desc: o.Desc})
	}
	if scan, ok := n.(*Scan); ok && len(keys) > 0 && !s.Distinct && orderedByIndex(scan, keys, exprs) {
		keys = nil
	}
	n = &Project{Input: n, Exprs: exprs, Cols: cols}
	if s.Distinct {
		n = &Distinct{Input: n, Width: nvis}
	}
	if len(keys) > 0 {
		n = &Sort{Input: n, Keys: keys}
	}
	n, err := b.applyLimit(n, s.Limit, outer)
	if err != nil {
		return nil, err
	}
	if s.Lock != "" {
		markLock(n)
	}
	return trim(n), nil
}

// markLock makes the scans of a SELECT ... FOR UPDATE lock what they read.
func markLock(n Node) {
	if s, ok := n.(*Scan); ok {
		s.Lock = true
	}
	for _, c := range n.Children() {
		markLock(c)
	}
}

func aliasIndex(items []ast.SelectExpr, name string) int {
	for i, it := range items {
		if it.As.Lower == name {
			return i
		}
	}
	return -1
}

func sameAsItem(items []ast.SelectExpr, e ast.Expr) int {
	k := exprKey(e)
	if strings.Contains(k, "%!") || strings.Contains(k, "0x") {
		return -1
	}
	for i, it := range items {
		if exprKey(it.Expr) == k {
			return i
		}
	}
	return -1
}

// selectColumn names a select list item's column as MySQL does: its alias,
// a column's name, or the expression's text.
func selectColumn(it ast.SelectExpr, e expr.Expr, in []Column) Column {
	c := Column{Name: it.Text}
	if col, ok := e.(*expr.Column); ok && col.Depth == 0 && col.Index < len(in) {
		src := in[col.Index]
		c.Table, c.DB, c.Type = src.Table, src.DB, src.Type
		if cn, isName := it.Expr.(*ast.ColName); isName {
			c.Name = cn.Name.Orig
			if src.Table != "" {
				c.Name = src.Name // a table column: its declared name
			}
		}
	}
	if !it.As.Empty() {
		c.Name = it.As.Orig
	}
	if c.Name == "" {
		c.Name = e.String()
	}
	return c
}

// orderedByIndex reports whether a lone scan already returns rows in the
// order of keys (plain columns of its index after the equality prefix),
// setting Reverse for a descending order.
func orderedByIndex(s *Scan, keys []SortKey, exprs []expr.Expr) bool {
	prefix := 0
	if len(s.Ranges) == 1 {
		prefix = len(s.Ranges[0].Eq)
	} else if len(s.Ranges) > 1 {
		return false
	}
	desc := keys[0].Desc
	for i, k := range keys {
		c, ok := k.Expr.(*expr.Column)
		if !ok || c.Index >= len(exprs) || k.Desc != desc {
			return false
		}
		src, ok := exprs[c.Index].(*expr.Column)
		if !ok || src.Depth != 0 {
			return false
		}
		pos := prefix + i
		if pos >= len(s.Index.Columns) || s.Table.ColumnByID(s.Index.Columns[pos]) != src.Index {
			return false
		}
		if len(s.Index.Desc) > pos && s.Index.Desc[pos] {
			return false
		}
		if !s.Index.Primary && s.Table.Columns[src.Index].Type.Kind == types.KindString {
			return false // collation order of the key vs. the value: keep the sort
		}
	}
	s.Reverse = desc
	return true
}

// buildAggregate plans GROUP BY and the aggregates, returning the scope
// in which the select list, HAVING and ORDER BY are compiled over its
// output.
func (b *builder) buildAggregate(n Node, s *ast.Select, items []ast.SelectExpr, aliases map[string]ast.Expr, from *scope) (Node, *scope, error) {
	agg := &Aggregate{Input: n, Any: true}
	var groupKeys []string
	gs := *from
	gs.clause = "group statement"
	for _, g := range s.GroupBy {
		ge := g
		if l, ok := g.(*ast.Literal); ok && l.Kind == ast.LitInt {
			i := 0
			for _, ch := range l.Text {
				i = i*10 + int(ch-'0')
			}
			if i < 1 || i > len(items) {
				return nil, nil, types.Errorf(1054, "42S22", "Unknown column '%s' in 'group statement'", l.Text)
			}
			ge = items[i-1].Expr
		} else if c, ok := g.(*ast.ColName); ok && c.Table.Name.Empty() {
			if _, _, _, err := from.resolve(c); err != nil {
				if a, ok := aliases[c.Name.Lower]; ok {
					ge = a
				}
			}
		}
		if hasAggregate(ge) {
			return nil, nil, types.Errorf(1056, "42000", "Can't group on '%s'", exprKey(ge))
		}
		e, err := b.compile(ge, &gs)
		if err != nil {
			return nil, nil, err
		}
		agg.GroupBy = append(agg.GroupBy, e)
		groupKeys = append(groupKeys, exprKey(ge))
		agg.Cols = append(agg.Cols, Column{Name: e.String()})
	}
	// The aggregates of the select list, HAVING and ORDER BY.
	aggIndex := map[string]int{}
	var collect func(e ast.Expr) error
	collect = func(e ast.Expr) error {
		var ferr error
		walk(e, func(x ast.Expr) bool {
			if ferr != nil {
				return false
			}
			switch x := x.(type) {
			case *ast.Subquery, *ast.Exists:
				return false
			case *ast.Func:
				if !isAggregate(x.Name) {
					return true
				}
				k := exprKey(x)
				if _, ok := aggIndex[k]; ok {
					return false
				}
				f := &AggFunc{Name: x.Name, Star: x.Star, Distinct: x.Distinct, Sep: ","}
				if x.Separator != nil {
					f.Sep = *x.Separator
				}
				as := *from
				as.clause = "field list"
				for _, a := range x.Args {
					if hasAggregate(a) {
						ferr = types.Errorf(1111, "HY000", "Invalid use of group function")
						return false
					}
					ce, err := b.compile(a, &as)
					if err != nil {
						ferr = err
						return false
					}
					f.Args = append(f.Args, ce)
				}
				for _, o := range x.OrderBy {
					ce, err := b.compile(o.Expr, &as)
					if err != nil {
						ferr = err
						return false
					}
					f.OrderBy = append(f.OrderBy, SortKey{Expr: ce, Desc: o.Desc})
				}
				if !x.Star && len(f.Args) == 0 {
					ferr = types.Errorf(1064, "42000", "%s needs an argument", x.Name)
					return false
				}
				aggIndex[k] = len(agg.Aggs)
				agg.Aggs = append(agg.Aggs, f)
				agg.Cols = append(agg.Cols, Column{Name: f.String()})
				return false
			}
			return true
		})
		return ferr
	}
	for _, it := range items {
		if err := collect(it.Expr); err != nil {
			return nil, nil, err
		}
	}
	if s.Having != nil {
		if err := collect(s.Having); err != nil {
			return nil, nil, err
		}
	}
	for _, o := range s.OrderBy {
		if err := collect(o.Expr); err != nil {
			return nil, nil, err
		}
	}
	ng, na := len(agg.GroupBy), len(agg.Aggs)
	agg.Cols = append(agg.Cols, from.cols...)
	post := &scope{cols: agg.Cols, outer: from.outer, clause: "field list"}
	post.subst = func(e ast.Expr) (expr.Expr, bool, error) {
		k := exprKey(e)
		for i, g := range groupKeys {
			if g == k {
				return &expr.Column{Index: i, Name: agg.Cols[i].Name}, true, nil
			}
		}
		if f, ok := e.(*ast.Func); ok && isAggregate(f.Name) {
			if i, ok := aggIndex[k]; ok {
				return &expr.Column{Index: ng + i, Name: agg.Cols[ng+i].Name}, true, nil
			}
		}
		if c, ok := e.(*ast.ColName); ok {
			idx, depth, col, err := from.resolve(c)
			if err == nil && depth == 0 {
				// Neither grouped nor aggregated: the group's first row's
				// value (MySQL without ONLY_FULL_GROUP_BY).
				return &expr.Column{Index: ng + na + idx, Name: col.Name}, true, nil
			}
		}
		return nil, false, nil
	}
	return agg, post, nil
}
