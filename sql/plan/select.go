package plan

import (
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/types"
)

// splitAnd splits an AST condition into its AND-ed conjuncts.
func splitAnd(e ast.Expr) []ast.Expr {
	if l, ok := e.(*ast.Logic); ok && l.Op == "and" {
		return append(splitAnd(l.X), splitAnd(l.Y)...)
	}
	if e == nil {
		return nil
	}
	return []ast.Expr{e}
}

// flatten collects the leaves of a FROM clause's inner joins and the ON
// conditions that join them; outer joins and derived tables are leaves.
func flatten(items []ast.TableExpr) (leaves []ast.TableExpr, conds []ast.Expr) {
	for _, t := range items {
		switch t := t.(type) {
		case *ast.Join:
			if t.Kind == ast.InnerJoin || t.Kind == ast.CrossJoin || t.Kind == ast.StraightJoin {
				l, c := flatten([]ast.TableExpr{t.Left, t.Right})
				leaves = append(leaves, l...)
				conds = append(conds, c...)
				conds = append(conds, splitAnd(t.On)...)
				if len(t.Using) > 0 {
					conds = append(conds, &usingMarker{names: t.Using, left: t.Left, right: t.Right})
				}
				continue
			}
		case *ast.ParenTable:
			l, c := flatten(t.Exprs)
			leaves = append(leaves, l...)
			conds = append(conds, c...)
			continue
		}
		leaves = append(leaves, t)
	}
	return leaves, conds
}

// usingMarker stands for a USING clause until the leaves' columns are
// known.
type usingMarker struct {
	ast.Subquery // an ast.Expr
	names        []ast.Name
	left, right  ast.TableExpr
}

// joinList plans inner joins of items, with the extra condition of join
// (nil for a comma list).
func (b *builder) joinList(items []ast.TableExpr, j *ast.Join, outer *scope) (Node, error) {
	leaves, conds := flatten(items)
	if j != nil {
		conds = append(conds, splitAnd(j.On)...)
		if len(j.Using) > 0 {
			conds = append(conds, &usingMarker{names: j.Using, left: j.Left, right: j.Right})
		}
	}
	return b.planJoins(leaves, conds, outer, "on clause")
}

// planJoins joins the leaves left to right, placing each condition where
// its columns are all present: on a leaf's scan (as key ranges and a
// filter), as an index lookup or hash join key, or as a join filter.
// Conditions holding subqueries go last.
func (b *builder) planJoins(items []ast.TableExpr, conds []ast.Expr, outer *scope, clause string) (Node, error) {
	if len(items) > maxJoinTables {
		return nil, types.Errorf(1116, "HY000", "Too many tables; Strata can only use %d tables in a join", maxJoinTables)
	}
	var leaves []*leaf
	var all []Column
	for _, it := range items {
		n, err := b.fromItem(it, outer)
		if err != nil {
			return nil, err
		}
		l := &leaf{node: n, cols: n.Columns(), start: len(all)}
		l.scan, _ = n.(*Scan)
		all = append(all, l.cols...)
		leaves = append(leaves, l)
	}
	// USING markers become equalities on the named columns.
	var expanded []ast.Expr
	for _, c := range conds {
		if u, ok := c.(*usingMarker); ok {
			for _, name := range u.names {
				var lt, rt string
				for _, l := range leaves {
					for _, col := range l.cols {
						if strings.EqualFold(col.Name, name.Orig) {
							if lt == "" {
								lt = col.Table
							} else if rt == "" && col.Table != lt {
								rt = col.Table
							}
						}
					}
				}
				expanded = append(expanded, &ast.Compare{Op: "=",
					X: &ast.ColName{Table: ast.TableName{Name: ast.NewName(lt)}, Name: name},
					Y: &ast.ColName{Table: ast.TableName{Name: ast.NewName(rt)}, Name: name}})
			}
			continue
		}
		expanded = append(expanded, c)
	}
	conds = expanded
	full := &scope{cols: all, outer: outer, clause: clause}
	// Which leaves does each condition read?
	type cond struct {
		e      ast.Expr
		leaves lset // the leaves it reads
		late   bool // holds a subquery, or reads no leaf
		done   bool
	}
	leafOf := func(pos int) int {
		for i := len(leaves) - 1; i >= 0; i-- {
			if pos >= leaves[i].start {
				return i
			}
		}
		return 0
	}
	var cs []*cond
	for _, e := range conds {
		c := &cond{e: e}
		var ferr error
		walk(e, func(x ast.Expr) bool {
			switch x := x.(type) {
			case *ast.Subquery, *ast.Exists:
				c.late = true
				return false
			case *ast.In:
				if x.Subquery != nil {
					c.late = true
				}
			case *ast.ColName:
				idx, depth, _, err := full.resolve(x)
				if err != nil {
					ferr = err
					return false
				}
				if depth == 0 {
					c.leaves = c.leaves.with(leafOf(idx))
				}
			}
			return true
		})
		if ferr != nil {
			return nil, ferr
		}
		if c.leaves.empty() {
			c.late = true
		}
		cs = append(cs, c)
	}
	// Join order: greedy, from the leaf expected to give fewest rows,
	// then always a leaf joined to those already placed by a condition
	// (fewest rows first), a cross join only when none is.
	perm := b.joinOrder(leaves, cs2sets(cs, func(c *cond) (lset, bool) { return c.leaves, c.late }), outer, clause)
	fromLeaves := leaves
	leaves = make([]*leaf, len(perm))
	pos := 0
	for i, p := range perm {
		l := *fromLeaves[p]
		l.start = pos
		pos += len(l.cols)
		leaves[i] = &l
	}
	for _, c := range cs {
		var m lset
		for i, p := range perm {
			if c.leaves.has(p) {
				m = m.with(i)
			}
		}
		c.leaves = m
	}
	var n Node
	var joined lset
	for i, l := range leaves {
		bit := lset{}.with(i)
		var local, join []*cond
		for _, c := range cs {
			if c.done || c.late {
				continue
			}
			switch {
			case c.leaves == bit:
				local = append(local, c)
			case c.leaves.has(i) && c.leaves.minus(joined.or(bit)).empty() && i > 0:
				join = append(join, c)
			}
		}
		var localE []ast.Expr
		for _, c := range local {
			localE = append(localE, c.e)
			c.done = true
		}
		if i == 0 {
			node, err := b.leafAccess(l, localE, nil, &scope{cols: l.cols, outer: outer, clause: clause})
			if err != nil {
				return nil, err
			}
			n = node
			joined = joined.or(bit)
			continue
		}
		prevCols := n.Columns()
		var joinE []ast.Expr
		for _, c := range join {
			joinE = append(joinE, c.e)
		}
		// A merge join: the first two tables, both scanned in the order
		// of the join's keys (see mergeJoin).
		if i == 1 && l.scan != nil && len(join) > 0 {
			node, err := b.mergeJoin(n, l, localE, joinE, outer, clause)
			if err != nil {
				return nil, err
			}
			if node != nil {
				for _, c := range join {
					c.done = true
				}
				n = node
				joined = joined.or(bit)
				continue
			}
		}
		// An index lookup: the leaf is a table whose index the join's
		// equalities (with the left row as outer) can seek.
		if l.scan != nil && len(join) > 0 {
			corrScope := &scope{cols: l.cols, outer: &scope{cols: prevCols, outer: outer}, clause: clause}
			node, used, err := b.indexLookup(l, localE, joinE, corrScope)
			if err != nil {
				return nil, err
			}
			if node != nil {
				for _, c := range join {
					c.done = true
				}
				_ = used
				n = &Join{Kind: Inner, Left: n, Right: node, Method: "index lookup", Correlated: true}
				joined = joined.or(bit)
				continue
			}
		}
		right, err := b.leafAccess(l, localE, nil, &scope{cols: l.cols, outer: outer, clause: clause})
		if err != nil {
			return nil, err
		}
		jn := &Join{Kind: Inner, Left: n, Right: right, Method: "nested loop"}
		if len(join) > 0 {
			sc := &scope{cols: jn.Columns(), outer: outer, clause: clause}
			var es []expr.Expr
			for _, c := range join {
				e, err := b.compile(c.e, sc)
				if err != nil {
					return nil, err
				}
				es = append(es, e)
				c.done = true
			}
			b.hashKeys(jn, andAll(es), len(prevCols))
		}
		n = jn
		joined = joined.or(bit)
	}
	if !isIdentity(perm) {
		// Back to the FROM clause's column order (SELECT *, and the
		// scope the late conditions were resolved in).
		var exprs []expr.Expr
		var cols []Column
		joinedCols := n.Columns()
		for fi, fl := range fromLeaves {
			at := 0
			for i, p := range perm {
				if p == fi {
					at = leaves[i].start
				}
			}
			for j := range fl.cols {
				exprs = append(exprs, &expr.Column{Index: at + j, Name: joinedCols[at+j].Name})
				cols = append(cols, joinedCols[at+j])
			}
		}
		n = &Project{Input: n, Exprs: exprs, Cols: cols}
	}
	var late []expr.Expr
	for _, c := range cs {
		if !c.done {
			e, err := b.compile(c.e, full)
			if err != nil {
				return nil, err
			}
			late = append(late, e)
		}
	}
	if len(late) > 0 {
		n = &Filter{Input: n, Cond: andAll(late)}
	}
	return n, nil
}

// compileAll compiles conds in scope sc.
func (b *builder) compileAll(conds []ast.Expr, sc *scope) ([]expr.Expr, error) {
	var es []expr.Expr
	for _, c := range conds {
		e, err := b.compile(c, sc)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, nil
}

// leafAccess places a leaf's own conditions: on a table, as key ranges and
// the scan's filter; on anything else, as a filter above it.
func (b *builder) leafAccess(l *leaf, conds []ast.Expr, _ []ast.Expr, sc *scope) (Node, error) {
	es, err := b.compileAll(conds, sc)
	if err != nil {
		return nil, err
	}
	if l.scan == nil {
		if len(es) == 0 {
			return l.node, nil
		}
		return &Filter{Input: l.node, Cond: andAll(es)}, nil
	}
	s := *l.scan
	covered := b.chooseAccess(&s, es)
	s.setFilter(es, covered)
	return &s, nil
}

// indexLookup plans the leaf as a scan run for each left row, if the
// join's equalities seek one of its indexes; nil if none does.
func (b *builder) indexLookup(l *leaf, local, join []ast.Expr, sc *scope) (Node, bool, error) {
	es, err := b.compileAll(append(append([]ast.Expr(nil), local...), join...), sc)
	if err != nil {
		return nil, false, err
	}
	s := *l.scan
	covered := b.chooseAccess(&s, es)
	if s.Ranges == nil || !rangesUseOuter(s.Ranges) {
		return nil, false, nil
	}
	s.setFilter(es, covered)
	return &s, true, nil
}

func rangesUseOuter(rs []Range) bool {
	for _, r := range rs {
		for _, e := range r.Eq {
			if readsOuter(e) {
				return true
			}
		}
	}
	return false
}

// readsOuter reports whether e reads an enclosing row.
func readsOuter(e expr.Expr) bool {
	c, ok := e.(*expr.Column)
	return ok && c.Depth > 0
}

// localFree reports whether e can be computed before the scan reads a row:
// no column of the scan itself (depth 0), no subquery.
func localFree(e expr.Expr) bool {
	switch e := e.(type) {
	case *expr.Const, *expr.Param, *expr.Variable:
		return true
	case *expr.Column:
		return e.Depth > 0
	case *expr.Neg:
		return localFree(e.X)
	case *expr.Arith:
		return localFree(e.X) && localFree(e.Y)
	case *expr.Cast:
		return localFree(e.X)
	case *expr.Func:
		for _, a := range e.Args {
			if !localFree(a) {
				return false
			}
		}
		switch e.Name {
		case "rand", "uuid", "sysdate":
			return false
		}
		return true
	}
	return false
}

// setFilter sets the scan's filter to the conjunction of conds, and its
// residual filter to those not covered (covered[i]) by its key ranges.
func (s *Scan) setFilter(conds []expr.Expr, covered []bool) {
	s.Filter = andAll(conds)
	s.Residual, s.HasResidual = nil, false
	var rest []expr.Expr
	for i, c := range conds {
		if i < len(covered) && covered[i] {
			s.HasResidual = true
		} else {
			rest = append(rest, c)
		}
	}
	if s.HasResidual {
		s.Residual = andAll(rest)
	}
}

// colBounds gathers, per column of a scan, what conditions pin it, and
// which of the conditions (their positions) gave each.
type colBounds struct {
	eq     expr.Expr
	in     []expr.Expr
	isNull bool
	lo, hi expr.Expr
	loIncl bool
	hiIncl bool

	eqSrc, inSrc, loSrc, hiSrc int
}

// chooseAccess picks the index and key ranges for s from its conditions.
// It returns which conditions the ranges are exactly (covered[i]): a
// comparison, BETWEEN or IN of an integer column of the index, ascending,
// with a value computed before the scan. A row of the ranges satisfies
// them, so the scan need not test them again — when the values, at run
// time, turn out to be keys of the column's type exactly (package exec
// checks; it tests the whole Filter otherwise).
func (b *builder) chooseAccess(s *Scan, conds []expr.Expr) (covered []bool) {
	bounds := map[int]*colBounds{}
	get := func(i int) *colBounds {
		if bounds[i] == nil {
			bounds[i] = &colBounds{eqSrc: -1, inSrc: -1, loSrc: -1, hiSrc: -1}
		}
		return bounds[i]
	}
	for ci, c := range conds {
		switch c := c.(type) {
		case *expr.Cmp:
			col, val, op, ok := colVsValue(c)
			if !ok {
				continue
			}
			cb := get(col)
			switch op {
			case expr.EQ:
				if cb.eq == nil {
					cb.eq, cb.eqSrc = val, ci
				}
			case expr.LT, expr.LE:
				if cb.hi == nil {
					cb.hi, cb.hiIncl, cb.hiSrc = val, op == expr.LE, ci
				}
			case expr.GT, expr.GE:
				if cb.lo == nil {
					cb.lo, cb.loIncl, cb.loSrc = val, op == expr.GE, ci
				}
			}
		case *expr.In:
			x, ok := c.X.(*expr.Column)
			if !ok || x.Depth != 0 || c.Not || len(c.List) > 256 {
				continue
			}
			all := true
			for _, v := range c.List {
				all = all && localFree(v)
			}
			if all && get(x.Index).in == nil {
				get(x.Index).in, get(x.Index).inSrc = c.List, ci
			}
		case *expr.Between:
			x, ok := c.X.(*expr.Column)
			if !ok || x.Depth != 0 || c.Not || !localFree(c.Lo) || !localFree(c.Hi) {
				continue
			}
			cb := get(x.Index)
			if cb.lo == nil && cb.hi == nil {
				cb.lo, cb.loIncl, cb.hi, cb.hiIncl = c.Lo, true, c.Hi, true
				cb.loSrc, cb.hiSrc = ci, ci
			}
		case *expr.Is:
			x, ok := c.X.(*expr.Column)
			if ok && x.Depth == 0 && c.What == "null" && !c.Not {
				get(x.Index).isNull = true
			}
		}
	}
	if len(bounds) == 0 {
		return nil
	}
	type choice struct {
		idx    int
		ranges []Range
		score  float64
		est    float64
		used   []int // the conditions the ranges are exactly
	}
	best := choice{idx: -1}
	for ii := range s.Table.Indexes {
		idx := &s.Table.Indexes[ii]
		ranges := []Range{{}}
		eqCols := 0
		hasRange := false
		var used []int
		for ci, colID := range idx.Columns {
			pos := s.Table.ColumnByID(colID)
			cb := bounds[pos]
			if cb == nil {
				break
			}
			exactCol := false
			switch s.Table.Columns[pos].Type.Kind {
			case types.KindInt, types.KindUint:
				exactCol = !(len(idx.Desc) > ci && idx.Desc[ci])
			}
			use := func(src ...int) {
				for _, i := range src {
					if exactCol && i >= 0 {
						used = append(used, i)
					}
				}
			}
			switch {
			case cb.eq != nil:
				for i := range ranges {
					ranges[i].Eq = append(ranges[i].Eq, cb.eq)
				}
				use(cb.eqSrc)
				eqCols++
				continue
			case cb.isNull:
				for i := range ranges {
					ranges[i].Eq = append(ranges[i].Eq, &expr.Const{V: types.Null})
				}
				eqCols++
				continue
			case cb.in != nil && len(ranges)*len(cb.in) <= 1024:
				var next []Range
				for _, r := range ranges {
					for _, v := range cb.in {
						nr := Range{Eq: append(append([]expr.Expr(nil), r.Eq...), v)}
						next = append(next, nr)
					}
				}
				ranges = next
				use(cb.inSrc)
				eqCols++
				continue
			case cb.lo != nil || cb.hi != nil:
				for i := range ranges {
					ranges[i].Lo, ranges[i].LoIncl, ranges[i].Hi, ranges[i].HiIncl = cb.lo, cb.loIncl, cb.hi, cb.hiIncl
				}
				use(cb.loSrc)
				if cb.hiSrc != cb.loSrc {
					use(cb.hiSrc)
				}
				hasRange = true
			}
			break
		}
		if eqCols == 0 && !hasRange {
			continue
		}
		est := s.EstRows
		st := b.cat.Stats(s.Table, idx)
		for i := 0; i < eqCols; i++ {
			if st != nil && i < len(st.Distinct) && st.Distinct[i] > 0 && st.Rows > 0 {
				est = float64(st.Rows) / float64(st.Distinct[i])
			} else {
				est /= 10
			}
		}
		if eqCols == len(idx.Columns) && idx.Unique {
			est = 1
		}
		est *= float64(len(ranges))
		if hasRange {
			est /= 4
		}
		score := -est
		if idx.Primary {
			score += 0.5 // no lookup of the row
		}
		if best.idx < 0 || score > best.score {
			best = choice{idx: ii, ranges: ranges, score: score, est: est, used: used}
		}
	}
	if best.idx < 0 {
		return nil
	}
	s.Index = &s.Table.Indexes[best.idx]
	s.Ranges = best.ranges
	s.EstRows = max(best.est, 1)
	if len(best.used) == 0 {
		return nil
	}
	covered = make([]bool, len(conds))
	for _, i := range best.used {
		covered[i] = true
	}
	return covered
}

// colVsValue matches "column op value" (either way round), flipping the
// operator if the column is on the right.
func colVsValue(c *expr.Cmp) (col int, val expr.Expr, op expr.CmpOp, ok bool) {
	if x, isCol := c.X.(*expr.Column); isCol && x.Depth == 0 && localFree(c.Y) {
		return x.Index, c.Y, c.Op, c.Op != expr.NE && c.Op != expr.NullSafeEQ
	}
	if y, isCol := c.Y.(*expr.Column); isCol && y.Depth == 0 && localFree(c.X) {
		flip := map[expr.CmpOp]expr.CmpOp{expr.EQ: expr.EQ, expr.LT: expr.GT, expr.LE: expr.GE, expr.GT: expr.LT, expr.GE: expr.LE}
		op, ok := flip[c.Op]
		return y.Index, c.X, op, ok
	}
	return 0, nil, 0, false
}

// maxJoinTables bounds the tables of one join (MySQL's is 61).
const maxJoinTables = 128

// lset is a set of join leaves (up to maxJoinTables).
type lset [2]uint64

func (s lset) with(i int) lset   { s[i/64] |= 1 << uint(i%64); return s }
func (s lset) has(i int) bool    { return s[i/64]&(1<<uint(i%64)) != 0 }
func (s lset) or(t lset) lset    { return lset{s[0] | t[0], s[1] | t[1]} }
func (s lset) minus(t lset) lset { return lset{s[0] &^ t[0], s[1] &^ t[1]} }
func (s lset) empty() bool       { return s[0] == 0 && s[1] == 0 }
func (s lset) meets(t lset) bool { return s[0]&t[0] != 0 || s[1]&t[1] != 0 }

type condSet struct {
	leaves lset
	late   bool
}

func cs2sets[T any](cs []T, f func(T) (lset, bool)) []condSet {
	out := make([]condSet, len(cs))
	for i, c := range cs {
		out[i].leaves, out[i].late = f(c)
	}
	return out
}

func isIdentity(p []int) bool {
	for i, v := range p {
		if i != v {
			return false
		}
	}
	return true
}

// joinOrder picks the order in which the leaves are joined: a permutation
// of their indexes.
func (b *builder) joinOrder(leaves []*leaf, conds []condSet, outer *scope, clause string) []int {
	n := len(leaves)
	perm := make([]int, 0, n)
	if n <= 1 {
		for i := 0; i < n; i++ {
			perm = append(perm, i)
		}
		return perm
	}
	// Rows each leaf is expected to give after its own conditions.
	est := make([]float64, n)
	for i, l := range leaves {
		est[i] = 1000
		if l.scan != nil {
			est[i] = l.scan.EstRows
		}
	}
	// Local conditions make a leaf smaller: count them (a cheap proxy
	// that needs no compilation).
	for _, c := range conds {
		if c.late {
			continue
		}
		for i := 0; i < n; i++ {
			if c.leaves == (lset{}).with(i) {
				est[i] /= 3
			}
		}
	}
	var placed lset
	used := make([]bool, n)
	for len(perm) < n {
		best, bestConnected := -1, false
		for i := 0; i < n; i++ {
			if used[i] {
				continue
			}
			bit := lset{}.with(i)
			connected := false
			if !placed.empty() {
				for _, c := range conds {
					if !c.late && c.leaves.has(i) && c.leaves.meets(placed) && c.leaves.minus(placed.or(bit)).empty() {
						connected = true
						break
					}
				}
			}
			switch {
			case best < 0:
			case connected && !bestConnected:
			case connected == bestConnected && est[i] < est[best]:
			default:
				continue
			}
			best, bestConnected = i, connected
		}
		used[best] = true
		placed = placed.with(best)
		perm = append(perm, best)
	}
	return perm
}
