// Package expr holds compiled SQL expressions — what the planner builds from
// the AST once names are bound to row positions — and their evaluation
// with MySQL's semantics (three-valued logic, NULL propagation, implicit
// conversions from package types). Evaluation never panics: an internal
// failure is returned as an error.
package expr

import (
	"fmt"
	"strings"

	"github.com/strata-db/strata/sql/types"
)

// Row is a row of values, addressed by position.
type Row []types.Value

// Ctx is what evaluation needs beyond the row: parameters, the outer rows
// of correlated subqueries, a runner for subqueries, session values.
type Ctx struct {
	Params []types.Value
	// Outer holds the rows of enclosing queries, innermost last (for
	// correlated column references).
	Outer []Row
	// Sub runs subqueries.
	Sub SubqueryRunner
	// Session supplies variables and session functions (DATABASE(),
	// LAST_INSERT_ID(), NOW()).
	Session Session
	// Warnings collects warnings (SHOW WARNINGS).
	Warnings *[]Warning
	// subCache holds the results of uncorrelated subqueries for one
	// execution (a plan is shared by executions; this is not).
	subCache map[*Subquery][]Row
}

// Warning is a note, warning or error raised by a statement.
type Warning struct {
	Level   string // "Note", "Warning", "Error"
	Code    int
	Message string
}

// SubqueryRunner evaluates a subquery plan with the current row pushed as
// the innermost outer row.
type SubqueryRunner interface {
	// Rows returns the subquery's rows (up to limit rows; limit < 0: all).
	Rows(ctx *Ctx, plan any, outer Row, limit int) ([]Row, error)
}

// Session supplies what functions read of the session.
type Session interface {
	Database() string
	User() string
	LastInsertID() uint64
	// Var returns a user (@x) or system (@@x) variable.
	Var(system bool, scope, name string) (types.Value, error)
	// Now is the statement's timestamp (NOW() is fixed per statement).
	Now() types.Value
	// FoundRows and RowCount for FOUND_ROWS() and ROW_COUNT().
	FoundRows() uint64
	RowCount() int64
	ConnectionID() uint64
}

// Expr is a compiled expression.
type Expr interface {
	// Eval computes the expression for row.
	Eval(ctx *Ctx, row Row) (types.Value, error)
	// String shows the expression (EXPLAIN).
	String() string
}

// Const is a constant.
type Const struct{ V types.Value }

// Eval returns the constant.
func (c *Const) Eval(*Ctx, Row) (types.Value, error) { return c.V, nil }

// String shows the constant as SQL.
func (c *Const) String() string {
	if c.V.IsText() {
		return "'" + strings.ReplaceAll(c.V.Str(), "'", "''") + "'"
	}
	return c.V.String()
}

// Column reads position Index of the row (Depth 0), or of the Depth-th
// enclosing query's row for a correlated reference.
type Column struct {
	Index int
	Depth int
	Name  string
}

// Eval reads the column.
func (c *Column) Eval(ctx *Ctx, row Row) (types.Value, error) {
	if c.Depth > 0 {
		if ctx == nil || len(ctx.Outer) < c.Depth {
			return types.Null, fmt.Errorf("sql: outer reference %s without an outer row", c.Name)
		}
		row = ctx.Outer[len(ctx.Outer)-c.Depth]
	}
	if c.Index >= len(row) {
		return types.Null, fmt.Errorf("sql: column %s at %d of a row of %d", c.Name, c.Index, len(row))
	}
	return row[c.Index], nil
}

// String shows the column's name.
func (c *Column) String() string { return c.Name }

// Param is a prepared statement's ? number Index.
type Param struct{ Index int }

// Eval returns the parameter's value.
func (p *Param) Eval(ctx *Ctx, _ Row) (types.Value, error) {
	if ctx == nil || p.Index >= len(ctx.Params) {
		return types.Null, types.Errorf(1210, "HY000", "Incorrect arguments to EXECUTE")
	}
	return ctx.Params[p.Index], nil
}

// String shows ?.
func (p *Param) String() string { return "?" }

// Arith is x op y.
type Arith struct {
	Op   types.Op
	X, Y Expr
}

var arithText = [...]string{"+", "-", "*", "/", "DIV", "%"}

// Eval computes the operation.
func (a *Arith) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := a.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	y, err := a.Y.Eval(ctx, row)
	if err != nil {
		return y, err
	}
	return types.Arith(a.Op, x, y)
}

// String shows (x op y).
func (a *Arith) String() string {
	return "(" + a.X.String() + " " + arithText[a.Op] + " " + a.Y.String() + ")"
}

// Neg is -x.
type Neg struct{ X Expr }

// Eval negates.
func (n *Neg) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := n.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	return types.Neg(x)
}

// String shows -x.
func (n *Neg) String() string { return "-" + n.X.String() }

// CmpOp is a comparison operator.
type CmpOp uint8

// The comparison operators.
const (
	EQ CmpOp = iota
	NE
	LT
	LE
	GT
	GE
	NullSafeEQ
)

var cmpText = [...]string{"=", "<>", "<", "<=", ">", ">=", "<=>"}

// String shows the operator.
func (o CmpOp) String() string { return cmpText[o] }

// Holds reports whether a comparison result c satisfies o.
func (o CmpOp) Holds(c int) bool {
	switch o {
	case EQ, NullSafeEQ:
		return c == 0
	case NE:
		return c != 0
	case LT:
		return c < 0
	case LE:
		return c <= 0
	case GT:
		return c > 0
	}
	return c >= 0
}

// Cmp is x op y.
type Cmp struct {
	Op   CmpOp
	X, Y Expr
}

// Eval compares.
func (c *Cmp) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := c.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	y, err := c.Y.Eval(ctx, row)
	if err != nil {
		return y, err
	}
	return compareValues(c.Op, x, y), nil
}

func compareValues(op CmpOp, x, y types.Value) types.Value {
	if op == NullSafeEQ {
		return types.NewBool(types.NullSafeEqual(x, y))
	}
	r, null := types.Compare(x, y)
	if null {
		return types.Null
	}
	return types.NewBool(op.Holds(r))
}

// String shows (x op y).
func (c *Cmp) String() string {
	return "(" + c.X.String() + " " + cmpText[c.Op] + " " + c.Y.String() + ")"
}

// And is x AND y (three-valued: FALSE wins over NULL).
type And struct{ X, Y Expr }

// Eval computes the conjunction, not evaluating y when x is false.
func (a *And) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := a.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	xt, xn := types.Truth(x)
	if !xt && !xn {
		return types.NewInt(0), nil
	}
	y, err := a.Y.Eval(ctx, row)
	if err != nil {
		return y, err
	}
	yt, yn := types.Truth(y)
	switch {
	case !yt && !yn:
		return types.NewInt(0), nil
	case xn || yn:
		return types.Null, nil
	}
	return types.NewInt(1), nil
}

// String shows (x AND y).
func (a *And) String() string { return "(" + a.X.String() + " AND " + a.Y.String() + ")" }

// Or is x OR y (three-valued: TRUE wins over NULL).
type Or struct{ X, Y Expr }

// Eval computes the disjunction, not evaluating y when x is true.
func (o *Or) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := o.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	xt, xn := types.Truth(x)
	if xt {
		return types.NewInt(1), nil
	}
	y, err := o.Y.Eval(ctx, row)
	if err != nil {
		return y, err
	}
	yt, yn := types.Truth(y)
	switch {
	case yt:
		return types.NewInt(1), nil
	case xn || yn:
		return types.Null, nil
	}
	return types.NewInt(0), nil
}

// String shows (x OR y).
func (o *Or) String() string { return "(" + o.X.String() + " OR " + o.Y.String() + ")" }

// Xor is x XOR y.
type Xor struct{ X, Y Expr }

// Eval computes the exclusive or (NULL if either is NULL).
func (o *Xor) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := o.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	y, err := o.Y.Eval(ctx, row)
	if err != nil {
		return y, err
	}
	xt, xn := types.Truth(x)
	yt, yn := types.Truth(y)
	if xn || yn {
		return types.Null, nil
	}
	return types.NewBool(xt != yt), nil
}

// String shows (x XOR y).
func (o *Xor) String() string { return "(" + o.X.String() + " XOR " + o.Y.String() + ")" }

// Not is NOT x.
type Not struct{ X Expr }

// Eval negates (NULL stays NULL).
func (n *Not) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := n.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	t, null := types.Truth(x)
	if null {
		return types.Null, nil
	}
	return types.NewBool(!t), nil
}

// String shows (NOT x).
func (n *Not) String() string { return "(NOT " + n.X.String() + ")" }

// Is is x IS [NOT] NULL/TRUE/FALSE/UNKNOWN.
type Is struct {
	X    Expr
	What string // "null", "true", "false", "unknown"
	Not  bool
}

// Eval tests x (never NULL).
func (i *Is) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := i.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	var r bool
	switch i.What {
	case "null", "unknown":
		r = x.IsNull()
	case "true":
		t, null := types.Truth(x)
		r = t && !null
	case "false":
		t, null := types.Truth(x)
		r = !t && !null
	}
	return types.NewBool(r != i.Not), nil
}

// String shows (x IS [NOT] what).
func (i *Is) String() string {
	not := ""
	if i.Not {
		not = "NOT "
	}
	return "(" + i.X.String() + " IS " + not + strings.ToUpper(i.What) + ")"
}

// In is x [NOT] IN (list): TRUE if x equals a member, else NULL if x or a
// member is NULL, else FALSE (negated for NOT IN, NULL staying NULL).
type In struct {
	X    Expr
	List []Expr
	Not  bool
}

// Eval tests membership.
func (in *In) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := in.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	vals := make([]types.Value, 0, len(in.List))
	for _, e := range in.List {
		v, err := e.Eval(ctx, row)
		if err != nil {
			return v, err
		}
		vals = append(vals, v)
	}
	return inValues(x, vals, in.Not), nil
}

func inValues(x types.Value, vals []types.Value, not bool) types.Value {
	if x.IsNull() {
		if len(vals) == 0 {
			return types.NewBool(not)
		}
		return types.Null
	}
	sawNull := false
	for _, v := range vals {
		c, null := types.Compare(x, v)
		if null {
			sawNull = true
			continue
		}
		if c == 0 {
			return types.NewBool(!not)
		}
	}
	if sawNull {
		return types.Null
	}
	return types.NewBool(not)
}

// String shows (x [NOT] IN (...)).
func (in *In) String() string {
	parts := make([]string, len(in.List))
	for i, e := range in.List {
		parts[i] = e.String()
	}
	not := ""
	if in.Not {
		not = "NOT "
	}
	return "(" + in.X.String() + " " + not + "IN (" + strings.Join(parts, ", ") + "))"
}

// Case is CASE [operand] WHEN ... THEN ... ELSE ... END.
type Case struct {
	Operand Expr // nil: searched
	Whens   []Expr
	Thens   []Expr
	Else    Expr // nil: NULL
}

// Eval picks the first matching branch.
func (c *Case) Eval(ctx *Ctx, row Row) (types.Value, error) {
	var op types.Value
	if c.Operand != nil {
		v, err := c.Operand.Eval(ctx, row)
		if err != nil {
			return v, err
		}
		op = v
	}
	for i, w := range c.Whens {
		v, err := w.Eval(ctx, row)
		if err != nil {
			return v, err
		}
		var match bool
		if c.Operand != nil {
			r, null := types.Compare(op, v)
			match = !null && r == 0
		} else {
			t, null := types.Truth(v)
			match = t && !null
		}
		if match {
			return c.Thens[i].Eval(ctx, row)
		}
	}
	if c.Else != nil {
		return c.Else.Eval(ctx, row)
	}
	return types.Null, nil
}

// String shows the CASE.
func (c *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	if c.Operand != nil {
		b.WriteString(" " + c.Operand.String())
	}
	for i := range c.Whens {
		b.WriteString(" WHEN " + c.Whens[i].String() + " THEN " + c.Thens[i].String())
	}
	if c.Else != nil {
		b.WriteString(" ELSE " + c.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

// Subquery is a subquery used as a scalar (Mode "scalar"), in EXISTS
// ("exists"), or as the set of x [NOT] IN ("in").
type Subquery struct {
	Mode string
	Plan any
	X    Expr // for "in"
	Not  bool
	// Correlated: the plan reads outer columns, so it is run per row;
	// otherwise its result is computed once per execution (Ctx keeps it).
	Correlated bool
}

// Eval runs the subquery.
func (s *Subquery) Eval(ctx *Ctx, row Row) (types.Value, error) {
	if ctx == nil || ctx.Sub == nil {
		return types.Null, fmt.Errorf("sql: subquery without a runner")
	}
	var rows []Row
	var err error
	limit := -1
	switch s.Mode {
	case "exists":
		limit = 1
	case "scalar":
		limit = 2
	}
	cached, ok := ctx.subCache[s]
	if !s.Correlated && ok {
		rows = cached
	} else {
		rows, err = ctx.Sub.Rows(ctx, s.Plan, row, limit)
		if err != nil {
			return types.Null, err
		}
		if !s.Correlated {
			if ctx.subCache == nil {
				ctx.subCache = make(map[*Subquery][]Row)
			}
			ctx.subCache[s] = rows
		}
	}
	switch s.Mode {
	case "exists":
		return types.NewBool((len(rows) > 0) != s.Not), nil
	case "scalar":
		if len(rows) > 1 {
			return types.Null, types.Errorf(1242, "21000", "Subquery returns more than 1 row")
		}
		if len(rows) == 0 {
			return types.Null, nil
		}
		if len(rows[0]) != 1 {
			return types.Null, types.Errorf(1241, "21000", "Operand should contain 1 column(s)")
		}
		return rows[0][0], nil
	}
	x, err := s.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	vals := make([]types.Value, len(rows))
	for i, r := range rows {
		if len(r) != 1 {
			return types.Null, types.Errorf(1241, "21000", "Operand should contain 1 column(s)")
		}
		vals[i] = r[0]
	}
	return inValues(x, vals, s.Not), nil
}

// String shows the subquery's mode.
func (s *Subquery) String() string {
	switch s.Mode {
	case "exists":
		if s.Not {
			return "NOT EXISTS(subquery)"
		}
		return "EXISTS(subquery)"
	case "in":
		if s.Not {
			return "(" + s.X.String() + " NOT IN (subquery))"
		}
		return "(" + s.X.String() + " IN (subquery))"
	}
	return "(subquery)"
}
