// Package types holds SQL values and column types with MySQL's semantics:
// the kinds of values, how each is compared with another (numbers as
// numbers, strings under the default collation, mixed kinds by MySQL's
// conversion rules), arithmetic with its result types and overflow errors,
// conversion to a column's type, and the text form MySQL sends a client.
package types

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"
)

// Kind is the kind of a value.
type Kind uint8

// The kinds of values. Date, Datetime and Time values carry their parts
// packed into one integer (see DateParts).
const (
	KindNull     Kind = iota
	KindInt           // signed 64-bit integer
	KindUint          // unsigned 64-bit integer
	KindFloat         // IEEE double (FLOAT and DOUBLE columns)
	KindDecimal       // exact decimal
	KindString        // character string, compared under the collation
	KindBytes         // binary string, compared bytewise
	KindDate          // DATE
	KindDatetime      // DATETIME and TIMESTAMP, microseconds
	KindTime          // TIME (a signed duration, microseconds)
)

var kindNames = [...]string{"NULL", "INT", "UINT", "DOUBLE", "DECIMAL", "STRING", "BINARY", "DATE", "DATETIME", "TIME"}

// String names the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Value is an SQL value. The zero Value is NULL. Values are immutable.
type Value struct {
	kind Kind
	num  uint64       // Int, Uint, Float (bits), Date/Datetime/Time (packed)
	str  string       // String, Bytes
	dec  *apd.Decimal // Decimal
}

// Null is the NULL value.
var Null = Value{}

// NewInt returns a signed integer value.
func NewInt(i int64) Value { return Value{kind: KindInt, num: uint64(i)} }

// NewUint returns an unsigned integer value.
func NewUint(u uint64) Value { return Value{kind: KindUint, num: u} }

// NewFloat returns a double value.
func NewFloat(f float64) Value { return Value{kind: KindFloat, num: math.Float64bits(f)} }

// NewDecimal returns an exact decimal value (d is not copied: do not
// modify it afterwards).
func NewDecimal(d *apd.Decimal) Value { return Value{kind: KindDecimal, dec: d} }

// NewString returns a character string value.
func NewString(s string) Value { return Value{kind: KindString, str: s} }

// NewBytes returns a binary string value.
func NewBytes(b []byte) Value { return Value{kind: KindBytes, str: string(b)} }

// NewBytesString returns a binary string value of s's bytes.
func NewBytesString(s string) Value { return Value{kind: KindBytes, str: s} }

// NewBool returns 1 or 0, MySQL's booleans.
func NewBool(b bool) Value {
	if b {
		return NewInt(1)
	}
	return NewInt(0)
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Int returns an Int value's integer.
func (v Value) Int() int64 { return int64(v.num) }

// Uint returns a Uint value's integer.
func (v Value) Uint() uint64 { return v.num }

// Float returns a Float value's number.
func (v Value) Float() float64 { return math.Float64frombits(v.num) }

// Decimal returns a Decimal value's number (do not modify it).
func (v Value) Decimal() *apd.Decimal { return v.dec }

// Str returns a String or Bytes value's bytes as a string.
func (v Value) Str() string { return v.str }

// Packed returns a Date, Datetime or Time value's packed integer.
func (v Value) Packed() int64 { return int64(v.num) }

// IsNumeric reports whether v is a number (Int, Uint, Float, Decimal).
func (v Value) IsNumeric() bool {
	switch v.kind {
	case KindInt, KindUint, KindFloat, KindDecimal:
		return true
	}
	return false
}

// IsText reports whether v is a string (character or binary).
func (v Value) IsText() bool { return v.kind == KindString || v.kind == KindBytes }

// IsTemporal reports whether v is a date, datetime or time.
func (v Value) IsTemporal() bool {
	return v.kind == KindDate || v.kind == KindDatetime || v.kind == KindTime
}

// decimalContext is the context of decimal arithmetic: MySQL's 65 digits,
// with room for intermediate results.
var decimalContext = apd.Context{Precision: 96, MaxExponent: 2000, MinExponent: -2000, Traps: apd.DefaultTraps &^ apd.Inexact &^ apd.Rounded, Rounding: apd.RoundHalfUp}

// String returns v's text as MySQL sends it to a client in the text
// protocol ("NULL" for NULL).
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "NULL"
	case KindInt:
		return strconv.FormatInt(int64(v.num), 10)
	case KindUint:
		return strconv.FormatUint(v.num, 10)
	case KindFloat:
		return FormatFloat(v.Float())
	case KindDecimal:
		return v.dec.Text('f')
	case KindString, KindBytes:
		return v.str
	case KindDate, KindDatetime, KindTime:
		return formatTemporal(v)
	}
	return "?"
}

// FormatFloat formats a double as MySQL does: the shortest text that reads
// back as the same number, in plain notation for exponents from -5 to
// 15 and with an exponent (1e20, 1.5e-7) otherwise.
func FormatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == 0:
		return "0"
	}
	exp := math.Floor(math.Log10(math.Abs(f)))
	if exp < -5 || exp > 15 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes 1e+20 and 1.5e-07; MySQL 1e20 and 1.5e-7.
		mant, e, _ := cut(s, 'e')
		sign := ""
		if e[0] == '-' {
			sign = "-"
		}
		e = trimLeft(e[1:], '0')
		return mant + "e" + sign + e
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func cut(s string, c byte) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func trimLeft(s string, c byte) string {
	for len(s) > 1 && s[0] == c {
		s = s[1:]
	}
	return s
}

// Error is an SQL error with MySQL's error number and SQLSTATE.
type Error struct {
	Code    int
	State   string
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf makes an *Error.
func Errorf(code int, state, format string, args ...any) *Error {
	return &Error{Code: code, State: state, Message: fmt.Sprintf(format, args...)}
}

// MySQL error numbers the SQL layer returns.
const (
	ErrDataOutOfRange      = 1264 // Out of range value for column
	ErrTruncatedWrongValue = 1292 // Truncated incorrect value
	ErrDivisionByZero      = 1365
	ErrBigintOutOfRange    = 1690 // BIGINT value is out of range
	ErrDataTooLong         = 1406
	ErrWrongValueForType   = 1411
	ErrBadNull             = 1048 // Column cannot be null
	ErrIncorrectValue      = 1366 // Incorrect integer value
)

func outOfRange(what string, v Value, op string) error {
	return Errorf(ErrBigintOutOfRange, "22003", "%s value is out of range in '%s'", what, op)
}
