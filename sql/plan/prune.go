package plan

import (
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/types"
)

// pruneScans marks, below each Project and Aggregate of n's tree, the scan
// it reads through Filters, Sorts and Limits only: which of the table's
// columns those nodes' expressions read (Scan.Needed: the others need not
// be decoded), and whether the scan may reuse its row's memory from one row
// to the next (Scan.ReuseRow: nothing between keeps a row). It leaves a scan
// as it was when it cannot tell: an expression it does not know, a
// subquery (whose outer references read the row), a scan that locks its
// rows (the lock needs the primary key).
func pruneScans(n Node) {
	switch n := n.(type) {
	case *Project:
		if !pruneAggregate(n) {
			markScan(n.Input, n.Exprs, nil, true)
		}
	case *Aggregate:
		if !n.Any {
			markScan(n.Input, aggExprs(n), nil, true)
		}
	}
	for _, c := range n.Children() {
		pruneScans(c)
	}
}

// aggExprs are the expressions an Aggregate evaluates on its input rows.
func aggExprs(a *Aggregate) []expr.Expr {
	es := append([]expr.Expr(nil), a.GroupBy...)
	for _, f := range a.Aggs {
		es = append(es, f.Args...)
		for _, k := range f.OrderBy {
			es = append(es, k.Expr)
		}
	}
	return es
}

// pruneAggregate handles a Project over an Aggregate (through Filters,
// Sorts and Limits: HAVING, ORDER BY, LIMIT): the Aggregate's input rows
// are read by its own expressions and, through its Any columns (output
// columns after the aggregates, one per input column), by the
// expressions above that read those. The scan below may reuse its rows
// (an Aggregate keeps only values and a copy of each group's first row).
// It reports false if n is not over an Aggregate that way.
func pruneAggregate(p *Project) bool {
	n, es, _ := below(p.Input, append([]expr.Expr(nil), p.Exprs...))
	a, ok := n.(*Aggregate)
	if !ok {
		return false
	}
	if !a.Any {
		return true // pruneScans marks it
	}
	k := len(a.GroupBy) + len(a.Aggs)
	in := a.Input.Columns()
	out := make([]bool, k+len(in))
	for _, e := range es {
		if !columnsRead(e, out) {
			return true // leave the scan whole
		}
	}
	markScan(a.Input, aggExprs(a), out[k:], true)
	return true
}

// below follows n down through Filters, Sorts and Limits, gathering their
// expressions into es, to the first other node; sorted reports a Sort on
// the way (it keeps rows).
func below(n Node, es []expr.Expr) (_ Node, _ []expr.Expr, sorted bool) {
	for {
		switch m := n.(type) {
		case *Filter:
			es = append(es, m.Cond)
			n = m.Input
		case *Sort:
			for _, k := range m.Keys {
				es = append(es, k.Expr)
			}
			sorted = true
			n = m.Input
		case *Limit:
			n = m.Input
		default:
			return n, es, sorted
		}
	}
}

// markScan follows n down through Filters, Sorts and Limits (below) to a
// Scan, and marks the columns es and the expressions on the way read there
// (and those need0 marks already). reuse is whether the consumer keeps no
// row (nor does a Sort on the way).
func markScan(n Node, es []expr.Expr, need0 []bool, reuse bool) {
	n, es, sorted := below(n, es)
	m, ok := n.(*Scan)
	if !ok || m.Lock {
		return
	}
	if need0 != nil && len(need0) != len(m.Table.Columns) {
		return
	}
	need, ok := columnsNeeded(m, es, m.Filter, need0)
	if !ok {
		return
	}
	if m.HasResidual {
		// The columns read when the ranges are exactly the conditions
		// they stand for (at run time) and Residual replaces Filter.
		needR, ok := columnsNeeded(m, es, m.Residual, need0)
		if !ok {
			return
		}
		m.ResidualSlots = ColumnSlots(m.Table, needR)
	}
	m.Needed = need
	m.ReuseRow = reuse && !sorted
	m.Slots = ColumnSlots(m.Table, need)
	m.Covering = Coverable(m.Table, m.Index, need)
}

// Coverable reports whether idx, a secondary index of t, holds in its
// entries every column need marks (the index's columns, then the primary
// key's), each in a key encoding that decodes to the column's value
// exactly: integers, temporal values and byte strings, ascending. Strings
// are keyed by their collation's sort key and floats with -0 as 0, so a
// column of either is read from the row.
func Coverable(t *catalog.Table, idx *catalog.Index, need []bool) bool {
	if idx == nil || idx.Primary || len(need) != len(t.Columns) {
		return false
	}
	keyed := map[uint32]bool{}
	for _, ix := range []*catalog.Index{idx, t.Primary()} {
		for i, id := range ix.Columns {
			if !(len(ix.Desc) > i && ix.Desc[i]) {
				keyed[id] = true
			}
		}
	}
	for p, c := range t.Columns {
		if !need[p] {
			continue
		}
		if !keyed[c.ID] {
			return false
		}
		switch c.Type.Kind {
		case types.KindInt, types.KindUint, types.KindBytes, types.KindDate, types.KindDatetime, types.KindTime:
		default:
			return false
		}
	}
	return true
}

// columnsNeeded marks the columns of m's rows that es, filter (nil: none)
// and need0 (nil: none) read; false if it cannot tell.
func columnsNeeded(m *Scan, es []expr.Expr, filter expr.Expr, need0 []bool) ([]bool, bool) {
	need := make([]bool, len(m.Table.Columns))
	copy(need, need0)
	for _, e := range es {
		if !columnsRead(e, need) {
			return nil, false
		}
	}
	if filter != nil && !columnsRead(filter, need) {
		return nil, false
	}
	return need, true
}

// ColumnSlots maps t's column ids to row positions, -1 for the columns
// need (nil: all needed) leaves out.
func ColumnSlots(t *catalog.Table, need []bool) []int32 {
	maxID := uint32(0)
	for _, c := range t.Columns {
		maxID = max(maxID, c.ID)
	}
	slots := make([]int32, maxID+1)
	for i := range slots {
		slots[i] = -1
	}
	for i, c := range t.Columns {
		if need == nil || need[i] {
			slots[c.ID] = int32(i)
		}
	}
	return slots
}

// columnsRead marks in need the columns of the row (depth 0) e reads; it
// reports false if it cannot tell.
func columnsRead(e expr.Expr, need []bool) bool {
	all := func(es ...expr.Expr) bool {
		for _, x := range es {
			if x != nil && !columnsRead(x, need) {
				return false
			}
		}
		return true
	}
	switch e := e.(type) {
	case nil:
		return true
	case *expr.Const, *expr.Param, *expr.Variable:
		return true
	case *expr.Column:
		if e.Depth > 0 {
			return true
		}
		if e.Index < 0 || e.Index >= len(need) {
			return false
		}
		need[e.Index] = true
		return true
	case *expr.Arith:
		return all(e.X, e.Y)
	case *expr.Neg:
		return all(e.X)
	case *expr.Cmp:
		return all(e.X, e.Y)
	case *expr.And:
		return all(e.X, e.Y)
	case *expr.Or:
		return all(e.X, e.Y)
	case *expr.Xor:
		return all(e.X, e.Y)
	case *expr.Not:
		return all(e.X)
	case *expr.Is:
		return all(e.X)
	case *expr.In:
		return all(e.X) && all(e.List...)
	case *expr.Between:
		return all(e.X, e.Lo, e.Hi)
	case *expr.Like:
		return all(e.X, e.Pattern, e.Escape)
	case *expr.Regexp:
		return all(e.X, e.Pattern)
	case *expr.Cast:
		return all(e.X)
	case *expr.Bit:
		return all(e.X, e.Y)
	case *expr.DateAdd:
		return all(e.X, e.N)
	case *expr.Case:
		return all(e.Operand, e.Else) && all(e.Whens...) && all(e.Thens...)
	case *expr.Func:
		return all(e.Args...)
	}
	return false
}
