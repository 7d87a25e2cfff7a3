package types

import (
	"math"
	"math/bits"

	"github.com/cockroachdb/apd/v3"
)

// Arithmetic follows MySQL's result types:
//
//   - +, -, * of two integers is an integer (unsigned if either operand is
//     unsigned); overflow is error 1690, never a wrapped result.
//   - An operand that is a double, or a string (read as a double), makes
//     the result a double.
//   - Otherwise (a decimal with an integer or decimal) the result is an
//     exact decimal.
//   - / is decimal division (its scale the dividend's plus 4, MySQL's
//     div_precision_increment), or double division when an operand is a
//     double; DIV is integer division; % and MOD keep the operands' kind.
//   - Division by zero is NULL.
//   - NULL with anything is NULL.

// Op is an arithmetic operator.
type Op uint8

// The arithmetic operators.
const (
	OpAdd Op = iota
	OpSub
	OpMul
	OpDiv    // /
	OpIntDiv // DIV
	OpMod    // % and MOD
)

var opText = [...]string{"+", "-", "*", "/", "DIV", "%"}

// numClass is the kind an arithmetic result takes.
type numClass uint8

const (
	classInt numClass = iota
	classDecimal
	classFloat
)

func classOf(v Value) numClass {
	switch v.kind {
	case KindInt, KindUint:
		return classInt
	case KindDecimal:
		return classDecimal
	case KindDate, KindDatetime, KindTime:
		p := DateParts(v)
		if p.Micro != 0 {
			return classDecimal
		}
		return classInt
	}
	return classFloat
}

// asInteger returns an integer-class value as Int or Uint.
func asInteger(v Value) Value {
	if isInteger(v) {
		return v
	}
	d := temporalNumber(v)
	i, _ := d.Int64()
	return NewInt(i)
}

// Arith computes a op b.
func Arith(op Op, a, b Value) (Value, error) {
	if a.kind == KindNull || b.kind == KindNull {
		return Null, nil
	}
	ca, cb := classOf(a), classOf(b)
	cls := max(ca, cb)
	if op == OpDiv && cls == classInt {
		cls = classDecimal
	}
	switch cls {
	case classInt:
		return intArith(op, asInteger(a), asInteger(b))
	case classDecimal:
		return decimalArith(op, a, b)
	}
	fa, _ := ToFloat(a)
	fb, _ := ToFloat(b)
	var r float64
	switch op {
	case OpAdd:
		r = fa + fb
	case OpSub:
		r = fa - fb
	case OpMul:
		r = fa * fb
	case OpDiv:
		if fb == 0 {
			return Null, nil
		}
		r = fa / fb
	case OpIntDiv:
		if fb == 0 {
			return Null, nil
		}
		q := math.Trunc(fa / fb)
		if q >= 9.223372036854775807e18 || q < -9.223372036854775808e18 || math.IsNaN(q) {
			return Null, Errorf(ErrBigintOutOfRange, "22003", "BIGINT value is out of range in '(%s DIV %s)'", a, b)
		}
		return NewInt(int64(q)), nil
	case OpMod:
		if fb == 0 {
			return Null, nil
		}
		r = math.Mod(fa, fb)
	}
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return Null, Errorf(ErrBigintOutOfRange, "22003", "DOUBLE value is out of range in '(%s %s %s)'", a, opText[op], b)
	}
	return NewFloat(r), nil
}

func intArith(op Op, a, b Value) (Value, error) {
	unsigned := a.kind == KindUint || b.kind == KindUint
	overflow := func() (Value, error) {
		what := "BIGINT"
		if unsigned {
			what = "BIGINT UNSIGNED"
		}
		return Null, Errorf(ErrBigintOutOfRange, "22003", "%s value is out of range in '(%s %s %s)'", what, a, opText[op], b)
	}
	if op == OpIntDiv || op == OpMod {
		if b.num == 0 {
			return Null, nil
		}
	}
	if !unsigned {
		x, y := a.Int(), b.Int()
		switch op {
		case OpAdd:
			r := x + y
			if (r > x) != (y > 0) {
				return overflow()
			}
			return NewInt(r), nil
		case OpSub:
			r := x - y
			if (r < x) != (y > 0) {
				return overflow()
			}
			return NewInt(r), nil
		case OpMul:
			if x == 0 || y == 0 {
				return NewInt(0), nil
			}
			r := x * y
			if r/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
				return overflow()
			}
			return NewInt(r), nil
		case OpIntDiv:
			if x == math.MinInt64 && y == -1 {
				return overflow()
			}
			return NewInt(x / y), nil
		case OpMod:
			if y == -1 {
				return NewInt(0), nil
			}
			return NewInt(x % y), nil
		}
	}
	// At least one unsigned operand: the result is unsigned; a negative
	// result is an overflow.
	neg := func(v Value) bool { return v.kind == KindInt && v.Int() < 0 }
	mag := func(v Value) uint64 {
		if neg(v) {
			return uint64(-v.Int())
		}
		return v.num
	}
	switch op {
	case OpAdd:
		switch {
		case !neg(a) && !neg(b):
			s, carry := bits.Add64(a.num, b.num, 0)
			if carry != 0 {
				return overflow()
			}
			return NewUint(s), nil
		case neg(a):
			if mag(a) > b.num {
				return overflow()
			}
			return NewUint(b.num - mag(a)), nil
		default:
			if mag(b) > a.num {
				return overflow()
			}
			return NewUint(a.num - mag(b)), nil
		}
	case OpSub:
		if neg(b) {
			s, carry := bits.Add64(a.num, mag(b), 0)
			if carry != 0 || neg(a) {
				return overflow()
			}
			return NewUint(s), nil
		}
		if neg(a) || a.num < b.num {
			return overflow()
		}
		return NewUint(a.num - b.num), nil
	case OpMul:
		if a.num == 0 || b.num == 0 {
			return NewUint(0), nil
		}
		if neg(a) || neg(b) {
			return overflow()
		}
		hi, lo := bits.Mul64(a.num, b.num)
		if hi != 0 {
			return overflow()
		}
		return NewUint(lo), nil
	case OpIntDiv:
		if neg(a) != neg(b) && mag(a) >= mag(b) {
			return overflow()
		}
		return NewUint(mag(a) / mag(b)), nil
	case OpMod:
		r := mag(a) % mag(b)
		if neg(a) {
			return NewInt(-int64(r)), nil
		}
		return NewUint(r), nil
	}
	return Null, nil
}

func decimalArith(op Op, a, b Value) (Value, error) {
	x, _ := ToDecimal(a)
	y, _ := ToDecimal(b)
	r := new(apd.Decimal)
	var err error
	switch op {
	case OpAdd:
		_, err = decimalContext.Add(r, x, y)
	case OpSub:
		_, err = decimalContext.Sub(r, x, y)
	case OpMul:
		_, err = decimalContext.Mul(r, x, y)
	case OpDiv:
		if y.IsZero() {
			return Null, nil
		}
		_, err = decimalContext.Quo(r, x, y)
		if err == nil {
			scale := max(int32(0), -x.Exponent) + 4
			_, err = decimalContext.Quantize(r, r, -scale)
		}
	case OpIntDiv:
		if y.IsZero() {
			return Null, nil
		}
		_, err = decimalContext.QuoInteger(r, x, y)
		if err == nil {
			i, ierr := r.Int64()
			if ierr != nil {
				return Null, Errorf(ErrBigintOutOfRange, "22003", "BIGINT value is out of range in '(%s DIV %s)'", a, b)
			}
			return NewInt(i), nil
		}
	case OpMod:
		if y.IsZero() {
			return Null, nil
		}
		_, err = decimalContext.Rem(r, x, y)
	}
	if err != nil {
		return Null, Errorf(ErrDataOutOfRange, "22003", "DECIMAL value is out of range in '(%s %s %s)'", a, opText[op], b)
	}
	return NewDecimal(r), nil
}

// Neg returns -v.
func Neg(v Value) (Value, error) {
	switch v.kind {
	case KindNull:
		return Null, nil
	case KindInt:
		if v.Int() == math.MinInt64 {
			return Null, Errorf(ErrBigintOutOfRange, "22003", "BIGINT value is out of range in '-(%s)'", v)
		}
		return NewInt(-v.Int()), nil
	case KindUint:
		if v.num > 1<<63 {
			return Null, Errorf(ErrBigintOutOfRange, "22003", "BIGINT value is out of range in '-(%s)'", v)
		}
		return NewInt(-int64(v.num)), nil
	case KindDecimal:
		r := new(apd.Decimal)
		r.Neg(v.dec)
		return NewDecimal(r), nil
	}
	f, _ := ToFloat(v)
	return NewFloat(-f), nil
}
