package expr

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/strata-db/strata/sql/types"
)

// Func is a scalar function call.
type Func struct {
	Name string
	Args []Expr
	def  *funcDef
}

// funcDef is a scalar function: its arity and its body. lazy functions
// (IF, COALESCE, ...) get their arguments unevaluated.
type funcDef struct {
	min, max int // max < 0: variadic
	eval     func(ctx *Ctx, args []types.Value) (types.Value, error)
	lazy     func(ctx *Ctx, row Row, args []Expr) (types.Value, error)
	// nullIn: any NULL argument makes the result NULL (checked before eval).
	nullIn bool
}

// NewFunc resolves a scalar function by name (lower case), checking its
// arity: MySQL's 1305 for an unknown function, 1582 for a wrong count.
func NewFunc(name string, args []Expr) (*Func, error) {
	d, ok := funcs[name]
	if !ok {
		return nil, types.Errorf(1305, "42000", "FUNCTION %s does not exist", name)
	}
	if len(args) < d.min || (d.max >= 0 && len(args) > d.max) {
		return nil, types.Errorf(1582, "42000", "Incorrect parameter count in the call to native function '%s'", name)
	}
	return &Func{Name: name, Args: args, def: d}, nil
}

// IsFunc reports whether name is a known scalar function.
func IsFunc(name string) bool { _, ok := funcs[name]; return ok }

// Eval calls the function.
func (f *Func) Eval(ctx *Ctx, row Row) (types.Value, error) {
	if f.def.lazy != nil {
		return f.def.lazy(ctx, row, f.Args)
	}
	var buf [4]types.Value
	args := buf[:0]
	for _, a := range f.Args {
		v, err := a.Eval(ctx, row)
		if err != nil {
			return v, err
		}
		if f.def.nullIn && v.IsNull() {
			return types.Null, nil
		}
		args = append(args, v)
	}
	return f.def.eval(ctx, args)
}

// String shows name(args).
func (f *Func) String() string {
	parts := make([]string, len(f.Args))
	for i, a := range f.Args {
		parts[i] = a.String()
	}
	return f.Name + "(" + strings.Join(parts, ", ") + ")"
}

func str(v types.Value) string { return v.String() }

func toInt(v types.Value) int64 {
	i, _, _ := types.ToInt(v)
	return i
}

func toFloat(v types.Value) float64 {
	f, _ := types.ToFloat(v)
	return f
}

// textResult keeps a binary argument's result binary.
func textResult(s string, like ...types.Value) types.Value {
	for _, v := range like {
		if v.Kind() == types.KindBytes {
			return types.NewBytes([]byte(s))
		}
	}
	return types.NewString(s)
}

func dec(d *apd.Decimal) types.Value { return types.NewDecimal(d) }

var decCtx = apd.Context{Precision: 96, MaxExponent: 2000, MinExponent: -2000, Rounding: apd.RoundHalfUp}

var funcs map[string]*funcDef

func init() {
	funcs = map[string]*funcDef{
		"abs": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			v := a[0]
			switch v.Kind() {
			case types.KindInt:
				if v.Int() < 0 {
					return types.Neg(v)
				}
				return v, nil
			case types.KindUint:
				return v, nil
			case types.KindDecimal:
				r := new(apd.Decimal)
				r.Abs(v.Decimal())
				return dec(r), nil
			}
			return types.NewFloat(math.Abs(toFloat(v))), nil
		}},
		"sign": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			c, _ := types.Compare(a[0], types.NewInt(0))
			return types.NewInt(int64(c)), nil
		}},
		"coalesce": {min: 1, max: -1, lazy: func(ctx *Ctx, row Row, args []Expr) (types.Value, error) {
			for _, e := range args {
				v, err := e.Eval(ctx, row)
				if err != nil || !v.IsNull() {
					return v, err
				}
			}
			return types.Null, nil
		}},
		"ifnull": {min: 2, max: 2, lazy: func(ctx *Ctx, row Row, args []Expr) (types.Value, error) {
			v, err := args[0].Eval(ctx, row)
			if err != nil || !v.IsNull() {
				return v, err
			}
			return args[1].Eval(ctx, row)
		}},
		"nullif": {min: 2, max: 2, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			if c, null := types.Compare(a[0], a[1]); !null && c == 0 {
				return types.Null, nil
			}
			return a[0], nil
		}},
		"if": {min: 3, max: 3, lazy: func(ctx *Ctx, row Row, args []Expr) (types.Value, error) {
			c, err := args[0].Eval(ctx, row)
			if err != nil {
				return c, err
			}
			if t, null := types.Truth(c); t && !null {
				return args[1].Eval(ctx, row)
			}
			return args[2].Eval(ctx, row)
		}},
		"isnull": {min: 1, max: 1, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			return types.NewBool(a[0].IsNull()), nil
		}},
		"greatest": {min: 2, max: -1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return extreme(a, 1), nil }},
		"least":    {min: 2, max: -1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return extreme(a, -1), nil }},
		"concat": {min: 1, max: -1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			var b strings.Builder
			for _, v := range a {
				b.WriteString(str(v))
			}
			return textResult(b.String(), a...), nil
		}},
		"concat_ws": {min: 2, max: -1, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			if a[0].IsNull() {
				return types.Null, nil
			}
			var parts []string
			for _, v := range a[1:] {
				if !v.IsNull() {
					parts = append(parts, str(v))
				}
			}
			return textResult(strings.Join(parts, str(a[0])), a...), nil
		}},
		"length":       {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return types.NewInt(int64(len(str(a[0])))), nil }},
		"octet_length": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return types.NewInt(int64(len(str(a[0])))), nil }},
		"char_length": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			if a[0].Kind() == types.KindBytes {
				return types.NewInt(int64(len(a[0].Str()))), nil
			}
			return types.NewInt(int64(utf8.RuneCountInString(str(a[0])))), nil
		}},
		"upper": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			if a[0].Kind() == types.KindBytes {
				return a[0], nil
			}
			return types.NewString(strings.ToUpper(str(a[0]))), nil
		}},
		"lower": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			if a[0].Kind() == types.KindBytes {
				return a[0], nil
			}
			return types.NewString(strings.ToLower(str(a[0]))), nil
		}},
		"substring": {min: 2, max: 3, nullIn: true, eval: substring},
		"left": {min: 2, max: 2, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			r := []rune(str(a[0]))
			n := max(0, min(int(toInt(a[1])), len(r)))
			return textResult(string(r[:n]), a[0]), nil
		}},
		"right": {min: 2, max: 2, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			r := []rune(str(a[0]))
			n := max(0, min(int(toInt(a[1])), len(r)))
			return textResult(string(r[len(r)-n:]), a[0]), nil
		}},
		"trim": {min: 1, max: 3, nullIn: true, eval: trimFunc},
		"ltrim": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			return textResult(strings.TrimLeft(str(a[0]), " "), a[0]), nil
		}},
		"rtrim": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			return textResult(strings.TrimRight(str(a[0]), " "), a[0]), nil
		}},
		"replace": {min: 3, max: 3, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			if str(a[1]) == "" {
				return textResult(str(a[0]), a[0]), nil
			}
			return textResult(strings.ReplaceAll(str(a[0]), str(a[1]), str(a[2])), a[0]), nil
		}},
		"repeat": {min: 2, max: 2, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			n := toInt(a[1])
			if n <= 0 {
				return textResult("", a[0]), nil
			}
			if int64(len(str(a[0])))*n > 64<<20 {
				return types.Null, nil // over max_allowed_packet: NULL, as MySQL
			}
			return textResult(strings.Repeat(str(a[0]), int(n)), a[0]), nil
		}},
		"reverse": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			r := []rune(str(a[0]))
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			return textResult(string(r), a[0]), nil
		}},
		"lpad": {min: 3, max: 3, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return pad(a, true) }},
		"rpad": {min: 3, max: 3, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return pad(a, false) }},
		"instr": {min: 2, max: 2, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			return types.NewInt(int64(runeIndex(str(a[0]), str(a[1])) + 1)), nil
		}},
		"locate": {min: 2, max: 3, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			s, sub := []rune(str(a[1])), str(a[0])
			start := 1
			if len(a) == 3 {
				start = int(toInt(a[2]))
			}
			if start < 1 || start > len(s)+1 {
				return types.NewInt(0), nil
			}
			i := runeIndex(string(s[start-1:]), sub)
			if i < 0 {
				return types.NewInt(0), nil
			}
			return types.NewInt(int64(i + start)), nil
		}},
		"ascii": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			s := str(a[0])
			if s == "" {
				return types.NewInt(0), nil
			}
			return types.NewInt(int64(s[0])), nil
		}},
		"hex": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			if a[0].IsNumeric() {
				return types.NewString(strings.ToUpper(strconv.FormatUint(uint64(toInt(a[0])), 16))), nil
			}
			return types.NewString(strings.ToUpper(hex.EncodeToString([]byte(str(a[0]))))), nil
		}},
		"unhex": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			b, err := hex.DecodeString(str(a[0]))
			if err != nil {
				return types.Null, nil
			}
			return types.NewBytes(b), nil
		}},
		"md5": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			h := md5.Sum([]byte(str(a[0])))
			return types.NewString(hex.EncodeToString(h[:])), nil
		}},
		"sha1": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			h := sha1.Sum([]byte(str(a[0])))
			return types.NewString(hex.EncodeToString(h[:])), nil
		}},
		"round":    {min: 1, max: 2, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return roundFunc(a, apd.RoundHalfUp) }},
		"truncate": {min: 2, max: 2, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return roundFunc(a, apd.RoundDown) }},
		"floor":    {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return floorCeil(a[0], apd.RoundFloor, math.Floor) }},
		"ceiling": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			return floorCeil(a[0], apd.RoundCeiling, math.Ceil)
		}},
		"mod": {min: 2, max: 2, eval: func(_ *Ctx, a []types.Value) (types.Value, error) { return types.Arith(types.OpMod, a[0], a[1]) }},
		"power": {min: 2, max: 2, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			r := math.Pow(toFloat(a[0]), toFloat(a[1]))
			if math.IsInf(r, 0) || math.IsNaN(r) {
				return types.Null, types.Errorf(1690, "22003", "DOUBLE value is out of range in 'pow(%s,%s)'", a[0], a[1])
			}
			return types.NewFloat(r), nil
		}},
		"sqrt": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			f := toFloat(a[0])
			if f < 0 {
				return types.Null, nil
			}
			return types.NewFloat(math.Sqrt(f)), nil
		}},
		"exp": {min: 1, max: 1, nullIn: true, eval: floatFn(math.Exp)},
		"ln":  {min: 1, max: 1, nullIn: true, eval: logFn(math.Log)},
		"log": {min: 1, max: 2, nullIn: true, eval: func(c *Ctx, a []types.Value) (types.Value, error) {
			if len(a) == 2 {
				b, x := toFloat(a[0]), toFloat(a[1])
				if b <= 0 || b == 1 || x <= 0 {
					return types.Null, nil
				}
				return types.NewFloat(math.Log(x) / math.Log(b)), nil
			}
			return logFn(math.Log)(c, a)
		}},
		"log2":    {min: 1, max: 1, nullIn: true, eval: logFn(math.Log2)},
		"log10":   {min: 1, max: 1, nullIn: true, eval: logFn(math.Log10)},
		"pi":      {min: 0, max: 0, eval: func(*Ctx, []types.Value) (types.Value, error) { return types.NewFloat(math.Pi), nil }},
		"sin":     {min: 1, max: 1, nullIn: true, eval: floatFn(math.Sin)},
		"cos":     {min: 1, max: 1, nullIn: true, eval: floatFn(math.Cos)},
		"tan":     {min: 1, max: 1, nullIn: true, eval: floatFn(math.Tan)},
		"atan":    {min: 1, max: 1, nullIn: true, eval: floatFn(math.Atan)},
		"degrees": {min: 1, max: 1, nullIn: true, eval: floatFn(func(x float64) float64 { return x * 180 / math.Pi })},
		"radians": {min: 1, max: 1, nullIn: true, eval: floatFn(func(x float64) float64 { return x * math.Pi / 180 })},
		"rand": {min: 0, max: 1, eval: func(*Ctx, []types.Value) (types.Value, error) {
			return types.NewFloat(rand.Float64()), nil
		}},
		"database": {min: 0, max: 0, eval: func(c *Ctx, _ []types.Value) (types.Value, error) {
			if c == nil || c.Session == nil || c.Session.Database() == "" {
				return types.Null, nil
			}
			return types.NewString(c.Session.Database()), nil
		}},
		"user": {min: 0, max: 0, eval: func(c *Ctx, _ []types.Value) (types.Value, error) {
			if c == nil || c.Session == nil {
				return types.NewString("root@localhost"), nil
			}
			return types.NewString(c.Session.User()), nil
		}},
		"version": {min: 0, max: 0, eval: func(*Ctx, []types.Value) (types.Value, error) {
			return types.NewString(ServerVersion), nil
		}},
		"connection_id": {min: 0, max: 0, eval: func(c *Ctx, _ []types.Value) (types.Value, error) {
			if c == nil || c.Session == nil {
				return types.NewUint(0), nil
			}
			return types.NewUint(c.Session.ConnectionID()), nil
		}},
		"last_insert_id": {min: 0, max: 1, eval: func(c *Ctx, a []types.Value) (types.Value, error) {
			if len(a) == 1 {
				return a[0], nil
			}
			if c == nil || c.Session == nil {
				return types.NewUint(0), nil
			}
			return types.NewUint(c.Session.LastInsertID()), nil
		}},
		"found_rows": {min: 0, max: 0, eval: func(c *Ctx, _ []types.Value) (types.Value, error) {
			if c == nil || c.Session == nil {
				return types.NewUint(0), nil
			}
			return types.NewUint(c.Session.FoundRows()), nil
		}},
		"row_count": {min: 0, max: 0, eval: func(c *Ctx, _ []types.Value) (types.Value, error) {
			if c == nil || c.Session == nil {
				return types.NewInt(-1), nil
			}
			return types.NewInt(c.Session.RowCount()), nil
		}},
		"now": {min: 0, max: 1, eval: func(c *Ctx, _ []types.Value) (types.Value, error) {
			if c == nil || c.Session == nil {
				return types.Null, fmt.Errorf("sql: NOW() without a session")
			}
			return c.Session.Now(), nil
		}},
		"curdate": {min: 0, max: 0, eval: func(c *Ctx, _ []types.Value) (types.Value, error) {
			if c == nil || c.Session == nil {
				return types.Null, fmt.Errorf("sql: CURDATE() without a session")
			}
			p := types.DateParts(c.Session.Now())
			return types.NewDate(p.Year, p.Month, p.Day), nil
		}},
		"year":   {min: 1, max: 1, nullIn: true, eval: datePart(func(p types.Parts) int { return p.Year })},
		"month":  {min: 1, max: 1, nullIn: true, eval: datePart(func(p types.Parts) int { return p.Month })},
		"day":    {min: 1, max: 1, nullIn: true, eval: datePart(func(p types.Parts) int { return p.Day })},
		"hour":   {min: 1, max: 1, nullIn: true, eval: datePart(func(p types.Parts) int { return p.Hour })},
		"minute": {min: 1, max: 1, nullIn: true, eval: datePart(func(p types.Parts) int { return p.Minute })},
		"second": {min: 1, max: 1, nullIn: true, eval: datePart(func(p types.Parts) int { return p.Second })},
		"date": {min: 1, max: 1, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			v, ok := asDatetime(a[0])
			if !ok {
				return types.Null, nil
			}
			p := types.DateParts(v)
			return types.NewDate(p.Year, p.Month, p.Day), nil
		}},
		"datediff": {min: 2, max: 2, nullIn: true, eval: func(_ *Ctx, a []types.Value) (types.Value, error) {
			x, ok1 := asDatetime(a[0])
			y, ok2 := asDatetime(a[1])
			if !ok1 || !ok2 {
				return types.Null, nil
			}
			return types.NewInt(dayNumber(types.DateParts(x)) - dayNumber(types.DateParts(y))), nil
		}},
	}
	// Aliases.
	funcs["substr"] = funcs["substring"]
	funcs["mid"] = funcs["substring"]
	funcs["ceil"] = funcs["ceiling"]
	funcs["pow"] = funcs["power"]
	funcs["character_length"] = funcs["char_length"]
	funcs["ucase"] = funcs["upper"]
	funcs["lcase"] = funcs["lower"]
	funcs["schema"] = funcs["database"]
	funcs["current_user"] = funcs["user"]
	funcs["session_user"] = funcs["user"]
	funcs["system_user"] = funcs["user"]
	funcs["current_timestamp"] = funcs["now"]
	funcs["localtimestamp"] = funcs["now"]
	funcs["localtime"] = funcs["now"]
	funcs["sysdate"] = funcs["now"]
	funcs["current_date"] = funcs["curdate"]
	funcs["dayofmonth"] = funcs["day"]
	funcs["position"] = funcs["locate"]
}

// ServerVersion is what VERSION() and the handshake report.
var ServerVersion = "8.0.30-Strata"

func extreme(a []types.Value, sign int) types.Value {
	best := a[0]
	for _, v := range a[1:] {
		if c, _ := types.Compare(v, best); c*sign > 0 {
			best = v
		}
	}
	return best
}

func substring(_ *Ctx, a []types.Value) (types.Value, error) {
	bin := a[0].Kind() == types.KindBytes
	var r []rune
	var b []byte
	n := 0
	if bin {
		b = []byte(a[0].Str())
		n = len(b)
	} else {
		r = []rune(str(a[0]))
		n = len(r)
	}
	pos := int(toInt(a[1]))
	switch {
	case pos > 0:
		pos--
	case pos < 0:
		pos += n
		if pos < 0 {
			return textResult("", a[0]), nil
		}
	default:
		return textResult("", a[0]), nil
	}
	if pos > n {
		pos = n
	}
	end := n
	if len(a) == 3 {
		l := int(toInt(a[2]))
		if l <= 0 {
			return textResult("", a[0]), nil
		}
		end = min(n, pos+l)
	}
	if bin {
		return types.NewBytes(b[pos:end]), nil
	}
	return types.NewString(string(r[pos:end])), nil
}

// trimFunc is TRIM([{BOTH|LEADING|TRAILING}] [remstr] FROM str): args are
// (str), (str, remstr) or (str, remstr, mode).
func trimFunc(_ *Ctx, a []types.Value) (types.Value, error) {
	s, rem, mode := str(a[0]), " ", "both"
	if len(a) >= 2 {
		rem = str(a[1])
	}
	if len(a) == 3 {
		mode = strings.ToLower(str(a[2]))
	}
	if rem == "" {
		return textResult(s, a[0]), nil
	}
	if mode == "both" || mode == "leading" {
		for strings.HasPrefix(s, rem) {
			s = s[len(rem):]
		}
	}
	if mode == "both" || mode == "trailing" {
		for strings.HasSuffix(s, rem) {
			s = s[:len(s)-len(rem)]
		}
	}
	return textResult(s, a[0]), nil
}

func pad(a []types.Value, left bool) (types.Value, error) {
	s, n, p := []rune(str(a[0])), int(toInt(a[1])), []rune(str(a[2]))
	if n < 0 {
		return types.Null, nil
	}
	if n <= len(s) {
		return textResult(string(s[:n]), a[0]), nil
	}
	if len(p) == 0 {
		return types.Null, nil
	}
	fill := make([]rune, 0, n-len(s))
	for len(fill) < n-len(s) {
		fill = append(fill, p[len(fill)%len(p)])
	}
	if left {
		return textResult(string(fill)+string(s), a[0]), nil
	}
	return textResult(string(s)+string(fill), a[0]), nil
}

func runeIndex(s, sub string) int {
	i := strings.Index(strings.ToLower(s), strings.ToLower(sub))
	if i < 0 {
		return -1
	}
	return utf8.RuneCountInString(strings.ToLower(s)[:i])
}

func roundFunc(a []types.Value, mode apd.Rounder) (types.Value, error) {
	d := int64(0)
	if len(a) == 2 {
		d = toInt(a[1])
	}
	d = max(min(d, 30), -60)
	v := a[0]
	switch v.Kind() {
	case types.KindInt, types.KindUint, types.KindDecimal:
		x, _ := types.ToDecimal(v)
		c := decCtx
		c.Rounding = mode
		r := new(apd.Decimal)
		if d >= 0 {
			if _, err := c.Quantize(r, x, -int32(d)); err != nil {
				return types.Null, err
			}
		} else {
			// Round to tens, hundreds...: divide, round, multiply.
			shift := apd.New(1, int32(-d))
			q := new(apd.Decimal)
			c.Quo(q, x, shift)
			c.Quantize(q, q, 0)
			c.Mul(r, q, shift)
			c.Quantize(r, r, 0)
		}
		if v.Kind() != types.KindDecimal {
			if i, err := r.Int64(); err == nil {
				if v.Kind() == types.KindUint && i >= 0 {
					return types.NewUint(uint64(i)), nil
				}
				return types.NewInt(i), nil
			}
		}
		return dec(r), nil
	}
	f := toFloat(v)
	p := math.Pow(10, float64(d))
	var r float64
	if mode == apd.RoundDown {
		r = math.Trunc(f*p) / p
	} else {
		r = math.RoundToEven(f*p) / p // doubles: the C library's rint
	}
	return types.NewFloat(r), nil
}

func floorCeil(v types.Value, mode apd.Rounder, f func(float64) float64) (types.Value, error) {
	switch v.Kind() {
	case types.KindInt, types.KindUint:
		return v, nil
	case types.KindDecimal:
		c := decCtx
		c.Rounding = mode
		r := new(apd.Decimal)
		c.Quantize(r, v.Decimal(), 0)
		if i, err := r.Int64(); err == nil {
			return types.NewInt(i), nil
		}
		return dec(r), nil
	}
	return types.NewFloat(f(toFloat(v))), nil
}

func floatFn(fn func(float64) float64) func(*Ctx, []types.Value) (types.Value, error) {
	return func(_ *Ctx, a []types.Value) (types.Value, error) {
		r := fn(toFloat(a[0]))
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return types.Null, nil
		}
		return types.NewFloat(r), nil
	}
}

func logFn(fn func(float64) float64) func(*Ctx, []types.Value) (types.Value, error) {
	return func(_ *Ctx, a []types.Value) (types.Value, error) {
		x := toFloat(a[0])
		if x <= 0 {
			return types.Null, nil
		}
		return types.NewFloat(fn(x)), nil
	}
}

func asDatetime(v types.Value) (types.Value, bool) {
	switch v.Kind() {
	case types.KindDate, types.KindDatetime:
		return v, true
	case types.KindTime:
		return v, false
	}
	return types.ParseDatetime(v.String())
}

func datePart(fn func(types.Parts) int) func(*Ctx, []types.Value) (types.Value, error) {
	return func(_ *Ctx, a []types.Value) (types.Value, error) {
		if a[0].Kind() == types.KindTime {
			return types.NewInt(int64(fn(types.DateParts(a[0])))), nil
		}
		v, ok := asDatetime(a[0])
		if !ok {
			return types.Null, nil
		}
		return types.NewInt(int64(fn(types.DateParts(v)))), nil
	}
}

// dayNumber counts days from year 0 (MySQL's TO_DAYS).
func dayNumber(p types.Parts) int64 {
	y, m, d := int64(p.Year), int64(p.Month), int64(p.Day)
	if m <= 2 {
		y--
		m += 12
	}
	return 365*y + y/4 - y/100 + y/400 + (153*(m-3)+2)/5 + d - 1 + 60
}
