// Package plan turns SQL statements (package sql/ast) into plans that
// package sql/exec runs: names are bound to row positions, expressions
// compiled (package sql/expr), WHERE conjuncts turned into key ranges of
// the primary key or a secondary index, joins given a method (index
// lookup, hash, or nested loop), aggregates, sorting and limits placed. The
// planner reads the schema (catalog descriptors) through the Catalog
// interface and never touches storage itself.
package plan

import (
	"fmt"
	"strings"

	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/types"
)

// Catalog is what the planner reads of the schema.
type Catalog interface {
	// Table returns the table (or view) db.name; db "" is the current
	// database (error 1046 if there is none).
	Table(db, name string) (*catalog.Table, error)
	// CurrentDB is the session's database ("" none).
	CurrentDB() string
	// Stats returns an index's statistics (nil: none gathered).
	Stats(t *catalog.Table, idx *catalog.Index) *IndexStats
}

// IndexStats are ANALYZE TABLE's figures for an index.
type IndexStats struct {
	Rows int64 `json:"rows"`
	// Distinct[i] is the number of distinct values of the index's first
	// i+1 columns.
	Distinct []int64 `json:"distinct"`
	// Histogram holds bucket upper bounds of the first column (their key
	// encodings) with cumulative row counts.
	Bounds [][]byte `json:"bounds,omitempty"`
	Counts []int64  `json:"counts,omitempty"`
}

// Column is an output column of a plan node.
type Column struct {
	Name  string
	Table string // the table's alias (or name) it comes from, "" for computed ones
	DB    string
	// Type is the column's type when it is a table column (nil: computed).
	Type *types.Type
	// Hidden columns (a table's row id, sort keys) are not in SELECT *.
	Hidden bool
}

// Node is a plan node.
type Node interface {
	// Columns are the node's output columns.
	Columns() []Column
	// Children are the node's inputs.
	Children() []Node
	// Explain is the node's one-line description.
	Explain() string
}

// Scan reads a table's rows through one of its indexes: every row, or
// those in Ranges, in index order (Reverse: backwards). Its output is the
// table's columns in declaration order.
type Scan struct {
	Table *catalog.Table
	Alias string
	Index *catalog.Index
	// Ranges restrict the index's keys (nil: the whole index); each is
	// computed when the scan starts (its expressions may be parameters
	// or outer columns).
	Ranges []Range
	// Covering: a secondary index whose entries hold every column the
	// plan reads of the rows (Needed), each in a key encoding that gives
	// its value back exactly (see Coverable): the scan builds its rows
	// from the index entries, without looking the rows up.
	Covering bool
	Reverse  bool
	// Filter is applied to each row read (the whole WHERE that concerns
	// this table: ranges are only a superset of it).
	Filter expr.Expr
	// Residual is Filter without the conditions the ranges are exactly
	// (HasResidual: some are; Residual nil: all are). It replaces Filter
	// when every value of the ranges is, at run time, a key of its
	// column's type exactly (package exec decides).
	Residual    expr.Expr
	HasResidual bool
	// Lock reads for update (SELECT ... FOR UPDATE, UPDATE, DELETE).
	Lock bool
	// Needed marks the columns (by position) that the plan reads of the
	// scan's rows (nil: all); the others may be left NULL.
	Needed []bool
	// ReuseRow: no node above keeps a row once it asked for the next, so
	// the scan may return the same row memory each time.
	ReuseRow bool
	// Slots maps a column id to its row position, -1 for a column Needed
	// leaves out (nil: package exec computes it at each start).
	Slots []int32
	// ResidualSlots, when set, are Slots for when Residual replaces
	// Filter: without the columns only the conditions the ranges stand
	// for read.
	ResidualSlots []int32
	EstRows       float64
	cols          []Column
}

// Range is a range of an index: equality on its first len(Eq) columns,
// then optionally a bound on the next column.
type Range struct {
	Eq             []expr.Expr
	Lo, Hi         expr.Expr // nil: unbounded
	LoIncl, HiIncl bool
}

// Columns are the table's columns.
func (s *Scan) Columns() []Column { return s.cols }

// Children is none.
func (s *Scan) Children() []Node { return nil }

// Explain names the access method.
func (s *Scan) Explain() string {
	name := s.Alias
	if !strings.EqualFold(name, s.Table.Name) {
		name = s.Table.Name + " AS " + s.Alias
	}
	method := "full scan"
	switch {
	case s.Ranges != nil && s.Index.Primary && isPoint(s.Ranges, len(s.Index.Columns)):
		method = "point lookup"
	case s.Ranges != nil && s.Index.Primary:
		method = "range scan"
	case s.Ranges != nil && isPoint(s.Ranges, len(s.Index.Columns)) && s.Index.Unique:
		method = "unique index lookup"
	case s.Ranges != nil:
		method = "index range scan"
	case !s.Index.Primary:
		method = "full index scan"
	}
	idx := "PRIMARY"
	if !s.Index.Primary {
		idx = s.Index.Name
	}
	if s.Covering {
		method = "covering " + method
	}
	out := fmt.Sprintf("%s of %s using %s", method, name, idx)
	if s.Ranges != nil {
		out += " " + showRanges(s.Ranges)
	}
	if s.Reverse {
		out += " (reverse)"
	}
	if s.Filter != nil {
		out += " filter " + s.Filter.String()
	}
	if s.Lock {
		out += " for update"
	}
	return out + fmt.Sprintf(" (rows≈%.0f)", s.EstRows)
}

func isPoint(rs []Range, ncols int) bool {
	for _, r := range rs {
		if len(r.Eq) != ncols || r.Lo != nil || r.Hi != nil {
			return false
		}
	}
	return true
}

func showRanges(rs []Range) string {
	parts := make([]string, 0, len(rs))
	for i, r := range rs {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("... %d more", len(rs)-8))
			break
		}
		var p []string
		for _, e := range r.Eq {
			p = append(p, "="+e.String())
		}
		if r.Lo != nil {
			op := ">"
			if r.LoIncl {
				op = ">="
			}
			p = append(p, op+r.Lo.String())
		}
		if r.Hi != nil {
			op := "<"
			if r.HiIncl {
				op = "<="
			}
			p = append(p, op+r.Hi.String())
		}
		parts = append(parts, "("+strings.Join(p, ",")+")")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Values produces constant rows (SELECT without FROM: one empty row).
type Values struct {
	Rows [][]expr.Expr
	Cols []Column
}

// Columns are the values' columns.
func (v *Values) Columns() []Column { return v.Cols }

// Children is none.
func (v *Values) Children() []Node { return nil }

// Explain counts the rows.
func (v *Values) Explain() string { return fmt.Sprintf("values (%d rows)", len(v.Rows)) }

// Filter keeps the rows for which Cond is true.
type Filter struct {
	Input Node
	Cond  expr.Expr
}

// Columns are the input's.
func (f *Filter) Columns() []Column { return f.Input.Columns() }

// Children is the input.
func (f *Filter) Children() []Node { return []Node{f.Input} }

// Explain shows the condition.
func (f *Filter) Explain() string { return "filter " + f.Cond.String() }

// Project computes Exprs from each input row.
type Project struct {
	Input Node
	Exprs []expr.Expr
	Cols  []Column
}

// Columns are the projected columns.
func (p *Project) Columns() []Column { return p.Cols }

// Children is the input.
func (p *Project) Children() []Node { return []Node{p.Input} }

// Explain lists the expressions.
func (p *Project) Explain() string {
	parts := make([]string, len(p.Exprs))
	for i, e := range p.Exprs {
		parts[i] = e.String()
	}
	return "project " + strings.Join(parts, ", ")
}

// JoinKind is a join's kind.
type JoinKind int

// The join kinds the executor runs (a right join is planned as a left
// join with its inputs swapped).
const (
	Inner JoinKind = iota
	LeftOuter
	Semi // rows of Left with a match (not used for output of Right)
)

// Join joins Left and Right: rows are Left's columns then Right's.
// Method: "nested loop" (Right re-run per left row, Right may read the
// left row as an outer row: index lookups), "hash" (Right built into a
// table on RightKeys, probed with LeftKeys).
type Join struct {
	Kind        JoinKind
	Left, Right Node
	Method      string
	LeftKeys    []expr.Expr // over Left's row
	RightKeys   []expr.Expr // over Right's row
	On          expr.Expr   // over the joined row (nil: none)
	// Correlated: Right reads the left row (Depth-1 columns) and is run
	// for each left row.
	Correlated bool
}

// Columns are Left's then Right's.
func (j *Join) Columns() []Column {
	l, r := j.Left.Columns(), j.Right.Columns()
	out := make([]Column, 0, len(l)+len(r))
	return append(append(out, l...), r...)
}

// Children are Left and Right.
func (j *Join) Children() []Node { return []Node{j.Left, j.Right} }

// Explain names the kind and method.
func (j *Join) Explain() string {
	kind := map[JoinKind]string{Inner: "inner", LeftOuter: "left outer", Semi: "semi"}[j.Kind]
	s := fmt.Sprintf("%s join (%s)", kind, j.Method)
	if len(j.LeftKeys) > 0 {
		var ks []string
		for i := range j.LeftKeys {
			ks = append(ks, j.LeftKeys[i].String()+" = "+j.RightKeys[i].String())
		}
		s += " on " + strings.Join(ks, " AND ")
	}
	if j.On != nil {
		s += " filter " + j.On.String()
	}
	return s
}

// AggFunc is an aggregate call.
type AggFunc struct {
	Name     string // count, sum, avg, min, max, group_concat, bit_and, bit_or, bit_xor, std, variance
	Args     []expr.Expr
	Star     bool // COUNT(*)
	Distinct bool
	Sep      string
	OrderBy  []SortKey // GROUP_CONCAT's
}

// String shows the call.
func (a *AggFunc) String() string {
	if a.Star {
		return a.Name + "(*)"
	}
	parts := make([]string, len(a.Args))
	for i, e := range a.Args {
		parts[i] = e.String()
	}
	d := ""
	if a.Distinct {
		d = "DISTINCT "
	}
	return a.Name + "(" + d + strings.Join(parts, ", ") + ")"
}

// Aggregate groups its input by GroupBy and computes Aggs per group: its
// rows are the group-by values then the aggregates' values. With no
// GroupBy it produces exactly one row (aggregates of an empty input).
// Streaming: the input arrives ordered by the group-by values.
type Aggregate struct {
	Input     Node
	GroupBy   []expr.Expr
	Aggs      []*AggFunc
	Streaming bool
	// Any holds the input row of each group's first row: the values of
	// columns that are neither grouped nor aggregated (MySQL without
	// ONLY_FULL_GROUP_BY) are read from it: output columns after the
	// aggregates, one per input column.
	Any  bool
	Cols []Column
}

// Columns are the group-by values, the aggregates (and Any's columns).
func (a *Aggregate) Columns() []Column { return a.Cols }

// Children is the input.
func (a *Aggregate) Children() []Node { return []Node{a.Input} }

// Explain lists the groups and aggregates.
func (a *Aggregate) Explain() string {
	var parts []string
	for _, g := range a.GroupBy {
		parts = append(parts, g.String())
	}
	var aggs []string
	for _, f := range a.Aggs {
		aggs = append(aggs, f.String())
	}
	method := "hash"
	if a.Streaming {
		method = "streaming"
	}
	if len(parts) == 0 {
		return "aggregate " + strings.Join(aggs, ", ")
	}
	return fmt.Sprintf("%s aggregate by %s: %s", method, strings.Join(parts, ", "), strings.Join(aggs, ", "))
}

// SortKey is one ORDER BY key.
type SortKey struct {
	Expr expr.Expr
	Desc bool
}

// Sort orders its input (Limit > 0: only the first Limit rows are kept,
// a top-N heap).
type Sort struct {
	Input Node
	Keys  []SortKey
	Limit int64
}

// Columns are the input's.
func (s *Sort) Columns() []Column { return s.Input.Columns() }

// Children is the input.
func (s *Sort) Children() []Node { return []Node{s.Input} }

// Explain lists the keys.
func (s *Sort) Explain() string {
	var parts []string
	for _, k := range s.Keys {
		d := ""
		if k.Desc {
			d = " DESC"
		}
		parts = append(parts, k.Expr.String()+d)
	}
	if s.Limit > 0 {
		return fmt.Sprintf("top-%d sort by %s", s.Limit, strings.Join(parts, ", "))
	}
	return "sort by " + strings.Join(parts, ", ")
}

// Limit skips Offset rows and passes Count (Count nil: all).
type Limit struct {
	Input         Node
	Offset, Count expr.Expr
}

// Columns are the input's.
func (l *Limit) Columns() []Column { return l.Input.Columns() }

// Children is the input.
func (l *Limit) Children() []Node { return []Node{l.Input} }

// Explain shows the numbers.
func (l *Limit) Explain() string {
	s := "limit"
	if l.Count != nil {
		s += " " + l.Count.String()
	}
	if l.Offset != nil {
		s += " offset " + l.Offset.String()
	}
	return s
}

// Distinct drops duplicate rows (equal under SQL comparison).
type Distinct struct {
	Input Node
	// Width: only the first Width columns decide (hidden sort columns
	// after them do not); 0: all.
	Width int
}

// Columns are the input's.
func (d *Distinct) Columns() []Column { return d.Input.Columns() }

// Children is the input.
func (d *Distinct) Children() []Node { return []Node{d.Input} }

// Explain says distinct.
func (d *Distinct) Explain() string { return "distinct" }

// Union is Left's rows then Right's (All false: without duplicates); Op
// "intersect" keeps Left's rows that Right has, "except" those it has
// not (with All, counting duplicates).
type Union struct {
	Left, Right Node
	All         bool
	Op          string
	Cols        []Column
}

// Columns are Left's (names) over both.
func (u *Union) Columns() []Column { return u.Cols }

// Children are both sides.
func (u *Union) Children() []Node { return []Node{u.Left, u.Right} }

// Explain says which union.
func (u *Union) Explain() string {
	op := u.Op
	if op == "" {
		op = "union"
	}
	if u.All {
		return op + " all"
	}
	return op + " distinct"
}

// Rename gives a derived table's (or view's) columns its alias.
type Rename struct {
	Input Node
	Cols  []Column
}

// Columns are the renamed columns.
func (r *Rename) Columns() []Column { return r.Cols }

// Children is the input.
func (r *Rename) Children() []Node { return []Node{r.Input} }

// Explain names the alias.
func (r *Rename) Explain() string {
	if len(r.Cols) > 0 {
		return "derived table " + r.Cols[0].Table
	}
	return "derived table"
}

// Format renders a plan as an indented tree (EXPLAIN).
func Format(n Node) string {
	var b strings.Builder
	var walk func(n Node, depth int)
	walk = func(n Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString("-> ")
		b.WriteString(n.Explain())
		b.WriteByte('\n')
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}
