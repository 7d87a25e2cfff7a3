package plan

import (
	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/types"
)

// Merge join planning.
//
// Two scans that each return their rows ordered by the join's key columns
// (a prefix of the index they read, after the columns an equality of
// their one range fixes) join by walking both at once: each row is read
// once, where an index lookup seeks the right table once per left row and
// a hash join holds the whole right side. It is chosen for the first join
// of a FROM list when both sides are tables scanned that way, the left
// side is expected to give at least mergeMinLeft rows (and has no
// condition beyond its ranges, which the estimate would not count) and
// the right side at most mergeMaxRatio times as many (a seek costs
// several rows' scan).
const (
	mergeMinLeft  = 64
	mergeMaxRatio = 4
)

// mergeJoin plans the inner join of left (the first leaf's access) with
// leaf l on the equalities join as a merge join, or returns nil when the
// sides are not ordered for one or it is not expected to pay.
func (b *builder) mergeJoin(left Node, l *leaf, local, join []ast.Expr, outer *scope, clause string) (Node, error) {
	ls, ok := left.(*Scan)
	if !ok || ls.EstRows < mergeMinLeft || len(ls.Ranges) > 1 || ls.Reverse {
		return nil, nil
	}
	if ls.Filter != nil && !(ls.HasResidual && ls.Residual == nil) {
		// A condition the ranges do not stand for may keep few of the
		// rows EstRows counts: a lookup for each of those may beat
		// reading the whole right side.
		return nil, nil
	}
	right, err := b.leafAccess(l, local, nil, &scope{cols: l.cols, outer: outer, clause: clause})
	if err != nil {
		return nil, err
	}
	rs, ok := right.(*Scan)
	if !ok || rs.EstRows > mergeMaxRatio*ls.EstRows || len(rs.Ranges) > 1 || rs.Reverse {
		return nil, nil
	}
	jn := &Join{Kind: Inner, Left: left, Right: right}
	sc := &scope{cols: jn.Columns(), outer: outer, clause: clause}
	es, err := b.compileAll(join, sc)
	if err != nil {
		return nil, err
	}
	nl := len(left.Columns())
	b.hashKeys(jn, andAll(es), nl)
	if len(jn.LeftKeys) == 0 {
		return nil, nil
	}
	// Align the key pairs with both indexes: pair k is the k-th column of
	// each after its fixed prefix.
	lcols, rcols := orderColumns(ls), orderColumns(rs)
	used := make([]bool, len(jn.LeftKeys))
	var lk, rk []expr.Expr
	for k := 0; k < len(lcols) && k < len(rcols); k++ {
		found := -1
		for p := range jn.LeftKeys {
			lc, rc := jn.LeftKeys[p].(*expr.Column), jn.RightKeys[p].(*expr.Column)
			if !used[p] && lc.Index == lcols[k] && rc.Index == rcols[k] &&
				mergeableKinds(ls.Table.Columns[lc.Index].Type.Kind, rs.Table.Columns[rc.Index].Type.Kind) {
				found = p
				break
			}
		}
		if found < 0 {
			break
		}
		used[found] = true
		lk, rk = append(lk, jn.LeftKeys[found]), append(rk, jn.RightKeys[found])
	}
	if len(lk) == 0 {
		return nil, nil
	}
	// The pairs the order does not cover stay conditions on the joined row.
	rest := conjuncts(jn.On)
	for p := range jn.LeftKeys {
		if !used[p] {
			rest = append(rest, &expr.Cmp{Op: expr.EQ, X: jn.LeftKeys[p], Y: shift(jn.RightKeys[p], nl)})
		}
	}
	jn.LeftKeys, jn.RightKeys, jn.On = lk, rk, andAll(rest)
	jn.Method = "merge"
	return jn, nil
}

// orderColumns are the positions of the columns a scan's rows are ordered
// by, in order: its index's columns after those its one range fixes by
// equality, up to the first descending one.
func orderColumns(s *Scan) []int {
	fixed := 0
	if len(s.Ranges) == 1 {
		fixed = len(s.Ranges[0].Eq)
	}
	var out []int
	for i := fixed; i < len(s.Index.Columns); i++ {
		if len(s.Index.Desc) > i && s.Index.Desc[i] {
			break
		}
		out = append(out, s.Table.ColumnByID(s.Index.Columns[i]))
	}
	return out
}

// mergeableKinds reports whether columns of kinds a and b are ordered in
// their indexes as their values compare (types.Compare) against each
// other: the same integer or temporal kind.
func mergeableKinds(a, b types.Kind) bool {
	if a != b {
		return false
	}
	switch a {
	case types.KindInt, types.KindUint, types.KindDate, types.KindDatetime, types.KindTime:
		return true
	}
	return false
}
