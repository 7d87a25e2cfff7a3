package plan

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/types"
)

// scope is the columns an expression can name: the current row's, then
// the enclosing queries' (for correlated subqueries).
type scope struct {
	cols  []Column
	outer *scope
	// clause names the clause for error 1054 ("field list", "where
	// clause", ...).
	clause string
	// subst, when set, is tried on every expression before it is
	// compiled (aggregates and grouped expressions after GROUP BY).
	subst func(e ast.Expr) (expr.Expr, bool, error)
	// aliases are the select list's aliases (for HAVING and ORDER BY).
	aliases map[string]ast.Expr
}

func errUnknownColumn(name, clause string) error {
	return types.Errorf(1054, "42S22", "Unknown column '%s' in '%s'", name, clause)
}

// resolve finds a column reference: its position and depth.
func (s *scope) resolve(c *ast.ColName) (idx, depth int, col Column, err error) {
	for sc, d := s, 0; sc != nil; sc, d = sc.outer, d+1 {
		found := -1
		for i, col := range sc.cols {
			if !strings.EqualFold(col.Name, c.Name.Orig) {
				continue
			}
			if !c.Table.Name.Empty() {
				if !strings.EqualFold(col.Table, c.Table.Name.Orig) {
					continue
				}
				if !c.Table.DB.Empty() && col.DB != "" && !strings.EqualFold(col.DB, c.Table.DB.Orig) {
					continue
				}
			} else if col.Hidden {
				continue
			}
			if found >= 0 {
				if c.Table.Name.Empty() {
					return 0, 0, Column{}, types.Errorf(1052, "23000", "Column '%s' in %s is ambiguous", c.Name.Orig, s.clause)
				}
				continue
			}
			found = i
		}
		if found >= 0 {
			return found, d, sc.cols[found], nil
		}
	}
	return 0, 0, Column{}, errUnknownColumn(c.String(), s.clause)
}

// compiler compiles expressions; b plans subqueries.
func (b *builder) compile(e ast.Expr, sc *scope) (expr.Expr, error) {
	if sc.subst != nil {
		if r, ok, err := sc.subst(e); err != nil || ok {
			return r, err
		}
	}
	switch e := e.(type) {
	case *ast.Literal:
		v, err := literal(e)
		if err != nil {
			return nil, err
		}
		return &expr.Const{V: v}, nil
	case *ast.ColName:
		idx, depth, col, err := sc.resolve(e)
		if err != nil {
			if e.Table.Name.Empty() && sc.aliases != nil {
				if a, ok := sc.aliases[strings.ToLower(e.Name.Orig)]; ok {
					return b.compile(a, sc)
				}
			}
			return nil, err
		}
		name := col.Name
		if col.Table != "" {
			name = col.Table + "." + col.Name
		}
		if depth > 0 {
			b.correlated = true
		}
		return &expr.Column{Index: idx, Depth: depth, Name: name}, nil
	case *ast.Param:
		if e.Index+1 > b.params {
			b.params = e.Index + 1
		}
		return &expr.Param{Index: e.Index}, nil
	case *ast.Variable:
		return &expr.Variable{System: e.System, Scope: e.Scope, Name: e.Name}, nil
	case *ast.Unary:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "-":
			if c, ok := x.(*expr.Const); ok { // fold -literal: -9223372036854775808 is an int
				v, err := types.Neg(c.V)
				if err == nil {
					return &expr.Const{V: v}, nil
				}
			}
			return &expr.Neg{X: x}, nil
		case "+":
			return x, nil
		case "~":
			return &expr.Bit{Op: "~", X: x}, nil
		case "!", "not":
			return &expr.Not{X: x}, nil
		case "binary":
			return &expr.Cast{X: x, To: "binary"}, nil
		}
		return nil, unsupported("unary operator " + e.Op)
	case *ast.Binary:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		if iv, ok := e.Y.(*ast.Interval); ok && (e.Op == "+" || e.Op == "-") {
			n, err := b.compile(iv.X, sc)
			if err != nil {
				return nil, err
			}
			return &expr.DateAdd{X: x, N: n, Unit: iv.Unit, Sub: e.Op == "-"}, nil
		}
		y, err := b.compile(e.Y, sc)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "+":
			return &expr.Arith{Op: types.OpAdd, X: x, Y: y}, nil
		case "-":
			return &expr.Arith{Op: types.OpSub, X: x, Y: y}, nil
		case "*":
			return &expr.Arith{Op: types.OpMul, X: x, Y: y}, nil
		case "/":
			return &expr.Arith{Op: types.OpDiv, X: x, Y: y}, nil
		case "div":
			return &expr.Arith{Op: types.OpIntDiv, X: x, Y: y}, nil
		case "%", "mod":
			return &expr.Arith{Op: types.OpMod, X: x, Y: y}, nil
		case "&", "|", "^", "<<", ">>":
			return &expr.Bit{Op: e.Op, X: x, Y: y}, nil
		}
		return nil, unsupported("operator " + e.Op)
	case *ast.Compare:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		y, err := b.compile(e.Y, sc)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "like", "not like":
			l := &expr.Like{X: x, Pattern: y, Not: e.Op == "not like"}
			if e.Escape != nil {
				if l.Escape, err = b.compile(e.Escape, sc); err != nil {
					return nil, err
				}
			}
			return l, nil
		case "regexp", "not regexp", "rlike", "not rlike":
			return &expr.Regexp{X: x, Pattern: y, Not: strings.HasPrefix(e.Op, "not")}, nil
		}
		op, ok := map[string]expr.CmpOp{"=": expr.EQ, "<>": expr.NE, "!=": expr.NE, "<": expr.LT, "<=": expr.LE,
			">": expr.GT, ">=": expr.GE, "<=>": expr.NullSafeEQ}[e.Op]
		if !ok {
			return nil, unsupported("comparison " + e.Op)
		}
		return &expr.Cmp{Op: op, X: x, Y: y}, nil
	case *ast.Logic:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		y, err := b.compile(e.Y, sc)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "and":
			return &expr.And{X: x, Y: y}, nil
		case "or":
			return &expr.Or{X: x, Y: y}, nil
		}
		return &expr.Xor{X: x, Y: y}, nil
	case *ast.Not:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		return &expr.Not{X: x}, nil
	case *ast.IsExpr:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		return &expr.Is{X: x, What: e.What, Not: e.Not}, nil
	case *ast.In:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		if e.Subquery != nil {
			p, corr, err := b.subquery(e.Subquery.Query, sc)
			if err != nil {
				return nil, err
			}
			return &expr.Subquery{Mode: "in", Plan: p, X: x, Not: e.Not, Correlated: corr}, nil
		}
		list := make([]expr.Expr, len(e.List))
		for i, a := range e.List {
			if list[i], err = b.compile(a, sc); err != nil {
				return nil, err
			}
		}
		return &expr.In{X: x, List: list, Not: e.Not}, nil
	case *ast.Between:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		lo, err := b.compile(e.Lo, sc)
		if err != nil {
			return nil, err
		}
		hi, err := b.compile(e.Hi, sc)
		if err != nil {
			return nil, err
		}
		return &expr.Between{X: x, Lo: lo, Hi: hi, Not: e.Not}, nil
	case *ast.Case:
		c := &expr.Case{}
		var err error
		if e.Operand != nil {
			if c.Operand, err = b.compile(e.Operand, sc); err != nil {
				return nil, err
			}
		}
		for _, w := range e.Whens {
			cond, err := b.compile(w.Cond, sc)
			if err != nil {
				return nil, err
			}
			res, err := b.compile(w.Result, sc)
			if err != nil {
				return nil, err
			}
			c.Whens, c.Thens = append(c.Whens, cond), append(c.Thens, res)
		}
		if e.Else != nil {
			if c.Else, err = b.compile(e.Else, sc); err != nil {
				return nil, err
			}
		}
		return c, nil
	case *ast.Func:
		if isAggregate(e.Name) {
			return nil, types.Errorf(1111, "HY000", "Invalid use of group function")
		}
		args := make([]expr.Expr, len(e.Args))
		for i, a := range e.Args {
			if iv, ok := a.(*ast.Interval); ok && (e.Name == "date_add" || e.Name == "date_sub" || e.Name == "adddate" || e.Name == "subdate") && i == 1 {
				n, err := b.compile(iv.X, sc)
				if err != nil {
					return nil, err
				}
				return &expr.DateAdd{X: args[0], N: n, Unit: iv.Unit, Sub: e.Name == "date_sub" || e.Name == "subdate"}, nil
			}
			var err error
			if args[i], err = b.compile(a, sc); err != nil {
				return nil, err
			}
		}
		if (e.Name == "adddate" || e.Name == "subdate") && len(args) == 2 {
			return &expr.DateAdd{X: args[0], N: args[1], Unit: "day", Sub: e.Name == "subdate"}, nil
		}
		return expr.NewFunc(e.Name, args)
	case *ast.Cast:
		x, err := b.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		to := e.Type.Name
		switch to {
		case "integer", "int", "bigint":
			to = "signed"
			if e.Type.Unsigned {
				to = "unsigned"
			}
		case "varchar", "text", "nchar":
			to = "char"
		case "numeric", "dec", "fixed":
			to = "decimal"
		}
		c := &expr.Cast{X: x, To: to, Length: e.Type.Length, Scale: max(e.Type.Scale, 0)}
		if to == "decimal" && e.Type.Length > 0 {
			c.HasPrecision = true
		}
		return c, nil
	case *ast.Collate:
		return b.compile(e.X, sc)
	case *ast.Subquery:
		p, corr, err := b.subquery(e.Query, sc)
		if err != nil {
			return nil, err
		}
		return &expr.Subquery{Mode: "scalar", Plan: p, Correlated: corr}, nil
	case *ast.Exists:
		p, corr, err := b.subquery(e.Subquery.Query, sc)
		if err != nil {
			return nil, err
		}
		return &expr.Subquery{Mode: "exists", Plan: p, Correlated: corr}, nil
	case *ast.Tuple:
		if len(e.Exprs) == 1 {
			return b.compile(e.Exprs[0], sc)
		}
		return nil, unsupported("row constructors")
	case *ast.Default:
		return nil, unsupported("DEFAULT here")
	}
	return nil, unsupported(fmt.Sprintf("expression %T", e))
}

func unsupported(what string) error {
	return types.Errorf(1235, "42000", "This version of Strata doesn't yet support '%s'", what)
}

// subquery plans a subquery in the scope sc (its outer scope), reporting
// whether it reads sc's columns.
func (b *builder) subquery(q ast.Stmt, sc *scope) (Node, bool, error) {
	saved := b.correlated
	b.correlated = false
	n, err := b.buildQuery(q, sc)
	corr := b.correlated
	b.correlated = saved || corr
	return n, corr, err
}

// LiteralValue is the value of a literal, as a statement's constant has
// it (the session binds the values it takes out of a statement's shape
// with it: see parser.AppendValuesShape).
func LiteralValue(l *ast.Literal) (types.Value, error) { return literal(l) }

// literal converts a literal to a value.
func literal(l *ast.Literal) (types.Value, error) {
	switch l.Kind {
	case ast.LitNull:
		return types.Null, nil
	case ast.LitInt:
		if i, err := strconv.ParseInt(l.Text, 10, 64); err == nil {
			return types.NewInt(i), nil
		}
		if u, err := strconv.ParseUint(l.Text, 10, 64); err == nil {
			return types.NewUint(u), nil
		}
		d, _, err := apd.NewFromString(l.Text)
		if err != nil {
			return types.Null, types.Errorf(1064, "42000", "bad number %s", l.Text)
		}
		return types.NewDecimal(d), nil
	case ast.LitDecimal:
		d, _, err := apd.NewFromString(l.Text)
		if err != nil {
			return types.Null, types.Errorf(1064, "42000", "bad number %s", l.Text)
		}
		return types.NewDecimal(d), nil
	case ast.LitFloat:
		f, err := strconv.ParseFloat(l.Text, 64)
		if err != nil {
			return types.Null, types.Errorf(1367, "22007", "Illegal double '%s' value found during parsing", l.Text)
		}
		return types.NewFloat(f), nil
	case ast.LitString:
		return types.NewString(l.Text), nil
	case ast.LitHex:
		return types.NewBytes([]byte(l.Text)), nil
	case ast.LitBit:
		n, ok := new(big.Int).SetString(l.Text, 2)
		if !ok {
			return types.Null, types.Errorf(1064, "42000", "bad bit literal b'%s'", l.Text)
		}
		return types.NewBytes(n.Bytes()), nil
	case ast.LitBool:
		if l.Text == "1" || strings.EqualFold(l.Text, "true") {
			return types.NewInt(1), nil
		}
		return types.NewInt(0), nil
	case ast.LitDate:
		v, ok := types.ParseDatetime(l.Text)
		if !ok {
			return types.Null, types.Errorf(1525, "HY000", "Incorrect DATE value: '%s'", l.Text)
		}
		p := types.DateParts(v)
		return types.NewDate(p.Year, p.Month, p.Day), nil
	case ast.LitTimestamp:
		v, ok := types.ParseDatetime(l.Text)
		if !ok {
			return types.Null, types.Errorf(1525, "HY000", "Incorrect DATETIME value: '%s'", l.Text)
		}
		return types.AsDatetime(v), nil
	case ast.LitTime:
		v, ok := types.ParseTime(l.Text)
		if !ok {
			return types.Null, types.Errorf(1525, "HY000", "Incorrect TIME value: '%s'", l.Text)
		}
		return v, nil
	}
	return types.Null, unsupported("literal")
}

var aggregates = map[string]bool{"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"group_concat": true, "bit_and": true, "bit_or": true, "bit_xor": true, "std": true, "stddev": true,
	"stddev_pop": true, "stddev_samp": true, "variance": true, "var_pop": true, "var_samp": true, "any_value": true}

func isAggregate(name string) bool { return aggregates[name] }

// hasAggregate reports whether e calls an aggregate outside subqueries.
func hasAggregate(e ast.Expr) bool {
	found := false
	walk(e, func(x ast.Expr) bool {
		if f, ok := x.(*ast.Func); ok && isAggregate(f.Name) {
			found = true
			return false
		}
		_, sub := x.(*ast.Subquery)
		_, ex := x.(*ast.Exists)
		return !sub && !ex
	})
	return found
}

// walk visits e and its sub-expressions (not inside subqueries' queries),
// descending while fn returns true.
func walk(e ast.Expr, fn func(ast.Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch e := e.(type) {
	case *ast.Unary:
		walk(e.X, fn)
	case *ast.Binary:
		walk(e.X, fn)
		walk(e.Y, fn)
	case *ast.Compare:
		walk(e.X, fn)
		walk(e.Y, fn)
		walk(e.Escape, fn)
	case *ast.Logic:
		walk(e.X, fn)
		walk(e.Y, fn)
	case *ast.Not:
		walk(e.X, fn)
	case *ast.IsExpr:
		walk(e.X, fn)
	case *ast.In:
		walk(e.X, fn)
		for _, a := range e.List {
			walk(a, fn)
		}
	case *ast.Between:
		walk(e.X, fn)
		walk(e.Lo, fn)
		walk(e.Hi, fn)
	case *ast.Case:
		walk(e.Operand, fn)
		for _, w := range e.Whens {
			walk(w.Cond, fn)
			walk(w.Result, fn)
		}
		walk(e.Else, fn)
	case *ast.Func:
		for _, a := range e.Args {
			walk(a, fn)
		}
	case *ast.Cast:
		walk(e.X, fn)
	case *ast.Collate:
		walk(e.X, fn)
	case *ast.Tuple:
		for _, a := range e.Exprs {
			walk(a, fn)
		}
	case *ast.Interval:
		walk(e.X, fn)
	}
}

// exprKey is a canonical text of an expression, to match a select or
// ORDER BY expression with a GROUP BY one.
func exprKey(e ast.Expr) string {
	var b strings.Builder
	writeKey(&b, e)
	return b.String()
}

func writeKey(b *strings.Builder, e ast.Expr) {
	switch e := e.(type) {
	case nil:
		b.WriteString("nil")
	case *ast.Literal:
		fmt.Fprintf(b, "lit(%d,%q)", e.Kind, e.Text)
	case *ast.ColName:
		fmt.Fprintf(b, "col(%s.%s)", strings.ToLower(e.Table.Name.Orig), strings.ToLower(e.Name.Orig))
	case *ast.Param:
		fmt.Fprintf(b, "?%d", e.Index)
	case *ast.Unary:
		b.WriteString("u" + e.Op + "(")
		writeKey(b, e.X)
		b.WriteString(")")
	case *ast.Binary:
		b.WriteString("b" + e.Op + "(")
		writeKey(b, e.X)
		b.WriteString(",")
		writeKey(b, e.Y)
		b.WriteString(")")
	case *ast.Compare:
		b.WriteString("c" + e.Op + "(")
		writeKey(b, e.X)
		b.WriteString(",")
		writeKey(b, e.Y)
		b.WriteString(")")
	case *ast.Logic:
		b.WriteString("l" + e.Op + "(")
		writeKey(b, e.X)
		b.WriteString(",")
		writeKey(b, e.Y)
		b.WriteString(")")
	case *ast.Not:
		b.WriteString("not(")
		writeKey(b, e.X)
		b.WriteString(")")
	case *ast.Func:
		fmt.Fprintf(b, "f%s(%v,%v,", e.Name, e.Distinct, e.Star)
		for _, a := range e.Args {
			writeKey(b, a)
			b.WriteString(",")
		}
		b.WriteString(")")
	default:
		fmt.Fprintf(b, "%T%p", e, e) // anything else matches only itself
	}
}
