package expr

import (
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/strata-db/strata/sql/types"
)

// Between is x [NOT] BETWEEN lo AND hi: (x >= lo AND x <= hi), x
// evaluated once.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
}

// Eval tests the range.
func (b *Between) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := b.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	lo, err := b.Lo.Eval(ctx, row)
	if err != nil {
		return lo, err
	}
	hi, err := b.Hi.Eval(ctx, row)
	if err != nil {
		return hi, err
	}
	// x >= lo AND x <= hi, three-valued (FALSE wins over NULL), without
	// building an And per row.
	geT, geN := types.Truth(compareValues(GE, x, lo))
	leT, leN := types.Truth(compareValues(LE, x, hi))
	switch {
	case (!geT && !geN) || (!leT && !leN):
		return types.NewBool(b.Not), nil
	case geN || leN:
		return types.Null, nil
	}
	return types.NewBool(!b.Not), nil
}

// String shows (x [NOT] BETWEEN lo AND hi).
func (b *Between) String() string {
	not := ""
	if b.Not {
		not = "NOT "
	}
	return "(" + b.X.String() + " " + not + "BETWEEN " + b.Lo.String() + " AND " + b.Hi.String() + ")"
}

// Like is x [NOT] LIKE pattern [ESCAPE e]: % any run, _ one character,
// compared under the collation (case- and accent-insensitive) unless an
// operand is binary.
type Like struct {
	X, Pattern, Escape Expr
	Not                bool
}

// Eval matches.
func (l *Like) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := l.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	p, err := l.Pattern.Eval(ctx, row)
	if err != nil {
		return p, err
	}
	if x.IsNull() || p.IsNull() {
		return types.Null, nil
	}
	esc := '\\'
	if l.Escape != nil {
		e, err := l.Escape.Eval(ctx, row)
		if err != nil {
			return e, err
		}
		if s := e.String(); s != "" {
			esc, _ = utf8.DecodeRuneInString(s)
		}
	}
	fold := x.Kind() != types.KindBytes && p.Kind() != types.KindBytes
	m := likeMatch([]rune(x.String()), []rune(p.String()), esc, fold)
	return types.NewBool(m != l.Not), nil
}

func foldRune(r rune) string {
	return string(types.CollationKey(nil, string(r)))
}

func runeEq(a, b rune, fold bool) bool {
	if a == b {
		return true
	}
	return fold && foldRune(a) == foldRune(b)
}

// likeMatch matches s against pattern p (iterative, with backtracking to
// the last %: linear in practice, never exponential).
func likeMatch(s, p []rune, esc rune, fold bool) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			c := p[pi]
			switch {
			case c == esc && pi+1 < len(p):
				if runeEq(s[si], p[pi+1], fold) {
					si, pi = si+1, pi+2
					continue
				}
			case c == '%':
				star, mark = pi, si
				pi++
				continue
			case c == '_':
				si, pi = si+1, pi+1
				continue
			default:
				if runeEq(s[si], c, fold) {
					si, pi = si+1, pi+1
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		mark++
		si, pi = mark, star+1
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// String shows (x [NOT] LIKE p).
func (l *Like) String() string {
	not := ""
	if l.Not {
		not = "NOT "
	}
	return "(" + l.X.String() + " " + not + "LIKE " + l.Pattern.String() + ")"
}

// Regexp is x [NOT] REGEXP pattern (case-insensitive unless binary).
type Regexp struct {
	X, Pattern Expr
	Not        bool
}

// Eval matches.
func (r *Regexp) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := r.X.Eval(ctx, row)
	if err != nil {
		return x, err
	}
	p, err := r.Pattern.Eval(ctx, row)
	if err != nil {
		return p, err
	}
	if x.IsNull() || p.IsNull() {
		return types.Null, nil
	}
	pat := p.String()
	if x.Kind() != types.KindBytes && p.Kind() != types.KindBytes {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return types.Null, types.Errorf(3685, "HY000", "Illegal argument to a regular expression: %v", err)
	}
	return types.NewBool(re.MatchString(x.String()) != r.Not), nil
}

// String shows (x REGEXP p).
func (r *Regexp) String() string { return "(" + r.X.String() + " REGEXP " + r.Pattern.String() + ")" }

// Cast is CAST(x AS type): unlike storing into a column, a cast does not
// fail on a value that does not fit; it converts as MySQL's CAST does.
type Cast struct {
	X Expr
	// To is "signed", "unsigned", "decimal", "double", "char", "binary",
	// "date", "datetime", "time", "json".
	To           string
	Length       int // char(N), decimal(M)
	Scale        int // decimal(M,D)
	HasPrecision bool
}

// Eval converts.
func (c *Cast) Eval(ctx *Ctx, row Row) (types.Value, error) {
	v, err := c.X.Eval(ctx, row)
	if err != nil || v.IsNull() {
		return v, err
	}
	switch c.To {
	case "signed":
		if v.Kind() == types.KindUint {
			return types.NewInt(int64(v.Uint())), nil
		}
		if v.IsText() {
			f, _ := types.ToFloat(v)
			if f == math.Trunc(f) && math.Abs(f) < 9e18 {
				return types.NewInt(int64(f)), nil
			}
		}
		i, _, _ := types.ToInt(v)
		return types.NewInt(i), nil
	case "unsigned":
		if v.Kind() == types.KindInt {
			return types.NewUint(uint64(v.Int())), nil
		}
		if v.Kind() == types.KindUint {
			return v, nil
		}
		f, _ := types.ToFloat(v)
		if f < 0 {
			i, _, _ := types.ToInt(v)
			return types.NewUint(uint64(i)), nil
		}
		if f >= 1.8446744073709552e19 {
			return types.NewUint(math.MaxUint64), nil
		}
		d, _ := types.ToDecimal(v)
		var r apd.Decimal
		decCtx.Quantize(&r, d, 0)
		if r.Coeff.IsUint64() {
			return types.NewUint(r.Coeff.Uint64()), nil
		}
		return types.NewUint(uint64(f)), nil
	case "decimal":
		m, d := 10, 0
		if c.HasPrecision {
			m, d = c.Length, c.Scale
		}
		x, _ := types.ToDecimal(v)
		r := new(apd.Decimal)
		decCtx.Quantize(r, x, -int32(d))
		if r.NumDigits() > int64(m) { // clamp to the largest value of the type
			s := strings.Repeat("9", m-d)
			if d > 0 {
				s += "." + strings.Repeat("9", d)
			}
			r, _, _ = apd.NewFromString(s)
			if x.Negative {
				r.Negative = true
			}
		}
		return types.NewDecimal(r), nil
	case "double", "float", "real":
		f, _ := types.ToFloat(v)
		return types.NewFloat(f), nil
	case "char", "nchar":
		s := v.String()
		if c.Length > 0 && utf8.RuneCountInString(s) > c.Length {
			s = string([]rune(s)[:c.Length])
		}
		return types.NewString(s), nil
	case "binary":
		s := v.String()
		if c.Length > 0 && len(s) > c.Length {
			s = s[:c.Length]
		}
		return types.NewBytes([]byte(s)), nil
	case "date", "datetime":
		r, ok := asDatetime(v)
		if !ok {
			if v.IsNumeric() {
				r, ok = types.ParseDatetime(v.String())
			}
			if !ok {
				return types.Null, nil
			}
		}
		p := types.DateParts(r)
		if c.To == "date" {
			return types.NewDate(p.Year, p.Month, p.Day), nil
		}
		return types.NewDatetime(p), nil
	case "time":
		if v.Kind() == types.KindTime {
			return v, nil
		}
		if v.Kind() == types.KindDatetime {
			p := types.DateParts(v)
			return types.NewTime(((int64(p.Hour)*60+int64(p.Minute))*60+int64(p.Second))*1e6 + int64(p.Micro)), nil
		}
		r, ok := types.ParseTime(v.String())
		if !ok {
			return types.Null, nil
		}
		return r, nil
	case "json":
		return types.NewString(v.String()), nil
	}
	return types.Null, types.Errorf(1064, "42000", "CAST to %s is not supported", c.To)
}

// String shows CAST(x AS to).
func (c *Cast) String() string { return "CAST(" + c.X.String() + " AS " + strings.ToUpper(c.To) + ")" }

// Bit is a bit operation on unsigned 64-bit integers: & | ^ << >> and ~
// (Y nil).
type Bit struct {
	Op   string
	X, Y Expr
}

func toUint(v types.Value) uint64 {
	switch v.Kind() {
	case types.KindUint:
		return v.Uint()
	case types.KindInt:
		return uint64(v.Int())
	}
	i, _, _ := types.ToInt(v)
	return uint64(i)
}

// Eval computes the operation (NULL in, NULL out).
func (b *Bit) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := b.X.Eval(ctx, row)
	if err != nil || x.IsNull() {
		return x, err
	}
	if b.Y == nil {
		return types.NewUint(^toUint(x)), nil
	}
	y, err := b.Y.Eval(ctx, row)
	if err != nil || y.IsNull() {
		return y, err
	}
	a, c := toUint(x), toUint(y)
	switch b.Op {
	case "&":
		return types.NewUint(a & c), nil
	case "|":
		return types.NewUint(a | c), nil
	case "^":
		return types.NewUint(a ^ c), nil
	case "<<":
		if c >= 64 {
			return types.NewUint(0), nil
		}
		return types.NewUint(a << c), nil
	case ">>":
		if c >= 64 {
			return types.NewUint(0), nil
		}
		return types.NewUint(a >> c), nil
	}
	return types.Null, types.Errorf(1064, "42000", "unknown bit operator %s", b.Op)
}

// String shows (x op y).
func (b *Bit) String() string {
	if b.Y == nil {
		return "~" + b.X.String()
	}
	return "(" + b.X.String() + " " + b.Op + " " + b.Y.String() + ")"
}

// Variable reads a user or system variable.
type Variable struct {
	System bool
	Scope  string
	Name   string
}

// Eval reads the variable through the session.
func (v *Variable) Eval(ctx *Ctx, _ Row) (types.Value, error) {
	if ctx == nil || ctx.Session == nil {
		return types.Null, nil
	}
	return ctx.Session.Var(v.System, v.Scope, v.Name)
}

// String shows @name or @@name.
func (v *Variable) String() string {
	if v.System {
		return "@@" + v.Name
	}
	return "@" + v.Name
}

// DateAdd is date ± INTERVAL n unit (DATE_ADD, DATE_SUB, and + / - with an
// interval).
type DateAdd struct {
	X, N Expr
	Unit string
	Sub  bool
}

// Eval shifts the date.
func (d *DateAdd) Eval(ctx *Ctx, row Row) (types.Value, error) {
	x, err := d.X.Eval(ctx, row)
	if err != nil || x.IsNull() {
		return x, err
	}
	n, err := d.N.Eval(ctx, row)
	if err != nil || n.IsNull() {
		return types.Null, err
	}
	v, ok := asDatetime(x)
	if !ok {
		return types.Null, nil
	}
	k, _, _ := types.ToInt(n)
	if d.Sub {
		k = -k
	}
	p := types.DateParts(v)
	isDate := v.Kind() == types.KindDate
	switch d.Unit {
	case "year":
		p.Year += int(k)
	case "quarter":
		p.Month += int(k) * 3
	case "month":
		p.Month += int(k)
	case "week":
		return addDays(p, k*7, isDate), nil
	case "day":
		return addDays(p, k, isDate), nil
	case "hour", "minute", "second", "microsecond":
		mult := map[string]int64{"hour": 3600e6, "minute": 60e6, "second": 1e6, "microsecond": 1}[d.Unit]
		total := ((int64(p.Hour)*60+int64(p.Minute))*60+int64(p.Second))*1e6 + int64(p.Micro) + k*mult
		days := floorDiv(total, 86400e6)
		rem := total - days*86400e6
		q := addDays(types.Parts{Year: p.Year, Month: p.Month, Day: p.Day}, days, false)
		qp := types.DateParts(q)
		qp.Hour, qp.Minute, qp.Second, qp.Micro = int(rem/3600e6), int(rem/60e6%60), int(rem/1e6%60), int(rem%1e6)
		return types.NewDatetime(qp), nil
	default:
		return types.Null, types.Errorf(1064, "42000", "unsupported INTERVAL unit %s", d.Unit)
	}
	// Month arithmetic: normalize, clamp the day to the month's length.
	m := p.Year*12 + (p.Month - 1)
	p.Year, p.Month = m/12, m%12+1
	if p.Year < 0 || p.Year > 9999 {
		return types.Null, nil
	}
	if dim := daysInMonth(p.Year, p.Month); p.Day > dim {
		p.Day = dim
	}
	if isDate {
		return types.NewDate(p.Year, p.Month, p.Day), nil
	}
	return types.NewDatetime(p), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func daysInMonth(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// addDays moves a date by n days (through the day number).
func addDays(p types.Parts, n int64, isDate bool) types.Value {
	dn := dayNumber(p) + n
	y, m, d := fromDayNumber(dn)
	p.Year, p.Month, p.Day = y, m, d
	if isDate {
		return types.NewDate(y, m, d)
	}
	return types.NewDatetime(p)
}

// fromDayNumber inverts dayNumber.
func fromDayNumber(n int64) (int, int, int) {
	y := int((n - 60 + 1) * 400 / 146097)
	for dayNumber(types.Parts{Year: y + 1, Month: 1, Day: 1}) <= n {
		y++
	}
	for dayNumber(types.Parts{Year: y, Month: 1, Day: 1}) > n {
		y--
	}
	m := 1
	for m < 12 && dayNumber(types.Parts{Year: y, Month: m + 1, Day: 1}) <= n {
		m++
	}
	d := int(n-dayNumber(types.Parts{Year: y, Month: m, Day: 1})) + 1
	return y, m, d
}

// String shows DATE_ADD(x, INTERVAL n unit).
func (d *DateAdd) String() string {
	f := "DATE_ADD"
	if d.Sub {
		f = "DATE_SUB"
	}
	return f + "(" + d.X.String() + ", INTERVAL " + d.N.String() + " " + strings.ToUpper(d.Unit) + ")"
}
