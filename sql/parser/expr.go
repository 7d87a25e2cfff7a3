package parser

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"vitess.io/vitess/go/sqltypes"
	"vitess.io/vitess/go/vt/sqlparser"
)

// Functions that vitess parses into nodes of their own become ast.Func
// with MySQL's name and arguments in MySQL's order, except:
//
//   - a unit keyword (EXTRACT, TIMESTAMPDIFF, TIMESTAMPADD) is a first
//     argument, a string literal: extract('year', x), timestampdiff('day',
//     a, b), timestampadd('day', n, d);
//   - DATE_ADD/DATE_SUB/ADDDATE/SUBDATE take an *ast.Interval second
//     argument; date + INTERVAL n unit is a Binary "+" (or "-") with an
//     *ast.Interval operand;
//   - TRIM(LEADING r FROM s) is ltrim(s, r), TRIM(TRAILING r FROM s)
//     rtrim(s, r), TRIM([BOTH] r FROM s) trim(s, r);
//   - SUBSTRING(s FROM p FOR n), SUBSTR and MID are substring(s, p, n);
//     POSITION(a IN b) is locate(a, b);
//   - CONVERT(x USING cs) and _cs'literal' are casts to char with Charset
//     cs; _binary'x' and BINARY x casts to binary.

func (c *converter) exprs(es []sqlparser.Expr) []ast.Expr {
	if len(es) == 0 {
		return nil
	}
	out := make([]ast.Expr, 0, len(es))
	for _, e := range es {
		out = append(out, c.expr(e))
	}
	return out
}

// args converts function arguments up to the first absent one.
func (c *converter) args(es ...sqlparser.Expr) []ast.Expr {
	var out []ast.Expr
	for _, e := range es {
		if e == nil {
			break
		}
		out = append(out, c.expr(e))
	}
	return out
}

func fn(name string, args ...ast.Expr) *ast.Func { return &ast.Func{Name: name, Args: args} }

func unitLit(u sqlparser.IntervalType) *ast.Literal {
	return &ast.Literal{Kind: ast.LitString, Text: u.ToString()}
}

func (c *converter) aggr(name string, arg sqlparser.Expr, distinct bool, over *sqlparser.OverClause) ast.Expr {
	if over != nil {
		failUnsupported("window functions")
	}
	return &ast.Func{Name: name, Args: c.args(arg), Distinct: distinct}
}

func (c *converter) subquery(s *sqlparser.Subquery) *ast.Subquery {
	return &ast.Subquery{Query: c.query(s.Select)}
}

var binaryOps = map[sqlparser.BinaryExprOperator]string{
	sqlparser.BitAndOp: "&", sqlparser.BitOrOp: "|", sqlparser.BitXorOp: "^", sqlparser.PlusOp: "+",
	sqlparser.MinusOp: "-", sqlparser.MultOp: "*", sqlparser.DivOp: "/", sqlparser.IntDivOp: "div",
	sqlparser.ModOp: "%", sqlparser.ShiftLeftOp: "<<", sqlparser.ShiftRightOp: ">>",
}

var compareOps = map[sqlparser.ComparisonExprOperator]string{
	sqlparser.EqualOp: "=", sqlparser.LessThanOp: "<", sqlparser.GreaterThanOp: ">", sqlparser.LessEqualOp: "<=",
	sqlparser.GreaterEqualOp: ">=", sqlparser.NotEqualOp: "<>", sqlparser.NullSafeEqualOp: "<=>",
	sqlparser.LikeOp: "like", sqlparser.NotLikeOp: "not like", sqlparser.RegexpOp: "regexp", sqlparser.NotRegexpOp: "not regexp",
}

// expr converts an expression (nil for nil).
func (c *converter) expr(e sqlparser.Expr) ast.Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *sqlparser.Literal:
		return literal(e)
	case *sqlparser.NullVal:
		return &ast.Literal{Kind: ast.LitNull, Text: "NULL"}
	case sqlparser.BoolVal:
		if e {
			return &ast.Literal{Kind: ast.LitBool, Text: "1"}
		}
		return &ast.Literal{Kind: ast.LitBool, Text: "0"}
	case *sqlparser.ColName:
		return &ast.ColName{Table: tableName(e.Qualifier), Name: name(e.Name)}
	case *sqlparser.Argument:
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name, "v"))
		if err != nil || !strings.HasPrefix(e.Name, "v") || n < 1 {
			failUnsupported("named parameters")
		}
		c.nparams = max(c.nparams, n)
		return &ast.Param{Index: n - 1}
	case *sqlparser.Variable:
		return c.variable(e)
	case *sqlparser.AndExpr:
		return &ast.Logic{Op: "and", X: c.expr(e.Left), Y: c.expr(e.Right)}
	case *sqlparser.OrExpr:
		return &ast.Logic{Op: "or", X: c.expr(e.Left), Y: c.expr(e.Right)}
	case *sqlparser.XorExpr:
		return &ast.Logic{Op: "xor", X: c.expr(e.Left), Y: c.expr(e.Right)}
	case *sqlparser.NotExpr:
		return &ast.Not{X: c.expr(e.Expr)}
	case *sqlparser.ComparisonExpr:
		if e.Modifier != sqlparser.Missing {
			failUnsupported("ANY, SOME and ALL comparisons with a subquery")
		}
		switch e.Operator {
		case sqlparser.InOp, sqlparser.NotInOp:
			in := &ast.In{X: c.expr(e.Left), Not: e.Operator == sqlparser.NotInOp}
			switch r := e.Right.(type) {
			case sqlparser.ValTuple:
				in.List = c.exprs(r)
			case *sqlparser.Subquery:
				in.Subquery = c.subquery(r)
			default:
				failUnsupported("IN of this form")
			}
			return in
		}
		op, ok := compareOps[e.Operator]
		if !ok {
			failUnsupported("comparison operator %s", e.Operator.ToString())
		}
		return &ast.Compare{Op: op, X: c.expr(e.Left), Y: c.expr(e.Right), Escape: c.expr(e.Escape)}
	case *sqlparser.BetweenExpr:
		return &ast.Between{X: c.expr(e.Left), Lo: c.expr(e.From), Hi: c.expr(e.To), Not: !e.IsBetween}
	case *sqlparser.IsExpr:
		x := c.expr(e.Left)
		switch e.Right {
		case sqlparser.IsNullOp:
			return &ast.IsExpr{X: x, What: "null"}
		case sqlparser.IsNotNullOp:
			return &ast.IsExpr{X: x, Not: true, What: "null"}
		case sqlparser.IsTrueOp:
			return &ast.IsExpr{X: x, What: "true"}
		case sqlparser.IsNotTrueOp:
			return &ast.IsExpr{X: x, Not: true, What: "true"}
		case sqlparser.IsFalseOp:
			return &ast.IsExpr{X: x, What: "false"}
		case sqlparser.IsNotFalseOp:
			return &ast.IsExpr{X: x, Not: true, What: "false"}
		}
	case *sqlparser.ExistsExpr:
		return &ast.Exists{Subquery: c.subquery(e.Subquery)}
	case *sqlparser.Subquery:
		return c.subquery(e)
	case sqlparser.ValTuple:
		return &ast.Tuple{Exprs: c.exprs(e)}
	case *sqlparser.BinaryExpr:
		return &ast.Binary{Op: binaryOps[e.Operator], X: c.expr(e.Left), Y: c.expr(e.Right)}
	case *sqlparser.UnaryExpr:
		x := c.expr(e.Expr)
		switch e.Operator {
		case sqlparser.UPlusOp, sqlparser.NStringOp:
			return x
		case sqlparser.UMinusOp:
			return &ast.Unary{Op: "-", X: x}
		case sqlparser.TildaOp:
			return &ast.Unary{Op: "~", X: x}
		case sqlparser.BangOp:
			return &ast.Unary{Op: "!", X: x}
		}
	case *sqlparser.IntroducerExpr:
		x := c.expr(e.Expr)
		cs := strings.ToLower(strings.TrimPrefix(e.CharacterSet, "_"))
		if cs == "binary" {
			return &ast.Cast{X: x, Type: ast.TypeSpec{Name: "binary", Length: -1, Scale: -1}}
		}
		return &ast.Cast{X: x, Type: ast.TypeSpec{Name: "char", Length: -1, Scale: -1, Charset: cs}}
	case *sqlparser.CollateExpr:
		return &ast.Collate{X: c.expr(e.Expr), Name: strings.ToLower(e.Collation)}
	case *sqlparser.FuncExpr:
		if !e.Qualifier.IsEmpty() {
			failUnsupported("stored functions")
		}
		return &ast.Func{Name: e.Name.Lowered(), Args: c.exprs(e.Exprs)}
	case *sqlparser.CountStar:
		if e.OverClause != nil {
			failUnsupported("window functions")
		}
		return &ast.Func{Name: "count", Star: true}
	case *sqlparser.Count:
		if e.OverClause != nil {
			failUnsupported("window functions")
		}
		return &ast.Func{Name: "count", Args: c.exprs(e.Args), Distinct: e.Distinct}
	case *sqlparser.Sum:
		return c.aggr("sum", e.Arg, e.Distinct, e.OverClause)
	case *sqlparser.Avg:
		return c.aggr("avg", e.Arg, e.Distinct, e.OverClause)
	case *sqlparser.Min:
		return c.aggr("min", e.Arg, e.Distinct, e.OverClause)
	case *sqlparser.Max:
		return c.aggr("max", e.Arg, e.Distinct, e.OverClause)
	case *sqlparser.BitAnd:
		return c.aggr("bit_and", e.Arg, false, e.OverClause)
	case *sqlparser.BitOr:
		return c.aggr("bit_or", e.Arg, false, e.OverClause)
	case *sqlparser.BitXor:
		return c.aggr("bit_xor", e.Arg, false, e.OverClause)
	case *sqlparser.Std:
		return c.aggr("std", e.Arg, false, e.OverClause)
	case *sqlparser.StdDev:
		return c.aggr("stddev", e.Arg, false, e.OverClause)
	case *sqlparser.StdPop:
		return c.aggr("stddev_pop", e.Arg, false, e.OverClause)
	case *sqlparser.StdSamp:
		return c.aggr("stddev_samp", e.Arg, false, e.OverClause)
	case *sqlparser.VarPop:
		return c.aggr("var_pop", e.Arg, false, e.OverClause)
	case *sqlparser.VarSamp:
		return c.aggr("var_samp", e.Arg, false, e.OverClause)
	case *sqlparser.Variance:
		return c.aggr("variance", e.Arg, false, e.OverClause)
	case *sqlparser.AnyValue:
		return fn("any_value", c.expr(e.Arg))
	case *sqlparser.GroupConcatExpr:
		if e.Limit != nil {
			failUnsupported("LIMIT in GROUP_CONCAT")
		}
		f := &ast.Func{Name: "group_concat", Args: c.exprs(e.Exprs), Distinct: e.Distinct}
		f.OrderBy = c.orderBy(e.OrderBy)
		if e.Separator != "" {
			sep, err := sqltypes.DecodeStringSQL(e.Separator)
			if err != nil {
				failUnsupported("this SEPARATOR")
			}
			f.Separator = &sep
		}
		return f
	case *sqlparser.CastExpr:
		if e.Array {
			failUnsupported("CAST ... ARRAY")
		}
		return &ast.Cast{X: c.expr(e.Expr), Type: convertType(e.Type)}
	case *sqlparser.ConvertExpr:
		return &ast.Cast{X: c.expr(e.Expr), Type: convertType(e.Type)}
	case *sqlparser.ConvertUsingExpr:
		return &ast.Cast{X: c.expr(e.Expr), Type: ast.TypeSpec{Name: "char", Length: -1, Scale: -1, Charset: strings.ToLower(e.Type)}}
	case *sqlparser.SubstrExpr:
		return fn("substring", c.args(e.Name, e.From, e.To)...)
	case *sqlparser.TrimFuncExpr:
		switch e.TrimFuncType {
		case sqlparser.LTrimType:
			return fn("ltrim", c.expr(e.StringArg))
		case sqlparser.RTrimType:
			return fn("rtrim", c.expr(e.StringArg))
		}
		args := c.args(e.StringArg, e.TrimArg)
		switch e.Type {
		case sqlparser.LeadingTrimType:
			return fn("ltrim", args...)
		case sqlparser.TrailingTrimType:
			return fn("rtrim", args...)
		}
		return fn("trim", args...)
	case *sqlparser.IntervalDateExpr:
		date := c.expr(e.Date)
		iv := &ast.Interval{X: c.expr(e.Interval), Unit: e.Unit.ToString()}
		switch e.Syntax {
		case sqlparser.IntervalDateExprDateAdd:
			return fn("date_add", date, iv)
		case sqlparser.IntervalDateExprDateSub:
			return fn("date_sub", date, iv)
		case sqlparser.IntervalDateExprAdddate:
			return fn("adddate", date, iv)
		case sqlparser.IntervalDateExprSubdate:
			return fn("subdate", date, iv)
		case sqlparser.IntervalDateExprBinaryAdd:
			return &ast.Binary{Op: "+", X: date, Y: iv}
		case sqlparser.IntervalDateExprBinaryAddLeft:
			return &ast.Binary{Op: "+", X: iv, Y: date}
		case sqlparser.IntervalDateExprBinarySub:
			return &ast.Binary{Op: "-", X: date, Y: iv}
		case sqlparser.IntervalDateExprTimestampadd:
			return fn("timestampadd", unitLit(e.Unit), iv.X, date)
		}
	case *sqlparser.ExtractFuncExpr:
		return fn("extract", unitLit(e.IntervalType), c.expr(e.Expr))
	case *sqlparser.TimestampDiffExpr:
		return fn("timestampdiff", unitLit(e.Unit), c.expr(e.Expr1), c.expr(e.Expr2))
	case *sqlparser.CurTimeFuncExpr:
		f := fn(e.Name.Lowered())
		if e.Fsp > 0 {
			f.Args = []ast.Expr{&ast.Literal{Kind: ast.LitInt, Text: strconv.Itoa(e.Fsp)}}
		}
		return f
	case *sqlparser.LocateExpr:
		return fn("locate", c.args(e.SubStr, e.Str, e.Pos)...)
	case *sqlparser.CharExpr:
		if e.Charset != "" {
			failUnsupported("CHAR ... USING")
		}
		return fn("char", c.exprs(e.Exprs)...)
	case *sqlparser.InsertExpr:
		return fn("insert", c.args(e.Str, e.Pos, e.Len, e.NewStr)...)
	case *sqlparser.IntervalFuncExpr:
		return fn("interval", append([]ast.Expr{c.expr(e.Expr)}, c.exprs(e.Exprs)...)...)
	case *sqlparser.WeightStringFuncExpr:
		if e.As != nil {
			failUnsupported("WEIGHT_STRING ... AS")
		}
		return fn("weight_string", c.expr(e.Expr))
	case *sqlparser.CaseExpr:
		out := &ast.Case{Operand: c.expr(e.Expr)}
		for _, w := range e.Whens {
			out.Whens = append(out.Whens, ast.When{Cond: c.expr(w.Cond), Result: c.expr(w.Val)})
		}
		out.Else = c.expr(e.Else)
		return out
	case *sqlparser.ValuesFuncExpr:
		return &ast.ValuesFunc{Column: name(e.Name.Name)}
	case *sqlparser.Default:
		return &ast.Default{Column: ast.NewName(e.ColName)}
	case *sqlparser.RegexpLikeExpr:
		return fn("regexp_like", c.args(e.Expr, e.Pattern, e.MatchType)...)
	case *sqlparser.RegexpInstrExpr:
		return fn("regexp_instr", c.args(e.Expr, e.Pattern, e.Position, e.Occurrence, e.ReturnOption, e.MatchType)...)
	case *sqlparser.RegexpReplaceExpr:
		return fn("regexp_replace", c.args(e.Expr, e.Pattern, e.Repl, e.Position, e.Occurrence, e.MatchType)...)
	case *sqlparser.RegexpSubstrExpr:
		return fn("regexp_substr", c.args(e.Expr, e.Pattern, e.Position, e.Occurrence, e.MatchType)...)
	case *sqlparser.JSONExtractExpr:
		return fn("json_extract", append([]ast.Expr{c.expr(e.JSONDoc)}, c.exprs(e.PathList)...)...)
	case *sqlparser.JSONUnquoteExpr:
		return fn("json_unquote", c.expr(e.JSONValue))
	case *sqlparser.JSONArrayExpr:
		return fn("json_array", c.exprs(e.Params)...)
	case *sqlparser.JSONObjectExpr:
		f := fn("json_object")
		for _, p := range e.Params {
			f.Args = append(f.Args, c.expr(p.Key), c.expr(p.Value))
		}
		return f
	case *sqlparser.JSONQuoteExpr:
		return fn("json_quote", c.expr(e.StringArg))
	case *sqlparser.JSONContainsExpr:
		return fn("json_contains", append(c.args(e.Target, e.Candidate), c.exprs(e.PathList)...)...)
	case *sqlparser.JSONKeysExpr:
		return fn("json_keys", c.args(e.JSONDoc, e.Path)...)
	case *sqlparser.LockingFunc:
		names := map[sqlparser.LockingFuncType]string{sqlparser.GetLock: "get_lock", sqlparser.IsFreeLock: "is_free_lock",
			sqlparser.IsUsedLock: "is_used_lock", sqlparser.ReleaseAllLocks: "release_all_locks", sqlparser.ReleaseLock: "release_lock"}
		return fn(names[e.Type], c.args(e.Name, e.Timeout)...)
	case *sqlparser.AssignmentExpr:
		failUnsupported(":= in expressions")
	case *sqlparser.MatchExpr:
		failUnsupported("MATCH ... AGAINST")
	case *sqlparser.ArgumentLessWindowExpr, *sqlparser.FirstOrLastValueExpr, *sqlparser.NtileExpr,
		*sqlparser.NTHValueExpr, *sqlparser.LagLeadExpr:
		failUnsupported("window functions")
	}
	failUnsupported("%s", truncate(sqlparser.String(e), 64))
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// literal converts a constant.
func literal(l *sqlparser.Literal) *ast.Literal {
	switch l.Type {
	case sqlparser.StrVal:
		return &ast.Literal{Kind: ast.LitString, Text: l.Val}
	case sqlparser.IntVal:
		return &ast.Literal{Kind: ast.LitInt, Text: l.Val}
	case sqlparser.DecimalVal:
		return &ast.Literal{Kind: ast.LitDecimal, Text: l.Val}
	case sqlparser.FloatVal:
		return &ast.Literal{Kind: ast.LitFloat, Text: l.Val}
	case sqlparser.HexNum, sqlparser.HexVal:
		h := l.Val
		if l.Type == sqlparser.HexNum {
			h = h[2:]
		}
		if len(h)%2 == 1 {
			h = "0" + h
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			failUnsupported("this hexadecimal literal")
		}
		return &ast.Literal{Kind: ast.LitHex, Text: string(b)}
	case sqlparser.BitNum:
		bits := strings.TrimPrefix(strings.TrimPrefix(l.Val, "0b"), "0B")
		return &ast.Literal{Kind: ast.LitBit, Text: bits}
	case sqlparser.DateVal:
		return &ast.Literal{Kind: ast.LitDate, Text: l.Val}
	case sqlparser.TimeVal:
		return &ast.Literal{Kind: ast.LitTime, Text: l.Val}
	case sqlparser.TimestampVal:
		return &ast.Literal{Kind: ast.LitTimestamp, Text: l.Val}
	}
	failUnsupported("this literal")
	return nil
}

// variable converts @user and @@system variables.
func (c *converter) variable(v *sqlparser.Variable) *ast.Variable {
	n := v.Name.Lowered()
	switch v.Scope {
	case sqlparser.VariableScope:
		return &ast.Variable{Name: n}
	case sqlparser.GlobalScope:
		return &ast.Variable{System: true, Scope: "global", Name: n}
	case sqlparser.SessionScope, sqlparser.NextTxScope, sqlparser.NoScope:
		out := &ast.Variable{System: true, Name: n}
		if c.explicitSession[n] {
			out.Scope = "session"
		}
		return out
	}
	failUnsupported("this variable scope")
	return nil
}

// convertType converts the type of CAST and CONVERT.
func convertType(t *sqlparser.ConvertType) ast.TypeSpec {
	out := ast.TypeSpec{Name: strings.ToLower(t.Type), Length: -1, Scale: -1, Charset: strings.ToLower(t.Charset.Name)}
	if t.Length != nil {
		out.Length = *t.Length
	}
	if t.Scale != nil {
		out.Scale = *t.Scale
	}
	if t.Charset.Binary {
		out.Collate = "binary"
	}
	return out
}
